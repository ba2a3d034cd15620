package encode

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"unsafe"
)

// Avro maps are written in the order their entries came in, as the other
// Avro libraries (Apache Avro Java and Python, avsc) write a JSON object's
// entries; decoding keeps the wire order (avroMap). The payload's JSON
// objects are Go maps, which have no order, so the parser records each
// object's key order beside it in a keyOrder.

// keyOrder maps a parsed JSON object (by map identity) to its keys in the
// order they first appeared; a repeated key keeps its first place (and its
// last value, as in the map). Objects with fewer than two keys are not
// recorded. A nil *keyOrder records nothing and knows nothing.
type keyOrder struct {
	m map[unsafe.Pointer][]string
}

// mapID is the identity of a map: the maps a payload holds stay alive as
// long as the payload, so identities cannot be reused while it is encoded.
func mapID(m map[string]any) unsafe.Pointer { return reflect.ValueOf(m).UnsafePointer() }

func (o *keyOrder) record(m map[string]any, keys []string) {
	if o == nil || len(keys) < 2 {
		return
	}
	if o.m == nil {
		o.m = map[unsafe.Pointer][]string{}
	}
	o.m[mapID(m)] = keys
}

// keys returns the keys of m in input order when m was recorded and still
// has exactly the recorded keys; otherwise (a map built in Go, such as a
// poller row) in sorted order, so the bytes are the same on every run.
func (o *keyOrder) keys(m map[string]any) []string {
	if o != nil && len(m) > 1 {
		if ks, ok := o.m[mapID(m)]; ok && len(ks) == len(m) {
			all := true
			for _, k := range ks {
				if _, ok := m[k]; !ok {
					all = false
					break
				}
			}
			if all {
				return ks
			}
		}
	}
	return sortedKeys(m)
}

// merge adds the objects recorded in from.
func (o *keyOrder) merge(from *keyOrder) {
	if from == nil {
		return
	}
	for k, v := range from.m {
		if o.m == nil {
			o.m = map[unsafe.Pointer][]string{}
		}
		o.m[k] = v
	}
}

// follow records for dst, a copy of src with keys dropped or added, src's
// order: src's keys that dst kept, then dst's new keys sorted.
func (o *keyOrder) follow(dst, src map[string]any) {
	if o == nil || len(dst) < 2 {
		return
	}
	ks := make([]string, 0, len(dst))
	seen := make(map[string]bool, len(dst))
	for _, k := range o.keys(src) {
		if _, ok := dst[k]; ok {
			ks = append(ks, k)
			seen[k] = true
		}
	}
	for _, k := range sortedKeys(dst) {
		if !seen[k] {
			ks = append(ks, k)
		}
	}
	o.record(dst, ks)
}

type keyOrderCtx struct{}

// withKeyOrder hands the payload's key order to the backend that encodes
// it (request-scoped: it belongs to this one payload). Without an order it
// still stores nil: the backends' lookups then stop here instead of walking
// the caller's whole context chain (two walks a message showed in the
// poller's profile).
func withKeyOrder(ctx context.Context, o *keyOrder) context.Context {
	if o == nil || len(o.m) == 0 {
		return context.WithValue(ctx, keyOrderCtx{}, (*keyOrder)(nil))
	}
	return context.WithValue(ctx, keyOrderCtx{}, o)
}

func keyOrderOf(ctx context.Context) *keyOrder {
	o, _ := ctx.Value(keyOrderCtx{}).(*keyOrder)
	return o
}

// parseJSONOrdered is parseJSON that records the key order of every object
// in ord (nil: parseJSON).
func parseJSONOrdered(b []byte, ord *keyOrder) (any, error) {
	p := jsonParser{b: b, order: ord}
	v, ok := p.value(0)
	if ok {
		p.ws()
		if p.i == len(p.b) {
			return v, nil
		}
	}
	v, err := decodeJSONUseNumber(b)
	if err != nil || ord == nil {
		return v, err
	}
	// input the fast parser leaves to encoding/json (invalid UTF-8, lone
	// surrogates): the same values, built from encoding/json's tokens
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return tokenValue(d, ord)
}

// tokenValue builds one JSON value from d's tokens (what Decode gives),
// recording object key order.
func tokenValue(d *json.Decoder, ord *keyOrder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch x := tok.(type) {
	case json.Delim:
		if x == '[' {
			xs := []any{}
			for d.More() {
				v, err := tokenValue(d, ord)
				if err != nil {
					return nil, err
				}
				xs = append(xs, v)
			}
			_, err := d.Token()
			return xs, err
		}
		m := map[string]any{}
		var keys []string
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			v, err := tokenValue(d, ord)
			if err != nil {
				return nil, err
			}
			if _, dup := m[k]; !dup {
				keys = append(keys, k)
			}
			m[k] = v
		}
		ord.record(m, keys)
		_, err := d.Token()
		return m, err
	}
	return tok, nil
}
