package poller_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
)

// A poller on a topic with backend json_schema_registry publishes each row
// validated against the JSON Schema and Confluent-framed; Confluent's own
// JsonDeserializer (@confluentinc/schemaregistry) reads the records.
func TestPollerJSONSchemaRegistry(t *testing.T) {
	bin := testenv.Binary(t)
	dir := t.TempDir()
	url := "sqlite:" + filepath.Join(dir, "t.db")
	ctx := context.Background()
	d, err := db.OpenOrCreate(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := migrate.Up(ctx, d, []string{"poller"}); err != nil {
		t.Fatal(err)
	}
	mustExec(t, d.DB, `CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT, updated_at DATETIME)`)
	mustExec(t, d.DB, `INSERT INTO widgets VALUES (1, 'a', '2024-01-01 00:00:00'), (2, 'b', '2024-01-01 00:00:01')`)
	schemas := filepath.Join(dir, "schemas")
	if err := os.MkdirAll(schemas, 0o755); err != nil {
		t.Fatal(err)
	}
	schema := `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
"properties":{"id":{"type":"integer"},"name":{"type":"string"},"updated_at":{"type":"string","format":"date-time"}},
"required":["id","name"],"additionalProperties":false}`
	if err := os.WriteFile(filepath.Join(schemas, "Widget.json"), []byte(schema), 0o644); err != nil {
		t.Fatal(err)
	}
	brokers := testenv.Brokers(t, 1, "widgets")
	reg := testenv.Registry(t)
	cfgPath := filepath.Join(dir, "deimos.yaml")
	cfg := fmt.Sprintf(`kafka: {brokers: [%s]}
database: {url: "%s"}
schema: {path: %s, registry: {url: %s}}
topics:
  - {name: widgets, backend: json_schema_registry, schema: Widget, key_config: {field: id}}
pollers:
  - {name: P, table: widgets, topic: widgets, delay: 0}
`, brokers[0], url, schemas, reg.URL())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--config", cfgPath}, args...)...)
		cmd.Env = append(os.Environ(), "DEIMOS_CONFIG=")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errb.String())
		}
		return out.Bytes()
	}
	run("poller", "run", "--once")
	var raw []string
	for _, l := range strings.Split(strings.TrimSpace(string(run("consume", "-t", "widgets", "-e", "--no-decode"))), "\n") {
		var e struct {
			Value string `json:"value"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("envelope %q: %v", l, err)
		}
		raw = append(raw, e.Value)
	}
	out := testenv.Node(t, `require("./jsonserde.js").main(process.argv.slice(1))`, []byte(strings.Join(raw, "\n")), "deserialize", reg.URL(), "widgets")
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	sort.Strings(got)
	want := []string{`{"id":1,"name":"a","updated_at":"2024-01-01T00:00:00Z"}`, `{"id":2,"name":"b","updated_at":"2024-01-01T00:00:01Z"}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Confluent's deserializer read\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
