package consume

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/deimos-cli/deimos/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestParseOffset(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want Offset
		err  bool
	}{
		{"beginning", Offset{Kind: OffsetBeginning}, false},
		{"end", Offset{Kind: OffsetEnd}, false},
		{"stored", Offset{Kind: OffsetStored}, false},
		{"42", Offset{Kind: OffsetExact, N: 42}, false},
		{"-10", Offset{Kind: OffsetLast, N: 10}, false},
		{"@2024-05-01T10:00:00Z", Offset{Kind: OffsetTime, At: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}, false},
		{"-1h", Offset{Kind: OffsetTime, At: now.Add(-time.Hour)}, false},
		{"@1714557600000", Offset{Kind: OffsetTime, At: time.UnixMilli(1714557600000)}, false},
		{"s@1714557600000", Offset{Kind: OffsetTime, At: time.UnixMilli(1714557600000)}, false}, // kcat
		{"start", Offset{Kind: OffsetBeginning}, false},                                         // rpk
		{"oldest", Offset{Kind: OffsetBeginning}, false},
		{"newest", Offset{Kind: OffsetEnd}, false},
		{"+3", Offset{Kind: OffsetFromStart, N: 3}, false},
		{"@1714557600", Offset{Kind: OffsetTime, At: time.Unix(1714557600, 0)}, false},
		{"@2024-05-01", Offset{Kind: OffsetTime, At: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)}, false},
		{"@-1h", Offset{Kind: OffsetTime, At: now.Add(-time.Hour)}, false},
		{"soon", Offset{}, true},
		{"@yesterday", Offset{}, true},
		{"e@1714557600000", Offset{}, true}, // a stop, not a start: ParseOffsets
		{"+x", Offset{}, true},
		{"10:20", Offset{}, true}, // rpk's ranges are not taken
	}
	for _, tt := range tests {
		got, err := ParseOffset(tt.in, now)
		if (err != nil) != tt.err {
			t.Fatalf("%s: err = %v", tt.in, err)
		}
		if !tt.err && (got.Kind != tt.want.Kind || got.N != tt.want.N || !got.At.Equal(tt.want.At)) {
			t.Errorf("%s: got %+v want %+v", tt.in, got, tt.want)
		}
	}
	if s := startOffset(Offset{Kind: OffsetLast, N: 10}, 5, 8, -1); s != 5 {
		t.Errorf("last 10 of [5,8) starts at %d, want 5", s)
	}
	if s := startOffset(Offset{Kind: OffsetExact, N: 100}, 0, 8, -1); s != 8 {
		t.Errorf("exact past end = %d, want 8", s)
	}
	if s := startOffset(Offset{Kind: OffsetFromStart, N: 2}, 5, 8, -1); s != 7 {
		t.Errorf("+2 of [5,8) = %d, want 7", s)
	}
}

