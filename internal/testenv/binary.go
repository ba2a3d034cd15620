package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the path of a deimos binary built from this checkout. With
// TEST_DEIMOS_BINARY set (make test sets it to the binary it has just built)
// that file is used. Otherwise the binary is built once per source tree and
// shared: every package's test process of a `go test ./...` run (they run in
// parallel) asks for the same file under os.TempDir()/deimos-testbin, keyed by
// a hash of the sources; the first one builds it while the others wait on a
// file lock, and later runs on an unchanged tree reuse it.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("TEST_DEIMOS_BINARY"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("TEST_DEIMOS_BINARY=%s: %v", p, err)
		}
		return p
	}
	binOnce.Do(func() {
		root := moduleRoot()
		var key string
		if key, binErr = sourceKey(root); binErr != nil {
			return
		}
		binPath, binErr = sharedBuild(filepath.Join(os.TempDir(), "deimos-testbin"), key, func(out string) error {
			cmd := exec.Command("go", "build", "-o", out, ".")
			cmd.Dir = root
			if b, err := cmd.CombinedOutput(); err != nil {
				return &buildError{err: err, out: string(b)}
			}
			return nil
		})
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

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// sourceKey hashes what the binary is built from: go.mod, go.sum and every
// non-test .go file under root (testdata and node_modules skipped), with the
// Go version and the environment variables that change a build.
func sourceKey(root string) (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	for _, v := range []string{"CGO_ENABLED", "GOFLAGS", "GOEXPERIMENT", "GOAMD64", "CC"} {
		fmt.Fprintf(h, "%s=%s\n", v, os.Getenv(v))
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !(name == "go.mod" || name == "go.sum" || strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")) {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(h, "\x00%s\x00", rel)
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("hashing the sources: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// beforeLock is called just before sharedBuild waits for the lock (tests).
var beforeLock = func() {}

// staleAfter is how long an unused cached binary is kept.
const staleAfter = 24 * time.Hour

// sharedBuild returns cache/key/deimos, calling build to make it unless it
// exists. An exclusive flock on cache/key.lock makes concurrent callers, in
// this process or others, build it once: the others wait and then find it.
// The binary is written under a temporary name and renamed, so a file at the
// final path is always complete. Binaries of other keys unused for a day are
// removed.
func sharedBuild(cache, key string, build func(out string) error) (string, error) {
	dir := filepath.Join(cache, key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	final := filepath.Join(dir, "deimos")
	lf, err := os.OpenFile(filepath.Join(cache, key+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lf.Close()
	beforeLock()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("locking %s: %w", lf.Name(), err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	now := time.Now()
	_ = os.Chtimes(dir, now, now) // in use: keep it
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	tmp := final + ".building"
	if err := build(tmp); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	pruneStale(cache, key, now)
	return final, nil
}

// pruneStale removes cached binaries other than key's that were not used
// for staleAfter.
func pruneStale(cache, key string, now time.Time) {
	entries, err := os.ReadDir(cache)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == key {
			continue
		}
		if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > staleAfter {
			os.RemoveAll(filepath.Join(cache, e.Name()))
			os.Remove(filepath.Join(cache, e.Name()+".lock"))
		}
	}
}
