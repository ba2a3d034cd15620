package encode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"

	"github.com/deimos-cli/deimos/pkg/avro"
)

// The fast paths (parseJSON, appendPayload, appendBinaryJSON) are checked
// against the reference paths they replace: encoding/json, toNative +
// goavro's BinaryFromNative, goavro's NativeFromBinary + appendNativeJSON.

const oracleSchema = `{"type":"record","name":"Oracle","namespace":"com.test","fields":[
 {"name":"id","type":"long"},
 {"name":"i","type":"int","default":7},
 {"name":"f","type":"float","default":1.5},
 {"name":"d","type":"double"},
 {"name":"ok","type":"boolean","default":false},
 {"name":"s","type":"string","default":"dflt"},
 {"name":"raw","type":"bytes","default":"\u0001\u00ff"},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"},"default":0},
 {"name":"tsu","type":["null",{"type":"long","logicalType":"timestamp-micros"}],"default":null},
 {"name":"day","type":{"type":"int","logicalType":"date"},"default":0},
 {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2},"default":"0"},
 {"name":"fdec","type":{"type":"fixed","name":"Money","size":6,"logicalType":"decimal","precision":12,"scale":3},"default":"000000"},
 {"name":"uid","type":["null",{"type":"string","logicalType":"uuid"}],"default":null},
 {"name":"color","type":{"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE"]},"default":"RED"},
 {"name":"hash","type":{"type":"fixed","name":"Hash","size":4},"default":"abcd"},
 {"name":"tags","type":{"type":"array","items":"string"},"default":[]},
 {"name":"nums","type":{"type":"array","items":["null","long","double"]},"default":[]},
 {"name":"attrs","type":{"type":"map","values":"long"},"default":{}},
 {"name":"opt","type":["null","string"],"default":null},
 {"name":"multi","type":["null","long","string","boolean"],"default":null},
 {"name":"sdef","type":["string","null"],"default":"x"},
 {"name":"sub","type":["null",{"type":"record","name":"Sub","fields":[
   {"name":"a","type":"string"},{"name":"b","type":["null","int"],"default":null},
   {"name":"inner","type":{"type":"array","items":{"type":"record","name":"Inner","fields":[{"name":"z","type":"double"}]}},"default":[]}]}],"default":null},
 {"name":"either","type":["null","Sub","Color","Hash"],"default":null}
]}`

// withCodec is a schema with goavro's codec of it, the reference the
// hand-written paths are compared with.
type withCodec struct {
	*avroSchema
	codec *goavro.Codec
}

func oracleAvro(t testing.TB, text string) withCodec {
	t.Helper()
	ty, err := new(avro.Parser).Parse("oracle", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	a, err := newAvroSchema(ty)
	if err != nil {
		t.Fatal(err)
	}
	c, err := goavro.NewCodec(physicalText(t, a.text))
	if err != nil {
		t.Fatal(err)
	}
	return withCodec{a, c}
}

// physicalText is schema text without logical types: goavro is given the
// physical schema (the conversions of logical types are deimos's own).
func physicalText(t testing.TB, text string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatal(err)
	}
	var strip func(v any)
	strip = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if _, ok := x["logicalType"]; ok {
				delete(x, "logicalType")
				delete(x, "precision")
				delete(x, "scale")
			}
			for k, y := range x {
				if k != "default" {
					strip(y)
				}
			}
		case []any:
			for _, y := range x {
				strip(y)
			}
		}
	}
	strip(v)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// oracleRecords: hand-written edge cases plus generated ones.
