package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// SchemaFetcher is the part of the registry client the registry source needs.
type SchemaFetcher interface {
	SubjectVersions(ctx context.Context, subject string) ([]int, error)
	SchemaByVersion(ctx context.Context, subject string, version int) (sr.SubjectSchema, error)
}

func schemaTypeOf(t sr.SchemaType) Type {
	if t == sr.TypeProtobuf {
		return Protobuf
	}
	if t == sr.TypeAvro {
		return Avro
	}
	if t == sr.TypeJSON {
		return JSONSchema
	}
	return ""
}

// registryVersion turns a registered schema (and its references, fetched
// recursively) into a Version.
func registryVersion(ctx context.Context, get func(ctx context.Context, subject string, version int) (sr.SubjectSchema, error), ss sr.SubjectSchema, label string) (Version, error) {
	v := Version{Label: label, Data: []byte(ss.Schema.Schema)}
	imports := map[string][]byte{}
	seen := map[string]bool{}
	var walk func(refs []sr.SchemaReference) error
	walk = func(refs []sr.SchemaReference) error {
		for _, r := range refs {
			key := r.Subject + "/" + strconv.Itoa(r.Version)
			if seen[key] {
				continue
			}
			seen[key] = true
			rs, err := get(ctx, r.Subject, r.Version)
			if err != nil {
				return fmt.Errorf("reference %q (subject %s version %d): %w", r.Name, r.Subject, r.Version, err)
			}
			imports[r.Name] = []byte(rs.Schema.Schema)
			v.AvroRefs = append(v.AvroRefs, NamedText{Name: r.Subject + " v" + strconv.Itoa(r.Version), Data: []byte(rs.Schema.Schema)})
			if err := walk(rs.Schema.References); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(ss.Schema.References); err != nil {
		return v, err
	}
	v.Import = func(name string) ([]byte, error) {
		if b, ok := imports[name]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("import %q is not among the schema's references: %w", name, errNotFound)
	}
	v.ProtoName = "schema.proto"
	return v, nil
}

var errNotFound = fsErrNotExist()

// RegistryVersions returns a subject's registered versions, oldest first
// (an empty list when the subject does not exist).
func RegistryVersions(ctx context.Context, cl SchemaFetcher, subject string) ([]Version, Type, error) {
	return NewRegistryReader(cl, 0).Versions(ctx, subject)
}

// subjectLister is the registry client's GET /schemas: every registered
// schema of the subjects whose names start with a prefix, in one request.
type subjectLister interface {
	AllSchemas(ctx context.Context) ([]sr.SubjectSchema, error)
}

// RegistryReader reads subjects' registered versions for many files: one
// request per subject where the registry lists a subject's schemas at once
// (GET /schemas?subjectPrefix=S; else GET /subjects/S/versions and one
// request per version), each reference read once for all subjects, every
// request bounded by a timeout. It is safe for concurrent use.
type RegistryReader struct {
	cl      SchemaFetcher
	timeout time.Duration

	mu     sync.Mutex
	byVer  map[string]*registryGet // "subject\x00version" -> the schema
	noList bool                    // the registry has no GET /schemas
}

type registryGet struct {
	done chan struct{}
	ss   sr.SubjectSchema
	err  error
}

// NewRegistryReader returns a reader; timeout bounds each request (0: none
// beyond the client's own).
func NewRegistryReader(cl SchemaFetcher, timeout time.Duration) *RegistryReader {
	return &RegistryReader{cl: cl, timeout: timeout, byVer: map[string]*registryGet{}}
}

func (r *RegistryReader) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, r.timeout)
}

// timedOut names a request that the timeout cut short.
func (r *RegistryReader) timedOut(ctx context.Context, err error) error {
	var ne net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
	if r.timeout > 0 && timeout && ctx.Err() == nil {
		return fmt.Errorf("no answer within %s (--timeout): %w", r.timeout, err)
	}
	return err
}

// schemaByVersion is SchemaByVersion, each subject version read once.
func (r *RegistryReader) schemaByVersion(ctx context.Context, subject string, version int) (sr.SubjectSchema, error) {
	key := subject + "\x00" + strconv.Itoa(version)
	r.mu.Lock()
	g, ok := r.byVer[key]
	if !ok {
		g = &registryGet{done: make(chan struct{})}
		r.byVer[key] = g
	}
	r.mu.Unlock()
	if ok {
		select {
		case <-g.done:
			return g.ss, g.err
		case <-ctx.Done():
			return sr.SubjectSchema{}, ctx.Err()
		}
	}
	rctx, cancel := r.reqCtx(ctx)
	g.ss, g.err = r.cl.SchemaByVersion(rctx, subject, version)
	g.err = r.timedOut(ctx, g.err)
	cancel()
	close(g.done)
	if g.err != nil && ctx.Err() != nil {
		// the caller gave up: let a later reader ask again
		r.mu.Lock()
		delete(r.byVer, key)
		r.mu.Unlock()
	}
	return g.ss, g.err
}

