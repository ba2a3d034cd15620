package encode

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/encode/nesting"
)

var nestingSchemas = map[string]string{
	// T nests through arrays and maps; every record has both (empty ones
	// are a level too: `[]` and `{}` in the decoded JSON).
	"T": `{"type":"record","name":"T","namespace":"n","fields":[
 {"name":"a","type":{"type":"array","items":"n.T"}},
 {"name":"m","type":{"type":"map","values":"n.T"}}]}`,
	// L is a linked list whose last record may hold bytes: non-UTF-8 bytes
	// print as an array of byte values, one level more.
	"L": `{"type":"record","name":"L","namespace":"n","fields":[
 {"name":"next","type":["null","n.L"]},
 {"name":"b","type":["null","bytes"]}]}`,
}

// treeValue: a T whose levels nest along path ('a' array, 'm' map), as
// natural JSON and as goavro's native form.
func treeValue(path string) (string, any) {
	js := `{"a":[],"m":{}}`
	var nat any = map[string]any{"a": []any{}, "m": map[string]any{}}
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == 'a' {
			js = `{"a":[` + js + `],"m":{}}`
			nat = map[string]any{"a": []any{nat}, "m": map[string]any{}}
		} else {
			js = `{"a":[],"m":{"k":` + js + `}}`
			nat = map[string]any{"a": []any{}, "m": map[string]any{"k": nat}}
		}
	}
	return js, nat
}

// listValue: n records of L; the last holds b (nil, or bytes).
func listValue(n int, b []byte) (string, any) {
	js := `null`
	var bn any
	if b != nil {
		bj, _ := json.Marshal(string(b))
		js = string(bj)
		if string(b) == "\xe9" {
			js = `[233]`
		}
		bn = goavro.Union("bytes", b)
	}
	js = `{"next":null,"b":` + js + `}`
	var nat any = map[string]any{"next": nil, "b": bn}
	for i := 1; i < n; i++ {
		js = `{"next":` + js + `,"b":null}`
		nat = map[string]any{"next": goavro.Union("n.L", nat), "b": nil}
	}
	return js, nat
}

// Encode and decode agree on every shape around the limit: data whose
// decoded JSON nests at most nesting.Max levels is written and read back
// unchanged; one level more is refused by encode (map and fast paths) with
// an error naming the limit, and the same data written by another Avro
// writer (goavro) is refused by decode and by checkBinary.
func TestAvroNestingLimitIsOneLimit(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "n"), 0o755); err != nil {
		t.Fatal(err)
	}
	codecs := map[string]*goavro.Codec{}
	for name, text := range nestingSchemas {
		if err := os.WriteFile(filepath.Join(dir, "n", name+".avsc"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := goavro.NewCodec(text)
		if err != nil {
			t.Fatal(err)
		}
		codecs[name] = c
	}
	e := newTestEngine(t, &config.Config{Schema: config.Schema{Path: dir}}, nil)
	type tc struct {
		name, schema, js string
		nat              any
	}
	var cases []tc
	for _, unit := range []string{"a", "m", "am"} {
		for steps := (nesting.Max-1)/2 - 1; steps <= (nesting.Max+1)/2; steps++ {
			path := strings.Repeat(unit, steps)[:steps]
			js, nat := treeValue(path)
			cases = append(cases, tc{"T/" + unit, "T", js, nat})
		}
	}
	for n := nesting.Max - 2; n <= nesting.Max+1; n++ {
		for _, b := range [][]byte{nil, []byte("ok"), []byte("\xe9")} {
			js, nat := listValue(n, b)
			cases = append(cases, tc{fmt.Sprintf("L/%q", b), "L", js, nat})
		}
	}
	ctx := context.Background()
	seen := map[bool]int{}
	for _, c := range cases {
		depth := nesting.JSONDepth([]byte(c.js))
		name := fmt.Sprintf("%s/%d levels", c.name, depth)
		want := depth <= nesting.Max
		seen[depth == nesting.Max || depth == nesting.Max+1]++
		s := Spec{Backend: "avro_local", Schema: "n." + c.schema, Wire: "raw"}
		sch, err := e.localSchema("n."+c.schema, "")
		if err != nil || !sch.deep {
			t.Fatalf("%s: a recursive schema must be marked deep (%v)", name, err)
		}
		for _, value := range []any{json.RawMessage(c.js), mustParse(t, c.js)} { // fast path and map path
			enc, err := e.Encode(ctx, s, Message{Value: value})
			if (err == nil) != want {
				t.Fatalf("%s: encode %T: err %v, want ok=%v", name, value, err, want)
			}
			if err != nil {
				if !strings.Contains(err.Error(), fmt.Sprintf("nested more than %d levels", nesting.Max)) {
					t.Fatalf("%s: encode error does not name the limit: %v", name, err)
				}
				continue
			}
			d, err := e.Decode(ctx, s, nil, enc.Value)
			if err != nil || string(d.Value) != c.js {
				t.Fatalf("%s: round trip: %v\n%.300s\n%.300s", name, err, d.Value, c.js)
			}
		}
		bin, err := codecs[c.schema].BinaryFromNative(nil, c.nat)
		if err != nil {
			t.Fatal(err)
		}
		_, cerr := checkBinary(sch.t, bin, 0)
		_, derr := e.Decode(ctx, s, nil, bin)
		// a container file goes through the native decoder (readNative)
		ocf, oerr := e.Decode(ctx, Spec{Backend: "avro_local"}, nil, ocfWrite(sch.text, bin))
		if (cerr == nil) != want || (derr == nil) != want || (oerr == nil) != want {
			t.Fatalf("%s: checkBinary %v, decode %v, container file %v, want ok=%v", name, cerr, derr, oerr, want)
		}
		if want && string(ocf.Value) != c.js {
			t.Fatalf("%s: container file decoded to %.300s", name, ocf.Value)
		}
		if !want && !strings.Contains(derr.Error()+oerr.Error(), "nested more than") {
			t.Fatalf("%s: decode errors do not name the limit: %v / %v", name, derr, oerr)
		}
	}
	if seen[true] < 6 {
		t.Fatalf("only %d cases at the limit or one above it", seen[true])
	}
}

func mustParse(t *testing.T, js string) any {
	t.Helper()
	v, err := decodeJSONUseNumber([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
