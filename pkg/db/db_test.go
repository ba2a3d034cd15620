package db

import (
	"context"
	"database/sql"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/pkg/errs"
)

func TestValidIdent(t *testing.T) {
	for _, ok := range []string{"widgets", "public.widgets", "_x1", "Widgets_2024"} {
		if err := ValidIdent(ok); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a;drop table x", `a"b`, "a b", "a.b.c", "1abc", "x--", "names/*", strings.Repeat("a", 64), "ü"} {
		if err := ValidIdent(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestQuoteRebindUpsert(t *testing.T) {
	if got := (Postgres{}).Quote(`public.we"ird`); got != `"public"."we""ird"` {
		t.Fatalf("Quote = %s", got)
	}
	for _, c := range []struct{ dialect, name, want string }{
		{"postgres", `we"ird`, `"we""ird"`},
		{"sqlite", `s.t`, `"s"."t"`},
		{"mysql", "we`ird", "`we``ird`"},
		{"mysql", "app.t", "`app`.`t`"},
	} {
		if got := Quote(c.dialect, c.name); got != c.want {
			t.Errorf("Quote(%s, %s) = %s, want %s", c.dialect, c.name, got, c.want)
		}
	}
	if got := Rebind(Postgres{}, "SELECT ? , '?' , ?"); got != "SELECT $1 , '?' , $2" {
		t.Fatalf("Rebind = %s", got)
	}
	if got := Rebind(SQLite{}, "a = ?"); got != "a = ?" {
		t.Fatalf("sqlite Rebind = %s", got)
	}
	want := `INSERT INTO "t" ("id", "v") VALUES (?, ?) ON CONFLICT ("id") DO UPDATE SET "v" = excluded."v"`
	if got := (SQLite{}).Upsert("t", []string{"id", "v"}, []string{"id"}); got != want {
		t.Fatalf("Upsert = %s", got)
	}
	if got := (Postgres{}).TimeLiteral(time.Date(2024, 1, 2, 3, 4, 5, 999, time.FixedZone("x", 3600))); got != "'2024-01-02 02:04:05'" {
		t.Fatalf("TimeLiteral = %s (must be UTC, second precision)", got)
	}
	if (SQLite{}).Bool(false) != "0" || (Postgres{}).Bool(false) != "FALSE" {
		t.Fatal("Bool literals must follow Rails")
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"", "mysql://u:p@h/", "oracle://x", "sqlite:"} {
		if _, err := Open(ctx, u); errs.ExitCode(err) != errs.CodeUsage {
			t.Errorf("Open(%q) = %v, want a usage error", u, err)
		}
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	_, err := Open(ctx, "postgres://app:hunter2@"+addr+"/app?sslmode=disable&connect_timeout=2")
	if errs.ExitCode(err) != errs.CodeUnavailable {
		t.Fatalf("unreachable database: %v (exit %d), want exit 3", err, errs.ExitCode(err))
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error leaks the password or spans lines: %q", err)
	}
}

func TestSQLiteOpenTxAndColumns(t *testing.T) {
	ctx := context.Background()
	d, err := OpenOrCreate(ctx, "sqlite:"+t.TempDir()+"/x.db")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.ExecContext(ctx, `CREATE TABLE w (id integer primary key, name text)`); err != nil {
		t.Fatal(err)
	}
	cols, err := d.Columns(ctx, "w")
	if err != nil || strings.Join(cols, ",") != "id,name" {
		t.Fatalf("Columns = %v %v", cols, err)
	}
	if _, err := d.Columns(ctx, "w; drop table w"); err == nil {
		t.Fatal("hostile table name accepted")
	}
	_ = d.Tx(ctx, func(tx *sql.Tx) error { _, err := tx.ExecContext(ctx, `INSERT INTO w VALUES (1,'a')`); return err })
	_, err = d.ExecContext(ctx, `INSERT INTO w VALUES (1,'b')`)
	if !IsUniqueViolation(err) {
		t.Fatalf("IsUniqueViolation(%v) = false", err)
	}
}
