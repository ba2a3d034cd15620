package main

import (
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every direct dependency in go.mod is named, with why it was chosen, in
// docs/architecture.md's Dependencies section; a module added to go.mod
// without a line there fails this test, and so does a line for a module
// go.mod no longer requires.
func TestDependenciesListed(t *testing.T) {
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	arch, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	direct := directRequires(string(gomod))
	if len(direct) == 0 {
		t.Fatal("no direct requirements found in go.mod")
	}
	listed, err := dependencySection(string(arch))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range direct {
		if !listed[m] {
			t.Errorf("go.mod requires %s directly; docs/architecture.md's Dependencies section does not say why", m)
		}
	}
	for m := range listed {
		if !slices.Contains(direct, m) {
			t.Errorf("docs/architecture.md's Dependencies section lists %s, which go.mod does not require directly", m)
		}
	}
}

// The parsers above, on a go.mod with both require forms and an indirect
// line, and on a section that misses one of them.
func TestDependenciesListedParsers(t *testing.T) {
	mod := "module x\n\ngo 1.26\n\nrequire example.com/single v1.0.0\n\nrequire (\n\texample.com/a v1.0.0\n\texample.com/b/v2 v2.1.0 // a comment\n\texample.com/ind v1.0.0 // indirect\n)\n"
	got := directRequires(mod)
	if strings.Join(got, " ") != "example.com/single example.com/a example.com/b/v2" {
		t.Fatalf("direct requires: %q", got)
	}
	doc := "# A\n\n## Dependencies\n| module | why |\n|---|---|\n| `example.com/a` | x |\n| `example.com/b/v2` (`pkg`) | y |\n\n## Next\n| `example.com/single` | elsewhere |\n"
	listed, err := dependencySection(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || !listed["example.com/a"] || !listed["example.com/b/v2"] || listed["example.com/single"] {
		t.Fatalf("listed: %v", listed)
	}
	if _, err := dependencySection("# A\n## Other\n"); err == nil {
		t.Fatal("a document without the section was accepted")
	}
}

// directRequires returns the module paths go.mod requires without
// "// indirect", in file order.
func directRequires(gomod string) []string {
	var out []string
	inBlock := false
	for _, line := range strings.Split(gomod, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "require (":
			inBlock = true
			continue
		case inBlock && line == ")":
			inBlock = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inBlock:
			continue
		}
		if line == "" || strings.HasPrefix(line, "//") || strings.Contains(line, "// indirect") {
			continue
		}
		out = append(out, strings.Fields(line)[0])
	}
	return out
}

var moduleCell = regexp.MustCompile("^\\|\\s*`([^`]+)`")

// dependencySection returns the modules named first in each table row of
// the "## Dependencies" section.
func dependencySection(doc string) (map[string]bool, error) {
	_, rest, ok := strings.Cut(doc, "\n## Dependencies\n")
	if !ok {
		return nil, errNoSection
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(rest, "\n") {
		if m := moduleCell.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			listed[m[1]] = true
		}
	}
	return listed, nil
}

var errNoSection = errors.New(`docs/architecture.md has no "## Dependencies" section`)
