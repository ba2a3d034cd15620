package consume

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// Output formats.
const (
	FormatJSON   = "json"
	FormatPretty = "pretty"
	FormatRaw    = "raw"
)

// Printer is a Handler that writes records to w and flushes after every
// batch, so a group commit always follows the output of what it commits.
type Printer struct {
	w        *bufio.Writer
	format   string
	template []tmplPart
	buf      []byte
	styles   prettyStyles
	env      envelopeWriter
}

// NewPrinter writes in format (json, pretty, raw) or, when template is set,
// with kcat's -f tokens.
func NewPrinter(w io.Writer, format, template string) (*Printer, error) {
	p := &Printer{w: bufio.NewWriterSize(w, 1<<20), format: format}
	if template != "" {
		p.template = parseTemplate(template)
		return p, nil
	}
	switch format {
	case FormatJSON, FormatRaw:
	case FormatPretty:
		p.styles = newPrettyStyles(w)
	default:
		return nil, fmt.Errorf("--output %q: use json, pretty or raw", format)
	}
	return p, nil
}

// Handle writes a batch and flushes.
func (p *Printer) Handle(_ context.Context, batch []Record) error {
	if p.template == nil && p.format == FormatJSON {
		// straight into the writer's buffer (copied only when a line does
		// not fit in what is left of it)
		for i := range batch {
			b := p.env.append(p.w.AvailableBuffer(), &batch[i])
			if _, err := p.w.Write(append(b, '\n')); err != nil {
				return err
			}
		}
		return p.w.Flush()
	}
	for i := range batch {
		r := &batch[i]
		p.buf = p.buf[:0]
		switch {
		case p.template != nil:
			p.buf = p.appendTemplate(p.buf, r)
		case p.format == FormatJSON:
			p.buf = AppendEnvelope(p.buf, r)
			p.buf = append(p.buf, '\n')
		case p.format == FormatRaw:
			p.buf = append(p.buf, r.RawValue...)
			p.buf = append(p.buf, '\n')
		default:
			p.buf = p.appendPretty(p.buf, r)
		}
		if _, err := p.w.Write(p.buf); err != nil {
			return err
		}
	}
	return p.w.Flush()
}

// Text returns a part as plain text: JSON text for json, the string itself
// for string, base64 text for base64; "" for null.
func Text(v json.RawMessage, enc string) string {
	if v == nil {
		return ""
	}
	if enc == EncString || enc == EncBase64 {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	return string(v)
}

type tmplPart struct {
	lit   string
	token byte
}

func parseTemplate(s string) []tmplPart {
	var parts []tmplPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, tmplPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				lit.WriteByte('\n')
			case 't':
				lit.WriteByte('\t')
			case 'r':
				lit.WriteByte('\r')
			case '0':
				lit.WriteByte(0)
			default:
				lit.WriteByte(s[i])
			}
			continue
		}
		if c == '%' && i+1 < len(s) {
			i++
			if s[i] == '%' {
				lit.WriteByte('%')
				continue
			}
			if strings.IndexByte("tpokKsSThH", s[i]) >= 0 {
				flush()
				parts = append(parts, tmplPart{token: s[i]})
				continue
			}
			lit.WriteByte('%')
			lit.WriteByte(s[i])
			continue
		}
		lit.WriteByte(c)
	}
	flush()
	return parts
}

func (p *Printer) appendTemplate(buf []byte, r *Record) []byte {
	for _, t := range p.template {
		switch t.token {
		case 0:
			buf = append(buf, t.lit...)
		case 't':
			buf = append(buf, r.Topic...)
		case 'p':
			buf = strconv.AppendInt(buf, int64(r.Partition), 10)
		case 'o':
			buf = strconv.AppendInt(buf, r.Offset, 10)
		case 'k':
			buf = append(buf, Text(r.Key, r.KeyEncoding)...)
		case 's':
			buf = append(buf, Text(r.Value, r.ValueEncoding)...)
		case 'K':
			buf = strconv.AppendInt(buf, sizeOf(r.RawKey), 10)
		case 'S':
			buf = strconv.AppendInt(buf, sizeOf(r.RawValue), 10)
		case 'T':
			buf = strconv.AppendInt(buf, r.Timestamp.UnixMilli(), 10)
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, h.Key...)
				buf = append(buf, '=')
				buf = append(buf, h.Value...)
			}
		case 'H':
			buf = strconv.AppendInt(buf, int64(len(r.Headers)), 10)
		}
	}
	return buf
}

// sizeOf is kcat's size: -1 for null.
func sizeOf(b []byte) int64 {
	if b == nil {
		return -1
	}
	return int64(len(b))
}

type prettyStyles struct {
	meta, key, err, dim lipgloss.Style
}

func newPrettyStyles(w io.Writer) prettyStyles {
	r := lipgloss.NewRenderer(w)
	return prettyStyles{
		meta: r.NewStyle().Bold(true).Foreground(lipgloss.Color("12")),
		key:  r.NewStyle().Foreground(lipgloss.Color("11")),
		err:  r.NewStyle().Bold(true).Foreground(lipgloss.Color("9")),
		dim:  r.NewStyle().Faint(true),
	}
}

func (p *Printer) appendPretty(buf []byte, r *Record) []byte {
	s := p.styles
	head := fmt.Sprintf("%s[%d]@%d", r.Topic, r.Partition, r.Offset)
	buf = append(buf, s.meta.Render(head)...)
	buf = append(buf, ' ')
	buf = append(buf, s.dim.Render(r.Timestamp.UTC().Format(TimeLayout))...)
	if r.Key != nil {
		buf = append(buf, "  key="...)
		buf = append(buf, s.key.Render(prettyPart(r.Key, r.KeyEncoding, false))...)
	}
	buf = append(buf, '\n')
	for _, h := range r.Headers {
		buf = append(buf, s.dim.Render(fmt.Sprintf("  %s: %s", h.Key, h.Value))...)
		buf = append(buf, '\n')
	}
	if r.DecodeErr != nil {
		buf = append(buf, s.err.Render("  error: "+r.DecodeErr.Error())...)
		buf = append(buf, '\n')
	}
	if r.Value == nil {
		buf = append(buf, s.dim.Render("  (tombstone)")...)
	} else {
		buf = append(buf, prettyPart(r.Value, r.ValueEncoding, true)...)
	}
	return append(buf, '\n', '\n')
}

func prettyPart(v json.RawMessage, enc string, indent bool) string {
	if enc == EncJSON && indent {
		var b bytes.Buffer
		if json.Indent(&b, v, "  ", "  ") == nil {
			return "  " + b.String()
		}
	}
	t := Text(v, enc)
	if enc == EncBase64 {
		t = "base64:" + t
	}
	if indent {
		return "  " + t
	}
	return t
}
