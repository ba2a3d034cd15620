package encode

// Backend seam.
//
// Each schema backend (a Deimos backend name: avro_local, avro_schema_registry,
// avro_validation, json, plain, proto_local, proto_schema_registry, and
// deimos's json_schema_local, json_schema_registry) is a value
// implementing `backend`, built per Engine by a constructor listed in
// builtinBackends (below), the one place backends are wired: no init(), no
// package-level registry. A new backend is a type in its own file plus one
// line there.
//
// The Engine does everything that is the same for every backend
// (docs/deimos-compat.md §5):
// parsing the payload, payload_key, tombstones, auto-filled message_id and
// timestamp (driven by fields()), key_config none/plain, partition keys,
// topic prefixes. A backend encodes values and field/schema keys, decodes them,
// and lists fields. Helpers a backend can use (engine.go, registry.go):
//
//	e.cfg, e.reg                      config and registry client (nil: none configured)
//	e.ValueSubject(s), e.KeySubject(s) registry subjects per config
//	e.SchemaID(ctx, subject, sr.Schema) id for a schema, registered on first use when
//	                                  schema.auto_register is on (the default), else looked
//	                                  up; cached per (subject, schema text). Avro schemas go
//	                                  through e.avroID instead (avro_register.go: looked up
//	                                  in any form first, registered as written with references)
//	e.SchemaByID(ctx, id)             the registry's schema for an id (cached)
//	ConfluentFrame(id, indexes, payload), ConfluentUnframe(b)
//	registryError(op, err)            maps registry errors to errs.Unavailable / Failed
//
// A backend that can decode Confluent-framed bytes of its schema type found by
// zero-Spec detection also implements registryDecoder (the Engine calls the
// one registered as "proto_schema_registry" for PROTOBUF ids).

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// FieldInfo is one top-level field of a value schema.
type FieldInfo struct {
	Name string
	// Type is the field's base type: an Avro primitive ("string", "long"...),
	// a logical type ("timestamp-millis", "date"...), "record", "enum",
	// "array", "map", or a protobuf scalar name. Unions report their first
	// non-null branch.
	Type     string
	Nullable bool
}

type backend interface {
	// encodeValue encodes a non-tombstone payload: a map[string]any of JSON
	// values (json.Number for numbers) or, for plain/json, any JSON value.
	// It returns the bytes and the registry schema id (0 when none).
	encodeValue(ctx context.Context, s Spec, payload any) ([]byte, int, error)
	// encodeKey encodes a key for key_config field (key is the field's raw
	// value) or schema (key is usually a map).
	encodeKey(ctx context.Context, s Spec, key any) ([]byte, int, error)
	decodeValue(ctx context.Context, s Spec, b []byte) (json.RawMessage, Format, error)
	// decodeKey decodes a field or schema key; field keys unwrap to the field value.
	decodeKey(ctx context.Context, s Spec, b []byte) (json.RawMessage, Format, error)
	// fields lists the value schema's top-level fields.
	fields(ctx context.Context, s Spec) ([]FieldInfo, error)
}

// textEncoder is a backend that can encode a value straight from its JSON
// text, without parsing it into Go values first, when that certainly gives
// the bytes of the general path (the Avro backends: appendRecordJSON). The
// engine asks for it; a backend without it takes the general path.
type textEncoder interface {
	// encodeText encodes the value src, and finds the value of keyField
	// (when not "") at its top level for the key. ok=false: the general
	// path must encode this value (payload_key, fields to auto-fill, a key
	// field absent, anything unusual).
	encodeText(s Spec, src []byte, keyField string) (v fastValue, ok bool)
	// frameText frames what encodeText wrote (registering the schema when
	// the framing needs its id), once the key is encoded.
	frameText(ctx context.Context, v fastValue) ([]byte, int, error)
}

// fastValue is a value encoded by a textEncoder, not framed yet.
type fastValue struct {
	enc  textEncoder
	ent  avroSpecEntry
	buf  []byte // after newBuf's 5 bytes
	wire string
	key  any // keyField's value (when asked for), else the message's key
	// order is the key order of the JSON objects parsed (for maps in the key)
	order keyOrder
}

