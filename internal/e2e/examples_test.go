package e2e_test

// Every example a user can copy is run: each `Example:` line of every
// command's --help, and each shell block of README.md and docs/*.md that
// is meant to be run (```sh/```bash/```console blocks, and any block whose
// lines start with "$ "). They run through the real binary in bash,
// against `deimos dev` and a SQLite database, in a copy of
// testdata/examples/project (a small Deimos project: deimos.yaml, schemas,
// input files) set up by its setup.sh. Commands and pages are discovered,
// so a new command or page is covered as soon as it exists.
//
// An example that cannot run there says so in its text with a trailing
// comment "# [needs WHAT]" (a PostgreSQL server, systemd, zsh...); a block
// whose first line is such a comment is skipped whole. Nothing else is
// skipped. Examples use deimos dev's default addresses (localhost:9092,
// localhost:8081); the test runs dev on free ports and rewrites those.
//
// A command passes when it exits 0, or, in a "$ " transcript whose output
// shows an error ("deimos: ..." or "# exit N"), when it exits non-zero.
// The error lines ("deimos: ...") and JSON lines a transcript shows must
// appear in what the command printed (unless they hold "..." or "…"),
// compared with every number written as N and runs of spaces as one; other
// output (tables, summaries, logs) illustrates and is not compared.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/cmd"
	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/internal/testenv"
)

// example is one command to run, with what its transcript shows.
type example struct {
	cmd      string   // the shell command
	output   []string // lines a transcript shows after it
	wantFail bool     // the transcript shows an error
	needs    string   // "[needs X]": not run here
}

// unit is a group of examples run in order in one fresh project.
type unit struct {
	name     string // "deimos produce --help" or "docs/produce.md:42"
	examples []example
}

var needsRE = regexp.MustCompile(`#.*\[needs ([^\]]+)\]`)

// stripComment removes a trailing " # comment" outside quotes.
func stripComment(line string) string {
	inS, inD := false, false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\'' && !inD:
			inS = !inS
		case c == '"' && !inS:
			inD = !inD
		case c == '#' && !inS && !inD && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return strings.TrimSpace(line[:i])
		}
	}
	return strings.TrimSpace(line)
}

func newExample(line string) example {
	e := example{cmd: stripComment(line)}
	if m := needsRE.FindStringSubmatch(line); m != nil {
		e.needs = m[1]
	}
	return e
}

