package produce

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/kafkaclient"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type memSink struct{ outs []Out }

func (s *memSink) Send(_ context.Context, m *Out) error { s.outs = append(s.outs, *m); return nil }
func (s *memSink) Close(context.Context) (Result, error) {
	return Result{Messages: int64(len(s.outs))}, nil
}

func TestReadersRaw(t *testing.T) {
	s := &memSink{}
	in := "a\t1\nb\t\n\n"
	if _, err := Run(context.Background(), strings.NewReader(in), Options{Topic: "t", KeyDelim: "\t", TombstoneEmpty: true, Partition: -1}, s); err != nil {
		t.Fatal(err)
	}
	if len(s.outs) != 2 || string(s.outs[0].Key) != "a" || string(s.outs[0].Value) != "1" || s.outs[1].Value != nil || s.outs[0].Line != 1 {
		t.Fatalf("%+v", s.outs)
	}
	s = &memSink{}
	_, err := Run(context.Background(), strings.NewReader("x\ty\nnodelim\n"), Options{Topic: "t", KeyDelim: "\t", Partition: -1}, s)
	if err == nil || !strings.Contains(err.Error(), "line 2") || errs.ExitCode(err) != 1 {
		t.Fatalf("err = %v", err)
	}
	s = &memSink{}
	env := `{"topic":"x","partition":1,"offset":0,"timestamp":"2024-01-01T00:00:00.000Z","key":null,"value":"","value_encoding":"string"}`
	if _, err := Run(context.Background(), strings.NewReader(env+"\n"), Options{Partition: -1}, s); err != nil {
		t.Fatal(err)
	}
	o := s.outs[0]
	if o.Topic != "x" || o.Partition != 1 || o.Key != nil || o.Value == nil || len(o.Value) != 0 || o.Timestamp.UnixMilli() != 1704067200000 {
		t.Fatalf("envelope: %+v", o)
	}
}

// TestKafkaSinkConcurrent drives the async sink under -race: acks arrive
// on client goroutines while the reader keeps sending.
func TestKafkaSinkConcurrent(t *testing.T) {
	addrs := testenv.Brokers(t, 3, "r")
	part, _ := kafkaclient.Partitioner("crc32")
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(Partitioner(part)), kgo.MaxBufferedRecords(50))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var b strings.Builder
	for i := 0; i < 2000; i++ {
		b.WriteString(`{"i":1}` + "\n")
	}
	sink := NewKafkaSink(cl, 10*time.Second)
	res, err := Run(context.Background(), strings.NewReader(b.String()), Options{Topic: "r", Partition: -1}, sink)
	if err != nil || res.Messages != 2000 || res.Failed != 0 {
		t.Fatalf("res %+v err %v", res, err)
	}
	// an explicit partition outside the topic names the line
	sink = NewKafkaSink(cl, 10*time.Second)
	_, err = Run(context.Background(), strings.NewReader("{}\n"), Options{Topic: "r", Partition: 7}, sink)
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("err = %v", err)
	}
}
