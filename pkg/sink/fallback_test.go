package sink

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/errs"
)

const fbDDL = `CREATE TABLE fb (id bigint PRIMARY KEY, name varchar NOT NULL, qty integer CHECK (qty >= 0))`

// TestFallbackCommitsGoodRowsAndNamesBadKeys: one bad row no longer fails
// the whole batch: the good rows (and tombstones) are committed, and the
// error names each failed key with its database error (exit code 1).
func TestFallbackCommitsGoodRowsAndNamesBadKeys(t *testing.T) {
	dbs(t, func(t *testing.T, d *db.DB) {
		exec(t, d, fbDDL)
		exec(t, d, `INSERT INTO fb VALUES (3, 'old', 5), (9, 'gone', 1)`)
		now := time.Now()
		var fallbacks []int
		s := newSink(t, d, Options{Table: "fb", OnFallback: func(err error, n int) { fallbacks = append(fallbacks, n) }}, &now)
		b := batch(
			rec{`1`, `{"name":"a","qty":1}`},
			rec{`2`, `{"name":null,"qty":2}`}, // NOT NULL
			rec{`3`, `{"name":"c"}`},          // qty: NULL, as in the bulk write
			rec{`4`, `{"name":"d","qty":-1}`}, // CHECK
			rec{`9`, ``},
		)
		for round := 0; round < 2; round++ { // a replay re-tries the bad rows, idempotently
			err := s.Handle(context.Background(), b)
			var fe *BatchFallbackError
			if !errors.As(err, &fe) {
				t.Fatalf("round %d: err = %v, want a BatchFallbackError", round, err)
			}
			if errs.ExitCode(err) != 1 {
				t.Fatalf("exit code %d", errs.ExitCode(err))
			}
			if len(fe.Failed) != 2 || fe.Failed[0].Key != "2" || fe.Failed[0].Offset != 1 || fe.Failed[1].Key != "4" || fe.Failed[1].Offset != 3 {
				t.Fatalf("failed = %+v", fe.Failed)
			}
			msg := strings.ToLower(err.Error())
			check := "check"
			if d.Dialect.Name() == "mysql" { // MariaDB: "CONSTRAINT `fb.qty` failed"; MySQL 8: "Check constraint … is violated"
				check = "constraint"
			}
			for _, want := range []string{"key 2 (widgets/0@1)", "key 4 (widgets/0@3)", "null", check, "other rows are committed"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if got := dump(t, d, "SELECT id, name, qty FROM fb ORDER BY id"); !reflect.DeepEqual(got, []string{"1|a|1", "3|c|<nil>"}) {
				t.Fatalf("round %d: rows = %v", round, got)
			}
		}
		if !reflect.DeepEqual(fallbacks, []int{5, 5}) || s.Stats.Fallbacks != 2 || s.Stats.BadRows != 4 || s.Stats.Upserted != 4 || s.Stats.Deleted != 2 {
			t.Fatalf("fallbacks %v, stats %+v", fallbacks, s.Stats)
		}
		if d.Dialect.Name() != "sqlite" { // a type error (SQLite would store the text)
			err := s.Handle(context.Background(), batch(rec{`5`, `{"name":"e","qty":"many"}`}, rec{`6`, `{"name":"f","qty":6}`}))
			var fe *BatchFallbackError
			if !errors.As(err, &fe) || len(fe.Failed) != 1 || fe.Failed[0].Key != "5" {
				t.Fatalf("type error: %v", err)
			}
			if got := dump(t, d, "SELECT id FROM fb WHERE id >= 5"); !reflect.DeepEqual(got, []string{"6"}) {
				t.Fatalf("rows = %v", got)
			}
		}
	})
}

// TestFallbackSkipBadRows: with SkipBadRows the bad rows are reported and
// Handle returns nil, so the batch's offsets are committed.
func TestFallbackSkipBadRows(t *testing.T) {
	dbs(t, func(t *testing.T, d *db.DB) {
		exec(t, d, fbDDL)
		now := time.Now()
		var bad []BadRow
		s := newSink(t, d, Options{Table: "fb", SkipBadRows: true, OnBadRow: func(b BadRow) { bad = append(bad, b) }}, &now)
		err := s.Handle(context.Background(), batch(
			rec{`1`, `{"name":"a"}`}, rec{`2`, `{"name":null}`}, rec{`3`, `{"name":"c"}`},
		))
		if err != nil {
			t.Fatalf("Handle = %v, want nil", err)
		}
		if got := dump(t, d, "SELECT id, name FROM fb ORDER BY id"); !reflect.DeepEqual(got, []string{"1|a", "3|c"}) {
			t.Fatalf("rows = %v", got)
		}
		if len(bad) != 1 || bad[0].Key != "2" || bad[0].Offset != 1 || bad[0].Topic != "widgets" || bad[0].Err == nil ||
			!strings.Contains(strings.ToLower(bad[0].Err.Error()), "null") {
			t.Fatalf("bad rows = %+v", bad)
		}
		if s.Stats.BadRows != 1 || s.Stats.Batches != 1 || s.Stats.Upserted != 2 {
			t.Fatalf("stats = %+v", s.Stats)
		}
	})
}

// TestFallbackEveryRowFails: when no row goes in on its own, the bulk
// write's error stands (Deimos re-raises it) and nothing is written — not
// even with SkipBadRows.
func TestFallbackEveryRowFails(t *testing.T) {
	dbs(t, func(t *testing.T, d *db.DB) {
		exec(t, d, fbDDL)
		now := time.Now()
		for _, skip := range []bool{false} {
			s := newSink(t, d, Options{Table: "fb", SkipBadRows: skip}, &now)
			err := s.Handle(context.Background(), batch(
				rec{`1`, `{"name":null}`}, rec{`2`, `{"name":"b","qty":-2}`}, rec{`3`, `{"name":null}`},
			))
			var fe *BatchFallbackError
			if err == nil || errors.As(err, &fe) || !strings.Contains(err.Error(), "table sink fb: batch widgets/0@0..2: upsert into fb") || errs.ExitCode(err) != 1 {
				t.Fatalf("skip=%v: err = %v", skip, err)
			}
			if got := dump(t, d, "SELECT id FROM fb"); len(got) != 0 {
				t.Fatalf("rows = %v", got)
			}
			if s.Stats.Fallbacks != 1 || s.Stats.Batches != 0 || s.Stats.BadRows != 0 {
				t.Fatalf("stats = %+v", s.Stats)
			}
		}
	})
}

// TestFallbackOffAndSingleRow: NoFallback and one-record batches keep the
// old behaviour: the batch fails as a whole and nothing is written.
func TestFallbackOffAndSingleRow(t *testing.T) {
	dbs(t, func(t *testing.T, d *db.DB) {
		exec(t, d, fbDDL)
		now := time.Now()
		off := newSink(t, d, Options{Table: "fb", NoFallback: true}, &now)
		err := off.Handle(context.Background(), batch(rec{`1`, `{"name":"a"}`}, rec{`2`, `{"name":null}`}))
		var fe *BatchFallbackError
		if err == nil || errors.As(err, &fe) || off.Stats.Fallbacks != 0 {
			t.Fatalf("NoFallback: err = %v, stats %+v", err, off.Stats)
		}
		single := newSink(t, d, Options{Table: "fb"}, &now)
		if err := single.Handle(context.Background(), batch(rec{`2`, `{"name":null}`})); err == nil || errors.As(err, &fe) || single.Stats.Fallbacks != 0 {
			t.Fatalf("single row: err = %v, stats %+v", err, single.Stats)
		}
		if got := dump(t, d, "SELECT id FROM fb"); len(got) != 0 {
			t.Fatalf("rows = %v", got)
		}
	})
}

// TestFallbackCompactionAndSlices: the fallback writes what the bulk write
// would have: compacted, only the last message per key; sliced, every
// message in per-key order, upserts before tombstones in each slice.
func TestFallbackCompactionAndSlices(t *testing.T) {
	dbs(t, func(t *testing.T, d *db.DB) {
		exec(t, d, `CREATE TABLE kvn (k varchar PRIMARY KEY, v varchar NOT NULL)`)
		now := time.Now()
		b := batch(
			rec{`"A"`, `{"v":"a1"}`}, rec{`"B"`, `{"v":"b1"}`}, rec{`"A"`, `{"v":null}`},
			rec{`"C"`, `{"v":"c1"}`}, rec{`"B"`, ``}, rec{`"C"`, `{"v":"c2"}`},
		)
		for _, tc := range []struct {
			noCompact bool
			want      []string
		}{
			// compacted: A's last message (bad) fails, so A is not written at all.
			{false, []string{"C|c2"}},
			// sliced: A1 lands in slice 1, A's second message fails in slice 2.
			{true, []string{"A|a1", "C|c2"}},
		} {
			exec(t, d, "DELETE FROM kvn")
			s := newSink(t, d, Options{Table: "kvn", NoCompact: tc.noCompact, SkipBadRows: true}, &now)
			var bad []BadRow
			s.o.OnBadRow = func(b BadRow) { bad = append(bad, b) }
			if err := s.Handle(context.Background(), b); err != nil {
				t.Fatalf("noCompact=%v: %v", tc.noCompact, err)
			}
			if got := dump(t, d, "SELECT k, v FROM kvn ORDER BY k"); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("noCompact=%v: rows %v, want %v", tc.noCompact, got, tc.want)
			}
			if len(bad) != 1 || bad[0].Key != `"A"` || bad[0].Offset != 2 {
				t.Fatalf("noCompact=%v: bad = %+v", tc.noCompact, bad)
			}
		}
	})
}

