// Package envelope is the record deimos consumes and produces, its JSON-lines
// envelope (what `consume --output json` writes and `produce` reads back,
// docs/consume.md) and the printer of consume's output formats. It imports
// neither consume nor produce, so both use it.
package envelope

import (
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
