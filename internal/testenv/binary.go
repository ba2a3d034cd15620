package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// Binary returns the path of a deimos binary built from this checkout, built
// once per test process. With TEST_DEIMOS_BINARY set (make test sets it to the
// binary it has just built) that file is used instead, saving a build per
// package. Packages using it should call Main from TestMain so the temporary
// build is removed.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("TEST_DEIMOS_BINARY"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("TEST_DEIMOS_BINARY=%s: %v", p, err)
		}
		return p
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "deimos-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "deimos")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = &buildError{err: err, out: string(out)}
		}
	})
	if binErr != nil {
		t.Fatalf("building deimos: %v", binErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func removeBinary() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}
