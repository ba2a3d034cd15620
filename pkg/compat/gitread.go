package compat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// gitTree reads files as they are at a ref through one `git cat-file
// --batch` process for the whole run (a process per file made a check of a
// thousand schemas start a thousand processes). Answers are cached by
// path, so a file read as a schema, a reference and an import is read once.
// It is safe for concurrent use.
type gitTree struct {
	g      Git
	ctx    context.Context
	commit string // the ref, resolved
	top    string // the repository's top directory
	prefix string // g.Dir's place inside the repository ("" or "a/b/")

	mu    sync.Mutex
	cache map[string]gitBlob // by path inside the repository
	proc  *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	err   error // the batch process failed: every later read fails with it
}

type gitBlob struct {
	data []byte
	err  error
}

// openGitTree resolves the ref and the repository layout (two short git
// processes); the batch process starts on the first read.
func openGitTree(ctx context.Context, g Git) (*gitTree, error) {
	commit, err := g.run(ctx, "rev-parse", "--verify", "--quiet", g.Ref+"^{commit}")
	if err != nil {
		return nil, errs.Usagef("git: %q is not a commit in this repository", g.Ref)
	}
	loc, err := g.run(ctx, "rev-parse", "--show-toplevel", "--show-prefix")
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(loc), "\n"), "\n")
	t := &gitTree{g: g, ctx: ctx, commit: strings.TrimSpace(string(commit)), top: lines[0], cache: map[string]gitBlob{}}
	if len(lines) > 1 {
		t.prefix = lines[1]
	}
	return t, nil
}

// repoPath is where path (absolute, or relative to g.Dir) is inside the
// repository, as `git show REF:./path` resolves it.
func (t *gitTree) repoPath(p string) (string, error) {
	var rel string
	if filepath.IsAbs(p) {
		r, err := filepath.Rel(t.top, p)
		if err != nil {
			return "", errs.Usagef("%s: not inside the git repository", p)
		}
		rel = filepath.ToSlash(r)
	} else {
		rel = t.prefix + filepath.ToSlash(filepath.Clean(p))
	}
	rel = path.Clean(rel)
	if rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", errs.Usagef("git: %s is outside the repository at %s", p, t.top)
	}
	return rel, nil
}

// read returns path's content at the ref; a path absent there is an
// ErrNotAtRef error.
func (t *gitTree) read(p string) ([]byte, error) {
	rel, err := t.repoPath(p)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	b, ok := t.cache[rel]
	if !ok {
		t.fetchLocked([]string{rel})
		b = t.cache[rel]
	}
	t.mu.Unlock()
	if errors.Is(b.err, ErrNotAtRef) {
		return nil, fmt.Errorf("%s at %s: %w", p, t.g.Ref, ErrNotAtRef)
	}
	return b.data, b.err
}

// prefetch reads many paths in one exchange with the batch process (the
// requests are written while the answers are read).
func (t *gitTree) prefetch(paths []string) {
	var rels []string
	seen := map[string]bool{}
	for _, p := range paths {
		rel, err := t.repoPath(p)
		if err != nil || seen[rel] {
			continue
		}
		seen[rel] = true
		rels = append(rels, rel)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var todo []string
	for _, rel := range rels {
		if _, ok := t.cache[rel]; !ok {
			todo = append(todo, rel)
		}
	}
	t.fetchLocked(todo)
}

// fetchLocked asks the batch process for rels and caches the answers.
func (t *gitTree) fetchLocked(rels []string) {
	var batch []string
	for _, rel := range rels {
		if strings.ContainsAny(rel, "\n\r") {
			// a batch request is one line: such a name is read on its own
			out, err := t.g.run(t.ctx, "show", t.commit+":"+rel)
			if err != nil {
				err = fmt.Errorf("%s: %w", rel, ErrNotAtRef)
			}
			t.cache[rel] = gitBlob{data: out, err: err}
			continue
		}
		batch = append(batch, rel)
	}
	if len(batch) == 0 {
		return
	}
	if t.err == nil && t.proc == nil {
		t.start()
	}
	if t.err != nil {
		for _, rel := range batch {
			t.cache[rel] = gitBlob{err: t.err}
		}
		return
	}
	werr := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(t.in)
		for _, rel := range batch {
			w.WriteString(t.commit + ":" + rel + "\n")
		}
		werr <- w.Flush()
	}()
	for i, rel := range batch {
		data, err := t.answer()
		if errors.Is(err, errNotBlob) {
			err = errs.Usagef("%s at %s is %v", rel, t.g.Ref, err)
		} else if err != nil && !errors.Is(err, ErrNotAtRef) {
			t.err = err
			for _, r := range batch[i:] {
				t.cache[r] = gitBlob{err: err}
			}
			break
		}
		t.cache[rel] = gitBlob{data: data, err: err}
	}
	if err := <-werr; err != nil && t.err == nil {
		t.err = errs.Usagef("git cat-file: %v", err)
	}
}

func (t *gitTree) start() {
	cmd := exec.CommandContext(t.ctx, "git", "cat-file", "--batch")
	cmd.Dir = t.g.Dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err == nil {
		var out io.ReadCloser
		out, err = cmd.StdoutPipe()
		if err == nil {
			t.out = bufio.NewReaderSize(out, 1<<16)
			err = cmd.Start()
		}
	}
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			t.err = errs.Usagef("git is not installed (needed for --against git:REF)")
		} else {
			t.err = errs.Usagef("git cat-file: %v", err)
		}
		return
	}
	t.proc, t.in = cmd, in
}

// answer reads one response: "<oid> blob <size>\n<data>\n" or
// "<name> missing\n".
func (t *gitTree) answer() ([]byte, error) {
	head, err := t.out.ReadString('\n')
	if err != nil {
		return nil, errs.Usagef("git cat-file: %v", err)
	}
	head = strings.TrimSuffix(head, "\n")
	if strings.HasSuffix(head, " missing") {
		return nil, ErrNotAtRef
	}
	if strings.HasSuffix(head, " ambiguous") {
		return nil, errs.Usagef("git cat-file: %s", head)
	}
	f := strings.Fields(head)
	if len(f) != 3 {
		return nil, errs.Usagef("git cat-file: unexpected answer %q", head)
	}
	size, err := strconv.Atoi(f[2])
	if err != nil {
		return nil, errs.Usagef("git cat-file: unexpected answer %q", head)
	}
	data := make([]byte, size+1)
	if _, err := io.ReadFull(t.out, data); err != nil {
		return nil, errs.Usagef("git cat-file: %v", err)
	}
	if f[1] != "blob" {
		return nil, fmt.Errorf("a %s, %w", f[1], errNotBlob)
	}
	return data[:size], nil
}

var errNotBlob = errors.New("not a file")

// Close ends the batch process.
func (t *gitTree) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.proc != nil {
		t.in.Close()
		_ = t.proc.Wait()
		t.proc = nil
	}
}
