// Package migrate creates and upgrades every table the tools use, exactly as
// Deimos and phobos_db_checkpoint create theirs (docs/deimos-compat.md §1 and §8.1).
//
// Each migration creates one table (with its indexes) or adds one optional
// column. Applied migrations are recorded in deimos_schema_migrations. A table
// that already exists (created by the Ruby generators, say) is adopted: it is
// recorded as applied and never altered.
package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// Groups that `migrate up` applies when none is named, in order.
var Groups = []string{"outbox", "poller", "checkpoint", "deadletter"}

// OptInGroups are applied only when named with --only.
var OptInGroups = []string{"headers"}

// Migration is one step.
type Migration struct {
	Name  string // e.g. "outbox/kafka_messages"
	Group string
	Table string
	// Column is set for an add-column step (the table must exist).
	Column string

	tbl    table
	colTyp colType
}

func all() []Migration {
	mk := func(group string, t table) Migration {
		return Migration{Name: group + "/" + t.Name, Group: group, Table: t.Name, tbl: t}
	}
	return []Migration{
		mk("outbox", kafkaMessages()),
		mk("outbox", kafkaTopicInfo()),
		mk("poller", pollInfo()),
		mk("poller", pollerRuns()),
		mk("checkpoint", checkpointEvents()),
		mk("checkpoint", checkpointFailures()),
		mk("deadletter", deadLetters()),
		// The headers of a dead-lettered message, so a requeue sends them again
		// (JSON object text, as kafka_messages.headers).
		{Name: "deadletter/deimos_dead_letters.headers", Group: "deadletter", Table: DeadLetters, Column: "headers", colTyp: tText},
		// Ours (docs/deimos-compat.md §1.5): optional headers (JSON object text), nullable so Ruby writers ignore it.
		{Name: "headers/kafka_messages.headers", Group: "headers", Table: KafkaMessages, Column: "headers", colTyp: tText},
	}
}

// Select returns the migrations of the named groups (all default groups when
// only is empty), in order. An unknown group is a usage error.
func Select(only []string) ([]Migration, error) {
	want := map[string]bool{}
	if len(only) == 0 {
		for _, g := range Groups {
			want[g] = true
		}
	}
	known := append(append([]string{}, Groups...), OptInGroups...)
	for _, g := range only {
		g = strings.TrimSpace(g)
		ok := false
		for _, k := range known {
			ok = ok || k == g
		}
		if !ok {
			return nil, errs.Usagef("migrate: unknown group %q (use %s)", g, strings.Join(known, ", "))
		}
		want[g] = true
	}
	var out []Migration
	for _, m := range all() {
		if want[m.Group] {
			out = append(out, m)
		}
	}
	return out, nil
}

// SQL renders the DDL of the selected migrations for a dialect (sqlite,
// postgres or mysql), for DBAs who apply schema changes themselves.
func SQL(dialect string, only []string) (string, error) {
	ok := false
	for _, d := range Dialects {
		ok = ok || d == dialect
	}
	if !ok {
		return "", errs.Usagef("migrate sql: unknown dialect %q (use sqlite, postgres or mysql)", dialect)
	}
	ms, err := Select(only)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "-- %s\n", m.Name)
		for _, s := range m.statements(dialect, false) {
			b.WriteString(s + ";\n")
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}

func (m Migration) statements(dialect string, ifNotExists bool) []string {
	if m.Column != "" {
		return []string{fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", db.Quote(dialect, m.Table), db.Quote(dialect, m.Column), typeSQL(dialect, m.colTyp))}
	}
	return m.tbl.createSQL(dialect, ifNotExists)
}

// ExpectedColumns returns the columns migrate creates for a table, in order,
// id first (nil for an unknown table).
func ExpectedColumns(tableName string) []string {
	for _, m := range all() {
		if m.Column == "" && m.Table == tableName {
			if m.tbl.raw != nil {
				return append([]string{}, m.tbl.rawCols...)
			}
			out := []string{"id"}
			for _, c := range m.tbl.Columns {
				out = append(out, c.Name)
			}
			return out
		}
	}
	return nil
}

func dialectName(d *db.DB) string { return d.Dialect.Name() }

func ensureTracking(ctx context.Context, d *db.DB) error {
	// Checked first: MySQL has no CREATE INDEX IF NOT EXISTS.
	if ok, err := d.TableExists(ctx, SchemaMigrations); err != nil || ok {
		return err
	}
	if dialectName(d) == MySQL {
		if err := createUndoable(ctx, d, SchemaMigrations, schemaMigrations().createSQL(MySQL, false)); err != nil {
			return fmt.Errorf("creating %s: %w", SchemaMigrations, err)
		}
		return nil
	}
	for _, s := range schemaMigrations().createSQL(dialectName(d), true) {
		if _, err := d.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("creating %s: %w", SchemaMigrations, err)
		}
	}
	return nil
}

func applied(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, d *db.DB) (map[string]State, error) {
	rows, err := q.QueryContext(ctx, "SELECT name, adopted, applied_at FROM "+d.Q(SchemaMigrations))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]State{}
	for rows.Next() {
		var s State
		var at any
		if err := rows.Scan(&s.Name, &s.Adopted, &at); err != nil {
			return nil, err
		}
		s.Applied = true
		s.AppliedAt = toTime(at)
		out[s.Name] = s
	}
	return out, rows.Err()
}

