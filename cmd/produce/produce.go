// Package produce is the `deimos produce` command.
package produce

import (
	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
)

// NewCmd returns the `produce` command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	_ = f
	return &cobra.Command{
		Use:   "produce",
		Short: "Produce schema-encoded messages from JSON lines",
		RunE:  cmdutil.NotYet("produce"),
	}
}
