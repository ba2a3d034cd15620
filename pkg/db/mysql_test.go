package db

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/redact"
)

// Both spellings of a MySQL database reach the same settings: the ones the
// relay relies on are forced or defaulted, the user's own parameters kept.
func TestParseMySQL(t *testing.T) {
	for _, c := range []struct {
		name, raw                 string
		user, pass, net, addr, db string
		interpolate               bool
		packet                    int
		timeout                   time.Duration
		tls                       string
	}{
		{"url", "mysql://app:s3cret@db.example:3307/shop?tls=skip-verify", "app", "s3cret", "tcp", "db.example:3307", "shop", true, MySQLMaxAllowedPacket, 10 * time.Second, "skip-verify"},
		{"url default port", "mysql://app@db.example/shop", "app", "", "tcp", "db.example:3306", "shop", true, MySQLMaxAllowedPacket, 10 * time.Second, ""},
		{"url escaped password", "mysql://app:p%40ss%2Fw%3Ard@[::1]:3306/shop?timeout=3s&interpolateParams=false", "app", "p@ss/w:rd", "tcp", "[::1]:3306", "shop", false, MySQLMaxAllowedPacket, 3 * time.Second, ""},
		{"url socket", "mysql://app:pw@/shop?socket=/run/mysqld/mysqld.sock", "app", "pw", "unix", "/run/mysqld/mysqld.sock", "shop", true, MySQLMaxAllowedPacket, 10 * time.Second, ""},
		{"dsn", "app:s3cret@tcp(db.example:3307)/shop?tls=true&maxAllowedPacket=0", "app", "s3cret", "tcp", "db.example:3307", "shop", true, 0, 10 * time.Second, "true"},
		{"dsn unix", "app:pw@unix(/tmp/m.sock)/shop", "app", "pw", "unix", "/tmp/m.sock", "shop", true, MySQLMaxAllowedPacket, 10 * time.Second, ""},
		{"dsn default address", "app:pw@/shop", "app", "pw", "tcp", "127.0.0.1:3306", "shop", true, MySQLMaxAllowedPacket, 10 * time.Second, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, dsn, err := parse(c.raw, false)
			if err != nil {
				t.Fatal(err)
			}
			if d.Name() != "mysql" {
				t.Fatalf("dialect %s", d.Name())
			}
			cfg, err := mysql.ParseDSN(dsn)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.User != c.user || cfg.Passwd != c.pass || cfg.Net != c.net || cfg.Addr != c.addr || cfg.DBName != c.db {
				t.Errorf("user %q pass %q net %s addr %s db %s", cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName)
			}
			if !cfg.ParseTime || cfg.Loc != time.UTC || cfg.MultiStatements || cfg.Params["time_zone"] != "'+00:00'" {
				t.Errorf("parseTime %v loc %v multiStatements %v time_zone %q", cfg.ParseTime, cfg.Loc, cfg.MultiStatements, cfg.Params["time_zone"])
			}
			if cfg.InterpolateParams != c.interpolate || cfg.MaxAllowedPacket != c.packet || cfg.Timeout != c.timeout || cfg.WriteTimeout != time.Minute || cfg.TLSConfig != c.tls {
				t.Errorf("interpolateParams %v maxAllowedPacket %d timeout %s writeTimeout %s tls %q", cfg.InterpolateParams, cfg.MaxAllowedPacket, cfg.Timeout, cfg.WriteTimeout, cfg.TLSConfig)
			}
		})
	}
	// multiStatements is never on, whatever the URL says.
	if _, dsn, _ := parse("mysql://u:p@h/db?multiStatements=true", false); strings.Contains(dsn, "multiStatements=true") {
		t.Fatalf("multiStatements kept: %s", dsn)
	}
}

// Malformed MySQL URLs and DSNs are usage errors (exit 2) that never print
// the password; GuardsFor reads either form as MySQL.
func TestParseMySQLErrors(t *testing.T) {
	for _, raw := range []string{
		"mysql://app:hunter22@db/",                   // no database
		"mysql://app:hunter22@/shop",                 // no host, no socket
		"mysql://app:hunter22@h/shop?socket=/x.sock", // both
		"mysql://app:hunter22@h/shop?tls=bogus",      // the driver refuses the value
		"mysql://app:hunt/er22@h/shop",               // unescaped '/' in the password
		"app:hunter22@tcp(h:3306)/shop?timeout=soon", // the driver refuses the value
		"app:hunter22@tcp(h:3306/shop",               // unclosed address
	} {
		_, _, err := parse(raw, false)
		if errs.ExitCode(err) != errs.CodeUsage {
			t.Errorf("%s: %v (exit %d), want exit 2", raw, err, errs.ExitCode(err))
			continue
		}
		if strings.Contains(err.Error(), "hunter22") || strings.Contains(err.Error(), "er22") {
			t.Errorf("%s: error shows the password: %v", raw, err)
		}
	}
	for _, raw := range []string{"mysql://u:p@h/db", "u:p@tcp(h:3306)/db", "u:p@/db", "tcp(h)/db"} {
		if g := GuardsFor(raw); len(g) != 1 || g[0] != Guard(MySQL{}) {
			t.Errorf("GuardsFor(%s) = %v", raw, g)
		}
	}
}

