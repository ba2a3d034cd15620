package encode

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/config"
)

func enc(t *testing.T, e *Engine, s Spec, m Message) Encoded {
	t.Helper()
	out, err := e.Encode(context.Background(), s, m)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return out
}

func dec(t *testing.T, e *Engine, s Spec, k, v []byte) Decoded {
	t.Helper()
	d, err := e.Decode(context.Background(), s, k, v)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return d
}

func field(t *testing.T, raw json.RawMessage, name string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return m[name]
}

func TestCoercionRoundTrip(t *testing.T) {
	e := newTestEngine(t, nil, nil)
	s := Spec{Backend: "avro_local", Schema: "Widget", Namespace: "com.acme"}
	tests := []struct {
		name, in, field string
		want            any
	}{
		{"bool string", `{"id":1,"name":"a","price":1,"active":"false"}`, "active", false},
		{"long from string", `{"id":"42","name":"a","price":1}`, "id", 42.0},
		{"double from string", `{"id":1,"name":"a","price":"2.5"}`, "price", 2.5},
		{"string from number", `{"id":1,"name":12,"price":1}`, "name", "12"},
		{"extra keys dropped", `{"id":1,"name":"a","price":1,"bogus":true}`, "bogus", nil},
		{"enum in union", `{"id":1,"name":"a","price":1,"color":"RED"}`, "color", "RED"},
		{"decimal", `{"id":1,"name":"a","price":1,"amount":"12.30"}`, "amount", "12.30"},
		{"decimal negative", `{"id":1,"name":"a","price":1,"amount":"-0.05"}`, "amount", "-0.05"},
		{"decimal number", `{"id":1,"name":"a","price":1,"amount":7.5}`, "amount", "7.50"},
		{"date", `{"id":1,"name":"a","price":1,"made_on":"2024-02-29"}`, "made_on", "2024-02-29"},
		{"timestamp rfc3339", `{"id":1,"name":"a","price":1,"updated_at":"2024-05-06T07:08:09.123+02:00"}`, "updated_at", "2024-05-06T05:08:09.123Z"},
		{"timestamp epoch", `{"id":1,"name":"a","price":1,"updated_at":1714979289000}`, "updated_at", "2024-05-06T07:08:09Z"},
		{"uuid", `{"id":1,"name":"a","price":1,"ref":"0B6E1F7A-2F4B-4C11-9F3E-0D7A3B6C5E21"}`, "ref", "0B6E1F7A-2F4B-4C11-9F3E-0D7A3B6C5E21"},
		{"default", `{"id":1,"name":"a","price":1}`, "active", true},
		{"nested record default", `{"id":1,"name":"a","price":1,"dimensions":{"width":1.5,"height":"2"}}`, "dimensions",
			map[string]any{"width": 1.5, "height": 2.0, "unit": "cm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := enc(t, e, s, Message{Value: []byte(tt.in)})
			if !bytes.HasPrefix(out.Value, ocfMagic) {
				t.Fatalf("avro_local must write a container file, got % x", out.Value[:4])
			}
			d := dec(t, e, Spec{}, nil, out.Value)
			got := field(t, d.Value, tt.field)
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tt.want)
			if string(gj) != string(wj) {
				t.Fatalf("%s = %s, want %s (all: %s)", tt.field, gj, wj, d.Value)
			}
		})
	}
}

func TestUnionBranchChoice(t *testing.T) {
	e := newTestEngine(t, nil, nil)
	s := Spec{Backend: "avro_local", Schema: "Event", Namespace: "com.acme", Wire: "raw"}
	base := `"event_id":"e","message_id":"m","timestamp":"t","at":0`
	for _, tt := range []struct{ in, want string }{
		{`5`, `5`},           // int branch
		{`"5"`, `5`},         // int string: int branch (v2 rule: first match)
		{`"five"`, `"five"`}, // string branch
		{`null`, `null`},
	} {
		out := enc(t, e, s, Message{Value: []byte(`{` + base + `,"count":` + tt.in + `}`)})
		d := dec(t, e, s, nil, out.Value)
		if !strings.HasSuffix(string(d.Value), `"count":`+tt.want+`}`) {
			t.Errorf("count %s -> %s", tt.in, d.Value)
		}
	}
}

