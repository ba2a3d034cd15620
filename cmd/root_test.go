package cmd

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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

// Every command the README and docs/ describe must exist, with --help and examples.
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
		{"start"}, {"lag"},
		{"outbox", "dead-letters", "list"}, {"outbox", "dead-letters", "show"}, {"outbox", "dead-letters", "requeue"}, {"outbox", "dead-letters", "delete"},
		{"registry", "subjects"}, {"registry", "versions"}, {"registry", "get"}, {"registry", "register"},
		{"registry", "compat-level", "get"}, {"registry", "compat-level", "set"}, {"registry", "delete"},
	} {
		code, out, errOut := run(t, append(path, "--help")...)
		if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Examples:") {
			t.Errorf("deimos %s --help: exit %d, stdout %q, stderr %q", strings.Join(path, " "), code, out, errOut)
		}
	}
}

// allCommands returns the path of every command of the tree.
func allCommands(t *testing.T) [][]string {
	t.Helper()
	ios, _, _ := cmdutil.Test("")
	root := NewRoot(&cmdutil.Factory{IO: ios, Getenv: func(string) (string, bool) { return "", false }})
	var out [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		out = append(out, path)
		for _, s := range c.Commands() {
			if !s.Hidden && s.Name() != "help" {
				walk(s, append(append([]string{}, path...), s.Name()))
			}
		}
	}
	walk(root, nil)
	return out
}

// Every command's --help renders its flags readably: no "(default [])" nor
// "(default )" for empty lists; a value name in backticks is a placeholder
// (NAME, K=V, N,N...), never a word of the sentence (pflag takes the first
// `quoted` text as the name); every list flag names its values instead of
// pflag's type (stringArray, int32Slice); and value names are ASCII, which
// pflag's column alignment counts in bytes.
func TestHelpRendering(t *testing.T) {
	placeholder := regexp.MustCompile(`^[A-Z][A-Z0-9_]*([=@,][A-Z][A-Z0-9_]*)*(,N\.\.\.)?$`)
	scalar := regexp.MustCompile(`^(string|int|int32|int64|uint|float|duration|format)$`)
	twoDefaults := regexp.MustCompile(`(?m)^.*\(default.*\(default [^)]*\)$`)
	ios, _, _ := cmdutil.Test("")
	root := NewRoot(&cmdutil.Factory{IO: ios, Getenv: func(string) (string, bool) { return "", false }})
	for _, path := range allCommands(t) {
		code, out, errOut := run(t, append(path, "--help")...)
		if code != 0 {
			t.Fatalf("deimos %s --help: exit %d %s", strings.Join(path, " "), code, errOut)
		}
		for _, bad := range []string{"(default [])", "(default )"} {
			if strings.Contains(out, bad) {
				t.Errorf("deimos %s --help prints %s:\n%s", strings.Join(path, " "), bad, out)
			}
		}
		// a default said in the text and again by pflag
		if l := twoDefaults.FindString(out); l != "" {
			t.Errorf("deimos %s --help says the default twice: %s", strings.Join(path, " "), l)
		}
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		c.Flags().VisitAll(func(fl *pflag.Flag) {
			name, _ := pflag.UnquoteUsage(fl)
			backtick := strings.Contains(fl.Usage, "`")
			switch {
			case name == "":
			case backtick && !placeholder.MatchString(name):
				t.Errorf("deimos %s --%s renders its value as %q, from a backtick in its usage text", strings.Join(path, " "), fl.Name, name)
			case !backtick && !scalar.MatchString(name):
				t.Errorf("deimos %s --%s renders its value as pflag's type name %q: name it (a `PLACEHOLDER` in the usage)", strings.Join(path, " "), fl.Name, name)
			}
		})
	}
	code, out, _ := run(t, "consume", "--help")
	if code != 0 || !strings.Contains(out, "--consumer NAME") || !strings.Contains(out, "-p, --partition N,N...") ||
		!strings.Contains(out, "-t, --topic TOPIC") {
		t.Fatalf("consume --help:\n%s", out)
	}
	// the description column lines up after a placeholder
	var cols []int
	for _, l := range strings.Split(out, "\n") {
		for _, f := range []string{"--partition N,N...", "--consumer NAME", "--offset OFFSET"} {
			if i := strings.Index(l, f); i >= 0 {
				rest := l[i+len(f):]
				cols = append(cols, i+len(f)+len(rest)-len(strings.TrimLeft(rest, " ")))
			}
		}
	}
	if len(cols) != 3 || cols[0] != cols[1] || cols[1] != cols[2] {
		t.Fatalf("consume --help: descriptions start at columns %v:\n%s", cols, out)
	}
}

