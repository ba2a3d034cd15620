package checkpoint

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDedupOnAUniqueIndex: phobos_db_checkpoint's indexes are not unique,
// but an app may make (topic, group_id, checksum) and the failures'
// checksum unique. Then a second copy stored by another consumer between
// deimos's dedup check and its INSERT is refused by the index (MySQL 1062,
// PostgreSQL 23505, SQLite UNIQUE): that is dedup, not a store failure.
// Each of the three writes meets that race here: the handler's event, a
// failure, and a retried failure's event.
func TestDedupOnAUniqueIndex(t *testing.T) {
	stores(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		for _, q := range []string{
			"CREATE UNIQUE INDEX uniq_events ON " + EventsTable + " (topic, group_id, checksum)",
			"CREATE UNIQUE INDEX uniq_failures ON " + FailuresTable + " (checksum)",
		} {
			if _, err := st.d.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		count := func(table string) int {
			var n int
			if err := st.d.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}

		// 1. The handler's event: another consumer stores it while the handler runs.
		var kinds []string
		h, err := NewHandler(Options{Group: "g", Store: st,
			Runner: runnerFunc(func(ctx context.Context, m Message) (Result, error) {
				if _, err := st.insertEvent(ctx, st.d, newEvent{topic: m.Topic, group: m.Group, checksum: m.Checksum, payload: m.Payload}); err != nil {
					t.Errorf("the other consumer's event: %v", err)
				}
				return Result{Acked: true}, nil
			}),
			OnEvent: func(k string, m Message, err error) { kinds = append(kinds, fmt.Sprintf("%s@%d %v", k, m.Offset, err)) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Handle(ctx, recs(`{"n":1}`)); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		if got := strings.Join(kinds, ","); got != "acknowledged@0 <nil>" || count(EventsTable) != 1 {
			t.Fatalf("events %v, %d rows", kinds, count(EventsTable))
		}

		// 2. A failure: another consumer records it between the check and the INSERT
		// (the store's clock is read in between).
		f := NewFailure{Topic: "t", GroupID: "g", Checksum: Checksum(`{"n":2}`), Payload: []byte(`{"n":2}`),
			Metadata: map[string]any{"offset": 1}, ErrorClass: "E", ErrorMessage: "m"}
		raced := false
		st.SetNow(func() time.Time {
			if !raced {
				raced = true
				other := *st
				other.now = time.Now
				if ok, err := other.RecordFailure(ctx, f); !ok || err != nil {
					t.Errorf("the other consumer's failure: %v %v", ok, err)
				}
			}
			return time.Now()
		})
		stored, err := st.RecordFailure(ctx, f)
		st.SetNow(time.Now)
		if err != nil || stored || !raced || count(FailuresTable) != 1 {
			t.Fatalf("RecordFailure = %v, %v (raced %v); %d rows", stored, err, raced, count(FailuresTable))
		}

		// 3. A retried failure whose event another consumer has stored: the
		// failure is resolved and the event stays single.
		fs, err := st.ListFailures(ctx, Filter{Limit: 1})
		if err != nil || len(fs) != 1 {
			t.Fatalf("failures %v %v", fs, err)
		}
		acked, err := Retry(ctx, st, runnerFunc(func(ctx context.Context, m Message) (Result, error) {
			if _, err := st.insertEvent(ctx, st.d, newEvent{topic: "t", group: "g", checksum: *fs[0].Checksum, payload: m.Payload}); err != nil {
				t.Errorf("the other consumer's event: %v", err)
			}
			return Result{Acked: true}, nil
		}), Fields{}, fs[0].ID)
		if err != nil || !acked {
			t.Fatalf("Retry = %v, %v", acked, err)
		}
		if count(FailuresTable) != 0 || count(EventsTable) != 2 {
			t.Fatalf("after retry: %d failures, %d events", count(FailuresTable), count(EventsTable))
		}
	})
}
