package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mdbServer is one throwaway MariaDB server per test process, in a temp
// dir, on a free loopback port and a socket in that dir. It is never the
// system service.
type mdbServer struct {
	dir  string
	port int
	cred *syscall.Credential
	cmd  *exec.Cmd
	exit chan error // the server's exit status, once it has exited
	// admin is a pool of root connections, for CREATE/DROP DATABASE.
	admin *sql.DB
}

var (
	mdbOnce    sync.Once
	mdbSrv     *mdbServer
	mdbErr     error
	mdbMissing bool
	mdbDBs     atomic.Int64
)

// MariaDBSQLMode is the server's sql_mode: MySQL 8's default, which is
// stricter than MariaDB's (ONLY_FULL_GROUP_BY, NO_ZERO_DATE...), so SQL
// that passes here is also accepted by MySQL 8 in its default mode.
const MariaDBSQLMode = "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"

// MariaDBSystemTZ is the test server's system time zone (TZ): US Eastern
// time, UTC-5 or UTC-4 in summer. deimos's own sessions run in UTC
// (time_zone '+00:00'); the server's clock functions in the SYSTEM zone
// are not.
const MariaDBSystemTZ = "EST5EDT,M3.2.0,M11.1.0"

// MariaDB returns the URL (mysql://root@127.0.0.1:PORT/NAME) of a fresh,
// empty database on the shared throwaway MariaDB server, started on first
// use. The database is dropped when the test ends. The package's TestMain
// must call Main, which stops the server.
func MariaDB(t testing.TB) string {
	t.Helper()
	if !mainUsed.Load() {
		t.Fatal("testenv.MariaDB needs TestMain(m) { testenv.Main(m) } in this package so the server is stopped")
	}
	mdbOnce.Do(func() { mdbSrv, mdbErr = startMariaDB(nil) })
	if mdbErr != nil {
		if mdbMissing {
			Missing(t, "MariaDB ("+mdbErr.Error()+")")
		}
		t.Fatalf("starting MariaDB: %v", mdbErr)
	}
	name := fmt.Sprintf("t%d_%d", os.Getpid(), mdbDBs.Add(1))
	if _, err := mdbSrv.admin.Exec("CREATE DATABASE `" + name + "`"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() { mdbSrv.drop(name) })
	return mdbSrv.url(name)
}

// MariaDBAdminURL is the root user's URL on the system database "mysql"
// (after MariaDB was called), for tests that create users or databases.
func MariaDBAdminURL() string {
	if mdbSrv == nil {
		return ""
	}
	return mdbSrv.url("mysql")
}

func (s *mdbServer) url(db string) string {
	return fmt.Sprintf("mysql://root@127.0.0.1:%d/%s", s.port, db)
}

// drop ends the connections still using the database (as PostgreSQL's
// DROP DATABASE ... WITH (FORCE) does) so a test that leaked a transaction
// cannot make DROP DATABASE wait on its locks.
func (s *mdbServer) drop(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := s.admin.QueryContext(ctx, "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()", name)
	if err == nil {
		var ids []int64
		for rows.Next() {
			var id int64
			if rows.Scan(&id) == nil {
				ids = append(ids, id)
			}
		}
		rows.Close()
		for _, id := range ids {
			_, _ = s.admin.ExecContext(ctx, "KILL "+strconv.FormatInt(id, 10))
		}
	}
	_, _ = s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
}

// mariaDBBin finds a MariaDB program: in $MARIADB_BIN when set, else on
// PATH or in /usr/sbin (where Debian puts mariadbd).
func mariaDBBin(name string) (string, error) {
	dirs := []string{"/usr/sbin", "/usr/bin"}
	if d := os.Getenv("MARIADB_BIN"); d != "" {
		dirs = []string{d}
	} else if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found (apt-get install mariadb-server)", name)
}

