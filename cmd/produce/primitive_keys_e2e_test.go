package produce_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/internal/testenv"
)

// primitiveKeyOracle runs Confluent's JavaScript serdes against the registry:
// it serializes "abc" as a string key (auto-registering, as a Confluent
// producer does) and 42 as a long key (with the latest registered key
// schema: the JS serializer would infer "int" for 42), and deserializes the
// key bytes deimos wrote.
const primitiveKeyOracle = `
const sr = require("@confluentinc/schemaregistry");
const [url, strHex, longHex] = process.argv.slice(1);
(async () => {
  const client = sr.SchemaRegistryClient.newClient({baseURLs: [url], cacheCapacity: 10});
  const str = new sr.AvroSerializer(client, sr.SerdeType.KEY, {autoRegisterSchemas: true});
  const lng = new sr.AvroSerializer(client, sr.SerdeType.KEY, {useLatestVersion: true});
  const de = new sr.AvroDeserializer(client, sr.SerdeType.KEY, {});
  const out = {
    str: (await str.serialize("kstr", "abc")).toString("hex"),
    long: (await lng.serialize("klong", 42)).toString("hex"),
    strDecoded: await de.deserialize("kstr", Buffer.from(strHex, "hex")),
    longDecoded: await de.deserialize("klong", Buffer.from(longHex, "hex")),
  };
  process.stdout.write(JSON.stringify(out));
})().catch(e => { console.error(e); process.exit(1); });
`

// Keys under a primitive Avro key schema (key_config schema: string / long):
// produce and encode write the same bytes as Confluent's AvroSerializer, under
// the same id in <topic>-key (no new version when the JS producer registers
// "string" again), and Confluent's AvroDeserializer reads deimos's keys.
func TestPrimitiveKeysMatchConfluentSerializer(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		testenv.Missing(t, "kcat")
	}
	addrs := testenv.Brokers(t, 1, "kstr", "klong")
	reg := testenv.Registry(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "com", "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	count := `{"type":"record","name":"Count","namespace":"com.acme","fields":[{"name":"n","type":"long"}]}`
	if err := os.WriteFile(filepath.Join(dir, "com", "acme", "Count.avsc"), []byte(count), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "deimos.yaml")
	body := fmt.Sprintf(`kafka: {brokers: [%s]}
schema: {path: %s, registry: {url: %s}}
topics:
  - {name: kstr, backend: avro_schema_registry, schema: Count, namespace: com.acme, key_config: {schema: string}}
  - {name: klong, backend: avro_schema_registry, schema: Count, namespace: com.acme, key_config: {schema: long}}
`, addrs[0], dir, reg.URL())
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	e := []string{"DEIMOS_CONFIG=" + cfg}
	ok(t, run(t, e, `{"n":1}`+"\n", "produce", "-t", "kstr", "-k", "abc"), "produce kstr")
	ok(t, run(t, e, `{"n":2}`+"\n", "produce", "-t", "klong", "-k", "42"), "produce klong")
	keys := map[string]string{}
	for _, topic := range []string{"kstr", "klong"} {
		out, err := exec.Command(kcat, "-b", addrs[0], "-C", "-t", topic, "-c", "1", "-e", "-q", "-f", `%k`).Output()
		if err != nil {
			t.Fatalf("kcat -C %s: %v", topic, err)
		}
		keys[topic] = hex.EncodeToString(out)
		k := "abc"
		if topic == "klong" {
			k = "42"
		}
		enc := ok(t, run(t, e, `{"n":1}`, "encode", "--topic", topic, "-k", k, "--with-key", "--output-encoding", "hex"), "encode "+topic)
		if got, _, _ := strings.Cut(enc, "\t"); got != keys[topic] {
			t.Fatalf("%s: encode wrote key %s, produce sent %s", topic, got, keys[topic])
		}
	}
	var js struct {
		Str, Long   string
		StrDecoded  string
		LongDecoded int64
	}
	if err := json.Unmarshal(testenv.Node(t, primitiveKeyOracle, nil, reg.URL(), keys["kstr"], keys["klong"]), &js); err != nil {
		t.Fatal(err)
	}
	if js.Str != keys["kstr"] || js.Long != keys["klong"] {
		t.Fatalf("key bytes differ from Confluent's AvroSerializer:\n string: deimos %s, JS %s\n long:   deimos %s, JS %s",
			keys["kstr"], js.Str, keys["klong"], js.Long)
	}
	if js.StrDecoded != "abc" || js.LongDecoded != 42 {
		t.Fatalf("Confluent's AvroDeserializer read deimos's keys as %q and %d", js.StrDecoded, js.LongDecoded)
	}
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	for subject, schema := range map[string]string{"kstr-key": `"string"`, "klong-key": `"long"`} {
		ss, err := cl.Schemas(context.Background(), subject)
		if err != nil || len(ss) != 1 || ss[0].Schema.Schema != schema {
			t.Fatalf("%s: want one version %s, got %+v %v", subject, schema, ss, err)
		}
	}
}
