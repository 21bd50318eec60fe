#!/usr/bin/env bash
# Build the guest-instruction counting QEMU TCG plugin:
#
#     bash tools/plugin/build.sh        ->  build/plugin/libinsncount.so
#
# Debian's QEMU is built with TCG plugin support but ships no plugin and no
# qemu-plugin.h, so the header is taken from the upstream tarball of Debian's
# own qemu source package, at the version of the installed qemu-system-x86:
#
#   * a private deb-src twin of the machine's Debian apt sources (derived with
#     `apt-get indextargets`, so one-line .list and deb822 .sources files both
#     work) lives in build/plugin/apt/ with its own index lists and cache, so
#     /etc/apt and /var/lib/apt are never touched;
#   * `apt-get source --print-uris qemu=<version>` names the files and their
#     checksums; only the .orig tarball is downloaded (apt-helper, checksum
#     verified; `apt-get source --download-only` as a fallback) and kept in
#     build/plugin/;
#   * tar extracts just include/qemu/qemu-plugin.h (Debian's patches to QEMU
#     7.2 do not touch that file; debian/not-installed lists it).
#
# Everything is cached: a re-run with nothing changed prints nothing and
# does nothing. A new qemu-system-x86 version re-extracts the header (and
# downloads a tarball only if the upstream version changed); a newer
# insncount.c is recompiled.
#
# Missing Debian packages: as root they are installed with apt-get (CI);
# otherwise the apt-get command is printed and the script exits 1.
set -euo pipefail

# Debian packages this script needs (gcc and libc6-dev to compile; tar and
# xz-utils to unpack the .orig.tar.xz; qemu-system-x86 to know its version).
# QEMU 7.2's qemu-plugin.h includes only C standard headers, and the plugin
# uses no GLib, so libglib2.0-dev is not needed.
PACKAGES=(gcc libc6-dev tar xz-utils qemu-system-x86)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SRC=$ROOT/tools/plugin/insncount.c
OUT=$ROOT/build/plugin
SO=$OUT/libinsncount.so
HDR=$OUT/include/qemu-plugin.h
STAMP=$OUT/include/qemu-plugin.h.version
APTDIR=$OUT/apt
LOG=$OUT/fetch.log

die() { echo "build.sh: $*" >&2; exit 1; }

# --- Debian packages ----------------------------------------------------------
missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "build.sh: missing Debian packages; install them with:" >&2
        echo "sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "build.sh: installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- qemu-plugin.h ------------------------------------------------------------
