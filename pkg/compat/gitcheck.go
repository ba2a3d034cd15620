package compat

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// gitRun is one `--against git:REF` check of many files, organised so the
// cost grows with the number of files, not its square (docs/schema-compat.md,
// "Repositories"): the ref is read through one git process, each file's
// text is read once per side, the Avro references every file gets are
// parsed once per side (avroLib), files are checked on every core, and a
// file whose bytes and references are the same on both sides is parsed on
// one side only. The verdicts are those of checking each file on its own
// with every other file as a reference (legacyCheckGitShow in the tests).
type gitRun struct {
	g     Git
	tree  *gitTree
	mode  Mode
	typ   Type
	opts  LoadOptions
	files []string // present in the working tree, in order

	disk    map[string]gitBlob // working-tree reads, by path as given
	diskMu  sync.Mutex
	newSide *avroSide
	oldSide *avroSide
	libs    map[string][2]*avroLib // by the extra siblings' key: [old, new]
	libKey  map[string]string      // directory -> libs key

	impMu sync.Mutex
	imps  map[string]*dirImporters // by directory
}

// readDisk reads a working-tree file once.
func (r *gitRun) readDisk(p string) ([]byte, error) {
	r.diskMu.Lock()
	b, ok := r.disk[p]
	r.diskMu.Unlock()
	if !ok {
		data, err := readFile(p)
		b = gitBlob{data: data, err: err}
		r.diskMu.Lock()
		r.disk[p] = b
		r.diskMu.Unlock()
	}
	return b.data, b.err
}

func (r *gitRun) readOld(p string) ([]byte, error) { return r.tree.read(p) }

type gitFile struct {
	path   string
	nb, ob []byte
	ft     Type
	isNew  bool
	err    error
	check  GitCheck
}

// checkGitFiles checks present files against the ref and reports deleted
// ones, in the order the legacy loop did (present files, then deleted).
func checkGitFiles(tree *gitTree, g Git, mode Mode, typ Type, present, deleted []string, opts LoadOptions) ([]GitCheck, error) {
	r := &gitRun{g: g, tree: tree, mode: mode, typ: typ, opts: opts, files: present,
		disk: map[string]gitBlob{}, newSide: newAvroSide(), oldSide: newAvroSide(),
		libs: map[string][2]*avroLib{}, libKey: map[string]string{}, imps: map[string]*dirImporters{}}
	tree.prefetch(append(append([]string{}, present...), deleted...))
	files := make([]*gitFile, len(present))
	avroDirs := map[string]bool{}
	var avroDirList []string
	for i, f := range present {
		gf := &gitFile{path: f}
		files[i] = gf
		if gf.nb, gf.err = r.readDisk(f); gf.err != nil {
			continue
		}
		ob, err := r.readOld(f)
		if errors.Is(err, ErrNotAtRef) {
			gf.isNew = true
			continue
		}
		if err != nil {
			gf.err = err
			continue
		}
		gf.ob = ob
		gf.ft = typ
		if gf.ft == "" {
			gf.ft = DetectType(f, gf.nb)
		}
		if gf.ft == Avro && !avroDirs[filepath.Dir(f)] {
			avroDirs[filepath.Dir(f)] = true
			avroDirList = append(avroDirList, filepath.Dir(f))
		}
	}
	r.buildAvroLibs(avroDirList)

	var todo []*gitFile
	for _, gf := range files {
		if !gf.isNew && gf.err == nil {
			todo = append(todo, gf)
		}
	}
	parallel(len(todo), runtime.GOMAXPROCS(0), func(i int) { r.checkFile(todo[i]) })

	// The first file in order that cannot be read or checked stops the
	// run, as in the legacy loop.
	var out []GitCheck
	for _, gf := range files {
		if gf.isNew {
			out = append(out, GitCheck{Path: gf.path, New: true})
			continue
		}
		if gf.err != nil {
			return nil, gf.err
		}
		out = append(out, gf.check)
	}
	seenDel := map[string]bool{}
	for _, f := range deleted {
		if seenDel[f] {
			continue
		}
		seenDel[f] = true
		ft := typ
		if ft == "" {
			ob, _ := r.readOld(f)
			ft = DetectType(f, ob)
		}
		out = append(out, GitCheck{Path: f, Deleted: true, Result: deletedResult(mode, ft, g.Ref, f)})
	}
	return out, nil
}

