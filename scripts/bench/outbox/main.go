// Command outbox-bench measures `deimos outbox run --once` beside the
// database-only drain of the same rows with the same statements (no Kafka),
// in the same run, on a throwaway PostgreSQL or MariaDB server, with the
// broker as a separate `deimos dev` process. It prints the rates, their
// ratio, each process's CPU time (user+sys) per message and peak RSS.
//
//	go run ./scripts/bench/outbox -bin ./bin/deimos -db mysql -n 1000000
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
	"github.com/deimos-cli/deimos/pkg/outbox"
)

func main() {
	bin := flag.String("bin", "./bin/deimos", "deimos binary; a comma-separated list compares builds (each timed in every round)")
	dialect := flag.String("db", "postgres", "database: postgres, or mysql / mariadb (a throwaway MariaDB)")
	n := flag.Int("n", 1000000, "rows")
	size := flag.Int("size", 1024, "message bytes")
	topics := flag.Int("topics", 8, "topics")
	workers := flag.Int("workers", 4, "relay workers (and DB-only drain goroutines)")
	batch := flag.Int("batch-size", 1000, "batch size")
	relayProf := flag.String("cpuprofile", "", "write the relay's CPU profile to FILE (hidden --cpuprofile of outbox run)")
	rounds := flag.Int("rounds", 1, "repeat DB-only + relay this many times and print medians (a noisy machine)")
	flag.Parse()

	var srv server
	switch *dialect {
	case "postgres":
		srv = startPG()
	case "mysql", "mariadb":
		*dialect = "mysql"
		srv = startMariaDB()
	default:
		log.Fatalf("-db %q: use postgres or mysql (mariadb)", *dialect)
	}
	defer srv.stop()
	ctx := context.Background()
	d, err := db.Open(ctx, srv.url)
	check(err)
	defer d.Close()
	_, err = migrate.Up(ctx, d, []string{"outbox", "deadletter"})
	check(err)
	var version string
	check(d.QueryRowContext(ctx, "SELECT version()").Scan(&version))
	if i := strings.IndexAny(version, ",-"); i > 0 && *dialect == "mysql" {
		version = "MariaDB " + version[:i]
	} else if f := strings.Fields(version); len(f) > 1 {
		version = f[0] + " " + f[1]
	}

	names := make([]string, *topics)
	for i := range names {
		names[i] = fmt.Sprintf("bench-%d", i)
	}
	bins := strings.Split(*bin, ",")
	fmt.Printf("outbox bench: %d rows of %d bytes over %d topics, %d workers, batch %d, %d round(s); %s; broker: a separate `deimos dev`\n",
		*n, *size, *topics, *workers, *batch, *rounds, version)
	var dbRates []float64
	rates, ratios := make([][]float64, len(bins)), make([][]float64, len(bins))
	for r := 1; r <= *rounds; r++ {
		if *rounds > 1 {
			fmt.Printf(" round %d\n", r)
		}
		t0 := time.Now()
		fill(ctx, d, *n, *size, names)
		fmt.Printf("  insert (outbox.Insert):   %8.0f rows/s\n", float64(*n)/time.Since(t0).Seconds())
		analyze(ctx, d)
		quiesce(srv)

		t0 = time.Now()
		busy := cpuBusy()
		self0, db0 := selfCPU(), srv.cpu()
		dbOnly(ctx, d, names, *workers, *batch)
		el := time.Since(t0)
		drainCPU, dbCPU := selfCPU()-self0, srv.cpu()-db0
		dbRate := float64(*n) / el.Seconds()
		fmt.Printf("  DB-only drain:            %8.0f rows/s in %.1fs (the relay's SELECT + DELETE, no Kafka; machine CPU busy %s)\n", dbRate, el.Seconds(), busy())
		after := quiesce(srv) - db0
		fmt.Printf("    CPU per row:            drain %.1f µs, database %.1f µs (%.1f µs with its work after the drain, e.g. purge)\n", perMsg(drainCPU, *n), perMsg(dbCPU, *n), perMsg(after, *n))
		dbRates = append(dbRates, dbRate)

		for i, b := range bins {
			fill(ctx, d, *n, *size, names)
			analyze(ctx, d)
			quiesce(srv)
			prof := ""
			if r == 1 && i == 0 {
				prof = *relayProf
			}
			if len(bins) > 1 {
				fmt.Printf("  [%s]\n", b)
			}
			rate := relay(ctx, d, srv, b, *workers, *batch, *n, prof)
			fmt.Printf("  ratio relay / DB-only:    %8.2f\n", rate/dbRate)
			rates[i], ratios[i] = append(rates[i], rate), append(ratios[i], rate/dbRate)
		}
	}
	if *rounds > 1 {
		for i, b := range bins {
			fmt.Printf(" median of %d rounds [%s]: DB-only %.0f rows/s, relay %.0f msgs/s, ratio %.2f (ratios %s)\n",
				*rounds, b, median(dbRates), median(rates[i]), median(ratios[i]), fmtList(ratios[i]))
		}
	}
}

