package start_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
)

// Tables of the pipeline the tests run: widgets → poller → Kafka →
// WidgetSink → widget_copies, and kafka_messages → outbox relay → Kafka
// → OrderSink → order_copies.
var pipelineSQL = []string{
	`CREATE TABLE widgets (id BIGINT PRIMARY KEY, name TEXT, updated_at TIMESTAMP NOT NULL)`,
	`CREATE TABLE widget_copies (id BIGINT PRIMARY KEY, name TEXT)`,
	`CREATE TABLE order_copies (id BIGINT PRIMARY KEY, total BIGINT)`,
}

const pipelineConfig = `topics:
  - {name: widgets, key_config: {field: id}}
  - {name: orders, key_config: {field: id}}
outbox: {batch_size: 50}
pollers:
  - {name: WidgetPoller, table: widgets, topic: widgets, delay: 0, run_every: 200ms}
consumers:
  - {name: WidgetSink, topics: [widgets], group: g-widgets, sink: "table:widget_copies"}
  - {name: OrderSink, topics: [orders], group: g-orders, sink: "table:order_copies"}
`

// pipelineSQLOn is pipelineSQL in the dialect's types: Rails's datetime
// is DATETIME on MySQL (whole seconds, Rails 5 and 6).
func pipelineSQLOn(dialect string) []string {
	if dialect != "mysql" {
		return pipelineSQL
	}
	return []string{
		`CREATE TABLE widgets (id BIGINT PRIMARY KEY, name TEXT, updated_at DATETIME NOT NULL)`,
		`CREATE TABLE widget_copies (id BIGINT PRIMARY KEY, name TEXT)`,
		`CREATE TABLE order_copies (id BIGINT PRIMARY KEY, total BIGINT)`,
	}
}

func (e *env) widgets(from, n int) {
	e.t.Helper()
	if e.dialect == "mysql" {
		for i := from; i < from+n; i++ {
			e.exec("INSERT INTO widgets VALUES (?, CONCAT('w', ?), UTC_TIMESTAMP() - INTERVAL 1 MINUTE)", i, i)
		}
		return
	}
	e.exec(`INSERT INTO widgets SELECT i, 'w' || i, (now() AT TIME ZONE 'UTC') - interval '1 minute' FROM generate_series($1::bigint, $2::bigint) i`, from, from+n-1)
}

// `deimos start` runs two consumers, a poller and the outbox relay in one
// process; one server exposes every job's metrics (labelled deimos_job),
// /readyz turns 200 once all have started, /status lists them; SIGTERM
// stops them all with exit 0. On PostgreSQL and MySQL/MariaDB.
func TestStartRunsEveryJob(t *testing.T) { servers(t, testStartRunsEveryJob) }

