package encode

import (
	"encoding/binary"
	"math"
	"strings"
)

// LineEncoder is a topic's spec compiled for produce's JSON lines (no key
// given, no payload_key): a record value whose fields arrive in the schema's
// order, each of a shape written straight from the input bytes, is encoded
// in one pass into a caller's buffer, value and key back to back, with the
// key field's bytes captured during the same scan. Anything else (fields out
// of order, missing or unknown, escaped strings, other shapes, a schema id
// not yet registered) is left to Engine.Encode: Append then says ok=false.
// Whatever Append writes is byte for byte what Encode gives (lineenc_test.go
// compares them); Append never reports an error, Encode does. A LineEncoder
// is not safe for concurrent use: give each worker its own.
type LineEncoder struct {
	a        *avroBackend
	topic    string // with the topic prefix
	val, key *avroSchema
	valSub   string
	keySub   string
	valRaw   bool // raw wire (no Confluent header) for the value
	keyRaw   bool
	fields   []lineField
	keyIdx   int // field whose value is the key (-1: no key)

	valHdr, keyHdr [5]byte
	ready          bool // schema ids known
	sc             fastScratch
}

// lineField is one record field as Append writes it.
type lineField struct {
	quoted string // `"name"`, as the field's key appears in the input
	op     lineOp
	item   lineOp // an array's items
	t      *aType
	// auto: message_id or timestamp, which Encode fills in when blank; the
	// fast way takes only a non-blank string
	auto bool
}

type lineOp uint8

const (
	opOther   lineOp = iota // fieldValue's shapes (else Encode)
	opString                // string
	opLong                  // long
	opInt                   // int
	opDouble                // double
	opFloat                 // float
	opBool                  // boolean
	opNullStr               // ["null","string"]
	opArray                 // array of opString, opLong, opDouble or opBool items
)

func leafOp(t *aType) lineOp {
	if t.Logical != "" {
		return opOther
	}
	switch t.Kind {
	case "string":
		return opString
	case "long":
		return opLong
	case "int":
		return opInt
	case "double":
		return opDouble
	case "float":
		return opFloat
	case "boolean":
		return opBool
	case "union":
		if len(t.Branches) == 2 && t.Branches[0].Kind == "null" && t.Branches[1].Kind == "string" && t.Branches[1].Logical == "" {
			return opNullStr
		}
	case "array":
		switch leafOp(t.Items) {
		case opString, opLong, opDouble, opBool:
			return opArray
		}
	}
	return opOther
}

// LineResult is one encoded line: Key, Value and PartitionKey are parts of
// the buffer Append returned (capped, so appending to one cannot overwrite
// another).
type LineResult struct {
	Topic                    string
	Key, Value, PartitionKey []byte // Key, PartitionKey nil: no key
}

