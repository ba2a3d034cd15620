package consume

// This file belongs to the database-consumer work (table sinks, --exec
// handlers, --checkpoint). The consume command calls addSinkFlags when it
// builds its flags and buildHandler before it starts reading; a nil handler
// means "print records only".

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/checkpoint"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/consume"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/sink"
)

// sinkOptions are the flags of the database consumers.
type sinkOptions struct {
	cmd            *cobra.Command // to tell flags that were set from defaults
	consumer       string
	sink           string
	mapping        []string
	keyColumns     []string
	noCompact      bool
	skipBadRows    bool
	exec           string
	skipExitCode   int
	checkpoint     bool
	maxRetries     int
	handlerTimeout time.Duration
	passEnv        []string
	fields         checkpoint.Fields

	log    *slog.Logger // nil: the factory's
	opened []*db.DB     // what buildHandler opened; close with closeOpened
}

func (o *sinkOptions) logger(f *cmdutil.Factory, cfg *config.Config) *slog.Logger {
	if o.log != nil {
		return o.log
	}
	return f.Logger(cfg)
}

// closeOpened closes the databases buildHandler opened (a restarted job
// must not leak its pools).
func (o *sinkOptions) closeOpened() {
	for _, d := range o.opened {
		d.Close()
	}
	o.opened = nil
}

func addSinkFlags(c *cobra.Command, o *sinkOptions) {
	o.cmd = c
	fl := c.Flags()
	fl.StringVar(&o.consumer, "consumer", "", "use the settings of the consumers: entry `NAME` of deimos.yaml (sink, exec, checkpoint…); flags override them")
	fl.StringVar(&o.sink, "sink", "", "write records to a database table instead of printing: table:NAME (upsert by primary key, tombstones delete)")
	fl.StringSliceVar(&o.mapping, "map", nil, "table sink: COLUMN=FIELD takes a column's value from another payload field (repeatable)")
	fl.StringSliceVar(&o.keyColumns, "key-columns", nil, "table sink: conflict target columns (default: the primary key)")
	fl.BoolVar(&o.noCompact, "no-compact", false, "table sink: write every message in per-key order instead of only the last per key")
	fl.BoolVar(&o.skipBadRows, "skip-bad-rows", false, "table sink: log rows the database rejects (key, offset, error) and commit the batch instead of failing the run")
	fl.StringVar(&o.exec, "exec", "", "run this shell command per message (payload on stdin, metadata in the $DEIMOS_METADATA JSON file and DEIMOS_* variables)")
	fl.StringSliceVar(&o.passEnv, "pass-env", nil, "--exec: also pass this variable of deimos's environment to the handler (NAME or PREFIX*; repeatable). By default it gets only PATH, HOME, USER, LOGNAME, SHELL, LANG, LANGUAGE, LC_*, TZ, TMPDIR, TERM")
	fl.IntVar(&o.skipExitCode, "skip-exit-code", checkpoint.DefaultSkipExitCode, "--exec: the handler's exit status that means \"skipped\" (0 acknowledges, others fail)")
	fl.BoolVar(&o.checkpoint, "checkpoint", false, "--exec: store acknowledged events in phobos_db_checkpoint_events, skip already-stored payloads, record failures (needs -g)")
	fl.IntVar(&o.maxRetries, "max-retries", -1, "--exec: after this many retries record a failure and move on (-1: retry forever with back-off)")
	fl.DurationVar(&o.handlerTimeout, "handler-timeout", 0, "--exec: kill a handler run after this long, counting as a failure (0: no limit)")
	fl.StringVar(&o.fields.EntityID, "entity-id-field", "", "--checkpoint: payload field for entity_id when the handler prints no ack JSON")
	fl.StringVar(&o.fields.EventTime, "event-time-field", "", "--checkpoint: payload field for event_time")
	fl.StringVar(&o.fields.EventType, "event-type-field", "", "--checkpoint: payload field for event_type")
	fl.StringVar(&o.fields.EventVersion, "event-version-field", "", "--checkpoint: payload field for event_version")
}

// consumerDefaults returns the topics and group of the --consumer entry
// (nil, "" without --consumer); the consume command uses them when -t or -g
// are not given.
func consumerDefaults(cfg *config.Config, o *sinkOptions) ([]string, string, error) {
	if o.consumer == "" {
		return nil, "", nil
	}
	for _, c := range cfg.Consumers {
		if c.Name == o.consumer {
			return c.Topics, c.Group, nil
		}
	}
	return nil, "", errs.Usagef("--consumer %q: no such entry in consumers: of %s", o.consumer, cfgName(cfg))
}

