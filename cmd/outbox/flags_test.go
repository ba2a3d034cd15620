package outbox

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// The flags of every outbox command parse into its options without a
// database or a broker (runF captures them).
func TestFlagsParse(t *testing.T) {
	var ro *RunOptions
	if err := cmdutil.ExecuteForTest(NewCmdRun(cmdutil.TestFactory(), func(_ context.Context, o *RunOptions) error { ro = o; return nil }),
		"--once", "--workers", "3", "--compact-topics", "all", "--http-addr", ":9", "--fail-on-locked", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	if !ro.once || *ro.Flags.Workers != 3 || ro.Flags.BatchSize != nil || *ro.Flags.CompactTopics != "all" || *ro.Flags.MetricsAddr != ":9" ||
		ro.Flags.DeliveryTimeoutSet || ro.Flags.DeliveryTimeout != 30*time.Second || !ro.failOnLocked || !ro.output.JSON() {
		t.Fatalf("run options: %+v", ro)
	}
	oc, err := (config.Outbox{Workers: 1, BatchSize: 50}).WithFlags(ro.Flags)
	if err != nil || oc.Workers != 3 || oc.BatchSize != 50 || !oc.CompactTopics.All || oc.MetricsAddr != ":9" {
		t.Fatalf("laid over the config: %+v %v", oc, err)
	}
	var so *StatusOptions
	if err := cmdutil.ExecuteForTest(NewCmdStatus(cmdutil.TestFactory(), func(_ context.Context, o *StatusOptions) error { so = o; return nil }), "-o", "json"); err != nil || !so.output.JSON() {
		t.Fatalf("status options: %+v %v", so, err)
	}
	var dl *DeadLetterOptions
	capture := func(_ context.Context, o *DeadLetterOptions) error { dl = o; return nil }
	if err := cmdutil.ExecuteForTest(NewCmdDLList(cmdutil.TestFactory(), capture), "-t", "a,b", "--from-id", "2", "--to-id", "9", "--newer-than", "1h", "--limit", "5"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(dl.topics, ",") != "a,b" || dl.fromID != 2 || dl.toID != 9 || dl.newer != time.Hour || dl.limit != 5 {
		t.Fatalf("list options: %+v", dl)
	}
	if err := cmdutil.ExecuteForTest(NewCmdDLShow(cmdutil.TestFactory(), capture), "41", "42"); err != nil || strings.Join(dl.IDs, ",") != "41,42" {
		t.Fatalf("show options: %+v %v", dl, err)
	}
	if err := cmdutil.ExecuteForTest(NewCmdDLRequeue(cmdutil.TestFactory(), capture), "--all", "--dry-run", "--max-message-bytes", "5000"); err != nil ||
		!dl.all || !dl.dryRun || dl.maxMessageBytes != 5000 {
		t.Fatalf("requeue options: %+v %v", dl, err)
	}
	if err := cmdutil.ExecuteForTest(NewCmdDLDelete(cmdutil.TestFactory(), capture), "7", "--yes"); err != nil || !dl.yes || dl.IDs[0] != "7" {
		t.Fatalf("delete options: %+v %v", dl, err)
	}
}

// Usage mistakes are exit 2 before anything is opened: runF is never reached.
func TestUsageErrors(t *testing.T) {
	never := func(context.Context, *DeadLetterOptions) error { t.Fatal("ran"); return nil }
	tests := []struct {
		name string
		c    *cobra.Command
		args []string
		msg  string
	}{
		{"fail-on-locked without once", NewCmdRun(cmdutil.TestFactory(), func(context.Context, *RunOptions) error { t.Fatal("ran"); return nil }), []string{"--fail-on-locked"}, "add --once"},
		{"output without once", NewCmdRun(cmdutil.TestFactory(), nil), []string{"-o", "json"}, "add --once"},
		{"run bad output", NewCmdRun(cmdutil.TestFactory(), nil), []string{"--once", "-o", "yaml"}, "not text or json"},
		{"list range", NewCmdDLList(cmdutil.TestFactory(), never), []string{"--from-id", "9", "--to-id", "2"}, "not a range of ids"},
		{"list negative duration", NewCmdDLList(cmdutil.TestFactory(), never), []string{"--older-than", "-1h"}, "positive duration"},
		{"list arguments", NewCmdDLList(cmdutil.TestFactory(), never), []string{"3"}, "no arguments"},
		{"show no id", NewCmdDLShow(cmdutil.TestFactory(), never), nil, "one or more dead-letter ids"},
		{"show bad id", NewCmdDLShow(cmdutil.TestFactory(), never), []string{"x1"}, "not a dead-letter id"},
		{"requeue nothing selected", NewCmdDLRequeue(cmdutil.TestFactory(), never), nil, "give ids, a filter"},
		{"requeue all and ids", NewCmdDLRequeue(cmdutil.TestFactory(), never), []string{"4", "--all"}, "do not combine"},
		{"requeue size", NewCmdDLRequeue(cmdutil.TestFactory(), never), []string{"--all", "--max-message-bytes", "-1"}, "must be positive"},
		{"delete without yes", NewCmdDLDelete(cmdutil.TestFactory(), never), []string{"4"}, "add --yes"},
		{"delete nothing selected", NewCmdDLDelete(cmdutil.TestFactory(), never), []string{"--yes"}, "give ids, a filter"},
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
