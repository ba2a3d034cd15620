package envelope

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/jsonesc"
)

func TestEnvelopeRepr(t *testing.T) {
	r := Record{Topic: "t", Partition: 2, Offset: 7, Timestamp: time.UnixMilli(1714557600123),
		Headers: []Header{{Key: "a", Value: []byte("x")}, {Key: "n", Value: nil}, {Key: "b", Value: []byte{0xff, 0}}}}
	r.Key, r.KeyEncoding = Repr([]byte{})
	r.Value, r.ValueEncoding = Repr([]byte{0, 1, 0xfe})
	line := string(AppendEnvelope(nil, &r))
	want := `{"topic":"t","partition":2,"offset":7,"timestamp":"2024-05-01T10:00:00.123Z","key":"","key_encoding":"string","value":"AAH+","value_encoding":"base64","headers":[{"key":"a","value":"x"},{"key":"n","value":null},{"key":"b","value":"/wA=","value_encoding":"base64"}]}`
	if line != want {
		t.Fatalf("got  %s\nwant %s", line, want)
	}
	if !LooksLikeEnvelope([]byte(line)) || LooksLikeEnvelope([]byte(`{"value":1,"name":"x"}`)) {
		t.Fatal("envelope detection")
	}
	var env Envelope
	if err := json.Unmarshal([]byte(line), &env); err != nil {
		t.Fatal(err)
	}
	k, _ := ParsePart(env.Key, env.KeyEncoding)
	v, _ := ParsePart(env.Value, env.ValueEncoding)
	if k.Null || k.Bytes == nil || len(k.Bytes) != 0 || string(v.Bytes) != "\x00\x01\xfe" {
		t.Fatalf("parts: %+v %+v", k, v)
	}
	// non-compact JSON text stays a string so it round-trips byte for byte
	if _, enc := Repr([]byte(`{"a": 1}`)); enc != EncString {
		t.Errorf("spaced JSON encoding = %s", enc)
	}
	if b, enc := Repr([]byte(`{"a":"<&>"}`)); enc != EncJSON || string(b) != `{"a":"<&>"}` {
		t.Errorf("compact JSON = %s %s", b, enc)
	}
	if b := jsonesc.AppendString(nil, "q\"\\\n\x01\u2028é"); string(b) != `"q\"\\\n\u0001\u2028é"` {
		t.Errorf("appendString = %s", b)
	}
}

func TestTemplate(t *testing.T) {
	var sb strings.Builder
	p, err := NewPrinter(&sb, PrinterOptions{Format: FormatJSON, Template: `%t|%p|%o|%k|%s|%K|%S|%T|%h|%H|%%\n`})
	if err != nil {
		t.Fatal(err)
	}
	r := Record{Topic: "t", Partition: 1, Offset: 3, Timestamp: time.UnixMilli(5), RawKey: []byte("k"), RawValue: []byte(`{"a":1}`),
		Headers: []Header{{Key: "h", Value: []byte("v")}}}
	r.Key, r.KeyEncoding = Repr(r.RawKey)
	r.Value, r.ValueEncoding = Repr(r.RawValue)
	tomb := Record{Topic: "t", Timestamp: time.UnixMilli(0)}
	if err := p.Handle(context.Background(), []Record{r, tomb}); err != nil {
		t.Fatal(err)
	}
	want := "t|1|3|k|{\"a\":1}|1|7|5|h=v|1|%\n" + "t|0|0|||-1|-1|0||0|%\n"
	if sb.String() != want {
		t.Fatalf("got %q want %q", sb.String(), want)
	}
}
