// Package start is the `deimos start` command: every configured job in
// one supervised process.
package start

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/cmd/consume"
	"github.com/deimos-cli/deimos/cmd/outbox"
	cmdpoller "github.com/deimos-cli/deimos/cmd/poller"
	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/poller"
	"github.com/deimos-cli/deimos/pkg/supervise"
)

// Kinds of job, as --only names them.
const (
	KindConsumers = "consumers"
	KindPollers   = "pollers"
	KindOutbox    = "outbox"
)

// DefaultHTTPAddr is where start serves unless told otherwise: loopback only.
const DefaultHTTPAddr = "127.0.0.1:9394"

// Options are `start`'s flags and arguments.
type Options struct {
	Names       []string // the NAME... arguments
	only        []string
	list        bool
	httpAddr    string
	failFast    bool
	wedgedAfter time.Duration
	backoff     time.Duration
	maxBackoff  time.Duration
	lagEvery    time.Duration
	output      cmdutil.Format
}

// NewCmd returns the `start` command; runF replaces the run (tests).
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	o := &Options{}
	c := &cobra.Command{
		Use:   "start [--only consumers|pollers|outbox] [NAME...] [--list] [--http-addr ADDR]",
		Short: "Run every configured job (consumers, pollers, outbox relay) in one supervised process",
		Long: `Runs every job deimos.yaml configures, in one process: each consumers: entry
(table sink, --exec handler, checkpoints, in its group), each pollers: entry,
and the outbox relay when the config has an outbox: section. --only selects
kinds, NAMEs select jobs; --list prints what would run and exits.

A job that fails is restarted after a back-off that doubles from
--restart-backoff up to --restart-backoff-max, logged with its name;
--fail-fast stops everything and exits non-zero instead. SIGTERM or SIGINT
stops every job the way its own command stops: the batch in flight is
finished and committed, locks are released. The exit code is 0 only when
every job was running when the stop came.

One HTTP server (--http-addr, loopback by default) serves /metrics (every
job's series, labelled deimos_job), /healthz (503 when a job is wedged: busy
without progress for --wedged-after), /readyz (503 until the database,
brokers and registry answer and every job has started) and /status (JSON:
each job's state, last error, lag, last progress). Under systemd
(Type=notify) it sends READY=1, WATCHDOG=1 while healthy and STOPPING=1.`,
		Example: `  deimos start                              # everything in deimos.yaml
  deimos start --list                       # what would run
  deimos start --only consumers,pollers     # not the outbox relay
  deimos start WidgetSink WidgetProducer    # two jobs by name
  deimos start --http-addr 0.0.0.0:9394     # let Prometheus on another host scrape
  curl -s localhost:9394/status | jq '.jobs[] | {name, state, lag}'   # [needs deimos start running]`,
		RunE: func(c *cobra.Command, args []string) error {
			o.Names = args
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return run(c.Context(), f, o)
		},
	}
	fl := c.Flags()
	fl.StringSliceVar(&o.only, "only", nil, "run only these `KINDS` of job: consumers, pollers, outbox (comma list)")
	fl.BoolVar(&o.list, "list", false, "print the jobs that would run, then exit")
	cmdutil.AddHTTPFlag(c, &o.httpAddr, DefaultHTTPAddr)
	fl.BoolVar(&o.failFast, "fail-fast", false, "a failing job stops every job (exit non-zero) instead of being restarted")
	fl.DurationVar(&o.wedgedAfter, "wedged-after", 5*time.Minute, "a job busy this long without progress is wedged (/healthz 503)")
	fl.DurationVar(&o.backoff, "restart-backoff", time.Second, "first delay before a failed job is restarted (doubles each time)")
	fl.DurationVar(&o.maxBackoff, "restart-backoff-max", time.Minute, "longest delay before a restart")
	fl.DurationVar(&o.lagEvery, "lag-interval", consume.DefaultLagEvery, "how often consumer lag is read (deimos_consumer_lag)")
	cmdutil.AddOutputFlag(c, &o.output)
	_ = c.RegisterFlagCompletionFunc("only", cobra.FixedCompletions([]string{KindConsumers, KindPollers, KindOutbox}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// planned is one job that would run.
type planned struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // consumer, poller, outbox
	What string `json:"what"`

	consumer *config.Consumer
	poller   *poller.Settings
}

// validate checks what the flags alone can tell: the --only words, and
// (unless --list) the durations.
func (o *Options) validate() error {
	if _, err := kindsOf(o.only); err != nil {
		return err
	}
	if !o.list && (o.wedgedAfter <= 0 || o.backoff <= 0 || o.maxBackoff <= 0 || o.lagEvery <= 0) {
		return errs.Usagef("--wedged-after, --restart-backoff, --restart-backoff-max and --lag-interval must be positive")
	}
	return nil
}

// kindsOf reads --only: the kinds of job selected (none: all).
func kindsOf(only []string) (map[string]bool, error) {
	kinds := map[string]bool{}
	for _, k := range only {
		switch k = strings.TrimSpace(k); k {
		case KindConsumers, KindPollers, KindOutbox:
			kinds[k] = true
		case "consumer", "poller":
			kinds[k+"s"] = true
		default:
			return nil, errs.Usagef("--only %q: use consumers, pollers or outbox", k)
		}
	}
	return kinds, nil
}

// plan lists the configured jobs, filtered by --only and names.
func plan(cfg *config.Config, only, names []string) ([]planned, error) {
	kinds, err := kindsOf(only)
	if err != nil {
		return nil, err
	}
	want := func(k string) bool { return len(kinds) == 0 || kinds[k] }
	var all []planned
	for i := range cfg.Consumers {
		c := &cfg.Consumers[i]
		what := strings.Join(c.Topics, ",") + " → "
		var to []string
		if c.Sink != "" {
			to = append(to, c.Sink)
		}
		if c.Exec != "" {
			to = append(to, "exec")
		}
		if c.Checkpoint {
			to = append(to, "checkpoints")
		}
		what += strings.Join(to, " + ") + " (group " + c.Group + ")"
		all = append(all, planned{Name: c.Name, Kind: "consumer", What: what, consumer: c})
	}
	ps, err := poller.Resolve(cfg)
	if err != nil {
		return nil, errs.Usage(err)
	}
	for i := range ps {
		p := &ps[i]
		all = append(all, planned{Name: p.Name, Kind: "poller", What: fmt.Sprintf("table %s → %s (%s, backend %s)", p.Table, p.Topic, p.Mode, p.Backend), poller: p})
	}
	if cfg.Outbox.Configured {
		all = append(all, planned{Name: outbox.JobName, Kind: "outbox", What: fmt.Sprintf("kafka_messages → Kafka (%d worker(s), batch %d)", cfg.Outbox.Workers, cfg.Outbox.BatchSize)})
	}
	seen := map[string]string{}
	for _, p := range all {
		if k, dup := seen[p.Name]; dup {
			return nil, errs.Usagef("job name %q is used by a %s and a %s: give them different names", p.Name, k, p.Kind)
		}
		seen[p.Name] = p.Kind
	}
	var out []planned
	for _, p := range all {
		if want(group(p.Kind)) {
			out = append(out, p)
		}
	}
	if len(names) > 0 {
		byName := map[string]planned{}
		for _, p := range out {
			byName[p.Name] = p
		}
		var sel []planned
		for _, n := range names {
			p, ok := byName[n]
			if !ok {
				known := make([]string, 0, len(out))
				for _, p := range out {
					known = append(known, p.Name)
				}
				sort.Strings(known)
				if _, other := seen[n]; other {
					return nil, errs.Usagef("job %q is a %s, not selected by --only %s", n, seen[n], strings.Join(only, ","))
				}
				return nil, errs.Usagef("unknown job %q (configured: %s)", n, strings.Join(known, ", "))
			}
			sel = append(sel, p)
			delete(byName, n)
		}
		out = sel
	}
	if len(out) == 0 {
		if len(kinds) > 0 {
			return nil, errs.Usagef("nothing to run: the config has no jobs of the kinds --only selects (%s)", strings.Join(only, ","))
		}
		return nil, errs.Usagef("nothing to run: the config has no consumers:, pollers: or outbox: section")
	}
	return out, nil
}

// group is the --only word for a job kind.
func group(kind string) string {
	if kind == "outbox" {
		return KindOutbox
	}
	return kind + "s"
}

func run(ctx context.Context, f *cmdutil.Factory, o *Options) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	jobs, err := plan(cfg, o.only, o.Names)
	if err != nil {
		return err
	}
	if o.list {
		if o.output.JSON() {
			return cmdutil.WriteJSON(f.IO, jobs)
		}
		t := cmdutil.NewTable(f.IO, "NAME", "KIND", "WHAT")
		for _, j := range jobs {
			t.Row(j.Name, j.Kind, j.What)
		}
		return t.Flush()
	}
	log := f.Logger(cfg)
	ctx, stop := cmdutil.SignalContext(ctx)
	defer stop()
	svc := f.NewService(cfg, log)
	needs := cmdutil.Needs{Kafka: true}
	var sjobs []supervise.Job
	for _, j := range jobs {
		jl := log.With("job", j.Name)
		switch j.Kind {
		case "consumer":
			job, err := consume.ConfigJob(f, cfg, *j.consumer, consume.JobSettings{Log: jl, Metrics: svc.Registerer(j.Name), LagEvery: o.lagEvery})
			if err != nil {
				return err
			}
			sjobs = append(sjobs, job)
			needs.DB = needs.DB || consume.NeedsDB(*j.consumer)
			needs.Registry = true
		case "poller":
			sjobs = append(sjobs, cmdpoller.Jobs(cfg, []poller.Settings{*j.poller}, cmdpoller.JobSettings{Log: jl, Metrics: svc.Registerer})...)
			needs.DB, needs.Registry = true, true
		case "outbox":
			sjobs = append(sjobs, outbox.RelayJob(cfg, outbox.RelaySettings{Outbox: cfg.Outbox, Log: jl, Metrics: svc.Registerer(outbox.JobName)}))
			needs.DB = true
		}
	}
	policy := supervise.Restart
	if o.failFast {
		policy = supervise.StopAll
	}
	running := make([]string, len(sjobs))
	for i, j := range sjobs {
		running[i] = j.Name
	}
	log.Info("starting jobs", "jobs", strings.Join(running, ","), "fail_fast", o.failFast)
	err = svc.Run(ctx, sjobs, cmdutil.ServiceOptions{HTTPAddr: o.httpAddr, Policy: policy,
		Backoff: o.backoff, MaxBackoff: o.maxBackoff, WedgedAfter: o.wedgedAfter, Needs: needs})
	if err == nil {
		log.Info("all jobs stopped")
	}
	return err
}
