package testenv

import (
	"encoding/hex"
	"strings"
	"testing"
)

// TestNodeOracle proves the oracle packages load: avsc encodes a map in
// insertion order, as the Avro serializers deimos is compared with do.
func TestNodeOracle(t *testing.T) {
	out := Node(t, `const avsc = require("avsc");
process.stdout.write(avsc.Type.forSchema({type: "map", values: "int"}).toBuffer({a: 1, b: 2, c: 3}).toString("hex"));`, nil)
	if got, want := strings.TrimSpace(string(out)), hex.EncodeToString([]byte{6, 2, 'a', 2, 2, 'b', 4, 2, 'c', 6, 0}); got != want {
		t.Fatalf("avsc map bytes = %s, want %s", got, want)
	}
}
