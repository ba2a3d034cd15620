package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

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

// PostgreSQL timestamps stored with and without time zone (the session in a
// non-UTC zone), Kafka and outbox backends: ties, updates, and a row committed
// late by a long transaction are each published exactly once.
func TestPostgresColumnTypesBackendsLateCommit(t *testing.T) {
	for _, colType := range []string{"TIMESTAMP", "TIMESTAMPTZ"} {
		for _, backend := range []string{"kafka", "outbox"} {
			t.Run(colType+"/"+backend, func(t *testing.T) {
				e := newEnv(t, "postgres")
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
				e.exec(`CREATE TABLE widgets (id INTEGER PRIMARY KEY, name VARCHAR(50), price INTEGER, active BOOLEAN, updated_at ` + colType + `)`)
				nowExpr := "now()"
				if colType == "TIMESTAMP" {
					nowExpr = "now() AT TIME ZONE 'UTC'" // Rails: UTC wall time
				}
				base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
				for i := 1; i <= 3; i++ {
					e.insert(i, fmt.Sprintf("w%d", i), base) // a tie across batches of 2
				}
				ctx := context.Background()
				tx, err := e.d.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback()
				if _, err := tx.Exec("INSERT INTO widgets (id, name, updated_at) VALUES (4, 'late', " + nowExpr + ")"); err != nil {
					t.Fatal(err)
				}
				time.Sleep(200 * time.Millisecond)
				e.insert(5, "w5", time.Now().UTC().Add(-50*time.Millisecond))
				s := e.settings(func(s *Settings) { s.Delay = 10 * time.Millisecond; s.Backend = backend })
				noKafka := func(o *Options) {
					if backend == "outbox" {
						o.Kafka = nil
					}
				}
				e.runOnce(s, noKafka)
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
				e.exec("UPDATE widgets SET name = 'w2b', updated_at = " + nowExpr + " WHERE id = 2")
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

// A role that cannot see other roles' sessions gets a warning that the
// late-commit guard is blind to them.
func TestLateCommitGuardHiddenSessionsWarn(t *testing.T) {
	e := newEnv(t, "postgres")
	e.createWidgets()
	e.insert(1, "w1", time.Now().UTC().Add(-time.Hour))
	var dbname string
	if err := e.d.QueryRow("SELECT current_database()").Scan(&dbname); err != nil {
		t.Fatal(err)
	}
	role := "poller_" + strings.ReplaceAll(dbname, "-", "_")
	e.exec(`CREATE ROLE "` + role + `" LOGIN`)
	t.Cleanup(func() { e.d.Exec(`DROP OWNED BY "` + role + `"`) })
	e.exec(`GRANT ALL ON ALL TABLES IN SCHEMA public TO "` + role + `"`)
	e.exec(`GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "` + role + `"`)
	// an open transaction of the (superuser) owner
	tx, err := e.d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("SELECT 1"); err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(e.url, "postgres@", role+"@", 1)
	d2 := openURL(t, url)
	var logs strings.Builder
	var mu sync.Mutex
	eng, err := New(Options{DB: d2, Encoder: e.enc, Kafka: e.cl, Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Run(context.Background(), []Settings{e.settings()}, true); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "pg_read_all_stats") {
		t.Fatalf("no warning about hidden sessions:\n%s", logs.String())
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