// Both MySQL forms print without their password, with the same rule as
// other URLs, in the redacted URL and in connection errors.
func TestMySQLRedaction(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{"mysql://app:s3cret-pw@db:3306/shop?tls=true", "mysql://app:xxxxx@db:3306/shop?tls=true"},
		{"app:s3cret-pw@tcp(db:3306)/shop?tls=true", "app:xxxxx@tcp(db:3306)/shop?tls=true"},
		{"app:s3c@ret/pw@tcp(db:3306)/shop", "app:xxxxx@tcp(db:3306)/shop"},
		{"tcp(db:3306)/shop", "tcp(db:3306)/shop"},
	} {
		if got := redact.DSN(c.raw); got != c.want {
			t.Errorf("redact.DSN(%s) = %s, want %s", c.raw, got, c.want)
		}
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	for _, raw := range []string{"mysql://app:s3cret-pw@" + addr + "/shop?timeout=2s", "app:s3cret-pw@tcp(" + addr + ")/shop?timeout=2s"} {
		_, err := Open(context.Background(), raw)
		if errs.ExitCode(err) != errs.CodeUnavailable {
			t.Fatalf("unreachable %s: %v (exit %d), want exit 3", raw, err, errs.ExitCode(err))
		}
		if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "app:xxxxx@") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("error leaks the password, hides the user or spans lines: %q", err)
		}
	}
}

// TestMySQLSession: on a real server (MariaDB), both URL forms connect with
// UTC sessions, DATETIMEs come back as UTC time.Time, statements with
// arguments are interpolated (no server-side prepare), and a 10 MiB
// message goes into a MEDIUMBLOB and comes back byte for byte.
func TestMySQLSession(t *testing.T) {
	ctx := context.Background()
	url := testenv.MariaDB(t)
	cfgURL, err := redact.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	dsn := cfgURL.User.Username() + "@tcp(" + cfgURL.Host + ")" + cfgURL.Path
	for _, raw := range []string{url, dsn} {
		d, err := Open(ctx, raw)
		if err != nil {
			t.Fatalf("Open(%s): %v", raw, err)
		}
		defer d.Close()
		if d.Dialect.Name() != "mysql" {
			t.Fatalf("dialect %s", d.Dialect.Name())
		}
		var tz string
		if err := d.QueryRowContext(ctx, "SELECT @@session.time_zone").Scan(&tz); err != nil || tz != "+00:00" {
			t.Fatalf("time_zone %q %v", tz, err)
		}
	}
	d, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	mustExec(t, d, "CREATE TABLE m (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, message mediumblob, at datetime NOT NULL) ENGINE=InnoDB")
	c, err := d.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prepares := func() int {
		var name string
		var n int
		if err := c.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Com_stmt_prepare'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := prepares()
	msg := make([]byte, 10<<20)
	_, _ = rand.Read(msg)
	at := time.Date(2024, 3, 4, 5, 6, 7, 0, time.FixedZone("x", -5*3600))
	if _, err := c.ExecContext(ctx, "INSERT INTO m (message, at) VALUES (?, ?)", msg, at); err != nil {
		t.Fatalf("10 MiB insert: %v", err)
	}
	var got []byte
	var gotAt time.Time
	if err := c.QueryRowContext(ctx, "SELECT message, at FROM m WHERE id = ?", 1).Scan(&got, &gotAt); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("10 MiB message changed (%d bytes back)", len(got))
	}
	if !gotAt.Equal(at) || gotAt.Location() != time.UTC {
		t.Fatalf("datetime %v, want %v in UTC", gotAt, at.UTC())
	}
	if n := prepares() - before; n != 0 {
		t.Fatalf("%d server-side prepares for 2 statements with arguments: interpolateParams is off", n)
	}
}

