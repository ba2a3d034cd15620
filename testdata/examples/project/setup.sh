#!/usr/bin/env bash
# Sets up the example project: tables in app.db, records on deimos dev, one
# stored event (id 42) and one failure (id 7), and a git repository whose
# origin/main is this state.
set -euo pipefail
deimos migrate up >/dev/null
sqlite3 app.db <<'SQL'
CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL, updated_at DATETIME NOT NULL);
INSERT INTO widgets VALUES (1, 'bolt', 0.25, '2024-05-01 10:00:00.000000'), (2, 'nut', 0.1, '2024-05-01 11:00:00.000000');
CREATE TABLE deleted_widgets (id INTEGER PRIMARY KEY, widget_id INTEGER NOT NULL, deleted_at DATETIME NOT NULL);
CREATE TABLE widget_rows (id INTEGER PRIMARY KEY, name TEXT, price REAL, created_at DATETIME, updated_at DATETIME);
SQL
deimos produce -q -t widgets -f widgets.jsonl
printf '%s\n' '{"id":"o1","total":3}' '{"id":"o2","total":5}' | deimos produce -q -t orders
deimos encode --topic widgets --output-encoding raw < w.json > message.bin
# one order handled (event), one failed (failure), then renumbered as the examples name them
touch fail-orders
printf '%s\n' '{"id":"o3","total":7}' '{"id":"o5","total":1}' | deimos produce -q -t orders -p 0
deimos consume -q --consumer BillingSink -t orders -p 0 -e >/dev/null 2>&1 || true
rm fail-orders
printf '%s\n' '{"id":"o4","total":9}' | deimos produce -q -t orders -p 0
deimos consume -q --consumer BillingSink -t orders -p 0 -e >/dev/null 2>&1
sqlite3 app.db 'UPDATE phobos_db_checkpoint_failures SET id = 8 WHERE id = (SELECT MAX(id) FROM phobos_db_checkpoint_failures); UPDATE phobos_db_checkpoint_failures SET id = 7 WHERE id = (SELECT MAX(id) FROM phobos_db_checkpoint_failures WHERE id <> 8); UPDATE phobos_db_checkpoint_events SET id = 42 WHERE id = (SELECT MAX(id) FROM phobos_db_checkpoint_events);'
# what the topic, group and registry examples look at: orders stamped
# 2024-05-01 11:00, 11:10 ... 12:50; scratch topics; groups; an Order
# subject with three versions referencing address-value
for i in $(seq 0 11); do
  printf '{"topic":"orders","partition":%d,"timestamp":"2024-05-01T%02d:%02d:00.000Z","key":null,"value":{"id":%d}}\n' $((i % 3)) $((11 + i / 6)) $((i % 6 * 10)) "$i"
done | deimos produce -q
for t in orders-scratch tmp-1 tmp-2 orders.eu; do deimos topic create "$t" -p 3 >/dev/null; done
for g in old-billing scratch-1 scratch-2 widget-sink; do deimos consume -q -t orders -g "$g" -c 2 >/dev/null; done
deimos registry register address-value registry/address.avsc >/dev/null
for v in 1 2 3; do
  deimos registry register orders-value "registry/order-v$v.avsc" --reference com.acme.Address=address-value@1 >/dev/null
done
deimos registry register address-proto-value registry/address.proto --type protobuf >/dev/null
deimos registry register scratch-value registry/scratch.avsc >/dev/null
sqlite3 app.db "INSERT INTO deimos_dead_letters (id, topic, message, key, error, original_id, created_at) VALUES (42, 'widgets', X'00000000017b7d', '1', 'MESSAGE_TOO_LARGE: the broker refused the message', 7, '2024-05-01 10:00:00.000000')"
deimos gen-keys >/dev/null   # key schemas up to date, as a project keeps them
git init -q . && git add -A && git -c user.name=ex -c user.email=ex@example.com commit -qm "example project"
git update-ref refs/remotes/origin/main HEAD