// kcat's -o may be given twice: a start and an e@ stop.
func TestParseOffsets(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	start, stop, err := ParseOffsets([]string{"s@1714557600000", "e@1714561200000"}, now)
	if err != nil || start.Kind != OffsetTime || !start.At.Equal(time.UnixMilli(1714557600000)) || stop == nil || stop.Offset != -1 || !stop.At.Equal(time.UnixMilli(1714561200000)) {
		t.Fatalf("s@ e@: %+v %+v %v", start, stop, err)
	}
	start, stop, err = ParseOffsets([]string{"e@1714561200000"}, now)
	if err != nil || start.Kind != OffsetBeginning || stop == nil {
		t.Fatalf("e@ alone starts at the beginning: %+v %+v %v", start, stop, err)
	}
	if start, stop, err = ParseOffsets(nil, now); err != nil || start.Kind != OffsetBeginning || stop != nil {
		t.Fatalf("no -o: %+v %+v %v", start, stop, err)
	}
	for _, bad := range [][]string{{"end", "-10"}, {"e@1", "e@2"}, {"e@soon"}} {
		if _, _, err := ParseOffsets(bad, now); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// collector is a Handler that keeps what it is given.
type collector struct {
	mu   sync.Mutex
	recs []Record
}

func (c *collector) Handle(_ context.Context, b []Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, b...)
	return nil
}

func (c *collector) offsets() []string {
	var out []string
	for _, r := range c.recs {
		out = append(out, fmt.Sprintf("%d:%d", r.Partition, r.Offset))
	}
	return out
}

func produceN(t *testing.T, addrs []string, topic string, part int32, n int, ts time.Time) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: topic, Partition: part, Key: []byte(fmt.Sprintf("k%d", i%3)), Value: []byte(fmt.Sprintf(`{"i":%d}`, i)), Timestamp: ts.Add(time.Duration(i) * time.Minute)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func base(addrs []string) []kgo.Opt { return []kgo.Opt{kgo.SeedBrokers(addrs...)} }

func runC(t *testing.T, addrs []string, o Options) (*collector, Stats) {
	t.Helper()
	c := &collector{}
	o.Handler = c
	o.Timeout = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := Run(ctx, base(addrs), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run did not stop by itself")
	}
	return c, st
}

func TestExitAtEndLastNAndTime(t *testing.T) {
	addrs := testenv.Brokers(t, 3, "t")
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	produceN(t, addrs, "t", 0, 5, t0)
	produceN(t, addrs, "t", 1, 2, t0)
	// partition 2 stays empty: -e must still exit

	c, st := runC(t, addrs, Options{Topics: []string{"t"}, ExitAtEnd: true})
	if st.Records != 7 || len(c.recs) != 7 {
		t.Fatalf("all: %v", c.offsets())
	}
	c, _ = runC(t, addrs, Options{Topics: []string{"t"}, ExitAtEnd: true, Offset: Offset{Kind: OffsetLast, N: 2}})
	if got := strings.Join(c.offsets(), ","); got != "0:3,0:4,1:0,1:1" {
		t.Fatalf("last 2 = %s", got)
	}
	c, _ = runC(t, addrs, Options{Topics: []string{"t"}, Partitions: []int32{0}, ExitAtEnd: true,
		Offset: Offset{Kind: OffsetTime, At: t0.Add(2 * time.Minute)}, Until: &Bound{Offset: -1, At: t0.Add(4 * time.Minute)}})
	if got := strings.Join(c.offsets(), ","); got != "0:2,0:3" {
		t.Fatalf("time range = %s", got)
	}
	c, _ = runC(t, addrs, Options{Topics: []string{"t"}, Count: 3})
	if len(c.recs) != 3 {
		t.Fatalf("-c 3 gave %d", len(c.recs))
	}
	c, _ = runC(t, addrs, Options{Topics: []string{"t"}, ExitAtEnd: true, Offset: Offset{Kind: OffsetEnd}})
	if len(c.recs) != 0 {
		t.Fatalf("-o end -e gave %d", len(c.recs))
	}
}

func TestExitAtEndCompactedAndTransactions(t *testing.T) {
	cluster := testenv.Kafka(t, 1)
	addrs := cluster.ListenAddrs()
	adm, err := kadm.NewOptClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ctx := context.Background()
	compact := "compact"
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": &compact}, "cmp"); err != nil {
		t.Fatal(err)
	}
	produceN(t, addrs, "cmp", 0, 6, time.Now())
	c, _ := runC(t, addrs, Options{Topics: []string{"cmp"}, ExitAtEnd: true})
	if len(c.recs) != 6 {
		t.Fatalf("compacted: %v", c.offsets())
	}

	// A transaction leaves a commit marker as the partition's last offset.
	tx, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.TransactionalID("tx1"), kgo.DefaultProduceTopic("txt"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := tx.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	for _, rc := range []bool{false, true} {
		c, _ = runC(t, addrs, Options{Topics: []string{"txt"}, ExitAtEnd: true, ReadCommitted: rc})
		if len(c.recs) != 3 {
			t.Fatalf("transactional (read committed %v): %v", rc, c.offsets())
		}
	}
}

func TestGroupCommits(t *testing.T) {
	addrs := testenv.Brokers(t, 2, "g")
	produceN(t, addrs, "g", 0, 3, time.Now())
	c, _ := runC(t, addrs, Options{Topics: []string{"g"}, Group: "grp", ExitAtEnd: true})
	if len(c.recs) != 3 {
		t.Fatalf("first run: %v", c.offsets())
	}
	produceN(t, addrs, "g", 1, 2, time.Now())
	c, _ = runC(t, addrs, Options{Topics: []string{"g"}, Group: "grp", ExitAtEnd: true})
	if got := strings.Join(c.offsets(), ","); got != "1:0,1:1" {
		t.Fatalf("second run must see only new records, got %s", got)
	}
	// without -g nothing is committed: a fresh direct read sees everything
	c, _ = runC(t, addrs, Options{Topics: []string{"g"}, ExitAtEnd: true})
	if len(c.recs) != 5 {
		t.Fatalf("direct: %v", c.offsets())
	}
}

func TestUnknownTopicAndDeadBroker(t *testing.T) {
	addrs := testenv.Brokers(t, 1, "x")
	_, err := Run(context.Background(), base(addrs), Options{Topics: []string{"nope"}, Handler: &collector{}, Timeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), `topic "nope"`) {
		t.Fatalf("unknown topic err = %v", err)
	}
	start := time.Now()
	_, err = Run(context.Background(), base([]string{"127.0.0.1:1"}), Options{Topics: []string{"x"}, Handler: &collector{}, Timeout: 2 * time.Second})
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("dead broker err = %v after %s", err, time.Since(start))
	}
}

