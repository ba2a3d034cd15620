package encode

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/deimos-cli/deimos/internal/jsonesc"
	"github.com/deimos-cli/deimos/pkg/avro"
)

// parseJSON parses one JSON document into the values decodeJSONUseNumber
// gives (map[string]any, []any, json.Number, string, bool, nil), several
// times faster than encoding/json. Whenever the input is not plain valid
// JSON followed only by whitespace, it defers to decodeJSONUseNumber, so the
// result and the error messages are exactly encoding/json's.
func parseJSON(b []byte) (any, error) {
	return parseJSONOrdered(b, nil)
}

// ParseJSON is parseJSON for other packages: one JSON document into
// map[string]any, []any, json.Number, string, bool or nil, as encoding/json
// with UseNumber gives them (and its errors), several times faster. The
// table sink reads every payload and key with it.
func ParseJSON(b []byte) (any, error) { return parseJSON(b) }

type jsonParser struct {
	b     []byte
	i     int
	order *keyOrder // records the key order of objects (nil: not kept)
}

// maxJSONDepth matches encoding/json's nesting limit; deeper input goes to
// encoding/json for its error.
const maxJSONDepth = 10000

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (any, bool) {
	if depth > maxJSONDepth {
		return nil, false
	}
	p.ws()
	if p.i >= len(p.b) {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		p.i++
		m := make(map[string]any, 8)
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return m, true
		}
		var keys []string
		for {
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return nil, false
			}
			k, ok := p.str()
			if !ok {
				return nil, false
			}
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return nil, false
			}
			p.i++
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			if p.order != nil {
				if _, dup := m[k]; !dup {
					keys = append(keys, k)
				}
			}
			m[k] = v
			p.ws()
			if p.i >= len(p.b) {
				return nil, false
			}
			switch p.b[p.i] {
			case ',':
				p.i++
			case '}':
				p.i++
				p.order.record(m, keys)
				return m, true
			default:
				return nil, false
			}
		}
	case c == '[':
		p.i++
		xs := []any{}
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return xs, true
		}
		for {
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			xs = append(xs, v)
			p.ws()
			if p.i >= len(p.b) {
				return nil, false
			}
			switch p.b[p.i] {
			case ',':
				p.i++
			case ']':
				p.i++
				return xs, true
			default:
				return nil, false
			}
		}
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.lit("true")
	case c == 'f':
		return false, p.lit("false")
	case c == 'n':
		return nil, p.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.num()
	}
	return nil, false
}

func (p *jsonParser) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// num scans a number per the JSON grammar.
func (p *jsonParser) num() (any, bool) {
	start := p.i
	end, ok := p.numEnd()
	if !ok {
		return nil, false
	}
	p.i = end
	return json.Number(p.b[start:end]), true
}

// numEnd returns where the number at p.i ends (JSON grammar).
func (p *jsonParser) numEnd() (int, bool) {
	b := p.b
	i := p.i
	if b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return 0, false
	}
	if b[i] == '0' {
		i++
	} else if b[i] >= '1' && b[i] <= '9' {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	} else {
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return 0, false
		}
	}
	return i, true
}

// str scans a string at p.i (the opening quote). Invalid UTF-8 or a lone
// surrogate escape returns !ok (encoding/json replaces them with U+FFFD).
func (p *jsonParser) str() (string, bool) {
	b := p.b
	i := p.i + 1
	start := i
	for i < len(b) {
		c := b[i]
		if c == '"' {
			p.i = i + 1
			return string(b[start:i]), true
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", false
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			i += size
			continue
		}
		i++
	}
	if i >= len(b) {
		return "", false
	}
	// slow path: escapes
	out := make([]byte, 0, i-start+16)
	out = append(out, b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			p.i = i + 1
			return string(out), true
		case c == '\\':
			if i+1 >= len(b) {
				return "", false
			}
			i++
			switch b[i] {
			case '"', '\\', '/':
				out = append(out, b[i])
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(b, i+1)
				if !ok {
					return "", false
				}
				i += 4
				if utf16.IsSurrogate(r) {
					if i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
						return "", false
					}
					r2, ok := hex4(b, i+3)
					if !ok {
						return "", false
					}
					dec := utf16.DecodeRune(r, r2)
					if dec == utf8.RuneError {
						return "", false
					}
					r = dec
					i += 6
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", false
			}
			i++
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			out = append(out, b[i:i+size]...)
			i += size
		default:
			out = append(out, c)
			i++
		}
	}
	return "", false
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i:i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}

