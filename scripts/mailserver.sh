#!/usr/bin/env bash
# A private Dovecot (IMAP + LMTP) and Postfix (SMTP) on 127.0.0.1, for buzon's tests, demo
# and benchmarks. One self-contained instance under $MAILTEST_DIR on ports
# $MAILTEST_PORT_BASE + {24,25,26,143,465,587,993} (26: SMTP without PIPELINING). Every <anything>@example.test is a mailbox;
# every user's password is $MAILTEST_PASSWORD. Nothing under /etc is changed.
#
#   scripts/mailserver.sh start | stop [--fast] | status | env
#   scripts/mailserver.sh stop-smtp | start-smtp | stop-imap | start-imap   (outages, for tests)
#
# Needs root (Postfix refuses to run otherwise) and the packages installed by
# scripts/install-deps.sh. Pitfalls handled here are described in ../shared/mailserver-notes.md.
set -euo pipefail

DIR=${MAILTEST_DIR:?set MAILTEST_DIR to an instance directory}
BASE=${MAILTEST_PORT_BASE:-20000}
PASSWORD=${MAILTEST_PASSWORD:-secret}
DOMAINS=${MAILTEST_DOMAINS:-example.test}
# With MAILTEST_OAUTH2_INTROSPECTION_URL set, Dovecot also offers XOAUTH2 and OAUTHBEARER and
# checks each token there (RFC 7662 introspection, as its oauth2 passdb does against a real
# provider); Postfix's SMTP AUTH goes through Dovecot, so it takes the same tokens.
OAUTH2_INTROSPECTION=${MAILTEST_OAUTH2_INTROSPECTION_URL:-}
# Postfix's smtpd_recipient_limit (RCPTs per transaction; past it, 452 4.5.3 "Too many
# recipients"). Postfix's own default is 1000.
RECIPIENT_LIMIT=${MAILTEST_RECIPIENT_LIMIT:-1000}
P_LMTP=$((BASE + 24)) P_SMTP=$((BASE + 25)) P_SMTP_NOPIPE=$((BASE + 26)) P_IMAP=$((BASE + 143))
P_SMTPS=$((BASE + 465)) P_SUBMISSION=$((BASE + 587)) P_IMAPS=$((BASE + 993))

die() { echo "mailserver: $*" >&2; exit 1; }

print_env() {
    cat <<ENV
MAILTEST_DIR=$DIR
MAILTEST_PORT_BASE=$BASE
MAILTEST_PASSWORD=$PASSWORD
MAILTEST_IMAP_PORT=$P_IMAP
MAILTEST_IMAPS_PORT=$P_IMAPS
MAILTEST_SMTP_PORT=$P_SMTP
MAILTEST_SMTP_NOPIPE_PORT=$P_SMTP_NOPIPE
MAILTEST_SUBMISSION_PORT=$P_SUBMISSION
MAILTEST_SMTPS_PORT=$P_SMTPS
MAILTEST_LMTP_PORT=$P_LMTP
MAILTEST_LMTP_SOCKET=$DIR/run/lmtp
MAILTEST_CA=$DIR/tls/ca.pem
ENV
}

# A private CA and a server certificate it signs (rustls refuses a CA certificate used as
# the server's own). Clients trust $DIR/tls/ca.pem.
write_tls() {
    [ -f "$DIR/tls/cert.pem" ] && return
    mkdir -p "$DIR/tls"
    local t=$DIR/tls
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mailtest CA" \
        -keyout "$t/ca.key" -out "$t/ca.pem" >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout "$t/key.pem" -out "$t/server.csr" >/dev/null 2>&1
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$t/ext.cnf"
    openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
        -days 3650 -extfile "$t/ext.cnf" -out "$t/server.pem" >/dev/null 2>&1
    cat "$t/server.pem" "$t/ca.pem" > "$t/cert.pem"
    chmod 644 "$t/cert.pem" "$t/ca.pem"
    chmod 640 "$t/key.pem"
    chgrp postfix "$t/key.pem" 2>/dev/null || true
}

# The oauth2 passdb (only with MAILTEST_OAUTH2_INTROSPECTION_URL) and its settings file.
oauth2_passdb() {
    [ -n "$OAUTH2_INTROSPECTION" ] || return 0
    cat > "$DIR/dovecot-oauth2.conf.ext" <<CONF
introspection_mode = post
introspection_url = $OAUTH2_INTROSPECTION
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
CONF
    printf 'passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = %s\n}\n' "$DIR/dovecot-oauth2.conf.ext"
}

