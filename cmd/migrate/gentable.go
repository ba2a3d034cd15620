package migrate

// `migrate gen-table` belongs to the database-consumer work (table sinks).

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/registry"
)

// GenTableOptions are `migrate gen-table`'s flags and argument.
type GenTableOptions struct {
	Table                                    string
	schema, namespace, backend, key, dialect string
}

// validate checks what the flags alone can tell.
func (o *GenTableOptions) validate() error {
	if o.schema == "" {
		return errs.Usagef("migrate gen-table: --schema NAME is required")
	}
	if err := db.ValidIdent(o.Table); err != nil {
		return errs.Usage(err)
	}
	if err := db.ValidIdent(o.key); err != nil || strings.Contains(o.key, ".") {
		return errs.Usagef("--key %q: not a column name", o.key)
	}
	return nil
}

// NewCmdGenTable returns `migrate gen-table`; runF replaces the run (tests).
func NewCmdGenTable(f *cmdutil.Factory, runF func(context.Context, *GenTableOptions) error) *cobra.Command {
	o := &GenTableOptions{}
	c := &cobra.Command{
		Use:   "gen-table TABLE --schema NAME",
		Short: "Print CREATE TABLE for a schema, for a table sink",
		Long: `Prints the CREATE TABLE statement of a table that 'deimos consume --sink table:TABLE'
can write a schema's messages into, with the generators' type mapping (Avro int ->
integer, long -> bigint, float/double -> float, boolean -> boolean, unions -> their
first non-null branch, records/arrays/maps -> json, anything else -> string; protobuf
int32 family -> integer, int64 family -> bigint, bytes -> string, messages and
repeated fields -> json), plus the columns Rails adds: id, created_at, updated_at.

The primary key is --key (default id). When the key field is id, or the schema has no
such field, it is the table's primary key; another key field becomes a unique column
beside Rails's auto-increment id (then consume with --key-columns FIELD).`,
		Example: `  deimos migrate gen-table widgets --schema Widget --namespace com.acme
  deimos migrate gen-table orders --schema acme.Order --backend proto_local --key id --dialect sqlite | sqlite3 app.db`,
		Args: cmdutil.ExactArgs(1, "a table name"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Table = args[0]
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runGenTable(c.Context(), f, o)
		},
	}
	c.Flags().StringVar(&o.schema, "schema", "", "schema name (Avro record or protobuf message full name) (required)")
	c.Flags().StringVar(&o.namespace, "namespace", "", "Avro namespace")
	c.Flags().StringVar(&o.backend, "backend", "", "schema backend (default: schema.backend of the config)")
	c.Flags().StringVar(&o.key, "key", "id", "the key field: primary key, or a unique column beside id")
	c.Flags().StringVar(&o.dialect, "dialect", "", "sqlite | postgres | mysql (default: the configured database's, else postgres)")
	return c
}

func runGenTable(ctx context.Context, f *cmdutil.Factory, o *GenTableOptions) error {
	table := o.Table
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	dialect := o.dialect
	if dialect == "" {
		if dialect = db.DialectName(cfg.Database.URL); dialect == "" {
			dialect = "postgres"
		}
	}
	if dialect != "sqlite" && dialect != "postgres" && dialect != "mysql" {
		return errs.Usagef("--dialect %q: use sqlite, postgres or mysql", dialect)
	}
	reg, err := registry.New(cfg.Schema.Registry)
	if err != nil {
		return err
	}
	eng, err := encode.New(encode.Options{Config: cfg, Registry: reg})
	if err != nil {
		return err
	}
	backend := cfg.ApplySchemaFlags(config.SchemaFlags{Backend: o.backend})
	fields, err := eng.Fields(ctx, encode.Spec{Backend: backend, Schema: o.schema, Namespace: o.namespace})
	if err != nil {
		return err
	}
	if len(fields) == 0 {
		return errs.Usagef("schema %s has no fields (is it a record/message?)", o.schema)
	}
	sqlText, warnings, err := GenTable(dialect, table, o.key, fields)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(f.IO.ErrOut, "warning: "+w)
	}
	_, err = io.WriteString(f.IO.Out, sqlText)
	return err
}

