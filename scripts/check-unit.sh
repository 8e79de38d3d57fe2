#!/usr/bin/env bash
# Check contrib/systemd/buzon.service as systemd would read it:
#   - `systemd-analyze verify`: every directive known and well-formed, the command
#     executable (a copy of the unit whose ExecStart names the binary just built, since
#     /usr/bin/buzon is where the package puts it, not where a build does);
#   - `systemd-analyze security --offline=true`: the exposure score must be "OK" or better
#     (under 5.0; --threshold counts in tenths).
# Usage: scripts/check-unit.sh [BINARY]   (default target/debug/buzon)
set -euo pipefail
cd "$(dirname "$0")/.."
unit=contrib/systemd/buzon.service
binary=$(realpath "${1:-target/debug/buzon}")
[ -x "$binary" ] || { echo "check-unit: build buzon first ($binary missing)" >&2; exit 1; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|^ExecStart=/usr/bin/buzon |ExecStart=$binary |" "$unit" >"$dir/buzon.service"
grep -q "^ExecStart=$binary " "$dir/buzon.service" || { echo "check-unit: no ExecStart=/usr/bin/buzon in $unit" >&2; exit 1; }
# The man page is checked by scripts/package.sh, which makes it.
# verify exits 0 on an unknown or misspelt directive and only says so: any word is a failure.
said=$(systemd-analyze verify --man=no "$dir/buzon.service" 2>&1) || { echo "$said" >&2; exit 1; }
[ -z "$said" ] || { echo "$said" >&2; echo "check-unit: systemd-analyze verify complained" >&2; exit 1; }
echo "check-unit: systemd-analyze verify passed"

report=$(systemd-analyze security --offline=true --threshold=49 "$unit" 2>&1) || {
    echo "$report" >&2
    echo "check-unit: exposure above 4.9 (worse than OK)" >&2
    exit 1
}
echo "$report" | grep "Overall exposure level"
