package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
	"github.com/deimos-cli/deimos/pkg/outbox"
)

// summary is the --summary json object.
type summary struct {
	Command         string           `json:"command"`
	OK              bool             `json:"ok"`
	ExitCode        int              `json:"exit_code"`
	StartedAt       time.Time        `json:"started_at"`
	DurationSeconds float64          `json:"duration_seconds"`
	Counts          map[string]int64 `json:"counts"`
	Errors          []string         `json:"errors"`
	Locked          []map[string]any `json:"locked"`
	Skipped         []map[string]any `json:"skipped"`
	Details         json.RawMessage  `json:"details"`
}

// lastJSONLine parses the one summary line of text (logs and the error
// line around it are for people).
func lastJSONLine(t *testing.T, text string) summary {
	t.Helper()
	var found []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, `{"command":`) {
			found = append(found, l)
		}
	}
	var s summary
	if len(found) != 1 {
		t.Fatalf("want one summary line, found %d:\n%s", len(found), text)
	}
	if err := json.Unmarshal([]byte(found[0]), &s); err != nil {
		t.Fatalf("summary line is not JSON: %v\n%s", err, text)
	}
	if s.StartedAt.IsZero() || s.DurationSeconds <= 0 || s.Errors == nil || s.Locked == nil || s.Skipped == nil {
		t.Fatalf("summary lacks fields: %+v", s)
	}
	return s
}

// --summary json on outbox run --once, poller run --once, produce and
// consume with a sink: one JSON object on stderr (or in --summary-file)
// with counts, errors, duration and locked or skipped items.
func TestSummaryJSON(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	url := testenv.SQLiteURL(t)
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := migrate.Up(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT, updated_at DATETIME NOT NULL)`,
		`CREATE TABLE widget_copies (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`,
		`INSERT INTO widgets VALUES (1, 'a', '2024-01-01 00:00:00'), (2, 'b', '2024-01-01 00:00:01'), (3, 'c', '2024-01-01 00:00:02')`,
	} {
		if _, err := d.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	brokers := testenv.Brokers(t, 1)
	cfg := fmt.Sprintf(`kafka: {brokers: [%s]}
schema: {backend: json}
database: {url: %q}
topics:
  - {name: widgets, key_config: {field: id}}
pollers:
  - {name: WidgetPoller, table: widgets, topic: widgets, delay: 0}
consumers:
  - {name: Copier, topics: [widgets], group: copier, sink: "table:widget_copies", skip_bad_rows: true}
`, brokers[0], url)
	if err := os.WriteFile(filepath.Join(dir, "deimos.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"DEIMOS_CONFIG="}

	// produce: two good lines, one bad one skipped (--keep-going): exit 1
	r := testenv.Run(t, dir, env, "{\"id\":4,\"name\":\"d\"}\nnot json\n{\"id\":5}\n", "produce", "-t", "widgets", "--keep-going", "--summary", "json")
	s := lastJSONLine(t, r.Stderr)
	if r.Code != 1 || s.Command != "produce" || s.OK || s.ExitCode != 1 || s.Counts["messages"] != 2 || s.Counts["bad_lines"] != 1 ||
		len(s.Skipped) != 1 || s.Skipped[0]["line"] != float64(2) || len(s.Errors) != 1 {
		t.Fatalf("produce: exit %d summary %+v\n%s", r.Code, s, r.Stderr)
	}

	// poller run --once: to a file, stdout untouched
	file := filepath.Join(dir, "poller.json")
	r = testenv.Run(t, dir, env, "", "poller", "run", "--once", "--summary-file", file)
	if r.Code != 0 || strings.Contains(r.Stdout, "{") {
		t.Fatalf("poller: exit %d\n%s", r.Code, r.Stderr)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s = lastJSONLine(t, string(b))
	if !s.OK || s.Command != "poller run" || s.Counts["messages"] != 3 || s.Counts["pollers"] != 1 || !strings.Contains(string(s.Details), `"poller":"WidgetPoller"`) {
		t.Fatalf("poller summary %+v %s", s, s.Details)
	}

	// consume with a sink: row 5 has no name (NOT NULL): skipped, listed
	r = testenv.Run(t, dir, env, "", "consume", "--consumer", "Copier", "-g", "copier", "-e", "--summary", "json", "-q")
	s = lastJSONLine(t, r.Stderr)
	if r.Code != 0 || s.Command != "consume" || s.Counts["records"] != 5 || s.Counts["bad_rows"] != 1 || s.Counts["upserted"] != 4 ||
		len(s.Skipped) != 1 || s.Skipped[0]["topic"] != "widgets" {
		t.Fatalf("consume: exit %d summary %+v\n%s", r.Code, s, r.Stderr)
	}
	if r := testenv.Run(t, dir, env, "", "consume", "-t", "widgets", "-e", "--summary", "json"); r.Code != 2 || !strings.Contains(r.Stderr, "--summary applies to consume with a sink") {
		t.Errorf("consume without a sink: exit %d %s", r.Code, r.Stderr)
	}

	// outbox run --once, a topic locked by another relay: listed under locked
	pk := "p"
	if err := outbox.Insert(ctx, d.DB, d.Dialect, []outbox.Row{{Topic: "free", Message: []byte("1")}, {Topic: "held", Message: []byte("2"), PartitionKey: &pk}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ExecContext(ctx, "INSERT INTO kafka_topic_info (topic, locked_by, locked_at, error, retries) VALUES ('held', 'other-relay', ?, 0, 0)", outbox.DBTime(time.Now())); err != nil {
		t.Fatal(err)
	}
	r = testenv.Run(t, dir, env, "", "outbox", "run", "--once", "--summary", "json", "--summary-file", "-", "--fail-on-locked")
	s = lastJSONLine(t, r.Stdout)
	if r.Code != 4 || s.ExitCode != 4 || s.OK || s.Counts["published"] != 1 || len(s.Locked) != 1 || s.Locked[0]["topic"] != "held" || s.Locked[0]["locked_by"] != "other-relay" {
		t.Fatalf("outbox: exit %d summary %+v\n%s", r.Code, s, r.Stderr)
	}
	if r := testenv.Run(t, dir, env, "", "outbox", "run", "--summary", "json"); r.Code != 2 {
		t.Errorf("outbox run --summary without --once: exit %d", r.Code)
	}
	if r := testenv.Run(t, dir, env, "", "poller", "run", "--once", "--summary", "yaml"); r.Code != 2 || !strings.Contains(r.Stderr, "only format is json") {
		t.Errorf("--summary yaml: exit %d %s", r.Code, r.Stderr)
	}
}
