package compat

import (
	"fmt"
	"strings"

	"github.com/jhump/protoreflect/desc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/deimos-cli/deimos/pkg/encode/protobuf"
)

// deimosKeyProto renders the key .proto file byte for byte as Deimos's
// ProtoSchemaRegistry#write_key_proto does (v2, with schema_registry_client's
// ProtoText writer):
//
//	syntax = "proto3";
//	package <pkg>;
//	<blank line>
//	message <Name>Key {
//	  <label ><type> <field> = <number>< [options]>;
//	}
//
// The path (<package dirs>/<name_in_snake_case>_key.proto) and the field
// lookup come from protobuf.KeyProtoFile. Departures, where Deimos's output
// is unusable: a key field in a oneof or declared proto3 `optional` is
// written (Deimos skips it and writes an empty message); an enum or message
// typed key field is written with its package-relative name (Deimos raises);
// an empty package writes no package line (Deimos writes "package ;").
func deimosKeyProto(md *desc.MessageDescriptor, field string) (string, []byte, error) {
	rel, _, err := protobuf.KeyProtoFile(md, field)
	if err != nil {
		return "", nil, err
	}
	fd := md.FindFieldByName(field)
	if fd == nil {
		fd = md.FindFieldByJSONName(field)
	}
	if fd == nil {
		return "", nil, fmt.Errorf("key field %q is not a field of %s", field, md.GetFullyQualifiedName())
	}
	pkg := md.GetFile().GetPackage()
	var b strings.Builder
	b.WriteString("syntax = \"proto3\";\n")
	if pkg != "" {
		b.WriteString("package " + pkg + ";\n")
	}
	b.WriteString("\n")
	b.WriteString("message " + md.GetName() + "Key {\n")
	b.WriteString("  ")
	switch {
	case fd.IsProto3Optional():
		b.WriteString("optional ")
	case fd.IsRepeated() && !fd.IsMap():
		b.WriteString("repeated ")
	}
	if fd.IsMap() {
		b.WriteString("map<" + protoTypeName(pkg, fd.GetMapKeyType()) + ", " + protoTypeName(pkg, fd.GetMapValueType()) + ">")
	} else {
		b.WriteString(protoTypeName(pkg, fd))
	}
	fmt.Fprintf(&b, " %s = %d", fd.GetName(), fd.GetNumber())
	if opts := fieldOptionsText(fd); opts != "" {
		b.WriteString(" [" + opts + "]")
	}
	b.WriteString(";\n}\n")
	return rel, []byte(b.String()), nil
}

// protoTypeName is ProtoText.field_type: scalar names, and for enums and
// messages the full name without the package prefix.
func protoTypeName(pkg string, fd *desc.FieldDescriptor) string {
	switch fd.GetType() {
	case descriptorpb.FieldDescriptorProto_TYPE_ENUM:
		return strings.TrimPrefix(fd.GetEnumType().GetFullyQualifiedName(), pkg+".")
	case descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, descriptorpb.FieldDescriptorProto_TYPE_GROUP:
		return strings.TrimPrefix(fd.GetMessageType().GetFullyQualifiedName(), pkg+".")
	}
	return strings.ToLower(strings.TrimPrefix(fd.GetType().String(), "TYPE_"))
}

// fieldOptionsText is Ruby's field.options.to_h rendered "name = value"
// joined by ", ", in declaration order (standard options only).
func fieldOptionsText(fd *desc.FieldDescriptor) string {
	o := fd.GetFieldOptions()
	if o == nil {
		return ""
	}
	m := o.ProtoReflect()
	fields := m.Descriptor().Fields()
	var parts []string
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		if !m.Has(f) || f.IsList() || f.IsMap() {
			continue
		}
		v := m.Get(f)
		var s string
		switch f.Kind() {
		case protoreflect.EnumKind:
			if ev := f.Enum().Values().ByNumber(v.Enum()); ev != nil {
				s = string(ev.Name())
			} else {
				s = fmt.Sprint(v.Enum())
			}
		case protoreflect.MessageKind, protoreflect.GroupKind:
			continue
		default:
			s = fmt.Sprint(v.Interface())
		}
		parts = append(parts, string(f.Name())+" = "+s)
	}
	return strings.Join(parts, ", ")
}
