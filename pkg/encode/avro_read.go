package encode

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"unsafe"

	"github.com/deimos-cli/deimos/internal/jsonesc"
	"github.com/deimos-cli/deimos/pkg/avro"
	"github.com/deimos-cli/deimos/pkg/encode/nesting"
)

// Avro binary -> natural JSON, directly: the JSON appendNativeJSON writes
// for goavro's NativeFromBinary of the same bytes (writer schema only, no
// reader schema resolution), without building the native form. Data is
// checked by checkBinary before it gets here; every read is bounds-checked
// all the same and nothing is preallocated from counts in the data.

var errAvroShort = errors.New("short buffer")

type avroReader struct {
	b []byte
}

func (r *avroReader) long() (int64, error) {
	v, ok := r.varint()
	if !ok {
		return 0, errAvroShort
	}
	return v, nil
}

// int32 reads an int as goavro does (a varint truncated to 32 bits).
func (r *avroReader) int32() (int32, error) {
	u, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, errAvroShort
	}
	r.b = r.b[n:]
	return int32(u>>1) ^ -int32(u&1), nil
}

func (r *avroReader) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("negative length %d", n)
	}
	if n > int64(len(r.b)) {
		return nil, errAvroShort
	}
	x := r.b[:n:n]
	r.b = r.b[n:]
	return x, nil
}

// blockCount reads an array or map block header.
func (r *avroReader) blockCount() (int64, error) {
	c, err := r.long()
	if err != nil {
		return 0, err
	}
	if c < 0 {
		if c == math.MinInt64 {
			return 0, fmt.Errorf("invalid block count %d", c)
		}
		c = -c
		if _, err := r.long(); err != nil { // block size: not needed
			return 0, err
		}
	}
	if c > maxAvroBlockCount {
		return 0, fmt.Errorf("block count %d exceeds %d", c, maxAvroBlockCount)
	}
	return c, nil
}

func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// appendBinaryJSON decodes one datum of t from r and appends its JSON.
// depth counts the JSON levels enclosing the value, with checkBinary's
// nesting rule (both must accept the same data).
func appendBinaryJSON(b []byte, t *aType, r *avroReader, depth int) ([]byte, error) {
	if opensLevel(t) && depth >= nesting.Max {
		return nil, nesting.Error{}
	}
	switch t.Kind {
	case "null":
		return append(b, "null"...), nil
	case "boolean":
		if len(r.b) < 1 {
			return nil, errAvroShort
		}
		c := r.b[0]
		r.b = r.b[1:]
		switch c {
		case 0:
			return append(b, "false"...), nil
		case 1:
			return append(b, "true"...), nil
		}
		return nil, fmt.Errorf("invalid boolean byte %d", c)
	case "int":
		i, err := r.int32()
		if err != nil {
			return nil, err
		}
		if t.Logical == "" {
			return appendInt(b, int64(i)), nil
		}
		return appendNativeJSON(b, t, nil, i)
	case "long":
		i, err := r.long()
		if err != nil {
			return nil, err
		}
		if t.Logical == "" {
			return appendInt(b, i), nil
		}
		return appendNativeJSON(b, t, nil, i)
	case "float":
		if len(r.b) < 4 {
			return nil, errAvroShort
		}
		f := math.Float32frombits(binary.LittleEndian.Uint32(r.b))
		r.b = r.b[4:]
		if t.Logical == "" && !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) {
			return strconv.AppendFloat(b, float64(f), 'g', -1, 32), nil // appendNativeJSON's, without boxing
		}
		return appendNativeJSON(b, t, nil, f)
	case "double":
		if len(r.b) < 8 {
			return nil, errAvroShort
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
		r.b = r.b[8:]
		if t.Logical == "" && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return strconv.AppendFloat(b, f, 'g', -1, 64), nil
		}
		return appendNativeJSON(b, t, nil, f)
	case "string":
		s, err := r.bytes()
		if err != nil {
			return nil, err
		}
		return jsonesc.AppendString(b, bytesString(s)), nil
	case "bytes":
		s, err := r.bytes()
		if err != nil {
			return nil, err
		}
		if bytesTooDeep(t, s, depth) {
			return nil, nesting.Error{}
		}
		if t.Logical != "decimal" {
			return appendBytesJSON(b, s), nil
		}
		return appendNativeJSON(b, t, nil, s)
	case "fixed":
		if len(r.b) < t.Size {
			return nil, errAvroShort
		}
		s := r.b[:t.Size:t.Size]
		r.b = r.b[t.Size:]
		if bytesTooDeep(t, s, depth) {
			return nil, nesting.Error{}
		}
		return appendNativeJSON(b, t, nil, s)
	case "enum":
		i, err := r.long()
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(len(t.Symbols)) {
			return nil, fmt.Errorf("enum %s: index %d out of range", t.Name, i)
		}
		return jsonesc.AppendString(b, t.Symbols[i]), nil
	case "union":
		i, err := r.long()
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(len(t.Branches)) {
			return nil, fmt.Errorf("union index %d out of range", i)
		}
		return appendBinaryJSON(b, t.Branches[i], r, depth)
	case "record":
		b = append(b, '{')
		for i, f := range t.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonesc.AppendString(b, f.Name)
			b = append(b, ':')
			var err error
			if b, err = appendBinaryJSON(b, f.Type, r, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case "array":
		b = append(b, '[')
		first := true
		for {
			c, err := r.blockCount()
			if err != nil {
				return nil, err
			}
			if c == 0 {
				return append(b, ']'), nil
			}
			for ; c > 0; c-- {
				if !first {
					b = append(b, ',')
				}
				first = false
				if b, err = appendBinaryJSON(b, t.Items, r, depth+1); err != nil {
					return nil, err
				}
			}
		}
	case "map":
		return appendMapJSON(b, t, r, depth)
	}
	return nil, fmt.Errorf("unsupported type %s", t.Kind)
}

