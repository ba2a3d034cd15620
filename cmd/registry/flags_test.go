package registry

import (
	"context"
	"testing"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/errs"
)

func TestRegistryFlags(t *testing.T) {
	var g *GetOptions
	if err := cmdutil.ExecuteForTest(NewCmdGet(cmdutil.TestFactory(), func(_ context.Context, o *GetOptions) error { g = o; return nil }), "orders-value@3", "--follow-references"); err != nil {
		t.Fatal(err)
	}
	if g.Subject != "orders-value" || g.Version != 3 || !g.Follow {
		t.Fatalf("get: %+v", g)
	}
	if err := cmdutil.ExecuteForTest(NewCmdGet(cmdutil.TestFactory(), func(_ context.Context, o *GetOptions) error { g = o; return nil }), "--id", "7"); err != nil || g.ID != 7 {
		t.Fatalf("get --id: %+v %v", g, err)
	}
	var d *DeleteOptions
	if err := cmdutil.ExecuteForTest(NewCmdDelete(cmdutil.TestFactory(), func(_ context.Context, o *DeleteOptions) error { d = o; return nil }), "s-value", "--yes"); err != nil || d.Version != 0 {
		t.Fatalf("delete a subject: %+v %v", d, err)
	}
	if err := cmdutil.ExecuteForTest(NewCmdDelete(cmdutil.TestFactory(), func(_ context.Context, o *DeleteOptions) error { d = o; return nil }), "s-value@latest", "--yes", "--permanent"); err != nil || d.Version != -1 || !d.Permanent {
		t.Fatalf("delete latest: %+v %v", d, err)
	}
	var c *CompatOptions
	if err := cmdutil.ExecuteForTest(NewCmdCompatSet(cmdutil.TestFactory(), func(_ context.Context, o *CompatOptions) error { c = o; return nil }), "--level", "FULL", "a", "b"); err != nil || len(c.Subjects) != 2 || c.Level != "FULL" {
		t.Fatalf("compat set: %+v %v", c, err)
	}
	var r *RegisterOptions
	if err := cmdutil.ExecuteForTest(NewCmdRegister(cmdutil.TestFactory(), func(_ context.Context, o *RegisterOptions) error { r = o; return nil }), "s", "f.avsc", "--reference", "a=b@1", "--reference", "c=d"); err != nil || len(r.References) != 2 {
		t.Fatalf("register: %+v %v", r, err)
	}

	for name, tc := range map[string]struct {
		c    *cobra.Command
		args []string
	}{
		"get nothing":         {NewCmdGet(cmdutil.TestFactory(), nil), nil},
		"get both":            {NewCmdGet(cmdutil.TestFactory(), nil), []string{"a", "--id", "3"}},
		"get bad version":     {NewCmdGet(cmdutil.TestFactory(), nil), []string{"a@x"}},
		"delete no --yes":     {NewCmdDelete(cmdutil.TestFactory(), nil), []string{"a"}},
		"compat none":         {NewCmdCompatGet(cmdutil.TestFactory(), nil), nil},
		"compat both":         {NewCmdCompatGet(cmdutil.TestFactory(), nil), []string{"a", "--global"}},
		"compat set no level": {NewCmdCompatSet(cmdutil.TestFactory(), nil), []string{"a"}},
		"register one arg":    {NewCmdRegister(cmdutil.TestFactory(), nil), []string{"a"}},
	} {
		if err := cmdutil.ExecuteForTest(tc.c, tc.args...); errs.ExitCode(err) != errs.CodeUsage {
			t.Errorf("%s: %v, want a usage error", name, err)
		}
	}
	// the type comes from the extension, or --type; stdin needs --type
	if _, err := schemaType("", "x.txt"); errs.ExitCode(err) != errs.CodeUsage {
		t.Errorf("unknown extension: %v", err)
	}
	if _, err := schemaType("", "-"); errs.ExitCode(err) != errs.CodeUsage {
		t.Errorf("stdin without --type: %v", err)
	}
}
