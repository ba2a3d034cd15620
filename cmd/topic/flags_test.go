package topic

import (
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/errs"
)

func TestFlagsParse(t *testing.T) {
	var lo *ListOptions
	if err := cmdutil.ExecuteForTest(NewCmdList(cmdutil.TestFactory(), func(_ context.Context, o *ListOptions) error { lo = o; return nil }),
		"--regex", "a.*", "--regex", "b", "-i", "-o", "table", "--timeout", "5s"); err != nil {
		t.Fatal(err)
	}
	if len(lo.Regex) != 2 || !lo.Internal || lo.Output != cmdutil.FormatText || lo.Timeout.Seconds() != 5 {
		t.Fatalf("list options: %+v", lo)
	}
	var oo *OffsetsOptions
	if err := cmdutil.ExecuteForTest(NewCmdOffsets(cmdutil.TestFactory(), func(_ context.Context, o *OffsetsOptions) error { oo = o; return nil }),
		"orders", "--at", "-1h", "-p", "0,2", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	if oo.Topic != "orders" || oo.At != "-1h" || len(oo.Partitions) != 2 || !oo.Output.JSON() {
		t.Fatalf("offsets options: %+v", oo)
	}
	var co *CreateOptions
	if err := cmdutil.ExecuteForTest(NewCmdCreate(cmdutil.TestFactory(), func(_ context.Context, o *CreateOptions) error { co = o; return nil }),
		"a", "b", "-p", "6", "-r", "3", "-c", "cleanup.policy=compact"); err != nil {
		t.Fatal(err)
	}
	if len(co.Topics) != 2 || co.Partitions != 6 || co.Replicas != 3 || co.Configs[0] != "cleanup.policy=compact" {
		t.Fatalf("create options: %+v", co)
	}
}

// Usage mistakes are exit 2 before anything is sent, and a delete without
// --yes never reaches the run.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		c    *cobra.Command
		args []string
		msg  string
	}{
		{"delete without --yes", NewCmdDelete(cmdutil.TestFactory(), func(context.Context, *DeleteOptions) error { t.Fatal("ran"); return nil }), []string{"orders"}, "without --yes"},
		{"delete without topic", NewCmdDelete(cmdutil.TestFactory(), nil), []string{"--yes"}, "at least one TOPIC"},
		{"create nothing", NewCmdCreate(cmdutil.TestFactory(), nil), nil, "at least one TOPIC"},
		{"create both", NewCmdCreate(cmdutil.TestFactory(), nil), []string{"x", "--from-config"}, "not both"},
		{"create zero partitions", NewCmdCreate(cmdutil.TestFactory(), nil), []string{"x", "-p", "0"}, "--partitions 0"},
		{"describe two", NewCmdDescribe(cmdutil.TestFactory(), nil), []string{"a", "b"}, "one TOPIC"},
		{"bad output", NewCmdList(cmdutil.TestFactory(), nil), []string{"-o", "yaml"}, "not text or json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := cmdutil.ExecuteForTest(tt.c, tt.args...)
			if errs.ExitCode(err) != errs.CodeUsage || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err %v (exit %d), want a usage error with %q", err, errs.ExitCode(err), tt.msg)
			}
		})
	}
}
