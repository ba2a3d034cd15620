#!/usr/bin/env bash
# Benchmark: a table sink (`deimos consume --sink table:NAME`, the real consume
# path: kfake broker -> fetch -> JSON decode -> batch upsert in PostgreSQL, group
# offsets committed) against a plain bulk INSERT of the same rows (psql,
# multi-row INSERTs of 1000 rows in one transaction) into the same throwaway
# PostgreSQL, in the same run. Prints rows/s and the ratio (target >= 0.50).
#   N=100000 scripts/bench/sink.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-1000000}
BIN=${BIN:-./bin/deimos}
[ -x "$BIN" ] || make build >/dev/null
command -v kcat >/dev/null || { echo "kcat is required (apt-get install kcat)"; exit 1; }
PGBIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries are required (apt-get install postgresql)"; exit 1; }

W=$(mktemp -d)
DEV_PID=
asuser() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -n "$DEV_PID" ] && kill "$DEV_PID" 2>/dev/null
  [ -d "$W/pg/data" ] && asuser "$PGBIN/pg_ctl" -D "$W/pg/data" -m immediate -w stop >/dev/null 2>&1
  wait 2>/dev/null; rm -rf "$W"
}
trap cleanup EXIT

chmod 755 "$W"; mkdir -p "$W/pg"; if [ "$(id -u)" = 0 ]; then chown postgres "$W/pg"; fi
asuser "$PGBIN/initdb" -D "$W/pg/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
PORT=$((20000 + RANDOM % 20000))
asuser "$PGBIN/pg_ctl" -D "$W/pg/data" -l "$W/pg/log" -w -o "-p $PORT -c listen_addresses=127.0.0.1 -k $W/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
URL="postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable"
PSQL() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$URL" "$@"; }
for t in bench_sink bench_bulk; do
  PSQL -c "CREATE TABLE $t (id bigint PRIMARY KEY, name character varying, kind character varying, amount float, qty integer, note character varying, created_at timestamp(6) NOT NULL, updated_at timestamp(6) NOT NULL)"
done

"$BIN" dev --kafka-port 0 --no-registry >"$W/dev.out" 2>&1 &
DEV_PID=$!
for _ in $(seq 50); do grep -q '^kafka' "$W/dev.out" 2>/dev/null && break; sleep 0.1; done
BROKER=$(awk '/^kafka/{print $2}' "$W/dev.out")
[ -n "$BROKER" ] || { cat "$W/dev.out"; exit 1; }
export DEIMOS_CONFIG=

# N distinct keys, so compaction does not shrink the work.
awk -v n="$N" 'BEGIN{for(i=1;i<=n;i++) printf "%d\t{\"id\":%d,\"name\":\"user-%07d@example.com\",\"kind\":\"purchase-completed\",\"amount\":%d.25,\"qty\":%d,\"note\":\"lorem ipsum dolor sit amet consectetur adipiscing elit\"}\n", i, i, i, i%1000, i%7}' >"$W/data.tsv"
kcat -b "$BROKER" -P -t bench -K '\t' -X linger.ms=5 -l "$W/data.tsv"

# The same rows as SQL: 1000-row INSERTs in one transaction.
awk -v n="$N" 'BEGIN{print "BEGIN;"; for(i=1;i<=n;i++){ if((i-1)%1000==0) printf "INSERT INTO bench_bulk (id,name,kind,amount,qty,note,created_at,updated_at) VALUES "; else printf ","; printf "(%d,'"'"'user-%07d@example.com'"'"','"'"'purchase-completed'"'"',%d.25,%d,'"'"'lorem ipsum dolor sit amet consectetur adipiscing elit'"'"',now(),now())", i, i, i%1000, i%7; if(i%1000==0||i==n) print ";"} print "COMMIT;"}' >"$W/bulk.sql"

now() { date +%s.%N; }
rate() { awk -v n="$N" -v s="$1" 'BEGIN{printf "%.0f", n/(s>0?s:0.001)}'; }

T0=$(now); PSQL -f "$W/bulk.sql"; T1=$(now)
BULK_S=$(awk -v a="$T0" -v b="$T1" 'BEGIN{print b-a}')
T0=$(now)
"$BIN" -b "$BROKER" --db "$URL" --log-level warn consume -q -t bench -g bench -e --sink table:bench_sink
T1=$(now)
SINK_S=$(awk -v a="$T0" -v b="$T1" 'BEGIN{print b-a}')

ROWS=$(PSQL -t -A -c "SELECT COUNT(*) FROM bench_sink")
[ "$ROWS" = "$N" ] || { echo "sink wrote $ROWS rows, expected $N"; exit 1; }
DIFF=$(PSQL -t -A -c "SELECT COUNT(*) FROM bench_sink s JOIN bench_bulk b USING (id) WHERE (s.name,s.kind,s.amount,s.qty,s.note) IS DISTINCT FROM (b.name,b.kind,b.amount,b.qty,b.note)")
[ "$DIFF" = 0 ] || { echo "sink and bulk rows differ in $DIFF rows"; exit 1; }

BR=$(rate "$BULK_S"); SR=$(rate "$SINK_S")
printf "N=%d messages, PostgreSQL %s, JSON payloads, distinct keys\n" "$N" "$("$PGBIN/postgres" --version | awk '{print $3}')"
printf "%-46s %10s rows/s (%.2fs)\n" "bulk INSERT (psql, 1000-row INSERTs, 1 tx)" "$BR" "$BULK_S"
printf "%-46s %10s rows/s (%.2fs)\n" "deimos consume --sink table (Kafka->PG)" "$SR" "$SINK_S"
awk -v a="$SR" -v b="$BR" 'BEGIN{r=a/b; printf "ratio sink/bulk: %.2f (target >= 0.50) %s\n", r, (r>=0.5?"OK":"BELOW TARGET")}'
