package poller

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/sqlguard"
)

// RunsTable is our own record of each poller's last run (a separate table
// that Ruby Deimos ignores; created by the poller when missing).
const RunsTable = "deimos_poller_runs"

func ensureRunsTable(ctx context.Context, d *db.DB) error {
	ts := "TIMESTAMP" // the DDL migrate's poller group runs (pkg/migrate pollerRuns)
	if d.Dialect.Name() != "postgres" {
		ts = "DATETIME"
	}
	_, err := d.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+d.Q(RunsTable)+" (producer VARCHAR(255) NOT NULL PRIMARY KEY, last_run_at "+ts+
		", batches BIGINT NOT NULL DEFAULT 0, errored_batches BIGINT NOT NULL DEFAULT 0, messages BIGINT NOT NULL DEFAULT 0, last_error TEXT, last_error_at "+ts+")")
	return err
}

// recordRun upserts the run's outcome; cumulative counters grow.
func recordRun(ctx context.Context, d *db.DB, st RunStats, now time.Time) error {
	var lastErr any
	var lastErrAt any
	if st.Err != nil {
		lastErr, lastErrAt = d.Scrub(st.Err.Error()), tsArg(d.Dialect, now)
	}
	tbl := d.Q(RunsTable)
	// new(c) is the value this INSERT brought for c, old(c) the stored one.
	newV, oldV := func(c string) string { return "excluded." + c }, func(c string) string { return tbl + "." + c }
	upsert := " ON CONFLICT (producer) DO UPDATE SET "
	if d.Dialect.Name() == "mysql" {
		newV, oldV = func(c string) string { return "VALUES(" + c + ")" }, func(c string) string { return c }
		upsert = " ON DUPLICATE KEY UPDATE "
	}
	q := "INSERT INTO " + tbl + " (producer, last_run_at, batches, errored_batches, messages, last_error, last_error_at) VALUES (?, ?, ?, ?, ?, ?, ?)" +
		upsert + "last_run_at = " + newV("last_run_at") + ", batches = " + oldV("batches") + " + " + newV("batches") + "," +
		" errored_batches = " + oldV("errored_batches") + " + " + newV("errored_batches") + ", messages = " + oldV("messages") + " + " + newV("messages") + "," +
		" last_error = COALESCE(" + newV("last_error") + ", " + oldV("last_error") + "), last_error_at = COALESCE(" + newV("last_error_at") + ", " + oldV("last_error_at") + ")"
	_, err := d.ExecContext(ctx, d.Rebind(q), st.Poller, tsArg(d.Dialect, now), st.Batches, st.ErroredBatches, st.Messages, lastErr, lastErrAt)
	return err
}

// Status is one poller's state for `poller status`.
type Status struct {
	Name       string     `json:"name"`
	Table      string     `json:"table"`
	Topic      string     `json:"topic"`
	Mode       string     `json:"mode"`
	Backend    string     `json:"backend"`
	LastSent   *time.Time `json:"last_sent"`
	LastSentID int64      `json:"last_sent_id"`
	// Newest is the newest timestamp in the table (after the where filter).
	Newest *time.Time `json:"newest,omitempty"`
	// LagSeconds is how far the cursor is behind the newest row (0 when caught up).
	LagSeconds float64 `json:"lag_seconds"`
	// Pending counts rows not yet published (beyond the cursor, or not in the published state).
	Pending        int64      `json:"pending"`
	LastRunAt      *time.Time `json:"last_run_at,omitempty"`
	Batches        int64      `json:"batches"`
	ErroredBatches int64      `json:"errored_batches"`
	Messages       int64      `json:"messages"`
	LastError      string     `json:"last_error,omitempty"`
	LastErrorAt    *time.Time `json:"last_error_at,omitempty"`
	// Deletions is the deletions cursor's status, when configured.
	Deletions *Status `json:"deletions,omitempty"`
	// Err is set when this poller's table could not be read.
	Err string `json:"error,omitempty"`
}

// GetStatus reports every poller.
func GetStatus(ctx context.Context, d *db.DB, pollers []Settings) ([]Status, error) {
	if err := checkPollTable(ctx, d); err != nil {
		return nil, err
	}
	runs, _ := d.TableExists(ctx, RunsTable)
	var out []Status
	for _, s := range pollers {
		st := statusOf(ctx, d, s, s.Name, s.Table, s.TimestampColumn, s.IDColumn, s.Where, runs)
		if s.Deletions != nil {
			ds := statusOf(ctx, d, s, DeletionsName(s.Name), s.Deletions.Table, s.Deletions.TimestampColumn, s.Deletions.IDColumn, "", runs)
			ds.Mode = TimeBased
			st.Deletions = &ds
		}
		out = append(out, st)
	}
	return out, nil
}

