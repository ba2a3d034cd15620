package produce_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// The schema files of the registration tests: Person takes Address from its
// own file (a schema reference) and defines Tag inline without a namespace.
const (
	addressAvsc = `{
  "type": "record", "name": "Address", "namespace": "com.acme",
  "fields": [ {"name": "city", "type": "string"} ]
}
`
	personAvsc = `{"type":"record","name":"Person","namespace":"com.acme",
 "fields":[{"name":"id","type":"long"},
  {"name":"home","type":"Address"},
  {"name":"tag","type":{"type":"record","name":"Tag","fields":[{"name":"t","type":"string"}]}}]}
`
	personLine = `{"id":1,"home":{"city":"x"},"tag":{"t":"a"}}`
)

type regEnv struct {
	t      *testing.T
	reg    string
	kafka  string
	env    []string
	cl     *sr.Client
	schema string
}

func newRegEnv(t *testing.T) *regEnv {
	addrs := testenv.Brokers(t, 1, "people")
	reg := testenv.Registry(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "com", "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"Address": addressAvsc, "Person": personAvsc} {
		if err := os.WriteFile(filepath.Join(dir, "com", "acme", name+".avsc"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "deimos.yaml")
	body := fmt.Sprintf(`kafka: {brokers: [%s]}
schema: {path: %s, registry: {url: %s}}
topics:
  - {name: people, backend: avro_schema_registry, schema: Person, namespace: com.acme, key_config: {none: true}}
`, addrs[0], dir, reg.URL())
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return &regEnv{t: t, reg: reg.URL(), kafka: addrs[0], env: []string{"DEIMOS_CONFIG=" + cfg}, cl: cl, schema: dir}
}

// subjects maps each subject to its versions' schemas.
func (r *regEnv) subjects() map[string][]sr.SubjectSchema {
	r.t.Helper()
	ctx := context.Background()
	names, err := r.cl.Subjects(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string][]sr.SubjectSchema{}
	for _, n := range names {
		ss, err := r.cl.Schemas(ctx, n)
		if err != nil {
			r.t.Fatal(err)
		}
		out[n] = ss
	}
	return out
}

func subjectNames(m map[string][]sr.SubjectSchema) string {
	var n []string
	for k, v := range m {
		n = append(n, fmt.Sprintf("%s(%d)", k, len(v)))
	}
	sort.Strings(n)
	return strings.Join(n, " ")
}

// lastValue is the value bytes of the newest record of the topic, read with kcat.
func (r *regEnv) values(topic string) []string {
	r.t.Helper()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		testenv.Missing(r.t, "kcat")
	}
	out, err := exec.Command(kcat, "-b", r.kafka, "-C", "-t", topic, "-e", "-q", "-f", `%s\n`).Output()
	if err != nil {
		r.t.Fatalf("kcat -C: %v", err)
	}
	var vs []string
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		vs = append(vs, hex.EncodeToString([]byte(l)))
	}
	return vs
}

// otherClient registers Address and Person with Confluent's JavaScript
// client, as a team using Confluent's serializers (or the registry Maven
// plugin) does: Address under its own subject, Person with a schema
// reference to it, each text formatted its own way (not deimos's file
// text); then serializes personLine with the latest version.
const otherClient = `
const sr = require("@confluentinc/schemaregistry");
const url = process.argv[1];
(async () => {
  const client = sr.SchemaRegistryClient.newClient({baseURLs: [url], cacheCapacity: 10});
  await client.register("address-subject", {schemaType: "AVRO",
    schema: JSON.stringify({namespace: "com.acme", name: "Address", type: "record", fields: [{type: "string", name: "city"}]})});
  const id = await client.register("people-value", {schemaType: "AVRO",
    schema: JSON.stringify({name: "com.acme.Person", type: "record", fields: [
      {name: "id", type: "long"}, {name: "home", type: "com.acme.Address"},
      {name: "tag", type: {name: "Tag", namespace: "com.acme", type: "record", fields: [{name: "t", type: "string"}]}}]}),
    references: [{name: "com.acme.Address", subject: "address-subject", version: 1}]});
  const ser = new sr.AvroSerializer(client, sr.SerdeType.VALUE, {useLatestVersion: true});
  const b = await ser.serialize("people", {id: 1, home: {city: "x"}, tag: {t: "a"}});
  process.stdout.write(JSON.stringify({id, hex: b.toString("hex")}));
})().catch(e => { console.error(e); process.exit(1); });
`

