package encode

// The JSON Schema backends (docs/jsonschema.md):
//
//   - json_schema_registry: values are JSON text validated against a JSON
//     Schema and framed as Confluent's JSON Schema serializers frame them
//     (0x00, 4-byte schema id, the JSON bytes), the schema registered as
//     schemaType JSON under <prefix><topic>-value;
//   - json_schema_local: the same validated JSON text without framing.
//
// Schemas come from .json files under schema.path (--schema Name or
// ns.Name finds <schema.path>/<ns as dirs>/<Name>.json; --schema may also be
// a path to a .json file). Validation uses santhosh-tekuri/jsonschema
// (drafts 4, 6, 7, 2019-09 and 2020-12, chosen by "$schema"; draft-07 when a
// schema names none, as Confluent's serializers assume).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"github.com/twmb/franz-go/pkg/sr"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/deimos-cli/deimos/internal/jsonesc"
	"github.com/deimos-cli/deimos/pkg/avro"
	"github.com/deimos-cli/deimos/pkg/encode/nesting"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// jsonSchemaBackend serves both JSON Schema backends.
type jsonSchemaBackend struct {
	e        *Engine
	registry bool

	mu      sync.Mutex
	docs    map[string]*jsonSchemaDoc // local schemas by file path, generated key schemas by "key:"+path+":"+field
	writers map[int]*jsonSchemaDoc    // registry schemas by id
}

// jsonSchemaDoc is one compiled schema.
type jsonSchemaDoc struct {
	name   string // how errors name it: the file, or "schema id N"
	text   string // the text registered (as written in the file)
	sch    *jsonschema.Schema
	props  map[string]any // top-level "properties" (for field types)
	order  []string       // top-level property names in file order
	fields []FieldInfo
	ids    sync.Map // subject -> registry id
	// $refs to other documents: registered as references (references())
	extRefs []string
}

// externalRefs lists the $ref values that leave the document.
func externalRefs(v any, out []string) []string {
	switch x := v.(type) {
	case map[string]any:
		if r, ok := x["$ref"].(string); ok && !strings.HasPrefix(r, "#") {
			out = append(out, r)
		}
		for _, k := range sortedMapKeys(x) {
			out = externalRefs(x[k], out)
		}
	case []any:
		for _, e := range x {
			out = externalRefs(e, out)
		}
	}
	return out
}

func sortedMapKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func newJSONSchemaBackend(e *Engine, registry bool) *jsonSchemaBackend {
	return &jsonSchemaBackend{e: e, registry: registry, docs: map[string]*jsonSchemaDoc{}, writers: map[int]*jsonSchemaDoc{}}
}

func (j *jsonSchemaBackend) name() string {
	if j.registry {
		return "json_schema_registry"
	}
	return "json_schema_local"
}

// wire is the value framing for encode: the spec's override or the backend's.
func (j *jsonSchemaBackend) wire(s Spec) (string, error) {
	switch s.Wire {
	case "":
		if j.registry {
			return "confluent", nil
		}
		return "raw", nil
	case "confluent", "raw":
		return s.Wire, nil
	}
	return "", errs.Usagef("%s: wire %q is not supported for JSON Schema (confluent or raw)", j.name(), s.Wire)
}

// schemaFile finds the .json file of a schema name: a path to a .json file,
// <schema.path>/<ns as dirs>/<Name>.json, or a bare Name searched for under
// schema.path.
func (j *jsonSchemaBackend) schemaFile(name, ns string) (string, error) {
	if name == "" {
		return "", errs.Usagef("%s: no schema given: use --schema NAME (a .json file under schema.path) or configure the topic's schema", j.name())
	}
	if strings.HasSuffix(strings.ToLower(name), ".json") {
		for _, p := range []string{name, filepath.Join(j.e.schemaPath(), name)} {
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
		}
		return "", errs.Usagef("%s: schema file %s not found (also looked under %s)", j.name(), name, j.e.schemaPath())
	}
	full := avro.FullName(name, ns)
	p := filepath.Join(append([]string{j.e.schemaPath()}, strings.Split(full, ".")...)...) + ".json"
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if strings.Contains(full, ".") {
		return "", errs.Usagef("%s: schema %s not found: no file %s", j.name(), full, p)
	}
	var hits []string
	root := j.e.schemaPath()
	_ = filepath.WalkDir(root, func(q string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == name+".json" {
			hits = append(hits, q)
		}
		return nil
	})
	switch len(hits) {
	case 0:
		return "", errs.Usagef("%s: schema %s not found: no %s.json under %s (give --namespace, a file path, or check schema.path)", j.name(), name, name, root)
	case 1:
		return hits[0], nil
	}
	return "", errs.Usagef("%s: schema %s is ambiguous under %s: %s (give --namespace or a file path)", j.name(), name, root, strings.Join(hits, ", "))
}