// confluentDetector is a backend whose decode hands bytes it detects as
// Confluent-framed to decodeConfluent (the Avro backends); DecodeAppend's
// fast path serves exactly those.
type confluentDetector interface {
	// detectsConfluent reports whether decode, given no wire, reads b as
	// Confluent-framed.
	detectsConfluent(b []byte) bool
}

// registryDecoder decodes Confluent-framed bytes once the schema is known.
// rest is what follows the 5-byte header; isKey asks for field-key unwrapping.
type registryDecoder interface {
	decodeRegistered(ctx context.Context, id int, schema sr.Schema, rest []byte, isKey bool) (json.RawMessage, Format, error)
}

// backendCtor builds a backend for one Engine.
type backendCtor func(*Engine) backend

// builtinBackends is the one place backends are wired: every backend this
// package provides, by Deimos backend name. New copies it into each Engine
// (no package state: an Engine only knows the backends it was built with).
func builtinBackends() map[string]backendCtor {
	return map[string]backendCtor{
		"avro_local":            func(e *Engine) backend { return &avroBackend{e: e, wire: "ocf"} },
		"avro_schema_registry":  func(e *Engine) backend { return &avroBackend{e: e, wire: "confluent"} },
		"avro_validation":       func(e *Engine) backend { return &avroBackend{e: e, wire: "json"} },
		"json":                  func(e *Engine) backend { return &jsonBackend{e: e} },
		"plain":                 func(e *Engine) backend { return &plainBackend{e: e} },
		"proto_local":           func(e *Engine) backend { return newProtoBackend(e, false) },
		"proto_schema_registry": func(e *Engine) backend { return newProtoBackend(e, true) },
		"json_schema_local":     func(e *Engine) backend { return newJSONSchemaBackend(e, false) },
		"json_schema_registry":  func(e *Engine) backend { return newJSONSchemaBackend(e, true) },
	}
}

// wiresOf lists the value framings (Spec.Wire) each backend can write; ""
// (the backend's own) is always allowed. A combination outside this table
// is refused (CheckWire), never silently ignored.
var wiresOf = map[string][]string{
	"avro_local":            {"confluent", "raw", "ocf"},
	"avro_schema_registry":  {"confluent", "raw", "ocf"},
	"avro_validation":       {"confluent", "raw", "ocf"},
	"proto_local":           {"confluent", "raw"},
	"proto_schema_registry": {"confluent", "raw"},
	"json_schema_local":     {"confluent", "raw"},
	"json_schema_registry":  {"confluent", "raw"},
	"json":                  {"raw"},
	"plain":                 {"raw"},
}

// CheckWire reports whether backend can write values framed as wire; the
// error says why not and what to use instead (callers name the flags or
// settings at fault).
func CheckWire(backend, wire string) error {
	ok, known := wiresOf[backend]
	if wire == "" || !known {
		return nil
	}
	for _, w := range ok {
		if w == wire {
			return nil
		}
	}
	why := fmt.Sprintf("backend %s writes %s", backend, strings.Join(ok, " or "))
	switch backend {
	case "json":
		why = "backend json writes bare JSON text with no schema"
		if wire == "confluent" {
			why += "; for Confluent-framed JSON Schema (magic byte, schema id, JSON) use backend json_schema_registry with a .json schema"
		}
	case "plain":
		why = "backend plain writes the payload's text with no schema"
	}
	return fmt.Errorf("%s", why)
}

// CheckSchemaFlag refuses a schema given on the command line together with a
// backend that has no schema (json, plain): the schema would be ignored, and
// a user asking for validation would get none. The flag names are the
// caller's.
func CheckSchemaFlag(backend, schema, backendFlag, schemaFlag string) error {
	if schema == "" || (backend != "json" && backend != "plain") {
		return nil
	}
	hint := ""
	if backend == "json" {
		hint = "; to validate JSON against a JSON Schema use json_schema_local or json_schema_registry"
	}
	return errs.Usagef("%s %s with %s %s: backend %s has no schema, the schema would be ignored%s", schemaFlag, schema, backendFlag, backend, backend, hint)
}
