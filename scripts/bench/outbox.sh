#!/usr/bin/env bash
# Outbox relay throughput: `deimos outbox run --once` (the real binary; the
# broker a separate `deimos dev` process) beside the database-only drain of
# the same rows with the same statements (no Kafka), in the same run, on a
# throwaway PostgreSQL (DB=postgres, the default) or MariaDB (DB=mariadb or
# DB=mysql).
# Prints rows/s, the ratio, CPU time (user+sys) per message of the relay,
# the broker and the database, and peak RSS; with ROUNDS>1 it repeats both
# measurements and prints the medians (use on a busy machine).
#   N=100000 scripts/bench/outbox.sh      # smaller run
#   DB=mariadb scripts/bench/outbox.sh    # MariaDB (DB=mysql is the same)
#   ROUNDS=3 scripts/bench/outbox.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x bin/deimos ] || make build
N="${N:-1000000}" WORKERS="${WORKERS:-4}" ROUNDS="${ROUNDS:-1}" DB="${DB:-postgres}"
exec go run ./scripts/bench/outbox -bin ./bin/deimos -db "$DB" -n "$N" -workers "$WORKERS" -rounds "$ROUNDS" -topics 8 -size 1024 "$@"
