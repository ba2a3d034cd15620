package encode

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/errs"
)

// Bytes that are not valid UTF-8 decode to an array of byte values, which
// encode accepts back: decode -> encode gives the same bytes.
func TestBytesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "t"), 0o755); err != nil {
		t.Fatal(err)
	}
	sch := `{"type":"record","name":"B","namespace":"t","fields":[{"name":"b","type":"bytes"},{"name":"f","type":{"type":"fixed","name":"F2","size":2}},{"name":"u","type":["null","bytes"],"default":null}]}`
	if err := os.WriteFile(filepath.Join(dir, "t", "B.avsc"), []byte(sch), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t, &config.Config{Schema: config.Schema{Path: dir}}, nil)
	s := Spec{Backend: "avro_local", Schema: "B", Namespace: "t", Wire: "raw"}
	for _, tc := range []struct {
		bin  []byte
		json string
	}{
		{[]byte{2, 0xe9, 0xe9, 0xe9, 0}, `{"b":[233],"f":[233,233],"u":null}`},
		{[]byte{4, 0xc3, 0xa9, 0xc3, 0xa9, 2, 4, 0, 0xff}, `{"b":"é","f":"é","u":[0,255]}`},
		{[]byte{0, 'o', 'k', 2, 2, 'x'}, `{"b":"","f":"ok","u":"x"}`},
	} {
		d := dec(t, e, s, nil, tc.bin)
		if string(d.Value) != tc.json {
			t.Fatalf("decode %x = %s, want %s", tc.bin, d.Value, tc.json)
		}
		out := enc(t, e, s, Message{Value: []byte(d.Value)})
		if string(out.Value) != string(tc.bin) {
			t.Fatalf("re-encode of %s = %x, want %x", d.Value, out.Value, tc.bin)
		}
	}
	_, err := e.Encode(context.Background(), s, Message{Value: []byte(`{"b":[256],"f":"ok"}`)})
	if err == nil || !strings.Contains(err.Error(), "B.b") {
		t.Fatalf("a byte value over 255 must be a field error: %v", err)
	}
}

// Decoding with a local reader schema follows Avro schema resolution:
// numeric promotion, string<->bytes, reader unions, enum defaults.
func TestReaderPromotionAndEnumDefault(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "com", "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	reader := `{"type":"record","name":"R","namespace":"com.acme","fields":[
		{"name":"a","type":"long"},{"name":"f","type":"double"},
		{"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"],"default":"X"}},
		{"name":"s","type":"bytes"},{"name":"u","type":["null","double"]}]}`
	if err := os.WriteFile(filepath.Join(dir, "com", "acme", "R.avsc"), []byte(reader), 0o644); err != nil {
		t.Fatal(err)
	}
	cl := registryClient(t)
	e := newTestEngine(t, &config.Config{Schema: config.Schema{Path: dir}}, cl)
	text, err := e.AvroSchemaText("R", "com.acme")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, `"symbols":["X","Y"],"default":"X"`) {
		t.Fatalf("the enum default must stay in the registered schema text: %s", text)
	}
	writer := `{"type":"record","name":"R","namespace":"com.acme","fields":[
		{"name":"a","type":"int"},{"name":"f","type":"float"},
		{"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y","Z"]}},
		{"name":"s","type":"string"},{"name":"u","type":"int"}]}`
	ss, err := cl.CreateSchema(context.Background(), "r-old-value", sr.Schema{Schema: writer, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	c, err := goavro.NewCodec(writer)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := c.BinaryFromNative(nil, map[string]any{"a": int32(7), "f": float32(0.5), "e": "Z", "s": "hi", "u": int32(3)})
	if err != nil {
		t.Fatal(err)
	}
	d := dec(t, e, Spec{}, nil, ConfluentFrame(ss.ID, nil, bin))
	if want := `{"a":7,"f":0.5,"e":"X","s":"hi","u":3}`; string(d.Value) != want {
		t.Fatalf("got %s, want %s", d.Value, want)
	}
	// float -> double shows the double value of the float
	bin, _ = c.BinaryFromNative(nil, map[string]any{"a": int32(7), "f": float32(0.1), "e": "Y", "s": "hi", "u": int32(3)})
	d = dec(t, e, Spec{}, nil, ConfluentFrame(ss.ID, nil, bin))
	if got := field(t, d.Value, "f"); got != float64(float32(0.1)) {
		t.Fatalf("f = %v, want %v", got, float64(float32(0.1)))
	}
	// a reader that cannot read the writer type is an error, not wrong data
	bad := `{"type":"record","name":"R","namespace":"com.acme","fields":[{"name":"a","type":"string"}]}`
	ss, err = cl.CreateSchema(context.Background(), "r-bad-value", sr.Schema{Schema: bad, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	c, _ = goavro.NewCodec(bad)
	bin, _ = c.BinaryFromNative(nil, map[string]any{"a": "x"})
	if _, err := e.Decode(context.Background(), Spec{}, nil, ConfluentFrame(ss.ID, nil, bin)); err == nil || !strings.Contains(err.Error(), "cannot read writer type string") {
		t.Fatalf("want a resolution error, got %v", err)
	}
}

// Unknown ids are cached for a while: garbage does not cost one registry
// request per message.
func TestUnknownIDNegativeCache(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(404)
		_, _ = w.Write([]byte(`{"error_code":40403,"message":"Schema not found"}`))
	}))
	t.Cleanup(srv.Close)
	cl, err := sr.NewClient(sr.URLs(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t, nil, cl)
	for i := 0; i < 50; i++ {
		_, err := e.Decode(context.Background(), Spec{}, nil, []byte{0, 0, 0, 0, 42, 2})
		if errs.KindOf(err) != errs.KindFailed || !strings.Contains(err.Error(), "unknown schema id 42") {
			t.Fatalf("want unknown schema id 42 (exit 1), got %v", err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("%d registry requests for one unknown id, want 1", n)
	}
}

// Registry credentials in the URL never appear in errors.
func TestRegistryErrorRedactsCredentials(t *testing.T) {
	cl, err := sr.NewClient(sr.URLs("http://user:s3cret@127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t, nil, cl)
	_, err = e.Decode(context.Background(), Spec{}, nil, []byte{0, 0, 0, 0, 1, 2})
	if errs.KindOf(err) != errs.KindUnavailable {
		t.Fatalf("want unavailable, got %v", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("password in error: %v", err)
	}
	_, err = e.Encode(context.Background(), Spec{Backend: "avro_schema_registry", Schema: "Simple", Namespace: "com.acme"},
		Message{Value: []byte(`{"test_id":"a","some_int":1}`)})
	if err == nil || strings.Contains(err.Error(), "s3cret") || errs.KindOf(err) != errs.KindUnavailable {
		t.Fatalf("encode: want unavailable without the password, got %v", err)
	}
}

// Names from container files do not grow the reader cache without bound.
func TestNoLocalBounded(t *testing.T) {
	e := newTestEngine(t, nil, nil)
	for i := 0; i < maxNoLocal+10; i++ {
		e.readerFor("x.N" + strconv.Itoa(i))
	}
	if n := len(e.noLocal); n > maxNoLocal {
		t.Fatalf("noLocal holds %d names, bound %d", n, maxNoLocal)
	}
}
