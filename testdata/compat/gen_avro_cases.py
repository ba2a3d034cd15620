#!/usr/bin/env python3
"""Writes avro_cases.json: the Avro evolution corpus for pkg/compat.

Each case: old and new schema, the expected verdict for BACKWARD (new reads
old) and FORWARD (old reads new), and where the verdict comes from. FULL is
derived (both). Expectations are written from the rules, by hand; the Go test
TestAvroCorpusMatchesPythonAvro re-checks them with python3-avro's port of
Java's SchemaCompatibility when it is installed.
"""
import json, os

SPEC = "Avro spec: schema resolution"
JAVA = "Java SchemaCompatibility"

def rec(fields, name="Widget", ns="com.acme", **kw):
    d = {"type": "record", "name": name, "namespace": ns, "fields": fields}
    if ns is None:
        del d["namespace"]
    d.update(kw)
    return d

def f(name, typ, **kw):
    d = {"name": name, "type": typ}
    d.update(kw)
    return d

def enum(symbols, name="Color", **kw):
    d = {"type": "enum", "name": name, "symbols": symbols}
    d.update(kw)
    return d

cases = []
def case(name, old, new, b, fw, src, pydiff=None):
    c = {"name": name, "old": old, "new": new, "backward": b, "forward": fw, "source": src}
    if pydiff:
        c["python_avro_differs"] = pydiff
    cases.append(c)

ALIASQ = "python3-avro compares aliases without qualifying them with the namespace; Java qualifies them (Schema.Parser), so an unqualified alias matches"

# 1. Every primitive pair, as a field type (64 cases).
prims = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
promo = {("long", "int"), ("float", "int"), ("float", "long"), ("double", "int"), ("double", "long"),
         ("double", "float"), ("bytes", "string"), ("string", "bytes")}  # (reader, writer)
def reads(r, w):
    return r == w or (r, w) in promo
for o in prims:
    for n in prims:
        case(f"field {o} -> {n}", rec([f("v", o)]), rec([f("v", n)]), reads(n, o), reads(o, n), SPEC + ": promotions int→long→float→double, string↔bytes")

# 2. Top-level primitives (8).
for o, n in [("int", "long"), ("long", "int"), ("string", "bytes"), ("float", "double"), ("double", "float"),
             ("int", "string"), ("boolean", "int"), ("null", "null")]:
    case(f"top-level {o} -> {n}", o, n, reads(n, o), reads(o, n), SPEC)

base = [f("id", "long"), f("name", "string")]
# 3. Fields added / removed.
case("add field with default", rec(base), rec(base + [f("qty", "int", default=0)]), True, True, SPEC + ": reader field missing from writer uses its default")
case("add field without default", rec(base), rec(base + [f("qty", "int")]), False, True, JAVA + ": READER_FIELD_MISSING_DEFAULT_VALUE")
case("remove field without default", rec(base + [f("qty", "int")]), rec(base), True, False, SPEC + ": writer field not in reader is ignored")
case("remove field with default", rec(base + [f("qty", "int", default=1)]), rec(base), True, True, SPEC)
case("add nullable field with null default", rec(base), rec(base + [f("note", ["null", "string"], default=None)]), True, True, SPEC)
case("add nullable field without default", rec(base), rec(base + [f("note", ["null", "string"])]), False, True, JAVA + ": READER_FIELD_MISSING_DEFAULT_VALUE")
case("add string field with default", rec(base), rec(base + [f("tag", "string", default="x")]), True, True, SPEC)
case("reorder fields", rec(base), rec(list(reversed(base))), True, True, SPEC + ": fields matched by name")
case("rename field without alias", rec(base), rec([f("id", "long"), f("title", "string")]), False, False, JAVA + ": READER_FIELD_MISSING_DEFAULT_VALUE")
case("rename field with alias", rec(base), rec([f("id", "long"), f("title", "string", aliases=["name"])]), True, False, SPEC + ": reader field aliases")
case("rename field with alias and default", rec(base), rec([f("id", "long"), f("title", "string", aliases=["name"], default="")]), True, False, SPEC + ": the old reader's field name has no default and no match")
case("rename field with default no alias", rec(base), rec([f("id", "long"), f("title", "string", default="")]), True, False, SPEC)
case("add two fields, one without default", rec(base), rec(base + [f("a", "int", default=1), f("b", "int")]), False, True, JAVA)
case("remove all but one field", rec(base + [f("x", "int")]), rec([f("id", "long")]), True, False, SPEC)
case("add array field with empty default", rec(base), rec(base + [f("tags", {"type": "array", "items": "string"}, default=[])]), True, True, SPEC)
case("add map field with empty default", rec(base), rec(base + [f("attrs", {"type": "map", "values": "string"}, default={})]), True, True, SPEC)
case("add record field with default", rec(base), rec(base + [f("dim", rec([f("w", "int")], name="Dim"), default={"w": 0})]), True, True, SPEC)
case("add record field without default", rec(base), rec(base + [f("dim", rec([f("w", "int")], name="Dim"))]), False, True, JAVA)
case("add enum field with default", rec(base), rec(base + [f("color", enum(["RED", "BLUE"]), default="RED")]), True, True, SPEC)
case("add enum field, enum default only", rec(base), rec(base + [f("color", enum(["RED", "BLUE"], default="RED"))]), False, True, JAVA + ": field default required; the enum default does not replace it")
case("field default changed", rec(base + [f("q", "int", default=1)]), rec(base + [f("q", "int", default=2)]), True, True, SPEC)
case("field doc changed", rec(base + [f("q", "int", doc="a")]), rec(base + [f("q", "int", doc="b")]), True, True, SPEC)
case("field order attribute changed", rec(base + [f("q", "int")]), rec(base + [f("q", "int", order="descending")]), True, True, SPEC)

