#!/usr/bin/env bash
# Check (and, as root, install) the Debian packages Rill needs to build and test.
#
#   bash tools/deps.sh
#
# Prints nothing and exits 0 when everything is installed. When something is
# missing: as root it runs apt-get to install it; otherwise it prints the
# command to run and exits 1.
set -euo pipefail

# The one list of required Debian packages. Add new ones here.
PACKAGES=(
    build-essential gcc make binutils python3
    qemu-system-x86
    grub-pc-bin grub-common xorriso mtools
    check pkg-config
    clang
    cpio xz-utils tar
    busybox-static      # a real static Linux ELF for the ELF parser tests (and, later, the shell)
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    echo "Installing missing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
    exit 0
fi

echo "Missing Debian packages; install them with:"
echo "sudo apt-get install -y ${missing[*]}"
exit 1
