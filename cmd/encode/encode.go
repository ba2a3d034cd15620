// Package encode is the `deimos encode` command.
package encode

import (
	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
)

// NewCmd returns the `encode` command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	_ = f
	return &cobra.Command{
		Use:   "encode",
		Short: "Encode JSON payloads into wire bytes (Avro, Protobuf, JSON)",
		RunE:  cmdutil.NotYet("encode"),
	}
}
