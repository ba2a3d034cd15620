#!/usr/bin/env bash
# The README's quick start: no external setup. Starts `deimos dev` (in-memory
# broker + registry), then runs the main jobs against a SQLite file named
# explicitly (DEIMOS_DEMO_DB, used by database.url in examples/deimos.yaml;
# deimos has no default database, and only `migrate up` creates the file):
# encode/decode through the registry, write rows into the outbox table,
# relay them to Kafka, and read them back.
set -euo pipefail
BIN=${1:-bin/deimos}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
devpid=""
cleanup() { [ -n "$devpid" ] && kill "$devpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

KPORT=${DEMO_KAFKA_PORT:-0} RPORT=${DEMO_REGISTRY_PORT:-0}
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step deimos dev --kafka-port "$KPORT" --registry-port "$RPORT" '&'
"$BIN" dev --kafka-port "$KPORT" --registry-port "$RPORT" --state-file "$work/dev.env" >"$work/dev.out" 2>"$work/dev.err" &
devpid=$!
for _ in $(seq 100); do grep -q '^export' "$work/dev.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^export' "$work/dev.out" || { cat "$work/dev.err"; echo "deimos dev did not start"; exit 1; }
cat "$work/dev.out"
export DEIMOS_DEMO_BROKERS=$(awk '/^kafka/{print $2}' "$work/dev.out")
export DEIMOS_DEMO_REGISTRY=$(awk '/^registry/{print $2}' "$work/dev.out")
export DEIMOS_DEMO_DB="$work/demo.db"
export DEIMOS_CONFIG=examples/deimos.yaml

step "echo '{\"id\":1,\"name\":\"bolt\",\"price\":\"0.25\"}' | deimos encode --topic widgets"
echo '{"id":1,"name":"bolt","price":"0.25"}' | "$BIN" encode --topic widgets | tee "$work/encoded.b64"

step "deimos decode --explain < encoded.b64"
"$BIN" decode --explain < "$work/encoded.b64"

step "deimos migrate up   # SQLite: kafka_messages, kafka_topic_info, ..."
"$BIN" migrate up

step "deimos produce -t widgets --backend outbox < widgets.jsonl   # rows into kafka_messages"
printf '%s\n' '{"id":1,"name":"bolt","price":0.25}' '{"id":2,"name":"nut","price":0.1,"tags":["m4"]}' '{"id":1,"name":"bolt","price":0.3}' > "$work/widgets.jsonl"
"$BIN" produce -t widgets --backend outbox -f "$work/widgets.jsonl"

step "deimos outbox status"
"$BIN" outbox status

step "deimos outbox run --once   # the relay: kafka_messages -> Kafka"
"$BIN" outbox run --once

step "deimos consume -t widgets -o beginning -e"
"$BIN" consume -t widgets -o beginning -e --output json

echo; echo "demo finished: every step above ran against the in-memory broker, registry and a SQLite file."
