package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"
)

// Format is the value of a command's --output flag. Every command that
// prints data takes the same two words, text and json; "table" and
// "pretty" are accepted as aliases of text. A command with a further form
// of its own (consume's raw, schema-compat's github) names it when it adds
// the flag. docs/output.md describes the rule.
type Format string

// The formats every data-printing command accepts.
const (
	FormatText Format = "text"
	FormatJSON Format = "json"
)

// String implements fmt.Stringer (and pflag.Value through outputValue).
func (f *Format) String() string {
	if *f == "" {
		return string(FormatText)
	}
	return string(*f)
}

// Set parses text or json (or an alias of text), as the flag does.
func (f *Format) Set(s string) error { return (&outputValue{f: f}).Set(s) }

// Type implements pflag.Value.
func (f *Format) Type() string { return "format" }

// JSON reports whether JSON output was asked for.
func (f Format) JSON() bool { return f == FormatJSON }

// Text reports whether text output was asked for (or nothing, where text
// is the default).
func (f Format) Text() bool { return f == FormatText || f == "" }

// outputValue is the pflag.Value behind --output: text, json, an alias of
// text, or one of the command's extra words.
type outputValue struct {
	f     *Format
	extra []Format
	auto  bool // "" (the default) stays "": the command picks by terminal
}

func (v *outputValue) String() string {
	if *v.f == "" && v.auto {
		return ""
	}
	return v.f.String()
}

func (v *outputValue) Type() string { return "format" }

func (v *outputValue) Set(s string) error {
	w := Format(strings.ToLower(strings.TrimSpace(s)))
	switch {
	case w == FormatText || w == "table" || w == "pretty":
		*v.f = FormatText
	case w == FormatJSON || slices.Contains(v.extra, w):
		*v.f = w
	default:
		return fmt.Errorf("%q is not %s", s, v.words(" or "))
	}
	return nil
}

// words lists the accepted words: "text, json or raw".
func (v *outputValue) words(last string) string {
	ws := []string{string(FormatText), string(FormatJSON)}
	for _, e := range v.extra {
		ws = append(ws, string(e))
	}
	return strings.Join(ws[:len(ws)-1], ", ") + last + ws[len(ws)-1]
}

// AddOutputFlag adds -o/--output text|json (default text; "table" and
// "pretty" are aliases of text) to c, plus any extra words the command
// prints, with shell completion of the words.
func AddOutputFlag(c *cobra.Command, f *Format, extra ...Format) {
	if *f == "" {
		*f = FormatText
	}
	v := &outputValue{f: f, extra: extra}
	c.Flags().VarP(v, "output", "o", "output format: "+v.words(" or ")+" (table is an alias of text)")
	completeOutput(c, v)
}

// AddAutoOutputFlag adds --output without a short letter (consume, where
// -o is kcat's offset) and without a default: the flag stays "" unless
// given, and the command picks text on a terminal and json elsewhere.
func AddAutoOutputFlag(c *cobra.Command, f *Format, usage string, extra ...Format) {
	v := &outputValue{f: f, extra: extra, auto: true}
	c.Flags().Var(v, "output", usage)
	completeOutput(c, v)
}

func completeOutput(c *cobra.Command, v *outputValue) {
	words := []string{string(FormatText), string(FormatJSON)}
	for _, e := range v.extra {
		words = append(words, string(e))
	}
	_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp))
}

// WriteJSON writes v as one JSON document, the rule for every command's
// --output json: one compact line when stdout is a pipe or a file (for jq
// and line tools; a stream of results is one object per line), indented
// on a terminal. <>& are written as they are.
func WriteJSON(ios *IOStreams, v any) error {
	enc := json.NewEncoder(ios.Out)
	enc.SetEscapeHTML(false)
	if ios.StdoutTTY {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

// Styles is the one set of lipgloss styles commands print with, on a
// renderer bound to the command's stdout (never lipgloss's global one):
// on a terminal they colour; on a pipe or file they write the text as it is.
type Styles struct {
	Header lipgloss.Style // table headers
	OK     lipgloss.Style // a check that passed
	Bad    lipgloss.Style // an error, a failed check, a count that needs looking at
	Dim    lipgloss.Style // secondary detail (timestamps, headers, skipped items)
	Meta   lipgloss.Style // a record's coordinates (topic[partition]@offset)
	Key    lipgloss.Style // a record's key
}

// Styles returns the style set for ios.Out.
func (ios *IOStreams) Styles() *Styles {
	r := lipgloss.NewRenderer(ios.Out)
	if !ios.StdoutTTY {
		r.SetColorProfile(termenv.Ascii)
	} else if ios.ColorProfile != nil {
		r.SetColorProfile(*ios.ColorProfile)
	}
	return &Styles{
		Header: r.NewStyle().Bold(true),
		OK:     r.NewStyle().Foreground(lipgloss.Color("2")).Bold(true),
		Bad:    r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
		Dim:    r.NewStyle().Faint(true),
		Meta:   r.NewStyle().Bold(true).Foreground(lipgloss.Color("12")),
		Key:    r.NewStyle().Foreground(lipgloss.Color("11")),
	}
}

// Table collects rows and writes them as aligned columns under a header.
// On a terminal the header is bold and Bad cells are red; elsewhere
// nothing but text and spaces is written, so the output is stable for
// scripts and tests.
type Table struct {
	out       io.Writer
	styles    *Styles
	header    []string
	rows      [][]string
	bad       map[[2]int]bool // row, column of cells shown in the Bad style
	omitEmpty map[int]bool
}

// Bad marks a table cell to be shown in the Bad style (red on a terminal).
type Bad string

// NewTable starts a table on ios.Out with the given column names.
func NewTable(ios *IOStreams, header ...string) *Table {
	return &Table{out: ios.Out, styles: ios.Styles(), header: header}
}

// Row adds one row; cells are formatted with fmt.Sprint, and an empty
// cell is shown as "-" so columns never collapse.
func (t *Table) Row(cells ...any) {
	r := make([]string, len(cells))
	for i, c := range cells {
		if b, ok := c.(Bad); ok {
			if t.bad == nil {
				t.bad = map[[2]int]bool{}
			}
			t.bad[[2]int{len(t.rows), i}] = true
			c = string(b)
		}
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
		// Bad cells right of the dropped column move one left
		moved := map[[2]int]bool{}
		for k := range t.bad {
			if k[1] > i {
				k[1]--
			}
			moved[k] = true
		}
		t.bad = moved
	}
}

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
	line := func(r []string, style func(col int, s string) string) {
		for i, c := range r {
			b.WriteString(style(i, c))
			if i == len(r)-1 {
				break
			}
			b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
		}
		b.WriteByte('\n')
	}
	if len(t.header) > 0 {
		line(t.header, func(_ int, s string) string { return t.styles.Header.Render(s) })
	}
	for ri, r := range t.rows {
		line(r, func(col int, s string) string {
			if t.bad[[2]int{ri, col}] {
				return t.styles.Bad.Render(s)
			}
			return s
		})
	}
	_, err := io.WriteString(t.out, b.String())
	return err
}
