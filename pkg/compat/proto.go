package compat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jhump/protoreflect/desc"
	"github.com/jhump/protoreflect/desc/protoparse"
	"google.golang.org/protobuf/types/descriptorpb"
)

// protoSchema is a parsed .proto file with its dependencies linked.
type protoSchema struct {
	fd *desc.FileDescriptor
}

// ParseProto parses a .proto version. Imports are read through v.Import.
func ParseProto(name string, v Version) (*protoSchema, error) {
	if v.protoImports != nil {
		return v.protoImports.parse(name, v, v.importLog)
	}
	main := v.ProtoName
	if main == "" {
		main = baseName(name)
	}
	p := protoparse.Parser{
		IncludeSourceCodeInfo: true,
		Accessor: func(fn string) (io.ReadCloser, error) {
			if fn == main {
				return io.NopCloser(bytes.NewReader(v.Data)), nil
			}
			if v.Import != nil {
				b, err := v.Import(fn)
				if err == nil {
					return io.NopCloser(bytes.NewReader(b)), nil
				}
				if !errors.Is(err, fs.ErrNotExist) {
					return nil, err
				}
			}
			return nil, fmt.Errorf("%s: %w", fn, fs.ErrNotExist)
		},
	}
	fds, err := p.ParseFiles(main)
	if err != nil {
		return nil, protoError(err, name, main)
	}
	return &protoSchema{fd: fds[0]}, nil
}

// protoError names the file in a parse error the way users know it.
func protoError(err error, name, main string) error {
	msg := err.Error()
	if !strings.HasPrefix(msg, main) && !strings.Contains(msg, ".proto:") {
		msg = name + ": " + msg
	} else if main != name {
		msg = strings.Replace(msg, main+":", name+":", 1)
	}
	return errors.New(msg)
}

func baseName(name string) string { return filepath.Base(name) }

// Confluent difference types that make a change incompatible (the ones
// outside SchemaDiff.COMPATIBLE_CHANGES).
const (
	pPackageChanged        = "PACKAGE_CHANGED"
	pMessageRemoved        = "MESSAGE_REMOVED"
	pFieldKindChanged      = "FIELD_KIND_CHANGED"
	pFieldScalarKind       = "FIELD_SCALAR_KIND_CHANGED"
	pFieldNamedType        = "FIELD_NAMED_TYPE_CHANGED"
	pFieldNumericLabel     = "FIELD_NUMERIC_LABEL_CHANGED"
	pRequiredFieldAdded    = "REQUIRED_FIELD_ADDED"
	pRequiredFieldRemoved  = "REQUIRED_FIELD_REMOVED"
	pOneofFieldRemoved     = "ONEOF_FIELD_REMOVED"
	pMultipleMovedToOneof  = "MULTIPLE_FIELDS_MOVED_TO_ONEOF"
	pFieldMovedToExistOneo = "FIELD_MOVED_TO_EXISTING_ONEOF"
)

type pdiff struct {
	Type string
	Path string
	Msg  string
	Line int
}

type pctx struct {
	backward   bool // original = old, update = new
	orig, upd  *desc.FileDescriptor
	inProgress map[*desc.MessageDescriptor]bool
	diffs      []pdiff
}

func lineOf(d desc.Descriptor) int {
	if d == nil {
		return 0
	}
	if si := d.GetSourceInfo(); si != nil && len(si.GetSpan()) > 0 {
		return int(si.GetSpan()[0]) + 1
	}
	return 0
}

// newSide picks the descriptor belonging to the new schema.
func (c *pctx) newSide(orig, upd desc.Descriptor) desc.Descriptor {
	if c.backward {
		return upd
	}
	return orig
}

// oldNew orders original/update values as (old, new).
func (c *pctx) oldNew(orig, upd string) (string, string) {
	if c.backward {
		return orig, upd
	}
	return upd, orig
}

func (c *pctx) add(typ, path, msg string, orig, upd desc.Descriptor) {
	c.diffs = append(c.diffs, pdiff{Type: typ, Path: path, Msg: msg, Line: lineOf(c.newSide(orig, upd))})
}