// listed returns the subject's registered schemas through GET /schemas, or
// ok false when the registry does not serve it.
func (r *RegistryReader) listed(ctx context.Context, subject string) ([]sr.SubjectSchema, bool, error) {
	lister, can := r.cl.(subjectLister)
	r.mu.Lock()
	can = can && !r.noList
	r.mu.Unlock()
	if !can {
		return nil, false, nil
	}
	rctx, cancel := r.reqCtx(ctx)
	defer cancel()
	all, err := lister.AllSchemas(sr.WithParams(rctx, sr.SubjectPrefix(subject)))
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && (re.StatusCode == http.StatusNotFound || re.StatusCode == http.StatusMethodNotAllowed || re.StatusCode == http.StatusBadRequest) {
			r.mu.Lock()
			r.noList = true // an older registry: ask version by version
			r.mu.Unlock()
			return nil, false, nil
		}
		return nil, false, r.timedOut(ctx, err)
	}
	var out []sr.SubjectSchema
	for _, ss := range all {
		if ss.Subject == subject { // the prefix also matches longer names
			out = append(out, ss)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, true, nil
}

// Versions returns a subject's registered versions, oldest first (an empty
// list when the subject does not exist).
func (r *RegistryReader) Versions(ctx context.Context, subject string) ([]Version, Type, error) {
	all, ok, err := r.listed(ctx, subject)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) {
			return nil, "", errs.Failedf("registry: subject %s: %v", subject, err)
		}
		return nil, "", errs.Unavailablef("registry: subject %s: %v", subject, err)
	}
	if !ok {
		rctx, cancel := r.reqCtx(ctx)
		vs, err := r.cl.SubjectVersions(rctx, subject)
		cancel()
		if err != nil {
			var re *sr.ResponseError
			if errors.As(err, &re) && (re.ErrorCode == sr.ErrSubjectNotFound.Code || re.StatusCode == http.StatusNotFound) {
				return nil, "", nil
			}
			if errors.As(err, &re) {
				return nil, "", errs.Failedf("registry: subject %s: %v", subject, err)
			}
			return nil, "", errs.Unavailablef("registry: %v", r.timedOut(ctx, err))
		}
		sort.Ints(vs)
		for _, n := range vs {
			ss, err := r.schemaByVersion(ctx, subject, n)
			if err != nil {
				return nil, "", errs.Unavailablef("registry: subject %s version %d: %v", subject, n, err)
			}
			all = append(all, ss)
		}
	}
	var out []Version
	var typ Type
	for _, ss := range all {
		v, err := registryVersion(ctx, r.schemaByVersion, ss, fmt.Sprintf("%s v%d", subject, ss.Version))
		if err != nil {
			return nil, "", errs.Failedf("registry: %v", err)
		}
		typ = schemaTypeOf(ss.Schema.Type)
		out = append(out, v)
	}
	return out, typ, nil
}

