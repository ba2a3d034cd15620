package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// logCounter records when each log line with a given message prefix was
// written (debug level included).
type logCounter struct {
	mu    sync.Mutex
	times map[string][]time.Time
}

func newLogCounter() *logCounter { return &logCounter{times: map[string][]time.Time{}} }

func (c *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range []string{"Found topics", "Could not lock topic"} {
		if strings.HasPrefix(r.Message, p) {
			c.times[p] = append(c.times[p], r.Time)
		}
	}
	return nil
}
func (c *logCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *logCounter) WithGroup(string) slog.Handler      { return c }

func (c *logCounter) seen(prefix string) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.times[prefix])
}

// The workers of one relay share one listing of the topics per pass and
// never try a lock a sibling holds: with four workers, a --once run over
// eight topics lists the topics twice (the second listing finds them
// drained) and reports no lock it could not take. Before, every worker
// listed the topics on each of its passes and tried every topic's lock.
func TestWorkersShareOneListingPerPass(t *testing.T) {
	for name, url := range testDBs(t) {
		t.Run(name, func(t *testing.T) {
			d := migrated(t, url(t))
			topics := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
			brokers := testenv.Brokers(t, 2, topics...)
			var rows []Row
			for i := 0; i < 2000; i++ {
				rows = append(rows, Row{Topic: topics[i%len(topics)], Message: []byte(fmt.Sprint(i)), Key: []byte(fmt.Sprint(i % 10))})
			}
			if err := Insert(context.Background(), d.DB, d.Dialect, rows, time.Now()); err != nil {
				t.Fatal(err)
			}
			logs := newLogCounter()
			s, err := run(t, d, producer(t, brokers), Options{Workers: 4, BatchSize: 100, Logger: slog.New(logs)})
			if err != nil || s.Published != 2000 {
				t.Fatalf("published %d: %v", s.Published, err)
			}
			if n := count(t, d, "SELECT COUNT(*) FROM kafka_messages"); n != 0 {
				t.Fatalf("%d rows left", n)
			}
			if n := len(logs.seen("Found topics")); n != 2 {
				t.Errorf("the topics were listed %d times, want 2 (one listing per pass for all four workers)", n)
			}
			if n := len(logs.seen("Could not lock topic")); n != 0 {
				t.Errorf("%d lock attempts on topics a sibling worker held, want 0", n)
			}
		})
	}
}

// An idle daemon lists the topics at most once per pass interval, however
// many workers it runs (before: once per interval per worker).
func TestIdleDaemonListsOncePerInterval(t *testing.T) {
	for name, url := range testDBs(t) {
		t.Run(name, func(t *testing.T) {
			d := migrated(t, url(t))
			brokers := testenv.Brokers(t, 1, "idle")
			logs := newLogCounter()
			const interval = 100 * time.Millisecond
			r, err := New(context.Background(), d, producer(t, brokers), Options{Workers: 4, PassInterval: interval, Logger: slog.New(logs)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { _, err := r.Run(ctx); done <- err }()
			const want = 8
			testenv.Eventually(30*time.Second, func() bool { return len(logs.seen("Found topics")) >= want }) // checked below
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			ts := logs.seen("Found topics")
			if len(ts) < want {
				t.Fatalf("%d listings in 30 s", len(ts))
			}
			for i := 1; i < want; i++ {
				if gap := ts[i].Sub(ts[i-1]); gap < interval {
					t.Fatalf("listings %d and %d only %s apart, want at least the pass interval %s", i, i+1, gap, interval)
				}
			}
		})
	}
}

// After a --once pass emptied topics, PostgreSQL's next listing finds the
// same topics as a full one (a drained topic with new rows above its last
// id, topics it did not drain between and around the drained ones) without
// reading the index entries of the rows just deleted: a handful of index
// entries instead of every deleted row's (read as idx_tup_read of the
// (topic, id) index on one connection).
func TestListingAfterDrainSkipsDeletedEntries(t *testing.T) {
	ctx := context.Background()
	d := migrated(t, testenv.Postgres(t))
	d.SetMaxOpenConns(1) // one backend, whose statistics we flush and read
	st, err := newStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	topics := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	var rows []Row
	for i := 0; i < 8000; i++ {
		rows = append(rows, Row{Topic: topics[i%len(topics)], Message: []byte("v")})
	}
	if err := Insert(ctx, d.DB, d.Dialect, rows, time.Now()); err != nil {
		t.Fatal(err)
	}
	order, err := st.topics(ctx)
	if err != nil || !slices.Equal(order, topics) {
		t.Fatalf("listing %q %v", order, err)
	}
	// This run drained b, c, e and h; a, d, f and g still have rows;
	// c got new rows after its drain.
	drained := map[string]int64{}
	for _, tp := range []string{"b", "c", "e", "h"} {
		var last int64
		if err := d.QueryRowContext(ctx, "SELECT MAX(id) FROM kafka_messages WHERE topic = $1", tp).Scan(&last); err != nil {
			t.Fatal(err)
		}
		drained[tp] = last
		mustExec(t, d, "DELETE FROM kafka_messages WHERE topic = ?", tp)
	}
	mustExec(t, d, "DELETE FROM kafka_messages WHERE topic IN ('d', 'f') AND id < 6000")
	if err := Insert(ctx, d.DB, d.Dialect, []Row{{Topic: "c", Message: []byte("new")}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	entriesRead := func() int64 {
		t.Helper()
		var n int64
		mustExec(t, d, "SELECT pg_stat_force_next_flush()")
		if err := d.QueryRowContext(ctx, "SELECT COALESCE(SUM(idx_tup_read), 0) FROM pg_stat_user_indexes WHERE relname = 'kafka_messages'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := entriesRead()
	got, err := st.topicsAfterDrain(ctx, order, drained)
	if err != nil {
		t.Fatal(err)
	}
	skip := entriesRead() - before
	want := []string{"a", "c", "d", "f", "g"}
	if !slices.Equal(got, want) {
		t.Fatalf("listing after the drain %q, want %q", got, want)
	}
	before = entriesRead()
	full, err := st.topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all := entriesRead() - before
	if !slices.Equal(full, want) {
		t.Fatalf("full listing %q, want %q", full, want)
	}
	// The full walk reads the 4,000 deleted entries of b, c, e and h (and
	// d's and f's first 750 each); the bounded one only d's and f's.
	if all < 4000 || skip > all-4000 {
		t.Fatalf("index entries read: %d after the drain, %d by a full listing", skip, all)
	}
	t.Logf("index entries read: %d after the drain, %d by a full listing", skip, all)
}