// TestSkipBadRowsAloneOrAllBad: with SkipBadRows, rows refused for their own
// data are skipped even when one is alone in its batch or every row is bad
// (otherwise the group would be stuck on them), while a failure that is not
// about a row's data (here: the table is gone) still fails the batch.
func TestSkipBadRowsAloneOrAllBad(t *testing.T) {
	dbs(t, func(t *testing.T, d *db.DB) {
		exec(t, d, fbDDL)
		now := time.Now()
		s := newSink(t, d, Options{Table: "fb", SkipBadRows: true}, &now)
		if err := s.Handle(context.Background(), batch(rec{`2`, `{"name":null}`})); err != nil {
			t.Fatalf("a lone bad row must be skipped: %v", err)
		}
		if err := s.Handle(context.Background(), batch(rec{`1`, `{"name":null}`}, rec{`3`, `{"name":"c","qty":-2}`})); err != nil {
			t.Fatalf("an all-bad batch must be skipped: %v", err)
		}
		if s.Stats.BadRows != 3 || s.Stats.Batches != 2 {
			t.Fatalf("stats = %+v", s.Stats)
		}
		if got := dump(t, d, "SELECT id FROM fb"); len(got) != 0 {
			t.Fatalf("rows = %v", got)
		}
		exec(t, d, "DROP TABLE fb")
		err := s.Handle(context.Background(), batch(rec{`4`, `{"name":"d"}`}, rec{`5`, `{"name":"e"}`}))
		if err == nil || errs.ExitCode(err) != 1 {
			t.Fatalf("a missing table must fail the batch even with SkipBadRows: %v", err)
		}
	})
}
