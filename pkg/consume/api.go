// Package consume reads topics, decodes keys and values through the encode
// engine and hands records to an output or a sink.
package consume

import (
	"context"
	"encoding/json"
	"time"
)

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one consumed record, decoded.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	Headers   []Header
	RawKey    []byte          // nil: no key
	RawValue  []byte          // nil: tombstone
	Key       json.RawMessage // decoded key (nil: no key); field keys unwrapped
	Value     json.RawMessage // decoded value (nil: tombstone)
	DecodeErr error           // set when the key or value could not be decoded

	// KeyEncoding and ValueEncoding say how Key and Value represent the bytes
	// (EncJSON: decoded message or compact JSON text; EncString: UTF-8 text as
	// a JSON string; EncBase64: raw bytes as a base64 JSON string).
	KeyEncoding, ValueEncoding string
}

// Handler receives each polled batch in order. With a group, consume commits
// the batch's offsets only after Handle returns nil (at-least-once). An error
// stops consumption with the batch's offsets uncommitted.
type Handler interface {
	Handle(ctx context.Context, batch []Record) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, batch []Record) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, batch []Record) error { return f(ctx, batch) }