// local returns the compiled schema of a schema name (cached per file).
func (j *jsonSchemaBackend) local(name, ns string) (*jsonSchemaDoc, error) {
	p, err := j.schemaFile(name, ns)
	if err != nil {
		return nil, err
	}
	return j.localFile(p)
}

// localFile compiles the schema file p (cached per path).
func (j *jsonSchemaBackend) localFile(p string) (*jsonSchemaDoc, error) {
	j.mu.Lock()
	d, ok := j.docs[p]
	j.mu.Unlock()
	if ok {
		return d, nil
	}
	text, err := os.ReadFile(p)
	if err != nil {
		return nil, errs.Usagef("%s: %v", j.name(), err)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, errs.Usagef("%s: %v", p, err)
	}
	u := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	// $refs to other files next to this one are allowed for validation.
	d, err = compileJSONSchema(p, u, text, jsonschema.SchemeURLLoader{"file": jsonschema.FileLoader{}}, nil)
	if err != nil {
		return nil, errs.Usage(err)
	}
	j.mu.Lock()
	j.docs[p] = d
	j.mu.Unlock()
	return d, nil
}

// refsLoader loads only the given documents (a schema's registry
// references); any other $ref target is an error, never a fetch.
type refsLoader map[string]any

func (l refsLoader) Load(u string) (any, error) {
	if d, ok := l[u]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("$ref %s is not among the schema's references", u)
}

// compileJSONSchema compiles text as the root resource at u. extra are more
// resources (registry references) by absolute URL.
func compileJSONSchema(name, u string, text []byte, loader jsonschema.URLLoader, extra map[string]any) (*jsonSchemaDoc, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("JSON Schema %s: not valid JSON: %v", name, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.UseLoader(loader)
	if err := c.AddResource(u, doc); err != nil {
		return nil, fmt.Errorf("JSON Schema %s: %v", name, err)
	}
	for ru, rd := range extra {
		if err := c.AddResource(ru, rd); err != nil {
			return nil, fmt.Errorf("JSON Schema %s: reference %s: %v", name, ru, err)
		}
	}
	sch, err := c.Compile(u)
	if err != nil {
		return nil, fmt.Errorf("JSON Schema %s: %s", name, oneLine(err.Error()))
	}
	d := &jsonSchemaDoc{name: name, text: strings.TrimSpace(string(text)), sch: sch, extRefs: externalRefs(doc, nil)}
	d.props, d.order = topProperties(text, doc)
	d.fields = jsonSchemaFields(doc, d.props, d.order)
	return d, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// topProperties returns the top-level "properties" and their names in the
// order the file lists them.
func topProperties(text []byte, doc any) (map[string]any, []string) {
	m, _ := doc.(map[string]any)
	props, _ := m["properties"].(map[string]any)
	if len(props) == 0 {
		return props, nil
	}
	var raw struct {
		Properties json.RawMessage `json:"properties"`
	}
	order := make([]string, 0, len(props))
	if json.Unmarshal(text, &raw) == nil {
		dec := json.NewDecoder(bytes.NewReader(raw.Properties))
		depth := 0
		for {
			tok, err := dec.Token()
			if err != nil {
				break
			}
			switch t := tok.(type) {
			case json.Delim:
				if t == '{' || t == '[' {
					depth++
				} else {
					depth--
				}
			case string:
				if depth == 1 {
					order = append(order, t)
					// skip the value
					var skip json.RawMessage
					if dec.Decode(&skip) != nil {
						break
					}
				}
			}
		}
	}
	if len(order) != len(props) {
		order = order[:0]
		for k := range props {
			order = append(order, k)
		}
		sort.Strings(order)
	}
	return props, order
}

// jsonSchemaFields lists top-level properties with a base type in the names
// FieldInfo uses (integer -> long, number -> double, string with format
// date-time -> timestamp-millis, object -> record).
func jsonSchemaFields(doc any, props map[string]any, order []string) []FieldInfo {
	out := make([]FieldInfo, 0, len(order))
	for _, k := range order {
		p, _ := props[k].(map[string]any)
		types, nullable := schemaTypes(p)
		fi := FieldInfo{Name: k, Nullable: nullable}
		if len(types) > 0 {
			fi.Type = map[string]string{"integer": "long", "number": "double", "object": "record"}[types[0]]
			if fi.Type == "" {
				fi.Type = types[0]
			}
			if types[0] == "string" && p["format"] == "date-time" {
				fi.Type = "timestamp-millis"
			}
		}
		out = append(out, fi)
	}
	_ = doc
	return out
}

// schemaTypes reads "type" (a name or a list) and whether "null" is among
// them (or among the branches of a oneOf/anyOf).
func schemaTypes(p map[string]any) (types []string, nullable bool) {
	switch t := p["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok {
				types = append(types, s)
			}
		}
	}
	for _, kw := range []string{"oneOf", "anyOf"} {
		if bs, ok := p[kw].([]any); ok {
			for _, b := range bs {
				if bm, ok := b.(map[string]any); ok {
					bt, _ := schemaTypes(bm)
					types = append(types, bt...)
				}
			}
		}
	}
	var out []string
	for _, t := range types {
		if t == "null" {
			nullable = true
			continue
		}
		out = append(out, t)
	}
	return out, nullable
}

