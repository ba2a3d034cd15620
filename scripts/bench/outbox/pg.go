package main

import (
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// startPG runs a throwaway PostgreSQL server (as testenv does for tests),
// durability off, with shared buffers that hold a million-row table (2 GiB,
// as the MariaDB buffer pool; with 512 MiB the bare drain's database CPU per
// row was 2.5 times higher at N=1000000 than at 100000) and
// pg_stat_statements loaded (planning time too). Its CPU time is the
// postmaster's, its exited children's (one backend per connection, reaped
// by the postmaster) and its live children's.
func startPG() server {
	binDir, err := testenv.PGBinDir()
	check(err)
	dir, err := os.MkdirTemp("", "deimos-bench-pg-")
	check(err)
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		check(err)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		check(os.Chown(dir, uid, gid))
	}
	run := func(name string, args ...string) {
		cmd := exec.Command(filepath.Join(binDir, name), args...)
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			log.Fatalf("%s: %v\n%s", name, err, out)
		}
	}
	data := filepath.Join(dir, "data")
	run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	run("pg_ctl", "-D", data, "-o", fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=2GB -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on", port, dir), "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start")
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	check(err)
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	check(err)
	return server{
		url:     fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		dialect: "postgres",
		cpu:     func() time.Duration { return treeCPU(pid) },
		hwm:     func() int64 { return -1 }, // one process per connection: no single figure
		faults:  func() int64 { return treeFaults(pid) },
		stop: func() {
			run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
			os.RemoveAll(dir)
		},
	}
}
