package compat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// LoadOptions say where referenced schemas come from.
type LoadOptions struct {
	// ImportPaths are searched for protobuf imports (after the file's own directory).
	ImportPaths []string
	// AvroRefs are extra .avsc files whose named types the schemas may reference.
	AvroRefs []string
	// Check adjusts the checks CheckGit makes.
	Check Options
}

// IsSchemaFile reports whether a file name looks like a schema.
func IsSchemaFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".avsc", ".proto", ".json":
		return true
	}
	return false
}

// NaturalLess orders "v2" before "v10".
func NaturalLess(a, b string) bool {
	for a != "" && b != "" {
		ad, bd := unicode.IsDigit(rune(a[0])), unicode.IsDigit(rune(b[0]))
		if ad && bd {
			i, j := 0, 0
			for i < len(a) && unicode.IsDigit(rune(a[i])) {
				i++
			}
			for j < len(b) && unicode.IsDigit(rune(b[j])) {
				j++
			}
			na, nb := strings.TrimLeft(a[:i], "0"), strings.TrimLeft(b[:j], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[i:], b[j:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errs.Usagef("%s: no such file", path)
		}
		return nil, errs.Usagef("%s: %v", path, err)
	}
	return b, nil
}

func diskImporter(dirs []string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, name))
			if err == nil {
				return b, nil
			}
		}
		return nil, fmt.Errorf("import %q not found in %s: %w", name, strings.Join(dirs, ", "), fs.ErrNotExist)
	}
}

func (o LoadOptions) avroRefs(exclude string, read func(string) ([]byte, error)) ([]NamedText, error) {
	var out []NamedText
	for _, r := range o.AvroRefs {
		if filepath.Clean(r) == filepath.Clean(exclude) {
			continue
		}
		b, err := read(r)
		if err != nil {
			return nil, err
		}
		out = append(out, NamedText{Name: r, Data: b})
	}
	return out, nil
}

// LoadFiles reads versions given as files in version order, or one
// directory whose schema files are the versions in natural order.
func LoadFiles(paths []string, opts LoadOptions) ([]Version, error) {
	if len(paths) == 1 {
		st, err := os.Stat(paths[0])
		if err != nil {
			return nil, errs.Usagef("%s: no such file or directory", paths[0])
		}
		if st.IsDir() {
			ents, err := os.ReadDir(paths[0])
			if err != nil {
				return nil, errs.Usagef("%s: %v", paths[0], err)
			}
			var files []string
			for _, e := range ents {
				if !e.IsDir() && IsSchemaFile(e.Name()) {
					files = append(files, filepath.Join(paths[0], e.Name()))
				}
			}
			sort.Slice(files, func(i, j int) bool { return NaturalLess(filepath.Base(files[i]), filepath.Base(files[j])) })
			if len(files) == 0 {
				return nil, errs.Usagef("%s: no .avsc, .proto or .json files in the directory", paths[0])
			}
			paths = files
		}
	}
	var out []Version
	for _, p := range paths {
		b, err := readFile(p)
		if err != nil {
			return nil, err
		}
		refs, err := opts.avroRefs(p, readFile)
		if err != nil {
			return nil, err
		}
		dirs := append([]string{filepath.Dir(p)}, opts.ImportPaths...)
		out = append(out, Version{Label: p, File: p, Data: b, AvroRefs: refs, Import: diskImporter(dirs)})
	}
	return out, nil
}

// Git reads files as they are at a git ref.
type Git struct {
	Ref string
	Dir string // working directory for git ("" = current)
}

// ErrNotAtRef says a path does not exist at the ref (a new file).
var ErrNotAtRef = errors.New("not present at the ref")

// Show returns the content of path (relative to Dir or absolute) at the ref.
func (g Git) Show(ctx context.Context, path string) ([]byte, error) {
	spec := path
	if filepath.IsAbs(path) {
		top, err := g.run(ctx, "rev-parse", "--show-toplevel")
		if err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(strings.TrimSpace(string(top)), path)
		if err != nil {
			return nil, errs.Usagef("%s: not inside the git repository", path)
		}
		spec = filepath.ToSlash(rel)
	} else {
		spec = "./" + filepath.ToSlash(filepath.Clean(path))
	}
	out, err := g.run(ctx, "show", g.Ref+":"+spec)
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "does not exist in") || strings.Contains(msg, "exists on disk, but not in") {
			return nil, fmt.Errorf("%s at %s: %w", path, g.Ref, ErrNotAtRef)
		}
		return nil, err
	}
	return out, nil
}

// Verify checks that the ref names a commit.
func (g Git) Verify(ctx context.Context) error {
	_, err := g.run(ctx, "rev-parse", "--verify", "--quiet", g.Ref+"^{commit}")
	if err != nil {
		return errs.Usagef("git: %q is not a commit in this repository", g.Ref)
	}
	return nil
}

func (g Git) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = g.Dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, errs.Usagef("git is not installed (needed for --against git:REF)")
		}
		return nil, errs.Usagef("git %s: %s", strings.Join(args, " "), strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// GitCheck is one file compared with its version at a ref.
type GitCheck struct {
	Path    string
	New     bool // not present at the ref: nothing to compare
	Deleted bool // present at the ref, gone from the working tree (Result says so)
	Result  *Result
}

// absDir is the directory git runs in, absolute and with symlinks resolved.
func (g Git) absDir() (string, error) {
	d := g.Dir
	if d == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", errs.Usagef("cannot read the working directory: %v", err)
		}
		d = wd
	}
	d, err := filepath.Abs(d)
	if err != nil {
		return "", errs.Usagef("%s: %v", d, err)
	}
	if r, err := filepath.EvalSymlinks(d); err == nil {
		d = r
	}
	return d, nil
}

