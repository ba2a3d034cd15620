#!/usr/bin/env python3
"""Writes proto_oneof_cases.json: the protobuf oneof corpus for pkg/compat.

Every oneof situation of the Confluent Schema Registry's protobuf diff
fixtures, and the ones an outside check found deimos wrong on, written as our
own .proto pairs. Each case gives the Confluent rule (a Difference type
outside SchemaDiff.COMPATIBLE_CHANGES) expected for BACKWARD, which diffs old
-> new, and for FORWARD, which diffs new -> old ("" means compatible; several
rules are listed sorted, comma-separated). The
expectations follow Confluent's current MessageSchemaDiff (every field
compared by number across oneofs; see docs/schema-compat.md).
"""
import json, os
def m(body, syntax="proto3"):
    return 'syntax = "%s";\npackage acme;\n\nmessage Order {\n%s\n}\n' % (syntax, "\n".join("  " + l for l in body.strip().split("\n")))
MF="MULTIPLE_FIELDS_MOVED_TO_ONEOF"; FE="FIELD_MOVED_TO_EXISTING_ONEOF"; OR="ONEOF_FIELD_REMOVED"; SK="FIELD_SCALAR_KIND_CHANGED"; KC="FIELD_KIND_CHANGED"
cases = [
 # situations of Confluent's protobuf diff fixtures, in our own words
 ("top-level field moved into a new oneof that also gets a new member",
  "string sku = 1;\nstring coupon = 2;",
  "string sku = 1;\noneof discount {\n  string coupon = 2;\n  int32 percent = 3;\n}", "", OR,
  "fixture: compatible field to oneof change (FORWARD: the old schema lacks oneof member 3)"),
 ("two top-level fields moved into a new oneof",
  "string sku = 1;\nstring coupon = 2;",
  "oneof ident {\n  string sku = 1;\n  string coupon = 2;\n  int32 legacy_id = 3;\n}", MF, OR,
  "fixture: incompatible field to oneof change"),
 ("member added to a oneof",
  "oneof pay {\n  string card = 1;\n  string iban = 2;\n}",
  "oneof pay {\n  string card = 1;\n  string iban = 2;\n  int64 voucher = 3;\n}", "", OR,
  "fixture: compatible add field to oneof (ONEOF_FIELD_ADDED)"),
 ("member removed from a oneof",
  "oneof pay {\n  string card = 1;\n  string iban = 2;\n  int64 voucher = 3;\n}",
  "oneof pay {\n  string card = 1;\n  string iban = 2;\n}", OR, "",
  "fixture: incompatible remove field from oneof"),
 ("single top-level field moved into a new oneof",
  "string sku = 1;\nstring coupon = 2;",
  "string sku = 1;\noneof discount {\n  string coupon = 2;\n}", "", "",
  "fixture: compatible move field to oneof (FORWARD: a member moved out to top level)"),
 ("top-level field moved into an existing oneof",
  "string sku = 1;\noneof pay {\n  string card = 2;\n  string iban = 3;\n}",
  "oneof pay {\n  string sku = 1;\n  string card = 2;\n  string iban = 3;\n}", FE, "",
  "fixture: incompatible move field to oneof (FIELD_MOVED_TO_EXISTING_ONEOF)"),
 ("top-level field moved into an existing oneof that is renamed",
  "string sku = 1;\noneof pay {\n  string card = 2;\n  string iban = 3;\n}",
  "oneof payment {\n  string sku = 1;\n  string card = 2;\n  string iban = 3;\n}", FE, "",
  "fixture: incompatible move field to renamed oneof"),
 # the cases the outside check found, and their neighbours
 ("member moved between two oneofs with different names",
  "oneof pay {\n  string card = 1;\n  string iban = 2;\n}\noneof ship {\n  string address = 3;\n}",
  "oneof pay {\n  string card = 1;\n}\noneof ship {\n  string iban = 2;\n  string address = 3;\n}", FE, FE,
  "issue 11: a field moved between two oneofs"),
 ("two oneofs merged into a new oneof",
  "oneof pay {\n  string card = 1;\n}\noneof ship {\n  string address = 2;\n}",
  "oneof choice {\n  string card = 1;\n  string address = 2;\n}", FE, "",
  "issue 11: two oneofs merged into a new oneof"),
 ("second oneof merged into the first",
  "oneof pay {\n  string card = 1;\n}\noneof ship {\n  string address = 2;\n}",
  "oneof pay {\n  string card = 1;\n  string address = 2;\n}", FE, "",
  "merge variant"),
 ("oneof split into two",
  "oneof choice {\n  string card = 1;\n  string address = 2;\n}",
  "oneof pay {\n  string card = 1;\n}\noneof ship {\n  string address = 2;\n}", "", FE,
  "the merge read the other way"),
 ("member removed while the oneof is renamed",
  "oneof pay {\n  string card = 1;\n  string iban = 2;\n}",
  "oneof payment {\n  string card = 1;\n}", OR, "",
  "issue 11: ONEOF_FIELD_REMOVED across a rename"),
 ("member added while the oneof is renamed",
  "oneof pay {\n  string card = 1;\n}",
  "oneof payment {\n  string card = 1;\n  string iban = 2;\n}", "", OR,
  "the rename case read the other way"),
 ("one member moved to top level, the other removed with the oneof",
  "oneof pay {\n  string card = 1;\n  string iban = 2;\n}",
  "string card = 1;", OR, "",
  "a removal the oneof's disappearance must not hide"),
 ("oneof renamed",
  "oneof pay {\n  string card = 1;\n  string iban = 2;\n}",
  "oneof payment {\n  string card = 1;\n  string iban = 2;\n}", "", "",
  "ONEOF_REMOVED + ONEOF_ADDED, members unchanged"),
 ("oneof removed with all its members",
  "int64 id = 1;\noneof pay {\n  string card = 2;\n  string iban = 3;\n}",
  "int64 id = 1;", "", "",
  "ONEOF_REMOVED: a complete deletion, like removing plain fields"),
 ("oneof added with new members",
  "int64 id = 1;",
  "int64 id = 1;\noneof pay {\n  string card = 2;\n  string iban = 3;\n}", "", "",
  "ONEOF_ADDED"),
 ("member moved out of a oneof to top level",
  "oneof pay {\n  string card = 1;\n  string iban = 2;\n}",
  "oneof pay {\n  string card = 1;\n}\nstring iban = 2;", "", FE,
  "moving out only relaxes mutual exclusion"),
 ("two top-level fields moved into an existing oneof",
  "string sku = 1;\nstring ean = 2;\noneof pay {\n  string card = 3;\n}",
  "oneof pay {\n  string sku = 1;\n  string ean = 2;\n  string card = 3;\n}", MF, "",
  "MULTIPLE_FIELDS_MOVED_TO_ONEOF wins over FIELD_MOVED_TO_EXISTING_ONEOF"),
 ("oneof member renamed",
  "oneof pay {\n  string card = 1;\n}",
  "oneof pay {\n  string card_token = 1;\n}", "", "",
  "FIELD_NAME_CHANGED is compatible"),
 ("oneof member type changed",
  "oneof pay {\n  string card = 1;\n  int64 voucher = 2;\n}",
  "oneof pay {\n  string card = 1;\n  string voucher = 2;\n}", SK, SK,
  "FieldSchemaDiff inside a oneof"),
 ("member type changed while the oneof is renamed",
  "oneof pay {\n  string card = 1;\n  int64 voucher = 2;\n}",
  "oneof payment {\n  string card = 1;\n  double voucher = 2;\n}", SK, SK,
  "fields are compared by number whatever their oneof"),
 ("member type changed while moved to top level",
  "oneof pay {\n  string card = 1;\n  int64 voucher = 2;\n}",
  "oneof pay {\n  string card = 1;\n}\nstring voucher = 2;", SK, FE + "," + SK,
  "fields are compared by number whatever their oneof"),
 ("field kind changed while moved into a oneof",
  "int64 qty = 1;\nmessage Qty {\n  int64 n = 1;\n}",
  "oneof amount {\n  Qty qty = 1;\n}\nmessage Qty {\n  int64 n = 1;\n}", KC, KC,
  "fields are compared by number whatever their oneof"),
 ("proto3 optional field moved into an existing oneof",
  "optional string sku = 1;\noneof pay {\n  string card = 2;\n}",
  "oneof pay {\n  string sku = 1;\n  string card = 2;\n}", FE, "",
  "an optional field is a top-level field to the registry"),
]
out=[]
for name, o, n, b, f, src in cases:
    out.append({"name": name, "source": src, "old": m(o), "new": m(n), "backward": b, "forward": f})
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "proto_oneof_cases.json"), "w") as fh:
    fh.write(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
