// Package sink writes consumed records into database tables, as Deimos's
// ActiveRecordConsumer does in batch mode (docs/deimos-compat.md §7):
// each decoded message is upserted by primary key, a tombstone deletes the
// row, and one database transaction covers one polled batch.
package sink

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/deimos-cli/deimos/pkg/consume"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/envelope"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/tuplekey"
)

// Options configure a table sink.
type Options struct {
	Table string
	// Mapping maps a column to the payload field it takes its value from
	// (columns not listed take the field of the same name).
	Mapping map[string]string
	// KeyColumns override the conflict target (default: the primary key).
	KeyColumns []string
	// NoCompact turns compaction off: the batch is sliced (BatchSlicer) so
	// every message is written, in per-key order.
	NoCompact bool
	// DeadlockRetries is how often a batch is retried after a deadlock or
	// lock timeout (default 2, as Deimos); -1 disables.
	DeadlockRetries int
	// Now and Sleep are for tests.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// OnRetry is told about each deadlock retry (for logs and metrics).
	OnRetry func(err error, attempt int, wait time.Duration)
	// NoFallback turns off Deimos's batch_message_fallback: a failed bulk
	// write then fails the whole batch.
	NoFallback bool
	// OnFallback is told when a bulk write failed and the batch is being
	// written one row at a time (Deimos's
	// deimos.batch_consumption.initial_failure).
	OnFallback func(err error, rows int)
	// SkipBadRows: rows that still fail one at a time are reported through
	// OnBadRow and Stats.BadRows and Handle returns nil, so the batch's
	// offsets are committed. Without it, Handle commits the good rows and
	// returns a *BatchFallbackError naming every failed row.
	SkipBadRows bool
	// OnBadRow is told about each row that failed on its own.
	OnBadRow func(BadRow)
}

// Stats counts what a Table wrote since it was built.
type Stats struct {
	Batches, Messages, Upserted, Deleted, Retries int64
	// Fallbacks counts batches written one row at a time after the bulk
	// write failed; BadRows the rows that failed on their own.
	Fallbacks, BadRows int64
}

// BadRow is a message whose row could not be written on its own.
type BadRow struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       string // the message key as JSON ("null" when absent)
	Err       error
}

func (b BadRow) String() string {
	return fmt.Sprintf("key %s (%s/%d@%d): %v", b.Key, b.Topic, b.Partition, b.Offset, b.Err)
}

// BatchFallbackError is Deimos's BatchFallbackError: the bulk write failed,
// the rows were written one at a time, the good ones were committed and
// these failed.
type BatchFallbackError struct {
	Table  string
	Failed []BadRow
}

func (e *BatchFallbackError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table sink %s: %d row(s) failed after writing the batch one row at a time (the other rows are committed): ", e.Table, len(e.Failed))
	for i, f := range e.Failed {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
	}
	return b.String()
}

// Table is a table sink. It implements consume.Handler.
type Table struct {
	d       *db.DB
	o       Options
	cols    []string        // table columns in order
	colSet  map[string]bool // lower-case name -> present
	colName map[string]string
	timeCol map[string]bool // datetime/timestamp columns
	binCol  map[string]bool // binary columns (bytea, blob, varbinary)
	keys    []string        // conflict target
	field   map[string]string
	created string // "" when absent
	updated string
	maxRows int // rows per INSERT (parameter limit)
	Stats   Stats
}

