package encode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jhump/protoreflect/desc"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/encode/protobuf"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// proto_schema_registry: values are Confluent-framed protobuf (0x00, 4-byte
// id, message indexes) registered as schemaType PROTOBUF under
// <prefix><topic>-value, with imported non-google files registered first
// under their file path and passed as references; field keys are the sorted
// JSON of proto_local framed with 0x00 + the id of a JSON Schema registered
// under the key subject.
var (
	_ registryDecoder = (*protoBackend)(nil)
	_ registryEncoder = (*protoBackend)(nil)
)

// encodeRegistered encodes a decoded message with the registered PROTOBUF
// schema of id. The schema id does not say which message of the file the
// source was (its message indexes are not in the envelope): the message is
// the file's only one, or else the one message the document fits (it
// encodes, and decodes back to the same JSON). Several fitting is an error,
// never a guess.
func (p *protoBackend) encodeRegistered(ctx context.Context, id int, schema sr.Schema, doc []byte) ([]byte, error) {
	p.init()
	fd, err := p.reg.ParseWriter(ctx, id, schema)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) || (!errors.Is(err, context.Canceled) && isTransport(err)) {
			return nil, registryError(fmt.Sprintf("schema id %d references", id), err)
		}
		return nil, errs.Failed(err)
	}
	type fit struct {
		md  *desc.MessageDescriptor
		bin []byte
	}
	var all []*desc.MessageDescriptor
	var walk func([]*desc.MessageDescriptor)
	walk = func(ms []*desc.MessageDescriptor) {
		for _, m := range ms {
			if !m.IsMapEntry() {
				all = append(all, m)
			}
			walk(m.GetNestedMessageTypes())
		}
	}
	walk(fd.GetMessageTypes())
	if len(all) == 0 {
		return nil, errs.Failedf("schema id %d defines no message", id)
	}
	if len(all) == 1 {
		b, err := protobuf.Marshal(all[0], doc)
		if err != nil {
			return nil, errs.Failedf("schema id %d: %w", id, err)
		}
		return protobuf.Frame(id, protobuf.MessageIndexes(all[0]), b), nil
	}
	var fits, exact []fit
	var firstErr error
	want := compactJSON(doc)
	for _, m := range all {
		b, err := protobuf.Marshal(m, doc)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", m.GetFullyQualifiedName(), err)
			}
			continue
		}
		fits = append(fits, fit{m, b})
		if j, err := protobuf.Unmarshal(m, b); err == nil && bytes.Equal(compactJSON(j), want) {
			exact = append(exact, fit{m, b})
		}
	}
	if len(fits) == 0 {
		return nil, errs.Failedf("schema id %d: the document fits none of the file's %d messages (%v)", id, len(all), firstErr)
	}
	if len(fits) > 1 && len(exact) > 0 {
		fits = exact // the others encode it but not back to the same document
	}
	if len(fits) == 1 {
		return protobuf.Frame(id, protobuf.MessageIndexes(fits[0].md), fits[0].bin), nil
	}
	names := make([]string, len(fits))
	for i, f := range fits {
		names[i] = f.md.GetFullyQualifiedName()
	}
	return nil, errs.Failedf("schema id %d: the document fits several messages of the file (%s), and the id alone does not say which: use --no-schema-id with the topic configured, or --schema", id, strings.Join(names, ", "))
}

// compactJSON is b without insignificant whitespace (b itself when invalid).
func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// decodeRegistered decodes PROTOBUF-typed Confluent data found by zero-Spec
// detection: rest starts with the message indexes.
func (p *protoBackend) decodeRegistered(ctx context.Context, id int, schema sr.Schema, rest []byte, isKey bool) (json.RawMessage, Format, error) {
	if schema.Type != sr.TypeProtobuf {
		return nil, Format{}, errs.Failedf("schema id %d is %s, not PROTOBUF", id, schema.Type)
	}
	indexes, payload, err := protobuf.DecodeIndexes(rest)
	if err != nil {
		return nil, Format{}, errs.Failedf("schema id %d: bad protobuf message-index list: %v", id, err)
	}
	f := Format{Wire: "confluent", SchemaType: "PROTOBUF", SchemaID: id, MessageIndexes: indexes,
		HeaderBytes: 5 + len(rest) - len(payload), PayloadBytes: len(payload)}
	md, err := p.writer(ctx, id, schema, indexes)
	if err != nil {
		return nil, f, err
	}
	f.Schema = md.GetFullyQualifiedName()
	j, err := protobuf.Unmarshal(md, payload)
	if err != nil {
		return nil, f, errs.Failedf("schema id %d: %w", id, err)
	}
	_ = isKey // protobuf-framed keys decode to the whole message
	return j, f, nil
}