var jsonSchemaPrinter = message.NewPrinter(language.English)

// validate marshals payload to JSON, validates it and returns the bytes. A
// value that does not fit is a FieldError naming the path.
func (d *jsonSchemaDoc) validate(payload any, ord *keyOrder) ([]byte, error) {
	payload = d.timesFor(payload, ord)
	b, err := appendJSONOrdered(nil, payload, ord)
	if err != nil {
		return nil, err
	}
	if err := nesting.CheckJSON(b); err != nil {
		return nil, err
	}
	if err := d.check(b); err != nil {
		return nil, err
	}
	return b, nil
}

// check validates JSON text.
func (d *jsonSchemaDoc) check(b []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not valid JSON: %v", err)
	}
	if err := d.sch.Validate(inst); err != nil {
		return schemaError(d.name, inst, err)
	}
	return nil
}

// timesFor renders time.Time values of top-level properties (auto-filled
// timestamps, poller rows) as the property's type asks: epoch milliseconds
// for integer and number, RFC 3339 for a date-time string, Deimos's
// timestamp text for other strings.
func (d *jsonSchemaDoc) timesFor(payload any, ord *keyOrder) any {
	m, ok := payload.(map[string]any)
	if !ok {
		return payload
	}
	var cp map[string]any
	for k, v := range m {
		t, ok := v.(time.Time)
		if !ok {
			continue
		}
		p, _ := d.props[k].(map[string]any)
		types, _ := schemaTypes(p)
		var nv any = t.UTC().Format(time.RFC3339Nano)
		if len(types) > 0 {
			switch {
			case types[0] == "integer" || types[0] == "number":
				nv = t.UnixMilli()
			case types[0] == "string" && p["format"] != "date-time":
				nv = TimestampString(t)
			}
		}
		if cp == nil {
			cp = make(map[string]any, len(m))
			for k2, v2 := range m {
				cp[k2] = v2
			}
		}
		cp[k] = nv
	}
	if cp == nil {
		return payload
	}
	ord.follow(cp, m)
	return cp
}

// appendJSONOrdered writes v as compact JSON with object keys in the order
// the input had them (ord; sorted for maps built in Go, such as poller
// rows), as Confluent's serializers keep an object's own order: decode then
// encode gives the same bytes.
func appendJSONOrdered(b []byte, v any, ord *keyOrder) ([]byte, error) {
	switch x := v.(type) {
	case map[string]any:
		b = append(b, '{')
		for i, k := range ord.keys(x) {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonesc.AppendString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendJSONOrdered(b, x[k], ord); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSONOrdered(b, e, ord); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	mb, err := marshalJSON(v)
	if err != nil {
		return nil, err
	}
	return append(b, mb...), nil
}

// schemaError turns a validation error into a FieldError on the first
// failing leaf: the instance path, what the schema wants, what was found.
func schemaError(name string, inst any, err error) error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("JSON Schema %s: %v", name, err)
	}
	leaf := ve
	for len(leaf.Causes) > 0 {
		leaf = leaf.Causes[0]
	}
	path := jsonPath(leaf.InstanceLocation)
	v := valueAt(inst, leaf.InstanceLocation)
	fe := &FieldError{Path: path, Found: found(v), Msg: leaf.ErrorKind.LocalizedString(jsonSchemaPrinter)}
	switch k := leaf.ErrorKind.(type) {
	case *kind.Type:
		fe.Expected = strings.Join(k.Want, " or ")
		fe.Msg = ""
	case *kind.Required:
		fe.Path = jsonPath(append(append([]string(nil), leaf.InstanceLocation...), k.Missing[0]))
		fe.Expected, fe.Found, fe.Msg = "a value (the property is required)", "nothing", ""
	case *kind.AdditionalProperties:
		fe.Path = jsonPath(append(append([]string(nil), leaf.InstanceLocation...), k.Properties[0]))
		fe.Expected = "no property " + k.Properties[0] + " (the schema allows no other properties)"
		fe.Found, fe.Msg = found(valueAt(inst, append(append([]string(nil), leaf.InstanceLocation...), k.Properties[0]))), ""
	default:
		fe.Expected = "a value the schema allows"
	}
	if fe.Path == "" {
		fe.Path = "(value)"
	}
	return fe
}

