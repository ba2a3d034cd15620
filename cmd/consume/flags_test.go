package consume

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/consume"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// consume's flags parse into its options without a broker: topics split
// and cleaned, offsets and the stop parsed, the sink flags ready for
// config.ResolveConsumer.
func TestFlagsParse(t *testing.T) {
	var got *Options
	capture := func(_ context.Context, o *Options) error { got = o; return nil }
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), capture),
		"-t", "a, b,", "-t", "c", "-o", "-10", "--until", "@1714557600000", "-c", "5", "-e", "-g", "audit", "-p", "0,2",
		"--read-committed", "--strict", "--no-decode", "--output", "json", "-f", "%k\n", "--timeout", "3s", "-q",
		"--sink", "table:widgets", "--key-columns", "code", "--max-retries", "2"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Topics, "|") != "a|b|c" || got.Offset.Kind != consume.OffsetLast || got.Offset.N != 10 || got.Until == nil ||
		got.count != 5 || !got.exitAtEnd || got.group != "audit" || len(got.partitions) != 2 || !got.readCommitted || !got.strict ||
		!got.noDecode || !got.output.JSON() || got.template != "%k\n" || got.timeout != 3*time.Second || !got.quiet {
		t.Fatalf("options: %+v", got)
	}
	r, err := resolve(got.sinks.cmd, &config.Config{}, &got.sinks, got.group)
	if err != nil || r.Table != "widgets" || r.KeyColumns[0] != "code" || *r.MaxRetries != 2 || r.Group != "audit" {
		t.Fatalf("sink flags: %+v %v", r, err)
	}
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), capture)); err != nil || got.Topics != nil || got.Offset.Kind != consume.OffsetBeginning || got.Until != nil {
		t.Fatalf("defaults: %+v %v", got, err)
	}
}

// Mistakes in the flags alone are exit 2 before the config is read.
func TestFlagUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-t", "a", "-o", "middle"}, `-o: offset "middle"`},
		{[]string{"-t", "a", "--until", "soon"}, `--until "soon"`},
		{[]string{"-t", "a", "-o", "e@1714557600000", "--until", "5"}, "give one"},
		{[]string{"-t", "a", "-c", "-1"}, "-c -1: use a positive count"},
		{[]string{"-t", "a", "--output", "yaml"}, `"yaml" is not text, json or raw`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), func(context.Context, *Options) error { t.Fatal("ran"); return nil }), tc.args...)
			if errs.ExitCode(err) != errs.CodeUsage || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v (exit %d), want a usage error with %q", err, errs.ExitCode(err), tc.msg)
			}
		})
	}
}
