// Package encode is the one encode engine behind produce, consume, poller,
// gen-keys and the dev registry: JSON payloads in, wire bytes out, and back,
// for every Deimos schema backend.
//
// This file fixes the engine's public API so other packages can build
// against it; the implementation lives in the other files of the package.
package encode

import (
	"context"
	"encoding/json"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/config"
)

// Spec says how one topic's (or one ad-hoc schema's) messages are encoded.
type Spec struct {
	Topic     string // un-prefixed topic name ("" for an ad-hoc schema)
	Backend   string // a Deimos backend name (config.Backends)
	Schema    string // schema name (Avro record name / protobuf message full name)
	Namespace string // Avro namespace
	KeyConfig config.KeyConfig
	// Wire overrides the value framing for encode: "confluent", "raw" or "ocf" ("" = the backend's).
	Wire string
}

// Options build an Engine.
type Options struct {
	Config   *config.Config
	Registry *sr.Client // nil when no registry is configured
	Now      func() time.Time
	NewUUID  func() string
}

// Text is a payload given as text, such as one input line of produce or
// encode. The plain backend sends it exactly as given (it is its own string
// form, see StringForm); every other backend reads it as a JSON document.
type Text []byte

// Message is one logical message to encode.
type Message struct {
	// Value is the payload: Text (an input line), a JSON document ([]byte or
	// json.RawMessage) or a map[string]any of Go values (string, bool, int64,
	// float64, json.Number, time.Time, []byte, nil, nested maps and slices).
	// nil, JSON null or blank text is a tombstone.
	Value any
	// Key is an explicit key (a JSON-able value, or a json.RawMessage JSON
	// document, which the engine parses keeping the order of its maps); nil
	// derives it per key_config (payload_key in the payload, or the key
	// field's value).
	Key any
	// PartitionKey overrides the partition key; nil derives it (docs/deimos-compat.md §3).
	PartitionKey *string
}

// Encoded is what goes on the wire (or into kafka_messages).
type Encoded struct {
	Topic         string // full topic name, producers.topic_prefix included
	Key           []byte // nil: no key
	Value         []byte // nil: tombstone
	PartitionKey  []byte // what the partitioner hashes (nil: hash Key); the outbox partition_key column
	KeySchemaID   int    // 0 when not registry-framed
	ValueSchemaID int
}

// Format describes how a decoded part was framed (for --explain and envelopes).
type Format struct {
	Wire           string // "confluent", "ocf", "raw", "json", "plain", "protobuf"
	SchemaType     string // "AVRO", "PROTOBUF", "JSON" or ""
	SchemaID       int
	Subject        string
	Version        int
	MessageIndexes []int
	Schema         string // full name of the writer schema
	HeaderBytes    int    // framing bytes before the payload
	PayloadBytes   int
}

// Decoded is a decoded message.
type Decoded struct {
	Key         json.RawMessage // nil: no key; field keys are unwrapped to the field's value
	Value       json.RawMessage // nil: tombstone
	KeyFormat   Format
	ValueFormat Format
}

// FieldError is a value that does not fit the schema: which field, what was
// expected, what was found. Encode errors wrap one when a field is at fault.
type FieldError struct {
	Path     string // e.g. "Widget.price" or "items[2].name"
	Expected string
	Found    string
	Msg      string // extra detail (optional)
}

func (e *FieldError) Error() string {
	s := e.Path + ": expected " + e.Expected + ", found " + e.Found
	if e.Msg != "" {
		s += " (" + e.Msg + ")"
	}
	return s
}

// Interface is what other packages depend on; *Engine implements it.
type Interface interface {
	// SpecFor returns the spec of a configured topic (prefixed or not), or one
	// built from schema defaults when the topic is not configured (ok=false).
	SpecFor(topic string) (s Spec, ok bool)
	Encode(ctx context.Context, s Spec, m Message) (Encoded, error)
	// Decode decodes key and value. With s.Backend set it decodes accordingly;
	// with a zero Spec it detects Confluent framing (through the registry), Avro
	// container files, JSON, and falls back to plain text / bytes.
	Decode(ctx context.Context, s Spec, key, value []byte) (Decoded, error)
	// FieldNames lists the top-level fields of the spec's value schema (the
	// poller and table sinks intersect them with columns).
	FieldNames(ctx context.Context, s Spec) ([]string, error)
}