// A subject another client registered with schema references: deimos
// produce and encode (auto_register on) find that version, use its id and
// write the same bytes as Confluent's AvroSerializer; no version and no
// subject is added.
func TestAvroRegistrationUsesOtherClientsVersion(t *testing.T) {
	r := newRegEnv(t)
	var js struct {
		ID  int
		Hex string
	}
	if err := json.Unmarshal(testenv.Node(t, otherClient, nil, r.reg), &js); err != nil {
		t.Fatal(err)
	}
	before := r.subjects()
	ok(t, run(t, r.env, personLine+"\n", "produce", "-t", "people"), "produce")
	enc := strings.TrimSpace(ok(t, run(t, r.env, personLine, "encode", "--topic", "people", "--output-encoding", "hex"), "encode"))
	vals := r.values("people")
	if len(vals) != 1 || vals[0] != js.Hex || enc != js.Hex {
		t.Fatalf("Confluent's AvroSerializer wrote %s (schema id %d); deimos produce sent %v, encode wrote %s", js.Hex, js.ID, vals, enc)
	}
	if after := r.subjects(); subjectNames(after) != subjectNames(before) {
		t.Fatalf("deimos changed the registry: before %s, after %s", subjectNames(before), subjectNames(after))
	}
}

// Registering afresh: what deimos registers is the user's file text byte for
// byte (Tag keeps no namespace), with Address as a reference to its own
// subject holding Address.avsc byte for byte. Confluent's AvroDeserializer
// reads the message (resolving the reference); a second run finds the
// versions instead of adding any.
func TestAvroRegistersFileTextWithReferences(t *testing.T) {
	r := newRegEnv(t)
	ok(t, run(t, r.env, personLine+"\n", "produce", "-t", "people"), "produce")
	subs := r.subjects()
	if subjectNames(subs) != "com.acme.Address(1) people-value(1)" {
		t.Fatalf("subjects: %s", subjectNames(subs))
	}
	p, a := subs["people-value"][0], subs["com.acme.Address"][0]
	if p.Schema.Schema != personAvsc || a.Schema.Schema != addressAvsc {
		t.Fatalf("registered texts differ from the files:\npeople-value: %q\ncom.acme.Address: %q", p.Schema.Schema, a.Schema.Schema)
	}
	if len(p.Schema.References) != 1 || p.Schema.References[0] != (sr.SchemaReference{Name: "com.acme.Address", Subject: "com.acme.Address", Version: 1}) {
		t.Fatalf("references: %+v", p.Schema.References)
	}
	vals := r.values("people")
	got := testenv.Node(t, `
const sr = require("@confluentinc/schemaregistry");
(async () => {
  const client = sr.SchemaRegistryClient.newClient({baseURLs: [process.argv[1]]});
  const de = new sr.AvroDeserializer(client, sr.SerdeType.VALUE, {});
  const v = await de.deserialize("people", Buffer.from(process.argv[2], "hex"));
  process.stdout.write(JSON.stringify(v, (k, x) => typeof x === "bigint" ? Number(x) : x));
})().catch(e => { console.error(e); process.exit(1); });`, nil, r.reg, vals[0])
	if string(got) != personLine {
		t.Fatalf("Confluent's AvroDeserializer read %s, want %s", got, personLine)
	}
	ok(t, run(t, r.env, personLine+"\n", "produce", "-t", "people"), "produce again")
	if vals2 := r.values("people"); len(vals2) != 2 || vals2[1] != vals[0] {
		t.Fatalf("second run wrote %v, first %s", vals2, vals[0])
	}
	if n := subjectNames(r.subjects()); n != "com.acme.Address(1) people-value(1)" {
		t.Fatalf("second run changed the registry: %s", n)
	}
}

