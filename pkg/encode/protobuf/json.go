package protobuf

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jhump/protoreflect/desc"
	"github.com/jhump/protoreflect/dynamic"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	pref "google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/deimos-cli/deimos/internal/jsonesc"
	"github.com/deimos-cli/deimos/pkg/encode/nesting"
)

// FieldError is a value that does not fit the message: which field (a path
// like "Widget.parts[1].qty"), what was expected, what was found. The encode
// package converts it to its own encode.FieldError.
type FieldError struct {
	Path     string
	Expected string
	Found    string
	Msg      string
}

func (e *FieldError) Error() string {
	s := e.Path + ": expected " + e.Expected + ", found " + e.Found
	if e.Msg != "" {
		s += " (" + e.Msg + ")"
	}
	return s
}

// DecodeJSON parses a JSON document with numbers kept exact (json.Number),
// ready for FromValue.
func DecodeJSON(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid JSON: more than one document")
	}
	return v, nil
}

// Marshal encodes a JSON document as the protobuf binary of message md.
func Marshal(md *desc.MessageDescriptor, doc []byte) ([]byte, error) {
	v, err := DecodeJSON(doc)
	if err != nil {
		return nil, err
	}
	return MarshalValue(md, v)
}

// MarshalValue encodes Go values (a map[string]any as produced by
// encoding/json with UseNumber, or with string, bool, int*, uint*, float*,
// json.Number, time.Time, []byte, nil, nested maps and slices) as the
// protobuf binary of message md.
//
// Field names may be the proto names (snake_case, as Deimos hashes use) or
// the JSON names (lowerCamelCase). Unknown fields are errors. Integers are
// accepted as numbers or numeric strings (the usual JSON form of int64);
// enums as names or numbers; bytes as base64 text; well-known types in their
// canonical JSON forms (Timestamp as RFC 3339 text, Duration as "1.5s", ...).
// null leaves a field unset.
func MarshalValue(md *desc.MessageDescriptor, v any) ([]byte, error) {
	m, err := FromValue(md, v)
	if err != nil {
		return nil, err
	}
	if mayNestTooDeep(m.Descriptor()) {
		// never write what Unmarshal refuses: the same check on the same JSON
		j, err := ToJSON(m)
		if err != nil {
			return nil, err
		}
		if err := nesting.CheckJSON(j); err != nil {
			return nil, err
		}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", md.GetName(), err)
	}
	// Go's runtime writes oneof fields after the others: valid, but not the
	// field-number order protoc and the C/upb runtimes (Ruby) write. Messages
	// that can hold a oneof are re-serialized in field-number order (with
	// sorted map keys) so the bytes are identical.
	if !hasOneof(md) {
		return b, nil
	}
	dm := dynamic.NewMessage(md)
	if err := dm.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("%s: %w", md.GetName(), err)
	}
	return dm.MarshalDeterministic()
}

// FromValue builds a dynamic message of type md from Go values (see MarshalValue).
func FromValue(md *desc.MessageDescriptor, v any) (*dynamicpb.Message, error) {
	d := md.UnwrapMessage()
	m := dynamicpb.NewMessage(d)
	if err := fillMessage(m, v, md.GetName()); err != nil {
		return nil, err
	}
	return m, nil
}

func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("string %q", clip(x))
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case json.Number:
		return "number " + x.String()
	case float32, float64, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprintf("number %v", x)
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case time.Time:
		return "time " + x.Format(time.RFC3339Nano)
	case []byte:
		return "bytes"
	}
	return fmt.Sprintf("%T", v)
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

func isWKT(d pref.MessageDescriptor) bool {
	return strings.HasPrefix(string(d.FullName()), "google.protobuf.")
}

