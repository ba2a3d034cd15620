package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/pkg/errs"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "deimos.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFull(t *testing.T) {
	p := writeFile(t, `
kafka:
  brokers: [a:9092, b:9092]
  sasl: {mechanism: SCRAM-SHA-512, username: u, password: "${KPASS}"}
schema:
  backend: avro_schema_registry
  registry: {url: "http://reg:8081"}
producers: {topic_prefix: "dev."}
topics:
  - {name: widgets, schema: Widget, namespace: com.acme, key_config: {field: id}}
outbox: {compact_topics: all}
pollers:
  - {name: p1, table: widgets, topic: widgets, run_every: 30, delay: 2s}
`)
	cfg, err := Load(LoadOptions{Path: p, Getenv: env(map[string]string{"KPASS": "s3cr$t", "DEIMOS_BROKERS": "env:1"}),
		Overrides: Overrides{DB: "postgres://x"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Kafka.SASL.Password; got != "s3cr$t" {
		t.Errorf("password = %q", got)
	}
	if got := strings.Join(cfg.Kafka.Brokers, ","); got != "env:1" {
		t.Errorf("env must override file brokers, got %q", got)
	}
	if cfg.Database.URL != "postgres://x" {
		t.Errorf("flag must win: %q", cfg.Database.URL)
	}
	if !cfg.Outbox.CompactTopics.All || cfg.Outbox.BatchSize != 1000 {
		t.Errorf("outbox = %+v", cfg.Outbox)
	}
	if cfg.Pollers[0].RunEvery.D() != 30*time.Second || cfg.Pollers[0].Delay.D() != 2*time.Second {
		t.Errorf("poller durations = %+v", cfg.Pollers[0])
	}
	tp, ok := cfg.TopicByName("dev.widgets")
	if !ok || tp.KeyConfig.Mode() != "field" {
		t.Errorf("topic lookup = %+v %v", tp, ok)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"unknown top key", "kafka: {}\nbogus: 1\n", `line 2: unknown key "bogus" at top level`},
		{"unknown nested key", "kafka:\n  brokers: [a]\n  sasl:\n    mech: PLAIN\n", `line 4: unknown key "mech" in kafka.sasl`},
		{"unknown in list", "topics:\n  - name: t\n    schemaa: X\n", `line 3: unknown key "schemaa" in topics[0]`},
		{"missing env", "database:\n  url: ${NOPE}\n", "line 2: environment variable NOPE is not set"},
		{"bad backend", "schema: {backend: avro}\n", `unknown backend "avro"`},
		{"bad duration", "pollers:\n  - {name: a, run_every: soon}\n", `invalid duration "soon"`},
		{"bad yaml", "kafka: [\n", "deimos.yaml"},
		{"negative partitions", "topics:\n  - {name: t, partitions: -3}\n", "topics[0] (t): partitions -3"},
		{"negative replication", "topics:\n  - {name: t, replication_factor: -1}\n", "topics[0] (t): replication_factor -1"},
		{"configs not a map", "topics:\n  - {name: t, configs: [a]}\n", "line 2: cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(LoadOptions{Path: writeFile(t, tt.body), Getenv: env(nil)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if errs.ExitCode(err) != errs.CodeUsage {
				t.Fatalf("exit code = %d, want 2", errs.ExitCode(err))
			}
		})
	}
}

func TestDefaultsWithoutFile(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	os.Chdir(dir)
	cfg, err := Load(LoadOptions{Getenv: env(map[string]string{"DEIMOS_DB": "sqlite:x.db"})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kafka.Brokers[0] != "localhost:9092" || cfg.Kafka.Partitioner != "crc32" || cfg.Database.URL != "sqlite:x.db" {
		t.Fatalf("defaults = %+v", cfg)
	}
	if _, err := Load(LoadOptions{Path: "missing.yaml", Getenv: env(nil)}); errs.ExitCode(err) != errs.CodeUsage {
		t.Fatalf("an explicit missing file must be a usage error, got %v", err)
	}
}

func TestExpandDefaultsAndTypes(t *testing.T) {
	p := writeFile(t, "outbox:\n  workers: ${W:-4}\nschema:\n  registry: {password: 'a$b'}\n")
	cfg, err := Load(LoadOptions{Path: p, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Outbox.Workers != 4 || cfg.Schema.Registry.Password != "a$b" {
		t.Fatalf("got %+v / %q", cfg.Outbox, cfg.Schema.Registry.Password)
	}
}

func TestParseKeyConfig(t *testing.T) {
	for in, want := range map[string]KeyConfig{
		"none": {None: true}, "plain": {Plain: true}, "field:id": {Field: "id"},
		"schema:WidgetKey": {Schema: "WidgetKey"}, "schema:long": {Schema: "long"},
	} {
		got, err := ParseKeyConfig(in)
		if err != nil || got != want {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	if p := (KeyConfig{Schema: "string"}).Primitive(); p != "string" {
		t.Errorf("schema string: primitive %q", p)
	}
	if p := (KeyConfig{Schema: "com.acme.long"}).Primitive(); p != "" {
		t.Errorf("a named schema is not a primitive: %q", p)
	}
	for _, bad := range []string{"schema:null", "schema:", "field", "hash"} {
		if _, err := ParseKeyConfig(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
