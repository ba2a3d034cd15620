package avro

import (
	"encoding/json"
	"strconv"

	"github.com/deimos-cli/deimos/internal/jsonesc"
)

// Text is the schema's JSON text with every named type written in full
// where it is first used and by full name afterwards (references inlined),
// logical types kept: the resolved form deimos compares, registers when
// asked to inline, and writes into container files.
func Text(t *Schema) string { return string(appendSchema(nil, t, map[string]bool{})) }

func appendSchema(b []byte, t *Schema, defined map[string]bool) []byte {
	switch t.Kind {
	case Record, Enum, Fixed:
		if defined[t.Name] {
			return jsonesc.AppendString(b, t.Name)
		}
		defined[t.Name] = true
		b = append(b, `{"type":"`...)
		b = append(b, t.Kind...)
		b = append(b, `","name":`...)
		b = jsonesc.AppendString(b, t.ShortName())
		if ns := t.Namespace(); ns != "" {
			b = append(b, `,"namespace":`...)
			b = jsonesc.AppendString(b, ns)
		}
		if t.Doc != "" {
			b = append(b, `,"doc":`...)
			b = jsonesc.AppendString(b, t.Doc)
		}
		switch t.Kind {
		case Record:
			b = append(b, `,"fields":[`...)
			for i, f := range t.Fields {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"name":`...)
				b = jsonesc.AppendString(b, f.Name)
				b = append(b, `,"type":`...)
				b = appendSchema(b, f.Type, defined)
				if f.Doc != "" {
					b = append(b, `,"doc":`...)
					b = jsonesc.AppendString(b, f.Doc)
				}
				if f.HasDefault {
					d, _ := json.Marshal(f.Default)
					b = append(b, `,"default":`...)
					b = append(b, d...)
				}
				b = append(b, '}')
			}
			b = append(b, ']')
		case Enum:
			b = append(b, `,"symbols":[`...)
			for i, s := range t.Symbols {
				if i > 0 {
					b = append(b, ',')
				}
				b = jsonesc.AppendString(b, s)
			}
			b = append(b, ']')
			if t.EnumDefault != nil {
				b = append(b, `,"default":`...)
				b = jsonesc.AppendString(b, *t.EnumDefault)
			}
		case Fixed:
			b = append(b, `,"size":`...)
			b = strconv.AppendInt(b, int64(t.Size), 10)
			if t.Logical != "" {
				b = appendLogicalAttrs(b, t)
			}
		}
		return append(b, '}')
	case Array:
		b = append(b, `{"type":"array","items":`...)
		b = appendSchema(b, t.Items, defined)
		return append(b, '}')
	case Map:
		b = append(b, `{"type":"map","values":`...)
		b = appendSchema(b, t.Values, defined)
		return append(b, '}')
	case Union:
		b = append(b, '[')
		for i, br := range t.Branches {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendSchema(b, br, defined)
		}
		return append(b, ']')
	}
	if t.Logical != "" {
		b = append(b, `{"type":"`...)
		b = append(b, t.Kind...)
		b = append(b, '"')
		b = appendLogicalAttrs(b, t)
		return append(b, '}')
	}
	b = append(b, '"')
	b = append(b, t.Kind...)
	return append(b, '"')
}

func appendLogicalAttrs(b []byte, t *Schema) []byte {
	b = append(b, `,"logicalType":`...)
	b = jsonesc.AppendString(b, t.Logical)
	if t.Logical == "decimal" {
		b = append(b, `,"precision":`...)
		b = strconv.AppendInt(b, int64(t.Precision), 10)
		b = append(b, `,"scale":`...)
		b = strconv.AppendInt(b, int64(t.Scale), 10)
	}
	return b
}

// CanonicalForm is Avro's Parsing Canonical Form of t: full names, no
// namespaces, only the attributes that matter for parsing (name, type,
// fields, symbols, items, values, size) in that order, no whitespace; the
// named types in refs (defined by referenced schemas) are written by name.
// Its strings are names and symbols, which the parser restricts to letters,
// digits, '_' and '.', so the JSON escaper copies them as they are.
func CanonicalForm(t *Schema, refs []string) string {
	defined := map[string]bool{}
	for _, r := range refs {
		defined[r] = true
	}
	return string(appendCanonical(nil, t, defined))
}

func appendCanonical(b []byte, t *Schema, defined map[string]bool) []byte {
	switch t.Kind {
	case Record, Enum, Fixed:
		if defined[t.Name] {
			return jsonesc.AppendString(b, t.Name)
		}
		defined[t.Name] = true
		b = append(b, `{"name":`...)
		b = jsonesc.AppendString(b, t.Name)
		b = append(b, `,"type":"`...)
		b = append(b, t.Kind...)
		b = append(b, '"')
		switch t.Kind {
		case Record:
			b = append(b, `,"fields":[`...)
			for i, f := range t.Fields {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"name":`...)
				b = jsonesc.AppendString(b, f.Name)
				b = append(b, `,"type":`...)
				b = appendCanonical(b, f.Type, defined)
				b = append(b, '}')
			}
			b = append(b, ']')
		case Enum:
			b = append(b, `,"symbols":[`...)
			for i, s := range t.Symbols {
				if i > 0 {
					b = append(b, ',')
				}
				b = jsonesc.AppendString(b, s)
			}
			b = append(b, ']')
		case Fixed:
			b = append(b, `,"size":`...)
			b = strconv.AppendInt(b, int64(t.Size), 10)
		}
		return append(b, '}')
	case Array:
		b = append(b, `{"type":"array","items":`...)
		b = appendCanonical(b, t.Items, defined)
		return append(b, '}')
	case Map:
		b = append(b, `{"type":"map","values":`...)
		b = appendCanonical(b, t.Values, defined)
		return append(b, '}')
	case Union:
		b = append(b, '[')
		for i, br := range t.Branches {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonical(b, br, defined)
		}
		return append(b, ']')
	}
	return jsonesc.AppendString(b, string(t.Kind))
}
