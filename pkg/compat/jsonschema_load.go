package compat

// JSON Schema documents read into the model the Confluent Schema Registry's
// JSON Schema diff works on (docs/schema-compat.md, "JSON Schema"): each
// schema object becomes one typed schema - string, number, boolean, null,
// object, array, enum, const, combined (allOf/anyOf/oneOf), not,
// conditional, empty, true or false - or, when it holds keywords of several
// kinds, an allOf of one schema per kind. "type": [a, b] is an anyOf of one
// schema per type. Keywords of a type are read without "type" too
// ({"maxLength": 5} is a string schema that does not require a string).
// $refs resolve to the referred schema; 2020-12 keywords are read as their
// draft-07 equivalents (prefixItems as a tuple, items after it as
// additionalItems, dependentRequired/dependentSchemas as dependencies).

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/deimos-cli/deimos/internal/jsonnode"
)

type jsKind int

const (
	jsEmpty jsKind = iota
	jsTrue
	jsFalse
	jsString
	jsNumber
	jsBoolean
	jsNull
	jsObject
	jsArray
	jsEnum
	jsConst
	jsCombined
	jsNot
	jsConditional
	jsRef
)

// jsSchema is one schema of the model.
type jsSchema struct {
	kind jsKind
	node *jsonnode.Node // where it was written (line numbers); nil for synthetic schemas
	key  string         // canonical JSON of the source (equality of combined subschemas)

	id, title, description *string
	def                    *string // canonical JSON of "default"
	connectType            string  // "connect.type" (Kafka Connect's converters)

	// string
	minLength, maxLength *int64
	pattern              *string
	// number
	minimum, maximum, exclMin, exclMax, multipleOf *big.Rat
	integer                                        bool
	// object
	props         map[string]*jsSchema
	required      map[string]bool
	addlAllowed   bool
	addl          *jsSchema
	patternProps  []patternProp
	depArrays     map[string][]string
	depSchemas    map[string]*jsSchema
	minProps      *int64
	maxProps      *int64
	unevalProps   *jsSchema
	hasUnevalProp bool
	// array
	allItems       *jsSchema
	itemList       []*jsSchema
	addlItemsOK    bool
	addlItems      *jsSchema
	minItems       *int64
	maxItems       *int64
	unique         bool
	minContains    *int64
	maxContains    *int64
	unevalItems    *jsSchema
	hasUnevalItems bool
	// enum, const
	enum  []string // canonical JSON of each value
	konst *string
	// combined
	criterion string // "allOf", "anyOf", "oneOf"
	subs      []*jsSchema
	// not
	not *jsSchema
	// $ref
	ref    string
	target func() (*jsSchema, error)
}

type patternProp struct {
	re     *regexp.Regexp
	schema *jsSchema
}

// jsDoc is one parsed document (the root schema and what its $refs reach).
type jsDoc struct {
	root    *jsonnode.Node
	draft   int // 4, 6, 7, 2019 or 2020
	top     *jsSchema
	byPtr   map[string]*jsSchema // $ref targets by "<doc url>#<pointer>"
	imports func(name string) ([]byte, error)
	others  map[string]*jsDoc // documents reached by $ref, by URL
	url     string
	base    *jsDoc // the document $refs were first resolved from (shares byPtr/others)
}

