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

// `poller run --once` whose database connection is terminated while it
// fetches a batch exits 3 with a one-line error (credentials redacted), and
// the cursor stays at the last batch it saved.
//
// Deterministic: the test holds locks that park the poller at known points
// (the server shows it running a statement that waits on the lock), then
// ends its connections, on PostgreSQL and on MariaDB:
//  1. a FOR UPDATE on the deimos_poll_info row parks the poller's first cursor save;
//  2. the test then locks widgets (LOCK TABLE … ACCESS EXCLUSIVE; LOCK TABLES
//     … WRITE) and releases the row lock: the save completes and the poller
//     parks in its next batch's SELECT;
//  3. pg_terminate_backend, or KILL CONNECTION, on every other connection to the database.
//
// connLost is a database with 5 widgets, a poller config (batch_size 1, a
// password in the URL to check redaction) and two test connections for
// holding locks.
type connLost struct {
	t                  *testing.T
	dialect            string
	ctx                context.Context
	d                  *db.DB
	url                string
	brokers            []string
	run                func(args ...string) *exec.Cmd
	rowLock, tableLock *sql.Conn
	rowPid, tablePid   int
}

func newConnLost(t *testing.T, dialect string) *connLost {
	bin := testenv.Binary(t)
	var url string
	for _, d := range testenv.Dialects(t) {
		if d.Name == dialect {
			url = d.URL(t)
		}
	}
	ctx := context.Background()
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := migrate.Up(ctx, d, []string{"poller"}); err != nil {
		t.Fatal(err)
	}
	brokers := testenv.Brokers(t, 1, "widgets")
	var pwURL string
	switch dialect {
	case "postgres":
		mustExec(t, d.DB, `CREATE TABLE widgets (id BIGINT PRIMARY KEY, name TEXT, updated_at TIMESTAMP NOT NULL)`)
		mustExec(t, d.DB, `INSERT INTO widgets SELECT i, 'w' || i, (now() AT TIME ZONE 'UTC') - interval '1 hour' + i * interval '1 second' FROM generate_series(1, 5) i`)
		// trust auth ignores the password: it is there to check redaction
		pwURL = strings.Replace(url, "postgres://postgres@", "postgres://postgres:s3cretpw@", 1)
	case "mysql":
		mustExec(t, d.DB, `CREATE TABLE widgets (id BIGINT PRIMARY KEY, name VARCHAR(50), updated_at DATETIME NOT NULL)`)
		for i := 1; i <= 5; i++ {
			mustExec(t, d.DB, fmt.Sprintf(`INSERT INTO widgets VALUES (%d, 'w%d', UTC_TIMESTAMP() - INTERVAL 1 HOUR + INTERVAL %d SECOND)`, i, i, i))
		}
		// a user with a password (and PROCESS, for the late-commit guard)
		var name string
		if err := d.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		user := "poller_" + name
		mustExec(t, d.DB, "CREATE USER '"+user+"'@'%' IDENTIFIED BY 's3cretpw'")
		t.Cleanup(func() { _, _ = d.ExecContext(ctx, "DROP USER '"+user+"'@'%'") })
		mustExec(t, d.DB, "GRANT ALL ON `"+name+"`.* TO '"+user+"'@'%'")
		mustExec(t, d.DB, "GRANT PROCESS ON *.* TO '"+user+"'@'%'")
		pwURL = strings.Replace(url, "mysql://root@", "mysql://"+user+":s3cretpw@", 1)
	}
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

	pidQuery := map[string]string{"postgres": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}[dialect]
	conn := func() (*sql.Conn, int) {
		c, err := d.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		var pid int
		if err := c.QueryRowContext(ctx, pidQuery).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		return c, pid
	}
	rowLock, rowPid := conn()
	tableLock, tablePid := conn()
	return &connLost{t: t, dialect: dialect, ctx: ctx, d: d, url: url, brokers: brokers, run: run, rowLock: rowLock, tableLock: tableLock, rowPid: rowPid, tablePid: tablePid}
}

func (c *connLost) exec(conn *sql.Conn, q string) {
	c.t.Helper()
	if _, err := conn.ExecContext(c.ctx, q); err != nil {
		c.t.Fatalf("%s: %v", q, err)
	}
}

// lockRow takes a row lock on the poller's deimos_poll_info row.
func (c *connLost) lockRow() {
	c.exec(c.rowLock, "BEGIN")
	c.exec(c.rowLock, "SELECT * FROM deimos_poll_info WHERE producer = 'WidgetProducer' FOR UPDATE")
}