write_dovecot() {
    mkdir -p "$DIR/run" "$DIR/state" "$DIR/log" "$DIR/mail"
    chown nobody:nogroup "$DIR/mail"
    cat > "$DIR/dovecot.conf" <<CONF
instance_name = mailtest-$BASE
base_dir = $DIR/run
state_dir = $DIR/state
log_path = $DIR/log/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
ssl = yes
ssl_cert = <$DIR/tls/cert.pem
ssl_key = <$DIR/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login${OAUTH2_INTROSPECTION:+ oauthbearer xoauth2}
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_fsync = never
first_valid_uid = 1
default_process_limit = 30
lda_mailbox_autocreate = yes
lda_mailbox_autosubscribe = yes
$(oauth2_passdb)
passdb {
  driver = static
  args = password=$PASSWORD
${OAUTH2_INTROSPECTION:+  mechanisms = plain login}
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$DIR/mail/%d/%n allow_all_users=yes
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \Archive
    auto = subscribe
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $P_IMAP
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $P_IMAPS
    ssl = yes
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
  inet_listener lmtp {
    address = 127.0.0.1
    port = $P_LMTP
  }
}
service auth {
  unix_listener auth-client {
    mode = 0666
  }
}
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
protocol lmtp {
  mail_plugins = \$mail_plugins sieve
}
CONF
    # Per-user Sieve scripts (a real vacation auto-responder for loop tests) at
    # ~/sieve/active.sieve; what Sieve sends goes out through our Postfix.
    cat >> "$DIR/dovecot.conf" <<CONF
plugin {
  sieve = file:~/sieve;active=~/sieve/active.sieve
  sieve_vacation_min_period = 0
  sieve_vacation_dont_check_recipient = yes
}
submission_host = 127.0.0.1:$P_SMTP
CONF
}

write_postfix() {
    local pf=$DIR/postfix q=$DIR/postfix-queue data=$DIR/postfix-data
    mkdir -p "$pf" "$data" "$DIR/log"
    chown postfix "$data"
    cat > "$pf/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $q
data_directory = $data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = $DIR/log
maillog_file = $DIR/log/postfix.log
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = mail.example.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = $DOMAINS
virtual_transport = lmtp:unix:$DIR/run/lmtp
default_transport = error:mailtest: remote delivery disabled
relay_transport = error:mailtest: remote delivery disabled
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_tls_cert_file = $DIR/tls/cert.pem
smtpd_tls_key_file = $DIR/tls/key.pem
smtpd_tls_security_level = may
smtpd_sasl_type = dovecot
smtpd_sasl_path = $DIR/run/auth-client
smtpd_tls_auth_only = no
default_process_limit = 10
lmtp_destination_concurrency_limit = 4
message_size_limit = 104857600
smtpd_recipient_limit = $RECIPIENT_LIMIT
biff = no
# Dovecot 2.3 LMTP does not offer SMTPUTF8; pass 8-bit headers through as they come.
smtputf8_enable = no
CONF
    cat > "$pf/master.cf" <<CONF
127.0.0.1:$P_SMTP inet n - n - - smtpd
# Port 25 without PIPELINING (RFC 2920), cutting off clients that pipeline anyway.
127.0.0.1:$P_SMTP_NOPIPE inet n - n - - smtpd
  -o smtpd_discard_ehlo_keywords=pipelining
  -o smtpd_forbid_unauth_pipelining=yes
127.0.0.1:$P_SUBMISSION inet n - n - - smtpd
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
127.0.0.1:$P_SMTPS inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CONF
    # Postfix sleeps ~2 s at start after a fresh config change; backdate the files.
    touch -d '-10 seconds' "$pf/main.cf" "$pf/master.cf"
    make_queue "$q"
}

# The queue tree with owners and modes from postfix-files, so that `postfix start` skips
# post-install and the postsuper scan.
make_queue() {
    local q=$1
    mkdir -p "$q"
    chown root "$q"; chmod 755 "$q"
    local d
    for d in active bounce corrupt defer deferred flush hold incoming private saved trace; do
        mkdir -p "$q/$d"; chown postfix "$q/$d"; chmod 700 "$q/$d"
    done
    mkdir -p "$q/maildrop" "$q/public" "$q/pid"
    chown postfix:postdrop "$q/maildrop" "$q/public"; chmod 730 "$q/maildrop"; chmod 710 "$q/public"
    chown root "$q/pid"; chmod 755 "$q/pid"
    touch "$q/quick-start"
}

