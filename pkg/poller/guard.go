package poller

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
)

// Late-commit guard settings (late_commit_guard).
const (
	GuardAll     = "all"
	GuardWriters = "writers"
	GuardOff     = "off"
)

// defaultGuard is late_commit_guard's default for a dialect. PostgreSQL's
// now() is the transaction's start, so a transaction that has only read so
// far may still write rows stamped with its (old) start time: every open
// transaction counts. On MySQL, NOW() is the statement's start and Rails
// stamps a row when it saves it, so a row is stamped when it is written:
// the transactions that have written (or locked rows) are the ones whose
// rows can still appear behind the cursor.
func defaultGuard(d db.Dialect) string {
	if d.Name() == "mysql" {
		return GuardWriters
	}
	return GuardAll
}

// upperBound is the poll's time_to: now − delay, held below the start of the
// oldest transaction still open (late_commit_guard), and cut to the digits
// deimos_poll_info.last_sent keeps (so that the cursor saved after an empty
// poll is exactly the bound polled up to). Zero: poll nothing this run.
func (w *worker) upperBound(ctx context.Context) (time.Time, error) {
	to := w.e.o.Now().UTC().Add(-w.s.Delay)
	if w.guard != GuardOff {
		var oldest time.Time
		var err error
		switch w.e.o.DB.Dialect.Name() {
		case "postgres":
			oldest, err = w.oldestPostgres(ctx)
		case "mysql":
			oldest, err = w.oldestMySQL(ctx)
		}
		if err != nil {
			return to, err
		}
		if oldest.Equal(holdAll) {
			return time.Time{}, nil // poll nothing this run
		}
		if !oldest.IsZero() {
			// Rows of a transaction still open carry timestamps >= its start
			// (minus clock skew, which the delay covers): poll strictly below it.
			capTo := oldest.Add(-w.s.Delay).Add(-time.Microsecond)
			if capTo.Before(to) {
				w.log.Debug("upper bound held back by an open transaction", "xact_start", oldest, "time_to", capTo)
				to = capTo
			}
		}
	}
	return db.TruncTime(to, w.cursorDigits), nil
}

// oldestPostgres is the start of the oldest open transaction in the
// database (pg_stat_activity), zero when there is none.
func (w *worker) oldestPostgres(ctx context.Context) (time.Time, error) {
	filter := "xact_start IS NOT NULL AND backend_type = 'client backend'"
	if w.guard == GuardWriters {
		filter += " AND backend_xid IS NOT NULL"
	}
	// Sessions of other roles are hidden from a role without pg_read_all_stats
	// (query '<insufficient privilege>', xact_start NULL): the guard cannot
	// protect against their late commits, so say so.
	q := "SELECT min(xact_start) FILTER (WHERE " + filter + "), count(*) FILTER (WHERE query = '<insufficient privilege>')" +
		" FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
	var oldest sql.NullTime
	var hidden int64
	if err := w.e.o.DB.QueryRowContext(ctx, q).Scan(&oldest, &hidden); err != nil {
		return time.Time{}, fmt.Errorf("late-commit guard (pg_stat_activity): %w", err)
	}
	if hidden > 0 && !w.warnedHidden {
		w.warnedHidden = true
		w.log.Warn("late-commit guard cannot see the transactions of other database roles; rows they commit late may be missed: grant pg_read_all_stats to the poller's role", "hidden_sessions", hidden)
	}
	if !oldest.Valid {
		return time.Time{}, nil
	}
	return oldest.Time.UTC(), nil
}

// mysqlWriters selects, in information_schema.innodb_trx, the transactions
// that have modified a row or taken a lock (an INSERT, UPDATE or DELETE
// takes one when it starts, before it changes any row; so does SELECT …
// FOR UPDATE); plain reads take none.
const mysqlWriters = " AND (trx_rows_modified > 0 OR trx_lock_structs > 0)"

// innodbTrxIdle is how long innodb_trx must go unread before InnoDB fills
// it again: its rows come from a cache that is refreshed on a read only when
// nobody read it for 100 ms (trx0i_s.cc in MySQL 8 and MariaDB). A read
// sooner gets the rows of the earlier fill, which lack the transactions
// begun since, and any client that keeps reading it more often keeps it
// that way. The guard therefore checks that the rows it got are fresh.
const innodbTrxIdle = 120 * time.Millisecond

// trxReader spaces an engine's reads of innodb_trx (all its pollers share
// them) so that they never keep the cache stale themselves.
type trxReader struct {
	mu   sync.Mutex
	last time.Time
}

// trxSnapshot is what one read of innodb_trx told.
type trxSnapshot struct {
	// oldest: the start of the oldest transaction the guard counts (zero: none).
	oldest time.Time
	// newest: the start of the newest transaction in the rows, ours included
	// (zero: no rows). The rows were filled after it.
	newest time.Time
	// fresh: the rows were filled during this read (they show this very
	// statement of our marker transaction).
	fresh bool
}

