package consume

// This file belongs to the database-consumer work (table sinks, --exec
// handlers, --checkpoint). The consume command calls addSinkFlags when it
// builds its flags and buildHandler before it starts reading; a nil handler
// means "print records only".

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/consume"
)

// sinkOptions are the flags of the database consumers.
type sinkOptions struct{}

func addSinkFlags(c *cobra.Command, o *sinkOptions) { _, _ = c, o }

// buildHandler returns the handler for the sink flags, or nil when none is set.
// group is the consumer group (-g), needed by checkpoints.
func buildHandler(ctx context.Context, f *cmdutil.Factory, cfg *config.Config, o *sinkOptions, group string) (consume.Handler, error) {
	_, _, _, _, _ = ctx, f, cfg, o, group
	return nil, nil
}