func TestAutoFill(t *testing.T) {
	e := newTestEngine(t, nil, nil)
	s := Spec{Backend: "avro_validation", Schema: "Event", Namespace: "com.acme"}
	out := enc(t, e, s, Message{Value: []byte(`{"event_id":"e","message_id":"","at":"2024-01-01T00:00:00Z"}`)})
	want := `{"event_id":"e","message_id":"0b6e1f7a-2f4b-4c11-9f3e-0d7a3b6c5e21","timestamp":"2024-05-06 07:08:09 UTC","at":"2024-01-01T00:00:00Z","count":null}`
	if string(out.Value) != want {
		t.Fatalf("got  %s\nwant %s", out.Value, want)
	}
	// given values are kept
	out = enc(t, e, s, Message{Value: []byte(`{"event_id":"e","message_id":"x","timestamp":"y","at":0}`)})
	if field(t, out.Value, "message_id") != "x" || field(t, out.Value, "timestamp") != "y" {
		t.Fatalf("kept: %s", out.Value)
	}
	if got := TimestampString(time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("EST", -5*3600))); got != "2024-01-02 03:04:05 -0500" {
		t.Fatalf("TimestampString = %q", got)
	}
	// a real default UUID generator gives lowercase v4
	e2, _ := New(Options{Config: testCfg()})
	out = enc(t, e2, s, Message{Value: []byte(`{"event_id":"e","at":0}`)})
	id, _ := field(t, out.Value, "message_id").(string)
	if len(id) != 36 || id != strings.ToLower(id) || id[14] != '4' {
		t.Fatalf("message_id %q", id)
	}
}

func TestKeysAndTombstones(t *testing.T) {
	cl := registryClient(t)
	cfg := testCfg()
	cfg.Producers.TopicPrefix = "dev."
	e := newTestEngine(t, cfg, cl)
	ctx := context.Background()
	fieldSpec := Spec{Topic: "widgets", Backend: "avro_schema_registry", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "id"}}
	out := enc(t, e, fieldSpec, Message{Value: []byte(`{"id":7,"name":"a","price":1}`)})
	if out.Topic != "dev.widgets" || string(out.PartitionKey) != "7" || out.KeySchemaID == 0 {
		t.Fatalf("encoded %+v", out)
	}
	// the key is <Schema>_key in the value namespace under <prefix><topic>-key
	ks, err := cl.SchemaByVersion(ctx, "dev.widgets-key", -1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ks.Schema.Schema, `"name":"Widget_key","namespace":"com.acme","doc":"Key for com.acme.Widget - autogenerated by Deimos"`) {
		t.Fatalf("key schema %s", ks.Schema.Schema)
	}
	if _, err := cl.SchemaByVersion(ctx, "dev.widgets-value", -1); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Key, append(ConfluentFrame(out.KeySchemaID, nil, nil), 14)) { // long 7 zigzag = 14
		t.Fatalf("key bytes % x", out.Key)
	}
	d := dec(t, e, fieldSpec, out.Key, out.Value)
	if string(d.Key) != "7" {
		t.Fatalf("field key must unwrap, got %s", d.Key)
	}
	d = dec(t, newTestEngine(t, cfg, cl), Spec{}, out.Key, out.Value)
	if string(d.Key) != "7" {
		t.Fatalf("zero-spec field key must unwrap, got %s", d.Key)
	}
	// payload_key alone: a tombstone with a key
	out = enc(t, e, fieldSpec, Message{Value: []byte(`{"payload_key":9}`)})
	if out.Value != nil || out.Key == nil || string(out.PartitionKey) != "9" {
		t.Fatalf("tombstone %+v", out)
	}
	if _, err := e.Encode(ctx, fieldSpec, Message{Value: nil}); err == nil || !strings.Contains(err.Error(), "no key given") {
		t.Fatalf("a tombstone without a key must fail: %v", err)
	}
	// unprefixed key subject (Deimos 2.x)
	cfg2 := testCfg()
	cfg2.Producers.TopicPrefix = "dev."
	cfg2.Schema.KeySubject = "unprefixed"
	e2 := newTestEngine(t, cfg2, cl)
	if got := e2.KeySubject(fieldSpec); got != "widgets-key" {
		t.Fatalf("KeySubject = %s", got)
	}
	// plain key, explicit partition key, map key to JSON
	pk := "p"
	plain := Spec{Backend: "json", KeyConfig: config.KeyConfig{Plain: true}}
	out = enc(t, e, plain, Message{Value: []byte(`{"a":1}`), Key: map[string]any{"b": 1, "a": "x"}, PartitionKey: &pk})
	if string(out.Key) != `{"a":"x","b":1}` || string(out.PartitionKey) != "p" || string(out.Value) != `{"a":1}` {
		t.Fatalf("plain %+v", out)
	}
	// schema key
	sk := Spec{Backend: "avro_validation", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{Schema: "WidgetKey"}}
	out = enc(t, e, sk, Message{Value: []byte(`{"id":1,"name":"a","price":1,"payload_key":{"id":1,"region":"eu"}}`)})
	if string(out.Key) != `{"id":1,"region":"eu"}` || strings.Contains(string(out.Value), "payload_key") {
		t.Fatalf("schema key %+v", out)
	}
	if _, err := e.Encode(ctx, sk, Message{Value: []byte(`{"id":1,"name":"a","price":1,"payload_key":{"id":1}}`)}); err == nil {
		t.Fatal("a key missing a required field must fail")
	}
}

