package protobuf

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/jhump/protoreflect/desc"
	"github.com/jhump/protoreflect/desc/protoparse"
	"github.com/jhump/protoreflect/desc/protoprint"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"

	"github.com/deimos-cli/deimos/pkg/tuplekey"
)

// Registered is the outcome of registering (or looking up) a schema.
type Registered struct {
	Subject string
	ID      int
	Version int
}

// Registry registers protobuf files and JSON key schemas with a Confluent
// Schema Registry the way Deimos's proto_schema_registry backend does, and
// resolves writer schemas by id for decoding. Results are cached per
// (subject, schema text) and per id for the life of the value; it is safe
// for concurrent use.
type Registry struct {
	Client *sr.Client
	// Loader supplies source texts of local files (for registration).
	Loader *Loader
	// AutoRegister registers schemas (Deimos does); false only looks them up.
	AutoRegister bool

	mu      sync.Mutex
	regs    map[string]Registered              // subject + "\x00" + text
	byID    map[int]*desc.FileDescriptor       // writer files by schema id
	subjVer map[string]sr.SubjectSchema        // subject@version
	msgByID map[string]*desc.MessageDescriptor // tuplekey of id, indexes
}

// NewRegistry returns a Registry using cl and the loader's sources.
func NewRegistry(cl *sr.Client, l *Loader, autoRegister bool) *Registry {
	return &Registry{Client: cl, Loader: l, AutoRegister: autoRegister}
}

func (r *Registry) init() {
	if r.regs == nil {
		r.regs = map[string]Registered{}
		r.byID = map[int]*desc.FileDescriptor{}
		r.subjVer = map[string]sr.SubjectSchema{}
		r.msgByID = map[string]*desc.MessageDescriptor{}
	}
}

// SchemaText returns the text registered for a file: its source as read from
// disk, or (for files without a source, such as built ones) protoprint output.
func (r *Registry) SchemaText(fd *desc.FileDescriptor) (string, error) {
	if r.Loader != nil {
		if b, ok := r.Loader.Source(fd.GetName()); ok {
			return string(b), nil
		}
	}
	var p protoprint.Printer
	s, err := p.PrintProtoToString(fd)
	if err != nil {
		return "", fmt.Errorf("printing %s: %w", fd.GetName(), err)
	}
	return s, nil
}

// RegisterFile registers fd under subject (schemaType PROTOBUF). A version
// of the subject that already holds the same definitions (in any text, with
// references under any subjects, as another client registered it) is used
// as it is. Otherwise its imported non-google files are registered first (the
// same way), each under the subject the subject's newest version uses for
// that import, else under its file name, and passed as references (name =
// the import path, version = the version found or registered).
func (r *Registry) RegisterFile(ctx context.Context, subject string, fd *desc.FileDescriptor) (Registered, error) {
	if r.Client == nil {
		return Registered{}, fmt.Errorf("proto_schema_registry needs a schema registry (schema.registry.url or --registry)")
	}
	key := subject + "\x00file\x00" + fd.GetName()
	r.mu.Lock()
	r.init()
	reg, ok := r.regs[key]
	r.mu.Unlock()
	if ok {
		return reg, nil
	}
	reg, latestRefs, found, err := r.findFile(ctx, subject, fd)
	if err != nil {
		return Registered{}, fmt.Errorf("looking up subject %q: %w", subject, err)
	}
	if !found {
		var refs []sr.SchemaReference
		for _, dep := range fd.GetDependencies() {
			if IsWellKnown(dep.GetName()) {
				continue
			}
			depSubject := dep.GetName()
			if s, ok := latestRefs[dep.GetName()]; ok {
				depSubject = s
			}
			dreg, err := r.RegisterFile(ctx, depSubject, dep)
			if err != nil {
				return Registered{}, err
			}
			refs = append(refs, sr.SchemaReference{Name: dep.GetName(), Subject: dreg.Subject, Version: dreg.Version})
		}
		text, err := r.SchemaText(fd)
		if err != nil {
			return Registered{}, err
		}
		if reg, err = r.register(ctx, subject, sr.Schema{Schema: text, Type: sr.TypeProtobuf, References: refs}); err != nil {
			return Registered{}, err
		}
	}
	r.mu.Lock()
	r.regs[key] = reg
	r.mu.Unlock()
	return reg, nil
}

