package encode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/encode/protobuf"
	"github.com/deimos-cli/deimos/pkg/errs"
)

const protoDir = "../../testdata/protos"

func protoCfg() *config.Config {
	return &config.Config{Schema: config.Schema{Path: protoDir, KeySubject: "prefixed"}, Producers: config.Producers{TopicPrefix: "dev."}}
}

func protoBytes(t *testing.T, name, doc string) []byte {
	t.Helper()
	md, err := protobuf.NewLoader(protoDir).Message(name)
	if err != nil {
		t.Fatal(err)
	}
	b, err := protobuf.Marshal(md, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProtoLocalEncodeDecode(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t, protoCfg(), nil)
	tests := []struct {
		name    string
		spec    Spec
		in      string
		wantKey string // encoded key bytes
		decKey  string // decoded key JSON
	}{
		{"field key", Spec{Topic: "widgets", Backend: "proto_local", Schema: "com.acme.Widget", KeyConfig: config.KeyConfig{Field: "id"}},
			`{"id":123,"name":"w"}`, `{"id":123}`, `123`},
		{"field key string", Spec{Topic: "widgets", Backend: "proto_local", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "name"}},
			`{"id":"5","name":"<w>"}`, `{"name":"<w>"}`, `"<w>"`},
		{"plain key", Spec{Topic: "widgets", Backend: "proto_local", Schema: "com.acme.Widget", KeyConfig: config.KeyConfig{Plain: true}},
			`{"payload_key":"k-1","id":1}`, `k-1`, `"k-1"`},
		{"schema key", Spec{Topic: "widgets", Backend: "proto_local", Schema: "com.acme.Widget", KeyConfig: config.KeyConfig{Schema: "com.acme.WidgetId"}},
			`{"payload_key":{"region":"eu","id":7},"id":7}`, `{"id":7,"region":"eu"}`, `{"id":7,"region":"eu"}`},
		{"no key", Spec{Topic: "widgets", Backend: "proto_local", Schema: "com.acme.Widget", KeyConfig: config.KeyConfig{None: true}},
			`{"id":9}`, ``, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := e.Encode(ctx, tt.spec, Message{Value: []byte(tt.in)})
			if err != nil {
				t.Fatal(err)
			}
			if string(enc.Key) != tt.wantKey || enc.KeySchemaID != 0 || enc.ValueSchemaID != 0 || enc.Topic != "dev.widgets" {
				t.Errorf("encoded = key %q ids %d/%d topic %s", enc.Key, enc.KeySchemaID, enc.ValueSchemaID, enc.Topic)
			}
			var payload map[string]any
			_ = json.Unmarshal([]byte(tt.in), &payload)
			delete(payload, "payload_key")
			pj, _ := json.Marshal(payload)
			if want := protoBytes(t, "com.acme.Widget", string(pj)); !bytes.Equal(enc.Value, want) {
				t.Errorf("value % x, want % x", enc.Value, want)
			}
			d, err := e.Decode(ctx, tt.spec, enc.Key, enc.Value)
			if err != nil {
				t.Fatal(err)
			}
			if string(d.Key) != tt.decKey {
				t.Errorf("decoded key %s, want %s", d.Key, tt.decKey)
			}
			if d.ValueFormat.Wire != "raw" || d.ValueFormat.SchemaType != "PROTOBUF" || d.ValueFormat.Schema != "com.acme.Widget" || d.ValueFormat.PayloadBytes != len(enc.Value) {
				t.Errorf("value format %+v", d.ValueFormat)
			}
			var got map[string]any
			if err := json.Unmarshal(d.Value, &got); err != nil {
				t.Fatalf("%s: %v", d.Value, err)
			}
			for k, v := range payload {
				if g, _ := json.Marshal(got[k]); string(g) != mustJSON(v) && !(k == "id" && strings.Trim(string(g), `"`) == strings.Trim(mustJSON(v), `"`)) {
					t.Errorf("field %s = %s, want %s", k, g, mustJSON(v))
				}
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestProtoLocalErrorsAndFields(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t, protoCfg(), nil)
	s := Spec{Topic: "widgets", Backend: "proto_local", Schema: "com.acme.Widget", KeyConfig: config.KeyConfig{Field: "id"}}
	_, err := e.Encode(ctx, s, Message{Value: []byte(`{"id":1,"parts":[{"qty":"x"}]}`)})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "Widget.parts[0].qty" || errs.KindOf(err) != errs.KindFailed {
		t.Errorf("field error = %v (%T)", err, err)
	}
	_, err = e.Encode(ctx, Spec{Backend: "proto_local", Schema: "com.acme.Nope"}, Message{Value: []byte(`{"a":1}`)})
	if errs.KindOf(err) != errs.KindUsage || !strings.Contains(err.Error(), "com.acme.Nope") {
		t.Errorf("missing message error = %v", err)
	}
	_, err = e.Encode(ctx, Spec{Backend: "proto_local", Schema: "com.acme.Widget", KeyConfig: config.KeyConfig{Schema: "com.acme.WidgetId"}},
		Message{Value: []byte(`{"id":1}`), Key: map[string]any{"idd": 1}})
	if !errors.As(err, &fe) || fe.Path != "WidgetId.idd" {
		t.Errorf("bad schema key error = %v", err)
	}
	_, err = e.Encode(ctx, Spec{Backend: "proto_local", Schema: "com.acme.Widget", Wire: "ocf"}, Message{Value: []byte(`{"id":1}`)})
	if errs.KindOf(err) != errs.KindUsage {
		t.Errorf("ocf wire error = %v", err)
	}
	_, err = e.Encode(ctx, Spec{Backend: "proto_local", Schema: "com.acme.Widget", Wire: "confluent"}, Message{Value: []byte(`{"id":1}`)})
	if errs.KindOf(err) != errs.KindUsage || !strings.Contains(err.Error(), "registry") {
		t.Errorf("confluent without registry error = %v", err)
	}
	if _, err := e.Decode(ctx, s, nil, []byte{0x0a, 0xff, 0x01}); errs.KindOf(err) != errs.KindFailed {
		t.Errorf("corrupt value error = %v", err)
	}
	// A non-JSON proto_local key decodes raw.
	d, err := e.Decode(ctx, s, []byte("legacy key"), nil)
	if err != nil || string(d.Key) != `"legacy key"` || d.KeyFormat.Wire != "plain" {
		t.Errorf("raw key = %s %+v %v", d.Key, d.KeyFormat, err)
	}
	names, err := e.FieldNames(ctx, s)
	if err != nil || strings.Join(names, ",") != "id,num,name,price,ratio,active,blob,color,tags,counts,parts,cost,updated_at,delta,big,label,code,nickname" {
		t.Errorf("field names = %v %v", names, err)
	}
	// Auto-filled message_id and timestamp (string fields).
	ev := Spec{Backend: "proto_local", Schema: "com.acme.Event"}
	enc, err := e.Encode(ctx, ev, Message{Value: []byte(`{"name":"x"}`)})
	if err != nil {
		t.Fatal(err)
	}
	d, err = e.Decode(ctx, ev, nil, enc.Value)
	want := `{"message_id":"0b6e1f7a-2f4b-4c11-9f3e-0d7a3b6c5e21","timestamp":"2024-05-06 07:08:09 UTC","name":"x"}`
	if err != nil || string(d.Value) != want {
		t.Errorf("auto-filled = %s %v", d.Value, err)
	}
}
