package encode

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/deimos-cli/deimos/pkg/encode/nesting"
)

// opensLevel: a value of t is a JSON object or array in decoded output
// (bytes and fixed only when they are not UTF-8: bytesTooDeep).
func opensLevel(t *aType) bool {
	switch t.Kind {
	case "record", "array", "map":
		return true
	}
	return false
}

// bytesTooDeep: bytes or fixed data x at depth would be printed as an array
// of byte values (not UTF-8, not a decimal) one level too deep.
func bytesTooDeep(t *aType, x []byte, depth int) bool {
	return depth >= nesting.Max && t.Logical != "decimal" && !utf8.Valid(x)
}

// checkBinary walks Avro binary data for t without allocating, checking that
// every length and block count fits in the bytes left, so that a few
// hostile bytes claiming huge counts are refused before any reader trusts
// them. depth is the
// number of JSON levels enclosing the value (0 at the top); data nested
// deeper than nesting.Max is refused: decode runs this before reading, encode
// after writing data of a schema that can nest that deep (avroSchema.deep).
func checkBinary(t *aType, b []byte, depth int) ([]byte, error) {
	if opensLevel(t) && depth >= nesting.Max {
		return nil, nesting.Error{}
	}
	long := func() (int64, error) {
		v, n := binary.Varint(b)
		if n <= 0 {
			return 0, errTruncated
		}
		b = b[n:]
		return v, nil
	}
	switch t.Kind {
	case "null":
		return b, nil
	case "boolean":
		if len(b) < 1 {
			return nil, errTruncated
		}
		return b[1:], nil
	case "int", "long", "enum":
		_, err := long()
		return b, err
	case "float":
		if len(b) < 4 {
			return nil, errTruncated
		}
		return b[4:], nil
	case "double":
		if len(b) < 8 {
			return nil, errTruncated
		}
		return b[8:], nil
	case "bytes", "string":
		n, err := long()
		if err != nil {
			return nil, err
		}
		if n < 0 || n > int64(len(b)) {
			return nil, errTruncated
		}
		if t.Kind == "bytes" && bytesTooDeep(t, b[:n], depth) {
			return nil, nesting.Error{}
		}
		return b[n:], nil
	case "fixed":
		if len(b) < t.Size {
			return nil, errTruncated
		}
		if bytesTooDeep(t, b[:t.Size], depth) {
			return nil, nesting.Error{}
		}
		return b[t.Size:], nil
	case "record":
		var err error
		for _, f := range t.Fields {
			if b, err = checkBinary(f.Type, b, depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	case "union":
		i, err := long()
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(len(t.Branches)) {
			return nil, fmt.Errorf("union branch %d out of range", i)
		}
		return checkBinary(t.Branches[i], b, depth) // a branch is no level of its own
	case "array", "map":
		for {
			n, err := long()
			if err != nil {
				return nil, err
			}
			if n == 0 {
				return b, nil
			}
			if n < 0 {
				if n == -n { // MinInt64
					return nil, fmt.Errorf("bad block count")
				}
				n = -n
				if _, err := long(); err != nil {
					return nil, err
				}
			}
			if n > int64(len(b)) { // every item takes at least one byte
				return nil, fmt.Errorf("block count %d exceeds the %d bytes left", n, len(b))
			}
			for i := int64(0); i < n; i++ {
				if t.Kind == "map" {
					if b, err = checkBinary(&aType{Kind: "string"}, b, depth+1); err != nil {
						return nil, err
					}
					if b, err = checkBinary(t.Values, b, depth+1); err != nil {
						return nil, err
					}
				} else if b, err = checkBinary(t.Items, b, depth+1); err != nil {
					return nil, err
				}
			}
		}
	}
	return nil, fmt.Errorf("unsupported type %s", t.Kind)
}
