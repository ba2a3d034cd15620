package encode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/config"
)

// DecodeAppend gives exactly Decode's result and error (and AppendJSON the
// same parts, for the records it serves) for every spec and every kind of input (valid, corrupted, unknown ids, other framings, a
// registered writer schema that differs from the local reader), and only
// appends to dst.
func TestDecodeAppendMatchesDecode(t *testing.T) {
	reg := registryClient(t)
	cfg := testCfg()
	cfg.Schema.Registry = config.Registry{URL: "unused"}
	e := newTestEngine(t, cfg, reg)
	noReg := newTestEngine(t, testCfg(), nil)
	ctx := context.Background()

	specs := []Spec{
		{Topic: "w1", Backend: "avro_schema_registry", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "id"}},
		{Topic: "w2", Backend: "avro_schema_registry", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "name"}},
		{Topic: "w3", Backend: "avro_schema_registry", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{Plain: true}},
		{Topic: "w4", Backend: "avro_schema_registry", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{None: true}},
		{Topic: "w5", Backend: "avro_schema_registry", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{Schema: "WidgetKey"}},
		{Topic: "w6", Backend: "avro_schema_registry", Schema: "Widget", Namespace: "com.acme"},
		{Topic: "w7", Backend: "avro_schema_registry", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "id"}, Wire: "raw"},
		{Topic: "w8", Backend: "avro_local", Schema: "Widget", Namespace: "com.acme", Wire: "raw"},
		{Topic: "w9", Backend: "avro_validation", Schema: "Widget", Namespace: "com.acme"},
		{Topic: "b1", Backend: "avro_schema_registry", Schema: "Bench", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "id"}},
		{Topic: "z"}, // not configured: everything auto-detected
	}
	docs := []string{
		`{"id":1,"name":"w","price":1.5}`,
		`{"id":-77,"name":"ü \"q\"\n\u2028","price":0,"active":false,"tags":["a","b"],"color":"RED","dimensions":{"width":1,"height":2.5},"amount":"12.34","made_on":"2024-02-29","updated_at":1714979289000,"ref":"123e4567-e89b-12d3-a456-426614174000","message_id":"m","timestamp":"t"}`,
		benchJSON,
	}
	keys := []any{nil, "k1", json.Number("5")}
	type pair struct{ key, value []byte }
	var pairs []pair
	for _, s := range specs {
		for i, d := range docs {
			out, err := e.Encode(ctx, s, Message{Value: json.RawMessage(d), Key: keys[i%len(keys)]})
			if err == nil {
				pairs = append(pairs, pair{out.Key, out.Value})
			}
		}
	}
	// a registered writer schema that is not the local reader schema
	// (the general path resolves it; the fast path must step aside)
	old := `{"type":"record","name":"Widget","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"},{"name":"price","type":"double"}]}`
	ss, err := reg.CreateSchema(ctx, "old-widget-value", sr.Schema{Schema: old})
	if err != nil {
		t.Fatal(err)
	}
	pairs = append(pairs, pair{nil, ConfluentFrame(ss.ID, nil, []byte{0x02, 0x02, 'x', 0, 0, 0, 0, 0, 0, 0xf8, 0x3f})})
	if len(pairs) < 20 {
		t.Fatalf("only %d encoded pairs", len(pairs))
	}
	r := rand.New(rand.NewSource(5))
	mutate := func(b []byte) [][]byte {
		if b == nil {
			return [][]byte{nil}
		}
		out := [][]byte{b, {}, {0}, {0, 0, 0}, {0, 0, 0, 0x7f, 0x7f, 1}, []byte(`{"a":1}`), []byte("plain text"), {0xff, 0xfe}}
		out = append(out, append(append([]byte{}, b...), 1, 2))
		if len(b) > 6 {
			out = append(out, b[:len(b)-1], b[:6])
		}
		for i := 0; i < 6; i++ {
			c := append([]byte{}, b...)
			j := 5 + r.Intn(max(1, len(c)-5))
			if j < len(c) {
				c[j] ^= byte(1 + r.Intn(255))
			}
			out = append(out, c)
		}
		return out
	}
	n, fastN := 0, 0
	for _, eng := range []*Engine{e, noReg} {
		for _, s := range specs {
			for _, p := range pairs {
				for _, k := range append(mutate(p.key), nil) {
					for _, v := range mutate(p.value) {
						want, werr := eng.Decode(ctx, s, k, v)
						prefix := []byte("PREFIX")
						dst := append(make([]byte, 0, 16), prefix...)
						got, out, gerr := eng.DecodeAppend(ctx, s, k, v, dst)
						n++
						if fmt.Sprint(gerr) != fmt.Sprint(werr) {
							t.Fatalf("%s key %x value %x:\nappend error %v\ndecode error %v", s.Topic, k, v, gerr, werr)
						}
						if !bytes.HasPrefix(out, prefix) {
							t.Fatalf("%s: dst prefix lost: %q", s.Topic, out)
						}
						fast := len(out) > len(prefix)
						if fast {
							fastN++
						}
						// AppendJSON serves exactly the records the fast path does,
						// with the same parts
						jk, jv, jout, ok := eng.AppendJSON(ctx, eng.FastSpec(s), k, v, append([]byte(nil), prefix...))
						if ok != fast || !ok && (string(jout) != string(prefix) || jk != nil || jv != nil) ||
							ok && (!bytes.Equal(jk, got.Key) || !bytes.Equal(jv, got.Value) || (jk == nil) != (got.Key == nil) || (jv == nil) != (got.Value == nil)) {
							t.Fatalf("%s key %x value %x: AppendJSON %q %q %v (%q), DecodeAppend %q %q fast %v", s.Topic, k, v, jk, jv, ok, jout, got.Key, got.Value, fast)
						}
						if werr != nil {
							continue
						}
						if !reflect.DeepEqual(got, want) {
							t.Fatalf("%s key %x value %x:\nappend %+v\ndecode %+v", s.Topic, k, v, got, want)
						}
						if fast && (got.Value != nil && cap(got.Value) != len(got.Value) || got.Key != nil && cap(got.Key) != len(got.Key)) {
							t.Fatalf("%s: parts not capacity-limited", s.Topic)
						}
					}
				}
			}
		}
	}
	if fastN < 200 {
		t.Fatalf("fast path served %d of %d cases", fastN, n)
	}
	t.Logf("%d cases, %d by the fast path", n, fastN)
}

// BenchmarkDecodeAppendKeyed is what consume does per record of the
// benchmark (scripts/bench/produce-consume.sh): registry framing, key field.
func BenchmarkDecodeAppendKeyed(b *testing.B) {
	e := newTestEngine(b, testCfg(), registryClient(b))
	s := Spec{Topic: "bench", Backend: "avro_schema_registry", Schema: "Bench", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "id"}}
	ctx := context.Background()
	enc, err := e.Encode(ctx, s, Message{Value: json.RawMessage(benchJSON)})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := e.Decode(ctx, s, enc.Key, enc.Value); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeAppend", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for i := 0; i < b.N; i++ {
			var err error
			if _, buf, err = e.DecodeAppend(ctx, s, enc.Key, enc.Value, buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
