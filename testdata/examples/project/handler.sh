#!/bin/sh
# An order handler for `consume --exec` and `events retry`: the payload JSON
# is on stdin. It fails while the file ./fail-orders exists (the examples'
# setup uses that to record one failure), and for an order without an id.
payload=$(cat)
if [ -e fail-orders ]; then echo "orders are failing (./fail-orders exists)" >&2; exit 1; fi
case "$payload" in *'"id"'*) exit 0 ;; esac
echo "no id in order" >&2
exit 1
