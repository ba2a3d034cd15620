package dev

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// `deimos dev --print-env` prints the export line of the dev running
// elsewhere (waiting for one that is starting), and exits 3 when none runs;
// the line it prints works for other commands.
func TestPrintEnvOfRunningDev(t *testing.T) {
	state := t.TempDir() + "/dev.env"
	r := testenv.Run(t, "", nil, "", "dev", "--print-env", "--state-file", state, "--wait", "300ms")
	if r.Code != 3 || !strings.Contains(r.Stderr, "no deimos dev is running") {
		t.Fatalf("no dev: exit %d %q", r.Code, r.Stderr)
	}

	dev := exec.Command(testenv.Binary(t), "dev", "--kafka-port", "0", "--registry-port", "0", "--state-file", state)
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- dev.Wait() }()
	t.Cleanup(func() { _ = dev.Process.Kill() })

	// started just now: --print-env waits until it answers
	r = testenv.Run(t, "", nil, "", "dev", "--print-env", "--state-file", state)
	line := strings.TrimSpace(r.OK(t, "dev --print-env"))
	if !strings.HasPrefix(line, "export DEIMOS_BROKERS=127.0.0.1:") || !strings.Contains(line, " DEIMOS_REGISTRY_URL=http://127.0.0.1:") {
		t.Fatalf("--print-env printed %q", line)
	}
	env := strings.Fields(strings.TrimPrefix(line, "export "))
	testenv.Run(t, "", env, "{\"a\":1}\n", "produce", "-t", "via-print-env").OK(t, "produce with the printed env")
	if out := testenv.Run(t, "", env, "", "topic", "list").OK(t, "topic list"); !strings.Contains(out, "via-print-env") {
		t.Fatalf("topic list through the printed env: %s", out)
	}

	_ = dev.Process.Signal(syscall.SIGTERM)
	if err := <-done; err != nil {
		t.Fatalf("dev on SIGTERM: %v", err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatalf("state file left behind after dev stopped: %v", err)
	}
	if r := testenv.Run(t, "", nil, "", "dev", "--print-env", "--state-file", state, "--wait", "200ms"); r.Code != 3 {
		t.Fatalf("after dev stopped: exit %d %s", r.Code, r.Stderr)
	}
}
