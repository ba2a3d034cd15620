package group

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/admin"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// SeekOptions are `group seek`'s.
type SeekOptions struct {
	IO         *cmdutil.IOStreams
	Admin      func(context.Context) (*kadm.Client, error)
	Group      string
	To         string
	Topics     []string
	Partitions []int32
	DryRun     bool
	Output     cmdutil.Format
	Timeout    time.Duration
	Now        func() time.Time
}

// NewCmdSeek returns `group seek GROUP --to WHERE`.
func NewCmdSeek(f *cmdutil.Factory, runF func(context.Context, *SeekOptions) error) *cobra.Command {
	o := &SeekOptions{IO: f.IO, Admin: f.KafkaAdmin, Now: time.Now}
	c := &cobra.Command{
		Use:   "seek GROUP --to start|end|TIME|OFFSET|-N [--topic T]... [--partitions 0,1] [--dry-run]",
		Short: "Move a consumer group's committed offsets (refused while it has members)",
		Long: `Commit new offsets for a consumer group, so its consumers start there next
time. The group must have no active members: stop its consumers first
(their own commits would overwrite the seek). --dry-run prints the plan —
each partition's current and new offset — and commits nothing.

--to takes the offset words of 'deimos consume -o':
  start (or beginning)   the log start of each partition
  end                    the end: skip everything there now
  OFFSET                 that offset in each partition (kept within the log)
  -N                     the last N records of each partition
  TIME                   the first record at or after TIME: RFC3339
                         (2024-05-01T12:00:00Z) or @UNIXMILLIS
  -DURATION              that long before now (-1h, -30m)

Without --topic the seek covers every partition of every topic the group
has committed offsets for; --topic names topics (a new group can be
positioned before it first runs), --partitions limits it to some partitions.`,
		Example: `  deimos group seek billing --to start --dry-run
  deimos group seek billing --to 2024-05-01T12:00:00Z --topic orders
  deimos group seek billing --to -1h
  deimos group seek billing --to end --topic orders --partitions 0,1
  deimos group seek new-group --to -100 --topic orders --output json`,
		Args:              cmdutil.ExactArgs(1, "one GROUP"),
		ValidArgsFunction: cmdutil.FirstArg(cmdutil.CompleteGroups(f)),
		RunE: func(c *cobra.Command, args []string) error {
			o.Group = args[0]
			if o.To == "" {
				return errs.Usagef("group seek: --to is required (start, end, TIME, OFFSET or -N)")
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runSeek(c.Context(), o)
		},
	}
	fl := c.Flags()
	fl.StringVar(&o.To, "to", "", "where: start, end, TIME, OFFSET, -N or -DURATION")
	fl.StringSliceVarP(&o.Topics, "topic", "t", nil, "`TOPICS` to move (comma list, repeatable; default: those the group committed to)")
	fl.Int32SliceVarP(&o.Partitions, "partitions", "p", nil, "only these partitions, a comma list `N,N...`")
	fl.BoolVar(&o.DryRun, "dry-run", false, "print the plan, commit nothing")
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	_ = c.RegisterFlagCompletionFunc("topic", cmdutil.CompleteTopics(f))
	_ = c.RegisterFlagCompletionFunc("to", cobra.FixedCompletions([]string{"start", "end"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func runSeek(ctx context.Context, o *SeekOptions) error {
	to, err := admin.ParseSeekTo(o.To, o.Now())
	if err != nil {
		return err
	}
	return cmdutil.WithKafka(ctx, o.Timeout, o.Admin, func(ctx context.Context, adm *kadm.Client) error {
		plan, err := admin.Seek(ctx, adm, admin.SeekRequest{Group: o.Group, To: to, Topics: o.Topics, Partitions: o.Partitions, DryRun: o.DryRun})
		if err != nil {
			return err // nothing was committed
		}
		if err := writePlan(o, plan); err != nil {
			return err
		}
		if o.DryRun && len(plan.Members) > 0 {
			fmt.Fprintf(o.IO.ErrOut, "deimos: note: group %s has %d active member(s) (%s): the seek itself would be refused until they stop\n",
				o.Group, len(plan.Members), memberList(plan.Members))
		}
		return nil
	})
}

func memberList(ms []admin.Member) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.ClientID + "@" + m.Host
	}
	return strings.Join(s, ", ")
}

func writePlan(o *SeekOptions, plan *admin.SeekPlan) error {
	if o.Output.JSON() {
		return cmdutil.WriteJSON(o.IO, plan)
	}
	t := cmdutil.NewTable(o.IO, "TOPIC", "PARTITION", "CURRENT", "TARGET", "START", "END", "NOTE").OmitEmpty("NOTE")
	for _, m := range plan.Moves {
		t.Row(m.Topic, m.Partition, m.Current, m.Target, m.Start, m.End, m.Note)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if plan.DryRun {
		fmt.Fprintf(o.IO.ErrOut, "dry run: group %s would move to %s on %d partition(s); nothing committed\n", plan.Group, plan.To, len(plan.Moves))
	} else {
		fmt.Fprintf(o.IO.ErrOut, "group %s moved to %s on %d partition(s)\n", plan.Group, plan.To, len(plan.Moves))
	}
	return nil
}