// fillMessage sets m's fields from an object value.
func fillMessage(m pref.Message, v any, path string) error {
	d := m.Descriptor()
	if isWKT(d) {
		return fillWKT(m, v, path)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return &FieldError{Path: path, Expected: "object (message " + string(d.FullName()) + ")", Found: typeName(v)}
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fields := d.Fields()
	for _, k := range keys {
		val := obj[k]
		fd := fields.ByName(pref.Name(k))
		if fd == nil {
			fd = fields.ByJSONName(k)
		}
		if fd == nil {
			return &FieldError{Path: path + "." + k, Expected: "a field of " + string(d.FullName()), Found: "unknown field"}
		}
		fpath := path + "." + string(fd.Name())
		if val == nil {
			continue
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if other := m.WhichOneof(od); other != nil {
				return &FieldError{Path: fpath, Expected: "one field of oneof " + string(od.Name()), Found: "also " + string(other.Name())}
			}
		}
		switch {
		case fd.IsMap():
			obj, ok := val.(map[string]any)
			if !ok {
				return &FieldError{Path: fpath, Expected: "object (map)", Found: typeName(val)}
			}
			mp := m.Mutable(fd).Map()
			mkeys := make([]string, 0, len(obj))
			for mk := range obj {
				mkeys = append(mkeys, mk)
			}
			sort.Strings(mkeys)
			for _, mk := range mkeys {
				kpath := fmt.Sprintf("%s[%q]", fpath, mk)
				key, err := scalar(fd.MapKey(), mk, kpath)
				if err != nil {
					return err
				}
				vd := fd.MapValue()
				if vd.Kind() == pref.MessageKind || vd.Kind() == pref.GroupKind {
					ev := mp.NewValue()
					if err := fillMessage(ev.Message(), obj[mk], kpath); err != nil {
						return err
					}
					mp.Set(key.MapKey(), ev)
					continue
				}
				if obj[mk] == nil {
					return &FieldError{Path: kpath, Expected: kindName(vd), Found: "null"}
				}
				ev, err := scalar(vd, obj[mk], kpath)
				if err != nil {
					return err
				}
				mp.Set(key.MapKey(), ev)
			}
		case fd.IsList():
			arr, ok := val.([]any)
			if !ok {
				return &FieldError{Path: fpath, Expected: "array", Found: typeName(val)}
			}
			lst := m.Mutable(fd).List()
			for i, item := range arr {
				ipath := fmt.Sprintf("%s[%d]", fpath, i)
				if fd.Kind() == pref.MessageKind || fd.Kind() == pref.GroupKind {
					ev := lst.NewElement()
					if err := fillMessage(ev.Message(), item, ipath); err != nil {
						return err
					}
					lst.Append(ev)
					continue
				}
				if item == nil {
					return &FieldError{Path: ipath, Expected: kindName(fd), Found: "null"}
				}
				ev, err := scalar(fd, item, ipath)
				if err != nil {
					return err
				}
				lst.Append(ev)
			}
		case fd.Kind() == pref.MessageKind || fd.Kind() == pref.GroupKind:
			sub := m.Mutable(fd).Message()
			if err := fillMessage(sub, val, fpath); err != nil {
				return err
			}
		default:
			sv, err := scalar(fd, val, fpath)
			if err != nil {
				return err
			}
			m.Set(fd, sv)
		}
	}
	return nil
}

// fillWKT fills a google.protobuf.* message from its canonical JSON form.
func fillWKT(m pref.Message, v any, path string) error {
	if t, ok := v.(time.Time); ok && m.Descriptor().FullName() == "google.protobuf.Timestamp" {
		v = t.UTC().Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return &FieldError{Path: path, Expected: string(m.Descriptor().FullName()), Found: typeName(v)}
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(b, m.Interface()); err != nil {
		msg := err.Error()
		if i := strings.Index(msg, "): "); i >= 0 {
			msg = msg[i+3:]
		}
		return &FieldError{Path: path, Expected: wktExpected(m.Descriptor()), Found: typeName(v), Msg: strings.TrimPrefix(msg, "proto: ")}
	}
	return nil
}

func wktExpected(d pref.MessageDescriptor) string {
	switch d.FullName() {
	case "google.protobuf.Timestamp":
		return "RFC 3339 timestamp text (google.protobuf.Timestamp)"
	case "google.protobuf.Duration":
		return `duration text like "1.5s" (google.protobuf.Duration)`
	}
	return string(d.FullName()) + " in its JSON form"
}

func kindName(fd pref.FieldDescriptor) string {
	switch fd.Kind() {
	case pref.EnumKind:
		return "enum " + string(fd.Enum().FullName())
	case pref.MessageKind, pref.GroupKind:
		return "message " + string(fd.Message().FullName())
	}
	return fd.Kind().String()
}

// intText returns the integral text of a JSON number or numeric string.
func intText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		return integral(x.String())
	case string:
		return integral(strings.TrimSpace(x))
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) {
			return "", false
		}
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case float32:
		return intText(float64(x))
	case int:
		return strconv.FormatInt(int64(x), 10), true
	case int8:
		return strconv.FormatInt(int64(x), 10), true
	case int16:
		return strconv.FormatInt(int64(x), 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint:
		return strconv.FormatUint(uint64(x), 10), true
	case uint8:
		return strconv.FormatUint(uint64(x), 10), true
	case uint16:
		return strconv.FormatUint(uint64(x), 10), true
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	}
	return "", false
}

