package cmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/idp/idp/idptest"
	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/store"
	"github.com/idp/idp/testdata/gen"
)

// The systemd unit (deploy/idp.service) and its settings file (deploy/idp.env), held against
// systemd's own checks and against what the binary really does.

const (
	unitPath    = "../deploy/idp.service"
	envFilePath = "../deploy/idp.env"
	unitBinary  = "/usr/local/bin/idp"
)

// requireTool finds a command a test drives. On a developer's machine a missing tool skips
// the test (`make test-deps` installs it); under CI=true it fails.
func requireTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s is not installed (Debian package %s; `make test-deps` installs it)", name, debianPackage)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// unit is a parsed unit file: section -> key -> every value, in order.
type unit map[string]map[string][]string

func readUnit(t *testing.T) (string, unit) { return readUnitFile(t, unitPath) }

// readUnitFile parses a unit file as systemd reads it: sections, settings (a key may repeat),
// comments, and lines continued with a backslash.
func readUnitFile(t *testing.T, path string) (string, unit) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`\\\n`).ReplaceAllString(string(b), " ")
	u := unit{}
	section := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: a line that is no setting: %q", path, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return string(b), u
}

// get is the last value of a setting ("" when unset).
func (u unit) get(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// environment is the unit's Environment= assignments.
func (u unit) environment() map[string]string {
	env := map[string]string{}
	for _, v := range u["Service"]["Environment"] {
		for _, a := range strings.Fields(v) {
			k, val, _ := strings.Cut(a, "=")
			env[k] = val
		}
	}
	return env
}

// unitCopy writes the unit to a temporary file with the binary path pointing at the test's
// build (systemd-analyze verify checks that the binary exists), after edit.
func unitCopy(t *testing.T, text string, edit func(string) string) string {
	t.Helper()
	text = strings.ReplaceAll(text, unitBinary, idpBinary(t))
	if edit != nil {
		text = edit(text)
	}
	path := filepath.Join(t.TempDir(), "idp.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit (and checks that it would
// catch a bad setting: verify only warns, so any output fails), and its security review,
// which must rate the sandbox OK (exposure 2.0 or less of 10).
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze", "systemd")
	text, _ := readUnit(t)
	verify := func(path string) (string, error) {
		out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
		return string(out), err
	}
	if out, err := verify(unitCopy(t, text, nil)); err != nil || out != "" {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unitPath, err, out)
	}
	// The backup service and its timer, side by side as the timer finds its service.
	dir := t.TempDir()
	for _, name := range []string{"idp-backup.service", "idp-backup.timer"} {
		b, err := os.ReadFile("../deploy/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.ReplaceAll(string(b), unitBinary, idpBinary(t))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := verify(filepath.Join(dir, "idp-backup.timer")); err != nil || out != "" {
		t.Fatalf("systemd-analyze verify idp-backup.timer: %v\n%s", err, out)
	}
	if out, err := verify(filepath.Join(dir, "idp-backup.service")); err != nil || out != "" {
		t.Fatalf("systemd-analyze verify idp-backup.service: %v\n%s", err, out)
	}
	broken := unitCopy(t, text, func(s string) string { return strings.Replace(s, "MemoryMax=", "MemoryMax=lots", 1) })
	if out, _ := verify(broken); !strings.Contains(out, "lots") {
		t.Fatalf("systemd-analyze verify says nothing of a bad MemoryMax, so it proves nothing: %q", out)
	}
	out, err := exec.Command(analyze, "security", "--offline=true", "--threshold=20", unitCopy(t, text, nil)).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: exposure above 2.0 (%v):\n%s", err, idptest.Tail(string(out), 40))
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "Overall exposure") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

// TestSystemdUnitSettings holds the unit to what the issue and idp need: its own user and
// state directory, the settings file, the sandbox, memory sized for its page workers, a stop
// timeout above idp's own, and only flags and variables that idp knows.
func TestSystemdUnitSettings(t *testing.T) {
	_, u := readUnit(t)
	env := u.environment()
	want := map[string]string{
		"DynamicUser": "yes", "StateDirectory": "idp", "ProtectSystem": "strict", "PrivateTmp": "yes",
		"NoNewPrivileges": "yes", "KillSignal": "SIGTERM", "Restart": "on-failure", "ProtectHome": "yes",
	}
	for k, v := range want {
		if got := u.get("Service", k); got != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	if env["IDP_DATA_DIR"] != "/var/lib/"+u.get("Service", "StateDirectory") {
		t.Errorf("IDP_DATA_DIR=%q is not the state directory", env["IDP_DATA_DIR"])
	}
	if ef := u.get("Service", "EnvironmentFile"); strings.TrimPrefix(ef, "-") != "/etc/idp/idp.env" {
		t.Errorf("EnvironmentFile=%q", ef)
	}

	// Memory: what the unit's comment promises per worker process (a page worker's, and the
	// one more the server keeps for pages people open).
	workers, err := strconv.Atoi(env["IDP_PAGE_WORKERS"])
	if err != nil || workers < 1 {
		t.Fatalf("IDP_PAGE_WORKERS=%q: the unit must fix the page workers its memory is sized for", env["IDP_PAGE_WORKERS"])
	}
	memMax, memHigh := parseBytes(t, u.get("Service", "MemoryMax")), parseBytes(t, u.get("Service", "MemoryHigh"))
	if need := int64(512<<20) + int64(workers+1)*500<<20; memMax < need || memHigh >= memMax || memHigh < need*3/4 {
		t.Errorf("MemoryHigh=%d MemoryMax=%d for %d page workers: want MemoryMax >= %d and MemoryHigh below it", memHigh, memMax, workers, need)
	}

	// Stopping: idp's HTTP shutdown, its running pages and its S3 flush all fit before SIGKILL.
	stop := pipeline.DefaultConfig().StopTimeout
	exec := strings.Fields(u.get("Service", "ExecStart"))
	if len(exec) < 2 || exec[0] != unitBinary || exec[1] != "serve" {
		t.Fatalf("ExecStart=%q", u.get("Service", "ExecStart"))
	}
	serve, _, err := NewRootCommand().Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.ParseFlags(exec[2:]); err != nil {
		t.Errorf("ExecStart's flags: %v", err)
	}
	if v, ok := env["IDP_STOP_TIMEOUT"]; ok {
		if stop, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	if f := serve.Flags().Lookup("stop-timeout"); f.Changed {
		stop, _ = time.ParseDuration(f.Value.String())
	}
	timeout, err := time.ParseDuration(strings.ReplaceAll(u.get("Service", "TimeoutStopSec"), "min", "m"))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	if need := httpShutdownTimeout + stop + flushTimeout; timeout <= need {
		t.Errorf("TimeoutStopSec=%s; idp may take %s to stop (HTTP %s + --stop-timeout %s + S3 flush %s)",
			timeout, need, httpShutdownTimeout, stop, flushTimeout)
	}

	// Every IDP_* variable of the unit and of the settings file, commented or not, is a flag.
	b, err := os.ReadFile(envFilePath)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for k := range env {
		names[k] = true
	}
	for _, m := range regexp.MustCompile(`(?m)^#?(IDP_[A-Z0-9_]+)=`).FindAllStringSubmatch(string(b), -1) {
		names[m[1]] = true
	}
	known := map[string]bool{}
	for _, fs := range []*pflag.FlagSet{serve.Flags(), serve.InheritedFlags()} {
		fs.VisitAll(func(f *pflag.Flag) { known[envName(f.Name)] = true })
	}
	for name := range names {
		if strings.HasPrefix(name, "IDP_") && !known[name] {
			t.Errorf("%s is set in the unit or %s but no flag of `idp serve` reads it", name, envFilePath)
		}
	}
	if len(names) < 10 {
		t.Errorf("found only %d variables: %v", len(names), names)
	}
}

func parseBytes(t *testing.T, s string) int64 {
	t.Helper()
	mult := map[string]int64{"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
	if m, ok := mult[s[len(s)-1:]]; ok {
		n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		return n * m
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

// syscallGroups reads systemd's system call groups: "@system-service" -> its members (calls
// and other groups).
func syscallGroups(t *testing.T, analyze string) map[string][]string {
	t.Helper()
	out, err := exec.Command(analyze, "syscall-filter").Output()
	if err != nil {
		t.Fatalf("systemd-analyze syscall-filter: %v", err)
	}
	groups := map[string][]string{}
	group := ""
	for _, line := range strings.Split(string(out), "\n") {
		switch trimmed := strings.TrimSpace(line); {
		case strings.HasPrefix(line, "@"):
			group = trimmed
		case trimmed == "" || strings.HasPrefix(trimmed, "#") || group == "":
		default:
			groups[group] = append(groups[group], trimmed)
		}
	}
	if len(groups["@system-service"]) == 0 {
		t.Fatalf("no @system-service in systemd-analyze syscall-filter:\n%s", out)
	}
	return groups
}

// allowedSyscalls is what the unit's SystemCallFilter= lines let through: the calls of the
// allow lists, less those of the ~deny lists.
func allowedSyscalls(t *testing.T, analyze string, filters []string) map[string]bool {
	t.Helper()
	groups := syscallGroups(t, analyze)
	var expand func(item string, into map[string]bool)
	expand = func(item string, into map[string]bool) {
		item, _, _ = strings.Cut(item, ":") // name:errno
		if strings.HasPrefix(item, "@") {
			members, ok := groups[item]
			if !ok {
				t.Fatalf("unknown system call group %s", item)
			}
			for _, m := range members {
				expand(m, into)
			}
			return
		}
		into[item] = true
	}
	allow, deny := map[string]bool{}, map[string]bool{}
	for _, f := range filters {
		into := allow
		if strings.HasPrefix(f, "~") {
			into, f = deny, f[1:]
		}
		for _, item := range strings.Fields(f) {
			expand(item, into)
		}
	}
	for c := range deny {
		delete(allow, c)
	}
	if len(allow) == 0 {
		t.Fatal("the unit has no SystemCallFilter allow list")
	}
	return allow
}

// TestSystemdSandboxFitsIdp runs `idp serve` as the unit starts it (its command line, its
// environment, / as the working directory) under strace while it OCRs an uploaded scan,
// draws a page, takes a backup and stops on SIGTERM, and checks that what it did passes the
// unit's sandbox: every system call in SystemCallFilter, every socket of
// RestrictAddressFamilies, no writable and executable memory (MemoryDenyWriteExecute), and no
// write outside the state directory and /tmp (ProtectSystem=strict, PrivateTmp) but
// /dev/null (PrivateDevices). No systemd runs here to apply the sandbox itself: this proves
// the sandbox does not break idp, as far as this run reaches.
func TestSystemdSandboxFitsIdp(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze", "systemd")
	strace := requireTool(t, "strace", "strace")
	_, u := readUnit(t)
	allowed := allowedSyscalls(t, analyze, u["Service"]["SystemCallFilter"])
	families := map[string]bool{}
	for _, f := range strings.Fields(u.get("Service", "RestrictAddressFamilies")) {
		families[f] = true
	}

	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	// systemd's environment for a system service: PATH, the unit's Environment=, no HOME, no TMPDIR.
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for k, v := range u.environment() {
		if k == "IDP_DATA_DIR" {
			v = state
		}
		env = append(env, k+"="+v)
	}
	trace := filepath.Join(dir, "trace")
	args := append([]string{"-f", "-y", "-qq", "-o", trace, "--", idpBinary(t)}, strings.Fields(u.get("Service", "ExecStart"))[1:]...)
	args = append(args, "--addr", "127.0.0.1:0", "--log-format", "json")
	cmd := exec.Command(strace, args...)
	cmd.Env, cmd.Dir = env, "/"
	logs := &idptest.LogBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("idp's log:\n%s", idptest.Tail(logs.String(), 30))
		}
	}()

	base := ""
	for deadline := time.Now().Add(2 * time.Minute); base == ""; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("idp serve under strace is not listening after 2 minutes")
		}
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "idp serving" {
				_, port, _ := net.SplitHostPort(l.Addr)
				base = "http://127.0.0.1:" + port
			}
		}
	}

	// A scanned packet: MuPDF renders it and Tesseract reads it.
	pkt := idptest.Generate(t, gen.Options{Seed: 95, Accounts: 1, Scanned: true, ScanDPI: 150})
	id := uploadPDF(t, base, "scan.pdf", pkt.PDF)
	waitCompletedAPI(t, base, "", id, 5*time.Minute)
	for _, path := range []string{"/api/document/" + id + "/page/0/image", "/api/backup", "/metrics"} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, res.StatusCode)
		}
	}
	// SIGTERM goes to idp (strace's child), as systemd sends it to the main process.
	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.Fields(string(children) + " x")[0])
	if err != nil {
		t.Fatalf("idp's pid under strace: %q", children)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("idp serve under strace: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("idp serve did not stop on SIGTERM")
	}

	// The checker sees: without openat, and with only the state directory writable, it objects.
	narrow := maps.Clone(allowed)
	delete(narrow, "openat")
	blind := sandboxProblems(t, trace, narrow, families, []string{state})
	if !slices.ContainsFunc(blind, func(p string) bool { return strings.HasPrefix(p, "system call openat") }) ||
		!slices.ContainsFunc(blind, func(p string) bool { return strings.Contains(p, "write outside") }) {
		t.Fatalf("the trace checker is blind: %v", blind)
	}

	problems := sandboxProblems(t, trace, allowed, families, []string{state, "/tmp/", "/var/tmp/", "/dev/null"})
	for _, p := range problems[:min(len(problems), 20)] {
		t.Error(p)
	}
	if len(problems) > 20 {
		t.Errorf("... and %d more", len(problems)-20)
	}
}