# 4. Nullable changes and unions.
case("make field nullable", rec([f("v", "string")]), rec([f("v", ["null", "string"], default=None)]), True, False, SPEC + ": writer non-union matched against reader union branch")
case("make field non-nullable", rec([f("v", ["null", "string"], default=None)]), rec([f("v", "string")]), False, True, JAVA + ": every writer union branch must be readable")
case("nullable string -> nullable long", rec([f("v", ["null", "string"], default=None)]), rec([f("v", ["null", "long"], default=None)]), False, False, JAVA)
case("add union branch", rec([f("v", ["null", "string"], default=None)]), rec([f("v", ["null", "string", "long"], default=None)]), True, False, JAVA + ": MISSING_UNION_BRANCH")
case("remove union branch", rec([f("v", ["null", "string", "long"], default=None)]), rec([f("v", ["null", "string"], default=None)]), False, True, JAVA + ": MISSING_UNION_BRANCH")
case("reorder union branches", rec([f("v", ["null", "string", "long"], default=None)]), rec([f("v", ["null", "long", "string"], default=None)]), True, True, SPEC + ": branches matched by type")
case("union int -> union long (promoted branch)", rec([f("v", ["null", "int"], default=None)]), rec([f("v", ["null", "long"], default=None)]), True, False, SPEC + ": promotion inside unions")
case("int -> union with long", rec([f("v", "int")]), rec([f("v", ["null", "long"], default=None)]), True, False, SPEC)
case("union with long -> int", rec([f("v", ["null", "long"], default=None)]), rec([f("v", "int")]), False, True, SPEC)
case("string -> union string,bytes", rec([f("v", "string")]), rec([f("v", ["string", "bytes"])]), True, True, SPEC + ": string↔bytes")
case("single branch union -> plain", rec([f("v", ["string"])]), rec([f("v", "string")]), True, True, SPEC)
case("plain -> single branch union", rec([f("v", "string")]), rec([f("v", ["string"])]), True, True, SPEC)
case("union of two records -> one", rec([f("v", [rec([f("a", "int")], name="A"), rec([f("b", "int")], name="B")])]), rec([f("v", [rec([f("a", "int")], name="A")])]), False, True, JAVA)
case("union add record branch", rec([f("v", ["null", rec([f("a", "int")], name="A")], default=None)]), rec([f("v", ["null", rec([f("a", "int")], name="A"), rec([f("b", "int")], name="B")], default=None)]), True, False, JAVA)
case("top-level union add branch", ["null", "string"], ["null", "string", "int"], True, False, JAVA)
case("top-level union -> string", ["null", "string"], "string", False, True, JAVA)
case("nullable int -> nullable double", rec([f("v", ["null", "int"], default=None)]), rec([f("v", ["null", "double"], default=None)]), True, False, SPEC)
case("null -> nullable string", rec([f("v", "null")]), rec([f("v", ["null", "string"])]), True, False, SPEC)
case("union float,string -> double,string", rec([f("v", ["float", "string"])]), rec([f("v", ["double", "string"])]), True, False, SPEC)
case("union of int and long -> long", rec([f("v", ["int", "long"])]), rec([f("v", "long")]), True, True, SPEC + ": the old union's long branch reads long")