// integral accepts "12", "-3", "1e3", "2.0" (an exact integer) and returns
// its plain digits.
func integral(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return s, true
	}
	if _, err := strconv.ParseUint(s, 10, 64); err == nil {
		return s, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<53 {
		return "", false
	}
	return strconv.FormatFloat(f, 'f', -1, 64), true
}

func floatOf(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		return f, err == nil
	case string:
		switch x {
		case "NaN":
			return math.NaN(), true
		case "Infinity":
			return math.Inf(1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	if s, ok := intText(v); ok {
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil
	}
	return 0, false
}

// scalar converts a value to a protobuf scalar (or enum) of field fd.
func scalar(fd pref.FieldDescriptor, v any, path string) (pref.Value, error) {
	bad := func(expected string) (pref.Value, error) {
		return pref.Value{}, &FieldError{Path: path, Expected: expected, Found: typeName(v)}
	}
	switch fd.Kind() {
	case pref.BoolKind:
		switch x := v.(type) {
		case bool:
			return pref.ValueOfBool(x), nil
		case string:
			if x == "true" || x == "false" {
				return pref.ValueOfBool(x == "true"), nil
			}
		}
		return bad("boolean")
	case pref.StringKind:
		if s, ok := v.(string); ok {
			return pref.ValueOfString(s), nil
		}
		return bad("string")
	case pref.BytesKind:
		switch x := v.(type) {
		case []byte:
			return pref.ValueOfBytes(x), nil
		case string:
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
				if b, err := enc.DecodeString(x); err == nil {
					return pref.ValueOfBytes(b), nil
				}
			}
		}
		return bad("base64 text (bytes)")
	case pref.FloatKind, pref.DoubleKind:
		f, ok := floatOf(v)
		if !ok {
			return bad("number (" + fd.Kind().String() + ")")
		}
		if fd.Kind() == pref.FloatKind {
			if !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) > math.MaxFloat32 {
				return pref.Value{}, &FieldError{Path: path, Expected: "number within float range", Found: typeName(v)}
			}
			return pref.ValueOfFloat32(float32(f)), nil
		}
		return pref.ValueOfFloat64(f), nil
	case pref.Int32Kind, pref.Sint32Kind, pref.Sfixed32Kind:
		s, ok := intText(v)
		if !ok {
			return bad("integer (" + fd.Kind().String() + ")")
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return pref.Value{}, &FieldError{Path: path, Expected: "integer within " + fd.Kind().String() + " range", Found: typeName(v)}
		}
		return pref.ValueOfInt32(int32(n)), nil
	case pref.Int64Kind, pref.Sint64Kind, pref.Sfixed64Kind:
		s, ok := intText(v)
		if !ok {
			return bad("integer (" + fd.Kind().String() + ")")
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return pref.Value{}, &FieldError{Path: path, Expected: "integer within " + fd.Kind().String() + " range", Found: typeName(v)}
		}
		return pref.ValueOfInt64(n), nil
	case pref.Uint32Kind, pref.Fixed32Kind:
		s, ok := intText(v)
		if !ok {
			return bad("non-negative integer (" + fd.Kind().String() + ")")
		}
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return pref.Value{}, &FieldError{Path: path, Expected: "integer within " + fd.Kind().String() + " range", Found: typeName(v)}
		}
		return pref.ValueOfUint32(uint32(n)), nil
	case pref.Uint64Kind, pref.Fixed64Kind:
		s, ok := intText(v)
		if !ok {
			return bad("non-negative integer (" + fd.Kind().String() + ")")
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return pref.Value{}, &FieldError{Path: path, Expected: "integer within " + fd.Kind().String() + " range", Found: typeName(v)}
		}
		return pref.ValueOfUint64(n), nil
	case pref.EnumKind:
		ed := fd.Enum()
		if s, ok := v.(string); ok {
			if ev := ed.Values().ByName(pref.Name(s)); ev != nil {
				return pref.ValueOfEnum(ev.Number()), nil
			}
		}
		if s, ok := intText(v); ok {
			if n, err := strconv.ParseInt(s, 10, 32); err == nil {
				if ed.Values().ByNumber(pref.EnumNumber(n)) != nil || !ed.IsClosed() {
					return pref.ValueOfEnum(pref.EnumNumber(n)), nil
				}
			}
		}
		return bad("one of " + enumNames(ed) + " (enum " + string(ed.FullName()) + ")")
	}
	return bad(kindName(fd))
}

