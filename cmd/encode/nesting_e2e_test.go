package encode

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/encode/nesting"
)

// nestedNode is a linked list of n Node records/messages as JSON: n levels.
func nestedNode(n int) string {
	s := "null"
	for i := n - 1; i >= 0; i-- {
		s = fmt.Sprintf(`{"v":%d,"next":%s}`, i, s)
	}
	return s
}

// avroNodes is the Avro binary of n nested t.Node records (v = 0), as any
// Avro writer produces it.
func avroNodes(n int) []byte {
	b := bytes.Repeat([]byte{0x00, 0x02}, n-1) // v=0, union branch 1 (Node)
	return append(b, 0x00, 0x00)               // v=0, union branch 0 (null)
}

// protoNodes is the protobuf binary of n nested t.Node messages (v = 1).
func protoNodes(n int) []byte {
	b := []byte{0x08, 0x01}
	for i := 1; i < n; i++ {
		inner := b
		b = append([]byte{0x08, 0x01, 0x12}, appendUvarint(nil, uint64(len(inner)))...)
		b = append(b, inner...)
	}
	return b
}

func appendUvarint(b []byte, x uint64) []byte {
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}

// TestNestingLimitThroughBinary: one limit, nesting.Max, for encode and
// decode of every backend. Data at the limit round-trips through encode and
// decode; one level more is refused by encode with an error naming the limit
// (exit 1), and the same data written by another producer is refused by
// decode the same way. Before, encode wrote a 5,000-level Avro record that
// decode refused (Avro decode stopped at 64 schema levels, about 32 records),
// and the JSON backend wrote 10,001 levels that decode refused.
func TestNestingLimitThroughBinary(t *testing.T) {
	bin := testenv.Binary(t)
	reg := testenv.Registry(t)
	dir := t.TempDir()
	schemas := filepath.Join(dir, "schemas")
	for name, text := range map[string]string{
		"t/Node.avsc":  `{"type":"record","name":"Node","namespace":"t","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","t.Node"],"default":null}]}`,
		"t/node.proto": "syntax = \"proto3\";\npackage t;\nmessage Node { int64 v = 1; Node next = 2; }\n",
		"t/Deep.json":  `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array"}`,
	} {
		p := filepath.Join(schemas, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		c := exec.Command(bin, append([]string{"--schema-path", schemas, "--registry", reg.URL()}, args...)...)
		c.Dir = dir
		c.Env = append(os.Environ(), "DEIMOS_CONFIG=")
		c.Stdin = strings.NewReader(stdin)
		var o, e strings.Builder
		c.Stdout, c.Stderr = &o, &e
		err := c.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return o.String(), e.String(), code
	}
	limit := fmt.Sprintf("nested more than %d levels deep", nesting.Max)
	compact := func(s string) string {
		var b bytes.Buffer
		if err := json.Compact(&b, []byte(s)); err != nil {
			t.Fatalf("%v: %.200s", err, s)
		}
		return b.String()
	}
	deepJSON := strings.Repeat("[", nesting.Max+1) + strings.Repeat("]", nesting.Max+1)
	for _, tc := range []struct {
		name    string
		args    []string // for encode and decode
		encArgs []string
		atLimit string // JSON input with nesting.Max levels
		tooDeep string // the same with one level more
		foreign []byte // nesting.Max+1 levels written by another producer
	}{
		{name: "avro raw", args: []string{"--schema", "t.Node", "--wire", "raw"}, foreign: avroNodes(nesting.Max + 1)},
		{name: "avro ocf", args: []string{"--schema", "t.Node"}, encArgs: []string{"--wire", "ocf"}},
		{name: "avro confluent", encArgs: []string{"--schema", "t.Node", "--wire", "confluent", "--backend", "avro_schema_registry", "--topic", "nodes"}},
		{name: "avro_validation", args: []string{"--schema", "t.Node", "--backend", "avro_validation"}, foreign: []byte(nestedNode(nesting.Max + 1))},
		{name: "proto_local", args: []string{"--schema", "t.Node", "--backend", "proto_local"}, foreign: protoNodes(nesting.Max + 1)},
		{name: "json", args: []string{"--backend", "json"}, atLimit: deepJSON[1 : len(deepJSON)-1], tooDeep: deepJSON, foreign: []byte(deepJSON)},
		{name: "json_schema_local", args: []string{"--backend", "json_schema_local", "--schema", "t.Deep"}, atLimit: deepJSON[1 : len(deepJSON)-1], tooDeep: deepJSON, foreign: []byte(deepJSON)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at, deep := tc.atLimit, tc.tooDeep
			if at == "" {
				at, deep = nestedNode(nesting.Max), nestedNode(nesting.Max+1)
			}
			enc, stderr, code := run(at, append(append([]string{"encode"}, tc.args...), tc.encArgs...)...)
			if code != 0 {
				t.Fatalf("encode at the limit: exit %d: %s", code, stderr)
			}
			dec, stderr, code := run(enc, append([]string{"decode"}, tc.args...)...)
			if code != 0 || strings.TrimSpace(dec) != compact(at) {
				t.Fatalf("decode at the limit: exit %d: %s\n%.300s", code, stderr, dec)
			}
			out, stderr, code := run(deep, append(append([]string{"encode"}, tc.args...), tc.encArgs...)...)
			if code != 1 || out != "" || !strings.Contains(stderr, limit) {
				t.Fatalf("encode one level deeper: exit %d, stdout %.100q, stderr %s", code, out, stderr)
			}
			if tc.foreign != nil {
				_, stderr, code := run(base64.StdEncoding.EncodeToString(tc.foreign)+"\n", append([]string{"decode"}, tc.args...)...)
				if code != 1 || !strings.Contains(stderr, limit) {
					t.Fatalf("decode of %d levels: exit %d, stderr %s", nesting.Max+1, code, stderr)
				}
			}
		})
	}
}