// Schema-directed encoding: one JSON object line straight to Avro binary in
// the record's field order, without building a map[string]any. Each field's
// bytes go to a reusable slot (fields may arrive in any order), and the
// slots are concatenated in schema order. The common shapes (plain strings,
// longs, doubles, booleans, null / ["null","string"] unions, arrays of those)
// are written from the input bytes; any other field value is parsed as
// parseJSON would and written by appendAvroField, exactly as appendRecord
// does. It never reports an error: on anything it does not take (invalid
// JSON, a field error, payload_key, a missing field without default...) it
// returns ok=false and the caller uses the map path, whose result and error
// messages are the reference.

type fastScratch struct {
	slots [][]byte
	set   []bool
	tmp   []byte
}

var fastPool = sync.Pool{New: func() any { return &fastScratch{} }}

// fastInfo is what Engine.Encode needs from the payload besides its bytes.
type fastInfo struct {
	key               any // the top-level keyField value (last one wins, as in a map)
	keyFound          bool
	midBlank, tsBlank bool     // message_id / timestamp absent or blank (see blank)
	order             keyOrder // key order of the objects parsed for fields that may hold maps
}

// appendRecordJSON appends the Avro binary of the JSON object src as record
// t (what parseJSON + appendRecord give), or returns ok=false.
func appendRecordJSON(b []byte, t *aType, src []byte, keyField string) ([]byte, fastInfo, bool) {
	info := fastInfo{midBlank: true, tsBlank: true}
	if t.Kind != "record" {
		return b, info, false
	}
	p := jsonParser{b: src}
	p.ws()
	if p.i >= len(src) || src[p.i] != '{' {
		return b, info, false
	}
	p.i++
	p.ws()
	if p.i < len(src) && src[p.i] == '}' {
		return b, info, false // {}: a tombstone, the map path decides
	}
	sc := fastPool.Get().(*fastScratch)
	defer fastPool.Put(sc)
	n := len(t.Fields)
	if len(sc.slots) < n {
		sc.slots = make([][]byte, n)
		sc.set = make([]bool, n)
	}
	slots, set := sc.slots[:n], sc.set[:n]
	for i := range set {
		set[i] = false
	}
	path := avro.ShortName(t.Name)
	next := 0
	for {
		p.ws()
		if p.i >= len(src) || src[p.i] != '"' {
			return b, info, false
		}
		name, ok := p.keyBytes()
		if !ok {
			return b, info, false
		}
		p.ws()
		if p.i >= len(src) || src[p.i] != ':' {
			return b, info, false
		}
		p.i++
		p.ws()
		if p.i >= len(src) {
			return b, info, false
		}
		// keys usually come in the schema's field order: try the field
		// after the last one before hashing the name
		idx, isField := next, next < len(t.Fields) && t.Fields[next].Name == string(name)
		if !isField {
			idx, isField = t.FieldIndex[string(name)]
		}
		if isField {
			next = idx + 1
		}
		isKey := keyField != "" && string(name) == keyField
		isMid, isTs := string(name) == "message_id", string(name) == "timestamp"
		if string(name) == "payload_key" {
			return b, info, false
		}
		p.order = nil
		if !isField || !t.Fields[idx].Type.NoMap {
			p.order = &info.order
		}
		if isKey || isMid || isTs || !isField {
			x, ok := p.value(1)
			if !ok {
				return b, info, false
			}
			switch {
			case isKey:
				info.key, info.keyFound = x, true
			}
			if isMid {
				info.midBlank = blank(x, true)
			}
			if isTs {
				info.tsBlank = blank(x, true)
			}
			if isField {
				f := t.Fields[idx]
				out, err := appendAvroField(slots[idx][:0], f.Type, x, path, f.Name, p.order)
				if err != nil {
					return b, info, false
				}
				slots[idx], set[idx] = out, true
			}
		} else {
			f := t.Fields[idx]
			out, ok := p.fieldValue(slots[idx][:0], f.Type, sc)
			if !ok {
				return b, info, false
			}
			if out == nil { // not a direct shape: the general way
				x, ok := p.value(1)
				if !ok {
					return b, info, false
				}
				var err error
				if out, err = appendAvroField(slots[idx][:0], f.Type, x, path, f.Name, p.order); err != nil {
					return b, info, false
				}
			}
			slots[idx], set[idx] = out, true
		}
		p.ws()
		if p.i >= len(src) {
			return b, info, false
		}
		if src[p.i] == ',' {
			p.i++
			continue
		}
		if src[p.i] != '}' {
			return b, info, false
		}
		p.i++
		break
	}
	p.ws()
	if p.i != len(src) {
		return b, info, false
	}
	for i, f := range t.Fields {
		if set[i] {
			b = append(b, slots[i]...)
			continue
		}
		if !f.HasDefault {
			return b, info, false
		}
		var err error
		if b, err = appendMissing(b, f, path+"."+f.Name); err != nil {
			return b, info, false
		}
	}
	return b, info, true
}

