package poller

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// The poller commands' flags and arguments parse into their options
// without a database or a broker.
func TestFlagsParse(t *testing.T) {
	var ro *RunOptions
	if err := cmdutil.ExecuteForTest(NewCmdRun(cmdutil.TestFactory(), func(_ context.Context, o *RunOptions) error { ro = o; return nil }),
		"--once", "--http-addr", ":9", "A", "B"); err != nil {
		t.Fatal(err)
	}
	if !ro.once || ro.metricsAddr != ":9" || strings.Join(ro.Names, ",") != "A,B" {
		t.Fatalf("run options: %+v", ro)
	}
	var so *StatusOptions
	if err := cmdutil.ExecuteForTest(NewCmdStatus(cmdutil.TestFactory(), func(_ context.Context, o *StatusOptions) error { so = o; return nil }), "-o", "json", "A"); err != nil ||
		!so.output.JSON() || so.Names[0] != "A" {
		t.Fatalf("status options: %+v %v", so, err)
	}
	for to, want := range map[string]time.Time{
		"":                     {},
		"2024-05-01T00:00:00Z": time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
		"2024-05-01 12:30:00":  time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC),
	} {
		var rs *ResetOptions
		args := []string{"W:deletions"}
		if to != "" {
			args = append(args, "--to", to)
		}
		if err := cmdutil.ExecuteForTest(NewCmdReset(cmdutil.TestFactory(), func(_ context.Context, o *ResetOptions) error { rs = o; return nil }), args...); err != nil {
			t.Fatal(err)
		}
		if rs.Name != "W:deletions" || !rs.To.Equal(want) {
			t.Errorf("reset --to %q: %+v, want %v", to, rs, want)
		}
	}
}

// Usage mistakes are exit 2 before the config or the database is read.
func TestUsageErrors(t *testing.T) {
	never := func(context.Context, *ResetOptions) error { t.Fatal("ran"); return nil }
	tests := []struct {
		name string
		c    *cobra.Command
		args []string
		msg  string
	}{
		{"reset no name", NewCmdReset(cmdutil.TestFactory(), never), nil, "one poller name"},
		{"reset two names", NewCmdReset(cmdutil.TestFactory(), never), []string{"a", "b"}, "one poller name"},
		{"reset bad time", NewCmdReset(cmdutil.TestFactory(), never), []string{"a", "--to", "yesterday-ish"}, "--to"},
		{"status bad output", NewCmdStatus(cmdutil.TestFactory(), nil), []string{"-o", "yaml"}, "not text or json"},
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