// NewLineEncoder compiles s for Append, or returns nil when s has no such
// fast way (not an Avro record spec on the Confluent or raw wire; a key
// other than none or a top-level field of type string, int or long; a
// schema whose data may nest deeper than decode allows; payload_key as a
// field...). The caller then uses Encode for every line.
func (e *Engine) NewLineEncoder(s Spec) *LineEncoder {
	name := e.backendName(s)
	be, err := e.backend(name)
	if err != nil || CheckWire(name, s.Wire) != nil {
		return nil
	}
	a, ok := be.(*avroBackend)
	if !ok {
		return nil
	}
	s.Backend = name
	wire := s.Wire
	if wire == "" {
		wire = a.wire
	}
	if wire != "confluent" && wire != "raw" {
		return nil
	}
	ent, err := a.resolve(s, false)
	if err != nil || ent.sch.deep || ent.sch.t.Kind != "record" || len(ent.sch.t.Fields) == 0 {
		return nil
	}
	l := &LineEncoder{a: a, topic: e.FullTopic(s.Topic), val: ent.sch, valSub: ent.subject, valRaw: wire == "raw", keyRaw: a.wire == "raw", keyIdx: -1}
	for _, f := range ent.sch.t.Fields {
		if f.Name == "payload_key" {
			return nil
		}
		lf := lineField{quoted: `"` + f.Name + `"`, op: leafOp(f.Type), t: f.Type, auto: f.Name == "message_id" || f.Name == "timestamp"}
		if lf.op == opArray {
			lf.item = leafOp(f.Type.Items)
		}
		l.fields = append(l.fields, lf)
	}
	switch s.KeyConfig.Mode() {
	case "", "none":
	case "field":
		idx, ok := ent.sch.t.FieldIndex[s.KeyConfig.Field]
		if !ok {
			return nil
		}
		kent, err := a.resolve(s, true)
		if err != nil {
			return nil
		}
		k, vf := kent.sch.t, l.fields[idx]
		// the key record {field: value} is written as the field alone, so
		// its bytes are the value's bytes for that field when the types agree
		if (a.wire != "confluent" && a.wire != "raw") || kent.sch.deep || k.Kind != "record" || len(k.Fields) != 1 || k.Fields[0].Name != s.KeyConfig.Field ||
			k.Fields[0].Type.Kind != vf.t.Kind || k.Fields[0].Type.Logical != "" || vf.auto ||
			(vf.op != opString && vf.op != opLong && vf.op != opInt) {
			return nil
		}
		l.key, l.keySub, l.keyIdx = kent.sch, kent.subject, idx
	default:
		return nil
	}
	return l
}

// ids fills the Confluent headers once Encode has registered (or looked
// up) the schemas.
func (l *LineEncoder) ids() bool {
	if !l.valRaw {
		v, ok := l.val.ids.Load(l.valSub)
		if !ok {
			return false
		}
		binary.BigEndian.PutUint32(l.valHdr[1:], uint32(v.(int)))
	}
	if l.key != nil && !l.keyRaw {
		v, ok := l.key.ids.Load(l.keySub)
		if !ok {
			return false
		}
		binary.BigEndian.PutUint32(l.keyHdr[1:], uint32(v.(int)))
	}
	l.ready = true
	return true
}

// Append encodes the JSON object line at the end of buf and returns the
// grown buffer and the message's parts, or ok=false (buf unchanged in
// length) when Encode must handle the line.
func (l *LineEncoder) Append(buf, line []byte) ([]byte, LineResult, bool) {
	if !l.ready && !l.ids() {
		return buf, LineResult{}, false
	}
	start := len(buf)
	b := buf
	if !l.valRaw {
		b = append(b, l.valHdr[:]...)
	}
	p := jsonParser{b: line}
	p.ws()
	if p.i >= len(line) || line[p.i] != '{' {
		return buf, LineResult{}, false
	}
	p.i++
	keyStart, keyEnd := 0, 0
	var pk []byte
	for fi := range l.fields {
		f := &l.fields[fi]
		if fi > 0 {
			p.ws()
			if p.i >= len(line) || line[p.i] != ',' {
				return buf, LineResult{}, false
			}
			p.i++
		}
		p.ws()
		if !hasPrefixAt(line, p.i, f.quoted) {
			return buf, LineResult{}, false
		}
		p.i += len(f.quoted)
		p.ws()
		if p.i >= len(line) || line[p.i] != ':' {
			return buf, LineResult{}, false
		}
		p.i++
		p.ws()
		if p.i >= len(line) {
			return buf, LineResult{}, false
		}
		at, tok := len(b), p.i
		var ok bool
		switch f.op {
		case opArray:
			b, ok = p.array(b, f.item)
		case opOther:
			var out []byte
			if out, ok = p.fieldValue(b, f.t, &l.sc); ok && out == nil {
				ok = false
			}
			b = out
		default:
			b, ok = p.leaf(b, f.op)
		}
		if !ok {
			return buf, LineResult{}, false
		}
		if f.auto && (line[tok] != '"' || strings.TrimSpace(string(line[tok+1:p.i-1])) == "") {
			return buf, LineResult{}, false // null or blank: Encode fills it in
		}
		if fi == l.keyIdx {
			keyStart, keyEnd = at, len(b)
			if line[tok] == '"' {
				pk = line[tok+1 : p.i-1]
			} else {
				pk = line[tok:p.i]
			}
		}
	}
	p.ws()
	if p.i >= len(line) || line[p.i] != '}' {
		return buf, LineResult{}, false
	}
	p.i++
	p.ws()
	if p.i != len(line) {
		return buf, LineResult{}, false
	}
	r := LineResult{Topic: l.topic}
	valEnd := len(b)
	if l.key != nil {
		if !l.keyRaw {
			b = append(b, l.keyHdr[:]...)
		}
		b = append(b, b[keyStart:keyEnd]...)
		kEnd := len(b)
		b = append(b, pk...)
		r.Key = b[valEnd:kEnd:kEnd]
		r.PartitionKey = b[kEnd:len(b):len(b)]
	}
	r.Value = b[start:valEnd:valEnd]
	return b, r, true
}

