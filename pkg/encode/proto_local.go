package encode

// The protobuf backends (proto_local here, proto_schema_registry in
// proto_registry.go) adapt pkg/encode/protobuf to the backend seam.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/jhump/protoreflect/desc"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/avro"
	"github.com/deimos-cli/deimos/pkg/encode/protobuf"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// protoBackend serves both protobuf backends; registry selects Confluent
// framing with registration (proto_schema_registry) over bare bytes.
type protoBackend struct {
	e        *Engine
	registry bool

	once   sync.Once
	loader *protobuf.Loader
	reg    *protobuf.Registry
}

func newProtoBackend(e *Engine, registry bool) *protoBackend {
	return &protoBackend{e: e, registry: registry}
}

func (p *protoBackend) init() {
	p.once.Do(func() {
		p.loader = protobuf.NewLoader(p.e.schemaPath())
		p.reg = protobuf.NewRegistry(p.e.reg, p.loader, p.e.cfg.Schema.AutoRegisterOn())
	})
}

func (p *protoBackend) name() string {
	if p.registry {
		return "proto_schema_registry"
	}
	return "proto_local"
}

// message resolves the spec's message (Schema is a full name, or a simple
// name completed by Namespace).
func (p *protoBackend) message(name, ns string) (*desc.MessageDescriptor, error) {
	p.init()
	if name == "" {
		return nil, errs.Usagef("%s: no schema given: use --schema with a protobuf message full name (e.g. com.acme.Widget)", p.name())
	}
	md, err := p.loader.Message(avro.FullName(name, ns))
	if err != nil {
		return nil, errs.Usagef("%s: %w", p.name(), err)
	}
	return md, nil
}

// protoErr converts protobuf field errors to encode.FieldError.
func protoErr(err error) error {
	var fe *protobuf.FieldError
	if errors.As(err, &fe) {
		return errs.Failed(&FieldError{Path: fe.Path, Expected: fe.Expected, Found: fe.Found, Msg: fe.Msg})
	}
	return err
}

// wire is the value framing for encode: the spec's override or the backend's.
func (p *protoBackend) wire(s Spec) (string, error) {
	switch s.Wire {
	case "":
		if p.registry {
			return "confluent", nil
		}
		return "raw", nil
	case "confluent", "raw":
		return s.Wire, nil
	}
	return "", errs.Usagef("%s: wire %q is not supported for protobuf (confluent or raw)", p.name(), s.Wire)
}

func (p *protoBackend) encodeValue(ctx context.Context, s Spec, payload any) ([]byte, int, error) {
	md, err := p.message(s.Schema, s.Namespace)
	if err != nil {
		return nil, 0, err
	}
	wire, err := p.wire(s)
	if err != nil {
		return nil, 0, err
	}
	b, err := protobuf.MarshalValue(md, payload)
	if err != nil {
		return nil, 0, protoErr(err)
	}
	if wire == "raw" {
		return b, 0, nil
	}
	if err := p.e.needRegistry(p.name() + " (Confluent framing)"); err != nil {
		return nil, 0, err
	}
	subject := p.e.ValueSubject(s)
	reg, err := p.reg.RegisterFile(ctx, subject, md.GetFile())
	if err != nil {
		op := "register " + subject
		if !p.reg.AutoRegister {
			op = "look up " + subject + " (auto_register is off)"
		}
		return nil, 0, registryError(op, err)
	}
	return protobuf.Frame(reg.ID, protobuf.MessageIndexes(md), b), reg.ID, nil
}

// keyBytes renders a field key ({"<field>": value}, sorted compact JSON) or a
// schema key (the key message's fields as sorted JSON, checked against the
// key message), and the JSON Schema registered for it under proto_schema_registry.
func (p *protoBackend) keyBytes(s Spec, key any) (raw []byte, schema func() ([]byte, error), err error) {
	switch s.KeyConfig.Mode() {
	case "field":
		field := s.KeyConfig.Field
		raw, err = protobuf.KeyJSON(field, key)
		if err != nil {
			return nil, nil, errs.Failed(err)
		}
		return raw, func() ([]byte, error) {
			md, err := p.message(s.Schema, s.Namespace)
			if err != nil {
				return nil, err
			}
			js, err := protobuf.KeyJSONSchema(md, field)
			if err != nil {
				return nil, errs.Usagef("key_config field: %w", err)
			}
			return js, nil
		}, nil
	case "schema":
		if prim := s.KeyConfig.Primitive(); prim != "" {
			return nil, nil, errs.Usagef("%s: key_config schema: %s is an Avro primitive key, which the protobuf backends do not write (use key_config plain for a text key, or a key message)", p.name(), prim)
		}
		md, err := p.message(s.KeyConfig.Schema, s.Namespace)
		if err != nil {
			return nil, nil, err
		}
		// Check the key against the key message (names, types).
		if _, err := protobuf.FromValue(md, key); err != nil {
			return nil, nil, protoErr(err)
		}
		raw, err = protobuf.SortedJSON(key)
		if err != nil {
			return nil, nil, errs.Failedf("key: %w", err)
		}
		return raw, func() ([]byte, error) { return protobuf.MessageJSONSchema(md) }, nil
	}
	return []byte(StringForm(key)), nil, nil
}

func (p *protoBackend) encodeKey(ctx context.Context, s Spec, key any) ([]byte, int, error) {
	raw, schema, err := p.keyBytes(s, key)
	if err != nil {
		return nil, 0, err
	}
	wire, err := p.wire(s)
	if err != nil {
		return nil, 0, err
	}
	if wire == "raw" || schema == nil {
		return raw, 0, nil
	}
	js, err := schema()
	if err != nil {
		return nil, 0, err
	}
	id, err := p.e.SchemaID(ctx, p.e.KeySubject(s), sr.Schema{Schema: string(js), Type: sr.TypeJSON})
	if err != nil {
		return nil, 0, err
	}
	return protobuf.FrameJSON(id, raw), id, nil
}

