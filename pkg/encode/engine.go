package encode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/avro"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// Engine is the encode engine. It is safe for concurrent use.
type Engine struct {
	cfg     *config.Config
	reg     *sr.Client
	now     func() time.Time
	newUUID func() string

	ctors    map[string]backendCtor // the backends this Engine can build (builtinBackends)
	bmu      sync.Mutex
	backends map[string]backend

	mu       sync.Mutex
	avro     map[string]*avroSchema // by "file:<full name>" / "key:<value full>:<field>"
	noLocal  map[string]bool        // full names with no local schema file
	ids      map[string]int         // subject + "\x00" + schema text -> id
	byID     map[int]*registered
	writers  map[int]*avroSchema    // registry writer schemas by id
	findName map[string]string      // short name -> full name found by searching schema.path
	ocf      map[string]*avroSchema // container-file writer schemas by schema text (bounded, see ocfWriter)
	unknown  map[int]time.Time      // schema ids the registry answered 404 for, until when (bounded)

	regMu    sync.Mutex                  // serializes Avro registrations (avro_register.go)
	avroRegs map[string]sr.SubjectSchema // subject + "\x00" + resolved text -> version found or registered (under regMu)

	fastc fastCache // DecodeAppend's lock-free lookups
}

// Bounds of the caches that hostile input can grow.
const (
	maxNoLocal      = 1024
	maxUnknownIDs   = 1024
	unknownIDMaxAge = 30 * time.Second
)

type registered struct {
	schema   sr.Schema
	subject  string
	version  int
	resolved bool
}

var _ Interface = (*Engine)(nil)

// New builds an Engine. Config may be nil (defaults: schema path "schemas").
func New(o Options) (*Engine, error) {
	cfg := o.Config
	if cfg == nil {
		cfg = &config.Config{}
	}
	e := &Engine{cfg: cfg, reg: o.Registry, now: o.Now, newUUID: o.NewUUID, ctors: builtinBackends(),
		backends: map[string]backend{}, avro: map[string]*avroSchema{}, noLocal: map[string]bool{},
		ids: map[string]int{}, avroRegs: map[string]sr.SubjectSchema{}, byID: map[int]*registered{}, writers: map[int]*avroSchema{}, findName: map[string]string{}, unknown: map[int]time.Time{}}
	if e.now == nil {
		e.now = time.Now
	}
	if e.newUUID == nil {
		e.newUUID = func() string { return uuid.NewString() }
	}
	for _, t := range cfg.Topics {
		if err := t.KeyConfig.Validate(); err != nil {
			return nil, errs.Usagef("topic %s: %w", t.Name, err)
		}
	}
	return e, nil
}

// Config returns the engine's config.
func (e *Engine) Config() *config.Config { return e.cfg }

// Registry returns the registry client (nil when none is configured).
func (e *Engine) Registry() *sr.Client { return e.reg }

func (e *Engine) schemaPath() string {
	if e.cfg.Schema.Path == "" {
		return "schemas"
	}
	return e.cfg.Schema.Path
}

// backendName picks the backend: the spec's, the config's, else avro_local
// for a named schema and json without one.
func (e *Engine) backendName(s Spec) string {
	if s.Backend != "" {
		return s.Backend
	}
	if e.cfg.Schema.Backend != "" {
		return e.cfg.Schema.Backend
	}
	if s.Schema != "" {
		return "avro_local"
	}
	return "json"
}

func (e *Engine) backend(name string) (backend, error) {
	e.bmu.Lock()
	defer e.bmu.Unlock()
	if b, ok := e.backends[name]; ok {
		return b, nil
	}
	ctor, ok := e.ctors[name]
	if !ok {
		known := false
		for _, n := range config.Backends {
			known = known || n == name
		}
		if known {
			return nil, errs.Usagef("backend %s is not available in this build", name)
		}
		return nil, errs.Usagef("unknown backend %q (one of %s)", name, strings.Join(config.Backends, ", "))
	}
	b := ctor(e)
	e.backends[name] = b
	return b, nil
}

