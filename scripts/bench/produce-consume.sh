#!/usr/bin/env bash
# Benchmark: deimos produce/consume with Avro (schema registry) against kcat
# raw produce/consume on the same in-memory broker (deimos dev), same run.
# Prints msgs/s, ratios and peak RSS. N messages (default 1,000,000) of ~200 bytes.
#   N=100000 scripts/bench/produce-consume.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-1000000}
BIN=${BIN:-./bin/deimos}
[ -x "$BIN" ] || make build >/dev/null
command -v kcat >/dev/null || { echo "kcat is required (apt-get install kcat)"; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is required (apt-get install time)"; exit 1; }

W=$(mktemp -d)
DEV_PID=
cleanup() { [ -n "$DEV_PID" ] && kill "$DEV_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

"$BIN" dev --kafka-port 0 --registry-port 0 >"$W/dev.out" 2>&1 &
DEV_PID=$!
for _ in $(seq 50); do grep -q '^export' "$W/dev.out" 2>/dev/null && break; sleep 0.1; done
BROKER=$(awk '/^kafka/{print $2}' "$W/dev.out")
REG=$(awk '/^registry/{print $2}' "$W/dev.out")
[ -n "$BROKER" ] || { cat "$W/dev.out"; exit 1; }

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
  - {name: avro, schema: Event, namespace: com.bench, key_config: {field: id}}
YAML
export DEIMOS_CONFIG=$W/deimos.yaml

awk -v n="$N" 'BEGIN{for(i=1;i<=n;i++) printf "{\"id\":%d,\"user\":\"user-%07d@example.com\",\"kind\":\"purchase-completed\",\"amount\":%d.25,\"note\":\"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna\",\"tags\":[\"alpha\",\"beta\",\"gamma\"]}\n", i, i, i%1000}' >"$W/data.jsonl"

# time CMD... -> sets SECS and RSS_KB
measure() {
  /usr/bin/time -v -o "$W/time.txt" "$@"
  SECS=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$W/time.txt")
  RSS_KB=$(awk -F': ' '/Maximum resident/{print $2}' "$W/time.txt")
}
rate() { awk -v n="$N" -v s="$1" 'BEGIN{printf "%.0f", n/(s>0?s:0.001)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }

kcat -b "$BROKER" -P -t warmup -l /dev/null 2>/dev/null || true

measure kcat -b "$BROKER" -P -t raw -X linger.ms=5 -l "$W/data.jsonl"
KP=$(rate "$SECS"); KP_RSS=$RSS_KB
measure "$BIN" produce -q -t avro -f "$W/data.jsonl"
DP=$(rate "$SECS"); DP_RSS=$RSS_KB
measure sh -c "kcat -b '$BROKER' -C -t raw -e -q -o beginning > /dev/null"
KC=$(rate "$SECS"); KC_RSS=$RSS_KB
measure sh -c "'$BIN' consume -q -t avro -e --output json > '$W/out.jsonl'"
DC=$(rate "$SECS"); DC_RSS=$RSS_KB
GOT=$(wc -l <"$W/out.jsonl")
[ "$GOT" -eq "$N" ] || { echo "consume returned $GOT records, expected $N"; exit 1; }
head -c 300 "$W/out.jsonl"; echo

AVG=$(awk -v n="$N" '{s+=length($0)} END{printf "%.0f", s/n}' "$W/data.jsonl")
echo "N=$N messages (JSON input ~${AVG} bytes/line), broker: deimos dev (kfake)"
printf '%-40s %10s msg/s  peak RSS %7s KB\n' "kcat -P (raw JSON bytes)" "$KP" "$KP_RSS"
printf '%-40s %10s msg/s  peak RSS %7s KB\n' "deimos produce (JSON -> Avro, registry)" "$DP" "$DP_RSS"
printf '%-40s %10s msg/s  peak RSS %7s KB\n' "kcat -C -e (raw)" "$KC" "$KC_RSS"
printf '%-40s %10s msg/s  peak RSS %7s KB\n' "deimos consume -e (Avro -> JSON)" "$DC" "$DC_RSS"
echo "produce ratio deimos/kcat: $(ratio "$DP" "$KP") (target >= 0.5)"
echo "consume ratio deimos/kcat: $(ratio "$DC" "$KC") (target >= 1.0)"