# 5. Enums.
E = lambda syms, **kw: rec([f("c", enum(syms, **kw))])
case("enum add symbol", E(["RED", "BLUE"]), E(["RED", "BLUE", "GREEN"]), True, False, JAVA + ": MISSING_ENUM_SYMBOLS")
case("enum remove symbol", E(["RED", "BLUE", "GREEN"]), E(["RED", "BLUE"]), False, True, JAVA + ": MISSING_ENUM_SYMBOLS")
case("enum reorder symbols", E(["RED", "BLUE"]), E(["BLUE", "RED"]), True, True, SPEC + ": symbols matched by name")
case("enum add symbol, old has default", E(["RED", "BLUE"], default="RED"), E(["RED", "BLUE", "GREEN"], default="RED"), True, True, SPEC + ": unknown symbol read as the reader's enum default")
case("enum add symbol, new has default only", E(["RED", "BLUE"]), E(["RED", "BLUE", "GREEN"], default="RED"), True, False, JAVA)
case("enum remove symbol, new has default", E(["RED", "BLUE", "GREEN"]), E(["RED", "BLUE"], default="RED"), True, True, JAVA)
case("enum remove symbol, old has default", E(["RED", "BLUE", "GREEN"], default="RED"), E(["RED", "BLUE"]), False, True, JAVA)
case("enum rename symbol", E(["RED", "BLUE"]), E(["RED", "NAVY"]), False, False, JAVA)
case("enum rename symbol, both defaults", E(["RED", "BLUE"], default="RED"), E(["RED", "NAVY"], default="RED"), True, True, JAVA)
case("enum rename type", E(["RED"]), rec([f("c", enum(["RED"], name="Colour"))]), False, False, JAVA + ": NAME_MISMATCH")
case("enum rename type with alias", E(["RED"]), rec([f("c", enum(["RED"], name="Colour", aliases=["com.acme.Color"]))]), True, False, SPEC + ": aliases of named types")
case("enum -> string", E(["RED"]), rec([f("c", "string")]), False, False, JAVA + ": TYPE_MISMATCH")
case("string -> enum", rec([f("c", "string")]), E(["RED"]), False, False, JAVA)
case("enum doc change", E(["RED"], doc="x"), E(["RED"], doc="y"), True, True, SPEC)
case("enum add default", E(["RED", "BLUE"]), E(["RED", "BLUE"], default="BLUE"), True, True, SPEC)

# 6. Named types, aliases, namespaces.
case("record rename without alias", rec(base), rec(base, name="Gadget"), False, False, JAVA + ": NAME_MISMATCH")
case("record rename with alias", rec(base), rec(base, name="Gadget", aliases=["Widget"]), True, False, SPEC + ": reader aliases (relative to the namespace)", pydiff=ALIASQ)
case("record rename with full alias", rec(base), rec(base, name="Gadget", aliases=["com.acme.Widget"]), True, False, SPEC)
case("record rename, alias in wrong namespace", rec(base), rec(base, name="Gadget", aliases=["org.other.Widget"]), False, False, JAVA)
case("namespace change", rec(base), rec(base, ns="com.other"), True, True, JAVA + ": schemaNameEquals compares unqualified names")
case("namespace removed", rec(base), rec(base, ns=None), True, True, JAVA)
case("nested record rename without alias", rec([f("d", rec([f("w", "int")], name="Dim"))]), rec([f("d", rec([f("w", "int")], name="Size"))]), False, False, JAVA)
case("nested record rename with alias", rec([f("d", rec([f("w", "int")], name="Dim"))]), rec([f("d", rec([f("w", "int")], name="Size", aliases=["Dim"]))]), True, False, SPEC, pydiff=ALIASQ)
case("named reference reused", rec([f("a", rec([f("w", "int")], name="Dim")), f("b", "Dim")]), rec([f("a", rec([f("w", "int")], name="Dim")), f("b", "Dim"), f("c", "Dim", default={"w": 1})]), True, True, SPEC)
case("named reference field changed", rec([f("a", rec([f("w", "int")], name="Dim")), f("b", "Dim")]), rec([f("a", rec([f("w", "long")], name="Dim")), f("b", "Dim")]), True, False, SPEC)
case("record doc change", rec(base, doc="a"), rec(base, doc="b"), True, True, SPEC)
case("top-level record -> array", rec(base), {"type": "array", "items": rec(base)}, False, False, JAVA)

