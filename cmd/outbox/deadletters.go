package outbox

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/admin"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/human"
	"github.com/deimos-cli/deimos/pkg/outbox"
)

// DeadLetterOptions are the flags and arguments of the dead-letters
// commands (each uses its own subset).
type DeadLetterOptions struct {
	IDs              []string // the ID... arguments
	topics           []string
	fromID, toID     int64
	olderThan, newer time.Duration
	limit            int
	all, yes, dryRun bool
	maxMessageBytes  int
	output           cmdutil.Format
	timeout          time.Duration
}

func (o *DeadLetterOptions) addFilters(c *cobra.Command) {
	fl := c.Flags()
	fl.StringSliceVarP(&o.topics, "topic", "t", nil, "only these `TOPICS` (comma list, repeatable)")
	fl.Int64Var(&o.fromID, "from-id", 0, "only ids from N (inclusive)")
	fl.Int64Var(&o.toID, "to-id", 0, "only ids up to N (inclusive)")
	fl.DurationVar(&o.olderThan, "older-than", 0, "only rows dead-lettered longer ago than this (e.g. 24h)")
	fl.DurationVar(&o.newer, "newer-than", 0, "only rows dead-lettered within this (e.g. 1h)")
	cmdutil.AddOutputFlag(c, &o.output)
}

// filter builds the selection from IDs (arguments) and the flags.
func (o *DeadLetterOptions) filter(args []string, now time.Time) (outbox.DeadLetterFilter, error) {
	f := outbox.DeadLetterFilter{Topics: o.topics, FromID: o.fromID, ToID: o.toID, Limit: o.limit}
	for _, a := range args {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 {
			return f, errs.Usagef("%q is not a dead-letter id (a positive number)", a)
		}
		f.IDs = append(f.IDs, id)
	}
	if o.fromID < 0 || o.toID < 0 || (o.toID > 0 && o.fromID > o.toID) {
		return f, errs.Usagef("--from-id %d --to-id %d: not a range of ids", o.fromID, o.toID)
	}
	if o.olderThan < 0 || o.newer < 0 {
		return f, errs.Usagef("--older-than and --newer-than take a positive duration")
	}
	if o.olderThan > 0 {
		f.Before = now.Add(-o.olderThan)
	}
	if o.newer > 0 {
		f.After = now.Add(-o.newer)
	}
	return f, nil
}

func newDeadLettersCmd(f *cmdutil.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:     "dead-letters",
		Aliases: []string{"dead-letter", "dl"},
		Short:   "List, show, requeue or delete the messages Kafka refused (deimos_dead_letters)",
		Long: `The relay moves a message Kafka refuses as too large into deimos_dead_letters,
with the error, instead of blocking its topic. These commands look at them and
put them back: requeue moves rows into kafka_messages in one transaction with
the same bytes, key, partition key and headers, so the relay sends them again.`,
	}
	c.AddCommand(NewCmdDLList(f, nil), NewCmdDLShow(f, nil), NewCmdDLRequeue(f, nil), NewCmdDLDelete(f, nil))
	return c
}

