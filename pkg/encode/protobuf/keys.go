package protobuf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/jhump/protoreflect/desc"
	"github.com/jhump/protoreflect/desc/builder"
	"github.com/jhump/protoreflect/desc/protoprint"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/deimos-cli/deimos/internal/jsonesc"
)

// SortedJSON renders v as compact JSON with object keys sorted and no HTML
// escaping (what Ruby's JSON.generate does for a sorted hash). json.Number
// values keep their exact text.
func SortedJSON(v any) ([]byte, error) {
	return jsonesc.Marshal(v) // maps are encoded with sorted keys
}

// KeyJSON is Deimos's protobuf field key: the sorted compact JSON object
// {"<field>": value}. proto_local sends it as is; proto_schema_registry
// frames it with 0x00 and the id of the key's JSON Schema.
func KeyJSON(field string, value any) ([]byte, error) {
	b, err := SortedJSON(map[string]any{field: value})
	if err != nil {
		return nil, fmt.Errorf("key field %s: %w", field, err)
	}
	return b, nil
}

// PlainKey is the key of a scalar key without a key field: Ruby's to_s
// (strings as they are, numbers as their text, other values as JSON).
func PlainKey(v any) []byte {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []byte(x)
	case []byte:
		return x
	case json.Number:
		return []byte(x.String())
	case json.RawMessage:
		var s string
		if json.Unmarshal(x, &s) == nil {
			return []byte(s)
		}
		return bytes.TrimSpace(x)
	case bool, int, int32, int64, uint, uint32, uint64, float32, float64:
		return []byte(fmt.Sprint(x))
	}
	b, err := SortedJSON(v)
	if err != nil {
		return []byte(fmt.Sprint(v))
	}
	return b
}

// DecodeKey turns protobuf key bytes back into a JSON value: a JSON object
// gives its field's value (the whole object when field is "" or absent);
// other JSON is returned as is; non-JSON bytes are returned as a JSON string
// of the raw text (proto_local keys may be plain strings).
func DecodeKey(b []byte, field string) json.RawMessage {
	if b == nil {
		return nil
	}
	t := bytes.TrimSpace(b)
	if json.Valid(t) {
		if field != "" {
			var obj map[string]json.RawMessage
			if json.Unmarshal(t, &obj) == nil {
				if v, ok := obj[field]; ok {
					return v
				}
			}
		}
		var c bytes.Buffer
		if json.Compact(&c, t) == nil {
			return c.Bytes()
		}
	}
	return jsonesc.AppendString(nil, string(b))
}

// orderedObj is a JSON object that keeps its keys in insertion order.
type orderedObj struct {
	keys []string
	vals map[string]any
}

func obj(kv ...any) *orderedObj {
	o := &orderedObj{vals: map[string]any{}}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		o.keys = append(o.keys, k)
		o.vals[k] = kv[i+1]
	}
	return o
}

