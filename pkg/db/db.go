// Package db opens the SQL database named by a URL (sqlite:PATH, postgres://…,
// mysql://… or the MySQL driver's user:password@tcp(host:3306)/db)
// and owns the few SQL differences between dialects: placeholders, identifier
// quoting, upserts, booleans and time literals. No ORM; database/sql only.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // postgres driver "pgx"
	_ "github.com/mattn/go-sqlite3"    // sqlite driver "sqlite3"

	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/redact"
	"github.com/deimos-cli/deimos/pkg/sqlguard"
)

// DB is a connection pool plus its dialect.
type DB struct {
	*sql.DB
	Dialect Dialect
	// URL is the redacted URL, safe for logs.
	URL string
	// secrets are the password spellings of the URL, for Scrub.
	secrets []string
}

// Open parses the URL, opens the pool and pings it. A database that cannot
// be reached is errs.Unavailable (exit 3); a malformed URL is errs.Usage.
// A SQLite file must already exist (errs.Usage otherwise): only
// OpenOrCreate, for `migrate up`, may create one, so that a missing setting
// or a typo never turns into a silent new, empty database.
func Open(ctx context.Context, rawURL string) (*DB, error) { return open(ctx, rawURL, false) }

// OpenOrCreate is Open, except that a SQLite file that does not exist is
// created. Only `migrate up` uses it.
func OpenOrCreate(ctx context.Context, rawURL string) (*DB, error) {
	return open(ctx, rawURL, true)
}

func open(ctx context.Context, rawURL string, create bool) (*DB, error) {
	d, dsn, err := parse(rawURL, create)
	if err != nil {
		return nil, err
	}
	var sdb *sql.DB
	if d.Name() == "mysql" {
		conn, cerr := mysqlConnector(dsn)
		if cerr != nil {
			return nil, errs.Usagef("database %s: %w", redact.DSN(rawURL), scrub(cerr, rawURL))
		}
		sdb = sql.OpenDB(conn)
	} else if sdb, err = sql.Open(d.Driver(), dsn); err != nil {
		return nil, errs.Usagef("database %s: %w", redact.DSN(rawURL), scrub(err, rawURL))
	}
	if d.Name() == "sqlite" {
		// One writer at a time: a single connection avoids SQLITE_BUSY between
		// our own goroutines; busy_timeout covers other processes.
		sdb.SetMaxOpenConns(1)
	} else {
		sdb.SetMaxOpenConns(16)
		sdb.SetMaxIdleConns(8)
		sdb.SetConnMaxIdleTime(5 * time.Minute)
	}
	if d.Name() == "mysql" {
		// Servers and proxies close connections idle past wait_timeout;
		// the driver's advice is to retire them well before.
		sdb.SetConnMaxLifetime(30 * time.Minute)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := sdb.PingContext(pctx); err != nil {
		sdb.Close()
		return nil, errs.Unavailablef("database %s: cannot connect: %w", redact.DSN(rawURL), scrub(err, rawURL))
	}
	return &DB{DB: sdb, Dialect: d, URL: redact.DSN(rawURL), secrets: redact.Secrets(rawURL)}, nil
}

// Scrub masks this database's password, and any other credentials, in a
// message (a driver error, say) before it is logged or stored.
func (d *DB) Scrub(msg string) string { return redact.Text(msg, d.secrets...) }

func parse(raw string, create bool) (Dialect, string, error) {
	switch {
	case strings.HasPrefix(raw, "sqlite:") || strings.HasPrefix(raw, "sqlite3:"):
		_, path, _ := strings.Cut(raw, ":")
		path = strings.TrimPrefix(path, "//")
		if path == "" {
			return nil, "", errs.Usagef("database URL %q: missing path (sqlite:PATH)", raw)
		}
		if !SQLiteBuilt {
			return nil, "", errs.Usagef("database %s: this deimos binary was built without cgo (CGO_ENABLED=0) and has no SQLite; use a release binary (make release), a build with cgo, or a PostgreSQL database", redact.DSN(raw))
		}
		file, query, _ := strings.Cut(path, "?")
		memory := file == ":memory:" || strings.Contains("&"+query+"&", "&mode=memory&")
		q := "_busy_timeout=10000&_foreign_keys=on&_journal_mode=WAL&_txlock=immediate"
		if !create && !memory {
			if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
				return nil, "", errs.Usagef("database %s: no such SQLite file; create it (and the tables) with 'deimos migrate up --db %s'", redact.DSN(raw), redact.DSN(raw))
			}
			if !strings.Contains("&"+query, "&mode=") {
				q += "&mode=rw" // SQLite itself then refuses to create the file
			}
		}
		if query != "" {
			return SQLite{}, "file:" + path + "&" + q, nil
		}
		return SQLite{}, "file:" + path + "?" + q, nil
	case strings.HasPrefix(raw, "postgres://") || strings.HasPrefix(raw, "postgresql://"):
		if _, err := redact.ParseURL(raw); err != nil {
			return nil, "", errs.Usagef("database URL %s %w", redact.DSN(raw), err)
		}
		return Postgres{}, raw, nil
	case strings.HasPrefix(raw, "mysql://") || isMySQLDSN(raw):
		dsn, err := parseMySQL(raw)
		if err != nil {
			return nil, "", err
		}
		return MySQL{}, dsn, nil
	}
	return nil, "", errs.Usagef("database URL %q: use sqlite:PATH, postgres://user:password@host/db or mysql://user:password@host:3306/db", redact.DSN(raw))
}

