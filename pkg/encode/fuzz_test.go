package encode

import (
	"context"
	"testing"
)

// FuzzDecode: arbitrary bytes never panic, with a zero Spec (detection,
// container files, Confluent framing through srfake) and with bare Avro.
func FuzzDecode(f *testing.F) {
	cl := registryClient(f)
	e := newTestEngine(f, nil, cl)
	ctx := context.Background()
	seed := func(s Spec, v string) {
		out, err := e.Encode(ctx, s, Message{Value: []byte(v)})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(out.Value)
	}
	w := `{"id":1,"name":"a","price":1.5,"tags":["x"],"color":"RED","dimensions":{"width":1,"height":2},"amount":"1.25","made_on":"2024-01-02","updated_at":0}`
	seed(Spec{Backend: "avro_local", Schema: "Widget", Namespace: "com.acme"}, w)
	seed(Spec{Backend: "avro_local", Schema: "Widget", Namespace: "com.acme", Wire: "raw"}, w)
	seed(Spec{Topic: "fz", Backend: "avro_schema_registry", Schema: "Widget", Namespace: "com.acme"}, w)
	f.Add(golden)
	f.Add([]byte{0, 0, 0, 0, 1})
	f.Add([]byte("Obj\x01"))
	f.Add([]byte(`{"a":1}`))
	f.Add([]byte{0xff, 0xfe})
	raw := Spec{Backend: "avro_local", Schema: "Widget", Namespace: "com.acme", Wire: "raw"}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = e.Decode(ctx, Spec{}, b, b)
		_, _ = e.Decode(ctx, raw, nil, b)
	})
}
