package produce_test

// The progress bar of `produce -f FILE` is drawn only when stderr is a
// terminal. These tests run the real binary with stderr on a pseudo-terminal
// made by util-linux's `script` (stdout redirected to a file, so only stderr
// is a terminal) and with stderr on a pipe. The hidden --progress-min-bytes
// flag lowers the 8 MB threshold so the input stays small.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
)

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// runStderrTTY runs deimos args with stderr (and stdin) on a pseudo-terminal
// and stdout into a file; it returns what the terminal showed, stdout, and
// the exit code.
func runStderrTTY(t *testing.T, env []string, args ...string) (term, stdout string, code int) {
	t.Helper()
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		testenv.Missing(t, "script (util-linux, for a pseudo-terminal)")
	}
	dir := t.TempDir()
	outFile := filepath.Join(dir, "stdout")
	line := shellQuote(binary(t))
	for _, a := range args {
		line += " " + shellQuote(a)
	}
	line += " >" + shellQuote(outFile)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// -q: no "Script started" lines; -e: script exits with the command's
	// status; -c: run this command; /dev/null: no typescript file.
	cmd := exec.CommandContext(ctx, scriptBin, "-qec", line, "/dev/null")
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("script: %v\n%s", err, e.String())
	}
	out, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatalf("stdout file: %v (terminal showed %q, script stderr %q)", err, o.String(), e.String())
	}
	return o.String(), string(out), code
}

// writeLines writes n JSON payload lines to a temp file and returns its path and size.
func writeLines(t *testing.T, n int) (string, int64) {
	t.Helper()
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"name":"widget %d"}`+"\n", i, i)
	}
	p := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, int64(b.Len())
}

const (
	barStart = "\r["              // a bar is drawn from the start of the line
	barClear = "\r\x1b[K"         // and erased when the input is read
	barLines = " lines"           // "[###   ]  42.0%  1234 lines"
	nLines   = 2000               // ~60 KB: far below the real 8 MB threshold
	summary  = " 2000 message(s)" // the summary line still appears
)

func TestProduceProgressBarOnTerminal(t *testing.T) {
	addrs := testenv.Brokers(t, 1, "widgets")
	env := []string{"DEIMOS_BROKERS=" + strings.Join(addrs, ",")}
	in, size := writeLines(t, nLines)
	low := fmt.Sprint(size / 2) // the file is above this threshold

	for _, tc := range []struct {
		name    string
		args    []string
		wantBar bool
		stdout  int // JSON lines expected on stdout
	}{
		{"kafka", []string{"produce", "-t", "widgets", "-f", in, "--progress-min-bytes", low}, true, 0},
		{"dry-run", []string{"produce", "-t", "widgets", "-f", in, "--dry-run", "--progress-min-bytes", low}, true, nLines},
		{"quiet", []string{"produce", "-t", "widgets", "-f", in, "-q", "--progress-min-bytes", low}, false, 0},
		{"below the default threshold", []string{"produce", "-t", "widgets", "-f", in, "--dry-run"}, false, nLines},
		{"below a set threshold", []string{"produce", "-t", "widgets", "-f", in, "--dry-run", "--progress-min-bytes", fmt.Sprint(size + 1)}, false, nLines},
	} {
		t.Run(tc.name, func(t *testing.T) {
			term, stdout, code := runStderrTTY(t, env, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d; terminal showed:\n%q", code, term)
			}
			hasBar := strings.Contains(term, barStart) && strings.Contains(term, barLines) && strings.Contains(term, "%")
			if hasBar != tc.wantBar {
				t.Fatalf("progress bar drawn = %v, want %v; terminal showed:\n%q", hasBar, tc.wantBar, term)
			}
			if tc.wantBar {
				if !strings.Contains(term, barClear) {
					t.Errorf("the bar was not erased at the end: %q", term)
				}
				if strings.Index(term, barClear) > strings.Index(term, summary) {
					t.Errorf("the summary was written before the bar was erased: %q", term)
				}
			}
			if !strings.Contains(tc.name, "quiet") && !strings.Contains(term, summary) {
				t.Errorf("summary missing from the terminal: %q", term)
			}
			if strings.Contains(stdout, "[") && strings.Contains(stdout, barLines) {
				t.Errorf("progress went to stdout: %q", stdout)
			}
			if n := strings.Count(stdout, "\n"); n != tc.stdout {
				t.Errorf("stdout has %d lines, want %d", n, tc.stdout)
			}
		})
	}
}

func TestProduceNoProgressBarWhenStderrIsNotATerminal(t *testing.T) {
	addrs := testenv.Brokers(t, 1, "widgets")
	env := []string{"DEIMOS_BROKERS=" + strings.Join(addrs, ",")}
	in, _ := writeLines(t, nLines)
	// stderr is a pipe here (run captures it); the threshold is as low as it goes
	r := run(t, env, "", "produce", "-t", "widgets", "-f", in, "--progress-min-bytes", "1")
	ok(t, r, "produce")
	if strings.Contains(r.err, "\r") || strings.Contains(r.err, barLines) || strings.Contains(r.err, "\x1b") {
		t.Fatalf("progress output on a non-terminal stderr: %q", r.err)
	}
	if !strings.Contains(r.err, "produced"+summary) {
		t.Fatalf("summary missing: %q", r.err)
	}

	// stderr into a file
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(binary(t), "produce", "-t", "widgets", "-f", in, "--dry-run", "--progress-min-bytes", "1")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, f
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); strings.Contains(s, "\r") || strings.Contains(s, barLines) || !strings.Contains(s, "would produce"+summary) {
		t.Fatalf("stderr file: %q", s)
	}
}
