package poller_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Rows keep being inserted (some in slow multi-row transactions) while the
// real binary polls; it is SIGKILLed mid-way and restarted. Every row must
// reach the topic (at least once: a killed batch may be sent again). On
// MariaDB the timestamps are whole seconds (datetime), so rows tie.
func TestSigkillRestartNoRowMissed(t *testing.T) {
	for _, c := range []struct{ dialect, create, stamp string }{
		{"postgres", `CREATE TABLE widgets (id BIGSERIAL PRIMARY KEY, name TEXT, updated_at TIMESTAMP NOT NULL)`, "now() AT TIME ZONE 'UTC'"},
		{"mysql", "CREATE TABLE widgets (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50), updated_at DATETIME NOT NULL)", "UTC_TIMESTAMP()"},
	} {
		t.Run(c.dialect, func(t *testing.T) { sigkillRestartNoRowMissed(t, c.dialect, c.create, c.stamp) })
	}
}

func sigkillRestartNoRowMissed(t *testing.T, dialect, create, stamp string) {
	bin := testenv.Binary(t)
	var url string
	for _, d := range testenv.Dialects(t) {
		if d.Name == dialect {
			url = d.URL(t)
		}
	}
	ctx := context.Background()
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := migrate.Up(ctx, d, []string{"poller"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(create); err != nil {
		t.Fatal(err)
	}
	insert := d.Rebind("INSERT INTO widgets (name, updated_at) VALUES (?, " + stamp + ")")
	brokers := testenv.Brokers(t, 3, "widgets")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "deimos.yaml")
	cfg := fmt.Sprintf(`kafka: {brokers: [%s]}
schema: {backend: json}
database: {url: "%s"}
topics:
  - {name: widgets, key_config: {field: id}}
pollers:
  - {name: WidgetProducer, table: widgets, topic: widgets, run_every: 100ms, delay: 20ms, batch_size: 25}
`, brokers[0], url)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(bin, "--config", cfgPath, "poller", "run")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Env = append(os.Environ(), "DEIMOS_CONFIG=")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stderr
	}

	// writer: single-row inserts and slow 3-row transactions (stamped at their start)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var total int64
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%5 == 0 {
				tx, err := d.Begin()
				if err != nil {
					t.Error(err)
					return
				}
				for j := 0; j < 3; j++ {
					if _, err := tx.Exec(insert, fmt.Sprintf("tx%d-%d", i, j)); err != nil {
						t.Error(err)
					}
					time.Sleep(30 * time.Millisecond) // workload shape: a slow transaction, not synchronisation
				}
				if err := tx.Commit(); err != nil {
					t.Error(err)
				}
				mu.Lock()
				total += 3
				mu.Unlock()
				continue
			}
			if _, err := d.Exec(insert, fmt.Sprintf("r%d", i)); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			total++
			mu.Unlock()
			time.Sleep(3 * time.Millisecond) // workload pacing, not synchronisation
		}
	}()

	written := func() int64 { mu.Lock(); defer mu.Unlock(); return total }
	// passed reports whether the poller's (timestamp, id) cursor has passed
	// row id (the cursor only moves forward, over published rows)
	passedQ := d.Rebind(`SELECT COUNT(*) FROM deimos_poll_info p, widgets w
		WHERE p.producer = 'WidgetProducer' AND w.id = ?
		AND (p.last_sent > w.updated_at OR p.last_sent = w.updated_at AND p.last_sent_id >= w.id)`)
	passed := func(id int64) bool {
		var n int
		_ = d.QueryRow(passedQ, id).Scan(&n)
		return n > 0
	}
	maxID := func() int64 {
		var id int64
		_ = d.QueryRow("SELECT COALESCE(MAX(id), 0) FROM widgets").Scan(&id)
		return id
	}
	// the first poller is killed once it has published some batches, while
	// rows keep arriving
	p1, _ := start()
	testenv.WaitFor(t, 30*time.Second, "the first poller to publish row 75", func() bool { return passed(75) })
	if err := p1.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p1.Wait()
	atKill := written()
	testenv.WaitFor(t, 30*time.Second, "rows written while no poller runs", func() bool { return written() >= atKill+30 })
	// the second poller takes over from the cursor the first one left; the
	// writer stops once it has caught up with the rows written meanwhile
	p2, stderr2 := start()
	last := maxID()
	testenv.WaitFor(t, 30*time.Second, "the restarted poller to catch up with the rows written while none ran", func() bool { return passed(last) })
	close(stop)
	wg.Wait()

	// wait until every id is on the topic
	var n int64
	if err := d.QueryRow("SELECT COUNT(*) FROM widgets").Scan(&n); err != nil || n != total {
		t.Fatalf("rows %d, written %d (%v)", n, total, err)
	}
	seen := map[int64]bool{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("widgets"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	deadline := time.Now().Add(20 * time.Second)
	for int64(len(seen)) < n && time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			var v struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("value %q: %v", r.Value, err)
			}
			seen[v.ID] = true
		})
	}
	if err := p2.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v\n%s", err, stderr2)
	}
	if int64(len(seen)) != n {
		var missing []int64
		for i := int64(1); i <= n && len(missing) < 20; i++ {
			if !seen[i] {
				missing = append(missing, i)
			}
		}
		t.Fatalf("%d of %d rows published; missing ids (first 20): %v\n%s", len(seen), n, missing, stderr2)
	}
	t.Logf("%d rows, all published across a SIGKILL", n)
}

