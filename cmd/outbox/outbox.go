// Package outbox is the `deimos outbox` command.
package outbox

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/human"
	"github.com/deimos-cli/deimos/pkg/outbox"
	"github.com/deimos-cli/deimos/pkg/supervise"
)

// NewCmd returns the `outbox` command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "outbox",
		Short: "Relay Deimos's kafka_messages outbox table into Kafka",
		Long: `Relay the rows Deimos's outbox backend (producers.backend :outbox / :db) writes
into kafka_messages to Kafka, with Deimos's lock protocol on kafka_topic_info:
Ruby 'rake deimos:outbox' workers and deimos relays can share one table.`,
	}
	c.AddCommand(NewCmdRun(f, nil), NewCmdStatus(f, nil), newDeadLettersCmd(f))
	return c
}

// RunOptions are `outbox run`'s flags; Flags holds the ones given, laid
// over the config's outbox: by config.Outbox.WithFlags.
type RunOptions struct {
	Flags config.OutboxFlags

	once            bool
	workers         int
	batchSize       int
	compact         string
	metricsAddr     string
	deliveryTimeout time.Duration
	cpuProfile      string
	failOnLocked    bool
	output          cmdutil.Format
	summary         cmdutil.SummaryFlags
}

// NewCmdRun returns `outbox run`; runF replaces the relay (tests).
func NewCmdRun(f *cmdutil.Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	o := &RunOptions{}
	c := &cobra.Command{
		Use:   "run [--once] [--workers N] [--batch-size N] [--compact-topics LIST|all] [--metrics-addr ADDR]",
		Short: "Send kafka_messages rows to Kafka and delete them (daemon, or --once)",
		Long: `Send the rows of kafka_messages to Kafka exactly as Deimos's outbox producer
does: per topic in id order, in batches (default 1000), keeping the last
message per key on compacted topics, bytes verbatim (NULL message = tombstone),
partitioned by CRC32 of partition_key (else key); rows are deleted only after
Kafka acknowledged them (at-least-once).

Topics are locked through kafka_topic_info (60 s stale window), so any number
of processes and --workers may run, Ruby ones included. Kafka errors are
retried with capped exponential back-off while the lock is heartbeated. A
message Kafka rejects as too large is moved to deimos_dead_letters with the
error text (run 'deimos migrate up --only deadletter').

Without --once it runs until SIGINT/SIGTERM, which finish the in-flight batch
and release the locks (exit 0). With --once it drains until every topic is
empty or locked elsewhere, then prints a summary (--output json for scripts)
naming each topic whose rows wait behind another relay's lock (or an error
rest), with its pending count and lock age, and exits: 1 if a topic errored;
with --fail-on-locked, 4 if any topic was left waiting (a distinct code, so a
cron job can tell rows held by another relay from a failure).`,
		Example: `  deimos outbox run --db postgres://app@db/app -b kafka:9092   # [needs PostgreSQL]
  deimos outbox run --once --workers 4 --compact-topics all
  deimos outbox run --once --fail-on-locked -o json   # cron: exit 4 when rows wait behind a lock
  deimos outbox run --metrics-addr :9394      # Prometheus /metrics, /healthz, /readyz, /status`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.summary.Validate(); err != nil {
				return err
			}
			sum := cmdutil.NewSummary("outbox run")
			err := o.parse(c.Flags())
			switch {
			case err != nil:
			case runF != nil:
				err = runF(c.Context(), o)
			default:
				err = runRelay(c.Context(), f, o, sum)
			}
			return f.FinishSummary(o.summary, sum, err)
		},
	}
	fl := c.Flags()
	fl.BoolVar(&o.once, "once", false, "drain the table, then exit")
	fl.IntVar(&o.workers, "workers", 0, "worker goroutines, each with its own lock id (default outbox.workers or 1)")
	fl.IntVar(&o.batchSize, "batch-size", 0, "rows per batch (default outbox.batch_size or 1000)")
	fl.StringVar(&o.compact, "compact-topics", "", "topics to compact: a comma-separated list, or all (default outbox.compact_topics)")
	fl.StringVar(&o.metricsAddr, "metrics-addr", "", "serve /metrics, /healthz, /readyz and /status on ADDR (default outbox.metrics_addr; same as --http-addr)")
	fl.StringVar(&o.metricsAddr, "http-addr", "", "serve /metrics, /healthz, /readyz and /status on ADDR (same as --metrics-addr)")
	fl.DurationVar(&o.deliveryTimeout, "delivery-timeout", 30*time.Second, "how long one send attempt may take before it is retried (when not given: outbox.delivery_timeout, else 30s)")
	fl.BoolVar(&o.failOnLocked, "fail-on-locked", false, "with --once: exit 4 when rows were left waiting behind another relay's lock or an error rest")
	cmdutil.AddOutputFlag(c, &o.output)
	cmdutil.AddSummaryFlags(c, &o.summary)
	cmdutil.AddProfileFlag(fl, &o.cpuProfile)
	return c
}

