#!/usr/bin/python3
"""Interop helper for pkg/encode tests, run with Debian's /usr/bin/python3 (python3-avro).

  write SCHEMA_FILE JSON_DATUM raw|ocf   -> writes the encoded bytes to stdout
  read  SCHEMA_FILE raw|ocf              -> reads bytes from stdin, prints the datum as JSON
"""
import io
import json
import sys

import avro.datafile
import avro.io
import avro.schema


def parse(path):
    with open(path) as f:
        return avro.schema.parse(f.read())


def main():
    cmd, schema_file, *rest = sys.argv[1:]
    schema = parse(schema_file)
    if cmd == "write":
        datum, wire = json.loads(rest[0]), rest[1]
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
            print(json.dumps(datum, sort_keys=True))
        else:
            r = avro.datafile.DataFileReader(io.BytesIO(data), avro.io.DatumReader())
            for datum in r:
                print(json.dumps(datum, sort_keys=True))
    else:
        sys.exit("unknown command " + cmd)


main()
