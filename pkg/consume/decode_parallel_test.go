package consume

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/envelope"
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

// A short part starting 0x00 cannot carry a Confluent header: with
// auto-detection it is binary data (base64), not a decode error. A part long
// enough to be framed but unknown to the registry still is an error.
func TestShortZeroBytesAreBinary(t *testing.T) {
	eng, err := encode.New(encode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*topicSpec{}
	r := toRecord(context.Background(), eng, m, &kgo.Record{Topic: "x", Key: []byte{0, 7}, Value: []byte{0, 1, 2}})
	if r.DecodeErr != nil || r.KeyEncoding != envelope.EncBase64 || string(r.Key) != `"AAc="` || r.ValueEncoding != envelope.EncBase64 || string(r.Value) != `"AAEC"` {
		t.Fatalf("short binary: err=%v key=%s (%s) value=%s (%s)", r.DecodeErr, r.Key, r.KeyEncoding, r.Value, r.ValueEncoding)
	}
	r = toRecord(context.Background(), eng, m, &kgo.Record{Topic: "x", Key: []byte("k"), Value: []byte{0, 0, 0, 0, 9, 2}})
	if r.DecodeErr == nil {
		t.Fatalf("framed value with no registry must be a decode error, got %s", r.Value)
	}
}

// appendSeqDecoder is seqDecoder decoding into the caller's buffer (as the
// encode engine's DecodeAppend does).
type appendSeqDecoder struct{ seqDecoder }

func (appendSeqDecoder) DecodeAppend(_ context.Context, _ encode.Spec, key, value, dst []byte) (encode.Decoded, []byte, error) {
	if string(value) == "bad" {
		return encode.Decoded{}, dst, errors.New("bad value")
	}
	start := len(dst)
	dst = append(append(append(dst, `{"n":`...), value...), '}')
	f := encode.Format{Wire: "raw", SchemaType: "AVRO"}
	return encode.Decoded{Value: dst[start:len(dst):len(dst)], ValueFormat: f}, dst, nil
}

// Without ReuseBatches every batch (and the bytes its records point to)
// survives later polls; with it, each batch is right when handed over
// (run with -race).
func TestDecodeAllArenaReuse(t *testing.T) {
	round := func(specs *specCache, r, n int) ([]Record, []string) {
		recs := make([]*kgo.Record, n)
		want := make([]string, n)
		for i := range recs {
			v := strconv.Itoa(r*100000 + i)
			if i%777 == 5 {
				v = "bad"
			}
			want[i] = `{"n":` + v + `}`
			recs[i] = &kgo.Record{Topic: "t", Offset: int64(i), Value: []byte(v)}
		}
		return decodeAll(context.Background(), appendSeqDecoder{}, specs, recs), want
	}
	check := func(batch []Record, want []string) {
		t.Helper()
		for i, r := range batch {
			if (r.DecodeErr != nil) != (want[i] == `{"n":bad}`) || r.DecodeErr == nil && string(r.Value) != want[i] {
				t.Fatalf("record %d = %s (%v), want %s", i, r.Value, r.DecodeErr, want[i])
			}
		}
	}
	for _, n := range []int{3, 5003} {
		specs := newSpecCache()
		var kept [][]Record
		var wants [][]string
		for r := 0; r < 4; r++ {
			specs.fresh()
			b, w := round(specs, r, n+r*900)
			kept, wants = append(kept, b), append(wants, w)
		}
		for i := range kept {
			check(kept[i], wants[i])
		}
		specs = newSpecCache()
		for r := 0; r < 4; r++ {
			b, w := round(specs, r, n+(r%2)*900)
			check(b, w)
		}
	}
}

// A handler that keeps nothing gets a poll's records in chunks of
// reuseChunk, in order, each record once; other handlers get the poll whole.
func TestDecodeHandleChunks(t *testing.T) {
	recs := make([]*kgo.Record, 2*reuseChunk+7)
	for i := range recs {
		v := strconv.Itoa(i)
		if i == 300 {
			v = "bad"
		}
		recs[i] = &kgo.Record{Topic: "t", Offset: int64(i), Value: []byte(v)}
	}
	for _, reuse := range []bool{true, false} {
		var sizes []int
		next := int64(0)
		h := HandlerFunc(func(_ context.Context, batch []Record) error {
			sizes = append(sizes, len(batch))
			for _, r := range batch {
				if r.Offset != next {
					return fmt.Errorf("offset %d, want %d", r.Offset, next)
				}
				next++
			}
			return nil
		})
		var st Stats
		if err := decodeHandle(context.Background(), Options{Decoder: seqDecoder{}, Handler: h, ReuseBatches: reuse}, newSpecCache(), recs, &st); err != nil {
			t.Fatal(err)
		}
		want := []int{len(recs)}
		if reuse {
			want = []int{reuseChunk, reuseChunk, 7}
		}
		if fmt.Sprint(sizes) != fmt.Sprint(want) || st.Records != int64(len(recs)) || st.DecodeErrors != 1 || next != int64(len(recs)) {
			t.Fatalf("reuse %v: batches %v (want %v), stats %+v, %d handled", reuse, sizes, want, st, next)
		}
	}
}

// chunkRecorder is a chunkHandler noting its calls.
type chunkRecorder struct{ calls []string }

func (c *chunkRecorder) Handle(_ context.Context, b []Record) error {
	c.calls = append(c.calls, fmt.Sprintf("handle %d", len(b)))
	return nil
}

func (c *chunkRecorder) HandleChunk(_ context.Context, b []Record) error {
	c.calls = append(c.calls, fmt.Sprintf("chunk %d", len(b)))
	return nil
}

func (c *chunkRecorder) Flush() error {
	c.calls = append(c.calls, "flush")
	return nil
}

// A chunkHandler that keeps nothing gets a poll in chunks and one Flush
// after the last; one that keeps its batches gets Handle, once.
func TestDecodeHandleFlushesOncePerPoll(t *testing.T) {
	recs := make([]*kgo.Record, reuseChunk+1)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "t", Offset: int64(i), Value: []byte("1")}
	}
	for _, tc := range []struct {
		reuse bool
		recs  []*kgo.Record
		want  string
	}{
		{true, recs, fmt.Sprintf("[chunk %d chunk 1 flush]", reuseChunk)},
		{true, nil, "[]"},
		{false, recs, fmt.Sprintf("[handle %d]", len(recs))},
	} {
		h := &chunkRecorder{}
		var st Stats
		if err := decodeHandle(context.Background(), Options{Decoder: seqDecoder{}, Handler: h, ReuseBatches: tc.reuse}, newSpecCache(), tc.recs, &st); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(h.calls); got != tc.want {
			t.Fatalf("reuse %v, %d records: calls %s, want %s", tc.reuse, len(tc.recs), got, tc.want)
		}
	}
}