// keyBytes scans an object key at p.i (the opening quote): the raw bytes
// when it has no escapes, else the decoded form.
func (p *jsonParser) keyBytes() ([]byte, bool) {
	if s, ok := p.rawString(); ok {
		return s, true
	}
	s, ok := p.str()
	return []byte(s), ok
}

// rawString returns the bytes of the string at p.i (the opening quote) and
// moves past it, when it is valid and has no escapes (str's rules);
// otherwise ok=false and p.i is unchanged.
func (p *jsonParser) rawString() ([]byte, bool) {
	b := p.b
	i := p.i + 1
	start := i
	for i < len(b) {
		if i += jsonesc.PlainLen(b[i:]); i >= len(b) {
			break
		}
		c := b[i]
		if c == '"' {
			p.i = i + 1
			return b[start:i], true
		}
		if c == '\\' || c < 0x20 {
			return nil, false
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, false
			}
			i += size
			continue
		}
		i++
	}
	return nil, false
}

// numToken scans a number at p.i per the JSON grammar (as num) and returns
// its bytes.
func (p *jsonParser) numToken() ([]byte, bool) {
	start := p.i
	end, ok := p.numEnd()
	if !ok {
		return nil, false
	}
	p.i = end
	return p.b[start:end], true
}

// isIntToken: a JSON number token without fraction or exponent.
func isIntToken(s []byte) bool {
	for _, c := range s {
		if c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	return true
}

// parseInt64 is strconv.ParseInt(s, 10, 64) (on a JSON number token)
// without a string copy; up to 18 digits (which cannot overflow) without
// strconv.
func parseInt64(s []byte) (int64, bool) {
	if d := s; len(d) > 0 {
		neg := d[0] == '-'
		if neg {
			d = d[1:]
		}
		if len(d) > 0 && len(d) <= 18 {
			var n int64
			for _, c := range d {
				if c < '0' || c > '9' {
					return 0, false // a fraction or exponent: ParseInt fails on these
				}
				n = n*10 + int64(c-'0')
			}
			if neg {
				n = -n
			}
			return n, true
		}
	}
	if !isIntToken(s) {
		return 0, false // ParseInt fails on these
	}
	i, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(s), len(s)), 10, 64)
	return i, err == nil
}

// numberOf is asNumber(json.Number(s)) without a string copy.
func numberOf(s []byte) (float64, bool) {
	if i, ok := parseInt64(s); ok {
		return float64(i), true
	}
	if f, ok := exactFloat(s); ok {
		return f, true
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(s), len(s)), 64)
	return f, err == nil
}