// buildAvroLibs builds the reference libraries of both sides for the
// directories holding Avro files. A file's references are the present
// files, then the --ref files, then the .avsc files of its directory (each
// name once, .avsc only); directories whose siblings are all among the
// first two share one library.
func (r *gitRun) buildAvroLibs(dirs []string) {
	if len(dirs) == 0 {
		return
	}
	var base []string
	inBase := map[string]bool{}
	for _, o := range append(append([]string{}, r.files...), r.opts.AvroRefs...) {
		if inBase[o] || !strings.HasSuffix(strings.ToLower(o), ".avsc") {
			continue
		}
		inBase[o] = true
		base = append(base, o)
	}
	lists := map[string][]string{}
	var keys []string
	for _, d := range dirs {
		var extra []string
		if sib, err := filepath.Glob(filepath.Join(d, "*.avsc")); err == nil {
			for _, s := range sib {
				if !inBase[s] && strings.HasSuffix(strings.ToLower(s), ".avsc") {
					extra = append(extra, s)
				}
			}
		}
		key := strings.Join(extra, "\x00")
		r.libKey[d] = key
		if _, ok := lists[key]; !ok {
			lists[key] = append(append([]string{}, base...), extra...)
			keys = append(keys, key)
		}
	}
	var all []string
	for _, k := range keys {
		all = append(all, lists[k]...)
	}
	r.tree.prefetch(all)
	for _, k := range keys {
		var olds, news []*avroDoc
		for _, p := range lists[k] {
			if d := r.oldSide.doc(p, r.g.Ref+":"+p, r.readOld); d != nil {
				olds = append(olds, d)
			}
			if d := r.newSide.doc(p, p, r.readDisk); d != nil {
				news = append(news, d)
			}
		}
		r.libs[k] = [2]*avroLib{newAvroLib(r.oldSide, olds), newAvroLib(r.newSide, news)}
	}
}

// importers returns the import readers of both sides for a file in dir
// (its directory, then --proto-path), and their shared compiled imports.
func (r *gitRun) importers(dir string) *dirImporters {
	r.impMu.Lock()
	defer r.impMu.Unlock()
	if d := r.imps[dir]; d != nil {
		return d
	}
	dirs := append([]string{dir}, r.opts.ImportPaths...)
	d := &dirImporters{
		old: func(name string) ([]byte, error) {
			for _, d := range dirs {
				b, err := r.readOld(filepath.Join(d, name))
				if err == nil {
					return b, nil
				}
			}
			return nil, fmt.Errorf("import %q not found at %s: %w", name, r.g.Ref, fs.ErrNotExist)
		},
		new: func(name string) ([]byte, error) {
			for _, d := range dirs {
				b, err := r.readDisk(filepath.Join(d, name))
				if err == nil {
					return b, nil
				}
			}
			return nil, fmt.Errorf("import %q not found in %s: %w", name, strings.Join(dirs, ", "), fs.ErrNotExist)
		},
	}
	d.oldProto, d.newProto = newProtoImports(d.old), newProtoImports(d.new)
	r.imps[dir] = d
	return d
}

type dirImporters struct {
	old, new           func(string) ([]byte, error)
	oldProto, newProto *protoImports
}

