package migrate

import (
	"context"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/encode"
)

func TestGenTableTypeMapping(t *testing.T) {
	fields := []encode.FieldInfo{
		{Name: "id", Type: "long"}, {Name: "n", Type: "int"}, {Name: "d", Type: "double"}, {Name: "f", Type: "float"},
		{Name: "b", Type: "boolean"}, {Name: "s", Type: "string"}, {Name: "e", Type: "enum"}, {Name: "r", Type: "record"},
		{Name: "a", Type: "array"}, {Name: "p32", Type: "sint32"}, {Name: "p64", Type: "uint64"}, {Name: "by", Type: "bytes"},
		{Name: "ts", Type: "timestamp-millis"}, {Name: "created_at", Type: "long"},
	}
	got, warns, err := GenTable("postgres", "things", "id", fields)
	if err != nil {
		t.Fatal(err)
	}
	want := `CREATE TABLE "things" (
  "id" bigint NOT NULL PRIMARY KEY,
  "n" integer,
  "d" float,
  "f" float,
  "b" boolean,
  "s" character varying,
  "e" character varying,
  "r" json,
  "a" json,
  "p32" integer,
  "p64" bigint,
  "by" character varying,
  "ts" bigint,
  "created_at" timestamp(6) without time zone NOT NULL,
  "updated_at" timestamp(6) without time zone NOT NULL
);
`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if len(warns) != 2 || !strings.Contains(warns[0], "double becomes float") {
		t.Fatalf("warnings = %q", warns)
	}
	if _, _, err := GenTable("sqlite", "things", "nope", fields); err == nil {
		t.Fatal("unknown key field accepted")
	}
	// The SQLite DDL (with a non-id key) is valid SQL.
	sqlText, _, err := GenTable("sqlite", "things", "s", fields)
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(context.Background(), testenv.SQLiteURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Exec(sqlText); err != nil {
		t.Fatalf("%v\n%s", err, sqlText)
	}
	if !strings.Contains(sqlText, `"id" integer PRIMARY KEY AUTOINCREMENT NOT NULL`) || !strings.Contains(sqlText, `CREATE UNIQUE INDEX "index_things_on_s"`) {
		t.Fatal(sqlText)
	}
}
