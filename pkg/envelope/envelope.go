package envelope

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/deimos-cli/deimos/internal/jsonesc"
)

// The envelope is the JSON-lines format `consume --output json` writes and
// `produce --input envelope` reads back (docs/consume.md describes it):
//
//	{"topic":"t","partition":0,"offset":5,"timestamp":"2024-05-01T10:00:00.123Z",
//	 "key":…,"key_encoding":"json|string|base64",
//	 "value":…,"value_encoding":"json|string|base64",
//	 "headers":[{"key":"h","value":"v"},{"key":"b","value":"AAE=","value_encoding":"base64"}],
//	 "error":"…"}
//
// key/value null (and no encoding) means no key / a tombstone. "json" means the
// value is the decoded message (re-encoded through the topic's schema when
// produced), "string" means the bytes are this UTF-8 text, "base64" means raw
// bytes. Empty bytes are "" with encoding "string", never null.

// Encodings of a key, value or header value in the envelope.
const (
	EncJSON   = "json"
	EncString = "string"
	EncBase64 = "base64"
)

// TimeLayout is the envelope's timestamp format: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Repr picks the lossless representation of undecoded bytes: compact JSON
// as itself, other UTF-8 as a string, anything else as base64.
func Repr(b []byte) (json.RawMessage, string) {
	if b == nil {
		return nil, ""
	}
	if len(b) > 0 && isCompactJSON(b) {
		return json.RawMessage(b), EncJSON
	}
	if isText(b) {
		return json.RawMessage(jsonesc.AppendString(nil, string(b))), EncString
	}
	return json.RawMessage(jsonesc.AppendString(nil, base64.StdEncoding.EncodeToString(b))), EncBase64
}

// isText reports whether b is UTF-8 without control characters other than
// tab, newline and carriage return (anything else is shown as base64).
func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return utf8.Valid(b)
}

// isCompactJSON reports whether b is valid JSON whose compact form is b itself,
// so that writing it back yields the same bytes.
func isCompactJSON(b []byte) bool {
	switch b[0] {
	case '{', '[', '"', 't', 'f', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
	default:
		return false
	}
	return json.Valid(b) && !SpaceOutsideStrings(b)
}

// SpaceOutsideStrings reports whitespace outside JSON strings in valid JSON
// b: the only bytes json.Compact removes, so valid JSON without any is
// compact (one pass, no copy; every consumed JSON record is checked).
func SpaceOutsideStrings(b []byte) bool {
	in := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if in {
			if c == '\\' {
				i++
			} else if c == '"' {
				in = false
			}
			continue
		}
		switch c {
		case '"':
			in = true
		case ' ', '\t', '\n', '\r':
			return true
		}
	}
	return false
}

// AppendEnvelope appends r as one envelope line (without the newline).
func AppendEnvelope(buf []byte, r *Record) []byte {
	buf = append(buf, `{"topic":`...)
	buf = jsonesc.AppendString(buf, r.Topic)
	buf = append(buf, `,"partition":`...)
	buf = strconv.AppendInt(buf, int64(r.Partition), 10)
	buf = append(buf, `,"offset":`...)
	buf = strconv.AppendInt(buf, r.Offset, 10)
	buf = append(buf, `,"timestamp":"`...)
	buf = r.Timestamp.UTC().AppendFormat(buf, TimeLayout)
	buf = append(buf, `","key":`...)
	buf = appendPart(buf, r.Key)
	buf = appendEncoding(buf, `,"key_encoding":"`, `,"key_schema_id":`, r.Key, r.KeyEncoding, r.RawKey)
	buf = append(buf, `,"value":`...)
	buf = appendPart(buf, r.Value)
	buf = appendEncoding(buf, `,"value_encoding":"`, `,"value_schema_id":`, r.Value, r.ValueEncoding, r.RawValue)
	return appendTail(buf, r)
}

// appendEncoding appends a part's encoding and, for a part decoded from
// Confluent-framed bytes, its schema id.
func appendEncoding(buf []byte, encKey, idKey string, v json.RawMessage, enc string, raw []byte) []byte {
	if v == nil || enc == "" {
		return buf
	}
	return appendEncodingID(buf, encKey, idKey, enc, decodedSchemaID(raw, enc))
}

// appendEncodingID appends the encoding enc and, when id > 0, the schema id:
// the text appendEncoding writes and envelopeWriter keeps.
func appendEncodingID(buf []byte, encKey, idKey, enc string, id int) []byte {
	buf = append(buf, encKey...)
	buf = append(buf, enc...)
	buf = append(buf, '"')
	if id > 0 {
		buf = append(buf, idKey...)
		buf = strconv.AppendInt(buf, int64(id), 10)
	}
	return buf
}

