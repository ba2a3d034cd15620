package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
)

// flaky fails the first `fails` ProduceSync calls with a retryable broker
// error (nothing is sent), then delegates to the real client. On each failing
// call it records the topic's locked_at, to show the heartbeat during back-off.
type flaky struct {
	p        Producer
	d        *db.DB
	fails    int32
	calls    atomic.Int32
	mu       sync.Mutex
	lockedAt []string
}

func (f *flaky) ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults {
	if f.calls.Add(1) > f.fails {
		return f.p.ProduceSync(ctx, rs...)
	}
	var at sql.NullString
	text := "TEXT"
	if f.d.Dialect.Name() == "mysql" {
		text = "CHAR"
	}
	_ = f.d.QueryRowContext(ctx, "SELECT CAST(locked_at AS "+text+") FROM kafka_topic_info").Scan(&at)
	f.mu.Lock()
	f.lockedAt = append(f.lockedAt, at.String)
	f.mu.Unlock()
	out := make(kgo.ProduceResults, len(rs))
	for i, r := range rs {
		out[i] = kgo.ProduceResult{Record: r, Err: kerr.NotLeaderForPartition}
	}
	return out
}

// Kafka errors other than too-large are retried with back-off while the lock
// is heartbeated (docs/deimos-compat.md §2.8); nothing is deleted until the send succeeds.
func TestKafkaErrorsBackOffWhileHeartbeating(t *testing.T) {
	for name, url := range testDBs(t) {
		t.Run(name, func(t *testing.T) { testKafkaErrorsBackOff(t, url(t)) })
	}
}

