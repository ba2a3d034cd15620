package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Code and docs cite only what is in the repository: no comment or page
// points at the team's shared spec ("spec 4.4", "Part A", cli.md), and
// every "docs/deimos-compat.md §N" names a section that page has.
func TestCitationsStayInTheRepository(t *testing.T) {
	outside := regexp.MustCompile(`(?i)\bspec §?\d|\bshared spec\b|\bpart a\b|\bcli\.md\b|/work/shared`)
	cite := regexp.MustCompile(`deimos-compat\.md\)? ?§ ?(\d+(?:\.\d+)?)`)
	compat, err := os.ReadFile("docs/deimos-compat.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{2,3} (\d+(?:\.\d+)?)[. ]`).FindAllStringSubmatch(string(compat), -1) {
		sections[m[1]] = true
	}
	if !sections["1.1"] || !sections["8"] {
		t.Fatalf("docs/deimos-compat.md: numbered sections not found (%d)", len(sections))
	}
	files := 0
	err = filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != "." && (n == "node_modules" || n == "testdata" || strings.HasPrefix(n, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".go", ".md", ".sh", ".yaml", ".yml":
		default:
			if filepath.Base(p) != "Makefile" {
				return nil
			}
		}
		if p == "citations_test.go" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for i, line := range strings.Split(string(b), "\n") {
			if m := outside.FindString(line); m != "" {
				t.Errorf("%s:%d cites %q, which is not in the repository: write the fact into docs/ and cite that", p, i+1, m)
			}
			for _, m := range cite.FindAllStringSubmatch(line, -1) {
				if !sections[m[1]] {
					t.Errorf("%s:%d cites docs/deimos-compat.md §%s, which that page does not have", p, i+1, m[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("only %d files read", files)
	}
}
