package poller

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/migrate"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// env is one test's database, broker and engine pieces.
type env struct {
	t       *testing.T
	d       *db.DB
	brokers []string
	cl      *kgo.Client
	enc     *encode.Engine
	cfg     *config.Config
	url     string
}

func newEnv(t *testing.T, dialect string) *env {
	t.Helper()
	ctx := context.Background()
	var url string
	for _, d := range testenv.Dialects(t) {
		if d.Name == dialect {
			url = d.URL(t)
		}
	}
	if url == "" {
		t.Fatalf("no test database for dialect %q", dialect)
	}
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := migrate.Up(ctx, d, []string{"poller", "outbox"}); err != nil {
		t.Fatal(err)
	}
	brokers := testenv.Brokers(t, 1, "widgets")
	cfg := &config.Config{
		Kafka:  config.Kafka{Brokers: brokers, Partitioner: "crc32"},
		Schema: config.Schema{Backend: "json", KeySubject: "prefixed"},
		Topics: []config.Topic{{Name: "widgets", Backend: "json", KeyConfig: config.KeyConfig{Field: "id"}}},
	}
	enc, err := encode.New(encode.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordDeliveryTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &env{t: t, d: d, brokers: brokers, cl: cl, enc: enc, cfg: cfg, url: url}
}

func (e *env) exec(q string, args ...any) {
	e.t.Helper()
	if _, err := e.d.Exec(e.d.Rebind(q), args...); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
}

func (e *env) createWidgets() {
	e.t.Helper()
	e.exec(`CREATE TABLE widgets (id INTEGER PRIMARY KEY, name VARCHAR(50), price INTEGER, active BOOLEAN, updated_at ` + e.tsType() + `, state VARCHAR(20), published_at ` + e.tsType() + `)`)
}

// tsType is the column type ActiveRecord's datetime gets in the dialect.
// On MySQL it is datetime, whole seconds (Rails 5 and 6): the precision that
// makes ties on the timestamp common.
func (e *env) tsType() string {
	switch e.d.Dialect.Name() {
	case "sqlite", "mysql":
		return "DATETIME"
	}
	return "TIMESTAMP"
}

// insert writes a widget with an explicit UTC timestamp (as ActiveRecord would).
func (e *env) insert(id int, name string, ts time.Time) {
	e.t.Helper()
	e.exec("INSERT INTO widgets (id, name, price, active, updated_at) VALUES (?, ?, ?, ?, ?)", id, name, id*10, id%2 == 0, tsArg(e.d.Dialect, ts))
}

func (e *env) settings(mut ...func(*Settings)) Settings {
	s := Settings{
		Name: "WidgetProducer", Table: "widgets", Topic: "widgets", Backend: "kafka", Mode: TimeBased,
		TimestampColumn: "updated_at", IDColumn: "id", RunEvery: 50 * time.Millisecond, Delay: time.Millisecond,
		StartFromBegin: true, BatchSize: 2, Retries: 1, LateCommitGuard: "all",
	}
	for _, m := range mut {
		m(&s)
	}
	return s
}

func (e *env) engine(o ...func(*Options)) *Engine {
	e.t.Helper()
	opts := Options{DB: e.d, Encoder: e.enc, Kafka: e.cl, RetryWait: 10 * time.Millisecond, RestartWait: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(tWriter{e.t}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, f := range o {
		f(&opts)
	}
	eng, err := New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return eng
}

func (e *env) runOnce(s Settings, o ...func(*Options)) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.engine(o...).Run(ctx, []Settings{s}, true); err != nil {
		e.t.Fatalf("run: %v", err)
	}
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

type msg struct {
	Key   string
	Value map[string]any
	Tomb  bool
}

// consume reads every record of the topic so far.
func (e *env) consume(topic string) []msg {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	// how many records are there?
	var out []msg
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			m := msg{Key: string(r.Key), Tomb: r.Value == nil}
			if r.Value != nil {
				if err := json.Unmarshal(r.Value, &m.Value); err != nil {
					e.t.Fatalf("value %q: %v", r.Value, err)
				}
			}
			out = append(out, m)
		})
		if n == 0 && len(out) > 0 {
			break
		}
	}
	return out
}

