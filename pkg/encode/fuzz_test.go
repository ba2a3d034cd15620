package encode

import (
	"context"
	"encoding/json"
	"flag"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/internal/testenv"
	"github.com/deimos-cli/deimos/pkg/config"
	"github.com/deimos-cli/deimos/pkg/encode/protobuf"
)

// TestMain caps the fuzzer's minimization of new interesting inputs at 5s
// unless -fuzzminimizetime is given. Go spends up to 60s (the default) on each
// with a quadratic algorithm and counts none of those execs until it ends, so
// `go test -fuzz` showed "0 execs/s" for minutes on end (golang/go#48820,
// #51484) although decoding never hung: 1KB inputs need ~500k tries.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.fuzzminimizetime" })
	if !set {
		if err := flag.Set("test.fuzzminimizetime", "5s"); err != nil {
			panic(err)
		}
	}
	testenv.Main(m) // runs the tests, then removes the binary testenv built
}

// FuzzDecode: arbitrary bytes never panic, and every decode entry point
// either returns valid JSON or a one-line error. mode picks the entry point
// (see specs below): zero-Spec detection (container files, Confluent framing
// of Avro, JSON Schema and protobuf schemas through srfake, JSON, plain),
// avro_local (container file or bare Avro), avro_schema_registry, json,
// plain, proto_local and proto_schema_registry (with message indexes).
//
// Seeds stay small on purpose (see TestMain): interesting inputs grown from a
// 1.3KB Widget container file kept the fuzzer minimizing for minutes.
func FuzzDecode(f *testing.F) {
	ctx := context.Background()
	cl := registryClient(f)
	avro := newTestEngine(f, nil, cl)
	noReg := newTestEngine(f, nil, nil)
	proto := newTestEngine(f, protoCfg(), cl)
	protoNoReg := newTestEngine(f, protoCfg(), nil)

	simple := Spec{Topic: "fz", Backend: "avro_local", Schema: "Simple", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "test_id"}}
	simpleRaw := simple
	simpleRaw.Wire = "raw"
	simpleReg := simple
	simpleReg.Backend = "avro_schema_registry"
	widgetRaw := Spec{Backend: "avro_local", Schema: "Widget", Namespace: "com.acme", Wire: "raw"}
	pLocal := Spec{Topic: "pz", Backend: "proto_local", Schema: "com.acme.Gadget", KeyConfig: config.KeyConfig{Field: "id"}}
	pReg := Spec{Topic: "pz", Backend: "proto_schema_registry", Schema: "com.acme.Gadget", KeyConfig: config.KeyConfig{Field: "id"}}
	pLocalRaw := pLocal
	pLocalRaw.Wire = "raw"

	type target struct {
		e *Engine
		s Spec
	}
	targets := []target{
		{avro, Spec{}},
		{noReg, Spec{}},
		{avro, simple},
		{avro, simpleRaw},
		{avro, widgetRaw},
		{avro, simpleReg},
		{avro, Spec{Backend: "json", KeyConfig: config.KeyConfig{Field: "id"}}},
		{avro, Spec{Backend: "plain"}},
		{proto, Spec{}},
		{protoNoReg, pLocal},
		{protoNoReg, pLocalRaw},
		{proto, pReg},
		{proto, pLocal},
	}

	seed := func(mode uint8, e *Engine, s Spec, v string) {
		out, err := e.Encode(ctx, s, Message{Value: []byte(v)})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(mode, out.Value)
		if out.Key != nil {
			f.Add(mode, out.Key)
		}
	}
	sv := `{"test_id":"abc","some_int":12}`
	seed(2, avro, simple, sv)
	seed(3, avro, simpleRaw, sv)
	seed(5, avro, simpleReg, sv)
	seed(0, avro, simpleReg, sv)
	seed(4, avro, widgetRaw, `{"id":1,"name":"a","price":1.5,"tags":["x"],"color":"RED","dimensions":{"width":1,"height":2}}`)
	gv := `{"id":"g1","part":{"name":"p","detail":{"note":"n"}}}`
	seed(11, proto, pReg, gv)
	seed(8, proto, pReg, gv)
	seed(9, protoNoReg, pLocal, gv)
	seed(10, protoNoReg, pLocalRaw, gv)
	f.Add(uint8(0), golden)
	f.Add(uint8(0), []byte{0, 0, 0, 0, 1})
	f.Add(uint8(8), protobuf.Frame(1, []int{1, 0, 0}, []byte{0x0a, 0x01, 'x'}))
	f.Add(uint8(0), []byte("Obj\x01"))
	f.Add(uint8(0), []byte(`{"a":1}`))
	f.Add(uint8(6), []byte(`{"id":1}`))
	f.Add(uint8(7), []byte("k-1"))
	f.Add(uint8(0), []byte{0xff, 0xfe})

	f.Fuzz(func(t *testing.T, mode uint8, b []byte) {
		tg := targets[int(mode)%len(targets)]
		check := func(part string, d Decoded, err error) {
			if err != nil {
				if msg := err.Error(); msg == "" || strings.ContainsAny(msg, "\r\n") {
					t.Fatalf("%s: error is not one clear line: %q", part, msg)
				}
				return
			}
			for _, j := range []json.RawMessage{d.Key, d.Value} {
				if j != nil && !json.Valid(j) {
					t.Fatalf("%s: decoded to invalid JSON %q", part, j)
				}
			}
		}
		d, err := tg.e.Decode(ctx, tg.s, b, b)
		check("key+value", d, err)
		d, err = tg.e.Decode(ctx, tg.s, b, nil)
		check("key", d, err)
	})
}
