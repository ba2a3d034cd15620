package encode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// aType is a parsed Avro schema node. Named types (record, enum, fixed) are
// shared by pointer wherever they are referenced.
type aType struct {
	kind      string // null boolean int long float double bytes string record enum array map fixed union
	name      string // full name of a named type
	doc       string
	logical   string
	precision int
	scale     int
	size      int
	fields    []*aField
	fieldIdx  map[string]int
	symbols   []string
	enumDef   string // enum default symbol ("" = none)
	items     *aType // array
	values    *aType // map
	branches  []*aType
	// raw attributes of a primitive with a logicalType (kept for the schema text)
	rawLogical map[string]any
	// noMap: no map anywhere inside (set by newAvroSchema; the fast encoder
	// then need not keep the key order of the JSON objects it parses)
	noMap bool
}

type aField struct {
	name   string
	typ    *aType
	doc    string
	def    any // raw JSON default (json.Number for numbers)
	hasDef bool
	// defOrder is the key order of the schema document def came from (a
	// map default is written in the order the schema gives its entries)
	defOrder *keyOrder
}

var primitives = map[string]bool{"null": true, "boolean": true, "int": true, "long": true,
	"float": true, "double": true, "bytes": true, "string": true}

// symtab holds the named types of one schema tree and loads missing ones.
type symtab struct {
	named map[string]*aType
	// load returns the JSON of a named type defined elsewhere (another .avsc
	// file, a registry reference). nil: references must be defined inline.
	load    func(fullName string) ([]byte, error)
	loading map[string]bool
	order   *keyOrder // key order of the objects in the parsed documents
	// file is the named type whose document is being parsed ("" for the
	// top-level document); definedIn says which document defined each named
	// type, and uses lists, per document, the named types it refers to that
	// another document defines (its registry references), in order of use.
	file      string
	definedIn map[string]string
	uses      map[string][]string
}

func newSymtab(load func(string) ([]byte, error)) *symtab {
	return &symtab{named: map[string]*aType{}, load: load, loading: map[string]bool{}, order: &keyOrder{},
		definedIn: map[string]string{}, uses: map[string][]string{}}
}

// use records that the document being parsed refers to t by name.
func (st *symtab) use(t *aType) *aType {
	if d := st.definedIn[t.name]; d != st.file && !slices.Contains(st.uses[st.file], t.name) {
		st.uses[st.file] = append(st.uses[st.file], t.name)
	}
	return t
}

// decodeJSONUseNumber parses JSON keeping numbers as json.Number.
func decodeJSONUseNumber(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("unexpected data after the JSON document")
	}
	return v, nil
}

// parseSchemaJSON parses a schema document.
func (st *symtab) parseSchemaJSON(b []byte) (*aType, error) {
	v, err := parseJSONOrdered(b, st.order)
	if err != nil {
		return nil, fmt.Errorf("invalid schema JSON: %w", err)
	}
	return st.parse(v, "")
}

func fullName(name, ns string) string {
	if strings.Contains(name, ".") || ns == "" {
		return name
	}
	return ns + "." + name
}

func nsOf(full string) string {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[:i]
	}
	return ""
}

func shortName(full string) string {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[i+1:]
	}
	return full
}

func (st *symtab) parse(v any, ns string) (*aType, error) {
	switch n := v.(type) {
	case string:
		if primitives[n] {
			return &aType{kind: n}, nil
		}
		full := fullName(n, ns)
		if t, ok := st.named[full]; ok {
			return st.use(t), nil
		}
		if !strings.Contains(n, ".") { // maybe a name in the null namespace
			if t, ok := st.named[n]; ok {
				return st.use(t), nil
			}
		}
		if st.load == nil || st.loading[full] {
			return nil, fmt.Errorf("unknown type %q", full)
		}
		st.loading[full] = true
		b, err := st.load(full)
		if err != nil {
			return nil, err
		}
		outer := st.file
		st.file = full
		_, err = st.parseSchemaJSON(b)
		st.file = outer
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", full, err)
		}
		if t, ok := st.named[full]; ok {
			return st.use(t), nil
		}
		return nil, fmt.Errorf("schema file for %s does not define it", full)
	case []any:
		u := &aType{kind: "union"}
		for _, b := range n {
			bt, err := st.parse(b, ns)
			if err != nil {
				return nil, err
			}
			if bt.kind == "union" {
				return nil, fmt.Errorf("a union may not contain a union")
			}
			u.branches = append(u.branches, bt)
		}
		return u, nil
	case map[string]any:
		return st.parseObject(n, ns)
	}
	return nil, fmt.Errorf("invalid schema node %v", v)
}

func intAttr(m map[string]any, k string) int {
	switch x := m[k].(type) {
	case json.Number:
		i, _ := strconv.Atoi(x.String())
		return i
	case float64:
		return int(x)
	}
	return 0
}

