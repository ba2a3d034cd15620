package outbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/kafkaclient"
	"github.com/deimos-cli/deimos/pkg/migrate"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// testDBs is every dialect (testenv.Dialects); servers leaves SQLite out,
// for the scenarios that need several connections writing at once.
func testDBs(t testing.TB) map[string]func(testing.TB) string {
	out := map[string]func(testing.TB) string{}
	for _, d := range testenv.Dialects(t) {
		out[d.Name] = d.URL
	}
	return out
}

func servers(t testing.TB) map[string]func(testing.TB) string {
	out := testDBs(t)
	delete(out, "sqlite")
	return out
}

func migrated(t *testing.T, url string, groups ...string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if len(groups) == 0 {
		groups = []string{"outbox", "deadletter"}
	}
	if _, err := migrate.Up(context.Background(), d, groups); err != nil {
		t.Fatal(err)
	}
	return d
}

func fetch(ctx context.Context, d *db.DB, topic string, limit int) ([]Message, error) {
	st, err := newStore(ctx, d)
	if err != nil {
		return nil, err
	}
	return st.fetch(ctx, topic, limit)
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func producer(t *testing.T, brokers []string, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts := append(ProducerOpts(10*time.Second, 0), extra...)
	cl, err := kafkaclient.NewClient(config.Kafka{Brokers: brokers}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// consumeAll reads every record of the topics from the beginning.
func consumeAll(t *testing.T, brokers []string, want int, topics ...string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	// anything beyond want (duplicates) arrives quickly
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	for {
		fs := cl.PollFetches(ctx2)
		if ctx2.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func run(t *testing.T, d *db.DB, p Producer, opts Options) (Summary, error) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	opts.Once = true
	r, err := New(context.Background(), d, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r.Run(context.Background())
}

func count(t *testing.T, d *db.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := d.QueryRowContext(context.Background(), d.Rebind(q), args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// rubyInsert writes a row the way ActiveRecord does for Deimos (explicit SQL, not our Insert).
func rubyInsert(t *testing.T, d *db.DB, topic string, msg, key []byte, pk any) {
	t.Helper()
	now := time.Now().UTC().Format("2006-01-02 15:04:05.000000")
	q := "INSERT INTO " + d.Q("kafka_messages") + " (" + d.Q("topic") + ", " + d.Q("message") + ", " + d.Q("key") + ", " + d.Q("partition_key") + ", " +
		d.Q("created_at") + ", " + d.Q("updated_at") + ") VALUES (?, ?, ?, ?, ?, ?)"
	_, err := d.ExecContext(context.Background(), d.Rebind(q), topic, bytesArg(msg), bytesArg(key), pk, now, now)
	if err != nil {
		t.Fatal(err)
	}
}

func TestInsertWritesDeimosColumns(t *testing.T) {
	for name, url := range testDBs(t) {
		t.Run(name, func(t *testing.T) {
			d := migrated(t, url(t))
			ctx := context.Background()
			pk := "123"
			now := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.FixedZone("X", 3600))
			rows := []Row{
				{Topic: "t1", Message: []byte{0, 1, 2}, Key: []byte("k"), PartitionKey: &pk},
				{Topic: "t1", Message: nil, Key: []byte("k")},
				{Topic: "t2", Message: []byte{}, Key: nil},
			}
			for i := 0; i < 2500; i++ { // crosses chunk boundaries
				rows = append(rows, Row{Topic: "bulk", Message: []byte{byte(i)}})
			}
			err := d.Tx(ctx, func(tx *sql.Tx) error { return Insert(ctx, tx, d.Dialect, rows, now) })
			if err != nil {
				t.Fatal(err)
			}
			got, err := fetch(ctx, d, "t1", 10)
			if err != nil || len(got) != 2 {
				t.Fatalf("%v %v", got, err)
			}
			if !bytes.Equal(got[0].Message, []byte{0, 1, 2}) || string(got[0].Key) != "k" || got[0].PartitionKey == nil || *got[0].PartitionKey != "123" {
				t.Errorf("row0 %+v", got[0])
			}
			if got[1].Message != nil || got[1].PartitionKey != nil {
				t.Errorf("row1 %+v", got[1])
			}
			if !got[0].CreatedAt.Equal(now.UTC()) {
				t.Errorf("created_at %v, want %v (UTC wall time)", got[0].CreatedAt, now.UTC())
			}
			got, _ = fetch(ctx, d, "t2", 10)
			if len(got) != 1 || got[0].Message == nil || len(got[0].Message) != 0 || got[0].Key != nil {
				t.Errorf("t2 %+v", got)
			}
			if n := count(t, d, "SELECT COUNT(*) FROM kafka_messages WHERE topic = 'bulk'"); n != 2500 {
				t.Errorf("bulk count %d", n)
			}
			if name == "sqlite" {
				var ca string
				_ = d.QueryRowContext(ctx, "SELECT CAST(created_at AS TEXT) FROM kafka_messages LIMIT 1").Scan(&ca)
				if ca != "2024-05-06 06:08:09.123456" {
					t.Errorf("stored created_at %q", ca)
				}
			}
			if err := Insert(ctx, d, d.Dialect, []Row{{Message: []byte("x")}}, now); err == nil {
				t.Error("row without topic accepted")
			}
		})
	}
}

func TestRelaySendsBytesVerbatimOnCRC32Partitions(t *testing.T) {
	for name, url := range testDBs(t) {
		t.Run(name, func(t *testing.T) {
			const parts = 7
			brokers := testenv.Brokers(t, parts, "orders", "users")
			d := migrated(t, url(t))
			type exp struct {
				val, key []byte
				part     int
			}
			var want []exp
			for i := 0; i < 60; i++ {
				var key []byte
				var pk any
				val := []byte(fmt.Sprintf("\x00\x00\x00\x00\x07payload-%d\xff", i))
				hashOn := []byte(nil)
				switch i % 4 {
				case 0: // key and partition_key (Deimos: raw key string)
					key = []byte(fmt.Sprintf("\x02enc-%d", i))
					pk = fmt.Sprint(i)
					hashOn = []byte(fmt.Sprint(i))
				case 1: // key only
					key = []byte(fmt.Sprintf("k-%d", i))
					hashOn = key
				case 2: // tombstone with key
					key = []byte(fmt.Sprintf("k-%d", i))
					val = nil
					hashOn = key
				case 3: // no key, no partition key
				}
				rubyInsert(t, d, "orders", val, key, pk)
				part := -1
				if hashOn != nil {
					part = kafkaclient.CRC32Hasher(hashOn, parts)
				}
				want = append(want, exp{val, key, part})
			}
			// via our Insert too
			pk := "user-9"
			if err := Insert(context.Background(), d.DB, d.Dialect, []Row{{Topic: "users", Message: []byte("u"), Key: []byte("k9"), PartitionKey: &pk}}, time.Now()); err != nil {
				t.Fatal(err)
			}
			s, err := run(t, d, producer(t, brokers), Options{BatchSize: 16, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			if s.Processed != 61 || s.Published != 61 {
				t.Errorf("summary %+v", s)
			}
			recs := consumeAll(t, brokers, 60, "orders")
			if len(recs) != 60 {
				t.Fatalf("got %d records, want 60", len(recs))
			}
			// per-partition order must follow id order; match each record to its row
			used := make([]bool, len(want))
			lastIdx := map[int32]int{}
			for _, r := range recs {
				found := -1
				for i, w := range want {
					if !used[i] && bytes.Equal(w.key, r.Key) && bytes.Equal(w.val, r.Value) && (w.val == nil) == (r.Value == nil) && (w.key == nil) == (r.Key == nil) {
						found = i
						break
					}
				}
				if found < 0 {
					t.Fatalf("unexpected record key=%q value=%q", r.Key, r.Value)
				}
				used[found] = true
				if w := want[found]; w.part >= 0 && int32(w.part) != r.Partition {
					t.Errorf("row %d on partition %d, want %d", found, r.Partition, w.part)
				}
				if li, ok := lastIdx[r.Partition]; ok && li > found {
					t.Errorf("partition %d out of order: %d after %d", r.Partition, found, li)
				}
				lastIdx[r.Partition] = found
			}
			urecs := consumeAll(t, brokers, 1, "users")
			if len(urecs) != 1 || urecs[0].Partition != int32(kafkaclient.CRC32Hasher([]byte("user-9"), parts)) {
				t.Errorf("users record %+v", urecs)
			}
			if n := count(t, d, "SELECT COUNT(*) FROM kafka_messages"); n != 0 {
				t.Errorf("%d rows left", n)
			}
			// kafka_topic_info: lock cleared, as clear_lock leaves it
			if n := count(t, d, "SELECT COUNT(*) FROM kafka_topic_info WHERE locked_by IS NULL AND locked_at IS NULL AND error = "+d.Dialect.Bool(false)+" AND retries = 0 AND last_processed_at IS NOT NULL"); n != 2 {
				t.Errorf("kafka_topic_info rows in cleared state: %d, want 2", n)
			}
		})
	}
}

func TestCompact(t *testing.T) {
	m := func(id int64, k string) Message {
		var key []byte
		if k != "-" {
			key = []byte(k)
		}
		return Message{ID: id, Key: key}
	}
	ids := func(ms []Message) string {
		var s []string
		for _, x := range ms {
			s = append(s, fmt.Sprint(x.ID))
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		in   []Message
		want string
	}{
		{[]Message{m(1, "k1"), m(2, "k2"), m(3, "k1")}, "2,3"},
		{[]Message{m(1, "k1"), m(2, "k2")}, "1,2"},
		{[]Message{m(1, "-"), m(2, "k"), m(3, "k")}, "1,2,3"}, // first key blank: no compaction
		{[]Message{m(1, ""), m(2, "k"), m(3, "k")}, "1,2,3"},
		{[]Message{m(1, "a"), m(2, "-"), m(3, "-"), m(4, "a"), m(5, "")}, "3,4,5"}, // nils count as one key; "" differs from nil
		{nil, ""},
	} {
		if got := ids(Compact(tc.in)); got != tc.want {
			t.Errorf("Compact(%s) = %s, want %s", ids(tc.in), got, tc.want)
		}
	}
}

func TestRelayCompactsConfiguredTopics(t *testing.T) {
	for name, url := range testDBs(t) {
		t.Run(name, func(t *testing.T) { testRelayCompacts(t, url(t)) })
	}
}

func testRelayCompacts(t *testing.T, url string) {
	d := migrated(t, url)
	brokers := testenv.Brokers(t, 3, "c", "n")
	for _, topic := range []string{"c", "n"} {
		for i := 0; i < 10; i++ {
			rubyInsert(t, d, topic, []byte(fmt.Sprint(i)), []byte(fmt.Sprint("k", i%3)), nil)
		}
	}
	s, err := run(t, d, producer(t, brokers), Options{Compact: config.TopicMatch{Topics: []string{"c"}}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Processed != 20 || s.Published != 13 {
		t.Errorf("summary %+v, want 20 processed, 13 published", s)
	}
	got := map[string]string{}
	for _, r := range consumeAll(t, brokers, 3, "c") {
		got[string(r.Key)] += string(r.Value)
	}
	if got["k0"] != "9" || got["k1"] != "7" || got["k2"] != "8" {
		t.Errorf("compacted: %v", got)
	}
	if n := len(consumeAll(t, brokers, 10, "n")); n != 10 {
		t.Errorf("uncompacted topic got %d", n)
	}
}

func TestTooLargeGoesToDeadLetters(t *testing.T) {
	for name, url := range testDBs(t) {
		t.Run(name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "big"), kfake.BrokerConfigs(map[string]string{"message.max.bytes": "3000"}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			brokers := c.ListenAddrs()
			d := migrated(t, url(t))
			large := incompressible(6000)
			rubyInsert(t, d, "big", []byte("small-1"), []byte("a"), nil)
			rubyInsert(t, d, "big", large, []byte("b"), "pk-b")
			rubyInsert(t, d, "big", []byte("small-2"), []byte("a"), nil)
			s, err := run(t, d, producer(t, brokers), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if s.Published != 2 || s.DeadLettered != 1 || s.Processed != 3 {
				t.Errorf("summary %+v", s)
			}
			recs := consumeAll(t, brokers, 2, "big")
			var vals []string
			for _, r := range recs {
				vals = append(vals, fmt.Sprintf("%.20s", r.Value))
			}
			if len(recs) != 2 || vals[0] != "small-1" || vals[1] != "small-2" {
				t.Errorf("records %v", vals)
			}
			var msg, key []byte
			var pk, errText string
			var orig int64
			err = d.QueryRowContext(context.Background(), "SELECT message, "+d.Q("key")+", partition_key, error, original_id FROM deimos_dead_letters").Scan(&msg, &key, &pk, &errText, &orig)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(msg, large) || string(key) != "b" || pk != "pk-b" || orig != 2 || !strings.Contains(errText, "MESSAGE_TOO_LARGE") {
				t.Errorf("dead letter key=%q pk=%q orig=%d err=%q len=%d", key, pk, orig, errText, len(msg))
			}
			if n := count(t, d, "SELECT COUNT(*) FROM kafka_messages"); n != 0 {
				t.Errorf("%d rows left", n)
			}
			sts, err := Status(context.Background(), d, time.Now())
			if err != nil || len(sts) != 1 || sts[0].DeadLetters != 1 || sts[0].Pending != 0 {
				t.Errorf("status %+v %v", sts, err)
			}
		})
	}
}

func TestTooLargeWithoutDeadLetterTableKeepsRow(t *testing.T) {
	for name, url := range testDBs(t) {
		t.Run(name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "big"), kfake.BrokerConfigs(map[string]string{"message.max.bytes": "3000"}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			d := migrated(t, url(t), "outbox")
			rubyInsert(t, d, "big", []byte("small-1"), nil, nil)
			rubyInsert(t, d, "big", incompressible(6000), nil, nil)
			s, err := run(t, d, producer(t, c.ListenAddrs()), Options{})
			if err == nil || !strings.Contains(err.Error(), "deimos_dead_letters does not exist") {
				t.Fatalf("err = %v", err)
			}
			if len(s.FailedTopics) != 1 {
				t.Errorf("summary %+v", s)
			}
			if n := count(t, d, "SELECT COUNT(*) FROM kafka_messages"); n != 1 {
				t.Errorf("rows left %d, want the rejected one", n)
			}
			if n := count(t, d, "SELECT COUNT(*) FROM kafka_topic_info WHERE error = "+d.Dialect.Bool(true)+" AND retries = 1 AND locked_by IS NULL AND locked_at IS NOT NULL"); n != 1 {
				t.Errorf("topic not in error state")
			}
		})
	}
}

// A refused message with headers, and a dead-letter table from before its
// headers column: the row is kept (a requeue could not send its headers).
// With the column, the headers are stored with the dead letter.
func TestTooLargeWithHeadersNeedsTheHeadersColumn(t *testing.T) {
	for name, url := range testDBs(t) {
		t.Run(name, func(t *testing.T) { testTooLargeWithHeaders(t, url(t)) })
	}
}

func testTooLargeWithHeaders(t *testing.T, url string) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "big"), kfake.BrokerConfigs(map[string]string{"message.max.bytes": "3000"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx := context.Background()
	d := migrated(t, url, "outbox", "deadletter", "headers")
	rows := []Row{{Topic: "big", Message: incompressible(6000), Headers: map[string]string{"trace": "t-1"}}}
	if _, err := d.ExecContext(ctx, "ALTER TABLE deimos_dead_letters DROP COLUMN headers"); err != nil {
		t.Fatal(err)
	}
	if err := Insert(ctx, d.DB, d.Dialect, rows, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = run(t, d, producer(t, c.ListenAddrs()), Options{})
	if err == nil || !strings.Contains(err.Error(), "deimos_dead_letters has no headers column") {
		t.Fatalf("err = %v", err)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM kafka_messages"); n != 1 {
		t.Fatalf("rows left %d, want the rejected one", n)
	}
	if _, err := d.ExecContext(ctx, "ALTER TABLE deimos_dead_letters ADD COLUMN headers TEXT"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ExecContext(ctx, "UPDATE kafka_topic_info SET locked_at = NULL, error = "+d.Dialect.Bool(false)); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, d, producer(t, c.ListenAddrs()), Options{}); err != nil {
		t.Fatal(err)
	}
	var h string
	if err := d.QueryRowContext(ctx, "SELECT headers FROM deimos_dead_letters").Scan(&h); err != nil || h != `{"trace":"t-1"}` {
		t.Fatalf("dead letter headers %q, %v", h, err)
	}
}

func TestLockProtocol(t *testing.T) {
	for name, url := range testDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			d := migrated(t, url(t))
			st, err := newStore(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			ok, err := st.lock(ctx, "t", "ruby-a", now)
			if err != nil || !ok {
				t.Fatalf("first lock: %v %v", ok, err)
			}
			if ok, _ := st.lock(ctx, "t", "go-b", now); ok {
				t.Fatal("fresh lock stolen")
			}
			// 61 s old: stealable (crash recovery)
			_, _ = d.ExecContext(ctx, d.Rebind("UPDATE kafka_topic_info SET locked_at = ?"), DBTime(now.Add(-61*time.Second)))
			if ok, _ := st.lock(ctx, "t", "go-b", now); !ok {
				t.Fatal("stale lock not stolen")
			}
			if held, _ := st.heartbeat(ctx, "t", "ruby-a", now); held {
				t.Error("old owner still holds")
			}
			// A heartbeat that changes nothing (the same time twice: MySQL
			// then reports 0 rows changed) still holds the lock.
			for i := 0; i < 2; i++ {
				if held, err := st.heartbeat(ctx, "t", "go-b", now); err != nil || !held {
					t.Fatalf("heartbeat %d with an unchanged locked_at: held %v, %v", i+1, held, err)
				}
			}
			// register_error: out for a minute
			if err := st.registerError(ctx, "t", "go-b", now); err != nil {
				t.Fatal(err)
			}
			if n := count(t, d, "SELECT COUNT(*) FROM kafka_topic_info WHERE locked_by IS NULL AND locked_at IS NOT NULL AND error = "+d.Dialect.Bool(true)+" AND retries = 1"); n != 1 {
				t.Fatal("register_error effects")
			}
			if ok, _ := st.lock(ctx, "t", "go-c", now); ok {
				t.Fatal("errored topic locked within a minute")
			}
			if ok, _ := st.lock(ctx, "t", "go-c", now.Add(61*time.Second)); !ok {
				t.Fatal("errored topic not lockable after a minute")
			}
			if n := count(t, d, "SELECT COUNT(*) FROM kafka_topic_info WHERE locked_by = 'go-c' AND error = "+d.Dialect.Bool(false)+" AND retries = 1"); n != 1 {
				t.Fatal("lock must reset error but keep retries")
			}
			if err := st.clearLock(ctx, "t", "go-c", now); err != nil {
				t.Fatal(err)
			}
			if n := count(t, d, "SELECT COUNT(*) FROM kafka_topic_info WHERE locked_by IS NULL AND locked_at IS NULL AND error = "+d.Dialect.Bool(false)+" AND retries = 0 AND last_processed_at IS NOT NULL"); n != 1 {
				t.Fatal("clear_lock effects")
			}
			// departure: error=true with locked_at NULL is lockable (Deimos never frees it)
			_, _ = d.ExecContext(ctx, "UPDATE kafka_topic_info SET error = "+d.Dialect.Bool(true)+", locked_at = NULL")
			if ok, _ := st.lock(ctx, "t", "go-d", now); !ok {
				t.Fatal("error row with NULL locked_at not lockable")
			}
			// the literal is second precision UTC: a lock taken 59.9 s ago is not stale
			var lockedAt any
			_ = d.QueryRowContext(ctx, "SELECT locked_at FROM kafka_topic_info").Scan(&lockedAt)
			if ts := parseDBTime(lockedAt); ts.Nanosecond() != 0 || ts.Sub(now.UTC().Truncate(time.Second)) != 0 {
				t.Errorf("locked_at %v, want %v", ts, now.UTC().Truncate(time.Second))
			}
		})
	}
}

func TestRelayRespectsAndStealsLocks(t *testing.T) {
	for name, url := range testDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			d := migrated(t, url(t))
			brokers := testenv.Brokers(t, 3, "locked")
			rubyInsert(t, d, "locked", []byte("v"), []byte("k"), nil)
			// a Ruby relay holds the topic
			_, err := d.ExecContext(ctx, d.Rebind("INSERT INTO kafka_topic_info (topic, locked_by, locked_at, error, retries) VALUES (?, ?, ?, "+d.Dialect.Bool(false)+", 0)"), "locked", "0e0b7c9d-ruby", DBTime(time.Now()))
			if err != nil {
				t.Fatal(err)
			}
			p := producer(t, brokers)
			s, err := run(t, d, p, Options{})
			if err != nil || s.Processed != 0 {
				t.Fatalf("processed a locked topic: %+v %v", s, err)
			}
			_, _ = d.ExecContext(ctx, d.Rebind("UPDATE kafka_topic_info SET locked_at = ?"), DBTime(time.Now().Add(-2*time.Minute)))
			s, err = run(t, d, p, Options{})
			if err != nil || s.Published != 1 {
				t.Fatalf("did not steal a stale lock: %+v %v", s, err)
			}
		})
	}
}

func TestTwoRelaysSendEachMessageOnce(t *testing.T) {
	for name, url := range servers(t) {
		t.Run(name, func(t *testing.T) { testTwoRelays(t, url(t)) })
	}
}

func testTwoRelays(t *testing.T, url string) {
	d := migrated(t, url)
	topics := []string{"a", "b", "c", "d", "e", "f"}
	brokers := testenv.Brokers(t, 4, topics...)
	var rows []Row
	for i := 0; i < 6000; i++ {
		rows = append(rows, Row{Topic: topics[i%len(topics)], Message: []byte(fmt.Sprint(i)), Key: []byte(fmt.Sprint(i % 50))})
	}
	if err := Insert(context.Background(), d.DB, d.Dialect, rows, time.Now()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	sums := make([]Summary, 2)
	for i := 0; i < 2; i++ {
		d2 := migrated(t, d.URL) // a separate pool, as a separate process would have
		p := producer(t, brokers)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			sums[i], err = runNoFatal(d2, p, Options{Workers: 4, BatchSize: 100, Once: true})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := count(t, d, "SELECT COUNT(*) FROM kafka_messages"); n != 0 {
		t.Fatalf("%d rows left", n)
	}
	if sums[0].Published+sums[1].Published != 6000 {
		t.Errorf("published %d + %d", sums[0].Published, sums[1].Published)
	}
	recs := consumeAll(t, brokers, 6000, topics...)
	seen := map[string]int{}
	for _, r := range recs {
		seen[string(r.Value)]++
	}
	if len(recs) != 6000 || len(seen) != 6000 {
		t.Fatalf("got %d records, %d distinct", len(recs), len(seen))
	}
	// per key order within a topic
	last := map[string]int{}
	for _, r := range recs {
		var v int
		fmt.Sscan(string(r.Value), &v)
		k := r.Topic + "/" + string(r.Key)
		if p, ok := last[k]; ok && p > v {
			t.Fatalf("key %s out of order: %d after %d", k, v, p)
		}
		last[k] = v
	}
}

func runNoFatal(d *db.DB, p Producer, opts Options) (Summary, error) {
	r, err := New(context.Background(), d, p, opts)
	if err != nil {
		return Summary{}, err
	}
	return r.Run(context.Background())
}

// incompressible returns n random bytes (the client compresses batches).
func incompressible(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitEmpty(t *testing.T, d *db.DB, within time.Duration) {
	t.Helper()
	if testenv.Eventually(within, func() bool { return count(t, d, "SELECT COUNT(*) FROM kafka_messages") == 0 }) {
		return
	}
	t.Fatalf("kafka_messages not drained within %s (%d rows left)", within, count(t, d, "SELECT COUNT(*) FROM kafka_messages"))
}

// The broker goes away mid-run and comes back on the same port: the daemon
// retries with back-off and nothing is lost.
func TestBrokerOutageLosesNothing(t *testing.T) {
	for name, url := range servers(t) {
		t.Run(name, func(t *testing.T) { testBrokerOutage(t, url(t)) })
	}
}

// waitReporter is a progress.Reporter that tells when the relay waits for reason.
type waitReporter struct {
	reason string
	once   sync.Once
	ch     chan struct{}
}

func (w *waitReporter) Progress() {}
func (w *waitReporter) Idle(reason string) {
	if reason == w.reason {
		w.once.Do(func() { close(w.ch) })
	}
}

func testBrokerOutage(t *testing.T, url string) {
	port, dir := freePort(t), t.TempDir()
	start := func() *kfake.Cluster {
		var c *kfake.Cluster
		var err error
		// the port may linger briefly after Close: retry until it binds
		if !testenv.Eventually(5*time.Second, func() bool {
			c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.SeedTopics(3, "o"))
			return err == nil
		}) {
			t.Fatal(err)
		}
		return c
	}
	c1 := start()
	brokers := c1.ListenAddrs()
	d := migrated(t, url)
	ins := func(from, to int) {
		var rows []Row
		for i := from; i < to; i++ {
			rows = append(rows, Row{Topic: "o", Message: []byte(fmt.Sprint(i)), Key: []byte(fmt.Sprint(i % 7))})
		}
		if err := Insert(context.Background(), d.DB, d.Dialect, rows, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	ins(0, 300)
	cl := producer(t, brokers, kgo.RecordDeliveryTimeout(2*time.Second), kgo.RetryTimeout(2*time.Second))
	failing := &waitReporter{reason: "retrying after a Kafka error", ch: make(chan struct{})}
	r, err := New(context.Background(), d, cl, Options{BatchSize: 50, MaxBackoff: 500 * time.Millisecond, HeartbeatEvery: 200 * time.Millisecond, Logger: testLogger(t), Progress: failing})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Summary)
	go func() { s, _ := r.Run(ctx); done <- s }()
	waitEmpty(t, d, 10*time.Second)
	c1.Close()
	ins(300, 600)
	select { // the relay fails and backs off
	case <-failing.ch:
	case <-time.After(20 * time.Second):
		t.Fatal("the relay never waited after a Kafka error while the broker was down")
	}
	if n := count(t, d, "SELECT COUNT(*) FROM kafka_messages"); n == 0 {
		t.Fatal("rows deleted while the broker was down")
	}
	c2 := start()
	defer c2.Close()
	waitEmpty(t, d, 20*time.Second)
	cancel()
	s := <-done
	recs := consumeAll(t, brokers, 600, "o")
	seen := map[string]bool{}
	for _, rec := range recs {
		seen[string(rec.Value)] = true
	}
	if len(seen) != 600 {
		t.Fatalf("after the outage %d distinct of 600 messages (%d records, summary %+v)", len(seen), len(recs), s)
	}
	t.Logf("records %d for 600 rows (duplicates are allowed: at-least-once)", len(recs))
	// the locks were released on stop
	if n := count(t, d, "SELECT COUNT(*) FROM kafka_topic_info WHERE locked_by IS NOT NULL"); n != 0 {
		t.Errorf("%d locks held after stop", n)
	}
}

func TestMetricsAndStatus(t *testing.T) {
	for name, url := range testDBs(t) {
		t.Run(name, func(t *testing.T) { testMetricsAndStatus(t, url(t)) })
	}
}

func testMetricsAndStatus(t *testing.T, url string) {
	d := migrated(t, url)
	brokers := testenv.Brokers(t, 1, "m")
	old := time.Now().Add(-4 * time.Minute)
	if err := Insert(context.Background(), d.DB, d.Dialect, []Row{{Topic: "m", Message: []byte("x")}}, old); err != nil {
		t.Fatal(err)
	}
	// last processed 6 minutes ago: max wait = 240 s (docs/deimos-compat.md §2.7)
	if _, err := d.ExecContext(context.Background(), d.Rebind("INSERT INTO kafka_topic_info (topic, last_processed_at, locked_by, locked_at) VALUES ('m', ?, 'someone', ?)"), DBTime(time.Now().Add(-6*time.Minute)), DBTime(time.Now())); err != nil {
		t.Fatal(err)
	}
	sts, err := Status(context.Background(), d, time.Now())
	if err != nil || len(sts) != 1 {
		t.Fatal(sts, err)
	}
	if s := sts[0]; s.Pending != 1 || s.MaxWaitSeconds < 239 || s.MaxWaitSeconds > 242 || s.LockedBy != "someone" || s.OldestAgeSeconds < 239 {
		t.Errorf("status %+v", s)
	}
	_, _ = d.ExecContext(context.Background(), "UPDATE kafka_topic_info SET locked_by = NULL, locked_at = NULL")
	preg := prometheus.NewRegistry()
	m := NewMetrics(preg)
	if _, err := run(t, d, producer(t, brokers), Options{Metrics: m}); err != nil {
		t.Fatal(err)
	}
	mfs, err := preg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			if mm.Counter != nil {
				got[mf.GetName()] = mm.Counter.GetValue()
			}
			if mm.Gauge != nil {
				got[mf.GetName()] = mm.Gauge.GetValue()
			}
		}
	}
	if got["outbox_process_total"] != 1 || got["outbox_published_total"] != 1 || got["pending_db_messages_count"] != 0 {
		t.Errorf("metrics %v", got)
	}
	if _, ok := got["pending_db_messages_max_wait"]; !ok {
		t.Error("no max_wait gauge")
	}
}

// The topics a pass finds are Deimos's SELECT DISTINCT topic on every
// dialect; on PostgreSQL the query reads a few index entries per topic, not
// every row (it read all 20,000 here before); on MySQL/MariaDB SELECT
// DISTINCT topic is a loose index scan that reads as few.
func TestTopicsOneProbePerTopic(t *testing.T) {
	for name, url := range testDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			d := migrated(t, url(t))
			st, err := newStore(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := st.topics(ctx); err != nil || len(got) != 0 {
				t.Fatalf("topics of an empty table = %q, %v", got, err)
			}
			names := []string{"-", "a", "a ", "b b", "z", "ü", "Z"}
			var rows []Row
			for i := 0; i < 20000; i++ {
				rows = append(rows, Row{Topic: names[i%len(names)], Message: []byte("x")})
			}
			rows[0].Topic = "only-once"
			if err := Insert(ctx, d.DB, d.Dialect, rows, time.Now()); err != nil {
				t.Fatal(err)
			}
			got, err := st.topics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := testenv.Rows(t, d, "SELECT DISTINCT topic FROM kafka_messages")
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, "|") != strings.Join(want, "|") || len(got) < 6 {
				t.Fatalf("topics = %q, SELECT DISTINCT = %q", got, want)
			}
			if name == "mysql" {
				if read := mysqlIndexReads(t, d, topicsQuery(d.Dialect)); read > 200 {
					t.Fatalf("the topics query read %d rows or index entries of kafka_messages for %d topics (20,000 rows): not a loose index scan", read, len(got))
				}
			}
			if name != "postgres" {
				return
			}
			if _, err := d.ExecContext(ctx, "ANALYZE kafka_messages"); err != nil {
				t.Fatal(err)
			}
			var plan string
			if err := d.QueryRowContext(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+topicsQuery(d.Dialect)).Scan(&plan); err != nil {
				t.Fatal(err)
			}
			var nodes []struct {
				Plan planNode `json:"Plan"`
			}
			if err := json.Unmarshal([]byte(plan), &nodes); err != nil || len(nodes) != 1 {
				t.Fatalf("plan %s: %v", plan, err)
			}
			if read := nodes[0].Plan.rowsRead("kafka_messages"); read > 200 {
				t.Fatalf("the topics query read %v entries of kafka_messages for %d topics (20,000 rows)", read, len(got))
			}
		})
	}
}

// mysqlIndexReads runs q on MySQL/MariaDB (after ANALYZE TABLE) and
// returns how many index entries and table rows the server read for it:
// the session's Handler_read_* counters before and after (a full scan
// counts every row: 20,005 here for the 20,000-row table). SELECT DISTINCT
// on the leading column of an index is a loose index scan there, a few
// reads per distinct value (4 for 3 topics).
func mysqlIndexReads(t *testing.T, d *db.DB, q string) int64 {
	t.Helper()
	ctx := context.Background()
	c, err := d.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "ANALYZE TABLE kafka_messages"); err != nil {
		t.Fatal(err)
	}
	reads := func() int64 {
		rows, err := c.QueryContext(ctx, "SHOW SESSION STATUS WHERE Variable_name IN ('Handler_read_first', 'Handler_read_key', 'Handler_read_last', 'Handler_read_next', 'Handler_read_prev', 'Handler_read_rnd', 'Handler_read_rnd_next')")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var sum int64
		for rows.Next() {
			var name string
			var n int64
			if err := rows.Scan(&name, &n); err != nil {
				t.Fatal(err)
			}
			sum += n
		}
		return sum
	}
	before := reads()
	rows, err := c.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	rows.Close()
	return reads() - before
}

type planNode struct {
	Relation string     `json:"Relation Name"`
	Rows     float64    `json:"Actual Rows"`
	Loops    float64    `json:"Actual Loops"`
	Plans    []planNode `json:"Plans"`
}

// rowsRead sums the rows the plan's scans of table returned.
func (p planNode) rowsRead(table string) float64 {
	n := 0.0
	if p.Relation == table {
		n = p.Rows * p.Loops
	}
	for _, c := range p.Plans {
		n += c.rowsRead(table)
	}
	return n
}
