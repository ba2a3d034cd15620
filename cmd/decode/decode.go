// Package decode is the `deimos decode` command.
package decode

import (
	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
)

// NewCmd returns the `decode` command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	_ = f
	return &cobra.Command{
		Use:   "decode",
		Short: "Decode wire bytes into JSON, or explain a framed message",
		RunE:  cmdutil.NotYet("decode"),
	}
}