func testStartRunsEveryJob(t *testing.T, dialect string) {
	e := newEnvOn(t, dialect, pipelineSQLOn(dialect), pipelineConfig)
	e.widgets(1, 30)
	e.outboxRows("orders", 1, 40)
	p := e.start(nil, "start", "--http-addr", "127.0.0.1:0", "--lag-interval", "200ms").serving()
	waitFor(t, "/readyz 200", 30*time.Second, func() bool { c, _ := p.get("/readyz"); return c == 200 })
	waitFor(t, "every row copied by the two consumers", 30*time.Second, func() bool {
		return e.count("SELECT COUNT(*) FROM widget_copies") == 30 && e.count("SELECT COUNT(*) FROM order_copies") == 40
	})
	if n := e.count("SELECT COUNT(*) FROM kafka_messages"); n != 0 {
		t.Errorf("%d outbox rows left", n)
	}
	st := p.status()
	kinds := map[string]string{}
	for _, j := range st.Jobs {
		kinds[j.Name] = j.Kind
		if j.State != "running" && j.State != "idle" {
			t.Errorf("job %s is %s (%s)", j.Name, j.State, j.LastError)
		}
	}
	want := map[string]string{"WidgetSink": "consumer", "OrderSink": "consumer", "WidgetPoller": "poller", "outbox": "outbox"}
	if fmt.Sprint(kinds) != fmt.Sprint(want) || !st.Healthy {
		t.Fatalf("/status jobs %v healthy %v, want %v", kinds, st.Healthy, want)
	}
	// the lag reporter catches up: every partition at 0
	waitFor(t, "consumer lag 0 in /status and /metrics", 20*time.Second, func() bool {
		j := p.job("OrderSink")
		_, body := p.get("/metrics")
		for _, series := range []string{
			`deimos_consumer_lag{deimos_job="OrderSink",group="g-orders",partition="0",topic="orders"}`,
			`deimos_consumer_lag{deimos_job="OrderSink",group="g-orders",partition="1",topic="orders"}`,
			`deimos_consumer_lag{deimos_job="WidgetSink",group="g-widgets",partition="0",topic="widgets"}`,
			`deimos_consumer_lag{deimos_job="WidgetSink",group="g-widgets",partition="1",topic="widgets"}`,
		} {
			if v, ok := metric(body, series); !ok || v != "0" {
				return false
			}
		}
		return j.Lag != nil && *j.Lag == 0 && j.LagUnit == "messages"
	})
	for _, name := range []string{"outbox", "WidgetPoller"} {
		if j := p.job(name); j.Lag == nil || j.LagUnit != "seconds" {
			t.Errorf("/status has no lag in seconds for %s: %+v", name, j)
		}
	}
	code, body := p.get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics %d", code)
	}
	for _, series := range []string{
		`deimos_poller_rows_published_total{deimos_job="WidgetPoller",poller="WidgetPoller"} 30`,
		`outbox_published_total{deimos_job="outbox",topic="orders"} 40`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	if code, body := p.get("/healthz"); code != 200 {
		t.Errorf("/healthz %d %s", code, body)
	}
	if code := p.stop(); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, p.stderr)
	}
}

// SIGTERM while a consumer is in the middle of a batch (its upsert waits
// on a lock the test holds): the batch is finished and committed once the
// lock goes, deimos exits 0, and a restart delivers the rest: nothing is
// lost, and what is committed is written. On PostgreSQL and MySQL/MariaDB.
func TestStartSIGTERMMidBatchLosesNothing(t *testing.T) { servers(t, testStartSIGTERMMidBatch) }

func testStartSIGTERMMidBatch(t *testing.T, dialect string) {
	e := newEnvOn(t, dialect, pipelineSQLOn(dialect), pipelineConfig)
	const n = 400
	e.outboxRows("orders", 1, n)
	lock := e.lockTable("order_copies")
	p := e.start(nil, "start", "--only", "consumers,outbox", "--http-addr", "127.0.0.1:0").serving()
	waitFor(t, "the consumer blocked mid-batch on the test's lock", 30*time.Second, e.waitingOnLock)
	_ = p.cmd.Process.Signal(sigterm)
	waitFor(t, "the stop request logged", 10*time.Second, func() bool {
		return strings.Contains(p.stderr.String(), "stop requested")
	})
	if p.exited() {
		t.Fatalf("deimos exited while its batch was still blocked:\n%s", p.stderr)
	}
	lock.release()
	if code := p.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, p.stderr)
	}
	copied := e.count("SELECT COUNT(*) FROM order_copies")
	if committed := committedOffsets(t, e.brokers, "g-orders"); committed != int64(copied) || copied == 0 {
		t.Fatalf("committed offsets sum to %d, table holds %d rows: the batch in flight was not finished and committed", committed, copied)
	}
	p2 := e.start(nil, "start", "--only", "consumers,outbox", "--http-addr", "127.0.0.1:0").serving()
	waitFor(t, "every order copied after the restart", 30*time.Second, func() bool {
		return e.count("SELECT COUNT(*) FROM order_copies") == n && e.count("SELECT COUNT(*) FROM kafka_messages") == 0
	})
	if got := e.count("SELECT COUNT(*) FROM order_copies WHERE total = id * 10"); got != n {
		t.Fatalf("%d of %d rows hold their values", got, n)
	}
	if code := p2.stop(); code != 0 {
		t.Fatalf("second stop: exit %d", code)
	}
	t.Logf("first run copied %d of %d rows before SIGTERM", copied, n)
}

