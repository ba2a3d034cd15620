package consume

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// The envelope names the registry schema id a key or value was decoded
// with (key_schema_id, value_schema_id, as kcat -J calls them): the id in
// the record's own Confluent header, which kcat reads back from the raw bytes.
func TestEnvelopeCarriesSchemaIDs(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		testenv.Missing(t, "kcat")
	}
	brokers := testenv.Brokers(t, 1, "widgets")
	reg := testenv.Registry(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "schemas/com/acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := os.ReadFile("../../examples/schemas/com/acme/Widget.avsc")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "schemas/com/acme/Widget.avsc"), w, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := "schema: {backend: avro_schema_registry, path: schemas}\ntopics:\n  - {name: widgets, schema: Widget, namespace: com.acme, key_config: {field: id}}\n"
	if err := os.WriteFile(filepath.Join(dir, "deimos.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"DEIMOS_BROKERS=" + strings.Join(brokers, ","), "DEIMOS_REGISTRY_URL=" + reg.URL()}
	testenv.Run(t, dir, env, `{"id":7,"name":"bolt","price":0.25}`+"\n", "produce", "-t", "widgets").OK(t, "produce")
	out := testenv.Run(t, dir, env, "", "consume", "-t", "widgets", "-e", "-q").OK(t, "consume")
	var e struct {
		KeySchemaID   int `json:"key_schema_id"`
		ValueSchemaID int `json:"value_schema_id"`
		ValueEncoding string
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &e); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// kcat's view of the same record: the raw key and value bytes
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw := func(token string) []byte {
		b, err := exec.CommandContext(ctx, "kcat", "-C", "-b", brokers[0], "-t", "widgets", "-e", "-q", "-f", token).Output()
		if err != nil || len(b) < 5 || b[0] != 0 {
			t.Fatalf("kcat %s: %v %x", token, err, b)
		}
		return b
	}
	wantKey, wantValue := int(binary.BigEndian.Uint32(raw("%k")[1:5])), int(binary.BigEndian.Uint32(raw("%s")[1:5]))
	if e.ValueSchemaID != wantValue || e.KeySchemaID != wantKey || wantKey == wantValue {
		t.Fatalf("envelope key_schema_id %d value_schema_id %d; kcat's bytes say %d and %d\n%s", e.KeySchemaID, e.ValueSchemaID, wantKey, wantValue, out)
	}
	// undecoded output names no id
	out = testenv.Run(t, dir, env, "", "consume", "-t", "widgets", "-e", "-q", "--no-decode").OK(t, "consume --no-decode")
	if bytes.Contains([]byte(out), []byte("schema_id")) {
		t.Fatalf("--no-decode envelope names a schema id: %s", out)
	}
}
