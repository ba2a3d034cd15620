package protobuf

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzUnframeDecode: Confluent protobuf framing (id, message indexes,
// payload) and payloads of arbitrary bytes never panic or allocate by a
// hostile count; whatever decodes is valid JSON; errors are one line.
func FuzzUnframeDecode(f *testing.F) {
	l := NewLoader(protoRoot)
	w, err := l.Message("com.acme.Widget")
	if err != nil {
		f.Fatal(err)
	}
	fd := w.GetFile()
	for _, tc := range []struct {
		name, doc string
	}{
		{"com.acme.Widget", `{"id":"42","name":"w","tags":["a"],"counts":{"x":1},"parts":[{"name":"p","detail":{"note":"n"}}],"cost":{"units":3}}`},
		{"com.acme.Gadget", `{"id":"g1","part":{"name":"p"}}`},
		{"com.acme.Widget.Part.Detail", `{"note":"n"}`},
	} {
		md, err := l.Message(tc.name)
		if err != nil {
			f.Fatal(err)
		}
		b, err := Marshal(md, []byte(tc.doc))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(Frame(7, MessageIndexes(md), b))
	}
	f.Add([]byte{0, 0, 0, 0, 1})
	f.Add([]byte{0, 0, 0, 0, 1, 0x80})                      // 64 indexes claimed, none there
	f.Add([]byte{0, 0, 0, 0, 1, 2, 0xff, 0xff, 0xff, 0x0f}) // index out of range
	f.Add([]byte(`{"id":1}`))

	oneLine := func(t *testing.T, err error) {
		if msg := err.Error(); msg == "" || strings.ContainsAny(msg, "\r\n") {
			t.Fatalf("error is not one clear line: %q", msg)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if k := DecodeKey(b, "id"); b != nil && !json.Valid(k) {
			t.Fatalf("DecodeKey gave invalid JSON %q", k)
		}
		id, ix, payload, hb, err := Unframe(b)
		if err != nil {
			oneLine(t, err)
			return
		}
		if hb+len(payload) != len(b) || len(ix) == 0 || len(ix) > MaxMessageIndexes {
			t.Fatalf("unframe: id %d indexes %v header %d payload %d of %d bytes", id, ix, hb, len(payload), len(b))
		}
		if back := Frame(id, ix, payload); len(back) > len(b) {
			// Re-framing is canonical: never longer than what was read
			// (a 0 count and [0] both frame as one byte).
			t.Fatalf("re-framed %d bytes from %d", len(back), len(b))
		} else if id2, ix2, p2, _, err := Unframe(back); err != nil || id2 != id || !reflect.DeepEqual(ix2, ix) || string(p2) != string(payload) {
			t.Fatalf("re-frame round trip: %d %v %q %v", id2, ix2, p2, err)
		}
		md, err := MessageAt(fd, ix)
		if err != nil {
			oneLine(t, err)
			return
		}
		j, err := Unmarshal(md, payload)
		if err != nil {
			oneLine(t, err)
			return
		}
		if !json.Valid(j) {
			t.Fatalf("%s decoded to invalid JSON %q", md.GetFullyQualifiedName(), j)
		}
	})
}

func TestDecodeIndexes(t *testing.T) {
	tests := []struct {
		in      []byte
		want    []int
		rest    string
		wantErr string
	}{
		{[]byte{0, 'x'}, []int{0}, "x", ""},
		{[]byte{2, 2, 'x'}, []int{1}, "x", ""},
		{[]byte{6, 0, 2, 4}, []int{0, 1, 2}, "", ""},
		{nil, nil, "", "truncated or malformed message-index count"},
		{[]byte{1}, nil, "", "message-index count -1 out of range 1..64"},
		{[]byte{0x82, 0x01}, nil, "", "message-index count 65 out of range 1..64"},
		{[]byte{0x80, 0x01, 0}, nil, "", "message-index count 64 but only 1 bytes left"},
		{[]byte{4, 0, 0x80}, nil, "", "truncated or malformed message index 2 of 2"},
		{[]byte{2, 1}, nil, "", "message index 1 of 1 is -1, out of range"},
		{[]byte{2, 0xfe, 0xff, 0xff, 0xff, 0x1f}, nil, "", "message index 1 of 1 is 4294967295, out of range"},
	}
	for _, tt := range tests {
		ix, rest, err := DecodeIndexes(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("% x: error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(ix, tt.want) || string(rest) != tt.rest {
			t.Errorf("% x: %v %q %v, want %v %q", tt.in, ix, rest, err, tt.want, tt.rest)
		}
	}
	// Through Unframe the message names the schema id.
	if _, _, _, _, err := Unframe([]byte{0, 0, 0, 0, 9, 0x82, 0x01}); err == nil || err.Error() != "schema id 9: bad protobuf message-index list: message-index count 65 out of range 1..64" {
		t.Errorf("Unframe error = %v", err)
	}
}

// A map entry whose key field comes again with the wrong wire type made
// google.golang.org/protobuf panic ("cannot convert nil to map key").
func TestUnmarshalMalformedMapEntry(t *testing.T) {
	md := message(t, loader(t), "com.acme.Widget")
	// counts (field 10, map<string,int64>): key "0", then key as a varint.
	_, err := Unmarshal(md, []byte{0x52, 0x05, 0x0a, 0x01, '0', 0x08, '0'})
	want := "decoding protobuf com.acme.Widget: malformed data (type mismatch: cannot convert nil to map key)"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
}
