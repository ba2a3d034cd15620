package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
	"github.com/spf13/cobra"
)

// Format is the value of a command's --output flag: text (also spelled
// table) or json. Commands with more formats (schema-compat's github) keep
// their own flag; everything that prints data or a table uses this one.
type Format string

// The formats every data-printing command accepts.
const (
	FormatText Format = "text"
	FormatJSON Format = "json"
)

// String implements pflag.Value.
func (f *Format) String() string {
	if *f == "" {
		return string(FormatText)
	}
	return string(*f)
}

// Set implements pflag.Value: a bad value fails flag parsing (exit 2).
func (f *Format) Set(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "text", "table":
		*f = FormatText
	case "json":
		*f = FormatJSON
	default:
		return fmt.Errorf("%q is not text or json", s)
	}
	return nil
}

// Type implements pflag.Value.
func (f *Format) Type() string { return "format" }

// JSON reports whether JSON output was asked for.
func (f Format) JSON() bool { return f == FormatJSON }

// AddOutputFlag adds -o/--output text|json (default text; "table" is an
// alias of text) to c, with shell completion of the two values.
func AddOutputFlag(c *cobra.Command, f *Format) {
	if *f == "" {
		*f = FormatText
	}
	c.Flags().VarP(f, "output", "o", "output format: text or json (table is an alias of text)")
	_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
}

// WriteJSON writes v as one JSON document: indented on a terminal, one
// compact line when stdout is a pipe or a file (for jq and line tools).
func WriteJSON(ios *IOStreams, v any) error {
	enc := json.NewEncoder(ios.Out)
	enc.SetEscapeHTML(false)
	if ios.StdoutTTY {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

// Table collects rows and writes them as aligned columns under a header.
// On a terminal the header is bold; elsewhere nothing but text and spaces
// is written, so the output is stable for scripts and tests.
type Table struct {
	out       io.Writer
	tty       bool
	header    []string
	rows      [][]string
	omitEmpty map[int]bool
}

// NewTable starts a table on ios.Out with the given column names.
func NewTable(ios *IOStreams, header ...string) *Table {
	return &Table{out: ios.Out, tty: ios.StdoutTTY, header: header}
}

// Row adds one row; cells are formatted with fmt.Sprint, and an empty
// cell is shown as "-" so columns never collapse.
func (t *Table) Row(cells ...any) {
	r := make([]string, len(cells))
	for i, c := range cells {
		s := fmt.Sprint(c)
		if s == "" {
			s = "-"
		}
		r[i] = strings.ReplaceAll(s, "\n", " ")
	}
	t.rows = append(t.rows, r)
}

// OmitEmpty drops the named columns (an ERROR or NOTE column, say) when
// no row has anything in them.
func (t *Table) OmitEmpty(names ...string) *Table {
	if t.omitEmpty == nil {
		t.omitEmpty = map[int]bool{}
	}
	for _, n := range names {
		for i, h := range t.header {
			if h == n {
				t.omitEmpty[i] = true
			}
		}
	}
	return t
}

// dropEmpty removes the OmitEmpty columns that hold only "-".
func (t *Table) dropEmpty() {
	for i := len(t.header) - 1; i >= 0; i-- {
		if !t.omitEmpty[i] {
			continue
		}
		empty := true
		for _, r := range t.rows {
			if i < len(r) && r[i] != "-" {
				empty = false
				break
			}
		}
		if !empty {
			continue
		}
		t.header = append(t.header[:i:i], t.header[i+1:]...)
		for j, r := range t.rows {
			if i < len(r) {
				t.rows[j] = append(r[:i:i], r[i+1:]...)
			}
		}
	}
}

// Len is the number of rows added.
func (t *Table) Len() int { return len(t.rows) }

// Flush writes the header and rows, columns separated by two spaces.
func (t *Table) Flush() error {
	t.dropEmpty()
	widths := make([]int, len(t.header))
	grow := func(r []string) {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			if n := utf8.RuneCountInString(c); n > widths[i] {
				widths[i] = n
			}
		}
	}
	grow(t.header)
	for _, r := range t.rows {
		grow(r)
	}
	var b strings.Builder
	line := func(r []string, style func(string) string) {
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(style(c))
				break
			}
			b.WriteString(style(c))
			b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
		}
		b.WriteByte('\n')
	}
	plain := func(s string) string { return s }
	if len(t.header) > 0 {
		hs := plain
		if t.tty {
			bold := lipgloss.NewStyle().Bold(true)
			hs = func(s string) string { return bold.Render(s) }
		}
		line(t.header, hs)
	}
	for _, r := range t.rows {
		line(r, plain)
	}
	_, err := io.WriteString(t.out, b.String())
	return err
}
