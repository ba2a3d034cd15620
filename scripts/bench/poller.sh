#!/usr/bin/env bash
# Benchmark: `deimos poller run --once` publishing N rows with Avro
# (avro_schema_registry against `deimos dev`, a separate process) from a
# throwaway database, beside a plain SELECT of the same rows by the database's
# own client in the same run. Prints rows/s, the CPU time (user+sys) each
# process used (the poller, the broker, the database; per row), and the
# poller's peak RSS, for each N (default 100,000 and 1,000,000) and the
# ratio of the poller's CPU per row at the largest N to the smallest
# (target: not above 1, cost per row must not grow with N).
#
#   scripts/bench/poller.sh                  # PostgreSQL, N=100000 and 1000000
#   DB=mariadb scripts/bench/poller.sh       # MariaDB (datetime(6) column); DB=mysql is the same
#   DB=mariadb TS=datetime NS=200000 scripts/bench/poller.sh   # whole seconds: 1,000 rows tie on each
#   NS=100000 BATCH=1000 ROUNDS=3 scripts/bench/poller.sh      # median of 3 runs (cursor reset between)
#   REF_BIN=/tmp/deimos-old scripts/bench/poller.sh            # and another build, alternating, same rows
#   PROF=/tmp/poller.prof DB=mariadb scripts/bench/poller.sh   # and CPU profiles of the poller (PROF.N.ROUND)
#
# The machine may be shared: elapsed times and rows/s move with the load,
# CPU per row much less.
set -euo pipefail
cd "$(dirname "$0")/../.."
NS=${NS:-${N:-100000 1000000}}
ROUNDS=${ROUNDS:-1}
REF_BIN=${REF_BIN:-}
BATCH=${BATCH:-1000}
DB=${DB:-postgres}
TS=${TS:-datetime(6)}
BIN=${BIN:-./bin/deimos}
PROF=${PROF:-}
[ -x "$BIN" ] || make build >/dev/null
BIN=$(readlink -f "$BIN")
[ -z "$REF_BIN" ] || REF_BIN=$(readlink -f "$REF_BIN")