// appendTail appends the headers, the error and the closing brace.
func appendTail(buf []byte, r *Record) []byte {
	if len(r.Headers) > 0 {
		buf = append(buf, `,"headers":[`...)
		for i, h := range r.Headers {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"key":`...)
			buf = jsonesc.AppendString(buf, h.Key)
			buf = append(buf, `,"value":`...)
			switch {
			case h.Value == nil:
				buf = append(buf, "null"...)
			case isText(h.Value):
				buf = jsonesc.AppendString(buf, string(h.Value))
			default:
				buf = jsonesc.AppendString(buf, base64.StdEncoding.EncodeToString(h.Value))
				buf = append(buf, `,"value_encoding":"base64"`...)
			}
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	if r.DecodeErr != nil {
		buf = append(buf, `,"error":`...)
		buf = jsonesc.AppendString(buf, r.DecodeErr.Error())
	}
	return append(buf, '}')
}

// envelopeWriter writes AppendEnvelope's lines, byte for byte, from texts
// it keeps because a stream repeats them: the line's head up to the offset
// for the last topic and partition, the last offset's digits (the next
// offset is one more, counted up in place), the timestamp with its
// neighbours for the last millisecond, and each part's encoding and schema
// id.
type envelopeWriter struct {
	topic     string
	partition int32
	head      []byte // {"topic":…,"partition":…,"offset":
	offset    int64
	offText   []byte // offset's digits
	ms        int64
	tsText    []byte // ,"timestamp":"…","key":
	key, val  encodingText
}

// encodingText is a part's encoding and schema id as written, for the last
// pair seen.
type encodingText struct {
	enc  string
	id   int
	text []byte
}

func (e *encodingText) get(encKey, idKey string, enc string, id int) []byte {
	if e.text == nil || e.enc != enc || e.id != id {
		e.enc, e.id = enc, id
		e.text = appendEncodingID(e.text[:0], encKey, idKey, enc, id)
	}
	return e.text
}

func (w *envelopeWriter) append(buf []byte, r *Record) []byte {
	if w.head == nil || w.topic != r.Topic || w.partition != r.Partition {
		w.topic, w.partition = r.Topic, r.Partition
		w.head = append(jsonesc.AppendString(append(w.head[:0], `{"topic":`...), r.Topic), `,"partition":`...)
		w.head = append(strconv.AppendInt(w.head, int64(r.Partition), 10), `,"offset":`...)
		w.offText = nil
	}
	buf = append(buf, w.head...)
	switch {
	case w.offText != nil && r.Offset == w.offset+1 && r.Offset > 0:
		w.offset, w.offText = r.Offset, incDecimal(w.offText)
	case w.offText == nil || r.Offset != w.offset:
		w.offset, w.offText = r.Offset, strconv.AppendInt(w.offText[:0], r.Offset, 10)
	}
	buf = append(buf, w.offText...)
	// the layout shows milliseconds (truncated): one text per UnixMilli
	if ms := r.Timestamp.UnixMilli(); w.tsText == nil || ms != w.ms {
		w.ms = ms
		w.tsText = r.Timestamp.UTC().AppendFormat(append(w.tsText[:0], `,"timestamp":"`...), TimeLayout)
		w.tsText = append(w.tsText, `","key":`...)
	}
	buf = append(buf, w.tsText...)
	buf = appendPart(buf, r.Key)
	if r.Key != nil && r.KeyEncoding != "" {
		buf = append(buf, w.key.get(`,"key_encoding":"`, `,"key_schema_id":`, r.KeyEncoding, decodedSchemaID(r.RawKey, r.KeyEncoding))...)
	}
	buf = append(buf, `,"value":`...)
	buf = appendPart(buf, r.Value)
	if r.Value != nil && r.ValueEncoding != "" {
		buf = append(buf, w.val.get(`,"value_encoding":"`, `,"value_schema_id":`, r.ValueEncoding, decodedSchemaID(r.RawValue, r.ValueEncoding))...)
	}
	if len(r.Headers) == 0 && r.DecodeErr == nil {
		return append(buf, '}')
	}
	return appendTail(buf, r)
}

// incDecimal adds one to the positive decimal number d, in place when no
// digit is added.
func incDecimal(d []byte) []byte {
	for i := len(d) - 1; i >= 0; i-- {
		if d[i] != '9' {
			d[i]++
			return d
		}
		d[i] = '0'
	}
	return append([]byte{'1'}, d...)
}

func appendPart(buf []byte, v json.RawMessage) []byte {
	if v == nil {
		return append(buf, "null"...)
	}
	return append(buf, v...)
}

// decodedSchemaID is the registry schema id of a part that was decoded
// (encoding json) from Confluent-framed bytes (0x00, 4-byte id): kcat -J's
// key_schema_id / value_schema_id. 0 otherwise.
func decodedSchemaID(raw []byte, enc string) int {
	if enc != EncJSON || len(raw) < 5 || raw[0] != 0 {
		return 0
	}
	return int(binary.BigEndian.Uint32(raw[1:5]))
}

// Envelope is one parsed envelope line.
type Envelope struct {
	Topic         string           `json:"topic"`
	Partition     *int32           `json:"partition"`
	Offset        *int64           `json:"offset"`
	Timestamp     string           `json:"timestamp"`
	Key           json.RawMessage  `json:"key"`
	KeyEncoding   string           `json:"key_encoding"`
	Value         json.RawMessage  `json:"value"`
	ValueEncoding string           `json:"value_encoding"`
	KeySchemaID   int              `json:"key_schema_id"`   // registry id the key was decoded with (0: none)
	ValueSchemaID int              `json:"value_schema_id"` // registry id the value was decoded with (0: none)
	Headers       []EnvelopeHeader `json:"headers"`
	Error         string           `json:"error"`
}

// EnvelopeHeader is one header in an envelope.
type EnvelopeHeader struct {
	Key           string  `json:"key"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding"`
}

// EnvelopeFields are the keys an envelope may have.
var EnvelopeFields = map[string]bool{
	"topic": true, "partition": true, "offset": true, "timestamp": true, "key": true, "key_encoding": true,
	"value": true, "value_encoding": true, "headers": true, "error": true,
	"key_schema_id": true, "value_schema_id": true,
}

// LooksLikeEnvelope reports whether a JSON object line is an envelope: every
// key is an envelope key and it has "value" plus "partition" or "offset" or
// "value_encoding" (so a payload that happens to have a "value" field is not
// mistaken for one).
func LooksLikeEnvelope(line []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(line, &m) != nil {
		return false
	}
	if _, ok := m["value"]; !ok {
		return false
	}
	for k := range m {
		if !EnvelopeFields[k] {
			return false
		}
	}
	_, p := m["partition"]
	_, o := m["offset"]
	_, e := m["value_encoding"]
	return p || o || e
}

// Part is a key or value read from an envelope.
type Part struct {
	Null  bool            // JSON null: no key / tombstone
	JSON  json.RawMessage // set for encoding "json": a decoded message to re-encode
	Bytes []byte          // set for "string" and "base64": the exact bytes
}

// ParsePart interprets a key or value with its encoding ("" means json, or
// string when the value is a JSON string and no encoding was written by hand).
func ParsePart(raw json.RawMessage, enc string) (Part, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return Part{Null: true}, nil
	}
	switch enc {
	case "", EncJSON:
		return Part{JSON: raw}, nil
	case EncString:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Part{}, fmt.Errorf("encoding string needs a JSON string")
		}
		return Part{Bytes: []byte(s)}, nil
	case EncBase64:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Part{}, fmt.Errorf("encoding base64 needs a JSON string")
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return Part{}, fmt.Errorf("bad base64: %w", err)
		}
		return Part{Bytes: b}, nil
	}
	return Part{}, fmt.Errorf("unknown encoding %q (json, string or base64)", enc)
}

