#!/usr/bin/python3
"""Checks avro_cases.json against python3-avro's port of Java's
SchemaCompatibility. Prints one line per disagreement; exit 1 if any."""
import json, os, sys
import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

here = os.path.dirname(os.path.abspath(__file__))
cases = json.load(open(os.path.join(here, "avro_cases.json")))
bad = 0
def ok(reader, writer):
    r = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    return r.compatibility == SchemaCompatibilityType.compatible
for c in cases:
    old = avro.schema.parse(json.dumps(c["old"]))
    new = avro.schema.parse(json.dumps(c["new"]))
    b, f = ok(new, old), ok(old, new)
    if c.get("python_avro_differs"):
        if b == c["backward"] and f == c["forward"]:
            print(f"{c['name']}: marked as differing but python-avro agrees")
            bad += 1
        continue
    if b != c["backward"] or f != c["forward"]:
        bad += 1
        print(f"{c['name']}: python-avro backward={b} forward={f}, corpus backward={c['backward']} forward={c['forward']}")
print(f"{len(cases)} cases, {bad} disagreements")
sys.exit(1 if bad else 0)
