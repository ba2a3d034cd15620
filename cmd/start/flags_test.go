package start

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// start's flags and job names parse into its options without the config,
// a database or a broker.
func TestFlagsParse(t *testing.T) {
	var got *Options
	capture := func(_ context.Context, o *Options) error { got = o; return nil }
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), capture),
		"--only", "consumers,poller", "--http-addr", ":0", "--fail-fast", "--wedged-after", "1m", "--restart-backoff", "2s",
		"--restart-backoff-max", "3m", "--lag-interval", "10s", "A", "B"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.only, ",") != "consumers,poller" || got.httpAddr != ":0" || !got.failFast || got.wedgedAfter != time.Minute ||
		got.backoff != 2*time.Second || got.maxBackoff != 3*time.Minute || got.lagEvery != 10*time.Second || strings.Join(got.Names, ",") != "A,B" {
		t.Fatalf("options: %+v", got)
	}
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), capture), "--list", "-o", "json"); err != nil || !got.list || !got.output.JSON() || got.httpAddr != DefaultHTTPAddr {
		t.Fatalf("list options: %+v %v", got, err)
	}
	// --list runs nothing, so zero durations do not stop it
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), capture), "--list", "--wedged-after", "0"); err != nil {
		t.Fatalf("--list with --wedged-after 0: %v", err)
	}
}

// Flag mistakes are exit 2 before the config is read.
func TestFlagUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--only", "relays"}, `--only "relays": use consumers, pollers or outbox`},
		{[]string{"--wedged-after", "0"}, "must be positive"},
		{[]string{"--lag-interval", "-1s"}, "must be positive"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), func(context.Context, *Options) error { t.Fatal("ran"); return nil }), tc.args...)
			if errs.ExitCode(err) != errs.CodeUsage || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v (exit %d), want a usage error with %q", err, errs.ExitCode(err), tc.msg)
			}
		})
	}
}
