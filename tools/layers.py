#!/usr/bin/env python3
"""The kernel's layer check (docs/kernel.md, "Layers").

    python3 tools/layers.py [--root DIR]

Every kernel source (kernel/**/*.c, *.h, *.S) belongs to a layer, and so
does every header it can include (<kernel/x.h>, <arch/x.h>). A file may
include headers of its own layer and of lower ones, never of a higher
one. Each violation is printed as

    kernel/mm/vm.c:27: includes <kernel/process.h> (core) from layer mm: ...

and the exit status is 1. So is a header that has no layer (a new header
must be placed in HEADERS), an exception that no longer matches anything
(the list only shrinks), and x86 register access in portable code: inline
assembly, rdmsr/wrmsr, read_crN/write_crN or an MSR_* constant in a file
of kernel/base, acpi, mm, core or ipc, or in a kernel/include/kernel
header other than the machine interface's arch.h and cpu.h (comments do
not count). Portable code uses arch.h's named functions instead. tools/runtests.py runs check() as the
test `layers`; its self-test runs it on tests/selftest/layers/, a tree
with deliberate violations.
"""
import argparse
import os
import re
import sys

sys.dont_write_bytecode = True

# Lowest first. A file may include headers of its own layer or below.
LAYERS = ["base", "acpi", "mm", "arch", "core", "ipc", "top"]

# Where a source file sits: the first matching path prefix. main.c and
# syscall.c tie everything together (the syscall table names every
# subsystem's handlers), so they sit on top with the kernel's tests.
FILES = [
    ("kernel/core/main.c", "top"),
    ("kernel/core/syscall.c", "top"),
    ("kernel/tests/", "top"),
    ("kernel/base/", "base"),
    ("kernel/acpi/", "acpi"),
    ("kernel/mm/", "mm"),
    ("kernel/arch/x86_64/include/", None),	# headers: by HEADERS
    ("kernel/arch/x86_64/", "arch"),
    ("kernel/core/", "core"),
    ("kernel/ipc/", "ipc"),
    ("kernel/include/", None),			# headers: by HEADERS
]

# The layer of every header (its path as included).
HEADERS = {
    # base: what everything uses ...
    "kernel/types.h": "base", "kernel/errno.h": "base", "kernel/list.h": "base",
    "kernel/spinlock.h": "base", "kernel/log.h": "base", "kernel/panic.h": "base",
    "kernel/cmdline.h": "base", "kernel/ksyms.h": "base", "kernel/kobj.h": "base",
    # ... and the machine interface: what portable code may ask of the CPU
    # and the platform. Declared here, implemented by arch/x86_64 (arch.h's
    # inline functions are the only x86 code outside arch/).
    "kernel/arch.h": "base", "kernel/cpu.h": "base", "arch/cpu_arch.h": "base",
    "kernel/time.h": "base", "kernel/smp.h": "base", "kernel/trap.h": "base",
    "kernel/memlayout.h": "base", "kernel/boot.h": "base", "kernel/vmm.h": "base",
    # acpi: the firmware tables, parsed without touching hardware.
    "kernel/acpi.h": "acpi",
    # mm: physical pages, heap, kernel stacks, memory objects and address
    # spaces, and the budgets they are charged to.
    "kernel/buddy.h": "mm", "kernel/slab.h": "mm", "kernel/kheap.h": "mm",
    "kernel/pmm.h": "mm", "kernel/radix.h": "mm", "kernel/kstack.h": "mm",
    "kernel/vm.h": "mm", "kernel/budget.h": "mm",
    # arch: x86-64 internals, for arch/, for the few core files that program
    # a device (the APIC for interrupt objects and timers, PCI configuration
    # space for the device list), and the machine half of user threads
    # (arch/user.h: struct arch_uthread, which process.h embeds).
    "arch/apic.h": "arch", "arch/clock.h": "arch", "arch/x86.h": "arch",
    "arch/frame.h": "arch", "arch/user.h": "arch", "arch/pci.h": "arch",
    # core: objects and handles, threads and the scheduler, timers, wait
    # queues, processes, submission queues, system call plumbing, ktest.
    "kernel/object.h": "core", "kernel/sched.h": "core", "kernel/waitq.h": "core",
    "kernel/sleeplock.h": "core", "kernel/timer.h": "core",
    "kernel/timerheap.h": "core", "kernel/process.h": "core",
    "kernel/queue.h": "core", "kernel/userinit.h": "core",
    "kernel/syscall.h": "core", "kernel/ktest.h": "core",
    # ipc: streams (ipc_core.c is their portable matching).
    "kernel/ipc.h": "ipc", "kernel/ipc_core.h": "ipc",
}

