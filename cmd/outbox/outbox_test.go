package outbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
	"github.com/deimos-cli/deimos/pkg/outbox"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func buildBinary(t *testing.T) string { return testenv.Binary(t) }

// servers are the dialects with a database server (every dialect but
// SQLite), for the scenarios with several processes writing at once.
func servers(t *testing.T) []testenv.Dialect {
	var out []testenv.Dialect
	for _, d := range testenv.Dialects(t) {
		if d.Name != "sqlite" {
			out = append(out, d)
		}
	}
	return out
}

func setup(t *testing.T, url string, n int, topics ...string) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := migrate.Up(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	var rows []outbox.Row
	for i := 0; i < n; i++ {
		rows = append(rows, outbox.Row{Topic: topics[i%len(topics)], Message: []byte(fmt.Sprint(i)), Key: []byte(fmt.Sprint(i % 13))})
	}
	if err := outbox.Insert(ctx, d.DB, d.Dialect, rows, time.Now()); err != nil {
		t.Fatal(err)
	}
	return d
}

func pending(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM kafka_messages").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func consume(t *testing.T, brokers []string, want int, topics ...string) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]int{}
	total := 0
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for len(seen) < want && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { seen[r.Topic+"/"+string(r.Value)]++; total++ })
	}
	return seen
}

// A relay killed with SIGKILL mid-run and restarted loses nothing.
func TestKilledRelayLosesNothing(t *testing.T) {
	for _, dl := range servers(t) {
		t.Run(dl.Name, func(t *testing.T) { testKilledRelay(t, dl.URL(t)) })
	}
}

func testKilledRelay(t *testing.T, url string) {
	bin := buildBinary(t)
	topics := []string{"k1", "k2"}
	const n = 20000
	d := setup(t, url, n, topics...)
	brokers := testenv.Brokers(t, 3, topics...)
	cmd := exec.Command(bin, "outbox", "run", "--db", url, "-b", strings.Join(brokers, ","), "--batch-size", "200", "--workers", "2")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 20*time.Second, "the relay to delete its first batch", func() bool { return pending(t, d) < n })
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	left := pending(t, d)
	if left == 0 || left == n {
		t.Fatalf("killed with %d of %d rows left: not mid-run (stderr: %.500s)", left, n, stderr.String())
	}
	// The dead process's locks are fresh: make them stale instead of waiting 60 s.
	var held int
	_ = d.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM kafka_topic_info WHERE locked_by IS NOT NULL").Scan(&held)
	if _, err := d.ExecContext(context.Background(), d.Rebind("UPDATE kafka_topic_info SET locked_at = ? WHERE locked_by IS NOT NULL"), outbox.DBTime(time.Now().Add(-2*time.Minute))); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "outbox", "run", "--once", "--db", url, "-b", strings.Join(brokers, ","), "--log-level", "warn").CombinedOutput()
	if err != nil {
		t.Fatalf("restart: %v\n%s", err, out)
	}
	if p := pending(t, d); p != 0 {
		t.Fatalf("%d rows left after restart: %s", p, out)
	}
	seen := consume(t, brokers, n, topics...)
	dups := 0
	for _, c := range seen {
		dups += c - 1
	}
	if len(seen) != n {
		t.Fatalf("%d distinct messages in Kafka, want %d", len(seen), n)
	}
	t.Logf("killed with %d rows left and %d stale locks; %d duplicates after restart (at-least-once)", left, held, dups)
}

// --once drains and prints its summary, status reports each topic, bad
// flags are exit 2 and an unreachable broker exit 3, on every dialect.
func TestOnceExitCodesAndStatus(t *testing.T) {
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) { testOnceExitCodesAndStatus(t, dl.URL(t)) })
	}
}

func testOnceExitCodesAndStatus(t *testing.T, url string) {
	bin := buildBinary(t)
	d := setup(t, url, 10, "s")
	brokers := testenv.Brokers(t, 1, "s")
	out, err := exec.Command(bin, "outbox", "status", "--db", url, "-o", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var sts []outbox.TopicStatus
	if err := json.Unmarshal(out, &sts); err != nil || len(sts) != 1 || sts[0].Pending != 10 {
		t.Fatalf("status %s %v", out, err)
	}
	out, err = exec.Command(bin, "outbox", "run", "--once", "--db", url, "-b", strings.Join(brokers, ","), "--log-level", "error").Output()
	if err != nil || !strings.Contains(string(out), "processed 10 rows, published 10") {
		t.Fatalf("run: %v %s", err, out)
	}
	if pending(t, d) != 0 {
		t.Fatal("rows left")
	}
	// text status on a pipe: plain columns
	out, _ = exec.Command(bin, "outbox", "status", "--db", url).Output()
	if !strings.HasPrefix(string(out), "TOPIC") || !strings.Contains(string(out), "s ") {
		t.Errorf("text status:\n%s", out)
	}
	// bad flag values are usage errors (exit 2)
	err = exec.Command(bin, "outbox", "run", "--once", "--db", url, "-b", strings.Join(brokers, ","), "--batch-size", "0").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("--batch-size 0: %v", err)
	}
	// an unreachable broker is exit 3
	err = exec.Command(bin, "outbox", "run", "--once", "--db", url, "-b", "127.0.0.1:1").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Errorf("unreachable broker: %v", err)
	}
}