// New inspects the table (columns, primary key) and returns the sink.
func New(ctx context.Context, d *db.DB, o Options) (*Table, error) {
	if err := db.ValidIdent(o.Table); err != nil {
		return nil, errs.Usagef("table sink: %w", err)
	}
	ok, err := d.TableExists(ctx, lastPart(o.Table))
	if err != nil {
		return nil, errs.Unavailablef("table sink: checking table %s: %w", o.Table, err)
	}
	if !ok {
		return nil, errs.Usagef("table sink: table %s does not exist (create it, e.g. with `deimos migrate gen-table`)", o.Table)
	}
	t := &Table{d: d, o: o, colSet: map[string]bool{}, colName: map[string]string{}, timeCol: map[string]bool{}, binCol: map[string]bool{}, field: map[string]string{}}
	if t.o.Now == nil {
		t.o.Now = time.Now
	}
	if t.o.Sleep == nil {
		t.o.Sleep = db.SleepCtx
	}
	if t.o.DeadlockRetries == 0 {
		t.o.DeadlockRetries = 2
	}
	rows, err := d.QueryContext(ctx, "SELECT * FROM "+d.Q(o.Table)+" WHERE 1=0")
	if err != nil {
		return nil, errs.Failedf("table sink: reading columns of %s: %w", o.Table, err)
	}
	cts, err := rows.ColumnTypes()
	rows.Close()
	if err != nil {
		return nil, errs.Failedf("table sink: reading columns of %s: %w", o.Table, err)
	}
	for _, ct := range cts {
		n := ct.Name()
		t.cols = append(t.cols, n)
		t.colSet[strings.ToLower(n)] = true
		t.colName[strings.ToLower(n)] = n
		tn := strings.ToUpper(ct.DatabaseTypeName())
		if strings.Contains(tn, "TIMESTAMP") || strings.Contains(tn, "DATETIME") || tn == "DATE" {
			t.timeCol[n] = true
		}
		if binaryType(tn) {
			t.binCol[n] = true
		}
	}
	if c, ok := t.colName["created_at"]; ok {
		t.created = c
	}
	if c, ok := t.colName["updated_at"]; ok {
		t.updated = c
	}
	for col, f := range o.Mapping {
		c, ok := t.colName[strings.ToLower(col)]
		if !ok {
			return nil, errs.Usagef("table sink: mapping names column %q, which table %s does not have", col, o.Table)
		}
		t.field[c] = f
	}
	if len(o.KeyColumns) > 0 {
		for _, k := range o.KeyColumns {
			c, ok := t.colName[strings.ToLower(k)]
			if !ok {
				return nil, errs.Usagef("table sink: key column %q is not a column of %s", k, o.Table)
			}
			t.keys = append(t.keys, c)
		}
	} else {
		t.keys, err = primaryKey(ctx, d, o.Table)
		if err != nil {
			return nil, errs.Failedf("table sink: reading the primary key of %s: %w", o.Table, err)
		}
		if len(t.keys) == 0 {
			return nil, errs.Usagef("table sink: table %s has no primary key; set key_columns (--key-columns) to a unique key", o.Table)
		}
	}
	limit := 30000 // SQLite's default SQLITE_MAX_VARIABLE_NUMBER is 32766
	if d.Dialect.Name() != "sqlite" {
		limit = 65000 // PostgreSQL's and MySQL's limit is 65535 parameters
	}
	t.maxRows = limit / (len(t.cols) + 1)
	if t.maxRows > 1000 {
		t.maxRows = 1000
	}
	if t.maxRows < 1 {
		t.maxRows = 1
	}
	return t, nil
}

// binaryType reports a binary column type by the driver's name for it:
// PostgreSQL bytea, MySQL BLOB/VARBINARY/BINARY, SQLite BLOB.
func binaryType(tn string) bool {
	return tn == "BYTEA" || strings.Contains(tn, "BLOB") || strings.Contains(tn, "BINARY")
}

func lastPart(name string) string {
	if i := strings.LastIndex(name, "."); i >= 0 {
		return name[i+1:]
	}
	return name
}

func primaryKey(ctx context.Context, d *db.DB, table string) ([]string, error) {
	var q string
	switch d.Dialect.Name() {
	case "postgres":
		q = `SELECT a.attname FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = $1::regclass AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum)`
		table = d.Q(table)
	case "sqlite":
		q = "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk"
	case "mysql":
		// A schema-qualified name (db.table) names another database.
		schema, name := "", table
		if i := strings.LastIndex(table, "."); i >= 0 {
			schema, name = table[:i], table[i+1:]
		}
		return queryStrings(ctx, d, `SELECT column_name FROM information_schema.key_column_usage
WHERE table_schema = COALESCE(NULLIF(?, ''), DATABASE()) AND table_name = ? AND constraint_name = 'PRIMARY'
ORDER BY ordinal_position`, schema, name)
	default:
		return nil, fmt.Errorf("dialect %s is not supported by table sinks", d.Dialect.Name())
	}
	return queryStrings(ctx, d, q, table)
}

