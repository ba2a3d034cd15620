package compat

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// sameAsLegacy runs CheckGit and legacyCheckGit (each file checked on its
// own, with every other file as a reference, one git process per read) on
// the same input and fails unless results, or errors and exit codes, are
// identical.
func sameAsLegacy(t *testing.T, label string, g Git, show func(context.Context, string) ([]byte, error), mode Mode, typ Type, paths []string, opts LoadOptions) ([]GitCheck, error) {
	t.Helper()
	ctx := context.Background()
	if show == nil {
		show = g.Show
	}
	got, gerr := CheckGit(ctx, g, mode, typ, paths, opts)
	want, werr := legacyCheckGitShow(ctx, g, show, mode, typ, paths, opts)
	if (gerr == nil) != (werr == nil) || gerr != nil && (!sameError(gerr, werr) || errs.ExitCode(gerr) != errs.ExitCode(werr)) {
		t.Fatalf("%s: error %v (exit %d), legacy %v (exit %d)", label, gerr, errs.ExitCode(gerr), werr, errs.ExitCode(werr))
	}
	if !reflect.DeepEqual(got, want) {
		for i := range want {
			if i >= len(got) || !reflect.DeepEqual(got[i], want[i]) {
				gj, _ := json.MarshalIndent(got, "", " ")
				wj, _ := json.MarshalIndent(want, "", " ")
				if i < len(got) {
					gj, _ = json.MarshalIndent(got[i], "", " ")
					wj, _ = json.MarshalIndent(want[i], "", " ")
				}
				t.Fatalf("%s: result %d differs:\nfast:   %s\nlegacy: %s", label, i, gj, wj)
			}
		}
		t.Fatalf("%s: %d results, legacy %d", label, len(got), len(want))
	}
	return got, gerr
}

// sameError compares error messages. protoparse names an import cycle,
// and a symbol two imports define, from whichever file its goroutines
// reach first, so the legacy check itself reports them either way round
// from one run to the next (seen with the race detector on, or under
// load): two such errors count as the same when they name the same files
// (and symbol).
func sameError(a, b error) bool {
	if a.Error() == b.Error() {
		return true
	}
	dup := regexp.MustCompile(`([^\s:]+\.proto)(:\d+:\d+)?: symbol "([^"]+)" already defined at ([^\s:]+\.proto)`)
	if ma, mb := dup.FindStringSubmatch(a.Error()), dup.FindStringSubmatch(b.Error()); ma != nil && mb != nil {
		return ma[3] == mb[3] && (ma[1] == mb[1] && ma[4] == mb[4] || ma[1] == mb[4] && ma[4] == mb[1])
	}
	const cyc = "cycle found in imports: "
	ia, ib := strings.Index(a.Error(), cyc), strings.Index(b.Error(), cyc)
	if ia < 0 || ib < 0 {
		return false
	}
	files := func(s string) string {
		set := map[string]bool{}
		for _, p := range strings.Split(s, " -> ") {
			set[p] = true
		}
		var parts []string
		for p := range set {
			parts = append(parts, p)
		}
		sort.Strings(parts)
		return strings.Join(parts, ",")
	}
	return files(a.Error()[ia+len(cyc):]) == files(b.Error()[ib+len(cyc):])
}

// memoShow is g.Show remembering its answers (the ref does not move).
func memoShow(g Git) func(context.Context, string) ([]byte, error) {
	type answer struct {
		b   []byte
		err error
	}
	seen := map[string]answer{}
	return func(ctx context.Context, p string) ([]byte, error) {
		if a, ok := seen[p]; ok {
			return a.b, a.err
		}
		b, err := g.Show(ctx, p)
		seen[p] = answer{b, err}
		return b, err
	}
}

