#!/usr/bin/env bash
# Prove the insncount plugin exact on a known guest.
#
#     bash tools/plugin/selftest.sh
#
# Builds the plugin (tools/plugin/build.sh) and the 32-bit multiboot test
# guest tools/plugin/selftest.S into build/plugin-test/, boots it under QEMU
# in several configurations and compares every region's count with the
# number of instructions the guest is known to execute there (see the
# comments in selftest.S); under -icount it also checks the guest's own
# rdtsc deltas, i.e. QEMU's instruction counter, against the expected values.
#
# Prints exactly one line, `PASS plugin-count` or `FAIL plugin-count: <why>`,
# and exits 0 or 1.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$ROOT/build/plugin-test
SO=$ROOT/build/plugin/libinsncount.so
QEMU=${QEMU:-qemu-system-x86_64}

# Expected counts of regions 0..12 (loop1000, loop1000-setup, straight, empty,
# reset, fault, loop1m, mmio, rep-movsb, rep-loop, rep-zero, rep-movsq,
# rep-movsb64), markers excluded. A REP string instruction counts once
# however many iterations it makes (1000-byte rep movsb: 1; the same REP
# entered three times from a loop: 3 of the 15; 512-quadword rep movsq: 1).
EXPECT_INSN="2000 2001 4 0 2 10 2000000 5 1 15 1 1 1"
# mode=tb counts the TB left early by the #DE (region 5) and, under -icount,
# by the MMIO read (region 7) whole; REP instructions as in mode=insn.
EXPECT_TB_ICOUNT="2000 2001 4 0 2 13 2000000 8 1 15 1 1 1"
# The guest's rdtsc deltas under -icount shift=0: completed instructions
# between the two rdtsc of a region (see selftest.S). QEMU's icount counts
# every execution of a REP instruction: N iterations, plus the final check
# of the count register (rep movsb of 1000: 1001).
EXPECT_TSC="2005 2006 9 5 10 14 2000005 10 1006 320 6 519 4103"

fail() { echo "FAIL plugin-count: $*"; exit 1; }

mkdir -p "$T" || fail "cannot create $T"
out=$(bash "$ROOT/tools/plugin/build.sh" 2>&1) ||
    fail "tools/plugin/build.sh failed: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"

if [ ! -s "$T/selftest.elf" ] || [ "$ROOT/tools/plugin/selftest.S" -nt "$T/selftest.elf" ] \
   || [ "$ROOT/tools/plugin/selftest.ld" -nt "$T/selftest.elf" ]; then
    out=$( { gcc -m32 -c "$ROOT/tools/plugin/selftest.S" -o "$T/selftest.o" &&
             ld -m elf_i386 -z max-page-size=0x1000 --no-warn-rwx-segments \
                -T "$ROOT/tools/plugin/selftest.ld" -o "$T/selftest.elf.tmp" "$T/selftest.o" &&
             mv "$T/selftest.elf.tmp" "$T/selftest.elf"; } 2>&1) ||
        fail "cannot build the test guest: $(printf '%s' "$out" | head -n 3 | tr '\n' ' ')"
fi
command -v "$QEMU" >/dev/null || fail "$QEMU not found"

# run NAME SMP ICOUNT(yes|no) PLUGIN-OPTIONS: boots the guest; leaves
# $T/NAME.serial and $T/NAME.insns.
run() {
    local name=$1 smp=$2 icount=$3 opts=$4 status
    local args=(-machine q35 -cpu max -m 64M -smp "$smp" -display none
                -monitor none -serial "file:$T/$name.serial" -no-reboot
                -device isa-debug-exit,iobase=0xf4,iosize=0x04
                -kernel "$T/selftest.elf"
                -plugin "$SO,outfile=$T/$name.insns$opts")
    [ "$icount" = yes ] && args+=(-icount shift=0,sleep=off)
    rm -f "$T/$name.serial" "$T/$name.insns"
    timeout 120 "$QEMU" "${args[@]}" >"$T/$name.qemu" 2>&1
    status=$?
    # isa-debug-exit with value 0: QEMU exits with status 1.
    [ "$status" -eq 1 ] ||
        fail "$name: QEMU exit status $status, expected 1 ($(tail -n 2 "$T/$name.qemu" "$T/$name.serial" 2>/dev/null | tr '\n' ' '))"
    grep -q '^SELFTEST done' "$T/$name.serial" || fail "$name: the guest did not finish"
}

counts() { sed -n 's/^INSNS region=[0-9]* count=\([0-9]*\)$/\1/p' "$T/$1.insns" | tr '\n' ' ' | sed 's/ $//'; }
tscs() { sed -n 's/^BENCHREGION .* tsc=\([0-9]*\).*$/\1/p' "$T/$1.serial" | tr '\n' ' ' | sed 's/ $//'; }

# check NAME EXPECTED [EXPECTED_TSC]
check() {
    local got
    got=$(counts "$1")
    [ "$got" = "$2" ] || fail "$1: counts [$got], expected [$2]"
    if [ $# -ge 3 ]; then
        got=$(tscs "$1")
        [ "$got" = "$3" ] || fail "$1: icount (rdtsc) deltas [$got], expected [$3]"
    fi
}

run insn-icount      1 yes ",mode=insn"
check insn-icount "$EXPECT_INSN" "$EXPECT_TSC"
run insn-icount-2    1 yes ",mode=insn"
cmp -s "$T/insn-icount.insns" "$T/insn-icount-2.insns" ||
    fail "two identical runs gave different output: $(diff "$T/insn-icount.insns" "$T/insn-icount-2.insns" | tr '\n' ' ')"
run tb-icount        1 yes ",mode=tb"
check tb-icount "$EXPECT_TB_ICOUNT" "$EXPECT_TSC"
run insn-smp2-cb     2 yes ",mode=insn,inline=off"
check insn-smp2-cb "$EXPECT_INSN" "$EXPECT_TSC"
run tb-smp2-cb       2 yes ",mode=tb,inline=off"
check tb-smp2-cb "$EXPECT_TB_ICOUNT" "$EXPECT_TSC"
run insn-noicount    1 no  ",mode=insn"
check insn-noicount "$EXPECT_INSN"

echo "PASS plugin-count"
exit 0
