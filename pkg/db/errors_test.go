package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// classes is what the five predicates answer for one error, as letters:
// T transient, C connection, D deadlock, U unique violation, R row error,
// P privilege, K unknown column.
func classes(err error) string {
	var b strings.Builder
	for _, p := range []struct {
		l  string
		is func(error) bool
	}{{"T", IsTransient}, {"C", IsConnError}, {"D", IsDeadlock}, {"U", IsUniqueViolation}, {"R", IsRowError}, {"P", IsPrivilegeError}, {"K", IsUndefinedColumn}} {
		if p.is(err) {
			b.WriteString(p.l)
		}
	}
	return b.String()
}

type errCase struct {
	name string
	want string // classes(err)
	make func(t *testing.T) error
}

func runErrCases(t *testing.T, cases []errCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.make(t)
			if err == nil {
				t.Fatal("the scenario produced no error")
			}
			t.Logf("%T: %v", err, err)
			if got := classes(err); got != c.want {
				t.Fatalf("%T %v: classes %q, want %q", err, err, got, c.want)
			}
			// Wrapping, as every caller does, keeps the classification.
			if got := classes(fmt.Errorf("outer: %w", err)); got != c.want {
				t.Fatalf("wrapped: classes %q, want %q", got, c.want)
			}
		})
	}
}

