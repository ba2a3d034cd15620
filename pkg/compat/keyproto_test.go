package compat

import (
	"testing"

	"github.com/deimos-cli/deimos/pkg/encode/protobuf"
)

// TestDeimosKeyProto pins the key .proto bytes to what Deimos's
// write_key_proto (schema_registry_client's ProtoText writer) produces:
// no blank line between syntax and package, one blank line before the
// message, two-space indent, one trailing newline.
func TestDeimosKeyProto(t *testing.T) {
	dir := t.TempDir()
	write(t, dir+"/sample/v1/sample.proto", `syntax = "proto3";
package sample.v1;
enum Kind { KIND_UNSPECIFIED = 0; KIND_A = 1; }
message SampleMessage {
  string str = 1;
  int32 num = 2;
  repeated string tags = 3;
  map<string, int64> counts = 4;
  optional int64 maybe = 5;
  int64 old_id = 6 [deprecated = true];
  Kind kind = 7;
}
`)
	md, err := protobuf.NewLoader(dir).Message("sample.v1.SampleMessage")
	if err != nil {
		t.Fatal(err)
	}
	head := "syntax = \"proto3\";\npackage sample.v1;\n\nmessage SampleMessageKey {\n"
	for field, line := range map[string]string{
		"str":    "  string str = 1;\n",
		"num":    "  int32 num = 2;\n",
		"tags":   "  repeated string tags = 3;\n",
		"counts": "  map<string, int64> counts = 4;\n",
		"maybe":  "  optional int64 maybe = 5;\n",
		"old_id": "  int64 old_id = 6 [deprecated = true];\n",
		"kind":   "  Kind kind = 7;\n",
	} {
		rel, got, err := deimosKeyProto(md, field)
		if err != nil {
			t.Fatalf("%s: %v", field, err)
		}
		if rel != "sample/v1/sample_message_key.proto" {
			t.Errorf("%s: path %q", field, rel)
		}
		if want := head + line + "}\n"; string(got) != want {
			t.Errorf("%s:\n%q\nwant\n%q", field, got, want)
		}
	}
	if _, _, err := deimosKeyProto(md, "nope"); err == nil {
		t.Error("unknown field: want an error")
	}
	if _, _, err := deimosKeyProto(md, "a.b"); err == nil {
		t.Error("dotted field: want an error")
	}
}
