package envelope

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Output formats: the words of consume's --output.
const (
	FormatJSON = "json" // one envelope per line
	FormatText = "text" // for people: coordinates, key, headers, indented value
	FormatRaw  = "raw"  // the value bytes, one per line
)

// Styles colour the text format (the command builds them from its
// terminal); a nil function prints its text as it is.
type Styles struct {
	Meta, Key, Err, Dim func(string) string
}

// PrinterOptions say what a Printer writes.
type PrinterOptions struct {
	Format   string // FormatJSON, FormatText or FormatRaw
	Template string // kcat's -f tokens; replaces Format when set
	Styles   Styles // for FormatText
}

// Printer is a Handler that writes records to w and flushes after every
// batch, so a group commit always follows the output of what it commits.
type Printer struct {
	w        *bufio.Writer
	format   string
	template []tmplPart
	buf      []byte
	styles   Styles
	env      envelopeWriter
}

// NewPrinter writes in o.Format or, when o.Template is set, with kcat's -f
// tokens.
func NewPrinter(w io.Writer, o PrinterOptions) (*Printer, error) {
	p := &Printer{w: bufio.NewWriterSize(w, 1<<20), format: o.Format, styles: o.Styles.orPlain()}
	if o.Template != "" {
		p.template = parseTemplate(o.Template)
		return p, nil
	}
	switch o.Format {
	case FormatJSON, FormatRaw, FormatText:
	default:
		return nil, fmt.Errorf("--output %q: use text, json or raw", o.Format)
	}
	return p, nil
}

// Handle writes a batch and flushes.
func (p *Printer) Handle(ctx context.Context, batch []Record) error {
	if err := p.HandleChunk(ctx, batch); err != nil {
		return err
	}
	return p.w.Flush()
}

// Flush writes out what HandleChunk left in the buffer.
func (p *Printer) Flush() error { return p.w.Flush() }

// HandleChunk writes a batch into the buffer, which goes out when full or
// at Flush: a consumer handing over one poll in several chunks flushes once,
// after the last (and before it commits).
func (p *Printer) HandleChunk(_ context.Context, batch []Record) error {
	if p.template == nil && p.format == FormatJSON {
		// straight into the writer's buffer (copied only when a line does
		// not fit in what is left of it)
		for i := range batch {
			b := p.env.append(p.w.AvailableBuffer(), &batch[i])
			if _, err := p.w.Write(append(b, '\n')); err != nil {
				return err
			}
		}
		return nil
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
	return nil
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

func plain(s string) string { return s }

// orPlain fills the functions left nil.
func (s Styles) orPlain() Styles {
	for _, f := range []*func(string) string{&s.Meta, &s.Key, &s.Err, &s.Dim} {
		if *f == nil {
			*f = plain
		}
	}
	return s
}

func (p *Printer) appendPretty(buf []byte, r *Record) []byte {
	s := p.styles
	head := fmt.Sprintf("%s[%d]@%d", r.Topic, r.Partition, r.Offset)
	buf = append(buf, s.Meta(head)...)
	buf = append(buf, ' ')
	buf = append(buf, s.Dim(r.Timestamp.UTC().Format(TimeLayout))...)
	if r.Key != nil {
		buf = append(buf, "  key="...)
		buf = append(buf, s.Key(prettyPart(r.Key, r.KeyEncoding, false))...)
	}
	buf = append(buf, '\n')
	for _, h := range r.Headers {
		buf = append(buf, s.Dim(fmt.Sprintf("  %s: %s", h.Key, h.Value))...)
		buf = append(buf, '\n')
	}
	if r.DecodeErr != nil {
		buf = append(buf, s.Err("  error: "+r.DecodeErr.Error())...)
		buf = append(buf, '\n')
	}
	if r.Value == nil {
		buf = append(buf, s.Dim("  (tombstone)")...)
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
