// Package consume is the `deimos consume` command.
package consume

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/consume"
	"github.com/deimos-cli/deimos/pkg/envelope"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/sink"
	"github.com/deimos-cli/deimos/pkg/supervise"
)

// Options are `consume`'s flags; validate fills the parsed ones.
type Options struct {
	Topics []string       // -t, split at commas, blanks dropped (the --consumer entry's when none)
	Offset consume.Offset // -o's start
	Until  *consume.Bound // -o e@… or --until
	sinks  sinkOptions    // the database-consumer flags (sinks.go)

	cpuProfile    string
	topics        []string
	regex         bool
	partitions    []int32
	offsets       []string
	until         string
	count         int
	exitAtEnd     bool
	group         string
	readCommitted bool
	strict        bool
	output        cmdutil.Format
	template      string
	noDecode      bool
	timeout       time.Duration
	quiet         bool
	httpAddr      string
	summary       cmdutil.SummaryFlags
}

// NewCmd returns the `consume` command; runF replaces the run (tests).
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	o := &Options{}
	so := &o.sinks
	c := &cobra.Command{
		Use:   "consume -t TOPIC[,...] [-o OFFSET] [-p PARTS] [-c COUNT] [-e] [-g GROUP]",
		Short: "Consume and decode topics as JSON lines or text for people",
		Long: `Reads topics and decodes keys and values: per the topic's configuration, or
by themselves (Confluent framing through the registry, Avro container files,
JSON, text). Records that cannot be decoded are printed with an "error" field
and their raw bytes in base64, never dropped (--strict makes them fatal).

Output is JSON envelope lines when stdout is not a terminal (what
'deimos produce' reads back losslessly), text for people on a terminal;
--output raw prints value bytes; -f TEMPLATE uses kcat's tokens:
  %t topic  %p partition  %o offset  %k key  %s value  %K key size  %S value size
  %T timestamp (ms)  %h headers (k=v,...)  %H header count  \n \t  %%

Offsets (-o), in kcat's words: beginning (default), end, stored (the group's),
OFFSET, -N (the last N of each partition), s@MILLIS (first record at or after)
and e@MILLIS (stop before; -o may be given twice: -o s@T1 -o e@T2). Also
-DURATION (e.g. -1h) and rpk's start/oldest, end/newest, +N (N after the log
start), @MILLIS, @SECONDS, @YYYY-MM-DD, @RFC3339 and @-DURATION; rpk's ranges
(10:20, @T1:T2) are not taken: use --until. Table: docs/flags.md.
--until @TIME|OFFSET stops each partition there. -e exits when every
partition reaches the end offset it had at start.

Without -g no group state is read or written. With -g the group's committed
offsets win (-o applies to partitions without one) and offsets are committed
after each batch is written out. Ctrl-C stops cleanly (flush, commit, exit 0).`,
		Example: `  deimos consume -t widgets -e                       # everything, then exit
  deimos consume -t widgets -o -10 -e                 # the last 10 per partition
  deimos consume -t widgets -o -1h --until @2024-05-01T12:00:00Z
  deimos consume -t widgets -o s@1714557600000 -o e@1714561200000   # kcat's time range
  deimos consume -t 'orders\..*' --regex -g audit      # join a group, commit as printed
  deimos consume -t widgets -e -f '%p:%o %k %s\n'
  deimos consume -t widgets -e > dump.jsonl && deimos produce -f dump.jsonl -t widgets-copy`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.summary.Validate(); err != nil {
				return err
			}
			sum := cmdutil.NewSummary("consume")
			err := o.validate(time.Now())
			switch {
			case err != nil:
			case runF != nil:
				err = runF(c.Context(), o)
			default:
				err = run(c.Context(), f, o, so, sum)
			}
			return f.FinishSummary(o.summary, sum, err)
		},
	}
	fl := c.Flags()
	fl.StringArrayVarP(&o.topics, "topic", "t", nil, "topics to read: `TOPIC` or a comma list, repeatable")
	fl.BoolVar(&o.regex, "regex", false, "treat -t values as regular expressions")
	fl.Int32SliceVarP(&o.partitions, "partition", "p", nil, "partitions to read, a comma list `N,N...` (default: all)")
	fl.StringArrayVarP(&o.offsets, "offset", "o", nil, "where to start (default beginning): beginning, end, stored, `OFFSET`, -N, +N, s@MILLIS, @RFC3339, -DURATION; and e@MILLIS to stop (repeatable, as in kcat)")
	fl.StringVar(&o.until, "until", "", "stop each partition before @RFC3339 / @UNIXMILLIS or OFFSET")
	fl.IntVarP(&o.count, "count", "c", 0, "stop after COUNT records")
	fl.BoolVarP(&o.exitAtEnd, "exit", "e", false, "exit when every partition reaches its end offset taken at start")
	fl.StringVarP(&o.group, "group", "g", "", "consumer group: join it and commit what was output")
	fl.BoolVar(&o.readCommitted, "read-committed", false, "read only committed transactional records")
	fl.BoolVar(&o.strict, "strict", false, "a record that cannot be decoded is fatal (exit 1)")
	cmdutil.AddAutoOutputFlag(c, &o.output, "text (default on a terminal; pretty is an alias), json (default when piped: envelope lines) or raw (value bytes)", envelope.FormatRaw)
	fl.StringVarP(&o.template, "format", "f", "", "kcat-style output template, e.g. '%t %p %o %k %s\\n'")
	fl.BoolVar(&o.noDecode, "no-decode", false, "do not decode: keys and values as JSON text, strings or base64")
	fl.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up on an unreachable broker after this long")
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "no summary on stderr")
	cmdutil.AddProfileFlag(fl, &o.cpuProfile)
	cmdutil.AddHTTPFlag(c, &o.httpAddr, "")
	cmdutil.AddSummaryFlags(c, &o.summary)
	addSinkFlags(c, so)
	return c
}

