package encode

// References from github.com/hamba/avro/v2, measured beside the engine in
// the same run (scripts/bench/encode.sh prints the ratios; docs/architecture.md
// records the evaluation). hamba is schema-driven like the engine when given
// Go maps (its struct path needs types generated per schema, which deimos,
// loading schemas at run time, cannot have; BenchmarkEncodeHambaStruct shows
// that path for information).

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	hamba "github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"

	"github.com/deimos-cli/deimos/pkg/avro"
)

func hambaBench(b *testing.B) hamba.Schema {
	b.Helper()
	text, err := os.ReadFile(schemaDir + "/com/acme/Bench.avsc")
	if err != nil {
		b.Fatal(err)
	}
	s, err := hamba.ParseWithCache(string(text), "", &hamba.SchemaCache{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// hambaNative turns the natural JSON record into the Go values hamba's map
// encoder takes: ints and longs as Go ints, floats as float32, union values
// as {"type": value}.
func hambaNative(m map[string]any) {
	m["id"] = int64(m["id"].(float64))
	m["qty"] = int(m["qty"].(float64))
	m["created"] = int64(m["created"].(float64))
	m["weight"] = float32(m["weight"].(float64))
	for _, f := range [...]string{"category", "note"} {
		if v := m[f]; v != nil {
			m[f] = map[string]any{"string": v}
		}
	}
}

// BenchmarkEncodeHambaFromJSON is what a user of hamba needs to turn the
// natural JSON text into Avro binary: json.Unmarshal, Go types and unions
// hamba's way, Marshal.
func BenchmarkEncodeHambaFromJSON(b *testing.B) {
	s := hambaBench(b)
	in := []byte(benchJSON)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var m map[string]any
		if err := json.Unmarshal(in, &m); err != nil {
			b.Fatal(err)
		}
		hambaNative(m)
		if _, err := hamba.Marshal(s, m); err != nil {
			b.Fatal(err)
		}
	}
}

type hambaBenchRecord struct {
	ID       int64   `avro:"id" json:"id"`
	Name     string  `avro:"name" json:"name"`
	Price    float64 `avro:"price" json:"price"`
	Qty      int32   `avro:"qty" json:"qty"`
	Active   bool    `avro:"active" json:"active"`
	SKU      string  `avro:"sku" json:"sku"`
	Category *string `avro:"category" json:"category"`
	Weight   float32 `avro:"weight" json:"weight"`
	Created  int64   `avro:"created" json:"created"`
	Note     *string `avro:"note" json:"note"`
}

// BenchmarkEncodeHambaStruct is hamba's struct path from the same JSON text
// (a Go type written for this one schema).
func BenchmarkEncodeHambaStruct(b *testing.B) {
	s := hambaBench(b)
	in := []byte(benchJSON)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var r hambaBenchRecord
		if err := json.Unmarshal(in, &r); err != nil {
			b.Fatal(err)
		}
		if _, err := hamba.Marshal(s, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func hambaBenchBinary(b *testing.B) []byte {
	b.Helper()
	e := newTestEngine(b, nil, nil)
	out, err := e.Encode(context.Background(), Spec{Backend: "avro_local", Schema: "Bench", Namespace: "com.acme", Wire: "raw"}, Message{Value: []byte(benchJSON)})
	if err != nil {
		b.Fatal(err)
	}
	return out.Value
}

// BenchmarkDecodeHambaToJSON is hamba from Avro binary to the natural JSON
// text: Unmarshal into a map, unwrap the unions, json.Marshal.
func BenchmarkDecodeHambaToJSON(b *testing.B) {
	s := hambaBench(b)
	bin := hambaBenchBinary(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var m map[string]any
		if err := hamba.Unmarshal(s, bin, &m); err != nil {
			b.Fatal(err)
		}
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

// benchOCF is a container file of one Bench record as avro_local writes it.
func benchOCF(b *testing.B) []byte {
	b.Helper()
	e := newTestEngine(b, nil, nil)
	out, err := e.Encode(context.Background(), Spec{Backend: "avro_local", Schema: "Bench", Namespace: "com.acme"}, Message{Value: []byte(benchJSON)})
	if err != nil {
		b.Fatal(err)
	}
	return out.Value
}

// BenchmarkOCFDecodeEngine is the engine reading a one-record container
// file (the avro_local wire) to JSON; its writer schema is parsed once and
// cached, as for a topic's stream of files.
func BenchmarkOCFDecodeEngine(b *testing.B) {
	e := newTestEngine(b, nil, nil)
	f := benchOCF(b)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := e.Decode(ctx, Spec{}, nil, f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOCFDecodeHamba is hamba's container-file decoder on the same
// file, to JSON; its schema cache is kept between files.
func BenchmarkOCFDecodeHamba(b *testing.B) {
	f := benchOCF(b)
	cache := &hamba.SchemaCache{}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		d, err := ocf.NewDecoder(bytes.NewReader(f), ocf.WithDecoderSchemaCache(cache))
		if err != nil {
			b.Fatal(err)
		}
		for d.HasNext() {
			var m map[string]any
			if err := d.Decode(&m); err != nil {
				b.Fatal(err)
			}
			for _, k := range [...]string{"category", "note"} {
				if u, ok := m[k].(map[string]any); ok {
					m[k] = u["string"]
				}
			}
			if _, err := json.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
		if err := d.Error(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOCFEncodeEngine writes one record as a container file (avro_local).
func BenchmarkOCFEncodeEngine(b *testing.B) {
	e := newTestEngine(b, nil, nil)
	s := Spec{Backend: "avro_local", Schema: "Bench", Namespace: "com.acme"}
	in := []byte(benchJSON)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := e.Encode(ctx, s, Message{Value: in}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOCFEncodeHamba is hamba's container-file writer for the same
// record from the same JSON text (json.Unmarshal, hamba's Go types).
func BenchmarkOCFEncodeHamba(b *testing.B) {
	s := hambaBench(b)
	in := []byte(benchJSON)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var m map[string]any
		if err := json.Unmarshal(in, &m); err != nil {
			b.Fatal(err)
		}
		hambaNative(m)
		var buf bytes.Buffer
		enc, err := ocf.NewEncoderWithSchema(s, &buf)
		if err != nil {
			b.Fatal(err)
		}
		if err := enc.Encode(m); err != nil {
			b.Fatal(err)
		}
		if err := enc.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchReader is a later version of Bench: qty widened to long, price read
// as double still, a field added with a default, note dropped.
const benchReader = `{"type": "record", "name": "Bench", "namespace": "com.acme", "fields": [
  {"name": "id", "type": "long"}, {"name": "name", "type": "string"}, {"name": "price", "type": "double"},
  {"name": "qty", "type": "long"}, {"name": "active", "type": "boolean"}, {"name": "sku", "type": "string"},
  {"name": "category", "type": ["null", "string"], "default": null}, {"name": "weight", "type": "double"},
  {"name": "created", "type": "long"}, {"name": "region", "type": "string", "default": "eu"}]}`

// BenchmarkResolveEngine decodes a Bench datum through the reader schema
// benchReader (Avro schema resolution: promotions, a default, a dropped
// field): the engine's path for data whose writer schema differs from the
// local one, both schemas parsed once as the engine caches them.
func BenchmarkResolveEngine(b *testing.B) {
	e := newTestEngine(b, nil, nil)
	w, err := e.localSchema("Bench", "com.acme")
	if err != nil {
		b.Fatal(err)
	}
	r, err := new(avro.Parser).Parse("reader", []byte(benchReader))
	if err != nil {
		b.Fatal(err)
	}
	bin := hambaBenchBinary(b)
	j, err := w.decode(bin, r, false)
	if err != nil {
		b.Fatal(err)
	}
	if !bytes.Contains(j, []byte(`"region":"eu"`)) || bytes.Contains(j, []byte(`"note"`)) {
		b.Fatalf("not resolved: %s", j)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := w.decode(bin, r, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveHamba is hamba's schema resolution on the same data: the
// resolved schema is built once (as the engine caches its schemas), then
// each datum is read through it into a map and written as JSON.
func BenchmarkResolveHamba(b *testing.B) {
	w := hambaBench(b)
	r, err := hamba.ParseWithCache(benchReader, "", &hamba.SchemaCache{})
	if err != nil {
		b.Fatal(err)
	}
	rs, err := hamba.NewSchemaCompatibility().Resolve(r, w)
	if err != nil {
		b.Fatal(err)
	}
	bin := hambaBenchBinary(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var m map[string]any
		if err := hamba.Unmarshal(rs, bin, &m); err != nil {
			b.Fatal(err)
		}
		if u, ok := m["category"].(map[string]any); ok {
			m["category"] = u["string"]
		}
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}
