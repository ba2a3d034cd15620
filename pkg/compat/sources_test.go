package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/errs"
)

const widgetV1 = `{"type":"record","name":"Widget","namespace":"com.acme","fields":[
  {"name":"id","type":"long"},
  {"name":"price","type":"double"}
]}`
const widgetV2ok = `{"type":"record","name":"Widget","namespace":"com.acme","fields":[
  {"name":"id","type":"long"},
  {"name":"price","type":"double"},
  {"name":"note","type":["null","string"],"default":null}
]}`
const widgetV2bad = `{"type":"record","name":"Widget","namespace":"com.acme","fields":[
  {"name":"id","type":"long"},
  {"name":"price","type":"string"}
]}`

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t", "GIT_CONFIG_GLOBAL=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// TestGitRef runs the CI use on a real temporary repository: commit, modify, check.
func TestGitRef(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		testenv.Missing(t, "git")
	}
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	write(t, filepath.Join(dir, "schemas/com/acme/Widget.avsc"), widgetV1)
	write(t, filepath.Join(dir, "schemas/com/acme/Money.avsc"), `{"type":"record","name":"Money","namespace":"com.acme","fields":[{"name":"units","type":"long"}]}`)
	write(t, filepath.Join(dir, "schemas/com/acme/Order.avsc"), `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"total","type":"Money"}]}`)
	write(t, filepath.Join(dir, "protos/order.proto"), "syntax = \"proto3\";\npackage acme;\nimport \"money.proto\";\nmessage Order {\n  int64 id = 1;\n  Money total = 2;\n}\n")
	write(t, filepath.Join(dir, "protos/money.proto"), "syntax = \"proto3\";\npackage acme;\nmessage Money {\n  int64 units = 1;\n}\n")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-qm", "v1")

	ctx := context.Background()
	g := Git{Ref: "HEAD", Dir: dir}
	abs := func(p string) string { return filepath.Join(dir, p) }

	// Unchanged tree: compatible.
	checks, err := CheckGit(ctx, g, Backward, "", []string{abs("schemas"), abs("protos")}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 5 {
		t.Fatalf("want 5 files checked, got %d", len(checks))
	}
	for _, c := range checks {
		if c.New || !c.Result.Compatible {
			t.Fatalf("%s: want compatible, got %+v", c.Path, c.Result)
		}
	}

	// Compatible change plus a new file.
	write(t, abs("schemas/com/acme/Widget.avsc"), widgetV2ok)
	write(t, abs("schemas/com/acme/Gadget.avsc"), `{"type":"record","name":"Gadget","fields":[{"name":"a","type":"int"}]}`)
	checks, err = CheckGit(ctx, g, Full, "", []string{abs("schemas")}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	newSeen := false
	for _, c := range checks {
		if c.New {
			newSeen = strings.HasSuffix(c.Path, "Gadget.avsc")
			continue
		}
		if !c.Result.Compatible {
			t.Fatalf("%s: want compatible: %+v", c.Path, c.Result.Problems)
		}
	}
	if !newSeen {
		t.Fatal("new file Gadget.avsc not reported as new")
	}

	// Incompatible: a referenced type (defined in another file) changes, and a proto import changes.
	write(t, abs("schemas/com/acme/Money.avsc"), `{"type":"record","name":"Money","namespace":"com.acme","fields":[{"name":"units","type":"string"}]}`)
	write(t, abs("protos/money.proto"), "syntax = \"proto3\";\npackage acme;\nmessage Money {\n  string units = 1;\n}\n")
	checks, err = CheckGit(ctx, g, Backward, "", []string{abs("schemas/com/acme/Order.avsc"), abs("protos/order.proto")}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if c.Result.Compatible {
			t.Fatalf("%s: want incompatible (referenced type changed)", c.Path)
		}
	}
	if p := checks[0].Result.Problems[0]; p.Path != "Order.total.units" {
		t.Errorf("avro problem path = %q", p.Path)
	}

	// A schema deleted from the working tree is reported, both under a
	// directory and when named directly; NONE lets it through.
	if err := os.Remove(abs("schemas/com/acme/Widget.avsc")); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{abs("schemas"), abs("schemas/com/acme/Widget.avsc")} {
		checks, err = CheckGit(ctx, g, Backward, "", []string{arg}, LoadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
		var del *GitCheck
		for i := range checks {
			if checks[i].Deleted {
				del = &checks[i]
			}
		}
		if del == nil || del.Path != abs("schemas/com/acme/Widget.avsc") || del.Result.Compatible || del.Result.Problems[0].Rule != "SCHEMA_DELETED" {
			t.Fatalf("%s: deleted Widget.avsc not reported as a problem: %+v", arg, checks)
		}
	}
	checks, err = CheckGit(ctx, g, None, "", []string{abs("schemas/com/acme/Widget.avsc")}, LoadOptions{})
	if err != nil || len(checks) != 1 || !checks[0].Deleted || !checks[0].Result.Compatible {
		t.Fatalf("NONE: deleted file must be reported but compatible: %+v %v", checks, err)
	}
	if _, err := CheckGit(ctx, g, Backward, "", []string{abs("protos/never.proto")}, LoadOptions{}); errs.ExitCode(err) != 2 {
		t.Fatalf("path neither on disk nor at the ref: want exit 2, got %v", err)
	}

	// Bad ref and bad JSON are unusable input.
	if _, err := CheckGit(ctx, Git{Ref: "nope", Dir: dir}, Backward, "", []string{abs("schemas")}, LoadOptions{}); errs.ExitCode(err) != 2 {
		t.Fatalf("bad ref: want exit 2, got %v", err)
	}
	write(t, abs("schemas/com/acme/Widget.avsc"), "{\n \"type\": \"record\",\n \"name\": ")
	_, err = CheckGit(ctx, g, Backward, "", []string{abs("schemas/com/acme/Widget.avsc")}, LoadOptions{})
	if errs.ExitCode(err) != 2 || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("bad JSON: want exit 2 naming line 3, got %v", err)
	}
}

func TestRegistryVersions(t *testing.T) {
	reg := testenv.Registry(t)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	vs, _, err := RegistryVersions(ctx, cl, "widgets-value")
	if err != nil || len(vs) != 0 {
		t.Fatalf("unknown subject: %v %v", vs, err)
	}
	if _, err := cl.CreateSchema(ctx, "widgets-value", sr.Schema{Schema: widgetV1}); err != nil {
		t.Fatal(err)
	}
	vs, typ, err := RegistryVersions(ctx, cl, "widgets-value")
	if err != nil || len(vs) != 1 || typ != Avro {
		t.Fatalf("got %v %v %v", vs, typ, err)
	}
	res, err := Check(Backward, Avro, append(vs, Version{Label: "new", Data: []byte(widgetV2bad)}))
	if err != nil || res.Compatible {
		t.Fatalf("want incompatible: %+v %v", res, err)
	}
}

// TestRegistryInterceptor: the dev registry enforces the subject's level with
// this engine; an incompatible registration gets HTTP 409 like Confluent.
func TestRegistryInterceptor(t *testing.T) {
	reg := testenv.Registry(t)
	reg.Intercept(RegistryInterceptor(reg))
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cl.CreateSchema(ctx, "w-value", sr.Schema{Schema: widgetV1}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateSchema(ctx, "w-value", sr.Schema{Schema: widgetV2ok}); err != nil {
		t.Fatalf("compatible registration refused: %v", err)
	}
	// Same schema again: returns the existing id.
	if _, err := cl.CreateSchema(ctx, "w-value", sr.Schema{Schema: widgetV1}); err != nil {
		t.Fatalf("re-registration refused: %v", err)
	}
	_, err = cl.CreateSchema(ctx, "w-value", sr.Schema{Schema: widgetV2bad})
	var re *sr.ResponseError
	if err == nil || !errorsAs(err, &re) || re.StatusCode != http.StatusConflict || re.ErrorCode != 409 {
		t.Fatalf("incompatible registration: want HTTP 409, got %v", err)
	}
	if !strings.Contains(re.Message, "Widget.price") {
		t.Errorf("409 message does not name the field: %s", re.Message)
	}
	// The compatibility endpoint answers with our verdict.
	r, err := cl.CheckCompatibility(ctx, "w-value", -1, sr.Schema{Schema: widgetV2bad})
	if err != nil || r.Is {
		t.Fatalf("compat check: want incompatible, got %+v %v", r, err)
	}
	r, err = cl.CheckCompatibility(ctx, "w-value", -1, sr.Schema{Schema: widgetV2ok})
	if err != nil || !r.Is {
		t.Fatalf("compat check: want compatible, got %+v %v", r, err)
	}
	// The same registration through a context path is checked too.
	body0, _ := json.Marshal(map[string]string{"schema": widgetV2bad})
	resp0, err := http.Post(reg.URL()+"/contexts/.staging/subjects/w-value/versions", "application/json", bytes.NewReader(body0))
	if err != nil {
		t.Fatal(err)
	}
	resp0.Body.Close()
	if resp0.StatusCode != http.StatusConflict {
		t.Fatalf("incompatible registration via /contexts/: want 409, got %d", resp0.StatusCode)
	}
	// A schema of another type is never compatible (Confluent).
	_, err = cl.CreateSchema(ctx, "w-value", sr.Schema{Schema: "syntax = \"proto3\";\nmessage Widget { int64 id = 1; }\n", Type: sr.TypeProtobuf})
	if err == nil || !errorsAs(err, &re) || re.StatusCode != http.StatusConflict || !strings.Contains(re.Message, "different schema type") {
		t.Fatalf("protobuf into an Avro subject: want 409, got %v", err)
	}
	// NONE on the subject: anything goes.
	if err := reg.SetCompat("w-value", sr.CompatNone); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateSchema(ctx, "w-value", sr.Schema{Schema: widgetV2bad}); err != nil {
		t.Fatalf("NONE: registration refused: %v", err)
	}
	// Protobuf, FORWARD on a fresh subject via the HTTP API.
	if err := reg.SetCompat("p-value", sr.CompatForward); err != nil {
		t.Fatal(err)
	}
	p1 := "syntax = \"proto3\";\npackage acme;\nmessage Widget { int32 id = 1; }\n"
	p2 := "syntax = \"proto3\";\npackage acme;\nmessage Widget { int32 id = 1; }\nmessage Extra { int32 x = 1; }\n"
	if _, err := cl.CreateSchema(ctx, "p-value", sr.Schema{Schema: p1, Type: sr.TypeProtobuf}); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"schema": p2, "schemaType": "PROTOBUF"})
	resp, err := http.Post(reg.URL()+"/subjects/p-value/versions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("FORWARD protobuf: adding a message must be refused (Confluent MESSAGE_REMOVED), got %d", resp.StatusCode)
	}
	// Unparsable schema: 422.
	body, _ = json.Marshal(map[string]string{"schema": "{not json"})
	resp, err = http.Post(reg.URL()+"/subjects/w-value/versions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("invalid schema: want 422, got %d", resp.StatusCode)
	}
}

