package testenv

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

// Querier is what Rows needs (*sql.DB, *db.DB, *sql.Tx).
type Querier interface {
	Query(query string, args ...any) (*sql.Rows, error)
}

// Rows runs q and returns each row as its values joined by "|" (bytes as
// text, NULL as <nil>), so tests can compare tables with one DeepEqual.
func Rows(t testing.TB, d Querier, q string) []string {
	t.Helper()
	rows, err := d.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