// scrub removes a password that a driver might echo back inside an error,
// and folds pgx's multi-line connect errors (one line per address tried)
// into one line, deduplicated: errors are one line each.
func scrub(err error, raw string) error {
	msg := redact.Text(err.Error(), redact.Secrets(raw)...)
	if !strings.Contains(msg, "\n") {
		if msg == err.Error() {
			return err
		}
		return fmt.Errorf("%s", msg)
	}
	var parts []string
	seen := map[string]bool{}
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !seen[line] {
			seen[line] = true
			parts = append(parts, line)
		}
	}
	return fmt.Errorf("%s", strings.Join(parts, " "))
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// ValidIdent checks a table or column name from config: letters, digits and
// underscores, optionally schema-qualified (schema.table). Quoting is still
// applied; validation rejects anything a user did not mean as a name.
func ValidIdent(name string) error {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return fmt.Errorf("invalid SQL name %q: at most schema.table", name)
	}
	for _, p := range parts {
		if !identRE.MatchString(p) {
			return fmt.Errorf("invalid SQL name %q: use letters, digits and underscores only", name)
		}
	}
	return nil
}

// Rebind turns deimos's own '?' placeholders into the dialect's ($1, $2… on
// PostgreSQL). It reads the text as the database does (pkg/sqlguard): a '?'
// inside a string, quoted identifier or comment, or in an operator such as
// ?| , is kept. Never pass a user fragment through Rebind: use RebindAround.
func (d *DB) Rebind(q string) string { return Rebind(d.Dialect, q) }

// Rebind is the free-function form.
func Rebind(d Dialect, q string) string {
	out, _ := sqlguard.Rebind(Guard(d), q, 0)
	return out
}

// RebindAround renders before + frag + after, where before and after are
// deimos's own SQL (their '?' become placeholders, numbered across both) and
// frag is a user fragment already checked with sqlguard.CheckExpr, copied as
// written: its '?' stay PostgreSQL operators (`tags ? 'vip'`).
func RebindAround(d Dialect, before, frag, after string) string {
	g := Guard(d)
	b, n := sqlguard.Rebind(g, before, 0)
	a, _ := sqlguard.Rebind(g, after, n)
	return b + frag + a
}

// Guard is the sqlguard dialect that reads this dialect's SQL.
func Guard(d Dialect) sqlguard.Dialect {
	switch d.Name() {
	case "postgres":
		return sqlguard.Postgres
	case "mysql":
		return sqlguard.MySQL
	}
	return sqlguard.SQLite
}

// GuardsFor returns the sqlguard dialects a fragment must pass for a
// database URL: its own, or every dialect when the URL names none yet.
func GuardsFor(rawURL string) []sqlguard.Dialect {
	switch DialectName(rawURL) {
	case "sqlite":
		return []sqlguard.Dialect{sqlguard.SQLite}
	case "postgres":
		return []sqlguard.Dialect{sqlguard.Postgres}
	case "mysql":
		return []sqlguard.Dialect{sqlguard.MySQL}
	}
	return sqlguard.All
}

// DialectName names the dialect of a database URL ("sqlite", "postgres"
// or "mysql") from its form alone, without parsing it fully or
// connecting; "" when it is none of them.
func DialectName(rawURL string) string {
	switch {
	case strings.HasPrefix(rawURL, "sqlite:") || strings.HasPrefix(rawURL, "sqlite3:"):
		return "sqlite"
	case strings.HasPrefix(rawURL, "postgres://") || strings.HasPrefix(rawURL, "postgresql://"):
		return "postgres"
	case strings.HasPrefix(rawURL, "mysql://") || isMySQLDSN(rawURL):
		return "mysql"
	}
	return ""
}

// Q quotes an identifier for this dialect (call ValidIdent first for names from config).
func (d *DB) Q(name string) string { return d.Dialect.Quote(name) }

// Tx runs fn in a transaction, committing on nil and rolling back otherwise.
func (d *DB) Tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// TableExists reports whether a table exists.
func (d *DB) TableExists(ctx context.Context, table string) (bool, error) {
	var n int
	err := d.QueryRowContext(ctx, d.Rebind(d.Dialect.TableExistsQuery()), table).Scan(&n)
	return n > 0, err
}

// Columns lists a table's column names in order.
func (d *DB) Columns(ctx context.Context, table string) ([]string, error) {
	if err := ValidIdent(table); err != nil {
		return nil, err
	}
	var args []any
	if d.Dialect.Name() == "postgres" {
		// Not through pgx's statement cache: after an ALTER TABLE (migrate
		// adding a column) the cached plan of SELECT * would fail with
		// "cached plan must not change result type".
		args = append(args, pgx.QueryExecModeSimpleProtocol)
	}
	rows, err := d.QueryContext(ctx, "SELECT * FROM "+d.Q(table)+" WHERE 1=0", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return rows.Columns()
}
