// Package jsonnode parses a JSON document into a tree whose nodes remember
// where they start in the source, so that problems found in a schema can
// name the line (Avro and JSON Schema files alike).
package jsonnode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Node is a JSON value that remembers where it started in the source.
type Node struct {
	Kind byte     // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	Keys []string // an object's keys in order (a repeated key keeps its first place)
	Obj  map[string]*Node
	Arr  []*Node
	Str  string
	Num  json.Number
	Bool bool
	Off  int // byte offset of the value's first character
}

// Line returns the 1-based line of a byte offset.
func Line(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

// LineCol returns the 1-based line and column of a byte offset.
func LineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	l := Line(data, off)
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return l, col
}

// Parse parses one JSON document into a Node tree; errors name the line
// and column. A valid
// document is read by scanNodes (a schema repository's files are parsed by
// the thousand, and encoding/json's token stream was most of the cost);
// an invalid one by encoding/json's decoder, whose messages name the fault.
func Parse(data []byte) (*Node, error) {
	if json.Valid(data) {
		s := nodeScanner{data: data}
		return s.value(), nil
	}
	return decodeJSONNodes(data)
}

// decodeJSONNodes is Parse through encoding/json's decoder.
func decodeJSONNodes(data []byte) (*Node, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	n, err := readNode(d, data)
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			l, c := LineCol(data, int(se.Offset))
			return nil, fmt.Errorf("line %d, column %d: invalid JSON: %s", l, c, se.Error())
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			l, c := LineCol(data, len(data))
			return nil, fmt.Errorf("line %d, column %d: invalid JSON: unexpected end of input", l, c)
		}
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		l, c := LineCol(data, int(d.InputOffset()))
		return nil, fmt.Errorf("line %d, column %d: invalid JSON: data after the schema document", l, c)
	}
	return n, nil
}

// valueStart finds the offset of the first non-space byte at or after off.
func valueStart(data []byte, off int) int {
	for off < len(data) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
		default:
			return off
		}
	}
	return off
}

func readNode(d *json.Decoder, data []byte) (*Node, error) {
	start := valueStart(data, int(d.InputOffset()))
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	n := &Node{Off: start}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.Kind = 'o'
			n.Obj = map[string]*Node{}
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := readNode(d, data)
				if err != nil {
					return nil, err
				}
				if _, dup := n.Obj[k]; !dup {
					n.Keys = append(n.Keys, k)
				}
				n.Obj[k] = v
			}
			if _, err := d.Token(); err != nil {
				return nil, err
			}
		case '[':
			n.Kind = 'a'
			for d.More() {
				v, err := readNode(d, data)
				if err != nil {
					return nil, err
				}
				n.Arr = append(n.Arr, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unexpected %v", t)
		}
	case string:
		n.Kind, n.Str = 's', t
	case json.Number:
		n.Kind, n.Num = 'n', t
	case bool:
		n.Kind, n.Bool = 'b', t
	case nil:
		n.Kind = 'z'
	}
	return n, nil
}

// Get returns an object's member k (nil: none, or not an object).
func (n *Node) Get(k string) *Node {
	if n == nil || n.Kind != 'o' {
		return nil
	}
	return n.Obj[k]
}

// KindName names the node's JSON type for messages.
func (n *Node) KindName() string {
	switch n.Kind {
	case 'o':
		return "object"
	case 'a':
		return "array"
	case 's':
		return "string"
	case 'n':
		return "number"
	case 'b':
		return "boolean"
	}
	return "null"
}

// Value converts the node to plain Go values: map[string]any, []any,
// string, json.Number, bool, nil.
func (n *Node) Value() any { return n.ValueWith(nil) }

// ValueWith is Value, calling object (when not nil) for each object built
// with its keys in source order.
func (n *Node) ValueWith(object func(m map[string]any, keys []string)) any {
	switch n.Kind {
	case 'o':
		m := make(map[string]any, len(n.Obj))
		for k, v := range n.Obj {
			m[k] = v.ValueWith(object)
		}
		if object != nil {
			object(m, n.Keys)
		}
		return m
	case 'a':
		a := make([]any, len(n.Arr))
		for i, v := range n.Arr {
			a[i] = v.ValueWith(object)
		}
		return a
	case 's':
		return n.Str
	case 'n':
		return n.Num
	case 'b':
		return n.Bool
	}
	return nil
}

// nodeScanner reads a document that json.Valid accepted into the same tree
// readNode builds: strings unquoted as encoding/json unquotes them, numbers
// as their literal text, a repeated key keeping its first place and its last
// value, each node's offset at its first byte.
type nodeScanner struct {
	data []byte
	off  int
}

func (s *nodeScanner) skipSpace() {
	for s.off < len(s.data) {
		switch s.data[s.off] {
		case ' ', '\t', '\r', '\n':
			s.off++
		default:
			return
		}
	}
}

func (s *nodeScanner) value() *Node {
	s.skipSpace()
	n := &Node{Off: s.off}
	switch c := s.data[s.off]; c {
	case '{':
		n.Kind = 'o'
		n.Obj = map[string]*Node{}
		s.off++
		s.skipSpace()
		if s.data[s.off] == '}' {
			s.off++
			return n
		}
		for {
			s.skipSpace()
			k := s.str()
			s.skipSpace()
			s.off++ // ':'
			v := s.value()
			if _, dup := n.Obj[k]; !dup {
				n.Keys = append(n.Keys, k)
			}
			n.Obj[k] = v
			s.skipSpace()
			c := s.data[s.off]
			s.off++
			if c == '}' {
				return n
			}
		}
	case '[':
		n.Kind = 'a'
		s.off++
		s.skipSpace()
		if s.data[s.off] == ']' {
			s.off++
			return n
		}
		for {
			n.Arr = append(n.Arr, s.value())
			s.skipSpace()
			c := s.data[s.off]
			s.off++
			if c == ']' {
				return n
			}
		}
	case '"':
		n.Kind, n.Str = 's', s.str()
	case 't':
		n.Kind, n.Bool = 'b', true
		s.off += 4
	case 'f':
		n.Kind = 'b'
		s.off += 5
	case 'n':
		n.Kind = 'z'
		s.off += 4
	default:
		start := s.off
		for s.off < len(s.data) && isNumberByte(s.data[s.off]) {
			s.off++
		}
		n.Kind, n.Num = 'n', json.Number(s.data[start:s.off])
	}
	return n
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// str reads the string starting at the current offset (a '"').
func (s *nodeScanner) str() string {
	start := s.off
	s.off++
	escaped, ascii := false, true
	for {
		c := s.data[s.off]
		if c == '"' {
			break
		}
		if c == '\\' {
			escaped = true
			s.off++
		} else if c >= utf8.RuneSelf {
			ascii = false
		}
		s.off++
	}
	s.off++
	raw := s.data[start:s.off]
	if !escaped && (ascii || utf8.Valid(raw)) {
		return string(raw[1 : len(raw)-1])
	}
	var out string
	_ = json.Unmarshal(raw, &out) // valid JSON: escapes and UTF-8 as encoding/json reads them
	return out
}
