package encode

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// key_config schema: <Avro primitive> writes the bare key with that schema,
// registered as the quoted type name under the key subject (prefixed or not,
// per schema.key_subject), and decodes back; never looks for string.avsc.
func TestPrimitiveKeySchemas(t *testing.T) {
	ctx := context.Background()
	for _, ks := range []string{"prefixed", "unprefixed"} {
		cl := registryClient(t)
		cfg := testCfg()
		cfg.Schema.KeySubject = ks
		cfg.Producers.TopicPrefix = "pre."
		e := newTestEngine(t, cfg, cl)
		subject := map[string]string{"prefixed": "pre.w-key", "unprefixed": "w-key"}[ks]
		for _, c := range []struct {
			prim string
			key  any
			body []byte // Avro binary after the 5-byte header
		}{
			{"string", "abc", []byte{6, 'a', 'b', 'c'}},
			{"long", "42", []byte{84}}, // -k gives text: coerced to the schema's type
			{"long", int64(-3), []byte{5}},
			{"int", 7, []byte{14}},
			{"boolean", true, []byte{1}},
			{"double", 1.5, []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x3f}},
			{"bytes", "\x01\x02", []byte{4, 1, 2}},
		} {
			s := Spec{Topic: "w", Backend: "avro_schema_registry", Schema: "Simple", Namespace: "com.acme",
				KeyConfig: config.KeyConfig{Schema: c.prim}}
			out := enc(t, e, s, Message{Value: []byte(`{"test_id":"x","some_int":1}`), Key: c.key})
			if len(out.Key) < 5 || out.Key[0] != 0 || !bytes.Equal(out.Key[5:], c.body) {
				t.Fatalf("%s/%s key %v: % x, want 00 <id> % x", ks, c.prim, c.key, out.Key, c.body)
			}
			ss, err := cl.LookupSchema(ctx, subject, sr.Schema{Schema: `"` + c.prim + `"`, Type: sr.TypeAvro})
			if err != nil || ss.ID != out.KeySchemaID {
				t.Fatalf("%s/%s: %q not registered under %s with id %d: %v %+v", ks, c.prim, c.prim, subject, out.KeySchemaID, err, ss)
			}
			d := dec(t, e, s, out.Key, out.Value)
			if d.KeyFormat.SchemaID != out.KeySchemaID || d.KeyFormat.Subject != subject {
				t.Fatalf("%s/%s key format %+v", ks, c.prim, d.KeyFormat)
			}
		}
	}
	e := newTestEngine(t, nil, nil)
	s := Spec{Backend: "avro_validation", Schema: "Simple", Namespace: "com.acme", KeyConfig: config.KeyConfig{Schema: "long"}}
	out := enc(t, e, s, Message{Value: []byte(`{"test_id":"x","some_int":1}`), Key: "12"})
	if string(out.Key) != "12" {
		t.Fatalf("avro_validation long key %q", out.Key)
	}
	if _, err := e.Encode(ctx, s, Message{Value: []byte(`{"test_id":"x","some_int":1}`), Key: "twelve"}); err == nil {
		t.Fatal("a key that is not a long must fail")
	}
	if _, err := New(Options{Config: &config.Config{Topics: []config.Topic{{Name: "t", KeyConfig: config.KeyConfig{Schema: "null"}}}}}); err == nil {
		t.Fatal("key_config schema: null must be refused")
	}
	// the protobuf and JSON Schema backends do not write Avro primitive keys:
	// a usage error, not a missing message or schema file
	ps := Spec{Backend: "proto_local", Schema: "com.acme.Gadget", KeyConfig: config.KeyConfig{Schema: "string"}}
	pe := newTestEngine(t, &config.Config{Schema: config.Schema{Path: "../../testdata/protos"}}, nil)
	_, err := pe.Encode(ctx, ps, Message{Value: []byte(`{"id":"g"}`), Key: "k"})
	if errs.KindOf(err) != errs.KindUsage || !strings.Contains(err.Error(), "Avro primitive key") {
		t.Fatalf("proto_local with key_config schema: string: %v", err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "com", "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "com", "acme", "Order.json"), []byte(`{"type":"object"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	je := newTestEngine(t, &config.Config{Schema: config.Schema{Path: dir}}, nil)
	js := Spec{Backend: "json_schema_local", Schema: "Order", Namespace: "com.acme", KeyConfig: config.KeyConfig{Schema: "long"}}
	_, err = je.Encode(ctx, js, Message{Value: []byte(`{"order_id":"o"}`), Key: "1"})
	if errs.KindOf(err) != errs.KindUsage || !strings.Contains(err.Error(), "Avro primitive key") {
		t.Fatalf("json_schema_local with key_config schema: long: %v", err)
	}
}
