package schemacompat

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/testenv"
)

const (
	orderV1 = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "id": {"type": "integer"},
    "status": {"type": "string", "enum": ["new", "paid"]}
  },
  "required": ["id"],
  "additionalProperties": false
}`
	// an optional property: compatible backward (closed model)
	orderV2 = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "id": {"type": "integer"},
    "status": {"type": "string", "enum": ["new", "paid"]},
    "note": {"type": "string"}
  },
  "required": ["id"],
  "additionalProperties": false
}`
	// status loses a value: the new schema cannot read "paid"
	orderV3 = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "id": {"type": "integer"},
    "status": {"type": "string", "enum": ["new"]},
    "note": {"type": "string"}
  },
  "required": ["id"],
  "additionalProperties": false
}`
	// an open model gaining a property
	openV1 = `{"type": "object", "properties": {"id": {"type": "integer"}}}`
	openV2 = `{"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}`
)

type jsonReport struct {
	Compatible bool `json:"compatible"`
	Mode       string
	Results    []struct {
		Name       string `json:"name"`
		Type       string `json:"type"`
		Compatible bool   `json:"compatible"`
		Problems   []struct {
			Check, Rule, Path, File, Message string
			Line                             int
		} `json:"problems"`
	} `json:"results"`
}

func parseReport(t *testing.T, out string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return r
}

func TestJSONSchemaFiles(t *testing.T) {
	dir := t.TempDir()
	v1, v2, v3 := file(t, dir, "v1.json", orderV1), file(t, dir, "v2.json", orderV2), file(t, dir, "v3.json", orderV3)
	if code, out, errOut := runCmd(t, nil, v1, v2); code != 0 || !strings.Contains(out, "compatible (BACKWARD") {
		t.Fatalf("v1 -> v2 BACKWARD: %d %s %s", code, out, errOut)
	}
	// FORWARD: v1 cannot read v2's note (closed model)
	code, out, _ := runCmd(t, nil, "--mode", "FORWARD", "-o", "json", v1, v2)
	r := parseReport(t, out)
	if code != 1 || r.Compatible || r.Results[0].Type != "json" || r.Results[0].Problems[0].Rule != "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL" ||
		r.Results[0].Problems[0].Path != "#/properties/note" {
		t.Fatalf("FORWARD: %d %s", code, out)
	}
	// v3 narrows the enum: text output names the path, rule and line
	code, out, _ = runCmd(t, nil, v2, v3)
	if code != 1 || !strings.Contains(out, "#/properties/status") || !strings.Contains(out, "v3.json:6") {
		t.Fatalf("v2 -> v3: %d %s", code, out)
	}
	code, out, _ = runCmd(t, nil, "-o", "json", v2, v3)
	// {"type": "string", "enum": [...]} is an allOf of a string and an enum
	// schema in the registry's model: a narrowed enum leaves a member
	// without a match
	if r := parseReport(t, out); code != 1 || r.Results[0].Problems[0].Rule != "COMBINED_TYPE_SUBSCHEMAS_CHANGED" {
		t.Fatalf("v2 -> v3 json: %s", out)
	}
	// transitive over a directory of versions, and --type json for a file
	// without the extension
	if code, _, _ := runCmd(t, nil, "--mode", "BACKWARD_TRANSITIVE", dir); code != 1 {
		t.Fatalf("transitive over the directory: %d", code)
	}
	plain := file(t, dir, "open1", openV1)
	plain2 := file(t, dir, "open2", openV2)
	code, out, _ = runCmd(t, nil, "--type", "json", "-o", "json", plain, plain2)
	if r := parseReport(t, out); code != 1 || r.Results[0].Problems[0].Rule != "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL" {
		t.Fatalf("open model: %d %s", code, out)
	}
	// GitHub annotations point at the file and line
	code, out, _ = runCmd(t, nil, "-o", "github", v2, v3)
	if code != 1 || !strings.Contains(out, "::error file="+v3+",line=6,") {
		t.Fatalf("github: %s", out)
	}
	// an unreadable schema: exit 2 naming it
	bad := file(t, dir, "bad.json", `{"type": "object", "properties": {"id": {"type": "int"}}}`)
	if code, _, errOut := runCmd(t, nil, v1, bad); code != 2 || !strings.Contains(errOut, "bad.json") {
		t.Fatalf("bad schema: %d %s", code, errOut)
	}
}

