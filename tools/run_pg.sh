#!/bin/sh
# SPDX-License-Identifier: MIT
# `make run-pg`: a throwaway PostgreSQL 15 cluster (tests/unit/pg_cluster.sh)
# and two kickd nodes on it, 127.0.0.1:8080 and :8081, with examples/;
# Ctrl-C stops the nodes and the cluster and removes its files.
#
# usage: tools/run_pg.sh BUILD_DIR [PG_PORT]
b=${1:-build} port=${2:-55432}
dir=$(mktemp -d /tmp/kick-run-pg.XXXXXX) || exit 1
rmdir "$dir"
pids=""
stop() {
    trap - INT TERM EXIT
    for p in $pids; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in $pids; do
        wait "$p" 2>/dev/null
    done
    tests/unit/pg_cluster.sh stop "$dir"
    echo "stopped: both nodes and the cluster ($dir removed)"
}
uri=$(tests/unit/pg_cluster.sh start "$dir" "$port") || {
    echo "PostgreSQL did not start; its log: $dir/pg.log" >&2
    exit 1
}
trap stop EXIT
trap 'exit 130' INT TERM
echo "PostgreSQL 15 in $dir (port $port): $uri"
for p in 8080 8081; do
    PATH="$(pwd)/$b:$PATH" "$b/kickd" --listen "127.0.0.1:$p" \
        --scripts examples --mode auto --db "$uri" &
    pids="$pids $!"
done
cat <<MSG
two kickd nodes on one queue: http://127.0.0.1:8080 and http://127.0.0.1:8081
try:  for i in 1 2 3 4 5 6; do curl -s -H 'Prefer: respond-async' \\
        "http://127.0.0.1:808\$((i % 2))/hello?name=\$i"; echo; done
      sleep 1; curl -s http://127.0.0.1:8081/jobs   # every job, either node
      psql '$uri' -c 'SELECT id, route, state, owner FROM jobs'
the dashboards: http://127.0.0.1:8080/ and http://127.0.0.1:8081/
Ctrl-C stops both nodes and the cluster
MSG
wait