// exactPow10 are the powers of ten a float64 holds exactly.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// exactFloat is strconv.ParseFloat for a JSON number token "-?d+.d+" of at
// most 15 digits: its digits and the power of ten are exact float64s, so
// one division rounds correctly, as ParseFloat's own exact path does.
// Other tokens (exponents, more digits) return ok=false.
func exactFloat(s []byte) (float64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	var mant uint64
	digits, frac, dot := 0, 0, false
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 {
		return 0, false
	}
	f := float64(mant) / exactPow10[frac]
	if neg {
		f = -f
	}
	return f, true
}

// fieldValue writes the value at p.i as t when it has one of the direct
// shapes and moves past it. It returns (nil, true) with p.i unchanged for
// any other shape, and ok=false only for invalid JSON.
func (p *jsonParser) fieldValue(b []byte, t *aType, sc *fastScratch) ([]byte, bool) {
	if b == nil {
		b = make([]byte, 0, 32)
	}
	start := p.i
	out, direct := p.leafValue(b, t)
	if direct {
		return out, true
	}
	p.i = start
	if t.Kind != "array" || t.Items.Logical != "" || p.b[p.i] != '[' {
		return nil, true
	}
	switch t.Items.Kind {
	case "string", "long", "double", "boolean":
	default:
		return nil, true
	}
	p.i++
	tmp := sc.tmp[:0]
	count := 0
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return append(b, 0), true
	}
	for {
		p.ws()
		if p.i >= len(p.b) {
			p.i = start
			return nil, true
		}
		var ok bool
		if tmp, ok = p.leafValue(tmp, t.Items); !ok {
			sc.tmp = tmp
			p.i = start
			return nil, true
		}
		count++
		p.ws()
		if p.i >= len(p.b) {
			break
		}
		if p.b[p.i] == ',' {
			p.i++
			continue
		}
		if p.b[p.i] == ']' {
			p.i++
			sc.tmp = tmp
			if int64(count) > maxAvroBlockCount {
				p.i = start
				return nil, true
			}
			b = appendLong(b, int64(count))
			b = append(b, tmp...)
			return append(b, 0), true
		}
		break
	}
	sc.tmp = tmp
	p.i = start
	return nil, true // malformed: the general way reports it
}

// leafValue writes a plain string, long, double, float, boolean, or a
// null / string in a union starting with null, when the JSON token at p.i
// is of the natural kind (what appendLeaf / appendAvro write for it).
func (p *jsonParser) leafValue(b []byte, t *aType) ([]byte, bool) {
	if t.Logical != "" || p.i >= len(p.b) {
		return b, false
	}
	c := p.b[p.i]
	switch t.Kind {
	case "string":
		if c == '"' {
			if s, ok := p.rawString(); ok {
				b = appendLong(b, int64(len(s)))
				return append(b, s...), true
			}
		}
	case "long":
		if c == '-' || (c >= '0' && c <= '9') {
			if tok, ok := p.numToken(); ok {
				if i, ok := parseInt64(tok); ok {
					return appendLong(b, i), true
				}
			}
		}
	case "double", "float":
		if c == '-' || (c >= '0' && c <= '9') {
			if tok, ok := p.numToken(); ok {
				if f, ok := numberOf(tok); ok {
					if t.Kind == "float" {
						return binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(f))), true
					}
					return binary.LittleEndian.AppendUint64(b, math.Float64bits(f)), true
				}
			}
		}
	case "boolean":
		if c == 't' && p.lit("true") {
			return append(b, 1), true
		}
		if c == 'f' && p.lit("false") {
			return append(b, 0), true
		}
	case "union":
		if len(t.Branches) == 0 || t.Branches[0].Kind != "null" {
			return b, false
		}
		if c == 'n' && p.lit("null") {
			return appendLong(b, 0), true
		}
		if c == '"' && len(t.Branches) > 1 && t.Branches[1].Kind == "string" && t.Branches[1].Logical == "" {
			if s, ok := p.rawString(); ok {
				b = appendLong(b, 1)
				b = appendLong(b, int64(len(s)))
				return append(b, s...), true
			}
		}
	}
	return b, false
}
