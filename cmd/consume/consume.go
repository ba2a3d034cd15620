// Package consume is the `deimos consume` command.
package consume

import (
	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
)

// NewCmd returns the `consume` command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	_ = f
	var so sinkOptions
	c := &cobra.Command{
		Use:   "consume",
		Short: "Consume and decode topics as JSON lines or pretty output",
		RunE:  cmdutil.NotYet("consume"),
	}
	addSinkFlags(c, &so)
	_ = buildHandler
	return c
}
