// Package tuplekey turns a tuple of key values into one string that can be
// used as a map key, without collisions.
//
// Joining values as text loses information: fmt.Sprint("a", "bc") and
// fmt.Sprint("ab", "c") are both "abc", fmt.Sprint("a", 11) and
// fmt.Sprint("a1", 1) are both "a11", and a nil key prints like an empty
// one. Every place that groups, compacts or de-duplicates by a key made of
// several values (table sink rows, Kafka keys in the sink and the outbox
// relay) uses Encode instead, so two different tuples never share a string.
package tuplekey

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Type tags. A value is written as its tag, the length of its bytes (uvarint)
// and the bytes, so values can neither run into each other nor be mistaken
// for a value of another type.
const (
	tagNil    = 'z'
	tagString = 's'
	tagBytes  = 'b'
	tagInt    = 'i'
	tagUint   = 'u'
	tagFloat  = 'f'
	tagBool   = 't'
	tagNumber = 'n' // json.Number, kept as its text
	tagTime   = 'T'
	tagOther  = 'o' // any other type: its Go type name and %#v
)

// Encode returns the collision-free form of the tuple vals: two tuples give
// the same string only when they have the same length and each pair of values
// has the same kind (nil, string, bytes, signed integer, unsigned integer,
// float, bool, JSON number, time) and the same value. A nil []byte is nil, not
// empty bytes. Signed integers of any width are one kind, as are floats.
func Encode(vals ...any) string {
	var b strings.Builder
	for _, v := range vals {
		write(&b, v)
	}
	return b.String()
}

func write(b *strings.Builder, v any) {
	var num [8]byte
	switch x := v.(type) {
	case nil:
		put(b, tagNil, nil)
	case string:
		put(b, tagString, []byte(x))
	case []byte:
		if x == nil {
			put(b, tagNil, nil)
			return
		}
		put(b, tagBytes, x)
	case json.RawMessage:
		if x == nil {
			put(b, tagNil, nil)
			return
		}
		put(b, tagBytes, x)
	case int:
		write(b, int64(x))
	case int8:
		write(b, int64(x))
	case int16:
		write(b, int64(x))
	case int32:
		write(b, int64(x))
	case int64:
		binary.BigEndian.PutUint64(num[:], uint64(x))
		put(b, tagInt, num[:])
	case uint:
		write(b, uint64(x))
	case uint8:
		write(b, uint64(x))
	case uint16:
		write(b, uint64(x))
	case uint32:
		write(b, uint64(x))
	case uint64:
		binary.BigEndian.PutUint64(num[:], x)
		put(b, tagUint, num[:])
	case float32:
		write(b, float64(x))
	case float64:
		binary.BigEndian.PutUint64(num[:], math.Float64bits(x))
		put(b, tagFloat, num[:])
	case bool:
		if x {
			put(b, tagBool, []byte{1})
		} else {
			put(b, tagBool, []byte{0})
		}
	case json.Number:
		put(b, tagNumber, []byte(x))
	case time.Time:
		t, _ := x.UTC().MarshalBinary()
		put(b, tagTime, t)
	default:
		put(b, tagOther, []byte(fmt.Sprintf("%T\x00%#v", v, v)))
	}
}

func put(b *strings.Builder, tag byte, p []byte) {
	var n [binary.MaxVarintLen64]byte
	b.WriteByte(tag)
	b.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
	b.Write(p)
}
