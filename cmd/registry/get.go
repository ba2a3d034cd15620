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

// GetOptions are `registry get`'s.
type GetOptions struct {
	IO         *cmdutil.IOStreams
	Registry   func() (*sr.Client, error)
	Subject    string
	Version    int // -1: latest
	ID         int
	Follow     bool
	SchemaOnly bool
	Output     cmdutil.Format
	Timeout    time.Duration
}

// NewCmdGet returns `registry get SUBJECT[@VERSION|@latest] | --id N`.
func NewCmdGet(f *cmdutil.Factory, runF func(context.Context, *GetOptions) error) *cobra.Command {
	o := &GetOptions{IO: f.IO, Registry: f.Registry}
	c := &cobra.Command{
		Use:   "get SUBJECT[@VERSION|@latest] | get --id N",
		Short: "Print a registered schema with its id, version and references",
		Long: `Print a schema: SUBJECT at a version (the latest when none is given), or the
schema with a global id (--id, with every subject version registered with it).

The text output starts with the subject, version, id, type and references
(NAME=SUBJECT@VERSION), then the schema. --schema-only prints the schema text
alone, ready to save to a file. --follow-references also prints every schema
it references, recursively, each before the schemas that use it.`,
		Example: `  deimos registry get orders-value
  deimos registry get orders-value@2 --schema-only > Order.avsc
  deimos registry get --id 2 --follow-references
  deimos registry get orders-value@latest --output json | jq -r .schema`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: cmdutil.FirstArg(cmdutil.CompleteSubjects(f)),
		RunE: func(c *cobra.Command, args []string) error {
			switch {
			case o.ID > 0 && len(args) > 0:
				return errs.Usagef("registry get: give SUBJECT[@VERSION] or --id, not both")
			case o.ID < 0 || c.Flags().Changed("id") && o.ID == 0:
				return errs.Usagef("--id %d: schema ids are positive", o.ID)
			case o.ID == 0 && len(args) == 0:
				return errs.Usagef("registry get: give SUBJECT[@VERSION] or --id N\nRun 'deimos registry get --help' for usage.")
			case len(args) == 1:
				s, v, err := admin.ParseSubjectVersion(args[0])
				if err != nil {
					return err
				}
				o.Subject, o.Version = s, v
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runGet(c.Context(), o)
		},
	}
	c.Flags().IntVar(&o.ID, "id", 0, "the schema with this global id")
	c.Flags().BoolVar(&o.Follow, "follow-references", false, "also print the referenced schemas, recursively")
	c.Flags().BoolVar(&o.SchemaOnly, "schema-only", false, "print only the schema text")
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	return c
}

func runGet(ctx context.Context, o *GetOptions) error {
	return cmdutil.WithRegistry(ctx, o.Timeout, o.Registry, func(ctx context.Context, cl *sr.Client) error {
		var si *admin.SchemaInfo
		var err error
		if o.ID > 0 {
			si, err = admin.GetSchemaByID(ctx, cl, o.ID, o.Follow)
		} else {
			si, err = admin.GetSchema(ctx, cl, o.Subject, o.Version, o.Follow)
		}
		if err != nil {
			return err
		}
		if o.Output.JSON() {
			return cmdutil.WriteJSON(o.IO, si)
		}
		if o.SchemaOnly {
			for _, r := range si.Resolved {
				fmt.Fprintln(o.IO.Out, strings.TrimRight(r.Schema, "\n"))
			}
			fmt.Fprintln(o.IO.Out, strings.TrimRight(si.Schema, "\n"))
			return nil
		}
		for _, r := range si.Resolved {
			if err := writeSchema(o.IO, &r); err != nil {
				return err
			}
			fmt.Fprintln(o.IO.Out)
		}
		return writeSchema(o.IO, si)
	})
}

func writeSchema(ios *cmdutil.IOStreams, si *admin.SchemaInfo) error {
	kv := cmdutil.NewTable(ios)
	if si.Subject != "" {
		kv.Row("Subject:", si.Subject)
		kv.Row("Version:", si.Version)
	}
	kv.Row("ID:", si.ID)
	kv.Row("Type:", si.Type)
	if len(si.UsedBy) > 0 {
		var s []string
		for _, u := range si.UsedBy {
			s = append(s, fmt.Sprintf("%s@%d", u.Subject, u.Version))
		}
		kv.Row("Used by:", strings.Join(s, " "))
	}
	if len(si.References) > 0 {
		kv.Row("References:", refList(si.References))
	}
	if err := kv.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(ios.Out)
	fmt.Fprintln(ios.Out, strings.TrimRight(si.Schema, "\n"))
	return nil
}