// committedOffsets sums a group's committed offsets.
func committedOffsets(t *testing.T, brokers []string, group string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
	return sum
}

// A job that fails (its sink table does not exist yet) is restarted with
// back-off, logged with its name, while the others run; /readyz is 503
// naming it; once the table exists it starts and catches up. On
// PostgreSQL and MySQL/MariaDB.
func TestStartRestartsAFailingJob(t *testing.T) { servers(t, testStartRestartsAFailingJob) }

func testStartRestartsAFailingJob(t *testing.T, dialect string) {
	e := newEnvOn(t, dialect, pipelineSQLOn(dialect), pipelineConfig+`  - {name: LateSink, topics: [orders], group: g-late, sink: "table:late_copies"}
`)
	e.outboxRows("orders", 1, 20)
	p := e.start(nil, "start", "--http-addr", "127.0.0.1:0", "--restart-backoff", "100ms", "--restart-backoff-max", "400ms").serving()
	waitFor(t, "LateSink failed twice", 30*time.Second, func() bool { return p.job("LateSink").Restarts >= 2 })
	j := p.job("LateSink")
	if !strings.Contains(j.LastError, "late_copies") {
		t.Errorf("last error %q does not name the table", j.LastError)
	}
	log := p.stderr.String()
	if !strings.Contains(log, "job failed; restarting after back-off") || !strings.Contains(log, "job=LateSink") {
		t.Errorf("restarts not logged with the job's name:\n%s", log)
	}
	if code, body := p.get("/readyz"); code != 503 || !strings.Contains(body, "job LateSink") {
		t.Errorf("/readyz with a job down: %d %s", code, body)
	}
	waitFor(t, "the other consumer working meanwhile", 30*time.Second, func() bool { return e.count("SELECT COUNT(*) FROM order_copies") == 20 })
	e.exec(`CREATE TABLE late_copies (id BIGINT PRIMARY KEY, total BIGINT)`)
	waitFor(t, "LateSink running and caught up", 30*time.Second, func() bool {
		return e.count("SELECT COUNT(*) FROM late_copies") == 20
	})
	waitFor(t, "/readyz 200", 30*time.Second, func() bool { c, _ := p.get("/readyz"); return c == 200 })
	if code := p.stop(); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
}

// The process never exits 0 while a job it was asked to run is dead: a
// stop during a job's back-off exits non-zero naming it; --fail-fast
// exits at the first failure.
func TestStartNeverExitsZeroWithADeadJob(t *testing.T) {
	e := newEnv(t, pipelineSQL, pipelineConfig+`  - {name: LateSink, topics: [orders], group: g-late, sink: "table:late_copies"}
`)
	p := e.start(nil, "start", "--http-addr", "127.0.0.1:0", "--restart-backoff", "50ms").serving()
	waitFor(t, "LateSink restarted", 30*time.Second, func() bool { return p.job("LateSink").Restarts >= 1 })
	if code := p.stop(); code == 0 || !strings.Contains(p.stderr.String(), "job LateSink was down when the process stopped") {
		t.Fatalf("stop with a dead job: exit %d\n%s", code, p.stderr)
	}
	ff := e.start(nil, "start", "--http-addr", "127.0.0.1:0", "--fail-fast")
	if code := ff.wait(time.Minute); code == 0 || !strings.Contains(ff.stderr.String(), "deimos: job LateSink:") {
		t.Fatalf("--fail-fast: exit %d\n%s", code, ff.stderr)
	}
	if !strings.Contains(ff.stderr.String(), "late_copies") {
		t.Errorf("--fail-fast error does not say why:\n%s", ff.stderr)
	}
}