// helpUnits returns one unit per command with examples.
func helpUnits(t *testing.T) []unit {
	t.Helper()
	ios, _, _ := cmdutil.Test("")
	root := cmd.NewRoot(&cmdutil.Factory{IO: ios, Getenv: func(string) (string, bool) { return "", false }})
	var units []unit
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		u := unit{name: c.CommandPath() + " --help"}
		for _, l := range joinContinuations(strings.Split(c.Example, "\n")) {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			u.examples = append(u.examples, newExample(l))
		}
		if len(u.examples) > 0 {
			units = append(units, u)
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	return units
}

// joinContinuations joins lines ending in a backslash with the next.
func joinContinuations(lines []string) []string {
	var out []string
	cur := ""
	for _, l := range lines {
		if strings.HasSuffix(strings.TrimRight(l, " "), `\`) {
			cur += strings.TrimSuffix(strings.TrimRight(l, " "), `\`) + " "
			continue
		}
		out = append(out, cur+l)
		cur = ""
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

var fenceRE = regexp.MustCompile("^```\\s*([A-Za-z]*)")

// docUnits returns one unit per runnable shell block of README.md and docs/*.md.
func docUnits(t *testing.T) []unit {
	t.Helper()
	pages, err := filepath.Glob(repoPath("docs/*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append([]string{repoPath("README.md")}, pages...)
	var units []unit
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repoPath("."), page)
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			m := fenceRE.FindStringSubmatch(lines[i])
			if m == nil {
				continue
			}
			start := i + 1
			j := start
			for j < len(lines) && !strings.HasPrefix(lines[j], "```") {
				j++
			}
			block := lines[start:j]
			i = j
			if u, ok := blockUnit(fmt.Sprintf("%s:%d", rel, start), m[1], block); ok {
				units = append(units, u)
			}
		}
	}
	return units
}

// blockUnit reads a fenced block: a transcript ("$ " lines) of any type, or
// an sh/bash/shell block of commands. Other blocks (YAML, synopses, output)
// are not meant to be run.
func blockUnit(name, lang string, block []string) (unit, bool) {
	u := unit{name: name}
	hasPrompt := false
	for _, l := range block {
		if strings.HasPrefix(l, "$ ") {
			hasPrompt = true
		}
	}
	shell := lang == "sh" || lang == "bash" || lang == "shell" || lang == "console"
	if !hasPrompt && !shell {
		return u, false
	}
	blockNeeds := ""
	if len(block) > 0 {
		if m := needsRE.FindStringSubmatch(block[0]); m != nil && strings.HasPrefix(strings.TrimSpace(block[0]), "#") {
			blockNeeds = m[1]
		}
	}
	if hasPrompt {
		lines := block
		for k := 0; k < len(lines); k++ {
			if !strings.HasPrefix(lines[k], "$ ") {
				continue
			}
			cmdLines := []string{strings.TrimPrefix(lines[k], "$ ")}
			for strings.HasSuffix(strings.TrimRight(cmdLines[len(cmdLines)-1], " "), `\`) && k+1 < len(lines) {
				k++
				cmdLines = append(cmdLines, lines[k])
			}
			e := newExample(joinContinuations(cmdLines)[0])
			for k+1 < len(lines) && !strings.HasPrefix(lines[k+1], "$ ") {
				k++
				e.output = append(e.output, lines[k])
			}
			for _, o := range e.output {
				o = strings.TrimSpace(o)
				if strings.HasPrefix(o, "deimos: ") || regexp.MustCompile(`#\s*exit [1-9]`).MatchString(o) {
					e.wantFail = true
				}
			}
			if strings.Contains(e.cmd, "$?") {
				e.wantFail = false // the transcript echoes the code itself
			}
			if blockNeeds != "" && e.needs == "" {
				e.needs = blockNeeds
			}
			u.examples = append(u.examples, e)
		}
		return u, true
	}
	lines := joinContinuations(block)
	for k := 0; k < len(lines); k++ {
		l := lines[k]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if strings.HasSuffix(stripComment(l), "&") {
			// a job started in the background lives for the rest of the
			// block: the rest runs as one script with it
			var script []string
			for _, r := range lines[k:] {
				if c := stripComment(r); c != "" {
					script = append(script, c)
				}
			}
			u.examples = append(u.examples, example{cmd: strings.Join(script, "\n"), needs: blockNeeds})
			break
		}
		e := newExample(l)
		if blockNeeds != "" && e.needs == "" {
			e.needs = blockNeeds
		}
		u.examples = append(u.examples, e)
	}
	return u, true
}

// project is a fresh copy of the example project with deimos dev running.
type project struct {
	dir, bin string
	env      []string
	broker   string
	registry string
}

func newProject(t *testing.T) *project {
	t.Helper()
	dir := t.TempDir()
	src := repoPath("testdata/examples/project")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(to, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.Symlink(testenv.Binary(t), filepath.Join(bin, "deimos")); err != nil {
		t.Fatal(err)
	}
	p := &project{dir: dir, bin: bin}
	p.env = []string{"HOME=" + dir, "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"DEIMOS_DB=sqlite:" + filepath.Join(dir, "app.db"), "DATABASE_URL=sqlite:" + filepath.Join(dir, "app.db"), "TERM=dumb"}

	// deimos dev on free ports, found through its own --print-env
	dev := exec.Command(testenv.Binary(t), "dev", "--kafka-port", "0", "--registry-port", "0")
	dev.Dir, dev.Env = dir, p.env
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Process.Signal(syscall.SIGTERM); _ = dev.Wait() })
	r := run(t, dir, p.env, "", "dev", "--print-env")
	if r.code != 0 {
		t.Fatalf("dev --print-env: %s", r.all())
	}
	for _, kv := range strings.Fields(strings.TrimPrefix(strings.TrimSpace(r.stdout), "export ")) {
		p.env = append(p.env, kv)
		if v, ok := strings.CutPrefix(kv, "DEIMOS_BROKERS="); ok {
			p.broker = v
		}
		if v, ok := strings.CutPrefix(kv, "DEIMOS_REGISTRY_URL="); ok {
			p.registry = strings.TrimPrefix(v, "http://")
		}
	}
	p.env = append(p.env, "B="+p.broker)
	out, code := p.shell(t, "bash ./setup.sh", 2*time.Minute)
	if code != 0 {
		t.Fatalf("testdata/examples/project/setup.sh: exit %d\n%s", code, out)
	}
	return p
}

// rewrite points deimos dev's default addresses at this project's dev.
// The fixed ports of metrics and API servers become free ones, so that the
// test never fights another process for them.
func (p *project) rewrite(c string) string {
	r := strings.NewReplacer("localhost:9092", p.broker, "127.0.0.1:9092", p.broker,
		"localhost:8081", p.registry, "127.0.0.1:8081", p.registry,
		":9394", ":0", ":9292", ":0")
	c = r.Replace(c)
	// Servers on their default ports get free ones too: deimos start's
	// 127.0.0.1:9394 (cmd/start's own tests use it, and go test runs
	// packages side by side) and deimos dev's 9092/8081 or given ports.
	if strings.Contains(c, "deimos start") && !strings.Contains(c, "--http-addr") {
		c = strings.Replace(c, "deimos start", "deimos start --http-addr 127.0.0.1:0", 1)
	}
	c = devPortRE.ReplaceAllString(c, "--$1-port 0")
	if strings.Contains(c, "deimos dev") && !strings.Contains(c, "--print-env") && !strings.Contains(c, "-port ") && isDaemon(c) {
		c = strings.Replace(c, "deimos dev", "deimos dev --kafka-port 0 --registry-port 0", 1)
	}
	return c
}

var devPortRE = regexp.MustCompile(`--(kafka|registry)-port [1-9][0-9]*`)

// daemonRE matches commands that run until interrupted.
var daemonRE = regexp.MustCompile(`deimos (dev( |$)|outbox run|poller run|events serve|consume |start( |$))`)

func isDaemon(c string) bool {
	if strings.Contains(c, "--print-env") || strings.HasSuffix(strings.TrimSpace(c), "&") || strings.Contains(c, "& eval") {
		return false
	}
	if !daemonRE.MatchString(c) {
		return false
	}
	switch {
	case strings.Contains(c, "outbox run"), strings.Contains(c, "poller run"), strings.Contains(c, "deimos start"):
		return !strings.Contains(c, "--once")
	case strings.Contains(c, "deimos consume"):
		return !regexp.MustCompile(`(^| )(-e|--exit|-c|--count|--until|-o e@)( |$)`).MatchString(c) && !strings.Contains(c, " -e ") && !strings.Contains(c, "e@")
	}
	return true
}

// shell runs c in bash in the project (its own process group, killed
// afterwards, so that nothing it started in the background outlives it).
func (p *project) shell(t *testing.T, c string, timeout time.Duration) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash", "-c", "set -o pipefail; "+c)
	sh.Dir, sh.Env = p.dir, p.env
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	sh.Cancel = func() error { return syscall.Kill(-sh.Process.Pid, syscall.SIGKILL) }
	sh.WaitDelay = time.Second // a background job (dev &) keeps the output open: stop reading it
	var buf testenv.SyncBuffer
	sh.Stdout, sh.Stderr = &buf, &buf
	err := sh.Run()
	_ = syscall.Kill(-sh.Process.Pid, syscall.SIGTERM)
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return buf.String() + "\n(still running after " + timeout.String() + ")", -1
	case errors.As(err, &ee):
		return buf.String(), ee.ExitCode()
	case err != nil && !errors.Is(err, exec.ErrWaitDelay):
		t.Fatal(err)
	}
	return buf.String(), 0
}

