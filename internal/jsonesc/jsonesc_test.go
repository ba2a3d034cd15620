package jsonesc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// stdlib is the reference: encoding/json without HTML escaping.
func stdlib(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func TestAppendString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"plain ascii text", `"plain ascii text"`},
		{`q"b\`, `"q\"b\\"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"<a href='x'>&amp;</a>", `"<a href='x'>&amp;</a>"`},
		{"café 日本 🎉", `"café 日本 🎉"`},
		{"a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"bad \xff byte", `"bad \ufffd byte"`},
		{"\xe2\x80", `"\ufffd\ufffd"`},           // truncated sequence: one U+FFFD per byte
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`}, // encoded surrogate
		{"\uFFFD", "\"\uFFFD\""},                 // a real U+FFFD stays as is
		{"0123456789abcdef\"0123456789abcdef", `"0123456789abcdef\"0123456789abcdef"`},
		{"longer than eight bytes then\n", `"longer than eight bytes then\n"`},
	} {
		got := AppendString(nil, tc.in)
		if string(got) != tc.want {
			t.Errorf("AppendString(%q) = %s, want %s", tc.in, got, tc.want)
		}
		if ref := stdlib(tc.in); !bytes.Equal(got, ref) {
			t.Errorf("AppendString(%q) = %s, encoding/json writes %s", tc.in, got, ref)
		}
	}
}

func TestAppendStringAppends(t *testing.T) {
	dst := []byte(`{"k":`)
	if got := string(AppendString(dst, "v")); got != `{"k":"v"` {
		t.Fatalf("got %s", got)
	}
}

// Every byte value at every offset of a word, so that the 8-byte skip is
// checked at each position against the byte-wise answer.
func TestAppendStringEveryByteEveryPosition(t *testing.T) {
	// every length up to 40: the 16- and 8-byte blocks, the overlapping
	// last word and the short strings' byte loop
	for n := 1; n <= 40; n++ {
		for c := 0; c < 256; c++ {
			for pos := 0; pos < n; pos++ {
				b := []byte(strings.Repeat("x", n))
				b[pos] = byte(c)
				s := string(b)
				if got, want := AppendString(nil, s), stdlib(s); !bytes.Equal(got, want) {
					t.Fatalf("%q: got %s want %s", s, got, want)
				}
			}
		}
	}
}

// Random strings from an alphabet of the awkward pieces (the 8-byte skip
// never changes what is written).
func TestAppendStringRandom(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	alphabet := []string{"a", "Z", " ", "~", "\x7f", "\"", "\\", "\n", "\b", "\f", "\x00", "\x1f", "<", "&", "é", "\u2028", "\u2029", "\xff", "\xe2\x80", "日本", "\U0001F389", "\uFFFD"}
	for i := 0; i < 20000; i++ {
		var sb strings.Builder
		for n := r.Intn(40); n > 0; n-- {
			if r.Intn(3) == 0 {
				sb.WriteString(alphabet[r.Intn(len(alphabet))])
			} else {
				sb.WriteByte(byte('a' + r.Intn(26)))
			}
		}
		s := sb.String()
		if got, want := AppendString(nil, s), stdlib(s); !bytes.Equal(got, want) {
			t.Fatalf("%q:\ngot  %s\nwant %s", s, got, want)
		}
	}
}

func TestAppendStringNoAllocs(t *testing.T) {
	s := strings.Repeat(`plain ASCII with "quotes" and a \ backslash `, 4)
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf = AppendString(buf[:0], s) }); n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "abc", "q\"\\", "\b\f\n\r\t\x00\x1f\x7f", "<>&", "\u2028\u2029", "\xff\xfe", "\xe2\x80", "\xed\xa0\x80", "é日本🎉", "01234567\x0089abcdef"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := AppendString(nil, s), stdlib(s); !bytes.Equal(got, want) {
			t.Fatalf("%q:\ngot  %s\nwant %s", s, got, want)
		}
	})
}

func benchInputs() map[string]string {
	return map[string]string{
		"ASCII":   strings.Repeat("order-12345 name=Widget size=10 colour=blue ", 4),
		"Escapes": strings.Repeat("line \"one\"\n\tline two\\ ", 8),
		"UTF8":    strings.Repeat("café 日本語のテキスト ", 8),
	}
}

func BenchmarkAppendString(b *testing.B) {
	for name, s := range benchInputs() {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s)))
			buf := make([]byte, 0, 1024)
			for i := 0; i < b.N; i++ {
				buf = AppendString(buf[:0], s)
			}
		})
	}
}

// BenchmarkEncodingJSON is the reference: encoding/json's Encoder, which
// writes the same bytes.
func BenchmarkEncodingJSON(b *testing.B) {
	for name, s := range benchInputs() {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s)))
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			for i := 0; i < b.N; i++ {
				buf.Reset()
				_ = enc.Encode(s)
			}
		})
	}
}

// The 8-byte skip never changes what is written, against a hand-written
// reference (this test came from pkg/encode with the escaper).
func TestAppendStringWordSkip(t *testing.T) {
	ref := func(s string) []byte {
		b := []byte{'"'}
		for _, r := range s {
			switch {
			case r == '"' || r == '\\':
				b = append(b, '\\', byte(r))
			case r == '\n':
				b = append(b, `\n`...)
			case r == '\r':
				b = append(b, `\r`...)
			case r == '\t':
				b = append(b, `\t`...)
			case r < 0x20:
				b = append(b, fmt.Sprintf(`\u%04x`, r)...)
			case r == utf8RuneError:
				b = append(b, `\ufffd`...)
			case r == '\u2028' || r == '\u2029':
				b = append(b, fmt.Sprintf(`\u%04x`, r)...)
			default:
				b = append(b, string(r)...)
			}
		}
		return append(b, '"')
	}
	r := rand.New(rand.NewSource(9))
	alphabet := []string{"a", "Z", " ", "~", "\x7f", "\"", "\\", "\n", "\x00", "\x1f", "\x20", "é", "\u2028", "\xff", "\xe2\x80", "日本"}
	for i := 0; i < 20000; i++ {
		var sb bytes.Buffer
		for n := r.Intn(40); n > 0; n-- {
			if r.Intn(3) == 0 {
				sb.WriteString(alphabet[r.Intn(len(alphabet))])
			} else {
				sb.WriteByte(byte('a' + r.Intn(26)))
			}
		}
		s := sb.String()
		if got, want := AppendString(nil, s), ref(s); !bytes.Equal(got, want) && !(bytes.Contains([]byte(s), []byte("\xef\xbf\xbd"))) {
			t.Fatalf("%q:\ngot  %s\nwant %s", s, got, want)
		}
	}
}

const utf8RuneError = '\uFFFD'

// Marshal is encoding/json's compact output with <, > and & as they are,
// strings quoted byte for byte as AppendString quotes them.
func TestMarshal(t *testing.T) {
	v := map[string]any{"z": "<a>&b</a>", "a": []any{1, 2.5, nil, true, "q\"\u2028\x01"}, "m": map[string]any{"k": json.Number("1e400")}}
	got, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	std, _ := json.Marshal(v)
	for _, r := range []struct{ esc, raw string }{{`\u003c`, "<"}, {`\u003e`, ">"}, {`\u0026`, "&"}} {
		std = bytes.ReplaceAll(std, []byte(r.esc), []byte(r.raw))
	}
	if !bytes.Equal(got, std) {
		t.Fatalf("Marshal = %s\nwant      %s", got, std)
	}
	if !bytes.Contains(got, AppendString(nil, "q\"\u2028\x01")) || bytes.HasSuffix(got, []byte("\n")) {
		t.Fatalf("Marshal = %q: strings not as AppendString writes them, or a trailing newline", got)
	}
	if _, err := Marshal(func() {}); err == nil {
		t.Fatal("a value JSON cannot hold was accepted")
	}
}

// PlainLen stops at the first byte a string literal cannot hold as it is,
// wherever it stands in the 8-byte words.
func TestPlainLenEveryByteEveryPosition(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c != '"' && c != '\\' && c < 0x80 }
	for c := 0; c < 256; c++ {
		for n := 0; n <= 20; n++ {
			for at := 0; at <= n; at++ {
				b := bytes.Repeat([]byte{'a'}, n)
				want := n
				if at < n {
					b[at] = byte(c)
					if !plain(byte(c)) {
						want = at
					}
				}
				if got := PlainLen(b); got != want {
					t.Fatalf("PlainLen(%q) = %d, want %d", b, got, want)
				}
			}
		}
	}
}
