package poller_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
)

// runPoller runs the binary with a config whose single poller has the given
// where (a YAML literal block, so any quote can be written as is).
func runPoller(t *testing.T, url, table, where string, args ...string) (string, string, int) {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`schema: {backend: json}
database: {url: "%s"}
topics:
  - {name: widgets, key_config: {field: id}}
pollers:
  - name: WidgetProducer
    table: %s
    topic: widgets
    backend: outbox
    delay: 0
    where: |-
      %s
`, url, table, where)
	cfgPath := filepath.Join(dir, "deimos.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testenv.Binary(t), append([]string{"--config", cfgPath}, args...)...)
	cmd.Env = append(os.Environ(), "DEIMOS_CONFIG=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// The exploit: a ' inside a double-quoted identifier hid a ';' from
// the old guard, and SQLite ran every statement, so the read-only `poller
// status` emptied another table. Now every command refuses the where (exit
// 2, naming the setting) and the other table keeps its rows. Each database
// gets the attacks its own lexer makes possible: on MySQL a backslash
// escapes a quote ('a\” is one string there, two to a standard reader) and
// /*! … */ is not a comment but code.
func TestWhereHidingSecondStatementIsRefused(t *testing.T) {
	exploits := map[string][]string{
		"sqlite": {
			`1=1 OR "it's" IS NULL); DELETE FROM other; SELECT (1 OR "it's" IS NULL`,
			`1=1 OR [it's] IS NULL); DELETE FROM other; SELECT (1 OR [it's] IS NULL`,
			"1=1 OR `it's` IS NULL); DELETE FROM other; SELECT (1 OR `it's` IS NULL",
		},
		"postgres": {
			`1=1 OR "it's" IS NULL); DELETE FROM other; SELECT (1 OR "it's" IS NULL`,
		},
		"mysql": {
			`1=1 OR "it's" IS NULL); DELETE FROM other; SELECT (1 OR "it's" IS NULL`,
			"1=1 OR `it's` IS NULL); DELETE FROM other; SELECT (1 OR `it's` IS NULL",
			`name = 'a\''; DELETE FROM other; SELECT ''`,
			`name = 'x' /*! ; DELETE FROM other */`,
		},
	}
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			url := dl.URL(t)
			ctx := context.Background()
			d, err := db.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if _, err := migrate.Up(ctx, d, []string{"poller", "outbox"}); err != nil {
				t.Fatal(err)
			}
			ts := "DATETIME"
			if dl.Name == "postgres" {
				ts = "TIMESTAMP"
			}
			mustExec(t, d.DB, `CREATE TABLE widgets (id INTEGER PRIMARY KEY, name VARCHAR(50), updated_at `+ts+`)`)
			mustExec(t, d.DB, `INSERT INTO widgets VALUES (1, 'a', '2024-01-01 00:00:00.000000')`)
			mustExec(t, d.DB, `CREATE TABLE other (id INTEGER PRIMARY KEY)`)
			mustExec(t, d.DB, `INSERT INTO other VALUES (1), (2), (3)`)
			for _, where := range exploits[dl.Name] {
				for _, cmd := range [][]string{{"poller", "status"}, {"poller", "run", "--once"}} {
					_, stderr, code := runPoller(t, url, "widgets", where, cmd...)
					var n int
					if err := d.QueryRow("SELECT COUNT(*) FROM other").Scan(&n); err != nil {
						t.Fatal(err)
					}
					if n != 3 {
						t.Fatalf("%v with where %s: table other has %d rows, want 3 (stderr: %s)", cmd, where, n, stderr)
					}
					if code != 2 || !strings.Contains(stderr, "where:") || !strings.Contains(stderr, "more than one SQL statement") {
						t.Fatalf("%v with where %s: exit %d, stderr %q; want exit 2 naming the where setting", cmd, where, code, stderr)
					}
				}
			}
			// A where that is one expression still works; a '?' in a string is text.
			good := map[string]string{
				"sqlite":   `name = 'a;b' OR "name" = 'a';`,
				"postgres": `name = 'a;b' OR "name" = 'a';`,
				"mysql":    "name = 'a;b?' OR `name` = 'a' OR name = \"a'?\";",
			}[dl.Name]
			out, stderr, code := runPoller(t, url, "widgets", good, "poller", "status", "-o", "json")
			var sts []struct {
				Pending int `json:"pending"`
			}
			if code != 0 || json.Unmarshal([]byte(out), &sts) != nil || len(sts) != 1 || sts[0].Pending != 1 {
				t.Fatalf("good where: %d %s %s", code, out, stderr)
			}
		})
	}
}

// A PostgreSQL jsonb ? operator in the where is not taken for a placeholder:
// run publishes exactly the matching rows and status counts them.
func TestWhereJSONBQuestionMarkOnPostgres(t *testing.T) {
	url := testenv.Postgres(t)
	ctx := context.Background()
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := migrate.Up(ctx, d, []string{"poller", "outbox"}); err != nil {
		t.Fatal(err)
	}
	mustExec(t, d.DB, `CREATE TABLE tagged (id bigint PRIMARY KEY, name text, tags jsonb, updated_at timestamp)`)
	mustExec(t, d.DB, `INSERT INTO tagged VALUES
		(1, 'a', '["vip"]', '2024-01-01'), (2, 'b', '["x"]', '2024-01-01'),
		(3, 'c', '["vip","y"]', '2024-01-02'), (4, 'd', '["y"]', '2024-01-03')`)
	where := `tags ? 'vip' AND tags ?| array['vip','z'] AND NOT tags ?& array['vip','q'] AND name <> '?'`
	out, stderr, code := runPoller(t, url, "tagged", where, "poller", "status", "-o", "json")
	var sts []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &sts) != nil || len(sts) != 1 || sts[0]["pending"] != float64(2) || sts[0]["error"] != nil {
		t.Fatalf("status: %d %s %s", code, out, stderr)
	}
	if _, stderr, code := runPoller(t, url, "tagged", where, "poller", "run", "--once"); code != 0 {
		t.Fatalf("run: %d %s", code, stderr)
	}
	got := testenv.Rows(t, d, "SELECT convert_from(key, 'UTF8') FROM kafka_messages ORDER BY id")
	if strings.Join(got, ",") != `{"id":1},{"id":3}` {
		t.Fatalf("published keys %v, want the vip rows 1,3", got)
	}
}
