package idptest

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Process is one process of a tree, as /proc shows it.
type Process struct {
	PID, PPID int
	// RSS is its resident memory now; HWM its peak so far (VmHWM), in bytes.
	RSS, HWM int64
	// CPU is the CPU time it used so far (user and system), in clock ticks.
	CPU int64
}

// Tree lists pid and every process descended from it.
func Tree(pid int) []Process {
	all := map[int]Process{}
	children := map[int][]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		p, ok := readProc(d)
		if !ok {
			continue
		}
		all[p.PID] = p
		children[p.PPID] = append(children[p.PPID], p.PID)
	}
	var out []Process
	var walk func(int)
	walk = func(id int) {
		p, ok := all[id]
		if !ok {
			return
		}
		out = append(out, p)
		for _, c := range children[id] {
			walk(c)
		}
	}
	walk(pid)
	return out
}

func readProc(dir string) (Process, bool) {
	var p Process
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return p, false
	}
	// pid (comm) state ppid ... utime(14) stime(15): comm may hold spaces, so split after ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return p, false
	}
	p.PID, _ = strconv.Atoi(strings.TrimSpace(string(stat[:bytes.IndexByte(stat, '(')])))
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return p, false
	}
	p.PPID, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	p.CPU = ut + st
	status, err := os.Open(filepath.Join(dir, "status"))
	if err != nil {
		return p, false
	}
	defer status.Close()
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			p.RSS = kb(line)
		case strings.HasPrefix(line, "VmHWM:"):
			p.HWM = kb(line)
		}
	}
	return p, true
}

func kb(line string) int64 {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseInt(f[1], 10, 64)
	return n << 10
}

// RSSSampler samples the resident memory of a process tree (the sum over its processes)
// every interval, and keeps the peak, and the peak of any one process but the root.
type RSSSampler struct {
	stop chan struct{}
	done chan struct{}

	mu          sync.Mutex
	peak        int64
	peakRoot    int64
	peakChild   int64
	samples     int
	maxChildren int
}

// SampleRSS starts sampling the tree of pid.
func SampleRSS(pid int, interval time.Duration) *RSSSampler {
	s := &RSSSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			s.sample(pid)
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *RSSSampler) sample(pid int) {
	var sum int64
	tree := Tree(pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range tree {
		sum += p.RSS
		if p.PID != pid {
			s.peakChild = max(s.peakChild, p.RSS, p.HWM)
		} else {
			s.peakRoot = max(s.peakRoot, p.RSS)
		}
	}
	s.peak = max(s.peak, sum)
	s.samples++
	s.maxChildren = max(s.maxChildren, len(tree)-1)
}

// Stop ends the sampling and returns the peak of the tree's total and of any one child, in
// bytes, and the most children seen at once.
func (s *RSSSampler) Stop() (tree, child int64, children int) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak, s.peakChild, s.maxChildren
}

// Root is the peak resident memory of the tree's root process alone (after Stop).
func (s *RSSSampler) Root() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peakRoot
}
