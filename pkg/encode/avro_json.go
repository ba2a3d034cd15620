package encode

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/deimos-cli/deimos/internal/jsonesc"
	"github.com/deimos-cli/deimos/pkg/avro"
)

// goavro native form (physical schema; maps as *avroMap in wire order, see
// avro_native.go) -> natural JSON, in schema field order. Logical types come out naturally: timestamps as RFC 3339 UTC
// strings, dates as YYYY-MM-DD, decimals as strings with the schema's scale.
// Bytes come out as text when they are valid UTF-8, otherwise as an array of
// byte values (appendBytesJSON).
//
// reader, when not nil, is the local schema of the same full name: records
// then show the reader's fields (defaults for fields the writer lacked,
// writer-only fields dropped), as Avro schema resolution does.

func appendNativeJSON(b []byte, w, r *aType, v any) ([]byte, error) {
	if r != nil && w.Kind != "union" {
		// Avro schema resolution: a reader union reads a writer non-union
		// with its first branch that matches; otherwise the types must match
		// or be a permitted promotion.
		if r.Kind == "union" {
			if r = avro.ReaderBranch(r, w); r == nil {
				return nil, fmt.Errorf("reader schema: no branch of the reader union can read writer type %s", avro.BranchName(w))
			}
		}
		if !avro.Reads(w, r) {
			return nil, fmt.Errorf("reader schema: %s cannot read writer type %s", avro.BranchName(r), avro.BranchName(w))
		}
	}
	switch w.Kind {
	case "null":
		return append(b, "null"...), nil
	case "boolean":
		x, _ := v.(bool)
		return strconv.AppendBool(b, x), nil
	case "int", "long":
		var i int64
		switch x := v.(type) {
		case int32:
			i = int64(x)
		case int64:
			i = x
		case int:
			i = int64(x)
		default:
			return nil, fmt.Errorf("unexpected %T for %s", v, w.Kind)
		}
		switch w.Logical {
		case "timestamp-millis", "local-timestamp-millis":
			return jsonesc.AppendString(b, time.UnixMilli(i).UTC().Format(time.RFC3339Nano)), nil
		case "timestamp-micros", "local-timestamp-micros":
			return jsonesc.AppendString(b, time.UnixMicro(i).UTC().Format(time.RFC3339Nano)), nil
		case "date":
			return jsonesc.AppendString(b, time.Unix(i*86400, 0).UTC().Format("2006-01-02")), nil
		}
		return strconv.AppendInt(b, i, 10), nil
	case "float", "double":
		var f float64
		bits := 64
		switch x := v.(type) {
		case float32:
			f, bits = float64(x), 32
		case float64:
			f = x
		}
		if r != nil && r.Kind == "double" {
			bits = 64 // float promoted to double
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return jsonesc.AppendString(b, strconv.FormatFloat(f, 'g', -1, bits)), nil
		}
		return strconv.AppendFloat(b, f, 'g', -1, bits), nil
	case "string", "enum":
		s, _ := v.(string)
		if w.Kind == "enum" && r != nil && r.Kind == "enum" && !hasSymbol(r, s) {
			if r.EnumDefault == nil {
				return nil, fmt.Errorf("reader schema %s: symbol %q is not a reader symbol and the enum has no default", r.Name, s)
			}
			s = *r.EnumDefault
		}
		return jsonesc.AppendString(b, s), nil
	case "bytes", "fixed":
		x, _ := v.([]byte)
		if w.Logical == "decimal" {
			n := fromTwosComplement(x)
			r := new(big.Rat).SetFrac(n, new(big.Int).Exp(bigTen, big.NewInt(int64(w.Scale)), nil))
			return jsonesc.AppendString(b, r.FloatString(w.Scale)), nil
		}
		return appendBytesJSON(b, x), nil
	case "array":
		xs, _ := v.([]any)
		var ri *aType
		if r != nil && r.Kind == "array" {
			ri = r.Items
		}
		b = append(b, '[')
		for i, x := range xs {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendNativeJSON(b, w.Items, ri, x); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case "map":
		var keys []string
		var m map[string]any
		switch x := v.(type) {
		case *avroMap: // decoded: wire order
			keys, m = x.keys, x.vals
		case map[string]any:
			keys, m = sortedKeys(x), x
		}
		var rv *aType
		if r != nil && r.Kind == "map" {
			rv = r.Values
		}
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonesc.AppendString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendNativeJSON(b, w.Values, rv, m[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case "record":
		m, _ := v.(map[string]any)
		if r != nil && (r.Kind != "record" || r.Name != w.Name) {
			r = nil
		}
		b = append(b, '{')
		if r == nil {
			for i, f := range w.Fields {
				if i > 0 {
					b = append(b, ',')
				}
				b = jsonesc.AppendString(b, f.Name)
				b = append(b, ':')
				var err error
				if b, err = appendNativeJSON(b, f.Type, nil, m[f.Name]); err != nil {
					return nil, err
				}
			}
			return append(b, '}'), nil
		}
		for i, rf := range r.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonesc.AppendString(b, rf.Name)
			b = append(b, ':')
			if wi, ok := w.FieldIndex[rf.Name]; ok {
				var err error
				if b, err = appendNativeJSON(b, w.Fields[wi].Type, rf.Type, m[rf.Name]); err != nil {
					return nil, err
				}
				continue
			}
			if !rf.HasDefault {
				return nil, fmt.Errorf("reader schema %s: field %s is missing from the writer schema and has no default", r.Name, rf.Name)
			}
			d, err := json.Marshal(rf.Default)
			if err != nil {
				return nil, err
			}
			b = append(b, d...)
		}
		return append(b, '}'), nil
	case "union":
		if v == nil {
			return append(b, "null"...), nil
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, fmt.Errorf("unexpected union value %T", v)
		}
		for name, x := range m {
			for _, br := range w.Branches {
				if avro.BranchName(br) == name {
					return appendNativeJSON(b, br, matchBranch(r, br), x)
				}
			}
			return nil, fmt.Errorf("unknown union branch %q", name)
		}
	}
	return nil, fmt.Errorf("unsupported type %s", w.Kind)
}

// matchBranch finds the reader type matching writer branch w (nil: decode
// with the writer's type; appendNativeJSON reports what cannot be resolved).
func matchBranch(r, w *aType) *aType {
	if r == nil || r.Kind != "union" {
		return r
	}
	return avro.ReaderBranch(r, w)
}

func hasSymbol(t *aType, s string) bool {
	for _, x := range t.Symbols {
		if x == s {
			return true
		}
	}
	return false
}

// appendBytesJSON writes Avro bytes/fixed: valid UTF-8 as the text (what a
// Deimos payload string becomes on encode), anything else as an array of the
// byte values, e.g. [233,0], which encode accepts back: decode -> encode
// round-trips every byte string, and text stays readable.
func appendBytesJSON(b []byte, x []byte) []byte {
	if utf8.Valid(x) {
		return jsonesc.AppendString(b, string(x))
	}
	b = append(b, '[')
	for i, c := range x {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(c), 10)
	}
	return append(b, ']')
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
