// Command outbox-bench measures `deimos outbox run --once` on a throwaway
// PostgreSQL or MariaDB server, with the broker as a separate `deimos dev`
// process, beside two references measured in the same run:
//
//   - the floor: the database's own client reading the same rows out (psql
//     binary COPY; mariadb --quick) plus kcat producing the same number of
//     keyed messages of the same size to the same kind of broker;
//   - the bare drain: the relay's own SELECT and DELETE statements, run
//     alone with the same batch size and concurrency, no Kafka.
//
// For each row count (-n, a list) and worker count (-workers, a list) it
// prints each process's CPU time (user+sys) per million messages, the
// database's beside the bare drain's, the top statements by total time
// (pg_stat_statements; MariaDB's performance_schema), peak RSS, and the
// rates for information; then the load an idle daemon puts on the
// database. With -rounds R every measurement is repeated and the summary
// gives medians.
//
//	go run ./scripts/bench/outbox -bin ./bin/deimos -db mysql -n 100000,1000000
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
)

func main() {
	bin := flag.String("bin", "./bin/deimos", "deimos binary; a comma-separated list compares builds (each timed in every round)")
	dialect := flag.String("db", "postgres", "database: postgres, or mysql / mariadb (a throwaway MariaDB)")
	ns := flag.String("n", "100000", "rows: a comma-separated list of sizes, each measured in full (cost per message must not grow with N)")
	size := flag.Int("size", 1024, "message bytes")
	topics := flag.Int("topics", 8, "topics")
	workerList := flag.String("workers", "1,4", "relay workers (and bare-drain goroutines): a comma-separated list")
	batch := flag.Int("batch-size", 1000, "batch size")
	relayProf := flag.String("cpuprofile", "", "write the relay's CPU profile to FILE (first build, first round, first size, last worker count)")
	rounds := flag.Int("rounds", 1, "repeat every measurement this many times and print medians (a noisy machine)")
	idle := flag.Duration("idle", 20*time.Second, "how long to measure the idle daemon (0: skip)")
	top := flag.Int("top", 6, "statements to list per relay run (first round)")
	refs := flag.Bool("refs", true, "measure the floor and the bare drain (false: only the relay builds, to compare them in more rounds)")
	flag.Parse()

	sizes, workers := ints(*ns, "-n"), ints(*workerList, "-workers")
	bins := strings.Split(*bin, ",")
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
	if *dialect == "postgres" {
		_, err = d.ExecContext(ctx, "CREATE EXTENSION pg_stat_statements")
		check(err)
	}
	cols := "id, topic, message, " + d.Q("key") + ", partition_key, created_at"

	names := make([]string, *topics)
	for i := range names {
		names[i] = fmt.Sprintf("bench-%d", i)
	}
	fmt.Printf("outbox bench: %s rows of %d bytes over %d topics; workers %s; batch %d; %d round(s); %s; broker: a separate `deimos dev`\n",
		*ns, *size, *topics, *workerList, *batch, *rounds, version(ctx, d))
	fmt.Println("CPU is user+sys CPU-seconds per million messages (= µs per message); the database's is its server processes'.")
	fmt.Printf("load average at start: %s\n", loadavg())

	for si, n := range sizes {
		res := &results{}
		for r := 1; r <= *rounds; r++ {
			fmt.Printf("\n== N=%d, round %d\n", n, r)
			for wi, w := range workers {
				topN := 0
				if r == 1 {
					topN = *top
				}
				if *refs {
					fill(ctx, d, n, *size, names)
					if wi == 0 {
						analyze(ctx, d)
						copyFloor(srv, cols, n, res)
						kcatFloor(bins[0], n, *size, res)
					}
					drain(ctx, d, srv, names, w, *batch, n, topN, res)
				}
				for bi, b := range bins {
					fill(ctx, d, n, *size, names)
					prof := ""
					if r == 1 && si == 0 && bi == 0 && wi == len(workers)-1 {
						prof = *relayProf
					}
					relay(ctx, d, srv, b, label(bins, b), w, *batch, n, prof, topN, res)
				}
			}
			if si == 0 && *idle > 0 {
				for _, b := range bins {
					idleDaemon(ctx, d, srv, b, label(bins, b), slices.Max(workers), *idle, res)
				}
			}
		}
		res.print(n, *rounds, bins, workers)
		fmt.Printf("  load average now: %s\n", loadavg())
	}
}

