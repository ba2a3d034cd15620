package encode

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/testenv"
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

// buildBinary returns the real deimos binary (testenv builds it once).
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	return testenv.Binary(t)
}

func runBin(t *testing.T, bin, dir, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DEIMOS_CONFIG=", "DEIMOS_REGISTRY_URL=", "DEIMOS_SCHEMA_PATH=", "DEIMOS_SCHEMA_BACKEND=")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// End to end from the binary: deimos encode/decode with --backend
// proto_local and proto_schema_registry (srfake via --registry).
func TestProtoBinaryEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	protos, _ := filepath.Abs(protoDir)
	fake := testenv.Registry(t)
	in := `{"id":"g1","part":{"name":"p","qty":3}}`
	wantJSON := `{"id":"g1","part":{"name":"p","qty":3,"detail":null}}`
	payload := protoBytes(t, "com.acme.Gadget", in)

	// proto_local: bare protobuf bytes.
	out, stderr, code := runBin(t, bin, dir, in, "encode", "--backend", "proto_local", "--schema", "com.acme.Gadget", "--schema-path", protos, "--output-encoding", "hex")
	if code != 0 || strings.TrimSpace(out) != hex.EncodeToString(payload) {
		t.Fatalf("proto_local encode = %q %s (%d), want %x", out, stderr, code, payload)
	}
	out, stderr, code = runBin(t, bin, dir, out, "decode", "--backend", "proto_local", "--schema", "com.acme.Gadget", "--schema-path", protos, "--input-encoding", "hex")
	if code != 0 || strings.TrimSpace(out) != wantJSON {
		t.Fatalf("proto_local decode = %q %s (%d)", out, stderr, code)
	}

	// proto_schema_registry: registered, framed with indexes [1].
	reg := []string{"--backend", "proto_schema_registry", "--schema", "com.acme.Gadget", "--schema-path", protos, "--registry", fake.URL(), "--topic", "gadgets"}
	out, stderr, code = runBin(t, bin, dir, in, append([]string{"encode", "--output-encoding", "hex"}, reg...)...)
	if code != 0 {
		t.Fatalf("proto_schema_registry encode: %s (%d)", stderr, code)
	}
	cl, _ := sr.NewClient(sr.URLs(fake.URL()))
	ss, err := cl.SchemaByVersion(context.Background(), "gadgets-value", 1)
	if err != nil || len(ss.References) != 1 {
		t.Fatalf("registered value schema = %+v %v", ss, err)
	}
	framed := hex.EncodeToString(protobuf.Frame(ss.ID, []int{1}, payload))
	if strings.TrimSpace(out) != framed {
		t.Fatalf("framed value %s, want %s", out, framed)
	}
	for _, args := range [][]string{append([]string{"decode", "--input-encoding", "hex"}, reg...), {"decode", "--input-encoding", "hex", "--registry", fake.URL()}} {
		got, stderr, code := runBin(t, bin, dir, out, args...)
		if code != 0 || strings.TrimSpace(got) != wantJSON {
			t.Errorf("%v = %q %s (%d)", args, got, stderr, code)
		}
	}
	got, _, code := runBin(t, bin, dir, out, "decode", "--input-encoding", "hex", "--registry", fake.URL(), "--explain")
	if code != 0 || !strings.Contains(got, "message indexes [1]") || !strings.Contains(got, "com.acme.Gadget") {
		t.Errorf("--explain = %s (%d)", got, code)
	}

	// Bad input: one-line error naming the field, exit 1; unknown message: exit 2.
	_, stderr, code = runBin(t, bin, dir, `{"id":"g1","part":{"qty":-1}}`, "encode", "--backend", "proto_local", "--schema", "com.acme.Gadget", "--schema-path", protos)
	if code != 1 || !strings.Contains(stderr, "Gadget.part.qty") {
		t.Errorf("bad field: %s (%d)", stderr, code)
	}
	_, stderr, code = runBin(t, bin, dir, in, "encode", "--backend", "proto_local", "--schema", "com.acme.Nope", "--schema-path", protos)
	if code != 2 || !strings.Contains(stderr, "com.acme.Nope") {
		t.Errorf("unknown message: %s (%d)", stderr, code)
	}
}
