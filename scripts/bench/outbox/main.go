// Command outbox-bench measures `deimos outbox run --once` against the
// database-only drain rate (the same SELECT + DELETE, no Kafka) in the same
// run, on a throwaway PostgreSQL and an in-process kfake broker.
//
//	go run ./scripts/bench/outbox -bin ./bin/deimos -n 1000000
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
	"github.com/deimos-cli/deimos/pkg/outbox"
)

func main() {
	bin := flag.String("bin", "./bin/deimos", "deimos binary")
	n := flag.Int("n", 1000000, "rows")
	size := flag.Int("size", 1024, "message bytes")
	topics := flag.Int("topics", 8, "topics")
	workers := flag.Int("workers", 4, "relay workers (and DB-only drain goroutines)")
	batch := flag.Int("batch-size", 1000, "batch size")
	flag.Parse()

	pgURL, stopPG := startPG()
	defer stopPG()
	ctx := context.Background()
	d, err := db.Open(ctx, pgURL)
	check(err)
	defer d.Close()
	_, err = migrate.Up(ctx, d, []string{"outbox", "deadletter"})
	check(err)

	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(6), kfake.AllowAutoTopicCreation())
	check(err)
	defer c.Close()

	names := make([]string, *topics)
	for i := range names {
		names[i] = fmt.Sprintf("bench-%d", i)
	}

	fmt.Printf("outbox bench: %d rows of %d bytes over %d topics, %d workers, batch %d (PostgreSQL, in-process kfake)\n", *n, *size, *topics, *workers, *batch)
	t0 := time.Now()
	fill(ctx, d, *n, *size, names)
	fmt.Printf("  insert (outbox.Insert):   %8.0f rows/s\n", float64(*n)/time.Since(t0).Seconds())

	t0 = time.Now()
	dbOnly(ctx, d, names, *workers, *batch)
	dbRate := float64(*n) / time.Since(t0).Seconds()
	fmt.Printf("  DB-only drain:            %8.0f rows/s (SELECT + DELETE, no Kafka)\n", dbRate)

	fill(ctx, d, *n, *size, names)
	_, _ = d.ExecContext(ctx, "VACUUM ANALYZE kafka_messages")
	cmd := exec.Command(*bin, "outbox", "run", "--once", "--db", pgURL, "-b", strings.Join(c.ListenAddrs(), ","),
		"--workers", strconv.Itoa(*workers), "--batch-size", strconv.Itoa(*batch), "--log-level", "warn")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 = time.Now()
	if err := cmd.Run(); err != nil {
		log.Fatalf("deimos outbox run: %v\n%s", err, out.String())
	}
	el := time.Since(t0)
	rate := float64(*n) / el.Seconds()
	var left int
	check(d.QueryRowContext(ctx, "SELECT COUNT(*) FROM kafka_messages").Scan(&left))
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
	fmt.Printf("  deimos outbox run --once: %8.0f msgs/s (%.1fs, %d rows left)\n", rate, el.Seconds(), left)
	fmt.Printf("  ratio relay / DB-only:    %8.2f  (target >= 0.70)\n", rate/dbRate)
	fmt.Printf("  peak RSS of the relay:    %8.1f MiB\n", float64(rss)/1024)
	fmt.Printf("  relay output: %s", out.String())
	if left != 0 {
		log.Fatalf("%d rows were not relayed", left)
	}
}

func fill(ctx context.Context, d *db.DB, n, size int, topics []string) {
	payload := make([]byte, size)
	_, _ = rand.Read(payload)
	const chunk = 5000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for start := 0; start < n; start += chunk {
		end := min(start+chunk, n)
		wg.Add(1)
		sem <- struct{}{}
		go func(start, end int) {
			defer wg.Done()
			defer func() { <-sem }()
			rows := make([]outbox.Row, 0, end-start)
			for i := start; i < end; i++ {
				pk := strconv.Itoa(i % 1000)
				rows = append(rows, outbox.Row{Topic: topics[i%len(topics)], Message: payload, Key: []byte(pk), PartitionKey: &pk})
			}
			check(d.Tx(ctx, func(tx *sql.Tx) error { return outbox.Insert(ctx, tx, d.Dialect, rows, time.Now()) }))
		}(start, end)
	}
	wg.Wait()
}

// dbOnly drains the table with the relay's statements and no Kafka: one
// topic per goroutine at a time, batches in id order, deleted in one transaction.
func dbOnly(ctx context.Context, d *db.DB, topics []string, workers, batch int) {
	ch := make(chan string, len(topics))
	for _, t := range topics {
		ch <- t
	}
	close(ch)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range ch {
				for {
					rows, err := d.QueryContext(ctx, "SELECT id, topic, message, key, partition_key, created_at FROM kafka_messages WHERE topic = $1 ORDER BY id LIMIT $2", t, batch)
					check(err)
					var ids []int64
					for rows.Next() {
						var id int64
						var topic string
						var msg, key []byte
						var pk sql.NullString
						var ca time.Time
						check(rows.Scan(&id, &topic, &msg, &key, &pk, &ca))
						ids = append(ids, id)
					}
					rows.Close()
					if len(ids) == 0 {
						break
					}
					check(d.Tx(ctx, func(tx *sql.Tx) error {
						for s := 0; s < len(ids); s += 500 {
							e := min(s+500, len(ids))
							ph := make([]string, 0, e-s)
							args := []any{t}
							for i, id := range ids[s:e] {
								ph = append(ph, "$"+strconv.Itoa(i+2))
								args = append(args, id)
							}
							if _, err := tx.ExecContext(ctx, "DELETE FROM kafka_messages WHERE topic = $1 AND id IN ("+strings.Join(ph, ", ")+")", args...); err != nil {
								return err
							}
						}
						return nil
					}))
					if len(ids) < batch {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// startPG runs a throwaway PostgreSQL server (as testenv does for tests).
func startPG() (string, func()) {
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
	run("pg_ctl", "-D", data, "-o", fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=512MB", port, dir), "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start")
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), func() {
		run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
		os.RemoveAll(dir)
	}
}
