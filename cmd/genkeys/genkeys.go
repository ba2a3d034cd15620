// Package genkeys is the `deimos gen-keys` command.
package genkeys

import (
	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
)

// NewCmd returns the `gen-keys` command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	_ = f
	return &cobra.Command{
		Use:   "gen-keys",
		Short: "Generate key schemas from value schemas, as Deimos does",
		RunE:  cmdutil.NotYet("gen-keys"),
	}
}
