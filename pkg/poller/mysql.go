package poller

import (
	"context"
	"database/sql"
	"reflect"
	"strings"

	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// mysqlBoolColumns lists the tinyint(1) columns of table: Rails's booleans
// on MySQL, which the driver reads as integers.
func mysqlBoolColumns(ctx context.Context, d *db.DB, table string) (map[string]bool, error) {
	schema, name := "DATABASE()", table
	var args []any
	if i := strings.LastIndexByte(table, '.'); i >= 0 {
		schema, name = "?", table[i+1:]
		args = append(args, table[:i])
	}
	args = append(args, name)
	rows, err := d.QueryContext(ctx, "SELECT column_name FROM information_schema.columns WHERE table_schema = "+schema+
		" AND table_name = ? AND column_type = 'tinyint(1)'", args...)
	if err != nil {
		return nil, errs.Unavailablef("database: reading the columns of %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out[c] = true
	}
	return out, rows.Err()
}

var nullString = reflect.TypeOf(sql.NullString{})

// isMySQLText reports a column the MySQL driver returns as bytes although
// it holds text (char, varchar, text, enum, set, decimal, json): the driver
// says so by its scan type, string rather than []byte (binary and blob
// columns).
func isMySQLText(ct *sql.ColumnType) bool {
	st := ct.ScanType()
	return st != nil && (st.Kind() == reflect.String || st == nullString) || strings.EqualFold(ct.DatabaseTypeName(), "JSON")
}

// cursorDigits reads, on MySQL, the fractional-second digits
// deimos_poll_info.last_sent keeps (-1 on other dialects: all), and refuses
// a timestamp column that keeps more than the cursor can hold: a
// datetime(6) table (Rails 7) with a deimos_poll_info created by Rails 5 or
// 6 (datetime, whole seconds). MySQL 8 would round the saved cursor up past
// rows, MariaDB would cut it back below rows already sent: rows would be
// skipped or sent again.
func cursorDigits(ctx context.Context, d *db.DB, s Settings, src source, del *source) (int, error) {
	pi, err := db.DatetimeScales(ctx, d, d.Dialect, PollInfoTable)
	if err != nil {
		return 0, errs.Unavailablef("database: %w", err)
	}
	digits := db.ScaleOf(pi, "last_sent")
	if digits < 0 {
		return digits, nil
	}
	for _, x := range []*source{&src, del} {
		if x == nil {
			continue
		}
		ts, err := db.DatetimeScales(ctx, d, d.Dialect, lastPart(x.table))
		if err != nil {
			return 0, errs.Unavailablef("database: %w", err)
		}
		if td := db.ScaleOf(ts, x.tsCol); td > digits {
			return 0, errs.Usagef("poller %s: %s.%s keeps %d fractional-second digits but %s.last_sent keeps %d, so the cursor cannot hold its timestamps exactly"+
				" and rows would be skipped or sent twice: widen the cursor column (ALTER TABLE %s MODIFY last_sent datetime(%d);"+
				" in Rails, change_column :%s, :last_sent, :datetime, precision: %d)",
				s.Name, x.table, x.tsCol, td, PollInfoTable, digits, PollInfoTable, td, PollInfoTable, td)
		}
	}
	return digits, nil
}
