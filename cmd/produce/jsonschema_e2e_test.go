package produce_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// A closed draft-07 schema, as Confluent's serializers are usually given.
const widgetJSONSchema = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "Widget",
  "type": "object",
  "properties": {
    "id": {"type": "integer"},
    "name": {"type": "string", "maxLength": 20},
    "price": {"type": ["number", "null"]},
    "tags": {"type": "array", "items": {"type": "string"}}
  },
  "required": ["id", "name"],
  "additionalProperties": false
}`

// Keys deliberately out of sorted order: both sides keep an object's order.
var widgetDocs = []string{
	`{"id":1,"name":"a","price":1.5,"tags":["x","y"]}`,
	`{"name":"b","id":2,"price":null}`,
	`{"tags":[],"id":3,"name":"ünï"}`,
}

// oracle runs Confluent's JSON serdes (testdata/oracle/jsonserde.js).
func oracle(t *testing.T, stdin string, args ...string) []string {
	t.Helper()
	out := testenv.Node(t, `require("./jsonserde.js").main(process.argv.slice(1))`, []byte(stdin), args...)
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// sameJSON compares documents as values.
func sameJSON(t *testing.T, got, want string) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal([]byte(got), &a); err != nil {
		t.Fatalf("not JSON: %q", got)
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatalf("not JSON: %q", want)
	}
	return reflect.DeepEqual(a, b)
}

func jsonSchemaSetup(t *testing.T) (env []string, brokers, regURL, schemaFile string) {
	t.Helper()
	addrs := testenv.Brokers(t, 2, "jsr", "jsfromjs", "jsloc")
	reg := testenv.Registry(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "com", "acme")
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	schemaFile = filepath.Join(p, "Widget.json")
	if err := os.WriteFile(schemaFile, []byte(widgetJSONSchema), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "deimos.yaml")
	body := fmt.Sprintf(`kafka: {brokers: [%s]}
schema: {path: %s, registry: {url: %s}}
topics:
  - {name: jsr, backend: json_schema_registry, schema: com.acme.Widget, key_config: {field: id}}
  - {name: jsfromjs, backend: json_schema_registry, schema: com.acme.Widget, key_config: {none: true}}
  - {name: jsloc, backend: json_schema_local, schema: com.acme.Widget, key_config: {field: id}}
