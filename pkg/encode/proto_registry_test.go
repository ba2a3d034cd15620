package encode

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/encode/protobuf"
	"github.com/deimos-cli/deimos/pkg/errs"
)

func TestProtoRegistryEncodeDecode(t *testing.T) {
	ctx := context.Background()
	cl := registryClient(t)
	e := newTestEngine(t, protoCfg(), cl)
	tests := []struct {
		name, schema, in string
		field            string
		indexes          []int
		header           []byte // after 0x00 + id
		key              string // key JSON before framing
		decKey           string
	}{
		{"first message", "com.acme.Widget", `{"id":"42","cost":{"units":3}}`, "id", []int{0}, []byte{0}, `{"id":"42"}`, `"42"`},
		{"second message", "com.acme.Gadget", `{"id":"g1","part":{"name":"p"}}`, "id", []int{1}, []byte{2, 2}, `{"id":"g1"}`, `"g1"`},
		{"nested message", "com.acme.Widget.Part.Detail", `{"note":"n"}`, "note", []int{0, 0, 0}, []byte{6, 0, 0, 0}, `{"note":"n"}`, `"n"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Spec{Topic: "t-" + strings.ReplaceAll(tt.name, " ", "-"), Backend: "proto_schema_registry", Schema: tt.schema,
				KeyConfig: config.KeyConfig{Field: tt.field}}
			enc, err := e.Encode(ctx, s, Message{Value: []byte(tt.in)})
			if err != nil {
				t.Fatal(err)
			}
			// Value: 0x00, id, indexes, protobuf bytes; subject <prefix><topic>-value with the money.proto reference.
			vs, err := cl.SchemaByVersion(ctx, "dev."+s.Topic+"-value", -1)
			if err != nil || vs.ID != enc.ValueSchemaID || vs.Type != sr.TypeProtobuf {
				t.Fatalf("value subject: %+v %v (id %d)", vs, err, enc.ValueSchemaID)
			}
			if len(vs.References) != 1 || vs.References[0].Subject != "com/acme/common/money.proto" {
				t.Errorf("references = %+v", vs.References)
			}
			want := protobuf.Frame(enc.ValueSchemaID, tt.indexes, protoBytes(t, tt.schema, tt.in))
			if !bytes.Equal(enc.Value, want) || !bytes.Equal(enc.Value[5:5+len(tt.header)], tt.header) {
				t.Errorf("value % x, want % x", enc.Value, want)
			}
			// Key: 0x00, id of the JSON Schema under <prefix><topic>-key, sorted JSON.
			ks, err := cl.SchemaByVersion(ctx, "dev."+s.Topic+"-key", -1)
			if err != nil || ks.ID != enc.KeySchemaID || ks.Type != sr.TypeJSON {
				t.Fatalf("key subject: %+v %v", ks, err)
			}
			md, _ := protobuf.NewLoader(protoDir).Message(tt.schema)
			if js, _ := protobuf.KeyJSONSchema(md, tt.field); ks.Schema.Schema != string(js) {
				t.Errorf("key schema = %s, want %s", ks.Schema.Schema, js)
			}
			if wantKey := protobuf.FrameJSON(enc.KeySchemaID, []byte(tt.key)); !bytes.Equal(enc.Key, wantKey) {
				t.Errorf("key % x, want % x", enc.Key, wantKey)
			}
			// Decode with the spec and with zero-Spec detection.
			for _, ds := range []Spec{s, {}} {
				d, err := e.Decode(ctx, ds, enc.Key, enc.Value)
				if err != nil {
					t.Fatal(err)
				}
				f := d.ValueFormat
				if f.Wire != "confluent" || f.SchemaType != "PROTOBUF" || f.SchemaID != enc.ValueSchemaID || f.Schema != tt.schema ||
					!reflect.DeepEqual(f.MessageIndexes, tt.indexes) || !strings.HasSuffix(f.Subject, "-value") || f.Version != 1 ||
					f.HeaderBytes != 5+len(tt.header) || f.HeaderBytes+f.PayloadBytes != len(enc.Value) {
					t.Errorf("spec %v: value format %+v", ds.Backend != "", f)
				}
				again, err := e.Encode(ctx, s, Message{Value: []byte(d.Value)})
				if err != nil || !bytes.Equal(again.Value, enc.Value) {
					t.Errorf("decoded %s does not encode back: %v", d.Value, err)
				}
				if ds.Backend != "" {
					if string(d.Key) != tt.decKey || d.KeyFormat.SchemaType != "JSON" || d.KeyFormat.SchemaID != enc.KeySchemaID || !strings.HasSuffix(d.KeyFormat.Subject, "-key") {
						t.Errorf("key %s format %+v", d.Key, d.KeyFormat)
					}
				}
			}
		})
	}
	// The same file is one id under every subject (the registry reports the first subject).
	// Unprefixed key subjects (Deimos 2.x).
	cfg := protoCfg()
	cfg.Schema.KeySubject = "unprefixed"
	e2 := newTestEngine(t, cfg, cl)
	if _, err := e2.Encode(ctx, Spec{Topic: "v2", Backend: "proto_schema_registry", Schema: "com.acme.Gadget", KeyConfig: config.KeyConfig{Field: "id"}},
		Message{Value: []byte(`{"id":"a"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.SchemaByVersion(ctx, "v2-key", 1); err != nil {
		t.Errorf("unprefixed key subject: %v", err)
	}
}

func TestProtoRegistryErrors(t *testing.T) {
	ctx := context.Background()
	s := Spec{Topic: "w", Backend: "proto_schema_registry", Schema: "com.acme.Widget", KeyConfig: config.KeyConfig{Field: "id"}}
	// No registry configured: usage error.
	_, err := newTestEngine(t, protoCfg(), nil).Encode(ctx, s, Message{Value: []byte(`{"id":1}`)})
	if errs.KindOf(err) != errs.KindUsage || !strings.Contains(err.Error(), "registry") {
		t.Errorf("no registry error = %v", err)
	}
	// auto_register off and nothing registered: failure naming the subject.
	cfg := protoCfg()
	off := false
	cfg.Schema.AutoRegister = &off
	_, err = newTestEngine(t, cfg, registryClient(t)).Encode(ctx, s, Message{Value: []byte(`{"id":1}`)})
	if errs.KindOf(err) != errs.KindFailed || !strings.Contains(err.Error(), "dev.w-") || !strings.Contains(err.Error(), "auto_register is off") {
		t.Errorf("auto_register off error = %v", err)
	}
	noKey := Spec{Topic: "w", Backend: "proto_schema_registry", Schema: "com.acme.Widget", KeyConfig: config.KeyConfig{None: true}}
	_, err = newTestEngine(t, cfg, registryClient(t)).Encode(ctx, noKey, Message{Value: []byte(`{"id":1}`)})
	if errs.KindOf(err) != errs.KindFailed || !strings.Contains(err.Error(), "dev.w-value") || !strings.Contains(err.Error(), "auto_register is off") {
		t.Errorf("auto_register off (value) error = %v", err)
	}
	// Unreachable registry: exit code 3.
	dead, _ := sr.NewClient(sr.URLs("http://127.0.0.1:1"))
	_, err = newTestEngine(t, protoCfg(), dead).Encode(ctx, s, Message{Value: []byte(`{"id":1}`)})
	if errs.KindOf(err) != errs.KindUnavailable {
		t.Errorf("unreachable registry error = %v (kind %v)", err, errs.KindOf(err))
	}
	// Raw wire: no registration, no framing.
	raw := s
	raw.Wire = "raw"
	enc, err := newTestEngine(t, protoCfg(), nil).Encode(ctx, raw, Message{Value: []byte(`{"id":1}`)})
	if err != nil || enc.ValueSchemaID != 0 || string(enc.Key) != `{"id":1}` {
		t.Errorf("raw wire = %+v %v", enc, err)
	}
	// Framed value, unknown id.
	e := newTestEngine(t, protoCfg(), registryClient(t))
	if _, err := e.Decode(ctx, s, nil, protobuf.Frame(77, []int{0}, []byte{8, 1})); errs.KindOf(err) != errs.KindFailed || !strings.Contains(err.Error(), "77") {
		t.Errorf("unknown id error = %v", err)
	}
	// Framed value, no registry but a local schema: decoded with the local message.
	d, err := newTestEngine(t, protoCfg(), nil).Decode(ctx, s, nil, protobuf.Frame(77, []int{0}, []byte{8, 1}))
	if err != nil || !strings.HasPrefix(string(d.Value), `{"id":1,`) || d.ValueFormat.SchemaID != 77 {
		t.Errorf("local fallback = %s %+v %v", d.Value, d.ValueFormat, err)
	}
}
