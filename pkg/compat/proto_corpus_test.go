package compat

import (
	"fmt"
	"io/fs"
	"testing"
)

// Protobuf evolution corpus: verdicts from the Confluent Schema Registry's
// protobuf rules (SchemaDiff.COMPATIBLE_CHANGES and the diff classes:
// MessageSchemaDiff, FieldSchemaDiff, OneOfDiff). BACKWARD diffs old → new,
// FORWARD diffs new → old, FULL is both.
type protoCase struct {
	name      string
	old, new  string
	imports   map[string][2]string // import path → (old, new) content
	back, fwd bool
	source    string
}

const (
	cfRule  = "Confluent SchemaDiff.COMPATIBLE_CHANGES"
	cfField = "Confluent FieldSchemaDiff"
	cfOneof = "Confluent MessageSchemaDiff/OneOfDiff"
	cfWire  = "Confluent FieldSchemaDiff scalar groups (protobuf wire types)"
)

func p3(body string) string { return "syntax = \"proto3\";\npackage acme;\n" + body }
func p2(body string) string { return "syntax = \"proto2\";\npackage acme;\n" + body }
func w3(fields string) string {
	return p3("message Widget {\n" + fields + "\n}\n")
}
func w2(fields string) string {
	return p2("message Widget {\n" + fields + "\n}\n")
}

var scalarTypes = []string{"int32", "int64", "uint32", "uint64", "bool", "sint32", "sint64", "string", "bytes", "fixed32", "sfixed32", "fixed64", "sfixed64", "float", "double"}

var wireGroup = map[string]string{
	"int32": "varint", "int64": "varint", "uint32": "varint", "uint64": "varint", "bool": "varint",
	"sint32": "zigzag", "sint64": "zigzag", "string": "len", "bytes": "len",
	"fixed32": "f32", "sfixed32": "f32", "fixed64": "f64", "sfixed64": "f64", "float": "float", "double": "double",
}

