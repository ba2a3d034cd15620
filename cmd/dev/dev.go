// Package dev is the `deimos dev` command.
package dev

import (
	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
)

// NewCmd returns the `dev` command.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	_ = f
	return &cobra.Command{
		Use:   "dev",
		Short: "Run an in-memory Kafka broker and schema registry for local work",
		RunE:  cmdutil.NotYet("dev"),
	}
}