// SpecFor returns the spec of a configured topic (prefixed or not).
func (e *Engine) SpecFor(topic string) (Spec, bool) {
	if t, ok := e.cfg.TopicByName(topic); ok {
		b := t.Backend
		if b == "" {
			b = e.cfg.Schema.Backend
		}
		return Spec{Topic: t.Name, Backend: b, Schema: t.Schema, Namespace: t.Namespace, KeyConfig: t.KeyConfig}, true
	}
	name := topic
	if p := e.cfg.Producers.TopicPrefix; p != "" && strings.HasPrefix(name, p) {
		name = strings.TrimPrefix(name, p)
	}
	return Spec{Topic: name, Backend: e.cfg.Schema.Backend}, false
}

// FullTopic is the topic with producers.topic_prefix.
func (e *Engine) FullTopic(topic string) string {
	if topic == "" {
		return ""
	}
	return e.cfg.Producers.TopicPrefix + topic
}

// ValueSubject is "<prefix><topic>-value", or "<ns>.<Schema>-value" without a topic.
func (e *Engine) ValueSubject(s Spec) string {
	if s.Topic == "" {
		return avro.FullName(s.Schema, s.Namespace) + "-value"
	}
	return e.cfg.Producers.TopicPrefix + s.Topic + "-value"
}

// KeySubject is "<prefix><topic>-key" (key_subject: prefixed, the default) or
// "<topic>-key" (unprefixed, Deimos 2.x).
func (e *Engine) KeySubject(s Spec) string {
	if s.Topic == "" {
		return avro.FullName(s.Schema, s.Namespace) + "-key"
	}
	if e.cfg.Schema.KeySubject == "unprefixed" {
		return s.Topic + "-key"
	}
	return e.cfg.Producers.TopicPrefix + s.Topic + "-key"
}

// parseValue turns a Message.Value into JSON values, recording the key order
// of JSON objects in ord.
func parseValue(v any, backendName string, ord *keyOrder) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case Text:
		if backendName == "plain" {
			if len(strings.TrimSpace(string(x))) == 0 {
				return nil, nil
			}
			return string(x), nil // text is its own string form
		}
		return parseValue([]byte(x), backendName, ord)
	case json.RawMessage:
		return parseValue([]byte(x), backendName, ord)
	case []byte:
		if len(strings.TrimSpace(string(x))) == 0 {
			return nil, nil
		}
		p, err := parseJSONOrdered(x, ord)
		if err != nil {
			if backendName == "plain" {
				return string(x), nil
			}
			return nil, fmt.Errorf("payload is not valid JSON: %v", err)
		}
		return p, nil
	case map[string]any:
		return x, nil
	}
	return v, nil
}

// Encode encodes one message in Deimos's order (docs/deimos-compat.md §5.4):
// payload_key, auto-filled fields,
// tombstones, key_config, value, partition key, topic prefix.
func (e *Engine) Encode(ctx context.Context, s Spec, m Message) (Encoded, error) {
	name := e.backendName(s)
	be, err := e.backend(name)
	if err != nil {
		return Encoded{}, err
	}
	if err := CheckWire(name, s.Wire); err != nil {
		return Encoded{}, errs.Usagef("wire %s cannot be written by backend %s: %w", s.Wire, name, err)
	}
	s.Backend = name
	out := Encoded{Topic: e.FullTopic(s.Topic)}
	mode := s.KeyConfig.Mode()
	var keyOrd *keyOrder
	if rk, ok := m.Key.(json.RawMessage); ok {
		// a JSON key document: parsed here, so that maps in it keep their order
		keyOrd = &keyOrder{}
		k, err := parseJSONOrdered(rk, keyOrd)
		if err != nil {
			return out, errs.Failedf("key is not valid JSON: %v", err)
		}
		m.Key = k
	}
	rawKey := m.Key
	fast, ok := e.encodeFast(be, s, m, mode)
	if ok {
		rawKey = fast.key
		fast.order.merge(keyOrd)
		if len(fast.order.m) > 0 {
			o := fast.order
			ctx = withKeyOrder(ctx, &o)
		} else {
			ctx = withKeyOrder(ctx, nil)
		}
		return e.finishEncode(ctx, be, s, m, out, mode, rawKey, nil, &fast)
	}
	ord := &keyOrder{}
	ord.merge(keyOrd)
	payload, err := parseValue(m.Value, name, ord)
	if err != nil {
		return out, errs.Failed(err)
	}
	ctx = withKeyOrder(ctx, ord)
	if pm, ok := payload.(map[string]any); ok {
		if pk, has := pm["payload_key"]; has {
			cp := make(map[string]any, len(pm))
			for k, v := range pm {
				if k != "payload_key" {
					cp[k] = v
				}
			}
			ord.follow(cp, pm)
			pm, payload = cp, cp
			if rawKey == nil {
				rawKey = pk
			}
		}
		if len(pm) == 0 {
			payload = nil // blank payload: tombstone
		} else if err := e.autoFill(ctx, be, s, &pm); err != nil {
			return out, err
		} else {
			payload = pm
		}
	}
	if rawKey == nil && mode == "field" {
		if pm, ok := payload.(map[string]any); ok {
			rawKey = dig(pm, s.KeyConfig.Field)
		}
	}
	return e.finishEncode(ctx, be, s, m, out, mode, rawKey, payload, nil)
}