// resolved merges a config consumer with the flags that were set.
type resolved struct {
	name       string
	table      string
	mapping    map[string]string
	keyColumns []string
	noCompact  bool
	skipBad    bool
	exec       string
	skip       int
	checkpoint bool
	maxRetries *int
	timeout    time.Duration
	passEnv    []string
	fields     checkpoint.Fields
	group      string
}

func resolve(c *cobra.Command, cfg *config.Config, o *sinkOptions, group string) (resolved, error) {
	var r resolved
	changed := func(n string) bool { return c != nil && c.Flags().Changed(n) }
	if o.consumer != "" {
		var found *config.Consumer
		for i := range cfg.Consumers {
			if cfg.Consumers[i].Name == o.consumer {
				found = &cfg.Consumers[i]
			}
		}
		if found == nil {
			return r, errs.Usagef("--consumer %q: no such entry in consumers: of %s", o.consumer, cfgName(cfg))
		}
		r.name = found.Name
		r.table, _ = strings.CutPrefix(found.Sink, "table:")
		if found.Sink != "" && !strings.HasPrefix(found.Sink, "table:") {
			return r, errs.Usagef("consumers[%s].sink: %q is not table:NAME", found.Name, found.Sink)
		}
		r.mapping = found.Mapping
		r.keyColumns = found.KeyColumns
		r.noCompact = found.Compacted != nil && !*found.Compacted
		r.skipBad = found.SkipBadRows
		r.exec = found.Exec
		r.skip = checkpoint.DefaultSkipExitCode
		if found.SkipExitCode != nil {
			r.skip = *found.SkipExitCode
		}
		r.checkpoint = found.Checkpoint
		r.maxRetries = found.MaxRetries
		r.passEnv = append(r.passEnv, found.PassEnv...)
		r.fields = checkpoint.Fields{EntityID: found.EntityIDField, EventTime: found.EventTimeField, EventType: found.EventTypeField, EventVersion: found.EventVersionFld}
		r.group = found.Group
		if group != "" && found.Group != "" && group != found.Group {
			return r, errs.Usagef("-g %s differs from consumers[%s].group %s", group, found.Name, found.Group)
		}
		if group == "" && found.Group != "" {
			return r, errs.Usagef("consumer %s: pass -g %s so offsets are committed to its group", found.Name, found.Group)
		}
	} else {
		r.skip = o.skipExitCode
	}
	if group != "" {
		r.group = group
	}
	if o.sink != "" || o.consumer == "" {
		if o.sink != "" && !strings.HasPrefix(o.sink, "table:") {
			return r, errs.Usagef("--sink %q: use table:NAME", o.sink)
		}
		if o.sink != "" {
			r.table = strings.TrimPrefix(o.sink, "table:")
		}
	}
	if len(o.mapping) > 0 {
		r.mapping = map[string]string{}
		for _, m := range o.mapping {
			col, field, ok := strings.Cut(m, "=")
			if !ok || col == "" || field == "" {
				return r, errs.Usagef("--map %q: use COLUMN=FIELD", m)
			}
			r.mapping[col] = field
		}
	}
	if changed("key-columns") || o.consumer == "" {
		r.keyColumns = o.keyColumns
	}
	if o.noCompact {
		r.noCompact = true
	}
	if o.skipBadRows {
		r.skipBad = true
	}
	if o.exec != "" {
		r.exec = o.exec
	}
	if changed("skip-exit-code") {
		r.skip = o.skipExitCode
	}
	if o.checkpoint {
		r.checkpoint = true
	}
	if o.maxRetries < -1 {
		return r, errs.Usagef("--max-retries %d: must be 0 or more (-1: retry forever)", o.maxRetries)
	}
	if changed("max-retries") || o.consumer == "" {
		if o.maxRetries >= 0 {
			n := o.maxRetries
			r.maxRetries = &n
		} else if changed("max-retries") {
			r.maxRetries = nil
		}
	}
	r.timeout = o.handlerTimeout
	r.passEnv = append(r.passEnv, o.passEnv...)
	if r.exec != "" {
		if err := (&checkpoint.Exec{Command: r.exec, PassEnv: r.passEnv}).Validate(); err != nil {
			return r, errs.Usagef("--exec: %w", err)
		}
	}
	for _, p := range []struct {
		dst *string
		v   string
	}{{&r.fields.EntityID, o.fields.EntityID}, {&r.fields.EventTime, o.fields.EventTime}, {&r.fields.EventType, o.fields.EventType}, {&r.fields.EventVersion, o.fields.EventVersion}} {
		if p.v != "" {
			*p.dst = p.v
		}
	}
	if r.table != "" {
		if err := db.ValidIdent(r.table); err != nil {
			return r, errs.Usagef("table sink: %w", err)
		}
	}
	if r.checkpoint && r.exec == "" {
		return r, errs.Usagef("--checkpoint needs a handler command (--exec CMD)")
	}
	if r.checkpoint && r.group == "" {
		return r, errs.Usagef("--checkpoint needs a consumer group (-g GROUP): events are deduplicated per group")
	}
	if r.maxRetries != nil && *r.maxRetries < 0 {
		return r, errs.Usagef("max_retries must be 0 or more")
	}
	return r, nil
}