func appendInt(b []byte, i int64) []byte {
	if i >= 0 && i < 10 {
		return append(b, byte('0'+i))
	}
	return strconv.AppendInt(b, i, 10)
}

// appendMapJSON writes the entries in wire order; a repeated key keeps its
// first place and its last value (as a JSON object parsed by JavaScript or
// Python does).
func appendMapJSON(b []byte, t *aType, r *avroReader, depth int) ([]byte, error) {
	var entries []jsonEntry
	var vals []byte
	var at map[string]int // key -> index in entries, once there are several
	for {
		c, err := r.blockCount()
		if err != nil {
			return nil, err
		}
		if c == 0 {
			break
		}
		for ; c > 0; c-- {
			k, err := r.bytes()
			if err != nil {
				return nil, err
			}
			start := len(vals)
			if vals, err = appendBinaryJSON(vals, t.Values, r, depth+1); err != nil {
				return nil, err
			}
			entries, at = addEntry(entries, at, jsonEntry{string(k), start, len(vals)})
		}
	}
	b = append(b, '{')
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonesc.AppendString(b, e.key)
		b = append(b, ':')
		b = append(b, vals[e.start:e.end]...)
	}
	return append(b, '}'), nil
}

// jsonEntry is a map entry whose value is vals[start:end].
type jsonEntry struct {
	key        string
	start, end int
}

// addEntry appends e, or replaces the value of an entry with e's key (which
// keeps its place). at indexes the entries by key once there are more than
// a few (scanning is cheaper for small maps).
func addEntry(entries []jsonEntry, at map[string]int, e jsonEntry) ([]jsonEntry, map[string]int) {
	if at == nil && len(entries) >= 8 {
		at = make(map[string]int, 2*len(entries))
		for i, x := range entries {
			at[x.key] = i
		}
	}
	if at != nil {
		if i, dup := at[e.key]; dup {
			entries[i] = e
			return entries, at
		}
		at[e.key] = len(entries)
		return append(entries, e), at
	}
	for i, x := range entries {
		if x.key == e.key {
			entries[i] = e
			return entries, at
		}
	}
	return append(entries, e), at
}

var decodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// sameAs reports whether reader schema r resolves to exactly the writer
// schema (same resolved text), so the direct decoder can serve it.
func (a *avroSchema) sameAs(r *aType) bool {
	if r == a.t {
		return true
	}
	if v, ok := a.readers.Load(r); ok {
		return v.(bool)
	}
	same := avro.Text(r) == a.text
	a.readers.Store(r, same)
	return same
}

// program is a's decode program, compiled on first use.
func (a *avroSchema) program() *progNode {
	if p := a.prog.Load(); p != nil {
		return p
	}
	p := compileProg(a.t, map[*aType]*progNode{})
	a.prog.Store(p)
	return p
}

// decodeDirect decodes checked bare Avro binary to JSON with the direct
// decoder; the result is a fresh slice of exactly its length.
func (a *avroSchema) decodeDirect(bin []byte, unwrap bool) (json.RawMessage, error) {
	bp := decodeBufs.Get().(*[]byte)
	defer decodeBufs.Put(bp)
	out, err := a.appendDirect((*bp)[:0], bin, unwrap)
	if cap(out) <= 1<<20 {
		*bp = out[:0]
	}
	if err != nil {
		return nil, err
	}
	return append(json.RawMessage(nil), out...), nil
}

// appendDirect appends the JSON of bare Avro binary to dst with the direct
// decoder. When it succeeds, checkBinary accepts bin too (every read is
// bounds-checked, and arrays of zero-size items are refused by
// newAvroSchema, so every counted item took at least a byte), so callers
// may skip that pass.
func (a *avroSchema) appendDirect(dst, bin []byte, unwrap bool) ([]byte, error) {
	t := a.t
	if unwrap && t.Kind == "record" && len(t.Fields) == 1 {
		t = t.Fields[0].Type
	}
	rd := avroReader{b: bin}
	depth := 0
	prog := a.program()
	if t != a.t {
		depth = 1 // inside the key record, as checkBinary counts it
		prog = prog.fields[0].node
	}
	out, err := prog.run(dst, &rd, depth)
	if err != nil {
		// the program says no more than that: the generic decoder names the error
		rd = avroReader{b: bin}
		if out, err = appendBinaryJSON(dst, t, &rd, depth); err != nil {
			return dst, avroDataErr(a.t.Name, err)
		}
	}
	if len(rd.b) > 0 {
		return dst, fmt.Errorf("Avro data does not match schema %s: %d bytes left over", a.t.Name, len(rd.b))
	}
	return out, nil
}
