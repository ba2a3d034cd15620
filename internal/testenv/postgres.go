package testenv

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// pgServer is one throwaway PostgreSQL cluster per test process.
type pgServer struct {
	dir, bin string
	port     int
	cred     *syscall.Credential
	admin    *sql.DB
}

var (
	pgOnce    sync.Once
	pgSrv     *pgServer
	pgErr     error
	pgDBs     atomic.Int64
	mainUsed  atomic.Bool
	pgMissing bool
)

// Main runs the package's tests and stops the PostgreSQL and MariaDB servers afterwards.
// Packages that call Postgres, MariaDB or Dialects must use it: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	mainUsed.Store(true)
	code := m.Run()
	if pgSrv != nil {
		pgSrv.stop()
	}
	if mdbSrv != nil {
		mdbSrv.stop()
	}
	os.Exit(code)
}

// PGBinDir finds Debian's versioned PostgreSQL bin folder (initdb, pg_ctl).
func PGBinDir() (string, error) {
	if d := os.Getenv("PG_BIN"); d != "" {
		return d, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", fmt.Errorf("initdb not found (apt-get install postgresql)")
	}
	sort.Strings(matches)
	return filepath.Dir(matches[len(matches)-1]), nil
}

// Postgres returns the URL of a fresh, empty database on the shared throwaway
// server, started on first use on a free loopback port in a temp dir.
func Postgres(t testing.TB) string {
	t.Helper()
	if !mainUsed.Load() {
		t.Fatal("testenv.Postgres needs TestMain(m) { testenv.Main(m) } in this package so the server is stopped")
	}
	pgOnce.Do(func() { pgSrv, pgErr = startPG() })
	if pgErr != nil {
		if pgMissing {
			Missing(t, "PostgreSQL ("+pgErr.Error()+")")
		}
		t.Fatalf("starting PostgreSQL: %v", pgErr)
	}
	name := fmt.Sprintf("t%d_%d", os.Getpid(), pgDBs.Add(1))
	if _, err := pgSrv.admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = pgSrv.admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pgSrv.port, name)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startPG() (*pgServer, error) {
	bin, err := PGBinDir()
	if err != nil {
		pgMissing = true
		return nil, err
	}
	dir, err := os.MkdirTemp("", "deimos-pg-")
	if err != nil {
		return nil, err
	}
	s := &pgServer{dir: dir, bin: bin}
	if os.Geteuid() == 0 { // PostgreSQL refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			pgMissing = true
			return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := s.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	for attempt := 0; attempt < 5; attempt++ {
		if s.port, err = freePort(); err != nil {
			return nil, err
		}
		opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", s.port, dir)
		out, err := s.run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start")
		if err == nil {
			break
		}
		if attempt == 4 {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			return nil, fmt.Errorf("pg_ctl start: %v: %s %s", err, out, log)
		}
	}
	s.admin, err = sql.Open("pgx", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.admin.PingContext(ctx); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *pgServer) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	cmd.Dir = s.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

func (s *pgServer) stop() {
	if s.admin != nil {
		s.admin.Close()
	}
	_, _ = s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.dir)
}

// PostgresAdminURL is the maintenance database's URL (after Postgres was called).
func PostgresAdminURL() string {
	if pgSrv == nil {
		return ""
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pgSrv.port)
}
