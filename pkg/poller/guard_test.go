package poller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// InnoDB fills information_schema.innodb_trx from a cache that a read
// refreshes only when nobody read it for 100 ms. The MySQL guard's reads
// notice rows that are not fresh (they lack the read's own marker) and,
// while another client keeps the cache stale, hold the poll below every
// transaction the stale rows could lack: a transaction begun after the
// cache was filled never gets a row polled past it.
func TestMySQLGuardStaleInnodbTrx(t *testing.T) {
	e := newEnv(t, "mysql")
	e.createWidgets()
	ctx := context.Background()
	eng := e.engine()
	w := &worker{e: eng, s: e.settings(func(s *Settings) { s.Delay = 0 }), log: eng.log, guard: GuardWriters, cursorDigits: 6}

	// the marker check itself: rows read after 100 ms of quiet are fresh,
	// rows read again at once are not
	time.Sleep(innodbTrxIdle)
	if snap, err := w.readInnodbTrx(ctx); err != nil || !snap.fresh {
		t.Fatalf("first read: fresh=%v, %v", snap.fresh, err)
	}
	if snap, err := w.readInnodbTrx(ctx); err != nil || snap.fresh {
		t.Fatalf("a read at once after another: fresh=%v (want stale), %v", snap.fresh, err)
	}

	// an old reading transaction, then another client reading innodb_trx
	// every 10 ms from before a writer begins
	reader, err := e.d.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if _, err := reader.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		t.Fatal(err)
	}
	defer reader.ExecContext(ctx, "ROLLBACK")
	time.Sleep(innodbTrxIdle)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var n int
			_ = e.d.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.innodb_trx").Scan(&n)
			time.Sleep(10 * time.Millisecond)
		}
	}()
	stopReading := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopReading()
	time.Sleep(1100 * time.Millisecond) // the writer begins a second later than the reader
	writer, err := e.d.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	writerBegan := time.Now().UTC()
	if _, err := writer.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		t.Fatal(err)
	}
	defer writer.ExecContext(ctx, "ROLLBACK")
	if _, err := writer.ExecContext(ctx, "INSERT INTO widgets (id, name, updated_at) VALUES (1, 'late', UTC_TIMESTAMP(6))"); err != nil {
		t.Fatal(err)
	}
	if snap, err := w.readInnodbTrx(ctx); err != nil || snap.fresh {
		t.Fatalf("with a client reading every 10 ms the rows are expected to stay stale (test premise): fresh=%v, %v", snap.fresh, err)
	}
	to, err := w.upperBound(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !to.Before(writerBegan.Truncate(time.Second)) {
		t.Fatalf("stale innodb_trx: upper bound %v is not below the start of the writer it cannot see (%v)", to, writerBegan)
	}
	stopReading()
	// fresh rows again: the writer itself holds the bound back
	to, err = w.upperBound(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !to.Before(writerBegan.Truncate(time.Second)) || to.Before(writerBegan.Add(-2*time.Second)) {
		t.Fatalf("fresh innodb_trx: upper bound %v, want just below the writer's start %v", to, writerBegan)
	}
}

// On MySQL the cursor column may keep fewer fractional-second digits than
// now has: deimos_poll_info.last_sent is datetime (whole seconds) in tables
// Rails 5 and 6 created. The poll's upper bound is cut to those digits, so
// an empty poll never saves a cursor the column would cut back below rows
// already sent (MariaDB truncates, MySQL 8 rounds). Ties on the second
// cross batch boundaries and runs. Deimos's year-0 "beginning" is read.
// A timestamp column with more digits than the cursor is refused.
func TestMySQLCursorDigits(t *testing.T) {
	e := newEnv(t, "mysql")
	e.exec("ALTER TABLE deimos_poll_info MODIFY last_sent datetime")
	e.exec("CREATE TABLE widgets (id INTEGER PRIMARY KEY, name VARCHAR(50), price INTEGER, active BOOLEAN, updated_at datetime)")
	e.exec("INSERT INTO deimos_poll_info (producer, last_sent, last_sent_id) VALUES ('WidgetProducer', '0000-01-01 00:00:00', 0)") // as Deimos writes it
	sec := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	for i := 1; i <= 5; i++ {
		e.insert(i, fmt.Sprintf("w%d", i), sec)
	}
	clock := func(o *Options) { o.Now = func() time.Time { return sec.Add(700 * time.Millisecond) } }
	s := e.settings(func(s *Settings) { s.Delay = 0 })
	for i := 0; i < 3; i++ { // the first publishes; the others find nothing new
		e.runOnce(s, clock)
	}
	e.insert(6, "w6", sec) // the same second as the cursor, after it
	e.insert(7, "w7", sec)
	e.runOnce(s, clock)
	e.runOnce(s, clock)
	expectOnce(t, versions(e.consume("widgets")), "1:w1", "2:w2", "3:w3", "4:w4", "5:w5", "6:w6", "7:w7")
	pi, err := LoadPollInfo(context.Background(), e.d, e.d, s.Name)
	if err != nil || !pi.Cursor.Time().Equal(sec) || pi.Cursor.ID != 7 {
		t.Fatalf("cursor %+v (%v), want (%v, 7)", pi.Cursor, err, sec)
	}

	// a datetime(6) column with a whole-second cursor: refused, naming the fix
	e.exec("CREATE TABLE gadgets (id INTEGER PRIMARY KEY, name VARCHAR(50), updated_at datetime(6))")
	err = e.engine().Run(context.Background(), []Settings{e.settings(func(s *Settings) { s.Table = "gadgets"; s.Name = "GadgetProducer" })}, true)
	if errs.ExitCode(err) != errs.CodeUsage || !strings.Contains(err.Error(), "ALTER TABLE deimos_poll_info MODIFY last_sent datetime(6)") {
		t.Fatalf("datetime(6) column, datetime cursor: %v (exit %d), want exit 2 naming the ALTER TABLE", err, errs.ExitCode(err))
	}
}