func oracleRecords(n int) []string {
	recs := []string{
		`{"id":1,"d":2.5}`,
		`{"id":-1,"d":-0,"i":-2147483648,"f":"3.25","ok":"true","s":12,"ts":"2024-05-06T07:08:09.123Z","tsu":"2024-05-06 07:08:09 +0200","day":"2024-02-29","dec":"-12.34","fdec":123456789.5,"uid":"0b6c1f4e-7a35-4c39-9e0e-3b5c1d1f2a3b","color":"BLUE","hash":"wxyz","tags":["a","b"],"nums":[null,1,2.5,"3"],"attrs":{"k":5},"opt":"x","multi":"7","sdef":null}`,
		`{"id":"42","d":"1e3","multi":true,"sub":{"a":"A","b":3,"inner":[{"z":1},{"z":-2.5e-3}]},"either":"GREEN"}`,
		`{"id":9007199254740993,"d":1.7976931348623157e308,"multi":"hello","either":{"a":"q"},"opt":null,"tags":[],"attrs":{}}`,
		`{"id":0,"d":0,"either":"abcd","s":"ünïcødé \u2028 \"quoted\" \\ tab\t","raw":"\u0000\u00ff\u0080"}`,
		`{"id":1,"d":1,"ts":1714979289000,"tsu":1714979289000123,"day":19849,"dec":0.1,"fdec":"-0.001"}`,
		// errors: each must fail the same way on both paths
		`{"d":1}`,
		`{"id":1.5,"d":1}`,
		`{"id":1,"d":"x"}`,
		`{"id":1,"d":1,"i":2147483648}`,
		`{"id":1,"d":1,"color":"PINK"}`,
		`{"id":1,"d":1,"hash":"abc"}`,
		`{"id":1,"d":1,"uid":"not-a-uuid"}`,
		`{"id":1,"d":1,"dec":"1.234"}`,
		`{"id":1,"d":1,"dec":"12345678.9"}`,
		`{"id":1,"d":1,"sub":{"a":"x","zzz":1}}`,
		`{"id":1,"d":1,"sub":{"b":1}}`,
		`{"id":1,"d":1,"tags":"nope"}`,
		`{"id":1,"d":1,"tags":[1,{"x":1}]}`,
		`{"id":1,"d":1,"multi":{"x":1}}`,
		`{"id":1,"d":1,"ok":"yes"}`,
		`{"id":1,"d":1,"ts":"yesterday"}`,
		`{"id":1,"d":1,"extra":"dropped at top level"}`,
	}
	r := rand.New(rand.NewSource(1))
	pick := func(xs ...string) string { return xs[r.Intn(len(xs))] }
	for len(recs) < n {
		var f []string
		add := func(name, v string) {
			if r.Intn(5) > 0 {
				f = append(f, fmt.Sprintf("%q:%s", name, v))
			}
		}
		f = append(f, fmt.Sprintf(`"id":%d`, r.Int63()-r.Int63()))
		f = append(f, `"d":`+pick(fmt.Sprint(r.NormFloat64()*1e6), "0", "-3", `"2.5"`))
		add("i", pick(fmt.Sprint(r.Int31()-r.Int31()), `"17"`, "-5"))
		add("f", pick(fmt.Sprint(r.Float32()), "2", "1e-3"))
		add("ok", pick("true", "false", `"true"`))
		add("s", pick(`"plain"`, `"é\n\"x\""`, "123", "true", `""`))
		add("raw", pick(`"bytes"`, `"\u00ff\u0000"`, `""`))
		add("ts", pick(fmt.Sprint(r.Int63n(1<<42)), `"2021-01-02T03:04:05Z"`, `"2021-01-02 03:04:05 UTC"`))
		add("tsu", pick("null", fmt.Sprint(r.Int63n(1<<52)), `"2021-01-02T03:04:05.123456Z"`))
		add("day", pick("0", "-1", `"1970-01-01"`, `"2038-01-19"`))
		add("dec", pick(`"1.25"`, "-7", `"9999999.99"`, "0.5"))
		add("fdec", pick(`"1.125"`, "-7", `"-999999999.999"`))
		add("uid", pick("null", `"123e4567-e89b-12d3-a456-426614174000"`))
		add("color", pick(`"RED"`, `"GREEN"`, `"BLUE"`))
		add("hash", pick(`"abcd"`, `"\u007f\u0000\u0001z"`))
		add("tags", pick(`[]`, `["x"]`, `["x","y","z"]`))
		add("nums", pick(`[]`, `[1]`, `[null,2.5,-3,"4"]`))
		add("attrs", pick(`{}`, fmt.Sprintf(`{"k%d":%d}`, r.Intn(9), r.Intn(1000))))
		add("opt", pick("null", `"o"`, "5"))
		add("multi", pick("null", "1", `"s"`, "true", `"12"`, "false"))
		add("sdef", pick("null", `"t"`))
		add("sub", pick("null", `{"a":"x"}`, `{"a":"y","b":null,"inner":[{"z":0.25}]}`, `{"a":"z","b":5}`))
		add("either", pick("null", `"RED"`, `{"a":"w"}`, `"wxyz"`))
		r.Shuffle(len(f), func(i, j int) { f[i], f[j] = f[j], f[i] })
		recs = append(recs, "{"+strings.Join(f, ",")+"}")
	}
	return recs
}

func TestAppendPayloadMatchesGoavro(t *testing.T) {
	a := oracleAvro(t, oracleSchema)
	ok, bad := 0, 0
	for _, rec := range oracleRecords(2000) {
		v, err := parseJSON([]byte(rec))
		if err != nil {
			t.Fatalf("%s: %v", rec, err)
		}
		var want []byte
		n, werr := a.native(v)
		if werr == nil {
			want, werr = a.codec.BinaryFromNative(nil, n)
		}
		got, gerr := a.appendPayload(nil, v, nil)
		if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
			t.Fatalf("%s:\nreference error: %v\nfast error:      %v", rec, werr, gerr)
		}
		if werr != nil {
			bad++
			continue
		}
		ok++
		if !bytes.Equal(got, want) {
			t.Fatalf("%s:\nreference %x\nfast      %x", rec, want, got)
		}
		// and the direct decoder gives what goavro + appendNativeJSON give
		wj, err := a.decodeGeneric(want, nil, false)
		if err != nil {
			t.Fatalf("%s: reference decode: %v", rec, err)
		}
		gj, err := a.decode(got, nil, false)
		if err != nil {
			t.Fatalf("%s: fast decode: %v", rec, err)
		}
		if !bytes.Equal(wj, gj) {
			t.Fatalf("%s:\nreference %s\nfast      %s", rec, wj, gj)
		}
	}
	if ok < 1000 || bad < 10 {
		t.Fatalf("too few cases: %d encoded, %d rejected", ok, bad)
	}
}

