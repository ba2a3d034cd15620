package events_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// TestEventsShowAndDeleteThroughBinary: events show --failure prints the
// stored failure as the API's JSON, events delete removes it (exit 0), and
// both then say it is not found (exit 1), on every database.
func TestEventsShowAndDeleteThroughBinary(t *testing.T) {
	dialects(t, func(t *testing.T, dl testenv.Dialect) {
		url := dl.URL(t)
		d, id := failureDB(t, url)
		dir := t.TempDir()
		sid := strconv.FormatInt(id, 10)
		r := run(t, dir, "--db", url, "events", "show", "--failure", sid)
		var f map[string]any
		if err := json.Unmarshal([]byte(r.out), &f); r.code != 0 || err != nil || f["error_message"] != "boom" || f["topic"] != "orders" {
			t.Fatalf("show --failure: %d %v %s %s", r.code, err, r.out, r.err)
		}
		if md, _ := f["metadata"].(map[string]any); md["key"] != "o1" {
			t.Fatalf("metadata = %v", f["metadata"])
		}
		if r = run(t, dir, "--db", url, "events", "delete", sid); r.code != 0 {
			t.Fatalf("delete: %d %s", r.code, r.err)
		}
		if got := dump(t, d, "SELECT COUNT(*) FROM phobos_db_checkpoint_failures"); got[0] != "0" {
			t.Fatalf("failures after delete: %v", got)
		}
		for _, args := range [][]string{{"delete", sid}, {"show", "--failure", sid}} {
			r = run(t, dir, append([]string{"--db", url, "events"}, args...)...)
			if r.code != 1 || !strings.Contains(r.err, "failure "+sid+" not found") {
				t.Fatalf("%v of a deleted failure: %d %s", args, r.code, r.err)
			}
		}
	})
}
