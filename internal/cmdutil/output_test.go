package cmdutil

import (
	"encoding/json"
	"strings"
	"testing"

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
		{[]string{"-o", "yaml"}, "", true},
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
