#!/bin/sh
# SPDX-License-Identifier: MIT
# A throwaway PostgreSQL 15 cluster for the store's tests: data and socket
# in DIR, no TCP. `pg_cluster.sh start DIR PORT` prints the URI to use as
# KICK_TEST_DB; `pg_cluster.sh stop DIR` stops it and removes DIR.
# initdb refuses root: as root, the cluster runs as the postgres user.
set -e
BIN=/usr/lib/postgresql/15/bin
cmd=$1 dir=$2 port=${3:-55432}
as=""
[ "$(id -u)" -eq 0 ] && as="runuser -u postgres --"
case "$cmd" in
start)
    mkdir -p "$dir"
    [ -n "$as" ] && chown postgres "$dir"
    $as "$BIN/initdb" -D "$dir/data" -U kick --auth=trust >"$dir/initdb.log"
    $as "$BIN/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w \
        -o "-k $dir -c listen_addresses='' -p $port -c fsync=off" start \
        >/dev/null
    echo "postgresql:///postgres?host=$dir&port=$port&user=kick"
    ;;
stop)
    $as "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start DIR [PORT] | stop DIR" >&2
    exit 2
    ;;
esac