// lockTable locks widgets against every read; unlockTable releases it.
func (c *connLost) lockTable() {
	if c.dialect == "mysql" {
		c.exec(c.tableLock, "LOCK TABLES widgets WRITE")
		return
	}
	c.exec(c.tableLock, "BEGIN")
	c.exec(c.tableLock, "LOCK TABLE widgets IN ACCESS EXCLUSIVE MODE")
}

func (c *connLost) unlockTable() {
	if c.dialect == "mysql" {
		c.exec(c.tableLock, "UNLOCK TABLES")
		return
	}
	c.exec(c.tableLock, "ROLLBACK")
}

// waiting is the id of a connection other than the test's that runs a
// statement matching like while the test holds the lock it needs (0: none).
// PostgreSQL shows the lock wait itself; on MySQL a statement that cannot
// finish while the lock is held is seen running (processlist is read
// directly, unlike innodb_trx, which is a cache).
func (c *connLost) waiting(like string) int {
	q := `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
 AND wait_event_type = 'Lock' AND pid NOT IN ($1, $2) AND query LIKE $3`
	if c.dialect == "mysql" {
		// (not this query itself, whose text holds the pattern)
		q = `SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id NOT IN (?, ?, CONNECTION_ID()) AND info LIKE ? LIMIT 1`
	}
	var pid int
	err := c.d.QueryRowContext(c.ctx, q, c.rowPid, c.tablePid, like).Scan(&pid)
	if err != nil && err != sql.ErrNoRows {
		c.t.Fatal(err)
	}
	return pid
}

// terminate ends every client connection to the database but conn's and keep.
func (c *connLost) terminate(conn *sql.Conn, keep int) {
	c.t.Helper()
	if c.dialect == "postgres" {
		if _, err := conn.ExecContext(c.ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> $1 AND backend_type = 'client backend'`, keep); err != nil {
			c.t.Fatal(err)
		}
		return
	}
	rows, err := conn.QueryContext(c.ctx, `SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID() AND id <> ?`, keep)
	if err != nil {
		c.t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			c.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		if _, err := conn.ExecContext(c.ctx, fmt.Sprintf("KILL CONNECTION %d", id)); err != nil && !strings.Contains(err.Error(), "Unknown thread") {
			c.t.Fatal(err)
		}
	}
}

// lostSeen reports whether the poller's log shows the connection it lost:
// PostgreSQL's admin_shutdown, or on MariaDB "Connection was killed" (1927)
// or the driver's "invalid connection" for a socket the server closed.
func (c *connLost) lostSeen(log string) bool {
	if c.dialect == "mysql" {
		return strings.Contains(log, "Error 1927") || strings.Contains(log, "invalid connection")
	}
	return strings.Contains(log, "57P01")
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
func (c *connLost) start() (stderr *testenv.SyncBuffer, exited func() bool, wait func() int) {
	t := c.t
	cmd := c.run("run", "--once")
	stderr = &testenv.SyncBuffer{}
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
	for _, dialect := range []string{"postgres", "mysql"} {
		t.Run(dialect, func(t *testing.T) { connectionLostOnceExit3(t, dialect) })
	}
}

func connectionLostOnceExit3(t *testing.T, dialect string) {
	c := newConnLost(t, dialect)
	c.lockRow()
	stderr, exited, wait := c.start()
	testenv.WaitFor(t, 30*time.Second, "the poller's cursor save to wait on the row lock", func() bool {
		if exited() {
			t.Fatalf("poller exited early: %s", stderr.String())
		}
		return c.waiting("UPDATE%deimos_poll_info%") != 0
	})
	c.lockTable()
	c.exec(c.rowLock, "COMMIT")
	testenv.WaitFor(t, 30*time.Second, "the poller's next SELECT to wait on the table lock", func() bool {
		if exited() {
			t.Fatalf("poller exited early: %s", stderr.String())
		}
		return c.waiting("SELECT%widgets%") != 0
	})
	c.terminate(c.tableLock, c.tablePid)
	code := wait()
	c.unlockTable()
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
	for _, dialect := range []string{"postgres", "mysql"} {
		t.Run(dialect, func(t *testing.T) { connectionLostDuringCursorSaveRecovers(t, dialect) })
	}
}

func connectionLostDuringCursorSaveRecovers(t *testing.T, dialect string) {
	c := newConnLost(t, dialect)
	c.lockRow()
	stderr, exited, wait := c.start()
	testenv.WaitFor(t, 30*time.Second, "the poller's cursor save to wait on the row lock", func() bool {
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
	if !c.lostSeen(stderr.String()) {
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
