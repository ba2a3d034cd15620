// Package events is the `deimos events` command.
package events

import (
	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
)

// NewCmd returns the `events` command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	_ = f
	c := &cobra.Command{
		Use:   "events",
		Short: "Inspect and retry checkpointed events (phobos_db_checkpoint)",
	}
	c.AddCommand(
		&cobra.Command{Use: "list", Short: "events list (not built yet)", RunE: cmdutil.NotYet("events list")},
		&cobra.Command{Use: "show", Short: "events show (not built yet)", RunE: cmdutil.NotYet("events show")},
		&cobra.Command{Use: "retry", Short: "events retry (not built yet)", RunE: cmdutil.NotYet("events retry")},
		&cobra.Command{Use: "delete", Short: "events delete (not built yet)", RunE: cmdutil.NotYet("events delete")},
		&cobra.Command{Use: "serve", Short: "events serve (not built yet)", RunE: cmdutil.NotYet("events serve")},
	)
	return c
}