// randomAvroRepo writes a repository of Avro files that reference each
// other's named types, with the situations the shared library must get
// right: references to types defined in later files, in other
// directories, in files that fail to parse, names defined twice with
// different content (the first parsed wins), unqualified names resolved
// through a namespace, invalid defaults in referenced files, recursive
// types. It commits it, then changes, deletes, adds and renames files.
func randomAvroRepo(t *testing.T, dir string, r *rand.Rand) {
	t.Helper()
	nsPool := []string{"", "com.a", "com.b"}
	type named struct{ name, ns string }
	var pool []named
	for i := 0; i < 8; i++ {
		pool = append(pool, named{fmt.Sprintf("T%d", i), nsPool[r.Intn(len(nsPool))]})
	}
	// Ti references only Tj with j < i (Avro has no cycles across files),
	// and now and then a name nobody defines.
	ref := func(ns string, below int) string {
		if below == 0 || r.Intn(300) == 0 {
			return "Nowhere"
		}
		n := pool[r.Intn(below)]
		switch {
		case n.ns == ns && r.Intn(2) == 0:
			return n.name // unqualified: resolved through the enclosing namespace
		case n.ns == "":
			return n.name
		}
		return n.ns + "." + n.name
	}
	prim := []string{"int", "long", "string", "double", "boolean", "bytes"}
	var field func(i int, ns string, below int) map[string]any
	field = func(i int, ns string, below int) map[string]any {
		f := map[string]any{"name": fmt.Sprintf("f%d", i)}
		k := r.Intn(10)
		if below == 0 && k >= 4 && k < 9 {
			k = 0
		}
		switch {
		case k < 4:
			f["type"] = prim[r.Intn(len(prim))]
		case k < 6:
			f["type"] = []any{"null", ref(ns, below)}
			f["default"] = nil
		case k < 8:
			f["type"] = ref(ns, below)
		case k < 9:
			f["type"] = map[string]any{"type": "array", "items": ref(ns, below)}
		default:
			f["type"] = []any{"null", "string"}
			if r.Intn(3) == 0 {
				f["default"] = "null" // invalid: a warning, an error with --strict-defaults
			} else {
				f["default"] = nil
			}
		}
		if r.Intn(8) == 0 {
			f["aliases"] = []any{fmt.Sprintf("old%d", i)}
		}
		return f
	}
	record := func(k int) map[string]any {
		n := pool[k]
		var fields []any
		for i := 0; i < 1+r.Intn(4); i++ {
			fields = append(fields, field(i, n.ns, k))
		}
		m := map[string]any{"type": "record", "name": n.name, "fields": fields}
		if n.ns != "" {
			m["namespace"] = n.ns
		}
		return m
	}
	enum := func(n named) map[string]any {
		m := map[string]any{"type": "enum", "name": n.name, "symbols": []any{"A", "B", "C"}[:1+r.Intn(3)]}
		if n.ns != "" {
			m["namespace"] = n.ns
		}
		return m
	}
	doc := func(k int) any {
		switch r.Intn(6) {
		case 0:
			return enum(pool[k])
		case 1: // a union defining two types
			if o := r.Intn(len(pool)); o != k {
				return []any{record(k), enum(pool[o])}
			}
		}
		return record(k)
	}
	enc := func(v any) string {
		b, _ := json.MarshalIndent(v, "", "  ")
		return string(b)
	}
	dirs := []string{"s/d0", "s/d1", "s/d0/sub"}
	var files []string
	for i := 0; i < 6+r.Intn(8); i++ {
		p := filepath.Join(dirs[r.Intn(len(dirs))], fmt.Sprintf("F%d.avsc", i))
		files = append(files, p)
		write(t, filepath.Join(dir, p), enc(doc(r.Intn(len(pool)))))
	}
	// every pool name defined once somewhere, so most references resolve
	for i := range pool {
		if r.Intn(6) != 0 {
			write(t, filepath.Join(dir, dirs[r.Intn(len(dirs))], fmt.Sprintf("z%d.avsc", i)), enc(record(i)))
		}
	}
	if r.Intn(8) == 0 {
		write(t, filepath.Join(dir, "s/d1/broken.avsc"), `{"type": "record", "name": `)
	}
	if r.Intn(3) == 0 {
		write(t, filepath.Join(dir, "s/d1/plain.json"), enc(record(r.Intn(len(pool)))))
	}
	if r.Intn(2) == 0 {
		write(t, filepath.Join(dir, "refs/Extra.avsc"), enc(record(r.Intn(len(pool)))))
	}
	if r.Intn(2) == 0 {
		write(t, filepath.Join(dir, "refs/Broken.avsc"), `{"type": "record", "name": "Broken", "fields": [{"name": "x", "type": "Nowhere"}]}`)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "base")
	for _, p := range files {
		full := filepath.Join(dir, p)
		switch r.Intn(9) {
		case 0:
			os.Remove(full)
		case 1:
			git(t, dir, "mv", p, strings.TrimSuffix(p, ".avsc")+"_moved.avsc")
		case 2, 3:
			write(t, full, enc(doc(r.Intn(len(pool)))))
		case 4: // add a field with a default (compatible)
			var m any
			b, _ := os.ReadFile(full)
			_ = json.Unmarshal(b, &m)
			if rec, ok := m.(map[string]any); ok && rec["type"] == "record" {
				rec["fields"] = append(rec["fields"].([]any), map[string]any{"name": "added", "type": "int", "default": 0})
				write(t, full, enc(rec))
			}
		}
	}
	if r.Intn(2) == 0 {
		write(t, filepath.Join(dir, "s/d0/New.avsc"), enc(record(r.Intn(len(pool)))))
	}
	if r.Intn(4) == 0 {
		write(t, filepath.Join(dir, "refs/Extra.avsc"), enc(record(r.Intn(len(pool)))))
	}
	if r.Intn(4) == 0 { // a referenced definition changes: files using it change verdict
		i := r.Intn(len(pool))
		write(t, filepath.Join(dir, dirs[r.Intn(len(dirs))], fmt.Sprintf("z%d.avsc", i)), enc(record(i)))
	}
}

