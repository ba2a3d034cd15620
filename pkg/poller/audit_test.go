package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/db"
)

// `delay: 0` is kept (not read as the 2s default); an absent delay is 2s.
func TestConfigDelayZero(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want time.Duration
	}{
		{"pollers:\n  - {name: A, table: a, topic: t}\n", 2 * time.Second},
		{"pollers:\n  - {name: A, table: a, topic: t, delay: 0}\n", 0},
		{"pollers:\n  - {name: A, table: a, topic: t, delay: 0s}\n", 0},
		{"pollers:\n  - {name: A, table: a, topic: t, delay: 5}\n", 5 * time.Second},
	} {
		var cfg config.Config
		if err := config.Parse([]byte(c.yaml), "x.yaml", func(string) (string, bool) { return "", false }, &cfg); err != nil {
			t.Fatal(err)
		}
		ss, err := Resolve(&cfg)
		if err != nil || ss[0].Delay != c.want {
			t.Fatalf("%q: delay %v, want %v (%v)", c.yaml, ss[0].Delay, c.want, err)
		}
	}
}

// outboxVersions reads kafka_messages as versions() reads the topic.
func (e *env) outboxVersions() map[string]int {
	e.t.Helper()
	rows, err := e.d.Query("SELECT message FROM kafka_messages ORDER BY id")
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var ms []msg
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			e.t.Fatal(err)
		}
		m := msg{Tomb: b == nil}
		if b != nil {
			if err := json.Unmarshal(b, &m.Value); err != nil {
				e.t.Fatalf("message %q: %v", b, err)
			}
		}
		ms = append(ms, m)
	}
	return versions(ms)
}