func mustExec(t *testing.T, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := q.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// TestErrorClassesGeneric: errors any driver returns.
func TestErrorClassesGeneric(t *testing.T) {
	ctx := context.Background()
	if got := classes(nil); got != "" {
		t.Fatalf("classes(nil) = %q", got)
	}
	runErrCases(t, []errCase{
		{"dial refused", "TC", func(t *testing.T) error {
			l, _ := net.Listen("tcp", "127.0.0.1:0")
			addr := l.Addr().String()
			l.Close()
			_, err := net.Dial("tcp", addr)
			return err
		}},
		{"eof", "TC", func(*testing.T) error { return io.EOF }},
		{"unexpected eof", "TC", func(*testing.T) error { return io.ErrUnexpectedEOF }},
		{"bad conn", "TC", func(*testing.T) error { return fmt.Errorf("x: %w", driver.ErrBadConn) }},
		{"deadline", "TC", func(*testing.T) error { return context.DeadlineExceeded }},
		{"cancelled", "", func(*testing.T) error { return context.Canceled }},
		{"plain text that mentions a deadlock", "", func(*testing.T) error {
			return errors.New("Deadlock found when trying to get lock; database is locked; unexpected EOF")
		}},
		{"conn done", "TC", func(t *testing.T) error {
			d, err := OpenOrCreate(ctx, "sqlite:"+filepath.Join(t.TempDir(), "c.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			c, err := d.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			_, err = c.ExecContext(ctx, "SELECT 1")
			return err
		}},
	})
}

// TestErrorClassesSQLite: real go-sqlite3 errors.
func TestErrorClassesSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "e.db")
	d, err := OpenOrCreate(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	mustExec(t, d, `CREATE TABLE u (id integer PRIMARY KEY, k text UNIQUE, n integer NOT NULL CHECK (n >= 0))`,
		`INSERT INTO u VALUES (1, 'a', 1)`)
	// A second pool on the same file that does not wait for locks, so that a
	// writer on the first one makes it fail with SQLITE_BUSY at once.
	other, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=0&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	runErrCases(t, []errCase{
		{"unique index", "UR", func(t *testing.T) error {
			_, err := d.ExecContext(ctx, `INSERT INTO u VALUES (2, 'a', 1)`)
			return err
		}},
		{"primary key", "UR", func(t *testing.T) error {
			_, err := d.ExecContext(ctx, `INSERT INTO u VALUES (1, 'b', 1)`)
			return err
		}},
		{"not null", "R", func(t *testing.T) error {
			_, err := d.ExecContext(ctx, `INSERT INTO u VALUES (3, 'c', NULL)`)
			return err
		}},
		{"check", "R", func(t *testing.T) error {
			_, err := d.ExecContext(ctx, `INSERT INTO u VALUES (3, 'c', -1)`)
			return err
		}},
		{"datatype mismatch", "R", func(t *testing.T) error {
			_, err := d.ExecContext(ctx, `INSERT INTO u VALUES ('x', 'c', 1)`)
			return err
		}},
		{"busy: another connection writes", "TD", func(t *testing.T) error {
			tx, err := d.BeginTx(ctx, nil) // _txlock=immediate: takes the write lock
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback() }()
			_, err = other.ExecContext(ctx, `INSERT INTO u VALUES (9, 'z', 1)`)
			return err
		}},
		{"locked: a table read in the same connection", "TD", func(t *testing.T) error {
			c, err := d.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			mustExec(t, c, `CREATE TABLE v (x integer)`, `INSERT INTO v VALUES (1), (2)`)
			rows, err := c.QueryContext(ctx, `SELECT x FROM v`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			rows.Next()
			_, err = c.ExecContext(ctx, `DROP TABLE v`)
			return err
		}},
		{"syntax", "", func(t *testing.T) error {
			_, err := d.ExecContext(ctx, `SELEC 1`)
			return err
		}},
		{"no such table", "", func(t *testing.T) error {
			_, err := d.ExecContext(ctx, `SELECT * FROM nope`)
			return err
		}},
		{"unknown column in INSERT", "K", func(t *testing.T) error {
			_, err := d.ExecContext(ctx, `INSERT INTO u (id, k, n, headers) VALUES (5, 'e', 1, '{}')`)
			return err
		}},
		{"unknown column in SELECT", "K", func(t *testing.T) error {
			_, err := d.ExecContext(ctx, `SELECT headers FROM u`)
			return err
		}},
	})
}

// TestErrorClassesPostgres: real PostgreSQL errors, including a deadlock, a
// serialization failure, a lock timeout and a connection the server ended.
func TestErrorClassesPostgres(t *testing.T) {
	ctx := context.Background()
	url := testenv.Postgres(t)
	d, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	mustExec(t, d, `CREATE TABLE u (id integer PRIMARY KEY, k text UNIQUE, n integer NOT NULL CHECK (n >= 0))`,
		`INSERT INTO u VALUES (1, 'a', 1), (2, 'b', 2)`)
	begin := func(t *testing.T, opts *sql.TxOptions) *sql.Tx {
		t.Helper()
		tx, err := d.BeginTx(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tx.Rollback() })
		return tx
	}
	runErrCases(t, []errCase{
		{"unique index", "UR", func(t *testing.T) error {
			_, err := d.ExecContext(ctx, `INSERT INTO u VALUES (3, 'a', 1)`)
			return err
		}},
		{"primary key", "UR", func(t *testing.T) error {
			_, err := d.ExecContext(ctx, `INSERT INTO u VALUES (1, 'c', 1)`)
			return err
		}},
		{"not null", "R", func(t *testing.T) error {
			_, err := d.ExecContext(ctx, `INSERT INTO u VALUES (3, 'c', NULL)`)
			return err
		}},
		{"check", "R", func(t *testing.T) error {
			_, err := d.ExecContext(ctx, `INSERT INTO u VALUES (3, 'c', -1)`)
			return err
		}},
		{"invalid value", "R", func(t *testing.T) error {
			_, err := d.ExecContext(ctx, `INSERT INTO u VALUES (3, 'c', 'x')`)
			return err
		}},
		{"permission denied (42501)", "P", func(t *testing.T) error {
			mustExec(t, d, `CREATE ROLE no_select_u`)
			t.Cleanup(func() { _, _ = d.ExecContext(ctx, `DROP ROLE no_select_u`) })
			c, err := d.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			defer func() { _, _ = c.ExecContext(ctx, `RESET ROLE`) }()
			mustExec(t, c, `SET ROLE no_select_u`)
			_, err = c.ExecContext(ctx, `SELECT * FROM u`)
			return err
		}},
		{"syntax", "", func(t *testing.T) error {
			_, err := d.ExecContext(ctx, `SELEC 1`)
			return err
		}},
		{"unknown column (42703)", "K", func(t *testing.T) error {
			_, err := d.ExecContext(ctx, `INSERT INTO u (id, headers) VALUES (5, '{}')`)
			return err
		}},
		{"deadlock", "TD", func(t *testing.T) error {
			a, b := begin(t, nil), begin(t, nil)
			mustExec(t, a, `SET LOCAL deadlock_timeout = '60s'`, `UPDATE u SET n = n WHERE id = 1`)
			mustExec(t, b, `SET LOCAL deadlock_timeout = '10ms'`, `UPDATE u SET n = n WHERE id = 2`)
			blocked := make(chan error, 1)
			go func() { _, err := a.ExecContext(ctx, `UPDATE u SET n = n WHERE id = 2`); blocked <- err }()
			waitLockWait(t, d)
			// b waits for a, which waits for b: b's short deadlock_timeout
			// makes b the victim.
			_, err := b.ExecContext(ctx, `UPDATE u SET n = n WHERE id = 1`)
			_ = b.Rollback()
			if aerr := <-blocked; aerr != nil {
				t.Fatalf("the other transaction failed too: %v", aerr)
			}
			return err
		}},
		{"serialization failure", "TD", func(t *testing.T) error {
			a := begin(t, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
			var n int
			if err := a.QueryRowContext(ctx, `SELECT n FROM u WHERE id = 1`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			mustExec(t, d, `UPDATE u SET n = n + 1 WHERE id = 1`)
			_, err := a.ExecContext(ctx, `UPDATE u SET n = n + 1 WHERE id = 1`)
			return err
		}},
		{"lock timeout", "TD", func(t *testing.T) error {
			a, b := begin(t, nil), begin(t, nil)
			mustExec(t, a, `UPDATE u SET n = n WHERE id = 1`)
			mustExec(t, b, `SET LOCAL lock_timeout = '20ms'`)
			_, err := b.ExecContext(ctx, `UPDATE u SET n = n WHERE id = 1`)
			return err
		}},
		{"connection ended by the server", "TC", func(t *testing.T) error {
			c, err := d.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var pid int
			if err := c.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
				t.Fatal(err)
			}
			var ok bool
			if err := d.QueryRowContext(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
				t.Fatalf("pg_terminate_backend: %v %v", ok, err)
			}
			// The server closes the connection after its FATAL message;
			// whichever of the two the next statement meets, it is a
			// connection error.
			_, err = c.ExecContext(ctx, `SELECT 1`)
			return err
		}},
		{"server unreachable", "TC", func(t *testing.T) error {
			l, _ := net.Listen("tcp", "127.0.0.1:0")
			addr := l.Addr().String()
			l.Close()
			p, err := sql.Open("pgx", "postgres://u@"+addr+"/x?sslmode=disable&connect_timeout=2")
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			return p.PingContext(ctx)
		}},
		{"cancelled query", "", func(t *testing.T) error {
			cctx, cancel := context.WithCancel(ctx)
			go func() { waitActive(t, d, "pg_sleep"); cancel() }()
			_, err := d.ExecContext(cctx, `SELECT pg_sleep(30)`)
			cancel()
			return err
		}},
	})
}

// TestErrorClassesMySQL: real MariaDB errors (the same numbers as MySQL 8's
// except the CHECK failure, 4025 on MariaDB and 3819 on MySQL).
func TestErrorClassesMySQL(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, testenv.MariaDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	mustExec(t, d, "CREATE TABLE u (id integer PRIMARY KEY, k varchar(10) UNIQUE, n integer NOT NULL CHECK (n >= 0), j json, s tinyint) ENGINE=InnoDB",
		"INSERT INTO u (id, k, n) VALUES (1, 'a', 1), (2, 'b', 2)")
	exec := func(q string) func(*testing.T) error {
		return func(*testing.T) error { _, err := d.ExecContext(ctx, q); return err }
	}
	begin := func(t *testing.T) *sql.Tx {
		t.Helper()
		tx, err := d.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tx.Rollback() })
		return tx
	}
	lockWait := "SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'"
	runErrCases(t, []errCase{
		{"unique index (1062)", "UR", exec("INSERT INTO u (id, k, n) VALUES (3, 'a', 1)")},
		{"primary key (1062)", "UR", exec("INSERT INTO u (id, k, n) VALUES (1, 'c', 1)")},
		{"not null (1048)", "R", exec("INSERT INTO u (id, k, n) VALUES (3, 'c', NULL)")},
		{"check (4025)", "R", exec("INSERT INTO u (id, k, n) VALUES (3, 'c', -1)")},
		{"invalid json (4025)", "R", exec("INSERT INTO u (id, k, n, j) VALUES (3, 'c', 1, '{nope')")},
		{"out of range (1264)", "R", exec("INSERT INTO u (id, k, n, s) VALUES (3, 'c', 1, 300)")},
		{"too long (1406)", "R", exec("INSERT INTO u (id, k, n) VALUES (3, 'cccccccccccc', 1)")},
		{"incorrect value (1366)", "R", exec("INSERT INTO u (id, k, n) VALUES (3, 'c', 'x')")},
		{"syntax (1064)", "", exec("SELEC 1")},
		{"no PROCESS for innodb_trx (1227)", "P", func(t *testing.T) error {
			return noPrivilegeUser(t, d, "SELECT COUNT(*) FROM information_schema.innodb_trx")
		}},
		{"no SELECT on the table (1142)", "P", func(t *testing.T) error {
			return noPrivilegeUser(t, d, "SELECT * FROM u")
		}},
		{"no such table (1146)", "", exec("SELECT * FROM nope")},
		{"unknown column (1054)", "K", exec("INSERT INTO u (id, k, n, headers) VALUES (5, 'e', 1, '{}')")},
		{"deadlock (1213)", "TD", func(t *testing.T) error {
			a, b := begin(t), begin(t)
			mustExec(t, a, "UPDATE u SET n = n + 1 WHERE id = 1")
			mustExec(t, b, "UPDATE u SET n = n + 1 WHERE id = 2")
			aerr := make(chan error, 1)
			go func() { _, err := a.ExecContext(ctx, "UPDATE u SET n = n + 1 WHERE id = 2"); aerr <- err }()
			waitFor(t, d, lockWait)
			_, berr := b.ExecContext(ctx, "UPDATE u SET n = n + 1 WHERE id = 1")
			if berr != nil {
				_ = b.Rollback() // InnoDB rolled b back: a goes on
			}
			errA := <-aerr
			// InnoDB picks the victim; exactly one of the two fails.
			if (berr == nil) == (errA == nil) {
				t.Fatalf("want one deadlock victim, got %v and %v", errA, berr)
			}
			if berr != nil {
				return berr
			}
			return errA
		}},
		{"lock wait timeout (1205)", "TD", func(t *testing.T) error {
			a, b := begin(t), begin(t)
			mustExec(t, a, "UPDATE u SET n = n + 1 WHERE id = 1")
			mustExec(t, b, "SET SESSION innodb_lock_wait_timeout = 1")
			_, err := b.ExecContext(ctx, "UPDATE u SET n = n + 1 WHERE id = 1")
			return err
		}},
		{"connection killed by the server", "TC", func(t *testing.T) error {
			c, err := d.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var id int64
			if err := c.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
				t.Fatal(err)
			}
			mustExec(t, d, fmt.Sprintf("KILL %d", id))
			_, err = c.ExecContext(ctx, "SELECT 1")
			return err
		}},
		{"killed during a statement", "TC", func(t *testing.T) error {
			c, err := d.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var id int64
			if err := c.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
				t.Fatal(err)
			}
			go func() {
				waitFor(t, d, fmt.Sprintf("SELECT COUNT(*) FROM information_schema.processlist WHERE id = %d AND info LIKE 'SELECT SLEEP%%'", id))
				_, _ = d.ExecContext(ctx, fmt.Sprintf("KILL %d", id))
			}()
			_, err = c.ExecContext(ctx, "SELECT SLEEP(30)")
			return err
		}},
		{"server unreachable", "TC", func(t *testing.T) error {
			l, _ := net.Listen("tcp", "127.0.0.1:0")
			addr := l.Addr().String()
			l.Close()
			dsn, err := parseMySQL("mysql://u@" + addr + "/x?timeout=2s")
			if err != nil {
				t.Fatal(err)
			}
			c, err := mysqlConnector(dsn)
			if err != nil {
				t.Fatal(err)
			}
			p := sql.OpenDB(c)
			defer p.Close()
			return p.PingContext(ctx)
		}},
	})
}

