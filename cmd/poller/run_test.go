package poller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/migrate"
)

// `poller run A` runs only A, serves Prometheus metrics, and on SIGTERM in the
// middle of a run finishes the batch in flight and exits 0 with the cursor
// exactly at the last published row. SIGTERM must land while rows are left:
// a run that published everything first is repeated with four times the
// rows, and the test fails if that never happens.
func TestRunSelectionMetricsSigterm(t *testing.T) {
	bin := testenv.Binary(t)
	total := 4000
	for attempt := 1; ; attempt++ {
		if sigtermMidRun(t, bin, total) {
			return
		}
		if attempt == 3 {
			t.Fatalf("the poller published all %d rows before SIGTERM in %d attempts: the stop mid-run never happened", total, attempt)
		}
		total *= 4
	}
}

// sigtermMidRun runs the scenario with total rows and reports whether
// SIGTERM arrived before they were all published.
func sigtermMidRun(t *testing.T, bin string, total int) bool {
	t.Helper()
	dir := t.TempDir()
	url := "sqlite:" + filepath.Join(dir, "t.db")
	ctx := context.Background()
	d, err := db.OpenOrCreate(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := migrate.Up(ctx, d, []string{"poller"}); err != nil {
		t.Fatal(err)
	}
	mustExec(t, d.DB, `CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT, updated_at DATETIME)`)
	mustExec(t, d.DB, `CREATE TABLE gadgets (id INTEGER PRIMARY KEY, name TEXT, updated_at DATETIME)`)
	mustExec(t, d.DB, fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < %d)
		INSERT INTO widgets SELECT i, 'w' || i, '2024-01-01 00:00:00.000000' FROM n`, total))
	mustExec(t, d.DB, `INSERT INTO gadgets VALUES (1, 'g', '2024-01-01 00:00:00.000000')`)
	brokers := testenv.Brokers(t, 1, "widgets", "gadgets")
	cfgPath := filepath.Join(dir, "deimos.yaml")
	cfg := fmt.Sprintf(`kafka: {brokers: [%s]}
schema: {backend: json}
database: {url: "%s"}
topics:
  - {name: widgets, key_config: {field: id}}
  - {name: gadgets, key_config: {field: id}}
pollers:
  - {name: A, table: widgets, topic: widgets, batch_size: 10, delay: 0, run_every: 100ms}
  - {name: B, table: gadgets, topic: gadgets, delay: 0, run_every: 100ms}
`, brokers[0], url)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfgPath, "poller", "run", "A", "--metrics-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "DEIMOS_CONFIG=")
	stderr := &testenv.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addrRe := regexp.MustCompile(`serving metrics[^"]*" addr=(\S+)`)
	rowsRe := regexp.MustCompile(`deimos_poller_rows_published_total\{deimos_job="A",poller="A"\} (\d+)`)
	var metrics string
	testenv.Eventually(20*time.Second, func() bool { // checked below
		m := addrRe.FindStringSubmatch(stderr.String())
		if m == nil {
			return false
		}
		resp, err := http.Get("http://" + m[1] + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics = string(b)
		r := rowsRe.FindStringSubmatch(metrics)
		return r != nil && r[1] != "0"
	})
	if rowsRe.FindStringSubmatch(metrics) == nil {
		t.Fatalf("no rows metric for A:\n%s\n%s", metrics, stderr)
	}
	for _, name := range []string{"deimos_poller_batches_errored_total", "deimos_poller_kafka_errors_total", "go_goroutines"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("metric %s missing", name)
		}
	}
	if strings.Contains(metrics, `poller="B"`) {
		t.Errorf("poller B was not selected but has metrics:\n%s", metrics)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, stderr)
	}
	var last int64
	if err := d.QueryRow("SELECT last_sent_id FROM deimos_poll_info WHERE producer = 'A'").Scan(&last); err != nil {
		t.Fatal(err)
	}
	var nB int
	_ = d.QueryRow("SELECT COUNT(*) FROM deimos_poll_info WHERE producer = 'B'").Scan(&nB)
	if nB != 0 {
		t.Errorf("poller B ran although only A was selected")
	}
	// the topic holds exactly ids 1..last (the cursor matches what was published)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("widgets", "gadgets"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[int64]int{}
	idle := 0
	for idle < 3 {
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if r.Topic == "gadgets" {
				t.Errorf("poller B published")
			}
			var v struct{ ID int64 }
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatal(err)
			}
			seen[v.ID]++
		})
		if n == 0 {
			idle++
		}
	}
	for id := int64(1); id <= last; id++ {
		if seen[id] != 1 {
			t.Fatalf("id %d published %d times (cursor at %d)", id, seen[id], last)
		}
	}
	if int64(len(seen)) != last {
		t.Fatalf("%d ids published, cursor at %d: published rows beyond the cursor", len(seen), last)
	}
	if last == int64(total) {
		t.Logf("the run published all %d rows before SIGTERM arrived: trying again with more", total)
		return false
	}
	t.Logf("stopped at %d of %d rows; cursor consistent", last, total)
	return true
}

// An unreachable database: one clear line, exit 3, no password.
func TestDeadDatabase(t *testing.T) {
	bin := testenv.Binary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "deimos.yaml")
	for _, url := range []string{"postgres://app:s3cretpw@127.0.0.1:1/app?sslmode=disable", "mysql://app:s3cretpw@127.0.0.1:1/app?timeout=2s"} {
		cfg := `schema: {backend: json}
database: {url: "` + url + `"}
topics:
  - {name: widgets, key_config: {field: id}}
pollers:
  - {name: A, table: widgets, topic: widgets, backend: outbox}
`
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"poller", "run", "--once"}, {"poller", "status"}, {"poller", "reset", "A"}} {
			cmd := exec.Command(bin, append([]string{"--config", cfgPath}, args...)...)
			cmd.Env = append(os.Environ(), "DEIMOS_CONFIG=")
			out, err := cmd.CombinedOutput()
			code := -1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != 3 || strings.Contains(string(out), "s3cretpw") || !strings.Contains(string(out), "database") {
				t.Fatalf("%s %v: exit %d, output %q", url[:5], args, code, out)
			}
			if n := strings.Count(strings.TrimSpace(string(out)), "\n"); n > 0 {
				t.Errorf("%s %v: %d lines: %s", url[:5], args, n+1, out)
			}
		}
	}
}
