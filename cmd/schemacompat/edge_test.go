package schemacompat

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// A single version with a mode: compatible, nothing to compare (a registry
// accepts the first version of a subject), in text and JSON; an invalid
// single version is still exit 2.
func TestSingleVersionThroughBinary(t *testing.T) {
	dir := t.TempDir()
	one := file(t, dir, "v1.avsc", v1)
	for _, mode := range []string{"BACKWARD", "FULL_TRANSITIVE", "NONE"} {
		out, stderr, code := deimos(t, "schema-compat", "--mode", mode, one)
		if code != 0 || !strings.Contains(out, "v1.avsc: compatible ("+mode+", only one version: nothing to compare") {
			t.Fatalf("%s: exit %d\n%s%s", mode, code, out, stderr)
		}
	}
	out, _, code := deimos(t, "schema-compat", "--mode", "FULL", "-o", "json", one)
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("json: exit %d %v\n%s", code, err, out)
	}
	if !rep.Compatible || len(rep.Results) != 1 || !strings.Contains(rep.Results[0].Note, "nothing to compare") ||
		rep.Results[0].Name != one || len(rep.Results[0].Checked) != 0 {
		t.Fatalf("json report: %s", out)
	}
	// a directory holding one version
	sub := filepath.Join(dir, "history")
	_ = os.Mkdir(sub, 0o755)
	file(t, sub, "v1.avsc", v1)
	if out, stderr, code := deimos(t, "schema-compat", sub); code != 0 || !strings.Contains(out, "nothing to compare") {
		t.Fatalf("directory: exit %d\n%s%s", code, out, stderr)
	}
	bad := file(t, dir, "bad.avsc", `{"type":"record","name":"W","fields":[{"name":"a","type":"nope"}]}`)
	if _, stderr, code := deimos(t, "schema-compat", bad); code != 2 || !strings.Contains(stderr, "nope") {
		t.Fatalf("invalid single version: exit %d %q", code, stderr)
	}
}

const badDefault = `{"type":"record","name":"Widget","namespace":"com.acme","fields":[
  {"name":"id","type":"long"},
  {"name":"note","type":["null","string"],"default":"null"}
]}`
const fixedDefault = `{"type":"record","name":"Widget","namespace":"com.acme","fields":[
  {"name":"id","type":"long"},
  {"name":"note","type":["null","string"],"default":null},
  {"name":"qty","type":"int","default":0}
]}`
const badDefaultIncompatible = `{"type":"record","name":"Widget","namespace":"com.acme","fields":[
  {"name":"id","type":"string"},
  {"name":"note","type":["null","string"],"default":null}
]}`

// pyDefaults lists, per field with a default, whether python3-avro finds the
// default valid for the field's type (a union's first branch).
func pyDefaults(t *testing.T, path string) string {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import avro.io").Run(); err != nil {
		testenv.Missing(t, "python3-avro for /usr/bin/python3")
	}
	script := `
import sys, avro.schema, avro.io
s = avro.schema.parse(open(sys.argv[1]).read())
for f in s.fields:
    if f.has_default:
        t = f.type.schemas[0] if f.type.type == "union" else f.type
        print(f.name, avro.io.validate(t, f.default))`
	out, err := exec.Command("/usr/bin/python3", "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python3-avro: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// An invalid default is read leniently, as a registry reads schemas when it
// checks compatibility: a warning on stderr, in JSON and as a GitHub
// annotation, and the compatibility verdict. In the newest version the
// warning adds that a current registry refuses to register it.
// --strict-defaults keeps it an error (exit 2).
func TestInvalidDefaultsThroughBinary(t *testing.T) {
	dir := t.TempDir()
	old := file(t, dir, "v1.avsc", badDefault)
	nw := file(t, dir, "v2.avsc", fixedDefault)
	incompatible := file(t, dir, "v3.avsc", badDefaultIncompatible)
	// python3-avro agrees the default is invalid per the Avro spec
	if got := pyDefaults(t, old); got != "note False" {
		t.Fatalf("python3-avro on v1: %q", got)
	}
	if got := pyDefaults(t, nw); got != "note True\nqty True" {
		t.Fatalf("python3-avro on v2: %q", got)
	}

	const warn = `warning: ` // stderr prefix
	out, stderr, code := deimos(t, "schema-compat", old, nw)
	if code != 0 || !strings.Contains(out, "v2.avsc: compatible (BACKWARD, 1 check(s))") ||
		!strings.Contains(stderr, warn+old+`:3: field Widget.note: invalid default "null" for type [null, string]`) ||
		!strings.Contains(stderr, "--strict-defaults makes it an error") {
		t.Fatalf("lenient: exit %d\n%s%s", code, out, stderr)
	}
	// the verdict is still made: an incompatible change is exit 1
	out, stderr, code = deimos(t, "schema-compat", old, incompatible)
	if code != 1 || !strings.Contains(out, "Widget.id") || !strings.Contains(stderr, warn) {
		t.Fatalf("lenient, incompatible: exit %d\n%s%s", code, out, stderr)
	}
	out, _, code = deimos(t, "schema-compat", "--mode", "FULL", "-o", "json", old, nw)
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("json: exit %d %v\n%s", code, err, out)
	}
	ws := rep.Results[0].Warnings
	if len(ws) != 1 || ws[0].Version != old || ws[0].File != old || ws[0].Line != 3 || !strings.Contains(ws[0].Message, "invalid default") {
		t.Fatalf("json warnings: %s", out)
	}
	out, _, code = deimos(t, "schema-compat", "-o", "github", old, nw)
	if code != 0 || !strings.Contains(out, "::warning file="+old+",line=3,") {
		t.Fatalf("github: exit %d\n%s", code, out)
	}
	// --strict-defaults: today's error
	_, stderr, code = deimos(t, "schema-compat", "--strict-defaults", old, nw)
	if code != 2 || !strings.Contains(stderr, old+":3: field Widget.note: invalid default") {
		t.Fatalf("strict: exit %d %q", code, stderr)
	}
	// in the newest version: a warning that says registering it would fail,
	// and the verdict (v1 → bad v2 is compatible; the bad v3 is not)
	out, stderr, code = deimos(t, "schema-compat", nw, old)
	if code != 0 || !strings.Contains(out, "v1.avsc: compatible") ||
		!strings.Contains(stderr, warn+old+`:3: field Widget.note: invalid default "null"`) ||
		!strings.Contains(stderr, "a current registry refuses to register a new version with it") {
		t.Fatalf("newest: exit %d\n%s%s", code, out, stderr)
	}
	out, _, code = deimos(t, "schema-compat", "-o", "json", nw, old)
	rep = report{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || len(rep.Results[0].Warnings) != 1 || !rep.Results[0].Warnings[0].Newest {
		t.Fatalf("newest, json: exit %d %v\n%s", code, err, out)
	}
	_, stderr, code = deimos(t, "schema-compat", "--strict-defaults", nw, old)
	if code != 2 || !strings.Contains(stderr, "--strict-defaults: every version must have valid defaults") {
		t.Fatalf("newest, strict: exit %d %q", code, stderr)
	}
	// the --help text names the flag and shows it in an example
	out, _, _ = deimos(t, "schema-compat", "--help")
	if !strings.Contains(out, "--strict-defaults") || !strings.Contains(out, "deimos schema-compat --strict-defaults ") {
		t.Fatalf("help: %s", out)
	}
}