# Source version of the installed QEMU, e.g. 1:7.2+dfsg-7+deb12u18 (the binary
# may carry a binNMU suffix such as +b3 that the source package lacks).
SRCVER=$(dpkg-query -W -f='${source:Version}' qemu-system-x86)
[ -n "$SRCVER" ] || die "cannot read the version of qemu-system-x86"
UPSTREAM=${SRCVER#*:}       # drop the epoch
UPSTREAM=${UPSTREAM%-*}     # drop the Debian revision: 7.2+dfsg

# The private apt configuration: Debian's repositories of the machine's own
# sources, as deb-src, with private state and cache directories.
apt_private() {
    local list=$APTDIR/sources.list
    mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" \
             "$APTDIR/sources.list.d"
    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    apt-get indextargets --no-release-info \
            --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Created-By: Packages' |
        sort -u | while read -r uri release component; do
            case "$uri" in *debian*) ;; *) continue ;; esac   # Debian archives only
            [ -n "$component" ] || continue                   # no flat repositories
            opts=()
            [ -r "$keyring" ] && opts+=("signed-by=$keyring")
            case "$uri" in *snapshot.debian.org*) opts+=("check-valid-until=no") ;; esac
            if [ ${#opts[@]} -gt 0 ]; then
                echo "deb-src [${opts[*]}] $uri $release $component"
            else
                echo "deb-src $uri $release $component"
            fi
        done > "$list.tmp"
    [ -s "$list.tmp" ] || die "no Debian repository found in the apt sources (apt-get indextargets)"
    mv "$list.tmp" "$list"
    APTOPTS=(-o "Dir::Etc::sourcelist=$list"
             -o "Dir::Etc::sourceparts=$APTDIR/sources.list.d"
             -o "Dir::State::Lists=$APTDIR/lists"
             -o "Dir::Cache=$APTDIR/cache"
             -o "Dir::Cache::Archives=$APTDIR/cache/archives")
    # As root apt downloads as the _apt user, who cannot write into the
    # build tree; downloading as root is what the private dirs need.
    [ "$(id -u)" -ne 0 ] || APTOPTS+=(-o APT::Sandbox::User=root)
}

fetch_orig() {
    : > "$LOG"
    apt_private
    echo "build.sh: fetching qemu-plugin.h from Debian source package qemu $SRCVER" >&2
    apt-get "${APTOPTS[@]}" -q update >>"$LOG" 2>&1 \
        || { cat "$LOG" >&2; die "apt-get update (deb-src, private lists) failed"; }
    local uris
    # The exact source version, else any qemu source with the same upstream
    # tarball (the .orig tarball of one upstream version is one file).
    uris=$(apt-get "${APTOPTS[@]}" -q source --print-uris "qemu=$SRCVER" 2>>"$LOG") ||
        uris=$(apt-get "${APTOPTS[@]}" -q source --print-uris qemu 2>>"$LOG") ||
        { cat "$LOG" >&2; die "Debian source package qemu not found"; }
    # Lines: 'URI' NAME SIZE HASH
    local line uri name hash
    line=$(printf '%s\n' "$uris" |
           awk -v p="qemu_${UPSTREAM}.orig.tar." 'index($2, p) == 1 { print; exit }')
    [ -n "$line" ] ||
        { printf '%s\n' "$uris" >>"$LOG"; cat "$LOG" >&2;
          die "no qemu_${UPSTREAM}.orig tarball in the Debian source package"; }
    read -r uri name _ hash <<<"$line"
    uri=${uri//\'/}
    if ! /usr/lib/apt/apt-helper "${APTOPTS[@]}" download-file "$uri" "$OUT/partial-$name" "$hash" >>"$LOG" 2>&1; then
        # Fallback: the whole source package (.dsc, .orig and .debian tarballs).
        rm -f "$OUT/partial-$name"
        (cd "$OUT" && apt-get "${APTOPTS[@]}" -q source --download-only "qemu=$SRCVER") >>"$LOG" 2>&1 ||
            { cat "$LOG" >&2; die "download of $name failed"; }
    else
        mv "$OUT/partial-$name" "$OUT/$name"
    fi
    ORIG=$OUT/$name
}

if [ ! -s "$HDR" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$SRCVER" ]; then
    mkdir -p "$OUT/include"
    ORIG=$(ls "$OUT"/qemu_"$UPSTREAM".orig.tar.* 2>/dev/null | head -n1 || true)
    [ -n "$ORIG" ] || fetch_orig
    tar -xOf "$ORIG" --wildcards '*/include/qemu/qemu-plugin.h' > "$HDR.tmp" 2>>"$LOG" ||
        { rm -f "$HDR.tmp"; die "include/qemu/qemu-plugin.h not found in $ORIG"; }
    mv "$HDR.tmp" "$HDR"
    echo "$SRCVER" > "$STAMP"
fi

# --- the plugin -------------------------------------------------------------
if [ ! -s "$SO" ] || [ "$SRC" -nt "$SO" ] || [ "$HDR" -nt "$SO" ] \
   || [ "${BASH_SOURCE[0]}" -nt "$SO" ]; then
    gcc -std=gnu11 -O2 -g -Wall -Wextra -fPIC -shared -fvisibility=hidden \
        -I"$OUT/include" -o "$SO.tmp" "$SRC" -pthread
    mv "$SO.tmp" "$SO"
    echo "build.sh: built ${SO#"$ROOT"/}" >&2
fi
