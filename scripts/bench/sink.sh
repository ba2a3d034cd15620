#!/usr/bin/env bash
# Benchmark: a table sink (`deimos consume --sink table:NAME`, the real consume
# path: broker -> fetch -> JSON decode -> batch upsert, group offsets
# committed) against a plain bulk INSERT of the same rows (the database's own
# client, multi-row INSERTs of 1000 rows in one transaction) into the same
# throwaway database, in the same run. The broker is `deimos dev`, a separate
# process. Prints rows/s and the ratio (target >= 0.50), the CPU time
# (user+sys) of each process - deimos, broker, database, bulk client - in all
# and per row, and peak RSS. On a shared machine, trust CPU per row over
# rows/s.
# Runs at each N of NS (default 100000 and 1000000) and prints the ratio of
# deimos's CPU per row at the largest N to the smallest (target: not above
# 1, cost per row must not grow with N).
#   NS=100000 scripts/bench/sink.sh                # PostgreSQL (default), one N
#   DB=mariadb NS=100000 scripts/bench/sink.sh     # MariaDB (standing in for MySQL)
#   CPUPROFILE=/tmp/sink.prof scripts/bench/sink.sh  # and the sink's Go CPU profile
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib/proc.sh
. scripts/bench/lib/mariadb.sh
NS=${NS:-${N:-100000 1000000}}
DB=${DB:-postgres}
BIN=${BIN:-./bin/deimos}
[ -x "$BIN" ] || make build >/dev/null
command -v kcat >/dev/null || { echo "kcat is required (apt-get install kcat)"; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is required (apt-get install time)"; exit 1; }

W=$(mktemp -d)
DEV_PID=
PGBIN=
asuser() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -n "$DEV_PID" ] && kill "$DEV_PID" 2>/dev/null
  [ -n "$PGBIN" ] && [ -d "$W/pg/data" ] && asuser "$PGBIN/pg_ctl" -D "$W/pg/data" -m immediate -w stop >/dev/null 2>&1
  mariadb_stop
  wait 2>/dev/null; rm -rf "$W"
}
trap cleanup EXIT

COLS="id bigint PRIMARY KEY, name varchar(255), kind varchar(255), amount double precision, qty integer, note varchar(255)"
case "$DB" in
postgres)
  PGBIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
  [ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries are required (apt-get install postgresql)"; exit 1; }
  chmod 755 "$W"; mkdir -p "$W/pg"; if [ "$(id -u)" = 0 ]; then chown postgres "$W/pg"; fi
  asuser "$PGBIN/initdb" -D "$W/pg/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  asuser "$PGBIN/pg_ctl" -D "$W/pg/data" -l "$W/pg/log" -w -o "-p $PORT -c listen_addresses=127.0.0.1 -k $W/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
  URL="postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable"
  CLIENT=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$URL")
  query() { "${CLIENT[@]}" -t -A -c "$1"; }
  DB_PID=$(head -1 "$W/pg/data/postmaster.pid")
  db_ticks() { tree_ticks "$DB_PID"; } # backends and workers are the postmaster's children
  NAME="PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}')"
  TS="timestamp(6)"
  SAME="s.name IS NOT DISTINCT FROM b.name AND s.kind IS NOT DISTINCT FROM b.kind AND s.amount IS NOT DISTINCT FROM b.amount AND s.qty IS NOT DISTINCT FROM b.qty AND s.note IS NOT DISTINCT FROM b.note"
  ;;
mariadb | mysql)
  chmod 755 "$W"; mkdir -p "$W/mdb"
  mariadb_start "$W/mdb"
  mariadb_sql mysql -e "CREATE DATABASE bench"
  URL="mysql://root@127.0.0.1:$MDB_PORT/bench"
  CLIENT=(mariadb --no-defaults -h 127.0.0.1 -P "$MDB_PORT" -u root --batch --skip-column-names bench)
  query() { "${CLIENT[@]}" -e "$1"; }
  DB_PID=$MDB_PID
  db_ticks() { cpu_ticks "$DB_PID"; } # one process, every connection a thread
  NAME="MariaDB $(query 'SELECT VERSION()' | cut -d- -f1) (standing in for MySQL 8)"
  TS="datetime(6)"
  SAME="s.name <=> b.name AND s.kind <=> b.kind AND s.amount <=> b.amount AND s.qty <=> b.qty AND s.note <=> b.note"
  ;;
