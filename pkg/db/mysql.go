package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/redact"
)

// MySQL is MySQL 8 and MariaDB (10.6 and later) through go-sql-driver/mysql.
// It writes only SQL both accept; docs/mysql.md lists the differences.
type MySQL struct{}

func (d MySQL) Name() string                 { return "mysql" }
func (MySQL) Driver() string                 { return "mysql" }
func (d MySQL) Quote(n string) string        { return Quote(d.Name(), n) }
func (MySQL) TimeLiteral(t time.Time) string { return "'" + t.UTC().Format(TimeFormat) + "'" }

// Bool is 1 or 0: Rails writes booleans (TINYINT(1)) that way on MySQL.
func (MySQL) Bool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (MySQL) TableExistsQuery() string {
	return "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
}

// Upsert renders INSERT … ON DUPLICATE KEY UPDATE c = VALUES(c)
// (UpsertClause says why that form).
func (d MySQL) Upsert(table string, cols, keys []string) string { return upsert(d, table, cols, keys) }

// mysqlDSNRE recognises the driver's own DSN form,
// [user[:password]@][tcp|unix(address)]/dbname[?params]: an explicit
// protocol, or credentials followed by "@/".
var mysqlDSNRE = regexp.MustCompile(`^(?:[^()]*@)?(?:tcp[46]?|unix)\(|^[^/()]*@/`)

// isMySQLDSN reports the go-sql-driver/mysql DSN form (not a URL).
func isMySQLDSN(raw string) bool {
	return !strings.Contains(raw, "://") && mysqlDSNRE.MatchString(raw)
}

// MySQL connection settings deimos relies on, applied to both URL forms.
const (
	// MySQLMaxAllowedPacket is the client's packet limit: a 10 MiB message
	// (Deimos's MEDIUMBLOB limit for kafka_messages.message), escaped into
	// a statement, fits with room to spare. The server's max_allowed_packet
	// must allow it too (docs/mysql.md).
	MySQLMaxAllowedPacket = 64 << 20
	mysqlDialTimeout      = 10 * time.Second
	mysqlWriteTimeout     = 60 * time.Second
)

// parseMySQL turns mysql://user:password@host:3306/db?params or the
// driver's user:password@tcp(host:3306)/db?params into the driver's DSN,
// with the settings deimos needs:
//   - parseTime=true and loc=UTC, and the session time_zone '+00:00':
//     DATETIME columns hold UTC wall time, as Rails writes them;
//   - interpolateParams=true (unless the URL sets it): a statement is one
//     round trip instead of prepare, execute and close;
//   - maxAllowedPacket 64 MiB unless set; dial timeout 10 s and write
//     timeout 60 s unless set (no read timeout: a statement may wait on
//     locks; a dead peer is found by TCP keepalive);
//   - multiStatements is always off: a statement is one statement.
//
// URL query parameters are the driver's (tls=true|skip-verify|preferred,
// timeout=5s, …); socket=/path connects over a Unix socket instead of TCP.
func parseMySQL(raw string) (string, error) {
	var cfg *mysql.Config
	var set func(string) bool // whether the user set a parameter
	if strings.Contains(raw, "://") {
		u, err := redact.ParseURL(raw)
		if err != nil {
			return "", errs.Usagef("database URL %s %w", redact.DSN(raw), err)
		}
		q := u.Query()
		netAddr := "tcp(" + u.Host + ")"
		if sock := q.Get("socket"); sock != "" {
			if u.Host != "" {
				return "", errs.Usagef("database URL %s: give a host or socket=, not both", redact.DSN(raw))
			}
			netAddr = "unix(" + sock + ")"
			q.Del("socket")
		} else if u.Host == "" {
			return "", errs.Usagef("database URL %s: missing host (mysql://user:password@host:3306/db)", redact.DSN(raw))
		} else if u.Port() == "" {
			netAddr = "tcp(" + net.JoinHostPort(u.Hostname(), "3306") + ")"
		}
		// Parameters go through the driver's parser; credentials and the
		// database name are set afterwards so that no character in them
		// can be read as DSN syntax.
		cfg, err = mysql.ParseDSN(netAddr + "/?" + q.Encode())
		if err != nil {
			return "", errs.Usagef("database URL %s: %v", redact.DSN(raw), redact.Text(err.Error(), redact.Secrets(raw)...))
		}
		if u.User != nil {
			cfg.User = u.User.Username()
			cfg.Passwd, _ = u.User.Password()
		}
		cfg.DBName = strings.TrimPrefix(u.Path, "/")
		set = func(k string) bool { return q.Has(k) }
	} else {
		var err error
		if cfg, err = mysql.ParseDSN(raw); err != nil {
			return "", errs.Usagef("database DSN %s: %v", redact.DSN(raw), redact.Text(err.Error(), redact.Secrets(raw)...))
		}
		_, query, _ := strings.Cut(raw[strings.LastIndexByte(raw, '/')+1:], "?")
		q, _ := url.ParseQuery(query)
		set = func(k string) bool { return q.Has(k) }
	}
	if strings.Contains(cfg.DBName, "/") || cfg.DBName == "" {
		return "", errs.Usagef("database URL %s: name the database (…/DBNAME)", redact.DSN(raw))
	}
	cfg.ParseTime, cfg.Loc = true, time.UTC
	cfg.MultiStatements = false
	if !set("interpolateParams") {
		cfg.InterpolateParams = true
	}
	if !set("maxAllowedPacket") {
		cfg.MaxAllowedPacket = MySQLMaxAllowedPacket
	}
	if !set("timeout") {
		cfg.Timeout = mysqlDialTimeout
	}
	if !set("writeTimeout") {
		cfg.WriteTimeout = mysqlWriteTimeout
	}
	if !set("time_zone") {
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		cfg.Params["time_zone"] = "'+00:00'"
	}
	return cfg.FormatDSN(), nil
}