// $refs to other files resolve next to each version: a change in the
// referenced file is found at the referring property.
func TestJSONSchemaFileReferences(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	home := `{"type":"object","properties":{"addr":{"$ref":"Addr.json"}},"additionalProperties":false}`
	h1, h2 := file(t, d1, "Home.json", home), file(t, d2, "Home.json", home)
	file(t, d1, "Addr.json", `{"type":"object","properties":{"zip":{"type":"string"}}}`)
	file(t, d2, "Addr.json", `{"type":"object","properties":{"zip":{"type":"integer"}}}`)
	code, out, errOut := runCmd(t, nil, "-o", "json", h1, h2)
	r := parseReport(t, out)
	if code != 1 || len(r.Results) != 1 || len(r.Results[0].Problems) != 1 || r.Results[0].Problems[0].Path != "#/properties/addr/properties/zip" {
		t.Fatalf("changed reference: %d %s %s", code, out, errOut)
	}
	// a $ref that resolves to nothing is unusable input
	file(t, d2, "Broken.json", `{"type":"object","properties":{"a":{"$ref":"Missing.json"}}}`)
	if code, _, errOut := runCmd(t, nil, h1, filepath.Join(d2, "Broken.json")); code != 2 || !strings.Contains(errOut, "Missing.json") {
		t.Fatalf("missing reference: %d %s", code, errOut)
	}
}

func TestJSONSchemaAgainstRegistry(t *testing.T) {
	reg := testenv.Registry(t)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, s := range []string{orderV1, orderV2} {
		if _, err := cl.CreateSchema(ctx, "orders-value", sr.Schema{Schema: s, Type: sr.TypeJSON}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	env := map[string]string{"DEIMOS_REGISTRY_URL": reg.URL()}
	v2 := file(t, dir, "Order.json", orderV2)
	if code, out, errOut := runCmd(t, env, "--against", "registry", "--topic", "orders", v2); code != 0 {
		t.Fatalf("same schema: %d %s %s", code, out, errOut)
	}
	v3 := file(t, dir, "Order3.json", orderV3)
	if code, out, _ := runCmd(t, env, "--against", "registry", "--subject", "orders-value", v3); code != 1 || !strings.Contains(out, "#/properties/status") {
		t.Fatalf("narrowed enum: %d %s", code, out)
	}
	// FULL_TRANSITIVE: v2's note cannot be read by v1
	if code, _, _ := runCmd(t, env, "--against", "registry", "--subject", "orders-value", "--mode", "FULL_TRANSITIVE", v2); code != 1 {
		t.Fatalf("FULL_TRANSITIVE: %d", code)
	}
	// a JSON Schema file against an Avro subject is a usage error
	if _, err := cl.CreateSchema(ctx, "avro-value", sr.Schema{Schema: v1}); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCmd(t, env, "--against", "registry", "--subject", "avro-value", v2); code != 2 || !strings.Contains(errOut, "holds avro") {
		t.Fatalf("type mismatch: %d %s", code, errOut)
	}
}

func TestJSONSchemaAgainstGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		testenv.Missing(t, "git")
	}
	dir := t.TempDir()
	gitc := func(args ...string) {
		c := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		c.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	gitc("init", "-q")
	p := file(t, dir, "Order.json", orderV1)
	file(t, dir, "Widget.avsc", v1)
	gitc("add", ".")
	gitc("commit", "-qm", "v1")
	t.Chdir(dir)
	file(t, dir, "Order.json", orderV2)
	if code, out, errOut := runCmd(t, nil, "--against", "git:HEAD", dir); code != 0 || !strings.Contains(out, p+": compatible") {
		t.Fatalf("compatible change: %d %s %s", code, out, errOut)
	}
	file(t, dir, "Order.json", strings.Replace(orderV1, `"id": {"type": "integer"}`, `"id": {"type": "string"}`, 1))
	code, out, _ := runCmd(t, nil, "--against", "git:HEAD", "-o", "json", dir)
	r := parseReport(t, out)
	if code != 1 || len(r.Results) != 2 || r.Results[0].Type != "json" || r.Results[0].Compatible {
		t.Fatalf("incompatible change: %d %s", code, out)
	}
}
