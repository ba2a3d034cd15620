// Package migrate is the `deimos migrate` command.
package migrate

import (
	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
)

// NewCmd returns the `migrate` command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	_ = f
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Create and upgrade the tables deimos shares with Deimos",
	}
	c.AddCommand(
		&cobra.Command{Use: "up", Short: "migrate up (not built yet)", RunE: cmdutil.NotYet("migrate up")},
		&cobra.Command{Use: "status", Short: "migrate status (not built yet)", RunE: cmdutil.NotYet("migrate status")},
		&cobra.Command{Use: "sql", Short: "migrate sql (not built yet)", RunE: cmdutil.NotYet("migrate sql")},
		newGenTableCmd(f),
	)
	return c
}