// NewCmdDLList returns `outbox dead-letters list`; runF replaces the run (tests).
func NewCmdDLList(f *cmdutil.Factory, runF func(context.Context, *DeadLetterOptions) error) *cobra.Command {
	o := &DeadLetterOptions{}
	c := &cobra.Command{
		Use:   "list [--topic T] [--from-id N] [--to-id N] [--older-than D] [--newer-than D]",
		Short: "List dead letters: id, topic, size, key, error, age",
		Example: `  deimos outbox dead-letters list
  deimos outbox dead-letters list --topic orders --newer-than 24h -o json | jq length`,
		Args: cmdutil.ExactArgs(0, "no arguments (filters are flags)"),
		RunE: func(c *cobra.Command, args []string) error {
			if _, err := o.filter(nil, time.Now()); err != nil {
				return err
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return withDB(c.Context(), f, func(ctx context.Context, d deadLetterDB) error {
				now := time.Now()
				flt, err := o.filter(nil, now)
				if err != nil {
					return err
				}
				rows, err := outbox.ListDeadLetters(ctx, d.DB, flt)
				if err != nil {
					return err
				}
				if o.output.JSON() {
					out := make([]dlDoc, len(rows))
					for i, r := range rows {
						out[i] = doc(r, false)
					}
					return cmdutil.WriteJSON(f.IO, out)
				}
				if len(rows) == 0 {
					fmt.Fprintln(f.IO.ErrOut, "no dead letters")
					return nil
				}
				t := cmdutil.NewTable(f.IO, "ID", "TOPIC", "BYTES", "KEY", "HEADERS", "AGE", "ERROR")
				for _, r := range rows {
					key, _ := text(r.Key)
					if len(key) > 30 {
						key = key[:27] + "..."
					}
					errText := r.Error
					if len(errText) > 60 {
						errText = errText[:57] + "..."
					}
					t.Row(r.ID, r.Topic, len(r.Message), key, len(r.Headers), human.Seconds(now.Sub(r.CreatedAt).Seconds()), errText)
				}
				return t.Flush()
			})
		},
	}
	o.addFilters(c)
	c.Flags().IntVar(&o.limit, "limit", 0, "at most N rows (0: all)")
	return c
}

// NewCmdDLShow returns `outbox dead-letters show`; runF replaces the run (tests).
func NewCmdDLShow(f *cmdutil.Factory, runF func(context.Context, *DeadLetterOptions) error) *cobra.Command {
	o := &DeadLetterOptions{}
	c := &cobra.Command{
		Use:   "show ID...",
		Short: "Show dead letters in full: message, key, partition key, headers, error",
		Example: `  deimos outbox dead-letters show 42
  deimos outbox dead-letters show 42 -o json | jq -r .message`,
		Args: cmdutil.MinArgs(1, "one or more dead-letter ids"),
		RunE: func(c *cobra.Command, args []string) error {
			o.IDs = args
			if _, err := (&DeadLetterOptions{}).filter(o.IDs, time.Now()); err != nil {
				return err
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return withDB(c.Context(), f, func(ctx context.Context, d deadLetterDB) error {
				flt, err := (&DeadLetterOptions{}).filter(o.IDs, time.Now())
				if err != nil {
					return err
				}
				rows, err := outbox.ListDeadLetters(ctx, d.DB, flt)
				if err != nil {
					return err
				}
				if missing := missingIDs(flt.IDs, rows); len(missing) > 0 {
					return errs.Failedf("no dead letter with id %s", strings.Join(missing, ", "))
				}
				if o.output.JSON() {
					out := make([]dlDoc, len(rows))
					for i, r := range rows {
						out[i] = doc(r, true)
					}
					if len(out) == 1 {
						return cmdutil.WriteJSON(f.IO, out[0])
					}
					return cmdutil.WriteJSON(f.IO, out)
				}
				for i, r := range rows {
					if i > 0 {
						fmt.Fprintln(f.IO.Out)
					}
					dd := doc(r, true)
					kv := cmdutil.NewTable(f.IO)
					kv.Row("ID:", dd.ID)
					kv.Row("Topic:", dd.Topic)
					kv.Row("Dead-lettered:", dd.CreatedAt.Format(time.RFC3339))
					if dd.OriginalID != nil {
						kv.Row("Original id:", *dd.OriginalID)
					}
					kv.Row("Error:", dd.Error)
					kv.Row("Key:", fmtEncoded(dd.Key, dd.KeyEncoding))
					if dd.PartitionKey != nil {
						kv.Row("Partition key:", *dd.PartitionKey)
					}
					keys := make([]string, 0, len(dd.Headers))
					for k := range dd.Headers {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					for _, k := range keys {
						kv.Row("Header:", k+"="+dd.Headers[k])
					}
					kv.Row("Bytes:", dd.Bytes)
					if err := kv.Flush(); err != nil {
						return err
					}
					fmt.Fprintln(f.IO.Out, fmtEncoded(dd.Message, dd.MessageEncoding))
				}
				return nil
			})
		},
	}
	cmdutil.AddOutputFlag(c, &o.output)
	return c
}

// NewCmdDLRequeue returns `outbox dead-letters requeue`; runF replaces the run (tests).
func NewCmdDLRequeue(f *cmdutil.Factory, runF func(context.Context, *DeadLetterOptions) error) *cobra.Command {
	o := &DeadLetterOptions{}
	c := &cobra.Command{
		Use:   "requeue [ID...] [--topic T] [--from-id N] [--to-id N] [--older-than D] [--newer-than D] [--all]",
		Short: "Move dead letters back into kafka_messages (same bytes, key, partition key, headers)",
		Long: `Moves the selected dead letters back into kafka_messages in one transaction,
in id order, with the same message and key bytes, partition key and headers;
the relay then sends them like any row. A row that would be refused again
for its size is not moved, and neither is any other: the whole requeue is
refused (exit 1) naming each. The limit is the smaller of what the broker
accepts for the topic (its max.message.bytes, read from the cluster; or
--max-message-bytes, when the broker's limit was raised in a way the
topic config does not show) and the relay's own (outbox.max_message_bytes).
Rows with headers need kafka_messages.headers (migrate up --only headers).`,
		Example: `  deimos outbox dead-letters requeue 41 42
  deimos outbox dead-letters requeue --topic orders --dry-run
  deimos outbox dead-letters requeue --all --max-message-bytes 5242880`,
		RunE: func(c *cobra.Command, args []string) error {
			if o.maxMessageBytes < 0 {
				return errs.Usagef("--max-message-bytes %d: must be positive", o.maxMessageBytes)
			}
			o.IDs = args
			if _, err := o.selection(o.IDs); err != nil {
				return err
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return withDB(c.Context(), f, func(ctx context.Context, d deadLetterDB) error {
				flt, err := o.selection(o.IDs)
				if err != nil {
					return err
				}
				rows, err := outbox.ListDeadLetters(ctx, d.DB, flt)
				if err != nil {
					return err
				}
				if len(rows) == 0 {
					return report(f, o, "requeue", nil)
				}
				limits, err := o.limits(ctx, f, d, rows)
				if err != nil {
					return err
				}
				check := func(r outbox.StoredDeadLetter) error {
					lim, ok := limits[r.Topic]
					if !ok {
						return fmt.Errorf("topic %s: no size limit known (it was added during the requeue): run it again", r.Topic)
					}
					if n := outbox.RecordSize(r.Key, r.Message, r.Headers); n > lim.bytes {
						return fmt.Errorf("%d bytes, over the %d-byte limit (%s)", n, lim.bytes, lim.from)
					}
					return nil
				}
				if o.dryRun {
					var ids []int64
					var bad []string
					for _, r := range rows {
						if err := check(r); err != nil {
							bad = append(bad, fmt.Sprintf("id %d: %v", r.ID, err))
						}
						ids = append(ids, r.ID)
					}
					if len(bad) > 0 {
						return errs.Failedf("%d dead letter(s) would fail again: %s", len(bad), strings.Join(bad, "; "))
					}
					return report(f, o, "requeue", ids)
				}
				res, err := outbox.RequeueDeadLetters(ctx, d.DB, flt, check, time.Now())
				if err != nil {
					return err
				}
				return report(f, o, "requeue", res.Moved)
			})
		},
	}
	o.addFilters(c)
	c.Flags().BoolVar(&o.all, "all", false, "every dead letter (when no id or filter is given)")
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "say what would be requeued, change nothing")
	c.Flags().IntVar(&o.maxMessageBytes, "max-message-bytes", 0, "the broker now accepts records up to N bytes (instead of reading the topic's max.message.bytes)")
	cmdutil.AddTimeoutFlag(c, &o.timeout)
	return c
}

// NewCmdDLDelete returns `outbox dead-letters delete`; runF replaces the run (tests).
func NewCmdDLDelete(f *cmdutil.Factory, runF func(context.Context, *DeadLetterOptions) error) *cobra.Command {
	o := &DeadLetterOptions{}
	c := &cobra.Command{
		Use:   "delete [ID...] [--topic T] [--from-id N] [--to-id N] [--older-than D] [--newer-than D] [--all] --yes",
		Short: "Delete dead letters for good",
		Example: `  deimos outbox dead-letters delete 41 --yes
  deimos outbox dead-letters delete --older-than 720h --yes
  deimos outbox dead-letters delete --topic orders --dry-run`,
		RunE: func(c *cobra.Command, args []string) error {
			o.IDs = args
			flt, err := o.selection(o.IDs)
			if err != nil {
				return err
			}
			if !o.yes && !o.dryRun {
				return errs.Usagef("delete removes dead letters for good: add --yes (or --dry-run to see which)")
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return withDB(c.Context(), f, func(ctx context.Context, d deadLetterDB) error {
				if o.dryRun {
					rows, err := outbox.ListDeadLetters(ctx, d.DB, flt)
					if err != nil {
						return err
					}
					var ids []int64
					for _, r := range rows {
						ids = append(ids, r.ID)
					}
					return report(f, o, "delete", ids)
				}
				ids, err := outbox.DeleteDeadLetters(ctx, d.DB, flt)
				if err != nil {
					return err
				}
				return report(f, o, "delete", ids)
			})
		},
	}
	o.addFilters(c)
	c.Flags().BoolVar(&o.all, "all", false, "every dead letter (when no id or filter is given)")
	c.Flags().BoolVar(&o.yes, "yes", false, "really delete")
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "say what would be deleted, change nothing")
	return c
}

// selection is filter, refusing an empty selection without --all.
func (o *DeadLetterOptions) selection(args []string) (outbox.DeadLetterFilter, error) {
	flt, err := o.filter(args, time.Now())
	if err != nil {
		return flt, err
	}
	if flt.Empty() && !o.all {
		return flt, errs.Usagef("select dead letters: give ids, a filter (--topic, --from-id, --to-id, --older-than, --newer-than) or --all")
	}
	if !flt.Empty() && o.all {
		return flt, errs.Usagef("--all selects every dead letter: do not combine it with ids or filters")
	}
	return flt, nil
}

// sizeLimit is the largest record a requeued row may be, and where it comes from.
type sizeLimit struct {
	bytes int
	from  string
}

// limits finds, per topic of rows, the size the broker accepts (the
// topic's max.message.bytes, or --max-message-bytes) capped by the
// relay's producer limit.
func (o *DeadLetterOptions) limits(ctx context.Context, f *cmdutil.Factory, d deadLetterDB, rows []outbox.StoredDeadLetter) (map[string]sizeLimit, error) {
	producer := d.maxMessageBytes
	if producer <= 0 {
		producer = outbox.DefaultMaxMessageBytes
	}
	capped := func(n int, from string) sizeLimit {
		if producer < n {
			return sizeLimit{producer, fmt.Sprintf("the relay's producer limit, outbox.max_message_bytes %d", producer)}
		}
		return sizeLimit{n, from}
	}
	topics := map[string]bool{}
	for _, r := range rows {
		topics[r.Topic] = true
	}
	out := map[string]sizeLimit{}
	if o.maxMessageBytes > 0 {
		for t := range topics {
			out[t] = capped(o.maxMessageBytes, "--max-message-bytes")
		}
		return out, nil
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	sort.Strings(names)
	err := cmdutil.WithKafka(ctx, o.timeout, f.KafkaAdmin, func(ctx context.Context, adm *kadm.Client) error {
		lims, err := admin.MaxMessageBytes(ctx, adm, names...)
		if err != nil {
			return err
		}
		for _, t := range names {
			l := lims[t]
			out[t] = capped(l.Bytes, l.Source)
		}
		return nil
	})
	return out, err
}

// deadLetterDB is the open database and the relay's producer limit.
type deadLetterDB struct {
	DB              *db.DB
	maxMessageBytes int
}

func withDB(ctx context.Context, f *cmdutil.Factory, fn func(context.Context, deadLetterDB) error) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	d, err := cmdutil.OpenDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(ctx, deadLetterDB{DB: d, maxMessageBytes: cfg.Outbox.MaxMessageBytes})
}

// dlDoc is a dead letter as JSON. Bytes that are UTF-8 text are shown as
// text; others in base64 (the _encoding field says which).
type dlDoc struct {
	ID                int64             `json:"id"`
	Topic             string            `json:"topic"`
	Error             string            `json:"error"`
	Bytes             int               `json:"bytes"` // message size
	Key               *string           `json:"key"`
	KeyEncoding       string            `json:"key_encoding,omitempty"`
	PartitionKey      *string           `json:"partition_key"`
	Headers           map[string]string `json:"headers,omitempty"`
	Message           *string           `json:"message,omitempty"`
	MessageEncoding   string            `json:"message_encoding,omitempty"`
	OriginalID        *int64            `json:"original_id"`
	OriginalCreatedAt *time.Time        `json:"original_created_at"`
	CreatedAt         time.Time         `json:"created_at"`
}

func doc(r outbox.StoredDeadLetter, withMessage bool) dlDoc {
	d := dlDoc{ID: r.ID, Topic: r.Topic, Error: r.Error, Bytes: len(r.Message), PartitionKey: r.PartitionKey, Headers: r.Headers,
		OriginalID: r.OriginalID, OriginalCreatedAt: r.OriginalCreatedAt, CreatedAt: r.CreatedAt}
	if r.Key != nil {
		k, enc := text(r.Key)
		d.Key, d.KeyEncoding = &k, enc
	}
	if withMessage && r.Message != nil {
		m, enc := text(r.Message)
		d.Message, d.MessageEncoding = &m, enc
	}
	return d
}

// text returns b as text when it is UTF-8 ("utf8"), else base64.
func text(b []byte) (string, string) {
	if utf8.Valid(b) {
		return string(b), "utf8"
	}
	return base64.StdEncoding.EncodeToString(b), "base64"
}

func fmtEncoded(s *string, enc string) string {
	if s == nil {
		return "(null)"
	}
	if enc == "base64" {
		return "base64:" + *s
	}
	return *s
}

func missingIDs(want []int64, rows []outbox.StoredDeadLetter) []string {
	have := map[int64]bool{}
	for _, r := range rows {
		have[r.ID] = true
	}
	var out []string
	for _, id := range want {
		if !have[id] {
			out = append(out, strconv.FormatInt(id, 10))
		}
	}
	return out
}

// report prints what a requeue or delete did (or would do).
func report(f *cmdutil.Factory, o *DeadLetterOptions, verb string, ids []int64) error {
	if ids == nil {
		ids = []int64{}
	}
	if o.output.JSON() {
		return cmdutil.WriteJSON(f.IO, map[string]any{"action": verb, "dry_run": o.dryRun, "count": len(ids), "ids": ids})
	}
	past := map[string]string{"requeue": "requeued", "delete": "deleted"}[verb]
	if o.dryRun {
		past = "would " + verb
	}
	if len(ids) == 0 {
		_, err := fmt.Fprintf(f.IO.Out, "%s 0 dead letters (none matched)\n", past)
		return err
	}
	_, err := fmt.Fprintf(f.IO.Out, "%s %d dead letter(s): ids %s\n", past, len(ids), cmdutil.JoinInts(ids))
	return err
}
