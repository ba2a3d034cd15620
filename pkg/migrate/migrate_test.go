package migrate

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type colInfo struct {
	typ     string
	notNull bool
	def     string
}

func introspect(t *testing.T, d *db.DB, tbl string) (map[string]colInfo, []string) {
	t.Helper()
	ctx := context.Background()
	cols := map[string]colInfo{}
	var idx []string
	if d.Dialect.Name() == "mysql" {
		return introspectMySQL(t, d, tbl)
	}
	if d.Dialect.Name() == "postgres" {
		rows, err := d.QueryContext(ctx, `SELECT column_name, data_type, is_nullable, COALESCE(column_default,'') FROM information_schema.columns WHERE table_name = $1`, tbl)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n, ty, nullable, def string
			if err := rows.Scan(&n, &ty, &nullable, &def); err != nil {
				t.Fatal(err)
			}
			cols[n] = colInfo{ty, nullable == "NO", def}
		}
		rows.Close()
		rows, err = d.QueryContext(ctx, `SELECT indexname FROM pg_indexes WHERE tablename = $1 AND indexname NOT LIKE '%_pkey'`, tbl)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n string
			_ = rows.Scan(&n)
			idx = append(idx, n)
		}
		rows.Close()
	} else {
		rows, err := d.QueryContext(ctx, `SELECT name, type, "notnull", COALESCE(dflt_value,'') FROM pragma_table_info(?)`, tbl)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n, ty, def string
			var nn int
			if err := rows.Scan(&n, &ty, &nn, &def); err != nil {
				t.Fatal(err)
			}
			cols[n] = colInfo{ty, nn == 1, def}
		}
		rows.Close()
		rows, err = d.QueryContext(ctx, `SELECT name FROM pragma_index_list(?) WHERE origin = 'c'`, tbl)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n string
			_ = rows.Scan(&n)
			idx = append(idx, n)
		}
		rows.Close()
	}
	sort.Strings(idx)
	return cols, idx
}

// intWidth is the display width MariaDB (and MySQL before 8.0.19) shows
// on integer types; tinyint(1), Rails's boolean, keeps it everywhere.
var intWidth = regexp.MustCompile(`^(bigint|int|smallint|mediumint)\(\d+\)`)

func introspectMySQL(t *testing.T, d *db.DB, tbl string) (map[string]colInfo, []string) {
	t.Helper()
	ctx := context.Background()
	// MariaDB's json is longtext with a json_valid CHECK named after the column.
	jsonCols := map[string]bool{}
	rows, err := d.QueryContext(ctx, `SELECT constraint_name FROM information_schema.check_constraints WHERE constraint_schema = DATABASE() AND table_name = ? AND check_clause LIKE 'json_valid(%'`, tbl)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		jsonCols[n] = true
	}
	rows.Close()
	cols := map[string]colInfo{}
	rows, err = d.QueryContext(ctx, `SELECT column_name, column_type, is_nullable, COALESCE(column_default, '') FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?`, tbl)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n, ty, nullable, def string
		if err := rows.Scan(&n, &ty, &nullable, &def); err != nil {
			t.Fatal(err)
		}
		ty = intWidth.ReplaceAllString(ty, "$1")
		if ty == "longtext" && jsonCols[n] {
			ty = "json"
		}
		cols[n] = colInfo{ty, nullable == "NO", def}
	}
	rows.Close()
	var idx []string
	rows, err = d.QueryContext(ctx, `SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name <> 'PRIMARY'`, tbl)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		idx = append(idx, n)
	}
	rows.Close()
	sort.Strings(idx)
	return cols, idx
}

