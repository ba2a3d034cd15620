#!/usr/bin/env bash
# Benchmark: deimos produce/consume with Avro (schema registry) against kcat
# raw produce/consume on the same in-memory broker (deimos dev), same run.
# Prints msgs/s, ratios and peak RSS. N messages (default 1,000,000) of ~200 bytes.
#   N=100000 REPS=3 scripts/bench/produce-consume.sh   (REPS <= 5)
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
  - {name: avro1, schema: Event, namespace: com.bench, key_config: {field: id}}
  - {name: avro2, schema: Event, namespace: com.bench, key_config: {field: id}}
  - {name: avro3, schema: Event, namespace: com.bench, key_config: {field: id}}
  - {name: avro4, schema: Event, namespace: com.bench, key_config: {field: id}}
  - {name: avro5, schema: Event, namespace: com.bench, key_config: {field: id}}
YAML
export DEIMOS_CONFIG=$W/deimos.yaml

awk -v n="$N" 'BEGIN{for(i=1;i<=n;i++) printf "{\"id\":%d,\"user\":\"user-%07d@example.com\",\"kind\":\"purchase-completed\",\"amount\":%d.25,\"note\":\"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna\",\"tags\":[\"alpha\",\"beta\",\"gamma\"]}\n", i, i, i%1000}' >"$W/data.jsonl"

# measure CMD... -> sets SECS (wall clock, ns resolution) and RSS_KB (peak)
measure() {
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$W/time.txt" "$@"
  t1=$(date +%s.%N)
  SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", b-a}')
  RSS_KB=$(tail -n 1 "$W/time.txt")
}
rate() { awk -v n="$N" -v s="$1" 'BEGIN{printf "%.0f", n/(s>0?s:0.001)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END{if(NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
maxof() { tr ' ' '\n' | grep . | sort -g | tail -n 1; }

kcat -b "$BROKER" -P -t warmup -l /dev/null 2>/dev/null || true

# Each side runs ~1 s at N=1M, so one run proves little on a shared machine:
# REPS (default 2) alternating rounds K D K D, each on its own topics; the
# ratio reported is the median of the per-round ratios.
REPS=${REPS:-2}
PR=() CR=() KPS=() DPS=() KCS=() DCS=() KPM=() DPM=() KCM=() DCM=()
for r in $(seq "$REPS"); do
  measure kcat -b "$BROKER" -P -t "raw$r" -X linger.ms=5 -l "$W/data.jsonl"
  KP=$(rate "$SECS"); KPS+=("$KP"); KPM+=("$RSS_KB")
  measure "$BIN" produce -q -t "avro$r" -f "$W/data.jsonl"
  DP=$(rate "$SECS"); DPS+=("$DP"); DPM+=("$RSS_KB")
  PR+=("$(ratio "$DP" "$KP")")
done
for r in $(seq "$REPS"); do
  measure sh -c "kcat -b '$BROKER' -C -t raw$r -e -q -o beginning > /dev/null"
  KC=$(rate "$SECS"); KCS+=("$KC"); KCM+=("$RSS_KB")
  measure sh -c "'$BIN' consume -q -t avro$r -e --output json > '$W/out.jsonl'"
  DC=$(rate "$SECS"); DCS+=("$DC"); DCM+=("$RSS_KB")
  GOT=$(wc -l <"$W/out.jsonl")
  [ "$GOT" -eq "$N" ] || { echo "consume returned $GOT records, expected $N"; exit 1; }
  CR+=("$(ratio "$DC" "$KC")")
done
head -c 300 "$W/out.jsonl"; echo

AVG=$(awk -v n="$N" '{s+=length($0)} END{printf "%.0f", s/n}' "$W/data.jsonl")
echo "N=$N messages (JSON input ~${AVG} bytes/line), broker: deimos dev (kfake), $REPS alternating rounds"
row() { printf '%-40s %s msg/s  peak RSS %7s KB\n' "$1" "$2" "$3"; }
row "kcat -P (raw JSON bytes)" "${KPS[*]}" "$(echo "${KPM[*]}" | maxof)"
row "deimos produce (JSON -> Avro, registry)" "${DPS[*]}" "$(echo "${DPM[*]}" | maxof)"
row "kcat -C -e (raw)" "${KCS[*]}" "$(echo "${KCM[*]}" | maxof)"
row "deimos consume -e (Avro -> JSON)" "${DCS[*]}" "$(echo "${DCM[*]}" | maxof)"
echo "produce ratio deimos/kcat: median $(echo "${PR[*]}" | median) of ${PR[*]} (target >= 0.5)"
echo "consume ratio deimos/kcat: median $(echo "${CR[*]}" | median) of ${CR[*]} (target >= 1.0)"
