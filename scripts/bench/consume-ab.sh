#!/usr/bin/env bash
# A/B benchmark of two deimos builds consuming the same topic: CPU time
# (user+sys) per message of `deimos consume -e --output json` (Avro through the
# registry -> JSON envelopes) and peak RSS, for binary A and binary B in turn
# (ABBA order: odd rounds A then B, even rounds B then A, so neither always
# runs second). The broker and registry are `deimos dev` (B's) in a separate
# process; the topic holds N records (~200-byte Avro values) written once.
# Use it to check that a change to the consume path costs no CPU:
#   mkdir /tmp/base && git archive main | tar -x -C /tmp/base && (cd /tmp/base && go build -o /tmp/deimos-base .)
#   go build -o /tmp/deimos-new . && A=/tmp/deimos-base B=/tmp/deimos-new N=1000000 ROUNDS=8 scripts/bench/consume-ab.sh
set -euo pipefail
: "${A:?A=path of the first deimos binary}" "${B:?B=path of the second deimos binary}"
[ -x /usr/bin/time ] || { echo "/usr/bin/time is required (apt-get install time)"; exit 1; }
N=${N:-200000}; ROUNDS=${ROUNDS:-3}
W=$(mktemp -d); DEV_PID=
cleanup() { [ -n "$DEV_PID" ] && kill "$DEV_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
"$B" dev --kafka-port 0 --registry-port 0 --state-file "$W/dev.env" >"$W/dev.out" 2>&1 &
DEV_PID=$!
for _ in $(seq 100); do grep -q '^export' "$W/dev.out" 2>/dev/null && break; sleep 0.1; done
BROKER=$(awk '/^kafka/{print $2}' "$W/dev.out"); REG=$(awk '/^registry/{print $2}' "$W/dev.out")
mkdir -p "$W/schemas/com/bench"
cat >"$W/schemas/com/bench/Event.avsc" <<'AVSC'
{"type":"record","name":"Event","namespace":"com.bench","fields":[
 {"name":"id","type":"long"},{"name":"user","type":"string"},{"name":"kind","type":"string"},
 {"name":"amount","type":"double"},{"name":"note","type":"string"},{"name":"tags","type":{"type":"array","items":"string"}}]}
AVSC
cat >"$W/deimos.yaml" <<YAML
kafka: {brokers: [$BROKER]}
schema: {backend: avro_schema_registry, path: $W/schemas, registry: {url: $REG}}
topics:
  - {name: avro1, schema: Event, namespace: com.bench, key_config: {field: id}}
YAML
export DEIMOS_CONFIG=$W/deimos.yaml
awk -v n="$N" 'BEGIN{for(i=1;i<=n;i++) printf "{\"id\":%d,\"user\":\"user-%07d@example.com\",\"kind\":\"purchase-completed\",\"amount\":%d.25,\"note\":\"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna\",\"tags\":[\"alpha\",\"beta\",\"gamma\"]}\n", i, i, i%1000}' >"$W/data.jsonl"
"$B" produce -t avro1 -f "$W/data.jsonl" -q
for r in $(seq "$ROUNDS"); do
  order="A B"; [ $((r % 2)) -eq 0 ] && order="B A"
  for side in $order; do
    bin=${!side}
    /usr/bin/time -f "%U %S %M" -o "$W/t" "$bin" consume -t avro1 -e -q --output json >"$W/out.jsonl"
    got=$(wc -l <"$W/out.jsonl"); [ "$got" -eq "$N" ] || { echo "$side: $got records, want $N"; exit 1; }
    read -r u s m <"$W/t"
    awk -v side="$side" -v r="$r" -v u="$u" -v s="$s" -v m="$m" -v n="$N" 'BEGIN{printf "round %d %s: user %.2fs sys %.2fs -> %.3f us CPU/msg, peak RSS %d MB\n", r, side, u, s, (u+s)/n*1e6, m/1024}'
    awk -v u="$u" -v s="$s" -v n="$N" 'BEGIN{printf "%.3f\n", (u+s)/n*1e6}' >>"$W/cpu.$side"
  done
done
median() { sort -g "$1" | awk '{a[NR]=$1} END{if(NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
echo "N=$N, $ROUNDS rounds: median CPU per message A $(median "$W/cpu.A") us ($A), B $(median "$W/cpu.B") us ($B)"