// encodeFast asks a backend that can (textEncoder) to encode the value
// straight from its JSON text. keyField is the key_config field whose value
// the key is, when no key was given. ok=false: use the map path.
func (e *Engine) encodeFast(be backend, s Spec, m Message, mode string) (fastValue, bool) {
	te, ok := be.(textEncoder)
	if !ok {
		return fastValue{}, false
	}
	var src []byte
	switch x := m.Value.(type) {
	case Text:
		src = x
	case json.RawMessage:
		src = x
	case []byte:
		src = x
	default:
		return fastValue{}, false
	}
	keyField := ""
	if m.Key == nil && mode == "field" {
		keyField = s.KeyConfig.Field
	}
	fv, ok := te.encodeText(s, src, keyField)
	if !ok {
		return fv, false
	}
	if keyField == "" {
		fv.key = m.Key
	}
	return fv, true
}

// finishEncode encodes the key, then the value (payload, or fast when set).
func (e *Engine) finishEncode(ctx context.Context, be backend, s Spec, m Message, out Encoded, mode string, rawKey, payload any, fast *fastValue) (Encoded, error) {
	switch mode {
	case "", "none":
		if mode == "" && rawKey != nil {
			out.Key = []byte(StringForm(rawKey))
		}
	case "plain":
		if rawKey == nil {
			return out, errs.Failedf("no key given but a key is required (key_config plain); use key_config none to send no key")
		}
		out.Key = []byte(StringForm(rawKey))
	case "field", "schema":
		if rawKey == nil {
			return out, errs.Failedf("no key given but a key is required (key_config %s: %s%s); use key_config none to send no key",
				mode, s.KeyConfig.Field, s.KeyConfig.Schema)
		}
		kb, id, err := be.encodeKey(ctx, s, rawKey)
		if err != nil {
			return out, wrapEncodeErr("key", err)
		}
		out.Key, out.KeySchemaID = kb, id
	}
	if fast != nil {
		vb, id, err := fast.enc.frameText(ctx, *fast)
		if err != nil {
			return out, wrapEncodeErr("value", err)
		}
		out.Value, out.ValueSchemaID = vb, id
	} else if payload != nil {
		vb, id, err := be.encodeValue(ctx, s, payload)
		if err != nil {
			return out, wrapEncodeErr("value", err)
		}
		out.Value, out.ValueSchemaID = vb, id
	}
	switch {
	case m.PartitionKey != nil:
		out.PartitionKey = []byte(*m.PartitionKey)
	case rawKey != nil:
		out.PartitionKey = partitionKeyBytes(rawKey)
	}
	return out, nil
}

