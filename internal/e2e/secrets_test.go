package e2e_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
)

// mark is inside every secret this test hands deimos; no output may hold it.
const mark = "Zq9SECRET"

// fixture is what every run shares: a broker, a broker that wants SASL, a
// registry, a registry that wants credentials deimos is never given, and a
// migrated SQLite database with a poller table row and an outbox row, so
// that each command gets as far as using the secret under test.
type fixture struct {
	db          string
	brokers     string
	saslBrokers string
	registry    string
	authReg     string // host:port
	schemas     string
	framed      string // base64 of a Confluent-framed Widget registered in registry
	deadPort    string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{schemas: repoPath("examples/schemas")}
	f.brokers = strings.Join(testenv.Brokers(t, 1, "widgets"), ",")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.AllowAutoTopicCreation(),
		kfake.Superuser("PLAIN", "admin", "right-pass"), kfake.Superuser("SCRAM-SHA-512", "admin", "right-pass"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	f.saslBrokers = strings.Join(c.ListenAddrs(), ",")
	f.registry = testenv.Registry(t).URL()
	f.authReg = strings.TrimPrefix(testenv.Registry(t, srfake.WithAuth("Basic c29tZW9uZTplbHNl")).URL(), "http://")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, f.deadPort, _ = net.SplitHostPort(l.Addr().String())
	l.Close()

	dir := t.TempDir()
	f.db = filepath.Join(dir, "app.db")
	writeConfig(t, dir, f.config(f.db, "text"))
	mustRun := func(stdin string, args ...string) result {
		t.Helper()
		r := run(t, dir, nil, stdin, args...)
		if r.code != 0 {
			t.Fatalf("fixture: deimos %s: exit %d\n%s", strings.Join(args, " "), r.code, r.all())
		}
		return r
	}
	mustRun("", "migrate", "up")
	d, err := db.Open(context.Background(), "sqlite:"+f.db)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE widgets_src (id INTEGER PRIMARY KEY, name TEXT, price REAL, updated_at DATETIME)",
		"INSERT INTO widgets_src VALUES (1, 'bolt', 0.25, '2024-01-01 00:00:00')",
	} {
		if _, err := d.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	widget := `{"id":1,"name":"bolt","price":0.25}`
	mustRun(widget, "produce", "-t", "widgets", "--backend", "outbox", "-q")
	mustRun(widget, "produce", "-t", "widgets", "-q")
	f.framed = strings.TrimSpace(mustRun(widget, "encode", "--topic", "widgets").stdout)
	return f
}

// config is a working configuration over the fixture (database at dbPath).
func (f *fixture) config(dbPath, format string) map[string]any {
	return map[string]any{
		"kafka": map[string]any{"brokers": []string{f.brokers}, "client_id": "e2e", "dial_timeout": "2s"},
		"schema": map[string]any{"backend": "avro_schema_registry", "path": f.schemas,
			"registry": map[string]any{"url": f.registry}},
		"topics":   []any{map[string]any{"name": "widgets", "schema": "Widget", "namespace": "com.acme", "key_config": map[string]any{"field": "id"}}},
		"database": map[string]any{"url": "sqlite:" + dbPath},
		"outbox":   map[string]any{"delivery_timeout": "3s"},
		"pollers": []any{map[string]any{"name": "WidgetPoller", "table": "widgets_src", "topic": "widgets",
			"timestamp_column": "updated_at", "id_column": "id", "delay": "0s", "retries": 0}},
		"log": map[string]any{"level": "debug", "format": format},
	}
}

// A setting is one secret-bearing setting: kind says which, value is the
// secret-laden value given to deimos.
type setting struct{ kind, value string }

func (s setting) sources() []string {
	switch s.kind {
	case "db", "registry":
		return []string{"flag", "env", "file"}
	}
	return []string{"env", "file"} // passwords and tokens have no flag
}

// apply puts the setting into the run's config, environment or flags.
func (s setting) apply(f *fixture, cfg map[string]any, src string) (flags, env []string) {
	reg := cfg["schema"].(map[string]any)["registry"].(map[string]any)
	kafka := cfg["kafka"].(map[string]any)
	switch s.kind {
	case "db":
		switch src {
		case "flag":
			flags = []string{"--db", s.value}
		case "env":
			env = []string{"DEIMOS_DB=" + s.value}
		default:
			cfg["database"] = map[string]any{"url": s.value}
		}
	case "registry":
		switch src {
		case "flag":
			flags = []string{"--registry", s.value}
		case "env":
			env = []string{"DEIMOS_REGISTRY_URL=" + s.value}
		default:
			reg["url"] = s.value
		}
	case "registry-password", "registry-token":
		reg["url"] = "http://" + f.authReg
		key, envName := "password", "DEIMOS_REGISTRY_PASSWORD"
		if s.kind == "registry-token" {
			key, envName = "token", "DEIMOS_REGISTRY_TOKEN"
		}
		if src == "env" {
			env = []string{"DEIMOS_REGISTRY_USERNAME=someone", envName + "=" + s.value}
		} else {
			reg["username"], reg[key] = "someone", s.value
		}
	default: // sasl-MECHANISM
		mech := strings.TrimPrefix(s.kind, "sasl-")
		kafka["brokers"] = []string{f.saslBrokers}
		if src == "env" {
			env = []string{"DEIMOS_SASL_MECHANISM=" + mech, "DEIMOS_SASL_USERNAME=admin", "DEIMOS_SASL_PASSWORD=" + s.value}
		} else {
			kafka["sasl"] = map[string]any{"mechanism": mech, "username": "admin", "password": s.value}
		}
	}
	return flags, env
}

// A command is one invocation; reached says whether the run got as far as
// using the setting under test (so a run that failed early for another
// reason cannot pass for a clean one).
type command struct {
	name    string
	args    []string
	stdin   string
	reached func(r result) bool
}

func failedOn(words ...string) func(result) bool {
	return func(r result) bool {
		if r.code == 0 {
			return false
		}
		all := strings.ToLower(r.all())
		for _, w := range words {
			if strings.Contains(all, w) {
				return true
			}
		}
		return false
	}
}

func succeededWith(s string) func(result) bool {
	return func(r result) bool { return r.code == 0 && strings.Contains(r.stdout, s) }
}

// Every command that takes a database URL, a registry URL, a registry
// password or token, or a SASL password, given secrets in every form the
// issue lists (unescaped # / ? space %zz in a URL password, libpq
// key=value, MySQL DSN, well-formed but unreachable URLs, a registry and a
// broker that reject the credentials), through a flag, the environment and
// deimos.yaml, with text and JSON logs at debug level: no byte of stdout or
// stderr may contain the secret. Each (command, source, log format) is
// covered for every kind; variants rotate over those combinations.
func TestNoCommandPrintsASecret(t *testing.T) {
	f := newFixture(t)
	widget := `{"id":1,"name":"bolt","price":0.25}`
	dead := "127.0.0.1:" + f.deadPort

	dbCmds := []command{
		{"outbox run", []string{"outbox", "run", "--once"}, "", nil},
		{"outbox status", []string{"outbox", "status"}, "", nil},
		{"poller run", []string{"poller", "run", "--once"}, "", nil},
		{"poller status", []string{"poller", "status"}, "", nil},
		{"poller reset", []string{"poller", "reset", "WidgetPoller"}, "", nil},
		{"migrate up", []string{"migrate", "up"}, "", func(r result) bool {
			return failedOn("database")(r) || succeededWith("created")(r) // sqlite:missing.db is created
		}},
		{"migrate status", []string{"migrate", "status"}, "", nil},
		{"migrate sql", []string{"migrate", "sql"}, "", succeededWith("CREATE TABLE")},
		{"migrate gen-table", []string{"migrate", "gen-table", "widgets_t", "--schema", "Widget", "--namespace", "com.acme", "--backend", "avro_local"}, "", succeededWith("CREATE TABLE")},
		{"events list", []string{"events", "list"}, "", nil},
		{"events show", []string{"events", "show", "1"}, "", nil},
		{"events retry", []string{"events", "retry", "1", "--exec", "true"}, "", nil},
		{"events delete", []string{"events", "delete", "1"}, "", nil},
		{"events serve", []string{"events", "serve", "--addr", "127.0.0.1:0"}, "", nil},
		{"consume sink", []string{"consume", "-t", "widgets", "-e", "--sink", "table:widgets_sink", "--timeout", "10s"}, "", nil},
		{"consume checkpoint", []string{"consume", "-t", "widgets", "-e", "-g", "g1", "--exec", "true", "--checkpoint", "--timeout", "10s"}, "", nil},
		{"produce outbox", []string{"produce", "-t", "widgets", "--backend", "outbox"}, widget, nil},
	}
	for i := range dbCmds {
		if dbCmds[i].reached == nil {
			dbCmds[i].reached = failedOn("database")
		}
	}
	regCmds := []command{
		{"encode", []string{"encode", "--topic", "widgets"}, widget, nil},
		{"decode", []string{"decode", "--topic", "widgets"}, f.framed + "\n", nil},
		{"produce", []string{"produce", "-t", "widgets", "--timeout", "10s"}, widget, nil},
		{"consume", []string{"consume", "-t", "widgets", "-e", "--strict", "--timeout", "10s"}, "", nil},
		// a batch that fails past its retries is logged and skipped, as in Deimos (exit 0)
		{"poller run", []string{"poller", "run", "--once"}, "", func(r result) bool {
			return strings.Contains(r.all(), "registry")
		}},
		{"schema-compat", []string{"schema-compat", "--against", "registry", "--subject", "widgets-value", filepath.Join(f.schemas, "com/acme/Widget.avsc")}, "", nil},
		{"migrate gen-table", []string{"migrate", "gen-table", "widgets_t", "--schema", "Widget", "--namespace", "com.acme"}, "", func(r result) bool {
			return succeededWith("CREATE TABLE")(r) || failedOn("registry")(r)
		}},
		{"gen-keys", []string{"gen-keys", "--schema", "Widget", "--namespace", "com.acme", "--field", "id", "--out", "keys"}, "", func(r result) bool {
			return r.code == 0 || failedOn("registry")(r)
		}},
	}
	for i := range regCmds {
		if regCmds[i].reached == nil {
			regCmds[i].reached = failedOn("registry", "schema")
		}
	}
	kafkaCmds := []command{
		{"produce", []string{"produce", "-t", "widgets", "--timeout", "10s"}, widget, nil},
		{"consume", []string{"consume", "-t", "widgets", "-e", "--timeout", "10s"}, "", nil},
		{"outbox run", []string{"outbox", "run", "--once"}, "", nil},
		{"poller run", []string{"poller", "run", "--once"}, "", nil},
	}
	for i := range kafkaCmds {
		kafkaCmds[i].reached = failedOn("sasl", "authenticat", "kafka", "broker")
	}

	groups := []struct {
		cmds     []command
		settings []setting
	}{
		{dbCmds, []setting{
			{"db", "postgres://u:p#" + mark + "@127.0.0.1:1/db"},
			{"db", "postgres://u:p/" + mark + "@127.0.0.1:1/db"},
			{"db", "postgres://u:p?" + mark + "@127.0.0.1:1/db"},
			{"db", "postgres://u:p " + mark + "@127.0.0.1:1/db"},
			{"db", "postgres://u:p%zz" + mark + "@127.0.0.1:1/db"},
			{"db", "postgres://u:123/" + mark + "@127.0.0.1:1/db"},
			{"db", "postgres://u:pw" + mark + "@" + dead + "/db?connect_timeout=2"},
			{"db", "postgres://u@" + dead + "/db?password=" + mark + "&connect_timeout=2"},
			{"db", "host=127.0.0.1 port=" + f.deadPort + " password=" + mark + " dbname=app"},
			{"db", "host=127.0.0.1 password='a " + mark + " b' dbname=app"},
			{"db", "u:" + mark + "@tcp(" + dead + ")/app"},
			{"db", "mysql://u:p#" + mark + "@" + dead + "/app"},
			{"db", "sqlite:missing.db?_auth_user=a&_auth_pass=" + mark},
		}},
		{regCmds, []setting{
			{"registry", "http://u:p/" + mark + "@127.0.0.1:1"},
			{"registry", "http://u:p#" + mark + "@127.0.0.1:1"},
			{"registry", "http://u:p " + mark + "@127.0.0.1:1"},
			{"registry", "http://u:p%zz" + mark + "@127.0.0.1:1"},
			{"registry", "http://u:123/" + mark + "@127.0.0.1:1"},
			{"registry", "http://someone:pw" + mark + "@" + f.authReg},
			{"registry", "http://someone:pw" + mark + "@" + dead},
			{"registry-password", "pw-" + mark},
			{"registry-password", "p a/s#s?" + mark},
			{"registry-token", "tok-" + mark},
		}},
		{kafkaCmds, []setting{
			{"sasl-PLAIN", "pw-" + mark},
			{"sasl-SCRAM-SHA-512", "p a/s#s " + mark},
		}},
	}
	for _, g := range groups {
		perKind := map[string]int{}
		for _, s := range g.settings {
			perKind[s.kind]++
		}
		for ci, c := range g.cmds {
			nth := map[string]int{}
			for vi, s := range g.settings {
				k := nth[s.kind]
				nth[s.kind]++
				var combos [][2]string
				for _, src := range s.sources() {
					for _, format := range []string{"text", "json"} {
						combos = append(combos, [2]string{src, format})
					}
				}
				if perKind[s.kind] >= len(combos) {
					// as many variants as combinations: each variant takes
					// one, shifted per command, so every command sees all
					combos = [][2]string{combos[(k+ci)%len(combos)]}
				}
				for _, cb := range combos {
					s, c, src, format := s, c, cb[0], cb[1]
					t.Run(fmt.Sprintf("%s/%s/%s/%s/%d", s.kind, c.name, src, format, vi), func(t *testing.T) {
						t.Parallel()
						dir := t.TempDir()
						dbPath := filepath.Join(dir, "app.db")
						copyFile(t, f.db, dbPath)
						cfg := f.config(dbPath, format)
						flags, env := s.apply(f, cfg, src)
						writeConfig(t, dir, cfg)
						r := run(t, dir, env, c.stdin, append(flags, c.args...)...)
						if strings.Contains(r.all(), mark) {
							t.Fatalf("deimos %s with %s %q (%s, %s logs) printed the secret:\n%s", strings.Join(c.args, " "), s.kind, s.value, src, format, r.all())
						}
						if !c.reached(r) {
							t.Fatalf("deimos %s with %s %q (%s): did not get as far as using it (exit %d):\n%s", strings.Join(c.args, " "), s.kind, s.value, src, r.code, r.all())
						}
					})
				}
			}
		}
	}
}

// `deimos dev` takes no secret, but must not print one it finds in the
// environment or deimos.yaml either.
func TestDevPrintsNoSecret(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			writeConfig(t, dir, map[string]any{
				"kafka":    map[string]any{"sasl": map[string]any{"mechanism": "PLAIN", "username": "u", "password": "pw-" + mark}},
				"schema":   map[string]any{"registry": map[string]any{"url": "http://u:p/" + mark + "@127.0.0.1:1", "token": "tok-" + mark}},
				"database": map[string]any{"url": "postgres://u:p#" + mark + "@h/db"},
				"log":      map[string]any{"level": "debug", "format": format},
			})
			env := []string{"DEIMOS_DB=host=h password=" + mark, "DEIMOS_SASL_PASSWORD=" + mark, "DEIMOS_REGISTRY_TOKEN=" + mark}
			r := runUntil(t, dir, env, "export", "dev", "--kafka-port", "0", "--registry-port", "0")
			if strings.Contains(r.all(), mark) {
				t.Fatalf("deimos dev printed the secret:\n%s", r.all())
			}
			if !strings.Contains(r.all(), "DEIMOS_BROKERS=") {
				t.Fatalf("deimos dev did not start:\n%s", r.all())
			}
		})
	}
}
