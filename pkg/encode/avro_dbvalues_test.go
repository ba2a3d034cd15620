package encode

import (
	"bytes"
	"math/rand"
	"testing"
	"time"
)

// The poller hands the engine values as database drivers give them (int64,
// float64, time.Time, bool, string, nil), not JSON numbers. appendLeaf
// writes the common ones directly: the bytes and errors must stay those of
// toNative + goavro.
func TestAppendPayloadDatabaseValuesMatchGoavro(t *testing.T) {
	a := oracleAvro(t, oracleSchema)
	rng := rand.New(rand.NewSource(17))
	at := time.Date(2024, 1, 2, 3, 4, 5, 678901000, time.UTC)
	pick := func(xs ...any) any { return xs[rng.Intn(len(xs))] }
	ok, bad := 0, 0
	for n := 0; n < 6000; n++ {
		v := map[string]any{
			"id":  pick(int64(n), int64(-n), int32(7), float64(n), 2.5, "12", nil),
			"d":   pick(1.25, float64(-n), int64(n), float32(0.5), "3.5", nil, true),
			"ts":  pick(at, at.Add(time.Duration(n)*time.Hour), int64(n), 1.5, "2024-05-01T00:00:00Z", "nope"),
			"tsu": pick(nil, at, int64(n), 2.5, "x"),
			"ok":  pick(true, false, int64(1), "true"),
			"s":   pick("text", "", int64(3), nil),
			"opt": pick(nil, "x", int64(4), at),
			"i":   pick(int64(n), int64(1)<<40, 3.0),
		}
		for _, k := range []string{"id", "d", "ts", "tsu", "ok", "s", "opt", "i"} { // a fixed order: the same cases every run
			if rng.Intn(8) == 0 {
				delete(v, k) // defaults, or a missing required field
			}
		}
		var want []byte
		nat, werr := a.native(v)
		if werr == nil {
			want, werr = a.codec.BinaryFromNative(nil, nat)
		}
		got, gerr := a.appendPayload(nil, v, nil)
		if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
			t.Fatalf("%#v:\nreference error: %v\nfast error:      %v", v, werr, gerr)
		}
		if werr != nil {
			bad++
			continue
		}
		ok++
		if !bytes.Equal(got, want) {
			t.Fatalf("%#v:\nreference %x\nfast      %x", v, want, got)
		}
	}
	if ok < 100 || bad < 100 {
		t.Fatalf("too few cases: %d encoded, %d rejected", ok, bad)
	}
}

// A row as the poller reads it is written without allocating (the field
// paths of error messages are not built for fields that encode).
func TestAppendPayloadDatabaseRowNoAllocs(t *testing.T) {
	a := oracleAvro(t, `{"type":"record","name":"Widget","namespace":"com.example","fields":[
  {"name":"id","type":"long"},
  {"name":"name","type":"string"},
  {"name":"price","type":["null","double"],"default":null},
  {"name":"active","type":"boolean"},
  {"name":"updated_at","type":{"type":"long","logicalType":"timestamp-millis"}}]}`)
	row := map[string]any{"id": int64(42), "name": "widget-42", "price": 63.0, "active": true,
		"updated_at": time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	buf := make([]byte, 0, 256)
	if _, err := a.appendPayload(buf, row, nil); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = a.appendPayload(buf[:0], row, nil) }); n != 0 {
		t.Fatalf("appendPayload allocates %v times per row, want 0", n)
	}
}
