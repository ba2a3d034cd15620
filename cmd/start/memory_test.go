package start_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// procKiB reads a "VmHWM:   1234 kB" line of /proc/PID/status.
func procKiB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// deimos start running five jobs (two consumers, two pollers, the outbox
// relay), idle after their first work, stays under 60 MiB resident: peak
// (VmHWM) and current (VmRSS). On PostgreSQL and MySQL/MariaDB.
func TestStartMemoryFiveIdleJobs(t *testing.T) { servers(t, testStartMemoryFiveIdleJobs) }

func testStartMemoryFiveIdleJobs(t *testing.T, dialect string) {
	cfg := strings.Replace(pipelineConfig, "pollers:\n", "pollers:\n  - {name: GadgetPoller, table: gadgets, topic: gadgets, delay: 0, run_every: 200ms}\n", 1)
	ts := "TIMESTAMP"
	if dialect == "mysql" {
		ts = "DATETIME"
	}
	e := newEnvOn(t, dialect, append(pipelineSQLOn(dialect), `CREATE TABLE gadgets (id BIGINT PRIMARY KEY, name TEXT, updated_at `+ts+` NOT NULL)`), cfg)
	e.widgets(1, 100)
	e.outboxRows("orders", 1, 100)
	p := e.start(nil, "start", "--http-addr", "127.0.0.1:0").serving()
	waitFor(t, "/readyz 200", 30*time.Second, func() bool { c, _ := p.get("/readyz"); return c == 200 })
	if n := len(p.status().Jobs); n != 5 {
		t.Fatalf("%d jobs running, want 5: %+v", n, p.status().Jobs)
	}
	waitFor(t, "the first work done", 30*time.Second, func() bool {
		return e.count("SELECT COUNT(*) FROM widget_copies") == 100 && e.count("SELECT COUNT(*) FROM order_copies") == 100
	})
	// idle for a while: both pollers have run several times since
	seen := map[string]time.Time{}
	for _, j := range p.status().Jobs {
		if j.LastProgressAt != nil {
			seen[j.Name] = *j.LastProgressAt
		}
	}
	runs := 0
	waitFor(t, "ten more poller runs", 30*time.Second, func() bool {
		for _, j := range p.status().Jobs {
			if j.Kind == "poller" && j.LastProgressAt != nil && j.LastProgressAt.After(seen[j.Name]) {
				seen[j.Name] = *j.LastProgressAt
				runs++
			}
		}
		return runs >= 10
	})
	pid := p.cmd.Process.Pid
	hwm, rss := procKiB(t, pid, "VmHWM"), procKiB(t, pid, "VmRSS")
	t.Logf("deimos start, 5 jobs idle: VmHWM %.1f MiB, VmRSS %.1f MiB", float64(hwm)/1024, float64(rss)/1024)
	const limit = 60 * 1024
	if hwm >= limit || rss >= limit {
		t.Errorf("resident memory over 60 MiB: VmHWM %d kB, VmRSS %d kB", hwm, rss)
	}
	if code := p.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