// TestDialectsOpenTxColumnsUpsert runs the dialect's own SQL (quoting,
// TableExists, Columns, Tx, Upsert, Bool and time literals) on every
// database.
func TestDialectsOpenTxColumnsUpsert(t *testing.T) {
	ctx := context.Background()
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			d, err := Open(ctx, dl.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.Dialect.Name() != dl.Name {
				t.Fatalf("dialect %s, want %s", d.Dialect.Name(), dl.Name)
			}
			text := map[string]string{"sqlite": "text", "postgres": "text", "mysql": "varchar(255)"}[dl.Name]
			boolType := map[string]string{"sqlite": "boolean", "postgres": "boolean", "mysql": "tinyint(1)"}[dl.Name]
			mustExec(t, d, "CREATE TABLE "+d.Q("we`i\"rd")+" (id integer PRIMARY KEY, "+d.Q("na me")+" "+text+", flag "+boolType+" NOT NULL DEFAULT "+d.Dialect.Bool(false)+", at "+
				map[string]string{"sqlite": "datetime", "postgres": "timestamp", "mysql": "datetime"}[dl.Name]+")")
			if ok, err := d.TableExists(ctx, "we`i\"rd"); err != nil || !ok {
				t.Fatalf("TableExists = %v %v", ok, err)
			}
			if ok, err := d.TableExists(ctx, "nope"); err != nil || ok {
				t.Fatalf("TableExists(nope) = %v %v", ok, err)
			}
			up := d.Rebind(d.Dialect.Upsert("we`i\"rd", []string{"id", "na me", "flag"}, []string{"id"}))
			err = d.Tx(ctx, func(tx *sql.Tx) error {
				for _, v := range []string{"a", "b"} {
					if _, err := tx.ExecContext(ctx, up, 1, v, true); err != nil {
						return err
					}
				}
				_, err := tx.ExecContext(ctx, up, 2, "c", false)
				return err
			})
			if err != nil {
				t.Fatalf("upsert %s: %v", up, err)
			}
			at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
			mustExec(t, d, "UPDATE "+d.Q("we`i\"rd")+" SET at = "+d.Dialect.TimeLiteral(at)+" WHERE flag = "+d.Dialect.Bool(false))
			got := testenv.Rows(t, d, "SELECT id, "+d.Q("na me")+", CASE WHEN flag = "+d.Dialect.Bool(true)+" THEN 'yes' ELSE 'no' END, at IS NULL FROM "+d.Q("we`i\"rd")+" ORDER BY id")
			if strings.Join(got, ",") != "1|b|yes|1,2|c|no|0" && strings.Join(got, ",") != "1|b|yes|true,2|c|no|false" {
				t.Fatalf("rows = %v", got)
			}
			onlyKeys := d.Rebind(d.Dialect.Upsert("we`i\"rd", []string{"id"}, []string{"id"}))
			if _, err := d.ExecContext(ctx, onlyKeys, 1); err != nil {
				t.Fatalf("key-only upsert %s: %v", onlyKeys, err)
			}
			cols, err := d.Columns(ctx, "we`i\"rd")
			if err == nil {
				t.Fatalf("Columns accepted a name ValidIdent refuses: %v", cols)
			}
			_, err = d.ExecContext(ctx, d.Rebind("INSERT INTO "+d.Q("we`i\"rd")+" (id, flag) VALUES (?, ?)"), 2, true)
			if !IsUniqueViolation(err) || !IsRowError(err) || IsTransient(err) {
				t.Fatalf("duplicate id: %v classified %q", err, classes(err))
			}
		})
	}
}

// TestColumnsSeeAddedColumn: Columns on a pool that already read a table
// lists a column added since (PostgreSQL used to fail with "cached plan
// must not change result type", pgx having cached SELECT *'s columns).
func TestColumnsSeeAddedColumn(t *testing.T) {
	ctx := context.Background()
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			d, err := Open(ctx, dl.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			d.SetMaxOpenConns(1) // the same connection, and its statement cache, each time
			mustExec(t, d, "CREATE TABLE t1 (id integer PRIMARY KEY, a integer)")
			for i, want := range []string{"id,a", "id,a,b"} {
				if i == 1 {
					mustExec(t, d, "ALTER TABLE t1 ADD COLUMN b integer")
				}
				for j := 0; j < 2; j++ {
					cols, err := d.Columns(ctx, "t1")
					if err != nil || strings.Join(cols, ",") != want {
						t.Fatalf("Columns = %v, %v; want %s", cols, err, want)
					}
				}
			}
			if cols, err := d.Columns(ctx, "nope"); err == nil {
				t.Fatalf("Columns(nope) = %v, want an error", cols)
			}
		})
	}
}

// TestDatetimeScalesAndTruncTime: on MySQL, DatetimeScales reads the
// digits each datetime column holds (0 for Rails 5/6 `datetime`, 6 for
// `datetime(6)`); elsewhere nil, and ScaleOf keeps every digit. TruncTime
// cuts, never rounds (MySQL 8 would round 0.7 s up to the next second).
func TestDatetimeScalesAndTruncTime(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 987654321, time.UTC)
	for digits, want := range map[int]string{-1: "05.987654321", 0: "05.000000000", 3: "05.987000000", 6: "05.987654000"} {
		if got := TruncTime(at, digits).Format("05.000000000"); got != want {
			t.Errorf("TruncTime(%d) = %s, want %s", digits, got, want)
		}
	}
	ctx := context.Background()
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			d, err := Open(ctx, dl.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			typ := map[string][2]string{"sqlite": {"datetime", "datetime"}, "postgres": {"timestamp(0)", "timestamp(6)"}, "mysql": {"datetime", "datetime(6)"}}[dl.Name]
			mustExec(t, d, "CREATE TABLE ts (id integer, a "+typ[0]+", b "+typ[1]+", c integer)")
			sc, err := DatetimeScales(ctx, d, d.Dialect, "ts")
			if err != nil {
				t.Fatal(err)
			}
			if dl.Name != "mysql" {
				if sc != nil || ScaleOf(sc, "a") != -1 {
					t.Fatalf("DatetimeScales = %v, want nil", sc)
				}
				return
			}
			if len(sc) != 2 || ScaleOf(sc, "a") != 0 || ScaleOf(sc, "B") != 6 {
				t.Fatalf("DatetimeScales = %v, want a:0 b:6", sc)
			}
		})
	}
}
