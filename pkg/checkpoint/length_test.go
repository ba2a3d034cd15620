package checkpoint

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestLongTextsFitTheColumns: on MySQL/MariaDB the checkpoint tables'
// string columns are varchar(255) (Rails's string), and a strict server
// refuses a longer value (1406 data too long): a handler whose error line,
// event type or entity id is longer would fail the store on every
// redelivery. Such values are cut to the column's length in characters
// (PostgreSQL's and SQLite's columns have no limit and keep them whole);
// the full stderr stays in error_backtrace.
func TestLongTextsFitTheColumns(t *testing.T) {
	stores(t, func(t *testing.T, st *Store) {
		ctx := context.Background()
		long := strings.Repeat("é", 300) // 300 characters, 600 bytes
		limit := map[string]int{"mysql": 255}[st.d.Dialect.Name()]
		want := long
		if limit > 0 {
			want = string([]rune(long)[:limit])
		}
		h, err := NewHandler(Options{Group: "g", Store: st, MaxRetries: new(int),
			Runner: runnerFunc(func(ctx context.Context, m Message) (Result, error) {
				if strings.Contains(string(m.Payload), "fail") {
					return Result{}, &HandlerError{Class: "Deimos::HandlerExitError", Message: long, Backtrace: []string{long}}
				}
				return Result{Acked: true, Ack: &Ack{EntityID: &long, EventType: &long, EventVersion: &long}}, nil
			}),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Handle(ctx, recs(`{"ok":1}`, `{"fail":1}`)); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		evs, err := st.ListEvents(ctx, Filter{Limit: 5})
		if err != nil || len(evs) != 1 {
			t.Fatalf("events %v %v", evs, err)
		}
		e := evs[0]
		if *e.EntityID != want || *e.EventType != want || *e.EventVersion != want {
			t.Fatalf("event texts: %d, %d, %d characters, want %d", utf8.RuneCountInString(*e.EntityID), utf8.RuneCountInString(*e.EventType), utf8.RuneCountInString(*e.EventVersion), utf8.RuneCountInString(want))
		}
		fs, err := st.ListFailures(ctx, Filter{Limit: 5})
		if err != nil || len(fs) != 1 {
			t.Fatalf("failures %v %v", fs, err)
		}
		if *fs[0].ErrorMessage != want || !strings.Contains(string(fs[0].ErrorBacktrace), long) {
			t.Fatalf("failure: message %d characters, backtrace %s", utf8.RuneCountInString(*fs[0].ErrorMessage), fs[0].ErrorBacktrace)
		}
	})
}