// jsonPath renders an instance location as a.b[2].c.
func jsonPath(loc []string) string {
	var b strings.Builder
	for _, p := range loc {
		if _, err := strconv.Atoi(p); err == nil && b.Len() > 0 {
			b.WriteString("[" + p + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

func valueAt(v any, loc []string) any {
	for _, p := range loc {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// frame registers (or looks up) the schema under subject and frames b.
func (j *jsonSchemaBackend) frame(ctx context.Context, d *jsonSchemaDoc, subject string, b []byte) ([]byte, int, error) {
	if err := j.e.needRegistry(j.name() + " (Confluent framing)"); err != nil {
		return nil, 0, err
	}
	var id int
	if v, ok := d.ids.Load(subject); ok {
		id = v.(int)
	} else {
		refs, err := j.references(ctx, d, map[string]bool{})
		if err != nil {
			return nil, 0, err
		}
		if id, err = j.e.SchemaID(ctx, subject, sr.Schema{Schema: d.text, Type: sr.TypeJSON, References: refs}); err != nil {
			return nil, 0, err
		}
		d.ids.Store(subject, id)
	}
	return ConfluentFrame(id, nil, b), id, nil
}

// references registers (or, with auto_register off, looks up) the files a
// schema's $refs name, each under a subject named as the $ref names it
// ("address.json"), depth first, and returns them as the references to
// register the schema with - how Confluent's clients register JSON Schemas
// that refer to others.
func (j *jsonSchemaBackend) references(ctx context.Context, d *jsonSchemaDoc, busy map[string]bool) ([]sr.SchemaReference, error) {
	var out []sr.SchemaReference
	seen := map[string]bool{}
	for _, r := range d.extRefs {
		name, _, _ := strings.Cut(r, "#")
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		if u, err := url.Parse(name); err != nil || u.IsAbs() || strings.HasPrefix(name, "/") {
			return nil, errs.Usagef("%s: $ref %s: only references to files next to the schema (relative paths) can be registered", d.name, r)
		}
		p := filepath.Join(filepath.Dir(d.name), filepath.FromSlash(name))
		if busy[p] {
			return nil, errs.Usagef("%s: $ref %s: the schema files refer to each other in a cycle, which the registry cannot hold as references", d.name, r)
		}
		rd, err := j.localFile(p)
		if err != nil {
			return nil, err
		}
		busy[p] = true
		sub, err := j.references(ctx, rd, busy)
		delete(busy, p)
		if err != nil {
			return nil, err
		}
		sch := sr.Schema{Schema: rd.text, Type: sr.TypeJSON, References: sub}
		var ss sr.SubjectSchema
		if j.e.cfg.Schema.AutoRegisterOn() {
			ss, err = j.e.reg.CreateSchema(ctx, name, sch)
		} else {
			ss, err = j.e.reg.LookupSchema(ctx, name, sch)
		}
		if err != nil {
			return nil, registryError("reference "+name+" of "+d.name, err)
		}
		out = append(out, sr.SchemaReference{Name: name, Subject: name, Version: ss.Version})
	}
	return out, nil
}

func (j *jsonSchemaBackend) encodeValue(ctx context.Context, s Spec, payload any) ([]byte, int, error) {
	wire, err := j.wire(s)
	if err != nil {
		return nil, 0, err
	}
	d, err := j.local(s.Schema, s.Namespace)
	if err != nil {
		return nil, 0, err
	}
	b, err := d.validate(payload, keyOrderOf(ctx))
	if err != nil {
		return nil, 0, err
	}
	if wire == "raw" {
		return b, 0, nil
	}
	return j.frame(ctx, d, j.e.ValueSubject(s), b)
}

// keyDoc is the schema of keys: the key_config schema file, or for
// key_config field a schema generated from the value schema's property
// ({"type":"object","properties":{field: ...},"required":[field]}).
func (j *jsonSchemaBackend) keyDoc(s Spec) (*jsonSchemaDoc, error) {
	if prim := s.KeyConfig.Primitive(); prim != "" {
		return nil, errs.Usagef("key_config schema: %s is an Avro primitive key, which the JSON Schema backends do not write (use key_config plain for a text key, or a key schema file)", prim)
	}
	if s.KeyConfig.Schema != "" {
		return j.local(s.KeyConfig.Schema, s.Namespace)
	}
	val, err := j.local(s.Schema, s.Namespace)
	if err != nil {
		return nil, err
	}
	field := s.KeyConfig.Field
	k := "key:" + val.name + ":" + field
	j.mu.Lock()
	d, ok := j.docs[k]
	j.mu.Unlock()
	if ok {
		return d, nil
	}
	prop, ok := val.props[field]
	if !ok {
		return nil, errs.Usagef("key_config field: %q is not a top-level property of %s", field, val.name)
	}
	var doc struct {
		Schema string `json:"$schema,omitempty"`
	}
	_ = json.Unmarshal([]byte(val.text), &doc)
	ks := orderedKeySchema(doc.Schema, field, prop)
	d, err = compileJSONSchema(val.name+" (key "+field+")", "file:///deimos/key/"+url.PathEscape(field)+".json", ks, refsLoader{}, nil)
	if err != nil {
		return nil, errs.Usagef("key_config field: %w", err)
	}
	j.mu.Lock()
	j.docs[k] = d
	j.mu.Unlock()
	return d, nil
}

// orderedKeySchema writes the generated key schema with a stable key order.
func orderedKeySchema(draft, field string, prop any) []byte {
	pb, _ := marshalJSON(prop)
	fb, _ := marshalJSON(field)
	var b bytes.Buffer
	b.WriteByte('{')
	if draft != "" {
		db, _ := marshalJSON(draft)
		b.WriteString(`"$schema":`)
		b.Write(db)
		b.WriteByte(',')
	}
	b.WriteString(`"type":"object","properties":{`)
	b.Write(fb)
	b.WriteByte(':')
	b.Write(pb)
	b.WriteString(`},"required":[`)
	b.Write(fb)
	b.WriteString(`]}`)
	return b.Bytes()
}

func (j *jsonSchemaBackend) encodeKey(ctx context.Context, s Spec, key any) ([]byte, int, error) {
	d, err := j.keyDoc(s)
	if err != nil {
		return nil, 0, err
	}
	if s.KeyConfig.Field != "" {
		key = map[string]any{s.KeyConfig.Field: key}
	}
	b, err := d.validate(key, keyOrderOf(ctx))
	if err != nil {
		return nil, 0, err
	}
	// --wire is about values; keys keep the backend's framing, as Avro's do
	if !j.registry {
		return b, 0, nil
	}
	return j.frame(ctx, d, j.e.KeySubject(s), b)
}

func (j *jsonSchemaBackend) decodeValue(ctx context.Context, s Spec, b []byte) (json.RawMessage, Format, error) {
	return j.decode(ctx, s, b, false)
}

func (j *jsonSchemaBackend) decodeKey(ctx context.Context, s Spec, b []byte) (json.RawMessage, Format, error) {
	v, f, err := j.decode(ctx, s, b, true)
	if err != nil || s.KeyConfig.Field == "" {
		return v, f, err
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) == nil {
		if fv, ok := m[s.KeyConfig.Field]; ok && len(m) == 1 {
			return fv, f, nil
		}
	}
	return v, f, nil
}

// decode reads Confluent-framed (first byte 0x00, which JSON text never
// starts with) or bare JSON and validates it: framed data against the
// writer's registered schema (or the local one without a registry), bare
// data against the local schema when one is given.
func (j *jsonSchemaBackend) decode(ctx context.Context, s Spec, b []byte, key bool) (json.RawMessage, Format, error) {
	local := func() (*jsonSchemaDoc, error) {
		if key {
			if s.KeyConfig.Mode() != "field" && s.KeyConfig.Mode() != "schema" {
				return nil, nil
			}
			return j.keyDoc(s)
		}
		if s.Schema == "" {
			return nil, nil
		}
		return j.local(s.Schema, s.Namespace)
	}
	if len(b) > 0 && b[0] == 0 {
		id, rest, err := ConfluentUnframe(b)
		if err != nil {
			return nil, Format{}, errs.Failedf("%s: %w", j.name(), err)
		}
		f := Format{Wire: "confluent", SchemaType: "JSON", SchemaID: id, HeaderBytes: 5, PayloadBytes: len(rest)}
		var d *jsonSchemaDoc
		if j.e.reg == nil {
			if d, err = local(); err != nil {
				return nil, f, err
			}
		} else {
			sch, subject, version, err := j.e.SchemaByID(ctx, id)
			if err != nil {
				return nil, f, err
			}
			if sch.Type != sr.TypeJSON {
				return nil, f, errs.Failedf("schema id %d is %s, not JSON", id, sch.Type)
			}
			f.Subject, f.Version = subject, version
			if d, err = j.writer(ctx, id, sch); err != nil {
				return nil, f, err
			}
		}
		out, err := j.checked(d, rest)
		if err != nil {
			return nil, f, err
		}
		if d != nil {
			f.Schema = d.name
		}
		return out, f, nil
	}
	d, err := local()
	if err != nil {
		return nil, Format{}, err
	}
	out, err := j.checked(d, b)
	f := Format{Wire: "json", SchemaType: "JSON", PayloadBytes: len(b)}
	if d != nil {
		f.Schema = d.name
	}
	return out, f, err
}

// checked compacts JSON text and validates it against d (when not nil).
func (j *jsonSchemaBackend) checked(d *jsonSchemaDoc, b []byte) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, errs.Failedf("not valid JSON: %v", err)
	}
	if err := nesting.CheckJSON(buf.Bytes()); err != nil { // as marshalJSON on encode
		return nil, errs.Failed(err)
	}
	if d != nil {
		if err := d.check(b); err != nil {
			return nil, errs.Failed(err)
		}
	}
	return buf.Bytes(), nil
}

// writer compiles the registry schema of id, with its references (fetched
// by subject and version, recursively) as the only documents its $refs may
// reach. Cached per id.
func (j *jsonSchemaBackend) writer(ctx context.Context, id int, sch sr.Schema) (*jsonSchemaDoc, error) {
	j.mu.Lock()
	d, ok := j.writers[id]
	j.mu.Unlock()
	if ok {
		return d, nil
	}
	base := "https://schema-registry.invalid/schemas/ids/" + strconv.Itoa(id)
	extra := map[string]any{}
	seen := map[string]bool{}
	var walk func(refs []sr.SchemaReference) error
	walk = func(refs []sr.SchemaReference) error {
		for _, r := range refs {
			k := r.Subject + "/" + strconv.Itoa(r.Version)
			if seen[k] {
				continue
			}
			seen[k] = true
			ss, err := j.e.reg.SchemaByVersion(ctx, r.Subject, r.Version)
			if err != nil {
				return registryError(fmt.Sprintf("schema id %d reference %s (subject %s version %d)", id, r.Name, r.Subject, r.Version), err)
			}
			doc, err := jsonschema.UnmarshalJSON(strings.NewReader(ss.Schema.Schema))
			if err != nil {
				return errs.Failedf("schema id %d reference %s: not valid JSON: %v", id, r.Name, err)
			}
			extra[resolveRef(base, r.Name)] = doc
			if err := walk(ss.Schema.References); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(sch.References); err != nil {
		return nil, err
	}
	loader := refsLoader(extra)
	d, err := compileJSONSchema(fmt.Sprintf("schema id %d", id), base, []byte(sch.Schema), loader, extra)
	if err != nil {
		return nil, errs.Failed(err)
	}
	j.mu.Lock()
	j.writers[id] = d
	j.mu.Unlock()
	return d, nil
}

// resolveRef resolves a reference name (usually a relative URL such as
// "address.json", as Confluent's clients name them) against base.
func resolveRef(base, name string) string {
	bu, err := url.Parse(base)
	if err != nil {
		return name
	}
	ru, err := url.Parse(name)
	if err != nil {
		return name
	}
	return bu.ResolveReference(ru).String()
}

func (j *jsonSchemaBackend) fields(_ context.Context, s Spec) ([]FieldInfo, error) {
	d, err := j.local(s.Schema, s.Namespace)
	if err != nil {
		return nil, err
	}
	return d.fields, nil
}
