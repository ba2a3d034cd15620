package encode

// Registering Avro schemas the way other clients do.
//
// A value or key schema is registered the first time it is used (when
// schema.auto_register is on), but only after looking for a version of the
// subject that already holds the same schema, in whatever form another
// client registered it: with references, inlined (as Deimos's avro_turf
// registers), or formatted differently. Only when none does is a new version
// registered, and then in the user's form: the .avsc file's text byte for byte,
// with the named types it takes from other files as schema references, each
// registered (looked up first, the same way) under its own subject. With
// schema.normalize the text is Avro's Parsing Canonical Form instead.

import (
	"context"
	"errors"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/avro"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// avroID returns the registry id of sch under subject (see the file comment).
func (e *Engine) avroID(ctx context.Context, subject string, sch *avroSchema) (int, error) {
	if err := e.needRegistry("subject " + subject); err != nil {
		return 0, err
	}
	if e.cfg.Schema.Normalize {
		ctx = sr.WithParams(ctx, sr.Normalize)
	}
	// one registration at a time: a stream's workers would all miss the cache
	// at once and register the same subjects (and references) concurrently
	e.regMu.Lock()
	defer e.regMu.Unlock()
	ss, err := e.avroRegistered(ctx, subject, sch, 0)
	return ss.ID, err
}

// avroForm is the text and references deimos registers for sch: the file as
// written (or its canonical form) with its references, or, for schemas that
// are not a file (generated keys, primitives) and with
// schema.inline_references, the resolved schema text.
func (e *Engine) avroForm(sch *avroSchema) (string, []string) {
	if sch.src == nil || (len(sch.refs) > 0 && e.cfg.Schema.InlineReferences) {
		if e.cfg.Schema.Normalize {
			return avro.CanonicalForm(sch.t, nil), nil
		}
		return sch.text, nil
	}
	if e.cfg.Schema.Normalize {
		return avro.CanonicalForm(sch.t, sch.refs), sch.refs
	}
	return string(sch.src), sch.refs
}

func (e *Engine) avroRegistered(ctx context.Context, subject string, sch *avroSchema, depth int) (sr.SubjectSchema, error) {
	key := subject + "\x00" + sch.text
	if ss, ok := e.avroRegs[key]; ok {
		return ss, nil
	}
	if depth > maxReferenceDepth {
		return sr.SubjectSchema{}, errs.Usagef("schema %s: references nested deeper than %d", sch.t.Name, maxReferenceDepth)
	}
	text, refNames := e.avroForm(sch)
	ss, latestRefs, found, err := e.findAvro(ctx, subject, sch, text, len(refNames) > 0)
	if err != nil {
		return ss, err
	}
	if !found {
		if !e.cfg.Schema.AutoRegisterOn() {
			return ss, errs.Failedf("schema registry: subject %s has no version of this schema (auto_register is off)", subject)
		}
		var refs []sr.SchemaReference
		for _, name := range refNames {
			rs, err := e.localSchema(name, "")
			if err != nil {
				// the type's file does not stand alone (say it is defined
				// inside another type's file): register the schema inlined
				text, refs = sch.text, nil
				if e.cfg.Schema.Normalize {
					text = avro.CanonicalForm(sch.t, nil)
				}
				break
			}
			rsub := name
			if s, ok := latestRefs[name]; ok {
				rsub = s // the subject the registry's newest version refers to
			}
			rss, err := e.avroRegistered(ctx, rsub, rs, depth+1)
			if err != nil {
				return ss, err
			}
			refs = append(refs, sr.SchemaReference{Name: name, Subject: rsub, Version: rss.Version})
		}
		ss, err = e.reg.CreateSchema(ctx, subject, sr.Schema{Schema: text, Type: sr.TypeAvro, References: refs})
		if err != nil {
			return ss, registryError("register "+subject, err)
		}
	}
	e.avroRegs[key] = ss
	e.mu.Lock()
	if _, ok := e.byID[ss.ID]; !ok && ss.Schema.Schema != "" {
		e.byID[ss.ID] = &registered{schema: ss.Schema, subject: subject, version: ss.Version, resolved: true}
	}
	e.mu.Unlock()
	return ss, nil
}

// findAvro looks for a version of subject holding sch: first by asking the
// registry (POST /subjects/{subject}) for the form deimos would register and
// for the inlined form, then by reading the subject's versions, newest first,
// and comparing each, references resolved, with sch. latestRefs maps the
// reference names of the newest version to their subjects.
func (e *Engine) findAvro(ctx context.Context, subject string, sch *avroSchema, text string, hasRefs bool) (ss sr.SubjectSchema, latestRefs map[string]string, found bool, err error) {
	var forms []string
	if !hasRefs {
		forms = append(forms, text)
	}
	if sch.text != text {
		forms = append(forms, sch.text)
	}
	for _, f := range forms {
		ss, err = e.reg.LookupSchema(ctx, subject, sr.Schema{Schema: f, Type: sr.TypeAvro})
		if err == nil {
			return ss, nil, true, nil
		}
		var re *sr.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 404 {
			return ss, nil, false, registryError("look up "+subject, err)
		}
		if re.ErrorCode == sr.ErrSubjectNotFound.Code {
			return sr.SubjectSchema{}, nil, false, nil
		}
	}
	versions, err := e.reg.SubjectVersions(ctx, subject)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == 404 {
			return sr.SubjectSchema{}, nil, false, nil
		}
		return ss, nil, false, registryError("versions of "+subject, err)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(versions)))
	for i, v := range versions {
		vs, err := e.reg.SchemaByVersion(ctx, subject, v)
		if err != nil {
			return ss, nil, false, registryError("version "+strconv.Itoa(v)+" of "+subject, err)
		}
		if vs.Type != sr.TypeAvro {
			continue
		}
		if i == 0 && len(vs.References) > 0 {
			latestRefs = map[string]string{}
			for _, r := range vs.References {
				latestRefs[r.Name] = r.Subject
			}
		}
		w, err := e.writerSchema(ctx, vs.ID, vs.Schema)
		if err != nil {
			if errs.KindOf(err) == errs.KindUnavailable || ctx.Err() != nil {
				return ss, nil, false, err
			}
			continue // a version deimos cannot read is not this schema
		}
		if w.text == sch.text {
			return vs, latestRefs, true, nil
		}
	}
	return sr.SubjectSchema{}, latestRefs, false, nil
}
