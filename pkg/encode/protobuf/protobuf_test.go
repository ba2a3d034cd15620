package protobuf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jhump/protoreflect/desc"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/deimos-cli/deimos/internal/testenv"
)

const protoRoot = "../../../testdata/protos"

func loader(t *testing.T) *Loader {
	t.Helper()
	return NewLoader(protoRoot)
}

func message(t *testing.T, l *Loader, name string) *desc.MessageDescriptor {
	t.Helper()
	md, err := l.Message(name)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

func TestLoaderMessage(t *testing.T) {
	l := loader(t)
	for _, name := range []string{"com.acme.Widget", ".com.acme.Gadget", "com.acme.Widget.Part.Detail", "com.acme.common.Money"} {
		if _, err := l.Message(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err := l.Message("com.acme.Missing")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"com.acme.Missing"`) {
		t.Errorf("missing message error = %v", err)
	}
	if _, err := NewLoader(filepath.Join(t.TempDir(), "nope")).Message("a.B"); err == nil || !strings.Contains(err.Error(), "not a readable directory") {
		t.Errorf("bad path error = %v", err)
	}
	// A broken unrelated file does not prevent finding others; a broken
	// candidate is reported.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a", "good.proto"), "syntax = \"proto3\";\npackage a;\nmessage Good { string id = 1; }\n")
	writeFile(t, filepath.Join(dir, "a", "bad.proto"), "syntax = \"proto3\";\npackage a;\nmessage Bad { strin id = 1 }\n")
	l2 := NewLoader(dir)
	if _, err := l2.Message("a.Good"); err != nil {
		t.Errorf("good next to bad: %v", err)
	}
	if _, err := l2.Message("a.Bad"); err == nil || !strings.Contains(err.Error(), "bad.proto") {
		t.Errorf("bad file error = %v", err)
	}
	if src, ok := l.Source("com/acme/common/money.proto"); !ok || !bytes.Contains(src, []byte("message Money")) {
		t.Errorf("source of imported file not recorded: %v", ok)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	l := loader(t)
	w := message(t, l, "com.acme.Widget")
	tests := []struct {
		name, in, want string
	}{
		{"empty", `{}`, `{"id":0,"num":0,"name":"","price":0,"ratio":0,"active":false,"blob":"","color":"COLOR_UNSPECIFIED","tags":[],"counts":{},"parts":[],"cost":null,"updated_at":null,"delta":0,"big":0,"nickname":null}`},
		{"int64 as string and number", `{"id":"9007199254740993","big":"18446744073709551615","delta":-7}`,
			`{"id":9007199254740993,"num":0,"name":"","price":0,"ratio":0,"active":false,"blob":"","color":"COLOR_UNSPECIFIED","tags":[],"counts":{},"parts":[],"cost":null,"updated_at":null,"delta":-7,"big":18446744073709551615,"nickname":null}`},
		{"json names, enum number, oneof, optional", `{"updatedAt":"2024-01-02T03:04:05.5Z","color":2,"code":"7","nickname":"","price":1.5,"ratio":"0.25","active":"true"}`,
			`{"id":0,"num":0,"name":"","price":1.5,"ratio":0.25,"active":true,"blob":"","color":"BLUE","tags":[],"counts":{},"parts":[],"cost":null,"updated_at":"2024-01-02T03:04:05.500Z","delta":0,"big":0,"code":7,"nickname":""}`},
		{"nested, repeated, map, bytes, unicode", `{"name":"<é>","blob":"AAEC","tags":["a","b"],"counts":{"z":1,"a":"2"},"parts":[{"name":"p","qty":2,"detail":{"note":"n"}},{}],"cost":{"currency":"EUR","units":"5","nanos":10}}`,
			`{"id":0,"num":0,"name":"<é>","price":0,"ratio":0,"active":false,"blob":"AAEC","color":"COLOR_UNSPECIFIED","tags":["a","b"],"counts":{"a":2,"z":1},"parts":[{"name":"p","qty":2,"detail":{"note":"n"}},{"name":"","qty":0,"detail":null}],"cost":{"currency":"EUR","units":5,"nanos":10},"updated_at":null,"delta":0,"big":0,"nickname":null}`},
		{"nulls leave fields unset", `{"name":null,"cost":null,"label":null}`, `{"id":0,"num":0,"name":"","price":0,"ratio":0,"active":false,"blob":"","color":"COLOR_UNSPECIFIED","tags":[],"counts":{},"parts":[],"cost":null,"updated_at":null,"delta":0,"big":0,"nickname":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Marshal(w, []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Unmarshal(w, b)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			// Decoded JSON encodes back to the same bytes.
			b2, err := Marshal(w, got)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			if !bytes.Equal(b, b2) {
				t.Errorf("re-encoded bytes differ:\n%x\n%x", b, b2)
			}
		})
	}
}

func TestMarshalValueGoTypes(t *testing.T) {
	w := message(t, loader(t), "com.acme.Widget")
	ts := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	b, err := MarshalValue(w, map[string]any{"id": int64(5), "num": 3, "price": float32(2.5), "blob": []byte{1}, "updated_at": ts})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := Unmarshal(w, b)
	for _, want := range []string{`"id":5`, `"num":3`, `"price":2.5`, `"blob":"AQ=="`, `"updated_at":"2024-01-02T03:04:05Z"`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("%s lacks %s", got, want)
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	w := message(t, loader(t), "com.acme.Widget")
	tests := []struct{ in, path, expected string }{
		{`{"nope":1}`, "Widget.nope", "a field of com.acme.Widget"},
		{`{"num":"abc"}`, "Widget.num", "integer (int32)"},
		{`{"num":3000000000}`, "Widget.num", "integer within int32 range"},
		{`{"num":1.5}`, "Widget.num", "integer (int32)"},
		{`{"id":true}`, "Widget.id", "integer (int64)"},
		{`{"big":-1}`, "Widget.big", "integer within uint64 range"},
		{`{"name":5}`, "Widget.name", "string"},
		{`{"active":"yes"}`, "Widget.active", "boolean"},
		{`{"blob":"***"}`, "Widget.blob", "base64 text (bytes)"},
		{`{"color":"GREEN"}`, "Widget.color", "one of COLOR_UNSPECIFIED, RED, BLUE (enum com.acme.Widget.Color)"},
		{`{"tags":"a"}`, "Widget.tags", "array"},
		{`{"tags":["a",3]}`, "Widget.tags[1]", "string"},
		{`{"counts":{"a":"x"}}`, `Widget.counts["a"]`, "integer (int64)"},
		{`{"parts":[{"qty":1},{"qty":-1}]}`, "Widget.parts[1].qty", "integer within uint32 range"},
		{`{"parts":[{"detail":{"note":1}}]}`, "Widget.parts[0].detail.note", "string"},
		{`{"cost":[]}`, "Widget.cost", "object (message com.acme.common.Money)"},
		{`{"updated_at":"yesterday"}`, "Widget.updated_at", "RFC 3339 timestamp text (google.protobuf.Timestamp)"},
		{`{"label":"a","code":1}`, "Widget.label", "one field of oneof choice"},
		{`{"ratio":1e40}`, "Widget.ratio", "number within float range"},
	}
	for _, tt := range tests {
		_, err := Marshal(w, []byte(tt.in))
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: error %v is not a FieldError", tt.in, err)
			continue
		}
		if fe.Path != tt.path || fe.Expected != tt.expected {
			t.Errorf("%s: got path %q expected %q, want %q %q (%v)", tt.in, fe.Path, fe.Expected, tt.path, tt.expected, err)
		}
	}
	if _, err := Marshal(w, []byte(`[1]`)); err == nil || !strings.Contains(err.Error(), "Widget: expected object") {
		t.Errorf("array payload error = %v", err)
	}
	if _, err := Marshal(w, []byte(`{"a":`)); err == nil || !strings.Contains(err.Error(), "invalid JSON") {
		t.Errorf("bad JSON error = %v", err)
	}
	if _, err := Unmarshal(w, []byte{0x0a, 0xff}); err == nil {
		t.Error("truncated bytes decoded without error")
	}
}

func TestMessageIndexes(t *testing.T) {
	l := loader(t)
	tests := []struct {
		name  string
		want  []int
		frame []byte // header after the 5 id bytes
	}{
		{"com.acme.Widget", []int{0}, []byte{0}},
		{"com.acme.Gadget", []int{1}, []byte{2, 2}},
		{"com.acme.Widget.Part", []int{0, 0}, []byte{4, 0, 0}},
		{"com.acme.Widget.Part.Detail", []int{0, 0, 0}, []byte{6, 0, 0, 0}},
		{"com.acme.common.Money", []int{0}, []byte{0}},
	}
	for _, tt := range tests {
		md := message(t, l, tt.name)
		got := MessageIndexes(md)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: indexes %v, want %v", tt.name, got, tt.want)
		}
		back, err := MessageAt(md.GetFile(), got)
		if err != nil || back.GetFullyQualifiedName() != tt.name {
			t.Errorf("%s: MessageAt = %v %v", tt.name, back, err)
		}
		framed := Frame(258, got, []byte{0xAA})
		want := append(append([]byte{0, 0, 0, 1, 2}, tt.frame...), 0xAA)
		if !bytes.Equal(framed, want) {
			t.Errorf("%s: frame % x, want % x", tt.name, framed, want)
		}
		id, ix, payload, hb, err := Unframe(framed)
		if err != nil || id != 258 || !reflect.DeepEqual(ix, tt.want) || !bytes.Equal(payload, []byte{0xAA}) || hb != len(want)-1 {
			t.Errorf("%s: unframe = %d %v % x %d %v", tt.name, id, ix, payload, hb, err)
		}
	}
	if _, err := MessageAt(message(t, l, "com.acme.Widget").GetFile(), []int{5}); err == nil {
		t.Error("out-of-range index accepted")
	}
	if _, _, _, _, err := Unframe([]byte{1, 2}); !errors.Is(err, ErrNotFramed) {
		t.Errorf("unframed error = %v", err)
	}
	if got := FrameJSON(7, []byte("{}")); !bytes.Equal(got, []byte{0, 0, 0, 0, 7, '{', '}'}) {
		t.Errorf("FrameJSON = % x", got)
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		field string
		value any
		want  string
	}{
		{"id", json.Number("123"), `{"id":123}`},
		{"id", "a<b>&é", `{"id":"a<b>&é"}`},
		{"k", map[string]any{"b": 1, "a": true}, `{"k":{"a":true,"b":1}}`},
		{"k", nil, `{"k":null}`},
	}
	for _, tt := range tests {
		got, err := KeyJSON(tt.field, tt.value)
		if err != nil || string(got) != tt.want {
			t.Errorf("KeyJSON(%s, %v) = %s %v, want %s", tt.field, tt.value, got, err, tt.want)
		}
		if dec := DecodeKey(got, tt.field); tt.value != nil && !json.Valid(dec) {
			t.Errorf("DecodeKey(%s) = %s", got, dec)
		}
	}
	if got, _ := SortedJSON(map[string]any{"z": 1, "a": map[string]any{"y": 2, "b": 3}}); string(got) != `{"a":{"b":3,"y":2},"z":1}` {
		t.Errorf("SortedJSON = %s", got)
	}
	decodes := []struct{ in, field, want string }{
		{`{"id":123}`, "id", `123`},
		{`{"id":"x"}`, "id", `"x"`},
		{`{"a":1,"b":2}`, "", `{"a":1,"b":2}`},
		{`{"a":1}`, "id", `{"a":1}`},
		{`plain-key`, "id", `"plain-key"`},
		{`42`, "", `42`},
	}
	for _, d := range decodes {
		if got := DecodeKey([]byte(d.in), d.field); string(got) != d.want {
			t.Errorf("DecodeKey(%s, %s) = %s, want %s", d.in, d.field, got, d.want)
		}
	}
	if DecodeKey(nil, "id") != nil {
		t.Error("nil key decoded to non-nil")
	}
	plain := []struct {
		in   any
		want string
	}{{"abc", "abc"}, {json.Number("12"), "12"}, {true, "true"}, {int64(5), "5"}, {json.RawMessage(`"q"`), "q"}}
	for _, p := range plain {
		if got := PlainKey(p.in); string(got) != p.want {
			t.Errorf("PlainKey(%v) = %q, want %q", p.in, got, p.want)
		}
	}
}

func TestKeyJSONSchema(t *testing.T) {
	w := message(t, loader(t), "com.acme.Widget")
	types := []struct{ field, want string }{
		{"id", `{"type":"string"}`},
		{"num", `{"type":"integer"}`},
		{"delta", `{"type":"integer"}`},
		{"big", `{"type":"string"}`},
		{"name", `{"type":"string"}`},
		{"blob", `{"type":"string"}`},
		{"price", `{"type":"number"}`},
		{"ratio", `{"type":"number"}`},
		{"active", `{"type":"boolean"}`},
		{"color", `{"enum":["COLOR_UNSPECIFIED","RED","BLUE"]}`},
		{"cost", `{"type":"object"}`},
		{"updated_at", `{"type":"object"}`},
		{"tags", `{"type":"array","items":{"type":"string"}}`},
		{"parts", `{"type":"array","items":{"type":"object"}}`},
		{"counts", `{"type":"object","additionalProperties":{"type":"string"}}`},
	}
	for _, tt := range types {
		b, err := KeyJSONSchema(w, tt.field)
		if err != nil {
			t.Fatalf("%s: %v", tt.field, err)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			t.Fatalf("%s: invalid JSON %s", tt.field, b)
		}
		want := `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"` + tt.field + `":` + tt.want + `},"required":["` + tt.field + `"]}`
		if c.String() != want {
			t.Errorf("%s:\n got %s\nwant %s", tt.field, c.String(), want)
		}
	}
	golden := "{\n  \"$schema\": \"https://json-schema.org/draft/2020-12/schema\",\n  \"type\": \"object\",\n  \"properties\": {\n    \"num\": {\n      \"type\": \"integer\"\n    }\n  },\n  \"required\": [\n    \"num\"\n  ]\n}"
	if b, _ := KeyJSONSchema(w, "num"); string(b) != golden {
		t.Errorf("pretty form:\n%s", b)
	}
	for _, bad := range []string{"nope", "cost.units"} {
		if _, err := KeyJSONSchema(w, bad); err == nil {
			t.Errorf("field %q accepted", bad)
		}
	}
}

func TestKeyProtoFile(t *testing.T) {
	l := loader(t)
	tests := []struct {
		msg, field, path, want string
	}{
		{"com.acme.Widget", "num", "com/acme/widget_key.proto",
			"syntax = \"proto3\";\n\npackage com.acme;\n\nmessage WidgetKey {\n  int32 num = 2;\n}\n"},
		{"com.acme.Widget", "id", "com/acme/widget_key.proto",
			"syntax = \"proto3\";\n\npackage com.acme;\n\nmessage WidgetKey {\n  int64 id = 1;\n}\n"},
		{"com.acme.Gadget", "id", "com/acme/gadget_key.proto",
			"syntax = \"proto3\";\n\npackage com.acme;\n\nmessage GadgetKey {\n  string id = 1;\n}\n"},
		{"com.acme.Widget", "nickname", "com/acme/widget_key.proto",
			"syntax = \"proto3\";\n\npackage com.acme;\n\nmessage WidgetKey {\n  string nickname = 18;\n}\n"},
		{"com.acme.Widget", "counts", "com/acme/widget_key.proto",
			"syntax = \"proto3\";\n\npackage com.acme;\n\nmessage WidgetKey {\n  map<string, int64> counts = 10;\n}\n"},
		{"com.acme.Widget", "color", "com/acme/widget_key.proto",
			"syntax = \"proto3\";\n\npackage com.acme;\n\nimport \"com/acme/widget.proto\";\n\nmessage WidgetKey {\n  Widget.Color color = 8;\n}\n"},
	}
	for _, tt := range tests {
		path, content, err := KeyProtoFile(message(t, l, tt.msg), tt.field)
		if err != nil {
			t.Fatalf("%s.%s: %v", tt.msg, tt.field, err)
		}
		if path != tt.path || string(content) != tt.want {
			t.Errorf("%s.%s: %s\n%s\nwant %s\n%s", tt.msg, tt.field, path, content, tt.path, tt.want)
		}
	}
	for in, want := range map[string]string{"Widget": "widget", "WidgetV2": "widget_v2", "HTTPRequest": "http_request", "MyHTTPThing": "my_http_thing", "already_snake": "already_snake"} {
		if got := underscore(in); got != want {
			t.Errorf("underscore(%s) = %s, want %s", in, got, want)
		}
	}
	if _, _, err := KeyProtoFile(message(t, l, "com.acme.Widget"), "missing"); err == nil {
		t.Error("missing field accepted")
	}
}

// The generated key file is valid protobuf that protoc accepts.
func TestKeyProtoFileCompiles(t *testing.T) {
	protoc := needProtoc(t)
	path, content, err := KeyProtoFile(message(t, loader(t), "com.acme.Widget"), "cost")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, path), string(content))
	out, err := exec.Command(protoc, "-I", dir, "-I", protoRoot, "-o", os.DevNull, path).CombinedOutput()
	if err != nil {
		t.Fatalf("protoc rejects %s:\n%s\n%s", path, content, out)
	}
}

