package testenv

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Result is what a run of the binary printed and its exit code.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs the deimos binary with args in dir (a fresh temp dir when ""),
// the test's environment plus env, and stdin; it fails the test only when
// the binary cannot be started or runs past a minute.
func Run(t testing.TB, dir string, env []string, stdin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	if dir == "" {
		dir = t.TempDir()
	}
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		if ctx.Err() != nil {
			t.Fatalf("deimos %s: still running after a minute\nstderr: %s", strings.Join(args, " "), e.String())
		}
		return Result{o.String(), e.String(), ee.ExitCode()}
	case err != nil:
		t.Fatalf("deimos %s: %v", strings.Join(args, " "), err)
	}
	return Result{o.String(), e.String(), 0}
}

// OK returns stdout, failing the test with both streams when the run did
// not exit 0.
func (r Result) OK(t testing.TB, what string) string {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", what, r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}
