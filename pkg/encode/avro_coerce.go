package encode

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/deimos-cli/deimos/pkg/avro"
)

// Natural JSON -> goavro native form (for the physical schema, logical
// types converted here), with Deimos's coercion rules and our departure for
// booleans (docs/deimos-compat.md §5.5).

func found(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return strconv.Quote(x)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case []byte:
		return fmt.Sprintf("%d bytes", len(x))
	}
	return fmt.Sprintf("%v", v)
}

func fieldErr(path string, t *aType, v any) error {
	return &FieldError{Path: path, Expected: typeLabel(t), Found: found(v)}
}

// number normalises numeric inputs. isInt reports an exact integer in i.
type number struct {
	isInt bool
	i     int64
	f     float64
}

func asNumber(v any) (number, bool) {
	switch x := v.(type) {
	case json.Number:
		s := x.String()
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return number{isInt: true, i: i, f: float64(i)}, true
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return number{}, false
		}
		return number{f: f}, true
	case int:
		return number{true, int64(x), float64(x)}, true
	case int8:
		return number{true, int64(x), float64(x)}, true
	case int16:
		return number{true, int64(x), float64(x)}, true
	case int32:
		return number{true, int64(x), float64(x)}, true
	case int64:
		return number{true, x, float64(x)}, true
	case uint:
		return number{true, int64(x), float64(x)}, true
	case uint8:
		return number{true, int64(x), float64(x)}, true
	case uint16:
		return number{true, int64(x), float64(x)}, true
	case uint32:
		return number{true, int64(x), float64(x)}, true
	case uint64:
		if x > math.MaxInt64 {
			return number{f: float64(x)}, true
		}
		return number{true, int64(x), float64(x)}, true
	case float32:
		return number{f: float64(x)}, true
	case float64:
		return number{f: x}, true
	}
	return number{}, false
}

func intString(v any) (int64, bool) {
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return i, err == nil
}

func floatString(v any) (float64, bool) {
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil
}

// timeLayouts are accepted for timestamp fields besides RFC 3339 (the
// Deimos auto-filled string form among them).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02 15:04:05"}

