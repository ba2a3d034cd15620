package admin

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// Subjects lists registered subjects, sorted; with prefix only those
// starting with it, with deleted also soft-deleted ones.
func Subjects(ctx context.Context, cl *sr.Client, prefix string, deleted bool) ([]string, error) {
	var ps []sr.Param
	if prefix != "" {
		ps = append(ps, sr.SubjectPrefix(prefix))
	}
	if deleted {
		ps = append(ps, sr.ShowDeleted)
	}
	subjects, err := cl.Subjects(sr.WithParams(ctx, ps...))
	if err != nil {
		return nil, registryErr(err, "list subjects")
	}
	out := []string{}
	for _, s := range subjects {
		// the prefix is also applied here: not every registry honours
		// subjectPrefix on /subjects
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Reference is a schema reference: the name the referencing schema uses
// (an Avro full name, a .proto import path) and the subject version that
// defines it.
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// SchemaInfo is one registered schema.
type SchemaInfo struct {
	Subject    string      `json:"subject,omitempty"`
	Version    int         `json:"version,omitempty"`
	ID         int         `json:"id"`
	Type       string      `json:"type"` // AVRO, PROTOBUF or JSON
	References []Reference `json:"references"`
	Schema     string      `json:"schema"`
	// UsedBy lists the subject versions registered with this id (get --id).
	UsedBy []SubjectVersion `json:"used_by,omitempty"`
	// Resolved holds the referenced schemas, each after its own
	// references (get --follow-references).
	Resolved []SchemaInfo `json:"resolved_references,omitempty"`
}

// SubjectVersion names one version of a subject.
type SubjectVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

func info(s sr.SubjectSchema) SchemaInfo {
	si := SchemaInfo{Subject: s.Subject, Version: s.Version, ID: s.ID, Type: typeName(s.Type), Schema: s.Schema.Schema, References: []Reference{}}
	for _, r := range s.References {
		si.References = append(si.References, Reference{Name: r.Name, Subject: r.Subject, Version: r.Version})
	}
	return si
}

func typeName(t sr.SchemaType) string {
	switch t {
	case sr.TypeProtobuf:
		return "PROTOBUF"
	case sr.TypeJSON:
		return "JSON"
	}
	return "AVRO"
}

// ParseSchemaType reads avro, protobuf (or proto) and json, any case.
func ParseSchemaType(s string) (sr.SchemaType, error) {
	switch strings.ToLower(s) {
	case "avro", "avsc":
		return sr.TypeAvro, nil
	case "protobuf", "proto":
		return sr.TypeProtobuf, nil
	case "json", "json-schema", "jsonschema":
		return sr.TypeJSON, nil
	}
	return 0, errs.Usagef("schema type %q: use avro, protobuf or json", s)
}

// Versions lists every version of subject with its id and type.
func Versions(ctx context.Context, cl *sr.Client, subject string, deleted bool) ([]SchemaInfo, error) {
	if deleted {
		ctx = sr.WithParams(ctx, sr.ShowDeleted)
	}
	ss, err := cl.Schemas(ctx, subject)
	if err != nil {
		return nil, registryErr(err, "versions of "+subject)
	}
	out := []SchemaInfo{}
	for _, s := range ss {
		out = append(out, info(s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// ParseSubjectVersion splits SUBJECT[@VERSION|@latest]; the version is -1
// for latest (and when none is given).
func ParseSubjectVersion(s string) (string, int, error) {
	subject, v, ok := s, "", false
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		subject, v, ok = s[:i], s[i+1:], true
	}
	if subject == "" {
		return "", 0, errs.Usagef("%q: no subject before @", s)
	}
	if !ok || v == "" || strings.EqualFold(v, "latest") {
		return subject, -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return "", 0, errs.Usagef("%q: version %q is not a positive number or latest", s, v)
	}
	return subject, n, nil
}

// GetSchema reads subject at version (-1: latest). With follow, the
// schemas it references are read too, recursively, into Resolved.
func GetSchema(ctx context.Context, cl *sr.Client, subject string, version int, follow bool) (*SchemaInfo, error) {
	s, err := cl.SchemaByVersion(ctx, subject, version)
	if err != nil {
		return nil, registryErr(err, "get "+subjectAt(subject, version))
	}
	si := info(s)
	if si.Subject == "" {
		si.Subject = subject
	}
	if follow {
		if si.Resolved, err = resolve(ctx, cl, si.References); err != nil {
			return nil, err
		}
	}
	return &si, nil
}

func subjectAt(subject string, version int) string {
	if version < 0 {
		return subject + "@latest"
	}
	return fmt.Sprintf("%s@%d", subject, version)
}

// GetSchemaByID reads the schema with a global id and the subject versions
// registered with it.
func GetSchemaByID(ctx context.Context, cl *sr.Client, id int, follow bool) (*SchemaInfo, error) {
	s, err := cl.SchemaByID(ctx, id)
	if err != nil {
		return nil, registryErr(err, fmt.Sprintf("get schema id %d", id))
	}
	si := info(sr.SubjectSchema{ID: id, Schema: s})
	uses, err := cl.SchemaVersionsByID(ctx, id)
	if err != nil {
		return nil, registryErr(err, fmt.Sprintf("subjects of schema id %d", id))
	}
	for _, u := range uses {
		si.UsedBy = append(si.UsedBy, SubjectVersion{Subject: u.Subject, Version: u.Version})
	}
	sort.Slice(si.UsedBy, func(i, j int) bool {
		a, b := si.UsedBy[i], si.UsedBy[j]
		return a.Subject < b.Subject || a.Subject == b.Subject && a.Version < b.Version
	})
	if follow {
		if si.Resolved, err = resolve(ctx, cl, si.References); err != nil {
			return nil, err
		}
	}
	return &si, nil
}

// resolve reads referenced schemas depth first, each once, so that every
// schema comes after the ones it references (the order a parser needs).
func resolve(ctx context.Context, cl *sr.Client, refs []Reference) ([]SchemaInfo, error) {
	seen := map[string]bool{}
	var out []SchemaInfo
	var walk func(refs []Reference, depth int) error
	walk = func(refs []Reference, depth int) error {
		if depth > 32 {
			return errs.Failedf("schema registry: references nest deeper than 32 levels (a cycle?)")
		}
		for _, r := range refs {
			k := fmt.Sprintf("%s@%d", r.Subject, r.Version)
			if seen[k] {
				continue
			}
			seen[k] = true
			s, err := cl.SchemaByVersion(ctx, r.Subject, r.Version)
			if err != nil {
				return registryErr(err, fmt.Sprintf("reference %s (%s)", r.Name, k))
			}
			si := info(s)
			if err := walk(si.References, depth+1); err != nil {
				return err
			}
			out = append(out, si)
		}
		return nil
	}
	if err := walk(refs, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseReference reads NAME=SUBJECT[@VERSION|@latest]; Version -1 means
// the subject's latest version, resolved when registering.
func ParseReference(s string) (Reference, error) {
	name, sv, ok := strings.Cut(s, "=")
	if !ok || name == "" || sv == "" {
		return Reference{}, errs.Usagef("--reference %q: use NAME=SUBJECT@VERSION (e.g. com.acme.Address=address-value@1)", s)
	}
	subject, v, err := ParseSubjectVersion(sv)
	if err != nil {
		return Reference{}, errs.Usagef("--reference %q: %w", s, err)
	}
	return Reference{Name: name, Subject: subject, Version: v}, nil
}

// Register registers a schema under subject (or finds it already there)
// and returns its id and version. References at version -1 are pinned to
// their subject's latest version first. An incompatible schema is the
// registry's 409 (exit 1); an invalid one its 422 (exit 2).
func Register(ctx context.Context, cl *sr.Client, subject string, schema string, typ sr.SchemaType, refs []Reference) (*SchemaInfo, error) {
	s := sr.Schema{Schema: schema, Type: typ}
	for _, r := range refs {
		if r.Version < 0 {
			latest, err := cl.SchemaByVersion(ctx, r.Subject, -1)
			if err != nil {
				return nil, registryErr(err, fmt.Sprintf("reference %s: latest version of %s", r.Name, r.Subject))
			}
			r.Version = latest.Version
		}
		s.References = append(s.References, sr.SchemaReference{Name: r.Name, Subject: r.Subject, Version: r.Version})
	}
	id, err := cl.RegisterSchema(ctx, subject, s, -1, -1)
	if err != nil {
		return nil, registryErr(err, "register "+subject)
	}
	found, err := cl.LookupSchema(ctx, subject, s)
	if err != nil {
		return nil, registryErr(err, "look up the registered version of "+subject)
	}
	si := info(found)
	si.Subject, si.ID = subject, id
	if si.Schema == "" {
		si.Schema = schema
	}
	if len(si.References) == 0 {
		for _, r := range s.References {
			si.References = append(si.References, Reference{Name: r.Name, Subject: r.Subject, Version: r.Version})
		}
	}
	return &si, nil
}

// CompatLevel is a subject's (or the global) compatibility level. Source is
// "subject" when the subject sets its own, "global" when it inherits it.
type CompatLevel struct {
	Subject string `json:"subject,omitempty"`
	Level   string `json:"level"`
	Source  string `json:"source"`
}

// Levels are the Confluent compatibility levels.
var Levels = []string{"BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"}

// GetCompatLevel reads the level of subject, or the global level when
// subject is "". A subject without a level of its own reports the global
// one with Source "global".
func GetCompatLevel(ctx context.Context, cl *sr.Client, subject string) (*CompatLevel, error) {
	if subject != "" {
		own := sr.WithParams(ctx, sr.RawParams(url.Values{"defaultToGlobal": {"false"}}))
		rs := cl.Compatibility(own, subject)
		err := rs[0].Err
		if err == nil {
			return &CompatLevel{Subject: subject, Level: rs[0].Level.String(), Source: "subject"}, nil
		}
		var re *sr.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 404 {
			return nil, registryErr(err, "compatibility level of "+subject)
		}
	}
	rs := cl.Compatibility(ctx)
	if err := rs[0].Err; err != nil {
		return nil, registryErr(err, "global compatibility level")
	}
	return &CompatLevel{Subject: subject, Level: rs[0].Level.String(), Source: "global"}, nil
}

// SetCompatLevel sets the level of subject, or the global level when
// subject is "".
func SetCompatLevel(ctx context.Context, cl *sr.Client, subject, level string) (*CompatLevel, error) {
	var l sr.CompatibilityLevel
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil || !validLevel(strings.ToUpper(level)) {
		return nil, errs.Usagef("compatibility level %q: use one of %s", level, strings.Join(Levels, ", "))
	}
	var rs []sr.CompatibilityResult
	if subject == "" {
		rs = cl.SetCompatibility(ctx, sr.SetCompatibility{Level: l})
	} else {
		rs = cl.SetCompatibility(ctx, sr.SetCompatibility{Level: l}, subject)
	}
	what := "set the global compatibility level"
	source := "global"
	if subject != "" {
		what, source = "set the compatibility level of "+subject, "subject"
	}
	if err := rs[0].Err; err != nil {
		return nil, registryErr(err, what)
	}
	return &CompatLevel{Subject: subject, Level: rs[0].Level.String(), Source: source}, nil
}

func validLevel(s string) bool {
	for _, l := range Levels {
		if l == s {
			return true
		}
	}
	return false
}

// Deleted says what a delete removed.
type Deleted struct {
	Subject   string `json:"subject"`
	Versions  []int  `json:"versions"`
	Permanent bool   `json:"permanent"`
}

// DeleteSubject deletes subject, or one version of it (version > 0, or -1
// for the latest). Without permanent the delete is soft: the registry keeps
// the schemas and their ids, and the subject can be registered again. With
// permanent, what is not yet soft-deleted is soft-deleted first, then
// removed for good.
func DeleteSubject(ctx context.Context, cl *sr.Client, subject string, version int, permanent bool) (*Deleted, error) {
	d := &Deleted{Subject: subject, Permanent: permanent, Versions: []int{}}
	if version == 0 {
		vs, err := cl.DeleteSubject(ctx, subject, sr.SoftDelete)
		if err != nil && !(permanent && softDeleted(err)) {
			return nil, registryErr(err, "delete "+subject)
		}
		d.Versions = append(d.Versions, vs...)
		if permanent {
			hv, err := cl.DeleteSubject(ctx, subject, sr.HardDelete)
			if err != nil {
				return nil, registryErr(err, "permanently delete "+subject)
			}
			if len(hv) > 0 {
				d.Versions = hv
			}
		}
		return d, nil
	}
	if version < 0 {
		latest, err := cl.SchemaByVersion(ctx, subject, -1)
		if err != nil {
			return nil, registryErr(err, "latest version of "+subject)
		}
		version = latest.Version
	}
	err := cl.DeleteSchema(ctx, subject, version, sr.SoftDelete)
	if err != nil && !(permanent && softDeleted(err)) {
		return nil, registryErr(err, fmt.Sprintf("delete %s@%d", subject, version))
	}
	if permanent {
		if err := cl.DeleteSchema(ctx, subject, version, sr.HardDelete); err != nil {
			return nil, registryErr(err, fmt.Sprintf("permanently delete %s@%d", subject, version))
		}
	}
	d.Versions = []int{version}
	return d, nil
}

// softDeleted reports the registry saying the subject or version is
// already soft-deleted (error codes 40404 and 40406).
func softDeleted(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && (re.ErrorCode == 40404 || re.ErrorCode == 40406)
}
