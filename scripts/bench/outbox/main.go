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
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
	"github.com/deimos-cli/deimos/pkg/outbox"
)

func main() {
	bin := flag.String("bin", "./bin/deimos", "deimos binary; a comma-separated list compares builds (each timed in every round)")
	n := flag.Int("n", 1000000, "rows")
	size := flag.Int("size", 1024, "message bytes")
	topics := flag.Int("topics", 8, "topics")
	workers := flag.Int("workers", 4, "relay workers (and DB-only drain goroutines)")
	batch := flag.Int("batch-size", 1000, "batch size")
	relayProf := flag.String("cpuprofile", "", "write the relay's CPU profile to FILE (hidden --cpuprofile of outbox run)")
	rounds := flag.Int("rounds", 1, "repeat DB-only + relay this many times and print medians (a noisy machine)")
	harnessProf := flag.String("harness-cpuprofile", "", "write this process's CPU profile (kfake broker) during the relay run to FILE")
	flag.Parse()

	pgURL, stopPG := startPG()
	defer stopPG()
	ctx := context.Background()
	d, err := db.Open(ctx, pgURL)
	check(err)
	defer d.Close()
	_, err = migrate.Up(ctx, d, []string{"outbox", "deadletter"})
	check(err)

	names := make([]string, *topics)
	for i := range names {
		names[i] = fmt.Sprintf("bench-%d", i)
	}

	fmt.Printf("outbox bench: %d rows of %d bytes over %d topics, %d workers, batch %d, %d round(s) (PostgreSQL, in-process kfake)\n", *n, *size, *topics, *workers, *batch, *rounds)
	var dbRates []float64
	var rates, ratios [][]float64 // per binary
	for r := 1; r <= *rounds; r++ {
		if *rounds > 1 {
			fmt.Printf(" round %d\n", r)
		}
		t0 := time.Now()
		fill(ctx, d, *n, *size, names)
		fmt.Printf("  insert (outbox.Insert):   %8.0f rows/s\n", float64(*n)/time.Since(t0).Seconds())
		_, _ = d.ExecContext(ctx, "VACUUM ANALYZE kafka_messages")

		t0 = time.Now()
		c0 := cpuBusy()
		dbOnly(ctx, d, names, *workers, *batch)
		dbRate := float64(*n) / time.Since(t0).Seconds()
		fmt.Printf("  DB-only drain:            %8.0f rows/s (SELECT + DELETE, no Kafka; machine CPU busy %s)\n", dbRate, c0())

		bins := strings.Split(*bin, ",")
		for i, b := range bins {
			fill(ctx, d, *n, *size, names)
			_, _ = d.ExecContext(ctx, "VACUUM ANALYZE kafka_messages")
			prof := ""
			if r == 1 && i == 0 {
				prof = *relayProf
			}
			if len(bins) > 1 {
				fmt.Printf("  [%s]\n", b)
			}
			rate := relay(ctx, d, b, pgURL, *workers, *batch, *n, prof, *harnessProf != "" && r == 1 && i == 0, *harnessProf)
			fmt.Printf("  ratio relay / DB-only:    %8.2f  (target >= 0.70)\n", rate/dbRate)
			if r == 1 {
				rates, ratios = append(rates, nil), append(ratios, nil)
			}
			rates[i], ratios[i] = append(rates[i], rate), append(ratios[i], rate/dbRate)
		}
		dbRates = append(dbRates, dbRate)
	}
	for i, b := range strings.Split(*bin, ",") {
		if *rounds > 1 {
			fmt.Printf(" median of %d rounds [%s]: DB-only %.0f rows/s, relay %.0f msgs/s, ratio %.2f (ratios %s)\n",
				*rounds, b, median(dbRates), median(rates[i]), median(ratios[i]), fmtList(ratios[i]))
		}
	}
}

