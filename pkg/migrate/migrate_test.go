package migrate

import (
	"context"
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

func open(t *testing.T, url string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func dbs(t *testing.T) map[string]func(*testing.T) string {
	return map[string]func(*testing.T) string{
		"sqlite":   func(t *testing.T) string { return testenv.SQLiteURL(t) },
		"postgres": func(t *testing.T) string { return testenv.Postgres(t) },
	}
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
			if len(names) != 7 {
				t.Fatalf("applied %v, want 7 migrations", names)
			}
			pg := name == "postgres"
			// kafka_messages (spec 1.1)
			cols, idx := introspect(t, d, "kafka_messages")
			want := map[string]colInfo{
				"id":            {pick(pg, "bigint", "INTEGER"), true, ""},
				"topic":         {pick(pg, "character varying", "varchar"), true, ""},
				"message":       {pick(pg, "bytea", "blob"), false, ""},
				"key":           {pick(pg, "bytea", "blob"), false, ""},
				"partition_key": {pick(pg, "character varying", "varchar"), false, ""},
				"created_at":    {pick(pg, "timestamp without time zone", "datetime(6)"), true, ""},
				"updated_at":    {pick(pg, "timestamp without time zone", "datetime(6)"), true, ""},
			}
			checkCols(t, "kafka_messages", cols, want, pg)
			if !slices.Equal(idx, []string{"index_kafka_messages_on_topic_and_id"}) {
				t.Errorf("kafka_messages indexes %v", idx)
			}
			cols, idx = introspect(t, d, "kafka_topic_info")
			want = map[string]colInfo{
				"id":                {pick(pg, "bigint", "INTEGER"), true, ""},
				"topic":             {pick(pg, "character varying", "varchar"), true, ""},
				"locked_by":         {pick(pg, "character varying", "varchar"), false, ""},
				"locked_at":         {pick(pg, "timestamp without time zone", "datetime(6)"), false, ""},
				"error":             {"boolean", true, pick(pg, "false", "0")},
				"retries":           {pick(pg, "integer", "integer"), true, "0"},
				"last_processed_at": {pick(pg, "timestamp without time zone", "datetime(6)"), false, ""},
			}
			checkCols(t, "kafka_topic_info", cols, want, pg)
			if !slices.Equal(idx, []string{"index_kafka_topic_info_on_locked_at", "index_kafka_topic_info_on_locked_by_and_error", "index_kafka_topic_info_on_topic"}) {
				t.Errorf("kafka_topic_info indexes %v", idx)
			}
			cols, idx = introspect(t, d, "deimos_poll_info")
			if len(cols) != 4 || !cols["producer"].notNull || cols["last_sent_id"].notNull || !strings.EqualFold(cols["last_sent_id"].typ, pick(pg, "bigint", "integer")) {
				t.Errorf("deimos_poll_info columns %v", cols)
			}
			if !slices.Equal(idx, []string{"index_deimos_poll_info_on_producer"}) {
				t.Errorf("deimos_poll_info indexes %v", idx)
			}
			cols, idx = introspect(t, d, "phobos_db_checkpoint_events")
			if len(cols) != 10 || cols["created_at"].notNull || cols["payload"].typ != pick(pg, "json", "TEXT") {
				t.Errorf("events columns %v", cols)
			}
			for _, want := range []string{"index_phobos_db_checkpoint_events_on_checksum", "index_phobos_db_checkpoint_events_on_topic_group_id_checksum", "phobos_events_event_time_created_at_desc_nulls_last_idx"} {
				if !slices.Contains(idx, want) {
					t.Errorf("events index %s missing from %v", want, idx)
				}
			}
			cols, idx = introspect(t, d, "phobos_db_checkpoint_failures")
			if len(cols) != 14 || cols["error_backtrace"].typ != pick(pg, "json", "TEXT") {
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
			if c, _ := introspect(t, d, "kafka_messages"); c["headers"].notNull {
				t.Error("headers must be nullable")
			}
		})
	}
}

func pick(pg bool, a, b string) string {
	if pg {
		return a
	}
	return b
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
			if !slices.Equal(names, []string{"outbox/kafka_messages", "outbox/kafka_topic_info", "deadletter/deimos_dead_letters"}) {
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
				case "deadletter/deimos_dead_letters":
					if s.Adopted || !s.Applied {
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
			ts := map[string]string{"postgres": "TIMESTAMP", "sqlite": "DATETIME"}[name]
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
			for _, dl := range []string{"postgres", "sqlite"} {
				sql, _ := SQL(dl, []string{"poller"})
				tsx := map[string]string{"postgres": "TIMESTAMP", "sqlite": "DATETIME"}[dl]
				if !strings.Contains(sql, "(producer VARCHAR(255) NOT NULL PRIMARY KEY, last_run_at "+tsx+", batches BIGINT NOT NULL DEFAULT 0, errored_batches BIGINT NOT NULL DEFAULT 0, messages BIGINT NOT NULL DEFAULT 0, last_error TEXT, last_error_at "+tsx+")") {
					t.Errorf("%s DDL:\n%s", dl, sql)
				}
			}
		})
	}
}
