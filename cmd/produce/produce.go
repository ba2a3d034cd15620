// Package produce is the `deimos produce` command.
package produce

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/kafkaclient"
	"github.com/deimos-cli/deimos/pkg/produce"
	"github.com/deimos-cli/deimos/pkg/registry"
)

// Options are `produce`'s flags; validate fills the parsed ones (Key,
// Headers).
type Options struct {
	Key     *string          // -k, when given (an empty key is a key)
	Headers []produce.Header // -H, parsed

	summary                            cmdutil.SummaryFlags
	cpuProfile                         string
	topic, key, keyDelim, file, input  string
	headers                            []string
	partition                          int32
	tombstone, dryRun, ignorePartition bool
	backend                            string
	schema, namespace, schemaBackend   string
	keyConfig                          string
	compression, acks, partitioner     string
	linger, timeout                    time.Duration
	batchSize, maxBuffered             int
	noIdempotence, quiet, normalize    bool
	keepGoing, noSchemaID              bool
	progressMin                        int64
}

// progressMinBytes is the input size from which a progress bar is drawn on a
// terminal stderr (-f FILE only; -q turns it off).
const progressMinBytes = 8 << 20

// NewCmd returns the `produce` command; runF replaces the run (tests).
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	o := &Options{}
	c := &cobra.Command{
		Use:   "produce -t TOPIC [-k KEY] [-K DELIM] [-H K=V]... [-p PART] [-f FILE]",
		Short: "Produce schema-encoded messages from JSON lines",
		Long: `Reads JSON lines (one payload per line), KEY<DELIM>VALUE lines (-K), or the
envelope lines that 'deimos consume --output json' writes, encodes each message
per the topic's configuration (or --schema/--namespace/--schema-backend/--key-config)
and sends it.

Sending is pipelined and batched; only messages the broker acknowledged are
counted as sent. A summary goes to stderr. Any undelivered message is reported
with its input line number and makes the exit code 1; an unreachable broker or
an unknown topic exits 3.

A line that cannot be read or encoded stops produce there (lines before it
are sent); with --keep-going it is reported ("line N: ...") and skipped, the
rest is sent, and the exit code is 1 with the skipped lines named.

Envelope input (auto-detected, or --input envelope) keeps key, value, headers,
partition and timestamp exactly, so 'deimos consume -e --output json | deimos produce'
copies a topic losslessly. A key or value that carries key_schema_id or
value_schema_id (consume writes them for what it decoded through the registry)
is encoded again with that registry schema and id, so the copy has the bytes of
the source when the registry is the same, whether or not the target topic is
configured; --schema, --schema-backend, --namespace, --key-config or
--no-schema-id encode per the topic (or those flags) instead.

With --backend outbox the encoded rows go into the kafka_messages table in one
transaction, for 'deimos outbox run' (or Ruby Deimos) to send.`,
		Example: `  echo '{"id":1,"name":"w","price":2.5}' | deimos produce -t widgets
  deimos produce -t widgets -f widgets.jsonl --schema Widget --namespace com.acme --key-config field:id
  printf '1\t{"id":1,"name":"w","price":2.5}\n' | deimos produce -t widgets -K '\t' -H source=cli
  echo '' | deimos produce -t widgets -k 42 -Z            # tombstone for key 42
  deimos consume -t widgets -e --output json | deimos produce -t widgets-copy
  deimos produce -t widgets -f rows.jsonl --backend outbox   # into kafka_messages (--db, DEIMOS_DB or database.url)
  deimos produce -t widgets -f rows.jsonl --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.summary.Validate(); err != nil {
				return err
			}
			sum := cmdutil.NewSummary("produce")
			err := o.validate(c.Flags().Changed("key"))
			switch {
			case err != nil:
			case runF != nil:
				err = runF(c.Context(), o)
			default:
				err = run(c.Context(), f, o, sum)
			}
			return f.FinishSummary(o.summary, sum, err)
		},
	}
	fl := c.Flags()
	fl.StringVarP(&o.topic, "topic", "t", "", "topic (optional with envelope input, which names its topic)")
	fl.StringVarP(&o.key, "key", "k", "", "key for every message")
	fl.StringVarP(&o.keyDelim, "key-delimiter", "K", "", "each line is KEY<DELIM>VALUE (\\t and \\n escapes allowed)")
	fl.StringArrayVarP(&o.headers, "header", "H", nil, "header `K=V` (or K:V); repeatable")
	fl.Int32VarP(&o.partition, "partition", "p", -1, "send every message to partition `N` (-1: the partitioner chooses)")
	fl.StringVarP(&o.file, "file", "f", "", "read from FILE instead of stdin")
	fl.StringVar(&o.input, "input", "auto", "input format: auto, json (payload lines) or envelope")
	fl.BoolVarP(&o.tombstone, "tombstone", "Z", false, "an empty value is sent as a tombstone (null)")
	fl.BoolVar(&o.ignorePartition, "ignore-partition", false, "envelope input: let the partitioner choose instead of the envelope's partition")
	fl.StringVar(&o.backend, "backend", "", "where messages go: kafka (default) or outbox (kafka_messages table, needs --db)")
	fl.BoolVar(&o.dryRun, "dry-run", false, "encode and print what would be sent (JSON lines), send nothing")
	fl.StringVar(&o.schema, "schema", "", "value schema name (overrides the topic's configuration)")
	fl.StringVar(&o.namespace, "namespace", "", "schema namespace")
	fl.StringVar(&o.schemaBackend, "schema-backend", "", "schema backend: "+strings.Join(config.Backends, ", "))
	fl.BoolVar(&o.normalize, "normalize", false, "register Avro schemas in Parsing Canonical Form (schema.normalize) instead of the text as written")
	fl.StringVar(&o.keyConfig, "key-config", "", "key_config: none, plain, field:FIELD or schema:SCHEMA (SCHEMA may be an Avro primitive: string, long...)")
	fl.StringVarP(&o.compression, "compression", "z", "none", "compression: none, gzip, snappy, lz4, zstd")
	fl.StringVar(&o.acks, "acks", "all", "required acks: all, 1 or 0 (1 and 0 turn idempotence off)")
	fl.DurationVar(&o.linger, "linger", 5*time.Millisecond, "how long to wait to fill a batch")
	fl.IntVar(&o.batchSize, "batch-size", 1<<20, "maximum batch size in bytes")
	fl.IntVar(&o.maxBuffered, "max-in-flight", 20000, "maximum buffered (unacknowledged) records; bounds memory")
	fl.BoolVar(&o.noIdempotence, "no-idempotence", false, "disable the idempotent producer")
	fl.StringVar(&o.partitioner, "partitioner", "", "crc32 (default, as Deimos/librdkafka) or murmur2 (Java client); overrides kafka.partitioner")
	fl.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up on an unreachable broker or undeliverable message after this long")
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "no summary line")
	fl.BoolVar(&o.noSchemaID, "no-schema-id", false, "envelope input: encode per the topic's configuration, not with the envelope's key_schema_id/value_schema_id")
	fl.BoolVar(&o.keepGoing, "keep-going", false, "skip (and report) input lines that cannot be encoded, send the rest; exit 1 at the end if any were skipped")
	cmdutil.AddSummaryFlags(c, &o.summary)
	cmdutil.AddProfileFlag(fl, &o.cpuProfile)
	// Hidden, for tests: the progress bar's size threshold, so a test under a
	// pseudo-terminal need not write megabytes (cmd/produce progress_test.go).
	fl.Int64Var(&o.progressMin, "progress-min-bytes", progressMinBytes, "draw a progress bar on a terminal for -f files of at least this size")
	_ = fl.MarkHidden("progress-min-bytes")
	return c
}

func unescape(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\r`, "\r", `\\`, `\`).Replace(s)
}

// validate checks what the flags alone can tell and parses -k and -H.
func (o *Options) validate(keyGiven bool) error {
	switch o.input {
	case "auto", "json", "envelope":
	default:
		return errs.Usagef("--input %q: use auto, json or envelope", o.input)
	}
	o.Key, o.Headers = nil, nil
	if keyGiven {
		k := o.key
		o.Key = &k
	}
	for _, h := range o.headers {
		i := strings.IndexAny(h, "=:")
		if i <= 0 {
			return errs.Usagef("-H %q: use KEY=VALUE", h)
		}
		o.Headers = append(o.Headers, produce.Header{Key: h[:i], Value: []byte(h[i+1:])})
	}
	if o.topic == "" && o.input == "json" {
		return errs.Usagef("-t TOPIC is required (only envelope input may omit it)")
	}
	return nil
}

func run(ctx context.Context, f *cmdutil.Factory, o *Options, summary *cmdutil.Summary) error {
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

	po := produce.Options{Topic: o.topic, Input: o.input, KeyDelim: unescape(o.keyDelim), Partition: o.partition,
		TombstoneEmpty: o.tombstone, IgnorePartition: o.ignorePartition, KeepGoing: o.keepGoing, Key: o.Key, Headers: o.Headers}
	if o.keepGoing {
		po.OnBadLine = func(e *produce.InputError) {
			fmt.Fprintln(f.IO.ErrOut, f.Redact(e.Error()))
			summary.Skip(map[string]any{"line": e.Line, "error": f.Redact(e.Err.Error())})
		}
	}
	backend, err := cfg.ApplyProducerFlags(config.ProducerFlags{Backend: o.backend, Partitioner: o.partitioner, Normalize: o.normalize})
	if err != nil {
		return err
	}
	if _, err := kafkaclient.Partitioner(cfg.Kafka.Partitioner); err != nil {
		return errs.Usage(err)
	}

	// encoder
	reg, err := registry.New(cfg.Schema.Registry)
	if err != nil {
		return err
	}
	eng, err := encode.New(encode.Options{Config: cfg, Registry: reg})
	if err != nil {
		return err
	}
	po.Encoder = eng
	if err := encode.CheckSchemaFlag(o.schemaBackend, o.schema, "--schema-backend", "--schema"); err != nil {
		return err
	}
	if o.schema != "" || o.schemaBackend != "" || o.keyConfig != "" || o.namespace != "" {
		var kc *config.KeyConfig
		if o.keyConfig != "" {
			k, err := config.ParseKeyConfig(o.keyConfig)
			if err != nil {
				return errs.Usage(err)
			}
			kc = &k
		}
		po.SpecOverride = func(topic string) (encode.Spec, bool) {
			s, _ := eng.SpecFor(topic)
			if o.schema != "" {
				s.Schema = o.schema
			}
			if o.namespace != "" {
				s.Namespace = o.namespace
			}
			if o.schemaBackend != "" {
				s.Backend = o.schemaBackend
			}
			if kc != nil {
				s.KeyConfig = *kc
			}
			return s, true
		}
	}

	// an envelope's schema ids re-encode its key and value unless flags
	// say how to encode (docs/produce.md)
	po.SchemaIDs = !o.noSchemaID && po.SpecOverride == nil

	in := f.IO.In
	var size int64
	if o.file != "" && o.file != "-" {
		fh, err := os.Open(o.file)
		if err != nil {
			return errs.Usagef("-f: %w", err)
		}
		defer fh.Close()
		in = fh
		if st, err := fh.Stat(); err == nil {
			size = st.Size()
		}
	}

	var sink produce.Sink
	var kcl *kgo.Client
	switch {
	case o.dryRun:
		counts := newDryRunCounts(ctx, cfg)
		defer counts.Close()
		sink = &produce.DryRunSink{W: f.IO.Out, Partitioner: cfg.Kafka.Partitioner, Counts: counts.Count}
	case backend == "outbox":
		d, err := cmdutil.OpenDB(ctx, cfg)
		if err != nil {
			return err
		}
		defer d.Close()
		sink = &produce.OutboxSink{DB: d}
	default:
		kcl, err = newProducer(cfg, o, cfg.Kafka.Partitioner)
		if err != nil {
			return err
		}
		defer kcl.Close()
		pctx, cancel := context.WithTimeout(ctx, o.timeout)
		err = kafkaclient.Ping(pctx, kcl, cfg.Kafka)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		sink = produce.NewKafkaSink(kcl, o.timeout)
	}

	var prog *progress
	if f.IO.StderrTTY && size >= o.progressMin && size > 0 && !o.quiet {
		prog = &progress{w: f.IO.ErrOut, total: size, start: time.Now()}
		po.OnRead = prog.update
	}
	start := time.Now()
	res, err := produce.Run(ctx, in, po, sink)
	if prog != nil {
		prog.done()
	}
	el := time.Since(start)
	for _, fl := range res.Failures {
		fmt.Fprintf(f.IO.ErrOut, "line %d: not delivered: %v\n", fl.Line, fl.Err)
		summary.Error(fmt.Sprintf("line %d: not delivered: %v", fl.Line, fl.Err))
	}
	summary.Set("messages", res.Messages)
	summary.Set("bytes", res.Bytes)
	summary.Set("failed", res.Failed)
	summary.Set("bad_lines", res.BadLines)
	summary.Details = map[string]any{"backend": backend, "dry_run": o.dryRun, "topic": o.topic}
	if !o.quiet {
		verb := "produced"
		switch {
		case o.dryRun:
			verb = "would produce"
		case backend == "outbox":
			verb = "stored in kafka_messages"
		}
		rate := float64(res.Messages) / max(el.Seconds(), 1e-9)
		skipped := ""
		if res.BadLines > 0 {
			skipped = fmt.Sprintf(", %d bad input line(s) skipped", res.BadLines)
		}
		fmt.Fprintf(f.IO.ErrOut, "%s %d message(s), %d bytes in %s (%.0f msg/s), %d failed%s\n",
			verb, res.Messages, res.Bytes, el.Round(time.Millisecond), rate, res.Failed, skipped)
	}
	if err != nil && ctx.Err() != nil && errs.KindOf(err) == errs.KindFailed && res.Failed == 0 {
		return nil // interrupted: what was read was flushed
	}
	return err
}

func newProducer(cfg *config.Config, o *Options, partitioner string) (*kgo.Client, error) {
	part, err := kafkaclient.Partitioner(partitioner)
	if err != nil {
		return nil, errs.Usage(err)
	}
	extra := []kgo.Opt{
		kgo.RecordPartitioner(produce.Partitioner(part)),
		kgo.ProducerLinger(o.linger),
		kgo.ProducerBatchMaxBytes(int32(o.batchSize)),
		kgo.MaxBufferedRecords(o.maxBuffered),
		kgo.AllowAutoTopicCreation(),
		kgo.UnknownTopicRetries(3),
	}
	switch o.compression {
	case "none", "":
		extra = append(extra, kgo.ProducerBatchCompression(kgo.NoCompression()))
	case "gzip":
		extra = append(extra, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case "snappy":
		extra = append(extra, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case "lz4":
		extra = append(extra, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		extra = append(extra, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		return nil, errs.Usagef("-z %q: use none, gzip, snappy, lz4 or zstd", o.compression)
	}
	switch o.acks {
	case "all", "-1":
		extra = append(extra, kgo.RequiredAcks(kgo.AllISRAcks()))
		if o.noIdempotence {
			extra = append(extra, kgo.DisableIdempotentWrite())
		}
	case "1":
		extra = append(extra, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0":
		extra = append(extra, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		return nil, errs.Usagef("--acks %q: use all, 1 or 0", o.acks)
	}
	return kafkaclient.NewClient(cfg.Kafka, extra...)
}

// dryRunCounts looks partition counts up when a broker answers quickly;
// otherwise partitions are printed as null. Its client is made on first use
// and closed by Close.
type dryRunCounts struct {
	ctx    context.Context
	cfg    *config.Config
	mu     sync.Mutex
	counts map[string]int
	cl     *kgo.Client
	failed bool
}

func newDryRunCounts(ctx context.Context, cfg *config.Config) *dryRunCounts {
	return &dryRunCounts{ctx: ctx, cfg: cfg, counts: map[string]int{}}
}

// Count is the topic's partition count, -1 when unknown.
func (d *dryRunCounts) Count(topic string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n, ok := d.counts[topic]; ok {
		return n
	}
	if d.failed {
		return -1
	}
	if d.cl == nil {
		var err error
		if d.cl, err = kafkaclient.NewClient(d.cfg.Kafka); err != nil {
			d.failed = true
			return -1
		}
	}
	cctx, cancel := context.WithTimeout(d.ctx, 3*time.Second)
	defer cancel()
	m, err := kafkaclient.PartitionCounts(cctx, d.cl, topic)
	if err != nil {
		d.failed = true
		return -1
	}
	n, ok := m[topic]
	if !ok {
		n = -1
	}
	d.counts[topic] = n
	return n
}

// Close closes the client, if one was made.
func (d *dryRunCounts) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cl != nil {
		d.cl.Close()
	}
}

type progress struct {
	w     io.Writer
	total int64
	start time.Time
	last  time.Time
}

func (p *progress) update(line int, read int64) {
	now := time.Now()
	if now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	pct := float64(read) * 100 / float64(p.total)
	width := 30
	n := int(pct / 100 * float64(width))
	n = min(max(n, 0), width)
	fmt.Fprintf(p.w, "\r[%s%s] %5.1f%%  %d lines", strings.Repeat("#", n), strings.Repeat(" ", width-n), pct, line)
}

func (p *progress) done() { fmt.Fprint(p.w, "\r\033[K") }