WORK=$(mktemp -d /tmp/deimos-bench-poller.XXXXXX)
chmod 755 "$WORK"
DEVPID=""
DBPID=""
cleanup() {
  [ -n "$DEVPID" ] && kill "$DEVPID" 2>/dev/null || true
  stop_db || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# cpu_ticks PID: CPU clock ticks (user+sys) used by PID and every process
# below it, those still running and those already reaped.
cpu_ticks() {
  python3 - "$1" <<'PY'
import os, sys
root = int(sys.argv[1])
procs = {}
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        with open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    # after the name: state ppid ... utime(14) stime(15) cutime(16) cstime(17)
    procs[int(p)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
tree, total = {root}, 0
changed = True
while changed:
    changed = False
    for pid, (ppid, _) in procs.items():
        if ppid in tree and pid not in tree:
            tree.add(pid)
            changed = True
print(sum(procs[p][1] for p in tree if p in procs))
PY
}

case "$DB" in
postgres)
  PGBIN=${PG_BIN:-$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort | tail -1)")}
  AS=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$WORK"
    AS=(runuser -u postgres --)
  fi
  stop_db() { "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1; }
  "${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -U postgres -A trust --no-sync >/dev/null
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w \
    -o "-p $PORT -c listen_addresses=127.0.0.1 -k $WORK -c fsync=off -c synchronous_commit=off" start >/dev/null
  DBPID=$(head -1 "$WORK/data/postmaster.pid")
  PSQL=("$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -q -v ON_ERROR_STOP=1)
  "${PSQL[@]}" -c "CREATE DATABASE bench"
  URL="postgres://postgres@127.0.0.1:$PORT/bench?sslmode=disable"
  sql() { "${PSQL[@]}" -d bench "$@"; }
  value() { "${PSQL[@]}" -d bench -At -c "$1"; }
  SELECT_CMD=("${PSQL[@]}" -d bench -At -c "SELECT id, name, price, active, updated_at FROM widgets ORDER BY updated_at, id")
  CLIENT=psql
  load_rows() {
  echo "loading $1 rows into PostgreSQL..."
  sql <<SQL
DROP TABLE IF EXISTS widgets;
CREATE TABLE widgets (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, price DOUBLE PRECISION, active BOOLEAN NOT NULL,
  updated_at TIMESTAMP NOT NULL);
INSERT INTO widgets (name, price, active, updated_at)
  SELECT 'widget-' || g, g * 1.5, g % 2 = 0, TIMESTAMP '2024-01-01' + (g / 3) * INTERVAL '1 millisecond'
  FROM generate_series(1, $1) g;
CREATE INDEX index_widgets_on_updated_at_id ON widgets (updated_at, id);
ANALYZE widgets;
SQL
  }
  ;;
mariadb | mysql)
  DB=mariadb
  MDBIN=${MARIADB_BIN:-/usr/sbin}
  AS=()
  if [ "$(id -u)" = 0 ]; then # mariadbd refuses to run as root
    chown mysql "$WORK"
    AS=(runuser -u mysql --)
  fi
  stop_db() { [ -n "$DBPID" ] && kill -9 "$DBPID" 2>/dev/null; }
  "${AS[@]}" "$(command -v mariadb-install-db || echo /usr/bin/mariadb-install-db)" --no-defaults --datadir="$WORK/data" \
    --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve >/dev/null 2>&1
  "${AS[@]}" "$MDBIN/mariadbd" --no-defaults --datadir="$WORK/data" --port="$PORT" --bind-address=127.0.0.1 \
    --socket="$WORK/mysqld.sock" --pid-file="$WORK/mysqld.pid" --log-error="$WORK/error.log" \
    --skip-name-resolve --skip-log-bin --skip-performance-schema \
    --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --innodb-buffer-pool-size=512M \
    --max-allowed-packet=64M --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    >"$WORK/mariadbd.out" 2>&1 &
  disown
  MYSQL=(mariadb --no-defaults -h 127.0.0.1 -P "$PORT" -u root)
  for i in $(seq 600); do # a loaded machine can take a minute
    [ -s "$WORK/mysqld.pid" ] && "${MYSQL[@]}" -e "SELECT 1" >/dev/null 2>&1 && break
    if [ "$i" = 600 ]; then
      echo "mariadbd did not start:" >&2
      cat "$WORK/error.log" "$WORK/mariadbd.out" >&2
      exit 1
    fi
    sleep 0.1
  done
  DBPID=$(cat "$WORK/mysqld.pid")
  "${MYSQL[@]}" -e "CREATE DATABASE bench"
  URL="mysql://root@127.0.0.1:$PORT/bench"
  sql() { "${MYSQL[@]}" bench "$@"; }
  value() { "${MYSQL[@]}" bench -N -e "$1"; }
  SELECT_CMD=("${MYSQL[@]}" bench -N -e "SELECT id, name, price, active, updated_at FROM widgets ORDER BY updated_at, id")
  CLIENT=mariadb
  STEP="(seq DIV 3) * 1000 MICROSECOND" # 3 rows per millisecond
  [ "$TS" = datetime ] && STEP="(seq DIV 1000) SECOND" # whole seconds: 1,000 rows per second
  load_rows() {
  echo "loading $1 rows into MariaDB (updated_at $TS)..."
  sql >/dev/null <<SQL
DROP TABLE IF EXISTS widgets;
CREATE TABLE widgets (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, name varchar(255) NOT NULL, price double,
  active tinyint(1) NOT NULL, updated_at $TS NOT NULL) ENGINE=InnoDB;
INSERT INTO widgets (name, price, active, updated_at)
  SELECT CONCAT('widget-', seq), seq * 1.5, seq % 2 = 0, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL $STEP
  FROM seq_1_to_$1;
CREATE INDEX index_widgets_on_updated_at_id ON widgets (updated_at, id);
ANALYZE TABLE widgets;
SQL
  }
  ;;
*)
  echo "DB=$DB: use postgres or mariadb (mysql)" >&2
  exit 2
  ;;
esac

mkdir -p "$WORK/schemas/com/example"
cat > "$WORK/schemas/com/example/Widget.avsc" <<'EOF'
{"type":"record","name":"Widget","namespace":"com.example","fields":[
  {"name":"id","type":"long"},
  {"name":"name","type":"string"},
  {"name":"price","type":["null","double"],"default":null},
  {"name":"active","type":"boolean"},
  {"name":"updated_at","type":{"type":"long","logicalType":"timestamp-millis"}}]}
EOF

"$BIN" dev --kafka-port 0 --registry-port 0 --topic widgets --state-file "$WORK/dev.env" >"$WORK/dev.out" 2>&1 &
DEVPID=$!
for _ in $(seq 600); do grep -q '^export' "$WORK/dev.out" && break; sleep 0.1; done
grep -q '^export' "$WORK/dev.out" || { echo "deimos dev did not start:" >&2; cat "$WORK/dev.out" >&2; exit 1; }
eval "$(grep '^export' "$WORK/dev.out")"

cat > "$WORK/deimos.yaml" <<EOF
schema: {backend: avro_schema_registry, path: $WORK/schemas}
database: {url: "$URL"}
topics:
  - {name: widgets, schema: Widget, namespace: com.example, key_config: {field: id}}
pollers:
  - {name: BenchWidgets, table: widgets, topic: widgets, batch_size: $BATCH, delay: 1s}
EOF
load_rows 1 # the table must exist for migrate and the config check
"$BIN" --config "$WORK/deimos.yaml" migrate up --only poller >/dev/null
echo "load: $(uptime | sed 's/.*load average: //') (trust CPU per row over rows/s on a shared machine)"

now() { date +%s.%N; }
HZ=$(getconf CLK_TCK)
: >"$WORK/runs"
# run_poller LABEL BIN N: one `poller run --once` from the beginning; appends
# "N LABEL cpu_s rss_kb wall_s broker_s db_s last_sent_id" to $WORK/runs.
run_poller() {
  local label=$1 bin=$2 n=$3 round=$4 prof=() t1 t2 db1 db2 dev1 dev2 last
  "$bin" --config "$WORK/deimos.yaml" --log-level warn poller reset BenchWidgets >"$WORK/reset.out" 2>&1 || { cat "$WORK/reset.out" >&2; exit 1; }
  [ -n "$PROF" ] && [ "$label" = deimos ] && prof=(--cpuprofile "$PROF.$n.$round")
  db1=$(cpu_ticks "$DBPID"); dev1=$(cpu_ticks "$DEVPID"); t1=$(now)
  /usr/bin/time -f '%U %S %M' -o "$WORK/poller.time" "$bin" --config "$WORK/deimos.yaml" --log-level warn poller run --once "${prof[@]}"
  t2=$(now); db2=$(cpu_ticks "$DBPID"); dev2=$(cpu_ticks "$DEVPID")
  last=$(value "SELECT last_sent_id FROM deimos_poll_info WHERE producer = 'BenchWidgets'" | tr -d ' ')
  [ "$last" = "$n" ] || { echo "$label: cursor last_sent_id=$last after the run, expected $n" >&2; exit 1; }
  awk -v n="$n" -v l="$label" -v t1="$t1" -v t2="$t2" -v b="$((dev2 - dev1))" -v d="$((db2 - db1))" -v hz="$HZ" -v last="$last" \
    '{printf "%d %s %.3f %d %.3f %.3f %.3f %s\n", n, l, $1+$2, $3, t2-t1, b/hz, d/hz, last}' "$WORK/poller.time" >>"$WORK/runs"
}

for N in $NS; do
  load_rows "$N"
  db0=$(cpu_ticks "$DBPID")
  t0=$(now)
  /usr/bin/time -f '%U %S' -o "$WORK/select.time" "${SELECT_CMD[@]}" >/dev/null
  t1=$(now)
  db1=$(cpu_ticks "$DBPID")
  awk -v n="$N" -v t0="$t0" -v t1="$t1" -v d="$((db1 - db0))" -v hz="$HZ" \
    '{printf "%d select %.3f 0 %.3f 0 %.3f 0\n", n, $1+$2, t1-t0, d/hz}' "$WORK/select.time" >>"$WORK/runs"
  for r in $(seq "$ROUNDS"); do
    [ -z "$REF_BIN" ] || run_poller ref "$REF_BIN" "$N" "$r"
    run_poller deimos "$BIN" "$N" "$r"
  done
done

python3 - "$DB" "$TS" "$CLIENT" "$BATCH" "$WORK/runs" "$REF_BIN" <<'PY'
import statistics, sys
db, ts, client, batch, path, ref = sys.argv[1:7]
runs = {}
for line in open(path):
    n, label, *v = line.split()
    runs.setdefault((int(n), label), []).append([float(x) for x in v[:6]])
def med(n, label, i):
    return statistics.median(r[i] for r in runs[(n, label)])
name = {"postgres": "PostgreSQL", "mariadb": f"MariaDB, updated_at {ts}"}[db]
ns = sorted({n for n, _ in runs})
def cpu(label, secs, n):
    print(f"  {label:<26} {secs:7.2f} s CPU  {secs / n * 1e6:6.2f} us/row")
for n in ns:
    print(f"\nrows: {n} ({name}, batch_size={batch}; medians of {len(runs[(n, 'deimos')])} run(s), cursor reset between)")
    sel = med(n, "select", 2)
    print(f"plain SELECT ({client}):  {sel:7.2f} s  {n/sel:12,.0f} rows/s")
    cpu(f"{client} client", med(n, "select", 0), n)
    cpu("database", med(n, "select", 4), n)
    for label, what in (("ref", "REF_BIN " + ref), ("deimos", "poller run --once")):
        if (n, label) not in runs:
            continue
        pol = med(n, label, 2)
        print(f"{what}:  {pol:7.2f} s  {n/pol:12,.0f} rows/s  (avro_schema_registry -> deimos dev)")
        cpu("poller (user+sys)", med(n, label, 0), n)
        cpu("broker (deimos dev)", med(n, label, 3), n)
        cpu("database", med(n, label, 4), n)
        print(f"  poller peak RSS            {med(n, label, 1)/1024:7.1f} MiB")
    per_row = (med(n, "deimos", 0) + med(n, "deimos", 3) + med(n, "deimos", 4)) / n
    print(f"all three processes:  {per_row * 1e6:7.2f} us CPU per row ({1 / per_row:,.0f} rows/s per busy core)")
    print(f"ratio poller/SELECT:  {sel/med(n, 'deimos', 2):7.2f}x the SELECT's throughput")
    if (n, "ref") in runs:
        print(f"poller CPU per row, this build / REF_BIN: {med(n, 'deimos', 0)/med(n, 'ref', 0):.2f}x")
if len(ns) > 1:
    lo, hi = ns[0], ns[-1]
    r = (med(hi, "deimos", 0) / hi) / (med(lo, "deimos", 0) / lo)
    print(f"\nscaling: poller CPU per row at N={hi} / at N={lo}: {r:.2f}x (target <= 1.00, 10% allowance for noise: {'met' if r <= 1.10 else 'NOT met'})")
    r = med(hi, "deimos", 1) / med(lo, "deimos", 1)
    print(f"scaling: poller peak RSS at N={hi} / at N={lo}: {r:.2f}x (bounded by the batch size, not N)")
PY
