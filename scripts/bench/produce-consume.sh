#!/usr/bin/env bash
# Benchmark: deimos produce (JSON lines -> Avro via the schema registry) and
# consume -e (Avro -> JSON envelopes) against kcat -P / kcat -C -e moving the
# same lines raw, on the same broker (`deimos dev`, a separate process), in the
# same run. The figure that counts is each process's CPU time (user+sys) per
# message, which a shared machine moves far less than wall-clock rates; peak
# RSS beside it; msg/s and the broker's CPU for information.
#
# Targets: produce CPU <= 1.0x kcat -P, peak RSS <= 2x kcat's;
#          consume CPU <= 0.8x kcat -C -e, peak RSS <= 2x kcat's;
#          CPU per message at the largest N not above the smallest N's.
#
#   scripts/bench/produce-consume.sh                  # N=100000 and 1000000, 3 rounds each
#   NS=100000 REPS=2 scripts/bench/produce-consume.sh
#   PROF=/tmp/pc scripts/bench/produce-consume.sh     # also /tmp/pc-produce.prof, /tmp/pc-consume.prof (last round)
#   REF_BIN=/tmp/deimos-old scripts/bench/produce-consume.sh   # and another build, in the same rounds
#   ONLY=produce scripts/bench/produce-consume.sh     # time produce only (default: both)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib/proc.sh
NS=${NS:-${N:-100000 1000000}}
REPS=${REPS:-3}
BIN=${BIN:-./bin/deimos}
PROF=${PROF:-}
REF_BIN=${REF_BIN:-}
ONLY=${ONLY:-}
case $ONLY in "" | produce) ;; *) echo "ONLY must be empty or produce"; exit 2 ;; esac
CREPS=$REPS # consume rounds
[ "$ONLY" = produce ] && CREPS=0
[ -x "$BIN" ] || make build >/dev/null
command -v kcat >/dev/null || { echo "kcat is required (apt-get install kcat)"; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is required (apt-get install time)"; exit 1; }

W=$(mktemp -d)
DEV_PID=
cleanup() { [ -n "$DEV_PID" ] && kill "$DEV_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

"$BIN" dev --kafka-port 0 --registry-port 0 >"$W/dev.out" 2>&1 &
DEV_PID=$!
for _ in $(seq 600); do grep -q '^export' "$W/dev.out" 2>/dev/null && break; sleep 0.1; done
BROKER=$(awk '/^kafka/{print $2}' "$W/dev.out")
REG=$(awk '/^registry/{print $2}' "$W/dev.out")
[ -n "$BROKER" ] || { echo "deimos dev did not start:"; cat "$W/dev.out"; exit 1; }

mkdir -p "$W/schemas/com/bench"
cat >"$W/schemas/com/bench/Event.avsc" <<'AVSC'
{"type":"record","name":"Event","namespace":"com.bench","fields":[
 {"name":"id","type":"long"},{"name":"user","type":"string"},{"name":"kind","type":"string"},
 {"name":"amount","type":"double"},{"name":"note","type":"string"},{"name":"tags","type":{"type":"array","items":"string"}}]}
AVSC
{
  echo "kafka: {brokers: [$BROKER]}"
  echo "schema: {backend: avro_schema_registry, path: $W/schemas, registry: {url: $REG}}"
  echo "topics:"
  for n in $NS; do for r in $(seq "$REPS"); do
    echo "  - {name: avro-$n-$r, schema: Event, namespace: com.bench, key_config: {field: id}}"
    echo "  - {name: ref-$n-$r, schema: Event, namespace: com.bench, key_config: {field: id}}"
  done; done
} >"$W/deimos.yaml"
export DEIMOS_CONFIG=$W/deimos.yaml

# measure NAME CMD... (stdout piped to `wc -l`, outside the measurement):
# appends "user+sys peak_rss_kb wall_s broker_s lines" to $W/NAME.
measure() {
  local name=$1 b0 b1 t0 t1 lines
  shift
  b0=$(cpu_ticks "$DEV_PID")
  t0=$(date +%s.%N)
  lines=$(/usr/bin/time -f '%U %S %M' -o "$W/time.txt" "$@" | wc -l)
  t1=$(date +%s.%N)
  b1=$(cpu_ticks "$DEV_PID")
  awk -v t0="$t0" -v t1="$t1" -v b="$((b1 - b0))" -v hz="$CLK_TCK" -v l="$lines" \
    '{printf "%.3f %d %.3f %.3f %d\n", $1+$2, $3, t1-t0, b/hz, l}' "$W/time.txt" >>"$W/$name"
}
# median FILE COLUMN
median() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{a[NR]=$1} END{if(NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

kcat -b "$BROKER" -P -t warmup -l /dev/null 2>/dev/null || true
echo "load: $(uptime | sed 's/.*load average: //') (2-core machine shared with others: trust CPU per message)"

SUMMARY=$W/summary
for N in $NS; do
  awk -v n="$N" 'BEGIN{for(i=1;i<=n;i++) printf "{\"id\":%d,\"user\":\"user-%07d@example.com\",\"kind\":\"purchase-completed\",\"amount\":%d.25,\"note\":\"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna\",\"tags\":[\"alpha\",\"beta\",\"gamma\"]}\n", i, i, i%1000}' >"$W/data.jsonl"
  rm -f "$W"/{kp,dp,kc,dc,rp,rc}
  # REPS alternating rounds (kcat, deimos, kcat, deimos...), each on its own topics.
  for r in $(seq "$REPS"); do
    prof=()
    [ -n "$PROF" ] && [ "$r" = "$REPS" ] && prof=(--cpuprofile "$PROF-produce.prof")
    measure kp kcat -b "$BROKER" -P -t "raw-$N-$r" -X linger.ms=5 -l "$W/data.jsonl"
    measure dp "$BIN" produce -q -t "avro-$N-$r" -f "$W/data.jsonl" "${prof[@]}"
    [ -z "$REF_BIN" ] || measure rp "$REF_BIN" produce -q -t "ref-$N-$r" -f "$W/data.jsonl"
  done
  for r in $(seq "$CREPS"); do
    prof=()
    [ -n "$PROF" ] && [ "$r" = "$REPS" ] && prof=(--cpuprofile "$PROF-consume.prof")
    measure kc kcat -b "$BROKER" -C -t "raw-$N-$r" -e -q -o beginning
    measure dc "$BIN" consume -q -t "avro-$N-$r" -e --output json "${prof[@]}"
    [ -z "$REF_BIN" ] || measure rc "$REF_BIN" consume -q -t "ref-$N-$r" -e --output json
    fs="kc dc"
    [ -z "$REF_BIN" ] || fs="kc dc rc"
    for f in $fs; do
      got=$(tail -n 1 "$W/$f" | awk '{print $5}')
      [ "$got" -eq "$N" ] || { echo "$f round $r: $got records, expected $N"; exit 1; }
    done
  done
  [ "$CREPS" -gt 0 ] && [ "$N" = "$(echo $NS | awk '{print $NF}')" ] && { "$BIN" consume -q -t "avro-$N-1" -c 1 --output json; }

  echo
  echo "N=$N messages (JSON lines of $(awk -v n="$N" '{s+=length($0)} END{printf "%.0f", s/n}' "$W/data.jsonl") bytes), $REPS alternating rounds, medians; CPU = user+sys of the process"
  printf '  %-40s %9s %9s %9s %12s %10s\n' "" "CPU us/msg" "" "peak RSS" "msg/s" "broker CPU"
  fs="kp dp kc dc"
  [ -z "$REF_BIN" ] || fs="kp dp rp kc dc rc"
  [ "$CREPS" -gt 0 ] || fs=${fs% kc*}
  for f in $fs; do
    case $f in
    rp) label="REF_BIN produce" ;;
    rc) label="REF_BIN consume -e" ;;
    kp) label="kcat -P (raw JSON lines)" ;;
    dp) label="deimos produce (JSON -> Avro, registry)" ;;
    kc) label="kcat -C -e (raw)" ;;
    dc) label="deimos consume -e (Avro -> JSON)" ;;
    esac
    cpu=$(median "$W/$f" 1) rss=$(median "$W/$f" 2) wall=$(median "$W/$f" 3) bro=$(median "$W/$f" 4)
    awk -v l="$label" -v c="$cpu" -v m="$rss" -v w="$wall" -v b="$bro" -v n="$N" \
      'BEGIN{printf "  %-40s %9.2f %9s %6.1f MiB %12.0f %7.2f us/msg\n", l, c/n*1e6, "", m/1024, n/w, b/n*1e6}'
    echo "$N $f $cpu $rss" >>"$SUMMARY"
  done
  if [ -n "$REF_BIN" ]; then
    paste -d' ' "$W/dp" "$W/rp" | awk '{print $1/$6}' >"$W/rpr"
    if [ "$CREPS" -gt 0 ]; then
      paste -d' ' "$W/dc" "$W/rc" | awk '{print $1/$6}' >"$W/rcr"
      echo "  this build / REF_BIN, CPU: produce $(median "$W/rpr" 1)x, consume $(median "$W/rcr" 1)x; peak RSS: produce $(awk -v a="$(median "$W/dp" 2)" -v b="$(median "$W/rp" 2)" 'BEGIN{printf "%.2f", a/b}')x, consume $(awk -v a="$(median "$W/dc" 2)" -v b="$(median "$W/rc" 2)" 'BEGIN{printf "%.2f", a/b}')x"
    else
      echo "  this build / REF_BIN, CPU: produce $(median "$W/rpr" 1)x (rounds: $(tr '\n' ' ' <"$W/rpr")); peak RSS: produce $(awk -v a="$(median "$W/dp" 2)" -v b="$(median "$W/rp" 2)" 'BEGIN{printf "%.2f", a/b}')x"
    fi
  fi
  # per-round CPU ratios, then their median (rounds are paired)
  paste -d' ' "$W/dp" "$W/kp" | awk '{print $1/$6}' >"$W/pr"
  if [ "$CREPS" -gt 0 ]; then
    paste -d' ' "$W/dc" "$W/kc" | awk '{print $1/$6}' >"$W/cr"
  else
    echo 0 >"$W/cr" && : >"$W/dc" && : >"$W/kc"
  fi
  awk -v only="$ONLY" -v p="$(median "$W/pr" 1)" -v c="$(median "$W/cr" 1)" \
    -v pm="$(median "$W/dp" 2)" -v km="$(median "$W/kp" 2)" -v cm="$(median "$W/dc" 2)" -v kcm="$(median "$W/kc" 2)" \
    -v rp="$(tr '\n' ' ' <"$W/pr")" -v rc="$(tr '\n' ' ' <"$W/cr")" 'BEGIN{
    printf "  produce CPU deimos/kcat: %.2fx (rounds: %s) target <= 1.00: %s\n", p, rp, (p <= 1.0 ? "met" : "NOT met")
    printf "  produce peak RSS deimos/kcat: %.2fx target <= 2.00: %s\n", pm/km, (pm/km <= 2.0 ? "met" : "NOT met")
    if (only == "produce") exit
    printf "  consume CPU deimos/kcat: %.2fx (rounds: %s) target <= 0.80: %s\n", c, rc, (c <= 0.8 ? "met" : "NOT met")
    printf "  consume peak RSS deimos/kcat: %.2fx target <= 2.00: %s\n", cm/kcm, (cm/kcm <= 2.0 ? "met" : "NOT met")
  }'
done

set -- $NS
if [ $# -gt 1 ]; then
  echo
  echo "scaling: CPU per message at N=${*: -1} / at N=$1 (target <= 1.00, with a 10% allowance for noise)"
  awk -v only="$ONLY" -v lo="$1" -v hi="${*: -1}" '{c[$1" "$2]=$3/$1} END{
    n = split(only == "produce" ? "dp" : "dp dc", f, " ")
    for (i = 1; i <= n; i++) { r = c[hi" "f[i]] / c[lo" "f[i]]
      printf "  deimos %-8s %.2fx %s\n", (f[i]=="dp"?"produce":"consume"), r, (r <= 1.10 ? "met" : "NOT met") }
  }' "$SUMMARY"
fi
