package sink

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
)

// Rows whose multi-column keys join to the same text — ("a","bc") and
// ("ab","c"), ("a",11) and ("a1",1) — are different rows: none may be
// compacted away, whether the key comes from the message key or from the
// payload, compacted or sliced, in the bulk write or the row-by-row fallback.
func TestMultiColumnKeysDoNotCollide(t *testing.T) {
	dbs(t, func(t *testing.T, d *db.DB) {
		exec(t, d, `CREATE TABLE pairs (s varchar NOT NULL, t varchar NOT NULL, n bigint NOT NULL, v varchar NOT NULL, PRIMARY KEY (s, t, n))`)
		now := time.Now()
		byKey := []rec{
			{`{"s":"a","t":"bc","n":1}`, `{"v":"1"}`},
			{`{"s":"ab","t":"c","n":1}`, `{"v":"2"}`},
			{`{"s":"x","t":"a","n":11}`, `{"v":"3"}`},
			{`{"s":"x","t":"a1","n":1}`, `{"v":"4"}`},
		}
		byPayload := []rec{
			{``, `{"s":"a","t":"bc","n":1,"v":"1"}`},
			{``, `{"s":"ab","t":"c","n":1,"v":"2"}`},
			{``, `{"s":"x","t":"a","n":11,"v":"3"}`},
			{``, `{"s":"x","t":"a1","n":1,"v":"4"}`},
		}
		want := []string{"a|bc|1|1", "ab|c|1|2", "x|a|11|3", "x|a1|1|4"}
		for _, tc := range []struct {
			name      string
			recs      []rec
			noCompact bool
			badRow    rec // when set, a row the database rejects: the batch is written row by row
		}{
			{"message key, compacted", byKey, false, rec{}},
			{"message key, sliced", byKey, true, rec{}},
			{"payload key, sliced", byPayload, true, rec{}},
			{"message key, fallback", byKey, false, rec{`{"s":"bad","t":"","n":0}`, `{"v":null}`}},
			{"payload key, fallback", byPayload, true, rec{``, `{"s":"bad","t":"","n":0,"v":null}`}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				exec(t, d, "DELETE FROM pairs")
				recs := tc.recs
				if tc.badRow.val != "" {
					recs = append(append([]rec(nil), recs...), tc.badRow)
				}
				s := newSink(t, d, Options{Table: "pairs", NoCompact: tc.noCompact, SkipBadRows: true}, &now)
				if err := s.Handle(context.Background(), batch(recs...)); err != nil {
					t.Fatal(err)
				}
				if tc.badRow.val != "" && s.Stats.Fallbacks != 1 {
					t.Fatalf("the row-by-row fallback did not run: %+v", s.Stats)
				}
				if got := dump(t, d, "SELECT s, t, n, v FROM pairs ORDER BY s, t, n"); !reflect.DeepEqual(got, want) {
					t.Fatalf("table = %v, want %v", got, want)
				}
				if s.Stats.Upserted != 4 {
					t.Fatalf("upserted %d rows, want 4", s.Stats.Upserted)
				}
			})
		}
	})
}
