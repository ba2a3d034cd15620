package config

import (
	"strings"
	"time"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// ConsumerFlags are `consume`'s database-consumer flags (and -g). A flag
// whose zero value is a real setting says with its *Set field whether it
// was given on the command line; the others count as given when not zero.
type ConsumerFlags struct {
	Consumer        string   // --consumer NAME: an entry of consumers:
	Group           string   // -g
	Sink            string   // --sink table:NAME
	Mapping         []string // --map COLUMN=FIELD
	KeyColumns      []string // --key-columns
	KeyColumnsSet   bool
	NoCompact       bool
	SkipBadRows     bool
	Exec            string
	SkipExitCode    int // --skip-exit-code; its default when not Set
	SkipExitCodeSet bool
	Checkpoint      bool
	MaxRetries      int // --max-retries; -1: retry forever
	MaxRetriesSet   bool
	HandlerTimeout  time.Duration
	PassEnv         []string
	Fields          ConsumerFields
}

// ConsumerFields name the payload fields a checkpoint stores.
type ConsumerFields struct{ EntityID, EventTime, EventType, EventVersion string }

// ConsumerChecks validate what the config package cannot judge by itself
// (they belong to the engines); nil skips the check.
type ConsumerChecks struct {
	Exec  func(command string, passEnv []string) error // the handler command and its pass_env
	Table func(name string) error                      // the sink table's name
}

// ResolvedConsumer is a consumers: entry with the flags laid over it.
type ResolvedConsumer struct {
	Name         string // the entry's ("" without --consumer)
	Table        string // the sink table ("" when none)
	Mapping      map[string]string
	KeyColumns   []string
	NoCompact    bool
	SkipBadRows  bool
	Exec         string
	SkipExitCode int
	Checkpoint   bool
	MaxRetries   *int // nil: retry forever
	Timeout      time.Duration
	PassEnv      []string
	Fields       ConsumerFields
	Group        string
}

// ConsumerNamed returns the consumers: entry called name.
func (c *Config) ConsumerNamed(name string) (*Consumer, error) {
	for i := range c.Consumers {
		if c.Consumers[i].Name == name {
			return &c.Consumers[i], nil
		}
	}
	return nil, errs.Usagef("--consumer %q: no such entry in consumers: of %s", name, c.sourceName())
}

func (c *Config) sourceName() string {
	if c.Source != "" {
		return c.Source
	}
	return "the config"
}

// ResolveConsumer lays the flags over the --consumer entry (flags win;
// without --consumer the flags alone) and checks the result. Every error
// is a usage error naming the flag or the entry's key.
func ResolveConsumer(cfg *Config, fl ConsumerFlags, chk ConsumerChecks) (ResolvedConsumer, error) {
	var r ResolvedConsumer
	group := fl.Group
	if fl.Consumer != "" {
		found, err := cfg.ConsumerNamed(fl.Consumer)
		if err != nil {
			return r, err
		}
		r.Name = found.Name
		r.Table, _ = strings.CutPrefix(found.Sink, "table:")
		if found.Sink != "" && !strings.HasPrefix(found.Sink, "table:") {
			return r, errs.Usagef("consumers[%s].sink: %q is not table:NAME", found.Name, found.Sink)
		}
		r.Mapping = found.Mapping
		r.KeyColumns = found.KeyColumns
		r.NoCompact = found.Compacted != nil && !*found.Compacted
		r.SkipBadRows = found.SkipBadRows
		r.Exec = found.Exec
		r.SkipExitCode = fl.SkipExitCode // the flag's default unless set below
		if found.SkipExitCode != nil {
			r.SkipExitCode = *found.SkipExitCode
		}
		r.Checkpoint = found.Checkpoint
		r.MaxRetries = found.MaxRetries
		r.PassEnv = append(r.PassEnv, found.PassEnv...)
		r.Fields = ConsumerFields{EntityID: found.EntityIDField, EventTime: found.EventTimeField, EventType: found.EventTypeField, EventVersion: found.EventVersionFld}
		r.Group = found.Group
		if group != "" && found.Group != "" && group != found.Group {
			return r, errs.Usagef("-g %s differs from consumers[%s].group %s", group, found.Name, found.Group)
		}
		if group == "" && found.Group != "" {
			return r, errs.Usagef("consumer %s: pass -g %s so offsets are committed to its group", found.Name, found.Group)
		}
	} else {
		r.SkipExitCode = fl.SkipExitCode
	}
	if group != "" {
		r.Group = group
	}
	if fl.Sink != "" {
		if !strings.HasPrefix(fl.Sink, "table:") {
			return r, errs.Usagef("--sink %q: use table:NAME", fl.Sink)
		}
		r.Table = strings.TrimPrefix(fl.Sink, "table:")
	}
	if len(fl.Mapping) > 0 {
		r.Mapping = map[string]string{}
		for _, m := range fl.Mapping {
			col, field, ok := strings.Cut(m, "=")
			if !ok || col == "" || field == "" {
				return r, errs.Usagef("--map %q: use COLUMN=FIELD", m)
			}
			r.Mapping[col] = field
		}
	}
	if fl.KeyColumnsSet || fl.Consumer == "" {
		r.KeyColumns = fl.KeyColumns
	}
	r.NoCompact = r.NoCompact || fl.NoCompact
	r.SkipBadRows = r.SkipBadRows || fl.SkipBadRows
	if fl.Exec != "" {
		r.Exec = fl.Exec
	}
	if fl.SkipExitCodeSet {
		r.SkipExitCode = fl.SkipExitCode
	}
	r.Checkpoint = r.Checkpoint || fl.Checkpoint
	if fl.MaxRetries < -1 {
		return r, errs.Usagef("--max-retries %d: must be 0 or more (-1: retry forever)", fl.MaxRetries)
	}
	if fl.MaxRetriesSet || fl.Consumer == "" {
		if fl.MaxRetries >= 0 {
			n := fl.MaxRetries
			r.MaxRetries = &n
		} else if fl.MaxRetriesSet {
			r.MaxRetries = nil
		}
	}
	r.Timeout = fl.HandlerTimeout
	r.PassEnv = append(r.PassEnv, fl.PassEnv...)
	if r.Exec != "" && chk.Exec != nil {
		if err := chk.Exec(r.Exec, r.PassEnv); err != nil {
			return r, errs.Usagef("--exec: %w", err)
		}
	}
	for _, p := range []struct {
		dst *string
		v   string
	}{{&r.Fields.EntityID, fl.Fields.EntityID}, {&r.Fields.EventTime, fl.Fields.EventTime}, {&r.Fields.EventType, fl.Fields.EventType}, {&r.Fields.EventVersion, fl.Fields.EventVersion}} {
		if p.v != "" {
			*p.dst = p.v
		}
	}
	if r.Table != "" && chk.Table != nil {
		if err := chk.Table(r.Table); err != nil {
			return r, errs.Usagef("table sink: %w", err)
		}
	}
	if r.Checkpoint && r.Exec == "" {
		return r, errs.Usagef("--checkpoint needs a handler command (--exec CMD)")
	}
	if r.Checkpoint && r.Group == "" {
		return r, errs.Usagef("--checkpoint needs a consumer group (-g GROUP): events are deduplicated per group")
	}
	if r.MaxRetries != nil && *r.MaxRetries < 0 {
		return r, errs.Usagef("max_retries must be 0 or more")
	}
	return r, nil
}