// server is the throwaway database: its URL, the CPU time its processes
// have used so far, its peak RSS, and how to stop it.
type server struct {
	url  string
	cpu  func() time.Duration
	hwm  func() int64 // KiB
	stop func()
}

func analyze(ctx context.Context, d *db.DB) {
	q := "VACUUM ANALYZE kafka_messages"
	if d.Dialect.Name() == "mysql" {
		q = "ANALYZE TABLE kafka_messages"
	}
	rows, err := d.QueryContext(ctx, q)
	check(err)
	rows.Close()
}

// quiesce waits until the database has been idle (under 10 ms of CPU in
// 0.5 s) for at most a minute, so that work left over from filling the
// table (page flushing, purge) is not counted in the next measurement, and
// returns the database's CPU time then.
func quiesce(srv server) time.Duration {
	deadline := time.Now().Add(time.Minute)
	last := srv.cpu()
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		c := srv.cpu()
		if c-last < 10*time.Millisecond {
			return c
		}
		last = c
	}
	return last
}

func perMsg(cpu time.Duration, n int) float64 { return float64(cpu.Microseconds()) / float64(n) }

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
		return fmt.Sprintf("%.0f%% of %d cores", 100*(b1-b0)/(t1-t0), nproc())
	}
}

func nproc() int {
	b, _ := os.ReadFile("/proc/stat")
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "cpu") && len(l) > 3 && l[3] >= '0' && l[3] <= '9' {
			n++
		}
	}
	return n
}

// procStat reads a process's utime, stime, cutime and cstime (clock ticks)
// and its parent pid from /proc/PID/stat.
func procStat(pid int) (ticks [4]int64, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ticks, 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 (state) on
	ppid, _ = strconv.Atoi(f[1])
	for i := range ticks {
		ticks[i], _ = strconv.ParseInt(f[11+i], 10, 64) // fields 14-17
	}
	return ticks, ppid, true
}

// clkTck is the kernel's USER_HZ, 100 on Linux.
const clkTck = 100

func ticksToDur(t int64) time.Duration { return time.Duration(t) * time.Second / clkTck }

// procCPU is the user+sys time of pid's threads.
func procCPU(pid int) time.Duration {
	t, _, _ := procStat(pid)
	return ticksToDur(t[0] + t[1])
}

// treeCPU is the user+sys time of pid, its reaped children, and its live
// children (PostgreSQL: the postmaster and one backend per connection).
func treeCPU(pid int) time.Duration {
	t, _, _ := procStat(pid)
	total := t[0] + t[1] + t[2] + t[3]
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil || c == pid {
			continue
		}
		if ct, pp, ok := procStat(c); ok && pp == pid {
			total += ct[0] + ct[1]
		}
	}
	return ticksToDur(total)
}

// hwm is a process's peak RSS (VmHWM) in KiB.
func hwm(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb
		}
	}
	return 0
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// broker starts `deimos dev` (broker only) and returns its address, pid and a stop func.
func broker(bin string) (string, int, func()) {
	cmd := exec.Command(bin, "dev", "--no-registry", "--kafka-port", "0", "--partitions", "6")
	out, err := cmd.StdoutPipe()
	check(err)
	cmd.Stderr = os.Stderr
	check(cmd.Start())
	sc := bufio.NewScanner(out)
	addr := ""
	for addr == "" && sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "export DEIMOS_BROKERS="); ok {
			addr = a
		}
	}
	if addr == "" {
		_ = cmd.Process.Kill()
		log.Fatalf("deimos dev printed no broker address")
	}
	go func() { _, _ = bufio.NewReader(out).WriteTo(os.Stdout) }()
	return addr, cmd.Process.Pid, func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
}

