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

	"github.com/deimos-cli/deimos/internal/cmdutil"
	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

func runCmd(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	ios, out, errOut := cmdutil.Test("")
	f := &cmdutil.Factory{IO: ios, Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	f.Flags.ConfigFile = filepath.Join(t.TempDir(), "none.yaml")
	_ = os.WriteFile(f.Flags.ConfigFile, []byte("{}\n"), 0o644)
	c := NewCmd(f, nil)
	c.SetArgs(args)
	c.SetOut(out)
	c.SetErr(errOut)
	c.SilenceErrors, c.SilenceUsage = true, true
	err := c.ExecuteContext(context.Background())
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return errs.ExitCode(err), out.String(), errOut.String()
}

func file(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const v1 = `{"type":"record","name":"Widget","namespace":"com.acme","fields":[
  {"name":"id","type":"long"},
  {"name":"price","type":"double"}
]}`
const v2 = `{"type":"record","name":"Widget","namespace":"com.acme","fields":[
  {"name":"id","type":"long"},
  {"name":"price","type":"double"},
  {"name":"note","type":["null","string"],"default":null}
]}`
const v3bad = `{"type":"record","name":"Widget","namespace":"com.acme","fields":[
  {"name":"id","type":"long"},
  {"name":"price","type":"string"}
]}`

func TestExitCodesAndOutputs(t *testing.T) {
	dir := t.TempDir()
	a, b, c := file(t, dir, "v1.avsc", v1), file(t, dir, "v2.avsc", v2), file(t, dir, "v10.avsc", v3bad)

	code, out, _ := runCmd(t, nil, a, b)
	if code != 0 || !strings.Contains(out, "compatible") {
		t.Fatalf("compatible: code %d out %q", code, out)
	}
	code, out, _ = runCmd(t, nil, b, c)
	if code != 1 || !strings.Contains(out, "Widget.price: type changed double → string (not promotable)") {
		t.Fatalf("incompatible: code %d out %q", code, out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Fatal("colour codes written to a non-terminal")
	}
	// Directory of versions, natural order: v1, v2, v10 (v10 is the new one).
	code, out, _ = runCmd(t, nil, "--output", "json", dir)
	if code != 1 {
		t.Fatalf("directory: code %d", code)
	}
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if rep.Compatible || len(rep.Results) != 1 || rep.Results[0].Checked[0].New != c || rep.Results[0].Checked[0].Old != b {
		t.Fatalf("json report: %+v", rep)
	}
	p := rep.Results[0].Problems[0]
	if p.Path != "Widget.price" || p.Line != 3 || p.File != c || p.Check != "backward" {
		t.Fatalf("problem: %+v", p)
	}
	// GitHub annotations carry file and line.
	code, out, _ = runCmd(t, nil, "--output", "github", "--mode", "FORWARD", b, c)
	if code != 1 || !strings.Contains(out, "::error file="+c+",line=3,") {
		t.Fatalf("github: code %d out %q", code, out)
	}
	// Transitive against v1 too; NONE always passes.
	if code, _, _ = runCmd(t, nil, "--mode", "none", a, c); code != 0 {
		t.Fatalf("NONE: code %d", code)
	}
	// Unusable input: exit 2 with file and line.
	bad := file(t, dir, "bad.avsc", "{\"type\":\"record\",\n\"name\":\"W\",\n\"fields\":[{\"name\":\"a\",\"type\":\"nope\"}]}")
	code, _, errOut := runCmd(t, nil, a, bad)
	if code != 2 || !strings.Contains(errOut, "bad.avsc:3") || !strings.Contains(errOut, "nope") {
		t.Fatalf("bad schema: code %d err %q", code, errOut)
	}
	code, _, errOut = runCmd(t, nil, a, filepath.Join(dir, "missing.avsc"))
	if code != 2 || !strings.Contains(errOut, "missing.avsc") {
		t.Fatalf("missing file: code %d err %q", code, errOut)
	}
	badProto := file(t, dir, "bad.proto", "syntax = \"proto3\";\nmessage W {\n  int32 a = ;\n}\n")
	okProto := file(t, dir, "ok.proto", "syntax = \"proto3\";\nmessage W {\n  int32 a = 1;\n}\n")
	code, _, errOut = runCmd(t, nil, okProto, badProto)
	if code != 2 || !strings.Contains(errOut, "bad.proto:3") {
		t.Fatalf("bad proto: code %d err %q", code, errOut)
	}
	if code, _, _ = runCmd(t, nil, "--mode", "SIDEWAYS", a, b); code != 2 {
		t.Fatalf("bad mode: code %d", code)
	}
	if code, out, _ = runCmd(t, nil, a); code != 0 || !strings.Contains(out, "nothing to compare") {
		t.Fatalf("one version: code %d out %q", code, out)
	}
	// Protobuf with --type override on odd extensions.
	p1 := file(t, dir, "p1.txt", "syntax = \"proto3\";\npackage acme;\nmessage W {\n  int32 a = 1;\n}\n")
	p2 := file(t, dir, "p2.txt", "syntax = \"proto3\";\npackage acme;\nmessage W {\n  string a = 1;\n}\n")
	code, out, _ = runCmd(t, nil, "--type", "protobuf", "-o", "github", p1, p2)
	if code != 1 || !strings.Contains(out, "line=4") || !strings.Contains(out, "W.a: type changed int32 → string") {
		t.Fatalf("protobuf: code %d out %q", code, out)
	}
}

func TestAgainstRegistry(t *testing.T) {
	reg := testenv.Registry(t)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateSchema(context.Background(), "widgets-value", sr.Schema{Schema: v1}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good, bad := file(t, dir, "Widget.avsc", v2), file(t, dir, "Widget2.avsc", v3bad)
	env := map[string]string{"DEIMOS_REGISTRY_URL": reg.URL()}
	if code, out, errOut := runCmd(t, env, "--against", "registry", "--topic", "widgets", good); code != 0 {
		t.Fatalf("compatible: %d %s %s", code, out, errOut)
	}
	if code, out, _ := runCmd(t, env, "--against", "registry", "--subject", "widgets-value", bad); code != 1 || !strings.Contains(out, "Widget.price") {
		t.Fatalf("incompatible: %d %s", code, out)
	}
	// The subject's own level applies unless --mode is given.
	if err := reg.SetCompat("widgets-value", sr.CompatNone); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runCmd(t, env, "--against", "registry", "--subject", "widgets-value", bad); code != 0 {
		t.Fatalf("subject level NONE: code %d", code)
	}
	if code, _, _ := runCmd(t, env, "--against", "registry", "--subject", "widgets-value", "--mode", "BACKWARD", bad); code != 1 {
		t.Fatalf("--mode overrides: code %d", code)
	}
	// Unknown subject: nothing to compare.
	if code, out, _ := runCmd(t, env, "--against", "registry", "--subject", "new-value", bad); code != 0 || !strings.Contains(out, "new subject") {
		t.Fatalf("new subject: %d %s", code, out)
	}
	// No registry configured: usage error.
	if code, _, _ := runCmd(t, nil, "--against", "registry", "--subject", "x", good); code != 2 {
		t.Fatalf("no registry: code %d", code)
	}
}

// TestSchemaPathReferences: named types the compared files reference are
// found anywhere under schema.path (Deimos's schema store layout).
func TestSchemaPathReferences(t *testing.T) {
	tree := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tree, "com/acme/common"), 0o755); err != nil {
		t.Fatal(err)
	}
	file(t, filepath.Join(tree, "com/acme/common"), "Money.avsc", `{"type":"record","name":"Money","namespace":"com.acme.common","fields":[{"name":"units","type":"long"}]}`)
	dir := t.TempDir()
	o1 := file(t, dir, "v1.avsc", `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"total","type":"com.acme.common.Money"}]}`)
	o2 := file(t, dir, "v2.avsc", `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"total","type":"com.acme.common.Money"},{"name":"n","type":"int"}]}`)
	if code, _, errOut := runCmd(t, nil, o1, o2); code != 2 || !strings.Contains(errOut, "com.acme.common.Money") {
		t.Fatalf("without schema.path: want exit 2 naming the undefined type, got %d %s", code, errOut)
	}
	env := map[string]string{"DEIMOS_SCHEMA_PATH": tree}
	if code, out, errOut := runCmd(t, env, "--mode", "FORWARD", o1, o2); code != 0 {
		t.Fatalf("with schema.path, FORWARD: want compatible, got %d %s %s", code, out, errOut)
	}
	if code, out, _ := runCmd(t, env, o1, o2); code != 1 || !strings.Contains(out, "Order.n") {
		t.Fatalf("with schema.path, BACKWARD: want incompatible at Order.n, got %d %s", code, out)
	}
}

// TestGitDeleted: from the binary's command, a schema deleted since the ref
// fails the check unless --allow-deleted.
func TestGitDeleted(t *testing.T) {
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
	w := file(t, dir, "W.avsc", v1)
	gone := file(t, dir, "Gone.avsc", strings.ReplaceAll(v1, "Widget", "Gone"))
	gitc("add", ".")
	gitc("commit", "-qm", "v1")
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir) // git runs in the working directory, as in CI
	code, out, _ := runCmd(t, nil, "--against", "git:HEAD", "-o", "json", dir)
	var rep struct {
		Compatible bool `json:"compatible"`
		Results    []struct {
			Name     string `json:"name"`
			Problems []struct {
				Rule string `json:"rule"`
			} `json:"problems"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if code != 1 || rep.Compatible || len(rep.Results) != 2 || rep.Results[1].Name != gone || rep.Results[1].Problems[0].Rule != "SCHEMA_DELETED" {
		t.Fatalf("deleted schema: code %d %s", code, out)
	}
	code, out, _ = runCmd(t, nil, "--against", "git:HEAD", "--allow-deleted", dir)
	if code != 0 || !strings.Contains(out, gone+": deleted (present at HEAD)") || !strings.Contains(out, w+": compatible") {
		t.Fatalf("--allow-deleted: code %d %s", code, out)
	}
}

// A file found by name is checked against the subject produce registers it
// under: a topic's value schema against <prefix><topic>-value, the key
// schema gen-keys writes for a field key (<Schema>_key) or a key_config
// schema against the key subject (prefixed unless key_subject: unprefixed).
func TestSubjectForFile(t *testing.T) {
	cfg := &config.Config{
		Producers: config.Producers{TopicPrefix: "dev."},
		Topics: []config.Topic{
			{Name: "widgets", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "id"}},
			{Name: "orders", Schema: "com.acme.Order", KeyConfig: config.KeyConfig{Schema: "OrderKey"}},
			{Name: "plain", Schema: "Plain", KeyConfig: config.KeyConfig{Plain: true}},
		},
	}
	for file, want := range map[string]string{
		"schemas/com/acme/Widget.avsc":     "dev.widgets-value",
		"schemas/com/acme/Widget_key.avsc": "dev.widgets-key",
		"schemas/com/acme/Order.avsc":      "dev.orders-value",
		"schemas/com/acme/OrderKey.avsc":   "dev.orders-key",
	} {
		if got, err := subjectFor(cfg, &Options{}, file); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", file, got, err, want)
		}
	}
	if _, err := subjectFor(cfg, &Options{}, "schemas/Plain_key.avsc"); err == nil || !strings.Contains(err.Error(), "no subject") {
		t.Errorf("a plain-key topic has no key schema: %v", err)
	}
	cfg.Schema.KeySubject = "unprefixed"
	if got, _ := subjectFor(cfg, &Options{}, "Widget_key.avsc"); got != "widgets-key" {
		t.Errorf("unprefixed key subject: %q", got)
	}
}
