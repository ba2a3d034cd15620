#!/usr/bin/env bash
# Outbox relay cost: `deimos outbox run --once` (the real binary; the broker
# a separate `deimos dev` process) on a throwaway PostgreSQL (DB=postgres,
# the default) or MariaDB (DB=mariadb or DB=mysql), beside, in the same run, the floor
# (psql binary COPY-out / mariadb --quick of the same rows + kcat producing
# the same keyed messages) and the bare drain (the relay's SELECT and DELETE
# alone, same batch size and concurrency). For 1 and 4 workers it prints
# CPU-seconds per million messages of the relay, the broker and the
# database, the database's cost beside the bare drain's, the top statements
# by total time (pg_stat_statements / performance_schema), peak RSS, rates;
# then the idle daemon's load on the database.
#   scripts/bench/outbox.sh                        # N=100000, 1 and 4 workers
#   N=100000,1000000 ROUNDS=2 scripts/bench/outbox.sh   # cost per message at both sizes, medians
#   DB=mariadb scripts/bench/outbox.sh             # MariaDB (DB=mysql is the same)
#   scripts/bench/outbox.sh -bin ./old,./bin/deimos -cpuprofile /tmp/relay.prof
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x bin/deimos ] || make build
command -v kcat >/dev/null || { echo "kcat is required (apt-get install kcat)"; exit 1; }
N="${N:-100000}" WORKERS="${WORKERS:-1,4}" ROUNDS="${ROUNDS:-1}" DB="${DB:-postgres}"
exec go run ./scripts/bench/outbox -bin ./bin/deimos -db "$DB" -n "$N" -workers "$WORKERS" -rounds "$ROUNDS" -topics 8 -size 1024 "$@"
