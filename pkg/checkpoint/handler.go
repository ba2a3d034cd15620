package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/deimos-cli/deimos/pkg/consume"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/envelope"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// Options configure a Handler.
type Options struct {
	Group  string
	Runner Runner
	// Store enables the checkpoint (dedup, events, failures); nil disables.
	Store *Store
	// MaxRetries: nil retries forever with back-off (as Phobos); N records a
	// failure (with a Store) when retry_count reaches N, and moves on.
	MaxRetries *int
	Fields     Fields
	// Backoff gives the wait before retry n+1 (default 1 s doubling to 60 s).
	Backoff func(retry int) time.Duration
	Sleep   func(ctx context.Context, d time.Duration) error
	// OnEvent reports what happened to a message: acknowledged, skipped,
	// already_consumed, retry, failure, failure_exists, gave_up.
	OnEvent func(kind string, m Message, err error)
}

// Handler runs a Runner for each consumed message. It implements consume.Handler.
type Handler struct{ o Options }

// NewHandler checks the options.
func NewHandler(o Options) (*Handler, error) {
	if o.Runner == nil {
		return nil, errs.Usagef("checkpoint: no handler command")
	}
	if o.Store != nil && o.Group == "" {
		return nil, errs.Usagef("--checkpoint needs a consumer group (-g GROUP): events are stored per group")
	}
	if o.MaxRetries != nil && *o.MaxRetries < 0 {
		return nil, errs.Usagef("--max-retries must be 0 or more")
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.Sleep == nil {
		o.Sleep = db.SleepCtx
	}
	if o.OnEvent == nil {
		o.OnEvent = func(string, Message, error) {}
	}
	return &Handler{o: o}, nil
}

// DefaultBackoff is 1 s doubling up to 60 s (Phobos's default back-off).
func DefaultBackoff(retry int) time.Duration {
	d := time.Second << min(retry, 6)
	return min(d, time.Minute)
}

// PayloadOf is the payload text a handler is given for a record: the decoded
// JSON when the value was decoded (schema) or is compact JSON, else the
// message bytes exactly as they are on the topic (pkg/consume represents
// other text as a JSON string and binary as base64; a handler must not see
// that wrapping, and the checksum must be the one Ruby computes over the raw
// string). nil for a tombstone.
func PayloadOf(r consume.Record) []byte {
	switch {
	case r.Value == nil && r.RawValue == nil:
		return nil
	case r.Value != nil && (r.ValueEncoding == envelope.EncJSON || r.ValueEncoding == "") && r.DecodeErr == nil:
		return []byte(r.Value)
	case r.RawValue != nil:
		return r.RawValue
	case r.ValueEncoding == envelope.EncString:
		var s string
		if json.Unmarshal(r.Value, &s) == nil {
			return []byte(s)
		}
	}
	return []byte(r.Value)
}

// MessageFor builds the handler message of a record.
func MessageFor(r consume.Record, group string) Message {
	m := Message{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp, Headers: r.Headers, Group: group}
	if r.Key != nil {
		m.Key = []byte(r.Key)
	} else if r.RawKey != nil {
		m.Key = r.RawKey
	}
	m.Payload = PayloadOf(r)
	if r.DecodeErr != nil {
		m.DecodeErr = r.DecodeErr.Error()
	}
	if m.Payload != nil {
		m.Checksum = Checksum(string(m.Payload))
	}
	return m
}

// Handle runs the handler for each message of the batch in order. It returns
// an error only when the batch must be redelivered: the context ended, or
// the checkpoint store failed.
func (h *Handler) Handle(ctx context.Context, batch []consume.Record) error {
	for _, r := range batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := h.handleOne(ctx, MessageFor(r, h.o.Group)); err != nil {
			return err
		}
	}
	return nil
}

