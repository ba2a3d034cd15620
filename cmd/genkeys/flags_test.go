package genkeys

import (
	"context"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// gen-keys's flags parse into its options without reading schemas.
func TestFlagsParse(t *testing.T) {
	var got *Options
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), func(_ context.Context, o *Options) error { got = o; return nil }),
		"--schema", "Widget", "--namespace", "com.acme", "--field", "id", "--type", "protobuf", "--out", "keys", "--check"); err != nil {
		t.Fatal(err)
	}
	if got.schema != "Widget" || got.namespace != "com.acme" || got.field != "id" || got.typ != "protobuf" || got.out != "keys" || !got.check {
		t.Fatalf("options: %+v", got)
	}
}

// Flag combinations that cannot work are exit 2 before the config is read.
func TestFlagUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--type", "xml"}, "--type must be avro, protobuf or json-schema"},
		{[]string{"--schema", "Widget"}, "--schema needs --field"},
		{[]string{"--field", "id"}, "--field needs --schema"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), func(context.Context, *Options) error { t.Fatal("ran"); return nil }), tc.args...)
			if errs.ExitCode(err) != errs.CodeUsage || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v (exit %d), want a usage error with %q", err, errs.ExitCode(err), tc.msg)
			}
		})
	}
}
