package cmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/cmdutil"
)

// Every --output in the tree is cmdutil's (docs/output.md): it takes text
// and json (table and pretty for text), and a bad word is one line, exit 2.
func TestOutputWordsEverywhere(t *testing.T) {
	ios, _, _ := cmdutil.Test("")
	root := NewRoot(&cmdutil.Factory{IO: ios, Getenv: func(string) (string, bool) { return "", false }})
	n := 0
	for _, path := range allCommands(t) {
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		fl := c.Flags().Lookup("output")
		if fl == nil {
			continue
		}
		n++
		if fl.Value.Type() != "format" {
			t.Errorf("%s: --output is a %s flag, not cmdutil's output flag", c.CommandPath(), fl.Value.Type())
			continue
		}
		for _, w := range []string{"text", "json", "table", "pretty", "JSON"} {
			if err := fl.Value.Set(w); err != nil {
				t.Errorf("%s --output %s: %v", c.CommandPath(), w, err)
			}
		}
		if err := fl.Value.Set("yaml"); err == nil || !strings.Contains(err.Error(), `"yaml" is not text`) || !strings.Contains(err.Error(), "json") {
			t.Errorf("%s --output yaml: %v", c.CommandPath(), err)
		}
	}
	if n < 20 {
		t.Fatalf("only %d commands have --output; expected the whole tree", n)
	}
	code, _, errOut := run(t, "migrate", "status", "--db", "sqlite:x.db", "-o", "yaml")
	if code != 2 || strings.TrimSpace(errOut) != `deimos: invalid argument "yaml" for "-o, --output" flag: "yaml" is not text or json` {
		t.Fatalf("bad word: exit %d, %q; want exit 2 and one line", code, errOut)
	}
}

// The JSON rule (docs/output.md): one compact line on a pipe, indented on
// a terminal, for every command that used to indent always.
func TestJSONOneLineOnAPipe(t *testing.T) {
	dir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dir, "t.db")
	v1 := filepath.Join(dir, "v1.avsc")
	v2 := filepath.Join(dir, "v2.avsc")
	os.WriteFile(v1, []byte(`{"type":"record","name":"W","fields":[{"name":"a","type":"int"}]}`), 0o600)
	os.WriteFile(v2, []byte(`{"type":"record","name":"W","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":""}]}`), 0o600)
	exec := func(tty bool, args ...string) string {
		t.Helper()
		ios, out, errOut := cmdutil.Test("")
		ios.StdoutTTY = tty
		f := &cmdutil.Factory{IO: ios, Getenv: func(string) (string, bool) { return "", false }}
		if code := Run(context.Background(), f, args); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		return out.String()
	}
	exec(false, "migrate", "up", "--db", dbURL)
	for _, args := range [][]string{
		{"migrate", "status", "--db", dbURL, "-o", "json"},
		{"outbox", "status", "--db", dbURL, "-o", "json"},
		{"events", "list", "--db", dbURL, "-o", "json"},
		{"schema-compat", v1, v2, "-o", "json"},
	} {
		piped := exec(false, args...)
		if strings.Count(piped, "\n") != 1 || !strings.HasSuffix(piped, "\n") || !json.Valid([]byte(piped)) {
			t.Errorf("%v piped: %q, want one line of JSON", args, piped)
		}
		tty := exec(true, args...)
		var a, b any
		json.Unmarshal([]byte(piped), &a)
		json.Unmarshal([]byte(tty), &b)
		if piped != "[]\n" && !strings.Contains(tty, "\n  ") {
			t.Errorf("%v on a terminal: %q, want it indented", args, tty)
		}
		if ja, _ := json.Marshal(a); string(ja) != func() string { jb, _ := json.Marshal(b); return string(jb) }() {
			t.Errorf("%v: the terminal and the pipe print different data", args)
		}
	}
}
