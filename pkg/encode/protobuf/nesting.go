package protobuf

import (
	"math"
	"sync"

	pref "google.golang.org/protobuf/reflect/protoreflect"

	"github.com/deimos-cli/deimos/pkg/encode/nesting"
)

// Messages are held to nesting.Max on the JSON Unmarshal prints for them
// (messages and maps are objects, repeated fields arrays): Unmarshal checks
// the JSON it renders and MarshalValue renders the message it built and
// checks it the same way, so what one accepts the other accepts. Messages
// whose JSON can never be that deep (most) skip the check.

const unbounded = math.MaxInt32

// scalarWKT are well-known types printed as JSON scalars.
var scalarWKT = map[pref.FullName]bool{
	"google.protobuf.Timestamp": true, "google.protobuf.Duration": true, "google.protobuf.FieldMask": true,
	"google.protobuf.DoubleValue": true, "google.protobuf.FloatValue": true, "google.protobuf.Int64Value": true,
	"google.protobuf.UInt64Value": true, "google.protobuf.Int32Value": true, "google.protobuf.UInt32Value": true,
	"google.protobuf.BoolValue": true, "google.protobuf.StringValue": true, "google.protobuf.BytesValue": true,
}

var deepCache sync.Map // pref.MessageDescriptor -> bool

// mayNestTooDeep reports whether JSON of messages d can nest deeper than
// nesting.Max.
func mayNestTooDeep(d pref.MessageDescriptor) bool {
	if v, ok := deepCache.Load(d); ok {
		return v.(bool)
	}
	deep := messageLevels(d, map[pref.FullName]bool{}, map[pref.FullName]int{}) > nesting.Max
	deepCache.Store(d, deep)
	return deep
}

// messageLevels is the deepest JSON nesting of a message of type d
// (unbounded when d is recursive, and for well-known types printed as
// objects of arbitrary depth: Struct, Value, ListValue, Any).
func messageLevels(d pref.MessageDescriptor, onPath map[pref.FullName]bool, done map[pref.FullName]int) int {
	name := d.FullName()
	if n, ok := done[name]; ok {
		return n
	}
	if scalarWKT[name] {
		return 0
	}
	if isWKT(d) && name != "google.protobuf.Empty" {
		return unbounded
	}
	if onPath[name] {
		return unbounded
	}
	onPath[name] = true
	defer delete(onPath, name)
	n := 0
	fields := d.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		f := 0
		if fd.IsMap() {
			fd = fd.MapValue()
			f = 1
		} else if fd.IsList() {
			f = 1
		}
		if fd.Kind() == pref.MessageKind || fd.Kind() == pref.GroupKind {
			f += messageLevels(fd.Message(), onPath, done)
		}
		n = max(n, f)
	}
	n = min(n+1, unbounded)
	done[name] = n
	return n
}