// With --normalize the registered text is Avro's Parsing Canonical Form:
// avsc's canonical schema for a schema without references, and for Person
// the canonical form with the referenced Address written by name.
func TestAvroNormalizeRegistersCanonicalForm(t *testing.T) {
	r := newRegEnv(t)
	standalone := `{"type":"record","namespace":"com.acme","name":"Reading","doc":"a reading",
  "fields":[{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"},"doc":"when","default":0},
    {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"],"default":"A"}},
    {"name":"raw","type":{"type":"fixed","name":"Raw","namespace":"x.y","size":2}},
    {"name":"more","type":["null",{"type":"map","values":{"type":"array","items":"Kind"}}],"default":null}]}`
	if err := os.WriteFile(filepath.Join(r.schema, "com", "acme", "Reading.avsc"), []byte(standalone), 0o644); err != nil {
		t.Fatal(err)
	}
	ok(t, run(t, r.env, `{"at":5,"kind":"B","raw":"ab","more":null}`, "encode", "--schema", "com.acme.Reading", "--wire", "confluent", "--normalize"), "encode --normalize")
	ok(t, run(t, r.env, personLine+"\n", "produce", "-t", "people", "--normalize"), "produce --normalize")
	subs := r.subjects()
	want := string(testenv.Node(t, `const avsc = require("avsc");
process.stdout.write(JSON.stringify(avsc.Type.forSchema(JSON.parse(process.argv[1])).getSchema()));`, nil, standalone))
	if got := subs["com.acme.Reading-value"]; len(got) != 1 || got[0].Schema.Schema != want {
		t.Fatalf("com.acme.Reading-value: %+v\nwant avsc's canonical form %s", got, want)
	}
	wantPerson := `{"name":"com.acme.Person","type":"record","fields":[{"name":"id","type":"long"},{"name":"home","type":"com.acme.Address"},{"name":"tag","type":{"name":"com.acme.Tag","type":"record","fields":[{"name":"t","type":"string"}]}}]}`
	wantAddress := `{"name":"com.acme.Address","type":"record","fields":[{"name":"city","type":"string"}]}`
	if p, a := subs["people-value"], subs["com.acme.Address"]; len(p) != 1 || p[0].Schema.Schema != wantPerson || len(a) != 1 || a[0].Schema.Schema != wantAddress {
		t.Fatalf("people-value %+v\ncom.acme.Address %+v", p, a)
	}
}

// stripComments is a .proto text as another tool prints it: no comments,
// no blank lines.
func stripComments(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if s := strings.TrimSpace(l); s != "" && !strings.HasPrefix(s, "//") {
			out = append(out, s)
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// A protobuf value subject another client registered with its import as a
// reference under a subject of its own choosing, in its own text layout:
// deimos produce (proto_schema_registry) uses that version's id and adds no
// version and no subject; the message decodes.
func TestProtoRegistrationUsesOtherClientsVersion(t *testing.T) {
	ctx := context.Background()
	addrs := testenv.Brokers(t, 1, "gadgets")
	reg := testenv.Registry(t)
	protos, err := filepath.Abs(filepath.Join("..", "..", "testdata", "protos"))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	money, err := cl.CreateSchema(ctx, "money-subject", sr.Schema{Type: sr.TypeProtobuf,
		Schema: stripComments(t, filepath.Join(protos, "com", "acme", "common", "money.proto"))})
	if err != nil {
		t.Fatal(err)
	}
	widget, err := cl.CreateSchema(ctx, "gadgets-value", sr.Schema{Type: sr.TypeProtobuf,
		Schema:     stripComments(t, filepath.Join(protos, "com", "acme", "widget.proto")),
		References: []sr.SchemaReference{{Name: "com/acme/common/money.proto", Subject: "money-subject", Version: money.Version}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "deimos.yaml")
	body := fmt.Sprintf(`kafka: {brokers: [%s]}
schema: {path: %s, registry: {url: %s}}
topics:
  - {name: gadgets, backend: proto_schema_registry, schema: com.acme.Gadget, key_config: {none: true}}
`, addrs[0], protos, reg.URL())
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	e := []string{"DEIMOS_CONFIG=" + cfg}
	ok(t, run(t, e, `{"id":"g1","part":{"name":"p","qty":3}}`+"\n", "produce", "-t", "gadgets"), "produce")
	got := parse(t, ok(t, run(t, e, "", "consume", "-t", "gadgets", "-e"), "consume"))
	if len(got) != 1 || got[0].Error != "" || !strings.Contains(string(got[0].Value), `"qty":3`) {
		t.Fatalf("consumed %+v", got)
	}
	r := &regEnv{t: t, cl: cl}
	subs := r.subjects()
	if subjectNames(subs) != "gadgets-value(1) money-subject(1)" {
		t.Fatalf("deimos changed the registry: %s", subjectNames(subs))
	}
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		testenv.Missing(t, "kcat")
	}
	raw, err := exec.Command(kcat, "-b", addrs[0], "-C", "-t", "gadgets", "-c", "1", "-e", "-q", "-f", `%s`).Output()
	if err != nil || len(raw) < 5 {
		t.Fatalf("kcat -C: %v %x", err, raw)
	}
	if id := int(raw[1])<<24 | int(raw[2])<<16 | int(raw[3])<<8 | int(raw[4]); id != widget.ID {
		t.Fatalf("deimos framed schema id %d, want the other client's %d", id, widget.ID)
	}
}