// diffProto applies Confluent's protobuf rules. backward: the new schema is
// the update of the old one (BACKWARD); otherwise the roles are swapped, as
// Confluent checks FORWARD.
func diffProto(old, nw *protoSchema, backward bool) []pdiff {
	o, u := old.fd, nw.fd
	if !backward {
		o, u = nw.fd, old.fd
	}
	c := &pctx{backward: backward, orig: o, upd: u, inProgress: map[*desc.MessageDescriptor]bool{}}
	if o.GetPackage() != u.GetPackage() {
		op, np := c.oldNew(o.GetPackage(), u.GetPackage())
		c.add(pPackageChanged, "package", fmt.Sprintf("package changed %q → %q", op, np), nil, nil)
	}
	c.compareTypes("", o.GetMessageTypes(), u.GetMessageTypes(), firstMessage(u))
	seen := map[string]bool{}
	var out []pdiff
	for _, d := range c.diffs {
		k := d.Type + d.Path + d.Msg
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}

func firstMessage(fd *desc.FileDescriptor) desc.Descriptor {
	if m := fd.GetMessageTypes(); len(m) > 0 {
		return m[0]
	}
	return nil
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func (c *pctx) compareTypes(prefix string, orig, upd []*desc.MessageDescriptor, parent desc.Descriptor) {
	om := map[string]*desc.MessageDescriptor{}
	um := map[string]*desc.MessageDescriptor{}
	var names []string
	for _, m := range orig {
		if !m.IsMapEntry() {
			om[m.GetName()] = m
			names = append(names, m.GetName())
		}
	}
	for _, m := range upd {
		if !m.IsMapEntry() {
			um[m.GetName()] = m
			if om[m.GetName()] == nil {
				names = append(names, m.GetName())
			}
		}
	}
	sort.Strings(names)
	for _, n := range names {
		o, u := om[n], um[n]
		path := join(prefix, n)
		switch {
		case u == nil:
			if c.backward {
				c.add(pMessageRemoved, path, "message removed", o, parent)
			} else {
				c.add(pMessageRemoved, path, "message added (the old schema does not have it)", o, parent)
			}
		case o == nil:
			// MESSAGE_ADDED: compatible
		default:
			c.compareMessage(path, o, u)
		}
	}
	// Enum changes (added, removed, constants) are all compatible in Confluent's rules.
}

// wireLabel is the label as Confluent's parser sees it: "" when none was written.
func wireLabel(f *desc.FieldDescriptor) string {
	if f.IsMap() || (f.GetOneOf() != nil && !f.GetOneOf().IsSynthetic()) {
		return ""
	}
	switch f.GetLabel() {
	case descriptorpb.FieldDescriptorProto_LABEL_REPEATED:
		return "repeated"
	case descriptorpb.FieldDescriptorProto_LABEL_REQUIRED:
		return "required"
	}
	if f.GetFile().IsProto3() {
		if f.IsProto3Optional() {
			return "optional"
		}
		return ""
	}
	if f.GetFile().Edition() >= descriptorpb.Edition_EDITION_2023 {
		return ""
	}
	return "optional"
}

func realOneof(f *desc.FieldDescriptor) *desc.OneOfDescriptor {
	if o := f.GetOneOf(); o != nil && !o.IsSynthetic() {
		return o
	}
	return nil
}

func (c *pctx) compareMessage(path string, o, u *desc.MessageDescriptor) {
	if !c.inProgress[o] {
		c.inProgress[o] = true
		c.compareMessageFields(path, o, u)
		delete(c.inProgress, o)
	}
	c.compareTypes(path, o.GetNestedMessageTypes(), u.GetNestedMessageTypes(), u)
}

func fieldPath(path string, o, u *desc.FieldDescriptor) string {
	if u != nil {
		return path + "." + u.GetName()
	}
	return path + "." + o.GetName()
}

// msgFields indexes a message's fields by number, top-level fields and
// oneof members alike, with each member's oneof (synthetic proto3-optional
// oneofs count as top level, as Confluent's parser sees them).
type msgFields struct {
	byTag  map[int32]*desc.FieldDescriptor
	oneof  map[int32]string // tag -> enclosing oneof name
	oneofs map[string]*desc.OneOfDescriptor
	order  []*desc.OneOfDescriptor // declaration order
}

func collectFields(m *desc.MessageDescriptor) msgFields {
	mf := msgFields{byTag: map[int32]*desc.FieldDescriptor{}, oneof: map[int32]string{}, oneofs: map[string]*desc.OneOfDescriptor{}}
	for _, f := range m.GetFields() {
		mf.byTag[f.GetNumber()] = f
		if oo := realOneof(f); oo != nil {
			mf.oneof[f.GetNumber()] = oo.GetName()
		}
	}
	for _, oo := range m.GetOneOfs() {
		if !oo.IsSynthetic() {
			mf.oneofs[oo.GetName()] = oo
			mf.order = append(mf.order, oo)
		}
	}
	return mf
}

// compareMessageFields applies Confluent's current message rules: every
// field is compared by number across the whole message, whatever oneof it
// is in, so renaming, merging or leaving a oneof cannot hide a removal or a
// type change.
//   - A oneof of the update whose earlier members come from more than one
//     "group" of the original (one original oneof, or one top-level field
//     each) makes fields that were independent mutually exclusive:
//     MULTIPLE_FIELDS_MOVED_TO_ONEOF when several of them were top-level
//     fields, else FIELD_MOVED_TO_EXISTING_ONEOF. New members do not count.
//   - A member of an original oneof that is gone from the update is
//     ONEOF_FIELD_REMOVED, unless the whole oneof went away with all of its
//     members (a complete deletion, like removing plain fields).
//   - Oneofs added or removed by name, members added, and a member moved out
//     to top level are compatible; top-level fields follow the plain field
//     rules (only required ones matter).
func (c *pctx) compareMessageFields(path string, o, u *desc.MessageDescriptor) {
	of, uf := collectFields(o), collectFields(u)
	deleted := map[string]bool{}
	for name, oo := range of.oneofs {
		if uf.oneofs[name] != nil {
			continue
		}
		survives := false
		for _, f := range oo.GetChoices() {
			survives = survives || uf.byTag[f.GetNumber()] != nil
		}
		deleted[name] = !survives
	}
	for _, uo := range uf.order {
		groups := map[string]bool{}
		topMoved := 0
		for _, f := range uo.GetChoices() {
			tag := f.GetNumber()
			if n, ok := of.oneof[tag]; ok {
				groups["oneof "+n] = true
			} else if of.byTag[tag] != nil {
				groups[fmt.Sprintf("field %d", tag)] = true
				topMoved++
			}
		}
		if len(groups) < 2 {
			continue
		}
		from := make([]string, 0, len(groups))
		for g := range groups {
			from = append(from, g)
		}
		sort.Strings(from)
		opath := path + "." + uo.GetName()
		typ := pFieldMovedToExistOneo
		if topMoved > 1 {
			typ = pMultipleMovedToOneof
		}
		if c.backward {
			c.add(typ, opath, fmt.Sprintf("oneof %s makes fields that were independent mutually exclusive (from %s): old data may set several of them", uo.GetName(), strings.Join(from, ", ")), nil, uo)
		} else {
			c.add(typ, opath, fmt.Sprintf("the old schema's oneof %s keeps fields mutually exclusive that the new schema has independent (%s): new data may set several of them", uo.GetName(), strings.Join(from, ", ")), o, nil)
		}
	}
	for _, tag := range unionTags(of.byTag, uf.byTag) {
		ofd, ufd := of.byTag[tag], uf.byTag[tag]
		on, un := of.oneof[tag], uf.oneof[tag]
		switch {
		case ufd == nil:
			switch {
			case on != "" && !deleted[on]:
				if c.backward {
					c.add(pOneofFieldRemoved, fieldPath(path, ofd, nil), fmt.Sprintf("field %d removed from oneof %s", tag, on), ofd, u)
				} else {
					c.add(pOneofFieldRemoved, fieldPath(path, ofd, nil), fmt.Sprintf("field %d of oneof %s added (the old schema does not have it)", tag, on), ofd, u)
				}
			case on == "" && ofd.IsRequired():
				if c.backward {
					c.add(pRequiredFieldRemoved, fieldPath(path, ofd, nil), fmt.Sprintf("required field %d removed", tag), ofd, u)
				} else {
					c.add(pRequiredFieldRemoved, fieldPath(path, ofd, nil), fmt.Sprintf("required field %d added", tag), ofd, u)
				}
			}
		case ofd == nil:
			if un == "" && ufd.IsRequired() {
				if c.backward {
					c.add(pRequiredFieldAdded, fieldPath(path, nil, ufd), fmt.Sprintf("required field %d added", tag), o, ufd)
				} else {
					c.add(pRequiredFieldAdded, fieldPath(path, nil, ufd), fmt.Sprintf("required field %d removed", tag), o, ufd)
				}
			}
		default:
			c.compareField(fieldPath(path, ofd, ufd), ofd, ufd)
		}
	}
}

func unionTags(a, b map[int32]*desc.FieldDescriptor) []int32 {
	var out []int32
	for t := range a {
		out = append(out, t)
	}
	for t := range b {
		if _, ok := a[t]; !ok {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

type pkind int

const (
	kScalar pkind = iota
	kMap
	kMessage
)

func fieldKind(f *desc.FieldDescriptor) pkind {
	if f.IsMap() {
		return kMap
	}
	switch f.GetType() {
	case descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, descriptorpb.FieldDescriptorProto_TYPE_GROUP:
		return kMessage
	}
	return kScalar
}

func scalarGroup(f *desc.FieldDescriptor) string {
	switch f.GetType() {
	case descriptorpb.FieldDescriptorProto_TYPE_ENUM, descriptorpb.FieldDescriptorProto_TYPE_INT32,
		descriptorpb.FieldDescriptorProto_TYPE_INT64, descriptorpb.FieldDescriptorProto_TYPE_UINT32,
		descriptorpb.FieldDescriptorProto_TYPE_UINT64, descriptorpb.FieldDescriptorProto_TYPE_BOOL:
		return "varint"
	case descriptorpb.FieldDescriptorProto_TYPE_SINT32, descriptorpb.FieldDescriptorProto_TYPE_SINT64:
		return "zigzag"
	case descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_BYTES:
		return "string/bytes"
	case descriptorpb.FieldDescriptorProto_TYPE_FIXED32, descriptorpb.FieldDescriptorProto_TYPE_SFIXED32:
		return "fixed32"
	case descriptorpb.FieldDescriptorProto_TYPE_FIXED64, descriptorpb.FieldDescriptorProto_TYPE_SFIXED64:
		return "fixed64"
	case descriptorpb.FieldDescriptorProto_TYPE_FLOAT:
		return "float"
	case descriptorpb.FieldDescriptorProto_TYPE_DOUBLE:
		return "double"
	}
	return "?"
}

func typeName(f *desc.FieldDescriptor) string {
	if f.IsMap() {
		return "map<" + typeName(f.GetMapKeyType()) + ", " + typeName(f.GetMapValueType()) + ">"
	}
	switch f.GetType() {
	case descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, descriptorpb.FieldDescriptorProto_TYPE_GROUP:
		return f.GetMessageType().GetFullyQualifiedName()
	case descriptorpb.FieldDescriptorProto_TYPE_ENUM:
		return "enum " + f.GetEnumType().GetFullyQualifiedName()
	}
	return strings.ToLower(strings.TrimPrefix(f.GetType().String(), "TYPE_"))
}

func (c *pctx) compareField(path string, of, uf *desc.FieldDescriptor) {
	c.compareLabelsAndTypes(path, of, uf, wireLabel(of), wireLabel(uf))
}

func (c *pctx) compareLabelsAndTypes(path string, of, uf *desc.FieldDescriptor, ol, ul string) {
	ok, uk := fieldKind(of), fieldKind(uf)
	if ok != uk {
		ot, nt := c.oldNew(typeName(of), typeName(uf))
		c.add(pFieldKindChanged, path, fmt.Sprintf("type changed %s → %s (different kind)", ot, nt), of, uf)
		return
	}
	switch ok {
	case kScalar:
		og, ug := scalarGroup(of), scalarGroup(uf)
		if og != ug {
			ot, nt := c.oldNew(typeName(of), typeName(uf))
			c.add(pFieldScalarKind, path, fmt.Sprintf("type changed %s → %s (not wire-compatible)", ot, nt), of, uf)
			return
		}
		if ol != "" && ul != "" && ol != ul && og != "string/bytes" {
			olab, nlab := c.oldNew(ol, ul)
			c.add(pFieldNumericLabel, path, fmt.Sprintf("label changed %s → %s on a numeric field", olab, nlab), of, uf)
		}
	case kMessage:
		c.compareMessageTypes(path, of, uf)
	case kMap:
		c.compareLabelsAndTypes(path+"{key}", of.GetMapKeyType(), uf.GetMapKeyType(), "", "")
		c.compareLabelsAndTypes(path+"{value}", of.GetMapValueType(), uf.GetMapValueType(), "", "")
	}
}

func localName(m *desc.MessageDescriptor) string {
	fn := m.GetFullyQualifiedName()
	if p := m.GetFile().GetPackage(); p != "" && strings.HasPrefix(fn, p+".") {
		return fn[len(p)+1:]
	}
	return fn
}

func (c *pctx) compareMessageTypes(path string, of, uf *desc.FieldDescriptor) {
	om, um := of.GetMessageType(), uf.GetMessageType()
	ol, ul := localName(om), localName(um)
	if ol != ul {
		ot, nt := c.oldNew(om.GetFullyQualifiedName(), um.GetFullyQualifiedName())
		c.add(pFieldNamedType, path, fmt.Sprintf("message type changed %s → %s", ot, nt), of, uf)
		return
	}
	// Types defined in the compared files themselves are compared by the
	// walk over the file; others (imports) are compared here.
	if om.GetFile() == c.orig && um.GetFile() == c.upd {
		return
	}
	sub := &pctx{backward: c.backward, orig: c.orig, upd: c.upd, inProgress: c.inProgress}
	sub.compareMessage(ol, om, um)
	if len(sub.diffs) > 0 {
		c.diffs = append(c.diffs, sub.diffs...)
		c.add(pFieldNamedType, path, fmt.Sprintf("message type %s changed incompatibly", ol), of, uf)
	}
}