// oldestMySQL is the start, in UTC, of the oldest open InnoDB transaction
// on the server that the guard counts, other than the poller's own (zero
// when there is none): the poll must stay below it.
//
// trx_started is whole seconds (rounded down, so never after the real
// start), in the server's system time zone whatever the session's (both
// MySQL 8 and MariaDB fill it with localtime_r): CONVERT_TZ(…, 'SYSTEM',
// '+00:00') turns it into UTC, the time DATETIME columns hold; in the hour a
// DST zone repeats, a local time names two instants and the earlier is
// taken. Every database on the server counts: a MySQL session may write
// into any database, whatever its default one.
//
// Each read runs inside a marker transaction of ours whose row must show the
// read's own statement: then the rows are fresh. Rows that stay stale
// (another client reads innodb_trx more often than every 100 ms) were still
// filled after every transaction they show began, so their newest start
// bounds the transactions they may lack: the guard then holds the poll
// below that, and below the oldest it counts.
//
// innodb_trx needs the PROCESS privilege. Without it (error 1227) the
// guard cannot work: the poller warns once and polls up to now − delay,
// as Deimos does.
func (w *worker) oldestMySQL(ctx context.Context) (time.Time, error) {
	r := &w.e.trx
	r.mu.Lock()
	defer r.mu.Unlock()
	var snap trxSnapshot
	for attempt := 0; attempt < 4; attempt++ {
		if wait := innodbTrxIdle - time.Since(r.last); wait > 0 {
			if err := db.SleepCtx(ctx, wait); err != nil {
				return time.Time{}, err
			}
		}
		var err error
		snap, err = w.readInnodbTrx(ctx)
		r.last = time.Now()
		if db.IsPrivilegeError(err) { // 1227: no PROCESS
			if !w.warnedHidden {
				w.warnedHidden = true
				w.log.Warn("late-commit guard disabled: the database user lacks the PROCESS privilege needed to read information_schema.innodb_trx;"+
					" polling up to now - delay, so a row committed more than `delay` after its timestamp may be missed:"+
					" GRANT PROCESS ON *.* TO the poller's user, or set late_commit_guard: off to accept this",
					"delay", w.s.Delay)
			}
			return time.Time{}, nil
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("late-commit guard (information_schema.innodb_trx): %w", err)
		}
		if snap.fresh {
			return snap.oldest, nil
		}
	}
	w.log.Debug("information_schema.innodb_trx stays stale: another client reads it more often than every 100 ms; holding the poll below the rows' newest transaction", "newest", snap.newest)
	switch {
	case !snap.oldest.IsZero():
		return snap.oldest, nil
	case !snap.newest.IsZero():
		return snap.newest, nil
	}
	// No rows, so no bound on when they were filled: nothing is known.
	return holdAll, nil
}

// holdAll is the oldest transaction start when the guard knows nothing
// safe: the run polls nothing.
var holdAll = Beginning.Add(time.Second)

// readInnodbTrx reads innodb_trx once, inside a read-only marker
// transaction whose row, if the rows are fresh, shows this statement.
func (w *worker) readInnodbTrx(ctx context.Context) (trxSnapshot, error) {
	conn, err := w.e.o.DB.Conn(ctx)
	if err != nil {
		return trxSnapshot{}, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return trxSnapshot{}, err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "COMMIT") //nolint:errcheck // read-only
	filter := ""
	if w.guard == GuardWriters {
		filter = mysqlWriters
	}
	marker := fmt.Sprintf("deimos-guard-%d-%d", time.Now().UnixNano(), rand.Uint64())
	q := "SELECT " + mysqlUTC("oldest") + ", " + mysqlUTC("newest") + ", fresh FROM (SELECT ? AS marker," +
		" MIN(CASE WHEN trx_mysql_thread_id <> CONNECTION_ID()" + filter + " THEN trx_started END) AS oldest," +
		" MAX(trx_started) AS newest," +
		" COALESCE(SUM(trx_mysql_thread_id = CONNECTION_ID() AND INSTR(trx_query, ?) > 0), 0) > 0 AS fresh" +
		" FROM information_schema.innodb_trx) AS t"
	var oldest, newest sql.NullTime
	var oldestRep, newestRep sql.NullBool
	var snap trxSnapshot
	if err := conn.QueryRowContext(ctx, q, marker, marker).Scan(&oldest, &oldestRep, &newest, &newestRep, &snap.fresh); err != nil {
		return snap, err
	}
	snap.oldest, snap.newest = utcStart(oldest, oldestRep), utcStart(newest, newestRep)
	return snap, nil
}

// mysqlUTC renders a system-zone DATETIME column c as UTC, and whether
// that local time also names the instant an hour earlier (the hour a DST
// zone repeats).
func mysqlUTC(c string) string {
	u := "CONVERT_TZ(" + c + ", 'SYSTEM', '+00:00')"
	return u + ", CONVERT_TZ(" + u + " - INTERVAL 1 HOUR, '+00:00', 'SYSTEM') = " + c
}

// utcStart is a transaction start read through mysqlUTC: the earlier
// instant when the local time was ambiguous; zero for NULL.
func utcStart(t sql.NullTime, repeated sql.NullBool) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	u := t.Time.UTC()
	if repeated.Valid && repeated.Bool {
		u = u.Add(-time.Hour)
	}
	return u
}
