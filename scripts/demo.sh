#!/usr/bin/env bash
# The README's first command: install what is missing, build buzon, start a private mail
# server (Dovecot + Postfix on 127.0.0.1) and buzon on SQLite, send a customer's mail, and
# show the case it became and the acknowledgement that arrived. buzon then keeps running in
# the foreground; Ctrl-C stops it and the mail server. Everything lives under .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

scripts/install-deps.sh
echo "== building buzon"
cargo build --quiet --locked
BUZON=$PWD/target/debug/buzon

DEMO=$PWD/.demo
export MAILTEST_DIR=$DEMO/mail MAILTEST_PORT_BASE=${MAILTEST_PORT_BASE:-25000}
scripts/mailserver.sh stop --fast >/dev/null 2>&1 || true
rm -rf "$DEMO"; mkdir -p "$DEMO"
echo "== starting Dovecot and Postfix on 127.0.0.1 (ports $MAILTEST_PORT_BASE+143, +587, ...)"
scripts/mailserver.sh start >/dev/null
BUZON_PID=""
cleanup() {
    [ -n "$BUZON_PID" ] && kill "$BUZON_PID" 2>/dev/null && wait "$BUZON_PID" 2>/dev/null || true
    scripts/mailserver.sh stop --fast >/dev/null 2>&1 || true
}
trap cleanup EXIT

cat > "$DEMO/buzon.toml" <<CONF
[imap]
host = "127.0.0.1"
port = $((MAILTEST_PORT_BASE + 143))
security = "starttls"
username = "soporte@example.test"
password = "secret"
ca_file = "$MAILTEST_DIR/tls/ca.pem"

[smtp]
host = "127.0.0.1"
port = $((MAILTEST_PORT_BASE + 587))
security = "starttls"
username = "soporte@example.test"
password = "secret"
ca_file = "$MAILTEST_DIR/tls/ca.pem"

[support]
address = "soporte@example.test"
name = "Soporte Demo"
products = ["Harmony", "Integration Studio", "API Manager"]
secret = "demo-secret-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

[agents]
addresses = ["ana@example.test"]

[database]
url = "sqlite://$DEMO/buzon.db"

[storage]
dir = "$DEMO/data"
CONF
export BUZON_CONFIG=$DEMO/buzon.toml

echo "== buzon check"
$BUZON check
$BUZON customer add cliente@example.test --name "Carla Cliente"

echo "== starting buzon run (log: .demo/buzon.log)"
$BUZON run >"$DEMO/buzon.log" 2>&1 &
BUZON_PID=$!

echo "== Carla writes to soporte@example.test"
/usr/sbin/sendmail -C "$MAILTEST_DIR/postfix" -oi -t <<'MAIL'
From: Carla Cliente <cliente@example.test>
To: soporte@example.test
Subject: Producción Caída: la integración de pedidos no arranca
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Hola,

Desde esta mañana la integración de pedidos no arranca.
Producto: Integration Studio

Gracias,
Carla
MAIL

inbox=$MAILTEST_DIR/mail/example.test/cliente/Maildir/new
for _ in $(seq 1 100); do
    ls "$inbox"/* >/dev/null 2>&1 && break
    sleep 0.1
done
ack=$(ls "$inbox"/* 2>/dev/null | head -1 || true)
[ -n "$ack" ] || { echo "no acknowledgement arrived; see .demo/buzon.log" >&2; tail -20 "$DEMO/buzon.log" >&2; exit 1; }

echo "== the case"
$BUZON cases
echo
$BUZON case 1
echo
echo "== the acknowledgement in Carla's mailbox ($ack)"
sed -n '/^Date:/,$p' "$ack" | sed -n '1,/^$/p' | grep -E '^(From|To|In-Reply-To|Auto-Submitted):'
ack_id=$($BUZON case 1 --json | grep -o '"id": [0-9]*' | sed -n 2p | grep -o '[0-9]*')
$BUZON email "$ack_id" | grep -E '^Subject:'
$BUZON email "$ack_id" | sed -n '/^$/,$p'

if [ -n "${BUZON_DEMO_EXIT:-}" ]; then exit 0; fi
cat <<TXT

buzon is running (pid $BUZON_PID). Try, in another terminal:
  export BUZON_CONFIG=$DEMO/buzon.toml
  $BUZON cases
  printf 'From: cliente@example.test\nTo: soporte@example.test\nSubject: Otra consulta\n\nHola\n' | /usr/sbin/sendmail -C $MAILTEST_DIR/postfix -oi -t
Mailboxes live in $MAILTEST_DIR/mail/example.test/. Ctrl-C stops buzon and the mail server.
TXT
wait "$BUZON_PID"