func testKafkaErrorsBackOff(t *testing.T, url string) {
	d := migrated(t, url)
	brokers := testenv.Brokers(t, 2, "hb")
	for i := 0; i < 30; i++ {
		rubyInsert(t, d, "hb", []byte(fmt.Sprint(i)), []byte(fmt.Sprint(i%3)), nil)
	}
	f := &flaky{p: producer(t, brokers), d: d, fails: 4}
	r, err := New(context.Background(), d, f, Options{HeartbeatEvery: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Summary, 1)
	go func() { s, _ := r.Run(ctx); done <- s }()
	waitEmpty(t, d, 15*time.Second)
	cancel()
	s := <-done
	if f.calls.Load() < 5 || s.Published != 30 || len(s.FailedTopics) != 0 {
		t.Fatalf("calls %d, summary %+v", f.calls.Load(), s)
	}
	// back-off: 1 s, 0.4 s, 0.4 s between the failing calls; heartbeats moved locked_at meanwhile
	f.mu.Lock()
	seen := append([]string{}, f.lockedAt...)
	f.mu.Unlock()
	if len(seen) != 4 || seen[0] == "" || seen[0] >= seen[3] {
		t.Fatalf("locked_at during the failing sends: %q (want it to advance: heartbeat)", seen)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM kafka_topic_info WHERE error = "+d.Dialect.Bool(false)+" AND locked_by IS NULL"); n != 1 {
		t.Error("topic not released cleanly")
	}
	if recs := consumeAll(t, brokers, 30, "hb"); len(recs) != 30 {
		t.Errorf("%d records in Kafka, want 30 (failed attempts send nothing)", len(recs))
	}

	// --once gives up after OnceAttempts: rows kept, topic errored, exit error.
	for i := 0; i < 5; i++ {
		rubyInsert(t, d, "hb", []byte("again"), nil, nil)
	}
	f2 := &flaky{p: producer(t, brokers), d: d, fails: 1000}
	s, err = run(t, d, f2, Options{OnceAttempts: 2, MaxBackoff: 100 * time.Millisecond})
	if err == nil || len(s.FailedTopics) != 1 || f2.calls.Load() != 2 {
		t.Fatalf("once with a failing broker: %v %+v calls %d", err, s, f2.calls.Load())
	}
	if n := count(t, d, "SELECT COUNT(*) FROM kafka_messages"); n != 5 {
		t.Errorf("%d rows left, want 5", n)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM kafka_topic_info WHERE error = "+d.Dialect.Bool(true)+" AND retries = 1"); n != 1 {
		t.Error("topic not errored")
	}
}

// Every database connection of the relay is killed (PostgreSQL:
// pg_terminate_backend; MySQL: KILL CONNECTION of each connection
// information_schema.processlist lists for the relay's own user) several
// times mid-run: the relay reconnects and continues, no topic errors,
// nothing is lost.
func TestDroppedDBConnectionsReconnect(t *testing.T) {
	for name, url := range servers(t) {
		t.Run(name, func(t *testing.T) {
			base := url(t)
			relayURL, kill := killableRelayURL(t, name, base)
			testDroppedConnections(t, base, relayURL, kill)
		})
	}
}

// killableRelayURL returns a URL for the relay's connections to the same
// database as base, and a function that kills every connection opened
// through it and says how many it killed.
func killableRelayURL(t *testing.T, dialect, base string) (string, func(admin *db.DB) int) {
	t.Helper()
	ctx := context.Background()
	switch dialect {
	case "postgres":
		const app = "deimos_outbox_reconnect_test"
		return base + "&application_name=" + app, func(admin *db.DB) int {
			var n int
			if err := admin.QueryRowContext(ctx, "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
	case "mysql":
		// The relay connects as a user of its own, so its connections are
		// the ones processlist lists under that user.
		u, err := neturl.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		dbName := strings.TrimPrefix(u.Path, "/")
		user := "relay_" + dbName
		root, err := db.Open(ctx, testenv.MariaDBAdminURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { root.Close() })
		for _, q := range []string{"CREATE USER '" + user + "'@'%'", "GRANT ALL ON `" + dbName + "`.* TO '" + user + "'@'%'"} {
			if _, err := root.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { _, _ = root.ExecContext(ctx, "DROP USER '"+user+"'@'%'") })
		relay := *u
		relay.User = neturl.User(user)
		return relay.String(), func(admin *db.DB) int {
			rows, err := root.QueryContext(ctx, "SELECT id FROM information_schema.processlist WHERE user = ?", user)
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
			n := 0
			for _, id := range ids {
				// A connection may have closed meanwhile (unknown thread id).
				if _, err := root.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id)); err == nil {
					n++
				}
			}
			return n
		}
	}
	t.Fatalf("no way to kill %s connections", dialect)
	return "", nil
}

func testDroppedConnections(t *testing.T, base, relayURL string, kill func(admin *db.DB) int) {
	admin := migrated(t, base)
	d := migrated(t, relayURL)
	topics := []string{"r1", "r2", "r3"}
	brokers := testenv.Brokers(t, 3, topics...)
	ins := func(from, to int) {
		var rows []Row
		for i := from; i < to; i++ {
			rows = append(rows, Row{Topic: topics[i%3], Message: []byte(fmt.Sprint(i)), Key: []byte(fmt.Sprint(i % 11))})
		}
		if err := Insert(context.Background(), admin.DB, admin.Dialect, rows, time.Now()); err != nil {
			t.Error(err)
		}
	}
	ins(0, 3000)
	r, err := New(context.Background(), d, producer(t, brokers), Options{Workers: 2, BatchSize: 20, PassInterval: 20 * time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Summary, 1)
	go func() { s, _ := r.Run(ctx); done <- s }()
	killed := 0
	for i := 0; i < 8; i++ {
		// Kill once the relay has moved on since the last kill (or started).
		left := count(t, admin, "SELECT COUNT(*) FROM kafka_messages")
		testenv.WaitFor(t, 30*time.Second, "the relay to delete rows since the last kill", func() bool {
			c := count(t, admin, "SELECT COUNT(*) FROM kafka_messages")
			return c < left || c == 0
		})
		ins(3000+i*100, 3100+i*100)
		killed += kill(admin)
	}
	const total = 3800
	testenv.Eventually(30*time.Second, func() bool { return count(t, admin, "SELECT COUNT(*) FROM kafka_messages") == 0 }) // checked below
	cancel()
	s := <-done
	if killed < 4 {
		t.Fatalf("only %d relay connections were killed; the test did not exercise reconnects", killed)
	}
	if n := count(t, admin, "SELECT COUNT(*) FROM kafka_messages"); n != 0 {
		t.Fatalf("%d rows left after %d killed connections (summary %+v)", n, killed, s)
	}
	if len(s.FailedTopics) != 0 {
		t.Errorf("topics errored by dropped connections: %v", s.FailedTopics)
	}
	if n := count(t, admin, "SELECT COUNT(*) FROM kafka_topic_info WHERE error = "+admin.Dialect.Bool(true)+" OR locked_by IS NOT NULL"); n != 0 {
		t.Errorf("%d topics errored or still locked after stop", n)
	}
	recs := consumeAll(t, brokers, total, topics...)
	seen := map[string]bool{}
	for _, rec := range recs {
		seen[string(rec.Value)] = true
	}
	if len(seen) != total {
		t.Fatalf("%d distinct of %d messages in Kafka", len(seen), total)
	}
	t.Logf("killed %d connections; %d records for %d rows", killed, len(recs), total)
}

// Optional headers (docs/deimos-compat.md §1.5): Insert writes them into the opt-in headers column,
// the relay sends them; a row whose headers are not a JSON object of strings
// is dead-lettered with the reason; without the column, headers are an error.
func TestOptionalHeaders(t *testing.T) {
	for name, url := range testDBs(t) {
		t.Run(name, func(t *testing.T) { testOptionalHeaders(t, url) })
	}
}

func testOptionalHeaders(t *testing.T, url func(testing.TB) string) {
	d := migrated(t, url(t), "outbox", "deadletter", "headers")
	brokers := testenv.Brokers(t, 1, "h")
	rows := []Row{
		{Topic: "h", Message: []byte("with"), Key: []byte("k"), Headers: map[string]string{"b": "2", "a": "1"}},
		{Topic: "h", Message: []byte("without"), Key: []byte("k")},
	}
	if err := Insert(context.Background(), d.DB, d.Dialect, rows, time.Now()); err != nil {
		t.Fatal(err)
	}
	var stored sql.NullString
	_ = d.QueryRowContext(context.Background(), "SELECT headers FROM kafka_messages ORDER BY id LIMIT 1").Scan(&stored)
	if stored.String != `{"a":"1","b":"2"}` {
		t.Fatalf("stored headers %q", stored.String)
	}
	_, _ = d.ExecContext(context.Background(), "INSERT INTO kafka_messages (topic, message, created_at, updated_at, headers) VALUES ('h', 'bad', '2024-01-01 00:00:00', '2024-01-01 00:00:00', '[1]')")
	s, err := run(t, d, producer(t, brokers), Options{})
	if err != nil || s.Published != 2 || s.DeadLettered != 1 {
		t.Fatalf("%+v %v", s, err)
	}
	recs := consumeAll(t, brokers, 2, "h")
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	h := recs[0].Headers
	if string(recs[0].Value) != "with" || len(h) != 2 || h[0].Key != "a" || string(h[0].Value) != "1" || h[1].Key != "b" || len(recs[1].Headers) != 0 {
		t.Errorf("records %+v / %+v", recs[0], recs[1])
	}
	if n := count(t, d, "SELECT COUNT(*) FROM deimos_dead_letters WHERE error LIKE '%headers column%'"); n != 1 {
		t.Error("bad headers row not dead-lettered with its reason")
	}
	// no headers column: Insert with headers fails clearly, without headers works
	d2 := migrated(t, url(t), "outbox")
	err = Insert(context.Background(), d2.DB, d2.Dialect, rows, time.Now())
	if !errors.Is(err, ErrNoHeadersColumn) || !strings.Contains(err.Error(), "migrate up --only headers") {
		t.Errorf("headers without the column: %v", err)
	}
	if err := Insert(context.Background(), d2.DB, d2.Dialect, rows[1:], time.Now()); err != nil {
		t.Error(err)
	}
}
