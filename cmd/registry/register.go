package registry

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/admin"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// RegisterOptions are `registry register`'s.
type RegisterOptions struct {
	IO         *cmdutil.IOStreams
	Registry   func() (*sr.Client, error)
	Subject    string
	File       string
	Type       string
	References []string
	Output     cmdutil.Format
	Timeout    time.Duration
}

// NewCmdRegister returns `registry register SUBJECT FILE`.
func NewCmdRegister(f *cmdutil.Factory, runF func(context.Context, *RegisterOptions) error) *cobra.Command {
	o := &RegisterOptions{IO: f.IO, Registry: f.Registry}
	c := &cobra.Command{
		Use:   "register SUBJECT FILE [--reference NAME=SUBJECT@VERSION]...",
		Short: "Register a schema file under a subject; prints its id and version",
		Long: `Register the schema in FILE ("-" reads stdin) under SUBJECT and print the id
and version the registry gave it. A schema already registered under the
subject keeps its id and version.

The type comes from the extension (.avsc Avro, .proto Protobuf, .json JSON
Schema) unless --type says. --reference NAME=SUBJECT@VERSION declares a
schema this one uses: NAME is the Avro full name, the .proto import path or
the JSON $ref; @latest (or no @) pins the subject's latest version.

The registry checks the subject's compatibility level: an incompatible schema
is its 409 (exit 1), an invalid one its 422 (exit 2).`,
		Example: `  deimos registry register orders-value schemas/com/acme/Order.avsc
  deimos registry register orders-value Order.avsc --reference com.acme.Address=address-value@1
  deimos registry register order-events-value order.proto --reference acme/address.proto=address-proto-value
  cat Order.avsc | deimos registry register orders-value - --type avro --output json`,
		Args:              cmdutil.ExactArgs(2, "SUBJECT and FILE"),
		ValidArgsFunction: registerArgs(f),
		RunE: func(c *cobra.Command, args []string) error {
			o.Subject, o.File = args[0], args[1]
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runRegister(c.Context(), o)
		},
	}
	c.Flags().StringVar(&o.Type, "type", "", "schema type: avro, protobuf or json (default: from the extension)")
	c.Flags().StringArrayVar(&o.References, "reference", nil, "a referenced schema `NAME=SUBJECT@VERSION` (repeatable)")
	cmdutil.AddOutputFlag(c, &o.Output)
	cmdutil.AddTimeoutFlag(c, &o.Timeout)
	_ = c.RegisterFlagCompletionFunc("type", cobra.FixedCompletions([]string{"avro", "protobuf", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// registerArgs completes SUBJECT from the registry, then FILE from disk.
func registerArgs(f *cmdutil.Factory) cobra.CompletionFunc {
	subjects := cmdutil.CompleteSubjects(f)
	return func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return subjects(c, args, toComplete)
		}
		if len(args) == 1 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

func runRegister(ctx context.Context, o *RegisterOptions) error {
	var refs []admin.Reference
	for _, r := range o.References {
		ref, err := admin.ParseReference(r)
		if err != nil {
			return err
		}
		refs = append(refs, ref)
	}
	typ, err := schemaType(o.Type, o.File)
	if err != nil {
		return err
	}
	var b []byte
	if o.File == "-" {
		b, err = io.ReadAll(o.IO.In)
	} else {
		b, err = os.ReadFile(o.File)
	}
	if err != nil {
		return errs.Usagef("registry register: %w", err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return errs.Usagef("registry register: %s is empty", o.File)
	}
	return cmdutil.WithRegistry(ctx, o.Timeout, o.Registry, func(ctx context.Context, cl *sr.Client) error {
		si, err := admin.Register(ctx, cl, o.Subject, string(b), typ, refs)
		if err != nil {
			return err
		}
		if o.Output.JSON() {
			return cmdutil.WriteJSON(o.IO, si)
		}
		fmt.Fprintf(o.IO.Out, "%s version %d id %d\n", si.Subject, si.Version, si.ID)
		return nil
	})
}

func schemaType(flag, file string) (sr.SchemaType, error) {
	if flag != "" {
		return admin.ParseSchemaType(flag)
	}
	switch strings.ToLower(filepath.Ext(file)) {
	case ".avsc", ".avro":
		return sr.TypeAvro, nil
	case ".proto":
		return sr.TypeProtobuf, nil
	case ".json":
		return sr.TypeJSON, nil
	}
	if file == "-" {
		return 0, errs.Usagef("registry register: reading stdin, say the schema type with --type avro|protobuf|json")
	}
	return 0, errs.Usagef("registry register: cannot tell the schema type of %s from its extension: use --type avro|protobuf|json", file)
}
