// Package poller is the `deimos poller` command.
package poller

import (
	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
)

// NewCmd returns the `poller` command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	_ = f
	c := &cobra.Command{
		Use:   "poller",
		Short: "Publish new and changed database rows to Kafka",
	}
	c.AddCommand(
		&cobra.Command{Use: "run", Short: "poller run (not built yet)", RunE: cmdutil.NotYet("poller run")},
		&cobra.Command{Use: "status", Short: "poller status (not built yet)", RunE: cmdutil.NotYet("poller status")},
		&cobra.Command{Use: "reset", Short: "poller reset (not built yet)", RunE: cmdutil.NotYet("poller reset")},
	)
	return c
}