# What cannot move yet: (file, included header, reason). Each must still
# match an include, or the check fails (remove it when it is fixed). Empty
# since arch/x86_64/user.c works on struct arch_uthread (arch/user.h)
# instead of struct uthread; keep it that way.
EXCEPTIONS = []

# x86 register access: what portable code must not spell.
PORTABLE = ("kernel/base/", "kernel/acpi/", "kernel/mm/", "kernel/core/", "kernel/ipc/",
            "kernel/include/kernel/")
REGS_ALLOWED = ("kernel/include/kernel/arch.h", "kernel/include/kernel/cpu.h")
REGS = [
    (re.compile(r"\b__asm__\b|\b__asm\b|\basm\s*(?:volatile\s*)?\("), "inline assembly"),
    (re.compile(r"\b(?:rdmsr|wrmsr)\b"), "MSR access"),
    (re.compile(r"\b(?:read|write)_cr[0-9]\b"), "control register access"),
    (re.compile(r"\bMSR_[A-Z0-9_]+\b"), "an MSR number"),
]
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]((?:kernel|arch)/[^>"]+)[>"]')
SUFFIXES = (".c", ".h", ".S")


def file_layer(rel):
    """Layer of a source file (path relative to the root), or None."""
    for prefix, layer in FILES:
        if rel == prefix or (prefix.endswith("/") and rel.startswith(prefix)):
            if layer is not None:
                return layer
            break
    for inc, layer in HEADERS.items():
        if rel.endswith("/include/" + inc):
            return layer
    return None


def portable(rel):
    return rel.startswith(PORTABLE) and rel not in REGS_ALLOWED


def uncomment(text):
    """text with its comments blanked, lines kept."""
    return COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def sources(root):
    out = []
    for d, dirs, files in os.walk(os.path.join(root, "kernel")):
        dirs.sort()
        for n in sorted(files):
            if n.endswith(SUFFIXES):
                out.append(os.path.relpath(os.path.join(d, n), root))
    return out


def check(root, exceptions=None):
    """(files checked, [problem lines])."""
    exceptions = EXCEPTIONS if exceptions is None else exceptions
    allowed = {(f, h): why for f, h, why in exceptions}
    used = set()
    problems = []
    files = sources(root)
    for rel in files:
        layer = file_layer(rel)
        if layer is None:
            problems.append(f"{rel}:1: has no layer (add it to FILES or HEADERS "
                            "in tools/layers.py)")
            continue
        rank = LAYERS.index(layer)
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        lines = text.split("\n")
        if portable(rel):
            for no, line in enumerate(uncomment(text).split("\n"), 1):
                for pat, what in REGS:
                    m = pat.search(line)
                    if m:
                        problems.append(f"{rel}:{no}: {m.group(0).strip()} ({what}) in "
                                        f"portable code (layer {layer}): x86 registers are "
                                        "reached through arch.h's functions only")
        for no, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            inc = m.group(1)
            hl = HEADERS.get(inc)
            if hl is None:
                problems.append(f"{rel}:{no}: includes <{inc}>, which has no layer "
                                "(add it to HEADERS in tools/layers.py)")
                continue
            if LAYERS.index(hl) <= rank:
                continue
            if (rel, inc) in allowed:
                used.add((rel, inc))
                continue
            problems.append(f"{rel}:{no}: includes <{inc}> ({hl}) from layer {layer}: "
                            f"a file may include only its own layer and lower "
                            f"({' < '.join(LAYERS)})")
    for f, h, _ in exceptions:
        if (f, h) not in used:
            problems.append(f"{f}:1: exception for <{h}> matches no include any more "
                            "(remove it from EXCEPTIONS in tools/layers.py)")
    return len(files), problems


def main(argv=None):
    ap = argparse.ArgumentParser(description="Check the kernel's include layers.")
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), help="tree to check (default: this one)")
    ap.add_argument("--no-exceptions", action="store_true",
                    help="check without the EXCEPTIONS list (for other trees)")
    args = ap.parse_args(argv)
    n, problems = check(args.root, [] if args.no_exceptions else None)
    for p in problems:
        print(p)
    if n == 0:
        print(f"layers: no kernel source under {args.root}")
        return 1
    print(f"layers: {n} files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
