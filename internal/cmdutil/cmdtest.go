package cmdutil

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// TestFactory is a Factory over buffers with an empty environment, for
// tests of a command's flags (with a runF that captures its options).
func TestFactory() *Factory {
	ios, _, _ := Test("")
	return &Factory{IO: ios, Getenv: func(string) (string, bool) { return "", false }}
}

// ExecuteForTest runs c alone with args, flag errors as usage errors the
// way the root command makes them, and returns RunE's error.
func ExecuteForTest(c *cobra.Command, args ...string) error {
	c.SetArgs(args)
	c.SetOut(&strings.Builder{})
	c.SetErr(&strings.Builder{})
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return errs.Usage(err) })
	return c.Execute()
}

// JoinInts prints partition or version numbers as "0,1,2".
func JoinInts[T ~int | ~int32 | ~int64](xs []T) string {
	var b strings.Builder
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(int64(x), 10))
	}
	return b.String()
}