var (
	straceCall = regexp.MustCompile(`^\d+\s+([a-z0-9_]+)\((.*)$`)
	// A path argument as strace -y prints it: the directory's descriptor with its path, then
	// the name; or an absolute name alone.
	stracePath       = regexp.MustCompile(`(?:(?:AT_FDCWD|\d+)<([^>]*)>, )?"([^"]*)"`)
	straceWriteFlags = regexp.MustCompile(`O_WRONLY|O_RDWR|O_CREAT|O_TRUNC`)
)

// pathCalls are the calls that change the file system at their path arguments.
var pathCalls = map[string]bool{
	"mkdir": true, "mkdirat": true, "unlink": true, "unlinkat": true, "rmdir": true, "rename": true, "renameat": true,
	"renameat2": true, "link": true, "linkat": true, "symlink": true, "symlinkat": true, "chmod": true, "fchmodat": true,
	"chown": true, "lchown": true, "fchownat": true, "truncate": true, "mknod": true, "mknodat": true, "creat": true,
	"utimensat": true, "setxattr": true, "lsetxattr": true, "removexattr": true,
}

// sandboxProblems reads an strace -f -y log and lists what the sandbox would refuse.
func sandboxProblems(t *testing.T, trace string, allowed, families map[string]bool, writable []string) []string {
	t.Helper()
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var problems []string
	seen := map[string]bool{}
	report := func(what, line string) {
		if !seen[what] {
			seen[what] = true
			problems = append(problems, what+": "+line)
		}
	}
	outside := func(path string) bool {
		path = filepath.Clean(path)
		for _, w := range writable {
			if path == filepath.Clean(w) || strings.HasPrefix(path, strings.TrimSuffix(w, "/")+"/") {
				return false
			}
		}
		return true
	}
	calls := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		m := straceCall.FindStringSubmatch(line)
		if m == nil {
			continue // resumed calls, signals, exits
		}
		calls++
		name, args := m[1], m[2]
		if !allowed[name] {
			report("system call "+name+" is outside SystemCallFilter", line)
		}
		switch name {
		case "socket", "socketpair":
			family, _, _ := strings.Cut(args, ",")
			if !families[family] {
				report("socket family "+family+" is outside RestrictAddressFamilies", line)
			}
		case "mmap":
			if fields := strings.SplitN(args, ", ", 4); len(fields) > 2 && strings.Contains(fields[2], "PROT_WRITE") && strings.Contains(fields[2], "PROT_EXEC") {
				report("writable and executable memory (MemoryDenyWriteExecute)", line)
			}
		case "mprotect", "pkey_mprotect":
			if fields := strings.SplitN(args, ", ", 4); len(fields) > 2 && strings.Contains(fields[2], "PROT_EXEC") {
				report("memory made executable (MemoryDenyWriteExecute)", line)
			}
		default:
			isOpen := name == "open" || name == "openat" || name == "openat2"
			if !(isOpen && straceWriteFlags.MatchString(args)) && !pathCalls[name] {
				continue
			}
			for _, pm := range stracePath.FindAllStringSubmatch(args, -1) {
				path := pm[2]
				if !filepath.IsAbs(path) {
					path = filepath.Join(pm[1], path)
				}
				if outside(path) {
					report("write outside the state directory and /tmp ("+filepath.Dir(path)+")", line)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if calls < 1000 {
		t.Fatalf("the trace holds %d calls: strace did not follow idp", calls)
	}
	slices.Sort(problems)
	return problems
}

// systemdWords splits an Exec line as systemd does for what the backup unit uses: words,
// single and double quotes, %% for %, ${VAR} inside a word and $VAR as a whole word.
func systemdWords(line string, env map[string]string) []string {
	var words []string
	var cur strings.Builder
	inWord, whole := false, true
	quote := byte(0)
	flush := func() {
		if !inWord {
			return
		}
		w := cur.String()
		if whole && strings.HasPrefix(w, "$") && !strings.HasPrefix(w, "${") {
			words = append(words, strings.Fields(env[w[1:]])...)
		} else {
			w = regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(w, func(m string) string { return env[m[2:len(m)-1]] })
			words = append(words, w)
		}
		cur.Reset()
		inWord, whole = false, true
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '\'' || c == '"'):
			quote, inWord, whole = c, true, false
		case quote == 0 && (c == ' ' || c == '\t'):
			flush()
		case c == '%' && i+1 < len(line) && line[i+1] == '%':
			cur.WriteByte('%')
			inWord = true
			i++
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words
}

// TestBackupUnitRuns runs the commands of deploy/idp-backup.service, as systemd would, on a
// data directory and a backup directory that already holds an old snapshot, a recent one and
// the PDF of a document deleted since: a new snapshot that passes VerifyBackup, every PDF
// mirrored, the deleted one and the old snapshot gone.
func TestBackupUnitRuns(t *testing.T) {
	_, u := readUnitFile(t, "../deploy/idp-backup.service")
	dir := t.TempDir()
	data, backups := filepath.Join(dir, "data"), filepath.Join(dir, "backups")
	ids := []string{processed(t, data, 31), processed(t, data, 32)}
	env := u.environment()
	env["IDP_DATA_DIR"], env["BACKUP_DIR"] = data, backups
	env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	if env["KEEP_DAYS"] == "" {
		t.Fatal("the unit sets no KEEP_DAYS")
	}

	gone := filepath.Join(backups, "documents", strings.Repeat("f", 24), "original.pdf")
	old, recent := filepath.Join(backups, "idp-20200101T000000Z.db"), filepath.Join(backups, "idp-recent.db")
	for _, f := range []string{gone, old, recent} {
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keep, _ := strconv.Atoi(env["KEEP_DAYS"])
	if err := os.Chtimes(old, time.Now(), time.Now().AddDate(0, 0, -keep-2)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(recent, time.Now(), time.Now().AddDate(0, 0, -1)); err != nil {
		t.Fatal(err)
	}

	var cmdEnv []string
	for k, v := range env {
		cmdEnv = append(cmdEnv, k+"="+v)
	}
	execs := u["Service"]["ExecStart"]
	if len(execs) < 3 {
		t.Fatalf("ExecStart: %q", execs)
	}
	for _, line := range execs {
		words := systemdWords(strings.ReplaceAll(line, unitBinary, idpBinary(t)), env)
		cmd := exec.Command(words[0], words[1:]...)
		cmd.Env, cmd.Dir = cmdEnv, "/"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%q: %v\n%s", words, err, out)
		}
	}

	snaps, _ := filepath.Glob(filepath.Join(backups, "idp-*.db"))
	var made []string
	for _, f := range snaps {
		if f != recent {
			made = append(made, f)
		}
	}
	if len(made) != 1 || !slices.Contains(snaps, recent) {
		t.Fatalf("snapshots after the backup: %v (want the recent one and one new)", snaps)
	}
	if info, err := store.VerifyBackup(made[0]); err != nil || info.Documents != 2 {
		t.Errorf("the new snapshot: %+v %v", info, err)
	}
	for _, id := range ids {
		want, _ := os.ReadFile(store.NewDirBlob(data).Path(store.OriginalKey(id)))
		got, err := os.ReadFile(filepath.Join(backups, store.OriginalKey(id)))
		if err != nil || !bytes.Equal(got, want) || len(want) == 0 {
			t.Errorf("the PDF of %s in the backup: %d bytes, %v; want %d", id, len(got), err, len(want))
		}
	}
	if _, err := os.Stat(filepath.Dir(gone)); !os.IsNotExist(err) {
		t.Errorf("the PDF of a deleted document is still in the backup: %v", err)
	}
	if parts, _ := filepath.Glob(filepath.Join(backups, "documents", "*", "*.part")); len(parts) > 0 {
		t.Errorf("partial copies left: %v", parts)
	}
}