func (h *Handler) handleOne(ctx context.Context, m Message) error {
	st := h.o.Store
	if st != nil && m.Checksum != "" {
		ok, err := st.EventExists(ctx, m.Topic, m.Group, m.Checksum)
		if err != nil {
			return errs.Unavailablef("checkpoint: dedup check for %s/%d@%d: %w", m.Topic, m.Partition, m.Offset, err)
		}
		if ok {
			h.o.OnEvent("already_consumed", m, nil)
			return nil
		}
	}
	for retry := 0; ; retry++ {
		m.RetryCount = retry
		res, err := h.o.Runner.Run(ctx, m)
		if err == nil {
			return h.done(ctx, m, res)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var he *HandlerError
		if errors.As(err, &he) && he.Permanent {
			// The message cannot be handed over (not the handler's doing):
			// running again cannot help, so it is a failure now, even when
			// retrying forever.
			return h.fail(ctx, m, err)
		}
		if h.o.MaxRetries != nil && retry >= *h.o.MaxRetries {
			return h.fail(ctx, m, err)
		}
		h.o.OnEvent("retry", m, err)
		if err := h.o.Sleep(ctx, h.o.Backoff(retry)); err != nil {
			return err
		}
	}
}

func (h *Handler) done(ctx context.Context, m Message, res Result) error {
	if !res.Acked {
		h.o.OnEvent("skipped", m, nil)
		return nil
	}
	if h.o.Store != nil {
		a := h.o.Fields.FromPayload(m.Payload).Merge(res.Ack)
		if _, err := h.o.Store.InsertEvent(ctx, m.Topic, m.Group, m.Checksum, m.Payload, a); err != nil && !errors.Is(err, ErrDuplicate) {
			return errs.Unavailablef("checkpoint: storing event %s/%d@%d: %w", m.Topic, m.Partition, m.Offset, err)
		}
	}
	h.o.OnEvent("acknowledged", m, nil)
	return nil
}

// Metadata is the stored metadata hash of a message (Phobos's keys).
func Metadata(m Message) map[string]any {
	md := map[string]any{
		"topic": m.Topic, "group_id": m.Group, "partition": m.Partition, "offset": m.Offset,
		"retry_count": m.RetryCount, "checksum": nilIfEmpty(m.Checksum),
	}
	if m.Key != nil {
		md["key"] = keyText(m.Key)
	} else {
		md["key"] = nil
	}
	if !m.Timestamp.IsZero() {
		md["timestamp"] = m.Timestamp.UTC().Format(TimeLayout)
	}
	if len(m.Headers) > 0 {
		hs := map[string]string{}
		for _, x := range m.Headers {
			hs[x.Key] = string(x.Value)
		}
		md["headers"] = hs
	}
	return md
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (h *Handler) fail(ctx context.Context, m Message, err error) error {
	if h.o.Store == nil {
		h.o.OnEvent("gave_up", m, err)
		return nil
	}
	he := &HandlerError{Class: "Deimos::HandlerError", Message: err.Error()}
	errors.As(err, &he)
	stored, serr := h.o.Store.RecordFailure(ctx, NewFailure{
		Topic: m.Topic, GroupID: m.Group, Checksum: m.Checksum, Ack: h.o.Fields.FromPayload(m.Payload),
		Payload: m.Payload, Metadata: Metadata(m), ErrorClass: he.Class, ErrorMessage: he.Message, Backtrace: he.Backtrace,
	})
	if serr != nil {
		return errs.Unavailablef("checkpoint: recording failure for %s/%d@%d: %w", m.Topic, m.Partition, m.Offset, serr)
	}
	if stored {
		h.o.OnEvent("failure", m, err)
	} else {
		h.o.OnEvent("failure_exists", m, err)
	}
	return nil
}

// RetryError is a retried failure whose handler failed again (API: 422).
type RetryError struct{ Err error }

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// Retry re-runs the handler for a stored failure with its payload and
// metadata and retry_count 0. It first claims the failure (claim.go), so at
// most one retry of a failure runs at a time, in any process; a failure
// another retry holds gives a *ClaimedError (errors.Is ErrClaimed). On
// success the failure is deleted and, when acknowledged, an event is stored
// (one transaction); it reports whether it was acknowledged. A handler
// failure keeps the failure as it was and returns a *RetryError.
func Retry(ctx context.Context, st *Store, r Runner, fields Fields, id int64) (bool, error) {
	c, err := st.claimFailure(ctx, id)
	if err != nil {
		return false, err
	}
	f, err := st.GetFailure(ctx, id)
	if err != nil {
		_ = st.release(context.WithoutCancel(ctx), c)
		return false, err
	}
	m := Message{Payload: PayloadText(f.Payload)}
	if f.Topic != nil {
		m.Topic = *f.Topic
	}
	if f.GroupID != nil {
		m.Group = *f.GroupID
	}
	var md map[string]any
	_ = jsonUnmarshal(f.Metadata, &md)
	if v, ok := md["partition"].(float64); ok {
		m.Partition = int32(v)
	}
	if v, ok := md["offset"].(float64); ok {
		m.Offset = int64(v)
	}
	if v, ok := md["key"].(string); ok {
		m.Key = []byte(v)
	}
	if v, ok := md["timestamp"].(string); ok {
		m.Timestamp, _ = ParseTime(v)
	}
	if hs, ok := md["headers"].(map[string]any); ok {
		for k, v := range hs {
			s, _ := v.(string)
			m.Headers = append(m.Headers, consume.Header{Key: k, Value: []byte(s)})
		}
	}
	if m.Payload != nil {
		m.Checksum = Checksum(string(m.Payload))
	}
	stop := st.keepClaim(ctx, c)
	res, err := r.Run(ctx, m)
	stop()
	// The handler ran: what follows must be written even if ctx ended.
	wctx := context.WithoutCancel(ctx)
	if err != nil {
		if rerr := st.release(wctx, c); rerr != nil {
			return false, fmt.Errorf("handler failed (%v); putting failure %d back: %w", err, id, rerr)
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, &RetryError{Err: err}
	}
	var ev *newEvent
	if res.Acked {
		ev = &newEvent{topic: m.Topic, group: m.Group, checksum: m.Checksum, payload: m.Payload, ack: fields.FromPayload(m.Payload).Merge(res.Ack)}
	}
	if err := st.resolve(wctx, c, ev); err != nil {
		_ = st.release(wctx, c)
		return false, fmt.Errorf("storing the outcome of failure %d: %w", id, err)
	}
	return res.Acked, nil
}