// versions counts published (id, name) pairs.
func versions(ms []msg) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		if m.Tomb {
			out["tomb:"+m.Key]++
			continue
		}
		out[fmt.Sprintf("%v:%v", m.Value["id"], m.Value["name"])]++
	}
	return out
}

func expectOnce(t *testing.T, got map[string]int, want ...string) {
	t.Helper()
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(got) != len(want) {
		t.Fatalf("published %v, want each of %v once", keys, want)
	}
	for _, w := range want {
		if got[w] != 1 {
			t.Fatalf("%s published %d times (all: %v)", w, got[w], got)
		}
	}
}

func TestTimeBasedTiesAndUpdates(t *testing.T) {
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			e := newEnv(t, dl.Name)
			e.createWidgets()
			base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
			// five rows on one timestamp (ties cross batch boundaries with batch_size 2)
			for i := 1; i <= 5; i++ {
				e.insert(i, fmt.Sprintf("w%d", i), base)
			}
			e.insert(6, "w6", base.Add(time.Microsecond*1500))
			e.insert(7, "w7", base.Add(time.Second))
			s := e.settings()
			e.runOnce(s)
			expectOnce(t, versions(e.consume("widgets")), "1:w1", "2:w2", "3:w3", "4:w4", "5:w5", "6:w6", "7:w7")

			// an update of row 3 and a new row 8: published once each
			e.exec("UPDATE widgets SET name = ?, updated_at = ? WHERE id = 3", "w3b", tsArg(e.d.Dialect, time.Now().UTC().Add(-time.Minute)))
			e.insert(8, "w8", time.Now().UTC().Add(-time.Minute))
			e.runOnce(s)
			e.runOnce(s) // an empty run publishes nothing
			expectOnce(t, versions(e.consume("widgets")), "1:w1", "2:w2", "3:w3", "3:w3b", "4:w4", "5:w5", "6:w6", "7:w7", "8:w8")

			// the cursor after an empty poll is the poll's upper bound, not now
			pi, err := LoadPollInfo(context.Background(), e.d, e.d, "WidgetProducer")
			if err != nil || !pi.Found {
				t.Fatalf("poll info: %v %v", pi, err)
			}
			if got := pi.Cursor.Time(); time.Since(got) > time.Minute || got.After(time.Now()) {
				t.Fatalf("cursor %v after empty poll", got)
			}
			// the key is the id field, JSON-encoded; a boolean column (tinyint(1)
			// on MySQL) is a boolean, a varchar a string
			for _, m := range e.consume("widgets") {
				if !strings.HasPrefix(m.Key, `{"id":`) {
					t.Fatalf("key %q", m.Key)
				}
				id, _ := m.Value["id"].(float64)
				if m.Value["active"] != (int(id)%2 == 0) || m.Value["name"] != fmt.Sprintf("w%d", int(id)) && m.Value["name"] != "w3b" {
					t.Fatalf("value %v: active %T %v, name %T %v", m.Value, m.Value["active"], m.Value["active"], m.Value["name"], m.Value["name"])
				}
			}
		})
	}
}

// A row written during a poll with a timestamp inside the delay window is
// published by the next poll (Deimos's touch-to-now skipped these).
func TestRowsInsertedDuringPoll(t *testing.T) {
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			e := newEnv(t, dl.Name)
			e.createWidgets()
			old := time.Now().UTC().Add(-time.Hour)
			e.insert(1, "w1", old)
			e.insert(2, "w2", old.Add(time.Second))
			e.insert(3, "w3", old.Add(2*time.Second))
			s := e.settings(func(s *Settings) { s.Delay = 300 * time.Millisecond })
			var once sync.Once
			hook := &hookEncoder{Encoder: e.enc, before: func() {
				once.Do(func() {
					// committed during the poll, stamped now (inside the delay window)
					e.insert(4, "w4", time.Now().UTC())
				})
			}}
			e.runOnce(s, func(o *Options) { o.Encoder = hook })
			e.runOnce(s) // empty: the cursor moves to now-delay, not to now
			// clock time under test: w4 must be older than now - delay (300 ms)
			time.Sleep(400 * time.Millisecond)
			e.runOnce(s)
			expectOnce(t, versions(e.consume("widgets")), "1:w1", "2:w2", "3:w3", "4:w4")
		})
	}
}

