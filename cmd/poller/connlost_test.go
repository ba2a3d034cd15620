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

	"github.com/twmb/franz-go/pkg/kgo"

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
//
// connLost is a PostgreSQL database with 5 widgets, a poller config
// (batch_size 1, a password in the URL to check redaction) and two test
// connections for holding locks.
type connLost struct {
	t                  *testing.T
	ctx                context.Context
	d                  *db.DB
	url                string
	brokers            []string
	run                func(args ...string) *exec.Cmd
	rowLock, tableLock *sql.Conn
	rowPid, tablePid   int
}

func newConnLost(t *testing.T) *connLost {
	bin := testenv.Binary(t)
	url := testenv.Postgres(t)
	ctx := context.Background()
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
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
	return &connLost{t: t, ctx: ctx, d: d, url: url, brokers: brokers, run: run, rowLock: rowLock, tableLock: tableLock, rowPid: rowPid, tablePid: tablePid}
}

func (c *connLost) exec(conn *sql.Conn, q string) {
	c.t.Helper()
	if _, err := conn.ExecContext(c.ctx, q); err != nil {
		c.t.Fatalf("%s: %v", q, err)
	}
}

// waiting is the pid of a backend other than the test's waiting on a lock
// while running a statement matching like (0: none).
func (c *connLost) waiting(like string) int {
	var pid int
	err := c.d.QueryRowContext(c.ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
 AND wait_event_type = 'Lock' AND pid NOT IN ($1, $2) AND query LIKE $3`, c.rowPid, c.tablePid, like).Scan(&pid)
	if err != nil && err != sql.ErrNoRows {
		c.t.Fatal(err)
	}
	return pid
}

// terminate ends every client backend of the database but conn's.
func (c *connLost) terminate(conn *sql.Conn, keep int) {
	c.t.Helper()
	if _, err := conn.ExecContext(c.ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> $1 AND backend_type = 'client backend'`, keep); err != nil {
		c.t.Fatal(err)
	}
}

// reopen replaces the test's pool (its idle connections were terminated too).
func (c *connLost) reopen() {
	c.t.Helper()
	d, err := db.Open(c.ctx, c.url)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { d.Close() })
	c.d = d
}

func (c *connLost) lastSentID() int64 {
	c.t.Helper()
	var id int64
	if err := c.d.QueryRowContext(c.ctx, "SELECT last_sent_id FROM deimos_poll_info WHERE producer = 'WidgetProducer'").Scan(&id); err != nil {
		c.t.Fatal(err)
	}
	return id
}

// start runs `poller run --once`; exited reports whether it has exited, wait
// waits for it (with a deadline) and returns its exit code.
func (c *connLost) start() (stderr *syncBuf, exited func() bool, wait func() int) {
	t := c.t
	cmd := c.run("run", "--once")
	stderr = &syncBuf{}
	cmd.Stderr = stderr
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
	exited = func() bool {
		select {
		case err := <-done:
			done <- err
			return true
		default:
			return false
		}
	}
	wait = func() int {
		var werr error
		select {
		case werr = <-done:
			done <- werr
		case <-time.After(60 * time.Second):
			t.Fatalf("poller did not exit: %s", stderr.String())
		}
		if ee, ok := werr.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if werr != nil {
			t.Fatal(werr)
		}
		return 0
	}
	return stderr, exited, wait
}

func TestConnectionLostOnceExit3(t *testing.T) {
	c := newConnLost(t)
	c.exec(c.rowLock, "BEGIN")
	c.exec(c.rowLock, "SELECT * FROM deimos_poll_info WHERE producer = 'WidgetProducer' FOR UPDATE")
	stderr, exited, wait := c.start()
	waitFor(t, "the poller's cursor save to wait on the row lock", 30*time.Second, func() bool {
		if exited() {
			t.Fatalf("poller exited early: %s", stderr.String())
		}
		return c.waiting("UPDATE%deimos_poll_info%") != 0
	})
	c.exec(c.tableLock, "BEGIN")
	c.exec(c.tableLock, "LOCK TABLE widgets IN ACCESS EXCLUSIVE MODE")
	c.exec(c.rowLock, "COMMIT")
	waitFor(t, "the poller's next SELECT to wait on the table lock", 30*time.Second, func() bool {
		if exited() {
			t.Fatalf("poller exited early: %s", stderr.String())
		}
		return c.waiting("SELECT%widgets%") != 0
	})
	c.terminate(c.tableLock, c.tablePid)
	code := wait()
	c.exec(c.tableLock, "ROLLBACK")
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
	c.reopen()
	if id := c.lastSentID(); id != 1 {
		t.Fatalf("cursor at id %d after the lost connection, want 1", id)
	}
	if out, err := c.run("run", "--once").CombinedOutput(); err != nil {
		t.Fatalf("second run: %v: %s", err, out)
	}
	if id := c.lastSentID(); id != 5 {
		t.Fatalf("cursor at id %d after the second run, want 5", id)
	}
}

// `poller run --once` whose connection is terminated while it saves the
// cursor of a batch Kafka acknowledged recovers: the save is retried on a new
// connection (retries: 1), the batch is not sent again, the run exits 0 and
// the topic holds every row exactly once.
func TestConnectionLostDuringCursorSaveRecovers(t *testing.T) {
	c := newConnLost(t)
	c.exec(c.rowLock, "BEGIN")
	c.exec(c.rowLock, "SELECT * FROM deimos_poll_info WHERE producer = 'WidgetProducer' FOR UPDATE")
	stderr, exited, wait := c.start()
	waitFor(t, "the poller's cursor save to wait on the row lock", 30*time.Second, func() bool {
		if exited() {
			t.Fatalf("poller exited early: %s", stderr.String())
		}
		return c.waiting("UPDATE%deimos_poll_info%") != 0
	})
	c.terminate(c.rowLock, c.tablePid)
	c.exec(c.rowLock, "COMMIT")
	if code := wait(); code != 0 {
		t.Fatalf("exit %d, want 0 (recovered); stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "57P01") {
		t.Fatalf("the lost connection was not seen: %s", stderr.String())
	}
	c.reopen()
	if id := c.lastSentID(); id != 5 {
		t.Fatalf("cursor at id %d, want 5", id)
	}
	// read the topic up to a sentinel produced after the run: exactly once each
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.ConsumeTopics("widgets"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(c.ctx, &kgo.Record{Topic: "widgets", Value: []byte("sentinel")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	for sentinel := false; !sentinel; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("sentinel not read; so far %v", got)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Value) == "sentinel" {
				sentinel = true
				return
			}
			if !sentinel {
				got[string(r.Key)]++
			}
		})
	}
	want := map[string]int{}
	for i := 1; i <= 5; i++ {
		want[fmt.Sprintf(`{"id":%d}`, i)] = 1
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("keys published %v, want each of 1..5 once", got)
	}
}
