package cmdutil

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/admin"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// KafkaAdmin returns a kadm client over the configured brokers once one
// answers within ctx (exit 3 otherwise). The caller closes it.
func (f *Factory) KafkaAdmin(ctx context.Context) (*kadm.Client, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	return admin.Kafka(ctx, cfg.Kafka)
}

// Registry returns the schema registry client; none configured is exit 2.
func (f *Factory) Registry() (*sr.Client, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	return admin.Registry(cfg.Schema.Registry)
}

// AddTimeoutFlag adds --timeout to c: how long the
// command may wait for the broker or registry before exit 3.
func AddTimeoutFlag(c *cobra.Command, d *time.Duration) {
	c.Flags().DurationVar(d, "timeout", admin.DefaultTimeout, "give up (exit 3) when the broker or registry has not answered within this")
}

// completionTimeout bounds a completion request: a shell waits on it.
const completionTimeout = 5 * time.Second

// CompleteNames is a cobra completion function offering names from a live
// service, filtered by what is typed. It offers nothing (and no file
// names) when the service cannot be reached, so a shell never hangs long
// or prints an error.
func CompleteNames(list func(ctx context.Context) ([]string, error)) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ctx := c.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, completionTimeout)
		defer cancel()
		names, err := list(ctx)
		if err != nil {
			cobra.CompDebugln("deimos: "+err.Error(), true)
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		taken := map[string]bool{}
		for _, a := range args {
			taken[a] = true
		}
		var out []cobra.Completion
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) && !taken[n] {
				out = append(out, n)
			}
		}
		sort.Strings(out)
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteTopics completes topic names from the cluster (internal ones
// only when the prefix asks for them: "__").
func CompleteTopics(f *Factory) cobra.CompletionFunc {
	return CompleteNames(func(ctx context.Context) ([]string, error) {
		adm, err := f.KafkaAdmin(ctx)
		if err != nil {
			return nil, err
		}
		defer adm.Close()
		ts, err := admin.ListTopics(ctx, adm, admin.TopicFilter{Internal: true})
		if err != nil {
			return nil, err
		}
		names := make([]string, len(ts))
		for i, t := range ts {
			names[i] = t.Name
		}
		return names, nil
	})
}

// CompleteGroups completes consumer group names from the cluster.
func CompleteGroups(f *Factory) cobra.CompletionFunc {
	return CompleteNames(func(ctx context.Context) ([]string, error) {
		adm, err := f.KafkaAdmin(ctx)
		if err != nil {
			return nil, err
		}
		defer adm.Close()
		return admin.GroupNames(ctx, adm)
	})
}

// CompleteSubjects completes subject names from the schema registry.
func CompleteSubjects(f *Factory) cobra.CompletionFunc {
	return CompleteNames(func(ctx context.Context) ([]string, error) {
		cl, err := f.Registry()
		if err != nil {
			return nil, err
		}
		return admin.Subjects(ctx, cl, "", false)
	})
}

// MinArgs is cobra.MinimumNArgs with a usage-error exit code and a clearer message.
func MinArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return errs.Usagef("%s: expected %s\nRun '%s --help' for usage.", cmd.CommandPath(), what, cmd.CommandPath())
		}
		return nil
	}
}

// WithKafka opens an admin client with open and runs fn with it, both
// under timeout (a broker that stops answering ends in exit 3).
func WithKafka(ctx context.Context, timeout time.Duration, open func(context.Context) (*kadm.Client, error), fn func(context.Context, *kadm.Client) error) error {
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	adm, err := open(ctx)
	if err != nil {
		return err
	}
	defer adm.Close()
	return fn(ctx, adm)
}

// WithRegistry opens the registry client with open and runs fn with it
// under timeout.
func WithRegistry(ctx context.Context, timeout time.Duration, open func() (*sr.Client, error), fn func(context.Context, *sr.Client) error) error {
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	cl, err := open()
	if err != nil {
		return err
	}
	return fn(ctx, cl)
}

func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	if d <= 0 {
		d = admin.DefaultTimeout
	}
	return context.WithTimeout(ctx, d)
}

// FirstArg applies a completion to the first positional argument only.
func FirstArg(fn cobra.CompletionFunc) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return fn(c, args, toComplete)
	}
}
