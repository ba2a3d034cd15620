package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// jnode is a JSON value that remembers where it started in the source,
// so problems can name the line of a field in the file.
type jnode struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	keys []string
	obj  map[string]*jnode
	arr  []*jnode
	str  string
	num  json.Number
	b    bool
	off  int // byte offset of the value's first character
}

// lineAt returns the 1-based line of a byte offset.
func lineAt(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	l := lineAt(data, off)
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return l, col
}

// parseJSONNodes parses one JSON document into a jnode tree. A valid
// document is read by scanNodes (a schema repository's files are parsed by
// the thousand, and encoding/json's token stream was most of the cost);
// an invalid one by encoding/json's decoder, whose messages name the fault.
func parseJSONNodes(data []byte) (*jnode, error) {
	if json.Valid(data) {
		s := nodeScanner{data: data}
		return s.value(), nil
	}
	return decodeJSONNodes(data)
}

// decodeJSONNodes is parseJSONNodes through encoding/json's decoder.
func decodeJSONNodes(data []byte) (*jnode, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	n, err := readNode(d, data)
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			l, c := lineCol(data, int(se.Offset))
			return nil, fmt.Errorf("line %d, column %d: invalid JSON: %s", l, c, se.Error())
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			l, c := lineCol(data, len(data))
			return nil, fmt.Errorf("line %d, column %d: invalid JSON: unexpected end of input", l, c)
		}
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		l, c := lineCol(data, int(d.InputOffset()))
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

func readNode(d *json.Decoder, data []byte) (*jnode, error) {
	start := valueStart(data, int(d.InputOffset()))
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	n := &jnode{off: start}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.kind = 'o'
			n.obj = map[string]*jnode{}
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
				if _, dup := n.obj[k]; !dup {
					n.keys = append(n.keys, k)
				}
				n.obj[k] = v
			}
			if _, err := d.Token(); err != nil {
				return nil, err
			}
		case '[':
			n.kind = 'a'
			for d.More() {
				v, err := readNode(d, data)
				if err != nil {
					return nil, err
				}
				n.arr = append(n.arr, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unexpected %v", t)
		}
	case string:
		n.kind, n.str = 's', t
	case json.Number:
		n.kind, n.num = 'n', t
	case bool:
		n.kind, n.b = 'b', t
	case nil:
		n.kind = 'z'
	}
	return n, nil
}

func (n *jnode) get(k string) *jnode {
	if n == nil || n.kind != 'o' {
		return nil
	}
	return n.obj[k]
}

func (n *jnode) kindName() string {
	switch n.kind {
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

// value converts the node to plain Go values (for defaults).
func (n *jnode) value() any {
	switch n.kind {
	case 'o':
		m := make(map[string]any, len(n.obj))
		for k, v := range n.obj {
			m[k] = v.value()
		}
		return m
	case 'a':
		a := make([]any, len(n.arr))
		for i, v := range n.arr {
			a[i] = v.value()
		}
		return a
	case 's':
		return n.str
	case 'n':
		return n.num
	case 'b':
		return n.b
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

func (s *nodeScanner) value() *jnode {
	s.skipSpace()
	n := &jnode{off: s.off}
	switch c := s.data[s.off]; c {
	case '{':
		n.kind = 'o'
		n.obj = map[string]*jnode{}
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
			if _, dup := n.obj[k]; !dup {
				n.keys = append(n.keys, k)
			}
			n.obj[k] = v
			s.skipSpace()
			c := s.data[s.off]
			s.off++
			if c == '}' {
				return n
			}
		}
	case '[':
		n.kind = 'a'
		s.off++
		s.skipSpace()
		if s.data[s.off] == ']' {
			s.off++
			return n
		}
		for {
			n.arr = append(n.arr, s.value())
			s.skipSpace()
			c := s.data[s.off]
			s.off++
			if c == ']' {
				return n
			}
		}
	case '"':
		n.kind, n.str = 's', s.str()
	case 't':
		n.kind, n.b = 'b', true
		s.off += 4
	case 'f':
		n.kind = 'b'
		s.off += 5
	case 'n':
		n.kind = 'z'
		s.off += 4
	default:
		start := s.off
		for s.off < len(s.data) && isNumberByte(s.data[s.off]) {
			s.off++
		}
		n.kind, n.num = 'n', json.Number(s.data[start:s.off])
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
