// Package compat is the schema-compatibility engine behind
// `deimos schema-compat` and the dev registry: Avro checked with Apache
// Avro's resolution rules (as Java's SchemaCompatibility applies them) and
// Protobuf checked with the Confluent Schema Registry's diff rules, under
// Confluent's compatibility levels.
package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/deimos-cli/deimos/pkg/avro"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// Mode is a Confluent compatibility level.
type Mode string

// The Confluent compatibility levels.
const (
	Backward           Mode = "BACKWARD"
	BackwardTransitive Mode = "BACKWARD_TRANSITIVE"
	Forward            Mode = "FORWARD"
	ForwardTransitive  Mode = "FORWARD_TRANSITIVE"
	Full               Mode = "FULL"
	FullTransitive     Mode = "FULL_TRANSITIVE"
	None               Mode = "NONE"
)

// Modes lists every level.
var Modes = []Mode{Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive, None}

// ParseMode accepts a level name in any case ("" is BACKWARD).
func ParseMode(s string) (Mode, error) {
	if s == "" {
		return Backward, nil
	}
	u := Mode(strings.ToUpper(strings.ReplaceAll(s, "-", "_")))
	for _, m := range Modes {
		if m == u {
			return m, nil
		}
	}
	return "", errs.Usagef("unknown compatibility mode %q (one of BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE)", s)
}

func (m Mode) backward() bool {
	return m == Backward || m == BackwardTransitive || m == Full || m == FullTransitive
}
func (m Mode) forward() bool {
	return m == Forward || m == ForwardTransitive || m == Full || m == FullTransitive
}
func (m Mode) transitive() bool {
	return m == BackwardTransitive || m == ForwardTransitive || m == FullTransitive
}

// Type is a schema language.
type Type string

// Schema languages.
const (
	Avro       Type = "avro"
	Protobuf   Type = "protobuf"
	JSONSchema Type = "json"
)

// ParseType accepts avro|protobuf|json ("" = detect).
func ParseType(s string) (Type, error) {
	switch strings.ToLower(s) {
	case "":
		return "", nil
	case "avro", "avsc":
		return Avro, nil
	case "protobuf", "proto":
		return Protobuf, nil
	case "json", "jsonschema", "json-schema", "json_schema":
		return JSONSchema, nil
	}
	return "", errs.Usagef("unknown schema type %q (avro, protobuf or json)", s)
}

// DetectType guesses the language from the file name, then the content: a
// .json file is JSON Schema unless it reads as an Avro schema (a record,
// enum or fixed, a union list or a type name); without an extension, an
// object with "$schema", or with "properties" and no Avro "fields", is JSON
// Schema, other JSON Avro, anything else protobuf.
func DetectType(name string, data []byte) Type {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".avsc", ".avro":
		return Avro
	case ".proto":
		return Protobuf
	case ".json":
		if looksAvro(data) {
			return Avro
		}
		return JSONSchema
	}
	t := bytes.TrimSpace(data)
	if len(t) > 0 && t[0] == '{' && looksJSONSchema(t) {
		return JSONSchema
	}
	if len(t) > 0 && (t[0] == '{' || t[0] == '[' || t[0] == '"') {
		return Avro
	}
	return Protobuf
}

func looksAvro(data []byte) bool {
	t := bytes.TrimSpace(data)
	if len(t) > 0 && (t[0] == '[' || t[0] == '"') {
		return true
	}
	var m map[string]any
	if json.Unmarshal(t, &m) != nil {
		return false
	}
	if _, ok := m["fields"]; ok {
		return true
	}
	switch m["type"] {
	case "record", "enum", "fixed", "error":
		return true
	}
	return false
}

func looksJSONSchema(data []byte) bool {
	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		return false
	}
	if _, ok := m["$schema"]; ok {
		return true
	}
	_, props := m["properties"]
	_, fields := m["fields"]
	return props && !fields
}

// Version is one version of a schema.
type Version struct {
	Label string // how the version is named in output ("v1.avsc", "HEAD:schemas/x.avsc", "subject v3")
	File  string // file the text came from (for annotations; "" when none)
	Data  []byte
	// Avro: other documents that define named types this one may reference.
	AvroRefs []NamedText
	// Protobuf: resolves an import path to its content (nil: only Files).
	Import func(path string) ([]byte, error)
	// Protobuf: the name the file is known by to importers ("" = base name).
	ProtoName string

	// protoImports, when set, compiles the file with imports compiled once
	// for many files (CheckGit); importLog records what the parse read.
	protoImports *protoImports
	importLog    *importLog
}

