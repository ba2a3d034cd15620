package consume

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/pkg/encode"
)

// seqDecoder "decodes" a value "n" to {"n":n} and fails on "bad".
type seqDecoder struct{}

func (seqDecoder) SpecFor(topic string) (encode.Spec, bool) {
	return encode.Spec{Topic: topic, Backend: "test"}, true
}

func (seqDecoder) Decode(_ context.Context, _ encode.Spec, key, value []byte) (encode.Decoded, error) {
	if string(value) == "bad" {
		return encode.Decoded{}, errors.New("bad value")
	}
	f := encode.Format{Wire: "raw", SchemaType: "AVRO"}
	return encode.Decoded{Value: []byte(`{"n":` + string(value) + `}`), ValueFormat: f}, nil
}

// Large batches are decoded on several goroutines: the result must be in
// input order with each record's own error (run with -race).
func TestDecodeAllKeepsOrder(t *testing.T) {
	specs := newSpecCache()
	for _, n := range []int{0, 1, minParallelDecode - 1, minParallelDecode, 5003} {
		recs := make([]*kgo.Record, n)
		for i := range recs {
			v := strconv.Itoa(i)
			if i%1000 == 999 {
				v = "bad"
			}
			recs[i] = &kgo.Record{Topic: "t" + strconv.Itoa(i%3), Offset: int64(i), Value: []byte(v)}
		}
		batch := decodeAll(context.Background(), seqDecoder{}, specs, recs)
		if len(batch) != n {
			t.Fatalf("n=%d: %d records", n, len(batch))
		}
		for i, r := range batch {
			if r.Offset != int64(i) || r.Topic != recs[i].Topic {
				t.Fatalf("n=%d: record %d is offset %d of %s", n, i, r.Offset, r.Topic)
			}
			if i%1000 == 999 {
				if r.DecodeErr == nil {
					t.Fatalf("n=%d: record %d: no decode error", n, i)
				}
				continue
			}
			if want := fmt.Sprintf(`{"n":%d}`, i); string(r.Value) != want || r.DecodeErr != nil {
				t.Fatalf("n=%d: record %d = %s (%v), want %s", n, i, r.Value, r.DecodeErr, want)
			}
		}
	}
}
