package compat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"sync"

	"github.com/jhump/protoreflect/desc"
	"github.com/jhump/protoreflect/desc/protoparse"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// protoImports shares compiled imports between the .proto files of one
// side of a git check whose imports resolve through the same directories
// (read). Without it every file compiled its imports again: a shared
// common.proto was about a third of the cost of each file.
//
// An import is compiled alone once every file it imports is in the cache
// (so a file and the imports it shares with its importers are the same
// descriptors), and only when that compile succeeds; an import that does
// not compile alone, or takes part in a cycle, is never cached and is
// compiled from source with the file, as before, so its errors read the
// same. A file uses the imports that were in the cache when its compile
// started, except those that read a file of its own name (the file's text
// is what such an import gets in a compile of the file).
type protoImports struct {
	read func(name string) ([]byte, error)

	build   sync.Mutex // one build at a time
	mu      sync.Mutex // guards the fields below
	entries map[string]*protoDep
	failed  map[string]bool
	seq     int
}

// protoDep is a cached import.
type protoDep struct {
	// fd is a plain descriptor (protodesc.NewFile), not the compiler's
	// result: protoparse rewrites the options of the compiler's results
	// among a compile's imports after each compile, which files compiled
	// at the same time must not see.
	fd      *desc.FileDescriptor
	pfd     protoreflect.FileDescriptor
	seq     int             // when it entered the cache
	closure map[string]bool // itself and what it imports, transitively
	reads   []importRead    // what read answered for the closure
}

func newProtoImports(read func(string) ([]byte, error)) *protoImports {
	return &protoImports{read: read, entries: map[string]*protoDep{}, failed: map[string]bool{}}
}

func (c *protoImports) snapshot() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq
}

// usable returns the cached import name for a compile of main that
// started at snapshot snap, or nil.
func (c *protoImports) usable(name, main string, snap int) *protoDep {
	c.mu.Lock()
	e := c.entries[name]
	c.mu.Unlock()
	if e == nil || e.seq > snap || e.closure[main] {
		return nil
	}
	return e
}

// parse is ParseProto for a file of this side, with the cached imports.
// log, when set, records what the compile read, cached imports included.
func (c *protoImports) parse(name string, v Version, log *importLog) (*protoSchema, error) {
	main := v.ProtoName
	if main == "" {
		main = baseName(name)
	}
	snap := c.snapshot()
	var mu sync.Mutex
	requested := map[string]bool{}
	usedCache := false
	p := protoparse.Parser{
		IncludeSourceCodeInfo: true,
		Accessor: func(fn string) (io.ReadCloser, error) {
			if fn == main {
				return io.NopCloser(bytes.NewReader(v.Data)), nil
			}
			if e := c.usable(fn, main, snap); e != nil {
				mu.Lock()
				usedCache = true
				mu.Unlock()
				if log != nil {
					log.add(e.reads)
				}
				return nil, fmt.Errorf("%s: %w", fn, fs.ErrNotExist) // LookupImport gives it
			}
			if v.Import != nil {
				b, err := v.Import(fn)
				if err == nil {
					mu.Lock()
					requested[fn] = true
					mu.Unlock()
					return io.NopCloser(bytes.NewReader(b)), nil
				}
				if !errors.Is(err, fs.ErrNotExist) {
					return nil, err
				}
			}
			return nil, fmt.Errorf("%s: %w", fn, fs.ErrNotExist)
		},
		LookupImport: func(fn string) (*desc.FileDescriptor, error) {
			if e := c.usable(fn, main, snap); e != nil {
				return e.fd, nil
			}
			return nil, fmt.Errorf("%s: %w", fn, fs.ErrNotExist)
		},
	}
	fds, err := p.ParseFiles(main)
	// (after a failed compile, protoparse may still be reading imports)
	mu.Lock()
	learn := make([]string, 0, len(requested))
	for n := range requested {
		learn = append(learn, n)
	}
	cached := usedCache
	mu.Unlock()
	if len(learn) > 0 {
		c.learn(learn)
	}
	if err != nil && cached {
		// an error is reported as a compile from source reports it (a
		// symbol defined twice names the place of the first definition,
		// which a cached import has no syntax tree for)
		v.protoImports = nil
		return ParseProto(name, v)
	}
	if err != nil {
		return nil, protoError(err, name, main)
	}
	return &protoSchema{fd: fds[0]}, nil
}

