package compat

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// The dev registry (srfake with RegistryInterceptor) checks JSON Schema
// subjects with the JSON Schema rules, as Confluent's registry does: 409 for
// an incompatible registration, the verdict on the compatibility endpoint,
// and references resolved from the registry.
func TestRegistryInterceptorJSONSchema(t *testing.T) {
	reg := testenv.Registry(t)
	reg.Intercept(RegistryInterceptor(reg))
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v1 := `{"type":"object","properties":{"id":{"type":"integer"}},"additionalProperties":false}`
	v2 := `{"type":"object","properties":{"id":{"type":"integer"},"note":{"type":"string"}},"additionalProperties":false}`
	v3 := `{"type":"object","properties":{"id":{"type":"integer"},"note":{"type":"string"},"tag":{"type":"string"}},"required":["tag"],"additionalProperties":false}`
	open := `{"type":"object","properties":{"id":{"type":"integer"},"note":{"type":"string"},"x":{"type":"number"}}}`
	js := func(s string) sr.Schema { return sr.Schema{Schema: s, Type: sr.TypeJSON} }
	for _, s := range []string{v1, v2} {
		if _, err := cl.CreateSchema(ctx, "j-value", js(s)); err != nil {
			t.Fatalf("compatible registration refused: %v", err)
		}
	}
	_, err = cl.CreateSchema(ctx, "j-value", js(v3))
	var re *sr.ResponseError
	if err == nil || !errorsAs(err, &re) || re.StatusCode != http.StatusConflict || !strings.Contains(re.Message, "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL") && !strings.Contains(re.Message, "#/properties/tag") {
		t.Fatalf("required property added: want 409 naming it, got %v", err)
	}
	r, err := cl.CheckCompatibility(ctx, "j-value", -1, js(v3))
	if err != nil || r.Is {
		t.Fatalf("compat endpoint: want incompatible, got %+v %v", r, err)
	}
	// opening the model is fine backward (the new schema reads everything)
	if _, err := cl.CreateSchema(ctx, "j-value", js(open)); err != nil {
		t.Fatalf("opening the content model refused: %v", err)
	}
	// FORWARD: the previous (open) schema must read new data: a new
	// property is fine for it, a property of another type is not
	if err := reg.SetCompat("j-value", sr.CompatForward); err != nil {
		t.Fatal(err)
	}
	next := `{"type":"object","properties":{"id":{"type":"integer"},"note":{"type":"string"},"x":{"type":"number"},"y":{"type":"string"}}}`
	if _, err := cl.CreateSchema(ctx, "j-value", js(next)); err != nil {
		t.Fatalf("FORWARD: a property the old open schema accepts was refused: %v", err)
	}
	retyped := `{"type":"object","properties":{"id":{"type":"integer"},"note":{"type":"boolean"},"x":{"type":"number"},"y":{"type":"string"}}}`
	if _, err := cl.CreateSchema(ctx, "j-value", js(retyped)); err == nil {
		t.Fatal("FORWARD: a property whose type the old schema cannot read must be refused")
	}
	// references: a schema referring to another subject's schema by name
	if _, err := cl.CreateSchema(ctx, "addr", js(`{"type":"object","properties":{"zip":{"type":"string"}}}`)); err != nil {
		t.Fatal(err)
	}
	ref := []sr.SchemaReference{{Name: "addr.json", Subject: "addr", Version: 1}}
	withRef := sr.Schema{Schema: `{"type":"object","properties":{"home":{"$ref":"addr.json"}},"additionalProperties":false}`, Type: sr.TypeJSON, References: ref}
	if _, err := cl.CreateSchema(ctx, "p-value", withRef); err != nil {
		t.Fatal(err)
	}
	changed := sr.Schema{Schema: `{"type":"object","properties":{"home":{"type":"object","properties":{"zip":{"type":"integer"}}}},"additionalProperties":false}`, Type: sr.TypeJSON}
	if _, err := cl.CreateSchema(ctx, "p-value", changed); err == nil || !errorsAs(err, &re) || !strings.Contains(re.Message, "#/properties/home/properties/zip") {
		t.Fatalf("a change behind a reference: want 409 naming #/properties/home/properties/zip, got %v", err)
	}
}