// railsType maps a schema field type to a Rails column type, as Deimos's
// generators do (docs/deimos-compat.md §6.5).
func railsType(typ string) (string, string) {
	switch typ {
	case "int", "date", "time-millis", // Avro
		"int32", "sint32", "sfixed32", "uint32", "fixed32": // protobuf
		return "integer", ""
	case "long", "timestamp-millis", "timestamp-micros", "local-timestamp-millis", "local-timestamp-micros", "time-micros",
		"int64", "sint64", "sfixed64", "uint64", "fixed64":
		return "bigint", ""
	case "float":
		return "float", ""
	case "double":
		return "float", "double becomes float (as Deimos's generator does)"
	case "boolean", "bool":
		return "boolean", ""
	case "record", "array", "map", "message":
		return "json", ""
	case "google.protobuf.Timestamp":
		return "datetime", ""
	}
	return "string", ""
}

func sqlType(dialect, rails string) string {
	m := map[string][3]string{ // sqlite, postgres, mysql
		"string":   {"varchar", "character varying", "varchar(255)"},
		"integer":  {"integer", "integer", "int"},
		"bigint":   {"bigint", "bigint", "bigint"},
		"float":    {"float", "float", "float"},
		"boolean":  {"boolean", "boolean", "tinyint(1)"},
		"json":     {"json", "json", "json"},
		"datetime": {"datetime(6)", "timestamp(6) without time zone", "datetime(6)"},
	}
	i := map[string]int{"sqlite": 0, "postgres": 1, "mysql": 2}[dialect]
	return m[rails][i]
}

// GenTable renders the CREATE TABLE (and, for a non-id key, its unique index).
func GenTable(dialect, table, key string, fields []encode.FieldInfo) (string, []string, error) {
	var cols []string
	var warns []string
	keyInSchema, keyType := false, ""
	for _, fi := range fields {
		if fi.Name == key {
			keyInSchema = true
			keyType, _ = railsType(fi.Type)
		}
	}
	q := func(n string) string { return db.Quote(dialect, n) }
	idIsKey := key == "id" || !keyInSchema
	if idIsKey && keyInSchema {
		cols = append(cols, q("id")+" "+sqlType(dialect, keyType)+" NOT NULL PRIMARY KEY")
	} else {
		switch dialect {
		case "sqlite":
			cols = append(cols, q("id")+" integer PRIMARY KEY AUTOINCREMENT NOT NULL")
		case "postgres":
			cols = append(cols, q("id")+" bigserial PRIMARY KEY")
		default:
			cols = append(cols, q("id")+" bigint NOT NULL AUTO_INCREMENT PRIMARY KEY")
		}
		if !keyInSchema && key != "id" {
			return "", nil, errs.Usagef("--key %s: the schema has no such field", key)
		}
	}
	for _, fi := range fields {
		switch strings.ToLower(fi.Name) {
		case "id", "created_at", "updated_at":
			if fi.Name != "id" {
				warns = append(warns, fmt.Sprintf("field %s is maintained by the sink (created_at/updated_at), not copied from the payload", fi.Name))
			}
			continue
		}
		if err := db.ValidIdent(fi.Name); err != nil {
			return "", nil, errs.Usagef("field %q: not usable as a column name", fi.Name)
		}
		rt, w := railsType(fi.Type)
		if w != "" {
			warns = append(warns, "field "+fi.Name+": "+w)
		}
		col := q(fi.Name) + " " + sqlType(dialect, rt)
		if fi.Name == key {
			col += " NOT NULL"
		}
		cols = append(cols, col)
	}
	ts := sqlType(dialect, "datetime")
	cols = append(cols, q("created_at")+" "+ts+" NOT NULL", q("updated_at")+" "+ts+" NOT NULL")
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (\n  %s\n);\n", q(table), strings.Join(cols, ",\n  "))
	if !idIsKey {
		// The index lives in its table's schema. PostgreSQL and MySQL
		// qualify the table; SQLite qualifies the index name instead.
		i := strings.LastIndexByte(table, '.')
		idx, on := "index_"+table[i+1:]+"_on_"+key, table
		if dialect == "sqlite" && i >= 0 {
			idx, on = table[:i+1]+idx, table[i+1:]
		}
		fmt.Fprintf(&b, "CREATE UNIQUE INDEX %s ON %s (%s);\n", q(idx), q(on), q(key))
		warns = append(warns, fmt.Sprintf("key %s is a unique column beside id: consume with --key-columns %s", key, key))
	}
	return b.String(), warns, nil
}
