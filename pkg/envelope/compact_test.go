package envelope

import (
	"bytes"
	"encoding/json"
	"testing"
)

// compactJSONCases are texts whose JSON-ness and compactness decide how a
// record is shown (as JSON, or as the string of its text).
var compactJSONCases = []string{
	`{"a":1}`, `{"a": 1}`, `{"a":1} `, ` {"a":1}`, "{\"a\":\n1}", "{\"a\":1}\t",
	`{"s":"a b\tc"}`, `{"s":"q\" x"}`, `{"s":"q\\" , "t":1}`, `{"s":"q\\","t":1}`, `{"s":"\\\\"}`,
	`[1,2,3]`, `[1, 2]`, `"x y"`, `"x\" y"`, `12`, `-1.5e3`, `true`, `null`, `nul`,
	`{"a":}`, `{"a":"unterminated}`, `{"a":1}{"b":2}`, `{"u":"\u00e9 \u2028"}`, `{"a":[{"b":[]}, {}]}`,
	`{"a":[{"b":[]},{}]}`, `plain text`, "",
}

// isCompactJSON is json.Valid plus no whitespace outside strings; it must
// say exactly what comparing with json.Compact's output says.
func TestIsCompactJSONMatchesCompact(t *testing.T) {
	for _, c := range compactJSONCases {
		b := []byte(c)
		var buf bytes.Buffer
		want := len(b) > 0 && json.Valid(b) && json.Compact(&buf, b) == nil && bytes.Equal(buf.Bytes(), b)
		got := len(b) > 0 && isCompactJSON(b)
		if got != want {
			t.Errorf("isCompactJSON(%q) = %v, json.Compact says %v", c, got, want)
		}
	}
}