type hookEncoder struct {
	Encoder
	before func()
}

func (h *hookEncoder) Encode(ctx context.Context, s encode.Spec, m encode.Message) (encode.Encoded, error) {
	h.before()
	return h.Encoder.Encode(ctx, s, m)
}

// A transaction that writes a row stamped at its start and commits after a
// poll: the late-commit guard holds the cursor back so the row is still
// published; with the guard off it is lost (the test can fail). PostgreSQL's
// now() is the transaction's start; on MySQL the transaction is started
// before the INSERT stamps the row with UTC_TIMESTAMP() (whole seconds), and
// the committed row 3 lands on the same second or the next: with the guard
// off the cursor passes (ts, 2) and row 2 is never read.
func TestLateCommit(t *testing.T) {
	for _, c := range []struct{ dialect, begin, stamp string }{
		{"postgres", "BEGIN", "now() AT TIME ZONE 'UTC'"},
		{"mysql", "START TRANSACTION WITH CONSISTENT SNAPSHOT", "UTC_TIMESTAMP()"},
	} {
		for _, guard := range []string{"", "all", "writers", "off"} {
			t.Run(c.dialect+"/"+guard, func(t *testing.T) {
				e := newEnv(t, c.dialect)
				e.createWidgets()
				e.insert(1, "w1", time.Now().UTC().Add(-time.Hour))
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
				if _, err := conn.ExecContext(ctx, "INSERT INTO widgets (id, name, updated_at) VALUES (2, 'late', "+c.stamp+")"); err != nil {
					t.Fatal(err)
				}
				// clock time under test: the open transaction's timestamp must be older than the next row's
				time.Sleep(200 * time.Millisecond)
				e.insert(3, "w3", time.Now().UTC().Add(-50*time.Millisecond)) // committed, newer than the open transaction
				s := e.settings(func(s *Settings) { s.Delay = 10 * time.Millisecond; s.LateCommitGuard = guard })
				e.runOnce(s)
				if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
					t.Fatal(err)
				}
				// clock time under test: the committed row must be older than now - delay (10 ms)
				time.Sleep(50 * time.Millisecond)
				e.runOnce(s)
				got := versions(e.consume("widgets"))
				if guard == "off" {
					if got["2:late"] != 0 {
						t.Fatalf("without the guard the late row was expected to be lost (test premise); got %v", got)
					}
					return
				}
				expectOnce(t, got, "1:w1", "2:late", "3:w3")
			})
		}
	}
}