// relay times `deimos outbox run --once` against a fresh `deimos dev`
// broker and returns msgs/s.
func relay(ctx context.Context, d *db.DB, srv server, bin string, workers, batch, n int, relayProf string) float64 {
	addr, bpid, stopBroker := broker(bin)
	defer stopBroker()
	cmd := exec.Command(bin, "outbox", "run", "--once", "--db", srv.url, "-b", addr,
		"--workers", strconv.Itoa(workers), "--batch-size", strconv.Itoa(batch), "--log-level", "warn")
	if relayProf != "" {
		cmd.Args = append(cmd.Args, "--cpuprofile", relayProf)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	b0, db0 := procCPU(bpid), srv.cpu()
	t0 := time.Now()
	busy := cpuBusy()
	check(cmd.Start())
	// Peak RSS: VmHWM of the child's own address space, polled (rusage's
	// maxrss can include this process's memory at fork time).
	var peak int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			peak = max(peak, hwm(cmd.Process.Pid))
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	wg.Wait()
	if err != nil {
		log.Fatalf("deimos outbox run: %v\n%s", err, out.String())
	}
	el := time.Since(t0)
	bcpu, dcpu := procCPU(bpid)-b0, srv.cpu()-db0
	rcpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	rate := float64(n) / el.Seconds()
	var left int
	check(d.QueryRowContext(ctx, "SELECT COUNT(*) FROM kafka_messages").Scan(&left))
	fmt.Printf("  deimos outbox run --once: %8.0f msgs/s in %.1fs (%d rows left; machine CPU busy %s)\n", rate, el.Seconds(), left, busy())
	after := quiesce(srv) - db0
	fmt.Printf("    CPU per message:        relay %.1f µs, broker %.1f µs, database %.1f µs (%.1f µs with its work after the run) (relay %.1fs, broker %.1fs, database %.1fs)\n",
		perMsg(rcpu, n), perMsg(bcpu, n), perMsg(dcpu, n), perMsg(after, n), rcpu.Seconds(), bcpu.Seconds(), dcpu.Seconds())
	dbRSS := "n/a (a process per connection)"
	if h := srv.hwm(); h >= 0 {
		dbRSS = fmt.Sprintf("%.1f MiB", float64(h)/1024)
	}
	fmt.Printf("    peak RSS:               relay %.1f MiB, broker %.1f MiB, database %s\n", float64(peak)/1024, float64(hwm(bpid))/1024, dbRSS)
	fmt.Printf("    relay output: %s", out.String())
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

// mysqlDeleteChunk is the relay's ids per DELETE on MySQL (pkg/outbox);
// on PostgreSQL it deletes a batch with one id array.
const mysqlDeleteChunk = 5000

// dbOnly drains the table with the relay's statements and no Kafka: one
// topic per goroutine at a time, batches in id order (the first SELECT plain,
// later ones "AND id > last", as the relay), each batch deleted in one
// transaction, and, as the relay does, the next batch fetched while the
// current one is processed (here: deleted).
func dbOnly(ctx context.Context, d *db.DB, topics []string, workers, batch int) {
	cols := "SELECT id, topic, message, " + d.Q("key") + ", partition_key, created_at FROM kafka_messages"
	first := d.Rebind(cols + " WHERE topic = ? ORDER BY id LIMIT ?")
	next := d.Rebind(cols + " WHERE topic = ? AND id > ? ORDER BY id LIMIT ?")
	fetch := func(t string, after int64) []int64 {
		var rows *sql.Rows
		var err error
		if after < 0 {
			rows, err = d.QueryContext(ctx, first, t, batch)
		} else {
			rows, err = d.QueryContext(ctx, next, t, after, batch)
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
	del := func(tx *sql.Tx, t string, ids []int64) error {
		if d.Dialect.Name() == "postgres" {
			_, err := tx.ExecContext(ctx, "DELETE FROM kafka_messages WHERE topic = $1 AND id = ANY($2)", t, ids)
			return err
		}
		for start := 0; start < len(ids); start += mysqlDeleteChunk {
			part := ids[start:min(start+mysqlDeleteChunk, len(ids))]
			args := []any{t}
			for _, id := range part {
				args = append(args, id)
			}
			q := "DELETE FROM kafka_messages WHERE topic = ? AND id IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(part)), ", ") + ")"
			if _, err := tx.ExecContext(ctx, d.Rebind(q), args...); err != nil {
				return err
			}
		}
		return nil
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
					var nextc chan []int64
					if len(ids) >= batch {
						nextc = make(chan []int64, 1)
						after := ids[len(ids)-1]
						go func() { nextc <- fetch(t, after) }()
					}
					check(d.Tx(ctx, func(tx *sql.Tx) error { return del(tx, t, ids) }))
					if nextc == nil {
						break
					}
					ids = <-nextc
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

// startMariaDB runs the tests' throwaway MariaDB (durability off) with a
// buffer pool that holds the table.
func startMariaDB() server {
	m, err := testenv.StartMariaDB("--innodb-buffer-pool-size=2G", "--innodb-log-file-size=512M")
	check(err)
	admin, err := db.Open(context.Background(), m.URL("mysql"))
	check(err)
	_, err = admin.Exec("CREATE DATABASE bench")
	check(err)
	admin.Close()
	return server{url: m.URL("bench"), cpu: func() time.Duration { return procCPU(m.Pid()) }, hwm: func() int64 { return hwm(m.Pid()) }, stop: m.Stop}
}
