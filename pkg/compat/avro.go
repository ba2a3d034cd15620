package compat

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// AvroKind is an Avro schema type.
type AvroKind uint8

// Avro schema types.
const (
	AvroNull AvroKind = iota
	AvroBoolean
	AvroInt
	AvroLong
	AvroFloat
	AvroDouble
	AvroBytes
	AvroString
	AvroRecord
	AvroEnum
	AvroArray
	AvroMap
	AvroUnion
	AvroFixed
)

var avroKindNames = [...]string{"null", "boolean", "int", "long", "float", "double", "bytes", "string", "record", "enum", "array", "map", "union", "fixed"}

func (k AvroKind) String() string { return avroKindNames[k] }

var avroPrimitives = map[string]AvroKind{
	"null": AvroNull, "boolean": AvroBoolean, "int": AvroInt, "long": AvroLong,
	"float": AvroFloat, "double": AvroDouble, "bytes": AvroBytes, "string": AvroString,
}

// AvroSchema is a parsed Avro schema node. Named types are shared: every
// reference to a name points at the same node (so recursion is a cycle).
type AvroSchema struct {
	Kind      AvroKind
	Name      string   // simple name of a named type
	Namespace string   // namespace of a named type
	Aliases   []string // full names
	Doc       string
	Fields    []*AvroField
	Symbols   []string
	EnumDef   *string // enum default symbol
	Items     *AvroSchema
	Values    *AvroSchema
	Branches  []*AvroSchema
	Size      int
	Logical   string
	Line      int // line of the definition in its file
	File      string
}

// AvroField is one record field.
type AvroField struct {
	Name       string
	Aliases    []string
	Doc        string
	Type       *AvroSchema
	HasDefault bool
	Default    any
	Line       int
	Pos        int
}

// FullName is namespace.name for named types.
func (s *AvroSchema) FullName() string {
	if s.Namespace == "" {
		return s.Name
	}
	return s.Namespace + "." + s.Name
}

// Field returns the record field named n.
func (s *AvroSchema) Field(n string) *AvroField {
	for _, f := range s.Fields {
		if f.Name == n {
			return f
		}
	}
	return nil
}

func (s *AvroSchema) named() bool {
	return s.Kind == AvroRecord || s.Kind == AvroEnum || s.Kind == AvroFixed
}

// Describe renders a short type description for messages.
func (s *AvroSchema) Describe() string {
	switch s.Kind {
	case AvroRecord, AvroEnum, AvroFixed:
		return s.Kind.String() + " " + s.FullName()
	case AvroArray:
		return "array<" + s.Items.short() + ">"
	case AvroMap:
		return "map<" + s.Values.short() + ">"
	case AvroUnion:
		return s.short()
	}
	if s.Logical != "" {
		return s.Kind.String() + " (" + s.Logical + ")"
	}
	return s.Kind.String()
}