func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		testenv.Missing(t, "git")
	}
}

// TestCheckGitMatchesLegacyAvro: on 60 generated repositories and every
// way of naming the files, the fast path gives the results (or the error)
// of checking each file on its own.
func TestCheckGitMatchesLegacyAvro(t *testing.T) {
	needGit(t)
	compared, withProblems, withWarnings, withErrors := 0, 0, 0, 0
	for seed := int64(1); seed <= 25; seed++ {
		dir := t.TempDir()
		git(t, dir, "init", "-q")
		r := rand.New(rand.NewSource(seed))
		randomAvroRepo(t, dir, r)
		g := Git{Ref: "HEAD", Dir: dir}
		show := memoShow(g)
		abs := func(p string) string { return filepath.Join(dir, p) }
		var opts LoadOptions
		for _, f := range []string{"refs/Extra.avsc", "refs/Broken.avsc"} {
			if _, err := os.Stat(abs(f)); err == nil {
				opts.AvroRefs = append(opts.AvroRefs, abs(f))
			}
		}
		var someFiles []string
		_ = filepath.WalkDir(abs("s/d0"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && len(someFiles) < 3 {
				someFiles = append(someFiles, p)
			}
			return nil
		})
		inputs := [][]string{{abs("s")}, {abs("s/d0"), abs("s/d1")}, someFiles}
		for _, mode := range []Mode{Backward, Full, None} {
			for ii, in := range inputs {
				if len(in) == 0 {
					continue
				}
				for _, strict := range []bool{false, true} {
					if strict && mode != Backward {
						continue
					}
					o := opts
					o.Check.StrictDefaults = strict
					label := fmt.Sprintf("seed %d mode %s input %d strict %v", seed, mode, ii, strict)
					res, err := sameAsLegacy(t, label, g, show, mode, "", in, o)
					compared++
					if err != nil {
						withErrors++
						if os.Getenv("DBG") != "" {
							t.Log(err)
						}
					}
					for _, c := range res {
						if c.Result != nil && len(c.Result.Problems) > 0 {
							withProblems++
						}
						if c.Result != nil && len(c.Result.Warnings) > 0 {
							withWarnings++
						}
					}
				}
			}
		}
	}
	t.Logf("%d runs compared: %d results with problems, %d with warnings, %d runs ending in an error", compared, withProblems, withWarnings, withErrors)
	if withProblems < 50 || withWarnings < 20 || withErrors < 10 || compared-withErrors < 60 {
		t.Fatalf("the generated repositories do not cover enough situations: %d runs, %d with problems, %d with warnings, %d errors", compared, withProblems, withWarnings, withErrors)
	}
}

