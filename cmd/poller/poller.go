// Package poller is the `deimos poller` command.
package poller

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/human"
	"github.com/deimos-cli/deimos/pkg/poller"
	"github.com/deimos-cli/deimos/pkg/supervise"
)

// NewCmd returns the `poller` command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "poller",
		Short: "Publish new and changed database rows to Kafka",
		Long: `Deimos's DB poller as a binary: each poller in the config's pollers: list
publishes the new and changed rows of one table (and, optionally, deleted keys
as tombstones) to a topic, keeping its cursor in deimos_poll_info exactly as
Deimos does, so it can take over from (or hand back to) rake deimos:db_poller.`,
	}
	c.AddCommand(NewCmdRun(f, nil), NewCmdStatus(f, nil), NewCmdReset(f, nil))
	return c
}

// RunOptions are `poller run`'s flags and arguments.
type RunOptions struct {
	Names       []string // the NAME... arguments (none: every poller)
	once        bool
	metricsAddr string
	cpuProfile  string
	summary     cmdutil.SummaryFlags
}

// NewCmdRun returns `poller run`; runF replaces the run (tests).
func NewCmdRun(f *cmdutil.Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	o := &RunOptions{}
	c := &cobra.Command{
		Use:   "run [NAME...]",
		Short: "Run the configured pollers (all, or the named ones)",
		Long: `Runs every configured poller (or only the NAMEs given), one goroutine each,
until SIGINT/SIGTERM; the batch in flight is finished before exiting.
With --once each poller runs until it has caught up, then the command exits.`,
		Example: `  # run every poller in deimos.yaml until interrupted, with metrics
  deimos poller run --metrics-addr :9394

  # one catch-up pass of one poller (cron-friendly)
  deimos poller run --once WidgetProducer`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.summary.Validate(); err != nil {
				return err
			}
			o.Names = args
			sum := cmdutil.NewSummary("poller run")
			var err error
			switch {
			case o.summary.Enabled() && !o.once:
				err = errs.Usagef("--summary applies to --once runs: add --once")
			case runF != nil:
				err = runF(cmd.Context(), o)
			default:
				err = run(cmd.Context(), f, o, sum)
			}
			return f.FinishSummary(o.summary, sum, err)
		},
	}
	c.Flags().BoolVar(&o.once, "once", false, "run each poller until caught up, then exit")
	cmdutil.AddSummaryFlags(c, &o.summary)
	c.Flags().StringVar(&o.metricsAddr, "metrics-addr", "", "serve /metrics, /healthz, /readyz and /status on ADDR (e.g. :9394; same as --http-addr)")
	c.Flags().StringVar(&o.metricsAddr, "http-addr", "", "serve /metrics, /healthz, /readyz and /status on ADDR (same as --metrics-addr)")
	cmdutil.AddProfileFlag(c.Flags(), &o.cpuProfile)
	return c
}

// selected resolves the config's pollers and keeps the named ones.
func selected(cfg *config.Config, names []string) ([]poller.Settings, error) {
	all, err := poller.Resolve(cfg)
	if err != nil {
		return nil, errs.Usage(err)
	}
	if len(all) == 0 {
		return nil, errs.Usagef("no pollers configured (add a pollers: list to the config)")
	}
	if len(names) == 0 {
		return all, nil
	}
	var out []poller.Settings
	for _, n := range names {
		found := false
		for _, s := range all {
			if s.Name == n {
				out = append(out, s)
				found = true
			}
		}
		if !found {
			var known []string
			for _, s := range all {
				known = append(known, s.Name)
			}
			return nil, errs.Usagef("unknown poller %q (configured: %s)", n, strings.Join(known, ", "))
		}
	}
	return out, nil
}

func run(ctx context.Context, f *cmdutil.Factory, o *RunOptions, summary *cmdutil.Summary) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	pollers, err := selected(cfg, o.Names)
	if err != nil {
		return err
	}
	log := f.Logger(cfg)
	ctx, stop := cmdutil.SignalContext(ctx)
	defer stop()

	svc := f.NewService(cfg, log)
	js := JobSettings{Once: o.once, Log: log}
	if o.summary.Enabled() {
		runs := newRunTally(pollers)
		js.OnRun = runs.add
		defer runs.into(summary)
	}
	if o.metricsAddr != "" {
		js.Metrics = svc.Registerer
	}
	needs := cmdutil.Needs{DB: true, Registry: true}
	for _, s := range pollers {
		needs.Kafka = needs.Kafka || s.Backend == "kafka"
	}
	// Daemon: a poller that cannot run stops the others (exit non-zero);
	// --once: each poller catches up, the first failure is the exit code.
	policy := supervise.StopAll
	if o.once {
		policy = supervise.Continue
	}
	cmdutil.TuneGC() // batch after batch of short-lived rows and records
	stopProfile, err := cmdutil.StartProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	return svc.Run(ctx, Jobs(cfg, pollers, js), cmdutil.ServiceOptions{HTTPAddr: o.metricsAddr, AddrFlag: "--metrics-addr",
		Policy: policy, Needs: needs})
}

