package compat

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"
)

// oneofCase is one entry of testdata/compat/proto_oneof_cases.json (written
// by gen_proto_oneof_cases.py): the Confluent rule expected for BACKWARD
// (old -> new) and FORWARD (new -> old), "" for compatible.
type oneofCase struct {
	Name, Source, Old, New string
	Backward, Forward      string
}

func loadOneofCases(t testing.TB) []oneofCase {
	b, err := os.ReadFile("../../testdata/compat/proto_oneof_cases.json")
	if err == nil {
		var cs []oneofCase
		if err = json.Unmarshal(b, &cs); err == nil {
			return cs
		}
	}
	if t != nil {
		t.Fatal(err)
	}
	panic(err)
}

// TestProtoOneofRules: every oneof situation, both directions, with the
// rule that makes it incompatible (and no other).
func TestProtoOneofRules(t *testing.T) {
	cases := loadOneofCases(t)
	if len(cases) < 20 {
		t.Fatalf("only %d oneof cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			vs := []Version{protoVersion("old", c.Old, nil, 0), protoVersion("new", c.New, nil, 1)}
			for _, m := range []struct {
				mode Mode
				want string
			}{{Backward, c.Backward}, {Forward, c.Forward}} {
				res, err := Check(m.mode, Protobuf, vs)
				if err != nil {
					t.Fatalf("%s: %v", m.mode, err)
				}
				rules := map[string]bool{}
				for _, p := range res.Problems {
					rules[p.Rule] = true
				}
				var got []string
				for r := range rules {
					got = append(got, r)
				}
				sort.Strings(got)
				if strings.Join(got, ",") != m.want || res.Compatible != (m.want == "") {
					t.Errorf("%s: rules %v (compatible %v), want %q (%s); problems: %v", m.mode, got, res.Compatible, m.want, c.Source, res.Problems)
				}
			}
		})
	}
}
