package cmd

import (
	"context"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/cmdutil"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ios, out, errOut := cmdutil.Test("")
	f := &cmdutil.Factory{IO: ios, Version: "v9.9.9", Getenv: func(string) (string, bool) { return "", false }}
	code := Run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

func TestRootExitCodesAndBasics(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"version", []string{"--version"}, 0, "deimos v9.9.9", ""},
		{"unknown command", []string{"bogus"}, 2, "", `unknown command "bogus"`},
		{"unknown flag", []string{"dev", "--nope"}, 2, "", "unknown flag: --nope"},
		{"completion bash", []string{"completion", "bash"}, 0, "bash completion", ""},
		{"completion zsh", []string{"completion", "zsh"}, 0, "#compdef deimos", ""},
		{"completion fish", []string{"completion", "fish"}, 0, "complete -c deimos", ""},
		{"completion bad shell", []string{"completion", "tcsh"}, 2, "", "unknown shell"},
		{"missing config file", []string{"--config", "/nonexistent/deimos.yaml", "migrate", "status"}, 2, "", "config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit = %d, want %d (stderr %q)", code, tt.code, errOut)
			}
			if !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.err) {
				t.Fatalf("stdout %q / stderr %q: want %q / %q", out, errOut, tt.out, tt.err)
			}
		})
	}
}

// Every command of the contract (cli.md) must exist, with --help and examples.
func TestContractCommandsExist(t *testing.T) {
	for _, path := range [][]string{
		{"encode"}, {"decode"}, {"produce"}, {"consume"},
		{"outbox", "run"}, {"outbox", "status"},
		{"poller", "run"}, {"poller", "status"}, {"poller", "reset"},
		{"schema-compat"}, {"gen-keys"},
		{"migrate", "up"}, {"migrate", "status"}, {"migrate", "sql"}, {"migrate", "gen-table"},
		{"dev"}, {"events", "list"}, {"events", "show"}, {"events", "retry"}, {"events", "delete"}, {"events", "serve"},
		{"topic", "list"}, {"topic", "describe"}, {"topic", "offsets"}, {"topic", "create"}, {"topic", "delete"},
		{"group", "list"}, {"group", "describe"}, {"group", "seek"}, {"group", "delete"},
		{"registry", "subjects"}, {"registry", "versions"}, {"registry", "get"}, {"registry", "register"},
		{"registry", "compat-level", "get"}, {"registry", "compat-level", "set"}, {"registry", "delete"},
	} {
		code, out, errOut := run(t, append(path, "--help")...)
		if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Examples:") {
			t.Errorf("deimos %s --help: exit %d, stdout %q, stderr %q", strings.Join(path, " "), code, out, errOut)
		}
	}
}
