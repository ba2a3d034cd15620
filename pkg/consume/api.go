// Package consume reads topics, decodes keys and values through the encode
// engine and hands records to an output or a sink.
package consume

import (
	"context"

	"github.com/deimos-cli/deimos/pkg/envelope"
)

// Header and Record are the envelope package's: the record a handler gets
// is the one the envelope format and the printer write.
type (
	Header = envelope.Header
	Record = envelope.Record
)

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