// Timestamps in each column type Rails and SQL writers use, Kafka and
// outbox backends: ties, updates, and a row committed late by a long
// transaction are each published exactly once. PostgreSQL: timestamp (UTC
// wall time) and timestamptz, with every session in a non-UTC zone. MySQL:
// datetime (whole seconds: every row of a second ties), datetime(6) and
// timestamp(6), on a server whose system time zone is not UTC
// (testenv.MariaDBSystemTZ), the zone innodb_trx reports transaction starts
// in.
func TestColumnTypesBackendsLateCommit(t *testing.T) {
	for _, c := range []struct{ dialect, colType, begin, nowExpr string }{
		{"postgres", "TIMESTAMP", "BEGIN", "now() AT TIME ZONE 'UTC'"}, // Rails: UTC wall time
		{"postgres", "TIMESTAMPTZ", "BEGIN", "now()"},
		// MySQL's NOW() is the statement's start, not the transaction's: the
		// transaction starts first so that its start is before the stamp
		{"mysql", "DATETIME", "START TRANSACTION WITH CONSISTENT SNAPSHOT", "UTC_TIMESTAMP()"},
		{"mysql", "DATETIME(6)", "START TRANSACTION WITH CONSISTENT SNAPSHOT", "UTC_TIMESTAMP(6)"},
		{"mysql", "TIMESTAMP(6) NULL", "START TRANSACTION WITH CONSISTENT SNAPSHOT", "NOW(6)"},
	} {
		for _, backend := range []string{"kafka", "outbox"} {
			t.Run(c.dialect+"/"+strings.Fields(c.colType)[0]+"/"+backend, func(t *testing.T) {
				e := newEnv(t, c.dialect)
				switch c.dialect {
				case "postgres":
					// every new session of this database runs in a non-UTC zone
					var dbname string
					if err := e.d.QueryRow("SELECT current_database()").Scan(&dbname); err != nil {
						t.Fatal(err)
					}
					e.exec(`ALTER DATABASE "` + dbname + `" SET timezone TO 'America/New_York'`)
					e.d.SetMaxIdleConns(0) // reconnect: pick the new zone up
					e.d.SetMaxIdleConns(2)
					var tz string
					if err := e.d.QueryRow("SHOW timezone").Scan(&tz); err != nil || tz != "America/New_York" {
						t.Fatalf("session zone %q %v", tz, err)
					}
				case "mysql":
					var tz string
					var off int
					if err := e.d.QueryRow("SELECT @@system_time_zone, TIMESTAMPDIFF(HOUR, UTC_TIMESTAMP(), CONVERT_TZ(UTC_TIMESTAMP(), '+00:00', 'SYSTEM'))").Scan(&tz, &off); err != nil || off == 0 {
						t.Fatalf("the server's system time zone %q is %d h from UTC; the test needs one that is not UTC (%v)", tz, off, err)
					}
				}
				e.exec(`CREATE TABLE widgets (id INTEGER PRIMARY KEY, name VARCHAR(50), price INTEGER, active BOOLEAN, updated_at ` + c.colType + `)`)
				base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
				for i := 1; i <= 3; i++ {
					e.insert(i, fmt.Sprintf("w%d", i), base) // a tie across batches of 2
				}
				ctx := context.Background()
				conn, err := e.d.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				if _, err := conn.ExecContext(ctx, c.begin); err != nil {
					t.Fatal(err)
				}
				defer conn.ExecContext(ctx, "ROLLBACK")
				if _, err := conn.ExecContext(ctx, "INSERT INTO widgets (id, name, updated_at) VALUES (4, 'late', "+c.nowExpr+")"); err != nil {
					t.Fatal(err)
				}
				// clock time under test: the open transaction's timestamp must be older than the next row's
				time.Sleep(200 * time.Millisecond)
				e.insert(5, "w5", time.Now().UTC().Add(-50*time.Millisecond))
				s := e.settings(func(s *Settings) { s.Delay = 10 * time.Millisecond; s.Backend = backend; s.LateCommitGuard = "" })
				noKafka := func(o *Options) {
					if backend == "outbox" {
						o.Kafka = nil
					}
				}
				e.runOnce(s, noKafka)
				if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
					t.Fatal(err)
				}
				e.exec("UPDATE widgets SET name = 'w2b', updated_at = " + c.nowExpr + " WHERE id = 2")
				// clock time under test: the update must be older than now - delay (10 ms)
				time.Sleep(50 * time.Millisecond)
				e.runOnce(s, noKafka)
				e.runOnce(s, noKafka)
				var got map[string]int
				if backend == "outbox" {
					got = e.outboxVersions()
				} else {
					got = versions(e.consume("widgets"))
				}
				expectOnce(t, got, "1:w1", "2:w2", "2:w2b", "3:w3", "4:late", "5:w5")
			})
		}
	}
}

