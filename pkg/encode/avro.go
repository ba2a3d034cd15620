package encode

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/avro"
	"github.com/deimos-cli/deimos/pkg/encode/nesting"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// avroSchema is a parsed, resolved Avro schema (pkg/avro's model) with what
// encoding and decoding its data needs.
type avroSchema struct {
	t    *aType
	text string // fully-resolved schema JSON, references inlined
	// src is the schema file as the user wrote it (nil for generated key
	// schemas and primitives) and refs the named types it uses that other
	// files define: what is registered (avro_register.go).
	src    []byte
	refs   []string
	fields []FieldInfo // top-level fields (shared: do not modify)
	// sizeHint is the largest binary encoding seen (buffer preallocation).
	sizeHint atomic.Int64
	readers  sync.Map // *aType -> bool: reader schema identical to this one
	ids      sync.Map // subject -> registry id of this schema
	// deep: data of this schema can nest deeper than nesting.Max (a
	// recursive or very deep schema), so encode checks what it wrote.
	deep bool
	prog atomic.Pointer[progNode] // the decode program (program())
}

func newAvroSchema(t *aType) (*avroSchema, error) {
	if err := checkContainers(t, map[*aType]bool{}); err != nil {
		return nil, err
	}
	avro.MarkNoMap(t)
	deep := maxLevels(t, map[*aType]bool{}, map[*aType]int{}) > nesting.Max
	return &avroSchema{t: t, text: avro.Text(t), fields: avroFields(t), deep: deep}, nil
}

// avroDataErr describes data that checkBinary or the decoder refused: too
// deep (the nesting limit speaks for itself) or not matching the schema.
func avroDataErr(schema string, err error) error {
	var ne nesting.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("Avro data of schema %s: %w", schema, err)
	}
	return fmt.Errorf("Avro data does not match schema %s: %v", schema, err)
}

// unbounded is maxLevels of a recursive type.
const unbounded = math.MaxInt32

// maxLevels is the deepest JSON nesting data of t can reach in decoded form
// (records, arrays and maps, and bytes or fixed printed as byte arrays);
// unbounded for a recursive type. done memoizes finished types.
func maxLevels(t *aType, onPath map[*aType]bool, done map[*aType]int) int {
	if n, ok := done[t]; ok {
		return n
	}
	if onPath[t] {
		return unbounded
	}
	onPath[t] = true
	defer delete(onPath, t)
	n := 0
	switch t.Kind {
	case "bytes", "fixed":
		n = 1
	case "array":
		n = 1 + maxLevels(t.Items, onPath, done)
	case "map":
		n = 1 + maxLevels(t.Values, onPath, done)
	case "record":
		for _, f := range t.Fields {
			n = max(n, maxLevels(f.Type, onPath, done))
		}
		n++
	case "union":
		for _, b := range t.Branches {
			n = max(n, maxLevels(b, onPath, done))
		}
	}
	n = min(n, unbounded)
	done[t] = n
	return n
}

// zeroSize reports whether a value of t can take no bytes on the wire.
func zeroSize(t *aType, seen map[*aType]bool) bool {
	switch t.Kind {
	case "null":
		return true
	case "fixed":
		return t.Size == 0
	case "record":
		if seen[t] {
			return false
		}
		seen[t] = true
		defer delete(seen, t)
		for _, f := range t.Fields {
			if !zeroSize(f.Type, seen) {
				return false
			}
		}
		return true
	}
	return false
}

