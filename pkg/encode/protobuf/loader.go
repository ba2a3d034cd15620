package protobuf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/jhump/protoreflect/desc"
	"github.com/jhump/protoreflect/desc/protoparse"
)

// Loader finds protobuf messages by full name in .proto files parsed at run
// time. Import paths are roots: a file's name (as used in import statements,
// as registry subject for references, and in error messages) is its path
// relative to the root it was found under, with forward slashes. Google's
// well-known types (google/protobuf/*.proto) are always available.
//
// A Loader caches what it parsed and is safe for concurrent use.
type Loader struct {
	importPaths []string

	mu       sync.Mutex
	files    map[string]*desc.FileDescriptor // by file name
	messages map[string]*desc.MessageDescriptor
	sources  map[string][]byte // file name -> source text as read
}

// NewLoader returns a loader searching the given roots (typically
// schema.path). With no roots, "." is used.
func NewLoader(importPaths ...string) *Loader {
	if len(importPaths) == 0 {
		importPaths = []string{"."}
	}
	return &Loader{
		importPaths: importPaths,
		files:       map[string]*desc.FileDescriptor{},
		messages:    map[string]*desc.MessageDescriptor{},
		sources:     map[string][]byte{},
	}
}

// ImportPaths returns the roots the loader searches.
func (l *Loader) ImportPaths() []string { return append([]string(nil), l.importPaths...) }

// ErrNotFound is wrapped by Message when no .proto file defines the message.
var ErrNotFound = errors.New("protobuf message not found")

// Message returns the message descriptor with the given full name (for
// example "com.acme.Widget" or "com.acme.Widget.Part"). A leading dot is
// ignored. The .proto files under the import paths that may define it are
// parsed (with their imports) on first use.
func (l *Loader) Message(fullName string) (*desc.MessageDescriptor, error) {
	fullName = strings.TrimPrefix(strings.TrimSpace(fullName), ".")
	if fullName == "" {
		return nil, fmt.Errorf("protobuf: empty message name")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if md, ok := l.messages[fullName]; ok {
		return md, nil
	}
	for _, fd := range l.files {
		if md := fd.FindMessage(fullName); md != nil {
			l.messages[fullName] = md
			return md, nil
		}
	}
	candidates, err := l.candidates(fullName)
	if err != nil {
		return nil, err
	}
	var parseErrs []string
	for _, name := range candidates {
		if _, done := l.files[name]; done {
			continue
		}
		fd, err := l.parseLocked(name)
		if err != nil {
			parseErrs = append(parseErrs, err.Error())
			continue
		}
		if md := fd.FindMessage(fullName); md != nil {
			l.messages[fullName] = md
			return md, nil
		}
	}
	if len(parseErrs) > 0 {
		return nil, fmt.Errorf("%w: %q (under %s; parse errors: %s)", ErrNotFound, fullName, strings.Join(l.importPaths, ", "), strings.Join(parseErrs, "; "))
	}
	return nil, fmt.Errorf("%w: %q is not defined in any .proto file under %s", ErrNotFound, fullName, strings.Join(l.importPaths, ", "))
}

// File parses (or returns the cached) file with the given name relative to
// the import paths, e.g. "com/acme/widget.proto".
func (l *Loader) File(name string) (*desc.FileDescriptor, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.parseLocked(name)
}

// Source returns the source text of a parsed file (not for google/protobuf
// files, which are built in). ok is false when the file was not read by this
// loader.
func (l *Loader) Source(name string) (text []byte, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.sources[name]
	return b, ok
}

func (l *Loader) parseLocked(name string) (*desc.FileDescriptor, error) {
	if fd, ok := l.files[name]; ok {
		return fd, nil
	}
	p := protoparse.Parser{
		ImportPaths: l.importPaths,
		Accessor: func(filename string) (io.ReadCloser, error) {
			b, err := os.ReadFile(filename)
			if err != nil {
				return nil, err
			}
			l.recordSource(filename, b)
			return io.NopCloser(bytes.NewReader(b)), nil
		},
	}
	fds, err := p.ParseFiles(name)
	if err != nil {
		return nil, fmt.Errorf("protobuf: %w", err)
	}
	fd := fds[0]
	l.addFileLocked(fd)
	return fd, nil
}

// recordSource remembers a file's text under its name relative to an import path.
func (l *Loader) recordSource(path string, b []byte) {
	for _, root := range l.importPaths {
		rel, err := filepath.Rel(root, path)
		if err == nil && !strings.HasPrefix(rel, "..") {
			l.sources[filepath.ToSlash(rel)] = b
			return
		}
	}
	l.sources[filepath.ToSlash(path)] = b
}

func (l *Loader) addFileLocked(fd *desc.FileDescriptor) {
	if _, ok := l.files[fd.GetName()]; ok {
		return
	}
	l.files[fd.GetName()] = fd
	for _, dep := range fd.GetDependencies() {
		l.addFileLocked(dep)
	}
}

// candidates lists, in a stable order, the .proto files under the import
// paths whose text may define the message: they mention its simple name
// after "message" and their package is a prefix of the full name.
func (l *Loader) candidates(fullName string) ([]string, error) {
	simple := fullName[strings.LastIndex(fullName, ".")+1:]
	msgRe := regexp.MustCompile(`\bmessage\s+` + regexp.QuoteMeta(simple) + `\b`)
	var out []string
	seen := map[string]bool{}
	found := false
	for _, root := range l.importPaths {
		st, err := os.Stat(root)
		if err != nil || !st.IsDir() {
			continue
		}
		found = true
		var names []string
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable entries are skipped
			}
			if d.IsDir() || !strings.HasSuffix(d.Name(), ".proto") {
				return nil
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil || !msgRe.Match(b) {
				return nil
			}
			if pkg := packageOf(b); pkg != "" && !strings.HasPrefix(fullName, pkg+".") {
				return nil
			}
			names = append(names, filepath.ToSlash(rel))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("protobuf: reading %s: %w", root, err)
		}
		sort.Strings(names)
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("protobuf: schema path %s is not a readable directory", strings.Join(l.importPaths, ", "))
	}
	return out, nil
}

var packageRe = regexp.MustCompile(`(?m)^\s*package\s+([A-Za-z0-9_.]+)\s*;`)

func packageOf(src []byte) string {
	m := packageRe.FindSubmatch(src)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// IsWellKnown reports whether a file name is one of Google's built-in files
// (never registered as a reference, never read from disk).
func IsWellKnown(fileName string) bool { return strings.HasPrefix(fileName, "google/protobuf/") }
