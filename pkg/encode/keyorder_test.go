package encode

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/deimos-cli/deimos/pkg/config"
)

func TestParseJSONOrderedKeepsKeyOrder(t *testing.T) {
	for _, doc := range []string{
		`{"c":1,"a":{"z":1,"y":2},"b":[{"q":1,"p":2}]}`,
		// left to encoding/json by the fast parser: the same values and order
		"{\"c\":1,\"a\":{\"z\":\"\xff\",\"y\":2},\"b\":[{\"q\":\"\\ud800\",\"p\":2}]}",
	} {
		ord := &keyOrder{}
		v, err := parseJSONOrdered([]byte(doc), ord)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := decodeJSONUseNumber([]byte(doc)); !reflect.DeepEqual(v, want) {
			t.Fatalf("%q: %#v, encoding/json %#v", doc, v, want)
		}
		m := v.(map[string]any)
		for _, c := range []struct {
			m    map[string]any
			keys []string
		}{
			{m, []string{"c", "a", "b"}},
			{m["a"].(map[string]any), []string{"z", "y"}},
			{m["b"].([]any)[0].(map[string]any), []string{"q", "p"}},
		} {
			if got := ord.keys(c.m); !reflect.DeepEqual(got, c.keys) {
				t.Fatalf("%q: keys %v, want %v", doc, got, c.keys)
			}
		}
	}
}

func TestKeyOrderFallsBackToSorted(t *testing.T) {
	ord := &keyOrder{}
	v, _ := parseJSONOrdered([]byte(`{"b":1,"a":2,"c":3}`), ord)
	m := v.(map[string]any)
	built := map[string]any{"y": 1, "x": 2}
	if got := ord.keys(built); !reflect.DeepEqual(got, []string{"x", "y"}) {
		t.Fatalf("a map built in Go: %v", got)
	}
	var none *keyOrder
	if got := none.keys(m); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("no order: %v", got)
	}
	// a copy with a key dropped and one added follows the original
	cp := map[string]any{"c": 3, "b": 1, "d": 4}
	ord.follow(cp, m)
	if got := ord.keys(cp); !reflect.DeepEqual(got, []string{"b", "c", "d"}) {
		t.Fatalf("copy: %v", got)
	}
	// changed after parsing: the recorded order no longer applies
	delete(m, "a")
	m["z"] = 0
	if got := ord.keys(m); !reflect.DeepEqual(got, []string{"b", "c", "z"}) {
		t.Fatalf("changed map: %v", got)
	}
}

// A JSON key document (what produce passes from an envelope) is parsed by
// the engine: maps in a schema key keep their order too, on the fast path
// and the map path of the value.
func TestEncodeJSONKeyKeepsMapOrder(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "t"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"Val": `{"type":"record","name":"Val","namespace":"t","fields":[{"name":"id","type":"long"}]}`,
		"Key": `{"type":"record","name":"Key","namespace":"t","fields":[{"name":"m","type":{"type":"map","values":"long"}}]}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, "t", name+".avsc"), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e := newTestEngine(t, &config.Config{Schema: config.Schema{Path: dir}}, nil)
	s := Spec{Topic: "k", Backend: "avro_local", Schema: "Val", Namespace: "t", KeyConfig: config.KeyConfig{Schema: "t.Key"}}
	// count 2, "b" 1, "a" 2, end: input order
	want := []byte{0x04, 0x02, 'b', 0x02, 0x02, 'a', 0x04, 0x00}
	for _, value := range []string{`{"id":1}`, `{"id":1,"payload_key":null}`} {
		for i := 0; i < 20; i++ {
			out, err := e.Encode(context.Background(), s, Message{Value: []byte(value), Key: json.RawMessage(`{"m":{"b":1,"a":2}}`)})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(out.Key, want) {
				t.Fatalf("%s: key % x does not hold the map in input order (% x)", value, out.Key, want)
			}
		}
	}
	if _, err := e.Encode(context.Background(), s, Message{Value: []byte(`{"id":1}`), Key: json.RawMessage(`{"m":`)}); err == nil {
		t.Fatal("a broken JSON key was accepted")
	}
}
