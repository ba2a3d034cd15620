#!/usr/bin/env bash
# schema-compat --against git:REF at repository scale.
#
# For each N, generates a git repository holding N Avro files (records of 25
# fields; one file in 50 is a shared-types file that the records of its
# directory reference) and N Protobuf files (messages of 25 fields importing
# google/protobuf/timestamp.proto and a common.proto of their directory), in
# directories of 50 files. After the commit, 10% of the records/messages are
# changed compatibly (a field added) and 1% incompatibly (a field's type
# changed), then `deimos schema-compat --against git:HEAD DIR` is run once for
# the Avro tree and once for the Protobuf tree.
#
# Prints, per run: wall time, CPU time of the deimos process (user+sys, from
# /usr/bin/time), CPU per file, peak RSS; and checks the exit code (1) and the
# number of incompatible files reported. Beside it, the reference doing the
# same job one file at a time: `deimos schema-compat OLD NEW` as a process per
# changed file (CPU per file, averaged over a sample of 20 changed files).
#
# Targets (2 cores): 1,000 Avro files <= 3 s wall, 5,000 <= 15 s; CPU per
# file does not grow with N.
#
# Usage: scripts/bench/schema-compat.sh [N...]         (default: 100 1000 5000)
#   DEIMOS_BIN=path   binary to measure (default: builds bin/deimos)
#   KINDS="avro proto"  which trees to check (default both)
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/../.."
root=$PWD
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100 1000 5000)
kinds=${KINDS:-avro proto}
bin=${DEIMOS_BIN:-}
# the runs below start in the generated repositories: a relative DEIMOS_BIN
# (as `make bench` passes it) is taken from where the script was started
case $bin in "" | /*) ;; *) bin=$caller/$bin ;; esac
[ -z "$bin" ] || [ -x "$bin" ] || { echo "schema-compat bench: DEIMOS_BIN=$bin is not an executable" >&2; exit 1; }
if [ -z "$bin" ]; then
	go build -o bin/deimos . >&2
	bin=$root/bin/deimos
fi
command -v /usr/bin/time >/dev/null || { echo "schema-compat bench: /usr/bin/time (Debian package time) is missing" >&2; exit 1; }
command -v python3 >/dev/null || { echo "schema-compat bench: python3 is missing" >&2; exit 1; }
work=$(mktemp -d)
wrong=0
trap 'rm -rf "$work"' EXIT

gen() { # gen DIR N PHASE   (PHASE: base = the committed state, change = the working-tree edits)
	python3 - "$1" "$2" "$3" <<'EOF'
import json, os, sys
out, n, phase = sys.argv[1], int(sys.argv[2]), sys.argv[3]
per_dir = 50
types = ["string", "int", "long", "double", "boolean"]

def compat_change(i): return i % 10 == 1          # 10%: a field added (compatible)
def incompat_change(i): return i % 100 == 7       # 1%: a field's type changed

def avro(i, changed):
    g = i // per_dir
    ns = "com.acme.bench.g%d" % g
    fields = []
    for j in range(25):
        if j == 3:
            t = "string" if (changed and incompat_change(i)) else "int"
            fields.append({"name": "f%d" % j, "type": t, "doc": "field %d" % j})
        elif j == 5:
            fields.append({"name": "status", "type": "Status", "default": "UNKNOWN"})
        elif j == 6:
            fields.append({"name": "address", "type": ["null", "Address"], "default": None})
        elif j == 7:
            fields.append({"name": "tags", "type": {"type": "array", "items": "string"}, "default": []})
        elif j == 8:
            fields.append({"name": "attrs", "type": {"type": "map", "values": "long"}, "default": {}})
        elif j % 4 == 0:
            fields.append({"name": "f%d" % j, "type": ["null", types[j % 5]], "default": None})
        else:
            fields.append({"name": "f%d" % j, "type": types[j % 5]})
    if changed and compat_change(i):
        fields.append({"name": "added", "type": ["null", "string"], "default": None})
    return {"type": "record", "name": "Rec%d" % i, "namespace": ns, "doc": "bench record %d" % i, "fields": fields}

def avro_common(g):
    ns = "com.acme.bench.g%d" % g
    return [
        {"type": "enum", "name": "Status", "namespace": ns, "symbols": ["UNKNOWN", "NEW", "ACTIVE", "CLOSED"], "default": "UNKNOWN"},
        {"type": "record", "name": "Address", "namespace": ns, "fields": [
            {"name": "street", "type": "string"}, {"name": "city", "type": "string"},
            {"name": "zip", "type": ["null", "string"], "default": None}]},
    ]

def proto(i, changed):
    g = i // per_dir
    lines = ['syntax = "proto3";', "package acme.bench.g%d;" % g, "",
             'import "google/protobuf/timestamp.proto";', 'import "common.proto";', "",
             "message M%d {" % i]
    scal = ["string", "int32", "int64", "double", "bool"]
    for j in range(1, 26):
        if j == 3:
            t = "int32" if (changed and incompat_change(i)) else "string"
            lines.append("  %s f%d = %d;" % (t, j, j))
        elif j == 5:
            lines.append("  google.protobuf.Timestamp at = 5;")
        elif j == 6:
            lines.append("  Address address = 6;")
        elif j == 7:
            lines.append("  repeated string tags = 7;")
        elif j == 8:
            lines.append("  map<string, int64> attrs = 8;")
        else:
            lines.append("  %s f%d = %d;" % (scal[j % 5], j, j))
    if changed and compat_change(i):
        lines.append("  string added = 26;")
    lines.append("}")
    return "\n".join(lines) + "\n"

PROTO_COMMON = '''syntax = "proto3";
package acme.bench.g%d;

message Address {
  string street = 1;
  string city = 2;
  string zip = 3;
}
'''

changed = phase == "change"
for i in range(n):
    g = i // per_dir
    ad = os.path.join(out, "avro", "g%d" % g)
    pd = os.path.join(out, "proto", "g%d" % g)
    os.makedirs(ad, exist_ok=True)
    os.makedirs(pd, exist_ok=True)
    if i % per_dir == 0:
        if not changed:
            with open(os.path.join(ad, "common.avsc"), "w") as f:
                json.dump(avro_common(g), f, indent=2)
            with open(os.path.join(pd, "common.proto"), "w") as f:
                f.write(PROTO_COMMON % g)
        continue  # the shared-types file takes this slot: N files in all
    if changed and not (compat_change(i) or incompat_change(i)):
        continue
    with open(os.path.join(ad, "Rec%d.avsc" % i), "w") as f:
        json.dump(avro(i, changed), f, indent=2)
    with open(os.path.join(pd, "m%d.proto" % i), "w") as f:
        f.write(proto(i, changed))
EOF
}

expected_incompat() { # records/messages changed incompatibly among N
	python3 -c "import sys; n=int(sys.argv[1]); print(sum(1 for i in range(n) if i % 50 != 0 and i % 100 == 7))" "$1"
}

printf '%-6s %6s %6s %9s %9s %12s %9s %s\n' kind N files wall_s cpu_s cpu_ms/file rss_MB "result"
for n in "${sizes[@]}"; do
	repo=$work/repo$n
	mkdir -p "$repo"
	gen "$repo" "$n" base
	git -C "$repo" init -q
	git -C "$repo" config gc.auto 0 # no background repacking while the bench reads the repository
	git -C "$repo" add -A
	git -C "$repo" -c user.email=bench@example.com -c user.name=bench commit -q -m base
	mkdir "$repo.orig" # the committed tree, for the reference runs
	git -C "$repo" archive HEAD | tar -x -C "$repo.orig"
	gen "$repo" "$n" change
	want=$(expected_incompat "$n")
	for kind in $kinds; do
		files=$(find "$repo/$kind" -type f | wc -l)
		set +e
		(cd "$repo" && /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$bin" schema-compat --against git:HEAD "$kind" -o json >"$work/out.json" 2>"$work/err")
		rc=$?
		set -e
		read -r wall usr sys rss < <(tail -1 "$work/time")
		bad=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(sum(1 for x in r['results'] if not x['compatible']))" "$work/out.json" 2>/dev/null || echo "?")
		status="exit $rc, $bad incompatible"
		if [ "$rc" != 1 ] || [ "$bad" != "$want" ]; then
			status="$status: WRONG (want exit 1, $want incompatible)"
			wrong=1
			head -5 "$work/err" >&2
		fi
		awk -v k="$kind" -v n="$n" -v f="$files" -v w="$wall" -v u="$usr" -v s="$sys" -v r="$rss" -v st="$status" \
			'BEGIN { c=u+s; printf "%-6s %6d %6d %9.2f %9.2f %12.3f %9.0f %s\n", k, n, f, w, c, c*1000/f, r/1024, st }'
	done
done

# Reference: the same job one file at a time, a process per changed file
# (20 changed files of the smallest repository).
n=${sizes[0]}
repo=$work/repo$n
for kind in $kinds; do
	list=$(cd "$repo" && git status --porcelain -- "$kind" | awk '{print $2}' | head -20)
	cnt=0
	: >"$work/ref.times"
	for f in $list; do
		old=$repo.orig/$f
		dir=$(dirname "$repo/$f")
		args=()
		[ "$kind" = avro ] && args=(--ref "$dir/common.avsc")
		set +e
		/usr/bin/time -f '%U %S' -a -o "$work/ref.times" "$bin" schema-compat "${args[@]}" "$old" "$repo/$f" >/dev/null 2>&1
		set -e
		cnt=$((cnt + 1))
	done
	awk -v k="$kind" -v c="$cnt" '/^[0-9.]+ [0-9.]+$/ { t += $1 + $2 } END { if (c) printf "reference (%s): schema-compat OLD NEW, a process per file: %.3f ms CPU per file (%d files)\n", k, t*1000/c, c }' "$work/ref.times"
done
[ "$wrong" = 0 ] || { echo "schema-compat bench: a run gave the wrong verdict (WRONG above)" >&2; exit 1; }
