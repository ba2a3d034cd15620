package encode

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/deimos-cli/deimos/pkg/avro"
)

// Natural JSON values -> Avro binary, written directly. It applies exactly
// the conversions of toNative/recordNative (avro_coerce.go: same checks,
// same errors) and writes the bytes goavro's BinaryFromNative writes for the
// native form, without building that form (avro_write_test.go compares both
// on many records).

// appendPayload is avroSchema.native + BinaryFromNative: a top-level record
// drops payload keys that are not fields. ord is the payload's key order
// (nil: maps in sorted key order).
func (a *avroSchema) appendPayload(b []byte, payload any, ord *keyOrder) ([]byte, error) {
	if a.t.Kind == "record" {
		m, ok := payload.(map[string]any)
		if !ok {
			return nil, &FieldError{Path: avro.ShortName(a.t.Name), Expected: "a JSON object", Found: found(payload)}
		}
		return appendRecord(b, a.t, m, avro.ShortName(a.t.Name), ord)
	}
	return appendAvro(b, a.t, payload, "value", ord)
}

func appendAvroBytes(b []byte, s []byte) []byte {
	b = binary.AppendVarint(b, int64(len(s)))
	return append(b, s...)
}

// appendRecord is recordNative, written out.
func appendRecord(b []byte, t *aType, m map[string]any, path string, ord *keyOrder) ([]byte, error) {
	for _, f := range t.Fields {
		x, present := m[f.Name]
		if !present {
			fp := path + "." + f.Name
			if !f.HasDefault {
				return nil, &FieldError{Path: fp, Expected: typeLabel(f.Type), Found: "nothing", Msg: "required field is missing"}
			}
			var err error
			if b, err = appendMissing(b, f, fp); err != nil {
				return nil, err
			}
			continue
		}
		var err error
		if b, err = appendAvroField(b, f.Type, x, path, f.Name, ord); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// appendMissing writes the default of a field absent from the payload (fp
// is its path); a map in it keeps the schema's key order.
func appendMissing(b []byte, f *aField, fp string) ([]byte, error) {
	x := f.Default
	var order *keyOrder
	if f.DefaultOrder != nil {
		order = &keyOrder{m: f.DefaultOrder}
	}
	if f.Type.Kind == "union" && len(f.Type.Branches) > 0 {
		// a union's default belongs to its first branch
		n := len(b)
		b = appendLong(b, 0)
		var err error
		if b, err = appendAvro(b, f.Type.Branches[0], x, fp, order); err != nil {
			return b[:n], fmt.Errorf("default of %s: %w", fp, err)
		}
		return b, nil
	}
	return appendAvro(b, f.Type, x, fp, order)
}

// appendAvroField builds the field path only when it is needed (errors, or
// containers that pass it down).
func appendAvroField(b []byte, t *aType, v any, path, name string, ord *keyOrder) ([]byte, error) {
	if out, ok := appendLeaf(b, t, v); ok {
		return out, nil
	}
	return appendAvro(b, t, v, path+"."+name, ord)
}

// appendLeaf writes the common plain cases (what toNative does for them)
// without a field path; ok=false leaves the rest to appendAvro.
func appendLeaf(b []byte, t *aType, v any) ([]byte, bool) {
	if t.Logical != "" {
		// a time column read from a database (the poller): what intNative
		// does with a time.Time for these two
		if tm, ok := v.(time.Time); ok && t.Kind == "long" {
			switch t.Logical {
			case "timestamp-millis":
				return appendLong(b, tm.UnixMilli()), true
			case "timestamp-micros":
				return appendLong(b, tm.UnixMicro()), true
			}
		}
		return b, false
	}
	switch t.Kind {
	case "long":
		switch x := v.(type) {
		case json.Number:
			if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
				return appendLong(b, i), true
			}
		case int64: // database columns (the poller)
			return appendLong(b, x), true
		}
	case "string":
		if s, ok := v.(string); ok {
			return appendAvroString(b, s), true
		}
	case "boolean":
		if x, ok := v.(bool); ok {
			if x {
				return append(b, 1), true
			}
			return append(b, 0), true
		}
	case "double":
		switch x := v.(type) {
		case json.Number:
			if nn, ok := asNumber(x); ok {
				return binary.LittleEndian.AppendUint64(b, math.Float64bits(nn.f)), true
			}
		case float64: // database columns (the poller)
			return binary.LittleEndian.AppendUint64(b, math.Float64bits(x)), true
		}
	case "union":
		// the common nullable-field shape, decided without building the path
		if len(t.Branches) > 0 && t.Branches[0].Kind == "null" {
			if v == nil {
				return appendLong(b, 0), true
			}
			// ["null", X] with a value: appendAvro takes the first branch
			// that matches, which can only be X
			if len(t.Branches) == 2 && branchMatches(t.Branches[1], v) {
				n := len(b)
				if out, ok := appendLeaf(appendLong(b, 1), t.Branches[1], v); ok {
					return out, true
				}
				return b[:n], false
			}
		}
	case "array":
		xs, ok := v.([]any)
		if !ok || int64(len(xs)) > maxAvroBlockCount {
			return b, false
		}
		n := len(b)
		if len(xs) > 0 {
			b = appendLong(b, int64(len(xs)))
		}
		for _, x := range xs {
			var ok bool
			if b, ok = appendLeaf(b, t.Items, x); !ok {
				return b[:n], false
			}
		}
		return append(b, 0), true
	}
	return b, false
}

// appendAvro is toNative for t, written out; map entries go in ord's order.
func appendAvro(b []byte, t *aType, v any, path string, ord *keyOrder) ([]byte, error) {
	switch t.Kind {
	case "null":
		if v == nil {
			return b, nil
		}
	case "boolean":
		switch x := v.(type) {
		case bool:
			if x {
				return append(b, 1), nil
			}
			return append(b, 0), nil
		case string:
			switch x {
			case "true":
				return append(b, 1), nil
			case "false":
				return append(b, 0), nil
			}
		}
	case "int", "long":
		n, err := intNative(t, v, path)
		if err != nil {
			return nil, err
		}
		switch x := n.(type) {
		case int32:
			return appendLong(b, int64(x)), nil
		case int64:
			return appendLong(b, x), nil
		}
		return nil, fmt.Errorf("%s: internal error: %T for %s", path, n, t.Kind)
	case "float", "double":
		f, ok := 0.0, false
		if n, isNum := asNumber(v); isNum {
			f, ok = n.f, true
		} else if x, isF := floatString(v); isF {
			f, ok = x, true
		}
		if ok {
			if t.Kind == "float" {
				return binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(f))), nil
			}
			return binary.LittleEndian.AppendUint64(b, math.Float64bits(f)), nil
		}
	case "string":
		if s, ok := v.(string); ok && t.Logical == "" {
			return appendAvroString(b, s), nil
		}
		n, err := toNative(t, v, path)
		if err != nil {
			return nil, err
		}
		return appendAvroString(b, n.(string)), nil
	case "bytes", "fixed":
		n, err := toNative(t, v, path)
		if err != nil {
			return nil, err
		}
		x := n.([]byte)
		if t.Kind == "fixed" {
			return append(b, x...), nil
		}
		return appendAvroBytes(b, x), nil
	case "enum":
		if s, ok := v.(string); ok {
			for i, sym := range t.Symbols {
				if sym == s {
					return appendLong(b, int64(i)), nil
				}
			}
		}
		_, err := toNative(t, v, path) // the same error
		return nil, err
	case "array":
		xs, ok := v.([]any)
		if !ok {
			break
		}
		left := int64(0)
		for i, x := range xs {
			if left == 0 { // blocks of at most maxAvroBlockCount items
				left = int64(len(xs) - i)
				if left > maxAvroBlockCount {
					left = maxAvroBlockCount
				}
				b = appendLong(b, left)
			}
			var err error
			if b, err = appendAvro(b, t.Items, x, path+"["+strconv.Itoa(i)+"]", ord); err != nil {
				return nil, err
			}
			left--
		}
		return append(b, 0), nil
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			break
		}
		// input order (sorted for maps built in Go); the first failing key's
		// error in that order
		left, done := int64(0), 0
		for _, k := range ord.keys(m) {
			x := m[k]
			if left == 0 {
				left = int64(len(m) - done)
				if left > maxAvroBlockCount {
					left = maxAvroBlockCount
				}
				b = appendLong(b, left)
			}
			b = appendAvroString(b, k)
			var err error
			if b, err = appendAvro(b, t.Values, x, path+"."+k, ord); err != nil {
				return nil, err
			}
			left--
			done++
		}
		return append(b, 0), nil
	case "record":
		m, ok := v.(map[string]any)
		if !ok {
			break
		}
		for k := range m {
			if _, ok := t.FieldIndex[k]; !ok {
				return nil, &FieldError{Path: path + "." + k, Expected: "no such field in " + avro.ShortName(t.Name), Found: found(m[k])}
			}
		}
		return appendRecord(b, t, m, path, ord)
	case "union":
		for i, br := range t.Branches {
			if branchMatches(br, v) {
				b = appendLong(b, int64(i))
				return appendAvro(b, br, v, path, ord)
			}
		}
	}
	return nil, fieldErr(path, t, v)
}
