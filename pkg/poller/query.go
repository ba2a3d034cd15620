package poller

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
)

// Row is one fetched row: the payload columns (by column name) and its cursor.
type Row struct {
	ID     int64
	Cursor Cursor // (timestamp as bound back, id)
	// TSNull is set when the timestamp column is NULL (state-based mode only).
	TSNull bool
	Cols   map[string]any
}

// source describes what to select from one table.
type source struct {
	table, tsCol, idCol string
	cols                []string // payload columns (quoted when rendered)
	all                 []string // every column of the table
	boolCols            map[string]bool
	textCols            map[string]bool // MySQL: text the driver returns as bytes
	where               string
}

func (s source) selectList(d *db.DB) string {
	parts := make([]string, 0, len(s.cols)+2)
	parts = append(parts, d.Q(s.idCol), tsSelect(d, d.Q(s.tsCol)))
	for _, c := range s.cols {
		parts = append(parts, d.Q(c))
	}
	return strings.Join(parts, ", ")
}

func (s source) extraWhere() string {
	if s.where == "" {
		return ""
	}
	return " AND (" + s.where + ")"
}

// rebind renders before + the where filter + after: only deimos's own '?'
// (in before and after) become placeholders; the filter's '?' are
// PostgreSQL operators and are copied as written.
func (s source) rebind(d *db.DB, before, after string) string {
	return db.RebindAround(d.Dialect, before, s.extraWhere(), after)
}

// timeQuery renders Deimos's time-based batch query (docs/deimos-compat.md §4.2):
// ((ts = from AND id > min_id) OR ts > from) AND ts <= to ORDER BY ts, id LIMIT n.
// On PostgreSQL the same predicate is written as the row comparison
// (ts, id) > (from, min_id), which an index on (ts, id) serves directly.
// Arguments: from, min_id, to (see timeArgs).
func timeQuery(d *db.DB, s source, limit int) string {
	ts, id := d.Q(s.tsCol), d.Q(s.idCol)
	cursor := "((" + ts + " = ? AND " + id + " > ?) OR " + ts + " > ?)"
	if d.Dialect.Name() == "postgres" {
		cursor = "(" + ts + ", " + id + ") > (?, ?)"
	}
	return s.rebind(d, "SELECT "+s.selectList(d)+" FROM "+d.Q(s.table)+
		" WHERE "+cursor+" AND "+ts+" <= ?",
		" ORDER BY "+ts+", "+id+" LIMIT "+strconv.Itoa(limit))
}

// timeArgs are timeQuery's arguments.
func timeArgs(d *db.DB, from Cursor, to any) []any {
	if d.Dialect.Name() == "postgres" {
		return []any{from.TS, from.ID, to}
	}
	return []any{from.TS, from.ID, from.TS, to}
}

// stateQuery selects rows not yet published (and not failed) in state-based mode.
func stateQuery(d *db.DB, s source, st Settings, limit int) (string, []any) {
	var cond string
	var args []any
	if st.StateColumn != "" {
		sc := d.Q(st.StateColumn)
		cond = "(" + sc + " IS NULL OR (" + sc + " <> ?"
		args = append(args, st.PublishedState)
		if st.FailedState != "" {
			cond += " AND " + sc + " <> ?"
			args = append(args, st.FailedState)
		}
		cond += "))"
	} else {
		cond = d.Q(st.PublishTimestampColumn) + " IS NULL"
	}
	ts, id := d.Q(s.tsCol), d.Q(s.idCol)
	return s.rebind(d, "SELECT "+s.selectList(d)+" FROM "+d.Q(s.table)+" WHERE "+cond,
		" ORDER BY "+ts+", "+id+" LIMIT "+strconv.Itoa(limit)), args
}

// fetch runs a batch query and scans rows.
func fetch(ctx context.Context, d *db.DB, s source, query string, args ...any) ([]Row, error) {
	return fetchWith(ctx, d, s, func(ctx context.Context, args ...any) (*sql.Rows, error) { return d.QueryContext(ctx, query, args...) }, args...)
}

// batchQuery runs one batch query with its arguments.
type batchQuery func(ctx context.Context, args ...any) (*sql.Rows, error)

// prepareBatch returns how runTime runs its batch query q, batch after
// batch, and what to call when done. On MySQL it is a prepared statement: its
// rows come in the binary protocol, which costs the server and the poller
// less per row than text (numbers and times are not formatted and parsed
// again), and the statement is prepared once per run. Where preparing fails
// (a proxy without prepared statements, say) the text protocol is used.
func prepareBatch(ctx context.Context, d *db.DB, q string) (batchQuery, func()) {
	if d.Dialect.Name() == "mysql" {
		if st, err := d.PrepareContext(ctx, q); err == nil {
			return st.QueryContext, func() { st.Close() }
		}
	}
	return func(ctx context.Context, args ...any) (*sql.Rows, error) { return d.QueryContext(ctx, q, args...) }, func() {}
}