// /healthz turns 503 when a job is wedged (busy on a lock the test holds,
// no progress for --wedged-after) and 200 again once it moves. On
// PostgreSQL and MySQL/MariaDB.
func TestStartHealthzWedged(t *testing.T) { servers(t, testStartHealthzWedged) }

func testStartHealthzWedged(t *testing.T, dialect string) {
	e := newEnvOn(t, dialect, pipelineSQLOn(dialect), pipelineConfig)
	p := e.start(nil, "start", "--only", "consumers,outbox", "--http-addr", "127.0.0.1:0", "--wedged-after", "1s").serving()
	waitFor(t, "/readyz 200", 30*time.Second, func() bool { c, _ := p.get("/readyz"); return c == 200 })
	if c, _ := p.get("/healthz"); c != 200 {
		t.Fatalf("/healthz %d before the lock", c)
	}
	lock := e.lockTable("order_copies")
	e.outboxRows("orders", 1, 10)
	waitFor(t, "/healthz 503 naming the wedged job", 30*time.Second, func() bool {
		c, body := p.get("/healthz")
		return c == 503 && strings.Contains(body, "job OrderSink is wedged")
	})
	if !p.job("OrderSink").Wedged {
		t.Error("/status does not say wedged")
	}
	// Nothing committed while wedged: the lag the job exports is every
	// message, from the end offsets kcat reads.
	ends := testenv.KcatEnds(t, e.brokers[0], "orders", 3) // auto-created: 3 partitions
	var body string
	defer func() {
		if t.Failed() {
			t.Logf("ends %v; metrics:\n%s", ends, body)
		}
	}()
	waitFor(t, "deimos_consumer_lag = kcat's end offsets while nothing is committed", 20*time.Second, func() bool {
		_, body = p.get("/metrics")
		for part, end := range ends {
			v, ok := metric(body, fmt.Sprintf(`deimos_consumer_lag{deimos_job="OrderSink",group="g-orders",partition="%d",topic="orders"}`, part))
			if !ok || v != fmt.Sprint(end) {
				return false
			}
		}
		return ends[0]+ends[1]+ends[2] == 10
	})
	if p.job("WidgetSink").Wedged {
		t.Error("an idle consumer counts as wedged")
	}
	lock.release()
	waitFor(t, "/healthz 200 after the lock is released", 30*time.Second, func() bool { c, _ := p.get("/healthz"); return c == 200 })
	if n := e.count("SELECT COUNT(*) FROM order_copies"); n != 10 {
		t.Errorf("%d rows copied", n)
	}
	if code := p.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// /readyz is 503 naming the database while it refuses connections, 200
// again when it is back. PostgreSQL: the database stops allowing
// connections; MySQL/MariaDB: the jobs' own user is locked (ACCOUNT LOCK).
// Either way the jobs' open connections are ended too.
func TestStartReadyzDatabaseDown(t *testing.T) { servers(t, testStartReadyzDatabaseDown) }

func testStartReadyzDatabaseDown(t *testing.T, dialect string) {
	e := newEnvOn(t, dialect, pipelineSQLOn(dialect), pipelineConfig)
	down, up := refuseConnections(t, e)
	p := e.start(nil, "start", "--only", "outbox", "--http-addr", "127.0.0.1:0", "--restart-backoff", "100ms").serving()
	waitFor(t, "/readyz 200", 30*time.Second, func() bool { c, _ := p.get("/readyz"); return c == 200 })
	down()
	waitFor(t, "/readyz 503 naming the database", 30*time.Second, func() bool {
		c, body := p.get("/readyz")
		return c == 503 && strings.Contains(body, "database")
	})
	up()
	waitFor(t, "/readyz 200 once the database is back", 60*time.Second, func() bool { c, _ := p.get("/readyz"); return c == 200 })
	if code := p.stop(); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
}

// refuseConnections returns functions that make the database refuse the
// jobs' connections (ending those open) and accept them again. On MySQL
// the jobs connect as a user of their own (the config is rewritten), and
// that user is locked.
func refuseConnections(t *testing.T, e *env) (down, up func()) {
	t.Helper()
	must := func(d *sql.DB, q string) {
		t.Helper()
		if _, err := d.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if e.dialect == "mysql" {
		userURL := testenv.MariaDBUser(t, e.url, "jobs-pw")
		u, err := neturl.Parse(userURL)
		if err != nil {
			t.Fatal(err)
		}
		e.writeConfig(userURL)
		user := u.User.Username()
		admin, err := db.Open(context.Background(), testenv.MariaDBAdminURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Close() })
		account := "'" + user + "'@'127.0.0.1'"
		t.Cleanup(func() { _, _ = admin.Exec("ALTER USER " + account + " ACCOUNT UNLOCK") })
		down = func() {
			must(admin.DB, "ALTER USER "+account+" ACCOUNT LOCK")
			rows, err := admin.Query("SELECT id FROM information_schema.processlist WHERE user = ?", user)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			rows.Close()
			for _, id := range ids {
				_, _ = admin.Exec(fmt.Sprintf("KILL CONNECTION %d", id)) // it may have closed meanwhile
			}
		}
		return down, func() { must(admin.DB, "ALTER USER "+account+" ACCOUNT UNLOCK") }
	}
	admin := adminDB(t)
	var name string
	if err := e.d.QueryRow("SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("ALTER DATABASE " + name + " WITH ALLOW_CONNECTIONS true") })
	down = func() {
		must(admin, "ALTER DATABASE "+name+" WITH ALLOW_CONNECTIONS false")
		must(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"+name+"'")
	}
	return down, func() { must(admin, "ALTER DATABASE "+name+" WITH ALLOW_CONNECTIONS true") }
}

// --list prints what would run (text or JSON), filtered by --only and
// names; bad selections are usage errors.
func TestStartList(t *testing.T) {
	e := newEnv(t, nil, pipelineConfig)
	run := func(args ...string) testenv.Result {
		return testenv.Run(t, e.dir, []string{"DEIMOS_CONFIG="}, "", append([]string{"--config", e.cfg, "start"}, args...)...)
	}
	out := run("--list").OK(t, "start --list")
	for _, want := range []string{"WidgetSink", "consumer", "widgets → table:widget_copies (group g-widgets)", "WidgetPoller", "poller", "outbox", "kafka_messages → Kafka"} {
		if !strings.Contains(out, want) {
			t.Errorf("--list lacks %q:\n%s", want, out)
		}
	}
	var jobs []struct{ Name, Kind string }
	if err := json.Unmarshal([]byte(run("--list", "-o", "json", "--only", "pollers,outbox").OK(t, "list json")), &jobs); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(jobs) != "[{WidgetPoller poller} {outbox outbox}]" {
		t.Errorf("--only pollers,outbox: %v", jobs)
	}
	if out := run("--list", "OrderSink").OK(t, "by name"); strings.Contains(out, "WidgetSink") || !strings.Contains(out, "OrderSink") {
		t.Errorf("by name:\n%s", out)
	}
	for _, bad := range [][]string{{"Nope"}, {"--only", "pollers", "OrderSink"}, {"--only", "cron"}} {
		r := run(append([]string{"--list"}, bad...)...)
		if r.Code != 2 {
			t.Errorf("%v: exit %d %s", bad, r.Code, r.Stderr)
		}
	}
	empty := newEnv(t, nil, "")
	r := testenv.Run(t, empty.dir, []string{"DEIMOS_CONFIG="}, "", "--config", empty.cfg, "start")
	if r.Code != 2 || !strings.Contains(r.Stderr, "nothing to run") {
		t.Errorf("empty config: exit %d %s", r.Code, r.Stderr)
	}
}