// SchemaFilesAt lists the schema files under path (a file or a directory,
// absolute or relative to Dir) as they are at the ref, named the way path
// is (absolute for an absolute path, else relative to Dir).
func (g Git) SchemaFilesAt(ctx context.Context, path string) ([]string, error) {
	base, err := g.absDir()
	if err != nil {
		return nil, err
	}
	topb, err := g.run(ctx, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, err
	}
	top := strings.TrimSpace(string(topb))
	if r, err := filepath.EvalSymlinks(top); err == nil {
		top = r
	}
	abs := path
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(base, abs)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	} else if r, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(r, filepath.Base(abs))
	}
	rel, err := filepath.Rel(top, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, errs.Usagef("%s: not inside the git repository", path)
	}
	args := []string{"-C", top, "ls-tree", "-r", "--name-only", "--full-name", "-z", g.Ref}
	if rel != "." {
		args = append(args, "--", filepath.ToSlash(rel))
	}
	out, err := g.run(ctx, args...)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, name := range strings.Split(string(out), "\x00") {
		if name == "" || !IsSchemaFile(name) {
			continue
		}
		full := filepath.Join(top, filepath.FromSlash(name))
		if !filepath.IsAbs(path) {
			if r, err := filepath.Rel(base, full); err == nil {
				full = r
			}
		}
		files = append(files, full)
	}
	sort.Slice(files, func(i, j int) bool { return NaturalLess(files[i], files[j]) })
	return files, nil
}

// deletedResult is the verdict for a schema file that exists at the ref but
// not in the working tree: data written with it may still be in topics and
// readers may still use it, so outside NONE it is a problem to look at.
func deletedResult(mode Mode, typ Type, ref, path string) *Result {
	res := &Result{Name: path, Mode: mode, Type: typ, Compatible: mode == None, Checked: []Pair{}, Problems: []Problem{}}
	if mode == None {
		return res
	}
	res.Checked = append(res.Checked, Pair{Check: "deleted", Old: ref + ":" + path, New: path})
	res.Problems = append(res.Problems, Problem{Check: "deleted", Old: ref + ":" + path, New: path, Path: path, File: path,
		Rule: "SCHEMA_DELETED", Message: "schema file deleted (it exists at " + ref + "); pass --allow-deleted if the subject is retired"})
	return res
}

// ExpandPaths turns directories into the schema files under them.
func ExpandPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, errs.Usagef("%s: no such file or directory", p)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var files []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && IsSchemaFile(path) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, errs.Usagef("%s: %v", p, err)
		}
		sort.Slice(files, func(i, j int) bool { return NaturalLess(files[i], files[j]) })
		out = append(out, files...)
	}
	return out, nil
}

// gitInputs lists the schema files under paths in the working tree
// (present) and those at the ref that are gone from it (deleted).
func gitInputs(ctx context.Context, g Git, paths []string) (present, deleted []string, err error) {
	for _, p := range paths {
		var onDisk []string
		if _, statErr := os.Stat(p); statErr == nil {
			var err error
			if onDisk, err = ExpandPaths([]string{p}); err != nil {
				return nil, nil, err
			}
		}
		atRef, err := g.SchemaFilesAt(ctx, p)
		if err != nil {
			return nil, nil, err
		}
		if onDisk == nil && len(atRef) == 0 {
			return nil, nil, errs.Usagef("%s: no such file or directory (neither in the working tree nor at %s)", p, g.Ref)
		}
		have := map[string]bool{}
		for _, f := range onDisk {
			have[filepath.Clean(f)] = true
		}
		for _, f := range atRef {
			if !have[filepath.Clean(f)] {
				st := f
				if !filepath.IsAbs(st) && g.Dir != "" {
					st = filepath.Join(g.Dir, st)
				}
				if _, err := os.Stat(st); err != nil {
					deleted = append(deleted, f)
				}
			}
		}
		present = append(present, onDisk...)
	}
	if len(present) == 0 && len(deleted) == 0 {
		return nil, nil, errs.Usagef("no .avsc, .proto or .json files in %s", strings.Join(paths, ", "))
	}
	return present, deleted, nil
}

// CheckGit compares each working-tree schema with the same path at the ref.
// Avro files may reference named types defined in the other given files
// (read from the same side); protobuf imports resolve on the same side too.
// The ref is read through one git process and the files are checked in
// parallel (checkGitFiles); results come in the order of the paths.
func CheckGit(ctx context.Context, g Git, mode Mode, typ Type, paths []string, opts LoadOptions) ([]GitCheck, error) {
	tree, err := openGitTree(ctx, g)
	if err != nil {
		return nil, err
	}
	defer tree.Close()
	present, deleted, err := gitInputs(ctx, g, paths)
	if err != nil {
		return nil, err
	}
	return checkGitFiles(tree, g, mode, typ, present, deleted, opts)
}

func fsErrNotExist() error { return fs.ErrNotExist }
