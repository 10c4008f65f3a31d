package cmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idp/idp/idptest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/stage"
	"github.com/idp/idp/store/redisq/redistest"
	"github.com/idp/idp/store/s3/s3test"
	"github.com/idp/idp/testdata/gen"
)

// Many nodes: real `idp serve` processes on one redis-server and one versitygw bucket.

// clusterNode is one running `idp serve` of a test cluster.
type clusterNode struct {
	name, url string
	cmd       *exec.Cmd
	done      chan struct{}
	logs      *idptest.LogBuffer
}

// nodeLog is one JSON log line of a node.
type nodeLog struct {
	Time  time.Time `json:"time"`
	Msg   string    `json:"msg"`
	DocID string    `json:"doc_id"`
	Page  *int      `json:"page"`
	node  string
}

func (n *clusterNode) lines() []nodeLog {
	var out []nodeLog
	sc := bufio.NewScanner(strings.NewReader(n.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l nodeLog
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			l.node = n.name
			out = append(out, l)
		}
	}
	return out
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startNode runs `idp serve` as node name with args after the common ones, and waits until
// it is ready.
func startNode(t testing.TB, name string, args ...string) *clusterNode {
	t.Helper()
	addr := freeAddr(t)
	n := &clusterNode{name: name, url: "http://" + addr, done: make(chan struct{}), logs: &idptest.LogBuffer{}}
	all := append([]string{"serve", "--addr", addr, "--log-format", "json", "--node-id", name,
		"--data-dir", filepath.Join(t.TempDir(), "data")}, args...)
	n.cmd = exec.Command(idpBinary(t), all...)
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	n.cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() { n.stop() })
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-n.done:
			t.Fatalf("node %s exited:\n%s", name, n.tail())
		default:
		}
		if res, err := http.Get(n.url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not ready after a minute:\n%s", name, n.tail())
		}
	}
}

func (n *clusterNode) tail() string { return idptest.Tail(n.logs.String(), 30) }

func (n *clusterNode) kill9() {
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

func (n *clusterNode) stop() {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(time.Minute):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

// upload posts one PDF; it returns the document id, or the status and error of a refusal.
func upload(base, name string, pdf []byte) (id string, status int, msg string, err error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		return "", 0, "", err
	}
	_, _ = fw.Write(pdf)
	_ = mw.Close()
	res, err := http.Post(base+"/api/documents", mw.FormDataContentType(), &body)
	if err != nil {
		return "", 0, "", err
	}
	defer res.Body.Close()
	var up struct {
		Error     string `json:"error"`
		Documents []struct {
			DocID string `json:"doc_id"`
		} `json:"documents"`
	}
	_ = json.NewDecoder(res.Body).Decode(&up)
	if res.StatusCode != http.StatusCreated || len(up.Documents) != 1 {
		return "", res.StatusCode, up.Error, nil
	}
	return up.Documents[0].DocID, res.StatusCode, "", nil
}

func getJSON(t testing.TB, url string, v any) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if v != nil && res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v\n%s", url, err, b)
		}
	}
	return res.StatusCode
}

func docStatus(t testing.TB, base, id string) pipeline.DocStatus {
	t.Helper()
	var body struct {
		Status pipeline.DocStatus `json:"status"`
	}
	getJSON(t, base+"/api/document/"+id+"/background-status", &body)
	return body.Status
}

