package e2e_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// goTool runs a command in the repository root with a generous timeout.
func repoCmd(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = repoPath(".")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// `make release` (its amd64 half, as CI has no arm64 cross compiler) gives
// a fully static binary with SQLite embedded, the version stamped, and a
// checksum file that verifies.
func TestReleaseBinaryIsStatic(t *testing.T) {
	for _, tool := range []string{"make", "gcc", "ldd", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool)
		}
	}
	dist := t.TempDir()
	repoCmd(t, nil, "make", "release-amd64", "release-sums", "RELEASE_DIR="+dist, "VERSION=v9.8.7-test")
	bin := filepath.Join(dist, "deimos-v9.8.7-test-linux-amd64")

	cmd := exec.Command("ldd", bin)
	out, _ := cmd.CombinedOutput() // ldd exits 1 for a static binary
	if !strings.Contains(string(out), "not a dynamic executable") {
		t.Fatalf("ldd %s:\n%s", bin, out)
	}
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil || !strings.Contains(string(sums), "deimos-v9.8.7-test-linux-amd64") {
		t.Fatalf("SHA256SUMS: %v %q", err, sums)
	}
	check := exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = dist
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}

	dir := t.TempDir()
	runBin := func(args ...string) (string, error) {
		c := exec.Command(bin, args...)
		c.Dir = dir
		c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
		o, err := c.CombinedOutput()
		return string(o), err
	}
	if out, err := runBin("--version"); err != nil || strings.TrimSpace(out) != "deimos v9.8.7-test" {
		t.Fatalf("--version: %v %q", err, out)
	}
	if out, err := runBin("--db", "sqlite:"+filepath.Join(dir, "r.db"), "migrate", "up", "--only", "outbox"); err != nil || !strings.Contains(out, "kafka_messages") {
		t.Fatalf("the static binary's SQLite: %v\n%s", err, out)
	}
}

// The whole tree builds with CGO_ENABLED=0; that binary works without
// SQLite and says so (exit 2) when a sqlite: database is asked for.
func TestBuildWithoutCgo(t *testing.T) {
	env := []string{"CGO_ENABLED=0"}
	repoCmd(t, env, "go", "build", "./...")
	repoCmd(t, env, "go", "vet", "./pkg/db/")
	bin := filepath.Join(t.TempDir(), "deimos-nocgo")
	repoCmd(t, env, "go", "build", "-o", bin, ".")
	dir := t.TempDir()
	c := exec.Command(bin, "--db", "sqlite:"+filepath.Join(dir, "x.db"), "migrate", "up")
	c.Dir = dir
	out, err := c.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "built without cgo (CGO_ENABLED=0) and has no SQLite") {
		t.Fatalf("sqlite without cgo: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.db")); err == nil {
		t.Fatal("a file was created")
	}
	// everything else works: encode with a local schema
	c = exec.Command(bin, "--schema-path", repoPath("testdata/schemas"), "encode", "--schema", "Simple", "--namespace", "com.acme", "--wire", "raw", "--output-encoding", "hex")
	c.Stdin = strings.NewReader(`{"test_id":"abc","some_int":12}`)
	out, err = c.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "0661626318" {
		t.Fatalf("encode without cgo: %v %s", err, out)
	}
}

// The README names the Go version of go.mod's go line.
func TestReadmeGoVersionMatchesGoMod(t *testing.T) {
	mod, err := os.ReadFile(repoPath("go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for _, l := range strings.Split(string(mod), "\n") {
		if v, ok := strings.CutPrefix(l, "go "); ok {
			want = strings.TrimSpace(v)
		}
	}
	readme, err := os.ReadFile(repoPath("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want == "" || !strings.Contains(string(readme), "Go "+want+" or later") {
		t.Fatalf("go.mod says go %s; the README must say \"Go %s or later\"", want, want)
	}
	for _, l := range strings.Split(string(readme), "\n") {
		if i := strings.Index(l, "Go 1."); i >= 0 && !strings.Contains(l, "Go "+want) {
			t.Errorf("README names another Go version: %s", l)
		}
	}
}

// The cron example is an /etc/cron.d line (minute hour day month weekday
// USER command) and says so, with what to drop for a personal crontab; the
// README points at it the same way, and its install section shows both the
// release build and go install.
func TestCronExampleAndInstallSection(t *testing.T) {
	cron, err := os.ReadFile(repoPath("scripts/outbox.cron"))
	if err != nil {
		t.Fatal(err)
	}
	var job []string
	for _, l := range strings.Split(string(cron), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			job = append(job, l)
		}
	}
	if len(job) != 1 {
		t.Fatalf("scripts/outbox.cron: want one job line, have %d", len(job))
	}
	f := strings.Fields(job[0])
	if len(f) < 7 || f[5] != "deimos" || !strings.Contains(job[0], "deimos outbox run --once") {
		t.Fatalf("scripts/outbox.cron: want five time fields, the user deimos, then the command: %s", job[0])
	}
	if !strings.Contains(string(cron), "/etc/cron.d line") || !strings.Contains(string(cron), "crontab -e") {
		t.Fatalf("scripts/outbox.cron does not say its sixth field is the /etc/cron.d user field:\n%s", cron)
	}
	readme, err := os.ReadFile(repoPath("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/etc/cron.d", "make release VERSION=", "go install github.com/deimos-cli/deimos@latest",
		"not a dynamic executable", "CGO_ENABLED=0"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README does not show %q", want)
		}
	}
}
