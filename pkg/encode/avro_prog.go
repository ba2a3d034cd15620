package encode

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"

	"github.com/deimos-cli/deimos/internal/jsonesc"
	"github.com/deimos-cli/deimos/pkg/avro"
	"github.com/deimos-cli/deimos/pkg/encode/nesting"
)

// The decode program: a writer schema compiled once (per avroSchema) into
// nodes that appendBinaryJSON's work for the common types needs without
// looking at the schema again: a small integer kind to switch on, each
// record field's `"name":` text ready to copy, enum symbols already quoted.
// Types it does not special-case (maps, bytes, fixed, logical types) run
// appendBinaryJSON itself, so its output is appendBinaryJSON's byte for byte.
// On any error the caller runs appendBinaryJSON again for the error it gives
// (errProg carries none): errors are rare, their texts stay in one place.

type progKind uint8

const (
	progGeneric progKind = iota // appendBinaryJSON
	progNull
	progBoolean
	progInt
	progLong
	progFloat
	progDouble
	progString
	progEnum
	progUnion
	progRecord
	progArray
)

type progNode struct {
	kind     progKind
	t        *aType
	fields   []progField // record
	items    *progNode   // array
	branches []*progNode // union
	syms     [][]byte    // enum: each symbol as a JSON string
}

// progField is a record field: pre is `{"name":` for the first field,
// `,"name":` for the others.
type progField struct {
	pre  []byte
	node *progNode
}

var errProg = errors.New("avro program: bad data")

// compileProg compiles t; memo makes recursive types point back at the node
// being compiled.
func compileProg(t *aType, memo map[*aType]*progNode) *progNode {
	if n := memo[t]; n != nil {
		return n
	}
	n := &progNode{t: t}
	memo[t] = n
	switch t.Kind {
	case avro.Null:
		n.kind = progNull
	case avro.Boolean:
		n.kind = progBoolean
	case avro.Int:
		if t.Logical == "" {
			n.kind = progInt
		}
	case avro.Long:
		if t.Logical == "" {
			n.kind = progLong
		}
	case avro.Float:
		if t.Logical == "" {
			n.kind = progFloat
		}
	case avro.Double:
		if t.Logical == "" {
			n.kind = progDouble
		}
	case avro.String:
		n.kind = progString
	case avro.Enum:
		n.kind = progEnum
		for _, s := range t.Symbols {
			n.syms = append(n.syms, jsonesc.AppendString(nil, s))
		}
	case avro.Union:
		n.kind = progUnion
		for _, b := range t.Branches {
			n.branches = append(n.branches, compileProg(b, memo))
		}
	case avro.Record:
		n.kind = progRecord
		for i, f := range t.Fields {
			pre := []byte{','}
			if i == 0 {
				pre[0] = '{'
			}
			pre = append(jsonesc.AppendString(pre, f.Name), ':')
			n.fields = append(n.fields, progField{pre: pre, node: compileProg(f.Type, memo)})
		}
	case avro.Array:
		n.kind = progArray
		n.items = compileProg(t.Items, memo)
	}
	return n
}

// varint reads a zig-zag long as binary.Varint does (same values, same
// failures: a short buffer, or more than 64 bits); a one-byte varint
// (lengths, counts, union branches, small numbers) inline.
func (r *avroReader) varint() (int64, bool) {
	if len(r.b) > 0 && r.b[0] < 0x80 {
		c := r.b[0]
		r.b = r.b[1:]
		return int64(c>>1) ^ -int64(c&1), true
	}
	return r.varintLong()
}

func (r *avroReader) varintLong() (int64, bool) {
	var u uint64
	var shift uint
	for i := 0; i < len(r.b); i++ {
		c := r.b[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, false
			}
			u |= uint64(c) << shift
			r.b = r.b[i+1:]
			return int64(u>>1) ^ -int64(u&1), true
		}
		if i == binary.MaxVarintLen64-1 {
			return 0, false
		}
		u |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, false
}

