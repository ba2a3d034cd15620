package events

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// The events commands' flags parse into their options without a database.
func TestFlagsParse(t *testing.T) {
	var lo *ListOptions
	if err := cmdutil.ExecuteForTest(NewCmdList(cmdutil.TestFactory(), func(_ context.Context, o *ListOptions) error { lo = o; return nil }),
		"--failures", "--topic", "orders", "--group", "billing", "--entity-id", "42", "--event-type", "created", "--limit", "5", "--offset", "10", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	if !lo.Failures || lo.Filter.Topic != "orders" || lo.Filter.GroupID != "billing" || lo.Filter.EntityID != "42" || lo.Filter.EventType != "created" ||
		lo.Filter.Limit != 5 || lo.Filter.Offset != 10 || !lo.Output.JSON() {
		t.Fatalf("list options: %+v", lo)
	}
	var so *ShowOptions
	if err := cmdutil.ExecuteForTest(NewCmdShow(cmdutil.TestFactory(), func(_ context.Context, o *ShowOptions) error { so = o; return nil }), "--failure", "7"); err != nil ||
		so.ID != 7 || !so.Failure {
		t.Fatalf("show options: %+v %v", so, err)
	}
	var ro *RetryOptions
	if err := cmdutil.ExecuteForTest(NewCmdRetry(cmdutil.TestFactory(), func(_ context.Context, o *RetryOptions) error { ro = o; return nil }),
		"8", "--exec", "./h.sh", "--pass-env", "RAILS_ENV", "--skip-exit-code", "3", "--handler-timeout", "2s"); err != nil {
		t.Fatal(err)
	}
	if ro.ID != 8 || ro.Runner.exec != "./h.sh" || ro.Runner.passEnv[0] != "RAILS_ENV" || ro.Runner.skip != 3 || ro.Runner.timeout != 2*time.Second {
		t.Fatalf("retry options: %+v %+v", ro, ro.Runner)
	}
	var do *DeleteOptions
	if err := cmdutil.ExecuteForTest(NewCmdDelete(cmdutil.TestFactory(), func(_ context.Context, o *DeleteOptions) error { do = o; return nil }), "9"); err != nil || do.ID != 9 {
		t.Fatalf("delete options: %+v %v", do, err)
	}
	// serve: the token comes from the flag, the file or DEIMOS_EVENTS_TOKEN, and is masked from then on
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(" from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args      []string
		env, want string
	}{
		{[]string{"--token", "from-flag"}, "", "from-flag"},
		{[]string{"--token-file", file}, "", "from-file"},
		{nil, "from-env", "from-env"},
		{nil, "", ""},
	} {
		f := cmdutil.TestFactory()
		f.Getenv = func(k string) (string, bool) { return tc.env, k == "DEIMOS_EVENTS_TOKEN" && tc.env != "" }
		var sv *ServeOptions
		args := append([]string{"--addr", "0.0.0.0:0", "--allow-host", "events.internal"}, tc.args...)
		if err := cmdutil.ExecuteForTest(NewCmdServe(f, func(_ context.Context, o *ServeOptions) error { sv = o; return nil }), args...); err != nil {
			t.Fatal(err)
		}
		if sv.Token != tc.want || sv.Host != "0.0.0.0" || sv.AllowHosts[0] != "events.internal" {
			t.Errorf("serve %v: %+v, want token %q", tc.args, sv, tc.want)
		}
		if tc.want != "" && strings.Contains(f.Redact("x "+tc.want), tc.want) {
			t.Errorf("serve %v: the token is not masked", tc.args)
		}
	}
}

// Usage mistakes are exit 2 before the database is opened or a port is bound.
func TestUsageErrors(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	never := func(context.Context, *ServeOptions) error { t.Fatal("ran"); return nil }
	tests := []struct {
		name string
		c    *cobra.Command
		args []string
		msg  string
	}{
		{"list negative limit", NewCmdList(cmdutil.TestFactory(), func(context.Context, *ListOptions) error { t.Fatal("ran"); return nil }), []string{"--limit", "-1"}, "0 or more"},
		{"show bad id", NewCmdShow(cmdutil.TestFactory(), nil), []string{"x"}, "positive integer"},
		{"show no id", NewCmdShow(cmdutil.TestFactory(), nil), nil, "an ID"},
		{"retry zero id", NewCmdRetry(cmdutil.TestFactory(), nil), []string{"0"}, "positive integer"},
		{"retry bad pass-env", NewCmdRetry(cmdutil.TestFactory(), nil), []string{"1", "--pass-env", "A=B"}, "A=B"},
		{"delete bad id", NewCmdDelete(cmdutil.TestFactory(), nil), []string{"-3"}, ""},
		{"serve token twice", NewCmdServe(cmdutil.TestFactory(), never), []string{"--token", "a", "--token-file", empty}, "not both"},
		{"serve empty token file", NewCmdServe(cmdutil.TestFactory(), never), []string{"--token-file", empty}, "is empty"},
		{"serve bad addr", NewCmdServe(cmdutil.TestFactory(), never), []string{"--addr", "nohostport"}, "--addr"},
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