// A transaction that has only read holds the poll's upper bound back with
// late_commit_guard all, not with writers; one that has written holds it back
// with both.
func TestLateCommitGuardReaders(t *testing.T) {
	for _, c := range []struct{ dialect, begin, read, write string }{
		{"postgres", "BEGIN", "SELECT COUNT(*) FROM widgets", "UPDATE widgets SET name = 'x' WHERE id = 1"},
		{"mysql", "START TRANSACTION WITH CONSISTENT SNAPSHOT", "SELECT COUNT(*) FROM widgets", "UPDATE widgets SET name = 'x' WHERE id = 1"},
	} {
		t.Run(c.dialect, func(t *testing.T) {
			e := newEnv(t, c.dialect)
			e.createWidgets()
			e.insert(1, "w1", time.Now().UTC().Add(-time.Hour))
			ctx := context.Background()
			conn, err := e.d.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			begun := time.Now().UTC()
			for _, q := range []string{c.begin, c.read} {
				if _, err := conn.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			defer conn.ExecContext(ctx, "ROLLBACK")
			// clock time under test: the transaction's start is in the past by
			// more than the whole second MySQL reports it in
			time.Sleep(1100 * time.Millisecond)
			heldBack := func(guard string) bool {
				t.Helper()
				var to time.Time
				e.runOnce(e.settings(func(s *Settings) { s.LateCommitGuard = guard }), func(o *Options) {
					o.OnRun = func(st RunStats) { to = st.To }
				})
				if to.IsZero() {
					t.Fatal("no run")
				}
				return to.Before(begun.Add(time.Second))
			}
			if !heldBack("all") {
				t.Fatal("guard all: an open reading transaction did not hold the upper bound back")
			}
			if heldBack("writers") {
				t.Fatal("guard writers: a transaction that only read held the upper bound back")
			}
			if _, err := conn.ExecContext(ctx, c.write); err != nil {
				t.Fatal(err)
			}
			if !heldBack("writers") {
				t.Fatal("guard writers: a transaction that wrote did not hold the upper bound back")
			}
		})
	}
}

func TestFullTable(t *testing.T) {
	e := newEnv(t, "sqlite")
	e.createWidgets()
	for i := 1; i <= 3; i++ {
		e.insert(i, fmt.Sprintf("w%d", i), time.Now().UTC().Add(-time.Hour))
	}
	s := e.settings(func(s *Settings) { s.FullTable = true })
	e.runOnce(s)
	e.runOnce(s)
	got := versions(e.consume("widgets"))
	for _, k := range []string{"1:w1", "2:w2", "3:w3"} {
		if got[k] != 2 {
			t.Fatalf("full table: %s published %d times, want 2 (%v)", k, got[k], got)
		}
	}
}

func TestStateBased(t *testing.T) {
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			e := newEnv(t, dl.Name)
			e.createWidgets()
			old := time.Now().UTC().Add(-time.Hour)
			for i := 1; i <= 5; i++ {
				e.insert(i, fmt.Sprintf("w%d", i), old)
			}
			e.exec("UPDATE widgets SET state = 'failed' WHERE id = 5")
			s := e.settings(func(s *Settings) {
				s.Mode = StateBased
				s.StateColumn, s.PublishedState, s.FailedState = "state", "published", "failed"
				s.PublishTimestampColumn = "published_at"
			})
			e.runOnce(s)
			e.runOnce(s)
			expectOnce(t, versions(e.consume("widgets")), "1:w1", "2:w2", "3:w3", "4:w4")
			var n int
			if err := e.d.QueryRow("SELECT COUNT(*) FROM widgets WHERE state = 'published' AND published_at IS NOT NULL").Scan(&n); err != nil || n != 4 {
				t.Fatalf("published rows %d %v", n, err)
			}
			// a row set back to unpublished goes out again
			e.exec("UPDATE widgets SET state = NULL, name = 'w2b' WHERE id = 2")
			e.runOnce(s)
			expectOnce(t, versions(e.consume("widgets")), "1:w1", "2:w2", "2:w2b", "3:w3", "4:w4")
		})
	}
}

func TestOutboxBackend(t *testing.T) {
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			e := newEnv(t, dl.Name)
			e.createWidgets()
			for i := 1; i <= 5; i++ {
				e.insert(i, fmt.Sprintf("w%d", i), time.Now().UTC().Add(-time.Hour))
			}
			e.cfg.Producers.TopicPrefix = "dev."
			s := e.settings(func(s *Settings) { s.Backend = "outbox" })
			e.runOnce(s, func(o *Options) { o.Kafka = nil })
			e.runOnce(s, func(o *Options) { o.Kafka = nil })
			rows, err := e.d.Query("SELECT topic, message, " + e.d.Q("key") + ", partition_key FROM kafka_messages ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				var topic string
				var message, key []byte
				var pk sql.NullString
				if err := rows.Scan(&topic, &message, &key, &pk); err != nil {
					t.Fatal(err)
				}
				n++
				if topic != "dev.widgets" || !strings.Contains(string(message), fmt.Sprintf(`"name":"w%d"`, n)) || pk.String != fmt.Sprint(n) {
					t.Fatalf("row %d: %s %s %s %v", n, topic, message, key, pk)
				}
			}
			if n != 5 {
				t.Fatalf("%d kafka_messages rows, want 5", n)
			}
		})
	}
}

