package group

import (
	"context"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/errs"
)

func TestSeekFlags(t *testing.T) {
	var so *SeekOptions
	err := cmdutil.ExecuteForTest(NewCmdSeek(cmdutil.TestFactory(), func(_ context.Context, o *SeekOptions) error { so = o; return nil }),
		"billing", "--to", "-1h", "--topic", "a,b", "-t", "c", "-p", "0,1", "--dry-run", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if so.Group != "billing" || so.To != "-1h" || strings.Join(so.Topics, " ") != "a b c" || len(so.Partitions) != 2 || !so.DryRun || !so.Output.JSON() {
		t.Fatalf("seek options: %+v", so)
	}
	for name, args := range map[string][]string{
		"no --to":         {"billing"},
		"no group":        {"--to", "start"},
		"delete no --yes": nil,
	} {
		c := NewCmdSeek(cmdutil.TestFactory(), func(context.Context, *SeekOptions) error { t.Fatal("ran"); return nil })
		if name == "delete no --yes" {
			c, args = NewCmdDelete(cmdutil.TestFactory(), func(context.Context, *DeleteOptions) error { t.Fatal("ran"); return nil }), []string{"billing"}
		}
		if err := cmdutil.ExecuteForTest(c, args...); errs.ExitCode(err) != errs.CodeUsage {
			t.Errorf("%s: %v, want a usage error", name, err)
		}
	}
}
