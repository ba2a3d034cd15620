package compat

import (
	"crypto/sha256"
	"runtime"
	"sync"

	"github.com/deimos-cli/deimos/pkg/avro"
)

// avroLib gives each file of a git check the named types parseAvroSet
// would give it, without parsing every other file once per file.
//
// parseAvroSet reads a file's references by passes: each pass parses the
// references not read yet, in order, against the names the earlier ones
// defined; a reference defines its names once it parses, the first
// definition of a name wins, and passes go on while one makes progress.
// For a git check every file's references are the same list (the other
// files, --ref files, siblings), minus the file itself. avroLib runs that
// procedure once over the whole list and answers each file from it:
//
//   - every parse of a reference is recorded with the library names it
//     looked up and what it found. A parse is a function of the document
//     and of those answers, so a later attempt of the same document whose
//     lookups would get the same answers has the same outcome and is not
//     parsed again. This makes the procedure cheap to replay.
//   - the names a file gets are the list's minus the file itself. When no
//     other reference's parse found a name the file defined, and no other
//     reference defined one of its names too, leaving it out changes
//     nothing but its own names: the file reads the whole list's library
//     with its own names hidden. Otherwise the procedure is replayed
//     without the file (recorded parses make that cheap).
type avroLib struct {
	side   *avroSide
	docs   []*avroDoc
	byPath map[string]*avroDoc
	full   *avroSim
	// dependedOn[d]: another reference's parse found a name d defined;
	// shadowed[d]: another reference defined one of d's names too.
	dependedOn, shadowed map[*avroDoc]bool
	reduced              map[*avroDoc]*avroSim // guarded by side.mu
}

// avroSide holds the documents of one side (working tree or ref), shared by
// its libraries so that a document parsed for one is not parsed again for
// another when its lookups get the same answers.
type avroSide struct {
	mu   sync.Mutex // guards the documents' attempts once libraries are built
	docs map[string]*avroDoc
}

func newAvroSide() *avroSide { return &avroSide{docs: map[string]*avroDoc{}} }

// doc returns the side's document for path, creating it with read.
func (s *avroSide) doc(path, name string, read func(string) ([]byte, error)) *avroDoc {
	if d, ok := s.docs[path]; ok {
		return d
	}
	var d *avroDoc
	if b, err := read(path); err == nil {
		d = &avroDoc{name: name, path: path, data: b}
	}
	s.docs[path] = d
	return d
}

// avroDoc is one reference document on one side.
type avroDoc struct {
	name     string // the name it is read under ("x.avsc" or "REF:x.avsc")
	path     string // its path, the same on both sides
	data     []byte
	attempts []*avroAttempt
}

// avroAttempt is one parse of a document against a library.
type avroAttempt struct {
	doc     *avroDoc
	lookups []avroLookup
	ok      bool
	root    *AvroSchema
	names   map[string]*AvroSchema
	warns   []*AvroParseError
	// sig identifies what a successful parse produced, independently of
	// the side: the path, the bytes, and the sigs of what it looked up.
	sig [sha256.Size]byte
}

// avroLookup is one library lookup and its answer.
type avroLookup struct {
	key  string
	node *AvroSchema  // nil: not in the library
	from *avroAttempt // the parse that defined node
}

type avroEntry struct {
	node *AvroSchema
	from *avroAttempt
}

// avroSim is the outcome of the procedure: the library and the references
// that parsed, in the order they did.
type avroSim struct {
	lib    map[string]avroEntry
	order  []*avroAttempt
	warned []*avroAttempt // those of order with warnings
	used   []*avroAttempt // every attempt the procedure went through
}

// newAvroLib runs the procedure over docs (in their order), parsing in
// parallel what it can guess: first every document against an empty
// library, then, for a few rounds, the documents whose recorded parses did
// not fit against the library the previous round ended with. The final run
// is exact whatever the guesses were: it uses a recorded parse only where
// its lookups get the same answers, and parses otherwise.
func newAvroLib(side *avroSide, docs []*avroDoc) *avroLib {
	l := &avroLib{side: side, docs: docs, byPath: map[string]*avroDoc{}, reduced: map[*avroDoc]*avroSim{},
		dependedOn: map[*avroDoc]bool{}, shadowed: map[*avroDoc]bool{}}
	for _, d := range docs {
		l.byPath[d.path] = d
	}
	l.parseParallel(docs, map[string]avroEntry{})
	var sim *avroSim
	for round := 0; round < 3; round++ {
		s, missing := l.simulate(nil, false)
		if len(missing) == 0 {
			sim = s
			break
		}
		l.parseParallel(missing, s.lib)
	}
	if sim == nil {
		sim, _ = l.simulate(nil, true)
	}
	l.full = sim
	for _, a := range sim.used {
		for _, lk := range a.lookups {
			if lk.from != nil && lk.from.doc != a.doc {
				l.dependedOn[lk.from.doc] = true
			}
		}
	}
	for _, a := range sim.order {
		for k := range a.names {
			if e := sim.lib[k]; e.from != a {
				l.shadowed[e.from.doc] = true
			}
		}
	}
	return l
}

