package encode

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"testing"

	"github.com/linkedin/goavro/v2"
)

const benchJSON = `{"id":123456,"name":"widget","price":19.99,"qty":3,"active":true,"sku":"W-123","category":"tools","weight":1.5,"created":1714979289000,"note":null}`

func benchCodec(b *testing.B) (*goavro.Codec, any) {
	b.Helper()
	text, err := os.ReadFile(schemaDir + "/com/acme/Bench.avsc")
	if err != nil {
		b.Fatal(err)
	}
	c, err := goavro.NewCodec(string(text))
	if err != nil {
		b.Fatal(err)
	}
	native := map[string]any{"id": int64(123456), "name": "widget", "price": 19.99, "qty": int32(3), "active": true,
		"sku": "W-123", "category": goavro.Union("string", "tools"), "weight": float32(1.5), "created": int64(1714979289000), "note": nil}
	return c, native
}

// BenchmarkEncodeCodec is bare goavro: a native Go map to Avro binary.
func BenchmarkEncodeCodec(b *testing.B) {
	c, native := benchCodec(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := c.BinaryFromNative(nil, native); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeCodecJSON is goavro from JSON text (Avro JSON encoding).
func BenchmarkEncodeCodecJSON(b *testing.B) {
	c, _ := benchCodec(b)
	in := []byte(`{"id":123456,"name":"widget","price":19.99,"qty":3,"active":true,"sku":"W-123","category":{"string":"tools"},"weight":1.5,"created":1714979289000,"note":null}`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		n, _, err := c.NativeFromTextual(in)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.BinaryFromNative(nil, n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeCodecFromJSON is the fair reference for the engine's
// encode: what a user of goavro alone needs to turn the same natural JSON
// text into Avro binary: json.Unmarshal, wrap the union fields goavro's way,
// BinaryFromNative.
func BenchmarkEncodeCodecFromJSON(b *testing.B) {
	c, _ := benchCodec(b)
	in := []byte(benchJSON)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var m map[string]any
		if err := json.Unmarshal(in, &m); err != nil {
			b.Fatal(err)
		}
		for _, f := range [...]string{"category", "note"} {
			if v := m[f]; v != nil {
				m[f] = goavro.Union("string", v)
			}
		}
		if _, err := c.BinaryFromNative(nil, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeEngine is the engine: natural JSON in, bare Avro out.
func BenchmarkEncodeEngine(b *testing.B) {
	e := newTestEngine(b, nil, nil)
	s := Spec{Backend: "avro_local", Schema: "Bench", Namespace: "com.acme", Wire: "raw"}
	in := []byte(benchJSON)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := e.Encode(ctx, s, Message{Value: in}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeEngineMap is the engine from an already-parsed map (as the poller passes).
func BenchmarkEncodeEngineMap(b *testing.B) {
	e := newTestEngine(b, nil, nil)
	s := Spec{Backend: "avro_local", Schema: "Bench", Namespace: "com.acme", Wire: "raw"}
	var m map[string]any
	d := json.NewDecoder(stringsReader(benchJSON))
	d.UseNumber()
	_ = d.Decode(&m)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := e.Encode(ctx, s, Message{Value: m}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeCodec is bare goavro: Avro binary to a native Go map.
func BenchmarkDecodeCodec(b *testing.B) {
	c, native := benchCodec(b)
	bin, _ := c.BinaryFromNative(nil, native)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, err := c.NativeFromBinary(bin); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeCodecJSON is goavro binary to Avro JSON text.
func BenchmarkDecodeCodecJSON(b *testing.B) {
	c, native := benchCodec(b)
	bin, _ := c.BinaryFromNative(nil, native)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		n, _, err := c.NativeFromBinary(bin)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.TextualFromNative(nil, n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeCodecToJSON is the fair reference for the engine's decode:
// goavro alone from Avro binary to the same natural JSON text:
// NativeFromBinary, unwrap the union fields, json.Marshal.
func BenchmarkDecodeCodecToJSON(b *testing.B) {
	c, native := benchCodec(b)
	bin, _ := c.BinaryFromNative(nil, native)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		n, _, err := c.NativeFromBinary(bin)
		if err != nil {
			b.Fatal(err)
		}
		m := n.(map[string]any)
		for _, f := range [...]string{"category", "note"} {
			if u, ok := m[f].(map[string]any); ok {
				m[f] = u["string"]
			}
		}
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEngine is the engine: bare Avro to natural JSON.
func BenchmarkDecodeEngine(b *testing.B) {
	e := newTestEngine(b, nil, nil)
	s := Spec{Backend: "avro_local", Schema: "Bench", Namespace: "com.acme", Wire: "raw"}
	ctx := context.Background()
	out, err := e.Encode(ctx, s, Message{Value: []byte(benchJSON)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := e.Decode(ctx, s, nil, out.Value); err != nil {
			b.Fatal(err)
		}
	}
}

func stringsReader(s string) *stringReader { return &stringReader{s: s} }

type stringReader struct {
	s string
	i int
}

func (r *stringReader) Read(p []byte) (int, error) {
	if r.i >= len(r.s) {
		return 0, errEOF
	}
	n := copy(p, r.s[r.i:])
	r.i += n
	return n, nil
}

var errEOF = io.EOF