// migrate sql never needs a database; the password never shows.
func TestMigrateSQLNoDatabaseNoPassword(t *testing.T) {
	bin := buildBinary(t)
	out, err := exec.Command(bin, "migrate", "sql", "--dialect", "postgres", "--only", "poller").Output()
	if err != nil || !strings.Contains(string(out), `CREATE INDEX IF NOT EXISTS "index_deimos_poll_info_on_producer"`) && !strings.Contains(string(out), `CREATE INDEX "index_deimos_poll_info_on_producer"`) {
		t.Errorf("migrate sql: %v %s", err, out)
	}
	all, _ := exec.Command(bin, "migrate", "up", "--db", "postgres://u:s3cretpw@127.0.0.1:1/x").CombinedOutput()
	if strings.Contains(string(all), "s3cretpw") {
		t.Errorf("password leaked: %s", all)
	}
	// outbox on an unreachable MySQL: exit 3, in either DSN form, password hidden
	for _, u := range []string{"mysql://u:s3cretpw@127.0.0.1:1/x?timeout=2s", "u:s3cretpw@tcp(127.0.0.1:1)/x?timeout=2s"} {
		for _, args := range [][]string{{"outbox", "status"}, {"outbox", "run", "--once", "-b", "127.0.0.1:1"}} {
			c := exec.Command(bin, append(args, "--db", u)...)
			all, err := c.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || strings.Contains(string(all), "s3cretpw") {
				t.Errorf("%v --db %s: %v\n%s", args, u, err, all)
			}
		}
	}
}

// SIGTERM in daemon mode: the in-flight batch finishes, locks are released,
// exit 0, and every deleted row is in Kafka.
func TestSIGTERMFinishesBatchAndReleasesLocks(t *testing.T) {
	for _, dl := range servers(t) {
		t.Run(dl.Name, func(t *testing.T) { testSIGTERM(t, dl.URL(t)) })
	}
}

func testSIGTERM(t *testing.T, url string) {
	bin := buildBinary(t)
	topics := []string{"t1", "t2"}
	const n = 20000
	d := setup(t, url, n, topics...)
	brokers := testenv.Brokers(t, 2, topics...)
	cmd := exec.Command(bin, "outbox", "run", "--db", url, "-b", strings.Join(brokers, ","), "--batch-size", "100", "--workers", "2", "--log-format", "json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 20*time.Second, "the relay to delete 500 rows", func() bool { return pending(t, d) <= n-500 })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%.2000s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("did not stop within 20 s of SIGTERM\n%.2000s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "Shutting down") {
		t.Errorf("no shutdown log:\n%.2000s", stderr.String())
	}
	var held int
	_ = d.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM kafka_topic_info WHERE locked_by IS NOT NULL OR error = "+d.Dialect.Bool(true)).Scan(&held)
	if held != 0 {
		t.Errorf("%d topics still locked or errored after SIGTERM", held)
	}
	left := pending(t, d)
	if left == 0 {
		t.Fatalf("the relay drained everything before SIGTERM took effect: not a stop mid-run")
	}
	// every row no longer in the table reached Kafka
	rows, err := d.QueryContext(context.Background(), "SELECT topic, message FROM kafka_messages")
	if err != nil {
		t.Fatal(err)
	}
	still := map[string]bool{}
	for rows.Next() {
		var tp string
		var m []byte
		_ = rows.Scan(&tp, &m)
		still[tp+"/"+string(m)] = true
	}
	rows.Close()
	seen := consume(t, brokers, n-left, topics...)
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("%s/%d", topics[i%len(topics)], i)
		if !still[k] && seen[k] == 0 {
			t.Fatalf("row %s deleted but not in Kafka (%d left, %d seen)", k, left, len(seen))
		}
	}
	t.Logf("stopped with %d of %d rows left; %d distinct in Kafka", left, n, len(seen))
}

// `outbox run` uses one processor per two workers (cmdutil.LimitProcs;
// more only cost scheduler wake-ups), unless GOMAXPROCS is set. The
// relay's start-up log line names the figure.
func TestRunLimitsProcessorsToWorkers(t *testing.T) {
	def := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") != "" || def < 2 {
		t.Fatalf("needs a test process without GOMAXPROCS set and at least 2 processors (GOMAXPROCS %d)", def)
	}
	bin := buildBinary(t)
	url := testenv.SQLiteURL(t)
	setup(t, url, 10, "p")
	brokers := testenv.Brokers(t, 1, "p")
	procs := func(env string, workers int) int {
		t.Helper()
		cmd := exec.Command(bin, "outbox", "run", "--once", "--db", url, "-b", strings.Join(brokers, ","),
			"--workers", fmt.Sprint(workers), "--log-format", "json", "--log-level", "info")
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+env)
		if env == "" {
			cmd.Env = slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "GOMAXPROCS=") })
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\n%s", cmd.Args, err, stderr.String())
		}
		for _, l := range strings.Split(stderr.String(), "\n") {
			var line struct {
				Msg   string `json:"msg"`
				Procs *int   `json:"procs"`
			}
			if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "Starting..." && line.Procs != nil {
				return *line.Procs
			}
		}
		t.Fatalf("no Starting... line with procs in:\n%s", stderr.String())
		return 0
	}
	if got := procs("", 1); got != 1 {
		t.Errorf("1 worker: %d processors, want 1", got)
	}
	if got, want := procs("", 4), min(def, 2); got != want {
		t.Errorf("4 workers: %d processors, want %d", got, want)
	}
	if got := procs("3", 1); got != 3 {
		t.Errorf("GOMAXPROCS=3, 1 worker: %d processors, want 3 (the environment wins)", got)
	}
}