// HeaderBytes returns a header's value bytes (nil for a null header value).
func (h EnvelopeHeader) HeaderBytes() ([]byte, error) {
	if h.Value == nil {
		return nil, nil
	}
	switch h.ValueEncoding {
	case "", EncString:
		return []byte(*h.Value), nil
	case EncBase64:
		return base64.StdEncoding.DecodeString(*h.Value)
	}
	return nil, fmt.Errorf("header %q: unknown value_encoding %q", h.Key, h.ValueEncoding)
}

// Time parses the envelope timestamp (zero when absent).
func (e Envelope) Time() (time.Time, error) {
	if e.Timestamp == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(e.Timestamp, 10, 64); err == nil {
		return time.UnixMilli(ms), nil // kcat -J writes milliseconds
	}
	return ParseTime(e.Timestamp, time.Time{})
}

// ParseTime reads a time, as envelope timestamps and consume's offsets take it: unix milliseconds (13 digits) or seconds (10
// digits or fewer, as rpk reads them), RFC 3339, YYYY-MM-DD[ HH:MM:SS] (UTC),
// or -DURATION before now (unless now is zero).
func ParseTime(s string, now time.Time) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		if len(s) <= 10 {
			return time.Unix(n, 0), nil
		}
		return time.UnixMilli(n), nil
	}
	if rest, ok := strings.CutPrefix(s, "-"); ok && !now.IsZero() {
		if d, err := time.ParseDuration(rest); err == nil && d > 0 {
			return now.Add(-d), nil
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time: use unix milliseconds, RFC3339, YYYY-MM-DD or -DURATION")
}
