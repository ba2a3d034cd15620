package migrate

import (
	"fmt"
	"strings"

	"github.com/deimos-cli/deimos/pkg/db"
)

// colType is a Rails column type; each dialect renders it as Rails does
// (docs/deimos-compat.md §1.4), for a migration generated under Rails >= 7
// (datetime precision 6).
type colType int

const (
	tString colType = iota + 1
	tBinary10M
	tBinary
	tDatetime
	tBool
	tInt
	tBigint
	tJSON
	tText
	tBinaryLong // dead-letter payloads: no Deimos limit applies
)

type column struct {
	Name    string
	Type    colType
	NotNull bool
	Default string // "false" or "0" (rendered per dialect); "" = none
}

type idxCol struct {
	Name string
	// DescNullsLast renders "DESC NULLS LAST" where supported (phobos index).
	DescNullsLast bool
}

type index struct {
	Name   string
	Cols   []idxCol
	Unique bool
}

// table is one table as its generator creates it; the id primary key is implicit.
type table struct {
	Name    string
	Columns []column
	Indexes []index
	// raw, when set, renders the table's DDL itself (a table of ours whose
	// exact DDL another engine also creates); rawCols are its columns.
	raw     func(dialect, ine string) string
	rawCols []string
}

// Dialect names accepted by SQL.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
	MySQL    = "mysql"
)

// Dialects lists the dialects DDL can be rendered for.
var Dialects = []string{SQLite, Postgres, MySQL}

func typeSQL(dialect string, t colType) string {
	switch dialect {
	case Postgres:
		switch t {
		case tString:
			return "character varying"
		case tBinary10M, tBinary, tBinaryLong:
			return "bytea"
		case tDatetime:
			return "timestamp(6) without time zone"
		case tBool:
			return "boolean"
		case tInt:
			return "integer"
		case tBigint:
			return "bigint"
		case tJSON:
			return "json"
		case tText:
			return "text"
		}
	case MySQL:
		switch t {
		case tString:
			return "varchar(255)"
		case tBinary10M:
			return "mediumblob"
		case tBinary:
			return "blob"
		case tBinaryLong:
			return "longblob"
		case tDatetime:
			return "datetime(6)"
		case tBool:
			return "tinyint(1)"
		case tInt:
			return "int"
		case tBigint:
			return "bigint"
		case tJSON:
			return "json"
		case tText:
			return "text"
		}
	default: // sqlite
		switch t {
		case tString:
			return "varchar"
		case tBinary10M, tBinary, tBinaryLong:
			return "blob"
		case tDatetime:
			return "datetime(6)"
		case tBool:
			return "boolean"
		case tInt, tBigint:
			return "integer"
		case tJSON, tText:
			return "TEXT"
		}
	}
	panic(fmt.Sprintf("migrate: no %s type for %d", dialect, t))
}

func defaultSQL(dialect, def string) string {
	if def == "false" {
		if dialect == Postgres {
			return "FALSE"
		}
		return "0"
	}
	return def
}

// createSQL renders CREATE TABLE plus its CREATE INDEX statements.
func (t table) createSQL(dialect string, ifNotExists bool) []string {
	var b strings.Builder
	ine := ""
	if ifNotExists {
		ine = "IF NOT EXISTS "
	}
	if t.raw != nil {
		return []string{t.raw(dialect, ine)}
	}
	fmt.Fprintf(&b, "CREATE TABLE %s%s (\n", ine, db.Quote(dialect, t.Name))
	switch dialect {
	case Postgres:
		fmt.Fprintf(&b, "  %s bigserial PRIMARY KEY", db.Quote(dialect, "id"))
	case MySQL:
		fmt.Fprintf(&b, "  %s bigint NOT NULL AUTO_INCREMENT PRIMARY KEY", db.Quote(dialect, "id"))
	default:
		fmt.Fprintf(&b, "  %s integer PRIMARY KEY AUTOINCREMENT NOT NULL", db.Quote(dialect, "id"))
	}
	for _, c := range t.Columns {
		fmt.Fprintf(&b, ",\n  %s %s", db.Quote(dialect, c.Name), typeSQL(dialect, c.Type))
		if c.Default != "" {
			fmt.Fprintf(&b, " DEFAULT %s", defaultSQL(dialect, c.Default))
		}
		if c.NotNull {
			b.WriteString(" NOT NULL")
		}
	}
	b.WriteString("\n)")
	if dialect == MySQL {
		// As Rails's MySQL adapter does: the outbox's locking needs
		// transactions and row locks, whatever default_storage_engine is.
		b.WriteString(" ENGINE=InnoDB")
	}
	out := []string{b.String()}
	for _, ix := range t.Indexes {
		out = append(out, ix.createSQL(dialect, t.Name, ifNotExists && dialect != MySQL))
	}
	return out
}

