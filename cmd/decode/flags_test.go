package decode

import (
	"context"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// decode's flags parse into its options without a config or a registry.
func TestFlagsParse(t *testing.T) {
	var got *Options
	capture := func(_ context.Context, o *Options) error { got = o; return nil }
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), capture),
		"--schema", "Widget", "--namespace", "com.acme", "--backend", "avro_local", "-t", "widgets", "--wire", "raw",
		"--input-encoding", "hex", "--explain", "--keep-going", "-f", "in.b64"); err != nil {
		t.Fatal(err)
	}
	if got.Schema != "Widget" || got.Namespace != "com.acme" || got.Backend != "avro_local" || got.Topic != "widgets" || got.Wire != "raw" ||
		got.InputEncoding != "hex" || !got.Explain || !got.KeepGoing || got.File != "in.b64" {
		t.Fatalf("options: %+v", got)
	}
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), capture)); err != nil || got.InputEncoding != "base64" || got.Explain {
		t.Fatalf("defaults: %+v %v", got, err)
	}
}

// A bad --input-encoding is exit 2 before the config is read.
func TestFlagUsageErrors(t *testing.T) {
	err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), func(context.Context, *Options) error { t.Fatal("ran"); return nil }), "--input-encoding", "b32")
	if errs.ExitCode(err) != errs.CodeUsage || !strings.Contains(err.Error(), `--input-encoding: "b32" is not base64, hex or raw`) {
		t.Fatalf("err %v (exit %d)", err, errs.ExitCode(err))
	}
}
