// Package s3test runs a real S3-compatible server for tests: versitygw (Apache-2.0) over a
// temporary directory on a free loopback port. It installs versitygw with `go install` into
// the user cache directory when it is not on PATH, creates a bucket, and stops the server when
// the test ends. A test may skip when versitygw cannot be had, except under CI=true, where
// that is a failure. It imports nothing of idp.
package s3test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Version is the versitygw release the harness installs.
const Version = "v1.8.0"

const module = "github.com/versity/versitygw/cmd/versitygw"

// Server is one running versitygw.
type Server struct {
	// Endpoint is the server's URL, http://127.0.0.1:PORT.
	Endpoint string
	// AccessKey and SecretKey are the root account's keys (random per server).
	AccessKey, SecretKey string
	// Bucket exists when Start returns.
	Bucket string

	bin  string
	dir  string
	addr string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	out     bytes.Buffer // the server's output: startup banner and one access-log line per request
	reqs    int
	running bool
}

// Binary returns the path of versitygw, installing it when needed.
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	p, err := install()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("versitygw is required under CI=true and could not be installed: %v", err)
		}
		t.Skipf("versitygw not available (%v); install it with `go install %s@%s`", err, module, Version)
	}
	return p
}

var installMu sync.Mutex

// install runs `go install` into a directory of the user cache, once per machine: a file lock
// keeps test binaries of several packages, which run at once, from racing.
func install() (string, error) {
	installMu.Lock()
	defer installMu.Unlock()
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "idp", "versitygw-"+Version)
	bin := filepath.Join(dir, "versitygw")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // another process installed it while we waited
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("no go command to install versitygw with: %w", err)
	}
	cmd := exec.Command(goBin, "install", module+"@"+Version)
	cmd.Dir = os.TempDir() // outside any module: `go install pkg@version` ignores go.mod anyway
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go install %s@%s: %v\n%s", module, Version, err, out)
	}
	return bin, nil
}

// Start installs versitygw when needed, starts it over t.TempDir() on a free loopback port,
// creates a bucket, and stops the server when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		bin:       Binary(t),
		dir:       t.TempDir(),
		AccessKey: "idptest" + randHex(6),
		SecretKey: randHex(20),
		Bucket:    "idp-test",
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	l.Close()
	s.Endpoint = "http://" + s.addr
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("versitygw output (last lines):\n%s", s.tail(30))
		}
	})
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return s
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return nil
	}
	cmd := exec.Command(s.bin, "--port", s.addr, "posix", s.dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(exited)
	}()
	go s.read(pr)
	s.cmd, s.exited, s.running = cmd, exited, true
	// Ready when it answers HTTP (403 to an anonymous request is an answer).
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("versitygw exited at start:\n%s", s.out.String())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw did not answer on %s within 20s: %v", s.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// read keeps the server's output and counts its access-log lines ("| vgw | 200 | ...").
func (s *Server) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		s.mu.Lock()
		if strings.Contains(line, "| vgw |") {
			s.reqs++
		}
		s.out.WriteString(line)
		s.out.WriteByte('\n')
		if s.out.Len() > 1<<20 {
			b := s.out.Bytes()
			keep := append([]byte(nil), b[len(b)-256<<10:]...)
			s.out.Reset()
			s.out.Write(keep)
		}
		s.mu.Unlock()
	}
}

// Requests is how many requests the server has logged since it first started.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs
}

func (s *Server) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(strings.TrimRight(s.out.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Stop stops the server; its directory (the bucket's contents) is kept for Restart.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.stop()
}

func (s *Server) stop() {
	s.mu.Lock()
	cmd, exited, running := s.cmd, s.exited, s.running
	s.running = false
	s.mu.Unlock()
	if !running {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Restart starts the server again on the same port over the same directory.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	var err error
	for range 50 { // the port may linger a moment after the old process
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal(err)
}

// Client is a plain SDK client of the server with the root keys, for checking what the
// bucket holds independently of the code under test.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(s.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// Objects reads every object under prefix (the full key, bucket-relative) into memory.
func (s *Server) Objects(t testing.TB, prefix string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	c := s.Client()
	out := map[string][]byte{}
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("list %s: %v", prefix, err)
		}
		for _, o := range page.Contents {
			obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: o.Key})
			if err != nil {
				t.Fatalf("get %s: %v", aws.ToString(o.Key), err)
			}
			b, err := io.ReadAll(obj.Body)
			obj.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			out[aws.ToString(o.Key)] = b
		}
	}
	return out
}

// SetEnv points the standard AWS environment at this server's root account (t.Setenv, so
// the test may not be parallel), and isolates it from the machine's AWS files and from
// instance metadata.
func (s *Server) SetEnv(t testing.TB) {
	t.Helper()
	SetCredentials(t, s.AccessKey, s.SecretKey)
}

// SetCredentials sets the standard AWS environment to the given keys (wrong ones, to test a
// refusal), with the machine's AWS files and instance metadata out of the way.
func SetCredentials(t testing.TB, access, secret string) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           access,
		"AWS_SECRET_ACCESS_KEY":       secret,
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  "us-east-1",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
