package cmdutil

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/muesli/termenv"
	"github.com/spf13/cobra"
)

func TestOutputFlag(t *testing.T) {
	tests := []struct {
		args    []string
		want    Format
		wantErr bool
	}{
		{nil, FormatText, false},
		{[]string{"-o", "json"}, FormatJSON, false},
		{[]string{"--output", "JSON"}, FormatJSON, false},
		{[]string{"--output", "table"}, FormatText, false},
		{[]string{"--output=text"}, FormatText, false},
		{[]string{"-o", "pretty"}, FormatText, false},
		{[]string{"-o", "yaml"}, "", true},
		{[]string{"-o", "raw"}, "", true}, // another command's word
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var f Format
			c := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
			AddOutputFlag(c, &f)
			c.SetArgs(tt.args)
			c.SetOut(&strings.Builder{})
			c.SetErr(&strings.Builder{})
			err := c.Execute()
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "not text or json") {
					t.Fatalf("err = %v, want a 'not text or json' error", err)
				}
				return
			}
			if err != nil || f != tt.want {
				t.Fatalf("format = %q, err %v; want %q", f, err, tt.want)
			}
		})
	}
}

func TestWriteJSONIndentsOnlyOnATerminal(t *testing.T) {
	v := map[string]any{"a": []int{1, 2}, "b": "<x>"}
	ios, out, _ := Test("")
	if err := WriteJSON(ios, v); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != `{"a":[1,2],"b":"<x>"}`+"\n" {
		t.Fatalf("piped JSON = %q, want one compact line without HTML escapes", got)
	}
	ios, out, _ = Test("")
	ios.StdoutTTY = true
	if err := WriteJSON(ios, v); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\n  \"a\": [\n") {
		t.Fatalf("terminal JSON is not indented: %q", out.String())
	}
	var back map[string]any
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
}

func TestTable(t *testing.T) {
	ios, out, _ := Test("")
	tb := NewTable(ios, "NAME", "N", "ERROR", "NOTE").OmitEmpty("ERROR", "NOTE")
	tb.Row("orders", 3, "", "x")
	tb.Row("ünïcode-topic", 12, "", "")
	if err := tb.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "NAME           N   NOTE\n" +
		"orders         3   x\n" +
		"ünïcode-topic  12  -\n"
	if out.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", out.String(), want)
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Fatal("escape codes in piped output")
	}

	// no header: a key/value block
	ios, out, _ = Test("")
	kv := NewTable(ios)
	kv.Row("Topic:", "orders")
	kv.Row("Partitions:", 3)
	kv.Flush()
	if out.String() != "Topic:       orders\nPartitions:  3\n" {
		t.Fatalf("kv = %q", out.String())
	}
}

// A command's own words (consume's raw, schema-compat's github) are
// accepted beside text and json, and named in the error; the auto flag
// stays empty unless given.
func TestOutputFlagExtraWords(t *testing.T) {
	parse := func(auto bool, args ...string) (Format, error) {
		var f Format
		c := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
		if auto {
			AddAutoOutputFlag(c, &f, "usage", "raw")
		} else {
			AddOutputFlag(c, &f, "github")
		}
		c.SetArgs(args)
		c.SetOut(&strings.Builder{})
		c.SetErr(&strings.Builder{})
		return f, c.Execute()
	}
	if f, err := parse(false, "-o", "github"); err != nil || f != "github" {
		t.Fatalf("github: %q %v", f, err)
	}
	if _, err := parse(false, "-o", "raw"); err == nil || !strings.Contains(err.Error(), `"raw" is not text, json or github`) {
		t.Fatalf("raw on a github command: %v", err)
	}
	if f, err := parse(true); err != nil || f != "" {
		t.Fatalf("auto default: %q %v, want empty", f, err)
	}
	if f, err := parse(true, "--output", "pretty"); err != nil || f != FormatText {
		t.Fatalf("auto pretty: %q %v", f, err)
	}
	if f, err := parse(true, "--output", "raw"); err != nil || f != "raw" {
		t.Fatalf("auto raw: %q %v", f, err)
	}
	if _, err := parse(true, "-o", "json"); err == nil {
		t.Fatal("the auto flag has no short letter")
	}
}

// Bad cells are red on a terminal (with colour), plain elsewhere; the
// columns line up on the text either way.
func TestTableBadCells(t *testing.T) {
	for _, tty := range []bool{false, true} {
		ios, out, _ := Test("")
		ios.StdoutTTY = tty
		p := termenv.ANSI
		ios.ColorProfile = &p
		tb := NewTable(ios, "TOPIC", "NOTE", "ERROR").OmitEmpty("NOTE")
		tb.Row("a", "", Bad("yes"))
		tb.Row("bb", "", "no")
		if err := tb.Flush(); err != nil {
			t.Fatal(err)
		}
		plain := "TOPIC  ERROR\na      yes\nbb     no\n"
		if !tty {
			if out.String() != plain {
				t.Fatalf("piped table %q, want %q", out.String(), plain)
			}
			continue
		}
		got := out.String()
		if !strings.Contains(got, "\x1b[1mTOPIC\x1b[0m") || !strings.Contains(got, "\x1b[1;31myes\x1b[0m") || strings.Contains(got, "\x1b[1;31mno") {
			t.Fatalf("terminal table without a bold header and a red bad cell: %q", got)
		}
		if stripped := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(got, ""); stripped != plain {
			t.Fatalf("terminal table without its escapes %q, want %q", stripped, plain)
		}
	}
}