// StatusOptions are `poller status`'s flags and arguments.
type StatusOptions struct {
	Names  []string
	output cmdutil.Format
}

// NewCmdStatus returns `poller status`; runF replaces the run (tests).
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	o := &StatusOptions{}
	c := &cobra.Command{
		Use:   "status [NAME...]",
		Short: "Show each poller's cursor, lag, pending rows, last run and errors",
		Example: `  deimos poller status
  deimos poller status --output json WidgetProducer`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			pollers, err := selected(cfg, o.Names)
			if err != nil {
				return err
			}
			d, err := cmdutil.OpenDB(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer d.Close()
			sts, err := poller.GetStatus(cmd.Context(), d, pollers)
			if err != nil {
				return err
			}
			if o.output.JSON() {
				return cmdutil.WriteJSON(f.IO, sts)
			}
			return renderTable(f.IO, sts)
		},
	}
	cmdutil.AddOutputFlag(c, &o.output)
	return c
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000000")
}

func renderTable(ios *cmdutil.IOStreams, sts []poller.Status) error {
	t := cmdutil.NewTable(ios, "POLLER", "TABLE", "TOPIC", "MODE", "LAST_SENT", "LAST_ID", "NEWEST", "LAG", "PENDING", "LAST_RUN", "ERRORED", "LAST_ERROR")
	line := func(s poller.Status) {
		lastErr := s.LastError
		if s.Err != "" {
			lastErr = "status: " + s.Err
		}
		if len(lastErr) > 80 {
			lastErr = lastErr[:77] + "..."
		}
		lastSent, lag := fmtTime(s.LastSent), human.Seconds(s.LagSeconds)
		if s.LastSent == nil {
			lastSent, lag = "beginning", "never" // nothing published yet: no lag to measure
		}
		t.Row(s.Name, s.Table, s.Topic, s.Mode, lastSent, s.LastSentID, fmtTime(s.Newest), lag, s.Pending, fmtTime(s.LastRunAt), s.ErroredBatches, lastErr)
	}
	for _, s := range sts {
		line(s)
		if s.Deletions != nil {
			line(*s.Deletions)
		}
	}
	return t.Flush()
}

// ResetOptions are `poller reset`'s: the poller (NAME or NAME:deletions)
// and the time its cursor moves to (zero: the beginning).
type ResetOptions struct {
	Name string
	To   time.Time
	to   string
}

// NewCmdReset returns `poller reset`; runF replaces the run (tests).
func NewCmdReset(f *cmdutil.Factory, runF func(context.Context, *ResetOptions) error) *cobra.Command {
	o := &ResetOptions{}
	c := &cobra.Command{
		Use:   "reset NAME [--to TIME]",
		Short: "Move a poller's cursor (to the beginning, or to TIME)",
		Long: `Sets the deimos_poll_info cursor of poller NAME (or NAME:deletions) so the next
run publishes every row stamped at or after TIME (default: from the beginning).
TIME is RFC 3339, "YYYY-MM-DD[ HH:MM:SS]" (UTC), -DURATION (e.g. -2h), now or beginning.
Stop running pollers first: a running poller would overwrite the cursor.`,
		Example: `  deimos poller reset WidgetProducer
  deimos poller reset WidgetProducer --to 2024-05-01T00:00:00Z
  deimos poller reset WidgetProducer:deletions --to -1h`,
		Args: cmdutil.ExactArgs(1, "one poller name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			t, err := poller.ParseTime(o.to, time.Now())
			if err != nil {
				return errs.Usagef("--to: %w", err)
			}
			o.To = t
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			name := o.Name
			base := strings.TrimSuffix(name, ":deletions")
			ss, err := selected(cfg, []string{base})
			if err != nil {
				return err
			}
			if base != name && ss[0].Deletions == nil {
				return errs.Usagef("poller %s has no deletions configured", base)
			}
			d, err := cmdutil.OpenDB(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer d.Close()
			if _, err := poller.Reset(cmd.Context(), d, name, o.To); err != nil {
				return err
			}
			where := "the beginning"
			if !o.To.IsZero() {
				where = o.To.Format(time.RFC3339Nano)
			}
			fmt.Fprintf(f.IO.ErrOut, "poller %s: cursor reset to %s\n", name, where)
			return nil
		},
	}
	c.Flags().StringVar(&o.to, "to", "", "TIME to restart from (default: the beginning)")
	return c
}
