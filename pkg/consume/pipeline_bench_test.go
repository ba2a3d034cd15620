package consume

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/envelope"
)

// benchEvent is scripts/bench/produce-consume.sh's schema and line.
const benchEventSchema = `{"type":"record","name":"Event","namespace":"com.bench","fields":[
 {"name":"id","type":"long"},{"name":"user","type":"string"},{"name":"kind","type":"string"},
 {"name":"amount","type":"double"},{"name":"note","type":"string"},{"name":"tags","type":{"type":"array","items":"string"}}]}`

var engineDecoderSpec = encode.Spec{Topic: "bench", Backend: "avro_schema_registry", Schema: "Event", Namespace: "com.bench", KeyConfig: config.KeyConfig{Field: "id"}}

type engineDecoder struct {
	*encode.Engine
	spec encode.Spec
}

func (d engineDecoder) SpecFor(string) (encode.Spec, bool) { return d.spec, true }

// benchRecords encodes n records of the consume benchmark's topic.
func benchRecords(tb testing.TB, n int) (Decoder, []*kgo.Record) {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "com/bench"), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "com/bench/Event.avsc"), []byte(benchEventSchema), 0o644); err != nil {
		tb.Fatal(err)
	}
	r := testenv.Registry(tb)
	cl, err := sr.NewClient(sr.URLs(r.URL()))
	if err != nil {
		tb.Fatal(err)
	}
	cfg := &config.Config{Schema: config.Schema{Path: dir, Backend: "avro_schema_registry", Registry: config.Registry{URL: r.URL()}}}
	eng, err := encode.New(encode.Options{Config: cfg, Registry: cl})
	if err != nil {
		tb.Fatal(err)
	}
	spec := engineDecoderSpec
	recs := make([]*kgo.Record, n)
	ts := time.Date(2026, 12, 1, 21, 10, 29, 263e6, time.UTC)
	for i := range recs {
		line := fmt.Sprintf(`{"id":%d,"user":"user-%07d@example.com","kind":"purchase-completed","amount":%d.25,"note":"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna","tags":["alpha","beta","gamma"]}`, i+1, i+1, (i+1)%1000)
		m, err := eng.Encode(context.Background(), spec, encode.Message{Value: json.RawMessage(line)})
		if err != nil {
			tb.Fatal(err)
		}
		recs[i] = &kgo.Record{Topic: "avro", Partition: 0, Offset: int64(i), Timestamp: ts.Add(time.Duration(i/50) * time.Millisecond), Key: m.Key, Value: m.Value}
	}
	return engineDecoder{eng, spec}, recs
}

// BenchmarkDecodePrint is consume -e --output json's work per record after
// the fetch: decode a polled batch and print its envelopes.
func BenchmarkDecodePrint(b *testing.B) {
	dec, recs := benchRecords(b, 10000)
	p, err := envelope.NewPrinter(io.Discard, envelope.PrinterOptions{Format: envelope.FormatJSON})
	if err != nil {
		b.Fatal(err)
	}
	specs := newSpecCache()
	ctx := context.Background()
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		var st Stats
		if err := decodeHandle(ctx, Options{Decoder: dec, Handler: p, ReuseBatches: true}, specs, recs, &st); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N*len(recs)), "cpu-ns/rec")
}

// cpuTime is the process's CPU time (user+sys) in nanoseconds: the figure
// the benchmarks in scripts/bench/ compare, steadier than wall time on a
// shared machine.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// The decoder's shortcut through the engine's AppendJSON gives the records
// its general path (DecodeAppend then pick) gives, for framed Avro and for
// everything the shortcut must leave alone.
func TestAppendJSONShortcutMatchesGeneral(t *testing.T) {
	dec, recs := benchRecords(t, 3)
	v, k := recs[0].Value, recs[0].Key
	bad := append([]byte{}, v...)
	bad[len(bad)-3] ^= 0xff
	for _, x := range [][2][]byte{
		{nil, v}, {k, nil}, {nil, nil}, {{}, v}, {k, {}}, {{0, 1}, v}, {k, {0, 1, 2}}, {[]byte(`{"a":1}`), v},
		{k, []byte(`{"a": 1}`)}, {[]byte("text"), v}, {k, bad}, {k, append(append([]byte{}, v...), 9)},
		{k, []byte{0, 0, 0, 0x7f, 0x7f, 2}}, {[]byte{0, 0, 0, 0x7f, 0x7f, 2}, v}, {v, k},
	} {
		recs = append(recs, &kgo.Record{Topic: "avro", Offset: int64(len(recs)), Key: x[0], Value: x[1]})
	}
	ctx := context.Background()
	shortcut := 0
	for _, r := range recs {
		var got, want Record
		d := newRecordDecoder(dec, map[string]*topicSpec{}, recs, nil)
		if d.js == nil {
			t.Fatal("the engine offers no AppendJSON")
		}
		d.decode(ctx, r, &got)
		if _, _, _, ok := d.js.AppendJSON(ctx, d.js.FastSpec(engineDecoderSpec), r.Key, r.Value, nil); ok {
			shortcut++
		}
		g := newRecordDecoder(dec, map[string]*topicSpec{}, recs, nil)
		g.js = nil
		g.decode(ctx, r, &want)
		if fmt.Sprint(got.DecodeErr) != fmt.Sprint(want.DecodeErr) {
			t.Fatalf("key %x value %x: error %v, want %v", r.Key, r.Value, got.DecodeErr, want.DecodeErr)
		}
		got.DecodeErr, want.DecodeErr = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("key %x value %x:\nshortcut %+v\ngeneral  %+v", r.Key, r.Value, got, want)
		}
	}
	if shortcut < 5 {
		t.Fatalf("the shortcut served %d records", shortcut)
	}
}
