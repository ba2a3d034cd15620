package migrate

// `migrate gen-table` belongs to the database-consumer work (table sinks).

import (
	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
)

func newGenTableCmd(f *cmdutil.Factory) *cobra.Command {
	_ = f
	return &cobra.Command{Use: "gen-table TABLE --schema NAME", Short: "Print CREATE TABLE for a schema (not built yet)", RunE: cmdutil.NotYet("migrate gen-table")}
}
