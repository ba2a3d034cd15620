// Package registry is the `deimos registry` command group: subjects,
// versions, get, register, compat-level and delete.
package registry

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/admin"
)

// NewCmd returns `deimos registry` and its subcommands.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "registry",
		Short: "Subjects, versions and compatibility levels of the schema registry",
		Long: `Inspect and manage a Confluent-compatible schema registry with the URL,
credentials and TLS settings of deimos.yaml (or --registry /
DEIMOS_REGISTRY_URL).

Exit codes: 0 done, 1 the registry refused (404 not found, 409 incompatible
schema), 2 usage, an invalid schema (422) or refused credentials (401, 403),
3 registry unreachable.`,
		Example: `  deimos registry subjects --prefix orders
  deimos registry get orders-value@latest
  deimos registry register orders-value schemas/com/acme/Order.avsc
  deimos registry compat-level set --level FULL orders-value`,
	}
	c.AddCommand(NewCmdSubjects(f, nil), NewCmdVersions(f, nil), NewCmdGet(f, nil), NewCmdRegister(f, nil),
		NewCmdCompatLevel(f), NewCmdDelete(f, nil))
	return c
}

// SubjectsOptions are `registry subjects`'s.
type SubjectsOptions struct {
	IO       *cmdutil.IOStreams
	Registry func() (*sr.Client, error)
	Prefix   string
	Deleted  bool
	Output   cmdutil.Format
	Timeout  time.Duration
}

// NewCmdSubjects returns `registry subjects [--prefix P]`.
func NewCmdSubjects(f *cmdutil.Factory, runF func(context.Context, *SubjectsOptions) error) *cobra.Command {
	o := &SubjectsOptions{IO: f.IO, Registry: f.Registry}
	c := &cobra.Command{
		Use:   "subjects [--prefix P]",
		Short: "List subjects, one per line",
		Example: `  deimos registry subjects
  deimos registry subjects --prefix orders --output json
  deimos registry subjects --deleted`,
		Args: cmdutil.ExactArgs(0, "no arguments (use --prefix to filter)"),
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return cmdutil.WithRegistry(c.Context(), o.Timeout, o.Registry, func(ctx context.Context, cl *sr.Client) error {
				ss, err := admin.Subjects(ctx, cl, o.Prefix, o.Deleted)
				if err != nil {
					return err
				}
				if o.Output.JSON() {
					return cmdutil.WriteJSON(o.IO, ss)
				}
				for _, s := range ss {
					fmt.Fprintln(o.IO.Out, s)
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&o.Prefix, "prefix", "", "only subjects starting with this")
	c.Flags().BoolVar(&o.Deleted, "deleted", false, "include soft-deleted subjects")
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	return c
}

// VersionsOptions are `registry versions`'s.
type VersionsOptions struct {
	IO       *cmdutil.IOStreams
	Registry func() (*sr.Client, error)
	Subject  string
	Deleted  bool
	Output   cmdutil.Format
	Timeout  time.Duration
}

// NewCmdVersions returns `registry versions SUBJECT`.
func NewCmdVersions(f *cmdutil.Factory, runF func(context.Context, *VersionsOptions) error) *cobra.Command {
	o := &VersionsOptions{IO: f.IO, Registry: f.Registry}
	c := &cobra.Command{
		Use:   "versions SUBJECT",
		Short: "List a subject's versions with their schema ids, types and references",
		Example: `  deimos registry versions orders-value
  deimos registry versions orders-value --output json | jq '.[-1].id'`,
		Args:              cmdutil.ExactArgs(1, "one SUBJECT"),
		ValidArgsFunction: cmdutil.FirstArg(cmdutil.CompleteSubjects(f)),
		RunE: func(c *cobra.Command, args []string) error {
			o.Subject = args[0]
			if runF != nil {
				return runF(c.Context(), o)
			}
			return cmdutil.WithRegistry(c.Context(), o.Timeout, o.Registry, func(ctx context.Context, cl *sr.Client) error {
				vs, err := admin.Versions(ctx, cl, o.Subject, o.Deleted)
				if err != nil {
					return err
				}
				if o.Output.JSON() {
					return cmdutil.WriteJSON(o.IO, vs)
				}
				t := cmdutil.NewTable(o.IO, "VERSION", "ID", "TYPE", "REFERENCES")
				for _, v := range vs {
					t.Row(v.Version, v.ID, v.Type, refList(v.References))
				}
				return t.Flush()
			})
		},
	}
	c.Flags().BoolVar(&o.Deleted, "deleted", false, "include soft-deleted versions")
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	return c
}

func refList(rs []admin.Reference) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = fmt.Sprintf("%s=%s@%d", r.Name, r.Subject, r.Version)
	}
	return strings.Join(s, " ")
}
