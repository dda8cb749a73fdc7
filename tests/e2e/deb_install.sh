#!/usr/bin/env bash
# Packaging check (run as root by CI): systemd-analyze verify on the unit, `cargo deb` builds the
# package, `dpkg -i` installs it, the installed tripline prints its version and scans a testdata
# file (exit 1, the same alerts as the built binary), the installed unit verifies, then the package is purged and nothing of
# it is left behind.
#
# Needs cargo-deb (`cargo install cargo-deb --locked`) and systemd-analyze. Refuses to run if a
# `tripline` package is already installed (it would be purged).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
cd "$REPO"
log() { printf '[deb-install] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $EUID == 0 ]] || die "must run as root (dpkg -i)"
command -v cargo-deb >/dev/null || die "cargo-deb missing: cargo install cargo-deb --locked"
command -v systemd-analyze >/dev/null || die "systemd-analyze missing (apt-get install systemd)"
if dpkg-query -W -f='${Status}' tripline 2>/dev/null | grep -q "install ok"; then
    die "a tripline package is already installed; not touching it"
fi

INSTALLED=0
WORK=$(mktemp -d /tmp/tripline-deb.XXXXXX)
cleanup() {
    local rc=$?
    set +e
    if [[ $INSTALLED == 1 ]]; then
        dpkg --purge tripline >/dev/null 2>&1
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT

# 1. The unit as shipped. ExecStart must name an existing binary, so verify a copy that points
#    at the freshly built one; the installed unit is verified again after dpkg -i.
log "building release binary"
cargo build --release --bin tripline
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
sed "s|/usr/bin/tripline |$TARGET_DIR/release/tripline |" packaging/systemd/tripline.service >"$WORK/tripline.service"
systemd-analyze verify "$WORK/tripline.service"
log "systemd-analyze verify: unit OK"

# 2. cargo deb
deb=$(cargo deb --no-build --output "$WORK" 2>&1 | tail -1)
[[ -f $deb ]] || die "cargo deb produced no package ($deb)"
log "built $(basename "$deb")"
dpkg-deb --contents "$deb" | awk '{print $6}' | tee "$WORK/contents" >&2
for f in ./usr/bin/tripline ./lib/systemd/system/tripline.service ./etc/audit/plugins.d/tripline.conf ./usr/share/man/man1/tripline.1.gz; do
    grep -qx "$f" "$WORK/contents" || die "package lacks $f"
done

# 3. install, run, verify the installed unit
dpkg -i "$deb" >&2
INSTALLED=1
/usr/bin/tripline --version
rc=0
/usr/bin/tripline scan testdata/e2e/imds-real-audit.log >"$WORK/alerts.ndjson" 2>"$WORK/scan.err" || rc=$?
n=$(grep -c . "$WORK/alerts.ndjson" || true)
want=$("$TARGET_DIR/release/tripline" scan -q testdata/e2e/imds-real-audit.log | grep -c . || true)
[[ $rc == 1 && $n -gt 0 && $n == "$want" ]] || { cat "$WORK/scan.err" >&2; die "installed tripline scan: exit $rc, $n alerts (want exit 1, $want alerts as the built binary)"; }
log "installed tripline scan: exit 1, $n alerts (same as the built binary)"
systemd-analyze verify /lib/systemd/system/tripline.service
log "systemd-analyze verify: installed unit OK"
man -w tripline >/dev/null 2>&1 || log "note: man-db index not updated (man -w tripline failed); the page is installed"

# 4. purge: nothing left
dpkg --purge tripline >&2
INSTALLED=0
for f in /usr/bin/tripline /lib/systemd/system/tripline.service /etc/audit/plugins.d/tripline.conf; do
    [[ ! -e $f ]] || die "$f still present after purge"
done
echo "deb_install: PASS"
