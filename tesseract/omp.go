package tesseract

import (
	"fmt"
	"os"
	"syscall"
)

// ReexecWithOMPLimit restarts the running program with OMP_THREAD_LIMIT=1 unless it is set.
// Tesseract parallelises one page with OpenMP threads; we parallelise by page, and the two
// together oversubscribe the CPUs. OpenMP reads the variable when its library loads, before
// main runs, so setting it from Go is too late: the process must start with it. The worker
// pool starts its workers with it set; a test binary that OCRs in its own process calls this
// first thing in TestMain (idptest.Main).
func ReexecWithOMPLimit() error {
	if os.Getenv("OMP_THREAD_LIMIT") != "" {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	env := append(os.Environ(), "OMP_THREAD_LIMIT=1")
	return syscall.Exec(exe, os.Args, env)
}
