package produce_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// rawMessage is one record as kcat reads it from the broker: the exact bytes.
type rawMessage struct {
	partition  int
	key, value []byte // nil: no key / tombstone
}

// kcatRaw reads every record of topic with kcat (librdkafka), with key and
// value lengths so binary bytes are read exactly.
func kcatRaw(t *testing.T, broker, topic string) []rawMessage {
	t.Helper()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		testenv.Missing(t, "kcat")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-b", broker, "-C", "-t", topic, "-e", "-q", "-f", `%p %K %k %S %s.`).Output()
	if err != nil {
		t.Fatalf("kcat -C -t %s: %v", topic, err)
	}
	var msgs []rawMessage
	num := func() int {
		i := bytes.IndexByte(out, ' ')
		if i < 0 {
			t.Fatalf("kcat output: no length in %q", out)
		}
		n, err := strconv.Atoi(string(out[:i]))
		if err != nil {
			t.Fatalf("kcat output: %v", err)
		}
		out = out[i+1:]
		return n
	}
	part := func(end byte) []byte {
		n := num()
		var b []byte
		if n >= 0 {
			b = append([]byte{}, out[:n]...)
			out = out[n:]
		}
		if len(out) == 0 || out[0] != end {
			t.Fatalf("kcat output: want %q after %d bytes", end, n)
		}
		out = out[1:]
		return b
	}
	for len(out) > 0 {
		m := rawMessage{partition: num()}
		m.key = part(' ')
		m.value = part('.')
		msgs = append(msgs, m)
	}
	return msgs
}

// sameRaw fails unless two topics hold the same records, byte for byte, in
// the same partitions and order.
func sameRaw(t *testing.T, broker, src, dst string) {
	t.Helper()
	a, b := kcatRaw(t, broker, src), kcatRaw(t, broker, dst)
	byPart := func(ms []rawMessage) map[int][]rawMessage {
		m := map[int][]rawMessage{}
		for _, x := range ms {
			m[x.partition] = append(m[x.partition], x)
		}
		return m
	}
	pa, pb := byPart(a), byPart(b)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%s has %d records, %s has %d", src, len(a), dst, len(b))
	}
	for p, xs := range pa {
		ys := pb[p]
		if len(xs) != len(ys) {
			t.Fatalf("partition %d: %s has %d records, %s has %d", p, src, len(xs), dst, len(ys))
		}
		for i := range xs {
			if !bytes.Equal(xs[i].key, ys[i].key) || !bytes.Equal(xs[i].value, ys[i].value) ||
				(xs[i].key == nil) != (ys[i].key == nil) || (xs[i].value == nil) != (ys[i].value == nil) {
				t.Fatalf("partition %d record %d differs:\n%s key %x value %x\n%s key %x value %x", p, i,
					src, xs[i].key, xs[i].value, dst, ys[i].key, ys[i].value)
			}
		}
	}
}