`, addrs[0], dir, reg.URL())
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"DEIMOS_CONFIG=" + cfg}, addrs[0], reg.URL(), schemaFile
}

// Confluent's JsonDeserializer reads what deimos encode and deimos produce
// write with json_schema_registry; deimos decode and consume read what
// Confluent's JsonSerializer writes. Both sides validate against the schema.
func TestJSONSchemaConfluentSerdesInterop(t *testing.T) {
	e, _, regURL, schemaFile := jsonSchemaSetup(t)
	in := strings.Join(widgetDocs, "\n") + "\n"

	// deimos encode -> Confluent's deserializer
	enc := strings.Split(strings.TrimSpace(ok(t, run(t, e, in, "encode", "-t", "jsr"), "encode")), "\n")
	if len(enc) != len(widgetDocs) {
		t.Fatalf("encode wrote %d lines", len(enc))
	}
	for i, l := range enc {
		b, _ := base64.StdEncoding.DecodeString(l)
		if len(b) < 6 || b[0] != 0 || string(b[5:]) != widgetDocs[i] {
			t.Fatalf("encode line %d: % x, want 0x00 + id + %s", i, b, widgetDocs[i])
		}
	}
	got := oracle(t, strings.Join(enc, "\n"), "deserialize", regURL, "jsr")
	for i, g := range got {
		if !sameJSON(t, g, widgetDocs[i]) {
			t.Errorf("Confluent's deserializer read %q, want %s", g, widgetDocs[i])
		}
	}

	// deimos produce -> Kafka -> raw bytes -> Confluent's deserializer
	ok(t, run(t, e, in, "produce", "-t", "jsr"), "produce")
	var raw []string
	for _, r := range parse(t, ok(t, run(t, e, "", "consume", "-t", "jsr", "-e", "--no-decode"), "consume raw")) {
		var s string
		if err := json.Unmarshal(r.Value, &s); err != nil || r.ValueEncoding != "base64" {
			t.Fatalf("raw value %s (%s)", r.Value, r.ValueEncoding)
		}
		raw = append(raw, s)
	}
	got = oracle(t, strings.Join(raw, "\n"), "deserialize", regURL, "jsr")
	if len(got) != len(widgetDocs) {
		t.Fatalf("oracle read %d of %d", len(got), len(widgetDocs))
	}
	sort.Strings(got) // partitions are read concurrently
	for _, g := range got {
		found := false
		for _, w := range widgetDocs {
			found = found || sameJSON(t, g, w)
		}
		if !found {
			t.Errorf("Confluent's deserializer read %q from Kafka, not one of the produced documents", g)
		}
	}
	// the key is framed JSON Schema too, registered under jsr-key
	for _, r := range parse(t, ok(t, run(t, e, "", "consume", "-t", "jsr", "-e"), "consume")) {
		if r.Error != "" || r.ValueEncoding != "json" || (string(r.Key) != "1" && string(r.Key) != "2" && string(r.Key) != "3") {
			t.Fatalf("consume decoded %+v", r)
		}
	}

	// Confluent's serializer -> deimos decode
	ser := oracle(t, in, "serialize", regURL, "jsfromjs", schemaFile)
	// ... and the bytes after the header are the same as deimos's
	for i, l := range ser {
		js, _ := base64.StdEncoding.DecodeString(l)
		dm, _ := base64.StdEncoding.DecodeString(enc[i])
		if len(js) < 5 || len(dm) < 5 || js[0] != 0 || string(js[5:]) != string(dm[5:]) {
			t.Errorf("Confluent's serializer wrote % x\ndeimos wrote % x", js, dm)
		}
	}
	dec := ok(t, run(t, e, strings.Join(ser, "\n")+"\n", "decode", "--backend", "json_schema_registry"), "decode")
	for i, l := range strings.Split(strings.TrimSpace(dec), "\n") {
		if !sameJSON(t, l, widgetDocs[i]) {
			t.Errorf("deimos decoded %s, want %s", l, widgetDocs[i])
		}
	}
	// ... and through Kafka: envelopes with the serializer's bytes, consumed
	// by the configured json_schema_registry topic
	var envs []string
	for _, s := range ser {
		envs = append(envs, fmt.Sprintf(`{"value":%q,"value_encoding":"base64"}`, s))
	}
	ok(t, run(t, e, strings.Join(envs, "\n")+"\n", "produce", "-t", "jsfromjs"), "produce envelopes")
	recs := parse(t, ok(t, run(t, e, "", "consume", "-t", "jsfromjs", "-e"), "consume jsfromjs"))
	if len(recs) != len(widgetDocs) {
		t.Fatalf("consumed %d", len(recs))
	}
	for _, r := range recs {
		found := false
		for _, w := range widgetDocs {
			found = found || (r.ValueEncoding == "json" && sameJSON(t, string(r.Value), w))
		}
		if r.Error != "" || !found {
			t.Errorf("consumed %+v", r)
		}
	}

	// bare JSON (what --backend json writes) is refused by Confluent's
	// deserializer, and deimos refuses to write it when asked for framing
	bare := base64.StdEncoding.EncodeToString([]byte(widgetDocs[0]))
	if got := oracle(t, bare, "deserialize", regURL, "jsr"); !strings.HasPrefix(got[0], "ERROR") {
		t.Fatalf("oracle accepted bare JSON: %q", got)
	}
	r := run(t, e, widgetDocs[0], "encode", "--backend", "json", "--wire", "confluent")
	if r.code != 2 || !strings.Contains(r.err, "--backend json") || !strings.Contains(r.err, "--wire confluent") || r.out != "" {
		t.Fatalf("--backend json --wire confluent: exit %d, stdout %q, stderr %s", r.code, r.out, r.err)
	}
	// a schema given to a backend without one would be ignored: refused too
	for _, args := range [][]string{
		{"encode", "--backend", "json", "--schema", "com.acme.Widget"},
		{"produce", "-t", "jsr", "--schema-backend", "json", "--schema", "com.acme.Widget"},
	} {
		r := run(t, e, widgetDocs[0], args...)
		if r.code != 2 || !strings.Contains(r.err, "--schema com.acme.Widget") || !strings.Contains(r.err, "json_schema_local") {
			t.Fatalf("%v: exit %d, stderr %s", args, r.code, r.err)
		}
	}
}

// A schema that refers to another file is registered with it as a
// reference, as Confluent's clients register them; Confluent's deserializer
// resolves the reference from the registry and reads the data.
func TestJSONSchemaReferencesInterop(t *testing.T) {
	e, _, regURL, schemaFile := jsonSchemaSetup(t)
	dir := filepath.Dir(schemaFile)
	if err := os.WriteFile(filepath.Join(dir, "Addr.json"), []byte(`{"type":"object","properties":{"zip":{"type":"string","pattern":"^[0-9]{5}$"}},"required":["zip"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Home.json"), []byte(`{"type":"object","properties":{"owner":{"type":"string"},"addr":{"$ref":"Addr.json"}},"required":["addr"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	docs := []string{`{"owner":"x","addr":{"zip":"12345"}}`, `{"addr":{"zip":"00000"}}`}
	out := ok(t, run(t, e, strings.Join(docs, "\n")+"\n", "encode", "--backend", "json_schema_registry", "--schema", "com.acme.Home", "--topic", "homes"), "encode")
	got := oracle(t, out, "deserialize", regURL, "homes")
	for i, g := range got {
		if !sameJSON(t, g, docs[i]) {
			t.Errorf("Confluent's deserializer read %q, want %s", g, docs[i])
		}
	}
	// the referenced schema still validates: a bad zip is refused at encode
	r := run(t, e, `{"addr":{"zip":"1"}}`, "encode", "--backend", "json_schema_registry", "--schema", "com.acme.Home", "--topic", "homes")
	if r.code != 1 || !strings.Contains(r.err, "addr.zip") {
		t.Fatalf("bad zip: exit %d %s", r.code, r.err)
	}
}

// A document the schema refuses is an error naming the line and the field,
// at encode, produce and (against the writer's schema) decode.
func TestJSONSchemaValidationErrors(t *testing.T) {
	e, _, regURL, _ := jsonSchemaSetup(t)
	tests := []struct{ doc, want string }{
		{`{"id":"7","name":"a"}`, `id: expected integer, found "7"`},
		{`{"id":7}`, "name: expected a value (the property is required)"},
		{`{"id":7,"name":"a","colour":"red"}`, "colour: expected no property colour"},
		{`{"id":7,"name":"a","tags":["x",3]}`, "tags[1]: expected string, found 3"},
		{`{"id":7,"name":"aaaaaaaaaaaaaaaaaaaaaaaaa"}`, "name: expected a value the schema allows"},
	}
	for _, tt := range tests {
		for _, cmd := range [][]string{{"encode", "-t", "jsr"}, {"produce", "-t", "jsr"}, {"encode", "-t", "jsloc"}} {
			r := run(t, e, widgetDocs[0]+"\n"+tt.doc+"\n", cmd...)
			if r.code != 1 || !strings.Contains(r.err, "line 2") || !strings.Contains(r.err, tt.want) {
				t.Errorf("%v %s: exit %d, stderr %s (want line 2: %s)", cmd, tt.doc, r.code, r.err, tt.want)
			}
		}
	}
	// Confluent's serializer also refuses the first of them
	ser := testenv.Node(t, `require("./jsonserde.js").main(process.argv.slice(1))`, []byte(widgetDocs[0]+"\n"), "serialize", regURL, "jsbad", writeTemp(t, widgetJSONSchema))
	framed, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(ser)))
	// data that does not fit the writer's schema is refused on decode
	bad := append(append([]byte(nil), framed[:5]...), []byte(tests[0].doc)...)
	r := run(t, e, base64.StdEncoding.EncodeToString(bad)+"\n", "decode", "--backend", "json_schema_registry")
	if r.code != 1 || !strings.Contains(r.err, `id: expected integer, found "7"`) {
		t.Fatalf("decode of invalid data: exit %d %s", r.code, r.err)
	}
	if got := oracle(t, base64.StdEncoding.EncodeToString(bad), "deserialize", regURL, "jsbad"); !strings.HasPrefix(got[0], "ERROR") {
		t.Fatalf("oracle accepted invalid data: %q", got)
	}
	// without a backend, decode detects the framing and does not validate
	r = run(t, e, base64.StdEncoding.EncodeToString(bad)+"\n", "decode")
	if r.code != 0 || !strings.Contains(r.out, `"id":"7"`) {
		t.Fatalf("detected decode: exit %d %s %s", r.code, r.out, r.err)
	}
}

func writeTemp(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
