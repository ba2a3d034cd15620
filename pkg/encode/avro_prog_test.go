package encode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"strconv"
	"testing"

	"github.com/deimos-cli/deimos/pkg/avro"
	"github.com/deimos-cli/deimos/pkg/encode/nesting"
)

// progSchemas cover every type the decode program special-cases and those
// it hands to appendBinaryJSON, nested in each other.
var progSchemas = []string{
	oracleSchema,
	`"string"`, `"long"`, `"int"`, `"double"`, `"float"`, `"boolean"`, `"null"`, `"bytes"`,
	`["null","string"]`, `["string","null","long","double","boolean"]`,
	`{"type":"array","items":"string"}`,
	`{"type":"map","values":["null",{"type":"array","items":"int"}]}`,
	`{"type":"record","name":"Empty","fields":[]}`,
	`{"type":"record","name":"K","fields":[{"name":"id","type":"long"}]}`,
	`{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"]},
	  {"name":"kids","type":{"type":"array","items":"Node"}}]}`,
	`{"type":"record","name":"Deep","fields":[{"name":"a","type":{"type":"array","items":{"type":"array","items":{"type":"map","values":{"type":"record","name":"R","fields":[
	  {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B_","C9"]}},{"name":"f","type":{"type":"fixed","name":"F","size":3}},
	  {"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}},{"name":"d","type":{"type":"int","logicalType":"date"}},
	  {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":20,"scale":4}},
	  {"name":"u","type":{"type":"string","logicalType":"uuid"}},{"name":"x","type":["null","float","E","F"]}]}}}}}]}`,
}

// progStrings are string and bytes data: escapes, control characters,
// invalid UTF-8, multi-byte text, U+2028/U+2029, runs longer than 8 bytes.
var progStrings = []string{
	"", "a", "plain ascii text longer than eight bytes", "q\"uote", `back\slash`, "tab\tnl\ncr\r",
	"\x00\x01\x1f\x7f", "\xff", "ok\xc3", "\xe2\x80\xa8\xe2\x80\xa9", "héllo wörld ✓ 😀", "<&>",
	"0123456789abcdef\"0123456789abcdef\\", "\xed\xa0\x80", "a\u2029b\x80c",
}

// genAvro appends random Avro binary data of t (valid unless r says
// otherwise: the caller corrupts it separately).
func genAvro(b []byte, r *rand.Rand, t *aType, depth int) []byte {
	long := func(v int64) []byte { return binary.AppendVarint(b, v) }
	switch t.Kind {
	case avro.Null:
		return b
	case avro.Boolean:
		return append(b, byte(r.Intn(2)))
	case avro.Int:
		vs := []int64{0, 1, -1, 63, -64, 64, math.MaxInt32, math.MinInt32, r.Int63n(1 << 20)}
		return long(vs[r.Intn(len(vs))])
	case avro.Long:
		vs := []int64{0, 1, -1, 9, 10, math.MaxInt64, math.MinInt64, 1 << 53, -(1 << 53) - 1, r.Int63(), 1714979289000}
		return long(vs[r.Intn(len(vs))])
	case avro.Float:
		vs := []float32{0, -0.0, 1.5, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), math.MaxFloat32, math.SmallestNonzeroFloat32, r.Float32() * 1e10}
		return binary.LittleEndian.AppendUint32(b, math.Float32bits(vs[r.Intn(len(vs))]))
	case avro.Double:
		vs := []float64{0, math.Copysign(0, -1), 7.25, 1e21, 1e-7, math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, 5e-324, r.NormFloat64() * 1e6}
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(vs[r.Intn(len(vs))]))
	case avro.String, avro.Bytes:
		s := progStrings[r.Intn(len(progStrings))]
		if t.Logical == "decimal" && r.Intn(2) == 0 {
			s = string([]byte{byte(r.Intn(256)), byte(r.Intn(256)), 7})
		}
		b = long(int64(len(s)))
		return append(b, s...)
	case avro.Fixed:
		for i := 0; i < t.Size; i++ {
			b = append(b, "ab\x00\xff\""[r.Intn(5)])
		}
		return b
	case avro.Enum:
		return long(int64(r.Intn(len(t.Symbols))))
	case avro.Union:
		i := r.Intn(len(t.Branches))
		if depth > 6 {
			for j, br := range t.Branches { // end recursion
				if br.Kind == avro.Null {
					i = j
				}
			}
		}
		b = long(int64(i))
		return genAvro(b, r, t.Branches[i], depth)
	case avro.Record:
		for _, f := range t.Fields {
			b = genAvro(b, r, f.Type, depth+1)
		}
		return b
	case avro.Array, avro.Map:
		n := r.Intn(4)
		if depth > 6 {
			n = 0
		}
		if n > 0 {
			var items []byte
			for i := 0; i < n; i++ {
				if t.Kind == avro.Map {
					k := progStrings[r.Intn(len(progStrings))]
					items = append(binary.AppendVarint(items, int64(len(k))), k...)
					items = genAvro(items, r, t.Values, depth+1)
				} else {
					items = genAvro(items, r, t.Items, depth+1)
				}
			}
			if r.Intn(2) == 0 {
				b = long(int64(n))
			} else { // negative count with the block's size
				b = long(-int64(n))
				b = binary.AppendVarint(b, int64(len(items)))
			}
			b = append(b, items...)
		}
		return binary.AppendVarint(b, 0)
	}
	panic("genAvro: " + t.Kind)
}

