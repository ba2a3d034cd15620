package migrate

import (
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// The migrate commands' flags parse into their options without a database.
func TestFlagsParse(t *testing.T) {
	var up *UpOptions
	if err := cmdutil.ExecuteForTest(NewCmdUp(cmdutil.TestFactory(), func(_ context.Context, o *UpOptions) error { up = o; return nil }),
		"--only", "outbox,headers"); err != nil || strings.Join(up.Only, ",") != "outbox,headers" {
		t.Fatalf("up options: %+v %v", up, err)
	}
	var st *StatusOptions
	if err := cmdutil.ExecuteForTest(NewCmdStatus(cmdutil.TestFactory(), func(_ context.Context, o *StatusOptions) error { st = o; return nil }),
		"-o", "json"); err != nil || !st.Output.JSON() {
		t.Fatalf("status options: %+v %v", st, err)
	}
	var sq *SQLOptions
	if err := cmdutil.ExecuteForTest(NewCmdSQL(cmdutil.TestFactory(), func(_ context.Context, o *SQLOptions) error { sq = o; return nil }),
		"--dialect", "mysql", "--only", "outbox"); err != nil || sq.Dialect != "mysql" || sq.Only[0] != "outbox" {
		t.Fatalf("sql options: %+v %v", sq, err)
	}
	var gt *GenTableOptions
	if err := cmdutil.ExecuteForTest(NewCmdGenTable(cmdutil.TestFactory(), func(_ context.Context, o *GenTableOptions) error { gt = o; return nil }),
		"widgets", "--schema", "Widget", "--namespace", "com.acme", "--key", "code", "--dialect", "sqlite"); err != nil {
		t.Fatal(err)
	}
	if gt.Table != "widgets" || gt.schema != "Widget" || gt.namespace != "com.acme" || gt.key != "code" || gt.dialect != "sqlite" {
		t.Fatalf("gen-table options: %+v", gt)
	}
}

// Usage mistakes are exit 2 before a database is opened (migrate up with
// an unknown group creates no SQLite file).
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		c    *cobra.Command
		args []string
		msg  string
	}{
		{"up unknown group", NewCmdUp(cmdutil.TestFactory(), func(context.Context, *UpOptions) error { t.Fatal("ran"); return nil }), []string{"--only", "nope"}, `unknown group "nope"`},
		{"status bad output", NewCmdStatus(cmdutil.TestFactory(), nil), []string{"-o", "yaml"}, "not text or json"},
		{"gen-table no schema", NewCmdGenTable(cmdutil.TestFactory(), nil), []string{"widgets"}, "--schema NAME is required"},
		{"gen-table bad table", NewCmdGenTable(cmdutil.TestFactory(), nil), []string{"a;b", "--schema", "W"}, "a;b"},
		{"gen-table bad key", NewCmdGenTable(cmdutil.TestFactory(), nil), []string{"w", "--schema", "W", "--key", "a.b"}, "not a column name"},
		{"gen-table no table", NewCmdGenTable(cmdutil.TestFactory(), nil), nil, "a table name"},
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