func open(t *testing.T, url string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// dbs: every test here runs on SQLite, PostgreSQL and MariaDB (as MySQL).
func dbs(t *testing.T) map[string]func(testing.TB) string {
	out := map[string]func(testing.TB) string{}
	for _, d := range testenv.Dialects(t) {
		out[d.Name] = d.URL
	}
	return out
}

func TestUpCreatesDeimosTables(t *testing.T) {
	for name, url := range dbs(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t, url(t))
			ctx := context.Background()
			names, err := Up(ctx, d, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(names) != 8 {
				t.Fatalf("applied %v, want 8 migrations", names)
			}
			pg := name == "postgres"
			// ty picks a dialect's type: PostgreSQL, SQLite, MySQL.
			ty := func(p, l, m string) string {
				return map[string]string{"postgres": p, "sqlite": l, "mysql": m}[name]
			}
			// kafka_messages (docs/deimos-compat.md §1.1)
			cols, idx := introspect(t, d, "kafka_messages")
			want := map[string]colInfo{
				"id":            {ty("bigint", "INTEGER", "bigint"), true, ""},
				"topic":         {ty("character varying", "varchar", "varchar(255)"), true, ""},
				"message":       {ty("bytea", "blob", "mediumblob"), false, ""},
				"key":           {ty("bytea", "blob", "blob"), false, ""},
				"partition_key": {ty("character varying", "varchar", "varchar(255)"), false, ""},
				"created_at":    {ty("timestamp without time zone", "datetime(6)", "datetime(6)"), true, ""},
				"updated_at":    {ty("timestamp without time zone", "datetime(6)", "datetime(6)"), true, ""},
			}
			checkCols(t, "kafka_messages", cols, want, pg)
			if !slices.Equal(idx, []string{"index_kafka_messages_on_topic_and_id"}) {
				t.Errorf("kafka_messages indexes %v", idx)
			}
			cols, idx = introspect(t, d, "kafka_topic_info")
			want = map[string]colInfo{
				"id":                {ty("bigint", "INTEGER", "bigint"), true, ""},
				"topic":             {ty("character varying", "varchar", "varchar(255)"), true, ""},
				"locked_by":         {ty("character varying", "varchar", "varchar(255)"), false, ""},
				"locked_at":         {ty("timestamp without time zone", "datetime(6)", "datetime(6)"), false, ""},
				"error":             {ty("boolean", "boolean", "tinyint(1)"), true, ty("false", "0", "0")},
				"retries":           {ty("integer", "integer", "int"), true, "0"},
				"last_processed_at": {ty("timestamp without time zone", "datetime(6)", "datetime(6)"), false, ""},
			}
			checkCols(t, "kafka_topic_info", cols, want, pg)
			if !slices.Equal(idx, []string{"index_kafka_topic_info_on_locked_at", "index_kafka_topic_info_on_locked_by_and_error", "index_kafka_topic_info_on_topic"}) {
				t.Errorf("kafka_topic_info indexes %v", idx)
			}
			cols, idx = introspect(t, d, "deimos_poll_info")
			if len(cols) != 4 || !cols["producer"].notNull || cols["last_sent_id"].notNull || !strings.EqualFold(cols["last_sent_id"].typ, ty("bigint", "integer", "bigint")) || cols["last_sent"].typ != ty("timestamp without time zone", "datetime(6)", "datetime(6)") {
				t.Errorf("deimos_poll_info columns %v", cols)
			}
			if !slices.Equal(idx, []string{"index_deimos_poll_info_on_producer"}) {
				t.Errorf("deimos_poll_info indexes %v", idx)
			}
			cols, idx = introspect(t, d, "phobos_db_checkpoint_events")
			if len(cols) != 10 || cols["created_at"].notNull || cols["payload"].typ != ty("json", "TEXT", "json") {
				t.Errorf("events columns %v", cols)
			}
			for _, want := range []string{"index_phobos_db_checkpoint_events_on_checksum", "index_phobos_db_checkpoint_events_on_topic_group_id_checksum", "phobos_events_event_time_created_at_desc_nulls_last_idx"} {
				if !slices.Contains(idx, want) {
					t.Errorf("events index %s missing from %v", want, idx)
				}
			}
			cols, idx = introspect(t, d, "phobos_db_checkpoint_failures")
			if len(cols) != 14 || cols["error_backtrace"].typ != ty("json", "TEXT", "json") {
				t.Errorf("failures columns %v", cols)
			}
			if !slices.Contains(idx, "phobos_failures_event_time_created_at_desc_nulls_last_idx") || len(idx) != 8 {
				t.Errorf("failures indexes %v", idx)
			}
			if pg {
				var def string
				if err := d.QueryRowContext(ctx, `SELECT indexdef FROM pg_indexes WHERE indexname = 'phobos_events_event_time_created_at_desc_nulls_last_idx'`).Scan(&def); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(def, "event_time DESC NULLS LAST, created_at DESC NULLS LAST") || !strings.Contains(def, "btree") {
					t.Errorf("index def %s", def)
				}
			}
			// idempotent
			again, err := Up(ctx, d, nil)
			if err != nil || len(again) != 0 {
				t.Fatalf("second up: %v %v", again, err)
			}
			st, err := Status(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range st {
				if s.OptIn {
					if s.Applied {
						t.Errorf("%s: opt-in applied", s.Name)
					}
					continue
				}
				if !s.Applied || s.Adopted || !s.Present || len(s.MissingColumns) > 0 {
					t.Errorf("status %+v", s)
				}
			}
			// opt-in headers column
			h, err := Up(ctx, d, []string{"headers"})
			if err != nil || !slices.Equal(h, []string{"headers/kafka_messages.headers"}) {
				t.Fatalf("headers: %v %v", h, err)
			}
			if c, _ := introspect(t, d, "kafka_messages"); c["headers"].notNull || !strings.EqualFold(c["headers"].typ, "text") {
				t.Errorf("headers must be a nullable text column: %+v", c["headers"])
			}
			cols, idx = introspect(t, d, "deimos_dead_letters")
			if !strings.EqualFold(cols["message"].typ, ty("bytea", "blob", "longblob")) || !strings.EqualFold(cols["key"].typ, ty("bytea", "blob", "blob")) || !cols["error"].notNull ||
				!slices.Equal(idx, []string{"index_deimos_dead_letters_on_topic_and_id"}) {
				t.Errorf("deimos_dead_letters: %v %v", cols, idx)
			}
			if name == "mysql" {
				// InnoDB whatever the server's default engine: the outbox locks rows.
				var engines int
				if err := d.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND engine <> 'InnoDB'").Scan(&engines); err != nil || engines != 0 {
					t.Errorf("%d tables are not InnoDB (%v)", engines, err)
				}
			}
		})
	}
}