// queryStrings runs a query that returns one text column.
func queryStrings(ctx context.Context, d *db.DB, q string, args ...any) ([]string, error) {
	rows, err := d.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Keys returns the conflict-target columns.
func (t *Table) Keys() []string { return append([]string(nil), t.keys...) }

// Columns returns the table's columns.
func (t *Table) Columns() []string { return append([]string(nil), t.cols...) }

// row is one message turned into column values.
type row struct {
	rec    *consume.Record
	delete bool
	vals   map[string]any // column -> value
	keyVal []any          // conflict-target values, for deletes
}

// recKey groups records by their Kafka key (a nil key is its own group).
func recKey(r consume.Record) string { return tuplekey.Encode(r.RawKey) }

// rowKey groups rows by their conflict-target values. The values are joined
// without collisions and with their types kept: ("a","bc") is not ("ab","c").
func rowKey(r row) string { return tuplekey.Encode(r.keyVal...) }

// Handle writes one polled batch in one transaction. Deadlocks and lock
// timeouts are retried (default twice, after a random 0.5–5.5 s wait).
func (t *Table) Handle(ctx context.Context, batch []consume.Record) error {
	if len(batch) == 0 {
		return nil
	}
	recs := batch
	// Compaction applies when some key is non-nil and the first key is present (docs/deimos-compat.md §7).
	compact := !t.o.NoCompact && batch[0].RawKey != nil && len(batch[0].RawKey) > 0
	var slices [][]consume.Record
	if compact {
		slices = [][]consume.Record{Compact(recs, recKey)}
	} else {
		slices = Slice(recs, recKey)
	}
	prepared := make([][]row, 0, len(slices))
	for _, s := range slices {
		rs := make([]row, 0, len(s))
		for i := range s {
			r, err := t.toRow(&s[i])
			if err != nil {
				return errs.Failed(err)
			}
			rs = append(rs, r)
		}
		prepared = append(prepared, rs)
	}
	nrows := 0
	for _, rs := range prepared {
		nrows += len(rs)
	}
	fallback := false
	var bulkErr error // the bulk write's error, once falling back
	// A stop request (ctx) lets the batch in flight finish and commit, as
	// the other long-running jobs do; only the waits between retries end.
	wctx := context.WithoutCancel(ctx)
	for attempt := 0; ; attempt++ {
		var up, del int64
		var failed []BadRow
		err := t.d.Tx(wctx, func(tx *sql.Tx) error {
			up, del, failed = 0, 0, nil
			now := t.o.Now().UTC()
			for _, rs := range prepared {
				var u, d int64
				var err error
				if fallback {
					var f []BadRow
					u, d, f, err = t.writeSliceByRow(wctx, tx, rs, now)
					failed = append(failed, f...)
				} else {
					u, d, err = t.writeSlice(wctx, tx, rs, now)
				}
				if err != nil {
					return err
				}
				up += u
				del += d
			}
			// Deimos: when no row goes in on its own, the bulk error stands
			// (the failure is probably not about single rows). With
			// SkipBadRows, rows refused for their own data (constraint or
			// data errors) are skipped even then: alone in a batch, or all bad.
			if fallback && up+del == 0 && !(t.o.SkipBadRows && allRowErrors(failed)) {
				return errNoneWritten
			}
			return nil
		})
		if errors.Is(err, errNoneWritten) { // no row went in on its own: the bulk error stands
			err = bulkErr
		} else if err == nil {
			t.Stats.Batches++
			t.Stats.Messages += int64(len(batch))
			t.Stats.Upserted += up
			t.Stats.Deleted += del
			if len(failed) == 0 {
				return nil
			}
			t.Stats.BadRows += int64(len(failed))
			if t.o.OnBadRow != nil {
				for _, f := range failed {
					t.o.OnBadRow(f)
				}
			}
			if t.o.SkipBadRows {
				return nil
			}
			return errs.Failed(&BatchFallbackError{Table: t.o.Table, Failed: failed})
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !db.IsDeadlock(err) && !fallback && !t.o.NoFallback && (nrows > 1 || t.o.SkipBadRows && db.IsRowError(err)) {
			// Deimos 2.6 batch_message_fallback: write the rows one at a time.
			fallback, bulkErr, attempt = true, err, -1
			t.Stats.Fallbacks++
			if t.o.OnFallback != nil {
				t.o.OnFallback(err, nrows)
			}
			continue
		}
		if !db.IsDeadlock(err) || t.o.DeadlockRetries < 0 || attempt >= t.o.DeadlockRetries {
			first := batch[0]
			return errs.Failedf("table sink %s: batch %s/%d@%d..%d: %w", t.o.Table, first.Topic, first.Partition, first.Offset, batch[len(batch)-1].Offset, err)
		}
		wait := time.Duration(500+rand.IntN(5000)) * time.Millisecond
		t.Stats.Retries++
		if t.o.OnRetry != nil {
			t.o.OnRetry(err, attempt+1, wait)
		}
		if err := t.o.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

var errNoneWritten = errors.New("no row of the batch could be written")

// allRowErrors: every failed row was refused for its own data.
func allRowErrors(failed []BadRow) bool {
	for _, f := range failed {
		if !db.IsRowError(f.Err) {
			return false
		}
	}
	return len(failed) > 0
}

func where(r *consume.Record) string {
	return fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset)
}

// valueText is the JSON text of a record's value. pkg/consume keeps JSON
// that is not compact (e.g. `{"id": 1}` from Python's json.dumps) as a JSON
// string of the raw text and binary as base64: unwrap the former, reject the
// latter. nil for a tombstone.
func valueText(r *consume.Record) ([]byte, error) {
	switch r.ValueEncoding {
	case envelope.EncString:
		var s string
		if err := json.Unmarshal(r.Value, &s); err != nil {
			return nil, fmt.Errorf("%s: payload: %w", where(r), err)
		}
		return []byte(s), nil
	case envelope.EncBase64:
		return nil, fmt.Errorf("%s: payload is binary (no schema decoded it), cannot map it to columns", where(r))
	}
	return r.Value, nil
}

// toRow turns a record into column values: payload fields ∩ columns (through
// the mapping), then the key's columns on top.
func (t *Table) toRow(r *consume.Record) (row, error) {
	out := row{rec: r, vals: map[string]any{}}
	if r.DecodeErr != nil {
		return out, fmt.Errorf("%s: cannot decode: %w", where(r), r.DecodeErr)
	}
	val, err := valueText(r)
	if err != nil {
		return out, err
	}
	if val == nil || bytes.Equal(bytes.TrimSpace(val), []byte("null")) {
		out.delete = true
	} else {
		v, err := encode.ParseJSON(val)
		payload, ok := v.(map[string]any)
		if err != nil || !ok {
			return out, fmt.Errorf("%s: payload is not a JSON object, cannot map it to columns of %s", where(r), t.o.Table)
		}
		for _, c := range t.cols {
			if c == t.created || c == t.updated {
				continue
			}
			f := c
			if m, ok := t.field[c]; ok {
				f = m
			}
			v, ok := payload[f]
			if !ok {
				continue
			}
			cv, err := t.convert(c, v)
			if err != nil {
				return out, fmt.Errorf("%s: field %q: %w", where(r), f, err)
			}
			out.vals[c] = cv
		}
	}
	if err := t.applyKey(r, out.vals); err != nil {
		return out, err
	}
	for _, k := range t.keys {
		v, ok := out.vals[k]
		if !ok || v == nil {
			if out.delete {
				return out, fmt.Errorf("%s: tombstone without a value for key column %q: cannot tell which row to delete", where(r), k)
			}
			return out, fmt.Errorf("%s: no value for key column %q (from the message key or a payload field)", where(r), k)
		}
		out.keyVal = append(out.keyVal, v)
	}
	return out, nil
}

func (t *Table) applyKey(r *consume.Record, vals map[string]any) error {
	if r.Key == nil || bytes.Equal(bytes.TrimSpace(r.Key), []byte("null")) {
		return nil
	}
	k, err := encode.ParseJSON(r.Key)
	if err != nil {
		return fmt.Errorf("%s: key is not JSON: %w", where(r), err)
	}
	if m, ok := k.(map[string]any); ok {
		matched := false
		for f, v := range m {
			c, ok := t.colName[strings.ToLower(f)]
			if !ok {
				continue
			}
			cv, err := t.convert(c, v)
			if err != nil {
				return fmt.Errorf("%s: key field %q: %w", where(r), f, err)
			}
			vals[c] = cv
			matched = true
		}
		if matched || len(m) != 1 {
			return nil
		}
		for _, v := range m { // a single-entry object key reduces to its value
			k = v
		}
	}
	cv, err := t.convert(t.keys[0], k)
	if err != nil {
		return fmt.Errorf("%s: key: %w", where(r), err)
	}
	vals[t.keys[0]] = cv
	return nil
}

// convert turns a JSON value into a driver value for column c.
func (t *Table) convert(c string, v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case json.Number:
		if t.timeCol[c] {
			if n, err := x.Int64(); err == nil {
				return t.timeValue(time.Unix(n, 0)), nil
			}
		}
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s out of range", x)
		}
		return f, nil
	case string:
		if t.timeCol[c] {
			if n, err := strconv.ParseInt(x, 10, 64); err == nil {
				return t.timeValue(time.Unix(n, 0)), nil
			}
			// A time with a zone is stored as UTC wall time, as Rails does:
			// PostgreSQL's timestamp would drop the offset and MySQL's
			// DATETIME refuses the text.
			if tm, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return t.timeValue(tm), nil
			}
		}
		if t.binCol[c] { // the text's bytes, as they are
			return []byte(x), nil
		}
		return x, nil
	case bool:
		return x, nil
	case []any:
		if t.binCol[c] {
			if b, ok := byteArray(x); ok {
				return b, nil
			}
		}
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	default: // objects and arrays: stored as JSON text
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	}
}