// parse checks the flags that need --once and records which of the
// outbox: settings the flags override (Flags).
func (o *RunOptions) parse(fl *pflag.FlagSet) error {
	if !o.once && (o.failOnLocked || fl.Changed("output") || o.summary.Enabled()) {
		return errs.Usagef("--fail-on-locked, --output and --summary apply to the --once summary: add --once")
	}
	o.Flags = config.OutboxFlags{DeliveryTimeout: o.deliveryTimeout, DeliveryTimeoutSet: fl.Changed("delivery-timeout")}
	if fl.Changed("workers") {
		o.Flags.Workers = &o.workers
	}
	if fl.Changed("batch-size") {
		o.Flags.BatchSize = &o.batchSize
	}
	if fl.Changed("compact-topics") {
		o.Flags.CompactTopics = &o.compact
	}
	if fl.Changed("metrics-addr") || fl.Changed("http-addr") {
		o.Flags.MetricsAddr = &o.metricsAddr
	}
	return nil
}

func runRelay(ctx context.Context, f *cmdutil.Factory, o *RunOptions, summary *cmdutil.Summary) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	oc, err := cfg.Outbox.WithFlags(o.Flags)
	if err != nil {
		return err
	}
	log := f.Logger(cfg).With("component", "outbox")
	ctx, stop := cmdutil.SignalContext(ctx)
	defer stop()

	svc := f.NewService(cfg, log)
	rs := RelaySettings{Outbox: oc, Once: o.once, Log: log}
	if oc.MetricsAddr != "" {
		rs.Metrics = svc.Registerer(JobName)
	}
	var sum outbox.Summary
	var el time.Duration
	ran := false
	rs.OnSummary = func(s outbox.Summary, d time.Duration) { sum, el, ran = s, d, true }
	// A worker keeps about half a core busy (fetching while the previous
	// batch is sent): one processor per two workers. More only wake idle
	// threads at every network read (scripts/bench/outbox.sh: 1 worker on
	// 2 cores, 9.4 CPU-s per million rows with 2, 7.1 with 1).
	cmdutil.LimitProcs((oc.Workers + 1) / 2)
	stopProfile, err := cmdutil.StartProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	err = svc.Run(ctx, []supervise.Job{RelayJob(cfg, rs)}, cmdutil.ServiceOptions{
		HTTPAddr: oc.MetricsAddr, AddrFlag: "--metrics-addr", Policy: supervise.StopAll,
		Needs: cmdutil.Needs{DB: true, Kafka: true}})
	if o.once && ran {
		summary.Set("processed", sum.Processed)
		summary.Set("published", sum.Published)
		summary.Set("dead_lettered", sum.DeadLettered)
		summary.Set("failed_topics", int64(len(sum.FailedTopics)))
		for _, l := range sum.Locked {
			summary.Lock(l)
		}
		if werr := writeSummary(f, o.output, sum, el); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	if o.once && o.failOnLocked && len(sum.Locked) > 0 {
		parts := make([]string, len(sum.Locked))
		for i, l := range sum.Locked {
			parts[i] = l.String()
		}
		return errs.Waitingf("outbox: %d topic(s) left waiting behind another relay's lock or an error rest (--fail-on-locked): %s", len(parts), strings.Join(parts, "; "))
	}
	return nil
}