// RegistryInterceptor makes an srfake registry (the `deimos dev` registry)
// enforce compatibility with this engine, as a real Confluent registry does:
//
//   - POST /subjects/{s}/versions checks the schema against the subject's
//     versions under the subject's level (or the global one) and answers
//     409 when incompatible, 422 when the schema cannot be parsed; otherwise
//     srfake stores it.
//   - POST /compatibility/subjects/{s}/versions[/{v}] answers
//     {"is_compatible": bool, "messages": [...]} with our verdict.
//
// Unknown schema types are passed through unchecked. Install it
// with reg.Intercept(compat.RegistryInterceptor(reg)).
func RegistryInterceptor(reg *srfake.Registry) srfake.Interceptor {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost {
			return false
		}
		path := r.URL.EscapedPath()
		if rest, ok := strings.CutPrefix(path, "/contexts/"); ok {
			// srfake serves /contexts/{ctx}/... as the same path without the
			// prefix (same subjects), so check those registrations the same way.
			i := strings.IndexByte(rest, '/')
			if i < 0 {
				return false
			}
			path = rest[i:]
		}
		parts := strings.Split(strings.Trim(path, "/"), "/")
		var subject, version string
		var register bool
		switch {
		case len(parts) == 3 && parts[0] == "subjects" && parts[2] == "versions":
			subject, register = parts[1], true
		case len(parts) == 4 && parts[0] == "compatibility" && parts[1] == "subjects" && parts[3] == "versions":
			subject = parts[2]
		case len(parts) == 5 && parts[0] == "compatibility" && parts[1] == "subjects" && parts[3] == "versions":
			subject, version = parts[2], parts[4]
		default:
			return false
		}
		subject, err := url.PathUnescape(subject)
		if err != nil {
			return false
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return false
		}
		r.Body = io.NopCloser(bytes.NewReader(body)) // let srfake read it again
		var s sr.Schema
		if err := json.Unmarshal(body, &s); err != nil || s.Schema == "" {
			return false // srfake answers malformed requests itself
		}
		mode := subjectMode(reg, subject)
		versions := registeredVersions(reg, subject)
		if mode != None && (register || version == "") {
			// Confluent: a schema of another type is never compatible.
			for _, n := range versions {
				ss, _ := reg.GetSchema(subject, n)
				if ss.Schema.Type == s.Type {
					continue
				}
				msg := fmt.Sprintf("Incompatible because of different schema type: subject %q version %d is %s, the new schema is %s", subject, n, ss.Schema.Type, s.Type)
				if register {
					writeSRError(w, http.StatusConflict, 409, "Schema being registered is incompatible with an earlier schema; "+msg)
				} else {
					w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
					w.WriteHeader(http.StatusOK)
					_ = json.NewEncoder(w).Encode(map[string]any{"is_compatible": false, "messages": []string{msg}})
				}
				return true
			}
		}
		if s.Type != sr.TypeAvro && s.Type != sr.TypeProtobuf && s.Type != sr.TypeJSON {
			return false
		}
		get := func(_ context.Context, subj string, v int) (sr.SubjectSchema, error) {
			ss, ok := reg.GetSchema(subj, v)
			if !ok {
				return ss, fmt.Errorf("subject %s version %d not found", subj, v)
			}
			return ss, nil
		}
		cand, err := registryVersion(r.Context(), get, sr.SubjectSchema{Subject: subject, Schema: s}, "new schema")
		if err != nil {
			writeSRError(w, http.StatusUnprocessableEntity, 42201, "Invalid schema: "+err.Error())
			return true
		}
		if register {
			for _, n := range versions {
				ss, _ := reg.GetSchema(subject, n)
				if ss.Schema.Schema == s.Schema && ss.Schema.Type == s.Type {
					return false // already registered: srfake returns its id
				}
			}
		} else if version != "" {
			n, err := strconv.Atoi(version)
			if version == "latest" || version == "-1" {
				n, err = 0, nil
				if len(versions) > 0 {
					n = versions[len(versions)-1]
				}
			}
			if err != nil || !contains(intsToStrings(versions), strconv.Itoa(n)) {
				writeSRError(w, http.StatusNotFound, sr.ErrVersionNotFound.Code, fmt.Sprintf("Version %s not found.", version))
				return true
			}
			versions = []int{n}
			if mode.transitive() { // one version given: compare with it alone
				mode = map[Mode]Mode{BackwardTransitive: Backward, ForwardTransitive: Forward, FullTransitive: Full}[mode]
			}
		}
		var all []Version
		for _, n := range versions {
			ss, _ := reg.GetSchema(subject, n)
			if ss.Schema.Type != s.Type {
				continue
			}
			v, err := registryVersion(r.Context(), get, ss, fmt.Sprintf("%s v%d", subject, n))
			if err != nil {
				continue
			}
			all = append(all, v)
		}
		cand.Label = "new schema"
		all = append(all, cand)
		res, err := CheckWith(Options{NewestIsRegistration: register}, mode, schemaTypeOf(s.Type), all)
		if err != nil {
			writeSRError(w, http.StatusUnprocessableEntity, 42201, "Invalid schema: "+err.Error())
			return true
		}
		var msgs []string
		for _, p := range res.Problems {
			m := fmt.Sprintf("%s (%s vs %s): %s", p.Path, p.Check, p.Old, p.Message)
			if p.Rule != "" {
				m += " [" + p.Rule + "]" // Confluent's messages name the rule (errorType)
			}
			msgs = append(msgs, m)
		}
		if register {
			if res.Compatible {
				return false
			}
			writeSRError(w, http.StatusConflict, 409, fmt.Sprintf("Schema being registered is incompatible with an earlier schema for subject %q, details: [%s]", subject, strings.Join(msgs, "; ")))
			return true
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(http.StatusOK)
		out := map[string]any{"is_compatible": res.Compatible}
		if r.URL.Query().Get("verbose") == "true" || !res.Compatible {
			if msgs == nil {
				msgs = []string{}
			}
			out["messages"] = msgs
		}
		_ = json.NewEncoder(w).Encode(out)
		return true
	}
}

func intsToStrings(in []int) []string {
	out := make([]string, len(in))
	for i, n := range in {
		out[i] = strconv.Itoa(n)
	}
	return out
}

func writeSRError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error_code": code, "message": msg})
}

// subjectMode reads the subject's level (falling back to the global one)
// through srfake's own HTTP handler.
func subjectMode(reg *srfake.Registry, subject string) Mode {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/config/"+url.PathEscape(subject)+"?defaultToGlobal=true", nil)
	reg.Handler().ServeHTTP(rec, req)
	var body struct {
		Level string `json:"compatibilityLevel"`
	}
	if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &body) == nil {
		if m, err := ParseMode(body.Level); err == nil {
			return m
		}
	}
	return Backward
}

func registeredVersions(reg *srfake.Registry, subject string) []int {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/subjects/"+url.PathEscape(subject)+"/versions", nil)
	reg.Handler().ServeHTTP(rec, req)
	var vs []int
	if rec.Code == http.StatusOK {
		_ = json.Unmarshal(rec.Body.Bytes(), &vs)
	}
	sort.Ints(vs)
	return vs
}
