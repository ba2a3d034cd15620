package poller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
)

// TestLateCommitThroughBinary: `poller run --once`, twice, while a
// transaction that wrote a row stamped at its start stays open across the
// first run, and a newer row (higher id, same or later timestamp) is
// committed meanwhile. The late-commit guard holds the first run below the
// open transaction, so after it commits the second run publishes both rows:
// every row exactly once. On MySQL/MariaDB the column is DATETIME (whole
// seconds: the rows tie) and the guard reads information_schema.innodb_trx.
//   - late_commit_guard: off shows the premise: the late row is skipped.
//   - MySQL without the PROCESS privilege: the guard cannot see the
//     transaction; the binary warns naming PROCESS, exits 0 and polls up to
//     now - delay (the newer row is published by the first run).
func TestLateCommitThroughBinary(t *testing.T) {
	for _, c := range []struct{ dialect, mode string }{
		{"postgres", "guard"}, {"postgres", "off"},
		{"mysql", "guard"}, {"mysql", "off"}, {"mysql", "no-process"},
	} {
		t.Run(c.dialect+"/"+c.mode, func(t *testing.T) { lateCommitThroughBinary(t, c.dialect, c.mode) })
	}
}

func lateCommitThroughBinary(t *testing.T, dialect, mode string) {
	ctx := context.Background()
	var url string
	for _, dl := range testenv.Dialects(t) {
		if dl.Name == dialect {
			url = dl.URL(t)
		}
	}
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := migrate.Up(ctx, d, []string{"poller"}); err != nil {
		t.Fatal(err)
	}
	begin, stamp, create := "BEGIN", "now() AT TIME ZONE 'UTC'", "CREATE TABLE widgets (id BIGINT PRIMARY KEY, name TEXT, updated_at TIMESTAMP NOT NULL)"
	if dialect == "mysql" {
		// NOW() is the statement's start on MySQL: the transaction starts
		// first so that its start is at or before the row's stamp.
		begin, stamp, create = "START TRANSACTION WITH CONSISTENT SNAPSHOT", "UTC_TIMESTAMP()", "CREATE TABLE widgets (id BIGINT PRIMARY KEY, name VARCHAR(50), updated_at DATETIME NOT NULL)"
	}
	mustExec(t, d.DB, create)
	old := time.Now().UTC().Add(-time.Hour).Format("2006-01-02 15:04:05")
	if _, err := d.ExecContext(ctx, d.Rebind("INSERT INTO widgets VALUES (1, 'w1', ?)"), old); err != nil {
		t.Fatal(err)
	}

	pollerURL := url
	if mode == "no-process" {
		// a user with every privilege on the database, and not PROCESS
		pollerURL = testenv.MariaDBUser(t, url, "poller-pw")
	}
	brokers := testenv.Brokers(t, 1, "widgets")
	dir := t.TempDir()
	guard := ""
	if mode == "off" {
		guard = ", late_commit_guard: off"
	}
	cfg := fmt.Sprintf(`kafka: {brokers: [%s]}
schema: {backend: json}
database: {url: "%s"}
topics:
  - {name: widgets, key_config: {field: id}}
pollers:
  - {name: W, table: widgets, topic: widgets, delay: 10ms%s}
`, brokers[0], pollerURL, guard)
	cfgPath := filepath.Join(dir, "deimos.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	conn, err := d.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{begin, "INSERT INTO widgets (id, name, updated_at) VALUES (2, 'late', " + stamp + ")"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	defer conn.ExecContext(ctx, "ROLLBACK")
	// committed, newer than the open transaction's start (MySQL: the same
	// second or a later one)
	time.Sleep(200 * time.Millisecond)
	mustExec(t, d.DB, "INSERT INTO widgets (id, name, updated_at) VALUES (3, 'w3', "+stamp+")")
	if dialect == "mysql" {
		// innodb_trx gives a transaction's start in whole seconds, rounded
		// down: wait until that second is over so that row 3 is within what
		// an unguarded poll reads.
		time.Sleep(time.Second)
	}

	runOnce := func() string {
		t.Helper()
		r := testenv.Run(t, dir, []string{"DEIMOS_CONFIG="}, "", "--config", cfgPath, "poller", "run", "--once", "W")
		if r.Code != 0 {
			t.Fatalf("poller run --once: exit %d\n%s", r.Code, r.Stderr)
		}
		return r.Stderr
	}
	first := runOnce()
	afterFirst := publishedIDs(t, brokers)
	switch mode {
	case "guard", "off":
		if strings.Contains(first, "PROCESS") || strings.Contains(first, "pg_read_all_stats") {
			t.Fatalf("a warning about privileges with a privileged user:\n%s", first)
		}
	case "no-process":
		if !strings.Contains(first, "PROCESS") {
			t.Fatalf("without PROCESS: no warning naming it:\n%s", first)
		}
		if afterFirst[3] != 1 {
			t.Fatalf("without PROCESS the poll is not held back, so row 3 is published by the first run; got %v\n%s", afterFirst, first)
		}
	}
	if mode == "guard" && afterFirst[3] != 0 {
		t.Fatalf("the first run published row 3 (%v): the guard did not hold the poll below the open transaction\n%s", afterFirst, first)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	runOnce()
	got := publishedIDs(t, brokers)
	switch mode {
	case "off":
		if got[2] != 0 {
			t.Fatalf("late_commit_guard off: the late row was expected to be skipped (the premise of this test); got %v", got)
		}
		if got[1] != 1 || got[3] != 1 {
			t.Fatalf("published %v, want rows 1 and 3 once", got)
		}
	case "guard":
		if len(got) != 3 || got[1] != 1 || got[2] != 1 || got[3] != 1 {
			t.Fatalf("published %v, want rows 1, 2 (committed late) and 3 exactly once", got)
		}
	case "no-process":
		if got[1] != 1 || got[3] != 1 || got[2] > 1 {
			t.Fatalf("published %v, want rows 1 and 3 once", got)
		}
	}
}

// publishedIDs reads the widgets topic from the start: how many times each
// id was published.
func publishedIDs(t *testing.T, brokers []string) map[int64]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("widgets"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[int64]int{}
	for idle := 0; idle < 2; {
		pctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			var v struct{ ID int64 }
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("value %q: %v", r.Value, err)
			}
			seen[v.ID]++
		})
		if n == 0 {
			idle++
		}
	}
	return seen
}
