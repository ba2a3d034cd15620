package encode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// Avro maps: deimos writes the entries in input order, as avsc and Apache
// Avro's Python library do, and decode prints them in wire order.

const mapsSchema = `{"type":"record","name":"Maps","namespace":"t","fields":[
 {"name":"id","type":"long","default":0},
 {"name":"m","type":{"type":"map","values":"long"}},
 {"name":"nested","type":{"type":"map","values":{"type":"map","values":"string"}},"default":{"z":{"b":"1","a":"2"},"y":{}}},
 {"name":"list","type":{"type":"array","items":{"type":"map","values":"boolean"}},"default":[]},
 {"name":"opt","type":["null",{"type":"map","values":"double"}],"default":null},
 {"name":"sub","type":["null",{"type":"record","name":"Sub","fields":[{"name":"mm","type":{"type":"map","values":"int"}},{"name":"s","type":"string"}]}],"default":null}
]}`

// mapsDir writes the schema as t/Maps.avsc under a schema path.
func mapsDir(t *testing.T) (dir, file string) {
	t.Helper()
	dir = t.TempDir()
	file = filepath.Join(dir, "t", "Maps.avsc")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(mapsSchema), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

// deimosRun runs the binary with --schema-path dir.
func deimosRun(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	c := exec.Command(testenv.Binary(t), append([]string{"--schema-path", dir}, args...)...)
	c.Dir = t.TempDir()
	c.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	c.Stdout, c.Stderr = &o, &e
	if err := c.Run(); err != nil {
		t.Fatalf("deimos %v: %v\n%s", args, err, e.String())
	}
	return o.String()
}

func encodeHex(t *testing.T, dir string, lines []string, extra ...string) []string {
	t.Helper()
	args := append([]string{"encode", "--schema", "t.Maps", "--wire", "raw", "--output-encoding", "hex"}, extra...)
	out := strings.Split(strings.TrimSpace(deimosRun(t, dir, strings.Join(lines, "\n")+"\n", args...)), "\n")
	if len(out) != len(lines) {
		t.Fatalf("%d lines in, %d out", len(lines), len(out))
	}
	return out
}

// avscHex encodes JSON lines with avsc (npm), one hex line each.
func avscHex(t *testing.T, schemaFile string, lines []string) []string {
	t.Helper()
	script := `
const avro = require("avsc"), fs = require("fs");
const type = avro.Type.forSchema(JSON.parse(fs.readFileSync(process.argv[1], "utf8")));
for (const l of fs.readFileSync(0, "utf8").split("\n")) if (l.trim()) console.log(type.toBuffer(JSON.parse(l)).toString("hex"));`
	out := testenv.Node(t, script, []byte(strings.Join(lines, "\n")+"\n"), schemaFile)
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// pyAvro runs testdata/interop/avro_interop.py CMD SCHEMA with Debian's
// python3-avro on lines, one output line each.
func pyAvro(t *testing.T, cmd, schemaFile string, lines []string) []string {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import avro.io").Run(); err != nil {
		testenv.Missing(t, "python3-avro for /usr/bin/python3")
	}
	c := exec.Command("/usr/bin/python3", "../../testdata/interop/avro_interop.py", cmd, schemaFile)
	c.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	var e bytes.Buffer
	c.Stderr = &e
	out, err := c.Output()
	if err != nil {
		t.Fatalf("python3-avro %s: %v\n%s", cmd, err, e.String())
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func manyKeys() string {
	r := rand.New(rand.NewSource(7))
	var kv []string
	for _, i := range r.Perm(40) {
		kv = append(kv, fmt.Sprintf(`"key%02d":%d`, i, i*i))
	}
	return "{" + strings.Join(kv, ",") + "}"
}

func TestAvroMapOrderMatchesOracles(t *testing.T) {
	dir, file := mapsDir(t)
	// every field given: python3-avro does not fill in defaults
	full := func(m string) string {
		return `{"id":1,"m":` + m + `,"nested":{"z":{"b":"1","a":"2"},"y":{}},"list":[{"t":true,"f":false},{}],"opt":{"y":1.5,"x":2},"sub":{"mm":{"q":1,"p":2},"s":"x"}}`
	}
	both := []string{
		full(`{"a":1,"b":2,"c":3}`),
		full(`{"c":3,"b":2,"a":1}`),
		full(manyKeys()),
		full(`{"é":1,"a\"b":2,"😀":3,"\u00e8":4,"":5}`),
		full(`{"b":1,"a":2,"b":3}`), // a repeated key keeps its first place and its last value
		full(`{}`),
	}
	want := pyAvro(t, "hex", file, both)
	if got := avscHex(t, file, both); !reflect.DeepEqual(got, want) {
		t.Fatalf("the oracles disagree:\navsc   %v\npython %v", got, want)
	}
	if got := encodeHex(t, dir, both); !reflect.DeepEqual(got, want) {
		t.Fatalf("deimos %v\noracles %v", got, want)
	}
	// the map path (payload_key in the payload) writes the same bytes
	withKey := make([]string, len(both))
	for i, l := range both {
		withKey[i] = `{"payload_key":"k",` + l[1:]
	}
	if got := encodeHex(t, dir, withKey); !reflect.DeepEqual(got, want) {
		t.Fatalf("map path %v\noracles  %v", got, want)
	}

	// keys that look like array indexes: JavaScript objects put them first,
	// so avsc cannot keep the input order; python3-avro and deimos do
	numeric := []string{full(`{"b":1,"2":2,"10":3,"a":4}`)}
	if got, want := encodeHex(t, dir, numeric), pyAvro(t, "hex", file, numeric); !reflect.DeepEqual(got, want) {
		t.Fatalf("numeric keys: deimos %v\npython %v", got, want)
	}

	// defaults: map defaults keep the schema's order (avsc fills them in)
	partial := []string{`{"m":{"x":1,"w":2}}`, `{"m":{"a":1,"b":2,"c":3}}`}
	if got, want := encodeHex(t, dir, partial), avscHex(t, file, partial); !reflect.DeepEqual(got, want) {
		t.Fatalf("defaults: deimos %v\navsc %v", got, want)
	}
}

// jsonTokens lists a document's tokens in order (numbers as float64), so
// key order counts and number spelling (2 vs 2.0) does not.
func jsonTokens(t *testing.T, s string) []any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var out []any
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if n, ok := tok.(json.Number); ok {
			f, _ := strconv.ParseFloat(string(n), 64)
			tok = f
		}
		out = append(out, tok)
	}
}

// Decoding keeps the wire order: decode -> JSON -> encode gives the same
// bytes, and python3-avro reads the entries in the same order.
func TestAvroMapDecodeKeepsWireOrder(t *testing.T) {
	dir, file := mapsDir(t)
	docs := []string{
		`{"id":1,"m":{"c":3,"a":1,"b":2},"nested":{"z":{"b":"1","a":"2"},"y":{}},"list":[{"t":true,"f":false},{}],"opt":{"y":1.5,"x":2},"sub":{"mm":{"q":1,"p":2},"s":"x"}}`,
		`{"id":2,"m":` + manyKeys() + `,"nested":{},"list":[],"opt":null,"sub":null}`,
	}
	// bytes written by python3-avro (an independent writer)
	hexes := pyAvro(t, "hex", file, docs)
	dec := strings.Split(strings.TrimSpace(deimosRun(t, dir, strings.Join(hexes, "\n")+"\n",
		"decode", "--schema", "t.Maps", "--wire", "raw", "--input-encoding", "hex")), "\n")
	py := pyAvro(t, "json", file, hexes)
	for i := range docs {
		if !reflect.DeepEqual(jsonTokens(t, dec[i]), jsonTokens(t, py[i])) {
			t.Fatalf("decoded %s\npython  %s", dec[i], py[i])
		}
		if !reflect.DeepEqual(jsonTokens(t, dec[i]), jsonTokens(t, docs[i])) {
			t.Fatalf("decoded %s\ninput   %s", dec[i], docs[i])
		}
	}
	if again := encodeHex(t, dir, dec); !reflect.DeepEqual(again, hexes) {
		t.Fatalf("decode -> encode %v\nwritten by python %v", again, hexes)
	}
	// an object container file decodes through the reader-schema path: the
	// same order
	ocf := deimosRun(t, dir, docs[0], "encode", "--schema", "t.Maps", "--wire", "ocf")
	got := strings.TrimSpace(deimosRun(t, dir, ocf, "decode"))
	if got != dec[0] {
		t.Fatalf("ocf decoded %s\nraw decoded %s", got, dec[0])
	}
	// and avro_validation (JSON on the wire) prints the input order
	j := strings.TrimSpace(deimosRun(t, dir, docs[0], "encode", "--schema", "t.Maps", "--backend", "avro_validation", "--output-encoding", "raw"))
	if j != dec[0] {
		t.Fatalf("avro_validation %s\ndecoded         %s", j, dec[0])
	}
}

// The example: 20 runs of the binary give one byte string, the
// one avsc writes.
func TestAvroMapBytesStableOverRuns(t *testing.T) {
	dir, file := mapsDir(t)
	in := `{"m":{"a":1,"b":2,"c":3}}`
	want := avscHex(t, file, []string{in})[0]
	seen := map[string]int{}
	for i := 0; i < 20; i++ {
		seen[encodeHex(t, dir, []string{in})[0]]++
		seen[encodeHex(t, dir, []string{`{"payload_key":1,"m":{"a":1,"b":2,"c":3}}`})[0]]++
	}
	if len(seen) != 1 || seen[want] != 40 {
		t.Fatalf("40 encodings gave %v, avsc %s", seen, want)
	}
}
