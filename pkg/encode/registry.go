package encode

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/errs"
	"github.com/deimos-cli/deimos/pkg/redact"
)

var confluent sr.ConfluentHeader

// ConfluentFrame prepends the Confluent header (0x00, 4-byte big-endian id,
// then the protobuf message indexes when given) to payload.
func ConfluentFrame(id int, indexes []int, payload []byte) []byte {
	b := make([]byte, 0, 6+len(payload))
	b, _ = confluent.AppendEncode(b, id, indexes)
	return append(b, payload...)
}

// ConfluentUnframe splits a Confluent-framed message into id and the rest.
func ConfluentUnframe(b []byte) (int, []byte, error) {
	if len(b) == 0 {
		return 0, nil, fmt.Errorf("empty message")
	}
	if b[0] != 0 {
		return 0, nil, fmt.Errorf("not Confluent-framed: first byte is 0x%02x, want 0x00", b[0])
	}
	if len(b) < 5 {
		return 0, nil, fmt.Errorf("truncated Confluent header: %d bytes, need 5", len(b))
	}
	id, rest, err := confluent.DecodeID(b)
	if err != nil {
		return 0, nil, err
	}
	return id, rest, nil
}

// registryError maps a registry error: HTTP answers are failures (or usage
// errors for bad requests), transport errors mean the registry is unreachable.
func registryError(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var re *sr.ResponseError
	if errors.As(err, &re) {
		return errs.Failedf("schema registry: %s: %s", op, redact.Text(re.Error()))
	}
	return errs.Unavailablef("schema registry unreachable: %s: %s", op, redact.Text(err.Error()))
}

func (e *Engine) needRegistry(what string) error {
	if e.reg == nil {
		return errs.Usagef("%s needs a schema registry: set schema.registry.url, DEIMOS_REGISTRY_URL or --registry", what)
	}
	return nil
}

// SchemaID returns the id of schema under subject: registered on first use
// when schema.auto_register is on (the default), else looked up. Cached.
func (e *Engine) SchemaID(ctx context.Context, subject string, s sr.Schema) (int, error) {
	if err := e.needRegistry("subject " + subject); err != nil {
		return 0, err
	}
	k := subject + "\x00" + s.Schema
	e.mu.Lock()
	id, ok := e.ids[k]
	e.mu.Unlock()
	if ok {
		return id, nil
	}
	var ss sr.SubjectSchema
	var err error
	if e.cfg.Schema.AutoRegisterOn() {
		ss, err = e.reg.CreateSchema(ctx, subject, s)
		if err != nil {
			return 0, registryError("register "+subject, err)
		}
	} else {
		ss, err = e.reg.LookupSchema(ctx, subject, s)
		if err != nil {
			var re *sr.ResponseError
			if errors.As(err, &re) && re.StatusCode == 404 {
				return 0, errs.Failedf("schema registry: subject %s has no version of this schema (auto_register is off): %s", subject, re.Error())
			}
			return 0, registryError("look up "+subject, err)
		}
	}
	e.mu.Lock()
	e.ids[k] = ss.ID
	if _, ok := e.byID[ss.ID]; !ok {
		e.byID[ss.ID] = &registered{schema: s, subject: subject, version: ss.Version, resolved: true}
	}
	e.mu.Unlock()
	return ss.ID, nil
}

// SchemaByID returns the registry schema of id with a subject and version
// using it (best effort), cached.
func (e *Engine) SchemaByID(ctx context.Context, id int) (sr.Schema, string, int, error) {
	e.mu.Lock()
	r, ok := e.byID[id]
	e.mu.Unlock()
	if ok && r.resolved && e.reg != nil {
		return r.schema, r.subject, r.version, nil
	}
	if err := e.needRegistry(fmt.Sprintf("Confluent-framed data (schema id %d)", id)); err != nil {
		return sr.Schema{}, "", 0, err
	}
	// a burst of garbage (or of one unknown id) must not cost a registry
	// request per message: 404s are remembered for a short while
	now := time.Now()
	e.mu.Lock()
	until, neg := e.unknown[id]
	e.mu.Unlock()
	if neg && now.Before(until) {
		return sr.Schema{}, "", 0, errs.Failedf("schema registry: unknown schema id %d", id)
	}
	s, err := e.reg.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == 404 {
			e.mu.Lock()
			if len(e.unknown) >= maxUnknownIDs {
				clear(e.unknown)
			}
			e.unknown[id] = now.Add(unknownIDMaxAge)
			e.mu.Unlock()
			return sr.Schema{}, "", 0, errs.Failedf("schema registry: unknown schema id %d", id)
		}
		return sr.Schema{}, "", 0, registryError(fmt.Sprintf("schema id %d", id), err)
	}
	r = &registered{schema: s, resolved: true}
	if vs, err := e.reg.SchemaVersionsByID(ctx, id); err == nil && len(vs) > 0 {
		r.subject, r.version = vs[0].Subject, vs[0].Version
	}
	e.mu.Lock()
	e.byID[id] = r
	e.mu.Unlock()
	return r.schema, r.subject, r.version, nil
}
