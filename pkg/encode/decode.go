package encode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// Decode decodes key and value. A nil part stays nil (no key / tombstone).
func (e *Engine) Decode(ctx context.Context, s Spec, key, value []byte) (Decoded, error) {
	var d Decoded
	zero := s.Backend == "" && s.Schema == ""
	var be backend
	if !zero {
		var err error
		s.Backend = e.backendName(s)
		if be, err = e.backend(s.Backend); err != nil {
			return d, err
		}
		if err := CheckWire(s.Backend, s.Wire); err != nil {
			return d, errs.Usagef("wire %s cannot be read by backend %s: %w", s.Wire, s.Backend, err)
		}
	}
	if value != nil {
		var err error
		if zero {
			d.Value, d.ValueFormat, err = e.detect(ctx, value, false)
		} else {
			d.Value, d.ValueFormat, err = be.decodeValue(ctx, s, value)
		}
		if err != nil {
			return d, wrapDecodeErr("value", err)
		}
	}
	if key != nil {
		var err error
		switch mode := s.KeyConfig.Mode(); {
		case zero || mode == "" || mode == "none":
			d.Key, d.KeyFormat, err = e.detect(ctx, key, true)
		case mode == "plain":
			d.Key, d.KeyFormat = decodePlain(key), plainFormat(key)
		default:
			d.Key, d.KeyFormat, err = be.decodeKey(ctx, s, key)
		}
		if err != nil {
			return d, wrapDecodeErr("key", err)
		}
	}
	return d, nil
}

func wrapDecodeErr(part string, err error) error {
	k := errs.KindOf(err)
	err = fmt.Errorf("%s: %w", part, err)
	switch k {
	case errs.KindUsage:
		return errs.Usage(err)
	case errs.KindUnavailable:
		return errs.Unavailable(err)
	}
	return errs.Failed(err)
}

// detect decodes bytes of unknown framing: Avro container file, Confluent
// framing (schema from the registry), JSON, else plain text (or base64 for
// binary). Keys that are Deimos-generated key records unwrap to the field.
func (e *Engine) detect(ctx context.Context, b []byte, isKey bool) (json.RawMessage, Format, error) {
	switch {
	case bytes.HasPrefix(b, ocfMagic):
		return e.decodeOCF(b, false)
	case len(b) > 0 && b[0] == 0:
		if len(b) < 5 {
			return nil, Format{}, errs.Failedf("truncated Confluent header: %d bytes, need 5", len(b))
		}
		return e.decodeConfluent(ctx, b, false)
	}
	// json.Compact fails exactly when json.Valid would: one pass both
	// tells JSON from plain text and compacts it.
	var buf bytes.Buffer
	if json.Compact(&buf, b) == nil {
		return compactedJSON(buf.Bytes(), len(b))
	}
	return decodePlain(b), plainFormat(b), nil
}