func (p *protoBackend) decodeValue(ctx context.Context, s Spec, b []byte) (json.RawMessage, Format, error) {
	if len(b) > 0 && b[0] == 0 && (s.Wire != "raw" || p.registry) {
		// Tag 0 is invalid protobuf: a leading 0x00 is Confluent framing.
		return p.decodeFramed(ctx, s, b)
	}
	md, err := p.message(s.Schema, s.Namespace)
	if err != nil {
		return nil, Format{}, err
	}
	j, err := protobuf.Unmarshal(md, b)
	if err != nil {
		return nil, Format{}, errs.Failed(err)
	}
	return j, Format{Wire: "raw", SchemaType: "PROTOBUF", Schema: md.GetFullyQualifiedName(), PayloadBytes: len(b)}, nil
}

// decodeFramed decodes Confluent protobuf framing: the writer schema by id
// from the registry (message chosen by the indexes); without a registry, the
// spec's local message.
func (p *protoBackend) decodeFramed(ctx context.Context, s Spec, b []byte) (json.RawMessage, Format, error) {
	id, indexes, payload, hb, err := protobuf.Unframe(b)
	if err != nil {
		return nil, Format{}, errs.Failedf("%s: %w", p.name(), err)
	}
	f := Format{Wire: "confluent", SchemaType: "PROTOBUF", SchemaID: id, MessageIndexes: indexes, HeaderBytes: hb, PayloadBytes: len(payload)}
	var md *desc.MessageDescriptor
	if p.e.reg == nil && s.Schema != "" {
		if md, err = p.message(s.Schema, s.Namespace); err != nil {
			return nil, f, err
		}
	} else {
		sch, subject, version, err := p.e.SchemaByID(ctx, id)
		if err != nil {
			return nil, f, err
		}
		if sch.Type != sr.TypeProtobuf {
			return nil, f, errs.Failedf("schema id %d is %s, not PROTOBUF", id, sch.Type)
		}
		f.Subject, f.Version = subject, version
		if md, err = p.writer(ctx, id, sch, indexes); err != nil {
			return nil, f, err
		}
	}
	f.Schema = md.GetFullyQualifiedName()
	j, err := protobuf.Unmarshal(md, payload)
	if err != nil {
		return nil, f, errs.Failedf("schema id %d: %w", id, err)
	}
	return j, f, nil
}

func (p *protoBackend) writer(ctx context.Context, id int, sch sr.Schema, indexes []int) (*desc.MessageDescriptor, error) {
	p.init()
	fd, err := p.reg.ParseWriter(ctx, id, sch)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) || (!errors.Is(err, context.Canceled) && isTransport(err)) {
			return nil, registryError(fmt.Sprintf("schema id %d references", id), err)
		}
		return nil, errs.Failed(err)
	}
	md, err := protobuf.MessageAt(fd, indexes)
	if err != nil {
		return nil, errs.Failedf("schema id %d: %w", id, err)
	}
	return md, nil
}

// isTransport reports errors that are neither registry answers nor parse
// errors: the registry could not be reached.
func isTransport(err error) bool {
	var ue interface{ Timeout() bool }
	return errors.As(err, &ue)
}

func (p *protoBackend) decodeKey(ctx context.Context, s Spec, b []byte) (json.RawMessage, Format, error) {
	field := ""
	if s.KeyConfig.Mode() == "field" {
		field = s.KeyConfig.Field
	}
	f := Format{Wire: "json", SchemaType: "", PayloadBytes: len(b)}
	payload := b
	if len(b) >= 5 && b[0] == 0 {
		id, rest, err := ConfluentUnframe(b)
		if err == nil {
			payload = rest
			f = Format{Wire: "confluent", SchemaType: "JSON", SchemaID: id, HeaderBytes: 5, PayloadBytes: len(rest)}
			if p.e.reg != nil {
				if _, subject, version, err := p.e.SchemaByID(ctx, id); err == nil {
					f.Subject, f.Version = subject, version
				}
			}
		}
	}
	if !json.Valid(payload) {
		f.Wire = "plain"
	}
	return protobuf.DecodeKey(payload, field), f, nil
}

func (p *protoBackend) fields(ctx context.Context, s Spec) ([]FieldInfo, error) {
	md, err := p.message(s.Schema, s.Namespace)
	if err != nil {
		return nil, err
	}
	var out []FieldInfo
	for _, fd := range md.GetFields() {
		fi := FieldInfo{Name: fd.GetName()}
		switch {
		case fd.IsMap():
			fi.Type = "map"
		case fd.IsRepeated():
			fi.Type = "array"
		case fd.GetMessageType() != nil:
			fi.Type = fd.GetMessageType().GetFullyQualifiedName()
			if fi.Type != "google.protobuf.Timestamp" {
				fi.Type = "message"
			}
			fi.Nullable = true
		case fd.GetEnumType() != nil:
			fi.Type = "enum"
		default:
			fi.Type = protoScalarName(fd)
			fi.Nullable = fd.UnwrapField().HasPresence()
		}
		out = append(out, fi)
	}
	return out, nil
}

// protoScalarName is the .proto keyword of a scalar field ("int64", "string"...).
func protoScalarName(fd *desc.FieldDescriptor) string {
	return fd.UnwrapField().Kind().String()
}
