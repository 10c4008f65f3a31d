package tesseract

// #include <malloc.h>
import "C"

// TrimMemory gives the free memory of the process's C heap back to the system (glibc's
// malloc_trim). Tesseract and MuPDF free most of what a page took, but the heap keeps it: a
// worker that trims after each rendered page stays 40-60 MB smaller.
func TrimMemory() { C.malloc_trim(0) }