func toTime(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x.UTC()
	case string:
		for _, f := range []string{"2006-01-02 15:04:05.999999999", time.RFC3339Nano} {
			if t, err := time.Parse(f, x); err == nil {
				return t
			}
		}
	case []byte:
		return toTime(string(x))
	}
	return time.Time{}
}

func columnExists(ctx context.Context, d *db.DB, tbl, col string) (bool, error) {
	cols, err := d.Columns(ctx, tbl)
	if err != nil {
		return false, err
	}
	for _, c := range cols {
		if strings.EqualFold(c, col) {
			return true, nil
		}
	}
	return false, nil
}

// present reports whether the migration's object already exists.
func (m Migration) present(ctx context.Context, d *db.DB) (bool, error) {
	ok, err := d.TableExists(ctx, m.Table)
	if err != nil || !ok || m.Column == "" {
		return ok, err
	}
	return columnExists(ctx, d, m.Table, m.Column)
}

// Up applies the selected groups (all default groups when only is empty) and
// returns the names of the migrations it applied or adopted. Existing tables
// are recorded as adopted and left untouched. Running it again does nothing.
func Up(ctx context.Context, d *db.DB, only []string) ([]string, error) {
	ms, err := Select(only)
	if err != nil {
		return nil, err
	}
	if err := ensureTracking(ctx, d); err != nil {
		return nil, err
	}
	done, err := applied(ctx, d, d)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range ms {
		if _, ok := done[m.Name]; ok {
			continue
		}
		if m.Column != "" {
			if ok, err := d.TableExists(ctx, m.Table); err != nil {
				return names, err
			} else if !ok {
				return names, errs.Failedf("migrate %s: table %s does not exist (run the group that creates it first)", m.Name, m.Table)
			}
		}
		exists, err := m.present(ctx, d)
		if err != nil {
			return names, fmt.Errorf("migrate %s: %w", m.Name, err)
		}
		if !exists && dialectName(d) == MySQL {
			created := m.Table
			if m.Column != "" {
				created = ""
			}
			if err := createUndoable(ctx, d, created, m.statements(MySQL, false)); err != nil {
				return names, errs.Failedf("migrate %s: %w", m.Name, err)
			}
		}
		err = d.Tx(ctx, func(tx *sql.Tx) error {
			if !exists && dialectName(d) != MySQL {
				for _, s := range m.statements(dialectName(d), true) {
					if _, err := tx.ExecContext(ctx, s); err != nil {
						return fmt.Errorf("%s: %w", firstLine(s), err)
					}
				}
			}
			now := time.Now().UTC().Format("2006-01-02 15:04:05.000000")
			_, err := tx.ExecContext(ctx, d.Rebind("INSERT INTO "+d.Q(SchemaMigrations)+" (name, adopted, applied_at) VALUES (?, "+d.Dialect.Bool(exists)+", ?)"), m.Name, now)
			if db.IsUniqueViolation(err) {
				return nil // another migrate ran concurrently
			}
			return err
		})
		if err != nil {
			return names, errs.Failedf("migrate %s: %w", m.Name, err)
		}
		names = append(names, m.Name)
	}
	return names, nil
}

// createUndoable runs a table's DDL on MySQL, where each DDL statement
// commits on its own so a transaction cannot undo a table whose index then
// failed: it drops the table instead. The statements are exactly those
// `migrate sql` prints, without IF NOT EXISTS, so that a table another
// process created meanwhile fails the CREATE TABLE and is never dropped here.
// created is the table the first statement creates ("" for a migration
// that adds a column: nothing is dropped then).
func createUndoable(ctx context.Context, d *db.DB, created string, stmts []string) error {
	for i, s := range stmts {
		if _, err := d.ExecContext(ctx, s); err != nil {
			if i > 0 && created != "" {
				_, _ = d.ExecContext(context.WithoutCancel(ctx), "DROP TABLE "+d.Q(created))
			}
			return fmt.Errorf("%s: %w", firstLine(s), err)
		}
	}
	return nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// State is one migration's status.
type State struct {
	Name      string    `json:"name"`
	Group     string    `json:"group"`
	Table     string    `json:"table"`
	Applied   bool      `json:"applied"`
	Adopted   bool      `json:"adopted"`
	AppliedAt time.Time `json:"applied_at,omitempty"`
	// Present: the table (or column) exists in the database.
	Present bool `json:"present"`
	// MissingColumns are expected columns absent from an existing table.
	MissingColumns []string `json:"missing_columns,omitempty"`
	OptIn          bool     `json:"opt_in,omitempty"`
}

// Status reports every known migration (default and opt-in groups).
func Status(ctx context.Context, d *db.DB) ([]State, error) {
	done := map[string]State{}
	if ok, err := d.TableExists(ctx, SchemaMigrations); err != nil {
		return nil, err
	} else if ok {
		if done, err = applied(ctx, d, d); err != nil {
			return nil, err
		}
	}
	var out []State
	for _, m := range all() {
		s := done[m.Name]
		s.Name, s.Group, s.Table = m.Name, m.Group, m.Table
		for _, g := range OptInGroups {
			s.OptIn = s.OptIn || g == m.Group
		}
		p, err := m.present(ctx, d)
		if err != nil {
			return nil, err
		}
		s.Present = p
		if p && m.Column == "" {
			cols, err := d.Columns(ctx, m.Table)
			if err != nil {
				return nil, err
			}
			have := map[string]bool{}
			for _, c := range cols {
				have[strings.ToLower(c)] = true
			}
			for _, c := range ExpectedColumns(m.Table) {
				if !have[c] {
					s.MissingColumns = append(s.MissingColumns, c)
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}
