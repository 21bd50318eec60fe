#!/usr/bin/env bash
# Build a GRUB rescue ISO that boots the Rill kernel with its initrd.
#
#   bash tools/mkiso.sh KERNEL_BIN INITRD OUT.iso [CMDLINE]
#
# CMDLINE (optional, default empty) becomes the kernel command line in
# grub.cfg. GRUB talks on the first serial port as well as the screen.
# Needs grub-mkrescue (grub-common, grub-pc-bin), xorriso and mtools.
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    echo "usage: $0 KERNEL_BIN INITRD OUT.iso [CMDLINE]" >&2
    exit 2
fi
kernel=$1
initrd=$2
out=$3
cmdline=${4:-}

for f in "$kernel" "$initrd"; do
    if [ ! -f "$f" ]; then
        echo "mkiso: $f: no such file" >&2
        exit 1
    fi
done
if ! command -v grub-mkrescue >/dev/null 2>&1; then
    echo "mkiso: grub-mkrescue not found (install grub-common grub-pc-bin xorriso mtools)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/iso/boot/grub"
cp "$kernel" "$tmp/iso/boot/rill.bin"
cp "$initrd" "$tmp/iso/boot/initrd.cpio"
cat > "$tmp/iso/boot/grub/grub.cfg" <<CFG
set timeout=0
set default=0
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console

menuentry "Rill" {
    multiboot /boot/rill.bin $cmdline
    module /boot/initrd.cpio initrd
    boot
}
CFG

mkdir -p "$(dirname "$out")"
if ! grub-mkrescue -o "$tmp/out.iso" "$tmp/iso" >"$tmp/log" 2>&1; then
    cat "$tmp/log" >&2
    echo "mkiso: grub-mkrescue failed" >&2
    exit 1
fi
mv "$tmp/out.iso" "$out"
echo "mkiso: wrote $out"
