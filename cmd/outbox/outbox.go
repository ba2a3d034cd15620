// Package outbox is the `deimos outbox` command.
package outbox

import (
	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
)

// NewCmd returns the `outbox` command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	_ = f
	c := &cobra.Command{
		Use:   "outbox",
		Short: "Relay Deimos's kafka_messages outbox table into Kafka",
	}
	c.AddCommand(
		&cobra.Command{Use: "run", Short: "outbox run (not built yet)", RunE: cmdutil.NotYet("outbox run")},
		&cobra.Command{Use: "status", Short: "outbox status (not built yet)", RunE: cmdutil.NotYet("outbox status")},
	)
	return c
}