// NamedText is a document with the name it is known by.
type NamedText struct {
	Name string
	Data []byte
}

// Problem is one incompatibility.
type Problem struct {
	Check   string `json:"check"` // "backward" (new reads old) or "forward" (old reads new)
	Old     string `json:"old"`
	New     string `json:"new"`
	Path    string `json:"path"`
	Message string `json:"message"`
	Rule    string `json:"rule"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
}

// String is the one-line text form.
func (p Problem) String() string { return p.Path + ": " + p.Message }

// Pair is one comparison made.
type Pair struct {
	Check      string `json:"check"`
	Old        string `json:"old"`
	New        string `json:"new"`
	Compatible bool   `json:"compatible"`
}

// Result is the verdict of a check.
type Result struct {
	Name       string    `json:"name,omitempty"` // file or subject checked
	Mode       Mode      `json:"mode"`
	Type       Type      `json:"type"`
	Compatible bool      `json:"compatible"`
	Checked    []Pair    `json:"checked"`
	Problems   []Problem `json:"problems"`
	// Note says why nothing was compared (a single version).
	Note string `json:"note,omitempty"`
	// Warnings are things accepted that a stricter reader would refuse
	// (invalid defaults in earlier versions).
	Warnings []Warning `json:"warnings,omitempty"`
}

// Warning is something wrong in a version that does not stop the check.
type Warning struct {
	Version string `json:"version"` // the version's label
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
	// Newest is set when the warning is about the version being checked
	// (the one a registry would be asked to register).
	Newest bool `json:"newest,omitempty"`
}

// String is the one-line text form.
func (w Warning) String() string {
	loc := w.File
	if loc == "" {
		loc = w.Version
	}
	if w.Line > 0 {
		loc += ":" + strconv.Itoa(w.Line)
	}
	return loc + ": " + w.Message
}

// Options adjust Check.
type Options struct {
	// StrictDefaults makes an Avro field default that does not fit its type
	// an error in every version. By default every version is read
	// leniently, with a warning, and the verdict is still made, as a schema
	// registry does when it checks compatibility against what it holds.
	StrictDefaults bool
	// NewestIsRegistration holds the newest version to valid defaults: it
	// is being registered, and a current registry validates the defaults
	// of a schema it has not stored yet (earlier ones stay lenient).
	NewestIsRegistration bool
}

// nothingToCompare is the Note of a check of a single version.
const nothingToCompare = "only one version: nothing to compare (a registry accepts the first version of a subject)"

// Check decides whether the last version is compatible with the earlier ones
// under mode: non-transitive levels compare with the latest earlier version
// only, transitive ones with every earlier version (Confluent semantics).
// Input that cannot be parsed is an errs.Usage error naming file and line.
func Check(mode Mode, typ Type, versions []Version) (*Result, error) {
	return CheckWith(Options{}, mode, typ, versions)
}

// CheckWith is Check with options.
func CheckWith(opts Options, mode Mode, typ Type, versions []Version) (*Result, error) {
	return checkVersions(opts, mode, typ, versions, nil)
}

// versionParser parses version i of a check with parseVersion's contract;
// CheckGit passes one that uses what it parsed once for many files.
type versionParser func(i int, typ Type, v Version, lenient bool) (any, []*AvroParseError, error)

// checkVersions is CheckWith; parse (nil: parseVersion) reads each version.
func checkVersions(opts Options, mode Mode, typ Type, versions []Version, parse versionParser) (*Result, error) {
	if parse == nil {
		parse = func(_ int, typ Type, v Version, lenient bool) (any, []*AvroParseError, error) {
			return parseVersion(typ, v, lenient)
		}
	}
	if mode == "" {
		mode = Backward
	}
	if len(versions) == 0 {
		return nil, errs.Usagef("no schema versions to check")
	}
	if typ == "" {
		last := versions[len(versions)-1]
		typ = DetectType(last.File+last.Label, last.Data)
	}
	res := &Result{Mode: mode, Type: typ, Compatible: true, Problems: []Problem{}, Checked: []Pair{}}
	parsed := make([]any, len(versions))
	for i, v := range versions {
		newest := i == len(versions)-1
		lenient := !opts.StrictDefaults && !(newest && opts.NewestIsRegistration)
		p, warns, err := parse(i, typ, v, lenient)
		if err != nil {
			var pe *AvroParseError
			if errors.As(err, &pe) && pe.Default {
				why := "a schema registry refuses to register a new version with an invalid default"
				if opts.StrictDefaults {
					why = "--strict-defaults: every version must have valid defaults"
				}
				return nil, errs.Usagef("%w (%s)", pe, why)
			}
			return nil, err
		}
		parsed[i] = p
		for _, w := range warns {
			res.Warnings = append(res.Warnings, Warning{Version: v.Label, File: w.File, Line: w.Line, Message: w.Msg, Newest: newest})
		}
	}
	if len(versions) < 2 {
		res.Name = versions[0].Label
		res.Note = nothingToCompare
	}
	if mode == None || len(versions) < 2 {
		return res, nil
	}
	newest := len(versions) - 1
	from := newest - 1
	if mode.transitive() {
		from = 0
	}
	for i := newest - 1; i >= from; i-- {
		old, nw := versions[i], versions[newest]
		if mode.backward() {
			res.add("backward", old, nw, compare(typ, parsed[i], parsed[newest], true, nw))
		}
		if mode.forward() {
			res.add("forward", old, nw, compare(typ, parsed[i], parsed[newest], false, nw))
		}
	}
	return res, nil
}

func (r *Result) add(check string, old, nw Version, probs []Problem) {
	r.Checked = append(r.Checked, Pair{Check: check, Old: old.Label, New: nw.Label, Compatible: len(probs) == 0})
	for _, p := range probs {
		p.Check, p.Old, p.New = check, old.Label, nw.Label
		if p.File == "" {
			p.File = nw.File
		}
		r.Problems = append(r.Problems, p)
	}
	if len(probs) > 0 {
		r.Compatible = false
	}
}

// parseVersion parses a version; lenient reads invalid Avro field defaults
// as warnings.
func parseVersion(typ Type, v Version, lenient bool) (any, []*AvroParseError, error) {
	name := v.File
	if name == "" {
		name = v.Label
	}
	switch typ {
	case Avro:
		files := []string{name}
		datas := [][]byte{v.Data}
		for _, r := range v.AvroRefs {
			files = append(files, r.Name)
			datas = append(datas, r.Data)
		}
		out, warns, err := parseAvroSet(files, datas, lenient)
		if err != nil {
			return nil, nil, errs.Usage(err)
		}
		return out[0], warns, nil
	case Protobuf:
		fd, err := ParseProto(name, v)
		if err != nil {
			return nil, nil, errs.Usage(err)
		}
		return fd, nil, nil
	case JSONSchema:
		js, err := parseJSONVersion(name, v)
		if err != nil {
			return nil, nil, errs.Usage(err)
		}
		return js, nil, nil
	}
	return nil, nil, errs.Usagef("unknown schema type %q", typ)
}

func compare(typ Type, old, nw any, backward bool, nv Version) []Problem {
	var out []Problem
	switch typ {
	case Avro:
		o, n := old.(*AvroSchema), nw.(*AvroSchema)
		r, w := n, o
		if !backward {
			r, w = o, n
		}
		ok, issues := CheckAvro(r, w, backward)
		for _, i := range issues {
			out = append(out, Problem{Path: i.Path, Message: i.Msg, Rule: i.Rule, Line: i.Line})
		}
		if !ok && len(out) == 0 {
			out = append(out, Problem{Path: avro.Short(n), Message: "incompatible", Rule: "INCOMPATIBLE"})
		}
	case Protobuf:
		o, n := old.(*protoSchema), nw.(*protoSchema)
		for _, d := range diffProto(o, n, backward) {
			out = append(out, Problem{Path: d.Path, Message: d.Msg, Rule: d.Type, Line: d.Line})
		}
	case JSONSchema:
		out = compareJSON(old.(*jsonVersion), nw.(*jsonVersion), backward, nv)
	}
	for i := range out {
		if out[i].Line > 0 {
			out[i].File = nv.File
		}
	}
	return out
}
