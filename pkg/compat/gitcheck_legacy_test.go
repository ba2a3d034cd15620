package compat

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// legacyCheckGitShow is CheckGit as it was before it read the ref with one
// git process and shared parsed schemas between files: every file checked
// on its own, with every other file as a reference. The tests hold the fast
// path to its verdicts.
// Avro files may reference named types defined in the other given files
// (read from the same side); protobuf imports resolve on the same side too.
// It reads the ref through show (tests comparing many runs on one
// repository share one memoized git show).
func legacyCheckGitShow(ctx context.Context, g Git, show func(context.Context, string) ([]byte, error), mode Mode, typ Type, paths []string, opts LoadOptions) ([]GitCheck, error) {
	if err := g.Verify(ctx); err != nil {
		return nil, err
	}
	present, deleted, err := gitInputs(ctx, g, paths)
	if err != nil {
		return nil, err
	}
	files := present
	oldCache := map[string][]byte{}
	oldRead := func(p string) ([]byte, error) {
		if b, ok := oldCache[p]; ok {
			return b, nil
		}
		b, err := show(ctx, p)
		if err == nil {
			oldCache[p] = b
		}
		return b, err
	}
	var out []GitCheck
	for _, f := range files {
		nb, err := readFile(f)
		if err != nil {
			return nil, err
		}
		ob, err := oldRead(f)
		if errors.Is(err, ErrNotAtRef) {
			out = append(out, GitCheck{Path: f, New: true})
			continue
		}
		if err != nil {
			return nil, err
		}
		ft := typ
		if ft == "" {
			ft = DetectType(f, nb)
		}
		var oldRefs, newRefs []NamedText
		if ft == Avro {
			others := append(append([]string{}, files...), opts.AvroRefs...)
			if sib, err := filepath.Glob(filepath.Join(filepath.Dir(f), "*.avsc")); err == nil {
				others = append(others, sib...)
			}
			seen := map[string]bool{f: true}
			for _, other := range others {
				if seen[other] || !strings.HasSuffix(strings.ToLower(other), ".avsc") {
					continue
				}
				seen[other] = true
				if b, err := readFile(other); err == nil {
					newRefs = append(newRefs, NamedText{Name: other, Data: b})
				}
				if b, err := oldRead(other); err == nil {
					oldRefs = append(oldRefs, NamedText{Name: g.Ref + ":" + other, Data: b})
				}
			}
		}
		dirs := append([]string{filepath.Dir(f)}, opts.ImportPaths...)
		oldImport := func(name string) ([]byte, error) {
			for _, d := range dirs {
				b, err := show(ctx, filepath.Join(d, name))
				if err == nil {
					return b, nil
				}
			}
			return nil, fmt.Errorf("import %q not found at %s: %w", name, g.Ref, fs.ErrNotExist)
		}
		versions := []Version{
			{Label: g.Ref + ":" + f, File: f, Data: ob, AvroRefs: oldRefs, Import: oldImport},
			{Label: f, File: f, Data: nb, AvroRefs: newRefs, Import: diskImporter(dirs)},
		}
		res, err := CheckWith(opts.Check, mode, ft, versions)
		if err != nil {
			return nil, err
		}
		res.Name = f
		out = append(out, GitCheck{Path: f, Result: res})
	}
	seenDel := map[string]bool{}
	for _, f := range deleted {
		if seenDel[f] {
			continue
		}
		seenDel[f] = true
		ft := typ
		if ft == "" {
			ob, _ := oldRead(f)
			ft = DetectType(f, ob)
		}
		out = append(out, GitCheck{Path: f, Deleted: true, Result: deletedResult(mode, ft, g.Ref, f)})
	}
	return out, nil
}
