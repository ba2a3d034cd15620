package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"log"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// copyOut reads every row out with the database's own client, in its
// cheapest form: psql's COPY ... TO STDOUT (FORMAT binary) on PostgreSQL,
// `mariadb --quick` on MariaDB. It returns the client's and the database's
// CPU time.
func copyOut(srv server, cols string) (client, database time.Duration) {
	var cmd *exec.Cmd
	if srv.dialect == "postgres" {
		dir, err := testenv.PGBinDir()
		check(err)
		initdb, err := filepath.EvalSymlinks(filepath.Join(dir, "initdb")) // /usr/local/bin may hold links to the server programs only
		check(err)
		cmd = exec.Command(filepath.Join(filepath.Dir(initdb), "psql"), "-X", "-q", "-d", srv.url, "-c",
			"COPY (SELECT "+cols+" FROM kafka_messages) TO STDOUT (FORMAT binary)")
	} else {
		u, err := url.Parse(srv.url)
		check(err)
		cmd = exec.Command("mariadb", "--no-defaults", "-h", u.Hostname(), "-P", u.Port(), "-u", u.User.Username(),
			"--quick", "--batch", "--raw", "--skip-column-names", strings.TrimPrefix(u.Path, "/"),
			"-e", "SELECT "+cols+" FROM kafka_messages")
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	check(err)
	defer null.Close()
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = null, &stderr
	db0 := srv.cpu()
	if err := cmd.Run(); err != nil {
		log.Fatalf("%s: %v\n%s", cmd.Args[0], err, stderr.String())
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), srv.cpu() - db0
}

// kcatProduce sends n keyed messages of size bytes (keys as the outbox
// rows have them) with kcat to a fresh broker, and returns kcat's and the
// broker's CPU time, and kcat's and the broker's peak RSS (KiB). The lines are written by
// this process into kcat's stdin.
func kcatProduce(bin string, n, size int) (client, brokerCPU time.Duration, rssKiB, brokerKiB int64) {
	addr, bpid, stop := broker(bin)
	defer stop()
	raw := make([]byte, size*3/4+3)
	_, _ = rand.Read(raw)
	value := base64.RawStdEncoding.EncodeToString(raw)[:size] // no tab or newline
	cmd := exec.Command("kcat", "-b", addr, "-P", "-t", "floor", "-K", "\t")
	in, err := cmd.StdinPipe()
	check(err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b0 := procCPU(bpid)
	check(cmd.Start())
	peak := watchRSS(cmd.Process.Pid)
	w := bufio.NewWriterSize(in, 1<<20)
	for i := 0; i < n; i++ {
		w.WriteString(strconv.Itoa(i % 1000))
		w.WriteByte('\t')
		w.WriteString(value)
		w.WriteByte('\n')
	}
	check(w.Flush())
	check(in.Close())
	if err := cmd.Wait(); err != nil {
		log.Fatalf("kcat: %v\n%s", err, stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "ERROR") || strings.Contains(s, "failed") {
		log.Fatalf("kcat: %s", s)
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), procCPU(bpid) - b0, peak(), hwm(bpid)
}
