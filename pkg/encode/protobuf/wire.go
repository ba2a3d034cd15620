package protobuf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/jhump/protoreflect/desc"
	"github.com/twmb/franz-go/pkg/sr"
)

var header sr.ConfluentHeader

// MessageIndexes returns the Confluent message-index path of md inside its
// file: the position among the file's top-level messages, then among each
// enclosing message's nested messages. The first top-level message is [0].
func MessageIndexes(md *desc.MessageDescriptor) []int {
	var path []int
	cur := md
	for {
		switch parent := cur.GetParent().(type) {
		case *desc.MessageDescriptor:
			path = append(path, indexOf(parent.GetNestedMessageTypes(), cur))
			cur = parent
			continue
		case *desc.FileDescriptor:
			path = append(path, indexOf(parent.GetMessageTypes(), cur))
		}
		break
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path
}

func indexOf(list []*desc.MessageDescriptor, md *desc.MessageDescriptor) int {
	for i, m := range list {
		if m.GetFullyQualifiedName() == md.GetFullyQualifiedName() {
			return i
		}
	}
	return -1
}

// MessageAt follows a message-index path inside a file (the inverse of MessageIndexes).
func MessageAt(fd *desc.FileDescriptor, indexes []int) (*desc.MessageDescriptor, error) {
	if len(indexes) == 0 {
		indexes = []int{0}
	}
	list := fd.GetMessageTypes()
	var md *desc.MessageDescriptor
	for depth, i := range indexes {
		if i < 0 || i >= len(list) {
			return nil, fmt.Errorf("message index %v: position %d is %d but %s has %d message(s) there", indexes, depth, i, fd.GetName(), len(list))
		}
		md = list[i]
		list = md.GetNestedMessageTypes()
	}
	return md, nil
}

// Frame prepends the Confluent protobuf header: 0x00, the 4-byte big-endian
// schema id, the message-index list as zig-zag varints (a single 0 for the
// first message of the file).
func Frame(id int, indexes []int, payload []byte) []byte {
	b, _ := header.AppendEncode(make([]byte, 0, 6+len(payload)), id, normIndexes(indexes))
	return append(b, payload...)
}

func normIndexes(ix []int) []int {
	if len(ix) == 0 {
		return []int{0}
	}
	return ix
}

// FrameJSON prepends the plain Confluent header (0x00 and the 4-byte id, no
// message indexes), as used for JSON Schema framed keys.
func FrameJSON(id int, payload []byte) []byte {
	b, _ := header.AppendEncode(make([]byte, 0, 5+len(payload)), id, nil)
	return append(b, payload...)
}

// ErrNotFramed is returned by Unframe for bytes that do not start with the
// Confluent magic byte and a 4-byte id.
var ErrNotFramed = errors.New("not Confluent-framed (no 0x00 magic byte and 4-byte schema id)")

// Unframe splits Confluent protobuf framing: schema id, message indexes,
// payload, and the number of header bytes.
func Unframe(b []byte) (id int, indexes []int, payload []byte, headerBytes int, err error) {
	id, rest, err := header.DecodeID(b)
	if err != nil {
		return 0, nil, nil, 0, ErrNotFramed
	}
	indexes, payload, err = DecodeIndexes(rest)
	if err != nil {
		return id, nil, nil, 0, fmt.Errorf("schema id %d: bad protobuf message-index list: %v", id, err)
	}
	return id, indexes, payload, len(b) - len(payload), nil
}

// MaxMessageIndexes bounds the message-index list of a Confluent protobuf
// header: its length is the nesting depth of the message in its file.
const MaxMessageIndexes = 64

// DecodeIndexes reads the message-index list that follows the schema id: a
// zig-zag varint count (0 is short for [0], the file's first message), then
// that many zig-zag varint indexes. The count is checked against
// MaxMessageIndexes and the bytes left before anything is allocated.
func DecodeIndexes(b []byte) (indexes []int, rest []byte, err error) {
	n, k := binary.Varint(b)
	if k <= 0 {
		return nil, nil, errors.New("truncated or malformed message-index count")
	}
	b = b[k:]
	if n == 0 {
		return []int{0}, b, nil
	}
	if n < 0 || n > MaxMessageIndexes {
		return nil, nil, fmt.Errorf("message-index count %d out of range 1..%d", n, MaxMessageIndexes)
	}
	if n > int64(len(b)) { // every index takes at least one byte
		return nil, nil, fmt.Errorf("message-index count %d but only %d bytes left", n, len(b))
	}
	indexes = make([]int, n)
	for i := range indexes {
		v, k := binary.Varint(b)
		if k <= 0 {
			return nil, nil, fmt.Errorf("truncated or malformed message index %d of %d", i+1, n)
		}
		if v < 0 || v > math.MaxInt32 {
			return nil, nil, fmt.Errorf("message index %d of %d is %d, out of range", i+1, n, v)
		}
		indexes[i] = int(v)
		b = b[k:]
	}
	return indexes, b, nil
}