func (o *orderedObj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(jsonesc.AppendString(b.AvailableBuffer(), k))
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// KeyJSONSchema is the JSON Schema Deimos registers (schemaType JSON, subject
// <topic>-key) for a proto_schema_registry field key: draft 2020-12, an
// object with one property (the key field) that is required. Types: int32
// family -> integer, float/double -> number, int64 family/string/bytes ->
// string, bool -> boolean, enum -> {"enum": [names]}, message -> object,
// repeated -> array, map -> object with additionalProperties. Pretty-printed
// with two-space indentation.
func KeyJSONSchema(md *desc.MessageDescriptor, field string) ([]byte, error) {
	fd, err := keyField(md, field)
	if err != nil {
		return nil, err
	}
	schema := obj(
		"$schema", "https://json-schema.org/draft/2020-12/schema",
		"type", "object",
		"properties", obj(fd.GetName(), fieldSchema(fd, false)),
		"required", []string{fd.GetName()},
	)
	b, err := json.MarshalIndent(schema, "", "  ")
	if err != nil {
		return nil, err
	}
	return b, nil
}

func keyField(md *desc.MessageDescriptor, field string) (*desc.FieldDescriptor, error) {
	if md == nil {
		return nil, fmt.Errorf("no message")
	}
	if strings.Contains(field, ".") {
		return nil, fmt.Errorf("key field %q: dotted key fields are not supported for protobuf key schemas", field)
	}
	fd := md.FindFieldByName(field)
	if fd == nil {
		fd = md.FindFieldByJSONName(field)
	}
	if fd == nil {
		return nil, fmt.Errorf("key field %q is not a field of %s", field, md.GetFullyQualifiedName())
	}
	return fd, nil
}

func fieldSchema(fd *desc.FieldDescriptor, elem bool) any {
	if fd.IsMap() {
		return obj("type", "object", "additionalProperties", fieldSchema(fd.GetMapValueType(), true))
	}
	if fd.IsRepeated() && !elem {
		return obj("type", "array", "items", fieldSchema(fd, true))
	}
	switch fd.GetType() {
	case descriptorpb.FieldDescriptorProto_TYPE_INT32, descriptorpb.FieldDescriptorProto_TYPE_SINT32,
		descriptorpb.FieldDescriptorProto_TYPE_SFIXED32, descriptorpb.FieldDescriptorProto_TYPE_UINT32,
		descriptorpb.FieldDescriptorProto_TYPE_FIXED32:
		return obj("type", "integer")
	case descriptorpb.FieldDescriptorProto_TYPE_FLOAT, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE:
		return obj("type", "number")
	case descriptorpb.FieldDescriptorProto_TYPE_BOOL:
		return obj("type", "boolean")
	case descriptorpb.FieldDescriptorProto_TYPE_ENUM:
		var names []string
		for _, v := range fd.GetEnumType().GetValues() {
			names = append(names, v.GetName())
		}
		return obj("enum", names)
	case descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, descriptorpb.FieldDescriptorProto_TYPE_GROUP:
		return obj("type", "object")
	}
	// int64 family, string, bytes
	return obj("type", "string")
}

// KeyProtoFile is what Deimos's `rake deimos:generate_key_protos` writes for
// a field key: the path <package dots as slashes>/<message_name_in_snake_case>_key.proto
// and a proto3 file in the message's package with one message
// <MessageName>Key holding the key field with its original type and field
// number, printed with protoreflect's protoprint.
func KeyProtoFile(md *desc.MessageDescriptor, field string) (relPath string, content []byte, err error) {
	fd, err := keyField(md, field)
	if err != nil {
		return "", nil, err
	}
	pkg := md.GetFile().GetPackage()
	name := md.GetName()
	relPath = underscore(name) + "_key.proto"
	if pkg != "" {
		relPath = strings.ReplaceAll(pkg, ".", "/") + "/" + relPath
	}
	var fb *builder.FieldBuilder
	if fd.IsMap() {
		fb = builder.NewMapField(fd.GetName(), fieldType(fd.GetMapKeyType()), fieldType(fd.GetMapValueType())).SetNumber(fd.GetNumber())
	} else if fb, err = builder.FromField(fd); err != nil {
		return "", nil, fmt.Errorf("key field %s: %w", field, err)
	}
	fb.SetComments(builder.Comments{})
	if !fd.IsRepeated() && !fd.IsMap() {
		fb.SetLabel(descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL)
		fb.SetProto3Optional(false)
	}
	mb := builder.NewMessage(name + "Key").AddField(fb)
	file := builder.NewFile(relPath).SetProto3(true).SetPackageName(pkg).AddMessage(mb)
	kfd, err := file.Build()
	if err != nil {
		return "", nil, fmt.Errorf("building %s: %w", relPath, err)
	}
	var p protoprint.Printer
	var out bytes.Buffer
	if err := p.PrintProtoFile(kfd, &out); err != nil {
		return "", nil, fmt.Errorf("printing %s: %w", relPath, err)
	}
	return relPath, out.Bytes(), nil
}

var (
	underscoreA = regexp.MustCompile(`([A-Z\d]+)([A-Z][a-z])`)
	underscoreB = regexp.MustCompile(`([a-z\d])([A-Z])`)
)

// underscore is ActiveSupport's String#underscore for a simple name:
// "WidgetV2" -> "widget_v2", "HTTPRequest" -> "http_request".
func underscore(s string) string {
	s = underscoreA.ReplaceAllString(s, "${1}_${2}")
	s = underscoreB.ReplaceAllString(s, "${1}_${2}")
	return strings.ToLower(strings.ReplaceAll(s, "-", "_"))
}

// MessageJSONSchema is the JSON Schema (same rules as KeyJSONSchema) for a
// whole key message, used for `key_config schema:` keys under
// proto_schema_registry: one property per field, none required.
func MessageJSONSchema(md *desc.MessageDescriptor) ([]byte, error) {
	if md == nil {
		return nil, fmt.Errorf("no message")
	}
	props := obj()
	for _, fd := range md.GetFields() {
		props.keys = append(props.keys, fd.GetName())
		props.vals[fd.GetName()] = fieldSchema(fd, false)
	}
	return json.MarshalIndent(obj(
		"$schema", "https://json-schema.org/draft/2020-12/schema",
		"type", "object",
		"properties", props,
	), "", "  ")
}

func fieldType(fd *desc.FieldDescriptor) *builder.FieldType {
	switch {
	case fd.GetMessageType() != nil:
		return builder.FieldTypeImportedMessage(fd.GetMessageType())
	case fd.GetEnumType() != nil:
		return builder.FieldTypeImportedEnum(fd.GetEnumType())
	}
	return builder.FieldTypeScalar(fd.GetType())
}