// Maps with several keys are written in input order (and decoded in wire
// order); goavro writes Go's map order, so the two are compared through
// goavro's decoder.
func TestAppendPayloadMultiKeyMap(t *testing.T) {
	a := oracleAvro(t, `{"type":"record","name":"M","fields":[{"name":"m","type":{"type":"map","values":["null","string",{"type":"map","values":"int"}]}}]}`)
	doc := `{"m":{"e":"x","b":null,"c":{"r":1,"p":2,"q":3},"d":"","a":"ü"}}`
	ord := &keyOrder{}
	v, err := parseJSONOrdered([]byte(doc), ord)
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.appendPayload(nil, v, ord)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := a.native(v)
	want, err := a.codec.BinaryFromNative(nil, n)
	if err != nil {
		t.Fatal(err)
	}
	gn, rest, err := a.codec.NativeFromBinary(got)
	if err != nil || len(rest) != 0 {
		t.Fatalf("fast bytes do not decode: %v (%d left)", err, len(rest))
	}
	wn, _, _ := a.codec.NativeFromBinary(want)
	if !reflect.DeepEqual(gn, wn) {
		t.Fatalf("fast %v\nreference %v", gn, wn)
	}
	for _, dec := range []func([]byte, *aType, bool) (json.RawMessage, error){a.decode, a.decodeGeneric} {
		gj, err := dec(got, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if string(gj) != doc {
			t.Fatalf("decoded %s\nwant     %s", gj, doc)
		}
	}
}

// The native decoder gives goavro's native form, maps aside (avroMap keeps
// the wire order where goavro has a Go map).
func TestNativeFromBinaryMatchesGoavro(t *testing.T) {
	a := oracleAvro(t, oracleSchema)
	n := 0
	for _, rec := range oracleRecords(1000) {
		v, _ := parseJSON([]byte(rec))
		bin, err := a.appendPayload(nil, v, nil)
		if err != nil {
			continue
		}
		want, wrest, werr := a.codec.NativeFromBinary(bin)
		got, grest, gerr := nativeFromBinary(a.t, bin)
		if werr != nil || gerr != nil || len(wrest) != 0 || len(grest) != 0 {
			t.Fatalf("%s: goavro %v (%d left), native %v (%d left)", rec, werr, len(wrest), gerr, len(grest))
		}
		if g := plainMaps(got); !reflect.DeepEqual(g, want) {
			t.Fatalf("%s:\nnative %#v\ngoavro %#v", rec, g, want)
		}
		n++
	}
	if n < 500 {
		t.Fatalf("only %d records compared", n)
	}
}

// plainMaps turns avroMaps into Go maps (goavro's form).
func plainMaps(v any) any {
	switch x := v.(type) {
	case *avroMap:
		m := map[string]any{}
		for k, y := range x.vals {
			m[k] = plainMaps(y)
		}
		return m
	case map[string]any:
		m := map[string]any{}
		for k, y := range x {
			m[k] = plainMaps(y)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, y := range x {
			out[i] = plainMaps(y)
		}
		return out
	}
	return v
}

func TestParseJSONMatchesEncodingJSON(t *testing.T) {
	docs := []string{
		`{}`, `[]`, `null`, `true`, ` false `, `0`, `-0.5e+10`, `1E3`, `"x"`, "\t{\"a\" : [1, 2 ,{\"b\":null}] }\n",
		`{"a":1,"a":2}`, `"\u00e9\ud83d\ude00\n\/\b\f\r\t\\\""`, `"é😀"`, `{"k":"v"} `,
		`123456789012345678901234567890`, `[[[[[]]]]]`,
		// invalid or unusual: encoding/json decides (and words the error)
		``, `{`, `{"a":}`, `[1,]`, `01`, `1.`, `-`, `.5`, `+1`, `"\x"`, `"\u12"`, `"\ud800"`, `"\ud800\u0041"`,
		"\"a\x01\"", "\"\xff\"", `{"a":1} x`, `{"a":1} {"b":2}`, `{"a":1}]`, `tru`, `nul`, `[1 2]`, `{"a" 1}`, `{1:2}`,
	}
	for _, rec := range oracleRecords(300) {
		docs = append(docs, rec)
	}
	for _, d := range docs {
		got, gerr := parseJSON([]byte(d))
		want, werr := decodeJSONUseNumber([]byte(d))
		if fmt.Sprint(gerr) != fmt.Sprint(werr) {
			t.Fatalf("%q: error %v, encoding/json %v", d, gerr, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %#v, encoding/json %#v", d, got, want)
		}
	}
}