func TestDeletionsAsTombstones(t *testing.T) {
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			e := newEnv(t, dl.Name)
			e.createWidgets()
			e.exec("CREATE TABLE deleted_widgets (id INTEGER PRIMARY KEY, widget_id INTEGER, deleted_at " + e.tsType() + ")")
			e.insert(1, "w1", time.Now().UTC().Add(-time.Hour))
			e.exec("INSERT INTO deleted_widgets (id, widget_id, deleted_at) VALUES (1, 7, ?), (2, 8, ?)", tsArg(e.d.Dialect, time.Now().UTC().Add(-time.Hour)), tsArg(e.d.Dialect, time.Now().UTC().Add(-time.Minute)))
			s := e.settings(func(s *Settings) {
				s.Deletions = &DeletionSettings{Table: "deleted_widgets", KeyColumn: "widget_id", TimestampColumn: "deleted_at", IDColumn: "id"}
			})
			e.runOnce(s)
			e.runOnce(s)
			expectOnce(t, versions(e.consume("widgets")), "1:w1", `tomb:{"id":7}`, `tomb:{"id":8}`)
			pi, err := LoadPollInfo(context.Background(), e.d, e.d, "WidgetProducer:deletions")
			if err != nil || !pi.Found {
				t.Fatalf("deletions cursor: %+v %v", pi, err)
			}
		})
	}
}

func TestHostileNamesRejected(t *testing.T) {
	base := config.Poller{Name: "p", Table: "widgets", Topic: "widgets"}
	cases := []struct {
		name string
		mut  func(*config.Poller)
		want string
	}{
		{"table", func(p *config.Poller) { p.Table = `widgets"; DROP TABLE x; --` }, "table"},
		{"timestamp", func(p *config.Poller) { p.TimestampColumn = "updated_at) OR (1=1" }, "timestamp_column"},
		{"id", func(p *config.Poller) { p.IDColumn = "id--" }, "id_column"},
		{"mapping", func(p *config.Poller) { p.Mapping = map[string]string{"a b": "x"} }, "mapping"},
		{"state", func(p *config.Poller) { p.StateColumn = "st`x" }, "state_column"},
		{"deletions", func(p *config.Poller) { p.Deletions = &config.Deletions{Table: "a.b.c"} }, "deletions.table"},
		{"where semicolon", func(p *config.Poller) { p.Where = "1=1; DELETE FROM widgets" }, "where"},
		{"where comment", func(p *config.Poller) { p.Where = "active -- x" }, "where"},
		{"where block comment", func(p *config.Poller) { p.Where = "active /* x */" }, "where"},
		{"where quote", func(p *config.Poller) { p.Where = "name = 'x" }, "where"},
		{"mode", func(p *config.Poller) { p.Mode = "weird" }, "mode"},
		{"state without published", func(p *config.Poller) { p.Mode = "state_based"; p.StateColumn = "s" }, "published_state"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := base
			c.mut(&p)
			_, err := Resolve(&config.Config{Pollers: []config.Poller{p}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want mention of %s", err, c.want)
			}
		})
	}
	// a semicolon inside a string literal is fine
	p := base
	p.Where = "name <> 'a;b' AND active"
	if _, err := Resolve(&config.Config{Pollers: []config.Poller{p}}); err != nil {
		t.Fatal(err)
	}
}

