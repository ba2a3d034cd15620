package encode

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/pkg/config"
)

// Backends are wired in one place (builtinBackends), not registered by
// init() functions, and nothing in the package changes another package's
// settings at start-up: the package has no init() at all.
func TestNoInitFunctions(t *testing.T) {
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, obj := range f.Decls {
			if fd, ok := obj.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "init" {
				t.Errorf("%s has an init(): wire backends in builtinBackends", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every Deimos backend name the config accepts is wired.
func TestBuiltinBackendsCoverConfig(t *testing.T) {
	b := builtinBackends()
	for _, n := range config.Backends {
		if _, ok := b[n]; !ok {
			t.Errorf("backend %s is not wired in builtinBackends", n)
		}
	}
	for n := range b {
		if !slices.Contains(config.Backends, n) {
			t.Errorf("builtinBackends wires %s, which config.Backends does not list", n)
		}
	}
}

// textBackend is a backend that encodes values from their JSON text (a
// textEncoder): what it writes shows which path the engine took.
type textBackend struct {
	jsonBackend
	texts int
}

func (b *textBackend) encodeText(s Spec, src []byte, keyField string) (fastValue, bool) {
	b.texts++
	return fastValue{enc: b, buf: append([]byte("text:"), src...)}, true
}

func (b *textBackend) frameText(ctx context.Context, v fastValue) ([]byte, int, error) {
	return v.buf, 0, nil
}

// The engine takes a backend's fast path through the textEncoder method it
// asks the backend for, whatever the backend's type; a backend without it
// gets the general path.
func TestEncodeAsksBackendForTextEncoder(t *testing.T) {
	e := newTestEngine(t, nil, nil)
	tb := &textBackend{jsonBackend: jsonBackend{e: e}}
	e.ctors["text"] = func(*Engine) backend { return tb }
	out, err := e.Encode(context.Background(), Spec{Backend: "text"}, Message{Value: Text(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Value) != `text:{"a":1}` || tb.texts != 1 {
		t.Fatalf("value %q after %d encodeText calls: the engine did not use the backend's textEncoder", out.Value, tb.texts)
	}
	out, err = e.Encode(context.Background(), Spec{Backend: "json"}, Message{Value: Text(`{"a":1}`)})
	if err != nil || string(out.Value) != `{"a":1}` {
		t.Fatalf("json backend: %q, %v", out.Value, err)
	}
}