// run appends the JSON of one datum of n's type read from r, as
// appendBinaryJSON(b, n.t, r, depth) does; errProg on any error.
func (n *progNode) run(b []byte, r *avroReader, depth int) ([]byte, error) {
	switch n.kind {
	case progNull:
		return append(b, "null"...), nil
	case progBoolean:
		if len(r.b) < 1 || r.b[0] > 1 {
			return nil, errProg
		}
		c := r.b[0]
		r.b = r.b[1:]
		if c == 0 {
			return append(b, "false"...), nil
		}
		return append(b, "true"...), nil
	case progInt:
		i, err := r.int32()
		if err != nil {
			return nil, errProg
		}
		return appendInt(b, int64(i)), nil
	case progLong:
		i, ok := r.varint()
		if !ok {
			return nil, errProg
		}
		return appendInt(b, i), nil
	case progFloat:
		if len(r.b) < 4 {
			return nil, errProg
		}
		f := math.Float32frombits(binary.LittleEndian.Uint32(r.b))
		r.b = r.b[4:]
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return appendNativeJSON(b, n.t, nil, f)
		}
		return strconv.AppendFloat(b, float64(f), 'g', -1, 32), nil
	case progDouble:
		if len(r.b) < 8 {
			return nil, errProg
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
		r.b = r.b[8:]
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return appendNativeJSON(b, n.t, nil, f)
		}
		return appendDouble(b, f), nil
	case progString:
		l, ok := r.varint()
		if !ok || l < 0 || l > int64(len(r.b)) {
			return nil, errProg
		}
		s := r.b[:l]
		r.b = r.b[l:]
		return jsonesc.AppendString(b, bytesString(s)), nil
	case progEnum:
		i, ok := r.varint()
		if !ok || i < 0 || i >= int64(len(n.syms)) {
			return nil, errProg
		}
		return append(b, n.syms[i]...), nil
	case progUnion:
		i, ok := r.varint()
		if !ok || i < 0 || i >= int64(len(n.branches)) {
			return nil, errProg
		}
		return n.branches[i].run(b, r, depth)
	case progRecord:
		if depth >= nesting.Max {
			return nil, errProg
		}
		if len(n.fields) == 0 {
			return append(b, "{}"...), nil
		}
		var err error
		for i := range n.fields {
			f := &n.fields[i]
			b = append(b, f.pre...)
			if b, err = f.node.run(b, r, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case progArray:
		if depth >= nesting.Max {
			return nil, errProg
		}
		b = append(b, '[')
		first := true
		for {
			c, err := r.blockCount()
			if err != nil {
				return nil, errProg
			}
			if c == 0 {
				return append(b, ']'), nil
			}
			for ; c > 0; c-- {
				if !first {
					b = append(b, ',')
				}
				first = false
				if b, err = n.items.run(b, r, depth+1); err != nil {
					return nil, err
				}
			}
		}
	}
	return appendBinaryJSON(b, n.t, r, depth)
}

// appendDouble is strconv.AppendFloat(b, f, 'g', -1, 64) for a finite f,
// without its shortest-digits search when f is a decimal of at most four
// places between 1e-4 and 1e6 (prices, amounts, measures): such an f is
// n/10000 for an integer n, and the digits of n with the point put back
// are the shortest that read back as f. (Decimals of at most 15
// significant digits map to distinct doubles, so one that reads back as f
// is the only one of its length, and no shorter one does.) In that range
// 'g' writes no exponent.
func appendDouble(b []byte, f float64) []byte {
	a := math.Abs(f)
	if a < 1e-4 || a >= 1e6 {
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	}
	v := f * 1e4
	n := int64(v)
	if float64(n) != v || float64(n)/1e4 != f {
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	}
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	ip, fp := n/10000, n%10000
	b = strconv.AppendInt(b, ip, 10)
	if fp == 0 {
		return b
	}
	digits := [5]byte{'.', byte('0' + fp/1000), byte('0' + fp/100%10), byte('0' + fp/10%10), byte('0' + fp%10)}
	end := 5
	for digits[end-1] == '0' {
		end--
	}
	return append(b, digits[:end]...)
}
