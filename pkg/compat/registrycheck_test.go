package compat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// requestLog counts the registry requests by method and path shape.
type requestLog struct {
	mu    sync.Mutex
	count map[string]int
}

func (l *requestLog) intercept(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	parts := strings.Split(strings.Trim(p, "/"), "/")
	key := r.Method + " " + p
	if len(parts) == 4 && parts[0] == "subjects" && parts[2] == "versions" {
		key = r.Method + " /subjects/S/versions/N"
		if strings.HasPrefix(parts[1], "ref-") {
			key = r.Method + " reference"
		}
	}
	l.mu.Lock()
	l.count[key]++
	l.mu.Unlock()
	return false
}

// registryFixture registers n subjects of 5 versions each, every version
// referencing the record of subject ref-money, and writes a new version of
// each as a file (subject 0's incompatible).
func registryFixture(t *testing.T, n int) (*sr.Client, []RegistryFile, *requestLog) {
	t.Helper()
	reg := testenv.Registry(t)
	log := &requestLog{count: map[string]int{}}
	reg.Intercept(log.intercept)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	money := `{"type":"record","name":"Money","namespace":"com.acme","fields":[{"name":"units","type":"long"}]}`
	if _, err := cl.CreateSchema(ctx, "ref-money", sr.Schema{Schema: money}); err != nil {
		t.Fatal(err)
	}
	refs := []sr.SchemaReference{{Name: "com.acme.Money", Subject: "ref-money", Version: 1}}
	dir := t.TempDir()
	var files []RegistryFile
	for s := 0; s < n; s++ {
		subject := fmt.Sprintf("s%d-value", s)
		fields := `{"name":"id","type":"long"},{"name":"total","type":"com.acme.Money"}`
		for v := 0; v < 5; v++ {
			fields += fmt.Sprintf(`,{"name":"f%d","type":"int","default":0}`, v)
			schema := fmt.Sprintf(`{"type":"record","name":"R%d","namespace":"com.acme","fields":[%s]}`, s, fields)
			if _, err := cl.CreateSchema(ctx, subject, sr.Schema{Schema: schema, References: refs}); err != nil {
				t.Fatal(err)
			}
		}
		newFields := fields + `,{"name":"n","type":["null","string"],"default":null}`
		if s == 0 {
			newFields = `{"name":"id","type":"string"},{"name":"total","type":"com.acme.Money"}`
		}
		p := filepath.Join(dir, fmt.Sprintf("R%d.avsc", s))
		if err := os.WriteFile(p, []byte(fmt.Sprintf(`{"type":"record","name":"R%d","namespace":"com.acme","fields":[%s]}`, s, newFields)), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, RegistryFile{Path: p, Subject: subject})
	}
	if err := os.WriteFile(filepath.Join(dir, "Money.avsc"), []byte(money), 0o644); err != nil {
		t.Fatal(err)
	}
	log.mu.Lock()
	log.count = map[string]int{}
	log.mu.Unlock()
	return cl, files, log
}

// TestCheckRegistryOneRequestPerSubject: each subject's versions are read
// with one request whatever their number, a subject named by two files is
// read once, a reference shared by every version is read once, and the
// results are those of reading version by version (RegistryVersions +
// CheckWith, file by file), in the order of the files.
func TestCheckRegistryOneRequestPerSubject(t *testing.T) {
	cl, files, log := registryFixture(t, 4)
	files = append(files, files[1]) // two files, one subject
	lo := LoadOptions{AvroRefs: []string{filepath.Join(filepath.Dir(files[0].Path), "Money.avsc")}}
	checks, err := CheckRegistry(context.Background(), cl, files, RegistryOptions{Mode: Full, ModeSet: true, Load: lo})
	if err != nil {
		t.Fatal(err)
	}
	log.mu.Lock()
	got := log.count
	log.mu.Unlock()
	if got["GET /schemas"] != 4 || got["GET /subjects/S/versions/N"] != 0 || got["GET reference"] != 1 || len(got) != 2 {
		t.Fatalf("requests for 4 subjects of 5 versions: %v; want GET /schemas 4 times, the reference once, nothing else", got)
	}
	ctx := context.Background()
	for i, f := range files {
		versions, _, err := RegistryVersions(ctx, cl, f.Subject)
		if err != nil {
			t.Fatal(err)
		}
		nv, err := LoadFiles([]string{f.Path}, lo)
		if err != nil {
			t.Fatal(err)
		}
		want, err := CheckWith(Options{}, Full, Avro, append(versions, nv[0]))
		if err != nil {
			t.Fatal(err)
		}
		want.Name = f.Subject
		if !reflect.DeepEqual(checks[i].Result, want) {
			t.Fatalf("%s: %+v, file by file %+v", f.Path, checks[i].Result, want)
		}
		if want.Compatible != (i != 0) {
			t.Fatalf("%s: compatible=%v", f.Path, want.Compatible)
		}
	}
}