func (ix index) createSQL(dialect, tbl string, ifNotExists bool) string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if ix.Unique {
		b.WriteString("UNIQUE ")
	}
	b.WriteString("INDEX ")
	if ifNotExists {
		b.WriteString("IF NOT EXISTS ")
	}
	fmt.Fprintf(&b, "%s ON %s", db.Quote(dialect, ix.Name), db.Quote(dialect, tbl))
	if dialect == Postgres && ix.hasOrder() {
		b.WriteString(" USING btree")
	}
	b.WriteString(" (")
	for i, c := range ix.Cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(db.Quote(dialect, c.Name))
		if c.DescNullsLast {
			// SQLite accepts no NULLS clause in an index; it sorts NULLs first
			// ascending, so DESC already puts them last. MySQL has no NULLS
			// clause either and DESC sorts NULLs last.
			if dialect == Postgres {
				b.WriteString(" DESC NULLS LAST")
			} else {
				b.WriteString(" DESC")
			}
		}
	}
	b.WriteString(")")
	return b.String()
}

func (ix index) hasOrder() bool {
	for _, c := range ix.Cols {
		if c.DescNullsLast {
			return true
		}
	}
	return false
}

func railsIndex(tbl string, cols ...string) index {
	ic := make([]idxCol, len(cols))
	for i, c := range cols {
		ic[i] = idxCol{Name: c}
	}
	return index{Name: "index_" + tbl + "_on_" + strings.Join(cols, "_and_"), Cols: ic}
}

// Table names (Deimos and phobos_db_checkpoint: docs/deimos-compat.md §1 and
// §8.1) and ours (§1.5).
const (
	KafkaMessages      = "kafka_messages"
	KafkaTopicInfo     = "kafka_topic_info"
	PollInfo           = "deimos_poll_info"
	CheckpointEvents   = "phobos_db_checkpoint_events"
	CheckpointFailures = "phobos_db_checkpoint_failures"
	DeadLetters        = "deimos_dead_letters"
	// SchemaMigrations records what `migrate up` applied or adopted.
	SchemaMigrations = "deimos_schema_migrations"
)

func kafkaMessages() table {
	return table{
		Name: KafkaMessages,
		Columns: []column{
			{Name: "topic", Type: tString, NotNull: true},
			{Name: "message", Type: tBinary10M},
			{Name: "key", Type: tBinary},
			{Name: "partition_key", Type: tString},
			{Name: "created_at", Type: tDatetime, NotNull: true},
			{Name: "updated_at", Type: tDatetime, NotNull: true},
		},
		Indexes: []index{railsIndex(KafkaMessages, "topic", "id")},
	}
}

func kafkaTopicInfo() table {
	u := railsIndex(KafkaTopicInfo, "topic")
	u.Unique = true
	return table{
		Name: KafkaTopicInfo,
		Columns: []column{
			{Name: "topic", Type: tString, NotNull: true},
			{Name: "locked_by", Type: tString},
			{Name: "locked_at", Type: tDatetime},
			{Name: "error", Type: tBool, NotNull: true, Default: "false"},
			{Name: "retries", Type: tInt, NotNull: true, Default: "0"},
			{Name: "last_processed_at", Type: tDatetime},
		},
		Indexes: []index{
			u,
			railsIndex(KafkaTopicInfo, "locked_by", "error"),
			railsIndex(KafkaTopicInfo, "locked_at"),
		},
	}
}

func pollInfo() table {
	return table{
		Name: PollInfo,
		Columns: []column{
			{Name: "producer", Type: tString, NotNull: true},
			{Name: "last_sent", Type: tDatetime},
			{Name: "last_sent_id", Type: tBigint},
		},
		Indexes: []index{railsIndex(PollInfo, "producer")},
	}
}

var checkpointIndexed = []string{"topic", "group_id", "entity_id", "event_time", "event_type", "event_version", "checksum"}

