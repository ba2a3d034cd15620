package e2e_test

import (
	"context"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// TestReadmeDatabaseExamplesRun runs every `deimos …` example of the
// README's Databases section through a shell, on a real database of its
// kind: SQLite, PostgreSQL and MariaDB (for MySQL). What changes is only
// where the example points: the host, user and database name of its URL
// become the throwaway server's, `kafka:9092` a test broker, and the TLS
// parameters (`sslmode=require`, `tls=true`) are dropped because the
// throwaway servers do not serve TLS. ${DB_PASSWORD} is expanded by the
// shell, as a reader's would be.
func TestReadmeDatabaseExamplesRun(t *testing.T) {
	readme, err := os.ReadFile(repoPath("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	start := strings.Index(section, "\n## Databases\n")
	if start < 0 {
		t.Fatal("README.md has no Databases section")
	}
	section = section[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var examples []string
	for _, m := range regexp.MustCompile("`(deimos [^`]+)`").FindAllStringSubmatch(section, -1) {
		examples = append(examples, m[1])
	}
	seen := map[string]bool{}
	for _, ex := range examples {
		switch {
		case strings.Contains(ex, "sqlite:"):
			seen["sqlite"] = true
		case strings.Contains(ex, "postgres://"):
			seen["postgres"] = true
		case strings.Contains(ex, "mysql://"):
			seen["mysql"] = true
		}
	}
	if !seen["sqlite"] || !seen["postgres"] || !seen["mysql"] {
		t.Fatalf("the Databases section should give an example for SQLite, PostgreSQL and MySQL/MariaDB; found %q", examples)
	}

	bin := t.TempDir()
	if err := os.Symlink(testenv.Binary(t), filepath.Join(bin, "deimos")); err != nil {
		t.Fatal(err)
	}
	brokers := testenv.Brokers(t, 1)
	const password = "readme-pw"
	// One database of each kind, shared by that kind's examples in order
	// (migrate up first).
	pgURL := testenv.Postgres(t)
	myURL := testenv.MariaDBUser(t, testenv.MariaDB(t), password)
	dir := t.TempDir()
	urlRe := regexp.MustCompile(`(postgres|mysql)://([^:@/]+):\$\{DB_PASSWORD\}@([^/"]+)/([^?"]+)(\?[^"]*)?`)
	for _, ex := range examples {
		cmdline := urlRe.ReplaceAllStringFunc(ex, func(u string) string {
			m := urlRe.FindStringSubmatch(u)
			target := pgURL
			if m[1] == "mysql" {
				target = myURL
			}
			tu, err := neturl.Parse(target)
			if err != nil {
				t.Fatal(err)
			}
			q, err := neturl.ParseQuery(strings.TrimPrefix(m[5], "?"))
			if err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			q.Del("tls")
			if m[1] == "postgres" {
				q.Set("sslmode", "disable")
			}
			out := m[1] + "://" + tu.User.Username() + ":${DB_PASSWORD}@" + tu.Host + tu.Path
			if len(q) > 0 {
				out += "?" + q.Encode()
			}
			return out
		})
		cmdline = strings.ReplaceAll(cmdline, "kafka:9092", brokers[0])
		t.Run(ex, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "sh", "-c", cmdline)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "DB_PASSWORD="+password, "DEIMOS_CONFIG=", "DEIMOS_DB=")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s\n(run as: %s)\n%v\n%s", ex, cmdline, err, out)
			}
			if strings.Contains(ex, "migrate up") && !strings.Contains(string(out), "kafka_messages") {
				t.Fatalf("%s: did not create the outbox table:\n%s", ex, out)
			}
			t.Logf("%s\n%s", cmdline, out)
		})
	}
}