func enumNames(ed pref.EnumDescriptor) string {
	var names []string
	for i := 0; i < ed.Values().Len(); i++ {
		names = append(names, string(ed.Values().Get(i).Name()))
	}
	if len(names) > 8 {
		names = append(names[:8], "...")
	}
	return strings.Join(names, ", ")
}

// Unmarshal decodes protobuf binary of message md to a JSON object: proto
// field names, declaration order, every field present (defaults included;
// unset message fields and unset proto3-optional fields as null; oneof
// members only when set), 64-bit integers as JSON numbers, enums by name,
// bytes as base64, well-known types in their canonical JSON forms.
//
// Malformed data is an error, never a panic: google.golang.org/protobuf
// (v1.36) panics on some malformed map entries in the reflection-based path
// dynamic messages take (a key field repeated with the wrong wire type,
// found by FuzzUnframeDecode), so a panic is turned into an error here.
func Unmarshal(md *desc.MessageDescriptor, b []byte) (_ json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			msg := strings.Join(strings.Fields(fmt.Sprint(p)), " ")
			err = fmt.Errorf("decoding protobuf %s: malformed data (%s)", md.GetFullyQualifiedName(), msg)
		}
	}()
	m := dynamicpb.NewMessage(md.UnwrapMessage())
	if err := (proto.UnmarshalOptions{}).Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("decoding protobuf %s: %w", md.GetFullyQualifiedName(), err)
	}
	j, err := ToJSON(m)
	if err != nil {
		return nil, err
	}
	if mayNestTooDeep(m.Descriptor()) {
		if err := nesting.CheckJSON(j); err != nil {
			return nil, fmt.Errorf("decoding protobuf %s: %w", md.GetFullyQualifiedName(), err)
		}
	}
	return j, nil
}

// ToJSON renders a message as Unmarshal does.
func ToJSON(m pref.Message) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := writeMessage(&buf, m); err != nil {
		return nil, err
	}
	return json.RawMessage(buf.Bytes()), nil
}

