package encode

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// The partition key's fast paths give StringForm's bytes.
func TestPartitionKeyBytesIsStringForm(t *testing.T) {
	for _, v := range []any{"k-1", "", int64(42), int64(-7), json.Number("12"), json.Number("1.50"), json.Number("1e3"),
		3.25, int32(5), true, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), map[string]any{"b": 1, "a": "x"}, []any{1, "y"}, Text("t")} {
		if got, want := partitionKeyBytes(v), []byte(StringForm(v)); !bytes.Equal(got, want) {
			t.Errorf("partitionKeyBytes(%#v) = %q, want %q", v, got, want)
		}
	}
}
