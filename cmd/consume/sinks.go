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
	// table is the table sink buildHandler built (its Stats feed --summary);
	// onSkippedRow hears each row skipped under skip_bad_rows.
	table        *sink.Table
	onSkippedRow func(sink.BadRow)
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
	fl.StringSliceVar(&o.mapping, "map", nil, "table sink: `COLUMN=FIELD` takes a column's value from another payload field (repeatable)")
	fl.StringSliceVar(&o.keyColumns, "key-columns", nil, "table sink: conflict target `COLUMNS` (comma list; default: the primary key)")
	fl.BoolVar(&o.noCompact, "no-compact", false, "table sink: write every message in per-key order instead of only the last per key")
	fl.BoolVar(&o.skipBadRows, "skip-bad-rows", false, "table sink: log rows the database rejects (key, offset, error) and commit the batch instead of failing the run")
	fl.StringVar(&o.exec, "exec", "", "run this shell command per message (payload on stdin, metadata in the $DEIMOS_METADATA JSON file and DEIMOS_* variables)")
	fl.StringSliceVar(&o.passEnv, "pass-env", nil, "--exec: also pass this variable of deimos's environment to the handler (`NAME` or PREFIX*; repeatable). By default it gets only PATH, HOME, USER, LOGNAME, SHELL, LANG, LANGUAGE, LC_*, TZ, TMPDIR, TERM")
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
	c, err := cfg.ConsumerNamed(o.consumer)
	if err != nil {
		return nil, "", err
	}
	return c.Topics, c.Group, nil
}

// flags are the sink flags as config.ResolveConsumer takes them; c (nil
// for a job from the config) tells which were given.
func (o *sinkOptions) flags(c *cobra.Command, group string) config.ConsumerFlags {
	changed := func(n string) bool { return c != nil && c.Flags().Changed(n) }
	return config.ConsumerFlags{Consumer: o.consumer, Group: group, Sink: o.sink, Mapping: o.mapping,
		KeyColumns: o.keyColumns, KeyColumnsSet: changed("key-columns"), NoCompact: o.noCompact, SkipBadRows: o.skipBadRows,
		Exec: o.exec, SkipExitCode: o.skipExitCode, SkipExitCodeSet: changed("skip-exit-code"), Checkpoint: o.checkpoint,
		MaxRetries: o.maxRetries, MaxRetriesSet: changed("max-retries"), HandlerTimeout: o.handlerTimeout, PassEnv: o.passEnv,
		Fields: config.ConsumerFields(o.fields)}
}

// consumerChecks are the engines' checks of a resolved consumer.
var consumerChecks = config.ConsumerChecks{
	Exec: func(command string, passEnv []string) error {
		return (&checkpoint.Exec{Command: command, PassEnv: passEnv}).Validate()
	},
	Table: db.ValidIdent,
}

// resolve merges the --consumer entry with the flags that were set
// (config.ResolveConsumer).
func resolve(c *cobra.Command, cfg *config.Config, o *sinkOptions, group string) (config.ResolvedConsumer, error) {
	return config.ResolveConsumer(cfg, o.flags(c, group), consumerChecks)
}

// buildHandler returns the handler for the sink flags, or nil when none is set.
// group is the consumer group (-g), needed by checkpoints.
func buildHandler(ctx context.Context, f *cmdutil.Factory, cfg *config.Config, o *sinkOptions, group string) (consume.Handler, error) {
	r, err := resolve(o.cmd, cfg, o, group)
	if err != nil {
		return nil, err
	}
	if r.Table == "" && r.Exec == "" {
		return nil, nil
	}
	log := o.logger(f, cfg)
	var d *db.DB
	if r.Table != "" || r.Checkpoint {
		if d, err = cmdutil.OpenDB(ctx, cfg); err != nil {
			return nil, err
		}
		o.opened = append(o.opened, d)
	}
	var handlers []consume.Handler
	if r.Table != "" {
		t, err := sink.New(ctx, d, sink.Options{Table: r.Table, Mapping: r.Mapping, KeyColumns: r.KeyColumns, NoCompact: r.NoCompact,
			SkipBadRows: r.SkipBadRows,
			OnRetry: func(err error, attempt int, wait time.Duration) {
				log.Warn("table sink: deadlock or lock timeout, retrying the batch", "table", r.Table, "attempt", attempt, "wait", wait, "error", err)
			},
			OnFallback: func(err error, rows int) {
				log.Warn("table sink: batch write failed, writing its rows one at a time", "table", r.Table, "rows", rows, "error", err)
			},
			OnBadRow: func(b sink.BadRow) {
				if r.SkipBadRows {
					log.Error("table sink: row rejected by the database, skipped (skip_bad_rows)", "table", r.Table, "key", b.Key, "topic", b.Topic, "partition", b.Partition, "offset", b.Offset, "error", b.Err)
					if o.onSkippedRow != nil {
						o.onSkippedRow(b)
					}
				}
			}})
		if err != nil {
			return nil, err
		}
		log.Info("table sink ready", "table", r.Table, "keys", strings.Join(t.Keys(), ","), "compacted", !r.NoCompact, "skip_bad_rows", r.SkipBadRows, "db", d.URL)
		handlers = append(handlers, t)
		o.table = t
	}
	if r.Exec != "" {
		var st *checkpoint.Store
		if r.Checkpoint {
			if st, err = checkpoint.NewStore(ctx, d); err != nil {
				return nil, errs.Usage(err)
			}
		}
		h, err := checkpoint.NewHandler(checkpoint.Options{
			Group: r.Group, Store: st, MaxRetries: r.MaxRetries, Fields: checkpoint.Fields(r.Fields),
			Runner: &checkpoint.Exec{Command: r.Exec, SkipExitCode: r.SkipExitCode, Stderr: f.IO.ErrOut, Timeout: r.Timeout, PassEnv: r.PassEnv},
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
		log.Info("handler command ready", "checkpoint", r.Checkpoint, "group", r.Group, "max_retries", fmtRetries(r.MaxRetries))
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
