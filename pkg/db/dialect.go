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
	// Upsert renders a one-row INSERT that updates the row whose keys are
	// taken (InsertSQL + UpsertClause).
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
	isKey := map[string]bool{}
	for _, k := range keys {
		isKey[k] = true
	}
	var set []string
	for _, c := range cols {
		if !isKey[c] {
			set = append(set, c)
		}
	}
	return InsertSQL(d, table, cols, 1) + UpsertClause(d, keys, set)
}

// InsertSQL renders INSERT INTO table (cols) VALUES (?, …), … with rows
// tuples of '?' placeholders (deimos's own; Rebind them).
func InsertSQL(d Dialect, table string, cols []string, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + d.Quote(table) + " (")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Quote(c))
	}
	b.WriteString(") VALUES ")
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	b.Grow(rows * (len(tuple) + 2))
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	return b.String()
}

// UpsertClause is what follows INSERT … VALUES … to make it an upsert: a
// row whose keys are taken overwrites the columns in set of the row there.
//
//   - SQLite, PostgreSQL: ON CONFLICT (keys) DO UPDATE SET c = excluded.c
//     (DO NOTHING when set is empty). keys must be the columns of a unique
//     index or the primary key.
//   - MySQL, MariaDB: ON DUPLICATE KEY UPDATE c = VALUES(c). The server
//     picks the conflicting index itself: a row taken on any unique index
//     of the table (not only keys) is updated. VALUES(c) is the form both
//     accept: MySQL 8.0.20 deprecates it in favour of a row alias
//     (INSERT … AS new … c = new.c), which MariaDB does not have, but
//     still runs it. With set empty the update is k = k, a no-op; INSERT
//     IGNORE is not used because it would also turn errors of the row's
//     own data into warnings.
func UpsertClause(d Dialect, keys, set []string) string {
	var b strings.Builder
	if d.Name() == "mysql" {
		b.WriteString(" ON DUPLICATE KEY UPDATE ")
		if len(set) == 0 && len(keys) > 0 {
			b.WriteString(d.Quote(keys[0]) + " = " + d.Quote(keys[0]))
		}
		for i, c := range set {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(d.Quote(c) + " = VALUES(" + d.Quote(c) + ")")
		}
		return b.String()
	}
	b.WriteString(" ON CONFLICT (")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Quote(k))
	}
	b.WriteString(")")
	if len(set) == 0 {
		b.WriteString(" DO NOTHING")
		return b.String()
	}
	b.WriteString(" DO UPDATE SET ")
	for i, c := range set {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Quote(c) + " = excluded." + d.Quote(c))
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

// TableExistsQuery reads the catalog itself: information_schema.tables
// checks privileges row by row through a view, and cost a fresh connection
// (one per relay worker) tens of milliseconds.
func (Postgres) TableExistsQuery() string {
	return "SELECT COUNT(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace" +
		" WHERE n.nspname = ANY (current_schemas(false)) AND c.relname = ? AND c.relkind IN ('r', 'v', 'f', 'p')"
}
func (d Postgres) Upsert(table string, cols, keys []string) string {
	return upsert(d, table, cols, keys)
}