func protoCases() []protoCase {
	common := func(units string) string {
		return "syntax = \"proto3\";\npackage acme.common;\nmessage Money {\n  " + units + "\n}\n"
	}
	withImport := p3("import \"common.proto\";\nmessage Widget {\n  acme.common.Money price = 1;\n}\n")
	cs := []protoCase{
		{name: "add field", old: w3("string id = 1;"), new: w3("string id = 1;\n string name = 2;"), back: true, fwd: true, source: cfRule + ": FIELD_ADDED/FIELD_REMOVED"},
		{name: "remove field", old: w3("string id = 1;\n string name = 2;"), new: w3("string id = 1;"), back: true, fwd: true, source: cfRule + ": FIELD_REMOVED"},
		{name: "remove field and reserve", old: w3("string id = 1;\n string name = 2;"), new: w3("string id = 1;\n reserved 2;\n reserved \"name\";"), back: true, fwd: true, source: cfRule},
		{name: "remove field without reserving it", old: w3("string id = 1;\n string name = 2;"), new: w3("string id = 1;"), back: true, fwd: true, source: cfRule + " (default STRICT policy; only the LOGICAL policy of schema-registry PR #4589 flags it)"},
		{name: "unreserve a number and reuse it with another kind", old: w3("string id = 1;\n reserved 2 to 4;"), new: w3("string id = 1;\n int64 qty = 3;"), back: true, fwd: true, source: cfRule + " (default STRICT policy; LOGICAL would flag the shrunk reserved range)"},
		{name: "reuse reserved number", old: w3("string id = 1;\n reserved 3;"), new: w3("string id = 1;\n int64 qty = 3;"), back: true, fwd: true, source: cfRule + ": reserved ranges are not consulted"},
		{name: "rename field", old: w3("string id = 1;"), new: w3("string key = 1;"), back: true, fwd: true, source: cfRule + ": FIELD_NAME_CHANGED"},
		{name: "renumber field", old: w3("string id = 1;"), new: w3("string id = 2;"), back: true, fwd: true, source: cfRule + ": seen as FIELD_REMOVED + FIELD_ADDED"},
		{name: "int32 to message", old: p3("message Dim { int32 w = 1; }\nmessage Widget { int32 d = 1; }"), new: p3("message Dim { int32 w = 1; }\nmessage Widget { Dim d = 1; }"), back: false, fwd: false, source: cfField + ": FIELD_KIND_CHANGED"},
		{name: "string to enum", old: p3("enum C { A = 0; }\nmessage Widget { string c = 1; }"), new: p3("enum C { A = 0; }\nmessage Widget { C c = 1; }"), back: false, fwd: false, source: cfField + ": FIELD_SCALAR_KIND_CHANGED"},
		{name: "int32 to enum", old: p3("enum C { A = 0; }\nmessage Widget { int32 c = 1; }"), new: p3("enum C { A = 0; }\nmessage Widget { C c = 1; }"), back: true, fwd: true, source: cfField + ": enums are in the varint group"},
		{name: "enum to other enum", old: p3("enum C { A = 0; }\nenum D { X = 0; }\nmessage Widget { C c = 1; }"), new: p3("enum C { A = 0; }\nenum D { X = 0; }\nmessage Widget { D c = 1; }"), back: true, fwd: true, source: cfField},
		{name: "message type to other message", old: p3("message A { int32 x = 1; }\nmessage B { int32 x = 1; }\nmessage Widget { A v = 1; }"), new: p3("message A { int32 x = 1; }\nmessage B { int32 x = 1; }\nmessage Widget { B v = 1; }"), back: false, fwd: false, source: cfField + ": FIELD_NAMED_TYPE_CHANGED"},
		{name: "referenced message gains field", old: p3("message Dim { int32 w = 1; }\nmessage Widget { Dim d = 1; }"), new: p3("message Dim { int32 w = 1; int32 h = 2; }\nmessage Widget { Dim d = 1; }"), back: true, fwd: true, source: cfRule},
		{name: "referenced message field type changed", old: p3("message Dim { int32 w = 1; }\nmessage Widget { Dim d = 1; }"), new: p3("message Dim { string w = 1; }\nmessage Widget { Dim d = 1; }"), back: false, fwd: false, source: cfField},
		{name: "remove unused message", old: p3("message Old { int32 x = 1; }\nmessage Widget { int32 id = 1; }"), new: p3("message Widget { int32 id = 1; }"), back: false, fwd: true, source: cfRule + ": MESSAGE_REMOVED"},
		{name: "add message", old: p3("message Widget { int32 id = 1; }"), new: p3("message Widget { int32 id = 1; }\nmessage Extra { int32 x = 1; }"), back: true, fwd: false, source: cfRule + ": MESSAGE_ADDED; FORWARD sees MESSAGE_REMOVED"},
		{name: "rename message", old: p3("message Widget { int32 id = 1; }"), new: p3("message Gadget { int32 id = 1; }"), back: false, fwd: false, source: cfRule + ": MESSAGE_REMOVED both ways"},
		{name: "package changed", old: w3("int32 id = 1;"), new: "syntax = \"proto3\";\npackage other;\nmessage Widget { int32 id = 1; }\n", back: false, fwd: false, source: cfRule + ": PACKAGE_CHANGED"},
		{name: "package added", old: "syntax = \"proto3\";\nmessage Widget { int32 id = 1; }\n", new: w3("int32 id = 1;"), back: false, fwd: false, source: cfRule + ": PACKAGE_CHANGED"},
		{name: "add nested message", old: w3("int32 id = 1;"), new: w3("int32 id = 1;\n message Inner { int32 x = 1; }"), back: true, fwd: false, source: cfRule},
		{name: "remove nested message", old: w3("int32 id = 1;\n message Inner { int32 x = 1; }"), new: w3("int32 id = 1;"), back: false, fwd: true, source: cfRule},
		{name: "reorder messages", old: p3("message A { int32 x = 1; }\nmessage Widget { int32 id = 1; }"), new: p3("message Widget { int32 id = 1; }\nmessage A { int32 x = 1; }"), back: true, fwd: true, source: cfRule + ": MESSAGE_MOVED"},
		{name: "add enum", old: w3("int32 id = 1;"), new: p3("enum E { Z = 0; }\nmessage Widget { int32 id = 1; }"), back: true, fwd: true, source: cfRule + ": ENUM_ADDED/ENUM_REMOVED"},
		{name: "remove enum", old: p3("enum E { Z = 0; }\nmessage Widget { int32 id = 1; }"), new: w3("int32 id = 1;"), back: true, fwd: true, source: cfRule},
		{name: "add enum constant", old: p3("enum E { Z = 0; }\nmessage Widget { E e = 1; }"), new: p3("enum E { Z = 0; Y = 1; }\nmessage Widget { E e = 1; }"), back: true, fwd: true, source: cfRule + ": ENUM_CONST_ADDED"},
		{name: "remove enum constant", old: p3("enum E { Z = 0; Y = 1; }\nmessage Widget { E e = 1; }"), new: p3("enum E { Z = 0; }\nmessage Widget { E e = 1; }"), back: true, fwd: true, source: cfRule + ": ENUM_CONST_REMOVED"},
		{name: "rename enum constant", old: p3("enum E { Z = 0; Y = 1; }\nmessage Widget { E e = 1; }"), new: p3("enum E { Z = 0; W = 1; }\nmessage Widget { E e = 1; }"), back: true, fwd: true, source: cfRule + ": ENUM_CONST_CHANGED"},
		{name: "renumber enum constant", old: p3("enum E { Z = 0; Y = 1; }\nmessage Widget { E e = 1; }"), new: p3("enum E { Z = 0; Y = 2; }\nmessage Widget { E e = 1; }"), back: true, fwd: true, source: cfRule},
		{name: "proto2 repeated int32 to optional", old: w2("repeated int32 v = 1;"), new: w2("optional int32 v = 1;"), back: false, fwd: false, source: cfField + ": FIELD_NUMERIC_LABEL_CHANGED"},
		{name: "proto2 repeated string to optional", old: w2("repeated string v = 1;"), new: w2("optional string v = 1;"), back: true, fwd: true, source: cfField + ": FIELD_STRING_OR_BYTES_LABEL_CHANGED is compatible"},
		{name: "proto3 repeated int32 to implicit", old: w3("repeated int32 v = 1;"), new: w3("int32 v = 1;"), back: true, fwd: true, source: cfField + ": labels compared only when both are written"},
		{name: "proto3 implicit to optional", old: w3("int32 v = 1;"), new: w3("optional int32 v = 1;"), back: true, fwd: true, source: cfField},
		{name: "proto3 repeated int32 to optional", old: w3("repeated int32 v = 1;"), new: w3("optional int32 v = 1;"), back: false, fwd: false, source: cfField + ": FIELD_NUMERIC_LABEL_CHANGED"},
		{name: "proto3 repeated double to optional", old: w3("repeated double v = 1;"), new: w3("optional double v = 1;"), back: false, fwd: false, source: cfField},
		{name: "proto2 add required field", old: w2("optional int32 id = 1;"), new: w2("optional int32 id = 1;\n required string name = 2;"), back: false, fwd: false, source: cfRule + ": REQUIRED_FIELD_ADDED / REQUIRED_FIELD_REMOVED"},
		{name: "proto2 remove required field", old: w2("optional int32 id = 1;\n required string name = 2;"), new: w2("optional int32 id = 1;"), back: false, fwd: false, source: cfRule},
		{name: "proto2 add optional field", old: w2("optional int32 id = 1;"), new: w2("optional int32 id = 1;\n optional string name = 2;"), back: true, fwd: true, source: cfRule},
		{name: "proto2 optional int to required", old: w2("optional int32 id = 1;"), new: w2("required int32 id = 1;"), back: false, fwd: false, source: cfField + ": FIELD_NUMERIC_LABEL_CHANGED"},
		{name: "proto2 optional string to required", old: w2("optional string id = 1;"), new: w2("required string id = 1;"), back: true, fwd: true, source: cfField + ": string/bytes label changes are compatible"},
		{name: "syntax proto2 to proto3", old: w2("optional int32 id = 1;\n optional string name = 2;"), new: w3("int32 id = 1;\n string name = 2;"), back: true, fwd: true, source: cfRule + ": syntax itself is not compared"},
		{name: "syntax proto3 to proto2 keeping repeated", old: w3("repeated int64 ids = 1;"), new: w2("repeated int64 ids = 1;"), back: true, fwd: true, source: cfRule},
		{name: "map value int32 to int64", old: w3("map<string, int32> m = 1;"), new: w3("map<string, int64> m = 1;"), back: true, fwd: true, source: cfField + ": map key/value compared as types"},
		{name: "map value int32 to string", old: w3("map<string, int32> m = 1;"), new: w3("map<string, string> m = 1;"), back: false, fwd: false, source: cfField},
		{name: "map key string to int32", old: w3("map<string, int32> m = 1;"), new: w3("map<int32, int32> m = 1;"), back: false, fwd: false, source: cfField},
		{name: "map to repeated message", old: p3("message E { string key = 1; int32 value = 2; }\nmessage Widget { map<string, int32> m = 1; }"), new: p3("message E { string key = 1; int32 value = 2; }\nmessage Widget { repeated E m = 1; }"), back: false, fwd: false, source: cfField + ": FIELD_KIND_CHANGED"},
		{name: "message to map", old: p3("message E { int32 x = 1; }\nmessage Widget { E m = 1; }"), new: p3("message E { int32 x = 1; }\nmessage Widget { map<string, E> m = 1; }"), back: false, fwd: false, source: cfField},
		{name: "map value message gains field", old: p3("message E { int32 x = 1; }\nmessage Widget { map<string, E> m = 1; }"), new: p3("message E { int32 x = 1; int32 y = 2; }\nmessage Widget { map<string, E> m = 1; }"), back: true, fwd: true, source: cfRule},
		{name: "imported message type changed", old: withImport, new: withImport, imports: map[string][2]string{"common.proto": {common("int64 units = 1;"), common("string units = 1;")}}, back: false, fwd: false, source: cfField + ": referenced schemas compared"},
		{name: "imported message gains field", old: withImport, new: withImport, imports: map[string][2]string{"common.proto": {common("int64 units = 1;"), common("int64 units = 1;\n  string currency = 2;")}}, back: true, fwd: true, source: cfRule},
		{name: "add timestamp field", old: w3("int32 id = 1;"), new: p3("import \"google/protobuf/timestamp.proto\";\nmessage Widget { int32 id = 1; google.protobuf.Timestamp at = 2; }"), back: true, fwd: true, source: cfRule},
		{name: "timestamp to int64", old: p3("import \"google/protobuf/timestamp.proto\";\nmessage Widget { google.protobuf.Timestamp at = 1; }"), new: w3("int64 at = 1;"), back: false, fwd: false, source: cfField + ": FIELD_KIND_CHANGED"},
		{name: "nested type moved to top level", old: w3("message Dim { int32 w = 1; }\n Dim d = 1;"), new: p3("message Dim { int32 w = 1; }\nmessage Widget { Dim d = 1; }"), back: false, fwd: false, source: cfField + ": FIELD_NAMED_TYPE_CHANGED (local names differ)"},
		{name: "fully qualified type name", old: p3("message Dim { int32 w = 1; }\nmessage Widget { Dim d = 1; }"), new: p3("message Dim { int32 w = 1; }\nmessage Widget { .acme.Dim d = 1; }"), back: true, fwd: true, source: cfField},
		{name: "second message changes incompatibly", old: p3("message Widget { int32 id = 1; }\nmessage Other { int32 x = 1; }"), new: p3("message Widget { int32 id = 1; }\nmessage Other { float x = 1; }"), back: false, fwd: false, source: cfWire},
		{name: "deeply nested field type change", old: w3("message A { message B { int64 x = 1; } B b = 1; }\n A a = 1;"), new: w3("message A { message B { bytes x = 1; } B b = 1; }\n A a = 1;"), back: false, fwd: false, source: cfWire},
		{name: "recursive message gains field", old: p3("message Node { int32 v = 1; Node next = 2; }"), new: p3("message Node { int32 v = 1; Node next = 2; string label = 3; }"), back: true, fwd: true, source: cfRule},
		{name: "recursive message field type change", old: p3("message Node { int32 v = 1; Node next = 2; }"), new: p3("message Node { sint32 v = 1; Node next = 2; }"), back: false, fwd: false, source: cfWire},
		{name: "add service", old: w3("int32 id = 1;"), new: p3("message Widget { int32 id = 1; }\nservice S { rpc Get(Widget) returns (Widget); }"), back: true, fwd: true, source: cfRule + ": services are not compared"},
		{name: "file option changed", old: w3("int32 id = 1;"), new: p3("option java_package = \"com.acme\";\nmessage Widget { int32 id = 1; }"), back: true, fwd: true, source: cfRule},
		{name: "comments only", old: w3("int32 id = 1;"), new: w3("// the id\n int32 id = 1; // trailing"), back: true, fwd: true, source: cfRule},
		{name: "int32 to repeated int32 (proto3)", old: w3("int32 v = 1;"), new: w3("repeated int32 v = 1;"), back: true, fwd: true, source: cfField + ": labels compared only when both are written"},
		{name: "nested enum field to other nested enum", old: w3("enum A { X = 0; }\n enum B { Y = 0; }\n A e = 1;"), new: w3("enum A { X = 0; }\n enum B { Y = 0; }\n B e = 1;"), back: true, fwd: true, source: cfField},
	}
	for _, c := range loadOneofCases(nil) {
		cs = append(cs, protoCase{name: "oneof: " + c.Name, old: c.Old, new: c.New, back: c.Backward == "", fwd: c.Forward == "", source: cfOneof + ": " + c.Source})
	}
	for _, o := range scalarTypes {
		for _, n := range scalarTypes {
			if o == n {
				continue
			}
			same := wireGroup[o] == wireGroup[n]
			cs = append(cs, protoCase{name: fmt.Sprintf("scalar %s to %s", o, n), old: w3(o + " v = 1;"), new: w3(n + " v = 1;"), back: same, fwd: same, source: cfWire})
		}
	}
	return cs
}

