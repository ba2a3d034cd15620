package encode

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

const schemaDir = "../../testdata/schemas"

func testCfg() *config.Config {
	return &config.Config{Schema: config.Schema{Path: schemaDir, KeySubject: "prefixed"}}
}

func newTestEngine(t testing.TB, cfg *config.Config, reg *sr.Client) *Engine {
	t.Helper()
	if cfg == nil {
		cfg = testCfg()
	}
	e, err := New(Options{Config: cfg, Registry: reg,
		Now:     func() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC) },
		NewUUID: func() string { return "0b6e1f7a-2f4b-4c11-9f3e-0d7a3b6c5e21" }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func registryClient(t testing.TB) *sr.Client {
	t.Helper()
	r := testenv.Registry(t)
	cl, err := sr.NewClient(sr.URLs(r.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

var golden = []byte{0x06, 'a', 'b', 'c', 0x18}

func TestGoldenRaw(t *testing.T) {
	e := newTestEngine(t, nil, nil)
	s := Spec{Backend: "avro_local", Schema: "Simple", Namespace: "com.acme", Wire: "raw"}
	enc, err := e.Encode(context.Background(), s, Message{Value: []byte(`{"test_id":"abc","some_int":12}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc.Value, golden) {
		t.Fatalf("got % x, want % x", enc.Value, golden)
	}
	d, err := e.Decode(context.Background(), s, nil, enc.Value)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Value) != `{"test_id":"abc","some_int":12}` {
		t.Fatalf("decoded %s", d.Value)
	}
}

func TestGoldenConfluent(t *testing.T) {
	cl := registryClient(t)
	e := newTestEngine(t, nil, cl)
	s := Spec{Topic: "simple", Backend: "avro_schema_registry", Schema: "Simple", Namespace: "com.acme"}
	enc, err := e.Encode(context.Background(), s, Message{Value: []byte(`{"test_id":"abc","some_int":12}`)})
	if err != nil {
		t.Fatal(err)
	}
	id := enc.ValueSchemaID
	if id <= 0 {
		t.Fatalf("schema id %d", id)
	}
	want := append([]byte{0, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}, golden...)
	if !bytes.Equal(enc.Value, want) {
		t.Fatalf("got % x, want % x", enc.Value, want)
	}
	ss, err := cl.SchemaByVersion(context.Background(), "simple-value", -1)
	if err != nil || ss.ID != id {
		t.Fatalf("subject simple-value: %+v %v", ss, err)
	}
	// a fresh engine (no cache) decodes through the registry with a zero Spec
	e2 := newTestEngine(t, nil, cl)
	d, err := e2.Decode(context.Background(), Spec{}, nil, enc.Value)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Value) != `{"test_id":"abc","some_int":12}` || d.ValueFormat.Wire != "confluent" || d.ValueFormat.SchemaID != id ||
		d.ValueFormat.Schema != "com.acme.Simple" || d.ValueFormat.Subject != "simple-value" {
		t.Fatalf("decoded %s %+v", d.Value, d.ValueFormat)
	}
	t.Log(hex.EncodeToString(enc.Value))
}

func TestUnknownIDAndTruncated(t *testing.T) {
	cl := registryClient(t)
	e := newTestEngine(t, nil, cl)
	for name, b := range map[string][]byte{
		"unknown id": {0, 0, 0, 0x30, 0x39, 6, 'a'},
		"truncated":  {0, 0, 1},
	} {
		_, err := e.Decode(context.Background(), Spec{}, nil, b)
		if err == nil || errs.ExitCode(err) != errs.CodeFailed {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := e.Decode(context.Background(), Spec{Backend: "avro_schema_registry"}, nil, []byte("{}")); err == nil {
		t.Errorf("wrong magic must fail")
	}
}

func TestRegistryUnavailable(t *testing.T) {
	cl, _ := sr.NewClient(sr.URLs("http://127.0.0.1:1"))
	e := newTestEngine(t, nil, cl)
	_, err := e.Encode(context.Background(), Spec{Topic: "x", Backend: "avro_schema_registry", Schema: "Simple", Namespace: "com.acme"},
		Message{Value: []byte(`{"test_id":"abc","some_int":12}`)})
	if errs.ExitCode(err) != errs.CodeUnavailable {
		t.Fatalf("err = %v (code %d)", err, errs.ExitCode(err))
	}
}

func TestFieldErrors(t *testing.T) {
	e := newTestEngine(t, nil, nil)
	s := Spec{Backend: "avro_local", Schema: "Widget", Namespace: "com.acme"}
	tests := []struct {
		name, in, path, found string
	}{
		{"bad double", `{"id":1,"name":"a","price":"abc"}`, "Widget.price", `"abc"`},
		{"missing", `{"id":1,"price":2}`, "Widget.name", "nothing"},
		{"bad bool", `{"id":1,"name":"a","price":1,"active":"yes"}`, "Widget.active", `"yes"`},
		{"bad enum", `{"id":1,"name":"a","price":1,"color":"PINK"}`, "Widget.color", `"PINK"`},
		{"nested", `{"id":1,"name":"a","price":1,"dimensions":{"width":"x","height":1}}`, "Widget.dimensions.width", `"x"`},
		{"bad long", `{"id":1.5,"name":"a","price":1}`, "Widget.id", "1.5"},
		{"bad array item", `{"id":1,"name":"a","price":1,"tags":["a",{}]}`, "Widget.tags[1]", "object"},
		{"bad uuid", `{"id":1,"name":"a","price":1,"ref":"nope"}`, "Widget.ref", `"nope"`},
		{"decimal scale", `{"id":1,"name":"a","price":1,"amount":"1.234"}`, "Widget.amount", `"1.234"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Encode(context.Background(), s, Message{Value: []byte(tt.in)})
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a FieldError", err)
			}
			if fe.Path != tt.path || fe.Found != tt.found {
				t.Fatalf("FieldError = %+v, want path %s found %s", fe, tt.path, tt.found)
			}
			if errs.ExitCode(err) != errs.CodeFailed {
				t.Fatalf("exit code %d", errs.ExitCode(err))
			}
		})
	}
}