# A daemon's master is running (not a zombie).
alive() {
    local pidfile=$1 pid
    [ -f "$pidfile" ] || return 1
    pid=$(tr -d ' \n' < "$pidfile")
    [ -n "$pid" ] || return 1
    local state
    state=$(ps -o stat= -p "$pid" 2>/dev/null | tr -d ' ') || return 1
    [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_ports() {
    local i
    for i in $(seq 1 100); do
        if port_open "$P_IMAP" && port_open "$P_SMTP"; then return 0; fi
        sleep 0.05
    done
    return 1
}

start() {
    [ "$(id -u)" = 0 ] || die "must run as root (Postfix refuses to run otherwise)"
    command -v dovecot >/dev/null && [ -x /usr/sbin/postfix ] || die "dovecot/postfix missing: run scripts/install-deps.sh"
    if alive "$DIR/run/master.pid" && alive "$DIR/postfix-queue/pid/master.pid"; then
        print_env; return 0
    fi
    for port in $P_IMAP $P_SMTP $P_SMTP_NOPIPE $P_IMAPS $P_SUBMISSION $P_SMTPS $P_LMTP; do
        port_open "$port" && die "port $port is already in use (choose another MAILTEST_PORT_BASE)"
    done
    mkdir -p "$DIR"
    chmod 755 "$DIR"
    write_tls
    write_dovecot
    write_postfix
    rm -f "$DIR/run/master.pid" "$DIR/postfix-queue/pid/master.pid"
    start_dovecot
    start_postfix
    wait_ports || die "servers did not open their ports; see $DIR/log"
    print_env
}

start_dovecot() {
    rm -f "$DIR/run/master.pid"
    dovecot -c "$DIR/dovecot.conf" </dev/null >>"$DIR/log/dovecot.start.log" 2>&1 \
        || die "dovecot did not start: $(tail -3 "$DIR/log/dovecot.start.log" "$DIR/log/dovecot.log" 2>/dev/null)"
}

start_postfix() {
    rm -f "$DIR/postfix-queue/pid/master.pid"
    postfix -c "$DIR/postfix" start </dev/null >>"$DIR/log/postfix.start.log" 2>&1 \
        || die "postfix did not start: $(tail -3 "$DIR/log/postfix.start.log" "$DIR/log/postfix.log" 2>/dev/null)"
}

# Kill one daemon's process group at once (an outage, for the durability tests).
kill_one() {
    local pidfile=$1 pid
    [ -f "$pidfile" ] || return 0
    pid=$(tr -d ' \n' < "$pidfile")
    [ -n "$pid" ] && { kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; }
    rm -f "$pidfile"
}

wait_port() {
    for _ in $(seq 1 100); do port_open "$1" && return 0; sleep 0.05; done
    return 1
}

stop() {
    local fast=${1:-}
    local pid
    for pidfile in "$DIR/run/master.pid" "$DIR/postfix-queue/pid/master.pid"; do
        [ -f "$pidfile" ] || continue
        pid=$(tr -d ' \n' < "$pidfile")
        if [ -n "$pid" ]; then
            if [ "$fast" = "--fast" ]; then
                kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
            else
                kill -TERM "$pid" 2>/dev/null || true
            fi
        fi
    done
    if [ "$fast" != "--fast" ]; then
        for _ in $(seq 1 60); do
            alive "$DIR/run/master.pid" || alive "$DIR/postfix-queue/pid/master.pid" || break
            sleep 0.05
        done
    fi
    rm -f "$DIR/run/master.pid" "$DIR/postfix-queue/pid/master.pid"
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    status)
        if alive "$DIR/run/master.pid" && alive "$DIR/postfix-queue/pid/master.pid"; then
            echo running; exit 0
        fi
        echo stopped; exit 3 ;;
    env) print_env ;;
    stop-smtp) kill_one "$DIR/postfix-queue/pid/master.pid" ;;
    start-smtp) start_postfix; wait_port "$P_SMTP" || die "postfix did not open $P_SMTP" ;;
    stop-imap) kill_one "$DIR/run/master.pid" ;;
    start-imap) start_dovecot; wait_port "$P_IMAP" || die "dovecot did not open $P_IMAP" ;;
    *) echo "usage: $0 start|stop [--fast]|status|env|stop-smtp|start-smtp|stop-imap|start-imap" >&2; exit 2 ;;
esac
