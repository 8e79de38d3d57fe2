#!/usr/bin/env bash
# What /health and /metrics cost: a release `buzon run` idle against a private Dovecot +
# Postfix, once without [http] and once with it (resident memory after 10 s idle), then
# scrapes of /metrics and /health (wall time, and the daemon's CPU time from /proc), on an
# empty database and on one with ROWS fetched and ROWS outgoing mails.
#   scripts/measure-http.sh [ROWS]     (default 100000; needs target/release/buzon, root)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-100000}
bin=$(realpath target/release/buzon)
work=$(mktemp -d /tmp/buzon-measure.XXXXXX)
chmod 755 "$work" # Postfix and Dovecot users reach their sockets through it
export MAILTEST_DIR=$work/mail MAILTEST_PORT_BASE=${MAILTEST_PORT_BASE:-45000}
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    scripts/mailserver.sh stop --fast >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
scripts/mailserver.sh start >/dev/null
port=$((MAILTEST_PORT_BASE + 187))

config() { # $1: extra sections
    cat >"$work/buzon.toml" <<EOF
[imap]
host = "127.0.0.1"
port = $((MAILTEST_PORT_BASE + 143))
security = "none"
username = "soporte@example.test"
password = "secret"
[smtp]
host = "127.0.0.1"
port = $((MAILTEST_PORT_BASE + 25))
security = "none"
[support]
address = "soporte@example.test"
secret = "$(openssl rand -hex 32)"
[database]
url = "sqlite://$work/buzon.db"
[storage]
dir = "$work/data"
$1
EOF
}

start() {
    "$bin" run --config "$work/buzon.toml" 2>>"$work/run.log" &
    pid=$!
    sleep 10
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
rss_kb() { awk '/^Rss:/ {print $2}' "/proc/$pid/smaps_rollup"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

scrapes() { # $1: path, $2: count -> "ms per scrape wall, ms CPU per scrape"
    local t0 c0 t1 c1
    t0=$(date +%s%N); c0=$(cpu_ticks)
    for _ in $(seq "$2"); do curl -s -o /dev/null "http://127.0.0.1:$port$1"; done
    t1=$(date +%s%N); c1=$(cpu_ticks)
    local hz; hz=$(getconf CLK_TCK)
    echo "$1: $(((t1 - t0) / 1000 / $2)) µs wall, $(((c1 - c0) * 1000000 / hz / $2)) µs CPU per request ($2 requests)"
}

config ""
start
without=$(rss_kb)
stop
config "[http]
listen = \"127.0.0.1:$port\""
start
with=$(rss_kb)
echo "idle RSS without [http]: $without KiB; with [http]: $with KiB (+$((with - without)) KiB)"
scrapes /health 200
scrapes /metrics 200
echo "after 400 requests: RSS $(rss_kb) KiB"
stop

python3 - "$work/buzon.db" "$rows" <<'EOF'
import sqlite3, sys, time
db, rows = sqlite3.connect(sys.argv[1]), int(sys.argv[2])
now = int(time.time() * 1000)
db.executemany(
    "INSERT INTO inbound_mail (mailbox, uidvalidity, uid, dedupe_key, raw_hash, raw_size, state, fetched_at) VALUES ('x/INBOX', 1, ?, ?, 'h', 1, 'done', ?)",
    ((i + 1, f"k{i}", now) for i in range(rows)))
db.executemany(
    "INSERT INTO outbox (email_id, envelope_from, recipients, state, next_attempt_at, created_at) VALUES (1, 'a@b', 'c@d', 'sent', ?, ?)",
    ((now, now) for _ in range(rows)))
db.commit()
EOF
start
echo "with $rows fetched and $rows sent mails in the database:"
scrapes /health 50
scrapes /metrics 50
stop
