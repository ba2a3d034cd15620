#!/usr/bin/env bash
# Outbox relay throughput: `deimos outbox run --once` (the real binary, against
# an in-process kfake broker) beside the database-only drain rate (the same
# SELECT + DELETE without Kafka) on a throwaway PostgreSQL, in the same run.
# Prints msgs/s, the ratio and the relay's peak RSS; with ROUNDS>1 it repeats
# both measurements and prints the medians (use on a busy machine).
#   N=100000 scripts/bench/outbox.sh      # smaller run
#   ROUNDS=3 scripts/bench/outbox.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x bin/deimos ] || make build
N="${N:-1000000}" WORKERS="${WORKERS:-4}" ROUNDS="${ROUNDS:-1}"
exec go run ./scripts/bench/outbox -bin ./bin/deimos -n "$N" -workers "$WORKERS" -rounds "$ROUNDS" -topics 8 -size 1024 "$@"