// mysqlConnector opens connections for a DSN from parseMySQL. The driver's
// own logger is silenced: it would print to stderr behind our back; every
// error also reaches us as a returned error.
func mysqlConnector(dsn string) (driver.Connector, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg.Logger = mysql.Logger(nopLogger{})
	return mysql.NewConnector(cfg)
}

type nopLogger struct{}

func (nopLogger) Print(...any) {}

// Querier is satisfied by *sql.DB, *sql.Tx and *sql.Conn.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// DatetimeScales reads, on MySQL, how many fractional-second digits (0 to
// 6) each DATETIME column of table holds: 0 in tables Rails 5 and 6
// created (`datetime`), 6 under Rails 7 (`datetime(6)`). On the other
// dialects it returns nil: they keep what they are given.
//
// A writer must cut a time to its column's digits itself: MySQL 8 rounds
// the extra digits (12:00:00.7 is stored as 12:00:01), MariaDB truncates
// them, and Rails truncates before writing; TruncTime does what Rails does.
func DatetimeScales(ctx context.Context, q Querier, d Dialect, table string) (map[string]int, error) {
	if d.Name() != "mysql" {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, "SELECT column_name, datetime_precision FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND data_type IN ('datetime', 'timestamp')", table)
	if err != nil {
		return nil, fmt.Errorf("reading the datetime columns of %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var col string
		var digits sql.NullInt64
		if err := rows.Scan(&col, &digits); err != nil {
			return nil, err
		}
		out[strings.ToLower(col)] = int(digits.Int64)
	}
	return out, rows.Err()
}

// ScaleOf is the digits DatetimeScales found for col: -1 (keep all) when
// scales is nil (not MySQL), 0 for a column it did not list.
func ScaleOf(scales map[string]int, col string) int {
	if scales == nil {
		return -1
	}
	return scales[strings.ToLower(col)]
}

// TruncTime cuts t to the given fractional-second digits (0 to 6); a
// negative digits leaves t as it is.
func TruncTime(t time.Time, digits int) time.Time {
	if digits < 0 || digits >= 9 {
		return t
	}
	unit := time.Duration(1)
	for i := digits; i < 9; i++ {
		unit *= 10
	}
	return t.Add(-(time.Duration(t.Nanosecond()) % unit))
}
