package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
)

// lockWatch records the topic's kafka_topic_info.locked_by and locked_at
// as each batch is sent, and can hand the lock to another relay (steal)
// on a given call, as a Ruby worker taking over a stale lock would.
type lockWatch struct {
	p     Producer
	d     *db.DB
	steal int // on this call (1-based) the lock is taken by "ruby-other"; 0: never

	mu    sync.Mutex
	calls int
	seen  []string // "locked_by locked_at" per call
}

func (w *lockWatch) ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults {
	w.mu.Lock()
	w.calls++
	call := w.calls
	w.mu.Unlock()
	text := "TEXT"
	if w.d.Dialect.Name() == "mysql" {
		text = "CHAR"
	}
	var by, at sql.NullString
	_ = w.d.QueryRowContext(ctx, "SELECT locked_by, CAST(locked_at AS "+text+") FROM kafka_topic_info").Scan(&by, &at)
	w.mu.Lock()
	w.seen = append(w.seen, by.String+" "+at.String)
	w.mu.Unlock()
	if call == w.steal {
		_, _ = w.d.ExecContext(ctx, w.d.Rebind("UPDATE kafka_topic_info SET locked_by = ?, locked_at = ?"), "ruby-other", DBTime(time.Now()))
	}
	return w.p.ProduceSync(ctx, rs...)
}

func (w *lockWatch) values() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string{}, w.seen...)
}

// Between two batches the lock is heartbeated only once its locked_at is
// HeartbeatAfter old: with a long HeartbeatAfter, ten batches are sent
// under the locked_at the lock wrote (before: a heartbeat UPDATE after
// every batch); with a short one, each batch is sent under a newer
// locked_at; and a lock another relay took is still noticed by the next
// heartbeat, which stops the drain.
func TestHeartbeatBetweenBatchesOnlyWhenDue(t *testing.T) {
	if got := (&Options{}); true {
		got.defaults()
		if got.HeartbeatAfter != 5*time.Second {
			t.Fatalf("default HeartbeatAfter %v, want 5s (LockWindow/12)", got.HeartbeatAfter)
		}
	}
	for name, url := range testDBs(t) {
		t.Run(name, func(t *testing.T) {
			d := migrated(t, url(t))
			brokers := testenv.Brokers(t, 2, "hb")
			insert := func() {
				var rows []Row
				for i := 0; i < 200; i++ {
					rows = append(rows, Row{Topic: "hb", Message: []byte(fmt.Sprint(i)), Key: []byte(fmt.Sprint(i % 10))})
				}
				if err := Insert(context.Background(), d.DB, d.Dialect, rows, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			p := producer(t, brokers)

			insert()
			w := &lockWatch{p: p, d: d}
			s, err := run(t, d, w, Options{BatchSize: 20, HeartbeatAfter: time.Hour})
			if err != nil || s.Published != 200 {
				t.Fatalf("published %d: %v", s.Published, err)
			}
			seen := w.values()
			if len(seen) != 10 {
				t.Fatalf("%d sends, want 10", len(seen))
			}
			for i, v := range seen {
				if v != seen[0] {
					t.Fatalf("batch %d sent under lock %q, batch 1 under %q: a heartbeat ran before it was due", i+1, v, seen[0])
				}
			}

			insert()
			w = &lockWatch{p: p, d: d}
			s, err = run(t, d, w, Options{BatchSize: 20, HeartbeatAfter: time.Nanosecond})
			if err != nil || s.Published != 200 {
				t.Fatalf("published %d: %v", s.Published, err)
			}
			seen = w.values()
			if len(seen) != 10 {
				t.Fatalf("%d sends, want 10", len(seen))
			}
			for i := 1; i < len(seen); i++ {
				if seen[i] <= seen[i-1] {
					t.Fatalf("locked_at before batch %d: %q, before batch %d: %q; want a heartbeat after every batch", i, seen[i-1], i+1, seen[i])
				}
			}

			// The lock is taken while batch 3 is sent: the heartbeat after
			// it finds the lock gone and the worker leaves the topic.
			insert()
			w = &lockWatch{p: p, d: d, steal: 3}
			s, err = run(t, d, w, Options{BatchSize: 20, HeartbeatAfter: time.Nanosecond})
			if err != nil || s.Published != 60 {
				t.Fatalf("published %d after the lock was taken in batch 3, want 60: %v", s.Published, err)
			}
			if n := count(t, d, "SELECT COUNT(*) FROM kafka_messages"); n != 140 {
				t.Fatalf("%d rows left, want 140", n)
			}
			if n := count(t, d, "SELECT COUNT(*) FROM kafka_topic_info WHERE locked_by = 'ruby-other'"); n != 1 {
				t.Fatal("the other relay's lock was not kept")
			}
		})
	}
}
