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
	// The DDL (with a non-id key) is valid SQL on every database.
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) {
			sqlText, _, err := GenTable(dl.Name, "things", "s", fields)
			if err != nil {
				t.Fatal(err)
			}
			d, err := db.Open(context.Background(), dl.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			for _, stmt := range strings.Split(strings.TrimSpace(sqlText), ";\n") {
				if _, err := d.Exec(strings.TrimSuffix(stmt, ";")); err != nil {
					t.Fatalf("%v\n%s", err, stmt)
				}
			}
			want := map[string][2]string{
				"sqlite":   {`"id" integer PRIMARY KEY AUTOINCREMENT NOT NULL`, `CREATE UNIQUE INDEX "index_things_on_s"`},
				"postgres": {`"id" bigserial PRIMARY KEY`, `CREATE UNIQUE INDEX "index_things_on_s"`},
				"mysql":    {"`id` bigint NOT NULL AUTO_INCREMENT PRIMARY KEY", "CREATE UNIQUE INDEX `index_things_on_s`"},
			}[dl.Name]
			if !strings.Contains(sqlText, want[0]) || !strings.Contains(sqlText, want[1]) {
				t.Fatal(sqlText)
			}
		})
	}
}

// A schema-qualified table is quoted part by part (as the sink quotes it),
// and its index gets the unqualified Rails name, in a statement each
// database accepts.
func TestGenTableQualifiedName(t *testing.T) {
	fields := []encode.FieldInfo{{Name: "id", Type: "long"}, {Name: "s", Type: "string"}}
	ctx := context.Background()
	mysqlURL := testenv.MariaDB(t)
	mysqlDB := mysqlURL[strings.LastIndexByte(mysqlURL, '/')+1:]
	for _, c := range []struct{ dialect, url, schema, create, index string }{
		{"sqlite", testenv.SQLiteURL(t), "main", `CREATE TABLE "main"."things"`, `CREATE UNIQUE INDEX "main"."index_things_on_s" ON "things" ("s")`},
		{"postgres", testenv.Postgres(t), "app", `CREATE TABLE "app"."things"`, `CREATE UNIQUE INDEX "index_things_on_s" ON "app"."things" ("s")`},
		// on MySQL a schema is a database: the test's own, named in its URL
		{"mysql", mysqlURL, mysqlDB, "CREATE TABLE `" + mysqlDB + "`.`things`", "CREATE UNIQUE INDEX `index_things_on_s` ON `" + mysqlDB + "`.`things` (`s`)"},
	} {
		t.Run(c.dialect, func(t *testing.T) {
			sqlText, _, err := GenTable(c.dialect, c.schema+".things", "s", fields)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(sqlText, c.create+" (") || !strings.Contains(sqlText, c.index+";") {
				t.Fatalf("got\n%s\nwant %s and %s", sqlText, c.create, c.index)
			}
			d, err := db.Open(ctx, c.url)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if c.dialect == "postgres" {
				if _, err := d.ExecContext(ctx, "CREATE SCHEMA app"); err != nil {
					t.Fatal(err)
				}
			}
			for _, stmt := range strings.Split(strings.TrimSpace(sqlText), ";\n") {
				if _, err := d.ExecContext(ctx, strings.TrimSuffix(stmt, ";")); err != nil {
					t.Fatalf("%v\n%s", err, stmt)
				}
			}
			cols, err := d.Columns(ctx, c.schema+".things")
			if err != nil || strings.Join(cols, ",") != "id,s,created_at,updated_at" {
				t.Fatalf("columns of %s.things: %v %v", c.schema, cols, err)
			}
		})
	}
}