func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// toNative converts v for type t. path names the field for errors.
func toNative(t *aType, v any, path string) (any, error) {
	switch t.Kind {
	case "null":
		if v == nil {
			return nil, nil
		}
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			switch x {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
	case "int", "long":
		return intNative(t, v, path)
	case "float", "double":
		if n, ok := asNumber(v); ok {
			if t.Kind == "float" {
				return float32(n.f), nil
			}
			return n.f, nil
		}
		if f, ok := floatString(v); ok {
			if t.Kind == "float" {
				return float32(f), nil
			}
			return f, nil
		}
	case "string":
		s, ok := stringOf(v)
		if !ok {
			break
		}
		if t.Logical == "uuid" {
			if _, err := uuid.Parse(s); err != nil {
				return nil, &FieldError{Path: path, Expected: "uuid", Found: found(v)}
			}
		}
		return s, nil
	case "bytes", "fixed":
		if t.Logical == "decimal" {
			return decimalNative(t, v, path)
		}
		var b []byte
		switch x := v.(type) {
		case string:
			b = []byte(x)
		case []byte:
			b = x
		case []any:
			var ok bool
			if b, ok = byteList(x); !ok {
				return nil, &FieldError{Path: path, Expected: typeLabel(t) + " (a string, or an array of byte values 0..255)", Found: found(v)}
			}
		default:
			return nil, fieldErr(path, t, v)
		}
		if t.Kind == "fixed" && len(b) != t.Size {
			return nil, &FieldError{Path: path, Expected: fmt.Sprintf("%s (%d bytes)", typeLabel(t), t.Size), Found: fmt.Sprintf("%d bytes", len(b))}
		}
		return b, nil
	case "enum":
		if s, ok := v.(string); ok {
			for _, sym := range t.Symbols {
				if sym == s {
					return s, nil
				}
			}
			return nil, &FieldError{Path: path, Expected: "one of " + strings.Join(t.Symbols, ", "), Found: found(v)}
		}
	case "array":
		xs, ok := v.([]any)
		if !ok {
			break
		}
		out := make([]any, len(xs))
		for i, x := range xs {
			n, err := toNative(t.Items, x, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			break
		}
		out := make(map[string]any, len(m))
		for k, x := range m {
			n, err := toNative(t.Values, x, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
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
		return recordNative(t, m, path)
	case "union":
		return unionNative(t, v, path)
	}
	return nil, fieldErr(path, t, v)
}

// recordNative converts the fields of m present in the record; missing
// fields take their default, or fail when they have none. Keys of m that are
// not fields are ignored (callers decide whether they are errors).
func recordNative(t *aType, m map[string]any, path string) (map[string]any, error) {
	out := make(map[string]any, len(t.Fields))
	for _, f := range t.Fields {
		x, present := m[f.Name]
		fp := path + "." + f.Name
		if !present {
			if !f.HasDefault {
				return nil, &FieldError{Path: fp, Expected: typeLabel(f.Type), Found: "nothing", Msg: "required field is missing"}
			}
			x = f.Default
			if f.Type.Kind == "union" && len(f.Type.Branches) > 0 {
				// a union's default belongs to its first branch
				n, err := toNative(f.Type.Branches[0], x, fp)
				if err != nil {
					return nil, fmt.Errorf("default of %s: %w", fp, err)
				}
				out[f.Name] = wrapBranch(f.Type.Branches[0], n)
				continue
			}
		}
		n, err := toNative(f.Type, x, fp)
		if err != nil {
			return nil, err
		}
		out[f.Name] = n
	}
	return out, nil
}

func wrapBranch(t *aType, n any) any {
	if t.Kind == "null" {
		return nil
	}
	return map[string]any{avro.BranchName(t): n}
}

func stringOf(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case time.Time:
		return x.Format(time.RFC3339Nano), true
	case []byte:
		return string(x), true
	}
	if n, ok := asNumber(v); ok {
		if n.isInt {
			return strconv.FormatInt(n.i, 10), true
		}
		return strconv.FormatFloat(n.f, 'g', -1, 64), true
	}
	return "", false
}

// branchMatches is Deimos v2's union branch choice (first match wins).
func branchMatches(t *aType, v any) bool {
	switch t.Kind {
	case "null":
		return v == nil
	case "boolean":
		if _, ok := v.(bool); ok {
			return true
		}
		return v == "true" || v == "false"
	case "int", "long":
		if t.Logical == "timestamp-millis" || t.Logical == "timestamp-micros" {
			if s, ok := v.(string); ok {
				_, ok := parseTime(s)
				return ok
			}
		}
		if t.Logical == "date" {
			if s, ok := v.(string); ok {
				_, err := time.Parse("2006-01-02", s)
				return err == nil
			}
		}
		if n, ok := asNumber(v); ok {
			return n.isInt
		}
		if _, ok := intString(v); ok {
			return true
		}
		_, ok := v.(time.Time)
		return ok
	case "float", "double":
		if _, ok := asNumber(v); ok {
			return true
		}
		_, ok := floatString(v)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "map":
		_, ok := v.(map[string]any)
		return ok
	case "record":
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for k := range m {
			if _, ok := t.FieldIndex[k]; !ok {
				return false
			}
		}
		return true
	case "enum":
		s, ok := v.(string)
		if !ok {
			return false
		}
		for _, sym := range t.Symbols {
			if sym == s {
				return true
			}
		}
		return false
	case "string":
		_, ok := stringOf(v)
		return ok && v != nil
	case "bytes", "fixed":
		if t.Logical == "decimal" {
			if _, ok := asNumber(v); ok {
				return true
			}
		}
		switch x := v.(type) {
		case string, []byte:
			return true
		case []any:
			_, ok := byteList(x)
			return ok
		}
	}
	return false
}

// byteList reads the form decode gives bytes that are not valid UTF-8: a
// JSON array of byte values (0..255).
func byteList(xs []any) ([]byte, bool) {
	b := make([]byte, len(xs))
	for i, x := range xs {
		n, ok := asNumber(x)
		if !ok || !n.isInt || n.i < 0 || n.i > 255 {
			return nil, false
		}
		b[i] = byte(n.i)
	}
	return b, true
}

func unionNative(t *aType, v any, path string) (any, error) {
	for _, br := range t.Branches {
		if branchMatches(br, v) {
			n, err := toNative(br, v, path)
			if err != nil {
				return nil, err
			}
			return wrapBranch(br, n), nil
		}
	}
	return nil, fieldErr(path, t, v)
}

func intNative(t *aType, v any, path string) (any, error) {
	var i int64
	switch t.Logical {
	case "timestamp-millis", "timestamp-micros", "local-timestamp-millis", "local-timestamp-micros":
		var tm time.Time
		switch x := v.(type) {
		case time.Time:
			tm = x
		case string:
			var ok bool
			if tm, ok = parseTime(x); !ok {
				if n, ok := intString(x); ok {
					i = n
					goto done
				}
				return nil, &FieldError{Path: path, Expected: t.Logical + " (RFC 3339 time or epoch number)", Found: found(v)}
			}
		default:
			n, ok := asNumber(v)
			if !ok || !n.isInt {
				return nil, &FieldError{Path: path, Expected: t.Logical + " (RFC 3339 time or epoch number)", Found: found(v)}
			}
			i = n.i
			goto done
		}
		if strings.HasSuffix(t.Logical, "micros") {
			i = tm.UnixMicro()
		} else {
			i = tm.UnixMilli()
		}
		goto done
	case "date":
		switch x := v.(type) {
		case time.Time:
			i = daysOf(x)
			goto done
		case string:
			if d, err := time.Parse("2006-01-02", strings.TrimSpace(x)); err == nil {
				i = daysOf(d)
				goto done
			}
			if n, ok := intString(x); ok {
				i = n
				goto done
			}
			return nil, &FieldError{Path: path, Expected: "date (YYYY-MM-DD or days since epoch)", Found: found(v)}
		}
	}
	if n, ok := asNumber(v); ok {
		if !n.isInt {
			return nil, fieldErr(path, t, v)
		}
		i = n.i
	} else if n, ok := intString(v); ok {
		i = n
	} else if tm, ok := v.(time.Time); ok {
		i = tm.Unix()
	} else {
		return nil, fieldErr(path, t, v)
	}
done:
	if t.Kind == "int" {
		if i < math.MinInt32 || i > math.MaxInt32 {
			return nil, &FieldError{Path: path, Expected: typeLabel(t), Found: found(v), Msg: "out of the 32-bit range"}
		}
		return int32(i), nil
	}
	return i, nil
}

func daysOf(t time.Time) int64 {
	y, m, d := t.Date()
	u := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return int64(math.Floor(float64(u.Unix()) / 86400))
}

var bigTen = big.NewInt(10)

func decimalNative(t *aType, v any, path string) (any, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
	case json.Number:
		s = x.String()
	case *big.Rat:
		s = x.FloatString(t.Scale)
	default:
		n, ok := asNumber(v)
		if !ok {
			return nil, &FieldError{Path: path, Expected: fmt.Sprintf("decimal(%d,%d) as a string", t.Precision, t.Scale), Found: found(v)}
		}
		s = strconv.FormatFloat(n.f, 'f', -1, 64)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, &FieldError{Path: path, Expected: fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale), Found: found(v)}
	}
	scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(bigTen, big.NewInt(int64(t.Scale)), nil)))
	if !scaled.IsInt() {
		return nil, &FieldError{Path: path, Expected: fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale), Found: found(v), Msg: fmt.Sprintf("more than %d decimal places", t.Scale)}
	}
	unscaled := scaled.Num()
	if t.Precision > 0 && len(new(big.Int).Abs(unscaled).String()) > t.Precision {
		return nil, &FieldError{Path: path, Expected: fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale), Found: found(v), Msg: fmt.Sprintf("more than %d digits", t.Precision)}
	}
	b := twosComplement(unscaled)
	if t.Kind == "fixed" {
		if len(b) > t.Size {
			return nil, &FieldError{Path: path, Expected: fmt.Sprintf("decimal in %d bytes", t.Size), Found: found(v)}
		}
		pad := byte(0)
		if unscaled.Sign() < 0 {
			pad = 0xff
		}
		out := make([]byte, t.Size)
		for i := 0; i < t.Size-len(b); i++ {
			out[i] = pad
		}
		copy(out[t.Size-len(b):], b)
		return out, nil
	}
	return b, nil
}

// twosComplement is the big-endian two's complement form of n (minimal length).
func twosComplement(n *big.Int) []byte {
	if n.Sign() == 0 {
		return []byte{0}
	}
	if n.Sign() > 0 {
		b := n.Bytes()
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// negative: 2^(8k) + n for the smallest k that keeps the sign bit
	k := (n.BitLen() + 8) / 8
	m := new(big.Int).Lsh(big.NewInt(1), uint(8*k))
	m.Add(m, n)
	b := m.Bytes()
	for len(b) < k {
		b = append([]byte{0xff}, b...)
	}
	for len(b) > 1 && b[0] == 0xff && b[1]&0x80 != 0 {
		b = b[1:]
	}
	return b
}

func fromTwosComplement(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return n
}