func errorsAs(err error, target **sr.ResponseError) bool {
	for e := err; e != nil; {
		if r, ok := e.(*sr.ResponseError); ok {
			*target = r
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// The dev registry reads the versions it holds leniently, as Confluent's
// does: an invalid default in a registered version does not block a
// compatible registration, but a new version with one is refused (422).
func TestRegistryInterceptorInvalidDefaults(t *testing.T) {
	reg := testenv.Registry(t)
	reg.Intercept(RegistryInterceptor(reg))
	bad := `{"type":"record","name":"Widget","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"note","type":["null","string"],"default":"null"}]}`
	fixed := `{"type":"record","name":"Widget","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"note","type":["null","string"],"default":null},{"name":"qty","type":"int","default":0}]}`
	broken := `{"type":"record","name":"Widget","namespace":"com.acme","fields":[{"name":"id","type":"string"},{"name":"note","type":["null","string"],"default":null}]}`
	// registered long ago, by a registry that did not check defaults
	reg.SeedSchema("d-value", 1, 100, sr.Schema{Schema: bad})
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := cl.CheckCompatibility(ctx, "d-value", -1, sr.Schema{Schema: fixed})
	if err != nil || !r.Is {
		t.Fatalf("compat check against a version with an invalid default: %+v %v", r, err)
	}
	r, err = cl.CheckCompatibility(ctx, "d-value", -1, sr.Schema{Schema: broken})
	if err != nil || r.Is {
		t.Fatalf("the verdict is still made: %+v %v", r, err)
	}
	if _, err := cl.CreateSchema(ctx, "d-value", sr.Schema{Schema: fixed}); err != nil {
		t.Fatalf("compatible registration refused: %v", err)
	}
	_, err = cl.CreateSchema(ctx, "e-value", sr.Schema{Schema: bad})
	var re *sr.ResponseError
	if err == nil || !errorsAs(err, &re) || re.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(re.Message, "invalid default") {
		t.Fatalf("new version with an invalid default: want 422, got %v", err)
	}
}
