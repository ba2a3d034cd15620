package encode

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"

	"github.com/deimos-cli/deimos/internal/jsonesc"
	"github.com/deimos-cli/deimos/pkg/encode/nesting"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// jsonBackend writes compact JSON text; keys are JSON too ({field: value}
// for field keys is unwrapped on decode).
type jsonBackend struct{ e *Engine }

// plainBackend writes a value's string form (StringForm): text and strings as
// their bytes, anything else as compact JSON.
type plainBackend struct{ e *Engine }

// marshalJSON writes v as compact JSON, refusing data nested deeper than
// decodeJSON reads.
func marshalJSON(v any) ([]byte, error) {
	b, err := jsonesc.Marshal(v)
	if err != nil {
		return nil, err
	}
	if err := nesting.CheckJSON(b); err != nil {
		return nil, err
	}
	return b, nil
}

func (j *jsonBackend) encodeValue(_ context.Context, _ Spec, payload any) ([]byte, int, error) {
	b, err := marshalJSON(payload)
	return b, 0, err
}

func (j *jsonBackend) encodeKey(_ context.Context, s Spec, key any) ([]byte, int, error) {
	if s.KeyConfig.Field != "" {
		key = map[string]any{s.KeyConfig.Field: key}
	}
	b, err := marshalJSON(key)
	return b, 0, err
}

func (j *jsonBackend) decodeValue(_ context.Context, _ Spec, b []byte) (json.RawMessage, Format, error) {
	return decodeJSON(b)
}

func (j *jsonBackend) decodeKey(_ context.Context, s Spec, b []byte) (json.RawMessage, Format, error) {
	v, f, err := decodeJSON(b)
	if err != nil || s.KeyConfig.Field == "" {
		return v, f, err
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) == nil {
		if fv, ok := m[s.KeyConfig.Field]; ok && len(m) == 1 {
			return fv, f, nil
		}
	}
	return v, f, nil
}

func (j *jsonBackend) fields(context.Context, Spec) ([]FieldInfo, error) { return nil, nil }

func (p *plainBackend) encodeValue(_ context.Context, _ Spec, payload any) ([]byte, int, error) {
	return []byte(StringForm(payload)), 0, nil
}

func (p *plainBackend) encodeKey(_ context.Context, _ Spec, key any) ([]byte, int, error) {
	return []byte(StringForm(key)), 0, nil
}

func (p *plainBackend) decodeValue(_ context.Context, _ Spec, b []byte) (json.RawMessage, Format, error) {
	return decodePlain(b), plainFormat(b), nil
}

func (p *plainBackend) decodeKey(_ context.Context, _ Spec, b []byte) (json.RawMessage, Format, error) {
	return decodePlain(b), plainFormat(b), nil
}

func (p *plainBackend) fields(context.Context, Spec) ([]FieldInfo, error) { return nil, nil }

// decodeJSON validates and compacts JSON text, refusing data nested deeper
// than nesting.Max (as marshalJSON does on the way in).
func decodeJSON(b []byte) (json.RawMessage, Format, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, Format{}, errs.Failedf("not valid JSON: %v", err)
	}
	return compactedJSON(buf.Bytes(), len(b))
}

// compactedJSON is decodeJSON's result for c, the compacted form of an
// n-byte JSON text.
func compactedJSON(c []byte, n int) (json.RawMessage, Format, error) {
	if err := nesting.CheckJSON(c); err != nil {
		return nil, Format{}, errs.Failed(err)
	}
	return c, Format{Wire: "json", SchemaType: "JSON", PayloadBytes: n}, nil
}

// decodePlain shows text as a JSON string; bytes that are not UTF-8 as a
// base64 JSON string (Format.Wire "binary").
func decodePlain(b []byte) json.RawMessage {
	if utf8.Valid(b) {
		return jsonesc.AppendString(nil, string(b))
	}
	return jsonesc.AppendString(nil, base64.StdEncoding.EncodeToString(b))
}

func plainFormat(b []byte) Format {
	if utf8.Valid(b) {
		return Format{Wire: "plain", PayloadBytes: len(b)}
	}
	return Format{Wire: "binary", PayloadBytes: len(b)}
}
