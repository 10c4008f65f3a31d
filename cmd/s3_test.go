package cmd

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/httpapi"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/store"
	"github.com/idp/idp/store/s3/s3test"
	"github.com/idp/idp/worker"
)

// dumpStates runs cache dump --remote and returns key -> state.
func dumpStates(t *testing.T, args ...string) map[string]string {
	t.Helper()
	out, errOut, err := run(t, append([]string{"cache", "dump", "--remote"}, args...)...)
	if err != nil {
		t.Fatalf("cache dump --remote: %v\n%s", err, errOut)
	}
	states := map[string]string{}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, line := range lines[1 : len(lines)-1] { // header, summary
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Fatalf("dump line %q", line)
		}
		// KEY STATE(one or two words) SIZE ...
		state := f[1]
		if f[1] != "remote" && f[1] != "local" && f[1] != "pending" && f[1] != "in" {
			t.Fatalf("dump line %q", line)
		}
		state += " " + f[2]
		states[f[0]] = state
	}
	return states
}

func countStates(states map[string]string, docID, state string) (n, of int) {
	for k, s := range states {
		if strings.Contains(k, "/"+docID+"/") {
			of++
			if s == state {
				n++
			}
		}
	}
	return n, of
}

// TestS3CommandLine: process writes through to the bucket (flags or IDP_S3_* environment),
// a run while S3 is down leaves its uploads pending, and cache dump --remote tells local only,
// pending upload, in sync and remote only apart; reprocess queues the remote deletes.
func TestS3CommandLine(t *testing.T) {
	srv := s3test.Start(t)
	srv.SetEnv(t)
	dir := t.TempDir()
	d1, d2 := t.TempDir(), t.TempDir()
	s3flags := []string{"--s3-bucket", srv.Bucket, "--s3-endpoint", srv.Endpoint, "--s3-path-style", "--s3-prefix", "cli"}
	process := func(dataDir, file string) string {
		t.Helper()
		out, errOut, err := run(t, append([]string{"process", "--log-level", "warn", "--data-dir", dataDir, file}, s3flags...)...)
		if err != nil {
			t.Fatalf("process %s: %v\n%s", file, err, errOut)
		}
		res := decodeResults(t, out)
		if len(res) != 1 || res[0].Status != "completed" {
			t.Fatalf("process %s: %+v", file, res)
		}
		return res[0].DocID
	}

	p1, _ := writePacket(t, dir, 1)
	id1 := process(d1, p1)
	states := dumpStates(t, append([]string{"--data-dir", d1}, s3flags...)...)
	if n, of := countStates(states, id1, "in sync"); n != of || n < 5 {
		t.Errorf("after process: %d of %d keys in sync: %v", n, of, states)
	}

	// S3 down: the run completes, its uploads stay pending.
	srv.Stop(t)
	p2, _ := writePacket(t, dir, 2)
	id2 := process(d1, p2)
	srv.Restart(t)
	// The bucket from the environment this time.
	t.Setenv("IDP_S3_BUCKET", srv.Bucket)
	t.Setenv("IDP_S3_ENDPOINT", srv.Endpoint)
	t.Setenv("IDP_S3_PATH_STYLE", "true")
	t.Setenv("IDP_S3_PREFIX", "cli")
	states = dumpStates(t, "--data-dir", d1)
	if n, of := countStates(states, id2, "pending upload"); n != of || n < 5 {
		t.Errorf("after an outage: %d of %d keys pending: %v", n, of, states)
	}
	if n, of := countStates(states, id1, "in sync"); n != of {
		t.Errorf("after an outage: %d of %d keys of the first run in sync: %v", n, of, states)
	}

	// Another machine: its own packet is in sync, the first machine's is remote only, and the
	// second packet is not in the bucket at all.
	p3, _ := writePacket(t, dir, 3)
	id3 := process(d2, p3)
	states = dumpStates(t, "--data-dir", d2)
	if n, of := countStates(states, id3, "in sync"); n != of || n < 5 {
		t.Errorf("machine 2: %d of %d keys in sync: %v", n, of, states)
	}
	if n, of := countStates(states, id1, "remote only"); n != of || n < 5 {
		t.Errorf("machine 2: %d of %d keys of machine 1 remote only: %v", n, of, states)
	}
	if _, of := countStates(states, id2, ""); of != 0 {
		t.Errorf("machine 2 sees %d keys of a packet never uploaded", of)
	}
	// A data directory without S3 is local only.
	d3 := t.TempDir()
	out, errOut, err := run(t, "process", "--log-level", "warn", "--data-dir", d3, "--s3-bucket", "", p3)
	if err != nil {
		t.Fatalf("process without S3: %v\n%s\n%s", err, errOut, out)
	}
	states = dumpStates(t, "--data-dir", d3, "--doc", id3)
	if n, of := countStates(states, id3, "local only"); n != of || n < 5 {
		t.Errorf("without S3: %d of %d keys local only: %v", n, of, states)
	}

	// reprocess drops the first packet's results here and queues their remote deletes.
	if _, errOut, err := run(t, "reprocess", "--data-dir", d1, id1); err != nil {
		t.Fatalf("reprocess: %v\n%s", err, errOut)
	}
	states = dumpStates(t, "--data-dir", d1, "--doc", id1)
	if n, of := countStates(states, id1, "pending delete"); n != of || n < 5 {
		t.Errorf("after reprocess: %d of %d keys pending delete: %v", n, of, states)
	}
}

// TestS3InProcessorStatus: with a bucket, the processor status and /metrics of the HTTP API
// show the outbox (state, backlog) through the app's extra status.
func TestS3InProcessorStatus(t *testing.T) {
	srv := s3test.Start(t)
	srv.SetEnv(t)
	o := &processorOptions{dataDir: t.TempDir(), maxFileMB: 10, cfg: pipeline.DefaultConfig(),
		s3:      s3Options{bucket: srv.Bucket, endpoint: srv.Endpoint, pathStyle: true, timeout: 5 * time.Second},
		workers: workerOptions{maxMB: defaultWorkerMaxMB, recycle: defaultWorkerRecycle}}
	o.cfg.PageWorkers = 1
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := openApp(o, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	api := httptest.NewServer(httpapi.NewHandler(httpapi.Deps{Processor: a.proc, DB: a.db, Logger: logger, Extra: a.extraStatus}))
	defer api.Close()

	resp, err := http.Get(api.URL + "/api/background-processor/status")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		S3      store.UploaderStats `json:"s3"`
		Pending *int                `json:"s3_outbox_pending"`
		Workers worker.Stats        `json:"worker_processes"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil || body.S3.State != store.UploaderOK || body.Pending == nil || !strings.Contains(body.S3.Remote, srv.Bucket) {
		t.Errorf("processor status: %+v, %v", body, err)
	}
	if body.Workers.Alive != 1 || body.Workers.Started != 1 || len(body.Workers.PIDs) != 1 {
		t.Errorf("worker processes in the status: %+v; want the one started with the pool", body.Workers)
	}
	resp, err = http.Get(api.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"s3_outbox_pending", "s3_outbox_oldest_age_seconds", "s3_forbidden", "worker_alive", "worker_died"} {
		if !strings.Contains(string(metrics), `idp_extra{name="`+name+`"}`) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	// Without a bucket there is no S3 part.
	if st := s3Status(nil); st != nil {
		t.Errorf("extra status without S3: %v", st)
	}
}
