package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// result is one run of the binary.
type result struct {
	code        int
	stdout, err string
}

// all is everything the run printed, stdout and stderr.
func (r result) all() string { return r.stdout + r.err }

// run runs the binary in dir with only env (plus PATH and HOME), so that no
// DEIMOS_* variable of the caller leaks in.
func run(t *testing.T, dir string, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("deimos %s: still running after 90s\nstderr: %s", strings.Join(args, " "), e.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("deimos %s: %v", strings.Join(args, " "), err)
	}
	return result{code: code, stdout: o.String(), err: e.String()}
}

// runUntil starts a long-running command, waits until its stdout or stderr
// contains ready, then sends SIGTERM and returns what it printed.
func runUntil(t *testing.T, dir string, env []string, ready string, args ...string) result {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	var buf testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(buf.String(), ready) {
		select {
		case err := <-done:
			t.Fatalf("deimos %s exited before printing %q: %v\n%s", strings.Join(args, " "), ready, err, buf.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("deimos %s: no %q within 60s\n%s", strings.Join(args, " "), ready, buf.String())
		case <-tick.C:
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("deimos %s: did not stop on SIGTERM", strings.Join(args, " "))
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: buf.String()}
}

// writeConfig writes cfg (JSON is YAML) as dir/deimos.yaml, the file every
// command reads by default.
func writeConfig(t *testing.T, dir string, cfg map[string]any) {
	t.Helper()
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "deimos.yaml"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// repoPath is a path inside this checkout.
func repoPath(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", rel)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