// findFile looks for a version of subject, newest first, whose schema
// (references resolved) defines the same messages, enums and services as fd
// and its imports, with the same top-level messages in the same order (the
// message indexes of framed data depend on it). latestRefs maps the import
// names of the newest version to their subjects.
func (r *Registry) findFile(ctx context.Context, subject string, fd *desc.FileDescriptor) (reg Registered, latestRefs map[string]string, found bool, err error) {
	versions, err := r.Client.SubjectVersions(ctx, subject)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == 404 {
			return reg, nil, false, nil
		}
		return reg, nil, false, err
	}
	want, err := definitions(fd)
	if err != nil {
		return reg, nil, false, err
	}
	sort.Sort(sort.Reverse(sort.IntSlice(versions)))
	for i, v := range versions {
		vs, err := r.Client.SchemaByVersion(ctx, subject, v)
		if err != nil {
			return reg, nil, false, err
		}
		if vs.Type != sr.TypeProtobuf {
			continue
		}
		if i == 0 && len(vs.References) > 0 {
			latestRefs = map[string]string{}
			for _, ref := range vs.References {
				latestRefs[ref.Name] = ref.Subject
			}
		}
		w, err := r.ParseWriter(ctx, vs.ID, vs.Schema)
		if err != nil {
			if ctx.Err() != nil {
				return reg, nil, false, ctx.Err()
			}
			continue // a version deimos cannot parse is not this schema
		}
		got, err := definitions(w)
		if err == nil && got == want {
			return Registered{Subject: subject, ID: vs.ID, Version: vs.Version}, latestRefs, true, nil
		}
	}
	return reg, latestRefs, false, nil
}

// definitions is a canonical text of what a file defines for the wire: its
// top-level messages in order, and every message, enum and service of the
// file and its imports (by full name, sorted), with the syntax of the file
// defining each. File names, import paths, comments and layout do not count.
func definitions(fd *desc.FileDescriptor) (string, error) {
	defs := map[string][]byte{}
	seen := map[string]bool{}
	mo := proto.MarshalOptions{Deterministic: true}
	var add func(f *desc.FileDescriptor) error
	add = func(f *desc.FileDescriptor) error {
		if seen[f.GetName()] {
			return nil
		}
		seen[f.GetName()] = true
		syntax := f.AsFileDescriptorProto().GetSyntax()
		put := func(name string, m proto.Message) error {
			b, err := mo.Marshal(m)
			if err != nil {
				return err
			}
			defs[name] = append([]byte(syntax+"\x00"), b...)
			return nil
		}
		for _, m := range f.GetMessageTypes() {
			if err := put("m "+m.GetFullyQualifiedName(), m.AsDescriptorProto()); err != nil {
				return err
			}
		}
		for _, e := range f.GetEnumTypes() {
			if err := put("e "+e.GetFullyQualifiedName(), e.AsEnumDescriptorProto()); err != nil {
				return err
			}
		}
		for _, s := range f.GetServices() {
			if err := put("s "+s.GetFullyQualifiedName(), s.AsServiceDescriptorProto()); err != nil {
				return err
			}
		}
		for _, dep := range f.GetDependencies() {
			if err := add(dep); err != nil {
				return err
			}
		}
		return nil
	}
	if err := add(fd); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(fd.GetPackage())
	for _, m := range fd.GetMessageTypes() {
		b.WriteString("\x00" + m.GetName())
	}
	names := make([]string, 0, len(defs))
	for n := range defs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b.WriteString("\x01" + n + "\x00")
		b.Write(defs[n])
	}
	return b.String(), nil
}

// RegisterJSONSchema registers a JSON Schema (schemaType JSON) under subject.
func (r *Registry) RegisterJSONSchema(ctx context.Context, subject string, schema []byte) (Registered, error) {
	if r.Client == nil {
		return Registered{}, fmt.Errorf("proto_schema_registry needs a schema registry (schema.registry.url or --registry)")
	}
	return r.register(ctx, subject, sr.Schema{Schema: string(schema), Type: sr.TypeJSON})
}

func (r *Registry) register(ctx context.Context, subject string, s sr.Schema) (Registered, error) {
	key := subject + "\x00" + s.Schema
	r.mu.Lock()
	r.init()
	if reg, ok := r.regs[key]; ok {
		r.mu.Unlock()
		return reg, nil
	}
	r.mu.Unlock()
	var (
		ss  sr.SubjectSchema
		err error
	)
	if r.AutoRegister {
		ss, err = r.Client.CreateSchema(ctx, subject, s)
	} else {
		ss, err = r.Client.LookupSchema(ctx, subject, s)
	}
	if err != nil {
		verb := "registering"
		if !r.AutoRegister {
			verb = "looking up (auto_register is off)"
		}
		return Registered{}, fmt.Errorf("%s %s schema under subject %q: %w", verb, s.Type, subject, err)
	}
	reg := Registered{Subject: subject, ID: ss.ID, Version: ss.Version}
	r.mu.Lock()
	r.regs[key] = reg
	r.mu.Unlock()
	return reg, nil
}

