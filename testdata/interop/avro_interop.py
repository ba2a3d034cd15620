#!/usr/bin/python3
"""Interop helper for pkg/encode tests, run with Debian's /usr/bin/python3 (python3-avro).

  write SCHEMA_FILE JSON_DATUM raw|ocf   -> writes the encoded bytes to stdout
  read  SCHEMA_FILE raw|ocf              -> reads bytes from stdin, prints the datum as JSON
  hex   SCHEMA_FILE                      -> reads JSON lines from stdin, prints each datum's bare
                                            Avro binary in hex, one line each
  json  SCHEMA_FILE                      -> reads hex lines from stdin, prints each datum as JSON
                                            with the keys in the order python-avro read them
"""
import datetime
import decimal
import io
import json
import sys

import avro.datafile
import avro.io
import avro.schema


def parse(path):
    with open(path) as f:
        return avro.schema.parse(f.read())


def logical(t):
    return t.get_prop("logicalType") if hasattr(t, "get_prop") else None


def to_py(t, v):
    """Natural JSON -> the Python values python-avro wants for logical types."""
    if v is None:
        return None
    if t.type == "union":
        for b in t.schemas:
            if b.type != "null":
                return to_py(b, v)
        return v
    if t.type in ("record", "error"):
        return {f.name: to_py(f.type, v.get(f.name)) for f in t.fields if f.name in v}
    if t.type == "array":
        return [to_py(t.items, x) for x in v]
    if t.type == "map":
        return {k: to_py(t.values, x) for k, x in v.items()}
    lt = logical(t)
    if lt == "date":
        return datetime.date.fromisoformat(v)
    if lt in ("timestamp-millis", "timestamp-micros"):
        return datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
    if lt == "decimal":
        return decimal.Decimal(v)
    return v


def natural(o):
    """python-avro's logical values -> the engine's natural JSON."""
    if isinstance(o, datetime.datetime):
        o = o.astimezone(datetime.timezone.utc)
        s = o.strftime("%Y-%m-%dT%H:%M:%S")
        if o.microsecond:
            s += ("." + "%06d" % o.microsecond).rstrip("0")
        return s + "Z"
    if isinstance(o, datetime.date):
        return o.isoformat()
    if isinstance(o, decimal.Decimal):
        return str(o)
    raise TypeError(repr(o))


def main():
    cmd, schema_file, *rest = sys.argv[1:]
    schema = parse(schema_file)
    if cmd == "write":
        datum, wire = to_py(schema, json.loads(rest[0])), rest[1]
        buf = io.BytesIO()
        if wire == "raw":
            avro.io.DatumWriter(schema).write(datum, avro.io.BinaryEncoder(buf))
            sys.stdout.buffer.write(buf.getvalue())
        else:
            w = avro.datafile.DataFileWriter(buf, avro.io.DatumWriter(), schema)
            w.append(datum)
            w.flush()
            sys.stdout.buffer.write(buf.getvalue())
    elif cmd == "read":
        data = sys.stdin.buffer.read()
        if rest[0] == "raw":
            datum = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(data)))
            print(json.dumps(datum, sort_keys=True, default=natural))
        else:
            r = avro.datafile.DataFileReader(io.BytesIO(data), avro.io.DatumReader())
            for datum in r:
                print(json.dumps(datum, sort_keys=True, default=natural))
    elif cmd == "hex":
        for line in sys.stdin:
            if line.strip():
                buf = io.BytesIO()
                avro.io.DatumWriter(schema).write(to_py(schema, json.loads(line)), avro.io.BinaryEncoder(buf))
                print(buf.getvalue().hex())
    elif cmd == "json":
        for line in sys.stdin:
            if line.strip():
                data = bytes.fromhex(line.strip())
                datum = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(data)))
                print(json.dumps(datum, separators=(",", ":"), ensure_ascii=False, default=natural))
    else:
        sys.exit("unknown command " + cmd)


main()