func hasPrefixAt(b []byte, i int, s string) bool {
	return len(b)-i >= len(s) && string(b[i:i+len(s)]) == s
}

// leaf writes the JSON token at p.i as op when it is of op's natural kind
// (what appendAvroField writes for it), and moves past it.
func (p *jsonParser) leaf(b []byte, op lineOp) ([]byte, bool) {
	c := p.b[p.i]
	switch op {
	case opString:
		if c == '"' {
			if s, ok := p.rawString(); ok {
				b = appendLong(b, int64(len(s)))
				return append(b, s...), true
			}
		}
	case opLong, opInt:
		if c == '-' || (c >= '0' && c <= '9') {
			if tok, ok := p.numToken(); ok {
				if i, ok := parseInt64(tok); ok && (op == opLong || (i >= math.MinInt32 && i <= math.MaxInt32)) {
					return appendLong(b, i), true
				}
			}
		}
	case opDouble, opFloat:
		if c == '-' || (c >= '0' && c <= '9') {
			if tok, ok := p.numToken(); ok {
				if f, ok := numberOf(tok); ok {
					if op == opFloat {
						return binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(f))), true
					}
					return binary.LittleEndian.AppendUint64(b, math.Float64bits(f)), true
				}
			}
		}
	case opBool:
		if c == 't' && p.lit("true") {
			return append(b, 1), true
		}
		if c == 'f' && p.lit("false") {
			return append(b, 0), true
		}
	case opNullStr:
		if c == 'n' && p.lit("null") {
			return append(b, 0), true
		}
		if c == '"' {
			if s, ok := p.rawString(); ok {
				b = append(b, 2) // branch 1, zigzag
				b = appendLong(b, int64(len(s)))
				return append(b, s...), true
			}
		}
	}
	return b, false
}

// array writes a JSON array of item tokens as one Avro block. The count
// goes before the items: one byte is kept for it, and the items move when
// it needs more.
func (p *jsonParser) array(b []byte, item lineOp) ([]byte, bool) {
	if p.b[p.i] != '[' {
		return b, false
	}
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return append(b, 0), true
	}
	at := len(b)
	b = append(b, 0)
	count := int64(0)
	for {
		p.ws()
		if p.i >= len(p.b) {
			return b, false
		}
		var ok bool
		if b, ok = p.leaf(b, item); !ok {
			return b, false
		}
		count++
		p.ws()
		if p.i >= len(p.b) {
			return b, false
		}
		if p.b[p.i] == ',' {
			p.i++
			continue
		}
		if p.b[p.i] != ']' {
			return b, false
		}
		p.i++
		break
	}
	if count > maxAvroBlockCount {
		return b, false
	}
	var n [binary.MaxVarintLen64]byte
	cb := binary.AppendVarint(n[:0], count)
	if len(cb) == 1 {
		b[at] = cb[0]
	} else {
		b = append(b, cb[1:]...) // room for the longer count
		copy(b[at+len(cb):], b[at+1:len(b)-len(cb)+1])
		copy(b[at:], cb)
	}
	return append(b, 0), true
}