// TestCheckGitReferenceOrder: the cases where a file's references are not
// the whole list's library with the file's names hidden, because leaving
// the file out changes what the others define. Each is compared with the
// legacy check, and the referenced definition changes incompatibly in the
// working tree so that a wrong library gives a wrong verdict.
func TestCheckGitReferenceOrder(t *testing.T) {
	needGit(t)
	cases := []struct {
		name         string
		base         map[string]string
		change       map[string]string
		file         string // whose verdict the case is about
		incompatible bool
	}{{
		// f's field "K" (namespace ns) is looked up as ns.K first; ns.K is
		// defined by g, which needs f's ns.R: without f, g does not parse
		// and f's field is the top-level K.
		name: "a later definition that needs the file",
		base: map[string]string{
			"s/a_k.avsc": `{"type":"record","name":"K","fields":[{"name":"v","type":"int"}]}`,
			"s/b_f.avsc": `{"type":"record","name":"R","namespace":"ns","fields":[{"name":"a","type":"K"}]}`,
			"s/c_g.avsc": `{"type":"record","name":"K","namespace":"ns","fields":[{"name":"r","type":"ns.R"}]}`,
		},
		change: map[string]string{
			"s/a_k.avsc": `{"type":"record","name":"K","fields":[{"name":"v","type":"string"}]}`,
		},
		file: "s/b_f.avsc", incompatible: true,
	}, {
		// f defines ns.X after using "X"; x2 defines ns.X too, after f:
		// without f, x2's ns.X is what f's "X" means.
		name: "a name the file defines, defined again later",
		base: map[string]string{
			"s/a_k.avsc":  `{"type":"record","name":"X","fields":[{"name":"v","type":"int"}]}`,
			"s/b_f.avsc":  `[{"type":"record","name":"R","namespace":"ns","fields":[{"name":"a","type":"X"}]},{"type":"record","name":"X","namespace":"ns","fields":[{"name":"w","type":"int"}]}]`,
			"s/c_x2.avsc": `{"type":"record","name":"X","namespace":"ns","fields":[{"name":"w","type":"int"}]}`,
		},
		change: map[string]string{
			"s/c_x2.avsc": `{"type":"record","name":"X","namespace":"ns","fields":[{"name":"w","type":"string"}]}`,
		},
		file: "s/b_f.avsc", incompatible: true,
	}, {
		// the file's bytes are unchanged but a definition it uses changed:
		// it is checked again, not skipped
		name: "unchanged file, changed reference",
		base: map[string]string{
			"s/money.avsc": `{"type":"record","name":"Money","namespace":"com.acme","fields":[{"name":"units","type":"long"}]}`,
			"s/order.avsc": `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"total","type":"Money"}]}`,
		},
		change: map[string]string{
			"s/money.avsc": `{"type":"record","name":"Money","namespace":"com.acme","fields":[{"name":"units","type":"string"}]}`,
		},
		file: "s/order.avsc", incompatible: true,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			git(t, dir, "init", "-q")
			for p, s := range c.base {
				write(t, filepath.Join(dir, p), s)
			}
			git(t, dir, "add", "-A")
			git(t, dir, "commit", "-qm", "base")
			for p, s := range c.change {
				write(t, filepath.Join(dir, p), s)
			}
			g := Git{Ref: "HEAD", Dir: dir}
			res, err := sameAsLegacy(t, c.name, g, nil, Backward, "", []string{filepath.Join(dir, "s")}, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if r.Path == filepath.Join(dir, c.file) && r.Result.Compatible == c.incompatible {
					t.Fatalf("%s: compatible = %v, want %v", c.file, r.Result.Compatible, !c.incompatible)
				}
			}
		})
	}
}

