package encode

import (
	"context"
	"encoding/json"

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
var _ registryDecoder = (*protoBackend)(nil)

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
