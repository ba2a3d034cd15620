package events_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// TestTableSinkMultiColumnKeysThroughBinary: messages whose multi-column
// keys join to the same text — ("a","bc") and ("ab","c"), ("x","a",11) and
// ("x","a1",1) — are four rows in SQLite, PostgreSQL and MariaDB,
// compacted or not. Before the fix one row of each pair was dropped while the run said
// "consumed 4", exited 0 and committed the offsets.
func TestTableSinkMultiColumnKeysThroughBinary(t *testing.T) {
	dialects(t, func(t *testing.T, dl testenv.Dialect) {
		brokers, url, d := setup(t, dl, "pairs")
		create(t, d, `CREATE TABLE pairs (s varchar NOT NULL, t varchar NOT NULL, n bigint NOT NULL, v varchar, PRIMARY KEY (s, t, n))`)
		produce(t, brokers, "pairs",
			`{"s":"a","t":"bc","n":1}`, `{"v":"1"}`,
			`{"s":"ab","t":"c","n":1}`, `{"v":"2"}`,
			`{"s":"x","t":"a","n":11}`, `{"v":"3"}`,
			`{"s":"x","t":"a1","n":1}`, `{"v":"4"}`)
		want := []string{"a|bc|1|1", "ab|c|1|2", "x|a|11|3", "x|a1|1|4"}
		dir := t.TempDir()
		for _, extra := range [][]string{nil, {"--no-compact"}} {
			if _, err := d.Exec("DELETE FROM pairs"); err != nil {
				t.Fatal(err)
			}
			group := "g" + strings.Join(extra, "")
			args := append([]string{"-b", strings.Join(brokers, ","), "--db", url, "consume", "-t", "pairs", "-g", group, "-e", "--sink", "table:pairs"}, extra...)
			r := run(t, dir, args...)
			if r.code != 0 || !strings.Contains(r.err+r.out, "consumed 4") {
				t.Fatalf("%v: exit %d, stdout %s, stderr %s", extra, r.code, r.out, r.err)
			}
			if got := dump(t, d, "SELECT s, t, n, v FROM pairs ORDER BY s, t, n"); !reflect.DeepEqual(got, want) {
				t.Fatalf("%v: table = %v, want %v", extra, got, want)
			}
		}
	})
}