func checkCols(t *testing.T, tbl string, got, want map[string]colInfo, pg bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got columns %v, want %v", tbl, got, want)
	}
	for n, w := range want {
		g, ok := got[n]
		if !ok {
			t.Errorf("%s.%s missing", tbl, n)
			continue
		}
		if !strings.EqualFold(g.typ, w.typ) || g.notNull != w.notNull {
			t.Errorf("%s.%s = %+v, want %+v", tbl, n, g, w)
		}
		if n != "id" && !strings.HasPrefix(g.def, w.def) {
			t.Errorf("%s.%s default %q, want %q", tbl, n, g.def, w.def)
		}
	}
}

// The DDL Rails generated for Deimos's migration on a Rails 5.2 app (no
// datetime precision, no last_processed_at on an old install).
var rubySchema = map[string][]string{
	"postgres": {
		`CREATE TABLE "kafka_messages" ("id" bigserial primary key, "topic" character varying NOT NULL, "message" bytea, "key" bytea, "partition_key" character varying, "created_at" timestamp NOT NULL, "updated_at" timestamp NOT NULL)`,
		`CREATE INDEX "index_kafka_messages_on_topic_and_id" ON "kafka_messages" ("topic", "id")`,
		`CREATE TABLE "kafka_topic_info" ("id" bigserial primary key, "topic" character varying NOT NULL, "locked_by" character varying, "locked_at" timestamp, "error" boolean DEFAULT FALSE NOT NULL, "retries" integer DEFAULT 0 NOT NULL)`,
		`CREATE UNIQUE INDEX "index_kafka_topic_info_on_topic" ON "kafka_topic_info" ("topic")`,
		`INSERT INTO kafka_messages (topic, message, created_at, updated_at) VALUES ('t', 'x', now(), now())`,
	},
	"sqlite": {
		`CREATE TABLE "kafka_messages" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "topic" varchar NOT NULL, "message" blob, "key" blob, "partition_key" varchar, "created_at" datetime NOT NULL, "updated_at" datetime NOT NULL)`,
		`CREATE INDEX "index_kafka_messages_on_topic_and_id" ON "kafka_messages" ("topic", "id")`,
		`CREATE TABLE "kafka_topic_info" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "topic" varchar NOT NULL, "locked_by" varchar, "locked_at" datetime, "error" boolean DEFAULT 0 NOT NULL, "retries" integer DEFAULT 0 NOT NULL)`,
		`CREATE UNIQUE INDEX "index_kafka_topic_info_on_topic" ON "kafka_topic_info" ("topic")`,
		`INSERT INTO kafka_messages (topic, message, created_at, updated_at) VALUES ('t', 'x', '2020-01-01 00:00:00', '2020-01-01 00:00:00')`,
	},
	// Rails's MySQL adapter: varchar(255), mediumblob for limit: 10.megabytes,
	// tinyint(1), datetime without precision before Rails 7, ENGINE=InnoDB,
	// indexes added by add_index.
	"mysql": {
		"CREATE TABLE `kafka_messages` (`id` bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, `topic` varchar(255) NOT NULL, `message` mediumblob, `key` blob, `partition_key` varchar(255), `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL) ENGINE=InnoDB",
		"CREATE INDEX `index_kafka_messages_on_topic_and_id` ON `kafka_messages` (`topic`, `id`)",
		"CREATE TABLE `kafka_topic_info` (`id` bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, `topic` varchar(255) NOT NULL, `locked_by` varchar(255), `locked_at` datetime, `error` tinyint(1) DEFAULT FALSE NOT NULL, `retries` int DEFAULT 0 NOT NULL) ENGINE=InnoDB",
		"CREATE UNIQUE INDEX `index_kafka_topic_info_on_topic` ON `kafka_topic_info` (`topic`)",
		"INSERT INTO kafka_messages (topic, message, created_at, updated_at) VALUES ('t', 'x', '2020-01-01 00:00:00', '2020-01-01 00:00:00')",
	},
}