func startMariaDB(extra []string) (*mdbServer, error) {
	var bins [2]string
	for i, name := range []string{"mariadb-install-db", "mariadbd"} {
		p, err := mariaDBBin(name)
		if err != nil {
			mdbMissing = true
			return nil, err
		}
		bins[i] = p
	}
	dir, err := os.MkdirTemp("", "deimos-mdb-")
	if err != nil {
		return nil, err
	}
	s := &mdbServer{dir: dir}
	if os.Geteuid() == 0 { // mariadbd refuses to run as root
		u, err := user.Lookup("mysql")
		if err != nil {
			mdbMissing = true
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root needs the mysql user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	// Tried twice: on a loaded machine the bootstrap server has been seen
	// to fail once; the first failure's output goes into the second's error.
	var firstOut []byte
	for attempt := 0; ; attempt++ {
		install := exec.Command(bins[0], "--no-defaults", "--datadir="+data, "--auth-root-authentication-method=normal",
			"--skip-test-db", "--skip-name-resolve", "--innodb-buffer-pool-size=32M")
		out, err := s.run(install)
		if err == nil {
			break
		}
		if attempt == 1 {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("mariadb-install-db: %v: %s\n(first attempt: %s)", err, out, firstOut)
		}
		firstOut = out
		fmt.Fprintf(os.Stderr, "testenv: mariadb-install-db failed (%v), trying again: %s\n", err, out)
		os.RemoveAll(data)
	}
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if err = s.start(bins[1], data, extra); err == nil {
			return s, nil
		}
		if attempt == 4 {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("mariadbd: %v\n%s", err, log)
		}
	}
}

// start runs mariadbd in the foreground as a child (killed if the test
// process dies) and waits until it accepts connections.
func (s *mdbServer) start(bin, data string, extra []string) error {
	s.cmd = exec.Command(bin, "--no-defaults", "--datadir="+data,
		"--port="+strconv.Itoa(s.port), "--bind-address=127.0.0.1", "--socket="+filepath.Join(s.dir, "mysqld.sock"),
		"--pid-file="+filepath.Join(s.dir, "mysqld.pid"), "--log-error="+filepath.Join(s.dir, "error.log"),
		"--skip-name-resolve", "--skip-log-bin", "--skip-performance-schema",
		// a throwaway server: durability off, for speed
		"--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--innodb-buffer-pool-size=128M",
		"--max-connections=300", "--max-allowed-packet=64M",
		"--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
		"--sql-mode="+MariaDBSQLMode)
	s.cmd.Args = append(s.cmd.Args, extra...) // a later option wins
	s.cmd.Dir = s.dir
	// The server's system time zone is not UTC, as on many real servers:
	// what MySQL reports in it (information_schema.innodb_trx.trx_started,
	// for the poller's late-commit guard) must be converted, and a test
	// notices when it is not. A POSIX rule, so no zoneinfo file is needed.
	s.cmd.Env = append(os.Environ(), "TZ="+MariaDBSystemTZ)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.exit = make(chan error, 1)
	go func() { s.exit <- s.cmd.Wait() }()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "tcp", fmt.Sprintf("127.0.0.1:%d", s.port)
	cfg.Timeout = 2 * time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		s.kill()
		return err
	}
	s.admin = sql.OpenDB(conn)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-s.exit:
			s.admin.Close()
			return fmt.Errorf("exited during start: %v", err)
		default:
		}
		err := s.admin.Ping()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("not accepting connections after 60s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *mdbServer) run(cmd *exec.Cmd) ([]byte, error) {
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	cmd.Dir = s.dir
	return cmd.CombinedOutput()
}

func (s *mdbServer) kill() {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		<-s.exit
	}
}

// stop kills the server (its data is thrown away, so there is nothing to
// shut down cleanly) and removes its files.
func (s *mdbServer) stop() {
	s.kill()
	os.RemoveAll(s.dir)
}

// MariaDBServer is a throwaway MariaDB server for programs that are not
// tests (scripts/bench): the tests' server, started with extra mariadbd
// options (a later option wins over the tests' defaults).
type MariaDBServer struct{ s *mdbServer }

// StartMariaDB starts a throwaway server; Stop kills it and removes its files.
func StartMariaDB(extra ...string) (*MariaDBServer, error) {
	s, err := startMariaDB(extra)
	if err != nil {
		return nil, err
	}
	return &MariaDBServer{s: s}, nil
}

// URL is root's URL on database name (CREATE DATABASE it first, or use "mysql").
func (m *MariaDBServer) URL(name string) string { return m.s.url(name) }

// Pid is the mariadbd process (its CPU time covers every connection's thread).
func (m *MariaDBServer) Pid() int { return m.s.cmd.Process.Pid }

// Stop kills the server and removes its files.
func (m *MariaDBServer) Stop() { m.s.stop() }