// validate checks and parses what the flags alone can tell: topics,
// offsets, where to stop, the count.
func (o *Options) validate(now time.Time) error {
	o.Topics = nil
	for _, t := range o.topics {
		for _, t := range strings.Split(t, ",") {
			if t = strings.TrimSpace(t); t != "" {
				o.Topics = append(o.Topics, t)
			}
		}
	}
	off, until, err := consume.ParseOffsets(o.offsets, now)
	if err != nil {
		return errs.Usagef("-o: %w", err)
	}
	if o.until != "" {
		if until != nil {
			return errs.Usagef("-o e@... and --until both set where to stop: give one")
		}
		if until, err = consume.ParseUntil(o.until, now); err != nil {
			return errs.Usage(err)
		}
	}
	if o.count < 0 {
		return errs.Usagef("-c %d: use a positive count (0 or no -c: no limit)", o.count)
	}
	o.Offset, o.Until = off, until
	return nil
}

func run(ctx context.Context, f *cmdutil.Factory, o *Options, so *sinkOptions, summary *cmdutil.Summary) error {
	cmdutil.TuneGC()
	stopProfile, err := cmdutil.StartProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	ctx, stop := cmdutil.SignalContext(ctx)
	defer stop()

	clean := o.Topics
	// --consumer NAME supplies topics and group from deimos.yaml; flags win.
	cTopics, cGroup, err := consumerDefaults(cfg, so)
	if err != nil {
		return err
	}
	if len(clean) == 0 {
		clean = cTopics
	}
	if o.group == "" {
		o.group = cGroup
	}
	if len(clean) == 0 {
		return errs.Usagef("-t TOPIC is required (or --consumer NAME with topics in deimos.yaml)")
	}
	off, until := o.Offset, o.Until
	format := string(o.output)
	if format == "" {
		format = envelope.FormatJSON
		if f.IO.StdoutTTY {
			format = envelope.FormatText
		}
	}

	r, err := resolve(so.cmd, cfg, so, o.group)
	if err != nil {
		return err
	}
	var st consume.Stats
	var el time.Duration
	if o.summary.Enabled() {
		if r.Table == "" && r.Exec == "" {
			return errs.Usagef("--summary applies to consume with a sink (--sink, --exec or --consumer): printed records are their own record")
		}
		so.onSkippedRow = func(b sink.BadRow) {
			summary.Skip(map[string]any{"topic": b.Topic, "partition": b.Partition, "offset": b.Offset, "key": b.Key, "error": f.Redact(b.Err.Error())})
		}
		defer func() {
			summary.Set("records", st.Records)
			summary.Set("decode_errors", st.DecodeErrors)
			if t := so.table; t != nil {
				summary.Set("batches", t.Stats.Batches)
				summary.Set("upserted", t.Stats.Upserted)
				summary.Set("deleted", t.Stats.Deleted)
				summary.Set("bad_rows", t.Stats.BadRows)
				summary.Set("retries", t.Stats.Retries)
			}
			summary.Details = map[string]any{"topics": clean, "group": o.group, "table": r.Table, "exec": r.Exec != ""}
		}()
	}
	name := "consume"
	if so.consumer != "" {
		name = so.consumer
	}
	log := f.Logger(cfg)
	svc := f.NewService(cfg, log)
	spec := jobSpec{name: name, cfg: cfg, decode: !o.noDecode,
		opts: consume.Options{Topics: clean, Regex: o.regex, Partitions: o.partitions, Offset: off, Until: until,
			Count: o.count, ExitAtEnd: o.exitAtEnd, Group: o.group, ReadCommitted: o.readCommitted, Strict: o.strict,
			Timeout: o.timeout},
		handler: func(ctx context.Context) (consume.Handler, bool, error) {
			h, err := buildHandler(ctx, f, cfg, so, o.group)
			if err != nil || h != nil {
				return h, false, err
			}
			p, err := envelope.NewPrinter(f.IO.Out, envelope.PrinterOptions{Format: format, Template: o.template, Styles: printerStyles(f.IO)})
			if err != nil {
				return nil, false, errs.Usage(err)
			}
			return p, true, nil // the Printer writes a batch out and keeps nothing
		},
		closeHandler: so.closeOpened,
		onStats:      func(s consume.Stats, d time.Duration) { st, el = s, d },
	}
	if o.httpAddr != "" {
		spec.settings = JobSettings{Log: log, Metrics: svc.Registerer(name), LagEvery: DefaultLagEvery}
	}
	err = svc.Run(ctx, []supervise.Job{spec.job()}, cmdutil.ServiceOptions{HTTPAddr: o.httpAddr, Policy: supervise.StopAll,
		Needs: cmdutil.Needs{Kafka: true, DB: r.Table != "" || r.Checkpoint, Registry: !o.noDecode}})
	if !o.quiet && (st.Records > 0 || st.DecodeErrors > 0 || o.exitAtEnd) {
		msg := fmt.Sprintf("consumed %d record(s) in %s", st.Records, el.Round(time.Millisecond))
		if st.DecodeErrors > 0 {
			msg += ", " + strconv.FormatInt(st.DecodeErrors, 10) + " could not be decoded"
		}
		fmt.Fprintln(f.IO.ErrOut, msg)
	}
	if err != nil && ctx.Err() != nil && errs.KindOf(err) != errs.KindFailed {
		return nil
	}
	return err
}

// printerStyles are the text format's colours, from the one style set.
func printerStyles(ios *cmdutil.IOStreams) envelope.Styles {
	st := ios.Styles()
	return envelope.Styles{
		Meta: func(s string) string { return st.Meta.Render(s) },
		Key:  func(s string) string { return st.Key.Render(s) },
		Err:  func(s string) string { return st.Bad.Render(s) },
		Dim:  func(s string) string { return st.Dim.Render(s) },
	}
}