// A database user that cannot see other users' transactions gets a warning
// that the late-commit guard is blind to them. PostgreSQL hides other roles'
// sessions without pg_read_all_stats; MySQL refuses
// information_schema.innodb_trx without PROCESS, and the poller then polls
// up to now − delay: an open writing transaction does not hold it back, and
// the rows are published. With late_commit_guard: off there is no warning.
func TestLateCommitGuardHiddenSessionsWarn(t *testing.T) {
	for _, c := range []struct{ dialect, begin, write, warning string }{
		{"postgres", "BEGIN", "SELECT 1", "pg_read_all_stats"},
		{"mysql", "START TRANSACTION WITH CONSISTENT SNAPSHOT", "UPDATE widgets SET name = 'x' WHERE id = 1", "PROCESS privilege"},
	} {
		t.Run(c.dialect, func(t *testing.T) {
			e := newEnv(t, c.dialect)
			e.createWidgets()
			e.insert(1, "w1", time.Now().UTC().Add(-time.Hour))
			e.insert(2, "w2", time.Now().UTC().Add(-time.Minute))
			var url string
			switch c.dialect {
			case "postgres":
				var dbname string
				if err := e.d.QueryRow("SELECT current_database()").Scan(&dbname); err != nil {
					t.Fatal(err)
				}
				role := "poller_" + strings.ReplaceAll(dbname, "-", "_")
				e.exec(`CREATE ROLE "` + role + `" LOGIN`)
				t.Cleanup(func() { e.d.Exec(`DROP OWNED BY "` + role + `"`) })
				e.exec(`GRANT ALL ON ALL TABLES IN SCHEMA public TO "` + role + `"`)
				e.exec(`GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "` + role + `"`)
				url = strings.Replace(e.url, "postgres@", role+"@", 1)
			case "mysql":
				var dbname string
				if err := e.d.QueryRow("SELECT DATABASE()").Scan(&dbname); err != nil {
					t.Fatal(err)
				}
				user := "poller_" + dbname
				e.exec("CREATE USER '" + user + "'@'%' IDENTIFIED BY 'pw'")
				t.Cleanup(func() { e.d.Exec("DROP USER '" + user + "'@'%'") })
				e.exec("GRANT ALL ON `" + dbname + "`.* TO '" + user + "'@'%'") // everything but PROCESS
				url = strings.Replace(e.url, "root@", user+":pw@", 1)
			}
			// an open transaction of the table's owner
			ctx := context.Background()
			conn, err := e.d.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for _, q := range []string{c.begin, c.write} {
				if _, err := conn.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			defer conn.ExecContext(ctx, "ROLLBACK")
			time.Sleep(1100 * time.Millisecond) // clock time under test: MySQL reports a transaction's start in whole seconds
			d2 := openURL(t, url)
			for _, guard := range []string{"", "off"} {
				var logs strings.Builder
				var mu sync.Mutex
				var to time.Time
				eng, err := New(Options{DB: d2, Encoder: e.enc, Kafka: e.cl, Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil)),
					OnRun: func(st RunStats) { to = st.To }})
				if err != nil {
					t.Fatal(err)
				}
				before := time.Now()
				if err := eng.Run(ctx, []Settings{e.settings(func(s *Settings) { s.LateCommitGuard = guard })}, true); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				warned := strings.Contains(logs.String(), c.warning)
				mu.Unlock()
				if warned != (guard == "") {
					t.Fatalf("late_commit_guard %q: warning naming %s logged: %v, want %v:\n%s", guard, c.warning, warned, guard == "", logs.String())
				}
				if c.dialect == "mysql" && to.Before(before.Add(-time.Second)) {
					t.Fatalf("late_commit_guard %q without PROCESS: the upper bound %v was held back; want now - delay", guard, to)
				}
			}
			expectOnce(t, versions(e.consume("widgets")), "1:w1", "2:w2")
		})
	}
}

