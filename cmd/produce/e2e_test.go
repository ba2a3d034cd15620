package produce_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/db"
	"github.com/deimos-cli/deimos/pkg/kafkaclient"
	"github.com/deimos-cli/deimos/pkg/migrate"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// binary is the real deimos binary (built once per test run, or make test's).
func binary(t *testing.T) string { return testenv.Binary(t) }

type result struct {
	out, err string
	code     int
}

func run(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return result{o.String(), e.String(), code}
}

func ok(t *testing.T, r result, what string) string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: exit %d\nstderr: %s", what, r.code, r.err)
	}
	return r.out
}

type env struct {
	Topic         string            `json:"topic"`
	Partition     int32             `json:"partition"`
	Offset        int64             `json:"offset"`
	Timestamp     string            `json:"timestamp"`
	Key           json.RawMessage   `json:"key"`
	KeyEncoding   string            `json:"key_encoding"`
	Value         json.RawMessage   `json:"value"`
	ValueEncoding string            `json:"value_encoding"`
	Headers       []json.RawMessage `json:"headers"`
	Error         string            `json:"error"`
}

func parse(t *testing.T, out string) []env {
	t.Helper()
	var es []env
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var e env
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("bad envelope %q: %v", l, err)
		}
		es = append(es, e)
	}
	return es
}

