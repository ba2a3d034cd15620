package avro

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"unsafe"

	"github.com/deimos-cli/deimos/internal/jsonnode"
)

// ParseError is a schema that cannot be used, with its place in the file.
type ParseError struct {
	File string
	Line int
	Msg  string
	// Default: the problem is a field default that does not fit its type.
	Default bool
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Parser parses schema documents into one table of named types: a name a
// document defines is known to the documents parsed after it with the same
// Parser (as a schema's references are to the schema).
type Parser struct {
	// Lookup, when set, finds a named type that no document parsed with
	// this Parser defines (types defined by other files; nil: none).
	Lookup func(fullName string) *Schema
	// Load, when set, returns the document defining a named type found
	// nowhere else (an .avsc file, say); it is parsed with this Parser.
	Load func(fullName string) (file string, data []byte, err error)
	// LenientDefaults accepts field defaults that do not match their type,
	// as Avro Java's parser with validateDefaults off (what a schema
	// registry uses for the versions it already holds), noting each one in
	// Warnings.
	LenientDefaults bool
	Warnings        []*ParseError

	names   map[string]*Schema
	loading map[string]bool
	// definedIn says which document defined each named type; uses lists,
	// per document, the named types defined by another document that it
	// refers to (its references), in order of first use.
	definedIn map[string]string
	uses      map[string][]string

	file string
	data []byte
}

// Parse parses one schema document; file names it in errors (and in the
// Schema's File).
func (p *Parser) Parse(file string, data []byte) (*Schema, error) {
	if p.names == nil {
		p.names, p.loading = map[string]*Schema{}, map[string]bool{}
		p.definedIn, p.uses = map[string]string{}, map[string][]string{}
	}
	root, err := jsonnode.Parse(data)
	if err != nil {
		return nil, &ParseError{File: file, Msg: err.Error()}
	}
	outerFile, outerData := p.file, p.data
	p.file, p.data = file, data
	defer func() { p.file, p.data = outerFile, outerData }()
	s, err := p.parse(root, "")
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Defined returns the named types the documents parsed so far define, by
// full name (the map is the Parser's: do not modify it).
func (p *Parser) Defined() map[string]*Schema { return p.names }

// DefinedIn names the document that defined a named type ("" if none
// parsed with this Parser did).
func (p *Parser) DefinedIn(fullName string) string { return p.definedIn[fullName] }

// Uses lists the named types document file refers to that another document
// defines, in order of first use.
func (p *Parser) Uses(file string) []string { return p.uses[file] }

// use records that the document being parsed refers to t by name.
func (p *Parser) use(t *Schema) *Schema {
	d, ok := p.definedIn[t.Name]
	if (!ok || d != p.file) && !containsString(p.uses[p.file], t.Name) {
		p.uses[p.file] = append(p.uses[p.file], t.Name)
	}
	return t
}

func (p *Parser) errAt(n *jsonnode.Node, format string, a ...any) error {
	line := 0
	if n != nil {
		line = jsonnode.Line(p.data, n.Off)
	}
	return &ParseError{File: p.file, Line: line, Msg: fmt.Sprintf(format, a...)}
}

func (p *Parser) line(n *jsonnode.Node) int { return jsonnode.Line(p.data, n.Off) }

// lookup finds a name as the documents parsed so far, Lookup, then Load
// know it (nil, nil: nowhere).
func (p *Parser) lookup(name, ns string) (*Schema, error) {
	cands := []string{name}
	if !strings.Contains(name, ".") && ns != "" {
		cands = []string{ns + "." + name, name}
	}
	for _, c := range cands {
		if s := p.names[c]; s != nil {
			return p.use(s), nil
		}
	}
	if p.Lookup != nil {
		for _, c := range cands {
			if s := p.Lookup(c); s != nil {
				return s, nil
			}
		}
	}
	full := cands[0]
	if p.Load == nil || p.loading[full] {
		return nil, nil
	}
	p.loading[full] = true
	file, data, err := p.Load(full)
	if err != nil {
		return nil, err
	}
	if _, err := p.Parse(file, data); err != nil {
		return nil, err
	}
	if s := p.names[full]; s != nil {
		return p.use(s), nil
	}
	return nil, &ParseError{File: file, Msg: fmt.Sprintf("does not define %s", full)}
}

func (p *Parser) parse(n *jsonnode.Node, ns string) (*Schema, error) {
	switch n.Kind {
	case 's':
		if k, ok := primitives[n.Str]; ok {
			return &Schema{Kind: k, Line: p.line(n), File: p.file}, nil
		}
		s, err := p.lookup(n.Str, ns)
		if err != nil || s != nil {
			return s, err
		}
		return nil, p.errAt(n, "undefined name: %q (not a primitive type and not defined before this point or in the other given files)", n.Str)
	case 'a':
		u := &Schema{Kind: Union, Line: p.line(n), File: p.file}
		seen := map[string]bool{}
		for _, b := range n.Arr {
			s, err := p.parse(b, ns)
			if err != nil {
				return nil, err
			}
			if s.Kind == Union {
				return nil, p.errAt(b, "unions may not immediately contain other unions")
			}
			key := BranchName(s)
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
	return nil, p.errAt(n, "a schema must be a string, an array or an object, not %s", n.KindName())
}

func (p *Parser) str(n *jsonnode.Node, key string, required bool) (string, error) {
	v := n.Get(key)
	if v == nil {
		if required {
			return "", p.errAt(n, "missing %q", key)
		}
		return "", nil
	}
	if v.Kind != 's' {
		return "", p.errAt(v, "%q must be a string, not %s", key, v.KindName())
	}
	return v.Str, nil
}

func (p *Parser) aliases(n *jsonnode.Node, ns string, qualify bool) ([]string, error) {
	v := n.Get("aliases")
	if v == nil {
		return nil, nil
	}
	if v.Kind != 'a' {
		return nil, p.errAt(v, "aliases must be an array of strings")
	}
	var out []string
	for _, a := range v.Arr {
		if a.Kind != 's' {
			return nil, p.errAt(a, "aliases must be an array of strings")
		}
		if qualify {
			out = append(out, FullName(a.Str, ns))
		} else {
			out = append(out, a.Str)
		}
	}
	return out, nil
}

// define names a named type and enters it in the table; it returns the
// namespace its own definitions inherit.
func (p *Parser) define(n *jsonnode.Node, s *Schema, ns string) (string, error) {
	raw, err := p.str(n, "name", true)
	if err != nil {
		return "", err
	}
	explicitNS := ns
	if v := n.Get("namespace"); v != nil {
		if v.Kind != 's' && v.Kind != 'z' {
			return "", p.errAt(v, "namespace must be a string")
		}
		explicitNS = v.Str
	}
	full := FullName(raw, explicitNS)
	name, space := ShortName(full), Namespace(full)
	if !nameRE.MatchString(name) {
		return "", p.errAt(n.Get("name"), "invalid name %q", raw)
	}
	if space != "" {
		for _, part := range strings.Split(space, ".") {
			if !nameRE.MatchString(part) {
				return "", p.errAt(n, "invalid namespace %q", space)
			}
		}
	}
	s.Name = full
	if _, dup := p.names[full]; dup {
		return "", p.errAt(n, "can't redefine: %s", full)
	}
	p.names[full] = s
	p.definedIn[full] = p.file
	al, err := p.aliases(n, space, true)
	if err != nil {
		return "", err
	}
	s.Aliases = al
	s.Doc, _ = p.str(n, "doc", false)
	return space, nil
}

func intAttr(n *jsonnode.Node, k string) int {
	v := n.Get(k)
	if v == nil || v.Kind != 'n' {
		return 0
	}
	i, err := v.Num.Int64()
	if err != nil {
		f, _ := v.Num.Float64()
		return int(f)
	}
	return int(i)
}

func (p *Parser) parseObject(n *jsonnode.Node, ns string) (*Schema, error) {
	tn := n.Get("type")
	if tn == nil {
		return nil, p.errAt(n, "no \"type\" in schema object")
	}
	line := p.line(n)
	if tn.Kind != 's' {
		// {"type": {...}} or {"type": [...]}: the inner schema.
		return p.parse(tn, ns)
	}
	logical, _ := p.str(n, "logicalType", false)
	switch tn.Str {
	case "record", "error":
		s := &Schema{Kind: Record, Line: line, File: p.file, FieldIndex: map[string]int{}}
		space, err := p.define(n, s, ns)
		if err != nil {
			return nil, err
		}
		fv := n.Get("fields")
		if fv == nil || fv.Kind != 'a' {
			return nil, p.errAt(n, "record %s: \"fields\" must be an array", s.Name)
		}
		for i, fn := range fv.Arr {
			f, err := p.parseField(fn, s, space, i)
			if err != nil {
				return nil, err
			}
			s.FieldIndex[f.Name] = len(s.Fields)
			s.Fields = append(s.Fields, f)
		}
		return s, nil
	case "enum":
		s := &Schema{Kind: Enum, Line: line, File: p.file}
		if _, err := p.define(n, s, ns); err != nil {
			return nil, err
		}
		sv := n.Get("symbols")
		if sv == nil || sv.Kind != 'a' {
			return nil, p.errAt(n, "enum %s: \"symbols\" must be an array", s.Name)
		}
		seen := map[string]bool{}
		for _, x := range sv.Arr {
			if x.Kind != 's' || !nameRE.MatchString(x.Str) {
				return nil, p.errAt(x, "enum %s: invalid symbol %s", s.Name, compactJSON(x.Value()))
			}
			if seen[x.Str] {
				return nil, p.errAt(x, "enum %s: duplicate symbol %q", s.Name, x.Str)
			}
			seen[x.Str] = true
			s.Symbols = append(s.Symbols, x.Str)
		}
		if dv := n.Get("default"); dv != nil {
			if dv.Kind != 's' || !seen[dv.Str] {
				return nil, p.errAt(dv, "enum %s: default %s is not one of its symbols", s.Name, compactJSON(dv.Value()))
			}
			d := dv.Str
			s.EnumDefault = &d
		}
		return s, nil
	case "fixed":
		s := &Schema{Kind: Fixed, Line: line, File: p.file, Logical: logical,
			Precision: intAttr(n, "precision"), Scale: intAttr(n, "scale")}
		if _, err := p.define(n, s, ns); err != nil {
			return nil, err
		}
		sz := n.Get("size")
		if sz == nil || sz.Kind != 'n' {
			return nil, p.errAt(n, "fixed %s: \"size\" must be a number", s.Name)
		}
		v, err := sz.Num.Int64()
		if err != nil || v < 0 {
			return nil, p.errAt(sz, "fixed %s: invalid size %s", s.Name, sz.Num)
		}
		s.Size = int(v)
		return s, nil
	case "array":
		it := n.Get("items")
		if it == nil {
			return nil, p.errAt(n, "array has no \"items\"")
		}
		items, err := p.parse(it, ns)
		if err != nil {
			return nil, err
		}
		return &Schema{Kind: Array, Items: items, Line: line, File: p.file}, nil
	case "map":
		vt := n.Get("values")
		if vt == nil {
			return nil, p.errAt(n, "map has no \"values\"")
		}
		values, err := p.parse(vt, ns)
		if err != nil {
			return nil, err
		}
		return &Schema{Kind: Map, Values: values, Line: line, File: p.file}, nil
	}
	if k, ok := primitives[tn.Str]; ok {
		return &Schema{Kind: k, Logical: logical, Precision: intAttr(n, "precision"), Scale: intAttr(n, "scale"),
			Line: line, File: p.file}, nil
	}
	s, err := p.lookup(tn.Str, ns)
	if err != nil || s != nil {
		return s, err
	}
	return nil, p.errAt(tn, "undefined name: %q", tn.Str)
}

func (p *Parser) parseField(fn *jsonnode.Node, s *Schema, space string, pos int) (*Field, error) {
	if fn.Kind != 'o' {
		return nil, p.errAt(fn, "record %s: each field must be an object", s.Name)
	}
	fname, err := p.str(fn, "name", true)
	if err != nil {
		return nil, err
	}
	if !nameRE.MatchString(fname) {
		return nil, p.errAt(fn, "record %s: invalid field name %q", s.Name, fname)
	}
	if _, dup := s.FieldIndex[fname]; dup {
		return nil, p.errAt(fn, "record %s: duplicate field %q", s.Name, fname)
	}
	ftn := fn.Get("type")
	if ftn == nil {
		return nil, p.errAt(fn, "field %s.%s: no type", s.ShortName(), fname)
	}
	ft, err := p.parse(ftn, space)
	if err != nil {
		return nil, err
	}
	f := &Field{Name: fname, Type: ft, Line: p.line(fn), Pos: pos}
	f.Doc, _ = p.str(fn, "doc", false)
	if f.Aliases, err = p.aliases(fn, "", false); err != nil {
		return nil, err
	}
	dv := fn.Get("default")
	if dv == nil {
		return f, nil
	}
	f.HasDefault = true
	f.Default = dv.ValueWith(func(m map[string]any, keys []string) {
		if len(keys) < 2 {
			return
		}
		if f.DefaultOrder == nil {
			f.DefaultOrder = map[unsafe.Pointer][]string{}
		}
		f.DefaultOrder[reflect.ValueOf(m).UnsafePointer()] = keys
	})
	if why := ValidDefault(ft, f.Default); why != "" {
		pe := p.errAt(dv, "field %s.%s: invalid default %s for type %s: %s", s.ShortName(), fname, compactJSON(f.Default), Describe(ft), why).(*ParseError)
		pe.Default = true
		if !p.LenientDefaults {
			return nil, pe
		}
		p.Warnings = append(p.Warnings, pe)
	}
	return f, nil
}

// ValidDefault checks a field default against its type as Avro's Java
// parser does (a union's default must match its first branch). "" means
// valid; otherwise it says what is wrong.
func ValidDefault(s *Schema, v any) string {
	switch s.Kind {
	case Null:
		if v != nil {
			return "expected null"
		}
	case Boolean:
		if _, ok := v.(bool); !ok {
			return "expected a boolean"
		}
	case Int, Long:
		n, ok := v.(json.Number)
		if !ok {
			return "expected an integer"
		}
		if _, err := n.Int64(); err != nil {
			return "expected an integer"
		}
	case Float, Double:
		if _, ok := v.(json.Number); !ok {
			if str, isStr := v.(string); isStr && (str == "NaN" || str == "Infinity" || str == "-Infinity") {
				return ""
			}
			return "expected a number"
		}
	case Bytes, String, Fixed:
		if _, ok := v.(string); !ok {
			return "expected a string"
		}
	case Enum:
		str, ok := v.(string)
		if !ok {
			return "expected a string"
		}
		if containsString(s.Symbols, str) {
			return ""
		}
		return fmt.Sprintf("%q is not a symbol of %s", str, s.Name)
	case Array:
		a, ok := v.([]any)
		if !ok {
			return "expected an array"
		}
		for _, e := range a {
			if why := ValidDefault(s.Items, e); why != "" {
				return why
			}
		}
	case Map:
		m, ok := v.(map[string]any)
		if !ok {
			return "expected an object"
		}
		for _, e := range m {
			if why := ValidDefault(s.Values, e); why != "" {
				return why
			}
		}
	case Record:
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
			if why := ValidDefault(f.Type, fv); why != "" {
				return why
			}
		}
	case Union:
		if len(s.Branches) == 0 {
			return "empty union"
		}
		if why := ValidDefault(s.Branches[0], v); why != "" {
			return "a union's default must match its first branch (" + Short(s.Branches[0]) + "): " + why
		}
	}
	return ""
}

// Describe renders a type for messages: "record com.acme.X", "array<X>",
// "long (timestamp-millis)".
func Describe(s *Schema) string {
	switch s.Kind {
	case Record, Enum, Fixed:
		return string(s.Kind) + " " + s.Name
	case Array:
		return "array<" + Short(s.Items) + ">"
	case Map:
		return "map<" + Short(s.Values) + ">"
	case Union:
		return Short(s)
	}
	if s.Logical != "" {
		return string(s.Kind) + " (" + s.Logical + ")"
	}
	return string(s.Kind)
}

// Short renders a type briefly: named types by their short name.
func Short(s *Schema) string {
	switch s.Kind {
	case Record, Enum, Fixed:
		return s.ShortName()
	case Array:
		return "array<" + Short(s.Items) + ">"
	case Map:
		return "map<" + Short(s.Values) + ">"
	case Union:
		parts := make([]string, len(s.Branches))
		for i, b := range s.Branches {
			parts[i] = Short(b)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return string(s.Kind)
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// IsDefaultError reports whether err is a ParseError about a field default.
func IsDefaultError(err error) bool {
	var pe *ParseError
	return errors.As(err, &pe) && pe.Default
}
