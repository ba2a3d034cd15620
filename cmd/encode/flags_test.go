package encode

import (
	"context"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// encode's flags parse into its options without a config or a registry.
func TestFlagsParse(t *testing.T) {
	var got *Options
	capture := func(_ context.Context, o *Options) error { got = o; return nil }
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), capture),
		"--schema", "Widget", "--namespace", "com.acme", "--backend", "avro_local", "-t", "widgets", "--wire", "raw",
		"--output-encoding", "hex", "--keep-going", "-f", "in.jsonl", "--with-key", "--normalize", "--key-config", "schema:long", "-k", ""); err != nil {
		t.Fatal(err)
	}
	if got.Schema != "Widget" || got.Namespace != "com.acme" || got.Backend != "avro_local" || got.Topic != "widgets" || got.Wire != "raw" ||
		got.OutputEncoding != "hex" || !got.KeepGoing || got.File != "in.jsonl" || !got.WithKey || !got.Normalize ||
		got.KeyConfig != "schema:long" || got.Key == nil || *got.Key != "" {
		t.Fatalf("options: %+v", got)
	}
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), capture)); err != nil || got.Key != nil || got.OutputEncoding != "base64" {
		t.Fatalf("defaults: %+v %v", got, err)
	}
}

// Mistakes in the flags alone are exit 2 before the config is read.
func TestFlagUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--output-encoding", "b32"}, `--output-encoding: "b32" is not base64, hex or raw`},
		{[]string{"--wire", "framed"}, `--wire: "framed" is not confluent, raw or ocf`},
		{[]string{"--key-config", "field:"}, `--key-config "field:"`},
		{[]string{"--key-config", "schema:null"}, "not a key schema"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), func(context.Context, *Options) error { t.Fatal("ran"); return nil }), tc.args...)
			if errs.ExitCode(err) != errs.CodeUsage || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v (exit %d), want a usage error with %q", err, errs.ExitCode(err), tc.msg)
			}
		})
	}
}
