package encode

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/config"
)

func writeSchemas(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	regAddress = `{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"city","type":"string"}]}`
	regPerson  = `{"type":"record","name":"Person","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"home","type":"Address"}]}`
)

func versions(t *testing.T, cl *sr.Client, subject string) []sr.SubjectSchema {
	t.Helper()
	ss, err := cl.Schemas(context.Background(), subject)
	if err != nil {
		t.Fatalf("%s: %v", subject, err)
	}
	return ss
}

// The ways an existing version is found before anything is registered, and
// the form a new version takes.
func TestAvroRegistrationLookupFirst(t *testing.T) {
	ctx := context.Background()
	dir := writeSchemas(t, map[string]string{"com/acme/Address.avsc": regAddress, "com/acme/Person.avsc": regPerson})
	spec := Spec{Topic: "people", Backend: "avro_schema_registry", Schema: "Person", Namespace: "com.acme"}
	value := Message{Value: []byte(`{"id":1,"home":{"city":"x"}}`)}
	off := false

	t.Run("inlined form registered before (Deimos, older deimos)", func(t *testing.T) {
		cl := registryClient(t)
		e := newTestEngine(t, &config.Config{Schema: config.Schema{Path: dir}}, cl)
		sch, err := e.localSchema("Person", "com.acme")
		if err != nil {
			t.Fatal(err)
		}
		old, err := cl.CreateSchema(ctx, "people-value", sr.Schema{Schema: sch.text, Type: sr.TypeAvro})
		if err != nil {
			t.Fatal(err)
		}
		out := enc(t, e, spec, value)
		if out.ValueSchemaID != old.ID || len(versions(t, cl, "people-value")) != 1 {
			t.Fatalf("id %d, want the inlined version's %d; versions %+v", out.ValueSchemaID, old.ID, versions(t, cl, "people-value"))
		}
		if subs, _ := cl.Subjects(ctx); len(subs) != 1 {
			t.Fatalf("subjects %v: no reference subject may be created when a version is found", subs)
		}
	})

	t.Run("auto_register off finds a version with references", func(t *testing.T) {
		cl := registryClient(t)
		a, err := cl.CreateSchema(ctx, "addr", sr.Schema{Schema: regAddress, Type: sr.TypeAvro})
		if err != nil {
			t.Fatal(err)
		}
		p, err := cl.CreateSchema(ctx, "people-value", sr.Schema{Schema: `{"name":"com.acme.Person","type":"record","fields":[{"name":"id","type":"long"},{"name":"home","type":"com.acme.Address"}]}`,
			Type: sr.TypeAvro, References: []sr.SchemaReference{{Name: "com.acme.Address", Subject: "addr", Version: a.Version}}})
		if err != nil {
			t.Fatal(err)
		}
		e := newTestEngine(t, &config.Config{Schema: config.Schema{Path: dir, AutoRegister: &off}}, cl)
		if out := enc(t, e, spec, value); out.ValueSchemaID != p.ID {
			t.Fatalf("id %d, want %d", out.ValueSchemaID, p.ID)
		}
		// a schema no version holds is an error naming the subject, registering nothing
		e2 := newTestEngine(t, &config.Config{Schema: config.Schema{Path: dir, AutoRegister: &off}}, cl)
		_, err = e2.Encode(ctx, Spec{Topic: "other", Backend: "avro_schema_registry", Schema: "Person", Namespace: "com.acme"}, value)
		if err == nil || !strings.Contains(err.Error(), "other-value") || !strings.Contains(err.Error(), "auto_register is off") {
			t.Fatalf("unknown schema with auto_register off: %v", err)
		}
	})

	t.Run("a new version refers to the subjects the newest version uses", func(t *testing.T) {
		cl := registryClient(t)
		a, err := cl.CreateSchema(ctx, "addr", sr.Schema{Schema: regAddress, Type: sr.TypeAvro})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.CreateSchema(ctx, "people-value", sr.Schema{Schema: `{"type":"record","name":"Person","namespace":"com.acme","fields":[{"name":"home","type":"Address"}]}`,
			Type: sr.TypeAvro, References: []sr.SchemaReference{{Name: "com.acme.Address", Subject: "addr", Version: a.Version}}}); err != nil {
			t.Fatal(err)
		}
		e := newTestEngine(t, &config.Config{Schema: config.Schema{Path: dir}}, cl)
		out := enc(t, e, spec, value) // Person gained a field: a new version
		vs := versions(t, cl, "people-value")
		if len(vs) != 2 || vs[1].ID != out.ValueSchemaID || vs[1].Schema.Schema != regPerson ||
			len(vs[1].Schema.References) != 1 || vs[1].Schema.References[0] != (sr.SchemaReference{Name: "com.acme.Address", Subject: "addr", Version: 1}) {
			t.Fatalf("versions %+v", vs)
		}
		if subs, _ := cl.Subjects(ctx); len(subs) != 2 {
			t.Fatalf("subjects %v: Address is already registered under addr", subs)
		}
	})

	t.Run("inline_references registers the inlined form", func(t *testing.T) {
		cl := registryClient(t)
		e := newTestEngine(t, &config.Config{Schema: config.Schema{Path: dir, InlineReferences: true}}, cl)
		out := enc(t, e, spec, value)
		sch, _ := e.localSchema("Person", "com.acme")
		vs := versions(t, cl, "people-value")
		if len(vs) != 1 || vs[0].ID != out.ValueSchemaID || vs[0].Schema.Schema != sch.text || len(vs[0].Schema.References) != 0 {
			t.Fatalf("versions %+v", vs)
		}
		if subs, _ := cl.Subjects(ctx); len(subs) != 1 {
			t.Fatalf("subjects %v", subs)
		}
		// a file without references is still registered as written
		out = enc(t, e, Spec{Topic: "addresses", Backend: "avro_schema_registry", Schema: "com.acme.Address"}, Message{Value: []byte(`{"city":"x"}`)})
		if vs := versions(t, cl, "addresses-value"); len(vs) != 1 || vs[0].Schema.Schema != regAddress {
			t.Fatalf("addresses-value %+v", vs)
		}
	})

	t.Run("a type defined inside another file comes with that file", func(t *testing.T) {
		// Person2 uses com.acme.Country, which Place.avsc defines inline:
		// the reference is to Place, which brings Country
		dir := writeSchemas(t, map[string]string{
			"com/acme/Place.avsc":   `{"type":"record","name":"Place","namespace":"com.acme","fields":[{"name":"c","type":{"type":"enum","name":"Country","symbols":["FR","DE"]}}]}`,
			"com/acme/Person2.avsc": `{"type":"record","name":"Person2","namespace":"com.acme","fields":[{"name":"p","type":"Place"},{"name":"born","type":"Country"}]}`,
		})
		cl := registryClient(t)
		e := newTestEngine(t, &config.Config{Schema: config.Schema{Path: dir}}, cl)
		out := enc(t, e, Spec{Topic: "p2", Backend: "avro_schema_registry", Schema: "com.acme.Person2"}, Message{Value: []byte(`{"p":{"c":"FR"},"born":"DE"}`)})
		vs := versions(t, cl, "p2-value")
		if len(vs) != 1 || vs[0].ID != out.ValueSchemaID || len(vs[0].Schema.References) != 1 || vs[0].Schema.References[0].Name != "com.acme.Place" {
			t.Fatalf("versions %+v", vs)
		}
		d := dec(t, newTestEngine(t, nil, cl), Spec{}, nil, out.Value)
		if string(d.Value) != `{"p":{"c":"FR"},"born":"DE"}` {
			t.Fatalf("decoded %s", d.Value)
		}
	})

	t.Run("a referenced file that does not stand alone: the schema is inlined", func(t *testing.T) {
		// Place.avsc uses Country, which only Person3.avsc defines
		dir := writeSchemas(t, map[string]string{
			"com/acme/Place.avsc":   `{"type":"record","name":"Place","namespace":"com.acme","fields":[{"name":"c","type":"Country"}]}`,
			"com/acme/Person3.avsc": `{"type":"record","name":"Person3","namespace":"com.acme","fields":[{"name":"born","type":{"type":"enum","name":"Country","symbols":["FR","DE"]}},{"name":"p","type":"Place"}]}`,
		})
		cl := registryClient(t)
		e := newTestEngine(t, &config.Config{Schema: config.Schema{Path: dir}}, cl)
		out := enc(t, e, Spec{Topic: "p3", Backend: "avro_schema_registry", Schema: "com.acme.Person3"}, Message{Value: []byte(`{"born":"DE","p":{"c":"FR"}}`)})
		vs := versions(t, cl, "p3-value")
		sch, _ := e.localSchema("com.acme.Person3", "")
		if len(vs) != 1 || vs[0].ID != out.ValueSchemaID || vs[0].Schema.Schema != sch.text || len(vs[0].Schema.References) != 0 {
			t.Fatalf("versions %+v", vs)
		}
	})
}
