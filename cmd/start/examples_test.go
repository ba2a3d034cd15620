package start_test

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/cmd/start"
	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/internal/testenv"
)

// Every example of `deimos start --help` runs as written (in a shell,
// through the binary, in a directory whose deimos.yaml has the jobs they
// name): --list prints and exits 0; the others serve on port 9394 until
// /readyz is 200, then stop on SIGTERM with exit 0; the curl line reads
// /status of a running start.
func TestStartHelpExamplesRun(t *testing.T) {
	for _, tool := range []string{"bash", "jq", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool)
		}
	}
	bin := t.TempDir()
	if err := os.Symlink(testenv.Binary(t), filepath.Join(bin, "deimos")); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, pipelineSQL, strings.ReplaceAll(pipelineConfig, "WidgetPoller", "WidgetProducer"))
	shellEnv := append(os.Environ(), "DEIMOS_CONFIG=", "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	sh := func(line string) *exec.Cmd {
		cmd := exec.Command("bash", "-c", "set -o pipefail; exec "+line)
		cmd.Dir, cmd.Env = e.dir, shellEnv
		return cmd
	}
	ready := func() bool {
		resp, err := http.Get("http://127.0.0.1:9394/readyz")
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	// daemon runs the line until /readyz is 200, then stops it with SIGTERM.
	daemon := func(t *testing.T, line string, during func()) {
		cmd := sh(line)
		out := &testenv.SyncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		defer func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s: after SIGTERM: %v\n%s", line, err, out)
				}
			case <-time.After(time.Minute):
				_ = cmd.Process.Kill()
				t.Errorf("%s did not stop on SIGTERM", line)
			}
		}()
		waitFor(t, line+": /readyz 200 on :9394", 30*time.Second, func() bool {
			select {
			case err := <-done:
				done <- err
				t.Fatalf("%s exited: %v\n%s", line, err, out)
			default:
			}
			return ready()
		})
		if during != nil {
			during()
		}
	}
	lines := exampleLines(start.NewCmd(cmdutil.TestFactory(), nil).Example)
	if len(lines) < 5 {
		t.Fatalf("examples: %v", lines)
	}
	for _, line := range lines {
		t.Run(line, func(t *testing.T) {
			switch {
			case strings.HasPrefix(line, "curl "):
				daemon(t, "deimos start", func() {
					out, err := sh(line).CombinedOutput()
					if err != nil || !strings.Contains(string(out), `"name": "WidgetSink"`) {
						t.Fatalf("%s: %v\n%s", line, err, out)
					}
				})
			case strings.Contains(line, "--list"):
				out, err := sh(line).CombinedOutput()
				if err != nil || !strings.Contains(string(out), "WidgetProducer") {
					t.Fatalf("%s: %v\n%s", line, err, out)
				}
			default:
				daemon(t, line, nil)
			}
		})
	}
}

func exampleLines(example string) []string {
	var out []string
	for _, l := range strings.Split(example, "\n") {
		if l = strings.TrimSpace(regexp.MustCompile(`\s+# .*$`).ReplaceAllString(l, "")); l != "" {
			out = append(out, l)
		}
	}
	return out
}
