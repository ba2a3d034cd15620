package encode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/deimos-cli/deimos/pkg/config"
)

// appendRecordJSON (schema-directed, from the bytes) is checked against the
// map path it short-cuts: parseJSON + appendPayload, dig for the key field.

func fastDocs(n int) []string {
	docs := oracleRecords(n)
	docs = append(docs,
		` {"id" : 5 , "d" : 1.5 ,"s":"x" } `+"\n",
		`{"id":1,"d":2,"id":3}`,            // duplicate: the last wins
		`{"id":"x","d":2,"id":3}`,          // duplicate: a bad first value
		`{"id":1,"d":2,"tags":["a",1]}`,    // array item not a string
		`{"id":1,"d":2,"tags":["a","b"`,    // truncated
		`{"id":1,"d":2,"tags":["a"],}`,     // trailing comma
		`{"id":1,"d":2} x`,                 // trailing data
		`{"id":1,"d":2,"payload_key":"k"}`, // payload_key: the map path
		`{"id":1,"d":2,"pay\u006coad_key":"k"}`,
		`{"i\u0064":1,"d":2}`, // escaped key
		`{"id":1,"d":2,"s":"a\"b\\c\u00e9\ud83d\ude00"}`,
		`{"id":1,"d":2,"s":"bad \ud800"}`,
		"{\"id\":1,\"d\":2,\"s\":\"\xff\"}",
		"{\"id\":1,\"d\":2,\"s\":\"ctl\x01\"}",
		`{"id":1,"d":2,"opt":"é"}`, `{"id":1,"d":2,"opt":""}`, `{"id":1,"d":2,"opt":5}`,
		`{"id":1,"d":1e400}`, `{"id":1,"d":-0.0}`, `{"id":1,"d":12345678901234567890}`,
		`{"id":12345678901234567890,"d":1}`, `{"id":-9223372036854775808,"d":1}`, `{"id":1e2,"d":1}`,
		`{"id":1,"d":2,"f":3.4028235e39}`, `{"id":1,"d":2,"f":16777217}`,
		`{"id":1,"d":2,"ok":tru}`, `{"id":1,"d":2,"ok":null}`,
		`{"id":1,"d":2,"extra":{"deep":[1,2,{"x":null}]},"more":[]}`,
		`{"id":1,"d":2,"message_id":"m","timestamp":" "}`, `{"id":1,"d":2,"message_id":null}`,
		`{}`, ` `, `[]`, `null`, `"x"`, `{"id":1,"d":2`, `{"id":1,,"d":2}`, `{"id" 1}`, `{id:1}`,
		`{"id":1,"d":-}`, `{"id":01,"d":1}`, `{"id":1,"d":.5}`,
		// maps with several keys: input order, a repeated key in its first place
		`{"id":1,"d":2,"attrs":{"z":1,"a":2,"m":3}}`, `{"id":1,"d":2,"attrs":{"z":1,"a":2,"z":3}}`,
		`{"attrs":{"b":1,"a":2},"id":1,"d":2,"sub":{"b":null,"a":"x"}}`,
	)
	return docs
}

