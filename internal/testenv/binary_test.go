package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// Concurrent callers (each with its own lock file descriptor, as separate
// test processes have) build the binary once and all get the finished file.
func TestSharedBuildBuildsOnce(t *testing.T) {
	cache := t.TempDir()
	const n = 4
	var ready sync.WaitGroup
	ready.Add(n)
	beforeLock = ready.Done
	t.Cleanup(func() { beforeLock = func() {} })
	var builds atomic.Int32
	build := func(out string) error {
		builds.Add(1)
		// hold the build until every caller has reached the lock: without
		// the lock each of them would find no binary and build one too
		ready.Wait()
		return os.WriteFile(out, []byte("binary"), 0o755)
	}
	paths := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = sharedBuild(cache, "k1", build)
		}()
	}
	wg.Wait()
	if got := builds.Load(); got != 1 {
		t.Fatalf("%d builds for %d concurrent callers, want 1", got, n)
	}
	for i := range n {
		if errs[i] != nil || paths[i] != filepath.Join(cache, "k1", "deimos") {
			t.Fatalf("caller %d: %q %v", i, paths[i], errs[i])
		}
	}
	if b, err := os.ReadFile(paths[0]); err != nil || string(b) != "binary" {
		t.Fatalf("binary: %q %v", b, err)
	}
	beforeLock = func() {}
	if _, err := sharedBuild(cache, "k1", build); err != nil || builds.Load() != 1 {
		t.Fatalf("a later run rebuilt: %d builds, %v", builds.Load(), err)
	}
}

// A failed build leaves nothing behind, and the next caller builds again.
func TestSharedBuildFailureIsRetried(t *testing.T) {
	cache := t.TempDir()
	boom := errors.New("compile error")
	if _, err := sharedBuild(cache, "k", func(out string) error {
		_ = os.WriteFile(out, []byte("half"), 0o755)
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the build's error", err)
	}
	if _, err := os.Stat(filepath.Join(cache, "k", "deimos.building")); !os.IsNotExist(err) {
		t.Fatalf("partial build left behind: %v", err)
	}
	p, err := sharedBuild(cache, "k", func(out string) error { return os.WriteFile(out, []byte("ok"), 0o755) })
	if b, _ := os.ReadFile(p); err != nil || string(b) != "ok" {
		t.Fatalf("rebuild: %q %v", b, err)
	}
}

// The key changes with the sources the binary is built from, and only
// with them.
func TestSourceKey(t *testing.T) {
	root := t.TempDir()
	write := func(rel, body string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module x\n")
	write("main.go", "package main\n")
	write("pkg/a/a.go", "package a\n")
	key := func() string {
		t.Helper()
		k, err := sourceKey(root)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k0 := key()
	write("pkg/a/a_test.go", "package a\n")
	write("testdata/x.go", "package x\n")
	write("docs/a.md", "text\n")
	if k := key(); k != k0 {
		t.Fatal("tests, testdata or docs changed the key")
	}
	for _, change := range [][2]string{{"pkg/a/a.go", "package a\n\nvar X = 1\n"}, {"pkg/b/b.go", "package b\n"}, {"go.sum", "x v1 h1:\n"}} {
		write(change[0], change[1])
		if k := key(); k == k0 {
			t.Fatalf("changing %s kept the key", change[0])
		} else {
			k0 = k
		}
	}
}