func (s *AvroSchema) short() string {
	switch s.Kind {
	case AvroRecord, AvroEnum, AvroFixed:
		return s.Name
	case AvroArray:
		return "array<" + s.Items.short() + ">"
	case AvroMap:
		return "map<" + s.Values.short() + ">"
	case AvroUnion:
		parts := make([]string, len(s.Branches))
		for i, b := range s.Branches {
			parts[i] = b.short()
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return s.Kind.String()
}

var avroNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// AvroParseError is a schema that cannot be used, with its place in the file.
type AvroParseError struct {
	File string
	Line int
	Msg  string
	// Default: the problem is a field default that does not fit its type.
	Default bool
}

func (e *AvroParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

type avroParser struct {
	file  string
	data  []byte
	names map[string]*AvroSchema // defined in this document
	lib   map[string]*AvroSchema // defined by other files (references)
	// find, when set, is asked in place of lib (CheckGit's shared library
	// of references, which records what each document looked up).
	find func(name string) *AvroSchema
	// lenientDefaults accepts field defaults that do not match their type,
	// as Avro Java's parser with validateDefaults off (what a schema
	// registry uses for the versions it already holds), noting each one in
	// warnings.
	lenientDefaults bool
	warnings        []*AvroParseError
}

func (p *avroParser) errAt(n *jnode, format string, a ...any) error {
	line := 0
	if n != nil {
		line = lineAt(p.data, n.off)
	}
	return &AvroParseError{File: p.file, Line: line, Msg: fmt.Sprintf(format, a...)}
}

// ParseAvro parses one Avro schema document. lib holds named types defined
// by other files that the document may reference; it is not modified.
func ParseAvro(file string, data []byte, lib map[string]*AvroSchema) (*AvroSchema, map[string]*AvroSchema, error) {
	s, names, _, err := parseAvroDoc(file, data, lib, false)
	return s, names, err
}

// parseAvroDoc is ParseAvro; with lenientDefaults an invalid field default
// is a warning instead of an error.
func parseAvroDoc(file string, data []byte, lib map[string]*AvroSchema, lenientDefaults bool) (*AvroSchema, map[string]*AvroSchema, []*AvroParseError, error) {
	return parseAvroDocWith(&avroParser{file: file, data: data, lib: lib, lenientDefaults: lenientDefaults})
}

// parseAvroDocWith is parseAvroDoc with the parser's settings given.
func parseAvroDocWith(p *avroParser) (*AvroSchema, map[string]*AvroSchema, []*AvroParseError, error) {
	file, data := p.file, p.data
	root, err := parseJSONNodes(data)
	if err != nil {
		return nil, nil, nil, &AvroParseError{File: file, Msg: err.Error()}
	}
	p.names = map[string]*AvroSchema{}
	s, err := p.parse(root, "")
	if err != nil {
		return nil, nil, nil, err
	}
	return s, p.names, p.warnings, nil
}

// ParseAvroSet parses the first document, whose named-type references may
// be defined by the other documents (in any order). Other documents that do
// not parse are ignored unless the first one needs them.
func ParseAvroSet(files []string, datas [][]byte) ([]*AvroSchema, error) {
	out, _, err := parseAvroSet(files, datas, false)
	return out, err
}

// parseAvroSet is ParseAvroSet; with lenientDefaults invalid field defaults
// (in the document or the references it uses) are returned as warnings.
// References are always read leniently so that, without lenientDefaults,
// one with an invalid default that the document uses is reported as such
// (not as an unknown type), and one it does not use is not reported.
func parseAvroSet(files []string, datas [][]byte, lenientDefaults bool) ([]*AvroSchema, []*AvroParseError, error) {
	var warnings []*AvroParseError
	lib := map[string]*AvroSchema{}
	done := make([]bool, len(files))
	for pass := 0; pass < len(files); pass++ {
		progress := false
		for i := 1; i < len(files); i++ {
			if done[i] {
				continue
			}
			_, names, warns, err := parseAvroDoc(files[i], datas[i], lib, true)
			if err != nil {
				continue
			}
			warnings = append(warnings, warns...)
			done[i], progress = true, true
			for k, v := range names {
				if _, ok := lib[k]; !ok {
					lib[k] = v
				}
			}
		}
		if !progress {
			break
		}
	}
	s, _, warns, err := parseAvroDoc(files[0], datas[0], lib, lenientDefaults)
	if err != nil {
		return nil, nil, err
	}
	used := map[string]bool{}
	usedFiles(s, map[*AvroSchema]bool{}, used)
	for _, w := range warnings {
		if !used[w.File] || w.File == files[0] {
			continue
		}
		if !lenientDefaults {
			return nil, nil, w
		}
		warns = append(warns, w)
	}
	return []*AvroSchema{s}, warns, nil
}

// usedFiles collects the files defining the named types s uses.
func usedFiles(s *AvroSchema, seen map[*AvroSchema]bool, out map[string]bool) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	if s.File != "" {
		out[s.File] = true
	}
	for _, f := range s.Fields {
		usedFiles(f.Type, seen, out)
	}
	for _, b := range s.Branches {
		usedFiles(b, seen, out)
	}
	usedFiles(s.Items, seen, out)
	usedFiles(s.Values, seen, out)
}

func fullName(name, ns string) (string, string) {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:], name[:i]
	}
	return name, ns
}