// fetchWith runs a batch query through query and scans rows.
func fetchWith(ctx context.Context, d *db.DB, s source, query batchQuery, args ...any) ([]Row, error) {
	rows, err := query(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("polling %s: %w", s.table, err)
	}
	defer rows.Close()
	var out []Row
	n := len(s.cols) + 2
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	// the per-column flags once per batch, not two map lookups per value
	isText, isBool := make([]bool, len(s.cols)), make([]bool, len(s.cols))
	for i, c := range s.cols {
		isText[i], isBool[i] = s.textCols[c], s.boolCols[c]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("polling %s: %w", s.table, err)
		}
		id, err := toInt64(vals[0])
		if err != nil {
			return nil, fmt.Errorf("polling %s: id_column %s: %w (the cursor needs an integer id)", s.table, s.idCol, err)
		}
		r := Row{ID: id, Cols: make(map[string]any, len(s.cols))}
		if vals[1] == nil {
			r.TSNull = true
		} else {
			r.Cursor = Cursor{TS: normTS(d.Dialect, vals[1]), ID: id}
		}
		for i, c := range s.cols {
			v := vals[i+2]
			if b, ok := v.([]byte); ok && isText[i] {
				v = string(b)
			}
			r.Cols[c] = convert(v, isBool[i])
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// normTS keeps a scanned timestamp as the dialect binds it back.
func normTS(d db.Dialect, v any) any {
	if d.Name() == "sqlite" {
		switch x := v.(type) {
		case string:
			return x
		case []byte:
			return string(x)
		case time.Time:
			return x.UTC().Format(SQLiteTimeFormat)
		}
		return fmt.Sprint(v)
	}
	if t, ok := v.(time.Time); ok && t.Location() != time.UTC {
		return t.UTC()
	}
	return v // already UTC: no new interface value
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int:
		return int64(x), nil
	case float64:
		return int64(x), nil
	case []byte:
		return strconv.ParseInt(string(x), 10, 64)
	case string:
		return strconv.ParseInt(x, 10, 64)
	case nil:
		return 0, fmt.Errorf("NULL id")
	}
	return 0, fmt.Errorf("not an integer (%T)", v)
}

// convert turns driver values into the Go values the encode engine coerces:
// time.Time (UTC), int64, float64, bool, string, []byte, nil.
func convert(v any, isBool bool) any {
	switch x := v.(type) {
	case time.Time:
		if x.Location() == time.UTC {
			return v // no new interface value
		}
		return x.UTC()
	case int64:
		if isBool {
			return x != 0
		}
		return x
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	case float32:
		return float64(x)
	case [16]byte: // uuid
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	}
	return v
}

// finalizeStates runs Deimos's state-based finalize UPDATE for a batch in tx
// (docs/deimos-compat.md §4.3): timestamp column = now, state =
// published/failed, publish timestamp = now. Departure (§4.6): each row is
// matched on (id, its polled timestamp), so a row changed again since it was
// fetched stays unpublished and goes out in the next poll.
func finalizeStates(ctx context.Context, tx *sql.Tx, d *db.DB, st Settings, rows []Row, ok bool, now time.Time) error {
	nowArg := tsArg(d.Dialect, now)
	set := []string{d.Q(st.TimestampColumn) + " = ?"}
	args := []any{nowArg}
	state := st.PublishedState
	if !ok {
		state = st.FailedState
	}
	if st.StateColumn != "" && state != "" {
		set = append(set, d.Q(st.StateColumn)+" = ?")
		args = append(args, state)
	}
	if st.PublishTimestampColumn != "" {
		set = append(set, d.Q(st.PublishTimestampColumn)+" = ?")
		args = append(args, nowArg)
	}
	ts, id := d.Q(st.TimestampColumn), d.Q(st.IDColumn)
	const chunk = 200 // keeps SQLite's expression depth limit far away
	for start := 0; start < len(rows); start += chunk {
		end := min(start+chunk, len(rows))
		terms := make([]string, 0, end-start)
		a := append([]any{}, args...)
		for _, r := range rows[start:end] {
			if r.TSNull {
				terms = append(terms, "("+id+" = ? AND "+ts+" IS NULL)")
				a = append(a, r.ID)
			} else {
				terms = append(terms, "("+id+" = ? AND "+ts+" = ?)")
				a = append(a, r.ID, r.Cursor.TS)
			}
		}
		q := "UPDATE " + d.Q(st.Table) + " SET " + strings.Join(set, ", ") + " WHERE " + strings.Join(terms, " OR ")
		if d.Dialect.Name() == "sqlite" {
			// compare the raw text we polled, not the column's parsed value
			q = strings.ReplaceAll(q, ts+" = ?)", "CAST("+ts+" AS TEXT) = ?)")
		}
		if _, err := tx.ExecContext(ctx, d.Rebind(q), a...); err != nil {
			return fmt.Errorf("updating state of %s: %w", st.Table, err)
		}
	}
	return nil
}