func TestAppendRecordJSONMatchesMapPath(t *testing.T) {
	a := oracleAvro(t, oracleSchema)
	fast, slow := 0, 0
	for _, rec := range fastDocs(3000) {
		for _, keyField := range []string{"", "id", "s", "sub", "extra", "sub.a"} {
			got, info, ok := appendRecordJSON([]byte{9}, a.t, []byte(rec), keyField)
			if !ok {
				slow++
				continue
			}
			fast++
			ord := &keyOrder{}
			v, err := parseJSONOrdered([]byte(rec), ord)
			if err != nil {
				t.Fatalf("%s: fast path took invalid JSON: %v", rec, err)
			}
			pm, isMap := v.(map[string]any)
			if !isMap {
				t.Fatalf("%s: fast path took a non-object", rec)
			}
			if _, has := pm["payload_key"]; has || len(pm) == 0 {
				t.Fatalf("%s: fast path took payload_key or {}", rec)
			}
			want, err := a.appendPayload([]byte{9}, v, ord)
			if err != nil {
				t.Fatalf("%s: fast path took a payload the map path rejects: %v", rec, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s:\nmap path %x\nfast     %x", rec, want, got)
			}
			if keyField != "" {
				kv, has := pm[keyField]
				if has != info.keyFound || !reflect.DeepEqual(kv, info.key) {
					t.Fatalf("%s: key %q: fast %v %#v, map %v %#v", rec, keyField, info.keyFound, info.key, has, kv)
				}
			}
			mid, hasMid := pm["message_id"]
			ts, hasTs := pm["timestamp"]
			if info.midBlank != blank(mid, hasMid) || info.tsBlank != blank(ts, hasTs) {
				t.Fatalf("%s: blank message_id/timestamp: fast %v/%v", rec, info.midBlank, info.tsBlank)
			}
		}
	}
	if fast < 3000 || slow < 200 {
		t.Fatalf("too few cases: %d fast, %d map path", fast, slow)
	}
}

// Engine.Encode from JSON bytes (the fast path when it applies) gives the
// same key, value, partition key and error as from the parsed map (always
// the map path), across key_config modes and with auto-filled fields.
func TestEncodeFastMatchesMapPath(t *testing.T) {
	reg := registryClient(t)
	cfg := testCfg()
	cfg.Schema.Registry = config.Registry{URL: "unused"}
	e := newTestEngine(t, cfg, reg)
	ctx := context.Background()
	specs := []Spec{
		{Topic: "w1", Backend: "avro_schema_registry", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "id"}},
		{Topic: "w2", Backend: "avro_schema_registry", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "name"}},
		{Topic: "w3", Backend: "avro_schema_registry", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{Plain: true}},
		{Topic: "w4", Backend: "avro_schema_registry", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{None: true}},
		{Topic: "w5", Backend: "avro_schema_registry", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{Schema: "WidgetKey"}},
		{Topic: "w6", Backend: "avro_schema_registry", Schema: "Widget", Namespace: "com.acme"},
		// (avro_local's container files have random sync markers: raw wire only)
		{Topic: "w7", Backend: "avro_schema_registry", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "id"}, Wire: "raw"},
		{Topic: "w8", Backend: "avro_local", Schema: "Widget", Namespace: "com.acme", Wire: "raw"},
		{Topic: "w9", Backend: "avro_validation", Schema: "Widget", Namespace: "com.acme"},
		{Topic: "e1", Backend: "avro_schema_registry", Schema: "Event", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "event_id"}},
		{Topic: "b1", Backend: "avro_schema_registry", Schema: "Bench", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "id"}},
	}
	r := rand.New(rand.NewSource(3))
	pick := func(xs ...string) string { // mostly the first (valid) one
		if r.Intn(3) > 0 {
			return xs[0]
		}
		return xs[r.Intn(len(xs))]
	}
	var docs []string
	for len(docs) < 600 {
		var f []string
		add := func(name string, vs ...string) {
			if r.Intn(6) > 0 {
				f = append(f, fmt.Sprintf("%q:%s", name, pick(vs...)))
			}
		}
		add("id", fmt.Sprint(r.Int63()-r.Int63()), `"12"`, "1.5", "null")
		add("name", `"widget"`, `"ü \"q\""`, "7", "null")
		add("price", "9.99", "10", `"1.5"`, "true")
		add("active", "true", "false", `"true"`)
		add("tags", `[]`, `["a","b"]`, `["a",2]`)
		add("color", "null", `"RED"`, `"PINK"`)
		add("dimensions", "null", `{"width":1,"height":2.5}`, `{"width":1}`)
		add("amount", "null", `"12.34"`, "5")
		add("made_on", "null", `"2024-02-29"`)
		add("updated_at", "null", "1714979289000", `"2024-05-06T07:08:09Z"`)
		add("ref", "null", `"123e4567-e89b-12d3-a456-426614174000"`, `"bad"`)
		add("message_id", `"m-1"`, "null", `""`)
		add("timestamp", `"2024-01-01 00:00:00 UTC"`, "null", `" "`)
		add("event_id", `"ev"`, "3")
		add("at", "1714979289000", `"2024-05-06T07:08:09Z"`)
		add("count", "null", "3", `"x"`)
		add("qty", "3", "2147483648")
		add("sku", `"S"`)
		add("category", "null", `"c"`)
		add("weight", "1.25", "0")
		add("created", "1714979289000")
		add("note", "null", `"n"`)
		add("region", `"eu"`)
		if r.Intn(10) == 0 {
			add("payload_key", `"pk"`, `{"id":5,"region":"eu"}`, "null")
		}
		add("unknown", `{"a":[1]}`, "1")
		r.Shuffle(len(f), func(i, j int) { f[i], f[j] = f[j], f[i] })
		docs = append(docs, "{"+strings.Join(f, ",")+"}")
	}
	docs = append(docs, `{}`, `{"id":1,"name":"x","price":1}`, `{"id":1,"name":"x","price":1,"message_id":"m","timestamp":"t"}`)
	keys := []any{nil, "k1", json.Number("5")}
	ok, failed, fast := 0, 0, 0
	for _, s := range specs {
		name := e.backendName(s)
		be, err := e.backend(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range docs {
			var v any
			if err := json.Unmarshal([]byte(d), &v); err != nil {
				t.Fatal(err)
			}
			pv, _ := parseJSON([]byte(d))
			m := Message{Value: json.RawMessage(d), Key: keys[i%len(keys)]}
			got, gerr := e.Encode(ctx, s, m)
			if _, took := e.encodeFast(be, s, m, s.KeyConfig.Mode()); took {
				fast++
			}
			m.Value = pv
			want, werr := e.Encode(ctx, s, m)
			if fmt.Sprint(gerr) != fmt.Sprint(werr) {
				t.Fatalf("%s %s:\nbytes error %v\nmap error   %v", s.Topic, d, gerr, werr)
			}
			if werr != nil {
				failed++
				continue
			}
			ok++
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s %s:\nbytes %+v\nmap   %+v", s.Topic, d, got, want)
			}
		}
	}
	if ok < 1000 || failed < 500 || fast < 500 {
		t.Fatalf("too few cases: %d encoded (%d by the fast path), %d failed", ok, fast, failed)
	}
}