func label(bins []string, b string) string {
	if len(bins) == 1 {
		return ""
	}
	return " [" + b + "]"
}

func ints(list, flagName string) []int {
	var out []int
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			log.Fatalf("%s %q: a comma-separated list of positive numbers", flagName, list)
		}
		out = append(out, v)
	}
	return out
}

func version(ctx context.Context, d *db.DB) string {
	var v string
	check(d.QueryRowContext(ctx, "SELECT version()").Scan(&v))
	if i := strings.IndexAny(v, ",-"); i > 0 && d.Dialect.Name() == "mysql" {
		return "MariaDB " + v[:i]
	}
	if f := strings.Fields(v); len(f) > 1 {
		return f[0] + " " + f[1]
	}
	return v
}

// server is the throwaway database: its URL, the CPU time its processes
// have used so far, its peak RSS, and how to stop it.
type server struct {
	url, dialect string
	cpu          func() time.Duration
	hwm          func() int64 // KiB; -1: no single figure
	faults       func() int64 // minor page faults so far (PostgreSQL; nil elsewhere)
	stop         func()
}

// faultCount is the database's minor page faults so far (0 when not known).
func (s server) faultCount() int64 {
	if s.faults == nil {
		return 0
	}
	return s.faults()
}

// faultText prints the database's page faults per row (PostgreSQL only).
func (s server) faultText(perRow float64) string {
	if s.faults == nil {
		return ""
	}
	return fmt.Sprintf(", database page faults %.2f per row", perRow)
}