func TestUpAdoptsExistingDeimosSchema(t *testing.T) {
	for name, url := range dbs(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t, url(t))
			ctx := context.Background()
			for _, s := range rubySchema[name] {
				if _, err := d.ExecContext(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			names, err := Up(ctx, d, []string{"outbox", "deadletter"})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(names, []string{"outbox/kafka_messages", "outbox/kafka_topic_info", "deadletter/deimos_dead_letters", "deadletter/deimos_dead_letters.headers"}) {
				t.Fatalf("applied %v", names)
			}
			var n int
			if err := d.QueryRowContext(ctx, "SELECT COUNT(*) FROM kafka_messages").Scan(&n); err != nil || n != 1 {
				t.Fatalf("existing row lost: %d %v", n, err)
			}
			cols, _ := introspect(t, d, "kafka_topic_info")
			if _, ok := cols["last_processed_at"]; ok {
				t.Error("adopted table was altered")
			}
			st, err := Status(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range st {
				switch s.Name {
				case "outbox/kafka_messages":
					if !s.Adopted || !s.Applied {
						t.Errorf("%+v", s)
					}
				case "outbox/kafka_topic_info":
					if !s.Adopted || !slices.Equal(s.MissingColumns, []string{"last_processed_at"}) {
						t.Errorf("%+v", s)
					}
				case "deadletter/deimos_dead_letters", "deadletter/deimos_dead_letters.headers":
					if s.Adopted || !s.Applied || !s.Present {
						t.Errorf("%+v", s)
					}
				case "poller/deimos_poll_info":
					if s.Applied || s.Present {
						t.Errorf("%+v", s)
					}
				}
			}
		})
	}
}

