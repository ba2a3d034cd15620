package encode

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/deimos-cli/deimos/pkg/avro"
	"github.com/deimos-cli/deimos/pkg/encode/nesting"
)

// Avro binary -> goavro's native form, for the decoders that resolve a
// writer schema against a reader schema (appendNativeJSON). It is what
// goavro's Codec.NativeFromBinary gives for the physical schema, except that
// a map is an *avroMap that keeps the wire order (avro_native_test.go
// compares the two).

// avroMap is a decoded Avro map: its keys in wire order (a repeated key
// keeps its first place and its last value) and the values by key.
type avroMap struct {
	keys []string
	vals map[string]any
}

// nativeFromBinary decodes one datum of t from the front of bin and returns
// the rest. Data is checked by checkBinary before it gets here; every read
// is bounds-checked all the same.
func nativeFromBinary(t *aType, bin []byte) (any, []byte, error) {
	r := avroReader{b: bin}
	v, err := readNative(t, &r, 0)
	return v, r.b, err
}

// readNative reads one datum; depth counts the levels enclosing it, with
// checkBinary's nesting rule (which has accepted the data already).
func readNative(t *aType, r *avroReader, depth int) (any, error) {
	if opensLevel(t) && depth >= nesting.Max {
		return nil, nesting.Error{}
	}
	switch t.Kind {
	case "null":
		return nil, nil
	case "boolean":
		if len(r.b) < 1 {
			return nil, errAvroShort
		}
		c := r.b[0]
		r.b = r.b[1:]
		switch c {
		case 0:
			return false, nil
		case 1:
			return true, nil
		}
		return nil, fmt.Errorf("invalid boolean byte %d", c)
	case "int":
		return r.int32()
	case "long", "enum":
		i, err := r.long()
		if err != nil || t.Kind == "long" {
			return i, err
		}
		if i < 0 || i >= int64(len(t.Symbols)) {
			return nil, fmt.Errorf("enum %s: index %d out of range", t.Name, i)
		}
		return t.Symbols[i], nil
	case "float":
		if len(r.b) < 4 {
			return nil, errAvroShort
		}
		f := math.Float32frombits(binary.LittleEndian.Uint32(r.b))
		r.b = r.b[4:]
		return f, nil
	case "double":
		if len(r.b) < 8 {
			return nil, errAvroShort
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
		r.b = r.b[8:]
		return f, nil
	case "string":
		s, err := r.bytes()
		return string(s), err
	case "bytes":
		s, err := r.bytes()
		if err != nil {
			return nil, err
		}
		return append([]byte{}, s...), nil
	case "fixed":
		if len(r.b) < t.Size {
			return nil, errAvroShort
		}
		s := append([]byte{}, r.b[:t.Size]...)
		r.b = r.b[t.Size:]
		return s, nil
	case "union":
		i, err := r.long()
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(len(t.Branches)) {
			return nil, fmt.Errorf("union index %d out of range", i)
		}
		br := t.Branches[i]
		v, err := readNative(br, r, depth) // a branch is no level of its own
		if err != nil || br.Kind == "null" {
			return nil, err
		}
		return map[string]any{avro.BranchName(br): v}, nil
	case "record":
		m := make(map[string]any, len(t.Fields))
		for _, f := range t.Fields {
			v, err := readNative(f.Type, r, depth+1)
			if err != nil {
				return nil, err
			}
			m[f.Name] = v
		}
		return m, nil
	case "array":
		xs := []any{}
		for {
			c, err := r.blockCount()
			if err != nil {
				return nil, err
			}
			if c == 0 {
				return xs, nil
			}
			for ; c > 0; c-- {
				v, err := readNative(t.Items, r, depth+1)
				if err != nil {
					return nil, err
				}
				xs = append(xs, v)
			}
		}
	case "map":
		m := &avroMap{vals: map[string]any{}}
		for {
			c, err := r.blockCount()
			if err != nil {
				return nil, err
			}
			if c == 0 {
				return m, nil
			}
			for ; c > 0; c-- {
				k, err := r.bytes()
				if err != nil {
					return nil, err
				}
				v, err := readNative(t.Values, r, depth+1)
				if err != nil {
					return nil, err
				}
				key := string(k)
				if _, dup := m.vals[key]; !dup {
					m.keys = append(m.keys, key)
				}
				m.vals[key] = v
			}
		}
	}
	return nil, fmt.Errorf("unsupported type %s", t.Kind)
}
