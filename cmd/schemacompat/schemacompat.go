// Package schemacompat is the `deimos schema-compat` command.
package schemacompat

import (
	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
)

// NewCmd returns the `schema-compat` command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	_ = f
	return &cobra.Command{
		Use:   "schema-compat",
		Short: "Check Avro/Protobuf schema compatibility",
		RunE:  cmdutil.NotYet("schema-compat"),
	}
}
