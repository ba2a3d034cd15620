package compat

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/errs"
)

// RegistryClient is what CheckRegistry needs of the registry client.
type RegistryClient interface {
	SchemaFetcher
	Compatibility(ctx context.Context, subjects ...string) []sr.CompatibilityResult
}

// RegistryFile is a file to check against a subject's registered versions.
type RegistryFile struct {
	Path    string
	Subject string
	Err     error // no subject could be named for the file
}

// RegistryCheck is the outcome for one file: a result, or a subject
// without versions (NewSubject).
type RegistryCheck struct {
	File       RegistryFile
	NewSubject bool
	Result     *Result
}

// RegistryOptions adjust CheckRegistry.
type RegistryOptions struct {
	Mode    Mode
	ModeSet bool // else each subject's own level (or the global one) is used
	Type    Type
	Load    LoadOptions
	// Concurrency is how many subjects are read at once (0: 8).
	Concurrency int
	// Timeout bounds each registry request (0: the client's own limit).
	Timeout time.Duration
}

// DefaultRegistryConcurrency is how many subjects CheckRegistry reads at once.
const DefaultRegistryConcurrency = 8

type subjectState struct {
	versions []Version
	typ      Type
	err      error
	level    Mode
	levelErr error
}

// CheckRegistry checks each file against its subject's registered
// versions. Subjects are read Concurrency at a time, each once however many
// files name it, with one request for its versions where the registry
// allows (RegistryReader) and one for its level when the mode is not given;
// files are then checked on every core. Results come in the order of files,
// and the first file in that order that cannot be read or checked stops the
// run with its error, as when the files were checked one after the other.
func CheckRegistry(ctx context.Context, cl RegistryClient, files []RegistryFile, o RegistryOptions) ([]RegistryCheck, error) {
	reader := NewRegistryReader(cl, o.Timeout)
	states := map[string]*subjectState{}
	var subjects []string
	for _, f := range files {
		if f.Err == nil && states[f.Subject] == nil {
			states[f.Subject] = &subjectState{}
			subjects = append(subjects, f.Subject)
		}
	}
	n := o.Concurrency
	if n <= 0 {
		n = DefaultRegistryConcurrency
	}
	parallel(len(subjects), n, func(i int) {
		s := subjects[i]
		st := states[s]
		st.versions, st.typ, st.err = reader.Versions(ctx, s)
		if st.err != nil || o.ModeSet {
			return
		}
		rctx, cancel := reader.reqCtx(ctx)
		rs := cl.Compatibility(rctx, s)
		cancel()
		if len(rs) == 1 && rs[0].Err == nil {
			if pm, err := ParseMode(rs[0].Level.String()); err == nil {
				st.level = pm
			}
		} else if len(rs) == 1 && rs[0].Err != nil && !registryNotFound(rs[0].Err) {
			st.levelErr = errs.Unavailablef("registry: reading the compatibility level of %s: %v", s, reader.timedOut(ctx, rs[0].Err))
		}
	})

	out := make([]RegistryCheck, len(files))
	fileErr := make([]error, len(files))
	parallel(len(files), runtime.GOMAXPROCS(0), func(i int) {
		f := files[i]
		out[i].File = f
		if f.Err != nil {
			fileErr[i] = f.Err
			return
		}
		st := states[f.Subject]
		if st.err != nil {
			fileErr[i] = st.err
			return
		}
		if st.levelErr != nil {
			fileErr[i] = st.levelErr
			return
		}
		m := o.Mode
		if st.level != "" {
			m = st.level
		}
		nv, err := LoadFiles([]string{f.Path}, o.Load)
		if err != nil {
			fileErr[i] = err
			return
		}
		if len(st.versions) == 0 {
			out[i].NewSubject = true
			return
		}
		t := o.Type
		if t == "" {
			t = DetectType(f.Path, nv[0].Data)
		}
		if st.typ != "" && st.typ != t {
			fileErr[i] = errs.Usagef("%s is %s but subject %s holds %s schemas", f.Path, t, f.Subject, st.typ)
			return
		}
		versions := append(append([]Version{}, st.versions...), nv[0])
		res, err := CheckWith(o.Load.Check, m, t, versions)
		if err != nil {
			fileErr[i] = err
			return
		}
		res.Name = f.Subject
		out[i].Result = res
	})
	for _, err := range fileErr {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parallel runs fn(0..n-1) on up to workers goroutines.
func parallel(n, workers int, fn func(i int)) {
	if workers > n {
		workers = n
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// registryNotFound reports the registry's 404 (here: no compatibility level
// set for the subject), read from the response, not from the error text.
func registryNotFound(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}