// checkFile compares one file with its version at the ref.
func (r *gitRun) checkFile(gf *gitFile) {
	f := gf.path
	imp := r.importers(filepath.Dir(f))
	versions := []Version{
		{Label: r.g.Ref + ":" + f, File: f, Data: gf.ob, Import: imp.old},
		{Label: f, File: f, Data: gf.nb, Import: imp.new},
	}
	if gf.ft == Protobuf {
		versions[0].protoImports, versions[1].protoImports = imp.oldProto, imp.newProto
	}
	var parse versionParser
	if gf.ft == Avro {
		parse = r.avroParser(gf)
	} else {
		parse = sameBytesParser(gf, versions)
	}
	res, err := checkVersions(r.opts.Check, r.mode, gf.ft, versions, parse)
	if err != nil {
		gf.err = err
		return
	}
	res.Name = f
	gf.check = GitCheck{Path: f, Result: res}
}

// avroParser parses the two versions of an Avro file against the
// libraries of its directory. When the file's bytes are the same at the
// ref, its parse in the working tree is clean and every name it looked up
// was defined by an identical parse on both sides, the ref's version is
// the same schema and is not parsed again.
func (r *gitRun) avroParser(gf *gitFile) versionParser {
	libs := r.libs[r.libKey[filepath.Dir(gf.path)]]
	var nw *avroMain
	var nerr error
	parsedNew, newLenient := false, false
	parseNew := func(lenient bool) {
		if !parsedNew || newLenient != lenient {
			parsedNew, newLenient = true, lenient
			nw, nerr = libs[1].parseMain(gf.path, gf.path, gf.nb, lenient)
		}
	}
	return func(i int, _ Type, v Version, lenient bool) (any, []*AvroParseError, error) {
		if i == 0 {
			if bytes.Equal(gf.ob, gf.nb) {
				parseNew(lenient)
				if nerr == nil && len(nw.warns) == 0 && libs[0].sameAnswers(gf.path, nw.lookups) {
					return nw.root, nil, nil
				}
			}
			m, err := libs[0].parseMain(gf.path, v.File, v.Data, lenient)
			if err != nil {
				return nil, nil, errs.Usage(err)
			}
			return m.root, m.warns, nil
		}
		parseNew(lenient)
		if nerr != nil {
			return nil, nil, errs.Usage(nerr)
		}
		return nw.root, nw.warns, nil
	}
}

// sameBytesParser parses the two versions of a Protobuf or JSON Schema
// file. When the bytes are the same at the ref, the working tree's version
// parses cleanly and every file its parse read (imports, $refs) reads the
// same at the ref, the ref's version is the same schema and is not parsed
// again: a parse is a function of the text and of what it reads.
func sameBytesParser(gf *gitFile, versions []Version) versionParser {
	var log importLog
	nv := versions[1]
	nv.Import = log.wrap(nv.Import)
	nv.importLog = &log
	var nw any
	var nerr error
	parsed := false
	return func(i int, typ Type, v Version, lenient bool) (any, []*AvroParseError, error) {
		if i == 0 && bytes.Equal(gf.ob, gf.nb) {
			nw, _, nerr = parseVersion(typ, nv, lenient)
			parsed = true
			if nerr == nil && log.sameOn(v.Import) {
				return nw, nil, nil
			}
		}
		if i == 1 && parsed {
			return nw, nil, nerr
		}
		return parseVersion(typ, v, lenient)
	}
}

// importLog records what a parse read through its importer.
type importLog struct {
	mu    sync.Mutex // protoparse reads imports from several goroutines
	reads []importRead
}

type importRead struct {
	name  string
	data  []byte
	found bool
}

func (l *importLog) add(reads []importRead) {
	l.mu.Lock()
	l.reads = append(l.reads, reads...)
	l.mu.Unlock()
}

func (l *importLog) wrap(imp func(string) ([]byte, error)) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		b, err := imp(name)
		l.mu.Lock()
		l.reads = append(l.reads, importRead{name: name, data: b, found: err == nil})
		l.mu.Unlock()
		return b, err
	}
}

// sameOn reports whether imp answers every recorded read the same way.
func (l *importLog) sameOn(imp func(string) ([]byte, error)) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.reads {
		b, err := imp(r.name)
		if (err == nil) != r.found || r.found && !bytes.Equal(b, r.data) {
			return false
		}
	}
	return true
}