func protoVersion(label, text string, imports map[string][2]string, side int) Version {
	return Version{Label: label, File: label + ".proto", Data: []byte(text), Import: func(name string) ([]byte, error) {
		if c, ok := imports[name]; ok {
			return []byte(c[side]), nil
		}
		return nil, fs.ErrNotExist
	}}
}

func TestProtoCorpus(t *testing.T) {
	cases := protoCases()
	hand := 0
	for _, c := range cases {
		if len(c.name) < 7 || c.name[:7] != "scalar " {
			hand++
		}
	}
	if len(cases) < 60 || hand < 60 {
		t.Fatalf("corpus has %d cases (%d written by hand), want at least 60 by hand", len(cases), hand)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs := []Version{protoVersion("old", c.old, c.imports, 0), protoVersion("new", c.new, c.imports, 1)}
			for _, m := range []struct {
				mode Mode
				want bool
			}{{Backward, c.back}, {Forward, c.fwd}, {Full, c.back && c.fwd}, {BackwardTransitive, c.back}, {None, true}} {
				res, err := Check(m.mode, Protobuf, vs)
				if err != nil {
					t.Fatalf("%s: %v", m.mode, err)
				}
				if res.Compatible != m.want {
					t.Errorf("%s = %v, want %v (%s); problems: %v", m.mode, res.Compatible, m.want, c.source, res.Problems)
				}
			}
		})
	}
}
