#!/usr/bin/env bash
# Outbox relay throughput: `deimos outbox run --once` (the real binary, against
# an in-process kfake broker) beside the database-only drain rate (the same
# SELECT + DELETE without Kafka) on a throwaway PostgreSQL, in the same run.
# Prints msgs/s, the ratio and the relay's peak RSS.
#   N=100000 scripts/bench/outbox.sh      # smaller run
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x bin/deimos ] || make build
N="${N:-1000000}" WORKERS="${WORKERS:-4}"
exec go run ./scripts/bench/outbox -bin ./bin/deimos -n "$N" -workers "$WORKERS" -topics 8 -size 1024 "$@"
