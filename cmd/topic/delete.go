package topic

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/admin"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// DeleteOptions are `topic delete`'s.
type DeleteOptions struct {
	IO      *cmdutil.IOStreams
	Admin   func(context.Context) (*kadm.Client, error)
	Topics  []string
	Yes     bool
	Output  cmdutil.Format
	Timeout time.Duration
}

// NewCmdDelete returns `topic delete TOPIC... --yes`.
func NewCmdDelete(f *cmdutil.Factory, runF func(context.Context, *DeleteOptions) error) *cobra.Command {
	o := &DeleteOptions{IO: f.IO, Admin: f.KafkaAdmin}
	c := &cobra.Command{
		Use:   "delete TOPIC... --yes",
		Short: "Delete topics and all their records (needs --yes)",
		Long: `Delete topics with every record in them. This cannot be undone, so nothing
happens without --yes.`,
		Example: `  deimos topic delete orders-scratch --yes
  deimos topic delete tmp-1 tmp-2 --yes --output json`,
		Args:              cmdutil.MinArgs(1, "at least one TOPIC"),
		ValidArgsFunction: cmdutil.CompleteTopics(f),
		RunE: func(c *cobra.Command, args []string) error {
			o.Topics = args
			if !o.Yes {
				return errs.Usagef("topic delete: refusing to delete %s without --yes (deleting a topic removes its records for good)", strings.Join(args, ", "))
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runDelete(c.Context(), o)
		},
	}
	c.Flags().BoolVarP(&o.Yes, "yes", "y", false, "really delete")
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	return c
}

func runDelete(ctx context.Context, o *DeleteOptions) error {
	return cmdutil.WithKafka(ctx, o.Timeout, o.Admin, func(ctx context.Context, adm *kadm.Client) error {
		rs, err := admin.DeleteTopics(ctx, adm, o.Topics)
		if werr := WriteDeleted(o.IO, o.Output, rs); werr != nil {
			return werr
		}
		return err
	})
}

// WriteDeleted prints delete results (topics or groups).
func WriteDeleted(ios *cmdutil.IOStreams, out cmdutil.Format, rs []admin.DeleteResult) error {
	if rs == nil {
		rs = []admin.DeleteResult{}
	}
	if out.JSON() {
		return cmdutil.WriteJSON(ios, rs)
	}
	if len(rs) == 0 {
		return nil
	}
	t := cmdutil.NewTable(ios, "NAME", "STATUS", "ERROR").OmitEmpty("ERROR")
	for _, r := range rs {
		t.Row(r.Name, r.Status, r.Error)
	}
	return t.Flush()
}