// parseParallel parses each of docs against lib (read only) on every core,
// unless a recorded parse already fits.
func (l *avroLib) parseParallel(docs []*avroDoc, lib map[string]avroEntry) {
	parallel(len(docs), runtime.GOMAXPROCS(0), func(i int) {
		if d := docs[i]; fits(d.attempts, lib) == nil {
			d.attempts = append(d.attempts, parseRef(d, lib))
		}
	})
}

// fits returns the recorded attempt whose lookups get the same answers in lib.
func fits(attempts []*avroAttempt, lib map[string]avroEntry) *avroAttempt {
next:
	for _, a := range attempts {
		for _, lk := range a.lookups {
			if lib[lk.key].node != lk.node {
				continue next
			}
		}
		return a
	}
	return nil
}

// parseRef parses d as a reference (defaults read leniently) against lib,
// recording its lookups.
func parseRef(d *avroDoc, lib map[string]avroEntry) *avroAttempt {
	a := &avroAttempt{doc: d}
	p := &avro.Parser{LenientDefaults: true, Lookup: func(key string) *AvroSchema {
		e := lib[key]
		a.lookups = append(a.lookups, avroLookup{key: key, node: e.node, from: e.from})
		return e.node
	}}
	root, names, warns, err := parseAvroDocWith(p, d.name, d.data)
	if err != nil {
		return a
	}
	a.ok, a.root, a.names, a.warns = true, root, names, warns
	a.sig = avroSig(d.path, d.data, a.lookups)
	return a
}

func avroSig(path string, data []byte, lookups []avroLookup) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(data)
	for _, lk := range lookups {
		h.Write([]byte{0})
		h.Write([]byte(lk.key))
		if lk.from != nil {
			h.Write([]byte{1})
			h.Write(lk.from.sig[:])
		} else {
			h.Write([]byte{2})
		}
	}
	var s [sha256.Size]byte
	h.Sum(s[:0])
	return s
}

// simulate runs parseAvroSet's procedure over the documents, leaving out
// skip (nil: none). With parseMissing false it does not parse: a document
// without a fitting recorded parse counts as failing and is returned in
// missing (a guess for parseParallel).
func (l *avroLib) simulate(skip *avroDoc, parseMissing bool) (*avroSim, []*avroDoc) {
	s := &avroSim{lib: map[string]avroEntry{}}
	done := make([]bool, len(l.docs))
	n := len(l.docs)
	if skip != nil {
		n--
	}
	var missing []*avroDoc
	missed := make([]bool, len(l.docs))
	// parseAvroSet makes at most as many passes as it has documents (the
	// file and its references); each pass that makes progress parses one
	// reference at least, so the limit is never what stops it.
	for pass := 0; pass < n+1; pass++ {
		progress := false
		for i, d := range l.docs {
			if done[i] || d == skip {
				continue
			}
			a := fits(d.attempts, s.lib)
			if a == nil {
				if !parseMissing {
					if !missed[i] {
						missed[i] = true
						missing = append(missing, d)
					}
					continue
				}
				a = parseRef(d, s.lib)
				d.attempts = append(d.attempts, a)
			}
			s.used = append(s.used, a)
			if !a.ok {
				continue
			}
			done[i], progress = true, true
			s.order = append(s.order, a)
			if len(a.warns) > 0 {
				s.warned = append(s.warned, a)
			}
			for k, v := range a.names {
				if _, ok := s.lib[k]; !ok {
					s.lib[k] = avroEntry{node: v, from: a}
				}
			}
		}
		if !progress {
			break
		}
	}
	return s, missing
}