func openURL(t *testing.T, url string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Too-large rows: with skip_too_large they are skipped (the rest of the batch
// is delivered, the cursor moves on); without it the batch is retried and the
// cursor does not pass the too-large row.
func TestTooLarge(t *testing.T) {
	for _, c := range []struct {
		skip bool
		// clientLimit: the client's own batch limit rejects the big record
		// alone (the rest of its batch is delivered on the first attempt);
		// otherwise the broker rejects the whole produce batch.
		clientLimit bool
	}{{true, false}, {true, true}, {false, false}} {
		skip, clientLimit := c.skip, c.clientLimit
		t.Run(fmt.Sprintf("skip=%v/client_limit=%v", skip, clientLimit), func(t *testing.T) {
			e := newEnv(t, "sqlite")
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "widgets"),
				kfake.BrokerConfigs(map[string]string{"message.max.bytes": "1500"}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			e.brokers = c.ListenAddrs()
			kopts := []kgo.Opt{kgo.SeedBrokers(e.brokers...), kgo.ProducerLinger(50 * time.Millisecond)}
			if clientLimit {
				kopts = append(kopts, kgo.ProducerBatchMaxBytes(1400))
			}
			cl, err := kgo.NewClient(kopts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cl.Close)
			e.cl = cl
			e.createWidgets()
			old := time.Now().UTC().Add(-time.Hour)
			for i := 1; i <= 6; i++ {
				name := fmt.Sprintf("w%d", i)
				if i == 3 {
					name = bigName() // incompressible, far above message.max.bytes
				}
				e.insert(i, name, old.Add(time.Duration(i)*time.Second))
			}
			var stats []RunStats
			var mu sync.Mutex
			s := e.settings(func(s *Settings) { s.SkipTooLarge = skip; s.BatchSize = 2 })
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			met := NewMetrics(prometheus.NewRegistry())
			eng := e.engine(func(o *Options) {
				o.OnRun = func(r RunStats) { mu.Lock(); stats = append(stats, r); mu.Unlock() }
				o.Metrics = met
			})
			if err := eng.Run(ctx, []Settings{s}, skip); err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for k, v := range versions(e.consume("widgets")) {
				got[k[:min(len(k), 12)]] += v
			}
			pi, err := LoadPollInfo(context.Background(), e.d, e.d, s.Name)
			if err != nil {
				t.Fatal(err)
			}
			if skip {
				expectOnce(t, got, "1:w1", "2:w2", "4:w4", "5:w5", "6:w6")
				if pi.Cursor.ID != 6 || len(stats) != 1 || stats[0].ErroredBatches != 1 || stats[0].Messages != 6 {
					t.Fatalf("cursor %+v stats %+v", pi.Cursor, stats)
				}
				// rows 1, 2, 4, 5, 6 (4 delivered alongside the skipped row 3)
				if n := counterValue(t, met.rows.WithLabelValues(s.Name)); n != 5 {
					t.Fatalf("deimos_poller_rows_published_total = %v, want 5", n)
				}
				if n := counterValue(t, met.errored.WithLabelValues(s.Name)); n != 1 {
					t.Fatalf("deimos_poller_batches_errored_total = %v, want 1", n)
				}
				return
			}
			for k := range got {
				if strings.HasPrefix(k, "3:") || k == "5:w5" || k == "6:w6" {
					t.Fatalf("published %s although row 3 was never delivered (%v)", k, got)
				}
			}
			if got["1:w1"] != 1 || got["2:w2"] != 1 {
				t.Fatalf("first rows: %v", got)
			}
			if pi.Cursor.ID != 2 {
				t.Fatalf("cursor moved past the undelivered row: %+v", pi.Cursor)
			}
			if n := counterValue(t, met.rows.WithLabelValues(s.Name)); n != 2 {
				t.Fatalf("deimos_poller_rows_published_total = %v, want 2", n)
			}
		})
	}
}

func bigName() string {
	var b strings.Builder
	x := uint64(88172645463325252)
	for b.Len() < 8000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		fmt.Fprintf(&b, "%016x", x)
	}
	return b.String()
}

// counterValue reads one counter series.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// Rows keep arriving while the poller runs with delay 0, so only the
// late-commit guard keeps it from passing rows not yet committed: single
// inserts, and transactions of three inserts 30 ms apart that commit after
// rows inserted later (lower ids, earlier stamps). On MySQL the column is
// datetime, whole seconds: dozens of rows share each second, across batches
// of 3 and across runs. Every row is published exactly once.
func TestConcurrentWritersEachRowOnce(t *testing.T) {
	for _, c := range []struct{ dialect, create, stamp string }{
		{"postgres", "CREATE TABLE widgets (id BIGSERIAL PRIMARY KEY, name TEXT, updated_at TIMESTAMP NOT NULL)", "now() AT TIME ZONE 'UTC'"},
		{"mysql", "CREATE TABLE widgets (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50), updated_at DATETIME NOT NULL)", "UTC_TIMESTAMP()"},
	} {
		t.Run(c.dialect, func(t *testing.T) {
			e := newEnv(t, c.dialect)
			e.exec(c.create)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var logs strings.Builder
			var mu sync.Mutex
			done := make(chan error, 1)
			var runsWithRows, txs atomic.Int64
			go func() {
				eng := e.engine(func(o *Options) {
					o.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
					o.OnRun = func(st RunStats) {
						if st.Messages > 0 {
							runsWithRows.Add(1)
						}
					}
				})
				done <- eng.Run(ctx, []Settings{e.settings(func(s *Settings) {
					s.Delay, s.BatchSize, s.RunEvery, s.LateCommitGuard = 0, 3, 20*time.Millisecond, ""
				})}, false)
			}()
			insert := "INSERT INTO widgets (name, updated_at) VALUES (?, " + c.stamp + ")"
			var wg sync.WaitGroup
			stop := make(chan struct{})
			var written sync.Map
			writer := func(w int, multi bool) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					name := fmt.Sprintf("w%d-%d", w, i)
					if !multi {
						if _, err := e.d.Exec(e.d.Rebind(insert), name); err != nil {
							t.Error(err)
							return
						}
						written.Store(name, true)
						time.Sleep(2 * time.Millisecond) // workload pacing, not synchronisation
						continue
					}
					tx, err := e.d.Begin()
					if err != nil {
						t.Error(err)
						return
					}
					for j := 0; j < 3; j++ {
						if _, err := tx.Exec(e.d.Rebind(insert), fmt.Sprintf("%s-%d", name, j)); err != nil {
							t.Error(err)
						}
						time.Sleep(30 * time.Millisecond) // workload shape: a slow transaction
					}
					if err := tx.Commit(); err != nil {
						t.Error(err)
						return
					}
					for j := 0; j < 3; j++ {
						written.Store(fmt.Sprintf("%s-%d", name, j), true)
					}
					txs.Add(1)
				}
			}
			wg.Add(3)
			go writer(0, false)
			go writer(1, true)
			go writer(2, true)
			// the writers and the poller overlap until the poller has published
			// rows in 3 runs (on MySQL about one a second: the guard holds the
			// poll below the second an open transaction began in), the guard
			// has held it back, and 10 transactions have committed meanwhile
			heldBack := func() int {
				mu.Lock()
				defer mu.Unlock()
				return strings.Count(logs.String(), "held back by an open transaction")
			}
			testenv.WaitFor(t, 60*time.Second, "3 publishing runs, the guard holding one back, 10 committed transactions", func() bool {
				return runsWithRows.Load() >= 3 && txs.Load() >= 10 && heldBack() > 0
			})
			close(stop)
			wg.Wait()
			var total int
			if err := e.d.QueryRow("SELECT COUNT(*) FROM widgets").Scan(&total); err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			deadline := time.Now().Add(30 * time.Second)
			for len(got) < total && time.Now().Before(deadline) {
				got = map[string]int{}
				for _, m := range e.consume("widgets") {
					got[fmt.Sprint(m.Value["name"])]++
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			var missing, twice []string
			written.Range(func(k, _ any) bool {
				switch got[k.(string)] {
				case 0:
					missing = append(missing, k.(string))
				case 1:
				default:
					twice = append(twice, k.(string))
				}
				return true
			})
			if len(missing) > 0 || len(twice) > 0 || len(got) != total {
				t.Fatalf("%d rows, %d published; missing %v; more than once %v", total, len(got), missing, twice)
			}
			// the scenario happened: the guard held the poll back, and (MySQL)
			// more rows shared a second than a batch holds
			held := heldBack()
			var tie int
			if err := e.d.QueryRow("SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM widgets GROUP BY updated_at) AS ties").Scan(&tie); err != nil {
				t.Fatal(err)
			}
			if held == 0 || (c.dialect == "mysql" && tie <= 3) {
				t.Fatalf("premise: upper bound held back %d times (want > 0), most rows on one timestamp %d (want > 3 on MySQL)", held, tie)
			}
			t.Logf("%d rows, each published once; the guard held the poll back %d times; up to %d rows on one timestamp", total, held, tie)
		})
	}
}
