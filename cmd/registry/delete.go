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
	"github.com/deimos-cli/deimos/pkg/errs"
)

// DeleteOptions are `registry delete`'s.
type DeleteOptions struct {
	IO        *cmdutil.IOStreams
	Registry  func() (*sr.Client, error)
	Subject   string
	Version   int // 0: the whole subject; -1: the latest version
	Permanent bool
	Yes       bool
	Output    cmdutil.Format
	Timeout   time.Duration
}

// NewCmdDelete returns `registry delete SUBJECT[@VERSION] --yes [--permanent]`.
func NewCmdDelete(f *cmdutil.Factory, runF func(context.Context, *DeleteOptions) error) *cobra.Command {
	o := &DeleteOptions{IO: f.IO, Registry: f.Registry}
	c := &cobra.Command{
		Use:   "delete SUBJECT[@VERSION|@latest] --yes [--permanent]",
		Short: "Delete a subject or one version of it (needs --yes)",
		Long: `Delete a subject, or one version of it. The delete is soft: the registry
keeps the schemas and their ids (records written with them still decode) and
the subject can be registered again. --permanent removes them for good (it
soft-deletes first when needed, as the registry requires). Nothing happens
without --yes.`,
		Example: `  deimos registry delete scratch-value --yes
  deimos registry delete orders-value@3 --yes
  deimos registry delete scratch-value --yes --permanent`,
		Args:              cmdutil.ExactArgs(1, "one SUBJECT[@VERSION]"),
		ValidArgsFunction: cmdutil.FirstArg(cmdutil.CompleteSubjects(f)),
		RunE: func(c *cobra.Command, args []string) error {
			s, v, err := admin.ParseSubjectVersion(args[0])
			if err != nil {
				return err
			}
			if !strings.Contains(args[0], "@") {
				v = 0
			}
			o.Subject, o.Version = s, v
			if !o.Yes {
				how := "soft-delete"
				if o.Permanent {
					how = "permanently delete"
				}
				return errs.Usagef("registry delete: refusing to %s %s without --yes", how, args[0])
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return cmdutil.WithRegistry(c.Context(), o.Timeout, o.Registry, func(ctx context.Context, cl *sr.Client) error {
				d, err := admin.DeleteSubject(ctx, cl, o.Subject, o.Version, o.Permanent)
				if err != nil {
					return err
				}
				if o.Output.JSON() {
					return cmdutil.WriteJSON(o.IO, d)
				}
				how := "soft"
				if d.Permanent {
					how = "permanent"
				}
				fmt.Fprintf(o.IO.Out, "deleted %s versions %s (%s)\n", d.Subject, cmdutil.JoinInts(d.Versions), how)
				return nil
			})
		},
	}
	c.Flags().BoolVarP(&o.Yes, "yes", "y", false, "really delete")
	c.Flags().BoolVar(&o.Permanent, "permanent", false, "delete for good (hard delete), not only soft")
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	return c
}
