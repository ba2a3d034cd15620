package schemacompat

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/compat"
)

// TestGitRepoMatchesPerFileRuns: `deimos schema-compat --against git:HEAD
// schemas` on a repository of Avro, Protobuf and JSON Schema files
// (compatible, incompatible, unchanged, deleted, added, renamed, files whose
// referenced or imported file changed) gives, for every file, the result of
// checking that file alone: the same result as `--against git:HEAD FILE`,
// and the same verdict and problems as `deimos schema-compat OLD NEW` on
// the file's two versions (the old one extracted from HEAD, with its
// directory, so imports and $refs resolve on its side). The exit code is 1
// exactly when a file is incompatible.
func TestGitRepoMatchesPerFileRuns(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		testenv.Missing(t, "git")
	}
	repo := t.TempDir()
	gitc := func(args ...string) string {
		t.Helper()
		c := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		c.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return string(out)
	}
	put := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rec := func(name string, fields ...string) string {
		return fmt.Sprintf(`{"type":"record","name":%q,"namespace":"com.acme","fields":[%s]}`, name, strings.Join(fields, ","))
	}
	msg := func(name string, fields ...string) string {
		return "syntax = \"proto3\";\npackage acme;\nimport \"common.proto\";\nimport \"google/protobuf/timestamp.proto\";\nmessage " + name + " {\n" + strings.Join(fields, "\n") + "\n}\n"
	}
	js := func(props string) string {
		return `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{` + props + `}}`
	}
	id, price := `{"name":"id","type":"long"}`, `{"name":"price","type":"double"}`
	for i := 0; i < 12; i++ {
		put(fmt.Sprintf("schemas/avro/R%d.avsc", i), rec(fmt.Sprintf("R%d", i), id, price))
		put(fmt.Sprintf("schemas/proto/m%d.proto", i), msg(fmt.Sprintf("M%d", i), "  int64 id = 1;", "  Tag tag = 2;", "  google.protobuf.Timestamp at = 3;"))
	}
	put("schemas/avro/Money.avsc", rec("Money", `{"name":"units","type":"long"}`))
	put("schemas/avro/Order.avsc", rec("Order", `{"name":"total","type":"Money"}`))
	put("schemas/avro/Gone.avsc", rec("Gone", id))
	put("schemas/avro/Moved.avsc", rec("Moved", id))
	put("schemas/avro/Note.avsc", rec("Note", `{"name":"n","type":["null","string"],"default":"null"}`)) // invalid default: a warning
	put("schemas/proto/common.proto", "syntax = \"proto3\";\npackage acme;\nmessage Tag {\n  string v = 1;\n}\n")
	put("schemas/proto/money.proto", "syntax = \"proto3\";\npackage acme;\nmessage Money {\n  int64 units = 1;\n}\n")
	put("schemas/proto/order.proto", "syntax = \"proto3\";\npackage acme;\nimport \"money.proto\";\nmessage Order {\n  Money total = 1;\n}\n")
	put("schemas/json/address.json", js(`"street":{"type":"string"}`))
	put("schemas/json/person.json", js(`"name":{"type":"string"},"addr":{"$ref":"address.json"}`))
	put("schemas/json/flat.json", js(`"n":{"type":"integer"}`))
	put("schemas/json/tight.json", js(`"n":{"type":"integer"}`))
	gitc("init", "-q")
	gitc("add", "-A")
	gitc("commit", "-qm", "base")

	put("schemas/avro/R1.avsc", rec("R1", id, price, `{"name":"note","type":["null","string"],"default":null}`))
	put("schemas/avro/R2.avsc", rec("R2", id, `{"name":"price","type":"string"}`))
	put("schemas/avro/R3.avsc", rec("R3", id))
	put("schemas/avro/Money.avsc", rec("Money", `{"name":"units","type":"string"}`))
	put("schemas/avro/New.avsc", rec("New", id))
	os.Remove(filepath.Join(repo, "schemas/avro/Gone.avsc"))
	gitc("mv", "schemas/avro/Moved.avsc", "schemas/avro/Moved2.avsc")
	put("schemas/proto/m1.proto", msg("M1", "  int64 id = 1;", "  Tag tag = 2;", "  google.protobuf.Timestamp at = 3;", "  string extra = 4;"))
	put("schemas/proto/m2.proto", msg("M2", "  string id = 1;", "  Tag tag = 2;", "  google.protobuf.Timestamp at = 3;"))
	put("schemas/proto/money.proto", "syntax = \"proto3\";\npackage acme;\nmessage Money {\n  string units = 1;\n}\n")
	put("schemas/json/address.json", js(`"street":{"type":"integer"}`))
	put("schemas/json/tight.json", js(`"n":{"type":"integer","maximum":5}`))

	old := t.TempDir() // HEAD's tree, for the OLD NEW runs
	arch := exec.Command("sh", "-c", "git -C '"+repo+"' archive HEAD | tar -x -C '"+old+"'")
	if out, err := arch.CombinedOutput(); err != nil {
		t.Fatalf("git archive: %v %s", err, out)
	}

	type problem struct{ Check, Path, Message, Rule string }
	problemsOf := func(r *compat.Result) []problem {
		var out []problem
		for _, p := range r.Problems {
			out = append(out, problem{p.Check, p.Path, p.Message, p.Rule})
		}
		return out
	}
	runJSON := func(args ...string) (report, int) {
		t.Helper()
		res := testenv.Run(t, repo, nil, "", append([]string{"schema-compat", "-o", "json"}, args...)...)
		var rep report
		if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
			t.Fatalf("%v: exit %d: %v\n%s%s", args, res.Code, err, res.Stdout, res.Stderr)
		}
		return rep, res.Code
	}
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	for _, mode := range []string{"BACKWARD", "FULL"} {
		all, code := runJSON("--mode", mode, "--against", "git:HEAD", "--cpuprofile", prof, "schemas")
		verdicts := map[string]int{}
		for _, r := range all.Results {
			single, scode := runJSON("--mode", mode, "--against", "git:HEAD", r.Name)
			if len(single.Results) != 1 || !reflect.DeepEqual(single.Results[0], r) {
				a, _ := json.Marshal(r)
				b, _ := json.Marshal(single.Results)
				t.Fatalf("%s %s: in the repository run %s\nalone %s", mode, r.Name, a, b)
			}
			if want := map[bool]int{true: 0, false: 1}[r.Compatible]; scode != want {
				t.Fatalf("%s %s alone: exit %d, want %d", mode, r.Name, scode, want)
			}
			if len(r.Checked) == 0 || r.Checked[0].Check == "deleted" {
				verdicts["deleted"]++
				continue
			}
			verdicts[fmt.Sprintf("%s compatible=%v", r.Type, r.Compatible)]++
			if r.Type == compat.Avro && (r.Name == "schemas/avro/Order.avsc" || r.Name == "schemas/avro/Money.avsc") {
				continue // Order's reference changed: OLD NEW cannot give each version its own Money
			}
			pair, pcode := runJSON("--mode", mode, filepath.Join(old, r.Name), r.Name)
			p := pair.Results[0]
			if p.Compatible != r.Compatible || !reflect.DeepEqual(problemsOf(p), problemsOf(r)) || len(p.Warnings) != len(r.Warnings) || pcode != map[bool]int{true: 0, false: 1}[r.Compatible] {
				t.Fatalf("%s %s: OLD NEW gives compatible=%v (exit %d) %v, the repository run %v %v", mode, r.Name, p.Compatible, pcode, problemsOf(p), r.Compatible, problemsOf(r))
			}
		}
		if code != map[bool]int{true: 0, false: 1}[all.Compatible] || all.Compatible {
			t.Fatalf("%s: exit %d with compatible=%v", mode, code, all.Compatible)
		}
		for _, k := range []string{"deleted", "avro compatible=true", "avro compatible=false", "protobuf compatible=true", "protobuf compatible=false", "json compatible=true", "json compatible=false"} {
			if verdicts[k] == 0 {
				t.Fatalf("%s: no %s result: %v", mode, k, verdicts)
			}
		}
		if len(all.Skipped) != 2 { // New.avsc, Moved2.avsc
			t.Fatalf("%s: want 2 new files skipped, got %v", mode, all.Skipped)
		}
	}
	if st, err := os.Stat(prof); err != nil || st.Size() == 0 {
		t.Fatalf("--cpuprofile wrote no profile: %v", err)
	}
}

