package poller_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// `poller run --once` whose database connection is terminated while it
// fetches a batch exits 3 with a one-line error (credentials redacted), and
// the cursor stays at the last batch it saved.
//
// Deterministic: the test holds locks that park the poller at known points
// (pg_stat_activity shows it waiting on a lock), then terminates its backends.
//  1. a FOR UPDATE on the deimos_poll_info row parks the poller's first cursor save;
//  2. the test then takes ACCESS EXCLUSIVE on widgets and releases the row lock:
//     the save completes and the poller parks in its next batch's SELECT;
//  3. pg_terminate_backend on every other backend of the database.
func TestConnectionLostOnceExit3(t *testing.T) {
	bin := testenv.Binary(t)
	url := testenv.Postgres(t)
	ctx := context.Background()
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := migrate.Up(ctx, d, []string{"poller"}); err != nil {
		t.Fatal(err)
	}
	mustExec(t, d.DB, `CREATE TABLE widgets (id BIGINT PRIMARY KEY, name TEXT, updated_at TIMESTAMP NOT NULL)`)
	mustExec(t, d.DB, `INSERT INTO widgets SELECT i, 'w' || i, (now() AT TIME ZONE 'UTC') - interval '1 hour' + i * interval '1 second' FROM generate_series(1, 5) i`)
	brokers := testenv.Brokers(t, 1, "widgets")
	// trust auth ignores the password: it is there to check redaction
	pwURL := strings.Replace(url, "postgres://postgres@", "postgres://postgres:s3cretpw@", 1)
	cfgPath := filepath.Join(t.TempDir(), "deimos.yaml")
	cfg := fmt.Sprintf(`kafka: {brokers: [%s]}
schema: {backend: json}
database: {url: "%s"}
topics:
  - {name: widgets, key_config: {field: id}}
pollers:
  - {name: WidgetProducer, table: widgets, topic: widgets, delay: 0, batch_size: 1}
`, brokers[0], pwURL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"--config", cfgPath, "poller"}, args...)...)
		cmd.Env = append(os.Environ(), "DEIMOS_CONFIG=")
		return cmd
	}
	if out, err := run("reset", "WidgetProducer").CombinedOutput(); err != nil {
		t.Fatalf("reset: %v: %s", err, out)
	}

	conn := func() (*sql.Conn, int) {
		c, err := d.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		var pid int
		if err := c.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			t.Fatal(err)
		}
		return c, pid
	}
	rowLock, rowPid := conn()
	tableLock, tablePid := conn()
	mustConn := func(c *sql.Conn, q string) {
		t.Helper()
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustConn(rowLock, "BEGIN")
	mustConn(rowLock, "SELECT * FROM deimos_poll_info WHERE producer = 'WidgetProducer' FOR UPDATE")

	cmd := run("run", "--once")
	var stderr syncBuf
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
	})

	// the poller's backend waiting on a lock, running a statement matching like
	waiting := func(like string) int {
		var pid int
		err := d.QueryRowContext(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
 AND wait_event_type = 'Lock' AND pid NOT IN ($1, $2) AND query LIKE $3`, rowPid, tablePid, like).Scan(&pid)
		if err != nil && err != sql.ErrNoRows {
			t.Fatal(err)
		}
		return pid
	}
	exited := func() bool {
		select {
		case err := <-done:
			done <- err
			return true
		default:
			return false
		}
	}
	waitFor(t, "the poller's cursor save to wait on the row lock", 30*time.Second, func() bool {
		if exited() {
			t.Fatalf("poller exited early: %s", stderr.String())
		}
		return waiting("UPDATE%deimos_poll_info%") != 0
	})
	mustConn(tableLock, "BEGIN")
	mustConn(tableLock, "LOCK TABLE widgets IN ACCESS EXCLUSIVE MODE")
	mustConn(rowLock, "COMMIT")
	var fetchPid int
	waitFor(t, "the poller's next SELECT to wait on the table lock", 30*time.Second, func() bool {
		if exited() {
			t.Fatalf("poller exited early: %s", stderr.String())
		}
		fetchPid = waiting("SELECT%widgets%")
		return fetchPid != 0
	})
	// terminate every backend of the database but the test's table lock
	if _, err := tableLock.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`); err != nil {
		t.Fatal(err)
	}

	var werr error
	select {
	case werr = <-done:
		done <- werr
	case <-time.After(60 * time.Second):
		t.Fatalf("poller did not exit after its connection was terminated: %s", stderr.String())
	}
	mustConn(tableLock, "ROLLBACK")
	code := -1
	if ee, ok := werr.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if werr == nil {
		code = 0
	}
	out := stderr.String()
	var errLines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "deimos:") {
			errLines = append(errLines, l)
		}
	}
	if code != 3 || len(errLines) != 1 || strings.Contains(out, "s3cretpw") {
		t.Fatalf("exit %d (want 3), error lines %q (want one), stderr:\n%s", code, errLines, out)
	}
	t.Logf("exit 3: %s", errLines[0])

	// the cursor is at the one batch saved; a new run publishes the rest
	// (a new pool: the test's own idle connections were terminated too)
	d, err = db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var lastID int64
	if err := d.QueryRowContext(ctx, "SELECT last_sent_id FROM deimos_poll_info WHERE producer = 'WidgetProducer'").Scan(&lastID); err != nil {
		t.Fatal(err)
	}
	if lastID != 1 {
		t.Fatalf("cursor at id %d after the lost connection, want 1", lastID)
	}
	if out, err := run("run", "--once").CombinedOutput(); err != nil {
		t.Fatalf("second run: %v: %s", err, out)
	}
	if err := d.QueryRowContext(ctx, "SELECT last_sent_id FROM deimos_poll_info WHERE producer = 'WidgetProducer'").Scan(&lastID); err != nil {
		t.Fatal(err)
	}
	if lastID != 5 {
		t.Fatalf("cursor at id %d after the second run, want 5", lastID)
	}
}