// TestCheckGitMatchesLegacyMixed: Avro, Protobuf (imports from the file's
// directory, from --proto-path, well-known types, an import that changed)
// and JSON Schema (a $ref to a sibling that changed) files, compatible,
// incompatible, unchanged, added, deleted and renamed, named by directory,
// by file, and by paths relative to a subdirectory of the repository.
func TestCheckGitMatchesLegacyMixed(t *testing.T) {
	needGit(t)
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	abs := func(p string) string { return filepath.Join(dir, p) }
	base := map[string]string{
		"schemas/avro/Widget.avsc":    widgetV1,
		"schemas/avro/Gadget.avsc":    `{"type":"record","name":"Gadget","namespace":"com.acme","fields":[{"name":"w","type":"Widget"}]}`,
		"schemas/avro/Same.avsc":      `{"type":"record","name":"Same","fields":[{"name":"a","type":"int"}]}`,
		"schemas/avro/Gone.avsc":      `{"type":"record","name":"Gone","fields":[{"name":"a","type":"int"}]}`,
		"schemas/avro/Moved.avsc":     `{"type":"record","name":"Moved","fields":[{"name":"a","type":"int"}]}`,
		"schemas/avro/record.json":    `{"type":"record","name":"J","fields":[{"name":"a","type":"int"}]}`,
		"schemas/proto/order.proto":   "syntax = \"proto3\";\npackage acme;\nimport \"money.proto\";\nimport \"google/protobuf/timestamp.proto\";\nimport \"shared/common.proto\";\nmessage Order {\n  int64 id = 1;\n  Money total = 2;\n  google.protobuf.Timestamp at = 3;\n  shared.Tag tag = 4;\n}\n",
		"schemas/proto/money.proto":   "syntax = \"proto3\";\npackage acme;\nmessage Money {\n  int64 units = 1;\n}\n",
		"schemas/proto/same.proto":    "syntax = \"proto3\";\npackage acme;\nimport \"shared/common.proto\";\nmessage Same {\n  shared.Tag tag = 1;\n}\n",
		"schemas/proto/plain.proto":   "syntax = \"proto3\";\npackage acme;\nmessage Plain {\n  string a = 1;\n}\n",
		"include/shared/common.proto": "syntax = \"proto3\";\npackage shared;\nmessage Tag {\n  string v = 1;\n}\n",
		"schemas/json/person.json":    `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"name":{"type":"string"},"addr":{"$ref":"address.json"}}}`,
		"schemas/json/address.json":   `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"street":{"type":"string"}}}`,
		"schemas/json/flat.json":      `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"n":{"type":"integer"}}}`,
	}
	for p, s := range base {
		write(t, abs(p), s)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "base")
	write(t, abs("schemas/avro/Widget.avsc"), widgetV2bad)
	write(t, abs("schemas/avro/New.avsc"), `{"type":"record","name":"New","fields":[]}`)
	os.Remove(abs("schemas/avro/Gone.avsc"))
	git(t, dir, "mv", "schemas/avro/Moved.avsc", "schemas/avro/Moved2.avsc")
	write(t, abs("schemas/proto/money.proto"), "syntax = \"proto3\";\npackage acme;\nmessage Money {\n  string units = 1;\n}\n")
	write(t, abs("schemas/proto/plain.proto"), "syntax = \"proto3\";\npackage acme;\nmessage Plain {\n  string a = 1;\n  int32 b = 2;\n}\n")
	write(t, abs("include/shared/common.proto"), "syntax = \"proto3\";\npackage shared;\nmessage Tag {\n  int64 v = 1;\n}\n")
	write(t, abs("schemas/json/address.json"), `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"street":{"type":"integer"}}}`)

	g := Git{Ref: "HEAD", Dir: dir}
	show := memoShow(g)
	opts := LoadOptions{ImportPaths: []string{abs("include")}}
	kinds := map[string]int{}
	for _, mode := range []Mode{Backward, Forward, Full, None} {
		for _, in := range [][]string{{abs("schemas")}, {abs("schemas/proto/order.proto"), abs("schemas/avro/Gadget.avsc"), abs("schemas/json/person.json")}} {
			res, err := sameAsLegacy(t, fmt.Sprintf("%s %v", mode, in), g, show, mode, "", in, opts)
			if err != nil {
				t.Fatalf("%s: %v", mode, err)
			}
			for _, c := range res {
				switch {
				case c.New:
					kinds["new"]++
				case c.Deleted:
					kinds["deleted"]++
				case c.Result.Compatible:
					kinds["compatible "+string(c.Result.Type)]++
				default:
					kinds["incompatible "+string(c.Result.Type)]++
				}
			}
		}
	}
	for _, k := range []string{"new", "deleted", "compatible avro", "incompatible avro", "compatible protobuf", "incompatible protobuf", "compatible json", "incompatible json"} {
		if kinds[k] == 0 {
			t.Errorf("no %s result: %v", k, kinds)
		}
	}

	// Relative paths from a subdirectory (git resolves them from there).
	t.Chdir(abs("schemas"))
	rel := Git{Ref: "HEAD"}
	relOpts := LoadOptions{ImportPaths: []string{"../include"}}
	for _, in := range [][]string{{"."}, {"avro", "proto/order.proto", "json"}, {"../schemas/proto"}} {
		sameAsLegacy(t, fmt.Sprintf("relative %v", in), rel, memoShow(rel), Full, "", in, relOpts)
	}

	// Unusable input stops the run with the legacy error.
	write(t, abs("schemas/proto/plain.proto"), "syntax = \"proto3\";\nmessage {\n")
	if _, err := sameAsLegacy(t, "bad proto", g, show, Backward, "", []string{abs("schemas")}, opts); errs.ExitCode(err) != 2 {
		t.Fatalf("bad proto: want exit 2, got %v", err)
	}
}

