package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Each concern has one home (docs/architecture.md, Seams). A non-test Go
// file elsewhere that imports the concern's library, or defines its own
// copy of the helper, fails this test with the file and the home to use.
func TestOneWayForEachThing(t *testing.T) {
	rules := []struct {
		what  string
		re    *regexp.Regexp
		homes []string // directories (or files) allowed to match
	}{
		{"tables, terminal styles and colour profiles (cmdutil.Table, IOStreams.Styles)",
			regexp.MustCompile(`"text/tabwriter"|"github.com/charmbracelet/lipgloss"|"github.com/muesli/termenv"`), []string{"internal/cmdutil/"}},
		{"the /metrics server (pkg/httpserver, wired by cmdutil.Service)",
			regexp.MustCompile(`"github.com/prometheus/client_golang/prometheus/promhttp"`), []string{"pkg/httpserver/"}},
		{"database error classification (db.IsTransient, IsDeadlock, …)",
			regexp.MustCompile(`pgconn\.PgError|pgconn\.ConnectError|mysql\.MySQLError|mysql\.ErrInvalidConn|sqlite3\.Err`), []string{"pkg/db/"}},
		{"sleeping on a context, retrying, quoting identifiers (db.SleepCtx, db.Retry, db.Quote)",
			regexp.MustCompile(`func (sleepCtx|sleep|retry\w*|quote\w*|isConnErr|isTransient|isDeadlock|retryable\w*)\(`), nil},
		{"JSON without HTML escaping (jsonesc.AppendString, jsonesc.Marshal, cmdutil.WriteJSON)",
			regexp.MustCompile(`SetEscapeHTML\(false\)`), []string{"internal/jsonesc/", "internal/cmdutil/output.go"}},
		{"JSON string escaping (jsonesc.AppendString)",
			regexp.MustCompile(`'\\\\', 'u'|\\\\u%04[xX]`), []string{"internal/jsonesc/"}},
		{"package state set up by init() (backends are wired explicitly)",
			regexp.MustCompile(`(?m)^func init\(\)`), nil},
		{"goavro in the binary (pkg/avro parses; goavro is a test oracle)",
			regexp.MustCompile(`"github.com/linkedin/goavro/v2"`), nil},
	}
	files := 0
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != "." && (n == "node_modules" || n == "testdata" || strings.HasPrefix(n, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || strings.HasPrefix(p, "internal/testenv/") || strings.HasPrefix(p, "scripts/") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for _, r := range rules {
			if m := r.re.Find(b); m != nil && !under(p, r.homes) {
				home := "nowhere"
				if len(r.homes) > 0 {
					home = strings.Join(r.homes, ", ")
				}
				t.Errorf("%s: %q: %s has one home (%s)", p, m, r.what, home)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("only %d files read", files)
	}
}

func under(p string, homes []string) bool {
	for _, h := range homes {
		if strings.HasPrefix(p, h) {
			return true
		}
	}
	return false
}