func cfgName(cfg *config.Config) string {
	if cfg.Source != "" {
		return cfg.Source
	}
	return "the config"
}

// buildHandler returns the handler for the sink flags, or nil when none is set.
// group is the consumer group (-g), needed by checkpoints.
func buildHandler(ctx context.Context, f *cmdutil.Factory, cfg *config.Config, o *sinkOptions, group string) (consume.Handler, error) {
	r, err := resolve(o.cmd, cfg, o, group)
	if err != nil {
		return nil, err
	}
	if r.table == "" && r.exec == "" {
		return nil, nil
	}
	log := o.logger(f, cfg)
	var d *db.DB
	if r.table != "" || r.checkpoint {
		if d, err = cmdutil.OpenDBWithMySQL(ctx, cfg); err != nil {
			return nil, err
		}
		o.opened = append(o.opened, d)
	}
	var handlers []consume.Handler
	if r.table != "" {
		t, err := sink.New(ctx, d, sink.Options{Table: r.table, Mapping: r.mapping, KeyColumns: r.keyColumns, NoCompact: r.noCompact,
			SkipBadRows: r.skipBad,
			OnRetry: func(err error, attempt int, wait time.Duration) {
				log.Warn("table sink: deadlock or lock timeout, retrying the batch", "table", r.table, "attempt", attempt, "wait", wait, "error", err)
			},
			OnFallback: func(err error, rows int) {
				log.Warn("table sink: batch write failed, writing its rows one at a time", "table", r.table, "rows", rows, "error", err)
			},
			OnBadRow: func(b sink.BadRow) {
				if r.skipBad {
					log.Error("table sink: row rejected by the database, skipped (skip_bad_rows)", "table", r.table, "key", b.Key, "topic", b.Topic, "partition", b.Partition, "offset", b.Offset, "error", b.Err)
				}
			}})
		if err != nil {
			return nil, err
		}
		log.Info("table sink ready", "table", r.table, "keys", strings.Join(t.Keys(), ","), "compacted", !r.noCompact, "skip_bad_rows", r.skipBad, "db", d.URL)
		handlers = append(handlers, t)
	}
	if r.exec != "" {
		var st *checkpoint.Store
		if r.checkpoint {
			if st, err = checkpoint.NewStore(ctx, d); err != nil {
				return nil, errs.Usage(err)
			}
		}
		h, err := checkpoint.NewHandler(checkpoint.Options{
			Group: r.group, Store: st, MaxRetries: r.maxRetries, Fields: r.fields,
			Runner: &checkpoint.Exec{Command: r.exec, SkipExitCode: r.skip, Stderr: f.IO.ErrOut, Timeout: r.timeout, PassEnv: r.passEnv},
			OnEvent: func(kind string, m checkpoint.Message, err error) {
				attrs := []any{"topic", m.Topic, "partition", m.Partition, "offset", m.Offset}
				switch kind {
				case "retry":
					log.Warn("handler failed, retrying", append(attrs, "retry_count", m.RetryCount, "error", err)...)
				case "failure", "failure_exists":
					log.Error(failedWhy(err)+": recorded in "+checkpoint.FailuresTable, append(attrs, "error", err, "already_recorded", kind == "failure_exists")...)
				case "gave_up":
					log.Error(failedWhy(err)+": skipped (no --checkpoint, so no failure row)", append(attrs, "error", err)...)
				default:
					log.Debug("message "+kind, attrs...)
				}
			},
		})
		if err != nil {
			return nil, err
		}
		log.Info("handler command ready", "checkpoint", r.checkpoint, "group", r.group, "max_retries", fmtRetries(r.maxRetries))
		handlers = append(handlers, h)
	}
	if len(handlers) == 1 {
		return handlers[0], nil
	}
	return consume.HandlerFunc(func(ctx context.Context, batch []consume.Record) error {
		for _, h := range handlers {
			if err := h.Handle(ctx, batch); err != nil {
				return err
			}
		}
		return nil
	}), nil
}

// failedWhy says why a message became a failure.
func failedWhy(err error) string {
	var he *checkpoint.HandlerError
	if errors.As(err, &he) && he.Permanent {
		return "message cannot be handed to the handler (not retried)"
	}
	return "handler failed after max retries"
}

func fmtRetries(p *int) string {
	if p == nil {
		return "forever"
	}
	return fmt.Sprint(*p)
}
