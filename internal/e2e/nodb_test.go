package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// tableCommands are every command that reads or writes tables.
var tableCommands = []struct {
	name  string
	args  []string
	stdin string
}{
	{"outbox run", []string{"outbox", "run", "--once"}, ""},
	{"outbox status", []string{"outbox", "status"}, ""},
	{"poller run", []string{"poller", "run", "--once"}, ""},
	{"poller status", []string{"poller", "status"}, ""},
	{"poller reset", []string{"poller", "reset", "WidgetPoller"}, ""},
	{"migrate status", []string{"migrate", "status"}, ""},
	{"events list", []string{"events", "list"}, ""},
	{"events show", []string{"events", "show", "1"}, ""},
	{"events retry", []string{"events", "retry", "1", "--exec", "true"}, ""},
	{"events delete", []string{"events", "delete", "1"}, ""},
	{"events serve", []string{"events", "serve", "--addr", "127.0.0.1:0"}, ""},
	{"consume sink", []string{"consume", "-t", "widgets", "-e", "--sink", "table:widgets_sink", "--timeout", "10s"}, ""},
	{"consume checkpoint", []string{"consume", "-t", "widgets", "-e", "-g", "g1", "--exec", "true", "--checkpoint", "--timeout", "10s"}, ""},
	{"produce outbox", []string{"produce", "-t", "widgets", "--backend", "outbox"}, `{"id":1,"name":"bolt","price":0.25}`},
}

// noDBConfig is a working configuration with no database setting.
func noDBConfig(brokers, registry string) map[string]any {
	return map[string]any{
		"kafka":  map[string]any{"brokers": []string{brokers}},
		"schema": map[string]any{"backend": "avro_schema_registry", "path": repoPath("examples/schemas"), "registry": map[string]any{"url": registry}},
		"topics": []any{map[string]any{"name": "widgets", "schema": "Widget", "namespace": "com.acme", "key_config": map[string]any{"field": "id"}}},
		"pollers": []any{map[string]any{"name": "WidgetPoller", "table": "widgets_src", "topic": "widgets",
			"timestamp_column": "updated_at", "id_column": "id"}},
	}
}

// dbFiles lists what looks like a database file in dir.
func dbFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".db") || strings.Contains(e.Name(), ".sqlite") {
			out = append(out, e.Name())
		}
	}
	return out
}

// With no --db, DEIMOS_DB or database.url, every table command (and
// `migrate up`) exits 2 naming the three ways to give one, and creates no
// file: a cron job whose environment failed to load is not a silent no-op.
func TestTableCommandsNeedADatabase(t *testing.T) {
	brokers := strings.Join(testenv.Brokers(t, 1, "widgets"), ",")
	registry := testenv.Registry(t).URL()
	cmds := append(tableCommands[:len(tableCommands):len(tableCommands)], struct {
		name  string
		args  []string
		stdin string
	}{"migrate up", []string{"migrate", "up"}, ""})
	for _, c := range cmds {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeConfig(t, dir, noDBConfig(brokers, registry))
			r := run(t, dir, nil, c.stdin, c.args...)
			if r.code != 2 {
				t.Fatalf("deimos %s without a database: exit %d, want 2\n%s", strings.Join(c.args, " "), r.code, r.all())
			}
			for _, way := range []string{"--db", "DEIMOS_DB", "database.url"} {
				if !strings.Contains(r.err, way) {
					t.Fatalf("deimos %s: the error does not name %s:\n%s", strings.Join(c.args, " "), way, r.err)
				}
			}
			if files := dbFiles(t, dir); len(files) > 0 {
				t.Fatalf("deimos %s created %v", strings.Join(c.args, " "), files)
			}
		})
	}
	// The cron case: no config file at all, only a broker in the environment.
	for _, args := range [][]string{{"outbox", "run", "--once"}, {"outbox", "status"}, {"events", "list"}} {
		t.Run(strings.Join(args, " ")+" without config", func(t *testing.T) {
			dir := t.TempDir()
			r := run(t, dir, []string{"DEIMOS_BROKERS=" + brokers}, "", args...)
			if r.code != 2 || !strings.Contains(r.err, "DEIMOS_DB") {
				t.Fatalf("exit %d, want 2 naming DEIMOS_DB:\n%s", r.code, r.all())
			}
			if files := dbFiles(t, dir); len(files) > 0 {
				t.Fatalf("created %v", files)
			}
		})
	}
}

// Only `migrate up` creates a SQLite file; every other command refuses a
// path that does not exist (exit 2) and leaves it absent.
func TestOnlyMigrateUpCreatesSQLite(t *testing.T) {
	brokers := strings.Join(testenv.Brokers(t, 1, "widgets"), ",")
	registry := testenv.Registry(t).URL()
	for _, c := range tableCommands {
		for _, how := range []string{"flag", "env", "file"} {
			t.Run(c.name+"/"+how, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "missing.db")
				cfg := noDBConfig(brokers, registry)
				var env, flags []string
				switch how {
				case "flag":
					flags = []string{"--db", "sqlite:" + path}
				case "env":
					env = []string{"DEIMOS_DB=sqlite:" + path}
				default:
					cfg["database"] = map[string]any{"url": "sqlite:" + path}
				}
				writeConfig(t, dir, cfg)
				r := run(t, dir, env, c.stdin, append(flags, c.args...)...)
				if r.code != 2 || !strings.Contains(r.err, "no such SQLite file") || !strings.Contains(r.err, "migrate up") {
					t.Fatalf("deimos %s on a missing SQLite file: exit %d, want 2 and a hint to run migrate up\n%s", strings.Join(c.args, " "), r.code, r.all())
				}
				if files := dbFiles(t, dir); len(files) > 0 {
					t.Fatalf("deimos %s created %v", strings.Join(c.args, " "), files)
				}
			})
		}
	}
	t.Run("migrate up creates it", func(t *testing.T) {
		dir := t.TempDir()
		url := "sqlite:" + filepath.Join(dir, "new.db")
		r := run(t, dir, nil, "", "migrate", "up", "--db", url)
		if r.code != 0 || !strings.Contains(r.stdout, "created outbox/kafka_messages") {
			t.Fatalf("migrate up: exit %d\n%s", r.code, r.all())
		}
		if _, err := os.Stat(filepath.Join(dir, "new.db")); err != nil {
			t.Fatalf("migrate up did not create the file: %v", err)
		}
		if r := run(t, dir, nil, "", "outbox", "status", "--db", url); r.code != 0 {
			t.Fatalf("outbox status on the created database: exit %d\n%s", r.code, r.all())
		}
	})
}