func (st *symtab) parseObject(m map[string]any, ns string) (*aType, error) {
	tv := m["type"]
	ts, isStr := tv.(string)
	if !isStr {
		if tv == nil {
			return nil, fmt.Errorf("schema object without \"type\"")
		}
		return st.parse(tv, ns)
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	named := func() (string, string, error) {
		name := str("name")
		if name == "" {
			return "", "", fmt.Errorf("%s without a name", ts)
		}
		if nsp, ok := m["namespace"].(string); ok && !strings.Contains(name, ".") {
			ns = nsp
		}
		full := fullName(name, ns)
		if _, dup := st.named[full]; dup {
			return "", "", fmt.Errorf("type %s defined twice", full)
		}
		st.definedIn[full] = st.file
		return full, nsOf(full), nil
	}
	switch ts {
	case "record", "error":
		full, inner, err := named()
		if err != nil {
			return nil, err
		}
		t := &aType{kind: "record", name: full, doc: str("doc"), fieldIdx: map[string]int{}}
		st.named[full] = t
		fs, _ := m["fields"].([]any)
		for _, fv := range fs {
			fm, ok := fv.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("record %s: invalid field", full)
			}
			fname, _ := fm["name"].(string)
			ft, err := st.parse(fm["type"], inner)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", shortName(full), fname, err)
			}
			f := &aField{name: fname, typ: ft, defOrder: st.order}
			f.doc, _ = fm["doc"].(string)
			f.def, f.hasDef = fm["default"]
			t.fieldIdx[fname] = len(t.fields)
			t.fields = append(t.fields, f)
		}
		return t, nil
	case "enum":
		full, _, err := named()
		if err != nil {
			return nil, err
		}
		t := &aType{kind: "enum", name: full, doc: str("doc")}
		syms, _ := m["symbols"].([]any)
		for _, s := range syms {
			ss, _ := s.(string)
			t.symbols = append(t.symbols, ss)
		}
		if d, ok := m["default"].(string); ok {
			t.enumDef = d
		}
		st.named[full] = t
		return t, nil
	case "fixed":
		full, _, err := named()
		if err != nil {
			return nil, err
		}
		t := &aType{kind: "fixed", name: full, size: intAttr(m, "size"), logical: str("logicalType"),
			precision: intAttr(m, "precision"), scale: intAttr(m, "scale")}
		st.named[full] = t
		return t, nil
	case "array":
		it, err := st.parse(m["items"], ns)
		if err != nil {
			return nil, err
		}
		return &aType{kind: "array", items: it}, nil
	case "map":
		vt, err := st.parse(m["values"], ns)
		if err != nil {
			return nil, err
		}
		return &aType{kind: "map", values: vt}, nil
	}
	if primitives[ts] {
		t := &aType{kind: ts, logical: str("logicalType"), precision: intAttr(m, "precision"), scale: intAttr(m, "scale")}
		if t.logical != "" {
			t.rawLogical = m
		}
		return t, nil
	}
	// {"type": "com.acme.Other"}
	return st.parse(ts, ns)
}

