package outbox

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
)

// lockWaits watches InnoDB for transactions waiting on a row lock and
// reports how many distinct ones (by transaction id) it has seen: a
// statement that timed out (1205) or lost a deadlock (1213) and was run
// again waits as a new transaction.
type lockWaits struct {
	d    *db.DB
	seen map[string]bool
}

func (w *lockWaits) poll(t *testing.T) int {
	t.Helper()
	rows, err := w.d.QueryContext(context.Background(), "SELECT trx_id FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		w.seen[id] = true
	}
	return len(w.seen)
}

// waitFor polls until at least n distinct lock waits were seen. InnoDB
// refreshes what information_schema.innodb_trx shows only when it was last
// read more than 0.1 s before: polling faster would read a stale copy forever.
func (w *lockWaits) waitFor(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for w.poll(t) < n {
		if time.Now().After(deadline) {
			t.Fatalf("saw %d lock waits within %s, want %d", len(w.seen), within, n)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// holder is a transaction of another client, holding row locks.
type holder struct {
	conn *sql.Conn
	tx   *sql.Tx
}

func hold(t *testing.T, d *db.DB) *holder {
	t.Helper()
	ctx := context.Background()
	conn, err := d.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &holder{conn: conn, tx: tx}
	t.Cleanup(h.release)
	return h
}

func (h *holder) exec(t *testing.T, q string) {
	t.Helper()
	if _, err := h.tx.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (h *holder) release() {
	_ = h.tx.Rollback()
	_ = h.conn.Close()
}

func dbErrors(m *Metrics) float64 {
	var out dto.Metric
	_ = m.dbErrors.Write(&out)
	return out.GetCounter().GetValue()
}

// A lock UPDATE on kafka_topic_info that waits past innodb_lock_wait_timeout
// (error 1205: another client holds the row) is run again, not a topic
// error: the relay takes the lock once the row is free and drains the topic.
func TestMySQLLockRetriedOnLockWaitTimeout(t *testing.T) {
	base := testenv.MariaDB(t)
	admin := migrated(t, base)
	d := migrated(t, base+"?innodb_lock_wait_timeout=1")
	brokers := testenv.Brokers(t, 1, "w")
	for i := 0; i < 20; i++ {
		rubyInsert(t, admin, "w", []byte(fmt.Sprint(i)), nil, nil)
	}
	if _, err := admin.ExecContext(context.Background(), "INSERT INTO kafka_topic_info (topic) VALUES ('w')"); err != nil {
		t.Fatal(err)
	}
	h := hold(t, admin)
	h.exec(t, "SELECT * FROM kafka_topic_info WHERE topic = 'w' FOR UPDATE")

	m := NewMetrics(prometheus.NewRegistry())
	done := make(chan error, 1)
	var s Summary
	go func() {
		var err error
		s, err = runNoFatal(d, producer(t, brokers), Options{Once: true, Metrics: m, Logger: testLogger(t)})
		done <- err
	}()
	// The relay's lock UPDATE waits, times out after 1 s, and waits again.
	(&lockWaits{d: admin, seen: map[string]bool{}}).waitFor(t, 2, 20*time.Second)
	h.release()
	if err := <-done; err != nil {
		t.Fatalf("relay: %v (summary %+v)", err, s)
	}
	if s.Published != 20 || len(s.FailedTopics) != 0 {
		t.Fatalf("summary %+v", s)
	}
	if n := dbErrors(m); n < 1 {
		t.Errorf("outbox_db_errors_total = %v, want the lock wait timeouts counted", n)
	}
	if n := count(t, admin, "SELECT COUNT(*) FROM kafka_topic_info WHERE error = 0 AND retries = 0 AND locked_by IS NULL"); n != 1 {
		t.Error("topic not released cleanly")
	}
}

// The DELETE of a sent batch is run again after a lock wait timeout (1205)
// and after losing a deadlock (1213): the rows go, the topic does not error.
func TestMySQLDeleteRetriedOnLockWaitAndDeadlock(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout int // the relay's innodb_lock_wait_timeout
	}{{"lock wait timeout", 1}, {"deadlock", 30}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			base := testenv.MariaDB(t)
			admin := migrated(t, base)
			d := migrated(t, fmt.Sprintf("%s?innodb_lock_wait_timeout=%d", base, tc.timeout))
			brokers := testenv.Brokers(t, 1, "del")
			for i := 0; i < 5; i++ {
				rubyInsert(t, admin, "del", []byte(fmt.Sprint(i)), nil, nil)
			}
			var first, last int64
			if err := admin.QueryRowContext(ctx, "SELECT MIN(id), MAX(id) FROM kafka_messages").Scan(&first, &last); err != nil {
				t.Fatal(err)
			}
			h := hold(t, admin)
			if tc.name == "deadlock" {
				// Weigh the holder down (InnoDB rolls back the transaction
				// that changed fewer rows) so that the relay's DELETE is
				// the deadlock victim.
				mustExec(t, admin, "CREATE TABLE scratch (n int)")
				h.exec(t, "INSERT INTO scratch (n) WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 500) SELECT a.n FROM s a, s b WHERE b.n <= 4")
			}
			h.exec(t, fmt.Sprintf("SELECT id FROM kafka_messages WHERE id = %d FOR UPDATE", last))

			m := NewMetrics(prometheus.NewRegistry())
			done := make(chan error, 1)
			var s Summary
			go func() {
				var err error
				s, err = runNoFatal(d, producer(t, brokers), Options{Once: true, BatchSize: 10, Metrics: m, Logger: testLogger(t)})
				done <- err
			}()
			waits := &lockWaits{d: admin, seen: map[string]bool{}}
			waits.waitFor(t, 1, 20*time.Second) // the DELETE holds ids first..last-1 and waits for last
			if tc.name == "deadlock" {
				// Now the holder wants a row the DELETE holds: a cycle.
				// InnoDB rolls the lighter DELETE back (1213) at once, so
				// this statement returns; the DELETE is run again and waits.
				start := time.Now()
				h.exec(t, fmt.Sprintf("SELECT id FROM kafka_messages WHERE id = %d FOR UPDATE", first))
				if el := time.Since(start); el > time.Duration(tc.timeout/2)*time.Second {
					t.Fatalf("the holder waited %s: no deadlock was detected", el)
				}
				var status struct{ typ, name, text string }
				if err := admin.QueryRowContext(ctx, "SHOW ENGINE INNODB STATUS").Scan(&status.typ, &status.name, &status.text); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(status.text, "LATEST DETECTED DEADLOCK") || !strings.Contains(status.text, "kafka_messages") {
					t.Fatalf("InnoDB reports no deadlock on kafka_messages:\n%.3000s", status.text)
				}
			}
			waits.waitFor(t, 2, 20*time.Second) // the DELETE, run again, waits anew
			h.release()
			if err := <-done; err != nil {
				t.Fatalf("relay: %v (summary %+v)", err, s)
			}
			if s.Published != 5 || s.Processed != 5 || len(s.FailedTopics) != 0 {
				t.Fatalf("summary %+v", s)
			}
			if n := count(t, admin, "SELECT COUNT(*) FROM kafka_messages"); n != 0 {
				t.Fatalf("%d rows left", n)
			}
			if n := count(t, admin, "SELECT COUNT(*) FROM kafka_topic_info WHERE error = 0 AND locked_by IS NULL"); n != 1 {
				t.Error("topic not released cleanly")
			}
			if n := len(consumeAll(t, brokers, 5, "del")); n != 5 {
				t.Errorf("%d records in Kafka, want 5 (the retried delete sends nothing again)", n)
			}
		})
	}
}

func mustExec(t *testing.T, d *db.DB, q string, args ...any) {
	t.Helper()
	if _, err := d.ExecContext(context.Background(), d.Rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// warnings collects the relay's log lines at WARN and above.
type warnings struct {
	mu    sync.Mutex
	lines []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	w.lines = append(w.lines, r.Message)
	w.mu.Unlock()
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

// Tables that Rails 5 and 6 created on MySQL hold whole-second datetimes.
// The relay writes its times cut to whole seconds there, and keeps its
// lock through heartbeats within one second (which change no row: MySQL
// then reports 0 rows affected); many batches per second still drain
// without a lost lock.
func TestMySQLWholeSecondTables(t *testing.T) {
	ctx := context.Background()
	d := migrated(t, testenv.MariaDB(t))
	for _, q := range []string{
		"ALTER TABLE kafka_messages MODIFY created_at datetime NOT NULL, MODIFY updated_at datetime NOT NULL",
		"ALTER TABLE kafka_topic_info MODIFY locked_at datetime NULL, MODIFY last_processed_at datetime NULL",
		"ALTER TABLE deimos_dead_letters MODIFY original_created_at datetime NULL, MODIFY created_at datetime NOT NULL",
	} {
		mustExec(t, d, q)
	}
	sc, err := db.DatetimeScales(ctx, d, d.Dialect, "kafka_messages")
	if err != nil || len(sc) != 2 || sc["created_at"] != 0 || sc["updated_at"] != 0 {
		t.Fatalf("DatetimeScales(kafka_messages) = %v, %v", sc, err)
	}
	brokers := testenv.Brokers(t, 3, "ws")
	var rows []Row
	for i := 0; i < 3000; i++ {
		rows = append(rows, Row{Topic: "ws", Message: []byte(fmt.Sprint(i)), Key: []byte(fmt.Sprint(i % 7))})
	}
	now := time.Date(2024, 5, 6, 7, 8, 9, 987654000, time.UTC)
	if err := Insert(ctx, d.DB, d.Dialect, rows, now); err != nil {
		t.Fatal(err)
	}
	if got := testenv.Rows(t, d, "SELECT DISTINCT CAST(created_at AS CHAR), CAST(updated_at AS CHAR) FROM kafka_messages"); len(got) != 1 || got[0] != "2024-05-06 07:08:09|2024-05-06 07:08:09" {
		t.Fatalf("created_at, updated_at = %v", got)
	}
	w := &warnings{}
	s, err := run(t, d, producer(t, brokers), Options{BatchSize: 20, Logger: slog.New(w)})
	if err != nil || s.Published != 3000 || len(s.FailedTopics) != 0 {
		t.Fatalf("%+v %v", s, err)
	}
	if len(w.lines) != 0 {
		t.Errorf("warnings: %q", w.lines)
	}
	if n := count(t, d, "SELECT COUNT(*) FROM kafka_messages"); n != 0 {
		t.Fatalf("%d rows left", n)
	}
	if n := len(consumeAll(t, brokers, 3000, "ws")); n != 3000 {
		t.Errorf("%d records in Kafka, want 3000 (a lost lock re-sends)", n)
	}
	var lp time.Time
	if err := d.QueryRowContext(ctx, "SELECT last_processed_at FROM kafka_topic_info").Scan(&lp); err != nil || lp.Nanosecond() != 0 || time.Since(lp) > time.Minute {
		t.Errorf("last_processed_at = %v, %v", lp, err)
	}
}

// Every byte value, in the key (BLOB) and the message (MEDIUMBLOB, here
// 900 KiB: more than a BLOB holds), reaches Kafka as stored: MySQL gets
// them escaped inside the statement text (interpolateParams), which must
// not change one byte.
func TestMySQLBytesVerbatim(t *testing.T) {
	ctx := context.Background()
	d := migrated(t, testenv.MariaDB(t))
	brokers := testenv.Brokers(t, 1, "raw")
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := bytes.Repeat(append(all, incompressible(1024)...), 900*1024/(256+1024))
	if err := Insert(ctx, d.DB, d.Dialect, []Row{{Topic: "raw", Message: big, Key: all}, {Topic: "raw", Message: all, Key: []byte{}}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	rubyInsert(t, d, "raw", []byte("'\\\"\x00\x1a\n\r%_"), []byte("\\"), nil)
	s, err := run(t, d, producer(t, brokers), Options{})
	if err != nil || s.Published != 3 {
		t.Fatalf("%+v %v", s, err)
	}
	recs := consumeAll(t, brokers, 3, "raw")
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	if !bytes.Equal(recs[0].Value, big) || !bytes.Equal(recs[0].Key, all) {
		t.Errorf("record 1: key %d bytes, value %d bytes differ from the row", len(recs[0].Key), len(recs[0].Value))
	}
	if !bytes.Equal(recs[1].Value, all) || recs[1].Key == nil || len(recs[1].Key) != 0 {
		t.Errorf("record 2: key %q, value %d bytes", recs[1].Key, len(recs[1].Value))
	}
	if string(recs[2].Value) != "'\\\"\x00\x1a\n\r%_" || string(recs[2].Key) != "\\" {
		t.Errorf("record 3: key %q value %q", recs[2].Key, recs[2].Value)
	}
}

// An insert statement holds at most insertChunk rows and insertBytes of
// message and key bytes (at least one row), so MySQL gets no statement
// larger than its max_allowed_packet allows.
func TestInsertStatementSize(t *testing.T) {
	mk := func(sizes ...int) []Row {
		var rows []Row
		for _, n := range sizes {
			rows = append(rows, Row{Topic: "t", Message: make([]byte, n)})
		}
		return rows
	}
	many := make([]int, 2500)
	for _, tc := range []struct {
		sizes []int
		want  []int // statement ends
	}{
		{[]int{10, 10, 10}, []int{3}},
		{many, []int{1000, 2000, 2500}},
		{[]int{3 << 20, 3 << 20, 1 << 20, 10 << 20, 5}, []int{1, 3, 4, 5}},
	} {
		rows := mk(tc.sizes...)
		var got []int
		for start, end := 0, 0; start < len(rows); start = end {
			end = insertEnd(rows, start)
			got = append(got, end)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("statement ends %v, want %v", got, tc.want)
		}
	}
}