// Copying a topic keeps its encoding: the envelope's key_schema_id and
// value_schema_id re-encode key and value with those registry schemas, so a
// copy into a topic that has no configuration has the source's bytes (Avro,
// protobuf as the second message of its file, JSON Schema; Deimos field keys
// shown unwrapped). --no-decode plus produce stays byte-exact, and
// --no-schema-id encodes per the (absent) topic configuration: plain JSON.
func TestCopyKeepsEncodingBySchemaID(t *testing.T) {
	addrs := testenv.Brokers(t, 2, "widgets", "widgets-copy", "widgets-raw", "widgets-plain",
		"gadgets", "gadgets-copy", "jwidgets", "jwidgets-copy")
	reg := testenv.Registry(t)
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	schemas := filepath.Join(t.TempDir(), "schemas")
	if err := os.CopyFS(schemas, os.DirFS(filepath.Join(root, "testdata", "protos"))); err != nil {
		t.Fatal(err)
	}
	w, err := os.ReadFile(filepath.Join(root, "examples", "schemas", "com", "acme", "Widget.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"Widget.avsc": w, "Widget.json": []byte(widgetJSONSchema)} {
		if err := os.WriteFile(filepath.Join(schemas, "com", "acme", name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(t.TempDir(), "deimos.yaml")
	// only the source topics are configured
	body := fmt.Sprintf(`kafka: {brokers: [%s]}
schema: {path: %s, registry: {url: %s}}
topics:
  - {name: widgets, backend: avro_schema_registry, schema: Widget, namespace: com.acme, key_config: {field: id}}
  - {name: gadgets, backend: proto_schema_registry, schema: com.acme.Gadget, key_config: {field: id}}
  - {name: jwidgets, backend: json_schema_registry, schema: com.acme.Widget, key_config: {field: id}}
`, addrs[0], schemas, reg.URL())
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	e := []string{"DEIMOS_CONFIG=" + cfg}

	ok(t, run(t, e, `{"id":1,"name":"bolt","price":0.25,"tags":["a","b"]}
{"id":2,"name":"nut","price":0.5,"in_stock":false,"message_id":"m2"}
{"id":3,"name":"washer","price":0.05}
`, "produce", "-t", "widgets", "-H", "origin=test"), "produce widgets")
	ok(t, run(t, e, "\n", "produce", "-t", "widgets", "-k", "2", "-Z"), "tombstone")

	dump := ok(t, run(t, e, "", "consume", "-t", "widgets", "-e", "-q"), "consume widgets")
	if strings.Count(dump, `"value_schema_id":`) != 3 || strings.Count(dump, `"key_schema_id":`) != 4 {
		t.Fatalf("envelopes without schema ids:\n%s", dump)
	}
	copied := run(t, e, dump, "produce", "-t", "widgets-copy")
	ok(t, copied, "produce widgets-copy")
	sameRaw(t, addrs[0], "widgets", "widgets-copy")

	raw := ok(t, run(t, e, "", "consume", "-t", "widgets", "-e", "-q", "--no-decode"), "consume --no-decode")
	ok(t, run(t, e, raw, "produce", "-t", "widgets-raw"), "produce widgets-raw")
	sameRaw(t, addrs[0], "widgets", "widgets-raw")

	// opting out: the copy is encoded per widgets-plain's configuration,
	// which is none: JSON text
	ok(t, run(t, e, dump, "produce", "-t", "widgets-plain", "--no-schema-id"), "produce --no-schema-id")
	for _, m := range kcatRaw(t, addrs[0], "widgets-plain") {
		if m.value != nil && (len(m.value) == 0 || m.value[0] != '{') {
			t.Fatalf("--no-schema-id wrote %x, want JSON text", m.value)
		}
	}

	ok(t, run(t, e, `{"id":"g1","part":{"name":"p","qty":3}}
{"id":"g2","part":{"name":"q","qty":4,"detail":{"note":"n"}}}
`, "produce", "-t", "gadgets"), "produce gadgets")
	gd := ok(t, run(t, e, "", "consume", "-t", "gadgets", "-e", "-q"), "consume gadgets")
	ok(t, run(t, e, gd, "produce", "-t", "gadgets-copy"), "produce gadgets-copy")
	sameRaw(t, addrs[0], "gadgets", "gadgets-copy")

	ok(t, run(t, e, `{"id":7,"name":"bolt","price":0.25}
{"id":8,"name":"nut","price":1}
`, "produce", "-t", "jwidgets"), "produce jwidgets")
	jd := ok(t, run(t, e, "", "consume", "-t", "jwidgets", "-e", "-q"), "consume jwidgets")
	ok(t, run(t, e, jd, "produce", "-t", "jwidgets-copy"), "produce jwidgets-copy")
	sameRaw(t, addrs[0], "jwidgets", "jwidgets-copy")

	// an id the registry does not know says which id and what to do
	bad := strings.Replace(strings.SplitN(dump, "\n", 2)[0], `"value_schema_id":`, `"value_schema_id":99`, 1)
	r := run(t, e, bad+"\n", "produce", "-t", "widgets-copy")
	if r.code != 1 || !strings.Contains(r.err, "value_schema_id 99") || !strings.Contains(r.err, "unknown schema id") {
		t.Fatalf("unknown id: exit %d: %s", r.code, r.err)
	}
}