// A log level or format deimos does not know is a usage error (exit 2),
// from the flag, the environment or deimos.yaml, in every command; also
// in commands that never read the config file.
func TestLogLevelAndFormatChecked(t *testing.T) {
	dir := t.TempDir()
	cfg := dir + "/deimos.yaml"
	if err := os.WriteFile(cfg, []byte("log: {level: loud}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"flag level", nil, []string{"--log-level", "loud", "migrate", "sql"}, `--log-level "loud": use debug, info, warn or error`},
		{"flag format", nil, []string{"--log-format", "yaml", "migrate", "sql"}, `--log-format "yaml": use text or json`},
		{"env level, no config read", map[string]string{"DEIMOS_LOG_LEVEL": "loud"}, []string{"gen-keys", "--schema", "x", "--field", "y"}, `DEIMOS_LOG_LEVEL "loud"`},
		{"config file level", nil, []string{"--config", cfg, "outbox", "status"}, `log.level "loud": use debug, info, warn or error`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, out, errOut := cmdutil.Test("")
			f := &cmdutil.Factory{IO: ios, Getenv: func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }}
			code := Run(context.Background(), f, tt.args)
			if code != 2 || !strings.Contains(errOut.String(), tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, tt.want)
			}
		})
	}
	for _, lvl := range []string{"debug", "INFO", "warn", "error"} {
		ios, _, errOut := cmdutil.Test("")
		f := &cmdutil.Factory{IO: ios, Getenv: func(string) (string, bool) { return "", false }}
		if code := Run(context.Background(), f, []string{"--log-level", lvl, "migrate", "sql", "--dialect", "sqlite"}); code != 0 {
			t.Fatalf("--log-level %s: exit %d %s", lvl, code, errOut)
		}
	}
}

// The letter rule of docs/flags.md: -o is --output and -f is --file (an
// input file) in every command; consume keeps kcat's consumer letters
// (-o offset, -f format), the one documented exception. A new command is
// checked as soon as it is added to the tree.
func TestFlagLettersFollowTheRule(t *testing.T) {
	ios, _, _ := cmdutil.Test("")
	root := NewRoot(&cmdutil.Factory{IO: ios, Getenv: func(string) (string, bool) { return "", false }})
	exceptions := map[string]map[string]string{ // command path -> letter -> long name
		"deimos consume": {"o": "offset", "f": "format"},
	}
	rule := map[string]string{"o": "output", "f": "file"}
	seen := map[string]int{}
	for _, path := range allCommands(t) {
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		c.Flags().VisitAll(func(fl *pflag.Flag) {
			want, ok := rule[fl.Shorthand]
			if ex, has := exceptions[c.CommandPath()][fl.Shorthand]; has {
				want, ok = ex, true
			}
			if ok && fl.Name != want {
				t.Errorf("%s: -%s is --%s; the rule (docs/flags.md) says --%s", c.CommandPath(), fl.Shorthand, fl.Name, want)
			}
			for letter, long := range rule {
				if fl.Name == long && fl.Shorthand != letter && fl.Shorthand != "" {
					t.Errorf("%s: --%s has -%s; the rule says -%s", c.CommandPath(), long, fl.Shorthand, letter)
				}
			}
			if ok {
				seen[fl.Shorthand]++
			}
		})
	}
	if seen["o"] < 5 || seen["f"] < 4 {
		t.Fatalf("the rule was checked on %d -o and %d -f flags; expected the whole tree", seen["o"], seen["f"])
	}
}
