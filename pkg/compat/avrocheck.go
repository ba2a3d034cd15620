package compat

import (
	"fmt"
	"sort"
	"strings"

	"github.com/deimos-cli/deimos/pkg/avro"
)

// The Avro checker follows Apache Avro's Java SchemaCompatibility
// (checkReaderWriterCompatibility): the reader schema must be able to
// resolve every datum the writer schema can produce.

type avroIssue struct {
	Path string
	Msg  string
	Rule string
	Line int
}

type avroPair struct{ r, w *AvroSchema }

type avroMemo struct {
	done   bool
	ok     bool
	issues []avroIssue
}

type avroChecker struct {
	backward bool // reader = new schema (else reader = old)
	memo     map[avroPair]*avroMemo
}

// CheckAvro reports whether reader can read data written with writer.
// backward says the reader is the newer schema (for how messages read).
func CheckAvro(reader, writer *AvroSchema, backward bool) (bool, []avroIssue) {
	c := &avroChecker{backward: backward, memo: map[avroPair]*avroMemo{}}
	root := avro.Short(reader)
	if reader.Kind.Named() {
		root = reader.ShortName()
	}
	ok, issues := c.check(reader, writer, root, c.newOf(reader, writer).Line)
	return ok, dedupIssues(issues)
}

func dedupIssues(in []avroIssue) []avroIssue {
	seen := map[string]bool{}
	var out []avroIssue
	for _, i := range in {
		k := i.Path + "\x00" + i.Msg
		if !seen[k] {
			seen[k] = true
			out = append(out, i)
		}
	}
	return out
}

func (c *avroChecker) newOf(r, w *AvroSchema) *AvroSchema {
	if c.backward {
		return r
	}
	return w
}

// oldNew orders a reader/writer pair as (old, new).
func (c *avroChecker) oldNew(r, w *AvroSchema) (*AvroSchema, *AvroSchema) {
	if c.backward {
		return w, r
	}
	return r, w
}

func (c *avroChecker) check(r, w *AvroSchema, path string, line int) (bool, []avroIssue) {
	key := avroPair{r, w}
	if m, ok := c.memo[key]; ok {
		if !m.done {
			return true, nil // recursion in progress: compatible unless shown otherwise
		}
		return m.ok, m.issues
	}
	m := &avroMemo{}
	c.memo[key] = m
	ok, issues := c.calc(r, w, path, line)
	m.done, m.ok, m.issues = true, ok, issues
	return ok, issues
}

func (c *avroChecker) mismatch(r, w *AvroSchema, path string, line int, reason string) avroIssue {
	o, n := c.oldNew(r, w)
	if reason == "" {
		if r.Kind.Primitive() && w.Kind.Primitive() {
			if c.backward {
				reason = "not promotable"
			} else {
				reason = "old schema cannot read " + avro.Short(n)
			}
		} else {
			reason = "incompatible types"
		}
	}
	return avroIssue{Path: path, Line: line, Rule: "TYPE_MISMATCH",
		Msg: fmt.Sprintf("type changed %s → %s (%s)", avro.Describe(o), avro.Describe(n), reason)}
}