// TestRegistryReaderWithoutSchemasList: a registry without GET /schemas is
// read version by version, with the same versions.
func TestRegistryReaderWithoutSchemasList(t *testing.T) {
	reg := testenv.Registry(t)
	lists := 0
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && r.URL.Path == "/schemas" {
			lists++
			http.Error(w, `{"error_code":404,"message":"HTTP 404 Not Found"}`, http.StatusNotFound)
			return true
		}
		return false
	})
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, s := range []string{widgetV1, widgetV2ok} {
		if _, err := cl.CreateSchema(ctx, "w-value", sr.Schema{Schema: s}); err != nil {
			t.Fatal(err)
		}
	}
	r := NewRegistryReader(cl, time.Minute)
	for _, subject := range []string{"w-value", "w-value"} {
		vs, typ, err := r.Versions(ctx, subject)
		if err != nil || len(vs) != 2 || typ != Avro || vs[1].Label != "w-value v2" || string(vs[1].Data) != widgetV2ok {
			t.Fatalf("%v %v %v", vs, typ, err)
		}
	}
	if vs, _, err := r.Versions(ctx, "nothing-value"); err != nil || len(vs) != 0 {
		t.Fatalf("unknown subject: %v %v", vs, err)
	}
	if lists != 1 {
		t.Fatalf("GET /schemas asked %d times; once is enough to learn it is not served", lists)
	}
}

// TestCheckRegistryConcurrent: subjects are read concurrently. The registry
// answers no /schemas request until 4 are waiting at once (a reader that
// asks one subject after the other gets no answer and fails).
func TestCheckRegistryConcurrent(t *testing.T) {
	reg := testenv.Registry(t)
	var mu sync.Mutex
	waiting := 0
	all := make(chan struct{})
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/schemas" {
			return false
		}
		mu.Lock()
		waiting++
		if waiting == 4 {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
			return false
		case <-time.After(20 * time.Second):
			http.Error(w, `{"error_code":50001,"message":"only one request at a time"}`, http.StatusInternalServerError)
			return true
		}
	})
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	var files []RegistryFile
	for i := 0; i < 8; i++ {
		subject := fmt.Sprintf("c%d-value", i)
		if _, err := cl.CreateSchema(ctx, subject, sr.Schema{Schema: widgetV1}); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("w%d.avsc", i))
		write(t, p, widgetV2ok)
		files = append(files, RegistryFile{Path: p, Subject: subject})
	}
	checks, err := CheckRegistry(ctx, cl, files, RegistryOptions{Mode: Backward, ModeSet: true, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range checks {
		if c.Result == nil || !c.Result.Compatible || c.Result.Name != files[i].Subject {
			t.Fatalf("file %d: %+v", i, c)
		}
	}
}

// TestCheckRegistryTimeout: a registry that does not answer is given up
// after the timeout: exit 3, naming the subject and --timeout.
func TestCheckRegistryTimeout(t *testing.T) {
	reg := testenv.Registry(t)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/schemas" {
			<-stop
			return true
		}
		return false
	})
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "w.avsc")
	write(t, p, widgetV2ok)
	start := time.Now()
	_, err = CheckRegistry(context.Background(), cl, []RegistryFile{{Path: p, Subject: "slow-value"}}, RegistryOptions{Mode: Backward, ModeSet: true, Timeout: 200 * time.Millisecond})
	if errs.ExitCode(err) != 3 || !strings.Contains(err.Error(), "slow-value") || !strings.Contains(err.Error(), "--timeout") {
		t.Fatalf("want exit 3 naming the subject and --timeout, got %v (exit %d)", err, errs.ExitCode(err))
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("gave up after %s", d)
	}
}

// TestCheckRegistryErrorOrder: the first file in order that fails decides
// the error, as when files were checked one after the other.
func TestCheckRegistryErrorOrder(t *testing.T) {
	cl, files, _ := registryFixture(t, 2)
	bad := RegistryFile{Path: files[0].Path, Err: errs.Usagef("no subject for %s", files[0].Path)}
	missing := RegistryFile{Path: filepath.Join(t.TempDir(), "nope.avsc"), Subject: files[1].Subject}
	lo := LoadOptions{AvroRefs: []string{filepath.Join(filepath.Dir(files[0].Path), "Money.avsc")}}
	_, err := CheckRegistry(context.Background(), cl, []RegistryFile{files[1], missing, bad}, RegistryOptions{Mode: Backward, ModeSet: true, Load: lo})
	if errs.ExitCode(err) != 2 || !strings.Contains(err.Error(), "nope.avsc") {
		t.Fatalf("want the missing file's error first, got %v", err)
	}
	_, err = CheckRegistry(context.Background(), cl, []RegistryFile{files[1], bad, missing}, RegistryOptions{Mode: Backward, ModeSet: true, Load: lo})
	if err == nil || !strings.Contains(err.Error(), "no subject") {
		t.Fatalf("want the subject error first, got %v", err)
	}
}

// The registry's "no level for this subject" is its 404 status; an error
// whose text merely contains 404 (a 500 relaying an upstream 404, a
// timeout on port 4040) is a failure to read the level, not an absent one.
func TestRegistryNotFoundByStatus(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&sr.ResponseError{StatusCode: http.StatusNotFound, ErrorCode: 40401, Message: "Subject not found"}, true},
		{fmt.Errorf("reading level: %w", &sr.ResponseError{StatusCode: http.StatusNotFound}), true},
		{&sr.ResponseError{StatusCode: http.StatusInternalServerError, Message: "upstream answered 404"}, false},
		{errors.New("dial tcp 127.0.0.1:4040: connect: connection refused (404)"), false},
	} {
		if got := registryNotFound(c.err); got != c.want {
			t.Errorf("registryNotFound(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