// byteArray reads an array of integers 0-255 as the bytes they are: how
// decoded Avro bytes that are not UTF-8 text arrive (pkg/encode).
func byteArray(a []any) ([]byte, bool) {
	out := make([]byte, len(a))
	for i, v := range a {
		n, ok := v.(json.Number)
		if !ok {
			return nil, false
		}
		x, err := n.Int64()
		if err != nil || x < 0 || x > 255 {
			return nil, false
		}
		out[i] = byte(x)
	}
	return out, true
}

// timeValue renders a time as UTC wall time, as Rails stores datetimes.
func (t *Table) timeValue(tm time.Time) any {
	tm = tm.UTC()
	if t.d.Dialect.Name() == "sqlite" {
		return tm.Format("2006-01-02 15:04:05.000000")
	}
	return tm
}

// writeSlice writes upserts first, then deletes (docs/deimos-compat.md §7).
func (t *Table) writeSlice(ctx context.Context, tx *sql.Tx, rs []row, now time.Time) (int64, int64, error) {
	var ups, dels []row
	for _, r := range rs {
		if r.delete {
			dels = append(dels, r)
		} else {
			ups = append(ups, r)
		}
	}
	// Rows that land on the same key inside one statement would make
	// PostgreSQL's ON CONFLICT fail: keep the last (they arrived in order).
	ups = Compact(ups, rowKey)
	for start := 0; start < len(ups); start += t.maxRows {
		end := min(start+t.maxRows, len(ups))
		if err := t.upsert(ctx, tx, ups[start:end], now); err != nil {
			return 0, 0, err
		}
	}
	for start := 0; start < len(dels); start += t.maxRows {
		end := min(start+t.maxRows, len(dels))
		if err := t.delete(ctx, tx, dels[start:end]); err != nil {
			return 0, 0, err
		}
	}
	return int64(len(ups)), int64(len(dels)), nil
}

