package poller

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// PollInfoTable is Deimos's cursor table (docs/deimos-compat.md §1.3).
const PollInfoTable = "deimos_poll_info"

// SQLiteTimeFormat is how ActiveRecord writes datetimes into SQLite (UTC wall
// time with microseconds). SQLite compares timestamps as text, so the poller
// binds its bounds in the same format.
const SQLiteTimeFormat = "2006-01-02 15:04:05.000000"

// Beginning is the "start from the beginning" sentinel we write. Deimos writes
// Ruby's Time.new(0) (year 0); any last_sent at or before year 1 is read as the beginning.
var Beginning = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

// Cursor is a (timestamp, id) position. TS is kept in the database's own
// representation so that comparing against it is exact: the raw text on
// SQLite, a UTC time.Time on PostgreSQL.
type Cursor struct {
	TS any
	ID int64
}

// Time returns the cursor's timestamp as a time (zero when unparseable).
func (c Cursor) Time() time.Time { return toTime(c.TS) }

// PollInfo is one deimos_poll_info row.
type PollInfo struct {
	RowID    int64
	Producer string
	Cursor   Cursor
	Found    bool
}

// tsArg renders t for binding against timestamp columns in dialect d.
func tsArg(d db.Dialect, t time.Time) any {
	if d.Name() == "sqlite" {
		return t.UTC().Format(SQLiteTimeFormat)
	}
	return t.UTC()
}

// beginningArg is the cursor value for "from the beginning".
func beginningArg(d db.Dialect) any {
	switch d.Name() {
	case "sqlite":
		return "0000-01-01 00:00:00"
	case "mysql":
		// As text: the driver sends Go's zero time (year 1) as
		// '0000-00-00', which MySQL's default NO_ZERO_DATE refuses.
		return "0001-01-01 00:00:00"
	}
	return Beginning
}

// toTime parses whatever a driver returned for a timestamp. Naive values are UTC.
func toTime(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x.UTC()
	case []byte:
		return toTime(string(x))
	case string:
		x = strings.TrimSpace(x)
		for _, f := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07", "2006-01-02"} {
			if t, err := time.Parse(f, x); err == nil {
				return t.UTC()
			}
		}
		if strings.HasPrefix(x, "0000-") {
			return time.Time{}
		}
	case int64: // SQLite unix seconds
		return time.Unix(x, 0).UTC()
	}
	return time.Time{}
}

// isBeginning reports a year-0/year-1 sentinel (or NULL).
func isBeginning(v any) bool {
	if v == nil {
		return true
	}
	if s, ok := v.(string); ok && (strings.HasPrefix(s, "0000-") || strings.HasPrefix(s, "0001-01-01")) {
		return true
	}
	t := toTime(v)
	return t.IsZero() || t.Year() <= 1
}

// normCursorTS turns a scanned last_sent into the dialect's cursor value.
func normCursorTS(d db.Dialect, v any) any {
	if isBeginning(v) {
		return beginningArg(d)
	}
	if d.Name() == "sqlite" {
		switch x := v.(type) {
		case string:
			return x
		case []byte:
			return string(x)
		}
		return tsArg(d, toTime(v))
	}
	return toTime(v)
}

// tsSelect selects a timestamp column so that it can be bound back exactly.
func tsSelect(d *db.DB, col string) string {
	if d.Dialect.Name() == "sqlite" {
		return "CAST(" + col + " AS TEXT)"
	}
	return col
}

// errNoPollTable explains a missing deimos_poll_info.
var errNoPollTable = errors.New("table deimos_poll_info does not exist: run `deimos migrate up --only poller` first")

// checkPollTable fails clearly when the table is missing.
func checkPollTable(ctx context.Context, d *db.DB) error {
	ok, err := d.TableExists(ctx, PollInfoTable)
	if err != nil {
		return errs.Unavailablef("database: %w", err)
	}
	if !ok {
		return errs.Failed(errNoPollTable)
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// LoadPollInfo reads the first deimos_poll_info row for producer (Deimos takes
// the first one it finds; the producer index is not unique).
func LoadPollInfo(ctx context.Context, q querier, d *db.DB, producer string) (PollInfo, error) {
	rows, err := q.QueryContext(ctx, d.Rebind("SELECT id, "+tsSelect(d, "last_sent")+", last_sent_id FROM "+d.Q(PollInfoTable)+" WHERE producer = ? ORDER BY id LIMIT 1"), producer)
	if err != nil {
		return PollInfo{}, fmt.Errorf("reading %s: %w", PollInfoTable, err)
	}
	defer rows.Close()
	pi := PollInfo{Producer: producer}
	if rows.Next() {
		var ts any
		var id sql.NullInt64
		if err := rows.Scan(&pi.RowID, &ts, &id); err != nil {
			return pi, fmt.Errorf("reading %s: %w", PollInfoTable, err)
		}
		pi.Found = true
		pi.Cursor = Cursor{TS: normCursorTS(d.Dialect, ts), ID: id.Int64}
	}
	return pi, rows.Err()
}

// EnsurePollInfo loads the producer's row, creating it as Deimos does when missing:
// last_sent = the beginning (start_from_beginning) or now, last_sent_id = 0.
func EnsurePollInfo(ctx context.Context, d *db.DB, producer string, fromBeginning bool, now time.Time) (PollInfo, error) {
	pi, err := LoadPollInfo(ctx, d, d, producer)
	if err != nil || pi.Found {
		return pi, err
	}
	var ts any = beginningArg(d.Dialect)
	if !fromBeginning {
		ts = tsArg(d.Dialect, now)
	}
	if d.Dialect.Name() == "sqlite" && fromBeginning {
		ts = "0001-01-01 00:00:00.000000"
	}
	if _, err := d.ExecContext(ctx, d.Rebind("INSERT INTO "+d.Q(PollInfoTable)+" (producer, last_sent, last_sent_id) VALUES (?, ?, 0)"), producer, ts); err != nil {
		return pi, fmt.Errorf("creating %s row for %s: %w", PollInfoTable, producer, err)
	}
	return LoadPollInfo(ctx, d, d, producer)
}

// SaveCursor writes the cursor into the poll_info row (inside tx when given).
func SaveCursor(ctx context.Context, q querier, d *db.DB, rowID int64, c Cursor) error {
	ts := c.TS
	if t, ok := ts.(time.Time); ok {
		ts = tsArg(d.Dialect, t)
	}
	_, err := q.ExecContext(ctx, d.Rebind("UPDATE "+d.Q(PollInfoTable)+" SET last_sent = ?, last_sent_id = ? WHERE id = ?"), ts, c.ID, rowID)
	if err != nil {
		return fmt.Errorf("saving cursor in %s: %w", PollInfoTable, err)
	}
	return nil
}

func timeSince(t time.Time) time.Duration { return time.Since(t) }
