package topic

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/admin"
)

// OffsetsOptions are `topic offsets`'s.
type OffsetsOptions struct {
	IO         *cmdutil.IOStreams
	Admin      func(context.Context) (*kadm.Client, error)
	Topic      string
	At         string
	Partitions []int32
	Output     cmdutil.Format
	Timeout    time.Duration
	Now        func() time.Time
}

// NewCmdOffsets returns `topic offsets TOPIC [--at TIME]`.
func NewCmdOffsets(f *cmdutil.Factory, runF func(context.Context, *OffsetsOptions) error) *cobra.Command {
	o := &OffsetsOptions{IO: f.IO, Admin: f.KafkaAdmin, Now: time.Now}
	c := &cobra.Command{
		Use:   "offsets TOPIC [--at TIME]",
		Short: "Start and end offsets of each partition, and the offset for a time",
		Long: `Print each partition's start (log start) and end (high watermark) offsets.
With --at TIME also the offset of the first record whose timestamp is at or
after TIME, and that record's timestamp, as 'kcat -Q' answers: -1 when no
record is that recent.

TIME is RFC3339 (2024-05-01T12:00:00Z, or a date), Unix milliseconds, or
-DURATION before now (-1h, -30m); an @ in front is accepted.`,
		Example: `  deimos topic offsets orders
  deimos topic offsets orders --at 2024-05-01T12:00:00Z
  deimos topic offsets orders --at -1h --partitions 0,1 --output json`,
		Args:              cmdutil.ExactArgs(1, "one TOPIC"),
		ValidArgsFunction: cmdutil.FirstArg(cmdutil.CompleteTopics(f)),
		RunE: func(c *cobra.Command, args []string) error {
			o.Topic = args[0]
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runOffsets(c.Context(), o)
		},
	}
	c.Flags().StringVar(&o.At, "at", "", "also the offset for this time (RFC3339, Unix ms or -DURATION)")
	c.Flags().Int32SliceVarP(&o.Partitions, "partitions", "p", nil, "only these partitions, a comma list `N,N...`")
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	return c
}

func runOffsets(ctx context.Context, o *OffsetsOptions) error {
	var at *time.Time
	if o.At != "" {
		t, err := admin.ParseTime(o.At, o.Now())
		if err != nil {
			return err
		}
		at = &t
	}
	return cmdutil.WithKafka(ctx, o.Timeout, o.Admin, func(ctx context.Context, adm *kadm.Client) error {
		ps, err := admin.TopicOffsets(ctx, adm, o.Topic, o.Partitions, at)
		if err != nil {
			return err
		}
		if o.Output.JSON() {
			return cmdutil.WriteJSON(o.IO, ps)
		}
		header := []string{"PARTITION", "START", "END"}
		if at != nil {
			header = append(header, "OFFSET", "TIMESTAMP")
		}
		t := cmdutil.NewTable(o.IO, header...)
		for _, p := range ps {
			if at == nil {
				t.Row(p.Partition, p.Start, p.End)
				continue
			}
			ts := "-"
			if *p.Timestamp >= 0 {
				ts = time.UnixMilli(*p.Timestamp).UTC().Format("2006-01-02T15:04:05.000Z07:00")
			}
			t.Row(p.Partition, p.Start, p.End, *p.Offset, ts)
		}
		return t.Flush()
	})
}