func writeMessage(buf *bytes.Buffer, m pref.Message) error {
	d := m.Descriptor()
	if isWKT(d) {
		b, err := protojson.Marshal(m.Interface())
		if err != nil {
			return err
		}
		return json.Compact(buf, b)
	}
	buf.WriteByte('{')
	fields := d.Fields()
	first := true
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		od := fd.ContainingOneof()
		set := m.Has(fd)
		if od != nil && !od.IsSynthetic() && !set {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		writeString(buf, string(fd.Name()))
		buf.WriteByte(':')
		switch {
		case fd.IsMap():
			mp := m.Get(fd).Map()
			var keys []pref.MapKey
			mp.Range(func(k pref.MapKey, _ pref.Value) bool { keys = append(keys, k); return true })
			sort.Slice(keys, func(a, b int) bool { return keys[a].String() < keys[b].String() })
			buf.WriteByte('{')
			for j, k := range keys {
				if j > 0 {
					buf.WriteByte(',')
				}
				writeString(buf, k.String())
				buf.WriteByte(':')
				if err := writeValue(buf, fd.MapValue(), mp.Get(k)); err != nil {
					return err
				}
			}
			buf.WriteByte('}')
		case fd.IsList():
			lst := m.Get(fd).List()
			buf.WriteByte('[')
			for j := 0; j < lst.Len(); j++ {
				if j > 0 {
					buf.WriteByte(',')
				}
				if err := writeValue(buf, fd, lst.Get(j)); err != nil {
					return err
				}
			}
			buf.WriteByte(']')
		case (fd.Kind() == pref.MessageKind || fd.Kind() == pref.GroupKind || fd.HasPresence()) && !set:
			buf.WriteString("null")
		default:
			if err := writeValue(buf, fd, m.Get(fd)); err != nil {
				return err
			}
		}
	}
	buf.WriteByte('}')
	return nil
}

func writeString(buf *bytes.Buffer, s string) {
	buf.Write(jsonesc.AppendString(buf.AvailableBuffer(), s))
}

func writeFloat(buf *bytes.Buffer, f float64, bits int) {
	switch {
	case math.IsNaN(f):
		buf.WriteString(`"NaN"`)
	case math.IsInf(f, 1):
		buf.WriteString(`"Infinity"`)
	case math.IsInf(f, -1):
		buf.WriteString(`"-Infinity"`)
	default:
		buf.WriteString(strconv.FormatFloat(f, 'g', -1, bits))
	}
}

func writeValue(buf *bytes.Buffer, fd pref.FieldDescriptor, v pref.Value) error {
	switch fd.Kind() {
	case pref.BoolKind:
		buf.WriteString(strconv.FormatBool(v.Bool()))
	case pref.StringKind:
		writeString(buf, v.String())
	case pref.BytesKind:
		writeString(buf, base64.StdEncoding.EncodeToString(v.Bytes()))
	case pref.FloatKind:
		writeFloat(buf, v.Float(), 32)
	case pref.DoubleKind:
		writeFloat(buf, v.Float(), 64)
	case pref.Int32Kind, pref.Sint32Kind, pref.Sfixed32Kind, pref.Int64Kind, pref.Sint64Kind, pref.Sfixed64Kind:
		buf.WriteString(strconv.FormatInt(v.Int(), 10))
	case pref.Uint32Kind, pref.Fixed32Kind, pref.Uint64Kind, pref.Fixed64Kind:
		buf.WriteString(strconv.FormatUint(v.Uint(), 10))
	case pref.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			writeString(buf, string(ev.Name()))
		} else {
			buf.WriteString(strconv.FormatInt(int64(v.Enum()), 10))
		}
	case pref.MessageKind, pref.GroupKind:
		return writeMessage(buf, v.Message())
	default:
		return fmt.Errorf("unsupported protobuf kind %s", fd.Kind())
	}
	return nil
}

var oneofCache sync.Map // *desc.MessageDescriptor -> bool

// hasOneof reports whether md or any message reachable from it declares a
// (non-synthetic) oneof.
func hasOneof(md *desc.MessageDescriptor) bool {
	if v, ok := oneofCache.Load(md); ok {
		return v.(bool)
	}
	r := oneofIn(md.UnwrapMessage(), map[pref.FullName]bool{})
	oneofCache.Store(md, r)
	return r
}

func oneofIn(d pref.MessageDescriptor, seen map[pref.FullName]bool) bool {
	if seen[d.FullName()] {
		return false
	}
	seen[d.FullName()] = true
	for i := 0; i < d.Oneofs().Len(); i++ {
		if !d.Oneofs().Get(i).IsSynthetic() {
			return true
		}
	}
	for i := 0; i < d.Fields().Len(); i++ {
		if m := d.Fields().Get(i).Message(); m != nil && oneofIn(m, seen) {
			return true
		}
	}
	return false
}