*) echo "DB=$DB: use postgres or mariadb"; exit 2 ;;
esac
for t in bench_sink bench_bulk; do
  query "CREATE TABLE $t ($COLS, created_at $TS NOT NULL, updated_at $TS NOT NULL)"
done

"$BIN" dev --kafka-port 0 --no-registry >"$W/dev.out" 2>&1 &
DEV_PID=$!
for _ in $(seq 50); do grep -q '^kafka' "$W/dev.out" 2>/dev/null && break; sleep 0.1; done
BROKER=$(awk '/^kafka/{print $2}' "$W/dev.out")
[ -n "$BROKER" ] || { cat "$W/dev.out"; exit 1; }
export DEIMOS_CONFIG=

# run_n N: one measurement at N rows (fresh tables, its own topic and group).
run_n() {
  local N=$1
  for t in bench_sink bench_bulk; do query "DELETE FROM $t" >/dev/null; done
  # N distinct keys, so compaction does not shrink the work.
  awk -v n="$N" 'BEGIN{for(i=1;i<=n;i++) printf "%d\t{\"id\":%d,\"name\":\"user-%07d@example.com\",\"kind\":\"purchase-completed\",\"amount\":%d.25,\"qty\":%d,\"note\":\"lorem ipsum dolor sit amet consectetur adipiscing elit\"}\n", i, i, i, i%1000, i%7}' >"$W/data.tsv"
  kcat -b "$BROKER" -P -t "bench-$N" -K '\t' -X linger.ms=5 -l "$W/data.tsv"

  # The same rows as SQL: 1000-row INSERTs in one transaction.
  awk -v n="$N" 'BEGIN{print "BEGIN;"; for(i=1;i<=n;i++){ if((i-1)%1000==0) printf "INSERT INTO bench_bulk (id,name,kind,amount,qty,note,created_at,updated_at) VALUES "; else printf ","; printf "(%d,'"'"'user-%07d@example.com'"'"','"'"'purchase-completed'"'"',%d.25,%d,'"'"'lorem ipsum dolor sit amet consectetur adipiscing elit'"'"',now(),now())", i, i, i%1000, i%7; if(i%1000==0||i==n) print ";"} print "COMMIT;"}' >"$W/bulk.sql"

  # Each phase: wall time, user+sys of the process it runs (time(1)) and the
  # CPU the database and the broker spent meanwhile (from /proc).
  D0=$(db_ticks)
  /usr/bin/time -f '%e %U %S %M' -o "$W/bulk.time" "${CLIENT[@]}" <"$W/bulk.sql"
  D1=$(db_ticks); B1=$(cpu_ticks "$DEV_PID")
  PROF=(); [ -n "${CPUPROFILE:-}" ] && PROF=(--cpuprofile "$CPUPROFILE.$N")
  /usr/bin/time -f '%e %U %S %M' -o "$W/sink.time" \
    "$BIN" -b "$BROKER" --db "$URL" --log-level warn consume -q -t "bench-$N" -g "bench-$N" -e --sink table:bench_sink "${PROF[@]}"
  D2=$(db_ticks); B2=$(cpu_ticks "$DEV_PID")
  BROKER_RSS=$(hwm_kb "$DEV_PID")
  DB_RSS=$(hwm_kb "$DB_PID")

  ROWS=$(query "SELECT COUNT(*) FROM bench_sink")
  [ "$ROWS" = "$N" ] || { echo "sink wrote $ROWS rows, expected $N"; exit 1; }
  DIFF=$(query "SELECT COUNT(*) FROM bench_sink s JOIN bench_bulk b ON s.id = b.id WHERE NOT ($SAME)")
  [ "$DIFF" = 0 ] || { echo "sink and bulk rows differ in $DIFF rows"; exit 1; }

  read -r BULK_S BULK_U BULK_SYS _ <"$W/bulk.time"
  read -r SINK_S SINK_U SINK_SYS SINK_RSS <"$W/sink.time"
  CLIENT_CPU=$(awk -v a="$BULK_U" -v b="$BULK_SYS" 'BEGIN{printf "%.2f", a+b}')
  DEIMOS_CPU=$(awk -v a="$SINK_U" -v b="$SINK_SYS" 'BEGIN{printf "%.2f", a+b}')
  DB_BULK=$(ticks_s $((D1 - D0))); DB_SINK=$(ticks_s $((D2 - D1))); BROKER_CPU=$(ticks_s $((B2 - B1)))
  rate() { awk -v n="$N" -v s="$1" 'BEGIN{printf "%.0f", n/(s>0?s:0.001)}'; }
  us() { awk -v n="$N" -v s="$1" 'BEGIN{printf "%.1f", s*1e6/n}'; }
  mib() { awk -v k="$1" 'BEGIN{printf "%.0f", k/1024}'; }
  BR=$(rate "$BULK_S"); SR=$(rate "$SINK_S")
  CLIENT_NAME=$(basename "${CLIENT[0]}")

  printf "N=%d messages, %s, JSON payloads, distinct keys\n" "$N" "$NAME"
  printf "%-52s %8s rows/s (%.2fs wall)\n" "bulk INSERT ($CLIENT_NAME, 1000-row INSERTs, 1 tx)" "$BR" "$BULK_S"
  printf "%-52s %8s rows/s (%.2fs wall)\n" "deimos consume --sink table (Kafka->$DB)" "$SR" "$SINK_S"
  awk -v a="$SR" -v b="$BR" 'BEGIN{r=a/b; printf "ratio sink/bulk: %.2f (target >= 0.50) %s\n", r, (r>=0.5?"OK":"BELOW TARGET")}'
  echo "CPU time, user+sys (per row):"
  printf "  bulk:  %s client %ss (%s us), database %ss (%s us)\n" "$CLIENT_NAME" "$CLIENT_CPU" "$(us "$CLIENT_CPU")" "$DB_BULK" "$(us "$DB_BULK")"
  printf "  sink:  deimos %ss (%s us), broker %ss (%s us), database %ss (%s us)\n" \
    "$DEIMOS_CPU" "$(us "$DEIMOS_CPU")" "$BROKER_CPU" "$(us "$BROKER_CPU")" "$DB_SINK" "$(us "$DB_SINK")"
  if [ "$DB" = postgres ]; then DBR="n/a (a process per connection)"; else DBR="$(mib "$DB_RSS") MiB"; fi
  printf "peak RSS: deimos %s MiB, broker %s MiB (deimos dev, whole run incl. the produce), database %s\n" \
    "$(mib "$SINK_RSS")" "$(mib "$BROKER_RSS")" "$DBR"
  echo "$N $DEIMOS_CPU" >>"$W/scaling"
}

echo "load: $(uptime | sed 's/.*load average: //') (trust CPU per row over rows/s on a shared machine)"
: >"$W/scaling"
for N in $NS; do
  echo
  run_n "$N"
done
if [ "$(wc -l <"$W/scaling")" -gt 1 ]; then
  sort -n "$W/scaling" | awk 'NR==1{lo=$1; lc=$2} {hi=$1; hc=$2} END{r=(hc/hi)/(lc/lo); printf "\nscaling: deimos CPU per row at N=%d / at N=%d: %.2fx (target <= 1.00, 10%% allowance for noise: %s)\n", hi, lo, r, (r<=1.10?"met":"NOT met")}'
fi