// BenchmarkEncodeKeyed is what produce does per line of the benchmark
// (scripts/bench/produce-consume.sh): registry framing, key_config field.
func BenchmarkEncodeKeyed(b *testing.B) {
	cfg := testCfg()
	e := newTestEngine(b, cfg, registryClient(b))
	s := Spec{Topic: "bench", Backend: "avro_schema_registry", Schema: "Bench", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: "id"}}
	in := json.RawMessage(benchJSON)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := e.Encode(ctx, s, Message{Value: in}); err != nil {
			b.Fatal(err)
		}
	}
}

// encodeKey's single-field shortcut writes what appendPayload writes for
// {field: key}, and fails the same way.
func TestEncodeKeyFieldShortcut(t *testing.T) {
	e := newTestEngine(t, nil, nil)
	ab := &avroBackend{e: e, wire: "raw"}
	ctx := context.Background()
	for _, field := range []string{"id", "name", "price", "color", "tags", "amount", "updated_at"} {
		s := Spec{Topic: "k", Schema: "Widget", Namespace: "com.acme", KeyConfig: config.KeyConfig{Field: field}}
		ent, err := ab.resolve(s, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{`5`, `-1.5`, `"x"`, `"RED"`, `null`, `true`, `["a"]`, `[1]`, `"12.5"`, `"2024-05-06T07:08:09Z"`, `{"a":1}`} {
			kv, _ := parseJSON([]byte(k))
			got, _, gerr := ab.encodeKey(ctx, s, kv)
			want, werr := ent.sch.appendPayload(nil, map[string]any{field: kv}, nil)
			if fmt.Sprint(gerr) != fmt.Sprint(werr) || !bytes.Equal(got, want) {
				t.Fatalf("%s=%s: shortcut %x %v, map %x %v", field, k, got, gerr, want, werr)
			}
		}
	}
}
