package produce

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/encode"
)

// Run encodes JSON lines through the engine's LineEncoder when it takes
// them (fields in schema order) and through Encode otherwise; either way
// each message is what Encode gives for its line, in input order with its
// line number, and the parts of earlier messages (kept by the sink until
// the end, as Kafka keeps them until delivered) are never overwritten.
func TestRunLineEncoderMatchesEncode(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "com", "t"), 0o755); err != nil {
		t.Fatal(err)
	}
	schema := `{"type":"record","name":"Ev","namespace":"com.t","fields":[{"name":"id","type":"long"},{"name":"user","type":"string"},{"name":"amount","type":"double"},{"name":"tags","type":{"type":"array","items":"string"}},{"name":"note","type":["null","string"],"default":null}]}`
	if err := os.WriteFile(filepath.Join(dir, "com", "t", "Ev.avsc"), []byte(schema), 0o644); err != nil {
		t.Fatal(err)
	}
	reg, err := sr.NewClient(sr.URLs(testenv.Registry(t).URL()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Schema: config.Schema{Path: dir, Backend: "avro_schema_registry", Registry: config.Registry{URL: "unused"}},
		Topics: []config.Topic{{Name: "ev", Schema: "Ev", Namespace: "com.t", KeyConfig: config.KeyConfig{Field: "id"}}}}
	eng, err := encode.New(encode.Options{Config: cfg, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := 0; i < 20000; i++ {
		switch {
		case i%97 == 0: // out of order: Encode's
			lines = append(lines, fmt.Sprintf(`{"user":"u%d","id":%d,"amount":%d.5,"tags":[]}`, i, i, i))
		case i%89 == 0: // an escape: Encode's
			lines = append(lines, fmt.Sprintf(`{"id":%d,"user":"\u00e9%d","amount":1,"tags":["a"],"note":null}`, i, i))
		default:
			lines = append(lines, fmt.Sprintf(`{"id":%d,"user":"user-%07d@example.com","amount":%d.25,"tags":["alpha","beta"],"note":"n%d"}`, i-10000, i, i%1000, i))
		}
	}
	in := strings.Join(lines, "\n") + "\n"
	s := &memSink{}
	if _, err := Run(context.Background(), strings.NewReader(in), Options{Topic: "ev", Encoder: eng, Partition: -1, Workers: 2}, s); err != nil {
		t.Fatal(err)
	}
	checkOuts(t, eng, lines, s.outs)
	// a sink that holds messages and releases them out of order, as Kafka
	// acknowledges them: chunks are used again, never before release
	h := &holdSink{t: t, rel: make(chan *Out, 5000), done: make(chan struct{}), hold: 3000}
	go h.releaser()
	if _, err := Run(context.Background(), strings.NewReader(in), Options{Topic: "ev", Encoder: eng, Partition: -1, Workers: 2}, h); err != nil {
		t.Fatal(err)
	}
	checkOuts(t, eng, lines, h.outs)
	if h.reused.Load() == 0 {
		t.Fatal("no chunk was used again")
	}
}

// holdSink keeps a copy of each message, and releases the message itself
// later, from another goroutine, after checking it was not overwritten.
type holdSink struct {
	t      *testing.T
	outs   []Out
	rel    chan *Out
	done   chan struct{}
	seen   sync.Map // *Out -> true: sent before (its chunk was used again)
	reused atomic.Int64
	chunks sync.Map // distinct chunks
	hold   int      // release when this many are held
	all    bool     // release all of them at once (else half, at random)
}

func (h *holdSink) holds() {}

func (h *holdSink) Send(_ context.Context, m *Out) error {
	c := *m
	c.Key, c.Value, c.PartitionKey = bytes.Clone(m.Key), bytes.Clone(m.Value), bytes.Clone(m.PartitionKey)
	c.owner = nil
	h.outs = append(h.outs, c)
	if _, again := h.seen.LoadOrStore(m, true); again {
		h.reused.Add(1)
	}
	h.chunks.Store(m.owner, true)
	h.rel <- m
	return nil
}

func (h *holdSink) releaser() {
	defer close(h.done)
	r := rand.New(rand.NewSource(1))
	var held []*Out
	want := map[*Out]string{}
	flush := func(all bool) {
		r.Shuffle(len(held), func(i, j int) { held[i], held[j] = held[j], held[i] })
		n := len(held)
		if !all {
			n /= 2
		}
		for _, m := range held[:n] {
			if got := string(m.Key) + "|" + string(m.Value) + "|" + string(m.PartitionKey); got != want[m] {
				h.t.Errorf("line %d overwritten before release", m.Line)
			}
			delete(want, m)
			m.release()
		}
		held = append(held[:0], held[n:]...)
	}
	for m := range h.rel {
		held = append(held, m)
		want[m] = string(m.Key) + "|" + string(m.Value) + "|" + string(m.PartitionKey)
		if len(held) >= h.hold {
			flush(h.all)
		}
	}
	flush(true)
}

func (h *holdSink) Close(context.Context) (Result, error) {
	close(h.rel)
	<-h.done
	return Result{Messages: int64(len(h.outs))}, nil
}

func checkOuts(t *testing.T, eng *encode.Engine, lines []string, outs []Out) {
	t.Helper()
	if len(outs) != len(lines) {
		t.Fatalf("%d messages for %d lines", len(outs), len(lines))
	}
	spec, _ := eng.SpecFor("ev")
	for i, o := range outs {
		want, err := eng.Encode(context.Background(), spec, encode.Message{Value: encode.Text(lines[i])})
		if err != nil {
			t.Fatal(err)
		}
		got := encode.Encoded{Topic: o.Topic, Key: o.Key, Value: o.Value, PartitionKey: o.PartitionKey, KeySchemaID: want.KeySchemaID, ValueSchemaID: want.ValueSchemaID}
		if o.Line != i+1 || !reflect.DeepEqual(got, want) {
			t.Fatalf("line %d (message line %d) %s:\nRun    %+v\nEncode %+v", i+1, o.Line, lines[i], got, want)
		}
	}
}

// Kafka acknowledges many messages at once: the chunks that come back
// together are all kept for reuse, so a long stream uses about as many
// chunks as it has in flight at a time.
func TestRunReusesChunks(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	h := &holdSink{t: t, rel: make(chan *Out, 20000), done: make(chan struct{}), hold: 12000, all: true}
	go h.releaser()
	if _, err := Run(context.Background(), strings.NewReader(b.String()), Options{Topic: "t", Partition: -1, Workers: 2}, h); err != nil {
		t.Fatal(err)
	}
	n := 0
	h.chunks.Range(func(any, any) bool { n++; return true })
	// 12000 held messages are 47 chunks of 256 lines, plus those being
	// read, encoded and sent; 100000 lines are 391 chunks
	if n > 120 || h.reused.Load() == 0 {
		t.Fatalf("%d distinct chunks for 391 chunks' worth of lines (%d messages reused)", n, h.reused.Load())
	}
}

// Raw lines are copied into the chunk's slab: an empty key is still no key,
// an empty value still an empty (not null) value, and each part is capped.
func TestRawLinesInSlab(t *testing.T) {
	s := &memSink{}
	if _, err := Run(context.Background(), strings.NewReader("\tv1\nk2\t\nk3\tv3\n"), Options{Topic: "t", KeyDelim: "\t", Partition: -1}, s); err != nil {
		t.Fatal(err)
	}
	if len(s.outs) != 3 {
		t.Fatalf("%d messages", len(s.outs))
	}
	o := s.outs
	if o[0].Key != nil || string(o[0].Value) != "v1" || string(o[1].Key) != "k2" || o[1].Value == nil || len(o[1].Value) != 0 ||
		string(o[2].Key) != "k3" || string(o[2].Value) != "v3" {
		t.Fatalf("%+v", o)
	}
	for _, m := range o {
		if cap(m.Key) != len(m.Key) || cap(m.Value) != len(m.Value) {
			t.Fatalf("line %d: parts not capped", m.Line)
		}
	}
}