func (p *avroParser) lookup(name, ns string) *AvroSchema {
	cands := []string{name}
	if !strings.Contains(name, ".") && ns != "" {
		cands = []string{ns + "." + name, name}
	}
	for _, c := range cands {
		if s := p.names[c]; s != nil {
			return s
		}
	}
	for _, c := range cands {
		if p.find != nil {
			if s := p.find(c); s != nil {
				return s
			}
			continue
		}
		if s := p.lib[c]; s != nil {
			return s
		}
	}
	return nil
}

func (p *avroParser) parse(n *jnode, ns string) (*AvroSchema, error) {
	switch n.kind {
	case 's':
		if k, ok := avroPrimitives[n.str]; ok {
			return &AvroSchema{Kind: k, Line: lineAt(p.data, n.off), File: p.file}, nil
		}
		if s := p.lookup(n.str, ns); s != nil {
			return s, nil
		}
		return nil, p.errAt(n, "undefined name: %q (not a primitive type and not defined before this point or in the other given files)", n.str)
	case 'a':
		u := &AvroSchema{Kind: AvroUnion, Line: lineAt(p.data, n.off), File: p.file}
		seen := map[string]bool{}
		for _, b := range n.arr {
			s, err := p.parse(b, ns)
			if err != nil {
				return nil, err
			}
			if s.Kind == AvroUnion {
				return nil, p.errAt(b, "unions may not immediately contain other unions")
			}
			key := s.Kind.String()
			if s.named() {
				key = s.FullName()
			}
			if seen[key] {
				return nil, p.errAt(b, "duplicate in union: %s", key)
			}
			seen[key] = true
			u.Branches = append(u.Branches, s)
		}
		return u, nil
	case 'o':
		return p.parseObject(n, ns)
	}
	return nil, p.errAt(n, "a schema must be a string, an array or an object, not %s", n.kindName())
}

func (p *avroParser) str(n *jnode, key string, required bool) (string, error) {
	v := n.get(key)
	if v == nil {
		if required {
			return "", p.errAt(n, "missing %q", key)
		}
		return "", nil
	}
	if v.kind != 's' {
		return "", p.errAt(v, "%q must be a string, not %s", key, v.kindName())
	}
	return v.str, nil
}

func (p *avroParser) aliases(n *jnode, ns string, qualify bool) ([]string, error) {
	v := n.get("aliases")
	if v == nil {
		return nil, nil
	}
	if v.kind != 'a' {
		return nil, p.errAt(v, "aliases must be an array of strings")
	}
	var out []string
	for _, a := range v.arr {
		if a.kind != 's' {
			return nil, p.errAt(a, "aliases must be an array of strings")
		}
		if qualify {
			nm, ans := fullName(a.str, ns)
			if ans != "" {
				out = append(out, ans+"."+nm)
			} else {
				out = append(out, nm)
			}
		} else {
			out = append(out, a.str)
		}
	}
	return out, nil
}

func (p *avroParser) define(n *jnode, s *AvroSchema, ns string) (string, error) {
	raw, err := p.str(n, "name", true)
	if err != nil {
		return "", err
	}
	explicitNS := ns
	if v := n.get("namespace"); v != nil {
		if v.kind != 's' && v.kind != 'z' {
			return "", p.errAt(v, "namespace must be a string")
		}
		explicitNS = v.str
	}
	name, space := fullName(raw, explicitNS)
	if !avroNameRE.MatchString(name) {
		return "", p.errAt(n.get("name"), "invalid name %q", raw)
	}
	if space != "" {
		for _, part := range strings.Split(space, ".") {
			if !avroNameRE.MatchString(part) {
				return "", p.errAt(n, "invalid namespace %q", space)
			}
		}
	}
	s.Name, s.Namespace = name, space
	if _, dup := p.names[s.FullName()]; dup {
		return "", p.errAt(n, "can't redefine: %s", s.FullName())
	}
	p.names[s.FullName()] = s
	al, err := p.aliases(n, space, true)
	if err != nil {
		return "", err
	}
	s.Aliases = al
	s.Doc, _ = p.str(n, "doc", false)
	return space, nil
}

