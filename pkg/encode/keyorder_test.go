package encode

import (
	"reflect"
	"testing"
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
