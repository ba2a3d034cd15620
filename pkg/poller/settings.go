// Package poller is Deimos's DB poller as an engine: it publishes new and
// changed rows of database tables to Kafka (or into the kafka_messages
// outbox), keeping a (timestamp, id) cursor per poller in deimos_poll_info
// exactly as Deimos does (docs/deimos-compat.md §4), without its gaps.
package poller

import (
	"fmt"
	"strings"
	"time"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/sqlguard"
)

// Modes.
const (
	TimeBased  = "time_based"
	StateBased = "state_based"
)

// Defaults (docs/deimos-compat.md §4.5).
const (
	DefaultRunEvery  = 60 * time.Second
	DefaultDelay     = 2 * time.Second
	DefaultBatchSize = 1000
)

// Settings is one poller's resolved configuration.
type Settings struct {
	Name            string // deimos_poll_info.producer
	Table           string
	Topic           string // un-prefixed topic name
	Backend         string // kafka | outbox
	Mode            string
	TimestampColumn string
	IDColumn        string
	RunEvery        time.Duration
	Delay           time.Duration
	FullTable       bool
	StartFromBegin  bool
	BatchSize       int
	Retries         int // < 0: infinite
	SkipTooLarge    bool
	Mapping         map[string]string // column -> field
	Where           string
	// LateCommitGuard is all, writers or off; "" is the dialect's default
	// (all on PostgreSQL, writers on MySQL: see defaultGuard).
	LateCommitGuard string

	StateColumn            string
	PublishTimestampColumn string
	PublishedState         string
	FailedState            string

	Deletions *DeletionSettings

	// Spec overrides (schema_backend/schema/namespace/key_config); zero = topic's.
	SchemaBackend string
	Schema        string
	Namespace     string
	KeyConfig     *config.KeyConfig
}

// DeletionSettings is a source of deleted keys published as tombstones.
type DeletionSettings struct {
	Table           string
	KeyColumn       string
	TimestampColumn string
	IDColumn        string
}

// DeletionsName is the deimos_poll_info.producer of a poller's deletions cursor.
func DeletionsName(name string) string { return name + ":deletions" }

// Resolve validates every configured poller and applies defaults. Errors name
// the poller and the field (they are configuration errors: exit 2).
func Resolve(cfg *config.Config) ([]Settings, error) {
	var out []Settings
	seen := map[string]bool{}
	for i, p := range cfg.Pollers {
		s, err := resolveOne(cfg, p)
		if err != nil {
			label := p.Name
			if label == "" {
				label = fmt.Sprintf("#%d", i)
			}
			return nil, fmt.Errorf("pollers[%d] (%s): %w", i, label, err)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("pollers[%d]: duplicate name %q", i, s.Name)
		}
		seen[s.Name] = true
		out = append(out, s)
	}
	return out, nil
}