func TestLookupModeAndKeySchemaExport(t *testing.T) {
	cl := registryClient(t)
	cfg := testCfg()
	off := false
	cfg.Schema.AutoRegister = &off
	e := newTestEngine(t, cfg, cl)
	s := Spec{Topic: "simple", Backend: "avro_schema_registry", Schema: "Simple", Namespace: "com.acme"}
	if _, err := e.Encode(context.Background(), s, Message{Value: []byte(`{"test_id":"abc","some_int":12}`)}); err == nil {
		t.Fatal("lookup of an unregistered schema must fail")
	}
	text, err := e.AvroSchemaText("Simple", "com.acme")
	if err != nil {
		t.Fatal(err)
	}
	ss, err := cl.CreateSchema(context.Background(), "simple-value", sr.Schema{Schema: text, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	out := enc(t, e, s, Message{Value: []byte(`{"test_id":"abc","some_int":12}`)})
	if out.ValueSchemaID != ss.ID {
		t.Fatalf("id %d want %d", out.ValueSchemaID, ss.ID)
	}
	k, err := AvroKeySchema([]byte(`{"type":"record","name":"Widget","namespace":"com.acme","fields":[{"name":"id","type":{"type":"long","logicalType":"timestamp-millis"}}]}`), "id")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"record","name":"Widget_key","namespace":"com.acme","doc":"Key for com.acme.Widget - autogenerated by Deimos","fields":[{"name":"id","type":"long"}]}`
	if string(k) != want {
		t.Fatalf("AvroKeySchema\n got %s\nwant %s", k, want)
	}
	if _, err := AvroKeySchema([]byte(want), "nope"); err == nil {
		t.Fatal("unknown key field must fail")
	}
}

func TestReferencesInlinedAndReaderResolution(t *testing.T) {
	cl := registryClient(t)
	e := newTestEngine(t, nil, cl)
	text, err := e.AvroSchemaText("Widget", "com.acme")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, `"name":"Dimensions","namespace":"com.acme","fields":[`) {
		t.Fatalf("Dimensions must be inlined: %s", text)
	}
	// writer: an older Simple without some_int, registered directly; reader: the local file
	old := `{"type":"record","name":"Simple","namespace":"com.acme","fields":[{"name":"test_id","type":"string"},{"name":"gone","type":"string"}]}`
	ss, err := cl.CreateSchema(context.Background(), "old-value", sr.Schema{Schema: old, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	b := ConfluentFrame(ss.ID, nil, []byte{6, 'a', 'b', 'c', 2, 'x'})
	_, err = e.Decode(context.Background(), Spec{}, nil, b)
	if err == nil || !strings.Contains(err.Error(), "some_int") {
		t.Fatalf("reader field without default must be reported: %v", err)
	}
}

func TestJSONAndPlain(t *testing.T) {
	e := newTestEngine(t, nil, nil)
	out := enc(t, e, Spec{Backend: "plain"}, Message{Value: []byte(`hello world`)})
	if string(out.Value) != "hello world" {
		t.Fatalf("plain %q", out.Value)
	}
	out = enc(t, e, Spec{Backend: "plain"}, Message{Value: []byte(`"quoted"`)})
	if string(out.Value) != "quoted" {
		t.Fatalf("plain %q", out.Value)
	}
	// one rule (StringForm) for plain values and keys: text as given, values
	// in their string form, objects as compact JSON with sorted keys and no
	// HTML escaping
	out = enc(t, e, Spec{Backend: "plain", KeyConfig: config.KeyConfig{Plain: true}},
		Message{Value: Text(`"quoted" {"b": 1}`), Key: map[string]any{"k": "<&>", "a": json.Number("1")}})
	if string(out.Value) != `"quoted" {"b": 1}` || string(out.Key) != `{"a":1,"k":"<&>"}` {
		t.Fatalf("plain text value %q, map key %q", out.Value, out.Key)
	}
	out = enc(t, e, Spec{Backend: "plain"}, Message{Value: map[string]any{"b": "<x>", "a": int64(1)}})
	if string(out.Value) != `{"a":1,"b":"<x>"}` {
		t.Fatalf("plain map value %q", out.Value)
	}
	if _, err := e.Encode(context.Background(), Spec{Backend: "json"}, Message{Value: []byte(`{bad`)}); err == nil {
		t.Fatal("bad JSON must fail")
	}
	for in, want := range map[string]string{`{"a": 1}`: `{"a":1}`, "text": `"text"`, "\xff\x00": `"/wA="`} {
		d := dec(t, e, Spec{}, nil, []byte(in))
		if string(d.Value) != want {
			t.Errorf("detect %q = %s, want %s", in, d.Value, want)
		}
	}
}