// TestAgainstRegistryManyFilesThroughBinary: many files against their
// configured topics' subjects, read concurrently; results in the order of
// the files; --timeout gives up on a registry that does not answer (exit 3
// naming the subject); bad --concurrency / --timeout are usage errors.
func TestAgainstRegistryManyFilesThroughBinary(t *testing.T) {
	reg := testenv.Registry(t)
	stall := make(chan struct{})
	t.Cleanup(func() { close(stall) })
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Query().Get("subjectPrefix") == "stalled-value" {
			<-stall
			return true
		}
		return false
	})
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("schema:\n  registry:\n    url: " + reg.URL() + "\ntopics:\n")
	var args []string
	for i := 0; i < 12; i++ {
		name := fmt.Sprintf("W%d", i)
		rec := func(extra string) string {
			return `{"type":"record","name":"` + name + `","namespace":"com.acme","fields":[{"name":"id","type":"long"}` + extra + `]}`
		}
		if _, err := cl.CreateSchema(context.Background(), fmt.Sprintf("t%d-value", i), sr.Schema{Schema: rec("")}); err != nil {
			t.Fatal(err)
		}
		extra := `,{"name":"n","type":["null","string"],"default":null}`
		if i == 5 {
			extra = `,{"name":"n","type":"string"}`
		}
		args = append(args, file(t, dir, name+".avsc", rec(extra)))
		fmt.Fprintf(&cfg, "  - name: t%d\n    schema: com.acme.%s\n", i, name)
	}
	conf := file(t, dir, "deimos.yaml", cfg.String())
	res := testenv.Run(t, dir, nil, "", append([]string{"schema-compat", "--config", conf, "--against", "registry", "--concurrency", "3", "-o", "json"}, args...)...)
	var rep report
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil || res.Code != 1 || len(rep.Results) != 12 {
		t.Fatalf("exit %d: %v\n%s%s", res.Code, err, res.Stdout, res.Stderr)
	}
	for i, r := range rep.Results {
		if r.Name != fmt.Sprintf("t%d-value", i) || r.Compatible != (i != 5) {
			t.Fatalf("result %d: %s compatible=%v", i, r.Name, r.Compatible)
		}
	}

	slow := file(t, dir, "stalled.avsc", v2)
	res = testenv.Run(t, dir, nil, "", "schema-compat", "--config", conf, "--against", "registry", "--subject", "stalled-value", "--timeout", "300ms", slow)
	if res.Code != 3 || !strings.Contains(res.Stderr, "stalled-value") || !strings.Contains(res.Stderr, "--timeout") {
		t.Fatalf("stalled registry: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	for _, bad := range [][]string{{"--concurrency", "0"}, {"--timeout", "-1s"}} {
		res = testenv.Run(t, dir, nil, "", append([]string{"schema-compat", "--config", conf, "--against", "registry"}, append(bad, args[0])...)...)
		if res.Code != 2 || !strings.Contains(res.Stderr, bad[0]) {
			t.Fatalf("%v: exit %d %s", bad, res.Code, res.Stderr)
		}
	}
}