func resolveOne(cfg *config.Config, p config.Poller) (Settings, error) {
	s := Settings{
		Name: p.Name, Table: p.Table, Topic: p.Topic, Backend: p.Backend, Mode: p.Mode,
		TimestampColumn: p.TimestampColumn, IDColumn: p.IDColumn,
		RunEvery: p.RunEvery.D(), Delay: p.Delay.D(), FullTable: p.FullTable,
		StartFromBegin: p.StartFromBeginning == nil || *p.StartFromBeginning,
		BatchSize:      p.BatchSize, Retries: 1, SkipTooLarge: p.SkipTooLarge,
		Mapping: p.Mapping, Where: strings.TrimSpace(p.Where), LateCommitGuard: p.LateCommitGuard,
		StateColumn: p.StateColumn, PublishTimestampColumn: p.PublishTimestampColumn,
		PublishedState: p.PublishedState, FailedState: p.FailedState,
		SchemaBackend: p.SchemaBackend, Schema: p.Schema, Namespace: p.Namespace, KeyConfig: p.KeyConfig,
	}
	if s.Name == "" {
		return s, fmt.Errorf("name is required (it is the deimos_poll_info.producer value)")
	}
	if len(s.Name) > 255 {
		return s, fmt.Errorf("name: longer than 255 characters")
	}
	if s.Table == "" {
		return s, fmt.Errorf("table is required")
	}
	if s.Topic == "" {
		return s, fmt.Errorf("topic is required")
	}
	if s.Backend == "" {
		s.Backend = cfg.Producers.Backend
	}
	if s.Backend == "" {
		s.Backend = "kafka"
	}
	if s.Backend != "kafka" && s.Backend != "outbox" {
		return s, fmt.Errorf("backend: %q is not kafka or outbox", s.Backend)
	}
	switch s.Mode {
	case "", "time", TimeBased:
		s.Mode = TimeBased
	case "state", StateBased:
		s.Mode = StateBased
	default:
		return s, fmt.Errorf("mode: %q is not time_based or state_based", s.Mode)
	}
	if s.TimestampColumn == "" {
		s.TimestampColumn = "updated_at"
	}
	if s.IDColumn == "" {
		s.IDColumn = "id"
	}
	if s.RunEvery <= 0 {
		s.RunEvery = DefaultRunEvery
	}
	if p.Delay == 0 && !p.DelaySet {
		s.Delay = DefaultDelay
	}
	if s.Delay < 0 {
		return s, fmt.Errorf("delay: must not be negative")
	}
	if s.BatchSize == 0 {
		s.BatchSize = DefaultBatchSize
	}
	if s.BatchSize < 0 || s.BatchSize > 100000 {
		return s, fmt.Errorf("batch_size: %d is not between 1 and 100000", s.BatchSize)
	}
	if p.RetriesInfinite || (p.Retries != nil && *p.Retries < 0) {
		s.Retries = -1
	} else if p.Retries != nil {
		s.Retries = *p.Retries
	}
	switch s.LateCommitGuard {
	case "", GuardAll, GuardWriters, GuardOff:
	default:
		return s, fmt.Errorf("late_commit_guard: %q is not all, writers or off", s.LateCommitGuard)
	}
	if s.SchemaBackend != "" {
		ok := false
		for _, b := range config.Backends {
			ok = ok || b == s.SchemaBackend
		}
		if !ok {
			return s, fmt.Errorf("schema_backend: unknown backend %q", s.SchemaBackend)
		}
	}
	if s.KeyConfig != nil {
		if err := s.KeyConfig.Validate(); err != nil {
			return s, err
		}
	}
	idents := map[string]string{"table": s.Table, "timestamp_column": s.TimestampColumn, "id_column": s.IDColumn}
	if s.StateColumn != "" {
		idents["state_column"] = s.StateColumn
	}
	if s.PublishTimestampColumn != "" {
		idents["publish_timestamp_column"] = s.PublishTimestampColumn
	}
	for col, field := range s.Mapping {
		idents["mapping column "+col] = col
		if field == "" {
			return s, fmt.Errorf("mapping: column %q maps to an empty field name", col)
		}
	}
	if p.Deletions != nil {
		d := &DeletionSettings{Table: p.Deletions.Table, KeyColumn: p.Deletions.KeyColumn,
			TimestampColumn: p.Deletions.TimestampColumn, IDColumn: p.Deletions.IDColumn}
		if d.Table == "" {
			return s, fmt.Errorf("deletions.table is required")
		}
		if d.KeyColumn == "" {
			d.KeyColumn = s.IDColumn
		}
		if d.TimestampColumn == "" {
			d.TimestampColumn = "deleted_at"
		}
		if d.IDColumn == "" {
			d.IDColumn = "id"
		}
		idents["deletions.table"] = d.Table
		idents["deletions.key_column"] = d.KeyColumn
		idents["deletions.timestamp_column"] = d.TimestampColumn
		idents["deletions.id_column"] = d.IDColumn
		s.Deletions = d
	}
	for _, field := range sortedKeys(idents) {
		if err := validName(idents[field], field == "table" || field == "deletions.table"); err != nil {
			return s, fmt.Errorf("%s: %w", field, err)
		}
	}
	w, err := checkWhere(s.Where, db.GuardsFor(cfg.Database.URL))
	if err != nil {
		return s, fmt.Errorf("where: %w", err)
	}
	s.Where = w
	if s.Mode == StateBased {
		if s.StateColumn == "" && s.PublishTimestampColumn == "" {
			return s, fmt.Errorf("state_based mode needs state_column (with published_state) or publish_timestamp_column, or it would publish the same rows forever")
		}
		if s.StateColumn != "" && s.PublishedState == "" {
			return s, fmt.Errorf("state_column needs published_state (Deimos loops forever without it)")
		}
		if s.FullTable {
			return s, fmt.Errorf("full_table applies to time_based mode only")
		}
	}
	return s, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// validName checks a table (schema.table allowed) or column name.
func validName(name string, table bool) error {
	if err := db.ValidIdent(name); err != nil {
		return err
	}
	if !table && strings.Contains(name, ".") {
		return fmt.Errorf("invalid column name %q: no dots", name)
	}
	return nil
}

// checkWhere checks a `where` filter for the databases it may run on and
// returns it as it will be pasted into the poller's queries (with one
// trailing ';' dropped). The filter is trusted configuration, but it must be
// one boolean expression: pkg/sqlguard reads it as the database would
// (strings, quoted identifiers, E'…' strings, dollar quotes, comments) and
// refuses a second statement, a comment, an unclosed quote or unbalanced
// parentheses.
func checkWhere(w string, dialects []sqlguard.Dialect) (string, error) {
	if w == "" {
		return "", nil
	}
	out := w
	for _, d := range dialects {
		f, err := sqlguard.CheckExpr(d, w)
		if err != nil {
			if len(dialects) == 1 {
				return "", err
			}
			return "", fmt.Errorf("%w (read as %s SQL)", err, d)
		}
		out = f
	}
	return out, nil
}
