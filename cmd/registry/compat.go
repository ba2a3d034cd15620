package registry

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/admin"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// NewCmdCompatLevel returns `registry compat-level get|set`.
func NewCmdCompatLevel(f *cmdutil.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "compat-level",
		Short: "Read or set the compatibility level of subjects or the registry",
		Long: `Read or set the compatibility level the registry enforces when a schema is
registered: BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL,
FULL_TRANSITIVE or NONE. --global is the registry-wide default, which every
subject without a level of its own inherits.`,
		Example: `  deimos registry compat-level get orders-value
  deimos registry compat-level get --global
  deimos registry compat-level set --level FULL orders-value`,
	}
	c.AddCommand(NewCmdCompatGet(f, nil), NewCmdCompatSet(f, nil))
	return c
}

// CompatOptions are `registry compat-level get|set`'s.
type CompatOptions struct {
	IO       *cmdutil.IOStreams
	Registry func() (*sr.Client, error)
	Subjects []string // empty with Global
	Global   bool
	Level    string // set
	Output   cmdutil.Format
	Timeout  time.Duration
}

func subjectsOrGlobal(o *CompatOptions, args []string, verb string) error {
	o.Subjects = args
	if o.Global == (len(args) > 0) {
		return errs.Usagef("registry compat-level %s: give SUBJECT... or --global (one of them)", verb)
	}
	return nil
}

// NewCmdCompatGet returns `registry compat-level get SUBJECT... | --global`.
func NewCmdCompatGet(f *cmdutil.Factory, runF func(context.Context, *CompatOptions) error) *cobra.Command {
	o := &CompatOptions{IO: f.IO, Registry: f.Registry}
	c := &cobra.Command{
		Use:   "get SUBJECT... | get --global",
		Short: "Print the compatibility level of subjects (and whether it is their own or the global one)",
		Example: `  deimos registry compat-level get orders-value
  deimos registry compat-level get --global --output json`,
		ValidArgsFunction: cmdutil.CompleteSubjects(f),
		RunE: func(c *cobra.Command, args []string) error {
			if err := subjectsOrGlobal(o, args, "get"); err != nil {
				return err
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runCompat(c.Context(), o, func(ctx context.Context, cl *sr.Client, subject string) (*admin.CompatLevel, error) {
				return admin.GetCompatLevel(ctx, cl, subject)
			})
		},
	}
	c.Flags().BoolVar(&o.Global, "global", false, "the registry-wide level")
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	return c
}

// NewCmdCompatSet returns `registry compat-level set --level L SUBJECT... | --global`.
func NewCmdCompatSet(f *cmdutil.Factory, runF func(context.Context, *CompatOptions) error) *cobra.Command {
	o := &CompatOptions{IO: f.IO, Registry: f.Registry}
	c := &cobra.Command{
		Use:   "set --level LEVEL SUBJECT... | set --level LEVEL --global",
		Short: "Set the compatibility level of subjects or the registry-wide default",
		Example: `  deimos registry compat-level set --level FULL orders-value
  deimos registry compat-level set --level BACKWARD --global`,
		ValidArgsFunction: cmdutil.CompleteSubjects(f),
		RunE: func(c *cobra.Command, args []string) error {
			if err := subjectsOrGlobal(o, args, "set"); err != nil {
				return err
			}
			if o.Level == "" {
				return errs.Usagef("registry compat-level set: --level is required (%s)", strings.Join(admin.Levels, ", "))
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runCompat(c.Context(), o, func(ctx context.Context, cl *sr.Client, subject string) (*admin.CompatLevel, error) {
				return admin.SetCompatLevel(ctx, cl, subject, o.Level)
			})
		},
	}
	c.Flags().BoolVar(&o.Global, "global", false, "the registry-wide level")
	c.Flags().StringVar(&o.Level, "level", "", "BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE")
	_ = c.RegisterFlagCompletionFunc("level", cobra.FixedCompletions(admin.Levels, cobra.ShellCompDirectiveNoFileComp))
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	return c
}

func runCompat(ctx context.Context, o *CompatOptions, do func(context.Context, *sr.Client, string) (*admin.CompatLevel, error)) error {
	return cmdutil.WithRegistry(ctx, o.Timeout, o.Registry, func(ctx context.Context, cl *sr.Client) error {
		subjects := o.Subjects
		if o.Global {
			subjects = []string{""}
		}
		out := []admin.CompatLevel{}
		for _, s := range subjects {
			l, err := do(ctx, cl, s)
			if err != nil {
				return err
			}
			out = append(out, *l)
		}
		if o.Output.JSON() {
			if o.Global {
				return cmdutil.WriteJSON(o.IO, out[0])
			}
			return cmdutil.WriteJSON(o.IO, out)
		}
		t := cmdutil.NewTable(o.IO, "SUBJECT", "LEVEL", "SOURCE")
		for _, l := range out {
			s := l.Subject
			if s == "" {
				s = "(global)"
			}
			t.Row(s, l.Level, l.Source)
		}
		return t.Flush()
	})
}