func (p *avroParser) parseObject(n *jnode, ns string) (*AvroSchema, error) {
	tn := n.get("type")
	if tn == nil {
		return nil, p.errAt(n, "no \"type\" in schema object")
	}
	line := lineAt(p.data, n.off)
	if tn.kind != 's' {
		// {"type": {...}} or {"type": [...]}: the inner schema.
		return p.parse(tn, ns)
	}
	logical, _ := p.str(n, "logicalType", false)
	switch tn.str {
	case "record", "error":
		s := &AvroSchema{Kind: AvroRecord, Line: line, File: p.file, Logical: logical}
		space, err := p.define(n, s, ns)
		if err != nil {
			return nil, err
		}
		fv := n.get("fields")
		if fv == nil || fv.kind != 'a' {
			return nil, p.errAt(n, "record %s: \"fields\" must be an array", s.FullName())
		}
		seen := map[string]bool{}
		for i, fn := range fv.arr {
			if fn.kind != 'o' {
				return nil, p.errAt(fn, "record %s: each field must be an object", s.FullName())
			}
			fname, err := p.str(fn, "name", true)
			if err != nil {
				return nil, err
			}
			if !avroNameRE.MatchString(fname) {
				return nil, p.errAt(fn, "record %s: invalid field name %q", s.FullName(), fname)
			}
			if seen[fname] {
				return nil, p.errAt(fn, "record %s: duplicate field %q", s.FullName(), fname)
			}
			seen[fname] = true
			ftn := fn.get("type")
			if ftn == nil {
				return nil, p.errAt(fn, "field %s.%s: no type", s.Name, fname)
			}
			ft, err := p.parse(ftn, space)
			if err != nil {
				return nil, err
			}
			f := &AvroField{Name: fname, Type: ft, Line: lineAt(p.data, fn.off), Pos: i}
			f.Doc, _ = p.str(fn, "doc", false)
			if f.Aliases, err = p.aliases(fn, "", false); err != nil {
				return nil, err
			}
			if dv := fn.get("default"); dv != nil {
				f.HasDefault, f.Default = true, dv.value()
				if why := validDefault(ft, f.Default); why != "" {
					pe := p.errAt(dv, "field %s.%s: invalid default %s for type %s: %s", s.Name, fname, compactJSON(f.Default), ft.Describe(), why).(*AvroParseError)
					pe.Default = true
					if !p.lenientDefaults {
						return nil, pe
					}
					p.warnings = append(p.warnings, pe)
				}
			}
			s.Fields = append(s.Fields, f)
		}
		return s, nil
	case "enum":
		s := &AvroSchema{Kind: AvroEnum, Line: line, File: p.file, Logical: logical}
		if _, err := p.define(n, s, ns); err != nil {
			return nil, err
		}
		sv := n.get("symbols")
		if sv == nil || sv.kind != 'a' {
			return nil, p.errAt(n, "enum %s: \"symbols\" must be an array", s.FullName())
		}
		seen := map[string]bool{}
		for _, x := range sv.arr {
			if x.kind != 's' || !avroNameRE.MatchString(x.str) {
				return nil, p.errAt(x, "enum %s: invalid symbol %s", s.FullName(), compactJSON(x.value()))
			}
			if seen[x.str] {
				return nil, p.errAt(x, "enum %s: duplicate symbol %q", s.FullName(), x.str)
			}
			seen[x.str] = true
			s.Symbols = append(s.Symbols, x.str)
		}
		if dv := n.get("default"); dv != nil {
			if dv.kind != 's' || !seen[dv.str] {
				return nil, p.errAt(dv, "enum %s: default %s is not one of its symbols", s.FullName(), compactJSON(dv.value()))
			}
			d := dv.str
			s.EnumDef = &d
		}
		return s, nil
	case "fixed":
		s := &AvroSchema{Kind: AvroFixed, Line: line, File: p.file, Logical: logical}
		if _, err := p.define(n, s, ns); err != nil {
			return nil, err
		}
		sz := n.get("size")
		if sz == nil || sz.kind != 'n' {
			return nil, p.errAt(n, "fixed %s: \"size\" must be a number", s.FullName())
		}
		v, err := sz.num.Int64()
		if err != nil || v < 0 {
			return nil, p.errAt(sz, "fixed %s: invalid size %s", s.FullName(), sz.num)
		}
		s.Size = int(v)
		return s, nil
	case "array":
		it := n.get("items")
		if it == nil {
			return nil, p.errAt(n, "array has no \"items\"")
		}
		items, err := p.parse(it, ns)
		if err != nil {
			return nil, err
		}
		return &AvroSchema{Kind: AvroArray, Items: items, Line: line, File: p.file, Logical: logical}, nil
	case "map":
		vt := n.get("values")
		if vt == nil {
			return nil, p.errAt(n, "map has no \"values\"")
		}
		values, err := p.parse(vt, ns)
		if err != nil {
			return nil, err
		}
		return &AvroSchema{Kind: AvroMap, Values: values, Line: line, File: p.file, Logical: logical}, nil
	}
	if k, ok := avroPrimitives[tn.str]; ok {
		return &AvroSchema{Kind: k, Logical: logical, Line: line, File: p.file}, nil
	}
	if s := p.lookup(tn.str, ns); s != nil {
		return s, nil
	}
	return nil, p.errAt(tn, "undefined name: %q", tn.str)
}

