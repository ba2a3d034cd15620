package compat

import "testing"

// TestTransitiveModes: v3 is compatible with v2 but not with v1, so the
// non-transitive levels pass and the transitive ones fail (Confluent: a
// transitive level compares with every earlier version).
func TestTransitiveModes(t *testing.T) {
	avro := []string{
		`{"type":"record","name":"W","fields":[{"name":"x","type":"int"}]}`,
		`{"type":"record","name":"W","fields":[]}`,
		`{"type":"record","name":"W","fields":[{"name":"x","type":"string","default":""}]}`,
	}
	proto := []string{
		"syntax = \"proto3\";\nmessage W {\n  int32 x = 1;\n}\n",
		"syntax = \"proto3\";\nmessage W {\n}\n",
		"syntax = \"proto3\";\nmessage W {\n  string x = 1;\n}\n",
	}
	want := map[Mode]bool{
		Backward: true, Forward: true, Full: true, None: true,
		BackwardTransitive: false, ForwardTransitive: false, FullTransitive: false,
	}
	for typ, texts := range map[Type][]string{Avro: avro, Protobuf: proto} {
		var vs []Version
		for i, s := range texts {
			name := []string{"v1", "v2", "v3"}[i]
			vs = append(vs, Version{Label: name, File: name, Data: []byte(s)})
		}
		for _, m := range Modes {
			res, err := Check(m, typ, vs)
			if err != nil {
				t.Fatalf("%s %s: %v", typ, m, err)
			}
			if res.Compatible != want[m] {
				t.Errorf("%s %s = %v, want %v: %+v", typ, m, res.Compatible, want[m], res.Problems)
			}
			if !res.Compatible && res.Problems[0].Old != "v1" {
				t.Errorf("%s %s: the problem should be against v1, got %+v", typ, m, res.Problems[0])
			}
		}
	}
}