// checkContainers rejects arrays and maps of zero-size items: a few bytes of
// such data could claim billions of items (a decoding bomb), and no real
// schema needs them.
func checkContainers(t *aType, seen map[*aType]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	switch t.Kind {
	case "array":
		if zeroSize(t.Items, map[*aType]bool{}) {
			return fmt.Errorf("unsupported schema: array of zero-size items")
		}
		return checkContainers(t.Items, seen)
	case "map":
		return checkContainers(t.Values, seen)
	case "record":
		for _, f := range t.Fields {
			if err := checkContainers(f.Type, seen); err != nil {
				return err
			}
		}
	case "union":
		for _, b := range t.Branches {
			if err := checkContainers(b, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// native converts a top-level payload; extra keys of a record payload are
// dropped (only schema fields present are kept: docs/deimos-compat.md §5.5).
func (a *avroSchema) native(payload any) (any, error) {
	if a.t.Kind == "record" {
		m, ok := payload.(map[string]any)
		if !ok {
			return nil, &FieldError{Path: avro.ShortName(a.t.Name), Expected: "a JSON object", Found: found(payload)}
		}
		return recordNative(a.t, m, avro.ShortName(a.t.Name))
	}
	return toNative(a.t, payload, "value")
}

// decode decodes bare Avro binary to JSON; r is an optional reader schema;
// unwrap returns the single field of a key record.
func (a *avroSchema) decode(bin []byte, r *aType, unwrap bool) (json.RawMessage, error) {
	if _, err := checkBinary(a.t, bin, 0); err != nil {
		return nil, avroDataErr(a.t.Name, err)
	}
	if r == nil || a.sameAs(r) {
		return a.decodeDirect(bin, unwrap)
	}
	return a.decodeGeneric(bin, r, unwrap)
}

// decodeGeneric decodes through the native form (reader schema resolution;
// the reference the direct decoder is tested against).
func (a *avroSchema) decodeGeneric(bin []byte, r *aType, unwrap bool) (json.RawMessage, error) {
	n, rest, err := nativeFromBinary(a.t, bin)
	if err != nil {
		return nil, fmt.Errorf("Avro data does not match schema %s: %v", a.t.Name, err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("Avro data does not match schema %s: %d bytes left over", a.t.Name, len(rest))
	}
	if unwrap && a.t.Kind == "record" && len(a.t.Fields) == 1 {
		m, _ := n.(map[string]any)
		f := a.t.Fields[0]
		return appendNativeJSON(nil, f.Type, nil, m[f.Name])
	}
	return appendNativeJSON(nil, a.t, r, n)
}

// schemaFile is <schema.path>/<namespace as dirs>/<Name>.avsc.
func (e *Engine) schemaFile(full string) string {
	parts := strings.Split(full, ".")
	return filepath.Join(append([]string{e.schemaPath()}, parts...)...) + ".avsc"
}

func (e *Engine) loadFile(full string) ([]byte, error) {
	p := e.schemaFile(full)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.Usagef("schema %s not found: no file %s", full, p)
	}
	if err != nil {
		return nil, errs.Usagef("schema %s: %w", full, err)
	}
	return b, nil
}

// resolveName finds the full name for a schema given by name and namespace;
// a bare name without namespace is searched for under schema.path.
func (e *Engine) resolveName(name, ns string) (string, error) {
	if name == "" {
		return "", errs.Usagef("no schema given: use --schema NAME (or configure the topic's schema)")
	}
	full := avro.FullName(name, ns)
	if strings.Contains(full, ".") {
		return full, nil
	}
	if _, err := os.Stat(e.schemaFile(full)); err == nil {
		return full, nil
	}
	e.mu.Lock()
	f, ok := e.findName[name]
	e.mu.Unlock()
	if ok {
		return f, nil
	}
	var hits []string
	root := e.schemaPath()
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == name+".avsc" {
			rel, _ := filepath.Rel(root, strings.TrimSuffix(p, ".avsc"))
			hits = append(hits, strings.ReplaceAll(filepath.ToSlash(rel), "/", "."))
		}
		return nil
	})
	switch len(hits) {
	case 0:
		return "", errs.Usagef("schema %s not found: no %s.avsc under %s (give --namespace or check schema.path)", name, name, root)
	case 1:
		e.mu.Lock()
		e.findName[name] = hits[0]
		e.mu.Unlock()
		return hits[0], nil
	}
	return "", errs.Usagef("schema %s is ambiguous under %s: %s (give --namespace)", name, root, strings.Join(hits, ", "))
}

// LocalSchema returns the local Avro schema (from schema.path), cached.
func (e *Engine) localSchema(name, ns string) (*avroSchema, error) {
	full, err := e.resolveName(name, ns)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	a, ok := e.avro["file:"+full]
	e.mu.Unlock()
	if ok {
		return a, nil
	}
	b, err := e.loadFile(full)
	if err != nil {
		return nil, err
	}
	p, fileOf := e.fileParser(full)
	t, err := p.Parse(e.schemaFile(full), b)
	if err != nil {
		var ke *errs.Error
		if errors.As(err, &ke) {
			return nil, err
		}
		return nil, errs.Usagef("schema %s: %w", full, err)
	}
	if t.Name != full {
		return nil, errs.Usagef("schema file %s defines %q, expected %s", e.schemaFile(full), t.Name, full)
	}
	a, err = newAvroSchema(t)
	if err != nil {
		return nil, errs.Usagef("schema %s: %w", full, err)
	}
	a.src = b
	// its references: the files defining the named types it uses (a type
	// defined inside another type's file comes with that file, as registry
	// references bring every type their schema defines)
	for _, n := range p.Uses(e.schemaFile(full)) {
		if d := fileOf[p.DefinedIn(n)]; d != "" && !slices.Contains(a.refs, d) {
			a.refs = append(a.refs, d)
		}
	}
	e.mu.Lock()
	e.avro["file:"+full] = a
	e.mu.Unlock()
	return a, nil
}

// fileParser is a parser that loads the named types a schema file uses
// from their own files under schema.path (<namespace as dirs>/<Name>.avsc);
// fileOf maps each file it loaded to the full name it was loaded for. top
// is the schema being parsed: a reference to it is not loaded again.
func (e *Engine) fileParser(top string) (*avro.Parser, map[string]string) {
	fileOf := map[string]string{}
	p := &avro.Parser{Load: func(full string) (string, []byte, error) {
		if full == top {
			return "", nil, fmt.Errorf("unknown type %q", full)
		}
		b, err := e.loadFile(full)
		if err != nil {
			return "", nil, err
		}
		f := e.schemaFile(full)
		fileOf[f] = full
		return f, b, nil
	}}
	return p, fileOf
}

// AvroSchemaText returns the fully-resolved JSON of a local schema.
func (e *Engine) AvroSchemaText(name, ns string) (string, error) {
	a, err := e.localSchema(name, ns)
	if err != nil {
		return "", err
	}
	return a.text, nil
}

// readerFor returns the local schema with this full name, or nil.
func (e *Engine) readerFor(full string) *aType {
	if full == "" {
		return nil
	}
	e.mu.Lock()
	a, ok := e.avro["file:"+full]
	miss := e.noLocal[full]
	e.mu.Unlock()
	if ok {
		return a.t
	}
	if miss {
		return nil
	}
	if _, err := os.Stat(e.schemaFile(full)); err == nil {
		if a, err := e.localSchema(full, ""); err == nil {
			return a.t
		}
	}
	e.mu.Lock()
	if len(e.noLocal) >= maxNoLocal {
		clear(e.noLocal) // names come from the data (container files, registry): keep it bounded
	}
	e.noLocal[full] = true
	e.mu.Unlock()
	return nil
}

// keySchema is the key schema for key_config field (generated) or schema
// (a local schema, or an Avro primitive type such as "string" or "long").
func (e *Engine) keySchema(s Spec) (*avroSchema, error) {
	if p := s.KeyConfig.Primitive(); p != "" {
		return e.primitiveSchema(p)
	}
	if s.KeyConfig.Schema != "" {
		return e.localSchema(s.KeyConfig.Schema, s.Namespace)
	}
	val, err := e.localSchema(s.Schema, s.Namespace)
	if err != nil {
		return nil, err
	}
	k := "key:" + val.t.Name + ":" + s.KeyConfig.Field
	e.mu.Lock()
	a, ok := e.avro[k]
	e.mu.Unlock()
	if ok {
		return a, nil
	}
	kj, err := AvroKeySchema([]byte(val.text), s.KeyConfig.Field)
	if err != nil {
		return nil, errs.Usagef("key_config field: %w", err)
	}
	p, _ := e.fileParser("")
	t, err := p.Parse(val.t.Name+" key schema", kj)
	if err != nil {
		return nil, errs.Usagef("key schema for %s: %w", val.t.Name, err)
	}
	if a, err = newAvroSchema(t); err != nil {
		return nil, errs.Usagef("key schema for %s: %w", val.t.Name, err)
	}
	e.mu.Lock()
	e.avro[k] = a
	e.mu.Unlock()
	return a, nil
}

// primitiveSchema is the schema of an Avro primitive type; its text (what is
// registered) is the quoted type name, "string", as Confluent's serializers
// register primitive schemas.
func (e *Engine) primitiveSchema(name string) (*avroSchema, error) {
	k := "prim:" + name
	e.mu.Lock()
	a, ok := e.avro[k]
	e.mu.Unlock()
	if ok {
		return a, nil
	}
	kind, _ := avro.PrimitiveKind(name)
	a, err := newAvroSchema(&aType{Kind: kind})
	if err != nil {
		return nil, errs.Usagef("key schema %s: %w", name, err)
	}
	e.mu.Lock()
	e.avro[k] = a
	e.mu.Unlock()
	return a, nil
}

// writerSchema is the Avro schema of a registry id (references resolved).
func (e *Engine) writerSchema(ctx context.Context, id int, s sr.Schema) (*avroSchema, error) {
	e.mu.Lock()
	a, ok := e.writers[id]
	e.mu.Unlock()
	if ok {
		return a, nil
	}
	p, err := e.referencedTypes(ctx, s.References)
	if err != nil {
		return nil, err
	}
	t, err := p.Parse("registered schema", []byte(s.Schema))
	if err != nil {
		return nil, errs.Failedf("schema id %d: %w", id, err)
	}
	if a, err = newAvroSchema(t); err != nil {
		return nil, errs.Failedf("schema id %d: %w", id, err)
	}
	e.mu.Lock()
	e.writers[id] = a
	e.mu.Unlock()
	return a, nil
}

// maxReferenceDepth bounds chains of registry references.
const maxReferenceDepth = 32

// referencedTypes parses a schema's registry references, and theirs,
// dependencies first, into a symbol table the schema is then parsed with (as
// Confluent's clients resolve references: every type any of them defines is
// known, not only the referenced names).
func (e *Engine) referencedTypes(ctx context.Context, refs []sr.SchemaReference) (*avro.Parser, error) {
	p := &avro.Parser{Load: func(full string) (string, []byte, error) {
		return "", nil, fmt.Errorf("unknown type %q (not among the schema's references)", full)
	}}
	seen := map[string]bool{}
	var visit func(refs []sr.SchemaReference, depth int) error
	visit = func(refs []sr.SchemaReference, depth int) error {
		if depth > maxReferenceDepth {
			return errs.Failedf("schema references nested deeper than %d", maxReferenceDepth)
		}
		for _, r := range refs {
			k := fmt.Sprintf("%s@%d", r.Subject, r.Version)
			if seen[k] {
				continue
			}
			seen[k] = true
			ss, err := e.reg.SchemaByVersion(ctx, r.Subject, r.Version)
			if err != nil {
				return registryError("reference "+r.Subject, err)
			}
			if err := visit(ss.Schema.References, depth+1); err != nil {
				return err
			}
			if _, ok := p.Defined()[r.Name]; ok {
				continue
			}
			if _, err = p.Parse(r.Name, []byte(ss.Schema.Schema)); err != nil {
				return errs.Failedf("reference %s (%s version %d): %w", r.Name, r.Subject, r.Version, err)
			}
		}
		return nil
	}
	if err := visit(refs, 0); err != nil {
		return nil, err
	}
	return p, nil
}

// maxAvroBlockCount bounds the item count of one array or map block: the
// reader refuses more (no Kafka message holds more items in one block, and
// the count comes from the data) and the writer starts a new block there.
const maxAvroBlockCount = 1 << 20

// avroBackend serves avro_local (container files), avro_schema_registry
// (Confluent framing) and avro_validation (validated JSON text).
type avroBackend struct {
	e    *Engine
	wire string // default wire: ocf, confluent, json
	// resolved schemas and subjects per spec (schemas are cached for the
	// engine's life anyway): saves the name lookups on every message
	cache sync.Map // avroSpecKey -> avroSpecEntry
	// the last value and key entries (a stream has one spec): no hashing
	last [2]atomic.Pointer[avroSpecCached]
}

type avroSpecCached struct {
	k   avroSpecKey
	ent avroSpecEntry
}

type avroSpecKey struct {
	key                                 bool
	topic, schema, ns, field, keySchema string
}

type avroSpecEntry struct {
	sch     *avroSchema
	subject string
}

func (a *avroBackend) resolve(s Spec, key bool) (avroSpecEntry, error) {
	k := avroSpecKey{key: key, topic: s.Topic, schema: s.Schema, ns: s.Namespace}
	if key {
		k.field, k.keySchema = s.KeyConfig.Field, s.KeyConfig.Schema
	}
	slot := &a.last[0]
	if key {
		slot = &a.last[1]
	}
	if c := slot.Load(); c != nil && c.k == k {
		return c.ent, nil
	}
	if v, ok := a.cache.Load(k); ok {
		slot.Store(&avroSpecCached{k: k, ent: v.(avroSpecEntry)})
		return v.(avroSpecEntry), nil
	}
	var ent avroSpecEntry
	var err error
	if key {
		ent.sch, err = a.e.keySchema(s)
		ent.subject = a.e.KeySubject(s)
	} else {
		ent.sch, err = a.e.localSchema(s.Schema, s.Namespace)
		ent.subject = a.e.ValueSubject(s)
	}
	if err != nil {
		return ent, err
	}
	a.cache.Store(k, ent)
	return ent, nil
}

// encodeText is textEncoder's: a record value written by appendRecordJSON
// when the map path would give the same bytes (nothing to auto-fill, the
// key field present).
func (a *avroBackend) encodeText(s Spec, src []byte, keyField string) (fastValue, bool) {
	fv := fastValue{enc: a, wire: s.Wire}
	if fv.wire == "" {
		fv.wire = a.wire
	}
	if fv.wire == "json" {
		return fv, false
	}
	ent, err := a.resolve(s, false)
	if err != nil || ent.sch.t.Kind != "record" {
		return fv, false
	}
	buf, info, ok := appendRecordJSON(ent.sch.newBuf(), ent.sch.t, src, keyField)
	if !ok {
		return fv, false
	}
	t := ent.sch.t
	if _, has := t.FieldIndex["message_id"]; has && info.midBlank {
		return fv, false // auto-filled
	}
	if _, has := t.FieldIndex["timestamp"]; has && info.tsBlank {
		return fv, false
	}
	if keyField != "" {
		if !info.keyFound || info.key == nil {
			return fv, false
		}
		fv.key = info.key
	}
	fv.ent, fv.buf, fv.order = ent, buf, info.order
	return fv, true
}

// frameText is textEncoder's.
func (a *avroBackend) frameText(ctx context.Context, v fastValue) ([]byte, int, error) {
	return a.frameBinary(ctx, v.ent.sch, v.buf, v.ent.subject, v.wire)
}

func (a *avroBackend) frame(ctx context.Context, sch *avroSchema, payload any, subject, wire string) ([]byte, int, error) {
	if wire == "" {
		wire = a.wire
	}
	ord := keyOrderOf(ctx)
	if wire == "json" {
		// checked and converted as for binary, then printed as decode prints
		// it (maps keep the input order)
		bin, err := sch.appendPayload(nil, payload, ord)
		if err != nil {
			return nil, 0, err
		}
		b, err := sch.appendDirect(nil, bin, false)
		if err == nil && sch.deep {
			err = nesting.CheckJSON(b) // what decode checks for this wire
		}
		return b, 0, err
	}
	// Avro binary is written straight from the payload (avro_write.go),
	// after 5 bytes kept for a Confluent header.
	buf, err := sch.appendPayload(sch.newBuf(), payload, ord)
	if err != nil {
		return nil, 0, err
	}
	return a.frameBinary(ctx, sch, buf, subject, wire)
}

// newBuf is an output buffer with 5 bytes kept for a Confluent header.
func (sch *avroSchema) newBuf() []byte {
	hint := int(sch.sizeHint.Load())
	return make([]byte, 5, 5+hint+hint/4+16)
}

// frameBinary frames Avro binary written after newBuf's 5 bytes for wire
// (raw, ocf or confluent).
func (a *avroBackend) frameBinary(ctx context.Context, sch *avroSchema, buf []byte, subject, wire string) ([]byte, int, error) {
	var err error
	if sch.deep {
		// never write what decode refuses: the same check, on the same bytes
		if _, err := checkBinary(sch.t, buf[5:], 0); err != nil {
			return nil, 0, err
		}
	}
	if n := int64(len(buf) - 5); n > sch.sizeHint.Load() {
		sch.sizeHint.Store(n)
	}
	switch wire {
	case "raw":
		return buf[5:], 0, nil
	case "ocf":
		return ocfWrite(sch.text, buf[5:]), 0, nil
	case "confluent":
		var id int
		if v, ok := sch.ids.Load(subject); ok {
			id = v.(int)
		} else {
			if id, err = a.e.avroID(ctx, subject, sch); err != nil {
				return nil, 0, err
			}
			sch.ids.Store(subject, id)
		}
		buf[0] = 0
		binary.BigEndian.PutUint32(buf[1:5], uint32(id))
		return buf, id, nil
	}
	return nil, 0, errs.Usagef("unknown wire %q (confluent, raw, ocf)", wire)
}

func (a *avroBackend) encodeValue(ctx context.Context, s Spec, payload any) ([]byte, int, error) {
	ent, err := a.resolve(s, false)
	if err != nil {
		return nil, 0, err
	}
	return a.frame(ctx, ent.sch, payload, ent.subject, s.Wire)
}

func (a *avroBackend) encodeKey(ctx context.Context, s Spec, key any) ([]byte, int, error) {
	ent, err := a.resolve(s, true)
	if err != nil {
		return nil, 0, err
	}
	sch := ent.sch
	if f := s.KeyConfig.Field; f != "" && a.wire != "json" && sch.t.Kind == "record" && len(sch.t.Fields) == 1 && sch.t.Fields[0].Name == f {
		// what appendPayload does with {f: key}, without the map
		fl := sch.t.Fields[0]
		buf, err := appendAvroField(sch.newBuf(), fl.Type, key, avro.ShortName(sch.t.Name), fl.Name, keyOrderOf(ctx))
		if err != nil {
			return nil, 0, err
		}
		return a.frameBinary(ctx, sch, buf, ent.subject, a.wire)
	}
	if s.KeyConfig.Field != "" {
		key = map[string]any{s.KeyConfig.Field: key}
	} else if _, ok := key.(map[string]any); !ok && sch.t.Kind == "record" && len(sch.t.Fields) == 1 {
		key = map[string]any{sch.t.Fields[0].Name: key}
	}
	if m, ok := key.(map[string]any); ok && sch.t.Kind == "record" {
		for k := range m {
			if _, ok := sch.t.FieldIndex[k]; !ok {
				return nil, 0, &FieldError{Path: avro.ShortName(sch.t.Name) + "." + k, Expected: "no such field in " + avro.ShortName(sch.t.Name), Found: found(m[k])}
			}
		}
	}
	return a.frame(ctx, sch, key, ent.subject, "")
}

func (a *avroBackend) fields(ctx context.Context, s Spec) ([]FieldInfo, error) {
	ent, err := a.resolve(s, false) // the value schema, cached per spec (autoFill asks per message)
	if err != nil {
		return nil, err
	}
	return ent.sch.fields, nil
}

func avroFields(t *aType) []FieldInfo {
	if t.Kind != "record" {
		return nil
	}
	out := make([]FieldInfo, len(t.Fields))
	for i, f := range t.Fields {
		ft, nullable := f.Type, false
		if ft.Kind == "union" {
			for _, br := range ft.Branches {
				if br.Kind == "null" {
					nullable = true
				}
			}
			for _, br := range ft.Branches {
				if br.Kind != "null" {
					ft = br
					break
				}
			}
		}
		typ := string(ft.Kind)
		if ft.Logical != "" {
			typ = ft.Logical
		}
		out[i] = FieldInfo{Name: f.Name, Type: typ, Nullable: nullable}
	}
	return out
}

func (a *avroBackend) decodeValue(ctx context.Context, s Spec, b []byte) (json.RawMessage, Format, error) {
	var sch func() (*avroSchema, error)
	if s.Schema != "" {
		sch = func() (*avroSchema, error) { return a.e.localSchema(s.Schema, s.Namespace) }
	}
	return a.decode(ctx, s.Wire, b, sch, false)
}

func (a *avroBackend) decodeKey(ctx context.Context, s Spec, b []byte) (json.RawMessage, Format, error) {
	sch := func() (*avroSchema, error) { return a.e.keySchema(s) }
	return a.decode(ctx, "", b, sch, s.KeyConfig.Field != "")
}

func (a *avroBackend) decode(ctx context.Context, wire string, b []byte, local func() (*avroSchema, error), unwrap bool) (json.RawMessage, Format, error) {
	if wire == "" {
		wire = a.detectWire(b, local != nil)
	}
	switch wire {
	case "ocf":
		return a.e.decodeOCF(b, unwrap)
	case "confluent":
		return a.e.decodeConfluent(ctx, b, unwrap)
	case "json":
		return decodeJSON(b)
	case "raw":
		if local == nil {
			return nil, Format{}, errs.Usagef("bare Avro binary needs a schema: give --schema")
		}
		sch, err := local()
		if err != nil {
			return nil, Format{}, err
		}
		j, err := sch.decode(b, nil, unwrap)
		if err != nil {
			return nil, Format{}, errs.Failed(err)
		}
		return j, Format{Wire: "raw", SchemaType: "AVRO", Schema: sch.t.Name, PayloadBytes: len(b)}, nil
	}
	return nil, Format{}, errs.Usagef("unknown wire %q (confluent, raw, ocf)", wire)
}

// detectWire is the framing decode reads b as when no wire is given;
// local says a schema was given (bare Avro is then possible).
func (a *avroBackend) detectWire(b []byte, local bool) string {
	switch {
	case bytes.HasPrefix(b, ocfMagic):
		return "ocf"
	case a.wire == "json":
		return "json"
	case len(b) > 0 && b[0] == 0 && (a.e.reg != nil || a.wire == "confluent"):
		return "confluent"
	case local:
		return "raw" // not a container file: bare Avro with the given schema
	}
	return a.wire
}

// detectsConfluent: decode reads b, given no wire, as Confluent-framed
// (confluentDetector, DecodeAppend's fast path).
func (a *avroBackend) detectsConfluent(b []byte) bool { return a.detectWire(b, false) == "confluent" }

const maxOCFItems = 10000

func (e *Engine) decodeOCF(b []byte, unwrap bool) (json.RawMessage, Format, error) {
	f, err := ocfRead(b)
	if err != nil {
		return nil, Format{}, errs.Failed(err)
	}
	w, err := e.ocfWriter(f.schema)
	if err != nil {
		return nil, Format{}, errs.Failed(err)
	}
	t := w.t
	r := e.readerFor(t.Name)
	var items []json.RawMessage
	payload := 0
	for bi, data := range f.blocks {
		payload += len(data)
		rest := data
		for i := int64(0); i < f.counts[bi]; i++ {
			if len(items) >= maxOCFItems {
				return nil, Format{}, errs.Failedf("Avro container file: more than %d items", maxOCFItems)
			}
			if _, err := checkBinary(w.t, rest, 0); err != nil {
				return nil, Format{}, errs.Failedf("Avro container file: %w", avroDataErr(t.Name, err))
			}
			n, more, err := nativeFromBinary(w.t, rest)
			if err != nil {
				return nil, Format{}, errs.Failedf("Avro container file: datum does not match schema %s: %v", t.Name, err)
			}
			used := rest[:len(rest)-len(more)]
			rest = more
			var j json.RawMessage
			if unwrap {
				j, err = w.decode(used, nil, true)
			} else {
				j, err = appendNativeJSON(nil, w.t, r, n)
			}
			if err != nil {
				return nil, Format{}, errs.Failed(err)
			}
			items = append(items, j)
		}
	}
	format := Format{Wire: "ocf", SchemaType: "AVRO", Schema: t.Name, HeaderBytes: f.headerSize, PayloadBytes: payload}
	switch len(items) {
	case 0:
		return nil, format, errs.Failedf("Avro container file holds no data")
	case 1:
		return items[0], format, nil
	}
	out := []byte{'['}
	for i, it := range items {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, it...)
	}
	return append(out, ']'), format, nil
}

// decodeConfluent decodes 0x00 + id + payload of any registered schema type.
func (e *Engine) decodeConfluent(ctx context.Context, b []byte, unwrap bool) (json.RawMessage, Format, error) {
	id, rest, err := ConfluentUnframe(b)
	if err != nil {
		return nil, Format{}, errs.Failed(err)
	}
	s, subject, version, err := e.SchemaByID(ctx, id)
	if err != nil {
		return nil, Format{}, err
	}
	switch s.Type {
	case sr.TypeAvro:
		w, err := e.writerSchema(ctx, id, s)
		if err != nil {
			return nil, Format{}, err
		}
		if !unwrap && strings.HasSuffix(w.t.Name, "_key") && len(w.t.Fields) == 1 && strings.HasSuffix(w.t.Doc, "autogenerated by Deimos") {
			unwrap = true
		}
		j, err := w.decode(rest, e.readerFor(w.t.Name), unwrap)
		if err != nil {
			return nil, Format{}, errs.Failedf("schema id %d: %w", id, err)
		}
		return j, Format{Wire: "confluent", SchemaType: "AVRO", SchemaID: id, Subject: subject, Version: version,
			Schema: w.t.Name, HeaderBytes: 5, PayloadBytes: len(rest)}, nil
	case sr.TypeJSON:
		j, f, err := decodeJSON(rest)
		if err != nil {
			return nil, f, err
		}
		return j, Format{Wire: "confluent", SchemaType: "JSON", SchemaID: id, Subject: subject, Version: version,
			HeaderBytes: 5, PayloadBytes: len(rest)}, nil
	case sr.TypeProtobuf:
		be, err := e.backend("proto_schema_registry")
		if err != nil {
			return nil, Format{}, errs.Failedf("schema id %d is a PROTOBUF schema but protobuf decoding is not available in this build", id)
		}
		rd, ok := be.(registryDecoder)
		if !ok {
			return nil, Format{}, errs.Failedf("schema id %d is a PROTOBUF schema but protobuf decoding is not available in this build", id)
		}
		j, f, err := rd.decodeRegistered(ctx, id, s, rest, unwrap)
		if err == nil && f.Subject == "" {
			f.Subject, f.Version = subject, version
		}
		return j, f, err
	}
	return nil, Format{}, errs.Failedf("schema id %d has unsupported type %s", id, s.Type)
}
