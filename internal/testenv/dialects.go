package testenv

import "testing"

// Dialect is one database kind that table tests run against.
type Dialect struct {
	// Name is the pkg/db dialect name: "sqlite", "postgres" or "mysql"
	// (MariaDB stands in for MySQL here: Debian has no MySQL 8).
	Name string
	// URL returns the URL of a fresh, empty database of this kind,
	// dropped (or deleted) when t ends.
	URL func(t testing.TB) string
}

// Dialects lists every database deimos supports, so a table test can run
// the same scenario on each:
//
//	for _, d := range testenv.Dialects(t) {
//		t.Run(d.Name, func(t *testing.T) { url := d.URL(t); ... })
//	}
//
// The servers start on first use of URL; the package needs TestMain to call Main.
func Dialects(t testing.TB) []Dialect {
	t.Helper()
	return []Dialect{
		{Name: "sqlite", URL: SQLiteURL},
		{Name: "postgres", URL: Postgres},
		{Name: "mysql", URL: MariaDB},
	}
}