// validDefault checks a field default against its type as Avro's Java parser
// does (a union's default must match its first branch). "" means valid.
func validDefault(s *AvroSchema, v any) string {
	switch s.Kind {
	case AvroNull:
		if v != nil {
			return "expected null"
		}
	case AvroBoolean:
		if _, ok := v.(bool); !ok {
			return "expected a boolean"
		}
	case AvroInt, AvroLong:
		n, ok := v.(json.Number)
		if !ok {
			return "expected an integer"
		}
		if _, err := n.Int64(); err != nil {
			return "expected an integer"
		}
	case AvroFloat, AvroDouble:
		if _, ok := v.(json.Number); !ok {
			if str, isStr := v.(string); isStr && (str == "NaN" || str == "Infinity" || str == "-Infinity") {
				return ""
			}
			return "expected a number"
		}
	case AvroBytes, AvroString, AvroFixed:
		if _, ok := v.(string); !ok {
			return "expected a string"
		}
	case AvroEnum:
		str, ok := v.(string)
		if !ok {
			return "expected a string"
		}
		for _, x := range s.Symbols {
			if x == str {
				return ""
			}
		}
		return fmt.Sprintf("%q is not a symbol of %s", str, s.FullName())
	case AvroArray:
		a, ok := v.([]any)
		if !ok {
			return "expected an array"
		}
		for _, e := range a {
			if why := validDefault(s.Items, e); why != "" {
				return why
			}
		}
	case AvroMap:
		m, ok := v.(map[string]any)
		if !ok {
			return "expected an object"
		}
		for _, e := range m {
			if why := validDefault(s.Values, e); why != "" {
				return why
			}
		}
	case AvroRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return "expected an object"
		}
		for _, f := range s.Fields {
			fv, has := m[f.Name]
			if !has {
				if f.HasDefault {
					continue
				}
				return fmt.Sprintf("missing field %q", f.Name)
			}
			if why := validDefault(f.Type, fv); why != "" {
				return why
			}
		}
	case AvroUnion:
		if len(s.Branches) == 0 {
			return "empty union"
		}
		if why := validDefault(s.Branches[0], v); why != "" {
			return "a union's default must match its first branch (" + s.Branches[0].short() + "): " + why
		}
	}
	return ""
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
