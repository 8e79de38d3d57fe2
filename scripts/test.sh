#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, starts a private Dovecot +
# Postfix and makes sure PostgreSQL answers, then formatting, lints, unit, golden and
# integration tests (SQLite and PostgreSQL), then the systemd unit's and the Debian
# package's checks.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

scripts/install-deps.sh

export MAILTEST_DIR
MAILTEST_DIR=$(mktemp -d /tmp/buzon-test-mail.XXXXXX)
cleanup() {
    scripts/mailserver.sh stop --fast >/dev/null 2>&1 || true
    rm -rf "$MAILTEST_DIR" "$MAILTEST_DIR.err"
}
trap cleanup EXIT
for base in 31000 32000 33000 34000 35000 36000 37000 38000; do
    if MAILTEST_PORT_BASE=$base scripts/mailserver.sh start >/dev/null 2>"$MAILTEST_DIR.err"; then
        export MAILTEST_PORT_BASE=$base
        break
    fi
done
[ -n "${MAILTEST_PORT_BASE:-}" ] || { cat "$MAILTEST_DIR.err" >&2; echo "test.sh: no mail server" >&2; exit 1; }
echo "test.sh: mail server on ports $MAILTEST_PORT_BASE+{25,26,143,465,587,993}"

eval "export $(scripts/postgres.sh start)"
echo "test.sh: PostgreSQL at $BUZON_TEST_POSTGRES"
# Databases left by earlier runs of the suite.
psql "$BUZON_TEST_POSTGRES" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'buzon_t_%'" 2>/dev/null |
    while read -r db; do psql "$BUZON_TEST_POSTGRES" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true; done

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --lib --bins --tests --locked
scripts/check-unit.sh target/debug/buzon
# The package of the debug build just tested: the same script and checks as a release
# package (lintian, contents, the installed unit), without a second, release build of
# every crate (7+ minutes on 2 cores), which would take CI past its 20 minutes.
scripts/package.sh --profile dev
