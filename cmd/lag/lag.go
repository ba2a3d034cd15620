// Package lag is the `deimos lag` command.
package lag

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/admin"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// Options are `deimos lag`'s.
type Options struct {
	IO     *cmdutil.IOStreams
	Admin  func(context.Context) (*kadm.Client, error)
	Config func() (*config.Config, error)

	Group    string
	Consumer string
	Topics   []string
	Output   cmdutil.Format
	Timeout  time.Duration
}

// NewCmd returns `deimos lag`.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	o := &Options{IO: f.IO, Admin: f.KafkaAdmin, Config: f.Config}
	c := &cobra.Command{
		Use:   "lag --group GROUP | --consumer NAME",
		Short: "Per partition: a consumer group's committed offset, the end offset and the lag",
		Long: `Prints, for every partition a consumer group has committed to or is assigned,
the committed offset, the end offset (high watermark) and the lag between
them: what Deimos's lag reporter and deimos_consumer_lag report. Any group
on the cluster (--group), or the group of a consumers: entry of deimos.yaml
(--consumer, limited to its topics). A partition the group never committed
to shows committed -1 and a lag counted from the log start.`,
		Example: `  deimos lag --group billing
  deimos lag --consumer BillingSink
  deimos lag --group billing -o json | jq '.total_lag'`,
		Args: cmdutil.ExactArgs(0, "no arguments (--group GROUP or --consumer NAME)"),
		RunE: func(c *cobra.Command, _ []string) error {
			if (o.Group == "") == (o.Consumer == "") {
				return errs.Usagef("give one of --group GROUP or --consumer NAME")
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return run(c.Context(), o)
		},
	}
	c.Flags().StringVarP(&o.Group, "group", "g", "", "consumer group")
	c.Flags().StringVar(&o.Consumer, "consumer", "", "the consumers: entry of deimos.yaml whose group (and topics) to show")
	c.Flags().StringSliceVarP(&o.Topics, "topic", "t", nil, "only these `TOPICS` (comma list)")
	_ = c.RegisterFlagCompletionFunc("group", cmdutil.CompleteGroups(f))
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	return c
}

// Doc is the JSON output.
type Doc struct {
	Group      string               `json:"group"`
	State      string               `json:"state"`
	Partitions []admin.PartitionLag `json:"partitions"`
	TotalLag   int64                `json:"total_lag"`
}

func run(ctx context.Context, o *Options) error {
	group, topics := o.Group, o.Topics
	if o.Consumer != "" {
		cfg, err := o.Config()
		if err != nil {
			return err
		}
		var found *config.Consumer
		for i := range cfg.Consumers {
			if cfg.Consumers[i].Name == o.Consumer {
				found = &cfg.Consumers[i]
			}
		}
		if found == nil {
			return errs.Usagef("--consumer %q: no such entry in consumers: of the config", o.Consumer)
		}
		if found.Group == "" {
			return errs.Usagef("consumers[%s] has no group: give --group", o.Consumer)
		}
		group = found.Group
		if len(topics) == 0 {
			topics = found.Topics
		}
	}
	return cmdutil.WithKafka(ctx, o.Timeout, o.Admin, func(ctx context.Context, adm *kadm.Client) error {
		g, err := admin.Lag(ctx, adm, group)
		if err != nil {
			return err
		}
		doc := Doc{Group: g.Group, State: g.State, Partitions: []admin.PartitionLag{}}
		keep := map[string]bool{}
		for _, t := range topics {
			keep[t] = true
		}
		for _, p := range g.Partitions {
			if len(keep) > 0 && !keep[p.Topic] {
				continue
			}
			doc.Partitions = append(doc.Partitions, p)
			if p.Error == "" && p.Lag > 0 {
				doc.TotalLag += p.Lag
			}
		}
		if o.Output.JSON() {
			return cmdutil.WriteJSON(o.IO, doc)
		}
		t := cmdutil.NewTable(o.IO, "TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "ERROR").OmitEmpty("ERROR")
		for _, p := range doc.Partitions {
			t.Row(p.Topic, p.Partition, p.Committed, p.End, p.Lag, p.Error)
		}
		if err := t.Flush(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.IO.Out, "group %s (%s): total lag %d\n", doc.Group, doc.State, doc.TotalLag)
		return err
	})
}