// rawBatch encodes a v2 record batch (uncompressed) holding the given
// offsets; with n == 0 and span > 0 it is a batch compacted to nothing.
func rawBatch(first int64, span int32, offsets []int64) []byte {
	var recs []byte
	for _, off := range offsets {
		r := kmsg.Record{OffsetDelta: int32(off - first), Key: []byte("k"), Value: []byte(fmt.Sprintf(`{"i":%d}`, off))}
		tmp := r.AppendTo(nil)
		r.Length = int32(len(tmp) - 1)
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{FirstOffset: first, Magic: 2, LastOffsetDelta: span - 1, NumRecords: int32(len(offsets)),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, Records: recs,
		FirstTimestamp: time.Now().UnixMilli(), MaxTimestamp: time.Now().UnixMilli()}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:12], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:21], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

// TestExitAtEndCompactedTail serves, as a broker after compaction would,
// offsets 0..2 then a trailing batch 3..5 compacted to nothing (and, in the
// second case, a batch whose only surviving record is below the reader):
// -e must deliver 0..2 and exit instead of waiting for offsets that are gone.
func TestExitAtEndCompactedTail(t *testing.T) {
	for name, tail := range map[string][]byte{
		"empty trailing batch": rawBatch(3, 3, nil),
		"records below reader": rawBatch(2, 4, []int64{2}),
	} {
		t.Run(name, func(t *testing.T) {
			cluster := testenv.Kafka(t, 1, "ct")
			addrs := cluster.ListenAddrs()
			produceN(t, addrs, "ct", 0, 6, time.Now()) // high watermark 6
			head := rawBatch(0, 3, []int64{0, 1, 2})
			if name == "records below reader" {
				head = rawBatch(0, 2, []int64{0, 1})
			}
			headEnd := int64(3)
			if name == "records below reader" {
				headEnd = 2
			}
			cluster.ControlKey(int16(kmsg.Fetch), func(kr kmsg.Request) (kmsg.Response, error, bool) {
				cluster.KeepControl()
				req := kr.(*kmsg.FetchRequest)
				resp := req.ResponseKind().(*kmsg.FetchResponse)
				for _, rt := range req.Topics {
					st := kmsg.NewFetchResponseTopic()
					st.Topic, st.TopicID = rt.Topic, rt.TopicID
					for _, rp := range rt.Partitions {
						sp := kmsg.NewFetchResponseTopicPartition()
						sp.Partition = rp.Partition
						sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = 6, 6, 0
						switch {
						case rp.FetchOffset < headEnd:
							sp.RecordBatches = append(append([]byte{}, head...), tail...)
						case rp.FetchOffset < 6:
							sp.RecordBatches = tail
						}
						st.Partitions = append(st.Partitions, sp)
					}
					resp.Topics = append(resp.Topics, st)
				}
				return resp, nil, true
			})
			c, _ := runC(t, addrs, Options{Topics: []string{"ct"}, ExitAtEnd: true})
			want := "0:0,0:1,0:2"
			if got := strings.Join(c.offsets(), ","); got != want {
				t.Fatalf("got %s, want %s", got, want)
			}
		})
	}
}

func txBatch(first int64, pid int64, control bool, offsets ...int64) []byte {
	raw := rawBatch(first, int32(len(offsets)), offsets)
	var b kmsg.RecordBatch
	if err := b.ReadFrom(raw); err != nil {
		panic(err)
	}
	b.ProducerID, b.Attributes = pid, 0x10
	if control {
		b.Attributes |= 0x20
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[17:21], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

// In read-committed mode an aborted transaction's data is not readable, but
// a later committed transaction of the same producer is.
func TestReadableInTransactions(t *testing.T) {
	aborted := []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 7, FirstOffset: 0}}
	abortedOnly := append(txBatch(0, 7, false, 0, 1), txBatch(2, 7, true, 2)...)
	withCommitted := append(append([]byte{}, abortedOnly...), txBatch(3, 7, false, 3)...)
	for _, c := range []struct {
		name string
		raw  []byte
		rc   bool
		want bool
	}{
		{"aborted, read committed", abortedOnly, true, false},
		{"aborted, read uncommitted", abortedOnly, false, true},
		{"aborted then committed", withCommitted, true, true},
	} {
		has, next := readableIn(c.raw, 0, 10, c.rc, aborted)
		if has != c.want {
			t.Errorf("%s: readable %v, want %v (next %d)", c.name, has, c.want, next)
		}
	}
	if has, next := readableIn(abortedOnly, 0, 3, true, aborted); has || next != 3 {
		t.Errorf("aborted tail: readable %v next %d, want false 3", has, next)
	}
}