// appendSchema writes t as schema JSON. Named types are written in full the
// first time and by full name afterwards (references inlined). With
// logical=false, logical types are left out (the physical schema goavro uses).
func appendSchema(b []byte, t *aType, defined map[string]bool, logical bool) []byte {
	switch t.kind {
	case "record", "enum", "fixed":
		if defined[t.name] {
			return strconv.AppendQuote(b, t.name)
		}
		defined[t.name] = true
		b = append(b, `{"type":"`...)
		b = append(b, t.kind...)
		b = append(b, `","name":`...)
		b = strconv.AppendQuote(b, shortName(t.name))
		if ns := nsOf(t.name); ns != "" {
			b = append(b, `,"namespace":`...)
			b = strconv.AppendQuote(b, ns)
		}
		if t.doc != "" {
			b = append(b, `,"doc":`...)
			b = appendJSONString(b, t.doc)
		}
		switch t.kind {
		case "record":
			b = append(b, `,"fields":[`...)
			for i, f := range t.fields {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"name":`...)
				b = strconv.AppendQuote(b, f.name)
				b = append(b, `,"type":`...)
				b = appendSchema(b, f.typ, defined, logical)
				if f.doc != "" {
					b = append(b, `,"doc":`...)
					b = appendJSONString(b, f.doc)
				}
				if f.hasDef {
					d, _ := json.Marshal(f.def)
					b = append(b, `,"default":`...)
					b = append(b, d...)
				}
				b = append(b, '}')
			}
			b = append(b, ']')
		case "enum":
			b = append(b, `,"symbols":[`...)
			for i, s := range t.symbols {
				if i > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendQuote(b, s)
			}
			b = append(b, ']')
			if t.enumDef != "" {
				b = append(b, `,"default":`...)
				b = strconv.AppendQuote(b, t.enumDef)
			}
		case "fixed":
			b = append(b, `,"size":`...)
			b = strconv.AppendInt(b, int64(t.size), 10)
			if logical && t.logical != "" {
				b = appendLogicalAttrs(b, t)
			}
		}
		return append(b, '}')
	case "array":
		b = append(b, `{"type":"array","items":`...)
		b = appendSchema(b, t.items, defined, logical)
		return append(b, '}')
	case "map":
		b = append(b, `{"type":"map","values":`...)
		b = appendSchema(b, t.values, defined, logical)
		return append(b, '}')
	case "union":
		b = append(b, '[')
		for i, br := range t.branches {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendSchema(b, br, defined, logical)
		}
		return append(b, ']')
	}
	if logical && t.logical != "" {
		b = append(b, `{"type":"`...)
		b = append(b, t.kind...)
		b = append(b, '"')
		b = appendLogicalAttrs(b, t)
		return append(b, '}')
	}
	b = append(b, '"')
	b = append(b, t.kind...)
	return append(b, '"')
}

func appendLogicalAttrs(b []byte, t *aType) []byte {
	b = append(b, `,"logicalType":`...)
	b = strconv.AppendQuote(b, t.logical)
	if t.logical == "decimal" {
		b = append(b, `,"precision":`...)
		b = strconv.AppendInt(b, int64(t.precision), 10)
		b = append(b, `,"scale":`...)
		b = strconv.AppendInt(b, int64(t.scale), 10)
	}
	return b
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// schemaText is the fully-resolved schema JSON (references inlined, logical types kept).
func schemaText(t *aType) string {
	return string(appendSchema(nil, t, map[string]bool{}, true))
}

// physicalText is the schema without logical types, for goavro.
func physicalText(t *aType) string {
	return string(appendSchema(nil, t, map[string]bool{}, false))
}

// typeLabel names a type in error messages.
func typeLabel(t *aType) string {
	switch t.kind {
	case "record", "enum", "fixed":
		return shortName(t.name)
	case "array":
		return "array of " + typeLabel(t.items)
	case "map":
		return "map of " + typeLabel(t.values)
	case "union":
		parts := make([]string, len(t.branches))
		for i, br := range t.branches {
			parts[i] = typeLabel(br)
		}
		return strings.Join(parts, " or ")
	}
	if t.logical != "" {
		return t.logical
	}
	return t.kind
}

// AvroKeySchema returns the key schema Deimos generates for key_config
// field: a record <Schema>_key in the value's namespace, doc "Key for
// <ns>.<Schema> - autogenerated by Deimos", one field named after the key
// field whose type is the value field's base type. Departure from Deimos:
// a named-type field keeps its definition and a union keeps its branches
// (Deimos emits an invalid schema for those); logical types are dropped as
// Deimos drops them.
func AvroKeySchema(valueSchemaJSON []byte, field string) ([]byte, error) {
	v, err := decodeJSONUseNumber(valueSchemaJSON)
	if err != nil {
		return nil, fmt.Errorf("invalid schema JSON: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok || (m["type"] != "record" && m["type"] != "error") {
		return nil, fmt.Errorf("value schema is not a record")
	}
	name, _ := m["name"].(string)
	ns, _ := m["namespace"].(string)
	if strings.Contains(name, ".") {
		ns, name = nsOf(name), shortName(name)
	}
	fs, _ := m["fields"].([]any)
	var ftype any
	found := false
	for _, fv := range fs {
		fm, _ := fv.(map[string]any)
		if fm != nil && fm["name"] == field {
			ftype, found = fm["type"], true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("key field %q is not a field of %s", field, fullName(name, ns))
	}
	// base type: a primitive with a logical type becomes the primitive
	if om, ok := ftype.(map[string]any); ok {
		if ts, ok := om["type"].(string); ok && primitives[ts] {
			ftype = ts
		}
	}
	if s, ok := ftype.(string); ok && !primitives[s] {
		ftype = fullName(s, ns)
	}
	ft, err := json.Marshal(ftype)
	if err != nil {
		return nil, err
	}
	var b []byte
	b = append(b, `{"type":"record","name":`...)
	b = strconv.AppendQuote(b, name+"_key")
	if ns != "" {
		b = append(b, `,"namespace":`...)
		b = strconv.AppendQuote(b, ns)
	}
	b = append(b, `,"doc":`...)
	b = appendJSONString(b, "Key for "+fullName(name, ns)+" - autogenerated by Deimos")
	b = append(b, `,"fields":[{"name":`...)
	b = strconv.AppendQuote(b, field)
	b = append(b, `,"type":`...)
	b = append(b, ft...)
	b = append(b, `}]}`...)
	return b, nil
}
