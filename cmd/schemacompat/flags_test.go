package schemacompat

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/compat"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// schema-compat's flags and arguments parse into its options without
// reading a file, a repository or a registry.
func TestFlagsParse(t *testing.T) {
	var got *Options
	capture := func(_ context.Context, o *Options) error { got = o; return nil }
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), capture),
		"--mode", "FULL_TRANSITIVE", "--type", "protobuf", "--proto-path", "inc", "--ref", "a.avsc", "--strict-defaults",
		"-o", "github", "old.proto", "new.proto"); err != nil {
		t.Fatal(err)
	}
	if got.Mode != compat.FullTransitive || !got.ModeSet || got.Type != compat.Protobuf || got.protoPaths[0] != "inc" || got.refs[0] != "a.avsc" ||
		!got.strictDefaults || got.output != formatGitHub || strings.Join(got.Args, ",") != "old.proto,new.proto" {
		t.Fatalf("options: %+v", got)
	}
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), capture),
		"--against", "registry", "--topic", "widgets", "--concurrency", "4", "--timeout", "5s", "Widget.avsc"); err != nil {
		t.Fatal(err)
	}
	if got.Mode != compat.Backward || got.ModeSet || got.against != "registry" || got.topic != "widgets" || got.concurrency != 4 || got.timeout != 5*time.Second {
		t.Fatalf("registry options: %+v", got)
	}
	if err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), capture), "--against", "git:origin/main", "--allow-deleted", "schemas/"); err != nil ||
		got.against != "git:origin/main" || !got.allowDeleted || got.Args[0] != "schemas/" {
		t.Fatalf("git options: %+v %v", got, err)
	}
}

// Inputs that do not fit the --against form are exit 2 before anything is read.
func TestFlagUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--mode", "SIDEWAYS", "a", "b"}, "SIDEWAYS"},
		{[]string{"--type", "xml", "a"}, "xml"},
		{nil, "give the versions in order"},
		{[]string{"--subject", "s", "a", "b"}, "--subject and --topic need --against registry"},
		{[]string{"--against", "git:", "a"}, "needs a ref and at least one PATH"},
		{[]string{"--against", "git:main"}, "needs a ref and at least one PATH"},
		{[]string{"--against", "registry"}, "needs at least one FILE"},
		{[]string{"--against", "registry", "--subject", "s", "a", "b"}, "give exactly one FILE"},
		{[]string{"--against", "svn", "a"}, "--against must be git:REF or registry"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := cmdutil.ExecuteForTest(NewCmd(cmdutil.TestFactory(), func(context.Context, *Options) error { t.Fatal("ran"); return nil }), tc.args...)
			if errs.ExitCode(err) != errs.CodeUsage || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v (exit %d), want a usage error with %q", err, errs.ExitCode(err), tc.msg)
			}
		})
	}
}