// runSummary is the --once summary as JSON.
type runSummary struct {
	outbox.Summary
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_second"`
}

// writeSummary prints what a --once run did: one line, then one line per
// topic left waiting behind another relay's lock; or one JSON document.
func writeSummary(f *cmdutil.Factory, format cmdutil.Format, sum outbox.Summary, el time.Duration) error {
	rate := 0.0
	if el > 0 {
		rate = float64(sum.Processed) / el.Seconds()
	}
	if format.JSON() {
		return cmdutil.WriteJSON(f.IO, runSummary{Summary: sum, Seconds: el.Seconds(), RowsPerSec: rate})
	}
	fmt.Fprintf(f.IO.Out, "processed %d rows, published %d, dead-lettered %d in %.2fs (%.0f rows/s)\n", sum.Processed, sum.Published, sum.DeadLettered, el.Seconds(), rate)
	for _, l := range sum.Locked {
		fmt.Fprintf(f.IO.Out, "left waiting: %s\n", l)
	}
	return nil
}

// StatusOptions are `outbox status`'s flags.
type StatusOptions struct{ output cmdutil.Format }

// NewCmdStatus returns `outbox status`; runF replaces the run (tests).
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	o := &StatusOptions{}
	c := &cobra.Command{
		Use:   "status [--output json]",
		Short: "Show pending rows, oldest age, lock holder and error state per topic",
		Example: `  deimos outbox status --db postgres://app@db/app   # [needs PostgreSQL]
  deimos outbox status --output json | jq '.[] | select(.error)'`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			d, err := cmdutil.OpenDB(c.Context(), cfg)
			if err != nil {
				return err
			}
			defer d.Close()
			sts, err := outbox.Status(c.Context(), d, time.Now())
			if err != nil {
				return errs.Failedf("outbox status: %w", err)
			}
			if o.output.JSON() {
				if sts == nil {
					sts = []outbox.TopicStatus{}
				}
				return cmdutil.WriteJSON(f.IO, sts)
			}
			return renderStatus(f.IO, sts)
		},
	}
	cmdutil.AddOutputFlag(c, &o.output)
	return c
}

func age(sec float64) string {
	if sec <= 0 {
		return "-"
	}
	return human.Seconds(sec)
}

// renderStatus prints one row per topic; an errored topic and a topic with
// dead letters show in red on a terminal.
func renderStatus(ios *cmdutil.IOStreams, sts []outbox.TopicStatus) error {
	if len(sts) == 0 {
		fmt.Fprintln(ios.ErrOut, "outbox: no topics (kafka_messages and kafka_topic_info are empty)")
		return nil
	}
	t := cmdutil.NewTable(ios, "TOPIC", "PENDING", "OLDEST", "MAX WAIT", "LOCKED BY", "LOCKED AT", "ERROR", "RETRIES", "DEAD LETTERS")
	for _, s := range sts {
		lockedAt := "-"
		if s.LockedAt != nil {
			lockedAt = s.LockedAt.Format("2006-01-02 15:04:05")
		}
		var e any = "no"
		if s.Error {
			e = cmdutil.Bad("yes")
		}
		var dead any = s.DeadLetters
		if s.DeadLetters != 0 {
			dead = cmdutil.Bad(fmt.Sprint(s.DeadLetters))
		}
		t.Row(s.Topic, s.Pending, age(s.OldestAgeSeconds), age(s.MaxWaitSeconds), s.LockedBy, lockedAt, e, s.Retries, dead)
	}
	return t.Flush()
}
