# Sourced by benchmarks: a throwaway MariaDB server, as the tests start one
# (internal/testenv): mariadb-install-db into a temp dir, mariadbd on a free
# loopback port, as user mysql when run as root, never the system service.
# Durability is off (a benchmark's data is thrown away), as for PostgreSQL's
# fsync=off. Debian has no MySQL 8; MariaDB stands in for it.
#
#   mariadb_start DIR      # sets MDB_PORT, MDB_PID, MDB_SOCK; needs DIR to exist
#   mariadb_sql DB ...     # the mariadb client as root on DB (stdin or -e)
#   mariadb_stop           # kills the server (its data is thrown away)

mariadb_bin() {
  local p
  for p in "${MARIADB_BIN:+$MARIADB_BIN/$1}" "$(command -v "$1" 2>/dev/null)" "/usr/sbin/$1" "/usr/bin/$1"; do
    [ -n "$p" ] && [ -x "$p" ] && { echo "$p"; return 0; }
  done
  echo "$1 not found (apt-get install mariadb-server)" >&2
  return 1
}

mariadb_start() {
  local dir=$1 install server as=()
  install=$(mariadb_bin mariadb-install-db) || return 1
  server=$(mariadb_bin mariadbd) || return 1
  chmod 755 "$dir"
  if [ "$(id -u)" = 0 ]; then chown mysql "$dir"; as=(runuser -u mysql --); fi
  "${as[@]}" "$install" --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; return 1; }
  MDB_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  MDB_SOCK="$dir/mysqld.sock"
  "${as[@]}" "$server" --no-defaults --datadir="$dir/data" --port="$MDB_PORT" --bind-address=127.0.0.1 \
    --socket="$MDB_SOCK" --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" \
    --skip-name-resolve --skip-log-bin --skip-performance-schema \
    --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --innodb-buffer-pool-size="${MDB_BUFFER_POOL:-1G}" \
    --innodb-log-file-size=512M --max-allowed-packet=64M --max-connections=100 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --sql-mode=ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION \
    >/dev/null 2>&1 &
  local i
  for i in $(seq 600); do
    if mariadb_sql mysql -e 'SELECT 1' >/dev/null 2>&1; then
      MDB_PID=$(cat "$dir/mysqld.pid")
      return 0
    fi
    sleep 0.1
  done
  cat "$dir/error.log" >&2
  return 1
}

mariadb_sql() {
  local db=$1; shift
  mariadb --no-defaults -h 127.0.0.1 -P "$MDB_PORT" -u root --batch --skip-column-names "$db" "$@"
}

mariadb_stop() {
  [ -n "${MDB_PID:-}" ] && kill -9 "$MDB_PID" 2>/dev/null
  MDB_PID=
}
