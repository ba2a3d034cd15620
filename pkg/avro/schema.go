// Package avro is deimos's one model of an Avro schema: the parser (named
// types, references to other documents, defaults, file and line of every
// definition), the schema's JSON text and Parsing Canonical Form, and the
// schema resolution rules (which writer type a reader type can read). The
// encode engine (pkg/encode) reads and writes data with it, and the
// compatibility checker (pkg/compat) compares versions with it.
package avro

import (
	"strings"
	"unsafe"
)

// Kind is an Avro type.
type Kind string

// The Avro types.
const (
	Null    Kind = "null"
	Boolean Kind = "boolean"
	Int     Kind = "int"
	Long    Kind = "long"
	Float   Kind = "float"
	Double  Kind = "double"
	Bytes   Kind = "bytes"
	String  Kind = "string"
	Record  Kind = "record"
	Enum    Kind = "enum"
	Array   Kind = "array"
	Map     Kind = "map"
	Union   Kind = "union"
	Fixed   Kind = "fixed"
)

func (k Kind) String() string { return string(k) }

// Primitive reports whether k is one of Avro's primitive types.
func (k Kind) Primitive() bool {
	switch k {
	case Null, Boolean, Int, Long, Float, Double, Bytes, String:
		return true
	}
	return false
}

// Named reports whether k is a named type (record, enum, fixed).
func (k Kind) Named() bool { return k == Record || k == Enum || k == Fixed }

var primitives = map[string]Kind{
	"null": Null, "boolean": Boolean, "int": Int, "long": Long,
	"float": Float, "double": Double, "bytes": Bytes, "string": String,
}

// PrimitiveKind returns the kind of a primitive type name.
func PrimitiveKind(name string) (Kind, bool) {
	k, ok := primitives[name]
	return k, ok
}

// Schema is a parsed Avro schema node. Named types are shared: every
// reference to a name points at the same node (so recursion is a cycle).
type Schema struct {
	Kind    Kind
	Name    string   // full name of a named type
	Aliases []string // full names
	Doc     string
	// Logical is the logicalType of a primitive or fixed type, with the
	// decimal's Precision and Scale.
	Logical          string
	Precision, Scale int
	Size             int // fixed
	Fields           []*Field
	FieldIndex       map[string]int // record: field name -> index in Fields
	Symbols          []string
	EnumDefault      *string // enum default symbol
	Items            *Schema // array
	Values           *Schema // map
	Branches         []*Schema
	// NoMap: no map type is reachable from this node (set by MarkNoMap: a
	// writer of JSON objects that holds no map need not keep key order).
	NoMap bool
	File  string // document of the definition
	Line  int    // line of the definition in its document
}

// Field is one record field.
type Field struct {
	Name       string
	Aliases    []string
	Doc        string
	Type       *Schema
	HasDefault bool
	// Default is the default's JSON value: map[string]any, []any, string,
	// json.Number, bool or nil.
	Default any
	// DefaultOrder gives the key order of the JSON objects in Default, by
	// map identity (reflect.ValueOf(m).UnsafePointer()); nil when it holds
	// no object with two keys or more. A map default is written in the
	// order the schema gives its entries.
	DefaultOrder map[unsafe.Pointer][]string
	Line         int
	Pos          int
}

// FullName is the full name of a named type (Name).
func (s *Schema) FullName() string { return s.Name }

// ShortName is the name of a named type without its namespace.
func (s *Schema) ShortName() string { return ShortName(s.Name) }

// Namespace is the namespace of a named type ("" for none).
func (s *Schema) Namespace() string { return Namespace(s.Name) }

// Field returns the record field named n, or nil.
func (s *Schema) Field(n string) *Field {
	if i, ok := s.FieldIndex[n]; ok {
		return s.Fields[i]
	}
	return nil
}

// FullName joins a name and the namespace it appears in: a dotted name is
// full already, and so is any name in the null namespace.
func FullName(name, ns string) string {
	if strings.Contains(name, ".") || ns == "" {
		return name
	}
	return ns + "." + name
}

// Namespace is the namespace part of a full name.
func Namespace(full string) string {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[:i]
	}
	return ""
}

// ShortName is a full name without its namespace.
func ShortName(full string) string {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[i+1:]
	}
	return full
}

// BranchName is how a union branch is named (by full name for named
// types, by type otherwise), as in Avro's JSON encoding of unions.
func BranchName(t *Schema) string {
	if t.Kind.Named() {
		return t.Name
	}
	return string(t.Kind)
}

// MarkNoMap sets NoMap on every node reachable from t.
func MarkNoMap(t *Schema) { markNoMap(t, map[*Schema]bool{}) }

func markNoMap(t *Schema, done map[*Schema]bool) {
	if done[t] {
		return
	}
	done[t] = true
	t.NoMap = !holdsMap(t, map[*Schema]bool{})
	for _, c := range Children(t) {
		markNoMap(c, done)
	}
}

func holdsMap(t *Schema, seen map[*Schema]bool) bool {
	if t.Kind == Map {
		return true
	}
	if seen[t] {
		return false
	}
	seen[t] = true
	for _, c := range Children(t) {
		if holdsMap(c, seen) {
			return true
		}
	}
	return false
}

// Children lists the nodes directly inside t: array items, map values,
// union branches, record field types.
func Children(t *Schema) []*Schema {
	switch t.Kind {
	case Array:
		return []*Schema{t.Items}
	case Map:
		return []*Schema{t.Values}
	case Union:
		return t.Branches
	case Record:
		out := make([]*Schema, len(t.Fields))
		for i, f := range t.Fields {
			out[i] = f.Type
		}
		return out
	}
	return nil
}
