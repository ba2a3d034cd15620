package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// flaky fails the first `fails` ProduceSync calls with a retryable broker
// error (nothing is sent), then delegates to the real client. On each failing
// call it records the topic's locked_at, to show the heartbeat during back-off.
type flaky struct {
	p        Producer
	d        *sql.DB
	fails    int32
	calls    atomic.Int32
	mu       sync.Mutex
	lockedAt []string
}

func (f *flaky) ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults {
	if f.calls.Add(1) > f.fails {
		return f.p.ProduceSync(ctx, rs...)
	}
	var at sql.NullString
	_ = f.d.QueryRowContext(ctx, "SELECT CAST(locked_at AS TEXT) FROM kafka_topic_info").Scan(&at)
	f.mu.Lock()
	f.lockedAt = append(f.lockedAt, at.String)
	f.mu.Unlock()
	out := make(kgo.ProduceResults, len(rs))
	for i, r := range rs {
		out[i] = kgo.ProduceResult{Record: r, Err: kerr.NotLeaderForPartition}
	}
	return out
}

// Kafka errors other than too-large are retried with back-off while the lock
// is heartbeated (Part A); nothing is deleted until the send succeeds.
func TestKafkaErrorsBackOffWhileHeartbeating(t *testing.T) {
	d := migrated(t, testenv.SQLiteURL(t))
	brokers := testenv.Brokers(t, 2, "hb")
	for i := 0; i < 30; i++ {
		rubyInsert(t, d, "hb", []byte(fmt.Sprint(i)), []byte(fmt.Sprint(i%3)), nil)
	}
	f := &flaky{p: producer(t, brokers), d: d.DB, fails: 4}
	r, err := New(context.Background(), d, f, Options{HeartbeatEvery: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Summary, 1)
	go func() { s, _ := r.Run(ctx); done <- s }()
	waitEmpty(t, d, 15*time.Second)
	cancel()
	s := <-done
	if f.calls.Load() < 5 || s.Published != 30 || len(s.FailedTopics) != 0 {
		t.Fatalf("calls %d, summary %+v", f.calls.Load(), s)
	}
	// back-off: 1 s, 0.4 s, 0.4 s between the failing calls; heartbeats moved locked_at meanwhile
	f.mu.Lock()
	seen := append([]string{}, f.lockedAt...)
	f.mu.Unlock()
	if len(seen) != 4 || seen[0] == "" || seen[0] >= seen[3] {
		t.Fatalf("locked_at during the failing sends: %q (want it to advance: heartbeat)", seen)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM kafka_topic_info WHERE error = 0 AND locked_by IS NULL"); n != 1 {
		t.Error("topic not released cleanly")
	}
	if recs := consumeAll(t, brokers, 30, "hb"); len(recs) != 30 {
		t.Errorf("%d records in Kafka, want 30 (failed attempts send nothing)", len(recs))
	}

	// --once gives up after OnceAttempts: rows kept, topic errored, exit error.
	for i := 0; i < 5; i++ {
		rubyInsert(t, d, "hb", []byte("again"), nil, nil)
	}
	f2 := &flaky{p: producer(t, brokers), d: d.DB, fails: 1000}
	s, err = run(t, d, f2, Options{OnceAttempts: 2, MaxBackoff: 100 * time.Millisecond})
	if err == nil || len(s.FailedTopics) != 1 || f2.calls.Load() != 2 {
		t.Fatalf("once with a failing broker: %v %+v calls %d", err, s, f2.calls.Load())
	}
	if n := count(t, d, "SELECT COUNT(*) FROM kafka_messages"); n != 5 {
		t.Errorf("%d rows left, want 5", n)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM kafka_topic_info WHERE error = 1 AND retries = 1"); n != 1 {
		t.Error("topic not errored")
	}
}

// Every database connection of the relay is killed (pg_terminate_backend)
// several times mid-run: the relay reconnects and continues, no topic errors,
// nothing is lost.
func TestDroppedDBConnectionsReconnect(t *testing.T) {
	base := testenv.Postgres(t)
	const app = "deimos_outbox_reconnect_test"
	d := migrated(t, base+"&application_name="+app)
	admin := migrated(t, base)
	topics := []string{"r1", "r2", "r3"}
	brokers := testenv.Brokers(t, 3, topics...)
	ins := func(from, to int) {
		var rows []Row
		for i := from; i < to; i++ {
			rows = append(rows, Row{Topic: topics[i%3], Message: []byte(fmt.Sprint(i)), Key: []byte(fmt.Sprint(i % 11))})
		}
		if err := Insert(context.Background(), admin.DB, admin.Dialect, rows, time.Now()); err != nil {
			t.Error(err)
		}
	}
	ins(0, 3000)
	r, err := New(context.Background(), d, producer(t, brokers), Options{Workers: 2, BatchSize: 20, PassInterval: 20 * time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Summary, 1)
	go func() { s, _ := r.Run(ctx); done <- s }()
	killed := 0
	for i := 0; i < 8; i++ {
		time.Sleep(150 * time.Millisecond)
		ins(3000+i*100, 3100+i*100)
		var n int
		if err := admin.QueryRowContext(context.Background(),
			"SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		killed += n
	}
	const total = 3800
	deadline := time.Now().Add(30 * time.Second)
	for count(t, admin, "SELECT COUNT(*) FROM kafka_messages") > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	s := <-done
	if killed < 4 {
		t.Fatalf("only %d relay connections were killed; the test did not exercise reconnects", killed)
	}
	if n := count(t, admin, "SELECT COUNT(*) FROM kafka_messages"); n != 0 {
		t.Fatalf("%d rows left after %d killed connections (summary %+v)", n, killed, s)
	}
	if len(s.FailedTopics) != 0 {
		t.Errorf("topics errored by dropped connections: %v", s.FailedTopics)
	}
	if n := count(t, admin, "SELECT COUNT(*) FROM kafka_topic_info WHERE error OR locked_by IS NOT NULL"); n != 0 {
		t.Errorf("%d topics errored or still locked after stop", n)
	}
	recs := consumeAll(t, brokers, total, topics...)
	seen := map[string]bool{}
	for _, rec := range recs {
		seen[string(rec.Value)] = true
	}
	if len(seen) != total {
		t.Fatalf("%d distinct of %d messages in Kafka", len(seen), total)
	}
	t.Logf("killed %d connections; %d records for %d rows", killed, len(recs), total)
}
