package db

import (
	"strings"
	"time"
)

// Dialect owns what differs between SQL databases.
type Dialect interface {
	Name() string   // "sqlite" | "postgres" | "mysql"
	Driver() string // database/sql driver name
	// Quote quotes an identifier; a dotted name is quoted part by part.
	Quote(name string) string
	// Bool renders a boolean literal the way Rails does in the lock SQL.
	Bool(b bool) string
	// TimeLiteral renders a UTC time as 'YYYY-MM-DD HH:MM:SS' (second precision),
	// as Deimos's lock UPDATE does.
	TimeLiteral(t time.Time) string
	// TableExistsQuery takes one parameter: the table name.
	TableExistsQuery() string
	// Upsert renders INSERT … ON CONFLICT (keys) DO UPDATE SET cols.
	Upsert(table string, cols, keys []string) string
}

// TimeFormat is how Deimos stores and compares datetimes: UTC wall time.
const TimeFormat = "2006-01-02 15:04:05"

// Quote quotes an identifier for the named dialect ("sqlite", "postgres",
// "mysql"): double quotes, or backticks on MySQL, with a quote character
// inside the name doubled. A dotted name (schema.table) is quoted part by
// part. It is the one quoting function; Dialect.Quote and DB.Q call it.
// Names from config must pass ValidIdent first.
func Quote(dialect, name string) string {
	q := `"`
	if dialect == "mysql" {
		q = "`"
	}
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = q + strings.ReplaceAll(p, q, q+q) + q
	}
	return strings.Join(parts, ".")
}

func upsert(d Dialect, table string, cols, keys []string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + d.Quote(table) + " (")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Quote(c))
	}
	b.WriteString(") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ") ON CONFLICT (")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Quote(k))
	}
	b.WriteString(")")
	isKey := map[string]bool{}
	for _, k := range keys {
		isKey[k] = true
	}
	var set []string
	for _, c := range cols {
		if !isKey[c] {
			set = append(set, d.Quote(c)+" = excluded."+d.Quote(c))
		}
	}
	if len(set) == 0 {
		b.WriteString(" DO NOTHING")
	} else {
		b.WriteString(" DO UPDATE SET " + strings.Join(set, ", "))
	}
	return b.String()
}

// SQLite is the embedded default.
type SQLite struct{}

func (SQLite) Name() string                   { return "sqlite" }
func (SQLite) Driver() string                 { return "sqlite3" }
func (d SQLite) Quote(n string) string        { return Quote(d.Name(), n) }
func (SQLite) TimeLiteral(t time.Time) string { return "'" + t.UTC().Format(TimeFormat) + "'" }
func (SQLite) Bool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
func (SQLite) TableExistsQuery() string {
	return "SELECT COUNT(*) FROM sqlite_master WHERE type IN ('table','view') AND name = ?"
}
func (d SQLite) Upsert(table string, cols, keys []string) string { return upsert(d, table, cols, keys) }

// Postgres is PostgreSQL through pgx.
type Postgres struct{}

func (Postgres) Name() string                   { return "postgres" }
func (Postgres) Driver() string                 { return "pgx" }
func (d Postgres) Quote(n string) string        { return Quote(d.Name(), n) }
func (Postgres) TimeLiteral(t time.Time) string { return "'" + t.UTC().Format(TimeFormat) + "'" }
func (Postgres) Bool(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}
func (Postgres) TableExistsQuery() string {
	return "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ANY (current_schemas(false)) AND table_name = ?"
}
func (d Postgres) Upsert(table string, cols, keys []string) string {
	return upsert(d, table, cols, keys)
}
