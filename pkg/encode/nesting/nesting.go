// Package nesting holds the one nesting limit of the encode engine. encode
// refuses to write data nested deeper than Max and decode refuses to read it,
// for every backend, so deimos never writes a message it cannot read back
// (docs/encode.md, "Nesting limit").
//
// A level is a JSON object or array in the JSON that `deimos decode` prints
// for the data: Avro records, maps, arrays and bytes shown as byte arrays;
// protobuf messages, repeated fields and maps; JSON objects and arrays. The
// top-level record, message or object is level 1. Union branches, optional
// wrappers and scalar values add no level.
package nesting

import "fmt"

// Max is the deepest nesting encode writes and decode reads. It is the
// default max_nesting of Ruby's JSON parser and generator (JSON.parse,
// JSON.generate), so a Ruby consumer can turn anything deimos writes into
// JSON and back, and it keeps recursive schemas from growing the stack
// without bound on hostile input.
const Max = 100

// Error is returned for data nested deeper than Max.
type Error struct{}

func (Error) Error() string {
	return fmt.Sprintf("data nested more than %d levels deep: deimos neither writes nor reads data nested deeper than %d levels (JSON objects and arrays; Avro records, arrays and maps; protobuf messages, repeated fields and maps)", Max, Max)
}

// JSONDepth returns the deepest nesting of objects and arrays in JSON text
// (0 for a scalar). The text must be valid JSON.
func JSONDepth(b []byte) int {
	depth, deepest := 0, 0
	inStr := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
			if depth > deepest {
				deepest = depth
			}
		case '}', ']':
			depth--
		}
	}
	return deepest
}

// CheckJSON returns an Error when valid JSON text nests deeper than Max.
func CheckJSON(b []byte) error {
	if JSONDepth(b) > Max {
		return Error{}
	}
	return nil
}