func statusOf(ctx context.Context, d *db.DB, s Settings, producer, table, tsCol, idCol, where string, runs bool) Status {
	st := Status{Name: producer, Table: table, Topic: s.Topic, Mode: s.Mode, Backend: s.Backend}
	fail := func(err error) Status { st.Err = d.Scrub(err.Error()); return st }
	for _, n := range []string{tsCol, idCol} {
		if err := validName(n, false); err != nil {
			return fail(err)
		}
	}
	if err := validName(table, true); err != nil {
		return fail(err)
	}
	pi, err := LoadPollInfo(ctx, d, d, producer)
	if err != nil {
		return fail(err)
	}
	if pi.Found {
		if !isBeginning(pi.Cursor.TS) {
			t := pi.Cursor.Time()
			st.LastSent = &t
		}
		st.LastSentID = pi.Cursor.ID
	}
	where, err = checkWhere(where, []sqlguard.Dialect{db.Guard(d.Dialect)})
	if err != nil {
		return fail(fmt.Errorf("where: %w", err))
	}
	src := source{table: table, tsCol: tsCol, idCol: idCol, where: where}
	extra := src.extraWhere()
	ts, id := d.Q(tsCol), d.Q(idCol)
	var newest any
	if err := d.QueryRowContext(ctx, "SELECT MAX("+tsSelect(d, ts)+") FROM "+d.Q(table)+" WHERE 1=1"+extra).Scan(&newest); err != nil {
		return fail(fmt.Errorf("reading %s: %w", table, err))
	}
	if newest != nil {
		n := toTime(newest)
		st.Newest = &n
		if s.Mode != StateBased && st.LastSent != nil && n.After(*st.LastSent) {
			st.LagSeconds = n.Sub(*st.LastSent).Seconds()
		}
	}
	var q string
	var args []any
	if s.Mode == StateBased && producer == s.Name {
		q, args = stateQuery(d, src, s, 1)
		q = "SELECT COUNT(*) FROM (" + strings.TrimSuffix(q, " LIMIT 1") + ") AS pending"
	} else {
		from := Cursor{TS: beginningArg(d.Dialect)}
		if pi.Found {
			from = pi.Cursor
		}
		q = src.rebind(d, "SELECT COUNT(*) FROM "+d.Q(table)+" WHERE (("+ts+" = ? AND "+id+" > ?) OR "+ts+" > ?)", "")
		args = []any{from.TS, from.ID, from.TS}
	}
	if err := d.QueryRowContext(ctx, q, args...).Scan(&st.Pending); err != nil {
		return fail(fmt.Errorf("counting pending rows of %s: %w", table, err))
	}
	if s.Mode == StateBased && st.Pending > 0 && st.Newest != nil && st.LastSent != nil && st.Newest.After(*st.LastSent) {
		st.LagSeconds = st.Newest.Sub(*st.LastSent).Seconds()
	}
	if runs {
		var lastRun, lastErrAt any
		var lastErr sql.NullString
		err := d.QueryRowContext(ctx, d.Rebind("SELECT "+tsSelect(d, "last_run_at")+", batches, errored_batches, messages, last_error, "+tsSelect(d, "last_error_at")+" FROM "+d.Q(RunsTable)+" WHERE producer = ?"), producer).
			Scan(&lastRun, &st.Batches, &st.ErroredBatches, &st.Messages, &lastErr, &lastErrAt)
		if err == nil {
			if lastRun != nil {
				t := toTime(lastRun)
				st.LastRunAt = &t
			}
			if lastErrAt != nil {
				t := toTime(lastErrAt)
				st.LastErrorAt = &t
			}
			st.LastError = lastErr.String
		}
	}
	return st
}

// Reset moves a poller's cursor to `to` (zero: the beginning), creating the
// deimos_poll_info row when missing. The next run publishes rows stamped at or after `to`.
func Reset(ctx context.Context, d *db.DB, producer string, to time.Time) (Cursor, error) {
	if err := checkPollTable(ctx, d); err != nil {
		return Cursor{}, err
	}
	var ts any = beginningArg(d.Dialect)
	if !to.IsZero() {
		// cut to the digits last_sent keeps (MySQL 8 would round up, past rows)
		scales, err := db.DatetimeScales(ctx, d, d.Dialect, PollInfoTable)
		if err != nil {
			return Cursor{}, errs.Unavailablef("database: %w", err)
		}
		ts = tsArg(d.Dialect, db.TruncTime(to, db.ScaleOf(scales, "last_sent")))
	} else if d.Dialect.Name() == "sqlite" {
		ts = "0001-01-01 00:00:00.000000"
	}
	pi, err := EnsurePollInfo(ctx, d, producer, true, time.Now())
	if err != nil {
		return Cursor{}, errs.Failed(err)
	}
	c := Cursor{TS: ts, ID: 0}
	if err := SaveCursor(ctx, d, d, pi.RowID, c); err != nil {
		return c, errs.Failed(err)
	}
	return c, nil
}

// ParseTime parses --to: RFC 3339, "YYYY-MM-DD[ HH:MM:SS]" (UTC), "beginning",
// "now", or a negative duration relative to now ("-1h").
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "beginning":
		return time.Time{}, nil
	case "now":
		return now.UTC(), nil
	}
	if strings.HasPrefix(s, "-") {
		if d, err := time.ParseDuration(s[1:]); err == nil {
			return now.UTC().Add(-d), nil
		}
	}
	for _, f := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(f, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q (use RFC 3339, YYYY-MM-DD HH:MM:SS (UTC), -DURATION, now or beginning)", s)
}
