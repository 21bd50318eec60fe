#!/usr/bin/env python3
"""gensyms.py - turn `nm -n kernel.elf` output into the kernel's symbol table.

Usage: nm -n kernel0.elf | gensyms.py -  > ksyms.S
       gensyms.py /dev/null              > ksyms0.S   (empty table, first pass)

Emits an assembly file with a .ksyms section holding:
    ksyms_count: .quad N
    ksyms_addrs: .quad addr...        (sorted ascending)
    ksyms_names: .quad offset...      (offset of each name in ksyms_strings)
    ksyms_strings: NUL-separated names
Only text symbols (t/T) inside the kernel's higher half are kept.
"""
import sys


def main():
    src = sys.stdin if sys.argv[1] == '-' else open(sys.argv[1])
    syms = []
    for line in src:
        parts = line.split()
        if len(parts) != 3 or parts[1] not in ('t', 'T'):
            continue
        addr = int(parts[0], 16)
        name = parts[2]
        if addr < 0xffffffff80000000 or name.startswith('.'):
            continue
        syms.append((addr, name))
    syms.sort()
    out = ['\t.section .note.GNU-stack,"",@progbits', '\t.section .ksyms, "a"', '\t.align 8', '\t.global ksyms_count, ksyms_addrs, ksyms_names, ksyms_strings',
           'ksyms_count:', '\t.quad %d' % len(syms), 'ksyms_addrs:']
    out += ['\t.quad 0x%x' % a for a, _ in syms]
    out.append('ksyms_names:')
    off = 0
    for _, n in syms:
        out.append('\t.quad %d' % off)
        off += len(n) + 1
    out.append('ksyms_strings:')
    out += ['\t.asciz "%s"' % n for _, n in syms]
    out.append('\t.byte 0')
    print('\n'.join(out))


if __name__ == '__main__':
    main()
