#!/usr/bin/env bash
# Build the Debian package from this repo with dpkg-deb (no cargo-deb to install), then
# check it with lintian (no errors allowed) and systemd-analyze (the unit as installed).
#
#   scripts/package.sh                 release build -> target/debian/buzon_<version>_<arch>.deb
#   scripts/package.sh --profile dev   the debug build (quicker; for the test suite)
#
# The package installs:
#   /usr/bin/buzon                          the binary (stripped)
#   /lib/systemd/system/buzon.service       contrib/systemd/buzon.service
#   /etc/buzon/buzon.toml                   config/buzon.example.toml, a conffile (made 0640
#                                           root:buzon by postinst: it will hold passwords)
#   /usr/share/buzon/templates/{es,en}/     the shipped templates, for admins to copy
#   /usr/share/man/man1/buzon*.1.gz         man pages generated from clap (examples/manpage.rs)
#   /usr/share/doc/buzon/                   copyright, changelog, README
# and creates the system user `buzon` (home /var/lib/buzon). It does not enable or start
# the service: the example configuration's secret is a placeholder buzon refuses.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

profile=release
[ "${1:-}" = "--profile" ] && profile=${2:?--profile needs a name}
out_dir=$([ "$profile" = dev ] && echo debug || echo "$profile")

cargo build --locked --profile "$profile" --bin buzon --example manpage
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
pkg=$root/buzon

install -D -m 0755 "target/$out_dir/buzon" "$pkg/usr/bin/buzon"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$pkg/usr/bin/buzon"
install -D -m 0644 contrib/systemd/buzon.service "$pkg/lib/systemd/system/buzon.service"
install -D -m 0644 config/buzon.example.toml "$pkg/etc/buzon/buzon.toml"
for language in es en; do
    install -d "$pkg/usr/share/buzon/templates/$language"
    install -m 0644 templates/$language/*.hbs "$pkg/usr/share/buzon/templates/$language/"
done
install -d "$pkg/usr/share/man/man1"
"target/$out_dir/examples/manpage" "$pkg/usr/share/man/man1"
gzip -9n "$pkg"/usr/share/man/man1/*.1

doc=$pkg/usr/share/doc/buzon
install -D -m 0644 README.md "$doc/README.md"
gzip -9n "$doc/README.md"
cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: buzon
Source: the buzon repository

Files: *
Copyright: 2026 the buzon authors
License: MIT or Apache-2.0
 buzon is dual-licensed under the MIT licence and the Apache License 2.0, at your
 option. On Debian systems the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
 .
 The MIT licence: Permission is hereby granted, free of charge, to any person obtaining
 a copy of this software and associated documentation files (the "Software"), to deal in
 the Software without restriction, including without limitation the rights to use,
 copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the
 Software, and to permit persons to whom the Software is furnished to do so, subject to
 the following conditions: The above copyright notice and this permission notice shall
 be included in all copies or substantial portions of the Software. THE SOFTWARE IS
 PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
EOF
commit=$("target/$out_dir/buzon" --version | sed -n 's/.*(git \(.*\))/\1/p')
printf 'buzon (%s) unstable; urgency=medium\n\n  * Built from git commit %s.\n\n -- buzon maintainers <buzon@example.test>  %s\n' \
    "$version" "$commit" "$(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")" |
    gzip -9n >"$doc/changelog.gz"

install -d "$pkg/DEBIAN"
echo /etc/buzon/buzon.toml >"$pkg/DEBIAN/conffiles"
cp contrib/debian/postinst contrib/debian/prerm contrib/debian/postrm "$pkg/DEBIAN/"
chmod 0755 "$pkg"/DEBIAN/post* "$pkg"/DEBIAN/prerm
# Shared libraries the binary needs, as Depends (dpkg-shlibdeps wants a debian/control).
mkdir -p "$root/shlibs/debian"
printf 'Source: buzon\n\nPackage: buzon\nArchitecture: any\n' >"$root/shlibs/debian/control"
libs=$(cd "$root/shlibs" && dpkg-shlibdeps -O "$pkg/usr/bin/buzon" | sed -n 's/^shlibs:Depends=//p')
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$libs, adduser/" \
    -e "s/@SIZE@/$size/" contrib/debian/control >"$pkg/DEBIAN/control"
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"

mkdir -p target/debian
deb=target/debian/buzon_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "package: $deb ($(du -h "$deb" | cut -f1))"

# lintian: errors fail the build; warnings are shown.
lintian --fail-on error "$deb"
echo "package: lintian found no errors"
# What it installs, as dpkg would lay it out; the unit next to the binary it names.
installed=$root/installed
dpkg-deb -x "$deb" "$installed"
for file in usr/bin/buzon lib/systemd/system/buzon.service etc/buzon/buzon.toml \
    usr/share/buzon/templates/es/case_created.hbs usr/share/buzon/templates/en/case_created.hbs \
    usr/share/man/man1/buzon.1.gz usr/share/man/man1/buzon-status.1.gz usr/share/doc/buzon/copyright; do
    [ -f "$installed/$file" ] || { echo "package: /$file missing" >&2; exit 1; }
done
[ "$(dpkg-deb -f "$deb" Package)" = buzon ]
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/buzon/buzon.toml
"$installed/usr/bin/buzon" --version | grep -q "(git [0-9a-f]\{12\})" || { echo "package: --version names no commit" >&2; exit 1; }
"$installed/usr/bin/buzon" --version
scripts/check-unit.sh "$installed/usr/bin/buzon"