// partitionKeyBytes is []byte(StringForm(v)) with one allocation for the
// common keys (a database id, a JSON number or string).
func partitionKeyBytes(v any) []byte {
	switch x := v.(type) {
	case string:
		return []byte(x)
	case int64:
		return strconv.AppendInt(make([]byte, 0, 20), x, 10)
	case json.Number:
		return []byte(x)
	}
	return []byte(StringForm(v))
}

// wrapEncodeErr keeps kinds from backends and marks the rest as failures.
func wrapEncodeErr(part string, err error) error {
	var ke *errs.Error
	if errors.As(err, &ke) {
		return err
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return errs.Failed(err)
	}
	return errs.Failedf("%s: %w", part, err)
}

// dig follows a dotted path (Deimos 2.x key fields like "a.b").
func dig(m map[string]any, path string) any {
	if v, ok := m[path]; ok {
		return v
	}
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

// StringForm is the one rule for a value's string form, Deimos's to_s: what
// the plain backend sends as a value or key, what key_config plain sends, and
// the partition key. Strings (and Text, []byte) are their bytes as they are,
// numbers are decimal, booleans true/false, times RFC 3339, and anything else
// (objects, arrays) compact JSON with object keys sorted and no HTML escaping.
// Deimos used Ruby's inspect for hashes; JSON does not depend on a Ruby version.
func StringForm(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case Text:
		return string(x)
	case []byte:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	if n, ok := asNumber(v); ok {
		if n.isInt {
			return strconv.FormatInt(n.i, 10)
		}
		return strconv.FormatFloat(n.f, 'g', -1, 64)
	}
	b, err := marshalJSON(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// TimestampString is Deimos's string form of an auto-filled timestamp:
// "YYYY-MM-DD HH:MM:SS ±HHMM", or "... UTC" when the zone is UTC.
func TimestampString(t time.Time) string {
	if _, off := t.Zone(); off == 0 {
		return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
	}
	return t.Format("2006-01-02 15:04:05 -0700")
}

func blank(v any, present bool) bool {
	if !present || v == nil {
		return true
	}
	s, ok := v.(string)
	return ok && strings.TrimSpace(s) == ""
}

// autoFill sets message_id and timestamp when they are schema fields and blank.
func (e *Engine) autoFill(ctx context.Context, be backend, s Spec, pm *map[string]any) error {
	m := *pm
	mid, hasMid := m["message_id"]
	ts, hasTs := m["timestamp"]
	if !blank(mid, hasMid) && !blank(ts, hasTs) {
		return nil
	}
	fields, err := be.fields(ctx, s)
	if err != nil || fields == nil {
		return err
	}
	copied := false
	set := func(k string, v any) {
		if !copied {
			cp := make(map[string]any, len(m)+2)
			for k, v := range m {
				cp[k] = v
			}
			m, copied = cp, true
		}
		m[k] = v
	}
	for _, f := range fields {
		switch {
		case f.Name == "message_id" && blank(mid, hasMid):
			set(f.Name, e.newUUID())
		case f.Name == "timestamp" && blank(ts, hasTs):
			now := e.now()
			switch f.Type {
			case "string":
				set(f.Name, TimestampString(now))
			case "timestamp-millis", "timestamp-micros", "long":
				set(f.Name, now)
			}
		}
	}
	if copied {
		keyOrderOf(ctx).follow(m, *pm) // filled fields after the payload's own, in its order
	}
	*pm = m
	return nil
}

// FieldNames lists the top-level fields of the spec's value schema.
func (e *Engine) FieldNames(ctx context.Context, s Spec) ([]string, error) {
	be, err := e.backend(e.backendName(s))
	if err != nil {
		return nil, err
	}
	s.Backend = e.backendName(s)
	fs, err := be.fields(ctx, s)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out, nil
}

// Fields lists the top-level fields with their types.
func (e *Engine) Fields(ctx context.Context, s Spec) ([]FieldInfo, error) {
	be, err := e.backend(e.backendName(s))
	if err != nil {
		return nil, err
	}
	s.Backend = e.backendName(s)
	return be.fields(ctx, s)
}