// PollerRuns is ours: each poller's last run, for `poller status`. The poller
// also creates it when missing (pkg/poller ensureRunsTable); the DDL here is
// kept identical to that one, so either may create it first.
const PollerRuns = "deimos_poller_runs"

func pollerRuns() table {
	return table{
		Name:    PollerRuns,
		rawCols: []string{"producer", "last_run_at", "batches", "errored_batches", "messages", "last_error", "last_error_at"},
		raw: func(dialect, ine string) string {
			ts := "TIMESTAMP"
			if dialect != Postgres {
				ts = "DATETIME"
			}
			return "CREATE TABLE " + ine + db.Quote(dialect, PollerRuns) + " (producer VARCHAR(255) NOT NULL PRIMARY KEY, last_run_at " + ts +
				", batches BIGINT NOT NULL DEFAULT 0, errored_batches BIGINT NOT NULL DEFAULT 0, messages BIGINT NOT NULL DEFAULT 0, last_error TEXT, last_error_at " + ts + ")"
		},
	}
}

func checkpointEvents() table {
	t := table{
		Name: CheckpointEvents,
		Columns: []column{
			{Name: "topic", Type: tString},
			{Name: "group_id", Type: tString},
			{Name: "entity_id", Type: tString},
			{Name: "event_time", Type: tDatetime},
			{Name: "event_type", Type: tString},
			{Name: "event_version", Type: tString},
			{Name: "checksum", Type: tString},
			{Name: "payload", Type: tJSON},
			{Name: "created_at", Type: tDatetime},
		},
	}
	for _, c := range checkpointIndexed {
		t.Indexes = append(t.Indexes, railsIndex(CheckpointEvents, c))
	}
	t.Indexes = append(t.Indexes,
		index{Name: "index_phobos_db_checkpoint_events_on_topic_group_id_checksum", Cols: []idxCol{{Name: "topic"}, {Name: "group_id"}, {Name: "checksum"}}},
		index{Name: "phobos_events_event_time_created_at_desc_nulls_last_idx", Cols: []idxCol{{Name: "event_time", DescNullsLast: true}, {Name: "created_at", DescNullsLast: true}}},
	)
	return t
}

func checkpointFailures() table {
	t := table{
		Name: CheckpointFailures,
		Columns: []column{
			{Name: "created_at", Type: tDatetime},
			{Name: "topic", Type: tString},
			{Name: "group_id", Type: tString},
			{Name: "entity_id", Type: tString},
			{Name: "event_time", Type: tDatetime},
			{Name: "event_type", Type: tString},
			{Name: "event_version", Type: tString},
			{Name: "checksum", Type: tString},
			{Name: "payload", Type: tJSON},
			{Name: "metadata", Type: tJSON},
			{Name: "error_class", Type: tString},
			{Name: "error_message", Type: tString},
			{Name: "error_backtrace", Type: tJSON},
		},
	}
	for _, c := range checkpointIndexed {
		t.Indexes = append(t.Indexes, railsIndex(CheckpointFailures, c))
	}
	t.Indexes = append(t.Indexes,
		index{Name: "phobos_failures_event_time_created_at_desc_nulls_last_idx", Cols: []idxCol{{Name: "event_time", DescNullsLast: true}, {Name: "created_at", DescNullsLast: true}}},
	)
	return t
}

// deadLetters is ours (docs/deimos-compat.md §1.5): rows Kafka rejected (too large), moved
// here with the error text instead of being dropped.
func deadLetters() table {
	return table{
		Name: DeadLetters,
		Columns: []column{
			{Name: "topic", Type: tString, NotNull: true},
			{Name: "message", Type: tBinaryLong},
			{Name: "key", Type: tBinary},
			{Name: "partition_key", Type: tString},
			{Name: "error", Type: tText, NotNull: true},
			{Name: "original_id", Type: tBigint},
			{Name: "original_created_at", Type: tDatetime},
			{Name: "created_at", Type: tDatetime, NotNull: true},
		},
		Indexes: []index{railsIndex(DeadLetters, "topic", "id")},
	}
}

func schemaMigrations() table {
	return table{
		Name: SchemaMigrations,
		Columns: []column{
			{Name: "name", Type: tString, NotNull: true},
			{Name: "adopted", Type: tBool, NotNull: true, Default: "false"},
			{Name: "applied_at", Type: tDatetime, NotNull: true},
		},
		Indexes: []index{func() index { i := railsIndex(SchemaMigrations, "name"); i.Unique = true; return i }()},
	}
}