func TestSQLDialects(t *testing.T) {
	my, err := SQL("mysql", []string{"outbox"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"`message` mediumblob", "`key` blob", "`topic` varchar(255) NOT NULL", "`error` tinyint(1) DEFAULT 0 NOT NULL", "AUTO_INCREMENT PRIMARY KEY", "CREATE UNIQUE INDEX `index_kafka_topic_info_on_topic`"} {
		if !strings.Contains(my, want) {
			t.Errorf("mysql DDL lacks %q:\n%s", want, my)
		}
	}
	pg, _ := SQL("postgres", []string{"checkpoint"})
	if !strings.Contains(pg, `USING btree ("event_time" DESC NULLS LAST, "created_at" DESC NULLS LAST)`) {
		t.Errorf("postgres DDL:\n%s", pg)
	}
	if _, err := SQL("oracle", nil); err == nil {
		t.Error("oracle accepted")
	}
	if _, err := Select([]string{"nope"}); err == nil {
		t.Error("unknown group accepted")
	}
}

// deimos_poller_runs (ours) is created by migrate's poller group with the same
// DDL the poller uses when it creates the table itself: producer is the
// primary key its ON CONFLICT upsert needs. A table the poller created first
// is adopted.
func TestPollerRunsTable(t *testing.T) {
	for name, url := range dbs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			d := open(t, url(t))
			if _, err := Up(ctx, d, []string{"poller"}); err != nil {
				t.Fatal(err)
			}
			cols, err := d.Columns(ctx, PollerRuns)
			if err != nil || !slices.Equal(cols, ExpectedColumns(PollerRuns)) {
				t.Fatalf("columns %v %v", cols, err)
			}
			up := d.Rebind("INSERT INTO deimos_poller_runs (producer, batches) VALUES (?, 1) ON CONFLICT (producer) DO UPDATE SET batches = deimos_poller_runs.batches + excluded.batches")
			if name == "mysql" {
				up = "INSERT INTO deimos_poller_runs (producer, batches) VALUES (?, 1) ON DUPLICATE KEY UPDATE batches = batches + VALUES(batches)"
			}
			for i := 0; i < 2; i++ {
				if _, err := d.ExecContext(ctx, up, "p"); err != nil {
					t.Fatal(err)
				}
			}
			var b int
			if err := d.QueryRowContext(ctx, "SELECT batches FROM deimos_poller_runs").Scan(&b); err != nil || b != 2 {
				t.Fatalf("upsert on producer: %d %v", b, err)
			}
			// the poller's own DDL (pkg/poller ensureRunsTable) on a fresh database, then migrate adopts it
			d2 := open(t, url(t))
			ts := map[string]string{"postgres": "TIMESTAMP", "sqlite": "DATETIME", "mysql": "DATETIME"}[name]
			if _, err := d2.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+d2.Q(PollerRuns)+" (producer VARCHAR(255) NOT NULL PRIMARY KEY, last_run_at "+ts+
				", batches BIGINT NOT NULL DEFAULT 0, errored_batches BIGINT NOT NULL DEFAULT 0, messages BIGINT NOT NULL DEFAULT 0, last_error TEXT, last_error_at "+ts+")"); err != nil {
				t.Fatal(err)
			}
			if _, err := Up(ctx, d2, []string{"poller"}); err != nil {
				t.Fatal(err)
			}
			st, _ := Status(ctx, d2)
			for _, s := range st {
				if s.Table == PollerRuns && (!s.Adopted || len(s.MissingColumns) > 0) {
					t.Errorf("%+v", s)
				}
			}
			// same DDL text from both sides
			for _, dl := range []string{"postgres", "sqlite", "mysql"} {
				sql, _ := SQL(dl, []string{"poller"})
				tsx := map[string]string{"postgres": "TIMESTAMP", "sqlite": "DATETIME", "mysql": "DATETIME"}[dl]
				if !strings.Contains(sql, "(producer VARCHAR(255) NOT NULL PRIMARY KEY, last_run_at "+tsx+", batches BIGINT NOT NULL DEFAULT 0, errored_batches BIGINT NOT NULL DEFAULT 0, messages BIGINT NOT NULL DEFAULT 0, last_error TEXT, last_error_at "+tsx+")") {
					t.Errorf("%s DDL:\n%s", dl, sql)
				}
			}
		})
	}
}