// avroMain is a file parsed against its references.
type avroMain struct {
	root    *AvroSchema
	warns   []*AvroParseError
	lookups []avroLookup
}

// parseMain parses the file at path, read under name, as parseAvroSet
// parses its first document when the other documents are this library's
// minus the file itself (if it is one of them).
func (l *avroLib) parseMain(path, name string, data []byte, lenient bool) (*avroMain, error) {
	d := l.byPath[path]
	if d != nil && (l.dependedOn[d] || l.shadowed[d]) {
		// A parse that looks nothing up in the library (a file of shared
		// types that uses none of the others', say) reads the same
		// against any library: no need to replay the procedure without it.
		m, err := l.parseAgainst(l.full, d, path, name, data, lenient)
		if len(m.lookups) == 0 {
			return m.result(err)
		}
	}
	sim, hide := l.simFor(path)
	return l.parseAgainst(sim, hide, path, name, data, lenient)
}

func (m *avroMain) result(err error) (*avroMain, error) {
	if err != nil {
		return nil, err
	}
	return m, nil
}

// parseAgainst parses the file against sim's library with hide's names
// hidden; the avroMain it returns holds the lookups made, also on error.
func (l *avroLib) parseAgainst(sim *avroSim, hide *avroDoc, path, name string, data []byte, lenient bool) (*avroMain, error) {
	find := func(key string) (avroEntry, bool) {
		e, ok := sim.lib[key]
		if ok && hide != nil && e.from.doc == hide {
			return avroEntry{}, false
		}
		return e, ok
	}
	m := &avroMain{}
	var own []*AvroParseError
	reused := false
	if d := l.byPath[path]; d != nil && d.name == name {
		// the file's own parse as a reference, if its lookups get the same
		// answers here, is the parse of the file
		l.side.mu.Lock()
		attempts := d.attempts
		l.side.mu.Unlock()
	next:
		for _, a := range attempts {
			if !a.ok || (!lenient && len(a.warns) > 0) {
				continue
			}
			for _, lk := range a.lookups {
				if e, _ := find(lk.key); e.node != lk.node {
					continue next
				}
			}
			m.root, own, m.lookups, reused = a.root, a.warns, a.lookups, true
			break
		}
	}
	if !reused {
		p := &avro.Parser{LenientDefaults: lenient, Lookup: func(key string) *AvroSchema {
			e, _ := find(key)
			m.lookups = append(m.lookups, avroLookup{key: key, node: e.node, from: e.from})
			return e.node
		}}
		root, _, warns, err := parseAvroDocWith(p, name, data)
		if err != nil {
			return m, err
		}
		m.root, own = root, warns
	}
	m.warns = append(m.warns, own...)
	if len(sim.warned) > 0 {
		used := map[string]bool{}
		usedFiles(m.root, map[*AvroSchema]bool{}, used)
		for _, a := range sim.warned {
			if a.doc == hide {
				continue
			}
			for _, w := range a.warns {
				if !used[w.File] || w.File == name {
					continue
				}
				if !lenient {
					return m, w
				}
				m.warns = append(m.warns, w)
			}
		}
	}
	return m, nil
}

// simFor is the procedure's outcome for the file at path: the whole
// library with the file's own names hidden (hide), or a replay without it.
func (l *avroLib) simFor(path string) (*avroSim, *avroDoc) {
	d := l.byPath[path]
	if d == nil {
		return l.full, nil
	}
	if !l.dependedOn[d] && !l.shadowed[d] {
		return l.full, d
	}
	l.side.mu.Lock()
	defer l.side.mu.Unlock()
	s := l.reduced[d]
	if s == nil {
		s, _ = l.simulate(d, true)
		s.used = nil
		l.reduced[d] = s
	}
	return s, nil
}

// sameAnswers reports whether the lookups made by a parse against one
// library get answers defined by identical parses (equal sigs) from this
// one, for the file at path: then parsing identical bytes here gives the
// same schema.
func (l *avroLib) sameAnswers(path string, lookups []avroLookup) bool {
	if len(lookups) == 0 {
		return true
	}
	sim, hide := l.simFor(path)
	for _, lk := range lookups {
		e, ok := sim.lib[lk.key]
		if ok && hide != nil && e.from.doc == hide {
			ok = false
		}
		if ok != (lk.from != nil) {
			return false
		}
		if ok && e.from.sig != lk.from.sig {
			return false
		}
	}
	return true
}