// waitLockWait waits until a session of d's database waits on a lock.
func waitLockWait(t *testing.T, d *DB) {
	t.Helper()
	waitFor(t, d, `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)
}

// waitActive waits until a statement containing text runs.
func waitActive(t *testing.T, d *DB, text string) {
	waitFor(t, d, `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE '%`+text+`(%' AND pid <> pg_backend_pid()`)
}

func waitFor(t *testing.T, d *DB, countQuery string) {
	// InnoDB refreshes information_schema.innodb_trx only when it was last
	// read more than 0.1 s before: polling it faster reads a stale copy forever.
	every := 5 * time.Millisecond
	if strings.Contains(countQuery, "innodb_trx") {
		every = 150 * time.Millisecond
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := d.QueryRow(countQuery).Scan(&n); err == nil && n > 0 {
			return
		}
		time.Sleep(every)
	}
	t.Errorf("timed out waiting for: %s", countQuery)
}

// noPrivilegeUser runs q as a new MySQL user that has no privileges at all.
func noPrivilegeUser(t *testing.T, d *DB, q string) error {
	t.Helper()
	ctx := context.Background()
	var name string
	if err := d.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	u := "np_" + name
	mustExec(t, d, "CREATE USER '"+u+"'@'%' IDENTIFIED BY 'pw'")
	t.Cleanup(func() { _, _ = d.ExecContext(ctx, "DROP USER '"+u+"'@'%'") })
	url := strings.Replace(testenv.MariaDBAdminURL(), "root@", u+":pw@", 1)
	url = strings.Replace(url, "/mysql", "/information_schema", 1)
	nd, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer nd.Close()
	_, err = nd.ExecContext(ctx, strings.Replace(q, " u", " `"+name+"`.u", 1))
	return err
}
