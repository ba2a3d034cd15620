package avro

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// A named type another document defines is loaded on first use, and the
// parser knows which document defined it and which documents use it.
func TestParseLoadsReferences(t *testing.T) {
	files := map[string]string{
		"com.acme.Address": `{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"city","type":"string"}]}`,
	}
	var loaded []string
	p := &Parser{Load: func(full string) (string, []byte, error) {
		loaded = append(loaded, full)
		d, ok := files[full]
		if !ok {
			return "", nil, fmt.Errorf("no file for %s", full)
		}
		return full + ".avsc", []byte(d), nil
	}}
	s, err := p.Parse("Person.avsc", []byte(`{"type":"record","name":"Person","namespace":"com.acme","fields":[
		{"name":"home","type":"Address"},{"name":"work","type":["null","com.acme.Address"],"default":null}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "com.acme.Person" || s.ShortName() != "Person" || s.Namespace() != "com.acme" {
		t.Fatalf("names: %q %q %q", s.Name, s.ShortName(), s.Namespace())
	}
	if !reflect.DeepEqual(loaded, []string{"com.acme.Address"}) {
		t.Fatalf("loaded %v, want Address once", loaded)
	}
	if s.Fields[0].Type != s.Fields[1].Type.Branches[1] {
		t.Fatal("both uses of Address must be the same node")
	}
	if got := p.Uses("Person.avsc"); !reflect.DeepEqual(got, []string{"com.acme.Address"}) {
		t.Fatalf("uses %v", got)
	}
	if d := p.DefinedIn("com.acme.Address"); d != "com.acme.Address.avsc" {
		t.Fatalf("Address defined in %q", d)
	}
	_, err = new(Parser).Parse("x.avsc", []byte(`{"type":"record","name":"X","fields":[
  {"name":"a","type":"Nowhere"}]}`))
	if err == nil || err.Error() != `x.avsc:2: undefined name: "Nowhere" (not a primitive type and not defined before this point or in the other given files)` {
		t.Fatalf("undefined name: %v", err)
	}
}

// An invalid default is an error naming its line, or with LenientDefaults
// a warning; a map default keeps the order its entries are written in.
func TestDefaults(t *testing.T) {
	doc := []byte(`{"type":"record","name":"R","fields":[
  {"name":"n","type":"int","default":"x"},
  {"name":"m","type":{"type":"map","values":"long"},"default":{"b":1,"a":2,"c":3}}]}`)
	_, err := new(Parser).Parse("r.avsc", doc)
	if !IsDefaultError(err) || !strings.HasPrefix(err.Error(), "r.avsc:2: field R.n: invalid default") {
		t.Fatalf("strict: %v", err)
	}
	p := &Parser{LenientDefaults: true}
	s, err := p.Parse("r.avsc", doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 1 || p.Warnings[0].Line != 2 {
		t.Fatalf("warnings %v", p.Warnings)
	}
	f := s.Field("m")
	m := f.Default.(map[string]any)
	if len(f.DefaultOrder) != 1 {
		t.Fatalf("order %v", f.DefaultOrder)
	}
	for _, keys := range f.DefaultOrder {
		if !reflect.DeepEqual(keys, []string{"b", "a", "c"}) || len(m) != 3 {
			t.Fatalf("order %v", keys)
		}
	}
}

// The resolution rules: promotions one way only, unions branch by branch,
// named types by unqualified name or reader alias.
func TestResolutionRules(t *testing.T) {
	kinds := []Kind{Null, Boolean, Int, Long, Float, Double, Bytes, String}
	want := map[[2]Kind]bool{
		{Int, Long}: true, {Int, Float}: true, {Int, Double}: true,
		{Long, Float}: true, {Long, Double}: true, {Float, Double}: true,
		{String, Bytes}: true, {Bytes, String}: true,
	}
	for _, w := range kinds {
		for _, r := range kinds {
			if got := Promotes(w, r); got != want[[2]Kind{w, r}] {
				t.Errorf("Promotes(%s, %s) = %v", w, r, got)
			}
			if got := Reads(&Schema{Kind: w}, &Schema{Kind: r}); got != (w == r || want[[2]Kind{w, r}]) {
				t.Errorf("Reads(%s, %s) = %v", w, r, got)
			}
		}
	}
	a := &Schema{Kind: Record, Name: "x.A"}
	if !Reads(a, &Schema{Kind: Record, Name: "y.A"}) || Reads(a, &Schema{Kind: Record, Name: "x.B"}) ||
		!Reads(a, &Schema{Kind: Record, Name: "x.B", Aliases: []string{"x.A"}}) || Reads(a, &Schema{Kind: Enum, Name: "x.A"}) {
		t.Error("named types resolve by unqualified name or reader alias, within their kind")
	}
	u := &Schema{Kind: Union, Branches: []*Schema{{Kind: Null}, {Kind: Double}, {Kind: Long}}}
	if br := ReaderBranch(u, &Schema{Kind: Long}); br != u.Branches[2] {
		t.Error("a reader union reads a writer type with the branch of the same type first")
	}
	if br := ReaderBranch(u, &Schema{Kind: Int}); br != u.Branches[1] {
		t.Error("then with the first branch it promotes to")
	}
}

// Text inlines references once and keeps logical types; CanonicalForm is
// Avro's Parsing Canonical Form.
func TestTextAndCanonicalForm(t *testing.T) {
	s, err := new(Parser).Parse("t.avsc", []byte(`{"type":"record","name":"T","namespace":"n","doc":"d","fields":[
		{"name":"a","type":{"type":"fixed","name":"F","size":2}},{"name":"b","type":"F","default":"xy"},
		{"name":"c","type":{"type":"long","logicalType":"timestamp-millis"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Text(s), `{"type":"record","name":"T","namespace":"n","doc":"d","fields":[{"name":"a","type":{"type":"fixed","name":"F","namespace":"n","size":2}},{"name":"b","type":"n.F","default":"xy"},{"name":"c","type":{"type":"long","logicalType":"timestamp-millis"}}]}`; got != want {
		t.Fatalf("Text:\n%s\nwant\n%s", got, want)
	}
	if got, want := CanonicalForm(s, nil), `{"name":"n.T","type":"record","fields":[{"name":"a","type":{"name":"n.F","type":"fixed","size":2}},{"name":"b","type":"n.F"},{"name":"c","type":"long"}]}`; got != want {
		t.Fatalf("CanonicalForm:\n%s\nwant\n%s", got, want)
	}
}

// Text is valid JSON whatever the doc and logicalType strings hold (Go
// quoting wrote \x01, which is not JSON), and docs are not HTML-escaped.
func TestTextQuotesStringsAsJSON(t *testing.T) {
	s, err := new(Parser).Parse("t.avsc", []byte(`{"type":"record","name":"T","doc":"<b>a & b</b>\u0001\u2028","fields":[
		{"name":"a","doc":"é\t\"","type":{"type":"long","logicalType":"my\u0001type"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	text := Text(s)
	want := `{"type":"record","name":"T","doc":"<b>a & b</b>\u0001\u2028","fields":[{"name":"a","type":{"type":"long","logicalType":"my\u0001type"},"doc":"é\t\""}]}`
	if text != want {
		t.Fatalf("Text:\n%s\nwant\n%s", text, want)
	}
	if !json.Valid([]byte(text)) {
		t.Fatalf("not JSON: %s", text)
	}
}