// daemon starts c, lets it run for a moment, then stops it with SIGTERM:
// it must not have failed by then and must stop cleanly (exit 0).
func (p *project) daemon(t *testing.T, c string) (string, int) {
	t.Helper()
	start := "exec "
	if regexp.MustCompile(`^[A-Z_]+=`).MatchString(c) {
		start = "exec env "
	}
	sh := exec.Command("bash", "-c", start+c)
	if strings.ContainsAny(c, "|;&") {
		sh = exec.Command("bash", "-c", c)
	}
	sh.Dir, sh.Env = p.dir, p.env
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	sh.WaitDelay = time.Second
	var buf testenv.SyncBuffer
	sh.Stdout, sh.Stderr = &buf, &buf
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sh.Wait() }()
	code := func(err error) int {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ee.ExitCode()
		}
		return 0
	}
	select {
	case err := <-done: // ended by itself: judged like any command
		return buf.String(), code(err)
	case <-time.After(3 * time.Second):
	}
	_ = syscall.Kill(-sh.Process.Pid, syscall.SIGTERM)
	select {
	case err := <-done:
		return buf.String() + "\n(stopped with SIGTERM)", code(err)
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-sh.Process.Pid, syscall.SIGKILL)
		<-done
		return buf.String() + "\n(did not stop on SIGTERM)", -1
	}
}

var numRE = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)
var spaceRE = regexp.MustCompile(`\s+`)

func normalize(s string) string {
	return strings.TrimSpace(spaceRE.ReplaceAllString(numRE.ReplaceAllString(s, "N"), " "))
}

