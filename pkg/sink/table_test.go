package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/consume"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/envelope"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestSliceDeimosExample(t *testing.T) {
	in := []string{"A1", "A2", "B1", "C1", "C2", "C3"}
	got := Slice(in, func(s string) string { return s[:1] })
	want := [][]string{{"A1", "B1", "C1"}, {"A2", "C2"}, {"C3"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Slice = %v, want %v", got, want)
	}
	if got := Compact(in, func(s string) string { return s[:1] }); !reflect.DeepEqual(got, []string{"A2", "B1", "C3"}) {
		t.Fatalf("Compact = %v", got)
	}
	if got := Slice([]string{}, func(s string) string { return s }); len(got) != 0 {
		t.Fatalf("empty Slice = %v", got)
	}
}

// dbs runs f against SQLite, a real PostgreSQL and a real MariaDB.
func dbs(t *testing.T, f func(t *testing.T, d *db.DB)) {
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			d, err := db.Open(context.Background(), dl.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			f(t, d)
		})
	}
}

func exec(t *testing.T, d *db.DB, q string) {
	t.Helper()
	q = testenv.DDL(d.Dialect.Name(), q)
	if _, err := d.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

const widgetsDDL = `CREATE TABLE widgets (id bigint PRIMARY KEY, name varchar, price float, tags text, born_at timestamp, created_at timestamp, updated_at timestamp)`

type rec struct {
	key, val string // val "" = tombstone
}

func batch(recs ...rec) []consume.Record {
	var out []consume.Record
	for i, r := range recs {
		cr := consume.Record{Topic: "widgets", Partition: 0, Offset: int64(i)}
		if r.key != "" {
			cr.RawKey = []byte(r.key)
			cr.Key = json.RawMessage(r.key)
		}
		if r.val != "" {
			cr.RawValue = []byte(r.val)
			cr.Value = json.RawMessage(r.val)
		}
		out = append(out, cr)
	}
	return out
}

func dump(t *testing.T, d *db.DB, q string) []string { return testenv.Rows(t, d, q) }

func newSink(t *testing.T, d *db.DB, o Options, now *time.Time) *Table {
	t.Helper()
	o.Now = func() time.Time { return *now }
	s, err := New(context.Background(), d, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUpsertDeleteAndTimestamps(t *testing.T) {
	dbs(t, func(t *testing.T, d *db.DB) {
		exec(t, d, widgetsDDL)
		now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
		s := newSink(t, d, Options{Table: "widgets"}, &now)
		if !reflect.DeepEqual(s.Keys(), []string{"id"}) {
			t.Fatalf("keys = %v", s.Keys())
		}
		ctx := context.Background()
		err := s.Handle(ctx, batch(
			rec{`1`, `{"id":1,"name":"a","price":1.5,"unknown":"x","tags":["x","y"],"born_at":86400}`},
			rec{`2`, `{"name":"b","price":2}`}, // id from the key
			rec{`3`, `{"name":"c"}`},
		))
		if err != nil {
			t.Fatal(err)
		}
		later := now.Add(time.Hour)
		now = later
		if err := s.Handle(ctx, batch(rec{`1`, `{"name":"a2"}`}, rec{`3`, ``}, rec{`4`, `{"name":"d"}`})); err != nil {
			t.Fatal(err)
		}
		got := dump(t, d, "SELECT id, name, price, tags, created_at, updated_at FROM widgets ORDER BY id")
		if len(got) != 3 {
			t.Fatalf("rows = %v", got)
		}
		// row 1: name updated, price NULL (absent field in the batch's union), created_at kept.
		if !strings.HasPrefix(got[0], "1|a2|") || !strings.Contains(got[0], "2024-01-02") || !strings.Contains(got[0], "04:04:05") {
			t.Errorf("row 1 = %s", got[0])
		}
		if !strings.HasPrefix(got[1], "2|b|2|") {
			t.Errorf("row 2 = %s", got[1])
		}
		if !strings.HasPrefix(got[2], "4|d|") {
			t.Errorf("row 4 = %s", got[2])
		}
		born := dump(t, d, "SELECT born_at FROM widgets WHERE id = 1")
		_ = born // born_at is not in the second batch's union for row 1: kept from the first write
		if s.Stats.Upserted != 5 || s.Stats.Deleted != 1 {
			t.Errorf("stats = %+v", s.Stats)
		}
	})
}

func TestEpochToDatetimeAndJSONColumns(t *testing.T) {
	dbs(t, func(t *testing.T, d *db.DB) {
		exec(t, d, widgetsDDL)
		now := time.Now()
		s := newSink(t, d, Options{Table: "widgets"}, &now)
		if err := s.Handle(context.Background(), batch(rec{`7`, `{"born_at":"86400","tags":{"a":1}}`})); err != nil {
			t.Fatal(err)
		}
		got := dump(t, d, "SELECT born_at, tags FROM widgets")
		if len(got) != 1 || !strings.Contains(got[0], "1970-01-02") || !strings.Contains(got[0], `{"a":1}`) {
			t.Fatalf("got %v", got)
		}
	})
}

func TestCompactionAndSlicingOrder(t *testing.T) {
	dbs(t, func(t *testing.T, d *db.DB) {
		exec(t, d, `CREATE TABLE kv (k varchar PRIMARY KEY, v varchar, n integer)`)
		now := time.Now()
		// Sliced: every message is written in per-key order; A ends deleted
		// then re-created, B ends deleted, C ends with its third value.
		b := batch(
			rec{`"A"`, `{"v":"a1","n":1}`}, rec{`"A"`, ``}, rec{`"B"`, `{"v":"b1"}`},
			rec{`"C"`, `{"v":"c1"}`}, rec{`"A"`, `{"v":"a3"}`}, rec{`"C"`, `{"v":"c2"}`},
			rec{`"B"`, ``}, rec{`"C"`, `{"v":"c3"}`},
		)
		for _, noCompact := range []bool{false, true} {
			exec(t, d, "DELETE FROM kv")
			s := newSink(t, d, Options{Table: "kv", NoCompact: noCompact}, &now)
			if err := s.Handle(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			got := dump(t, d, "SELECT k, v, n FROM kv ORDER BY k")
			want := []string{"A|a3|<nil>", "C|c3|<nil>"}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("noCompact=%v: %v, want %v", noCompact, got, want)
			}
			wantUp := int64(3) // compacted: A(a3), C(c3) upserts + B delete
			if noCompact {
				wantUp = 6
			}
			if s.Stats.Upserted != wantUp-map[bool]int64{false: 1, true: 0}[noCompact] && noCompact {
				t.Errorf("noCompact stats = %+v", s.Stats)
			}
		}
	})
}

func TestRedeliveryIsIdempotent(t *testing.T) {
	dbs(t, func(t *testing.T, d *db.DB) {
		exec(t, d, widgetsDDL)
		now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
		s := newSink(t, d, Options{Table: "widgets", NoCompact: true}, &now)
		b := batch(rec{`1`, `{"name":"a"}`}, rec{`2`, `{"name":"b"}`}, rec{`1`, `{"name":"a2"}`}, rec{`2`, ``})
		if err := s.Handle(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		first := dump(t, d, "SELECT * FROM widgets ORDER BY id")
		if err := s.Handle(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		if second := dump(t, d, "SELECT * FROM widgets ORDER BY id"); !reflect.DeepEqual(first, second) {
			t.Fatalf("redelivery changed the table:\n%v\n%v", first, second)
		}
	})
}

func TestKeysMappingAndErrors(t *testing.T) {
	dbs(t, func(t *testing.T, d *db.DB) {
		exec(t, d, `CREATE TABLE people (tenant varchar NOT NULL, pid integer NOT NULL, full_name varchar, PRIMARY KEY (tenant, pid))`)
		exec(t, d, `CREATE TABLE things (id integer PRIMARY KEY, code varchar UNIQUE, label varchar)`)
		now := time.Now()
		ctx := context.Background()
		p := newSink(t, d, Options{Table: "people", Mapping: map[string]string{"full_name": "name"}}, &now)
		if !reflect.DeepEqual(p.Keys(), []string{"tenant", "pid"}) {
			t.Fatalf("compound keys = %v", p.Keys())
		}
		err := p.Handle(ctx, batch(
			rec{`{"tenant":"x","pid":1}`, `{"name":"Ann"}`},
			rec{`{"tenant":"x","pid":2}`, `{"name":"Bob"}`},
			rec{`{"tenant":"y","pid":1}`, `{"name":"Cy"}`},
		))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Handle(ctx, batch(rec{`{"tenant":"x","pid":2}`, ``})); err != nil {
			t.Fatal(err)
		}
		if got := dump(t, d, "SELECT tenant, pid, full_name FROM people ORDER BY tenant, pid"); !reflect.DeepEqual(got, []string{"x|1|Ann", "y|1|Cy"}) {
			t.Fatalf("people = %v", got)
		}
		// key_columns override; a single-entry object key reduces to its value.
		th := newSink(t, d, Options{Table: "things", KeyColumns: []string{"code"}}, &now)
		if err := th.Handle(ctx, batch(rec{`{"sku":"AB"}`, `{"id":1,"label":"one"}`})); err != nil {
			t.Fatal(err)
		}
		if err := th.Handle(ctx, batch(rec{`{"sku":"AB"}`, `{"id":1,"label":"uno"}`})); err != nil {
			t.Fatal(err)
		}
		if got := dump(t, d, "SELECT id, code, label FROM things"); !reflect.DeepEqual(got, []string{"1|AB|uno"}) {
			t.Fatalf("things = %v", got)
		}
		// Errors name the message.
		err = th.Handle(ctx, batch(rec{`"Z"`, `"just a string"`}))
		if err == nil || !strings.Contains(err.Error(), "widgets/0@0: payload is not a JSON object") {
			t.Fatalf("err = %v", err)
		}
		// JSON that is not compact (Python's json.dumps) comes from pkg/consume
		// as a JSON string of the raw text: it is still the payload object.
		spaced := consume.Record{Topic: "widgets", RawKey: []byte(`{"sku": "CD"}`), Key: json.RawMessage(`{"sku":"CD"}`),
			RawValue: []byte(`{"id": 2, "label": "two"}`), Value: json.RawMessage(`"{\"id\": 2, \"label\": \"two\"}"`), ValueEncoding: envelope.EncString}
		if err := th.Handle(ctx, []consume.Record{spaced}); err != nil {
			t.Fatalf("spaced JSON payload: %v", err)
		}
		if got := dump(t, d, "SELECT id, code, label FROM things ORDER BY id"); !reflect.DeepEqual(got, []string{"1|AB|uno", "2|CD|two"}) {
			t.Fatalf("things after spaced JSON = %v", got)
		}
		bin := consume.Record{Topic: "widgets", Offset: 9, RawKey: []byte(`1`), Key: json.RawMessage(`1`), RawValue: []byte{0xff}, Value: json.RawMessage(`"/w=="`), ValueEncoding: envelope.EncBase64}
		if err := th.Handle(ctx, []consume.Record{bin}); err == nil || !strings.Contains(err.Error(), "widgets/0@9: payload is binary") {
			t.Fatalf("binary payload: %v", err)
		}
		if _, err := New(ctx, d, Options{Table: "things; drop"}); err == nil {
			t.Fatal("bad table name accepted")
		}
		if _, err := New(ctx, d, Options{Table: "nope"}); err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("missing table: %v", err)
		}
		if _, err := New(ctx, d, Options{Table: "things", Mapping: map[string]string{"nope": "x"}}); err == nil {
			t.Fatal("bad mapping accepted")
		}
	})
}

func TestDeadlockRetry(t *testing.T) {
	// The sink retries what db.IsDeadlock reports: driver errors by type.
	if !db.IsDeadlock(fmt.Errorf("x: %w", &pgconn.PgError{Code: "40P01", Message: "deadlock detected"})) || db.IsDeadlock(fmt.Errorf("syntax error")) {
		t.Fatal("IsDeadlock")
	}
}

// lockWaiters counts the sessions of d's database waiting for a row lock.
func lockWaiters(t *testing.T, d *db.DB) int {
	t.Helper()
	q := `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`
	if d.Dialect.Name() == "mysql" {
		q = `SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'
AND trx_mysql_thread_id IN (SELECT id FROM information_schema.processlist WHERE db = DATABASE())`
	}
	var c int
	if err := d.QueryRow(q).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// lockPoll is how often to ask lockWaiters. InnoDB refreshes the snapshot
// information_schema.innodb_trx shows only when it was last read more than
// 0.1 s ago: asked more often, it keeps showing the old one.
func lockPoll(d *db.DB) time.Duration {
	if d.Dialect.Name() == "mysql" {
		return 150 * time.Millisecond
	}
	return 10 * time.Millisecond
}

// serverDialects are the databases with row locks (not SQLite).
func serverDialects(t *testing.T) []testenv.Dialect {
	var out []testenv.Dialect
	for _, dl := range testenv.Dialects(t) {
		if dl.Name != "sqlite" {
			out = append(out, dl)
		}
	}
	return out
}

// TestRealDeadlockIsRetried induces a real deadlock: the sink's batch locks
// row 1 and waits for row 2, held by a test transaction that then asks for
// row 1. The database aborts the sink's transaction (PostgreSQL 40P01,
// MySQL/MariaDB 1213); the sink retries the whole batch and it lands.
// PostgreSQL aborts the session whose deadlock_timeout expires first (the
// test's is long); InnoDB aborts the transaction that has changed fewer
// rows (the test's has written 200 first).
func TestRealDeadlockIsRetried(t *testing.T) {
	for _, dl := range serverDialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			ctx := context.Background()
			d, err := db.Open(ctx, dl.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			exec(t, d, `CREATE TABLE dl (id integer PRIMARY KEY, v integer)`)
			exec(t, d, `CREATE TABLE ballast (id integer PRIMARY KEY)`)
			exec(t, d, `INSERT INTO dl VALUES (1, 0), (2, 0)`)
			now := time.Now()
			var retries []error
			// The retry waits until the test transaction has committed: otherwise
			// it may grab row 1 before the test's waiting UPDATE and deadlock again.
			committed := make(chan struct{})
			s := newSink(t, d, Options{Table: "dl", Sleep: func(ctx context.Context, _ time.Duration) error {
				select {
				case <-committed:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			},
				OnRetry: func(err error, attempt int, _ time.Duration) { retries = append(retries, err) }}, &now)
			tx, err := d.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback() }()
			if dl.Name == "postgres" {
				if _, err := tx.Exec(`SET LOCAL deadlock_timeout = '60s'`); err != nil {
					t.Fatal(err)
				}
			} else {
				if _, err := tx.Exec(ballastInsert(200)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := tx.Exec(`UPDATE dl SET v = -2 WHERE id = 2`); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- s.Handle(ctx, batch(rec{`1`, `{"v":11}`}, rec{`2`, `{"v":22}`})) }()
			deadline := time.Now().Add(20 * time.Second)
			for lockWaiters(t, d) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the sink never blocked on row 2")
				}
				time.Sleep(lockPoll(d))
			}
			if _, err := tx.Exec(`UPDATE dl SET v = -1 WHERE id = 1`); err != nil {
				t.Fatalf("the test transaction was chosen as the deadlock victim: %v", err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			close(committed)
			if err := <-done; err != nil {
				t.Fatalf("Handle after deadlock: %v", err)
			}
			if len(retries) != 1 || !db.IsDeadlock(retries[0]) || s.Stats.Retries != 1 {
				t.Fatalf("retries = %v, stats %+v", retries, s.Stats)
			}
			if dl.Name == "mysql" && !strings.Contains(retries[0].Error(), "1213") {
				t.Fatalf("retried on %v, want a deadlock (1213)", retries[0])
			}
			if got := dump(t, d, "SELECT id, v FROM dl ORDER BY id"); !reflect.DeepEqual(got, []string{"1|11", "2|22"}) {
				t.Fatalf("rows = %v", got)
			}
		})
	}
}

func ballastInsert(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ballast (id) VALUES ")
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "(%d)", i)
	}
	return b.String()
}

// TestRealLockWaitTimeoutIsRetried: a row lock held past the lock wait
// timeout (PostgreSQL lock_timeout: 55P03; MySQL/MariaDB
// innodb_lock_wait_timeout: 1205, which rolls back only the statement) fails
// the sink's batch; the sink rolls it back and retries it whole, and the
// retry lands once the lock is gone.
func TestRealLockWaitTimeoutIsRetried(t *testing.T) {
	for _, dl := range serverDialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			ctx := context.Background()
			url := dl.URL(t)
			if dl.Name == "postgres" {
				url += "&lock_timeout=1000"
			} else {
				url += "?innodb_lock_wait_timeout=1"
			}
			d, err := db.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			exec(t, d, `CREATE TABLE lw (id integer PRIMARY KEY, v integer)`)
			exec(t, d, `INSERT INTO lw VALUES (1, 0), (2, 0)`)
			tx, err := d.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback() }()
			if _, err := tx.Exec(`UPDATE lw SET v = -2 WHERE id = 2`); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			var retries []error
			s := newSink(t, d, Options{Table: "lw",
				Sleep:   func(context.Context, time.Duration) error { return tx.Rollback() },
				OnRetry: func(err error, _ int, _ time.Duration) { retries = append(retries, err) }}, &now)
			if err := s.Handle(ctx, batch(rec{`1`, `{"v":11}`}, rec{`2`, `{"v":22}`})); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(retries) != 1 || !db.IsDeadlock(retries[0]) || s.Stats.Fallbacks != 0 {
				t.Fatalf("retries = %v, stats %+v", retries, s.Stats)
			}
			want := map[string]string{"postgres": "55P03", "mysql": "1205"}[dl.Name]
			if !strings.Contains(retries[0].Error(), want) {
				t.Fatalf("retried on %v, want %s", retries[0], want)
			}
			if got := dump(t, d, "SELECT id, v FROM lw ORDER BY id"); !reflect.DeepEqual(got, []string{"1|11", "2|22"}) {
				t.Fatalf("rows = %v", got)
			}
		})
	}
}