// writeSliceByRow is writeSlice one row at a time (the fallback), each row
// inside its own savepoint: PostgreSQL aborts a whole transaction on an
// error, and rolling back to the savepoint keeps the other rows. A row's
// error is returned in the failed list, except deadlocks and lock timeouts,
// which abort the transaction so the batch is retried.
func (t *Table) writeSliceByRow(ctx context.Context, tx *sql.Tx, rs []row, now time.Time) (up, del int64, failed []BadRow, err error) {
	var ups, dels []row
	for _, r := range rs {
		if r.delete {
			dels = append(dels, r)
		} else {
			ups = append(ups, r)
		}
	}
	ups = Compact(ups, rowKey)
	one := func(r row, write func() error) error {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT deimos_row"); err != nil {
			return err
		}
		werr := write()
		if werr == nil {
			_, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT deimos_row")
			return err
		}
		if db.IsDeadlock(werr) || ctx.Err() != nil {
			return werr
		}
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT deimos_row"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT deimos_row"); err != nil {
			return err
		}
		failed = append(failed, badRow(r.rec, werr))
		return errRowFailed
	}
	for start := 0; start < len(ups); start += t.maxRows {
		// The columns of the bulk statement this row was part of, so a
		// row written on its own gets the same NULLs as in the bulk write.
		chunk := ups[start:min(start+t.maxRows, len(ups))]
		cols := t.unionCols(chunk)
		for _, r := range chunk {
			switch err := one(r, func() error { return t.upsertCols(ctx, tx, []row{r}, cols, now) }); err {
			case nil:
				up++
			case errRowFailed:
			default:
				return 0, 0, nil, err
			}
		}
	}
	for _, r := range dels {
		switch err := one(r, func() error { return t.delete(ctx, tx, []row{r}) }); err {
		case nil:
			del++
		case errRowFailed:
		default:
			return 0, 0, nil, err
		}
	}
	return up, del, failed, nil
}