// poller status, reset and usage errors through the real binary, on each database.
func TestStatusResetAndErrors(t *testing.T) {
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) { statusResetAndErrors(t, dl.Name, dl.URL(t)) })
	}
}

func statusResetAndErrors(t *testing.T, dialect, url string) {
	bin := testenv.Binary(t)
	dir := t.TempDir()
	ctx := context.Background()
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := migrate.Up(ctx, d, []string{"poller", "outbox"}); err != nil {
		t.Fatal(err)
	}
	ts := "DATETIME"
	if dialect == "postgres" {
		ts = "TIMESTAMP"
	}
	mustExec(t, d.DB, `CREATE TABLE widgets (id INTEGER PRIMARY KEY, name VARCHAR(50), updated_at `+ts+`)`)
	mustExec(t, d.DB, `INSERT INTO widgets VALUES (1, 'a', '2024-01-01 00:00:00.000000'), (2, 'b', '2024-01-02 00:00:00.000000')`)
	cfgPath := filepath.Join(dir, "deimos.yaml")
	write := func(table, extra string) {
		cfg := fmt.Sprintf(`schema: {backend: json}
database: {url: "%s"}
topics:
  - {name: widgets, key_config: {field: id}}
pollers:
  - {name: WidgetProducer, table: %s, topic: widgets, backend: outbox, delay: 1ms%s}
`, url, table, extra)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, append([]string{"--config", cfgPath}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	write("widgets", "")
	if _, e, code := run("poller", "run", "--once"); code != 0 {
		t.Fatalf("run: %d %s", code, e)
	}
	var n int
	_ = d.QueryRow("SELECT COUNT(*) FROM kafka_messages").Scan(&n)
	if n != 2 {
		t.Fatalf("outbox rows %d", n)
	}
	out, e, code := run("poller", "status", "--output", "json")
	if code != 0 {
		t.Fatalf("status: %d %s", code, e)
	}
	var sts []map[string]any
	if err := json.Unmarshal([]byte(out), &sts); err != nil || len(sts) != 1 || sts[0]["last_sent_id"] != float64(2) || sts[0]["pending"] != float64(0) || sts[0]["messages"] != float64(2) {
		t.Fatalf("status json: %v %s", err, out)
	}
	if _, e, code := run("poller", "reset", "WidgetProducer", "--to", "2024-01-02"); code != 0 {
		t.Fatalf("reset: %d %s", code, e)
	}
	out, _, _ = run("poller", "status")
	if !strings.Contains(out, "2024-01-02 00:00:00") || !strings.Contains(out, "WidgetProducer") {
		t.Fatalf("status table after reset:\n%s", out)
	}
	run("poller", "run", "--once")
	_ = d.QueryRow("SELECT COUNT(*) FROM kafka_messages").Scan(&n)
	if n != 3 {
		t.Fatalf("after reset to 2024-01-02 expected row 2 again: %d outbox rows", n)
	}
	// usage errors: exit 2 with the field named
	if _, e, code := run("poller", "reset", "Nope"); code != 2 || !strings.Contains(e, "unknown poller") {
		t.Fatalf("reset unknown: %d %s", code, e)
	}
	if _, e, code := run("poller", "reset", "WidgetProducer", "--to", "yesterday-ish"); code != 2 || !strings.Contains(e, "--to") {
		t.Fatalf("bad --to: %d %s", code, e)
	}
	write("widgets", ", id_column: \"id; DROP TABLE widgets\"")
	if _, e, code := run("poller", "run", "--once"); code != 2 || !strings.Contains(e, "id_column") {
		t.Fatalf("hostile column: %d %s", code, e)
	}
	write("widgets", ", where: \"1=1; DELETE FROM widgets\"")
	if _, e, code := run("poller", "status"); code != 2 || !strings.Contains(e, "where") {
		t.Fatalf("hostile where: %d %s", code, e)
	}
	write("nope", "")
	if _, e, code := run("poller", "run", "--once"); code == 0 || !strings.Contains(e, "nope") {
		t.Fatalf("missing table: %d %s", code, e)
	}
}

func mustExec(t *testing.T, d *sql.DB, q string) {
	t.Helper()
	if _, err := d.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// poller status's LAG column is for people: "never" before anything was
// published, and days and hours (not 26304h0m0s) for a cursor far behind;
// --output json keeps exact seconds.
func TestStatusLagForPeople(t *testing.T) {
	dir := t.TempDir()
	url := "sqlite:" + filepath.Join(dir, "t.db")
	ctx := context.Background()
	d, err := db.OpenOrCreate(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := migrate.Up(ctx, d, []string{"poller", "outbox"}); err != nil {
		t.Fatal(err)
	}
	mustExec(t, d.DB, `CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT, updated_at DATETIME)`)
	mustExec(t, d.DB, `INSERT INTO widgets VALUES (1, 'a', '2024-01-01 00:00:00.000000'), (2, 'b', '2024-01-02 03:00:00.000000')`)
	cfgPath := filepath.Join(dir, "deimos.yaml")
	cfg := fmt.Sprintf("schema: {backend: json}\ndatabase: {url: %q}\ntopics:\n  - {name: widgets, key_config: {field: id}}\npollers:\n  - {name: WidgetProducer, table: widgets, topic: widgets, backend: outbox}\n", url)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	lag := func() string {
		out := testenv.Run(t, dir, nil, "", "--config", cfgPath, "poller", "status").OK(t, "poller status")
		lines := strings.Split(out, "\n")
		col := strings.Index(lines[0], "LAG")
		if col < 0 || len(lines) < 2 || len(lines[1]) <= col {
			t.Fatalf("no LAG column:\n%s", out)
		}
		return strings.Fields(lines[1][col:])[0]
	}
	if got := lag(); got != "never" {
		t.Fatalf("LAG before the first run = %q, want never", got)
	}
	testenv.Run(t, dir, nil, "", "--config", cfgPath, "poller", "reset", "WidgetProducer", "--to", "2021-01-01").OK(t, "reset")
	// newest row 2024-01-02 03:00 - cursor 2021-01-01 = 1096 days 3 hours
	if got := lag(); got != "1096d3h" {
		t.Fatalf("LAG after a reset to 2021-01-01 = %q, want 1096d3h", got)
	}
	out := testenv.Run(t, dir, nil, "", "--config", cfgPath, "poller", "status", "-o", "json").OK(t, "status json")
	var sts []struct {
		LagSeconds float64 `json:"lag_seconds"`
	}
	if err := json.Unmarshal([]byte(out), &sts); err != nil || len(sts) != 1 || sts[0].LagSeconds != 1096*86400+3*3600 {
		t.Fatalf("json lag: %v %s", err, out)
	}
}
