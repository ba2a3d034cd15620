package encode

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/pkg/config"
)

// lineSchema has a field of each shape LineEncoder writes itself, and some
// it leaves to fieldValue or to Encode.
const lineSchema = `{"type":"record","name":"Line","namespace":"com.line","fields":[
 {"name":"id","type":"long"},
 {"name":"i","type":"int","default":7},
 {"name":"s","type":"string","default":"dflt"},
 {"name":"d","type":"double"},
 {"name":"f","type":"float","default":1.5},
 {"name":"ok","type":"boolean","default":false},
 {"name":"opt","type":["null","string"],"default":null},
 {"name":"tags","type":{"type":"array","items":"string"},"default":[]},
 {"name":"nums","type":{"type":"array","items":"long"},"default":[]},
 {"name":"ds","type":{"type":"array","items":"double"},"default":[]},
 {"name":"bs","type":{"type":"array","items":"boolean"},"default":[]},
 {"name":"multi","type":["null","long","string","boolean"],"default":null},
 {"name":"message_id","type":"string","default":""},
 {"name":"timestamp","type":["null","string"],"default":null}
]}`

// mixedSchema's fields after the first few are shapes Append leaves to
// Encode (logical types, enums, bytes, fixed, maps, records...).
const mixedSchema = `{"type":"record","name":"Mixed","namespace":"com.line","fields":[
 {"name":"id","type":"long"},
 {"name":"s","type":"string","default":"dflt"},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"},"default":0},
 {"name":"color","type":{"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE"]},"default":"RED"},
 {"name":"raw","type":"bytes","default":""},
 {"name":"hash","type":{"type":"fixed","name":"Hash","size":4},"default":"abcd"},
 {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2},"default":"0"},
 {"name":"attrs","type":{"type":"map","values":"long"},"default":{}},
 {"name":"sdef","type":["string","null"],"default":"x"},
 {"name":"sub","type":["null",{"type":"record","name":"Sub","fields":[{"name":"a","type":"string"}]}],"default":null}
]}`

// lineValues are JSON texts for each field: natural ones first, then edge
// cases (escapes, big numbers, wrong kinds, nulls...).
var lineValues = map[string][]string{
	"id":    {"1", "-1", "0", "-0", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "1.0", "1e2", `"5"`, "null", "01", "-", "123456789"},
	"i":     {"3", "-2147483648", "2147483647", "2147483648", "-2147483649", "1.5", `"3"`, "null"},
	"s":     {`"plain"`, `""`, `"é ü 日本 😀"`, `"a\"b"`, `"tab\t"`, `"\u00e9"`, `"\ud83d\ude00"`, `"\ud800"`, "\"\xff\"", "\"ctl\x01\"", "5", "null", `"` + strings.Repeat("x", 300) + `"`},
	"d":     {"1.25", "0", "-0.0", "1e400", "12345678901234567890", "1E-7", "3", "-1.5e10", `"1.5"`, "null", ".5", "1.", "true"},
	"f":     {"1.5", "3.4028235e39", "16777217", "0.1", "-2", `"x"`},
	"ok":    {"true", "false", "tru", "null", `"true"`, "1"},
	"opt":   {"null", `"x"`, `""`, `"q\"uote"`, "5", `{"string":"x"}`},
	"tags":  {`[]`, `["a","b"]`, `[ "a" , "b" ]`, `["a",1]`, `["\u00e9"]`, `[` + strings.Repeat(`"t",`, 70) + `"t"]`, `["a"`, `["a",]`, "null", `"a"`},
	"nums":  {`[]`, `[1,-2,3]`, `[1.5]`, `[9223372036854775808]`, `[` + strings.Repeat(`1,`, 100) + `1]`, `[null]`},
	"ds":    {`[]`, `[1.5,2,-0.0]`, `[1e400]`, `["x"]`},
	"bs":    {`[]`, `[true,false]`, `[null]`},
	"ts":    {"1714979289000", `"2024-05-06T07:08:09Z"`, "-1", "1.5", `"bad"`},
	"color": {`"RED"`, `"BLUE"`, `"PINK"`, "0"},
	"raw":   {`""`, `"\u0001\u00ff"`, `"abc"`, `"\u0100"`},
	"hash":  {`"abcd"`, `"abc"`, `"\u00ff\u00ff\u00ff\u00ff"`},
	"dec":   {`"12.34"`, `12.3`, `"1.234"`, `"x"`},
	"attrs": {`{}`, `{"z":1,"a":2}`, `{"z":1,"z":2}`, `{"a":"x"}`},
	"multi": {"null", "5", `"s"`, "true", "1.5", `{"long":3}`},
	"sdef":  {`"x"`, "null", "3"},
	"sub":   {"null", `{"a":"x"}`, `{"a":1}`, `{"b":"x"}`},
	// message_id and timestamp are filled in by Encode when blank
	"message_id": {`"m-1"`, `""`, `" "`, "null", `"\u006d"`, "3"},
	"timestamp":  {`"2024-01-01 00:00:00 UTC"`, "null", `" "`, `"t"`},
	// Bench's other fields
	"name": {`"w"`, `"\u00e9"`, "1"}, "price": {"19.99", "20", `"x"`}, "qty": {"3", "3000000000"},
	"active": {"true", "false", "null"}, "sku": {`"W-1"`, `""`}, "category": {`"tools"`, "null", "2"},
	"weight": {"1.5", "1e39"}, "created": {"1714979289000", "-5"}, "note": {"null", `"n"`},
}

