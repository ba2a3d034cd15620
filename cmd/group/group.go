// Package group is the `deimos group` command group: list, describe, seek
// and delete consumer groups.
package group

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/deimos-cli/deimos/cmd/topic"
	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/admin"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// NewCmd returns `deimos group` and its subcommands.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "group",
		Short: "List, describe, seek and delete consumer groups",
		Long: `Inspect consumer groups and move their committed offsets, with the brokers,
SASL and TLS settings of deimos.yaml (or -b / DEIMOS_BROKERS).

Exit codes: 0 done, 1 the broker refused (an unknown group, a seek while
members are active), 2 usage or a refused authorization (the ACL needed is
named), 3 broker unreachable.`,
		Example: `  deimos group list
  deimos group describe billing
  deimos group seek billing --to -1h --dry-run`,
	}
	c.AddCommand(NewCmdList(f, nil), NewCmdDescribe(f, nil), NewCmdSeek(f, nil), NewCmdDelete(f, nil))
	return c
}

// ListOptions are `group list`'s.
type ListOptions struct {
	IO      *cmdutil.IOStreams
	Admin   func(context.Context) (*kadm.Client, error)
	Output  cmdutil.Format
	Timeout time.Duration
}

// NewCmdList returns `group list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	o := &ListOptions{IO: f.IO, Admin: f.KafkaAdmin}
	c := &cobra.Command{
		Use:   "list",
		Short: "List consumer groups with their state, protocol and member count",
		Example: `  deimos group list
  deimos group list --output json`,
		Args: cmdutil.ExactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runList(c.Context(), o)
		},
	}
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	return c
}

func runList(ctx context.Context, o *ListOptions) error {
	return cmdutil.WithKafka(ctx, o.Timeout, o.Admin, func(ctx context.Context, adm *kadm.Client) error {
		gs, err := admin.ListGroups(ctx, adm)
		if err != nil {
			return err
		}
		if o.Output.JSON() {
			return cmdutil.WriteJSON(o.IO, gs)
		}
		t := cmdutil.NewTable(o.IO, "GROUP", "STATE", "PROTOCOL_TYPE", "PROTOCOL", "MEMBERS")
		for _, g := range gs {
			t.Row(g.Name, g.State, g.ProtocolType, g.Protocol, g.Members)
		}
		return t.Flush()
	})
}

// DescribeOptions are `group describe`'s.
type DescribeOptions struct {
	IO      *cmdutil.IOStreams
	Admin   func(context.Context) (*kadm.Client, error)
	Group   string
	Output  cmdutil.Format
	Timeout time.Duration
}

// NewCmdDescribe returns `group describe GROUP`.
func NewCmdDescribe(f *cmdutil.Factory, runF func(context.Context, *DescribeOptions) error) *cobra.Command {
	o := &DescribeOptions{IO: f.IO, Admin: f.KafkaAdmin}
	c := &cobra.Command{
		Use:   "describe GROUP",
		Short: "Members, assignments, and per partition the committed offset, end offset and lag",
		Long: `Describe a consumer group: its state and assignor, each member with the
partitions assigned to it, and for every partition assigned or committed to
the committed offset, the end offset (high watermark) and the lag between
them. A partition the group never committed to shows committed -1 and a lag
counted from the log start.`,
		Example: `  deimos group describe billing
  deimos group describe billing --output json | jq '.total_lag'`,
		Args:              cmdutil.ExactArgs(1, "one GROUP"),
		ValidArgsFunction: cmdutil.FirstArg(cmdutil.CompleteGroups(f)),
		RunE: func(c *cobra.Command, args []string) error {
			o.Group = args[0]
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runDescribe(c.Context(), o)
		},
	}
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	return c
}

func runDescribe(ctx context.Context, o *DescribeOptions) error {
	return cmdutil.WithKafka(ctx, o.Timeout, o.Admin, func(ctx context.Context, adm *kadm.Client) error {
		g, err := admin.Lag(ctx, adm, o.Group)
		if err != nil {
			return err
		}
		if o.Output.JSON() {
			return cmdutil.WriteJSON(o.IO, g)
		}
		kv := cmdutil.NewTable(o.IO)
		kv.Row("Group:", g.Group)
		kv.Row("State:", g.State)
		kv.Row("Protocol:", strings.Trim(g.ProtocolType+" / "+g.Protocol, " /"))
		kv.Row("Coordinator:", g.Coordinator)
		kv.Row("Members:", len(g.Members))
		kv.Row("Total lag:", g.TotalLag)
		if err := kv.Flush(); err != nil {
			return err
		}
		if len(g.Members) > 0 {
			fmt.Fprintln(o.IO.Out)
			mt := cmdutil.NewTable(o.IO, "MEMBER", "CLIENT_ID", "HOST", "ASSIGNED")
			for _, m := range g.Members {
				var as []string
				for _, a := range m.Assigned {
					as = append(as, fmt.Sprintf("%s[%s]", a.Topic, cmdutil.JoinInts(a.Partitions)))
				}
				mt.Row(m.ID, m.ClientID, m.Host, strings.Join(as, " "))
			}
			if err := mt.Flush(); err != nil {
				return err
			}
		}
		fmt.Fprintln(o.IO.Out)
		pt := cmdutil.NewTable(o.IO, "TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "CLIENT_ID", "ERROR").OmitEmpty("CLIENT_ID", "ERROR")
		for _, p := range g.Partitions {
			pt.Row(p.Topic, p.Partition, p.Committed, p.End, p.Lag, p.ClientID, p.Error)
		}
		return pt.Flush()
	})
}

// DeleteOptions are `group delete`'s.
type DeleteOptions struct {
	IO      *cmdutil.IOStreams
	Admin   func(context.Context) (*kadm.Client, error)
	Groups  []string
	Yes     bool
	Output  cmdutil.Format
	Timeout time.Duration
}

// NewCmdDelete returns `group delete GROUP... --yes`.
func NewCmdDelete(f *cmdutil.Factory, runF func(context.Context, *DeleteOptions) error) *cobra.Command {
	o := &DeleteOptions{IO: f.IO, Admin: f.KafkaAdmin}
	c := &cobra.Command{
		Use:   "delete GROUP... --yes",
		Short: "Delete consumer groups and their committed offsets (needs --yes)",
		Long: `Delete consumer groups with their committed offsets. Kafka refuses a group
that still has members. Nothing happens without --yes.`,
		Example: `  deimos group delete old-billing --yes
  deimos group delete scratch-1 scratch-2 --yes --output json`,
		Args:              cmdutil.MinArgs(1, "at least one GROUP"),
		ValidArgsFunction: cmdutil.CompleteGroups(f),
		RunE: func(c *cobra.Command, args []string) error {
			o.Groups = args
			if !o.Yes {
				return errs.Usagef("group delete: refusing to delete %s without --yes (its committed offsets are lost)", strings.Join(args, ", "))
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return cmdutil.WithKafka(c.Context(), o.Timeout, o.Admin, func(ctx context.Context, adm *kadm.Client) error {
				rs, err := admin.DeleteGroups(ctx, adm, o.Groups)
				if werr := topic.WriteDeleted(o.IO, o.Output, rs); werr != nil {
					return werr
				}
				return err
			})
		},
	}
	c.Flags().BoolVarP(&o.Yes, "yes", "y", false, "really delete")
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	return c
}
