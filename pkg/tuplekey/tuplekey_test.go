package tuplekey

import (
	"encoding/json"
	"testing"
	"time"
)

// Tuples that fmt.Sprint (or any separator-free join) maps to the same text
// must stay apart; equal tuples must meet.
func TestEncodeKeepsTuplesApart(t *testing.T) {
	distinct := [][]any{
		{"a", "bc"}, {"ab", "c"}, {"abc"}, {"a", "b", "c"},
		{"a", int64(11)}, {"a1", int64(1)}, {"a", "11"}, {"a1", "1"},
		{int64(1), int64(2)}, {int64(12)}, {"1 2"},
		{nil}, {""}, {[]byte{}}, {"<nil>"}, {},
		{int64(1)}, {uint64(1)}, {float64(1)}, {"1"}, {json.Number("1")}, {true}, {"true"},
		{"a\x00", "b"}, {"a", "\x00b"},
		{time.Unix(0, 0)}, {"1970-01-01 00:00:00 +0000 UTC"},
	}
	seen := map[string]int{}
	for i, tup := range distinct {
		k := Encode(tup...)
		if j, ok := seen[k]; ok {
			t.Errorf("%#v and %#v encode alike: %q", distinct[j], tup, k)
		}
		seen[k] = i
	}
	same := [][2][]any{
		{{"a", int64(1)}, {"a", 1}},
		{{int32(7)}, {int64(7)}},
		{{float32(0.5)}, {0.5}},
		{{time.Unix(5, 0).In(time.FixedZone("X", 3600))}, {time.Unix(5, 0).UTC()}},
		{{[]byte("k")}, {json.RawMessage("k")}},
		{{[]byte(nil)}, {nil}}, // a nil Kafka key is no key
	}
	for _, p := range same {
		if Encode(p[0]...) != Encode(p[1]...) {
			t.Errorf("%#v and %#v should encode alike", p[0], p[1])
		}
	}
}

// Other types (the protobuf registry's message-index lists) keep their type
// and value.
func TestEncodeOtherTypes(t *testing.T) {
	if Encode(1, []int{12}) == Encode(11, []int{2}) || Encode(1, []int{1, 2}) == Encode(1, []int{12}) ||
		Encode(1, []int{0}) == Encode(1, []int64{0}) || Encode(1, []int{0}) != Encode(int64(1), []int{0}) {
		t.Fatal("message-index keys must be told apart by value and type, and be stable")
	}
}
