package avro

import (
	"os"
	"testing"

	hamba "github.com/hamba/avro/v2"
)

// The parser against hamba/avro's on the same schema documents, each parse
// with a fresh table of names (a schema file read once per process, or a
// registry schema per id).
func benchDocs(b *testing.B) map[string][]byte {
	b.Helper()
	docs := map[string][]byte{}
	for name, p := range map[string]string{
		"Bench": "../../testdata/schemas/com/acme/Bench.avsc",
		"Event": "../../testdata/schemas/com/acme/Event.avsc",
	} {
		d, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		docs[name] = d
	}
	return docs
}

func BenchmarkParse(b *testing.B) {
	for name, d := range benchDocs(b) {
		b.Run(name+"/deimos", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := new(Parser).Parse(name, d); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/hamba", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := hamba.ParseBytesWithCache(d, "", &hamba.SchemaCache{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