// learn compiles and caches the imports a compile read from source, leaves
// (whose imports are cached) first.
func (c *protoImports) learn(names []string) {
	var todo []string
	c.mu.Lock()
	for _, n := range names {
		if c.entries[n] == nil && !c.failed[n] {
			todo = append(todo, n)
		}
	}
	c.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	sort.Strings(todo)
	c.build.Lock()
	defer c.build.Unlock()
	for progress := true; progress; {
		progress = false
		for _, n := range todo {
			c.mu.Lock()
			skip := c.entries[n] != nil || c.failed[n]
			c.mu.Unlock()
			if skip {
				continue
			}
			e, waiting := c.compile(n)
			if waiting {
				continue
			}
			c.mu.Lock()
			if e == nil {
				c.failed[n] = true
			} else {
				c.seq++
				e.seq = c.seq
				c.entries[n] = e
				progress = true
			}
			c.mu.Unlock()
		}
	}
}

// compile compiles import name alone against the cached imports; waiting
// is set when it imports a file that is not cached yet.
func (c *protoImports) compile(name string) (*protoDep, bool) {
	data, err := c.read(name)
	if err != nil {
		return nil, false
	}
	var mu sync.Mutex // the accessor runs on protoparse's goroutines, even after a failed compile returned
	closure := map[string]bool{name: true}
	reads := []importRead{{name: name, data: data, found: true}}
	waiting := false
	ready := func(fn string) *protoDep {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.entries[fn]
	}
	p := protoparse.Parser{
		IncludeSourceCodeInfo: true,
		Accessor: func(fn string) (io.ReadCloser, error) {
			if fn == name {
				return io.NopCloser(bytes.NewReader(data)), nil
			}
			if d := ready(fn); d != nil {
				mu.Lock()
				for k := range d.closure {
					closure[k] = true
				}
				reads = append(reads, d.reads...)
				mu.Unlock()
				return nil, fmt.Errorf("%s: %w", fn, fs.ErrNotExist)
			}
			_, err := c.read(fn)
			mu.Lock()
			defer mu.Unlock()
			if err != nil { // not a file of the repository: a well-known import, or missing
				reads = append(reads, importRead{name: fn})
				return nil, fmt.Errorf("%s: %w", fn, fs.ErrNotExist)
			}
			waiting = true // an import that is not cached yet
			return nil, errNotCachedYet
		},
		LookupImport: func(fn string) (*desc.FileDescriptor, error) {
			if d := ready(fn); d != nil {
				return d.fd, nil
			}
			return nil, fmt.Errorf("%s: %w", fn, fs.ErrNotExist)
		},
	}
	fds, err := p.ParseFiles(name)
	mu.Lock()
	wait := waiting
	closure2 := make(map[string]bool, len(closure))
	for k := range closure {
		closure2[k] = true
	}
	reads2 := append([]importRead(nil), reads...)
	mu.Unlock()
	if wait {
		return nil, true
	}
	if err != nil {
		return nil, false
	}
	fdp := proto.Clone(fds[0].AsFileDescriptorProto()).(*descriptorpb.FileDescriptorProto)
	plain, err := protodesc.NewFile(fdp, depResolver{c})
	if err != nil {
		return nil, false
	}
	pfd := cachedFile{FileDescriptor: plain, proto: fdp}
	fd, err := desc.WrapFile(pfd)
	if err != nil {
		return nil, false
	}
	return &protoDep{fd: fd, pfd: pfd, closure: closure2, reads: reads2}, false
}

// cachedFile is a cached import's descriptor with its proto at hand
// (protoparse would otherwise rebuild the proto each time it wraps it).
type cachedFile struct {
	protoreflect.FileDescriptor
	proto *descriptorpb.FileDescriptorProto
}

func (f cachedFile) FileDescriptorProto() *descriptorpb.FileDescriptorProto { return f.proto }

// depResolver finds a cached import's imports: cached imports, or the
// well-known files (the same descriptors protoparse links against).
type depResolver struct{ c *protoImports }

func (r depResolver) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	r.c.mu.Lock()
	e := r.c.entries[path]
	r.c.mu.Unlock()
	if e != nil {
		return e.pfd, nil
	}
	return protoregistry.GlobalFiles.FindFileByPath(path)
}

func (r depResolver) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	return nil, protoregistry.NotFound // imports are found by path
}

var errNotCachedYet = errors.New("an import it needs is not compiled yet")
