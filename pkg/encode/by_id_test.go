package encode

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/config"
)

// EncodeWithID inverts decoding: protobuf values of the first, second and a
// nested message of their file, decoded and encoded again with the id in
// their header, get their bytes back (message indexes included), and a
// field key shown as its value gets its JSON Schema key object back. A
// protobuf document two messages of the file fit alike is an error naming
// both, and one that fits none names why.
func TestEncodeWithIDInvertsDecode(t *testing.T) {
	ctx := context.Background()
	cl := registryClient(t)
	e := newTestEngine(t, protoCfg(), cl)
	for _, tt := range []struct{ name, schema, field, in string }{
		{"first", "com.acme.Widget", "id", `{"id":"42","cost":{"units":3}}`},
		{"second", "com.acme.Gadget", "id", `{"id":"g1","part":{"name":"p","qty":2}}`},
		{"nested", "com.acme.Widget.Part.Detail", "note", `{"note":"n"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := Spec{Topic: "byid-" + tt.name, Backend: "proto_schema_registry", Schema: tt.schema, KeyConfig: config.KeyConfig{Field: tt.field}}
			enc, err := e.Encode(ctx, s, Message{Value: []byte(tt.in)})
			if err != nil {
				t.Fatal(err)
			}
			dec, err := e.Decode(ctx, s, enc.Key, enc.Value)
			if err != nil {
				t.Fatal(err)
			}
			if dec.Key[0] == '{' {
				t.Fatalf("field key decoded as %s, want the field's value", dec.Key)
			}
			v, err := e.EncodeWithID(ctx, enc.ValueSchemaID, dec.Value)
			if err != nil || !bytes.Equal(v, enc.Value) {
				t.Fatalf("value: % x %v\nwant % x (decoded %s)", v, err, enc.Value, dec.Value)
			}
			k, err := e.EncodeWithID(ctx, enc.KeySchemaID, dec.Key)
			if err != nil || !bytes.Equal(k, enc.Key) {
				t.Fatalf("key: %q %v, want %q (decoded %s)", k, err, enc.Key, dec.Key)
			}
		})
	}

	twins := `syntax = "proto3";
package twins;
message A { string id = 1; }
message B { string id = 1; }
`
	ss, err := cl.CreateSchema(ctx, "twins-value", sr.Schema{Schema: twins, Type: sr.TypeProtobuf})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.EncodeWithID(ctx, ss.ID, []byte(`{"id":"x"}`))
	if err == nil || !strings.Contains(err.Error(), "fits several messages of the file (twins.A, twins.B)") {
		t.Fatalf("ambiguous message: %v", err)
	}
	_, err = e.EncodeWithID(ctx, ss.ID, []byte(`{"nope":1}`))
	if err == nil || !strings.Contains(err.Error(), "fits none of the file's 2 messages") {
		t.Fatalf("no message: %v", err)
	}
}