// same compares everything but topic and offset.
func same(a, b env) bool {
	a.Topic, b.Topic, a.Offset, b.Offset = "", "", 0, 0
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestEnvelopeRoundTripLossless(t *testing.T) {
	addrs := testenv.Brokers(t, 3, "src", "dst")
	e := []string{"DEIMOS_BROKERS=" + strings.Join(addrs, ",")}
	in := strings.Join([]string{
		`{"topic":"src","partition":2,"offset":0,"timestamp":"2024-05-01T10:00:00.123Z","key":null,"value":{"a":1},"value_encoding":"json"}`,
		`{"topic":"src","partition":0,"offset":1,"timestamp":"2024-05-01T10:00:01.000Z","key":"","key_encoding":"string","value":"","value_encoding":"string"}`,
		`{"topic":"src","partition":1,"offset":2,"timestamp":"2024-05-01T10:00:02.000Z","key":"/wA=","key_encoding":"base64","value":null,"headers":[{"key":"n","value":null},{"key":"e","value":""},{"key":"b","value":"AAE=","value_encoding":"base64"}]}`,
		`{"topic":"src","partition":1,"offset":3,"timestamp":"2024-05-01T10:00:03.000Z","key":"k","key_encoding":"string","value":"{\"a\": 1}","value_encoding":"string"}`,
	}, "\n") + "\n"
	ok(t, run(t, e, in, "produce"), "produce envelope")
	src := parse(t, ok(t, run(t, e, "", "consume", "-t", "src", "-e"), "consume src"))
	if len(src) != 4 {
		t.Fatalf("src has %d records", len(src))
	}
	byTS := map[string]env{}
	for _, r := range src {
		byTS[r.Timestamp] = r
	}
	for _, l := range strings.Split(strings.TrimSpace(in), "\n") {
		var want env
		_ = json.Unmarshal([]byte(l), &want)
		if got := byTS[want.Timestamp]; !same(got, want) {
			t.Errorf("not lossless:\n got %+v\nwant %+v", got, want)
		}
	}
	// consume | produce into another topic keeps everything
	ok(t, run(t, e, ok(t, run(t, e, "", "consume", "-t", "src", "-e"), "consume"), "produce", "-t", "dst"), "copy")
	dst := parse(t, ok(t, run(t, e, "", "consume", "-t", "dst", "-e", "--output", "json"), "consume dst"))
	if len(dst) != 4 {
		t.Fatalf("dst has %d", len(dst))
	}
	for _, d := range dst {
		if !same(d, byTS[d.Timestamp]) {
			t.Errorf("copy differs: %+v vs %+v", d, byTS[d.Timestamp])
		}
	}
}

func TestProduceFlagsAndErrors(t *testing.T) {
	addrs := testenv.Brokers(t, 3, "f")
	e := []string{"DEIMOS_BROKERS=" + strings.Join(addrs, ",")}
	ok(t, run(t, e, "k1\t{\"x\":1}\nk2\t\n", "produce", "-t", "f", "-K", `\t`, "-H", "a=1", "-H", "b:2", "-Z"), "produce -K")
	ok(t, run(t, e, "{\"x\":2}\n", "produce", "-t", "f", "-p", "2", "-k", "k1"), "produce -p")
	got := parse(t, ok(t, run(t, e, "", "consume", "-t", "f", "-e"), "consume"))
	if len(got) != 3 {
		t.Fatalf("got %d", len(got))
	}
	var sawTomb, sawP2 bool
	for _, r := range got {
		if string(r.Key) == `"k2"` && string(r.Value) == "null" && len(r.Headers) == 2 {
			sawTomb = true
		}
		if r.Partition == 2 && string(r.Value) == `{"x":2}` {
			sawP2 = true
		}
		if string(r.Key) == `"k1"` && r.Partition != 2 && r.Partition != int32(kafkaclient.PartitionFor("crc32", []byte("k1"), 3)) {
			t.Errorf("k1 on partition %d", r.Partition)
		}
	}
	if !sawTomb || !sawP2 {
		t.Fatalf("tombstone %v, partition 2 %v: %+v", sawTomb, sawP2, got)
	}

	r := run(t, e, "{\"x\":1}\n{bad\n", "produce", "-t", "f", "--schema-backend", "json", "--key-config", "none")
	if r.code != 1 || !strings.Contains(r.err, "line 2") {
		t.Fatalf("malformed line: exit %d, %s", r.code, r.err)
	}
	start := time.Now()
	r = run(t, []string{"DEIMOS_BROKERS=127.0.0.1:1"}, "{}\n", "produce", "-t", "f", "--timeout", "2s")
	if r.code != 3 || time.Since(start) > 20*time.Second {
		t.Fatalf("dead broker: exit %d after %s: %s", r.code, time.Since(start), r.err)
	}
	r = run(t, e, "", "consume", "-t", "missing-topic", "-e")
	if r.code != 3 || !strings.Contains(r.err, "missing-topic") {
		t.Fatalf("unknown topic: exit %d: %s", r.code, r.err)
	}
	dry := ok(t, run(t, e, "{\"x\":1}\n", "produce", "-t", "f", "-k", "k1", "--dry-run"), "dry run")
	if !strings.Contains(dry, fmt.Sprintf(`"partition":%d`, kafkaclient.PartitionFor("crc32", []byte("k1"), 3))) || !strings.Contains(dry, `"key":"azE="`) {
		t.Fatalf("dry run: %s", dry)
	}
}

const widgetSchema = `{"type":"record","name":"Widget","namespace":"com.acme","fields":[
 {"name":"id","type":"long"},{"name":"name","type":"string"},{"name":"price","type":["null","double"],"default":null}]}`

func schemaDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "com", "acme")
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "Widget.avsc"), []byte(widgetSchema), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestAvroBackendsRoundTrip(t *testing.T) {
	addrs := testenv.Brokers(t, 3, "reg", "loc", "copy")
	reg := testenv.Registry(t)
	sd := schemaDir(t)
	cfg := filepath.Join(t.TempDir(), "deimos.yaml")
	body := fmt.Sprintf(`kafka: {brokers: [%s]}
schema: {path: %s, registry: {url: %s}}
topics:
  - {name: reg, backend: avro_schema_registry, schema: Widget, namespace: com.acme, key_config: {field: id}}
  - {name: loc, backend: avro_local, schema: Widget, namespace: com.acme, key_config: {plain: true}}
  - {name: copy, backend: avro_schema_registry, schema: Widget, namespace: com.acme, key_config: {field: id}}
`, addrs[0], sd, reg.URL())
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	e := []string{"DEIMOS_CONFIG=" + cfg}
	in := `{"id":1,"name":"a","price":1.5}` + "\n" + `{"id":2,"name":"b","price":null}` + "\n"
	ok(t, run(t, e, in, "produce", "-t", "reg"), "produce reg")
	ok(t, run(t, e, in, "produce", "-t", "loc", "-k", "7"), "produce loc")

	for _, topic := range []string{"reg", "loc"} {
		got := parse(t, ok(t, run(t, e, "", "consume", "-t", topic, "-e"), "consume "+topic))
		if len(got) != 2 {
			t.Fatalf("%s: %d records", topic, len(got))
		}
		for _, r := range got {
			if r.Error != "" || r.ValueEncoding != "json" || !strings.Contains(string(r.Value), `"name":`) {
				t.Fatalf("%s not decoded: %+v", topic, r)
			}
		}
	}
	// raw bytes are Confluent-framed for the registry backend
	raw := ok(t, run(t, e, "", "consume", "-t", "reg", "-e", "--no-decode", "-f", `%s\n`), "raw")
	if raw == "" || strings.Contains(raw, `"name"`) {
		t.Fatalf("raw looks decoded: %q", raw)
	}
	// decoded envelopes re-encode to identical bytes on a topic with the same schema
	env1 := ok(t, run(t, e, "", "consume", "-t", "reg", "-e"), "consume")
	ok(t, run(t, e, env1, "produce", "-t", "copy"), "copy")
	a := ok(t, run(t, e, "", "consume", "-t", "reg", "-e", "--no-decode", "-f", `%p %k %s\n`), "a")
	b := ok(t, run(t, e, "", "consume", "-t", "copy", "-e", "--no-decode", "-f", `%p %k %s\n`), "b")
	// partitions are read concurrently: compare as sets of "partition key value" lines
	if sortLines(a) != sortLines(b) {
		t.Fatalf("re-encoded bytes differ:\n%q\n%q", a, b)
	}
	// an unconfigured consumer decodes by magic byte through the registry
	e2 := []string{"DEIMOS_BROKERS=" + addrs[0], "DEIMOS_REGISTRY_URL=" + reg.URL()}
	got := parse(t, ok(t, run(t, e2, "", "consume", "-t", "reg", "-e"), "auto decode"))
	if len(got) != 2 || got[0].ValueEncoding != "json" || got[0].Error != "" {
		t.Fatalf("auto decode: %+v", got)
	}
	// a field that does not fit the schema names the line
	r := run(t, e, `{"id":1,"name":"a"}`+"\n"+`{"id":"x","name":"b"}`+"\n", "produce", "-t", "reg")
	if r.code != 1 || !strings.Contains(r.err, "line 2") {
		t.Fatalf("bad field: exit %d %s", r.code, r.err)
	}
	// undecodable records are printed with an error and counted; --strict exits 1
	ok(t, run(t, e2, "\x00\x00\x00\x00\x63xx\n", "produce", "-t", "reg"), "garbage")
	got = parse(t, ok(t, run(t, e2, "", "consume", "-t", "reg", "-e"), "with garbage"))
	var bad []env
	for _, r := range got {
		if r.Error != "" {
			bad = append(bad, r)
		}
	}
	if len(bad) != 1 || bad[0].ValueEncoding != "base64" {
		t.Fatalf("garbage not reported once: %+v", got)
	}
	if r := run(t, e2, "", "consume", "-t", "reg", "-e", "--strict"); r.code != 1 {
		t.Fatalf("--strict exit %d", r.code)
	}
}

