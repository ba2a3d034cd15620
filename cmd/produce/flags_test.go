package produce

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// produce's flags parse into its options without a broker or a registry.
func TestFlagsParse(t *testing.T) {
	var got *Options
	capture := func(_ context.Context, o *Options) error { got = o; return nil }
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), capture),
		"-t", "widgets", "-k", "", "-K", `\t`, "-H", "a=1", "-H", "b:x=y", "-p", "2", "--input", "json", "-Z",
		"--backend", "outbox", "--schema", "Widget", "--namespace", "com.acme", "--key-config", "field:id", "--normalize",
		"-z", "zstd", "--acks", "1", "--linger", "10ms", "--partitioner", "murmur2", "--keep-going", "--dry-run"); err != nil {
		t.Fatal(err)
	}
	if got.topic != "widgets" || got.Key == nil || *got.Key != "" || unescape(got.keyDelim) != "\t" || got.partition != 2 || got.input != "json" ||
		!got.tombstone || got.backend != "outbox" || got.schema != "Widget" || got.namespace != "com.acme" || got.keyConfig != "field:id" ||
		!got.normalize || got.compression != "zstd" || got.acks != "1" || got.linger != 10*time.Millisecond || got.partitioner != "murmur2" ||
		!got.keepGoing || !got.dryRun {
		t.Fatalf("options: %+v", got)
	}
	if len(got.Headers) != 2 || got.Headers[0].Key != "a" || string(got.Headers[0].Value) != "1" || got.Headers[1].Key != "b" || string(got.Headers[1].Value) != "x=y" {
		t.Fatalf("headers: %+v", got.Headers)
	}
	// without -k there is no key (not an empty one); envelope input needs no -t
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), capture), "--input", "envelope"); err != nil || got.Key != nil || got.topic != "" {
		t.Fatalf("defaults: %+v %v", got, err)
	}
	if got.input != "envelope" || got.partition != -1 || got.compression != "none" || got.acks != "all" || got.timeout != 30*time.Second {
		t.Fatalf("defaults: %+v", got)
	}
}

// Usage mistakes are exit 2 before the config, a broker or a registry is touched.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-t", "w", "--input", "xml"}, `--input "xml": use auto, json or envelope`},
		{[]string{"-t", "w", "-H", "novalue"}, `-H "novalue": use KEY=VALUE`},
		{[]string{"-t", "w", "-H", "=v"}, "use KEY=VALUE"},
		{[]string{"--input", "json"}, "-t TOPIC is required"},
		{[]string{"-t", "w", "-p", "x"}, "invalid argument"},
		{[]string{"extra"}, "unknown command"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), func(context.Context, *Options) error { t.Fatal("ran"); return nil }), tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v, want %q", err, tc.msg)
			}
			if tc.msg != "unknown command" && errs.ExitCode(err) != errs.CodeUsage {
				t.Fatalf("exit %d, want %d", errs.ExitCode(err), errs.CodeUsage)
			}
		})
	}
}
