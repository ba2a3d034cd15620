package start_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
	"github.com/deimos-cli/deimos/pkg/outbox"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, timeout, what, cond)
}

// env is a database with the deimos tables, a kfake cluster and a
// deimos.yaml naming both.
type env struct {
	t       *testing.T
	dialect string // "postgres" or "mysql" (MariaDB)
	url     string
	d       *db.DB
	brokers []string
	dir     string
	cfg     string // path of deimos.yaml
	body    string // the config after the kafka/schema/database lines
}

// servers runs f on each database server deimos supports (PostgreSQL and
// MySQL/MariaDB), as subtests named after the dialect.
func servers(t *testing.T, f func(t *testing.T, dialect string)) {
	for _, dl := range testenv.Dialects(t) {
		if dl.Name != "sqlite" {
			t.Run(dl.Name, func(t *testing.T) { f(t, dl.Name) })
		}
	}
}

// newEnv is newEnvOn PostgreSQL.
func newEnv(t *testing.T, setup []string, body string) *env {
	t.Helper()
	return newEnvOn(t, "postgres", setup, body)
}

// newEnvOn migrates a fresh database of the dialect, runs setup SQL, and
// writes the config: the kafka/schema/database lines, then body.
func newEnvOn(t *testing.T, dialect string, setup []string, body string) *env {
	t.Helper()
	var url string
	for _, dl := range testenv.Dialects(t) {
		if dl.Name == dialect {
			url = dl.URL(t)
		}
	}
	if url == "" {
		t.Fatalf("no test database for dialect %q", dialect)
	}
	ctx := context.Background()
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := migrate.Up(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	for _, q := range setup {
		if _, err := d.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	e := &env{t: t, dialect: dialect, url: url, d: d, brokers: testenv.Brokers(t, 2), dir: t.TempDir(), body: body}
	e.cfg = filepath.Join(e.dir, "deimos.yaml")
	e.writeConfig(url)
	return e
}

// writeConfig (re)writes deimos.yaml with the database URL the jobs use.
func (e *env) writeConfig(url string) {
	e.t.Helper()
	cfg := fmt.Sprintf("kafka: {brokers: [%s]}\nschema: {backend: json}\ndatabase: {url: %q}\n", e.brokers[0], url) + e.body
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) count(q string) int {
	e.t.Helper()
	var n int
	if err := e.d.QueryRowContext(context.Background(), q).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (e *env) exec(q string, args ...any) {
	e.t.Helper()
	if _, err := e.d.ExecContext(context.Background(), q, args...); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
}

// outboxRows inserts n kafka_messages rows for topic with JSON values
// {"id":from+i,...} keyed by id.
func (e *env) outboxRows(topic string, from, n int) {
	e.t.Helper()
	rows := make([]outbox.Row, n)
	for i := range rows {
		id := from + i
		rows[i] = outbox.Row{Topic: topic, Key: []byte(fmt.Sprint(id)), Message: []byte(fmt.Sprintf(`{"id":%d,"total":%d}`, id, id*10))}
	}
	if err := outbox.Insert(context.Background(), e.d.DB, e.d.Dialect, rows, time.Now()); err != nil {
		e.t.Fatal(err)
	}
}

// proc is a running `deimos start` (or other long-running command).
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *testenv.SyncBuffer
	addr   string
	done   chan struct{}
	code   int
}

var addrRe = regexp.MustCompile(`serving metrics[^"]*" addr=(\S+)`)

// start runs deimos with the env's config and args, and waits for its HTTP
// server's address (when it serves one).
func (e *env) start(extraEnv []string, args ...string) *proc {
	e.t.Helper()
	cmd := exec.Command(testenv.Binary(e.t), append([]string{"--config", e.cfg}, args...)...)
	cmd.Env = append(append(os.Environ(), "DEIMOS_CONFIG="), extraEnv...)
	cmd.Dir = e.dir
	p := &proc{t: e.t, cmd: cmd, stderr: &testenv.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	cmd.Stdout = p.stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		p.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -1
		}
		close(p.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// serving waits for the server's address.
func (p *proc) serving() *proc {
	p.t.Helper()
	waitFor(p.t, "the HTTP server's address in the log", 30*time.Second, func() bool {
		if p.exited() {
			p.t.Fatalf("deimos exited %d before serving:\n%s", p.code, p.stderr)
		}
		m := addrRe.FindStringSubmatch(p.stderr.String())
		if m != nil {
			p.addr = m[1]
		}
		return m != nil
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// get fetches path from the server: status code and body.
func (p *proc) get(path string) (int, string) {
	p.t.Helper()
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type jobStatus struct {
	Name           string     `json:"name"`
	Kind           string     `json:"kind"`
	State          string     `json:"state"`
	Wedged         bool       `json:"wedged"`
	Restarts       int        `json:"restarts"`
	LastError      string     `json:"last_error"`
	LastProgressAt *time.Time `json:"last_progress_at"`
	Lag            *float64   `json:"lag"`
	LagUnit        string     `json:"lag_unit"`
}

type statusDoc struct {
	Healthy bool        `json:"healthy"`
	Jobs    []jobStatus `json:"jobs"`
}

func (p *proc) status() statusDoc {
	p.t.Helper()
	code, body := p.get("/status")
	var s statusDoc
	if code != 200 {
		return s
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		p.t.Fatalf("/status is not JSON: %v\n%s", err, body)
	}
	return s
}

func (p *proc) job(name string) jobStatus {
	for _, j := range p.status().Jobs {
		if j.Name == name {
			return j
		}
	}
	return jobStatus{}
}

// stop sends SIGTERM and returns the exit code.
func (p *proc) stop() int {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	return p.wait(time.Minute)
}

func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(d):
		p.t.Fatalf("deimos still running after %s:\n%s", d, p.stderr)
	}
	return -1
}

// metric returns the value of the series whose text (name{labels}) is given.
func metric(body, series string) (string, bool) {
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v, true
		}
	}
	return "", false
}

// lockHolder is a test connection holding a lock in an open transaction.
type lockHolder struct {
	tx *sql.Tx
}

func (e *env) lock(q string) *lockHolder {
	e.t.Helper()
	tx, err := e.d.BeginTx(context.Background(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := tx.Exec(q); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = tx.Rollback() })
	return &lockHolder{tx: tx}
}

func (l *lockHolder) release() { _ = l.tx.Rollback() }

// lockTable holds a lock on table that lets readers in and makes every
// write wait: LOCK TABLE … IN SHARE MODE on PostgreSQL; on MySQL a locking
// read of the whole table, whose next-key locks (up to the supremum)
// block every insert, under the default REPEATABLE READ.
func (e *env) lockTable(table string) *lockHolder {
	e.t.Helper()
	if e.dialect == "mysql" {
		return e.lock("SELECT id FROM " + table + " LOCK IN SHARE MODE")
	}
	return e.lock("LOCK TABLE " + table + " IN SHARE MODE")
}

// waitingOnLock reports whether a session other than the test's waits on a lock.
func (e *env) waitingOnLock() bool {
	q := "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
	if e.dialect == "mysql" {
		// InnoDB refreshes the snapshot innodb_trx shows only when it was
		// last read more than 0.1 s ago: asked more often, it keeps
		// showing the old one.
		time.Sleep(150 * time.Millisecond)
		q = `SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'
AND trx_mysql_thread_id IN (SELECT id FROM information_schema.processlist WHERE db = DATABASE())`
	}
	var n int
	_ = e.d.QueryRowContext(context.Background(), q).Scan(&n)
	return n > 0
}

var sigterm = syscall.SIGTERM

// adminDB is a connection to the throwaway server's maintenance database.
func adminDB(t *testing.T) *sql.DB {
	t.Helper()
	d, err := sql.Open("pgx", testenv.PostgresAdminURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