var errRowFailed = errors.New("row failed")

func badRow(r *consume.Record, err error) BadRow {
	k := "null"
	if r.Key != nil {
		k = string(r.Key)
	} else if r.RawKey != nil {
		k = strconv.Quote(string(r.RawKey))
	}
	return BadRow{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: k, Err: err}
}

// upsert writes rows with one multi-row INSERT … ON CONFLICT. The columns are
// the union of the rows' columns; a row without a value gets NULL, as
// Deimos's bulk import does.
func (t *Table) upsert(ctx context.Context, tx *sql.Tx, rs []row, now time.Time) error {
	return t.upsertCols(ctx, tx, rs, t.unionCols(rs), now)
}

// unionCols is the union of the rows' columns, in table order.
func (t *Table) unionCols(rs []row) []string {
	set := map[string]bool{}
	for _, r := range rs {
		for c := range r.vals {
			set[c] = true
		}
	}
	var cols []string
	for _, c := range t.cols { // table order, for stable SQL
		if set[c] {
			cols = append(cols, c)
		}
	}
	return cols
}

// upsertCols is upsert with the given columns.
func (t *Table) upsertCols(ctx context.Context, tx *sql.Tx, rs []row, cols []string, now time.Time) error {
	ins := append([]string(nil), cols...)
	if t.created != "" {
		ins = append(ins, t.created)
	}
	if t.updated != "" {
		ins = append(ins, t.updated)
	}
	d := t.d.Dialect
	args := make([]any, 0, len(rs)*len(ins))
	ts := t.timeValue(now)
	for _, r := range rs {
		for _, c := range cols {
			args = append(args, r.vals[c])
		}
		if t.created != "" {
			args = append(args, ts)
		}
		if t.updated != "" {
			args = append(args, ts)
		}
	}
	isKey := map[string]bool{}
	for _, k := range t.keys {
		isKey[k] = true
	}
	var set []string
	for _, c := range cols {
		if !isKey[c] {
			set = append(set, c)
		}
	}
	if t.updated != "" { // created_at is set only on insert
		set = append(set, t.updated)
	}
	q := db.InsertSQL(d, t.o.Table, ins, len(rs)) + db.UpsertClause(d, t.keys, set)
	_, err := tx.ExecContext(ctx, db.Rebind(d, q), args...)
	if err != nil {
		return fmt.Errorf("upsert into %s (first message %s): %w", t.o.Table, where(rs[0].rec), err)
	}
	return nil
}

func (t *Table) delete(ctx context.Context, tx *sql.Tx, rs []row) error {
	d := t.d.Dialect
	var b strings.Builder
	b.WriteString("DELETE FROM " + d.Quote(t.o.Table) + " WHERE ")
	args := make([]any, 0, len(rs)*len(t.keys))
	if len(t.keys) == 1 {
		b.WriteString(d.Quote(t.keys[0]) + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(rs)), ", ") + ")")
		for _, r := range rs {
			args = append(args, r.keyVal[0])
		}
	} else {
		var conds []string
		var one []string
		for _, k := range t.keys {
			one = append(one, d.Quote(k)+" = ?")
		}
		c := "(" + strings.Join(one, " AND ") + ")"
		for _, r := range rs {
			conds = append(conds, c)
			args = append(args, r.keyVal...)
		}
		b.WriteString(strings.Join(conds, " OR "))
	}
	if _, err := tx.ExecContext(ctx, db.Rebind(d, b.String()), args...); err != nil {
		return fmt.Errorf("delete from %s (first tombstone %s): %w", t.o.Table, where(rs[0].rec), err)
	}
	return nil
}