// cpuBusy samples /proc/stat; the returned func gives the share of all
// cores' time that was busy since (everything on the machine, not just us).
func cpuBusy() func() string {
	read := func() (busy, total float64) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0
		}
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		for i, v := range f[1:] {
			x, _ := strconv.ParseFloat(v, 64)
			total += x
			if i != 3 && i != 4 { // idle, iowait
				busy += x
			}
		}
		return busy, total
	}
	b0, t0 := read()
	return func() string {
		b1, t1 := read()
		if t1 <= t0 {
			return "?"
		}
		return fmt.Sprintf("%.0f%% of %d cores", 100*(b1-b0)/(t1-t0), runtime.NumCPU())
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtList(xs []float64) string {
	var p []string
	for _, x := range xs {
		p = append(p, fmt.Sprintf("%.2f", x))
	}
	return strings.Join(p, " ")
}

// relay times `deimos outbox run --once` against a fresh in-process kfake
// cluster and returns msgs/s.
func relay(ctx context.Context, d *db.DB, bin, pgURL string, workers, batch, n int, relayProf string, profHarness bool, harnessProf string) float64 {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(6), kfake.AllowAutoTopicCreation())
	check(err)
	defer c.Close()
	cmd := exec.Command(bin, "outbox", "run", "--once", "--db", pgURL, "-b", strings.Join(c.ListenAddrs(), ","),
		"--workers", strconv.Itoa(workers), "--batch-size", strconv.Itoa(batch), "--log-level", "warn")
	if relayProf != "" {
		cmd.Args = append(cmd.Args, "--cpuprofile", relayProf)
	}
	if profHarness {
		f, err := os.Create(harnessProf)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer f.Close()
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	c0 := cpuBusy()
	check(cmd.Start())
	// Peak RSS: VmHWM of the child's own address space, polled (rusage's
	// maxrss can include this process's memory at fork time).
	var hwm atomic.Int64
	done := make(chan struct{})
	go func() {
		path := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		for {
			if b, err := os.ReadFile(path); err == nil {
				for _, l := range strings.Split(string(b), "\n") {
					if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
						if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil && kb > hwm.Load() {
							hwm.Store(kb)
						}
					}
				}
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	if err != nil {
		log.Fatalf("deimos outbox run: %v\n%s", err, out.String())
	}
	el := time.Since(t0)
	busy := c0()
	if profHarness {
		pprof.StopCPUProfile()
	}
	rate := float64(n) / el.Seconds()
	var left int
	check(d.QueryRowContext(ctx, "SELECT COUNT(*) FROM kafka_messages").Scan(&left))
	rss := hwm.Load() // KiB
	fmt.Printf("  deimos outbox run --once: %8.0f msgs/s (%.1fs, %d rows left; machine CPU busy %s; relay CPU %.1fs)\n", rate, el.Seconds(), left, busy,
		(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds())
	fmt.Printf("  peak RSS of the relay:    %8.1f MiB\n", float64(rss)/1024)
	fmt.Printf("  relay output: %s", out.String())
	if left != 0 {
		log.Fatalf("%d rows were not relayed", left)
	}
	return rate
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
// topic per goroutine at a time, batches in id order (the first SELECT plain,
// later ones "AND id > last", as the relay), each batch deleted in one
// transaction, and, as the relay does, the next batch fetched while the
// current one is processed (here: deleted).
func dbOnly(ctx context.Context, d *db.DB, topics []string, workers, batch int) {
	const cols = "SELECT id, topic, message, key, partition_key, created_at FROM kafka_messages"
	fetch := func(t string, after int64) []int64 {
		var rows *sql.Rows
		var err error
		if after < 0 {
			rows, err = d.QueryContext(ctx, cols+" WHERE topic = $1 ORDER BY id LIMIT $2", t, batch)
		} else {
			rows, err = d.QueryContext(ctx, cols+" WHERE topic = $1 AND id > $2 ORDER BY id LIMIT $3", t, after, batch)
		}
		check(err)
		defer rows.Close()
		ids := make([]int64, 0, batch)
		for rows.Next() {
			var id int64
			var topic string
			var msg, key []byte
			var pk sql.NullString
			var ca any
			check(rows.Scan(&id, &topic, &msg, &key, &pk, &ca))
			ids = append(ids, id)
		}
		check(rows.Err())
		return ids
	}
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
				ids := fetch(t, -1)
				for len(ids) > 0 {
					var next chan []int64
					if len(ids) >= batch {
						next = make(chan []int64, 1)
						after := ids[len(ids)-1]
						go func() { next <- fetch(t, after) }()
					}
					// The relay's PostgreSQL delete: one statement, one id array.
					check(d.Tx(ctx, func(tx *sql.Tx) error {
						_, err := tx.ExecContext(ctx, "DELETE FROM kafka_messages WHERE topic = $1 AND id = ANY($2)", t, ids)
						return err
					}))
					if next == nil {
						break
					}
					ids = <-next
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