// WriterFile fetches the protobuf schema with the given id (and, recursively,
// its references) from the registry and parses it.
func (r *Registry) WriterFile(ctx context.Context, id int) (*desc.FileDescriptor, error) {
	if r.Client == nil {
		return nil, fmt.Errorf("decoding schema id %d needs a schema registry (schema.registry.url or --registry)", id)
	}
	r.mu.Lock()
	r.init()
	fd, ok := r.byID[id]
	r.mu.Unlock()
	if ok {
		return fd, nil
	}
	s, err := r.Client.SchemaByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("fetching schema id %d: %w", id, err)
	}
	return r.ParseWriter(ctx, id, s)
}

// ParseWriter parses the registry schema s (with id) into a file descriptor,
// fetching its references from the registry; the result is cached by id.
func (r *Registry) ParseWriter(ctx context.Context, id int, s sr.Schema) (*desc.FileDescriptor, error) {
	r.mu.Lock()
	r.init()
	fd, ok := r.byID[id]
	r.mu.Unlock()
	if ok {
		return fd, nil
	}
	if s.Type != sr.TypeProtobuf {
		return nil, fmt.Errorf("schema id %d is %s, not PROTOBUF", id, s.Type)
	}
	files := map[string]string{}
	if len(s.References) > 0 && r.Client == nil {
		return nil, fmt.Errorf("schema id %d has references but no schema registry is configured", id)
	}
	if err := r.collectRefs(ctx, s.References, files, 0); err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	main := "schema-id-" + strconv.Itoa(id) + ".proto"
	files[main] = s.Schema
	p := protoparse.Parser{Accessor: protoparse.FileContentsFromMap(files)}
	fds, err := p.ParseFiles(main)
	if err != nil {
		return nil, fmt.Errorf("parsing protobuf schema id %d: %w", id, err)
	}
	r.mu.Lock()
	r.byID[id] = fds[0]
	r.mu.Unlock()
	return fds[0], nil
}

func (r *Registry) collectRefs(ctx context.Context, refs []sr.SchemaReference, files map[string]string, depth int) error {
	if depth > 32 {
		return fmt.Errorf("schema references nest too deeply")
	}
	for _, ref := range refs {
		if _, ok := files[ref.Name]; ok {
			continue
		}
		key := ref.Subject + "@" + strconv.Itoa(ref.Version)
		r.mu.Lock()
		ss, ok := r.subjVer[key]
		r.mu.Unlock()
		if !ok {
			var err error
			ss, err = r.Client.SchemaByVersion(ctx, ref.Subject, ref.Version)
			if err != nil {
				return fmt.Errorf("fetching reference %q (subject %q version %d): %w", ref.Name, ref.Subject, ref.Version, err)
			}
			r.mu.Lock()
			r.subjVer[key] = ss
			r.mu.Unlock()
		}
		files[ref.Name] = ss.Schema.Schema
		if err := r.collectRefs(ctx, ss.Schema.References, files, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// WriterMessage returns the message a framed value was written with: the
// schema by id, the message chosen by the indexes.
func (r *Registry) WriterMessage(ctx context.Context, id int, indexes []int) (*desc.MessageDescriptor, error) {
	key := tuplekey.Encode(id, indexes) // the one collision-free key encoding
	r.mu.Lock()
	r.init()
	md, ok := r.msgByID[key]
	r.mu.Unlock()
	if ok {
		return md, nil
	}
	fd, err := r.WriterFile(ctx, id)
	if err != nil {
		return nil, err
	}
	md, err = MessageAt(fd, indexes)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	r.mu.Lock()
	r.msgByID[key] = md
	r.mu.Unlock()
	return md, nil
}

// SubjectOf returns one subject (and version) the id is registered under, or "" if unknown.
func (r *Registry) SubjectOf(ctx context.Context, id int) (string, int) {
	if r.Client == nil {
		return "", 0
	}
	vs, err := r.Client.SchemaVersionsByID(ctx, id)
	if err != nil || len(vs) == 0 {
		return "", 0
	}
	return vs[0].Subject, vs[0].Version
}
