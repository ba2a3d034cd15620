package events_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// TestTableSinkBadRowThroughBinary: a row the database rejects (NOT NULL)
// no longer blocks its batch: the good rows are committed and the run exits
// 1 naming the bad key, with offsets uncommitted (a rerun fails the same
// way, idempotently); with --skip-bad-rows the bad row is logged, the run
// exits 0 and the offsets are committed.
func TestTableSinkBadRowThroughBinary(t *testing.T) { servers(t, testTableSinkBadRowThroughBinary) }

func testTableSinkBadRowThroughBinary(t *testing.T, dl testenv.Dialect) {
	brokers, url, d := setup(t, dl, "fbw")
	dir := t.TempDir()
	create(t, d, `CREATE TABLE fbw (id bigint PRIMARY KEY, name varchar NOT NULL)`)
	notNull := map[string]string{"postgres": "null value in column", "mysql": "cannot be null"}[dl.Name]
	produce(t, brokers, "fbw", "1", `{"name":"a"}`, "2", `{"name":null}`, "3", `{"name":"c"}`)
	b := strings.Join(brokers, ",")
	args := []string{"-b", b, "--db", url, "consume", "-t", "fbw", "-g", "fb", "-e", "--sink", "table:fbw"}
	for i := 0; i < 2; i++ {
		r := run(t, dir, args...)
		if r.code != 1 || !strings.Contains(r.err, "key 2 (fbw/0@1)") || !strings.Contains(r.err, notNull) {
			t.Fatalf("run %d: code %d, stderr %s", i, r.code, r.err)
		}
		if got := dump(t, d, "SELECT id, name FROM fbw ORDER BY id"); !reflect.DeepEqual(got, []string{"1|a", "3|c"}) {
			t.Fatalf("run %d: table = %v", i, got)
		}
	}
	r := run(t, dir, append(args, "--skip-bad-rows")...)
	if r.code != 0 || !strings.Contains(r.err, "skipped") || !strings.Contains(r.err, "offset=1") {
		t.Fatalf("--skip-bad-rows: code %d, stderr %s", r.code, r.err)
	}
	// The offsets were committed: the group has nothing left to read.
	if r = run(t, dir, args...); r.code != 0 {
		t.Fatalf("after skip: code %d, stderr %s", r.code, r.err)
	}
}
