#!/usr/bin/env bash
# buzon's benchmarks on this machine: starts its own Dovecot + Postfix, makes sure
# PostgreSQL answers, builds in release mode and prints figures for SQLite and PostgreSQL.
#   scripts/bench.sh [--latency N] [--backlog N] [--big N] [--cases N] [--no-fsync]
# (defaults 50, 5000, 200, 1000000; 0 skips that part). 7 to 11 minutes here, and a few
# more for the PostgreSQL drain by 1, 2 and 3 processes (benches/cluster.rs, --backlog).
# `scripts/bench.sh --only-cluster [--backlog N]` runs that part alone.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
scripts/install-deps.sh >/dev/null

export MAILTEST_DIR
MAILTEST_DIR=$(mktemp -d /tmp/buzon-bench-mail.XXXXXX)
trap 'scripts/mailserver.sh stop --fast >/dev/null 2>&1 || true; rm -rf "$MAILTEST_DIR"' EXIT
for base in 41000 42000 43000 44000; do
    if MAILTEST_PORT_BASE=$base scripts/mailserver.sh start >/dev/null 2>&1; then
        export MAILTEST_PORT_BASE=$base; break
    fi
done
[ -n "${MAILTEST_PORT_BASE:-}" ] || { echo "bench.sh: no mail server" >&2; exit 1; }
eval "export $(scripts/postgres.sh start)"

cargo build --release --benches --quiet
if [ "${1:-}" = "--only-cluster" ]; then
    shift
    cargo bench --quiet --bench cluster -- "$@"
    exit
fi
# Issue 12's hostile mail: CPU and peak memory of each, failing over 1 s or 100 MB.
cargo bench --quiet --bench hostile
# Issue 15: quote stripping and HTML to text on long replies, failing at 1 s.
cargo bench --quiet --bench reply_text
for db in sqlite postgres; do
    BUZON_LOG=warn cargo bench --quiet --bench pipeline -- --db "$db" "$@"
done
# Issue 18: the same backlog drained on PostgreSQL by 1, 2 and 3 processes.
cargo bench --quiet --bench cluster -- "$@"