func lineEngine(t testing.TB) (*Engine, context.Context) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "com", "line"), 0o755); err != nil {
		t.Fatal(err)
	}
	for n, text := range map[string]string{"Line": lineSchema, "Mixed": mixedSchema} {
		if err := os.WriteFile(filepath.Join(dir, "com", "line", n+".avsc"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"Bench", "Widget", "Dimensions", "Event"} {
		b, err := os.ReadFile(filepath.Join(schemaDir, "com", "acme", n+".avsc"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "com", "acme"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "com", "acme", n+".avsc"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &config.Config{Schema: config.Schema{Path: dir, KeySubject: "prefixed", Registry: config.Registry{URL: "unused"}}}
	cfg.Producers.TopicPrefix = "pre."
	return newTestEngine(t, cfg, registryClient(t)), context.Background()
}

// lineDocs are JSON lines for s: mostly its fields in order with natural
// values, else with edge-case values, fields dropped, repeated, swapped,
// unknown fields and odd whitespace.
func lineDocs(r *rand.Rand, fields []string, n int) []string {
	ws := []string{"", "", "", " ", "\t", "\n ", "\r\n"}
	var docs []string
	for len(docs) < n {
		edgy := r.Intn(3) == 0
		var parts []string
		for _, f := range fields {
			vs := lineValues[f]
			v := vs[0]
			if edgy && r.Intn(4) == 0 {
				v = vs[r.Intn(len(vs))]
			}
			if edgy && r.Intn(30) == 0 {
				continue // missing
			}
			w := func() string {
				if edgy {
					return ws[r.Intn(len(ws))]
				}
				return ""
			}
			parts = append(parts, w()+fmt.Sprintf("%q", f)+w()+":"+w()+v+w())
			if edgy && r.Intn(40) == 0 {
				parts = append(parts, fmt.Sprintf("%q:%s", f, vs[r.Intn(len(vs))])) // repeated
			}
		}
		if edgy && r.Intn(20) == 0 && len(parts) > 1 {
			i := r.Intn(len(parts) - 1)
			parts[i], parts[i+1] = parts[i+1], parts[i]
		}
		if edgy && r.Intn(20) == 0 {
			parts = append(parts, `"unknown":1`)
		}
		if edgy && r.Intn(30) == 0 {
			parts = append(parts[:0:0], append([]string{`"payload_key":"pk"`}, parts...)...)
		}
		if edgy && r.Intn(40) == 0 && len(parts) > 0 {
			parts[0] = strings.Replace(parts[0], `"`+fields[0]+`"`, `"\u00`+fmt.Sprintf("%x", fields[0][0])+fields[0][1:]+`"`, 1) // escaped name
		}
		d := "{" + strings.Join(parts, ",") + "}"
		if edgy && r.Intn(20) == 0 {
			d = []string{" " + d + " ", d + " x", d[:len(d)-1], "[" + d + "]", d + "\t"}[r.Intn(5)]
		}
		docs = append(docs, d)
	}
	return append(docs, "{}", " ", "null", `"x"`, "[]", "{", `{"id":1,}`)
}

// LineEncoder.Append gives exactly what Encode gives (key, value, partition
// key, topic) for every line it takes, and takes the common ones; the lines
// it leaves are encoded (or refused) by Encode as before.
func TestLineEncoderMatchesEncode(t *testing.T) {
	e, ctx := lineEngine(t)
	lineFields := []string{"id", "i", "s", "d", "f", "ok", "opt", "tags", "nums", "ds", "bs", "multi", "message_id", "timestamp"}
	mixedFields := []string{"id", "s", "ts", "color", "raw", "hash", "dec", "attrs", "sdef", "sub"}
	benchFields := []string{"id", "name", "price", "qty", "active", "sku", "category", "weight", "created", "note"}
	cases := []struct {
		spec   Spec
		fields []string
		fast   bool // a LineEncoder exists
		mixed  bool // it takes few lines
	}{
		{Spec{Topic: "l1", Backend: "avro_schema_registry", Schema: "Line", Namespace: "com.line", KeyConfig: config.KeyConfig{Field: "id"}}, lineFields, true, false},
		{Spec{Topic: "l2", Backend: "avro_schema_registry", Schema: "Line", Namespace: "com.line", KeyConfig: config.KeyConfig{Field: "s"}}, lineFields, true, false},
		{Spec{Topic: "l3", Backend: "avro_schema_registry", Schema: "Line", Namespace: "com.line", KeyConfig: config.KeyConfig{Field: "i"}}, lineFields, true, false},
		{Spec{Topic: "l4", Backend: "avro_schema_registry", Schema: "Line", Namespace: "com.line"}, lineFields, true, false},
		{Spec{Topic: "l5", Backend: "avro_schema_registry", Schema: "Line", Namespace: "com.line", KeyConfig: config.KeyConfig{None: true}}, lineFields, true, false},
		{Spec{Topic: "l6", Backend: "avro_schema_registry", Schema: "Line", Namespace: "com.line", KeyConfig: config.KeyConfig{Field: "id"}, Wire: "raw"}, lineFields, true, false},
		{Spec{Topic: "l7", Backend: "avro_local", Schema: "Line", Namespace: "com.line", Wire: "raw"}, lineFields, true, false},
		{Spec{Topic: "b1", Backend: "avro_schema_registry", Schema: "Bench", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "id"}}, benchFields, true, false},
		{Spec{Topic: "b2", Backend: "avro_schema_registry", Schema: "Bench", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "sku"}}, benchFields, true, false},
		{Spec{Topic: "m1", Backend: "avro_schema_registry", Schema: "Mixed", Namespace: "com.line", KeyConfig: config.KeyConfig{Field: "id"}}, mixedFields, true, true},
		// no fast way: these keys and wires are Encode's alone
		{Spec{Topic: "n1", Backend: "avro_schema_registry", Schema: "Line", Namespace: "com.line", KeyConfig: config.KeyConfig{Field: "d"}}, lineFields, false, false},
		{Spec{Topic: "n2", Backend: "avro_schema_registry", Schema: "Line", Namespace: "com.line", KeyConfig: config.KeyConfig{Plain: true}}, lineFields, false, false},
		{Spec{Topic: "n3", Backend: "avro_schema_registry", Schema: "Line", Namespace: "com.line", KeyConfig: config.KeyConfig{Schema: "long"}}, lineFields, false, false},
		{Spec{Topic: "n4", Backend: "avro_local", Schema: "Line", Namespace: "com.line"}, lineFields, false, false},
		{Spec{Topic: "n5", Backend: "avro_validation", Schema: "Line", Namespace: "com.line"}, lineFields, false, false},
		{Spec{Topic: "n6", Backend: "json", Schema: "Line", Namespace: "com.line"}, lineFields, false, false},
		{Spec{Topic: "n7", Backend: "avro_schema_registry", Schema: "Line", Namespace: "com.line", KeyConfig: config.KeyConfig{Field: "message_id"}}, lineFields, false, false},
		{Spec{Topic: "n8", Backend: "avro_schema_registry", Schema: "Line", Namespace: "com.line", KeyConfig: config.KeyConfig{Field: "sub.a"}}, lineFields, false, false},
	}
	r := rand.New(rand.NewSource(17))
	for _, c := range cases {
		l := e.NewLineEncoder(c.spec)
		if (l != nil) != c.fast {
			t.Fatalf("%s: NewLineEncoder gave %v, want a fast way: %v", c.spec.Topic, l, c.fast)
		}
		if l == nil {
			continue
		}
		took, left := 0, 0
		slab := make([]byte, 0, 64)
		for _, d := range lineDocs(r, c.fields, 1500) {
			before := len(slab)
			var got LineResult
			var ok bool
			slab, got, ok = l.Append(slab, []byte(d))
			want, werr := e.Encode(ctx, c.spec, Message{Value: Text(d)})
			if !ok {
				if len(slab) != before {
					t.Fatalf("%s %s: a line left to Encode grew the buffer", c.spec.Topic, d)
				}
				left++
				continue
			}
			took++
			if werr != nil {
				t.Fatalf("%s %s: Append took a line Encode refuses: %v", c.spec.Topic, d, werr)
			}
			if got.Topic != want.Topic || !bytes.Equal(got.Value, want.Value) || !bytes.Equal(got.Key, want.Key) ||
				!bytes.Equal(got.PartitionKey, want.PartitionKey) || (got.Key == nil) != (want.Key == nil) || (got.PartitionKey == nil) != (want.PartitionKey == nil) {
				t.Fatalf("%s %s:\nAppend %s key %x value %x pk %q\nEncode %s key %x value %x pk %q",
					c.spec.Topic, d, got.Topic, got.Key, got.Value, got.PartitionKey, want.Topic, want.Key, want.Value, want.PartitionKey)
			}
		}
		t.Logf("%s: %d lines taken, %d left to Encode", c.spec.Topic, took, left)
		// the first line registers the schemas through Encode; most natural lines
		// are taken, and the edge cases go to Encode
		if (!c.mixed && took < 700) || left < 100 {
			t.Fatalf("%s: %d lines taken, %d left to Encode", c.spec.Topic, took, left)
		}
	}
}

// The parts Append returns are capped: appending to one does not write
// into the next.
func TestLineEncoderPartsAreCapped(t *testing.T) {
	e, ctx := lineEngine(t)
	s := Spec{Topic: "b1", Backend: "avro_schema_registry", Schema: "Bench", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "id"}}
	if _, err := e.Encode(ctx, s, Message{Value: Text(benchJSON)}); err != nil {
		t.Fatal(err)
	}
	l := e.NewLineEncoder(s)
	_, r, ok := l.Append(make([]byte, 0, 4096), []byte(benchJSON))
	if !ok {
		t.Fatal("the bench line was not taken")
	}
	for _, p := range [][]byte{r.Value, r.Key, r.PartitionKey} {
		if len(p) == 0 || cap(p) != len(p) {
			t.Fatalf("part %x: len %d cap %d", p, len(p), cap(p))
		}
	}
}

// FuzzLineEncoder: on any line, Append either leaves it to Encode or gives
// Encode's bytes.
func FuzzLineEncoder(f *testing.F) {
	for _, d := range lineDocs(rand.New(rand.NewSource(1)), []string{"id", "name", "price", "qty", "active", "sku", "category", "weight", "created", "note"}, 50) {
		f.Add(d)
	}
	f.Add(benchJSON)
	e, ctx := lineEngine(f)
	s := Spec{Topic: "b1", Backend: "avro_schema_registry", Schema: "Bench", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "sku"}}
	if _, err := e.Encode(ctx, s, Message{Value: Text(benchJSON)}); err != nil {
		f.Fatal(err) // registers the schemas
	}
	f.Fuzz(func(t *testing.T, d string) {
		l := e.NewLineEncoder(s)
		_, got, ok := l.Append(nil, []byte(d))
		if !ok {
			return
		}
		want, werr := e.Encode(ctx, s, Message{Value: Text(d)})
		if werr != nil {
			t.Fatalf("%q: Append took a line Encode refuses: %v", d, werr)
		}
		if !bytes.Equal(got.Value, want.Value) || !bytes.Equal(got.Key, want.Key) || !bytes.Equal(got.PartitionKey, want.PartitionKey) {
			t.Fatalf("%q:\nAppend key %x value %x pk %q\nEncode key %x value %x pk %q", d, got.Key, got.Value, got.PartitionKey, want.Key, want.Value, want.PartitionKey)
		}
	})
}