// waitAll waits until every document is completed, asking the nodes in turn.
func waitAll(t testing.TB, nodes []*clusterNode, ids []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	left := append([]string(nil), ids...)
	for i := 0; len(left) > 0; i++ {
		n := nodes[i%len(nodes)]
		st := docStatus(t, n.url, left[0])
		switch {
		case st.Status == "completed":
			left = left[1:]
			continue
		case st.Status == "failed":
			t.Fatalf("%s failed: %s", left[0], st.Error)
		case time.Now().After(deadline):
			for _, n := range nodes {
				t.Logf("node %s:\n%s", n.name, n.tail())
			}
			t.Fatalf("%d documents not completed after %s; first %s: %+v", len(left), timeout, left[0], st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// span is one node's try of one document, from its start to its end (or the node's death).
type span struct {
	node       string
	start, end time.Time
}

// tries reads the tries of every document from the nodes' logs. A try that has not ended
// ends at until.
func tries(nodes []*clusterNode, until time.Time) map[string][]span {
	out := map[string][]span{}
	for _, n := range nodes {
		open := map[string]time.Time{}
		for _, l := range n.lines() {
			switch {
			case strings.HasPrefix(l.Msg, "Starting complete pipeline for "):
				open[l.DocID] = l.Time
			case strings.HasPrefix(l.Msg, "Completed full pipeline for "), strings.HasPrefix(l.Msg, "Failed pipeline for "),
				l.Msg == "Attempt failed; will retry", l.Msg == "Interrupted; re-queued with finished pages kept",
				l.Msg == "Run abandoned: the document was reprocessed or deleted":
				if s, ok := open[l.DocID]; ok {
					out[l.DocID] = append(out[l.DocID], span{n.name, s, l.Time})
					delete(open, l.DocID)
				}
			}
		}
		for id, s := range open {
			out[id] = append(out[id], span{n.name, s, until})
		}
	}
	return out
}

// checkNoOverlap fails when two nodes worked on one document at the same time.
func checkNoOverlap(t *testing.T, all map[string][]span) {
	t.Helper()
	for id, ss := range all {
		sort.Slice(ss, func(i, j int) bool { return ss[i].start.Before(ss[j].start) })
		for i := 1; i < len(ss); i++ {
			if ss[i].start.Before(ss[i-1].end) && ss[i].node != ss[i-1].node {
				t.Errorf("%s: node %s started at %s while node %s held it until %s", id, ss[i].node,
					ss[i].start.Format(time.StampMilli), ss[i-1].node, ss[i-1].end.Format(time.StampMilli))
			}
		}
	}
}

// clusterEnv is one redis-server and one bucket for the tests of many nodes.
type clusterEnv struct {
	redis *redistest.Server
	s3    *s3test.Server
}

func newClusterEnv(t testing.TB) *clusterEnv {
	t.Helper()
	r := redistest.Start(t)
	s := s3test.Start(t)
	s.SetEnv(t)
	return &clusterEnv{redis: r, s3: s}
}

// args are the flags every node of one cluster shares; prefix keeps clusters apart.
func (e *clusterEnv) args(prefix string, leaseTTL time.Duration) []string {
	return []string{"--redis-url", e.redis.URL, "--redis-prefix", prefix + ":", "--lease-ttl", leaseTTL.String(),
		"--s3-bucket", e.s3.Bucket, "--s3-prefix", prefix, "--s3-endpoint", e.s3.Endpoint, "--s3-path-style",
		"--workers", "2", "--page-workers", "1"}
}

// TestManyNodes runs three nodes on one Redis and one bucket: 30 packets uploaded through
// different nodes all complete, every node processes some, no document is worked on by two
// nodes at once, the results equal those of a single node, any node answers the pages
// another made, the status lists the nodes and the cluster's queue, and a node's event
// stream carries the other nodes' events. Then Redis stops for 20 s while documents process:
// uploads and forces answer 503, cached reads go on, and everything completes once it is
// back.
func TestManyNodes(t *testing.T) {
	e := newClusterEnv(t)
	args := e.args("many", 30*time.Second)
	nodes := []*clusterNode{startNode(t, "a", args...), startNode(t, "b", args...), startNode(t, "c", args...)}

	// Node a's event stream, read from the start.
	events := make(chan pipeline.Event, 10000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go streamEvents(ctx, nodes[0].url+"/api/events", events)

	dir := t.TempDir()
	var files []string
	var ids []string
	for i := range 30 {
		p, err := gen.Generate(gen.Options{Seed: uint64(500 + i)})
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("packet-%02d.pdf", i)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, p.PDF, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
		id, status, msg, err := upload(nodes[i%3].url, name, p.PDF)
		if err != nil || id == "" {
			t.Fatalf("upload %s to %s: %d %s %v", name, nodes[i%3].name, status, msg, err)
		}
		ids = append(ids, id)
	}
	waitAll(t, nodes, ids, 4*time.Minute)

	// Who processed what, from the logs.
	spans := tries(nodes, time.Now())
	checkNoOverlap(t, spans)
	byNode := map[string]int{}
	maker := map[string]string{}
	for _, id := range ids {
		ss := spans[id]
		if len(ss) == 0 {
			t.Errorf("%s: no node logged a try", id)
			continue
		}
		maker[id] = ss[len(ss)-1].node
		byNode[maker[id]]++
	}
	t.Logf("documents completed by node: %v", byNode)
	for _, n := range nodes {
		if byNode[n.name] == 0 {
			t.Errorf("node %s processed none of the 30 documents", n.name)
		}
	}

	// The same results as one node: `idp process` on the same files.
	out, stderr, err := run(t, append([]string{"process", "--page-workers", "1"}, files...)...)
	if err != nil {
		t.Fatalf("process: %v\n%s", err, stderr)
	}
	single := map[string]stage.Result{}
	for _, r := range decodeResults(t, out) {
		single[r.DocID] = r
	}
	for i, id := range ids {
		// Asked of a node that did not make it: read through the shared cache.
		other := nodes[(indexOf(nodes, maker[id])+1)%3]
		var got stage.Result
		if code := getJSON(t, other.url+"/api/document/"+id+"/result", &got); code != http.StatusOK {
			t.Fatalf("result of %s from %s: %d", id, other.name, code)
		}
		want := single[id]
		if !sameResult(got, want) {
			t.Errorf("packet %d (%s) through node %s differs from one node:\n got %+v\nwant %+v", i, id, other.name, got, want)
		}
		var page struct {
			Cached bool `json:"cached"`
		}
		if code := getJSON(t, other.url+"/api/document/"+id+"/page/0/cached-data", &page); code != http.StatusOK || !page.Cached {
			t.Errorf("cached-data of %s page 0 through node %s: %d cached=%v", id, other.name, code, page.Cached)
		}
	}

	// The status lists the nodes and the cluster's queue.
	var ps struct {
		Status struct {
			Queue struct {
				ByPriority map[string]int `json:"by_priority"`
			} `json:"queue"`
		} `json:"status"`
		Nodes []struct {
			ID      string `json:"id"`
			Addr    string `json:"addr"`
			Workers int    `json:"workers"`
			Alive   bool   `json:"alive"`
		} `json:"nodes"`
	}
	getJSON(t, nodes[1].url+"/api/background-processor/status", &ps)
	if len(ps.Nodes) != 3 || len(ps.Status.Queue.ByPriority) != 3 {
		t.Errorf("processor status: %+v", ps)
	}
	for i, n := range ps.Nodes {
		if n.ID != nodes[i].name || "http://"+n.Addr != nodes[i].url || n.Workers != 2 || !n.Alive {
			t.Errorf("node %d in the status: %+v", i, n)
		}
	}
	// /metrics carries the node and the lease counters.
	res, err := http.Get(nodes[2].url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`idp_workers{node="c"} 2`, `name="redis_takeovers",node="c"`, `name="redis_errors",node="c"`, `name="redis_lease_renewals",node="c"`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Node a's stream carried b's and c's events.
	seen := map[string]bool{}
	for len(events) > 0 {
		ev := <-events
		if ev.Type == pipeline.EventCompleted {
			seen[ev.Node] = true
		}
	}
	for _, n := range nodes {
		if !seen[n.name] {
			t.Errorf("node a's event stream carried no completion from node %s (saw %v)", n.name, seen)
		}
	}

	t.Run("redis down for 20s", func(t *testing.T) {
		// Two scanned packets (their pages take seconds each) and four born-digital ones.
		var more []string
		for i := range 6 {
			opts := gen.Options{Seed: uint64(600 + i), MinPages: 40}
			if i < 2 {
				opts = gen.Options{Seed: uint64(600 + i), Accounts: 2, Scanned: true, ScanDPI: 150}
			}
			p, err := gen.Generate(opts)
			if err != nil {
				t.Fatal(err)
			}
			id, status, msg, err := upload(nodes[i%3].url, fmt.Sprintf("more-%d.pdf", i), p.PDF)
			if err != nil || id == "" {
				t.Fatalf("upload: %d %s %v", status, msg, err)
			}
			more = append(more, id)
		}
		// Stop Redis once a scanned packet's pages are under way.
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no scanned packet started within a minute")
			}
			if st := docStatus(t, nodes[0].url, more[0]); st.Status == "processing" && st.PagesProcessed > 0 {
				break
			}
		}
		e.redis.Stop(t)
		stopped := time.Now()
		p, _ := gen.Generate(gen.Options{Seed: 700})
		_, status, msg, err := upload(nodes[1].url, "while-down.pdf", p.PDF)
		if err != nil || status != http.StatusServiceUnavailable || !strings.Contains(msg, "Redis") {
			t.Errorf("upload while Redis is down: %d %q %v; want 503 with the reason", status, msg, err)
		}
		res, err := http.Post(nodes[2].url+"/api/document/"+more[5]+"/force-background-processing", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("force while Redis is down: %d, want 503", res.StatusCode)
		}
		// Cached reads go on, from bbolt (and S3).
		for _, n := range nodes {
			var page struct {
				Cached bool `json:"cached"`
			}
			if code := getJSON(t, n.url+"/api/document/"+ids[0]+"/page/0/cached-data", &page); code != http.StatusOK || !page.Cached {
				t.Errorf("cached read on %s while Redis is down: %d %v", n.name, code, page.Cached)
			}
		}
		time.Sleep(20*time.Second - time.Since(stopped))
		restarted := time.Now()
		e.redis.Restart(t)
		waitAll(t, nodes, more, 3*time.Minute)
		checkNoOverlap(t, tries(nodes, time.Now()))
		// The bucket down: an upload cannot be put where the other nodes would read it, so it
		// is refused with the reason, as when Redis is away.
		e.s3.Stop(t)
		p, _ = gen.Generate(gen.Options{Seed: 701})
		_, status, msg, err = upload(nodes[0].url, "while-bucket-down.pdf", p.PDF)
		if err != nil || status != http.StatusServiceUnavailable || !strings.Contains(msg, "bucket") {
			t.Errorf("upload while S3 is down: %d %q %v; want 503 with the reason", status, msg, err)
		}
		e.s3.Restart(t)
		// Work in flight finished its current pages and waited: no page
		// was read from 10 s into the outage until Redis was back.
		var during, after int
		for _, n := range nodes {
			for _, l := range n.lines() {
				if !strings.HasPrefix(l.Msg, "OCR'd page") {
					continue
				}
				switch {
				case l.Time.After(stopped.Add(10*time.Second)) && l.Time.Before(restarted):
					t.Errorf("node %s read page %d of %s at %s, %s into the outage", n.name, *l.Page, l.DocID,
						l.Time.Format(time.StampMilli), l.Time.Sub(stopped).Round(time.Millisecond))
				case l.Time.After(stopped) && l.Time.Before(restarted):
					during++
				case l.Time.After(restarted):
					after++
				}
			}
		}
		t.Logf("pages read in the first 10 s of the outage (in flight at the stop): %d; after it: %d", during, after)
		if after == 0 {
			t.Errorf("no page was left for after the outage: the test did not stop Redis while documents processed")
		}
	})
}

func indexOf(nodes []*clusterNode, name string) int {
	for i, n := range nodes {
		if n.name == name {
			return i
		}
	}
	return 0
}

// sameResult compares what a result says of the document: accounts and pages.
func sameResult(a, b stage.Result) bool {
	ja, _ := json.Marshal([]any{a.TotalPages, a.Accounts, a.Pages})
	jb, _ := json.Marshal([]any{b.TotalPages, b.Accounts, b.Pages})
	return bytes.Equal(ja, jb)
}

// streamEvents reads server-sent events into ch until ctx ends.
func streamEvents(ctx context.Context, url string, ch chan<- pipeline.Event) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev pipeline.Event
		if json.Unmarshal([]byte(data), &ev) == nil {
			select {
			case ch <- ev:
			default:
			}
		}
	}
}

// TestNodeKilled kills -9 the node that holds a document in the middle of its pages: another
// node finishes it within the lease's TTL plus the time of its pages, and no page that was
// in the shared cache before the kill is computed again.
func TestNodeKilled(t *testing.T) {
	e := newClusterEnv(t)
	const ttl = 5 * time.Second
	args := append(e.args("kill", ttl), "--ocr-dpi", "150") // the scan's own resolution: quicker pages
	nodes := []*clusterNode{startNode(t, "a", args...), startNode(t, "b", args...)}
	// A scanned packet: stage 1 reads its pages with Tesseract, one at a time per node.
	p, err := gen.Generate(gen.Options{Seed: 41, Accounts: 3, Scanned: true, ScanDPI: 150})
	if err != nil {
		t.Fatal(err)
	}
	id, status, msg, err := upload(nodes[0].url, "big.pdf", p.PDF)
	if err != nil || id == "" {
		t.Fatalf("upload: %d %s %v", status, msg, err)
	}
	// Wait until the holder has read 3 pages, then kill it.
	const killAt = 3
	var holder *clusterNode
	for deadline := time.Now().Add(2 * time.Minute); holder == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no node reached page %d:\n%s\n%s", killAt, nodes[0].tail(), nodes[1].tail())
		}
		for _, n := range nodes {
			if len(pagesDone(n.lines(), id, "OCR'd page")) >= killAt {
				holder = n
			}
		}
	}
	other := nodes[0]
	if other == holder {
		other = nodes[1]
	}
	// Any node says who holds it, and a force asked of another node leaves it there.
	if st := docStatus(t, other.url, id); st.Node != holder.name || st.Status != "processing" {
		t.Errorf("status through node %s: holder %q, %s; want %s, processing", other.name, st.Node, st.Status, holder.name)
	}
	var forced struct {
		Status string `json:"status"`
	}
	fres, err := http.Post(other.url+"/api/document/"+id+"/force-background-processing", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(fres.Body).Decode(&forced)
	fres.Body.Close()
	if fres.StatusCode != http.StatusOK || forced.Status != "processing" {
		t.Errorf("force through node %s: %d %+v; want 200, already processing", other.name, fres.StatusCode, forced)
	}
	// A page to extract now, asked of the other node, is the holder's work: forwarded.
	last := p.Truth.TotalPages - 1
	res, err := http.Get(other.url + "/api/document/" + id + fmt.Sprintf("/page/%d/extract", last))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Idp-Forwarded-By") != strings.TrimPrefix(holder.url, "http://") {
		t.Errorf("extract through the other node: %d, forwarded to %q; want %s", res.StatusCode, res.Header.Get("X-Idp-Forwarded-By"), holder.url)
	}
	holder.kill9()
	killed := time.Now()
	// What the shared cache held at the kill.
	fields, err := e.redis.Do(context.Background(), "HKEYS", "kill:cache:"+id)
	if err != nil {
		t.Fatal(err)
	}
	shared := map[int]bool{}
	for pg := range p.Truth.TotalPages {
		if strings.Contains(fields, fmt.Sprintf("c:%s/ocr_extraction/%08d", id, pg)) {
			shared[pg] = true
		}
	}
	if len(shared) < killAt-1 {
		t.Fatalf("the shared cache held %d read pages at the kill; want at least %d", len(shared), killAt-1)
	}
	for deadline := time.Now().Add(ttl + 2*time.Minute); ; time.Sleep(50 * time.Millisecond) {
		st := docStatus(t, other.url, id)
		if st.Status == "completed" {
			break
		}
		if st.Status == "failed" || time.Now().After(deadline) {
			t.Fatalf("after the kill: %+v\n%s", st, other.tail())
		}
	}
	t.Logf("node %s killed after %d pages read (%d in the shared cache) of %d; node %s finished it %s later (lease TTL %s)",
		holder.name, killAt, len(shared), p.Truth.TotalPages, other.name, time.Since(killed).Round(time.Millisecond), ttl)
	again := pagesDone(other.lines(), id, "OCR'd page")
	for pg := range again {
		if shared[pg] {
			t.Errorf("page %d was in the shared cache before the kill and was read again", pg)
		}
	}
	if len(again) == 0 || len(again)+len(shared) < p.Truth.TotalPages {
		t.Errorf("the new holder read %d pages; with %d shared, want the other %d", len(again), len(shared), p.Truth.TotalPages-len(shared))
	}
	var takeover bool
	for _, l := range other.lines() {
		takeover = takeover || (l.Msg == "Taking over a document whose lease ran out" && l.DocID == id)
	}
	if !takeover {
		t.Errorf("node %s did not log the takeover", other.name)
	}
	if st := docStatus(t, other.url, id); st.Node != "" {
		t.Errorf("a completed document is still held by %q", st.Node)
	}
}

func pagesDone(lines []nodeLog, id, prefix string) map[int]bool {
	out := map[int]bool{}
	for _, l := range lines {
		if l.DocID == id && strings.HasPrefix(l.Msg, prefix) && l.Page != nil {
			out[*l.Page] = true
		}
	}
	return out
}

// TestRedisNeedsABucket: several nodes share uploads and results through the bucket, so
// --redis-url alone is refused at start, saying so.
func TestRedisNeedsABucket(t *testing.T) {
	_, stderr, err := run(t, "serve", "--data-dir", t.TempDir(), "--redis-url", "redis://127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error()+stderr, "--redis-url needs --s3-bucket") {
		t.Errorf("serve --redis-url without a bucket: %v %s", err, stderr)
	}
}
