#!/usr/bin/env bash
# Make sure a PostgreSQL answers for the tests and print its URL (BUZON_TEST_POSTGRES=...).
# Uses the one on 127.0.0.1:5432 when it accepts user postgres without a password (these
# machines); otherwise starts a private throwaway cluster, trust auth, on port 55432.
#   scripts/postgres.sh start | stop
set -euo pipefail

PRIVATE_DIR=${BUZON_PG_DIR:-/tmp/buzon-postgres}
PRIVATE_PORT=${BUZON_PG_PORT:-55432}

try_url() { psql "$1" -Atqc 'SELECT 1' >/dev/null 2>&1; }

start() {
    local url=postgres://postgres@127.0.0.1:5432/test
    if try_url "$url"; then echo "BUZON_TEST_POSTGRES=$url"; return; fi
    # A system cluster that is installed but stopped (as on these machines after a reboot).
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] && [ "$(id -u)" = 0 ]; then
        for v in $(ls /etc/postgresql); do
            pg_ctlcluster --skip-systemctl-redirect "$v" main start >/dev/null 2>&1 || true
        done
        for _ in $(seq 1 50); do try_url "$url" && { echo "BUZON_TEST_POSTGRES=$url"; return; }; sleep 0.1; done
    fi
    url=postgres://postgres@127.0.0.1:$PRIVATE_PORT/test
    if try_url "$url"; then echo "BUZON_TEST_POSTGRES=$url"; return; fi
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$bin" ] || { echo "postgres.sh: PostgreSQL is not installed (run scripts/install-deps.sh)" >&2; exit 1; }
    local as=()
    [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
    rm -rf "$PRIVATE_DIR"; mkdir -p "$PRIVATE_DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$PRIVATE_DIR"
    "${as[@]}" "$bin/initdb" -D "$PRIVATE_DIR/data" -A trust -U postgres >/dev/null
    "${as[@]}" "$bin/pg_ctl" -D "$PRIVATE_DIR/data" -l "$PRIVATE_DIR/log" -w \
        -o "-p $PRIVATE_PORT -k $PRIVATE_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    psql "postgres://postgres@127.0.0.1:$PRIVATE_PORT/postgres" -qc 'CREATE DATABASE test' >/dev/null
    echo "BUZON_TEST_POSTGRES=$url"
}

stop() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -d "$PRIVATE_DIR/data" ] || return 0
    local as=()
    [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
    "${as[@]}" "$bin/pg_ctl" -D "$PRIVATE_DIR/data" -m fast stop >/dev/null 2>&1 || true
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