// ParseJSONSchema reads a JSON Schema document. imp resolves $refs to other
// documents by name (files next to it, or registry references); nil allows
// only refs inside the document.
func ParseJSONSchema(name string, data []byte, imp func(string) ([]byte, error)) (*jsSchema, error) {
	root, err := jsonnode.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d := &jsDoc{root: root, byPtr: map[string]*jsSchema{}, imports: imp, others: map[string]*jsDoc{}, url: "schema.json"}
	d.base = d
	d.draft = draftOf(root)
	s, err := d.load(root, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d.top = s
	// resolve every $ref now so a broken one is an error, not a silent pass
	if err := resolveAll(s, map[*jsSchema]bool{}); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

func resolveAll(s *jsSchema, seen map[*jsSchema]bool) error {
	if s == nil || seen[s] {
		return nil
	}
	seen[s] = true
	if s.kind == jsRef {
		t, err := s.target()
		if err != nil {
			return err
		}
		return resolveAll(t, seen)
	}
	for _, c := range s.children() {
		if err := resolveAll(c, seen); err != nil {
			return err
		}
	}
	return nil
}

func (s *jsSchema) children() []*jsSchema {
	out := []*jsSchema{s.addl, s.allItems, s.addlItems, s.not, s.unevalProps, s.unevalItems}
	out = append(out, s.subs...)
	out = append(out, s.itemList...)
	for _, k := range sortedKeys(s.props) {
		out = append(out, s.props[k])
	}
	for _, k := range sortedKeys(s.depSchemas) {
		out = append(out, s.depSchemas[k])
	}
	for _, p := range s.patternProps {
		out = append(out, p.schema)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// draftOf reads "$schema": 4, 6, 7 (the default, as Confluent's registry
// reads schemas without one), 2019 or 2020.
func draftOf(root *jsonnode.Node) int {
	s := root.Get("$schema")
	if s == nil || s.Kind != 's' {
		return 7
	}
	switch {
	case strings.Contains(s.Str, "2020-12"):
		return 2020
	case strings.Contains(s.Str, "2019-09"):
		return 2019
	case strings.Contains(s.Str, "draft-04"):
		return 4
	case strings.Contains(s.Str, "draft-06"):
		return 6
	}
	return 7
}

var (
	stringKeywords = []string{"minLength", "maxLength", "pattern", "format"}
	numberKeywords = []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
	objectKeywords = []string{"properties", "required", "minProperties", "maxProperties", "additionalProperties",
		"dependencies", "patternProperties", "propertyNames", "dependentRequired", "dependentSchemas", "unevaluatedProperties"}
	arrayKeywords = []string{"items", "additionalItems", "minItems", "maxItems", "uniqueItems", "contains",
		"prefixItems", "minContains", "maxContains", "unevaluatedItems"}
)

func hasAny(n *jsonnode.Node, kws []string) bool {
	for _, k := range kws {
		if n.Get(k) != nil {
			return true
		}
	}
	return false
}

// canon is the canonical JSON of a node (sorted keys, numbers as written).
func canon(n *jsonnode.Node) string {
	b, _ := json.Marshal(n.Value())
	return string(b)
}

func (d *jsDoc) modern() bool { return d.draft >= 2019 }

// load reads the schema at node n (ptr is its JSON pointer in the document).
func (d *jsDoc) load(n *jsonnode.Node, ptr string) (*jsSchema, error) {
	switch n.Kind {
	case 'b':
		if n.Bool {
			return &jsSchema{kind: jsTrue, node: n, key: "true"}, nil
		}
		return &jsSchema{kind: jsFalse, node: n, key: "false"}, nil
	case 'o':
	default:
		return nil, fmt.Errorf("%s: a schema must be an object or a boolean, not %s", ptrLabel(ptr), n.KindName())
	}
	if r := n.Get("$ref"); r != nil {
		if r.Kind != 's' {
			return nil, fmt.Errorf("%s/$ref: must be a string", ptrLabel(ptr))
		}
		s := &jsSchema{kind: jsRef, node: n, key: canon(n), ref: r.Str}
		var cached *jsSchema
		var cerr error
		done := false
		s.target = func() (*jsSchema, error) {
			if !done {
				done = true
				cached, cerr = d.resolve(r.Str, ptr)
			}
			return cached, cerr
		}
		return s, nil
	}
	var parts []*jsSchema
	if e := n.Get("enum"); e != nil {
		if e.Kind != 'a' {
			return nil, fmt.Errorf("%s/enum: must be an array", ptrLabel(ptr))
		}
		s := &jsSchema{kind: jsEnum, node: n}
		seen := map[string]bool{}
		for _, v := range e.Arr {
			c := canon(v)
			if !seen[c] {
				seen[c] = true
				s.enum = append(s.enum, c)
			}
		}
		parts = append(parts, s)
	}
	for _, crit := range []string{"allOf", "anyOf", "oneOf"} {
		c := n.Get(crit)
		if c == nil {
			continue
		}
		if c.Kind != 'a' || len(c.Arr) == 0 {
			return nil, fmt.Errorf("%s/%s: must be a non-empty array", ptrLabel(ptr), crit)
		}
		s := &jsSchema{kind: jsCombined, node: n, criterion: crit}
		for i, sub := range c.Arr {
			ss, err := d.load(sub, ptr+"/"+crit+"/"+strconv.Itoa(i))
			if err != nil {
				return nil, err
			}
			s.subs = append(s.subs, ss)
		}
		parts = append(parts, s)
	}
	if nt := n.Get("not"); nt != nil {
		ns, err := d.load(nt, ptr+"/not")
		if err != nil {
			return nil, err
		}
		parts = append(parts, &jsSchema{kind: jsNot, node: n, not: ns})
	}
	if c := n.Get("const"); c != nil && d.draft >= 6 {
		v := canon(c)
		parts = append(parts, &jsSchema{kind: jsConst, node: n, konst: &v})
	}
	used := map[string]bool{}
	if t := n.Get("type"); t != nil {
		switch t.Kind {
		case 's':
			s, err := d.loadTyped(n, ptr, t.Str, used)
			if err != nil {
				return nil, err
			}
			parts = append(parts, s)
		case 'a':
			any := &jsSchema{kind: jsCombined, node: n, criterion: "anyOf"}
			for _, tn := range t.Arr {
				if tn.Kind != 's' {
					return nil, fmt.Errorf("%s/type: must hold type names", ptrLabel(ptr))
				}
				s, err := d.loadTyped(n, ptr, tn.Str, used)
				if err != nil {
					return nil, err
				}
				s.key = `{"type":"` + tn.Str + `"}` // distinct per type for de-duplication
				any.subs = append(any.subs, s)
			}
			any.key = canon(n)
			parts = append(parts, any)
		default:
			return nil, fmt.Errorf("%s/type: must be a type name or a list of them", ptrLabel(ptr))
		}
	}
	// keywords of kinds "type" did not name
	if !used["array"] && hasAny(n, arrayKeywords) {
		s, err := d.loadArray(n, ptr)
		if err != nil {
			return nil, err
		}
		parts = append(parts, s)
	}
	if !used["object"] && hasAny(n, objectKeywords) && !(d.modern() && onlyEmptyProperties(n)) {
		s, err := d.loadObject(n, ptr)
		if err != nil {
			return nil, err
		}
		parts = append(parts, s)
	}
	if !used["number"] && hasAny(n, numberKeywords) {
		s, err := d.loadNumber(n, ptr, false)
		if err != nil {
			return nil, err
		}
		parts = append(parts, s)
	}
	if !used["string"] && hasAny(n, stringKeywords) {
		s, err := d.loadString(n, ptr)
		if err != nil {
			return nil, err
		}
		parts = append(parts, s)
	}
	if d.draft >= 7 && hasAny(n, []string{"if", "then", "else"}) {
		parts = append(parts, &jsSchema{kind: jsConditional, node: n})
	}
	var s *jsSchema
	switch len(parts) {
	case 0:
		s = &jsSchema{kind: jsEmpty, node: n}
	case 1:
		s = parts[0]
	default:
		s = &jsSchema{kind: jsCombined, node: n, criterion: "allOf", subs: parts}
		for _, p := range parts {
			if p.key == "" {
				p.key = canon(n) + "#" + strconv.Itoa(int(p.kind))
			}
		}
	}
	s.node = n
	if s.key == "" {
		s.key = canon(n)
	}
	// annotations common to every schema
	idKw := "$id"
	if d.draft == 4 {
		idKw = "id"
	}
	if !d.modern() {
		if v := n.Get(idKw); v != nil && v.Kind == 's' {
			s.id = &v.Str
		} else if v := n.Get("id"); v != nil && v.Kind == 's' {
			s.id = &v.Str
		}
	}
	if v := n.Get("title"); v != nil && v.Kind == 's' {
		s.title = &v.Str
	}
	if v := n.Get("description"); v != nil && v.Kind == 's' {
		s.description = &v.Str
	}
	if v := n.Get("default"); v != nil {
		c := canon(v)
		s.def = &c
	}
	if v := n.Get("connect.type"); v != nil && v.Kind == 's' {
		s.connectType = v.Str
	}
	return s, nil
}

// onlyEmptyProperties: {"properties": {}} and nothing else of an object.
// Confluent's registry reads such a 2020-12 schema as the empty schema.
func onlyEmptyProperties(n *jsonnode.Node) bool {
	for _, k := range objectKeywords {
		v := n.Get(k)
		if v == nil {
			continue
		}
		if k != "properties" || v.Kind != 'o' || len(v.Keys) > 0 {
			return false
		}
	}
	return true
}

func ptrLabel(ptr string) string { return "#" + ptr }

func (d *jsDoc) loadTyped(n *jsonnode.Node, ptr, typ string, used map[string]bool) (*jsSchema, error) {
	switch typ {
	case "string":
		used["string"] = true
		return d.loadString(n, ptr)
	case "integer", "number":
		used["number"] = true
		return d.loadNumber(n, ptr, typ == "integer")
	case "boolean":
		return &jsSchema{kind: jsBoolean, node: n}, nil
	case "null":
		return &jsSchema{kind: jsNull, node: n}, nil
	case "object":
		used["object"] = true
		return d.loadObject(n, ptr)
	case "array":
		used["array"] = true
		return d.loadArray(n, ptr)
	}
	return nil, fmt.Errorf("%s/type: unknown type %q", ptrLabel(ptr), typ)
}

func intKw(n *jsonnode.Node, kw, ptr string) (*int64, error) {
	v := n.Get(kw)
	if v == nil {
		return nil, nil
	}
	if v.Kind != 'n' {
		return nil, fmt.Errorf("%s/%s: must be a number", ptrLabel(ptr), kw)
	}
	i, err := v.Num.Int64()
	if err != nil {
		f, ferr := v.Num.Float64()
		if ferr != nil || f != float64(int64(f)) {
			return nil, fmt.Errorf("%s/%s: must be an integer", ptrLabel(ptr), kw)
		}
		i = int64(f)
	}
	return &i, nil
}

func ratKw(n *jsonnode.Node, kw, ptr string) (*big.Rat, error) {
	v := n.Get(kw)
	if v == nil || v.Kind == 'b' { // draft-04's boolean exclusiveMinimum/Maximum only flags the bound
		return nil, nil
	}
	if v.Kind != 'n' {
		return nil, fmt.Errorf("%s/%s: must be a number", ptrLabel(ptr), kw)
	}
	r, ok := new(big.Rat).SetString(v.Num.String())
	if !ok {
		return nil, fmt.Errorf("%s/%s: not a number", ptrLabel(ptr), kw)
	}
	return r, nil
}

func (d *jsDoc) loadString(n *jsonnode.Node, ptr string) (*jsSchema, error) {
	s := &jsSchema{kind: jsString, node: n}
	var err error
	if s.minLength, err = intKw(n, "minLength", ptr); err != nil {
		return nil, err
	}
	if s.maxLength, err = intKw(n, "maxLength", ptr); err != nil {
		return nil, err
	}
	if p := n.Get("pattern"); p != nil {
		if p.Kind != 's' {
			return nil, fmt.Errorf("%s/pattern: must be a string", ptrLabel(ptr))
		}
		s.pattern = &p.Str
	}
	return s, nil
}

func (d *jsDoc) loadNumber(n *jsonnode.Node, ptr string, integer bool) (*jsSchema, error) {
	s := &jsSchema{kind: jsNumber, node: n, integer: integer}
	var err error
	for _, f := range []struct {
		kw string
		to **big.Rat
	}{{"minimum", &s.minimum}, {"maximum", &s.maximum}, {"exclusiveMinimum", &s.exclMin}, {"exclusiveMaximum", &s.exclMax}, {"multipleOf", &s.multipleOf}} {
		if *f.to, err = ratKw(n, f.kw, ptr); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (d *jsDoc) loadObject(n *jsonnode.Node, ptr string) (*jsSchema, error) {
	s := &jsSchema{kind: jsObject, node: n, props: map[string]*jsSchema{}, required: map[string]bool{}, addlAllowed: true,
		depArrays: map[string][]string{}, depSchemas: map[string]*jsSchema{}}
	if p := n.Get("properties"); p != nil {
		if p.Kind != 'o' {
			return nil, fmt.Errorf("%s/properties: must be an object", ptrLabel(ptr))
		}
		for _, k := range p.Keys {
			ps, err := d.load(p.Obj[k], ptr+"/properties/"+escPtr(k))
			if err != nil {
				return nil, err
			}
			s.props[k] = ps
		}
	}
	if r := n.Get("required"); r != nil && r.Kind == 'a' {
		for _, x := range r.Arr {
			if x.Kind == 's' {
				s.required[x.Str] = true
			}
		}
	}
	if a := n.Get("additionalProperties"); a != nil {
		if a.Kind == 'b' {
			s.addlAllowed = a.Bool
		} else {
			as, err := d.load(a, ptr+"/additionalProperties")
			if err != nil {
				return nil, err
			}
			s.addl = as
		}
	}
	if pp := n.Get("patternProperties"); pp != nil && pp.Kind == 'o' {
		for _, k := range pp.Keys {
			re, err := regexp.Compile(k)
			if err != nil {
				return nil, fmt.Errorf("%s/patternProperties: %q is not a regular expression deimos can read: %v", ptrLabel(ptr), k, err)
			}
			ps, err := d.load(pp.Obj[k], ptr+"/patternProperties/"+escPtr(k))
			if err != nil {
				return nil, err
			}
			s.patternProps = append(s.patternProps, patternProp{re: re, schema: ps})
		}
	}
	deps := func(kw string, arrays, schemas bool) error {
		dn := n.Get(kw)
		if dn == nil || dn.Kind != 'o' {
			return nil
		}
		for _, k := range dn.Keys {
			v := dn.Obj[k]
			if v.Kind == 'a' && arrays {
				var names []string
				for _, x := range v.Arr {
					if x.Kind == 's' {
						names = append(names, x.Str)
					}
				}
				s.depArrays[k] = names
			} else if schemas && (v.Kind == 'o' || v.Kind == 'b') {
				ds, err := d.load(v, ptr+"/"+kw+"/"+escPtr(k))
				if err != nil {
					return err
				}
				s.depSchemas[k] = ds
			}
		}
		return nil
	}
	if err := deps("dependencies", true, true); err != nil {
		return nil, err
	}
	if d.modern() {
		if err := deps("dependentRequired", true, false); err != nil {
			return nil, err
		}
		if err := deps("dependentSchemas", false, true); err != nil {
			return nil, err
		}
		if u := n.Get("unevaluatedProperties"); u != nil {
			us, err := d.load(u, ptr+"/unevaluatedProperties")
			if err != nil {
				return nil, err
			}
			s.unevalProps, s.hasUnevalProp = us, true
		}
	}
	var err error
	if s.minProps, err = intKw(n, "minProperties", ptr); err != nil {
		return nil, err
	}
	if s.maxProps, err = intKw(n, "maxProperties", ptr); err != nil {
		return nil, err
	}
	return s, nil
}

func (d *jsDoc) loadArray(n *jsonnode.Node, ptr string) (*jsSchema, error) {
	s := &jsSchema{kind: jsArray, node: n, addlItemsOK: true}
	loadList := func(l *jsonnode.Node, kw string) error {
		for i, it := range l.Arr {
			is, err := d.load(it, ptr+"/"+kw+"/"+strconv.Itoa(i))
			if err != nil {
				return err
			}
			s.itemList = append(s.itemList, is)
		}
		return nil
	}
	additional := func(a *jsonnode.Node, kw string) error {
		if a.Kind == 'b' {
			s.addlItemsOK = a.Bool
			return nil
		}
		as, err := d.load(a, ptr+"/"+kw)
		if err != nil {
			return err
		}
		s.addlItems = as
		return nil
	}
	items := n.Get("items")
	if d.modern() {
		if pi := n.Get("prefixItems"); pi != nil && pi.Kind == 'a' {
			if err := loadList(pi, "prefixItems"); err != nil {
				return nil, err
			}
			if items != nil {
				if err := additional(items, "items"); err != nil {
					return nil, err
				}
			}
		} else if items != nil {
			if items.Kind == 'b' {
				if err := additional(items, "items"); err != nil {
					return nil, err
				}
			} else {
				is, err := d.load(items, ptr+"/items")
				if err != nil {
					return nil, err
				}
				s.allItems = is
			}
		}
		if u := n.Get("unevaluatedItems"); u != nil {
			us, err := d.load(u, ptr+"/unevaluatedItems")
			if err != nil {
				return nil, err
			}
			s.unevalItems, s.hasUnevalItems = us, true
		}
	} else {
		if items != nil {
			if items.Kind == 'a' {
				if err := loadList(items, "items"); err != nil {
					return nil, err
				}
			} else {
				is, err := d.load(items, ptr+"/items")
				if err != nil {
					return nil, err
				}
				s.allItems = is
			}
		}
		if a := n.Get("additionalItems"); a != nil {
			if err := additional(a, "additionalItems"); err != nil {
				return nil, err
			}
		}
	}
	var err error
	if s.minItems, err = intKw(n, "minItems", ptr); err != nil {
		return nil, err
	}
	if s.maxItems, err = intKw(n, "maxItems", ptr); err != nil {
		return nil, err
	}
	if u := n.Get("uniqueItems"); u != nil && u.Kind == 'b' {
		s.unique = u.Bool
	}
	if d.modern() {
		if s.minContains, err = intKw(n, "minContains", ptr); err != nil {
			return nil, err
		}
		if s.maxContains, err = intKw(n, "maxContains", ptr); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func escPtr(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unescPtr(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

// resolve finds the schema a $ref names: a JSON pointer in this document
// ("#/definitions/x", "#/$defs/x", "#"), or another document by name
// (relative to this one), optionally with a pointer into it.
func (d *jsDoc) resolve(ref, from string) (*jsSchema, error) {
	docPart, frag, _ := strings.Cut(ref, "#")
	target := d
	if docPart != "" {
		u := docPart
		if bu, err := url.Parse(d.url); err == nil {
			if ru, err := url.Parse(docPart); err == nil {
				u = bu.ResolveReference(ru).String()
			}
		}
		if o, ok := d.base.others[u]; ok {
			target = o
		} else {
			if d.imports == nil {
				return nil, fmt.Errorf("%s/$ref %q: references to other documents need them as files next to the schema or as registry references", ptrLabel(from), ref)
			}
			b, err := d.imports(docPart)
			if err != nil {
				return nil, fmt.Errorf("%s/$ref %q: %v", ptrLabel(from), ref, err)
			}
			root, err := jsonnode.Parse(b)
			if err != nil {
				return nil, fmt.Errorf("%s/$ref %q: %v", ptrLabel(from), ref, err)
			}
			o := &jsDoc{root: root, draft: draftOf(root), byPtr: d.base.byPtr, imports: d.imports, others: d.base.others, url: u, base: d.base}
			if root.Get("$schema") == nil {
				o.draft = d.draft
			}
			d.base.others[u] = o
			target = o
		}
	}
	if frag != "" && !strings.HasPrefix(frag, "/") {
		return nil, fmt.Errorf("%s/$ref %q: only JSON-pointer fragments (#/...) are supported", ptrLabel(from), ref)
	}
	key := target.url + "#" + frag
	if s, ok := d.base.byPtr[key]; ok {
		return s, nil
	}
	n := target.root
	if frag != "" {
		for _, seg := range strings.Split(frag[1:], "/") {
			seg = unescPtr(seg)
			switch n.Kind {
			case 'o':
				n = n.Obj[seg]
			case 'a':
				i, err := strconv.Atoi(seg)
				if err != nil || i < 0 || i >= len(n.Arr) {
					n = nil
				} else {
					n = n.Arr[i]
				}
			default:
				n = nil
			}
			if n == nil {
				return nil, fmt.Errorf("%s/$ref %q: nothing at that pointer", ptrLabel(from), ref)
			}
		}
	}
	// placeholder first: a recursive schema refers to itself
	ph := &jsSchema{kind: jsRef, ref: ref}
	d.base.byPtr[key] = ph
	s, err := target.load(n, frag)
	if err != nil {
		delete(d.base.byPtr, key)
		return nil, err
	}
	*ph = *s
	return ph, nil
}
