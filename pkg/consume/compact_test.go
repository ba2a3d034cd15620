package consume

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/deimos-cli/deimos/pkg/encode"
	"github.com/deimos-cli/deimos/pkg/envelope"
)

// compactJSONCases (as in pkg/envelope's compact_test.go) are texts whose JSON-ness and compactness decide how a
// record is shown (as JSON, or as the string of its text).
var compactJSONCases = []string{
	`{"a":1}`, `{"a": 1}`, `{"a":1} `, ` {"a":1}`, "{\"a\":\n1}", "{\"a\":1}\t",
	`{"s":"a b\tc"}`, `{"s":"q\" x"}`, `{"s":"q\\" , "t":1}`, `{"s":"q\\","t":1}`, `{"s":"\\\\"}`,
	`[1,2,3]`, `[1, 2]`, `"x y"`, `"x\" y"`, `12`, `-1.5e3`, `true`, `null`, `nul`,
	`{"a":}`, `{"a":"unterminated}`, `{"a":1}{"b":2}`, `{"u":"\u00e9 \u2028"}`, `{"a":[{"b":[]}, {}]}`,
	`{"a":[{"b":[]},{}]}`, `plain text`, "",
}

// The decoder tells JSON from text as json.Valid does, and pick's shortcut
// for JSON the decoder read gives what rawRepr gives.
func TestPickJSONMatchesRawRepr(t *testing.T) {
	e, err := encode.New(encode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range compactJSONCases {
		raw := []byte(c)
		if len(raw) == 0 {
			continue
		}
		d, err := e.Decode(t.Context(), encode.Spec{}, nil, raw)
		if err != nil {
			t.Fatalf("%q: %v", c, err)
		}
		if isJSON := d.ValueFormat.Wire == "json"; isJSON != json.Valid(raw) {
			t.Errorf("%q: detected as %q, json.Valid says %v", c, d.ValueFormat.Wire, json.Valid(raw))
		}
		gotV, gotEnc := pick(d.Value, d.ValueFormat, raw)
		wantV, wantEnc := envelope.Repr(raw)
		if !bytes.Equal(gotV, wantV) || gotEnc != wantEnc {
			t.Errorf("%q (wire %s): pick = %s %s, rawRepr = %s %s", c, d.ValueFormat.Wire, gotV, gotEnc, wantV, wantEnc)
		}
	}
}
