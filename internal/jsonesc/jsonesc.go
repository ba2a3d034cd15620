// Package jsonesc writes JSON string literals. It is the module's one JSON
// string escaper: every hand-built JSON text (envelopes, decoded Avro and
// Protobuf, schema texts, JSON Schema documents) quotes its strings here.
//
// The output is byte for byte what encoding/json writes for a string with
// SetEscapeHTML(false):
//
//   - '"' and '\\' are escaped with a backslash;
//   - \b, \f, \n, \r and \t use their short escapes, other bytes below 0x20
//     are written \u00XX (lower-case hex);
//   - U+2028 and U+2029 are written \u2028 and \u2029, so the text can be
//     pasted into JavaScript source;
//   - each byte that is not part of valid UTF-8 becomes \ufffd (U+FFFD):
//     the output is always valid UTF-8, and callers that must keep such
//     bytes write them base64 instead;
//   - everything else, '<', '>', '&' and DEL included, is copied as is (no
//     HTML escaping: the output is data for programs and terminals, not for
//     web pages).
//
// One place deliberately writes otherwise: pkg/checkpoint's checksum and
// payload column reproduce ActiveSupport's to_json, which escapes '<', '>'
// and '&' as \u003c, \u003e and \u0026, so it uses json.Marshal (see
// docs/events.md).
package jsonesc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"unicode/utf8"
)

// Marshal is json.Marshal without HTML escaping: compact JSON, map keys
// sorted, strings escaped as AppendString escapes them. It is how a Go
// value (not a hand-built text) becomes the JSON deimos sends or stores.
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

const hex = "0123456789abcdef"

// AppendString appends s to dst as a JSON string literal, quotes included.
// It does not allocate beyond growing dst.
func AppendString(dst []byte, s string) []byte {
	if i := plainPrefix(s); i < len(s) {
		return appendEscaped(append(dst, '"'), s, i)
	}
	// the common case: nothing to escape, one copy between the quotes
	n := len(dst)
	if cap(dst)-n < len(s)+2 {
		dst = append(dst[:cap(dst)], make([]byte, len(s)+2-(cap(dst)-n))...)
	}
	dst = dst[:n+len(s)+2]
	dst[n] = '"'
	copy(dst[n+1:], s)
	dst[n+1+len(s)] = '"'
	return dst
}

// plain[c] says byte c is copied as is by itself: ASCII other than control
// characters, '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainPrefix is the length of s's longest prefix of plain bytes (at most a
// few short of it when s ends in a plain run: then it is len(s) anyway):
// words of 8 bytes, then the last 8 bytes as one (overlapping) word, or the
// bytes of a short string one by one.
func plainPrefix(s string) int {
	i := 0
	for ; i+16 <= len(s); i += 16 {
		// two words, one test: the constants are loaded once per 16 bytes
		if needsEscape16(load8(s, i), load8(s, i+8)) {
			break
		}
	}
	for ; i+8 <= len(s); i += 8 {
		if needsEscape8(load8(s, i)) {
			return i
		}
	}
	if i == len(s) {
		return i
	}
	if len(s) >= 8 {
		if !needsEscape8(load8(s, len(s)-8)) {
			return len(s)
		}
		return i
	}
	for ; i < len(s); i++ {
		if !plain[s[i]] {
			return i
		}
	}
	return i
}

// appendEscaped appends s[:start] as it is, then the rest of s escaped, and
// the closing quote.
func appendEscaped(dst []byte, s string, from int) []byte {
	start := 0
	for i := from; i < len(s); {
		// 8 bytes at a time while none of them needs attention
		for i+8 <= len(s) && !needsEscape8(load8(s, i)) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// load8 reads s[i:i+8] as a little-endian word (the compiler makes it one
// load).
func load8(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// needsEscape8 reports whether any of the 8 bytes in x is a control
// character, '"', '\\' or not ASCII. It is exact: the has-less-than and
// has-zero-byte word tricks answer "is there such a byte" without misses
// or false alarms.
func needsEscape8(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	bs := x ^ (lo * '\\')
	return ((x-lo*0x20)&^x|(q-lo)&^q|(bs-lo)&^bs|x)&hi != 0
}

// needsEscape16 is needsEscape8(x) || needsEscape8(y).
func needsEscape16(x, y uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	qx, qy := x^(lo*'"'), y^(lo*'"')
	bx, by := x^(lo*'\\'), y^(lo*'\\')
	return ((x-lo*0x20)&^x|(qx-lo)&^qx|(bx-lo)&^bx|x|
		(y-lo*0x20)&^y|(qy-lo)&^qy|(by-lo)&^by|y)&hi != 0
}

// PlainLen is the length of b's longest prefix of bytes a JSON string holds
// as they are, in its text and in AppendString's output alike: ASCII other
// than control characters, '"' and '\\'. It reads 8 bytes at a time, for
// parsers scanning string literals.
func PlainLen(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if needsEscape8(binary.LittleEndian.Uint64(b[i:])) {
			break
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return i
		}
	}
	return i
}