// analyze readies a filled table for a measurement: statistics, and on
// PostgreSQL a CHECKPOINT, so that the fill's dirty pages (a gigabyte at
// N=1000000) are written now rather than by a spread checkpoint during the
// next measurement, whose database CPU it would inflate.
func analyze(ctx context.Context, d *db.DB) {
	qs := []string{"VACUUM ANALYZE kafka_messages", "CHECKPOINT"}
	if d.Dialect.Name() == "mysql" {
		qs = []string{"ANALYZE TABLE kafka_messages"}
	}
	for _, q := range qs {
		rows, err := d.QueryContext(ctx, q)
		check(err)
		rows.Close()
	}
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

// copyFloor: the database's own client reads the filled table out.
func copyFloor(srv server, cols string, n int, res *results) {
	quiesce(srv)
	client, database := copyOut(srv, cols)
	what := "psql COPY (FORMAT binary)"
	if srv.dialect == "mysql" {
		what = "mariadb --quick"
	}
	fmt.Printf("  floor: %-24s  client %5.1f  database %5.1f\n", what, perM(client, n), perM(database, n))
	res.add("floor: "+what, "client", perM(client, n))
	res.add("floor: "+what, "database", perM(database, n))
}

// kcatFloor: kcat produces the same number of keyed messages.
func kcatFloor(bin string, n, size int, res *results) {
	t0 := time.Now()
	client, broker, rss, brss := kcatProduce(bin, n, size)
	rate := float64(n) / time.Since(t0).Seconds()
	fmt.Printf("  floor: %-24s  client %5.1f  broker %5.1f  (%.0f msgs/s, peak RSS %.0f MiB, broker %.0f MiB)\n", "kcat -P", perM(client, n), perM(broker, n), rate, float64(rss)/1024, float64(brss)/1024)
	const l = "floor: kcat -P (same keyed messages)"
	res.add(l, "client", perM(client, n))
	res.add(l, "broker", perM(broker, n))
	res.add(l, "msgs/s", rate)
	res.add(l, "RSS MiB", float64(rss)/1024)
	res.add(l, "broker RSS", float64(brss)/1024)
}

// drain measures the bare drain of a filled table.
func drain(ctx context.Context, d *db.DB, srv server, topics []string, workers, batch, n, top int, res *results) {
	analyze(ctx, d)
	quiesce(srv)
	resetStmts(ctx, d)
	t0 := time.Now()
	busy := cpuBusy()
	self0, db0, f0 := selfCPU(), srv.cpu(), srv.faultCount()
	// A pool of its own, opened and closed in the measurement, as the
	// relay's: new backends map each shared buffer they touch anew (page
	// faults) and unmap them when they exit, which the bench's long-lived
	// pool, warm from the fill, would not pay.
	own, err := db.Open(ctx, srv.url)
	check(err)
	dbOnly(ctx, own, topics, workers, batch)
	check(own.Close())
	el := time.Since(t0)
	client, database := selfCPU()-self0, srv.cpu()-db0
	ss := readStmts(ctx, d)
	after := quiesce(srv) - db0
	faults := float64(srv.faultCount()-f0) / float64(n)
	rate := float64(n) / el.Seconds()
	l := fmt.Sprintf("bare drain, %d goroutine(s)", workers)
	fmt.Printf("  %-31s  client %5.1f  database %5.1f (%.1f with its work after)  %6.0f rows/s in %.1fs (machine busy %s), %.0f statements/s%s\n",
		l, perM(client, n), perM(database, n), perM(after, n), rate, el.Seconds(), busy(), float64(sumCalls(ss))/el.Seconds(), srv.faultText(faults))
	if top > 0 {
		printStmts(ss, n, top, srv.dialect)
	}
	res.add(l, "client", perM(client, n))
	res.add(l, "database", perM(database, n))
	res.add(l, "db+after", perM(after, n))
	res.add(l, "msgs/s", rate)
	res.add(l, "calls/M", float64(sumCalls(ss))*1e6/float64(n))
}

// broker starts `deimos dev` (broker only) and returns its address, pid and a stop func.
func broker(bin string) (string, int, func()) {
	cmd := exec.Command(bin, "dev", "--no-registry", "--kafka-port", "0", "--partitions", "6")
	out, err := cmd.StdoutPipe()
	check(err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
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
		log.Fatalf("deimos dev printed no broker address: %s", stderr.String())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return addr, cmd.Process.Pid, func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
}

// relay times `deimos outbox run --once` on a filled table against a fresh
// `deimos dev` broker.
func relay(ctx context.Context, d *db.DB, srv server, bin, lbl string, workers, batch, n int, relayProf string, top int, res *results) {
	analyze(ctx, d)
	quiesce(srv)
	resetStmts(ctx, d)
	addr, bpid, stopBroker := broker(bin)
	defer stopBroker()
	cmd := exec.Command(bin, "outbox", "run", "--once", "--db", srv.url, "-b", addr,
		"--workers", strconv.Itoa(workers), "--batch-size", strconv.Itoa(batch), "--log-level", "warn")
	if relayProf != "" {
		cmd.Args = append(cmd.Args, "--cpuprofile", relayProf)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	b0, db0, f0 := procCPU(bpid), srv.cpu(), srv.faultCount()
	t0 := time.Now()
	busy := cpuBusy()
	check(cmd.Start())
	peak := watchRSS(cmd.Process.Pid)
	err := cmd.Wait()
	rss := peak()
	if err != nil {
		log.Fatalf("deimos outbox run: %v\n%s", err, out.String())
	}
	el := time.Since(t0)
	bcpu, dcpu, brss := procCPU(bpid)-b0, srv.cpu()-db0, hwm(bpid)
	ss := readStmts(ctx, d)
	rcpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	rate := float64(n) / el.Seconds()
	after := quiesce(srv) - db0
	faults := float64(srv.faultCount()-f0) / float64(n)
	// Only now (not counted as the relay's): a count of the emptied table
	// reads every page of its dead rows (and prunes them).
	var left int
	check(d.QueryRowContext(ctx, "SELECT COUNT(*) FROM kafka_messages").Scan(&left))
	if left != 0 {
		log.Fatalf("%d rows were not relayed\n%s", left, out.String())
	}
	l := fmt.Sprintf("relay%s, %d worker(s)", lbl, workers)
	fmt.Printf("  %-31s  relay  %5.1f  database %5.1f (%.1f with its work after)  broker %5.1f  %6.0f msgs/s in %.1fs (machine busy %s), %.0f statements/s, peak RSS %.0f MiB (broker %.0f MiB)%s\n",
		l, perM(rcpu, n), perM(dcpu, n), perM(after, n), perM(bcpu, n), rate, el.Seconds(), busy(), float64(sumCalls(ss))/el.Seconds(), float64(rss)/1024, float64(brss)/1024, srv.faultText(faults))
	if s := strings.TrimSpace(out.String()); strings.Count(s, "\n") > 0 || !strings.HasPrefix(s, "processed") {
		fmt.Printf("    relay output: %s\n", s)
	}
	if top > 0 {
		printStmts(ss, n, top, srv.dialect)
	}
	res.add(l, "client", perM(rcpu, n))
	res.add(l, "database", perM(dcpu, n))
	res.add(l, "db+after", perM(after, n))
	res.add(l, "broker", perM(bcpu, n))
	res.add(l, "msgs/s", rate)
	res.add(l, "calls/M", float64(sumCalls(ss))*1e6/float64(n))
	res.add(l, "RSS MiB", float64(rss)/1024)
	res.add(l, "broker RSS", float64(brss)/1024)
}

// idleDaemon runs `deimos outbox run` (daemon mode) on the empty table and
// measures what it costs the database (and itself) over window, beside the
// database's own background work over the same length of time before.
func idleDaemon(ctx context.Context, d *db.DB, srv server, bin, lbl string, workers int, window time.Duration, res *results) {
	analyze(ctx, d) // no vacuum of the drained table left to do in the window
	quiesce(srv)
	db0 := srv.cpu()
	time.Sleep(window)
	alone := srv.cpu() - db0

	addr, bpid, stopBroker := broker(bin)
	defer stopBroker()
	cmd := exec.Command(bin, "outbox", "run", "--db", srv.url, "-b", addr, "--workers", strconv.Itoa(workers), "--log-level", "warn")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	check(cmd.Start())
	time.Sleep(3 * time.Second) // started, first passes done
	resetStmts(ctx, d)
	db0, r0, b0 := srv.cpu(), procCPU(cmd.Process.Pid), procCPU(bpid)
	time.Sleep(window)
	dcpu, rcpu, bcpu := srv.cpu()-db0, procCPU(cmd.Process.Pid)-r0, procCPU(bpid)-b0
	ss := readStmts(ctx, d)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		log.Fatalf("deimos outbox run (daemon): %v\n%s", err, out.String())
	}
	perMin := func(c time.Duration) float64 { return ms(c) * float64(time.Minute) / float64(window) }
	qps := float64(sumCalls(ss)) / window.Seconds()
	l := fmt.Sprintf("idle daemon%s, %d worker(s)", lbl, workers)
	fmt.Printf("  %-31s  %.1f statements/s; database %.0f ms CPU per minute (%.2f%% of one core; %.0f ms/min without the relay), relay %.0f ms/min, broker %.0f ms/min\n",
		l, qps, perMin(dcpu), perMin(dcpu)/600, perMin(alone), perMin(rcpu), perMin(bcpu))
	for i, s := range ss {
		if i == 4 {
			break
		}
		fmt.Printf("      %6.2f/s  %s\n", float64(s.calls)/window.Seconds(), spaces.ReplaceAllString(strings.TrimSpace(s.query), " "))
	}
	res.add(l, "stmts/s", qps)
	res.add(l, "db ms/min", perMin(dcpu))
	res.add(l, "db alone", perMin(alone))
	res.add(l, "relay ms/min", perMin(rcpu))
}

// results keeps every figure of every round, by row and column, in the
// order they were first added.
type results struct {
	rows []string
	cols []string
	v    map[string]map[string][]float64
}

func (r *results) add(row, col string, x float64) {
	if r.v == nil {
		r.v = map[string]map[string][]float64{}
	}
	if r.v[row] == nil {
		r.v[row] = map[string][]float64{}
		r.rows = append(r.rows, row)
	}
	if !slices.Contains(r.cols, col) {
		r.cols = append(r.cols, col)
	}
	r.v[row][col] = append(r.v[row][col], x)
}

func (r *results) med(row, col string) (float64, bool) {
	xs := r.v[row][col]
	return median(xs), len(xs) > 0
}

// print is the summary of one N: medians, and the database's CPU per
// message beside the bare drain's with the same concurrency.
func (r *results) print(n, rounds int, bins []string, workers []int) {
	fmt.Printf("\n== summary, N=%d (median of %d round(s)); CPU-s per million messages\n", n, rounds)
	var cols []string
	for _, c := range []string{"client", "broker", "database", "db+after", "msgs/s", "calls/M", "RSS MiB", "broker RSS"} {
		if slices.Contains(r.cols, c) {
			cols = append(cols, c)
		}
	}
	fmt.Printf("  %-38s", "")
	for _, c := range cols {
		fmt.Printf(" %9s", c)
	}
	fmt.Printf(" %9s\n", "db/bare")
	for _, row := range r.rows {
		if strings.HasPrefix(row, "idle") {
			continue
		}
		fmt.Printf("  %-38s", row)
		for _, c := range cols {
			if x, ok := r.med(row, c); ok {
				fmt.Printf(" %9.1f", x)
			} else {
				fmt.Printf(" %9s", "")
			}
		}
		if strings.HasPrefix(row, "relay") {
			w := strings.Fields(row[strings.LastIndexByte(row, ',')+1:])[0]
			bare, ok := r.med("bare drain, "+w+" goroutine(s)", "db+after")
			if x, _ := r.med(row, "db+after"); ok && bare > 0 {
				fmt.Printf(" %8.2f×", x/bare)
			}
		}
		fmt.Println()
	}
	for _, row := range r.rows {
		if !strings.HasPrefix(row, "idle") {
			continue
		}
		q, _ := r.med(row, "stmts/s")
		c, _ := r.med(row, "db ms/min")
		a, _ := r.med(row, "db alone")
		rc, _ := r.med(row, "relay ms/min")
		fmt.Printf("  %-38s %.1f statements/s, database %.0f ms CPU/min = %.2f%% of one core (%.0f ms/min without it), relay %.0f ms/min\n", row, q, c, c/600, a, rc)
	}
	fmt.Println("  client: the relay, kcat, psql/mariadb, or the bench's own drain; db/bare: the relay's database CPU over the bare drain's with as many goroutines,\n" +
		"  each with the database's work after it (the relay's backends exit with it; their CPU is counted once the postmaster has reaped them)")
}

// fill empties the table (TRUNCATE: a new, empty heap and index) and
// inserts n rows round-robin over the topics (so a topic's rows are
// spread over the table, as when an application writes several topics at
// once): the same random payload of size bytes, key and partition key
// i % 1000. Every measurement starts from the same table: refilling a
// drained table instead left the N deleted rows in place until the next
// VACUUM (a heap twice the size, an index with as many dead entries), and
// only the first measurement of a run (the 1-worker bare drain) started
// from a fresh one. The rows are generated by the server in chunks (INSERT ...
// SELECT over generate_series or MariaDB's sequence tables), which is far
// quicker than sending them; they are the rows outbox.Insert writes.
func fill(ctx context.Context, d *db.DB, n, size int, topics []string) {
	t0 := time.Now()
	_, err := d.ExecContext(ctx, "TRUNCATE TABLE kafka_messages")
	check(err)
	payload := make([]byte, size)
	_, _ = rand.Read(payload)
	const chunk = 50000
	for start := 0; start < n; start += chunk {
		end := min(start+chunk, n) - 1
		var err error
		if d.Dialect.Name() == "postgres" {
			_, err = d.ExecContext(ctx, `INSERT INTO kafka_messages (topic, message, key, partition_key, created_at, updated_at)
				SELECT 'bench-' || (i % $2), $1::bytea, convert_to((i % 1000)::text, 'UTF8'), (i % 1000)::text,
				       now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
				FROM generate_series($3::bigint, $4::bigint) i ORDER BY i`, payload, len(topics), start, end)
		} else {
			_, err = d.ExecContext(ctx, fmt.Sprintf("INSERT INTO kafka_messages (topic, message, `key`, partition_key, created_at, updated_at) "+
				"SELECT CONCAT('bench-', seq %% ?), ?, CAST(seq %% 1000 AS CHAR), CAST(seq %% 1000 AS CHAR), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) "+
				"FROM seq_%d_to_%d ORDER BY seq", start, end), len(topics), payload)
		}
		check(err)
	}
	fmt.Printf("  fill: %.0f rows/s\n", float64(n)/time.Since(t0).Seconds())
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// startMariaDB runs the tests' throwaway MariaDB (durability off) with a
// buffer pool that holds the table and the performance schema on (for the
// statement digests).
func startMariaDB() server {
	m, err := testenv.StartMariaDB("--innodb-buffer-pool-size=2G", "--innodb-log-file-size=512M", "--performance-schema=ON")
	check(err)
	admin, err := db.Open(context.Background(), m.URL("mysql"))
	check(err)
	_, err = admin.Exec("CREATE DATABASE bench")
	check(err)
	admin.Close()
	return server{url: m.URL("bench"), dialect: "mysql", cpu: func() time.Duration { return procCPU(m.Pid()) }, hwm: func() int64 { return hwm(m.Pid()) }, stop: m.Stop}
}