// TestCheckGitOneGitProcess: the files at the ref are read through one git
// process whatever their number (it used to be a `git show` per file, per
// reference and per import tried).
func TestCheckGitOneGitProcess(t *testing.T) {
	needGit(t)
	real, _ := exec.LookPath("git")
	bin := t.TempDir()
	log := filepath.Join(bin, "calls")
	write(t, filepath.Join(bin, "git"), "#!/bin/sh\necho \"$1\" >> "+log+"\nexec "+real+" \"$@\"\n")
	if err := os.Chmod(filepath.Join(bin, "git"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	for i := 0; i < 40; i++ {
		write(t, filepath.Join(dir, fmt.Sprintf("s/a/R%d.avsc", i)), fmt.Sprintf(`{"type":"record","name":"R%d","fields":[{"name":"m","type":["null","Money"],"default":null}]}`, i))
		write(t, filepath.Join(dir, fmt.Sprintf("s/p/m%d.proto", i)), fmt.Sprintf("syntax = \"proto3\";\nimport \"common.proto\";\nimport \"google/protobuf/timestamp.proto\";\nmessage M%d {\n  Tag t = 1;\n}\n", i))
	}
	write(t, filepath.Join(dir, "s/a/Money.avsc"), `{"type":"record","name":"Money","fields":[{"name":"units","type":"long"}]}`)
	write(t, filepath.Join(dir, "s/p/common.proto"), "syntax = \"proto3\";\nmessage Tag {\n  string v = 1;\n}\n")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "base")
	write(t, filepath.Join(dir, "s/a/R3.avsc"), `{"type":"record","name":"R3","fields":[]}`)

	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	checks, err := CheckGit(context.Background(), Git{Ref: "HEAD", Dir: dir}, Backward, "", []string{filepath.Join(dir, "s/a"), filepath.Join(dir, "s/p")}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 82 {
		t.Fatalf("want 82 files checked, got %d", len(checks))
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	calls := strings.Fields(string(b))
	count := map[string]int{}
	for _, c := range calls {
		count[c]++
	}
	// rev-parse: the ref and the repository's place (2), then per path its
	// top directory (2); ls-tree per path (2); cat-file once.
	if count["cat-file"] != 1 || count["show"] != 0 || len(calls) > 7 {
		t.Fatalf("git started %d times for 82 files: %v", len(calls), count)
	}
}

// randomProtoRepo writes .proto files that import each other (from their
// directory and from an include directory): chains and shared imports,
// public imports, well-known types, now and then a missing import, an
// import cycle or two imports defining the same name; commits; then
// changes files (imported ones too), deletes and adds some.
func randomProtoRepo(t *testing.T, dir string, r *rand.Rand) {
	t.Helper()
	type pf struct{ path, name, pkg string }
	var files []pf
	for i := 0; i < 4; i++ {
		files = append(files, pf{fmt.Sprintf("inc/lib%d.proto", i), fmt.Sprintf("lib%d.proto", i), fmt.Sprintf("p%d", r.Intn(2))})
	}
	for i := 0; i < 10; i++ {
		d := []string{"p/a", "p/b"}[r.Intn(2)]
		files = append(files, pf{fmt.Sprintf("%s/f%d.proto", d, i), fmt.Sprintf("f%d.proto", i), fmt.Sprintf("p%d", r.Intn(2))})
	}
	scal := []string{"string", "int32", "int64", "bool", "double", "bytes", "sint32"}
	gen := func(k int) string {
		f := files[k]
		var imports, fields []string
		n := 1
		// imports: earlier libraries (any file), earlier files of the same directory
		for j := 0; j < k; j++ {
			o := files[j]
			sameDir := filepath.Dir(o.path) == filepath.Dir(f.path)
			if (strings.HasPrefix(o.path, "inc/") || sameDir) && r.Intn(3) == 0 {
				kw := "import"
				if r.Intn(6) == 0 {
					kw = "import public"
				}
				imports = append(imports, fmt.Sprintf("%s %q;", kw, o.name))
				fields = append(fields, fmt.Sprintf("  %s.M%d ref%d = %d;", o.pkg, j, j, n))
				n++
			}
		}
		if k < 4 && r.Intn(30) == 0 { // a cycle between libraries
			imports = append(imports, fmt.Sprintf("import %q;", files[(k+1)%4].name))
		}
		if r.Intn(3) == 0 {
			imports = append(imports, `import "google/protobuf/timestamp.proto";`)
			fields = append(fields, fmt.Sprintf("  google.protobuf.Timestamp at = %d;", n))
			n++
		}
		if r.Intn(100) == 0 {
			imports = append(imports, `import "missing.proto";`)
		}
		for i := 0; i < 1+r.Intn(4); i++ {
			fields = append(fields, fmt.Sprintf("  %s s%d = %d;", scal[r.Intn(len(scal))], n, n))
			n++
		}
		name := fmt.Sprintf("M%d", k)
		if r.Intn(80) == 0 {
			name = "M0" // may clash with an import's M0 in the same package
		}
		return fmt.Sprintf("syntax = \"proto3\";\npackage %s;\n%s\nmessage %s {\n%s\n}\n", f.pkg, strings.Join(imports, "\n"), name, strings.Join(fields, "\n"))
	}
	for k, f := range files {
		write(t, filepath.Join(dir, f.path), gen(k))
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "base")
	for k, f := range files {
		switch r.Intn(8) {
		case 0, 1:
			write(t, filepath.Join(dir, f.path), gen(k))
		case 2: // deleted (an importer then fails, now and then)
			if !strings.HasPrefix(f.path, "inc/") && (k >= len(files)-3 || r.Intn(3) == 0) {
				os.Remove(filepath.Join(dir, f.path))
			}
		}
	}
	if r.Intn(2) == 0 {
		write(t, filepath.Join(dir, "p/a/new.proto"), "syntax = \"proto3\";\npackage p0;\nmessage New {\n  string a = 1;\n}\n")
	}
}

// TestCheckGitMatchesLegacyProto: on 16 generated repositories of .proto
// files importing each other, the fast path (imports compiled once per
// directory and side, unchanged files parsed once) gives the results or
// the error of compiling each file with its imports from source.
func TestCheckGitMatchesLegacyProto(t *testing.T) {
	needGit(t)
	runs, errors, incompatible := 0, 0, 0
	for seed := int64(1); seed <= 16; seed++ {
		dir := t.TempDir()
		git(t, dir, "init", "-q")
		randomProtoRepo(t, dir, rand.New(rand.NewSource(seed)))
		g := Git{Ref: "HEAD", Dir: dir}
		show := memoShow(g)
		opts := LoadOptions{ImportPaths: []string{filepath.Join(dir, "inc")}}
		for _, mode := range []Mode{Backward, Full} {
			for _, in := range [][]string{{filepath.Join(dir, "p")}, {filepath.Join(dir, "p/b"), filepath.Join(dir, "inc")}} {
				res, err := sameAsLegacy(t, fmt.Sprintf("seed %d %s %v", seed, mode, in), g, show, mode, "", in, opts)
				runs++
				if err != nil {
					errors++
					if os.Getenv("DBG") != "" {
						t.Log(err)
					}
				}
				for _, c := range res {
					if c.Result != nil && !c.Result.Compatible {
						incompatible++
					}
				}
			}
		}
	}
	t.Logf("%d runs: %d ending in an error, %d incompatible results", runs, errors, incompatible)
	if errors < 5 || runs-errors < 30 || incompatible < 30 {
		t.Fatalf("the generated repositories do not cover enough situations: %d runs, %d errors, %d incompatible", runs, errors, incompatible)
	}
}