// produce --backend outbox writes Deimos's rows in one transaction: a bad
// line writes nothing. On every dialect.
func TestOutboxBackend(t *testing.T) {
	for _, dl := range testenv.Dialects(t) {
		t.Run(dl.Name, func(t *testing.T) { testOutboxBackend(t, dl.URL(t)) })
	}
}

func testOutboxBackend(t *testing.T, url string) {
	ctx := context.Background()
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := migrate.Up(ctx, d, []string{"outbox"}); err != nil {
		t.Fatal(err)
	}
	e := []string{"DEIMOS_DB=" + url, "DEIMOS_BROKERS=127.0.0.1:1"}
	ok(t, run(t, e, "{\"id\":1}\n{\"id\":2}\n", "produce", "-t", "w", "--backend", "outbox", "--schema-backend", "json", "--key-config", "field:id"), "outbox")
	r := run(t, e, "{\"id\":3}\nnot json\n", "produce", "-t", "w", "--backend", "outbox", "--schema-backend", "json", "--key-config", "field:id")
	if r.code != 1 || !strings.Contains(r.err, "line 2") {
		t.Fatalf("bad line: exit %d %s", r.code, r.err)
	}
	rows, err := d.QueryContext(ctx, "SELECT topic, message, "+d.Q("key")+", partition_key FROM kafka_messages ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var topic, msg, key, pk string
		if err := rows.Scan(&topic, &msg, &key, &pk); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s|%s|%s|%s", topic, msg, key, pk))
	}
	want := `w|{"id":1}|{"id":1}|1,w|{"id":2}|{"id":2}|2`
	if strings.Join(got, ",") != want {
		t.Fatalf("kafka_messages = %v, want %s (the failed run must write nothing)", got, want)
	}
}