// schemaDump describes every table of d except the tracking table: columns
// (type, NOT NULL, default) and indexes; on MySQL, SHOW CREATE TABLE, which
// also shows index columns and order, the engine and the CHECKs.
func schemaDump(t *testing.T, d *db.DB) string {
	t.Helper()
	var b strings.Builder
	for _, m := range all() {
		if m.Column != "" {
			continue
		}
		cols, idx := introspect(t, d, m.Table)
		names := make([]string, 0, len(cols))
		for n := range cols {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(&b, "%s:", m.Table)
		for _, n := range names {
			fmt.Fprintf(&b, " %s=%+v", n, cols[n])
		}
		fmt.Fprintf(&b, " indexes=%v\n", idx)
		if d.Dialect.Name() == "mysql" {
			var name, create string
			if err := d.QueryRow("SHOW CREATE TABLE "+d.Q(m.Table)).Scan(&name, &create); err != nil {
				t.Fatal(err)
			}
			b.WriteString(regexp.MustCompile(` AUTO_INCREMENT=\d+`).ReplaceAllString(create, "") + "\n")
		}
	}
	return b.String()
}

// execScript runs the statements `migrate sql` printed, as a DBA would.
func execScript(t *testing.T, d *db.DB, script string) {
	t.Helper()
	for _, stmt := range strings.Split(script, ";\n") {
		var lines []string
		for _, l := range strings.Split(stmt, "\n") {
			if !strings.HasPrefix(l, "--") {
				lines = append(lines, l)
			}
		}
		if s := strings.TrimSpace(strings.Join(lines, "\n")); s != "" {
			if _, err := d.Exec(s); err != nil {
				t.Fatalf("%v\n%s", err, s)
			}
		}
	}
}

// `migrate sql` prints the DDL `migrate up` runs: a database built from
// the printed script has the same tables, columns, types, defaults and
// indexes (on MySQL, the same SHOW CREATE TABLE) as one built by Up. Up
// then adopts every table of the scripted database (the form Rails >= 7
// creates: datetime precision 6), altering none.
func TestSQLMatchesUp(t *testing.T) {
	ctx := context.Background()
	for name, url := range dbs(t) {
		t.Run(name, func(t *testing.T) {
			byUp := open(t, url(t))
			if _, err := Up(ctx, byUp, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := Up(ctx, byUp, []string{"headers"}); err != nil {
				t.Fatal(err)
			}
			script, err := SQL(name, append(append([]string{}, Groups...), OptInGroups...))
			if err != nil {
				t.Fatal(err)
			}
			byScript := open(t, url(t))
			execScript(t, byScript, script)
			want, got := schemaDump(t, byUp), schemaDump(t, byScript)
			if got != want {
				t.Fatalf("tables from `migrate sql` differ from `migrate up`'s:\nsql:\n%s\nup:\n%s", got, want)
			}
			names, err := Up(ctx, byScript, append(append([]string{}, Groups...), OptInGroups...))
			if err != nil || len(names) != len(all()) {
				t.Fatalf("up on the scripted tables: %v %v", names, err)
			}
			st, err := Status(ctx, byScript)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range st {
				if !s.Adopted || len(s.MissingColumns) > 0 {
					t.Errorf("%+v", s)
				}
			}
			if after := schemaDump(t, byScript); after != got {
				t.Fatalf("adoption altered tables:\n%s", after)
			}
		})
	}
}

// On MySQL each DDL statement commits by itself. When an index cannot be
// created (here: a user without the INDEX privilege), migrate up drops the
// table it had just created, records nothing, and exits 1; once the
// privilege is granted, up creates everything.
func TestMySQLFailedIndexLeavesNoTable(t *testing.T) {
	ctx := context.Background()
	url := testenv.MariaDB(t)
	dbName := url[strings.LastIndexByte(url, '/')+1:]
	admin := open(t, testenv.MariaDBAdminURL())
	user := "lim_" + dbName
	for _, s := range []string{
		"CREATE USER '" + user + "'@'127.0.0.1' IDENTIFIED BY 'pw-" + user + "'",
		"GRANT CREATE, DROP, SELECT, INSERT, UPDATE, DELETE ON `" + dbName + "`.* TO '" + user + "'@'127.0.0.1'",
	} {
		if _, err := admin.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _, _ = admin.ExecContext(ctx, "DROP USER '"+user+"'@'127.0.0.1'") })
	limURL := strings.Replace(url, "mysql://root@", "mysql://"+user+":pw-"+user+"@", 1)
	tables := func(d *db.DB) []string {
		return testenv.Rows(t, d, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name")
	}
	lim := open(t, limURL)
	_, err := Up(ctx, lim, []string{"outbox"})
	if err == nil || !strings.Contains(err.Error(), "CREATE UNIQUE INDEX `index_deimos_schema_migrations_on_name`") || !strings.Contains(err.Error(), "1142") {
		t.Fatalf("up without INDEX privilege: %v", err)
	}
	if got := tables(lim); len(got) != 0 {
		t.Fatalf("tables left behind: %v", got)
	}
	// The tracking table may exist already: then the outbox table is undone.
	root := open(t, url)
	if err := ensureTracking(ctx, root); err != nil {
		t.Fatal(err)
	}
	_, err = Up(ctx, lim, []string{"outbox"})
	if err == nil || !strings.Contains(err.Error(), "migrate outbox/kafka_messages: CREATE INDEX `index_kafka_messages_on_topic_and_id`") {
		t.Fatalf("up without INDEX privilege: %v", err)
	}
	if got := tables(lim); !slices.Equal(got, []string{SchemaMigrations}) {
		t.Fatalf("tables left behind: %v", got)
	}
	if _, err := admin.ExecContext(ctx, "GRANT INDEX ON `"+dbName+"`.* TO '"+user+"'@'127.0.0.1'"); err != nil {
		t.Fatal(err)
	}
	lim2 := open(t, limURL) // privileges are read at connect
	names, err := Up(ctx, lim2, []string{"outbox"})
	if err != nil || !slices.Equal(names, []string{"outbox/kafka_messages", "outbox/kafka_topic_info"}) {
		t.Fatalf("up after GRANT INDEX: %v %v", names, err)
	}
	st, _ := Status(ctx, lim2)
	for _, s := range st {
		if s.Group == "outbox" && (s.Adopted || !s.Applied) {
			t.Errorf("%+v", s)
		}
	}
}