func (c *avroChecker) calc(r, w *AvroSchema, path string, line int) (bool, []avroIssue) {
	if r.Kind == w.Kind {
		switch r.Kind {
		case avro.Array:
			return c.check(r.Items, w.Items, path+"[]", line)
		case avro.Map:
			return c.check(r.Values, w.Values, path+"{}", line)
		case avro.Fixed:
			ok, issues := c.names(r, w, path, line)
			if r.Size != w.Size {
				o, n := c.oldNew(r, w)
				ok = false
				issues = append(issues, avroIssue{Path: path, Line: line, Rule: "FIXED_SIZE_MISMATCH",
					Msg: fmt.Sprintf("fixed %s size changed %d → %d", n.ShortName(), o.Size, n.Size)})
			}
			return ok, issues
		case avro.Enum:
			ok, issues := c.names(r, w, path, line)
			var missing []string
			for _, s := range w.Symbols {
				if !contains(r.Symbols, s) {
					missing = append(missing, s)
				}
			}
			if len(missing) > 0 && !(r.EnumDefault != nil && contains(r.Symbols, *r.EnumDefault)) {
				sort.Strings(missing)
				ok = false
				var msg string
				if c.backward {
					msg = fmt.Sprintf("enum %s: symbols removed: %s (the new enum has no default symbol)", r.ShortName(), strings.Join(missing, ", "))
				} else {
					msg = fmt.Sprintf("enum %s: symbols added: %s (the old enum has no default symbol to read them as)", r.ShortName(), strings.Join(missing, ", "))
				}
				issues = append(issues, avroIssue{Path: path, Line: line, Rule: "MISSING_ENUM_SYMBOLS", Msg: msg})
			}
			return ok, issues
		case avro.Record:
			ok, issues := c.names(r, w, path, line)
			fok, fissues := c.fields(r, w, path, line)
			return ok && fok, append(issues, fissues...)
		case avro.Union:
			ok := true
			var issues []avroIssue
			for _, wb := range w.Branches {
				bok, bissues := c.check(r, wb, path, line)
				if !bok {
					ok = false
					if len(bissues) == 0 {
						issues = append(issues, c.branchIssue(r, wb, path, line))
					}
					issues = append(issues, bissues...)
				}
			}
			return ok, issues
		}
		return true, nil // same primitive type
	}
	if w.Kind == avro.Union {
		ok := true
		var issues []avroIssue
		for _, wb := range w.Branches {
			bok, bissues := c.check(r, wb, path, line)
			if !bok {
				ok = false
				o, n := c.oldNew(r, w)
				var reason string
				if c.backward {
					reason = "the old union's " + avro.Short(wb) + " branch cannot be read"
				} else {
					reason = "the old schema cannot read the new union's " + avro.Short(wb) + " branch"
				}
				issues = append(issues, avroIssue{Path: path, Line: line, Rule: "TYPE_MISMATCH",
					Msg: fmt.Sprintf("type changed %s → %s (%s)", avro.Describe(o), avro.Describe(n), reason)})
				if !(wb.Kind.Primitive() && r.Kind.Primitive()) {
					issues = append(issues, bissues...)
				}
			}
		}
		return ok, issues
	}
	if r.Kind == avro.Union {
		for _, rb := range r.Branches {
			if ok, _ := c.check(rb, w, path, line); ok {
				return true, nil
			}
		}
		return false, []avroIssue{c.branchIssue(r, w, path, line)}
	}
	if avro.Promotes(w.Kind, r.Kind) {
		return true, nil
	}
	return false, []avroIssue{c.mismatch(r, w, path, line, "")}
}

// branchIssue: the reader union has no branch for writer type w.
func (c *avroChecker) branchIssue(r, w *AvroSchema, path string, line int) avroIssue {
	o, n := c.oldNew(r, w)
	var reason string
	if c.backward {
		reason = "the new union has no branch that reads " + avro.Short(w)
	} else {
		reason = "the old union has no branch that reads " + avro.Short(w)
	}
	return avroIssue{Path: path, Line: line, Rule: "MISSING_UNION_BRANCH",
		Msg: fmt.Sprintf("type changed %s → %s (%s)", avro.Describe(o), avro.Describe(n), reason)}
}

// names applies Java's schemaNameEquals: same unqualified name, or a reader
// alias equal to the writer's full name.
func (c *avroChecker) names(r, w *AvroSchema, path string, line int) (bool, []avroIssue) {
	if avro.SameName(r, w) {
		return true, nil
	}
	o, n := c.oldNew(r, w)
	var hint string
	if c.backward {
		hint = fmt.Sprintf("add alias %q to the new %s", w.FullName(), r.Kind)
	} else {
		hint = fmt.Sprintf("the old %s has no alias %q", r.Kind, w.FullName())
	}
	return false, []avroIssue{{Path: path, Line: line, Rule: "NAME_MISMATCH",
		Msg: fmt.Sprintf("%s name changed %s → %s (%s)", r.Kind, o.FullName(), n.FullName(), hint)}}
}

func (c *avroChecker) fields(r, w *AvroSchema, path string, line int) (bool, []avroIssue) {
	ok := true
	var issues []avroIssue
	for _, rf := range r.Fields {
		fpath := path + "." + rf.Name
		var matches []*AvroField
		if wf := w.Field(rf.Name); wf != nil {
			matches = append(matches, wf)
		}
		for _, a := range rf.Aliases {
			if wf := w.Field(a); wf != nil {
				matches = append(matches, wf)
			}
		}
		switch len(matches) {
		case 0:
			if !rf.HasDefault {
				ok = false
				if c.backward {
					issues = append(issues, avroIssue{Path: fpath, Line: rf.Line, Rule: "READER_FIELD_MISSING_DEFAULT_VALUE",
						Msg: "field added without a default (old data has no value for it)"})
				} else {
					issues = append(issues, avroIssue{Path: fpath, Line: line, Rule: "READER_FIELD_MISSING_DEFAULT_VALUE",
						Msg: "field removed, but the old schema has no default for it (old readers need a value)"})
				}
			}
		case 1:
			fline := rf.Line
			if !c.backward {
				fline = matches[0].Line
			}
			fok, fissues := c.check(rf.Type, matches[0].Type, fpath, fline)
			if !fok {
				ok = false
				issues = append(issues, fissues...)
			}
		default:
			ok = false
			issues = append(issues, avroIssue{Path: fpath, Line: line, Rule: "AMBIGUOUS_ALIAS",
				Msg: "field matches several fields of the other schema through its name and aliases"})
		}
	}
	return ok, issues
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