// progEqual checks that the program and appendBinaryJSON agree on bin: the
// same output and bytes left, or both an error.
func progEqual(t *testing.T, a *avroSchema, bin []byte, depth int) bool {
	t.Helper()
	typ, prog := a.t, a.program()
	if depth > 0 {
		typ, prog = typ.Fields[0].Type, prog.fields[0].node
	}
	wr := avroReader{b: bin}
	want, werr := appendBinaryJSON([]byte("x"), typ, &wr, depth)
	gr := avroReader{b: bin}
	got, gerr := prog.run([]byte("x"), &gr, depth)
	if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) || werr == nil && len(wr.b) != len(gr.b) {
		t.Fatalf("schema %s data %x:\nprogram %q %v (%d left)\ngeneric %q %v (%d left)", a.text, bin, got, gerr, len(gr.b), want, werr, len(wr.b))
	}
	return werr == nil
}

// The decode program gives appendBinaryJSON's output byte for byte, and
// fails exactly where it fails, on random data of every kind of schema,
// valid, truncated and corrupted.
func TestProgramMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewSource(17))
	ok, bad := 0, 0
	for _, text := range progSchemas {
		typ, err := new(avro.Parser).Parse("prog", []byte(text))
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		a, err := newAvroSchema(typ)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		depths := []int{0}
		if typ.Kind == avro.Record && len(typ.Fields) == 1 {
			depths = append(depths, 1) // an unwrapped key
		}
		for i := 0; i < 400; i++ {
			bin := genAvro(nil, r, typ, 0)
			cases := [][]byte{bin, append(append([]byte{}, bin...), 0, 1)}
			if len(bin) > 0 {
				cases = append(cases, bin[:r.Intn(len(bin))])
				c := append([]byte{}, bin...)
				c[r.Intn(len(c))] ^= byte(1 + r.Intn(255))
				cases = append(cases, c)
			}
			for _, c := range cases {
				for _, d := range depths {
					if progEqual(t, a, c, d) {
						ok++
					} else {
						bad++
					}
				}
			}
		}
	}
	if ok < 3000 || bad < 300 {
		t.Fatalf("only %d valid and %d invalid cases", ok, bad)
	}
	t.Logf("%d valid, %d invalid cases", ok, bad)
}