func TestKcatInterop(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		testenv.Missing(t, "kcat")
	}
	addrs := testenv.Brokers(t, 6, "kc")
	b := strings.Join(addrs, ",")
	e := []string{"DEIMOS_BROKERS=" + b}
	kc := exec.Command(kcat, "-b", b, "-P", "-t", "kc", "-K", ":")
	kc.Stdin = strings.NewReader("user-42:{\"from\":\"kcat\"}\n")
	if out, err := kc.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v %s", err, out)
	}
	ok(t, run(t, e, "{\"from\":\"deimos\"}\n", "produce", "-t", "kc", "-k", "user-42"), "produce")
	got := parse(t, ok(t, run(t, e, "", "consume", "-t", "kc", "-e"), "consume"))
	if len(got) != 2 || got[0].Partition != got[1].Partition {
		t.Fatalf("a key from kcat and from deimos must share a partition: %+v", got)
	}
	out, err := exec.Command(kcat, "-b", b, "-C", "-t", "kc", "-e", "-q", "-f", `%k|%s\n`).CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -C: %v %s", err, out)
	}
	if !strings.Contains(string(out), `user-42|{"from":"deimos"}`) || !strings.Contains(string(out), `user-42|{"from":"kcat"}`) {
		t.Fatalf("kcat read: %s", out)
	}
}

func sortLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// Protobuf topics round-trip through produce and consume from the binary:
// decoded JSON out, the envelope re-produced to identical bytes, and an
// unconfigured consumer decoding registry-framed protobuf by magic byte.
func TestProtoBackendsRoundTrip(t *testing.T) {
	addrs := testenv.Brokers(t, 2, "preg", "ploc", "pcopy")
	reg := testenv.Registry(t)
	_, file, _, _ := runtime.Caller(0)
	protos := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "protos")
	cfg := filepath.Join(t.TempDir(), "deimos.yaml")
	body := fmt.Sprintf(`kafka: {brokers: [%s]}
schema: {path: %s, registry: {url: %s}}
topics:
  - {name: preg, backend: proto_schema_registry, schema: com.acme.Gadget, key_config: {field: id}}
  - {name: ploc, backend: proto_local, schema: com.acme.Gadget, key_config: {plain: true}}
  - {name: pcopy, backend: proto_schema_registry, schema: com.acme.Gadget, key_config: {field: id}}
`, addrs[0], protos, reg.URL())
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	e := []string{"DEIMOS_CONFIG=" + cfg}
	in := `{"id":"g1","part":{"name":"p","qty":3}}` + "\n" + `{"id":"g2","part":{"name":"q","qty":4}}` + "\n"
	ok(t, run(t, e, in, "produce", "-t", "preg"), "produce preg")
	ok(t, run(t, e, in, "produce", "-t", "ploc", "-k", "seven"), "produce ploc")
	for _, topic := range []string{"preg", "ploc"} {
		got := parse(t, ok(t, run(t, e, "", "consume", "-t", topic, "-e"), "consume "+topic))
		if len(got) != 2 {
			t.Fatalf("%s: %d records", topic, len(got))
		}
		for _, r := range got {
			if r.Error != "" || r.ValueEncoding != "json" || !strings.Contains(string(r.Value), `"qty":`) {
				t.Fatalf("%s not decoded: %+v", topic, r)
			}
			if topic == "preg" && string(r.Key) != `"g1"` && string(r.Key) != `"g2"` {
				t.Fatalf("preg key = %s", r.Key)
			}
			if topic == "ploc" && string(r.Key) != `"seven"` {
				t.Fatalf("ploc key = %s", r.Key)
			}
		}
	}
	env1 := ok(t, run(t, e, "", "consume", "-t", "preg", "-e"), "consume")
	ok(t, run(t, e, env1, "produce", "-t", "pcopy"), "copy")
	a := ok(t, run(t, e, "", "consume", "-t", "preg", "-e", "--no-decode", "-f", `%p %k %s\n`), "a")
	b := ok(t, run(t, e, "", "consume", "-t", "pcopy", "-e", "--no-decode", "-f", `%p %k %s\n`), "b")
	if a == "" || sortLines(a) != sortLines(b) {
		t.Fatalf("re-encoded protobuf bytes differ:\n%q\n%q", a, b)
	}
	e2 := []string{"DEIMOS_BROKERS=" + addrs[0], "DEIMOS_REGISTRY_URL=" + reg.URL()}
	got := parse(t, ok(t, run(t, e2, "", "consume", "-t", "preg", "-e"), "auto decode"))
	if len(got) != 2 || got[0].ValueEncoding != "json" || got[0].Error != "" || !strings.Contains(string(got[0].Value), `"part":{"name":`) {
		t.Fatalf("auto decode: %+v", got)
	}
}

