package outbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/outbox"
)

// TestOnceReportsTopicsLockedElsewhere: rows behind another relay's fresh
// lock used to leave `outbox run --once` saying "processed 0 rows", exit 0,
// with no word about them. Now the text and JSON summaries name each such
// topic with its pending count, lock holder and lock age; --fail-on-locked
// makes it exit 4; a stale lock is taken and drained; an error rest is
// reported as such. On every dialect.
func TestOnceReportsTopicsLockedElsewhere(t *testing.T) {
	bin := buildBinary(t)
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			url := dl.URL(t)
			d := setup(t, url, 0, "held")
			ctx := context.Background()
			rows := []outbox.Row{}
			for i, topic := range []string{"held", "held", "held", "free", "free"} {
				rows = append(rows, outbox.Row{Topic: topic, Message: []byte{byte('a' + i)}})
			}
			if err := outbox.Insert(ctx, d.DB, d.Dialect, rows, time.Now()); err != nil {
				t.Fatal(err)
			}
			exec1 := func(q string, args ...any) {
				t.Helper()
				if _, err := d.ExecContext(ctx, d.Rebind(q), args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			// Another relay holds "held": its lock id, a fresh locked_at.
			exec1("INSERT INTO kafka_topic_info (topic, locked_by, locked_at, error, retries) VALUES (?, ?, ?, ?, ?)",
				"held", "other-relay-1", outbox.DBTime(time.Now()), false, 0)
			brokers := strings.Join(testenv.Brokers(t, 1, "held", "free"), ",")
			run := func(args ...string) (string, string, int) {
				t.Helper()
				c := exec.Command(bin, append([]string{"outbox", "run", "--db", url, "-b", brokers, "--log-level", "error"}, args...)...)
				c.Env = append(os.Environ(), "DEIMOS_CONFIG=")
				var o, e bytes.Buffer
				c.Stdout, c.Stderr = &o, &e
				err := c.Run()
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				return o.String(), e.String(), code
			}

			out, stderr, code := run("--once")
			if code != 0 || !strings.Contains(out, "processed 2 rows") || !strings.Contains(out, "left waiting: held (3 pending, locked by other-relay-1 ") {
				t.Fatalf("--once: exit %d\nstdout %s\nstderr %s", code, out, stderr)
			}
			out, stderr, code = run("--once", "-o", "json")
			var sum struct {
				Processed int64 `json:"processed"`
				Locked    []struct {
					Topic    string  `json:"topic"`
					Pending  int64   `json:"pending"`
					LockedBy string  `json:"locked_by"`
					Age      float64 `json:"lock_age_seconds"`
					Errored  bool    `json:"errored"`
				} `json:"locked_topics"`
			}
			if err := json.Unmarshal([]byte(out), &sum); err != nil || code != 0 {
				t.Fatalf("--once -o json: exit %d, %v\nstdout %s\nstderr %s", code, err, out, stderr)
			}
			if sum.Processed != 0 || len(sum.Locked) != 1 || sum.Locked[0].Topic != "held" || sum.Locked[0].Pending != 3 ||
				sum.Locked[0].LockedBy != "other-relay-1" || sum.Locked[0].Age < 0 || sum.Locked[0].Age >= 60 || sum.Locked[0].Errored {
				t.Fatalf("JSON summary: %s", out)
			}
			_, stderr, code = run("--once", "--fail-on-locked")
			if code != 4 || !strings.Contains(stderr, "held (3 pending, locked by other-relay-1") {
				t.Fatalf("--fail-on-locked: exit %d, stderr %s", code, stderr)
			}
			if _, stderr, code = run("--fail-on-locked"); code != 2 || !strings.Contains(stderr, "--once") {
				t.Fatalf("--fail-on-locked without --once: exit %d, stderr %s", code, stderr)
			}

			// The same topic resting after an error (error set, no holder).
			exec1("UPDATE kafka_topic_info SET locked_by = NULL, error = ?, retries = 1, locked_at = ? WHERE topic = ?", true, outbox.DBTime(time.Now()), "held")
			out, _, code = run("--once", "--fail-on-locked")
			if code != 4 || !strings.Contains(out, "left waiting: held (3 pending, errored ") {
				t.Fatalf("error rest: exit %d, stdout %s", code, out)
			}

			// A stale lock (older than the 60 s window) is taken: nothing is left waiting.
			exec1("UPDATE kafka_topic_info SET locked_by = ?, error = ?, locked_at = ? WHERE topic = ?", "other-relay-1", false, outbox.DBTime(time.Now().Add(-2*time.Minute)), "held")
			out, stderr, code = run("--once", "--fail-on-locked", "-o", "json")
			if code != 0 || !strings.Contains(out, `"processed":3`) || !strings.Contains(out, `"locked_topics":[]`) {
				t.Fatalf("stale lock: exit %d\nstdout %s\nstderr %s", code, out, stderr)
			}
			if n := pending(t, d); n != 0 {
				t.Fatalf("%d rows left", n)
			}
		})
	}
}
