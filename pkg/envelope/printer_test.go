package envelope

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/jsonesc"
)

// appendEnvelopeRef is AppendEnvelope as it was before the Printer's cached
// writer (commit 2ae0b2e), kept verbatim as the reference.
func appendEnvelopeRef(buf []byte, r *Record) []byte {
	buf = append(buf, `{"topic":`...)
	buf = jsonesc.AppendString(buf, r.Topic)
	buf = append(buf, `,"partition":`...)
	buf = strconv.AppendInt(buf, int64(r.Partition), 10)
	buf = append(buf, `,"offset":`...)
	buf = strconv.AppendInt(buf, r.Offset, 10)
	buf = append(buf, `,"timestamp":"`...)
	buf = r.Timestamp.UTC().AppendFormat(buf, TimeLayout)
	buf = append(buf, `","key":`...)
	buf = appendPart(buf, r.Key)
	if r.Key != nil && r.KeyEncoding != "" {
		buf = append(buf, `,"key_encoding":"`...)
		buf = append(buf, r.KeyEncoding...)
		buf = append(buf, '"')
		if r.KeyEncoding == EncJSON && len(r.RawKey) >= 5 && r.RawKey[0] == 0 {
			if id := int(r.RawKey[1])<<24 | int(r.RawKey[2])<<16 | int(r.RawKey[3])<<8 | int(r.RawKey[4]); id > 0 {
				buf = fmt.Appendf(buf, `,"key_schema_id":%d`, id)
			}
		}
	}
	buf = append(buf, `,"value":`...)
	buf = appendPart(buf, r.Value)
	if r.Value != nil && r.ValueEncoding != "" {
		buf = append(buf, `,"value_encoding":"`...)
		buf = append(buf, r.ValueEncoding...)
		buf = append(buf, '"')
		if r.ValueEncoding == EncJSON && len(r.RawValue) >= 5 && r.RawValue[0] == 0 {
			if id := int(r.RawValue[1])<<24 | int(r.RawValue[2])<<16 | int(r.RawValue[3])<<8 | int(r.RawValue[4]); id > 0 {
				buf = fmt.Appendf(buf, `,"value_schema_id":%d`, id)
			}
		}
	}
	if len(r.Headers) > 0 {
		buf = append(buf, `,"headers":[`...)
		for i, h := range r.Headers {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"key":`...)
			buf = jsonesc.AppendString(buf, h.Key)
			buf = append(buf, `,"value":`...)
			switch {
			case h.Value == nil:
				buf = append(buf, "null"...)
			case isText(h.Value):
				buf = jsonesc.AppendString(buf, string(h.Value))
			default:
				buf = jsonesc.AppendString(buf, base64.StdEncoding.EncodeToString(h.Value))
				buf = append(buf, `,"value_encoding":"base64"`...)
			}
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	if r.DecodeErr != nil {
		buf = append(buf, `,"error":`...)
		buf = jsonesc.AppendString(buf, r.DecodeErr.Error())
	}
	return append(buf, '}')
}

// randomRecords covers nulls, empty parts, binary keys, JSON/text/base64
// parts, headers (null, text, binary, unicode), decode errors, several
// topics and partitions, and timestamps that repeat a millisecond, differ
// below it, lie before 1970 or carry a zone.
func randomRecords(r *rand.Rand, n int) []Record {
	bin := func() []byte {
		b := make([]byte, r.Intn(12))
		r.Read(b)
		return b
	}
	topics := []string{"avro", "t\"q\\", "ü-日本", "a\u2028b", "x\x01y"}
	zone := time.FixedZone("X", -5*3600)
	base := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC)
	ts := base
	var out []Record
	for i := 0; i < n; i++ {
		switch r.Intn(6) {
		case 0: // same millisecond, other nanoseconds
			ts = ts.Truncate(time.Millisecond).Add(time.Duration(r.Intn(1000000)))
		case 1:
			ts = ts.Add(time.Duration(r.Intn(5)) * time.Millisecond)
		case 2:
			ts = time.UnixMilli(-r.Int63n(1 << 40)).Add(time.Duration(r.Intn(999999)))
		case 3:
			ts = ts.In(zone)
		case 4:
			ts = time.Time{}
		default:
			ts = base.Add(time.Duration(r.Int63n(1 << 50)))
		}
		rec := Record{Topic: topics[r.Intn(len(topics))], Partition: int32(r.Intn(3)), Offset: r.Int63n(1 << 40), Timestamp: ts}
		if len(out) > 0 && r.Intn(4) != 0 {
			// runs of one partition's offsets, counting up through 9s
			prev := out[len(out)-1]
			rec.Topic, rec.Partition, rec.Offset = prev.Topic, prev.Partition, prev.Offset+1
			if r.Intn(50) == 0 {
				rec.Offset = []int64{0, 8, 98, 9997, 99999, 1<<31 - 2, -1, 9_999_999_999}[r.Intn(8)]
			}
		}
		part := func() ([]byte, string) {
			switch r.Intn(6) {
			case 0:
				return nil, ""
			case 1:
				return Repr([]byte{})
			case 2:
				return Repr(bin())
			case 3:
				return Repr([]byte("héllo\n\"w\" \u2028"))
			case 4:
				return []byte(`{"id":` + strconv.Itoa(i) + `,"s":"ü\\n"}`), EncJSON
			}
			return Repr([]byte(strconv.Itoa(i)))
		}
		rec.Key, rec.KeyEncoding = part()
		rec.Value, rec.ValueEncoding = part()
		// raw parts: Confluent-framed (a schema id, shown with encoding json) or not
		framed := func() []byte {
			switch r.Intn(4) {
			case 0:
				return nil
			case 1:
				return []byte{1, 2, 3, 4, 5, 6}
			}
			return []byte{0, 0, 0, byte(r.Intn(2)), byte(r.Intn(3)), 2}
		}
		rec.RawKey, rec.RawValue = framed(), framed()
		for h := r.Intn(4) - 1; h > 0; h-- {
			hv := [][]byte{nil, {}, []byte("v"), bin(), []byte("ü\t日本"), {0xff, 0}}[r.Intn(6)]
			rec.Headers = append(rec.Headers, Header{Key: []string{"h", "ü", "a\"b", ""}[r.Intn(4)], Value: hv})
		}
		if r.Intn(8) == 0 {
			rec.DecodeErr = errors.New("value: schema id 7: \"bad\"\n\x00 ü")
			rec.Key, rec.KeyEncoding = base64Repr(bin())
		}
		out = append(out, rec)
	}
	return out
}

// bytesOf is the length of the first n lines of b.
func bytesOf(b []byte, n int) int {
	at := 0
	for ; n > 0; n-- {
		at += bytes.IndexByte(b[at:], '\n') + 1
	}
	return at
}

// The Printer's JSON output (cached topic and timestamp, straight into the
// writer's buffer) is byte-identical to the reference envelope writer, and
// everything handled is written out after Handle, or after HandleChunk calls
// and Flush.
func TestPrinterEnvelopeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	recs := randomRecords(r, 20000)
	var want bytes.Buffer
	for i := range recs {
		want.Write(appendEnvelopeRef(nil, &recs[i]))
		want.WriteByte('\n')
		if got, w := AppendEnvelope(nil, &recs[i]), appendEnvelopeRef(nil, &recs[i]); !bytes.Equal(got, w) {
			t.Fatalf("AppendEnvelope:\ngot  %s\nwant %s", got, w)
		}
	}
	var got bytes.Buffer
	p, err := NewPrinter(&got, PrinterOptions{Format: FormatJSON})
	if err != nil {
		t.Fatal(err)
	}
	for lo := 0; lo < len(recs); {
		hi := min(len(recs), lo+1+r.Intn(3000))
		if r.Intn(2) == 0 {
			if err := p.Handle(context.Background(), recs[lo:hi]); err != nil {
				t.Fatal(err)
			}
		} else {
			// a poll in chunks: written when the buffer fills, all of it at Flush
			for c := lo; c < hi; c += 100 {
				n := got.Len()
				if err := p.HandleChunk(context.Background(), recs[c:min(hi, c+100)]); err != nil {
					t.Fatal(err)
				}
				if got.Len() != n && got.Len()-n < 1<<19 {
					t.Fatalf("HandleChunk flushed %d bytes", got.Len()-n)
				}
			}
			if err := p.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if got.Len() != bytesOf(want.Bytes(), hi) {
			t.Fatalf("after record %d: %d bytes written, want %d", hi, got.Len(), bytesOf(want.Bytes(), hi))
		}
		lo = hi
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		g, w := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
		for i := range w {
			if i >= len(g) || g[i] != w[i] {
				t.Fatalf("line %d:\ngot  %s\nwant %s", i+1, g[min(i, len(g)-1)], w[i])
			}
		}
		t.Fatalf("lengths differ: %d vs %d", got.Len(), want.Len())
	}
}

// BenchmarkAppendEnvelope is the JSON output path of consume per record: a
// text key, a text value with characters to escape, two headers.
func BenchmarkAppendEnvelope(b *testing.B) {
	key, kenc := Repr([]byte("order-12345"))
	val, venc := Repr([]byte("name=\"Widget\" size=10\ncolour=blue; note: caf\u00e9 <ok> & more text to copy as is"))
	rec := Record{
		Topic: "orders.v1", Partition: 2, Offset: 123456789,
		Timestamp: time.Date(2024, 5, 1, 10, 0, 0, 123000000, time.UTC),
		Key:       key, KeyEncoding: kenc, Value: val, ValueEncoding: venc,
		Headers: []Header{{Key: "trace-id", Value: []byte("4bf92f3577b34da6a3ce929d0e0e4736")}, {Key: "bin", Value: []byte{0, 1, 2, 0xff}}},
	}
	b.ReportAllocs()
	var buf []byte
	for i := 0; i < b.N; i++ {
		buf = AppendEnvelope(buf[:0], &rec)
	}
}

// base64Repr is how consume shows bytes it could not decode (as base64).
func base64Repr(b []byte) ([]byte, string) {
	return jsonesc.AppendString(nil, base64.StdEncoding.EncodeToString(b)), EncBase64
}