// consume against a dead broker: a clear error naming the problem within
// --timeout, exit 3. Ctrl-C (SIGINT) on the real binary while it waits for
// more records with -g: what was printed is complete, committed, exit 0.
func TestConsumeDeadBrokerAndSigint(t *testing.T) {
	start := time.Now()
	r := run(t, []string{"DEIMOS_BROKERS=127.0.0.1:1"}, "", "consume", "-t", "x", "-e", "--timeout", "2s")
	if r.code != 3 || time.Since(start) > 20*time.Second || !strings.Contains(r.err, "reach") {
		t.Fatalf("dead broker: exit %d after %s: %s", r.code, time.Since(start), r.err)
	}

	addrs := testenv.Brokers(t, 2, "sig")
	e := []string{"DEIMOS_BROKERS=" + addrs[0]}
	in := ""
	for i := 0; i < 5; i++ {
		in += fmt.Sprintf(`{"i":%d}`+"\n", i)
	}
	ok(t, run(t, e, in, "produce", "-t", "sig", "--schema-backend", "json", "--key-config", "none"), "produce")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "consume", "-t", "sig", "-g", "sigg")
	cmd.Env = append(os.Environ(), e...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []string
	for len(got) < 5 {
		select {
		case l := <-lines:
			got = append(got, l)
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d lines before timeout; stderr: %s", len(got), errb.String())
		}
	}
	// Ctrl-C while it waits for more: once the group has committed what was printed
	adm := kadm.NewClient(newClient(t, addrs))
	testenv.WaitFor(t, 30*time.Second, "group sigg to commit the 5 printed records", func() bool {
		offs, err := adm.FetchOffsets(ctx, "sigg")
		if err != nil {
			return false
		}
		var at int64
		offs.Each(func(o kadm.OffsetResponse) { at += o.At })
		return at == 5
	})
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for l := range lines {
		got = append(got, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGINT: %v; stderr: %s", err, errb.String())
	}
	if len(got) != 5 {
		t.Fatalf("printed %d lines: %q", len(got), got)
	}
	for _, l := range got {
		var v env
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("truncated output line %q: %v", l, err)
		}
	}
	// the group committed everything printed: a new run with the group sees only new records
	ok(t, run(t, e, `{"i":5}`+"\n", "produce", "-t", "sig", "--schema-backend", "json", "--key-config", "none"), "produce 2")
	after := parse(t, ok(t, run(t, e, "", "consume", "-t", "sig", "-g", "sigg", "-e"), "consume again"))
	if len(after) != 1 || string(after[0].Value) != `{"i":5}` {
		t.Fatalf("after Ctrl-C the group should resume after the printed records, got %+v", after)
	}
}

func newClient(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