func needProtoc(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("protoc")
	if err != nil {
		testenv.Missing(t, "protoc")
	}
	return p
}

func runProtoc(t *testing.T, protoc string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(protoc, append([]string{"-I", protoRoot}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("protoc %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// Interop: our bytes equal protoc --encode's, protoc --decode reads ours,
// and we decode protoc's.
func TestProtocInterop(t *testing.T) {
	protoc := needProtoc(t)
	l := loader(t)
	tests := []struct {
		msg, file, json, text string
	}{
		{"com.acme.Widget", "com/acme/widget.proto",
			`{"id":"-5","num":7,"name":"wïdget","price":2.5,"ratio":0.5,"active":true,"blob":"AQID","color":"BLUE","tags":["a","b"],"counts":{"k":9},"parts":[{"name":"p","qty":3,"detail":{"note":"n"}}],"cost":{"currency":"EUR","units":12,"nanos":5},"updated_at":"2024-01-02T03:04:05Z","delta":-3,"big":"18446744073709551615","code":4,"nickname":""}`,
			"id: -5\nnum: 7\nname: \"w\\303\\257dget\"\nprice: 2.5\nratio: 0.5\nactive: true\nblob: \"\\001\\002\\003\"\ncolor: BLUE\ntags: \"a\"\ntags: \"b\"\ncounts {\n  key: \"k\"\n  value: 9\n}\nparts {\n  name: \"p\"\n  qty: 3\n  detail {\n    note: \"n\"\n  }\n}\ncost {\n  currency: \"EUR\"\n  units: 12\n  nanos: 5\n}\nupdated_at {\n  seconds: 1704164645\n}\ndelta: -3\nbig: 18446744073709551615\ncode: 4\nnickname: \"\"\n"},
		{"com.acme.Gadget", "com/acme/widget.proto", `{"id":"g1","part":{"name":"x","qty":1}}`,
			"id: \"g1\"\npart {\n  name: \"x\"\n  qty: 1\n}\n"},
		{"com.acme.Widget.Part.Detail", "com/acme/widget.proto", `{"note":"deep"}`, "note: \"deep\"\n"},
		{"com.acme.common.Money", "com/acme/common/money.proto", `{"units":"-9007199254740993"}`, "units: -9007199254740993\n"},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			md := message(t, l, tt.msg)
			ours, err := Marshal(md, []byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			theirs := runProtoc(t, protoc, []byte(tt.text), "--encode="+tt.msg, tt.file)
			if !bytes.Equal(ours, theirs) {
				t.Errorf("bytes differ from protoc --encode:\nours   % x\nprotoc % x", ours, theirs)
			}
			if text := runProtoc(t, protoc, ours, "--decode="+tt.msg, tt.file); string(text) != tt.text {
				t.Errorf("protoc --decode of our bytes:\n%s\nwant\n%s", text, tt.text)
			}
			js, err := Unmarshal(md, theirs)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Marshal(md, js)
			if err != nil || !bytes.Equal(again, theirs) {
				t.Errorf("decoding protoc's bytes to %s and encoding again differs: %v", js, err)
			}
		})
	}
}

func TestRegistryReferences(t *testing.T) {
	ctx := context.Background()
	fake := testenv.Registry(t)
	cl, err := sr.NewClient(sr.URLs(fake.URL()))
	if err != nil {
		t.Fatal(err)
	}
	l := loader(t)
	w := message(t, l, "com.acme.Widget")
	r := NewRegistry(cl, l, true)
	reg, err := r.RegisterFile(ctx, "dev.widgets-value", w.GetFile())
	if err != nil {
		t.Fatal(err)
	}
	ref, err := cl.SchemaByVersion(ctx, "com/acme/common/money.proto", 1)
	if err != nil {
		t.Fatalf("imported file not registered under its path: %v", err)
	}
	if ref.Type != sr.TypeProtobuf || !strings.Contains(ref.Schema.Schema, "message Money") {
		t.Errorf("reference schema = %+v", ref.Schema)
	}
	val, err := cl.SchemaByVersion(ctx, "dev.widgets-value", reg.Version)
	if err != nil {
		t.Fatal(err)
	}
	wantRefs := []sr.SchemaReference{{Name: "com/acme/common/money.proto", Subject: "com/acme/common/money.proto", Version: 1}}
	if val.ID != reg.ID || val.Type != sr.TypeProtobuf || !reflect.DeepEqual(val.References, wantRefs) {
		t.Errorf("value schema = id %d type %v refs %+v (registered %+v)", val.ID, val.Type, val.References, reg)
	}
	if subs, _ := cl.Subjects(ctx); len(subs) != 2 {
		t.Errorf("subjects = %v (google imports must not be registered)", subs)
	}
	// Cached: a second registration makes no request and gives the same id.
	again, err := r.RegisterFile(ctx, "dev.widgets-value", w.GetFile())
	if err != nil || again != reg {
		t.Errorf("second registration = %+v %v", again, err)
	}

	// A fresh Registry (no local files) decodes by id + indexes.
	dec := NewRegistry(cl, nil, true)
	for _, name := range []string{"com.acme.Widget", "com.acme.Gadget", "com.acme.Widget.Part.Detail"} {
		md, err := dec.WriterMessage(ctx, reg.ID, MessageIndexes(message(t, l, name)))
		if err != nil || md.GetFullyQualifiedName() != name {
			t.Errorf("writer message for %s = %v %v", name, md, err)
		}
	}
	if _, err := dec.WriterMessage(ctx, reg.ID, []int{9}); err == nil {
		t.Error("bad index accepted")
	}
	if _, err := dec.WriterMessage(ctx, 999, []int{0}); err == nil || !strings.Contains(err.Error(), "999") {
		t.Errorf("unknown id error = %v", err)
	}
	if s, v := dec.SubjectOf(ctx, reg.ID); s != "dev.widgets-value" || v != 1 {
		t.Errorf("SubjectOf = %s %d", s, v)
	}

	// JSON key schema.
	ks, _ := KeyJSONSchema(w, "id")
	kreg, err := r.RegisterJSONSchema(ctx, "widgets-key", ks)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.SchemaByID(ctx, kreg.ID)
	if err != nil || got.Type != sr.TypeJSON || got.Schema != string(ks) {
		t.Errorf("key schema = %+v %v", got, err)
	}

	// auto_register off: lookups only.
	ro := NewRegistry(cl, l, false)
	if _, err := ro.RegisterFile(ctx, "dev.widgets-value", w.GetFile()); err != nil {
		t.Errorf("lookup of registered schema: %v", err)
	}
	if _, err := ro.RegisterFile(ctx, "other-value", w.GetFile()); err == nil || !strings.Contains(err.Error(), "auto_register is off") {
		t.Errorf("lookup of unregistered schema error = %v", err)
	}
	if _, err := NewRegistry(nil, l, true).RegisterFile(ctx, "x", w.GetFile()); err == nil {
		t.Error("nil client accepted")
	}
}

const benchDoc = `{"id":"-5","num":7,"name":"widget","price":2.5,"active":true,"color":"BLUE","tags":["a","b"],"counts":{"k":9},"parts":[{"name":"p","qty":3,"detail":{"note":"n"}}],"cost":{"currency":"EUR","units":12},"updated_at":"2024-01-02T03:04:05Z","code":4}`

// BenchmarkMarshal measures JSON -> protobuf; BenchmarkMarshalProtojson is
// the reference (protojson into dynamicpb, Go's own field order).
func BenchmarkMarshal(b *testing.B) {
	md, err := NewLoader(protoRoot).Message("com.acme.Widget")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		if _, err := Marshal(md, []byte(benchDoc)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalProtojson(b *testing.B) {
	md, err := NewLoader(protoRoot).Message("com.acme.Widget")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		m := dynamicpb.NewMessage(md.UnwrapMessage())
		if err := protojson.Unmarshal([]byte(benchDoc), m); err != nil {
			b.Fatal(err)
		}
		if _, err := proto.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	md, _ := NewLoader(protoRoot).Message("com.acme.Widget")
	bin, err := Marshal(md, []byte(benchDoc))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		if _, err := Unmarshal(md, bin); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalProtojson(b *testing.B) {
	md, _ := NewLoader(protoRoot).Message("com.acme.Widget")
	bin, _ := Marshal(md, []byte(benchDoc))
	for i := 0; i < b.N; i++ {
		m := dynamicpb.NewMessage(md.UnwrapMessage())
		if err := proto.Unmarshal(bin, m); err != nil {
			b.Fatal(err)
		}
		if _, err := protojson.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

// RegisterFile looks for an equal version before registering: equal means
// the same definitions and the same top-level message order (message indexes
// depend on it), whatever the text and reference subjects. A new version
// refers to the subjects the newest version uses for its imports.
func TestRegistryLookupFirst(t *testing.T) {
	ctx := context.Background()
	fake := testenv.Registry(t)
	cl, err := sr.NewClient(sr.URLs(fake.URL()))
	if err != nil {
		t.Fatal(err)
	}
	l := loader(t)
	w := message(t, l, "com.acme.Widget")
	money := "syntax = \"proto3\";\npackage com.acme.common;\nmessage Money { string currency = 1; int64 units = 2; int32 nanos = 3; }\n"
	m, err := cl.CreateSchema(ctx, "money", sr.Schema{Type: sr.TypeProtobuf, Schema: money})
	if err != nil {
		t.Fatal(err)
	}
	refs := []sr.SchemaReference{{Name: "com/acme/common/money.proto", Subject: "money", Version: m.Version}}
	src, _ := l.Source(w.GetFile().GetName())
	// Gadget moved before Widget: same definitions, other message indexes
	i, j := strings.Index(string(src), "message Gadget"), strings.Index(string(src), "// Widget is the first")
	if i < 0 || j < 0 || j > i {
		t.Fatalf("widget.proto layout changed: %d %d", i, j)
	}
	end := i + strings.Index(string(src[i:]), "}\n") + 2
	reordered := string(src[:j]) + string(src[i:end]) + string(src[j:i]) + string(src[end:])
	if _, err := cl.CreateSchema(ctx, "w-value", sr.Schema{Type: sr.TypeProtobuf, Schema: reordered, References: refs}); err != nil {
		t.Fatal(err)
	}
	r := NewRegistry(cl, l, true)
	reg, err := r.RegisterFile(ctx, "w-value", w.GetFile())
	if err != nil {
		t.Fatal(err)
	}
	vs, _ := cl.Schemas(ctx, "w-value")
	if len(vs) != 2 || reg.Version != 2 || !reflect.DeepEqual(vs[1].References, refs) {
		t.Fatalf("a reordered file must not match; the new version must refer to subject money: %+v %+v", reg, vs)
	}
	if subs, _ := cl.Subjects(ctx); len(subs) != 2 {
		t.Fatalf("subjects %v", subs)
	}
	// a fresh process finds version 2 (and version 1 is not taken for it)
	again, err := NewRegistry(cl, l, false).RegisterFile(ctx, "w-value", w.GetFile())
	if err != nil || again != reg {
		t.Fatalf("lookup = %+v %v, want %+v", again, err, reg)
	}
}