// parseInt64 and numberOf's own paths give strconv's answers on JSON
// number tokens.
func TestNumberTokensMatchStrconv(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	toks := []string{"0", "-0", "0.0", "-0.0", "1", "-1", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
		"999999999999999999", "-999999999999999999", "1000000000000000000", "0.1", "0.3", "123.25", "-123.25", "999999999999999.9",
		"99999999999999.99", "0.000000000000001", "1.7976931348623157", "4.9", "1e2", "1.5e-7", "123456789012345678901234567890",
		"0.1234567890123456", "12345678.12345678", "1.000000000000001", "9007199254740993", "9007199254740993.0"}
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + r.Intn(10))
		}
		if n > 1 && b[0] == '0' {
			b[0] = '1'
		}
		return string(b)
	}
	for i := 0; i < 20000; i++ {
		s := digits(1 + r.Intn(19))
		if r.Intn(2) == 0 {
			s += "." + digits(1+r.Intn(17))
		}
		if r.Intn(2) == 0 {
			s = "-" + s
		}
		toks = append(toks, s)
	}
	for _, tok := range toks {
		wantI, ierr := strconv.ParseInt(tok, 10, 64)
		gotI, ok := parseInt64([]byte(tok))
		if ok != (ierr == nil) || (ok && gotI != wantI) {
			t.Fatalf("parseInt64(%s) = %d %v, strconv %d %v", tok, gotI, ok, wantI, ierr)
		}
		want := float64(wantI)
		if ierr != nil {
			var err error
			if want, err = strconv.ParseFloat(tok, 64); err != nil {
				t.Fatal(err)
			}
		}
		got, ok := numberOf([]byte(tok))
		if !ok || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("numberOf(%s) = %v (%x), want %v (%x)", tok, got, math.Float64bits(got), want, math.Float64bits(want))
		}
	}
}

// BenchmarkLineEncoder is what produce does per line of
// scripts/bench/produce-consume.sh when the fields come in schema order.
func BenchmarkLineEncoder(b *testing.B) {
	e, ctx := lineEngine(b)
	s := Spec{Topic: "b1", Backend: "avro_schema_registry", Schema: "Bench", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "id"}}
	if _, err := e.Encode(ctx, s, Message{Value: Text(benchJSON)}); err != nil {
		b.Fatal(err)
	}
	l := e.NewLineEncoder(s)
	in := []byte(benchJSON)
	buf := make([]byte, 0, 1<<16)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if len(buf) > 1<<15 {
			buf = buf[:0]
		}
		var ok bool
		if buf, _, ok = l.Append(buf, in); !ok {
			b.Fatal("not taken")
		}
	}
}
