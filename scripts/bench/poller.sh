#!/usr/bin/env bash
# Benchmark: `deimos poller run --once` publishing N rows from a throwaway
# PostgreSQL with Avro (avro_schema_registry against `deimos dev`), beside a
# plain SELECT of the same rows in the same run. Prints rows/s, the ratio, and
# the poller's peak RSS.
#
#   scripts/bench/poller.sh            # N=1000000
#   N=100000 BATCH=1000 scripts/bench/poller.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-1000000}
BATCH=${BATCH:-1000}
BIN=${BIN:-./bin/deimos}
[ -x "$BIN" ] || make build >/dev/null
BIN=$(readlink -f "$BIN")

PGBIN=${PG_BIN:-$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort | tail -1)")}
WORK=$(mktemp -d /tmp/deimos-bench-poller.XXXXXX)
chmod 755 "$WORK"
AS=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$WORK"
  AS=(runuser -u postgres --)
fi
DEVPID=""
cleanup() {
  [ -n "$DEVPID" ] && kill "$DEVPID" 2>/dev/null || true
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -U postgres -A trust --no-sync >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w \
  -o "-p $PORT -c listen_addresses=127.0.0.1 -k $WORK -c fsync=off -c synchronous_commit=off" start >/dev/null
PSQL=("$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -q -v ON_ERROR_STOP=1)
"${PSQL[@]}" -c "CREATE DATABASE bench"
URL="postgres://postgres@127.0.0.1:$PORT/bench?sslmode=disable"

echo "loading $N rows..."
"${PSQL[@]}" -d bench <<SQL
CREATE TABLE widgets (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, price DOUBLE PRECISION, active BOOLEAN NOT NULL,
  updated_at TIMESTAMP NOT NULL);
INSERT INTO widgets (name, price, active, updated_at)
  SELECT 'widget-' || g, g * 1.5, g % 2 = 0, TIMESTAMP '2024-01-01' + (g / 3) * INTERVAL '1 millisecond'
  FROM generate_series(1, $N) g;
CREATE INDEX index_widgets_on_updated_at_id ON widgets (updated_at, id);
ANALYZE widgets;
SQL

mkdir -p "$WORK/schemas/com/example"
cat > "$WORK/schemas/com/example/Widget.avsc" <<'EOF'
{"type":"record","name":"Widget","namespace":"com.example","fields":[
  {"name":"id","type":"long"},
  {"name":"name","type":"string"},
  {"name":"price","type":["null","double"],"default":null},
  {"name":"active","type":"boolean"},
  {"name":"updated_at","type":{"type":"long","logicalType":"timestamp-millis"}}]}
EOF

"$BIN" dev --kafka-port 0 --registry-port 0 --topic widgets >"$WORK/dev.out" 2>&1 &
DEVPID=$!
for _ in $(seq 50); do grep -q '^export' "$WORK/dev.out" && break; sleep 0.1; done
eval "$(grep '^export' "$WORK/dev.out")"

cat > "$WORK/deimos.yaml" <<EOF
schema: {backend: avro_schema_registry, path: $WORK/schemas}
database: {url: "$URL"}
topics:
  - {name: widgets, schema: Widget, namespace: com.example, key_config: {field: id}}
pollers:
  - {name: BenchWidgets, table: widgets, topic: widgets, batch_size: $BATCH, delay: 1s}
EOF
"$BIN" --config "$WORK/deimos.yaml" migrate up --only poller >/dev/null

now() { date +%s.%N; }
t0=$(now)
"${PSQL[@]}" -d bench -At -c "SELECT id, name, price, active, updated_at FROM widgets ORDER BY updated_at, id" >/dev/null
t1=$(now)
/usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" --config "$WORK/deimos.yaml" --log-level warn poller run --once
t2=$(now)
PUB=$("${PSQL[@]}" -d bench -At -c "SELECT last_sent_id FROM deimos_poll_info WHERE producer = 'BenchWidgets'")
python3 - "$N" "$t0" "$t1" "$t2" "$(cat "$WORK/rss")" "$PUB" "$BATCH" <<'PY'
import sys
n, t0, t1, t2, rss, last, batch = int(sys.argv[1]), *map(float, sys.argv[2:5]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
sel, pol = t1 - t0, t2 - t1
print(f"rows:                 {n} (cursor last_sent_id={last}, batch_size={batch})")
print(f"plain SELECT (psql):  {sel:7.2f} s  {n/sel:12,.0f} rows/s")
print(f"poller run --once:    {pol:7.2f} s  {n/pol:12,.0f} rows/s  (avro_schema_registry -> kfake)")
print(f"ratio poller/SELECT:  {sel/pol:7.2f}x the SELECT's throughput")
print(f"poller peak RSS:      {rss/1024:7.1f} MiB")
PY
