// Package topic is the `deimos topic` command group: list, describe,
// offsets, create and delete.
package topic

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/admin"
)

// NewCmd returns `deimos topic` and its subcommands.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "topic",
		Short: "List, describe, create and delete topics; offsets by time",
		Long: `Inspect and manage Kafka topics with the brokers, SASL and TLS settings of
deimos.yaml (or -b / DEIMOS_BROKERS).

Exit codes: 0 done, 1 the broker refused or a topic is missing, 2 usage or a
refused authorization (the ACL needed is named), 3 broker unreachable.`,
		Example: `  deimos topic list
  deimos topic describe orders
  deimos topic offsets orders --at 2024-05-01T12:00:00Z
  deimos topic create --from-config --dry-run`,
	}
	c.AddCommand(NewCmdList(f, nil), NewCmdDescribe(f, nil), NewCmdOffsets(f, nil), NewCmdCreate(f, nil), NewCmdDelete(f, nil))
	return c
}

// ListOptions are `topic list`'s.
type ListOptions struct {
	IO       *cmdutil.IOStreams
	Admin    func(context.Context) (*kadm.Client, error)
	Regex    []string
	Internal bool
	Output   cmdutil.Format
	Timeout  time.Duration
}

// NewCmdList returns `topic list`; runF replaces the run (tests).
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	o := &ListOptions{IO: f.IO, Admin: f.KafkaAdmin}
	c := &cobra.Command{
		Use:   "list",
		Short: "List topics with their partition count and replication factor",
		Long: `List topics: name, partitions and replication factor. Internal topics
(__consumer_offsets and other names starting with "__") are hidden unless
--internal. --regex keeps the topics whose whole name matches one of the
expressions.`,
		Example: `  deimos topic list
  deimos topic list --regex 'orders\..*' --output json
  deimos topic list --internal`,
		Args: cmdutil.ExactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runList(c.Context(), o)
		},
	}
	c.Flags().StringArrayVar(&o.Regex, "regex", nil, "keep topics whose name matches `REGEX`, a regular expression (repeatable)")
	c.Flags().BoolVarP(&o.Internal, "internal", "i", false, "include internal topics")
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	return c
}

func runList(ctx context.Context, o *ListOptions) error {
	return cmdutil.WithKafka(ctx, o.Timeout, o.Admin, func(ctx context.Context, adm *kadm.Client) error {
		ts, err := admin.ListTopics(ctx, adm, admin.TopicFilter{Regex: o.Regex, Internal: o.Internal})
		if err != nil {
			return err
		}
		if o.Output.JSON() {
			return cmdutil.WriteJSON(o.IO, ts)
		}
		t := cmdutil.NewTable(o.IO, "NAME", "PARTITIONS", "REPLICAS")
		for _, x := range ts {
			t.Row(x.Name, x.Partitions, x.ReplicationFactor)
		}
		return t.Flush()
	})
}

// DescribeOptions are `topic describe`'s.
type DescribeOptions struct {
	IO         *cmdutil.IOStreams
	Admin      func(context.Context) (*kadm.Client, error)
	Topic      string
	AllConfigs bool
	Output     cmdutil.Format
	Timeout    time.Duration
}

// NewCmdDescribe returns `topic describe TOPIC`.
func NewCmdDescribe(f *cmdutil.Factory, runF func(context.Context, *DescribeOptions) error) *cobra.Command {
	o := &DescribeOptions{IO: f.IO, Admin: f.KafkaAdmin}
	c := &cobra.Command{
		Use:   "describe TOPIC",
		Short: "Partitions (leader, replicas, ISR, low and high watermarks) and configs of a topic",
		Long: `Describe a topic: per partition its leader, replicas, in-sync replicas and
the low (log start) and high (next offset to be written) watermarks; then the
configs set on the topic itself, that is those that differ from the broker's
defaults (--all-configs lists every config with its source).`,
		Example: `  deimos topic describe orders
  deimos topic describe orders --all-configs --output json`,
		Args:              cmdutil.ExactArgs(1, "one TOPIC"),
		ValidArgsFunction: cmdutil.FirstArg(cmdutil.CompleteTopics(f)),
		RunE: func(c *cobra.Command, args []string) error {
			o.Topic = args[0]
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runDescribe(c.Context(), o)
		},
	}
	c.Flags().BoolVar(&o.AllConfigs, "all-configs", false, "list every config with its source, not only those set on the topic")
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	return c
}

func runDescribe(ctx context.Context, o *DescribeOptions) error {
	return cmdutil.WithKafka(ctx, o.Timeout, o.Admin, func(ctx context.Context, adm *kadm.Client) error {
		d, err := admin.DescribeTopic(ctx, adm, o.Topic, o.AllConfigs)
		if err != nil {
			return err
		}
		if o.Output.JSON() {
			return cmdutil.WriteJSON(o.IO, d)
		}
		kv := cmdutil.NewTable(o.IO)
		kv.Row("Topic:", d.Name)
		if d.ID != "" {
			kv.Row("ID:", d.ID)
		}
		kv.Row("Partitions:", len(d.Partitions))
		kv.Row("Replication:", d.ReplicationFactor)
		if d.Internal {
			kv.Row("Internal:", "yes")
		}
		if err := kv.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(o.IO.Out)
		t := cmdutil.NewTable(o.IO, "PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "LOW", "HIGH", "ERROR").OmitEmpty("ERROR")
		for _, p := range d.Partitions {
			t.Row(p.Partition, p.Leader, p.Epoch, cmdutil.JoinInts(p.Replicas), cmdutil.JoinInts(p.ISR), p.Low, p.High, p.Error)
		}
		if err := t.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(o.IO.Out)
		if len(d.Configs) == 0 {
			fmt.Fprintln(o.IO.Out, "Configs: none set on the topic (broker defaults apply)")
			return nil
		}
		if o.AllConfigs {
			fmt.Fprintln(o.IO.Out, "Configs:")
		} else {
			fmt.Fprintln(o.IO.Out, "Configs set on the topic:")
		}
		ct := cmdutil.NewTable(o.IO, "NAME", "VALUE", "SOURCE")
		for _, c := range d.Configs {
			v := c.Value
			if c.Sensitive {
				v = "(sensitive)"
			}
			ct.Row(c.Name, v, c.Source)
		}
		return ct.Flush()
	})
}
