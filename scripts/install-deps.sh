#!/usr/bin/env bash
# Install what buzon's demo, tests and benchmarks need on Debian/Ubuntu: Dovecot, Postfix,
# OpenSSL, a C compiler (for the bundled SQLite), and PostgreSQL when none answers on
# 127.0.0.1:5432. Only missing packages are installed. Needs root (or sudo).
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo)" >&2; exit 1; }
    SUDO="sudo"
fi

# w3m renders every template's HTML part in the tests, as a text-mode client would.
# systemd brings systemd-analyze (the unit's checks); dpkg-dev and lintian build and check
# the Debian package (scripts/package.sh).
want=(dovecot-imapd dovecot-lmtpd dovecot-sieve postfix openssl ca-certificates gcc libc6-dev pkg-config curl procps w3m mutt tmux systemd dpkg-dev lintian)
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
    want+=(postgresql)
fi
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    # Packages must not start their system daemons: buzon runs its own private instances on
    # other ports. (On a machine with systemd, Debian would otherwise start Dovecot on 143.)
    created_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod +x /usr/sbin/policy-rc.d
        created_policy=1
    fi
    echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ -n "$created_policy" ] && $SUDO rm -f /usr/sbin/policy-rc.d
fi

if ! command -v cargo >/dev/null && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
    echo "install-deps: installing the Rust toolchain with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
fi
echo "install-deps: ready"