// checkOutput reports the transcript lines that the run did not print.
func checkOutput(want []string, got string) []string {
	have := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(got))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		have[normalize(sc.Text())] = true
	}
	var missing []string
	for _, w := range want {
		tw := strings.TrimSpace(w)
		if tw == "" || strings.Contains(tw, "...") || strings.Contains(tw, "…") {
			continue
		}
		if !strings.HasPrefix(tw, "deimos: ") && !strings.HasPrefix(tw, "{") {
			continue
		}
		if !have[normalize(stripComment(w))] {
			missing = append(missing, w)
		}
	}
	return missing
}

func TestEveryExampleRuns(t *testing.T) {
	for _, tool := range []string{"bash", "jq", "kcat", "sqlite3", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool)
		}
	}
	units := append(helpUnits(t), docUnits(t)...)
	if only := os.Getenv("TEST_EXAMPLES"); only != "" {
		var keep []unit
		for _, u := range units {
			if strings.Contains(u.name, only) {
				keep = append(keep, u)
			}
		}
		units = keep
	}
	var mu sync.Mutex // guards ran and skipped
	ran, skipped := 0, map[string]int{}
	// Units run two at a time (go test's -parallel, GOMAXPROCS by default):
	// each has its own project and deimos dev on free ports, and most of a
	// unit's time is waiting (daemons run 3 s, dev starts). Units with an
	// example that binds fixed ports (deimos dev's defaults or 19092, deimos
	// start's servers) run one at a time among themselves.
	var fixedPorts sync.Mutex
	t.Run("units", func(t *testing.T) {
		for _, u := range units {
			t.Run(u.name, func(t *testing.T) {
				t.Parallel()
				if u.bindsFixedPorts() {
					fixedPorts.Lock()
					defer fixedPorts.Unlock()
				}
				runUnit(t, u, func(needs string) {
					mu.Lock()
					defer mu.Unlock()
					if needs != "" {
						skipped[needs]++
					} else {
						ran++
					}
				})
			})
		}
	})
	var reasons []string
	for r, n := range skipped {
		reasons = append(reasons, fmt.Sprintf("%d [needs %s]", n, r))
	}
	sort.Strings(reasons)
	t.Logf("ran %d examples from %d help pages and doc blocks; not run here: %s", ran, len(units), strings.Join(reasons, ", "))
	if os.Getenv("TEST_EXAMPLES") == "" && ran < 100 {
		t.Fatalf("ran %d examples; expected every command's and every page's", ran)
	}
}

// bindsFixedPorts reports a unit with a daemon example that listens on a
// fixed port (deimos dev's defaults or given ports, deimos start's servers).
func (u unit) bindsFixedPorts() bool {
	for _, e := range u.examples {
		if e.needs == "" && isDaemon(e.cmd) && (strings.Contains(e.cmd, "deimos dev") || strings.Contains(e.cmd, "deimos start")) {
			return true
		}
	}
	return false
}

// runUnit runs a unit's examples in one fresh project; count is called
// with each example's [needs …] reason ("" for one that ran).
func runUnit(t *testing.T, u unit, count func(needs string)) {
	start := time.Now()
	defer func() { t.Logf("%s: %s", u.name, time.Since(start).Round(time.Millisecond)) }()
	var p *project
	for _, e := range u.examples {
		if e.needs != "" {
			count(e.needs)
			continue
		}
		if p == nil {
			ps := time.Now()
			p = newProject(t)
			t.Logf("project set up in %s", time.Since(ps).Round(time.Millisecond))
		}
		c := p.rewrite(e.cmd)
		var out string
		var code int
		if isDaemon(c) {
			out, code = p.daemon(t, c)
		} else {
			out, code = p.shell(t, c, 90*time.Second)
		}
		count("")
		switch {
		case e.wantFail && code == 0:
			t.Errorf("%s\n  $ %s\n  exit 0; the text shows it failing\n%s", u.name, e.cmd, indent(out))
		case !e.wantFail && code != 0:
			t.Errorf("%s\n  $ %s\n  exit %d\n%s", u.name, e.cmd, code, indent(out))
		default:
			if missing := checkOutput(e.output, out); len(missing) > 0 {
				t.Errorf("%s\n  $ %s\n  the text shows lines it did not print:\n%s\n  it printed:\n%s", u.name, e.cmd, indent(strings.Join(missing, "\n")), indent(out))
			}
		}
	}
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if len(s) > 4000 {
		s = s[:4000] + "\n…"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
