package encode

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// A local schema that cannot be used is refused with the file and line at
// fault (the one Avro parser, pkg/avro, is compat's too), as a usage error.
func TestLocalSchemaErrorNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "t"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"Bad": `{"type":"record","name":"Bad","namespace":"t","fields":[
  {"name":"a","type":"string"},
  {"name":"n","type":"int","default":"seven"}]}`,
		"Ref": `{"type":"record","name":"Ref","namespace":"t","fields":[
  {"name":"a","type":"Missing"}]}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, "t", name+".avsc"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := newTestEngine(t, &config.Config{Schema: config.Schema{Path: dir}}, nil)
	for name, want := range map[string]string{
		"Bad": filepath.Join(dir, "t", "Bad.avsc") + `:3: field Bad.n: invalid default "seven" for type int`,
		"Ref": "schema t.Missing not found",
	} {
		_, err := e.Encode(context.Background(), Spec{Backend: "avro_local", Schema: name, Namespace: "t"}, Message{Value: []byte(`{"a":"x"}`)})
		if errs.KindOf(err) != errs.KindUsage || err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: want a usage error containing %q, got %v", name, want, err)
		}
	}
}