# 7. Nested records.
N = lambda inner: rec([f("id", "long"), f("dim", rec(inner, name="Dim"))])
case("nested add field with default", N([f("w", "int")]), N([f("w", "int"), f("h", "int", default=0)]), True, True, SPEC)
case("nested add field without default", N([f("w", "int")]), N([f("w", "int"), f("h", "int")]), False, True, JAVA)
case("nested remove field", N([f("w", "int"), f("h", "int")]), N([f("w", "int")]), True, False, SPEC)
case("nested type promote", N([f("w", "int")]), N([f("w", "long")]), True, False, SPEC)
case("nested type change", N([f("w", "int")]), N([f("w", "string")]), False, False, SPEC)
case("deeply nested change", rec([f("a", rec([f("b", rec([f("c", "int")], name="C"))], name="B"))]), rec([f("a", rec([f("b", rec([f("c", "boolean")], name="C"))], name="B"))]), False, False, SPEC)
case("deeply nested add with default", rec([f("a", rec([f("b", rec([f("c", "int")], name="C"))], name="B"))]), rec([f("a", rec([f("b", rec([f("c", "int"), f("d", "int", default=0)], name="C"))], name="B"))]), True, True, SPEC)
case("record -> nullable record", N([f("w", "int")]), rec([f("id", "long"), f("dim", ["null", rec([f("w", "int")], name="Dim")], default=None)]), True, False, SPEC)

# 8. Recursive records.
def linked(extra=None, valtype="int"):
    fields = [f("value", valtype), f("next", ["null", "Node"], default=None)]
    if extra:
        fields.append(extra)
    return {"type": "record", "name": "Node", "fields": fields}
case("recursive unchanged", linked(), linked(), True, True, JAVA + ": recursion handled by memoisation")
case("recursive add field with default", linked(), linked(f("w", "int", default=0)), True, True, SPEC)
case("recursive add field without default", linked(), linked(f("w", "int")), False, True, JAVA)
case("recursive promote value", linked(), linked(valtype="long"), True, False, SPEC)
case("recursive change value type", linked(), linked(valtype="string"), False, False, SPEC)
tree = lambda t: {"type": "record", "name": "Tree", "fields": [f("v", t), f("children", {"type": "array", "items": "Tree"})]}
case("recursive tree promote", tree("int"), tree("double"), True, False, SPEC)
case("recursive tree change", tree("string"), tree("int"), False, False, SPEC)

# 9. Arrays and maps.
A = lambda t: rec([f("v", {"type": "array", "items": t})])
M = lambda t: rec([f("v", {"type": "map", "values": t})])
case("array items promote", A("int"), A("long"), True, False, SPEC)
case("array items demote", A("long"), A("int"), False, True, SPEC)
case("array items change", A("string"), A("int"), False, False, SPEC)
case("array items string->bytes", A("string"), A("bytes"), True, True, SPEC)
case("array items nullable", A("string"), A(["null", "string"]), True, False, SPEC)
case("array of records add field default", A(rec([f("a", "int")], name="It")), A(rec([f("a", "int"), f("b", "int", default=0)], name="It")), True, True, SPEC)
case("array of records add field no default", A(rec([f("a", "int")], name="It")), A(rec([f("a", "int"), f("b", "int")], name="It")), False, True, JAVA)
case("map values promote", M("float"), M("double"), True, False, SPEC)
case("map values change", M("int"), M("boolean"), False, False, SPEC)
case("map values nullable", M("long"), M(["null", "long"]), True, False, SPEC)
case("array -> map", A("int"), M("int"), False, False, JAVA)
case("map -> array", M("int"), A("int"), False, False, JAVA)
case("array -> items type", A("int"), rec([f("v", "int")]), False, False, JAVA)
case("int -> array of int", rec([f("v", "int")]), A("int"), False, False, JAVA)
case("nested arrays promote", A({"type": "array", "items": "int"}), A({"type": "array", "items": "long"}), True, False, SPEC)
case("map of arrays change", M({"type": "array", "items": "int"}), M({"type": "array", "items": "string"}), False, False, SPEC)

# 10. Fixed.
FX = lambda size, name="Hash", **kw: rec([f("h", dict({"type": "fixed", "name": name, "size": size}, **kw))])
case("fixed same", FX(16), FX(16), True, True, SPEC)
case("fixed size change", FX(16), FX(32), False, False, JAVA + ": FIXED_SIZE_MISMATCH")
case("fixed rename", FX(16), FX(16, "Digest"), False, False, JAVA + ": NAME_MISMATCH")
case("fixed rename with alias", FX(16), FX(16, "Digest", aliases=["Hash"]), True, False, SPEC, pydiff=ALIASQ)
case("fixed -> bytes", FX(16), rec([f("h", "bytes")]), False, False, JAVA + ": no promotion from fixed")
case("bytes -> fixed", rec([f("h", "bytes")]), FX(16), False, False, JAVA)
case("fixed -> string", FX(4), rec([f("h", "string")]), False, False, JAVA)

