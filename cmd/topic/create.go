package topic

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/admin"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// CreateOptions are `topic create`'s.
type CreateOptions struct {
	IO         *cmdutil.IOStreams
	Admin      func(context.Context) (*kadm.Client, error)
	Config     func() (*config.Config, error)
	Topics     []string
	Partitions int
	Replicas   int
	Configs    []string
	FromConfig bool
	DryRun     bool
	Output     cmdutil.Format
	Timeout    time.Duration
}

// NewCmdCreate returns `topic create TOPIC... | --from-config`.
func NewCmdCreate(f *cmdutil.Factory, runF func(context.Context, *CreateOptions) error) *cobra.Command {
	o := &CreateOptions{IO: f.IO, Admin: f.KafkaAdmin, Config: f.Config}
	c := &cobra.Command{
		Use:   "create TOPIC... [-p N] [-r N] [-c KEY=VALUE]... | create --from-config",
		Short: "Create topics, or every topic deimos.yaml produces to that is missing",
		Long: `Create topics with -p partitions and -r replicas (the broker's defaults when
not given) and topic configs (-c cleanup.policy=compact, repeatable).

--from-config creates every topic of the config file that does not exist yet:
each topics[] entry (with producers.topic_prefix) with the partitions,
replication_factor and configs it names, and each poller's topic. -p and -r
apply where the config names none. Existing topics are reported and left
alone.

--dry-run has the broker validate the requests and creates nothing.`,
		Example: `  deimos topic create payments -p 6 -r 3   # [needs a cluster of 3 brokers]
  deimos topic create customers -p 3 -c cleanup.policy=compact -c retention.ms=-1
  deimos topic create --from-config --dry-run
  deimos topic create --from-config`,
		RunE: func(c *cobra.Command, args []string) error {
			o.Topics = args
			if o.FromConfig && len(args) > 0 {
				return errs.Usagef("topic create: give TOPIC names or --from-config, not both")
			}
			if !o.FromConfig && len(args) == 0 {
				return errs.Usagef("topic create: give at least one TOPIC, or --from-config\nRun 'deimos topic create --help' for usage.")
			}
			if o.Partitions == 0 || o.Partitions < -1 || o.Partitions > math.MaxInt32 {
				return errs.Usagef("--partitions %d: must be a positive count (or -1 for the broker's default)", o.Partitions)
			}
			if o.Replicas == 0 || o.Replicas < -1 || o.Replicas > math.MaxInt16 {
				return errs.Usagef("--replicas %d: must be a positive count (or -1 for the broker's default)", o.Replicas)
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runCreate(c.Context(), o)
		},
	}
	fl := c.Flags()
	fl.IntVarP(&o.Partitions, "partitions", "p", -1, "partitions (-1: the broker's default)")
	fl.IntVarP(&o.Replicas, "replicas", "r", -1, "replication factor (-1: the broker's default)")
	fl.StringArrayVarP(&o.Configs, "config", "c", nil, "topic config `KEY=VALUE` (repeatable)")
	fl.BoolVar(&o.FromConfig, "from-config", false, "create the config file's missing topics")
	fl.BoolVar(&o.DryRun, "dry-run", false, "validate on the broker, create nothing")
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	return c
}

func runCreate(ctx context.Context, o *CreateOptions) error {
	configs := map[string]string{}
	for _, kv := range o.Configs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return errs.Usagef("--config %q: use KEY=VALUE (e.g. cleanup.policy=compact)", kv)
		}
		configs[k] = v
	}
	var topics []admin.NewTopic
	if o.FromConfig {
		cfg, err := o.Config()
		if err != nil {
			return err
		}
		topics = admin.ConfigTopics(cfg, int32(o.Partitions), int16(o.Replicas))
		if len(topics) == 0 {
			return errs.Usagef("topic create --from-config: the config (%s) names no topics (topics[] or pollers[].topic)", sourceName(cfg))
		}
		for i := range topics {
			if len(configs) > 0 && topics[i].Configs == nil {
				topics[i].Configs = configs
			}
		}
	} else {
		for _, t := range o.Topics {
			topics = append(topics, admin.NewTopic{Name: t, Partitions: int32(o.Partitions), ReplicationFactor: int16(o.Replicas), Configs: configs})
		}
	}
	return cmdutil.WithKafka(ctx, o.Timeout, o.Admin, func(ctx context.Context, adm *kadm.Client) error {
		rs, err := admin.CreateTopics(ctx, adm, topics, admin.CreateOptions{DryRun: o.DryRun, SkipExisting: o.FromConfig})
		if werr := writeCreated(o, rs); werr != nil {
			return werr
		}
		return err
	})
}

func sourceName(cfg *config.Config) string {
	if cfg.Source == "" {
		return "no file"
	}
	return cfg.Source
}

func writeCreated(o *CreateOptions, rs []admin.CreateResult) error {
	if rs == nil {
		rs = []admin.CreateResult{}
	}
	if o.Output.JSON() {
		return cmdutil.WriteJSON(o.IO, rs)
	}
	if len(rs) == 0 {
		return nil
	}
	header := []string{"TOPIC", "PARTITIONS", "REPLICAS", "STATUS"}
	if o.FromConfig {
		header = append(header, "FROM")
	}
	header = append(header, "ERROR")
	t := cmdutil.NewTable(o.IO, header...).OmitEmpty("ERROR")
	count := func(n int64) string {
		if n < 0 {
			return "default"
		}
		return strconv.FormatInt(n, 10)
	}
	for _, r := range rs {
		row := []any{r.Name, count(int64(r.Partitions)), count(int64(r.ReplicationFactor)), r.Status}
		if o.FromConfig {
			row = append(row, r.From)
		}
		t.Row(append(row, r.Error)...)
	}
	return t.Flush()
}