// Data nested past nesting.Max fails in the program as in the generic
// decoder (which then names the error).
func TestProgramNestingLimit(t *testing.T) {
	typ, err := new(avro.Parser).Parse("prog", []byte(`{"type":"record","name":"L","fields":[{"name":"n","type":["null","L"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := newAvroSchema(typ)
	if err != nil {
		t.Fatal(err)
	}
	for _, levels := range []int{nesting.Max - 1, nesting.Max, nesting.Max + 1} {
		var bin []byte
		for i := 1; i < levels; i++ {
			bin = append(bin, 2) // branch 1: another L
		}
		bin = append(bin, 0) // null
		if progEqual(t, a, bin, 0) != (levels <= nesting.Max) {
			t.Fatalf("%d levels: accepted %v", levels, levels <= nesting.Max)
		}
		_, err := a.appendDirect(nil, bin, false)
		if levels > nesting.Max && fmt.Sprint(err) != fmt.Sprint(avroDataErr(typ.Name, nesting.Error{})) {
			t.Fatalf("%d levels: error %v", levels, err)
		}
	}
}

// appendDouble writes what strconv.AppendFloat(f, 'g', -1, 64) writes: on
// decimals of up to 6 places around its shortcut's range, its edges, and
// random doubles.
func TestAppendDoubleMatchesStrconv(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	vals := []float64{1e-4, 1e-5, 0.00011, 999999.9999, 1e6, 999999.99995, 0.1, 0.2, 0.3, 0.1 + 0.2, 7.25, 19.99, 1.005,
		123456.7891, 5e-324, math.MaxFloat64, 1 << 53, 1<<53 + 1, 4503599627370495.5, 0.30000000000000004}
	for i := 0; i < 200000; i++ {
		places := r.Intn(7)
		n := r.Int63n(20_000_000_000) - 10_000_000_000
		vals = append(vals, float64(n)/math.Pow10(places), float64(r.Int63n(2_000_000))/math.Pow10(places),
			r.NormFloat64()*math.Pow10(r.Intn(12)-4), math.Float64frombits(r.Uint64()))
	}
	for _, f := range vals {
		for _, x := range []float64{f, -f} {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				continue
			}
			want := strconv.AppendFloat([]byte("p"), x, 'g', -1, 64)
			if got := appendDouble([]byte("p"), x); !bytes.Equal(got, want) {
				t.Fatalf("%v (%x): got %s, want %s", x, math.Float64bits(x), got, want)
			}
		}
	}
}

// avroReader.varint reads what binary.Varint reads and fails where it
// fails: every length, overlong and truncated encodings.
func TestVarintMatchesBinary(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	var cases [][]byte
	for _, v := range []int64{0, 1, -1, 63, -64, 64, 1 << 20, math.MaxInt64, math.MinInt64, math.MinInt64 + 1} {
		cases = append(cases, binary.AppendVarint(nil, v))
	}
	for i := 0; i < 20000; i++ {
		b := make([]byte, r.Intn(13))
		for j := range b {
			b[j] = byte(r.Intn(256))
			if r.Intn(3) == 0 {
				b[j] |= 0x80
			}
		}
		cases = append(cases, b, binary.AppendVarint(nil, r.Int63()>>r.Intn(63)*int64(1-2*r.Intn(2))))
	}
	for i := 0; i < 12; i++ { // 0xff... of every length, then a last byte
		for _, last := range []byte{0, 1, 2, 0x7f} {
			cases = append(cases, append(bytes.Repeat([]byte{0xff}, i), last))
		}
	}
	for _, b := range cases {
		want, n := binary.Varint(b)
		rd := avroReader{b: b}
		got, ok := rd.varint()
		if ok != (n > 0) || ok && (got != want || len(rd.b) != len(b)-n) {
			t.Fatalf("% x: got %d %v (%d left), binary.Varint %d %d", b, got, ok, len(rd.b), want, n)
		}
	}
}

// BenchmarkProgEvent decodes a record of scripts/bench/produce-consume.sh's
// schema with the program (appendDirect) and with appendBinaryJSON.
func BenchmarkProgEvent(b *testing.B) {
	typ, err := new(avro.Parser).Parse("b", []byte(`{"type":"record","name":"Event","namespace":"com.bench","fields":[
 {"name":"id","type":"long"},{"name":"user","type":"string"},{"name":"kind","type":"string"},
 {"name":"amount","type":"double"},{"name":"note","type":"string"},{"name":"tags","type":{"type":"array","items":"string"}}]}`))
	if err != nil {
		b.Fatal(err)
	}
	a, _ := newAvroSchema(typ)
	v, _ := parseJSON([]byte(`{"id":123456,"user":"user-0123456@example.com","kind":"purchase-completed","amount":456.25,"note":"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna","tags":["alpha","beta","gamma"]}`))
	bin, err := a.appendPayload(nil, v, nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	b.Run("prog", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			buf, _ = a.appendDirect(buf[:0], bin, false)
		}
	})
	b.Run("generic", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			r := avroReader{b: bin}
			buf, _ = appendBinaryJSON(buf[:0], a.t, &r, 0)
		}
	})
	b.Logf("%d bytes -> %d: %s", len(bin), len(buf), buf)
}

// FuzzProgramMatchesGeneric: on any bytes, for every schema of progSchemas,
// the decode program and appendBinaryJSON agree (output and bytes left, or
// both fail). Seeds are random valid data of each schema.
func FuzzProgramMatchesGeneric(f *testing.F) {
	var schemas []*avroSchema
	for _, text := range progSchemas {
		typ, err := new(avro.Parser).Parse("prog", []byte(text))
		if err != nil {
			f.Fatal(err)
		}
		a, err := newAvroSchema(typ)
		if err != nil {
			f.Fatal(err)
		}
		schemas = append(schemas, a)
	}
	r := rand.New(rand.NewSource(1))
	for i, a := range schemas {
		for j := 0; j < 3; j++ {
			f.Add(uint8(i), genAvro(nil, r, a.t, 0))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, bin []byte) {
		a := schemas[int(which)%len(schemas)]
		progEqual(t, a, bin, 0)
		if a.t.Kind == avro.Record && len(a.t.Fields) == 1 {
			progEqual(t, a, bin, 1)
		}
	})
}