# 11. Logical types (Java's compatibility check looks at the underlying type).
L = lambda t: rec([f("t", t)])
case("add timestamp-millis to long", L("long"), L({"type": "long", "logicalType": "timestamp-millis"}), True, True, JAVA + ": logical types ignored")
case("timestamp-millis -> timestamp-micros", L({"type": "long", "logicalType": "timestamp-millis"}), L({"type": "long", "logicalType": "timestamp-micros"}), True, True, JAVA + ": logical types ignored")
case("date (int) -> timestamp-millis (long)", L({"type": "int", "logicalType": "date"}), L({"type": "long", "logicalType": "timestamp-millis"}), True, False, JAVA + ": int→long promotion")
case("decimal precision change", L({"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}), L({"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}), True, True, JAVA + ": logical types ignored")
case("decimal scale change", L({"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}), L({"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 4}), True, True, JAVA + ": logical types ignored (data is reinterpreted!)")
case("uuid string -> string", L({"type": "string", "logicalType": "uuid"}), L("string"), True, True, JAVA)
case("decimal bytes -> decimal fixed", L({"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}), L({"type": "fixed", "name": "Dec", "size": 8, "logicalType": "decimal", "precision": 4, "scale": 2}), False, False, JAVA)
case("date -> string", L({"type": "int", "logicalType": "date"}), L("string"), False, False, JAVA)
case("time-millis int -> time-micros long", L({"type": "int", "logicalType": "time-millis"}), L({"type": "long", "logicalType": "time-micros"}), True, False, JAVA)
case("timestamp long -> double", L({"type": "long", "logicalType": "timestamp-millis"}), L("double"), True, False, JAVA)

# 12. Mixed realistic evolutions.
v1 = rec([f("id", "long"), f("name", "string"), f("price", "double")])
case("price double -> string", v1, rec([f("id", "long"), f("name", "string"), f("price", "string")]), False, False, SPEC)
case("price double -> float", v1, rec([f("id", "long"), f("name", "string"), f("price", "float")]), False, True, SPEC)
case("id long -> int", v1, rec([f("id", "int"), f("name", "string"), f("price", "double")]), False, True, SPEC)
case("id long -> string", v1, rec([f("id", "string"), f("name", "string"), f("price", "double")]), False, False, SPEC)
case("add optional + remove defaulted", rec([f("id", "long"), f("old", "int", default=0)]), rec([f("id", "long"), f("new", ["null", "int"], default=None)]), True, True, SPEC)
case("add optional + remove required", rec([f("id", "long"), f("old", "int")]), rec([f("id", "long"), f("new", ["null", "int"], default=None)]), True, False, SPEC)
case("Deimos updated_at timestamp field added", rec([f("id", "long")]), rec([f("id", "long"), f("updated_at", ["null", "long"], default=None)]), True, True, SPEC)
case("message_id string -> nullable", rec([f("message_id", "string")]), rec([f("message_id", ["null", "string"], default=None)]), True, False, SPEC)
cx = lambda: rec([f("a", {"type": "array", "items": "int"}), f("b", {"type": "map", "values": ["null", "string"]}), f("c", enum(["X"]))])
case("identical complex", cx(), cx(), True, True, SPEC)
case("union record branch gains field", rec([f("v", ["null", rec([f("a", "int")], name="A")], default=None)]), rec([f("v", ["null", rec([f("a", "int"), f("b", "int")], name="A")], default=None)]), False, True, JAVA)
case("union record branch renamed", rec([f("v", ["null", rec([f("a", "int")], name="A")], default=None)]), rec([f("v", ["null", rec([f("a", "int")], name="B")], default=None)]), False, False, JAVA)
case("union record branch renamed with alias", rec([f("v", ["null", rec([f("a", "int")], name="A")], default=None)]), rec([f("v", ["null", rec([f("a", "int")], name="B", aliases=["A"])], default=None)]), True, False, SPEC, pydiff=ALIASQ)
case("boolean -> union boolean,string", rec([f("v", "boolean")]), rec([f("v", ["boolean", "string"])]), True, False, SPEC)
case("long -> union int,string", rec([f("v", "long")]), rec([f("v", ["int", "string"])]), False, False, SPEC + ": the old long reader cannot read the string branch")
case("bytes -> union null,string", rec([f("v", "bytes")]), rec([f("v", ["null", "string"])]), True, False, SPEC)

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "avro_cases.json"), "w") as out:
    json.dump(cases, out, indent=1)
    out.write("\n")
print(len(cases), "cases")