func TestResolveDefaults(t *testing.T) {
	inf := -1
	ss, err := Resolve(&config.Config{Pollers: []config.Poller{
		{Name: "A", Table: "a", Topic: "t"},
		{Name: "B", Table: "s.b", Topic: "t", Retries: &inf, Backend: "outbox"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	a := ss[0]
	if a.TimestampColumn != "updated_at" || a.IDColumn != "id" || a.RunEvery != time.Minute || a.Delay != 2*time.Second ||
		a.BatchSize != 1000 || a.Retries != 1 || !a.StartFromBegin || a.Mode != TimeBased || a.Backend != "kafka" {
		t.Fatalf("defaults: %+v", a)
	}
	if ss[1].Retries != -1 || ss[1].Backend != "outbox" {
		t.Fatalf("B: %+v", ss[1])
	}
	if _, err := Resolve(&config.Config{Pollers: []config.Poller{{Name: "A", Table: "a", Topic: "t"}, {Name: "A", Table: "b", Topic: "t"}}}); err == nil {
		t.Fatal("duplicate names accepted")
	}
}

// A hostile table name that slipped past config (Settings built directly) is still refused.
func TestHostileNameAtRun(t *testing.T) {
	e := newEnv(t, "sqlite")
	e.createWidgets()
	s := e.settings(func(s *Settings) { s.Table = `widgets" WHERE 1=1; --` })
	err := e.engine().Run(context.Background(), []Settings{s}, true)
	if err == nil || !strings.Contains(err.Error(), "invalid SQL name") {
		t.Fatalf("err = %v", err)
	}
}

// Encode errors: the batch is retried `retries` times, then skipped (cursor moves on).
func TestRetriesThenMoveOn(t *testing.T) {
	e := newEnv(t, "sqlite")
	e.createWidgets()
	for i := 1; i <= 4; i++ {
		e.insert(i, fmt.Sprintf("w%d", i), time.Now().UTC().Add(-time.Hour))
	}
	calls := 0
	bad := &failEncoder{Encoder: e.enc, fail: func(m encode.Message) bool {
		p, _ := m.Value.(map[string]any)
		if p["id"] == int64(2) {
			calls++
			return true
		}
		return false
	}}
	var stats []RunStats
	var mu sync.Mutex
	s := e.settings(func(s *Settings) { s.Retries = 2 })
	e.runOnce(s, func(o *Options) {
		o.Encoder = bad
		o.OnRun = func(r RunStats) { mu.Lock(); stats = append(stats, r); mu.Unlock() }
	})
	if calls != 3 {
		t.Fatalf("row 2 encoded %d times, want 3 (1 + 2 retries)", calls)
	}
	if len(stats) != 1 || stats[0].ErroredBatches != 1 || stats[0].Messages != 4 {
		t.Fatalf("stats %+v", stats)
	}
	expectOnce(t, versions(e.consume("widgets")), "1:w1", "3:w3", "4:w4")
}

type failEncoder struct {
	Encoder
	fail func(encode.Message) bool
}

func (f *failEncoder) Encode(ctx context.Context, s encode.Spec, m encode.Message) (encode.Encoded, error) {
	if f.fail(m) {
		return encode.Encoded{}, fmt.Errorf("boom")
	}
	return f.Encoder.Encode(ctx, s, m)
}

func TestConfigRetriesNull(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want int
	}{
		{"pollers:\n  - {name: A, table: a, topic: t}\n", 1},
		{"pollers:\n  - {name: A, table: a, topic: t, retries: null}\n", -1},
		{"pollers:\n  - {name: A, table: a, topic: t, retries: 3}\n", 3},
	} {
		var cfg config.Config
		if err := config.Parse([]byte(c.yaml), "x.yaml", func(string) (string, bool) { return "", false }, &cfg); err != nil {
			t.Fatal(err)
		}
		ss, err := Resolve(&cfg)
		if err != nil || ss[0].Retries != c.want {
			t.Fatalf("%q: retries %v, want %d (%v)", c.yaml, ss, c.want, err)
		}
	}
	var cfg config.Config
	err := config.Parse([]byte("pollers:\n  - {name: A, table: a, topic: t, bogus: 1}\n"), "x.yaml", func(string) (string, bool) { return "", false }, &cfg)
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("unknown key: %v", err)
	}
}
