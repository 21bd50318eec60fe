#!/usr/bin/env python3
"""Where a benchmark's guest instructions go: boot Rill under the counting
plugin with profile=on and print the functions that ran the most
instructions inside BENCHREGION regions (kernel and user alike).

    python3 tools/benchprof.py [--only ipc] [--user-binary bench/ipc] [--top 40]
                               [--region K]

Counts are per translation block (whole blocks, as the plugin's mode=tb),
summed over every region of the run; kernel addresses are symbolized with
build/kernel.elf, user ones with the given initrd binary (every process
that ran it shares its addresses). --region K profiles only the K-th
region (from 0, in the order the BENCHREGION lines are printed, which this
tool lists at the end) and prints counts per iteration too.
"""
import argparse
import collections
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import qemu  # noqa: E402


def symbolize(elf, pcs):
    if not pcs:
        return []
    out = subprocess.run(["addr2line", "-f", "-e", elf] + [hex(p) for p in pcs],
                         stdout=subprocess.PIPE, text=True).stdout.splitlines()
    return out[0::2]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", default="ipc", help="bench program to run (only=)")
    ap.add_argument("--user-binary", default=None,
                    help="initrd path of the user binary (default bench/<only>)")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--lines", default=None, metavar="FUNC",
                    help="also list FUNC's blocks with their source lines")
    ap.add_argument("--blocks", default=None, metavar="FILE",
                    help="write every kernel block (pc, instructions per iteration, "
                         "function, source line) to FILE, most run first")
    ap.add_argument("--trace", type=int, default=0, metavar="N",
                    help="print the first N blocks run in the region (after --trace-skip), "
                         "in order, with their functions (inlined ones too)")
    ap.add_argument("--trace-skip", type=int, default=100000, metavar="M")
    ap.add_argument("--region", type=int, default=None,
                    help="profile only this region (index from 0)")
    args = ap.parse_args(argv)
    bench.ensure_plugin()
    ubin = os.path.join(args.build, "initrd-root", args.user_binary or f"bench/{args.only}")
    with tempfile.TemporaryDirectory(prefix="rill-prof-") as tmp:
        out = os.path.join(tmp, "prof.txt")
        popt = f",profregion={args.region}" if args.region is not None else ""
        if args.trace:
            popt += f",tracen={args.trace},traceskip={args.trace_skip}"
        extra = [*bench.ICOUNT, "-plugin",
                 f"{bench.PLUGIN},outfile={out},mode=tb,inline=on,profile=on{popt}"]
        _, serial, _ = qemu.boot(os.path.join(args.build, "rill.bin"),
                  initrd=os.path.join(args.build, "initrd.cpio"), smp=1,
                  append=f"bench log=warn only={args.only}", timeout=1800, extra_args=extra)
        prof = collections.Counter()
        trace = []
        with open(out, encoding="utf-8") as f:
            for line in f:
                if line.startswith("TRACE "):
                    kv = dict(x.split("=", 1) for x in line.split()[1:])
                    trace.append((int(kv["pc"], 16), int(kv["insns"])))
                if line.startswith("PROF "):
                    kv = dict(x.split("=", 1) for x in line.split()[1:])
                    prof[int(kv["pc"], 16)] += int(kv["insns"])
    total = sum(prof.values()) or 1
    kern = [p for p in prof if p >= 0xffff800000000000]
    user = [p for p in prof if p < 0x800000000000]
    funcs = collections.Counter()
    blocks = []
    for p, name in zip(kern, symbolize(os.path.join(args.build, "kernel.elf"), kern)):
        funcs["K " + name] += prof[p]
        if args.lines and name == args.lines:
            blocks.append(p)
    for p, name in zip(user, symbolize(ubin, user)):
        funcs["U " + name] += prof[p]
    regions = bench.parse_benchregions(serial)
    iters = 1
    if args.region is not None and args.region < len(regions):
        iters = regions[args.region][1]
        print(f"region {args.region}: {regions[args.region][0]}, {iters} iterations")
    print(f"total {total} instructions in regions, {total / iters:.0f} per iteration")
    for name, n in funcs.most_common(args.top):
        print(f"{n * 100 / total:6.2f}% {n:>12} {n / iters:>10.1f} {name}")
    print("regions: " + ", ".join(f"{k}={r[0]}" for k, r in enumerate(regions)))
    if args.blocks:
        kl = subprocess.run(["addr2line", "-e", os.path.join(args.build, "kernel.elf")] +
                            [hex(p) for p in kern], stdout=subprocess.PIPE,
                            text=True).stdout.splitlines() if kern else []
        kf = symbolize(os.path.join(args.build, "kernel.elf"), kern)
        with open(args.blocks, "w", encoding="utf-8") as f:
            for p, fn, line in sorted(zip(kern, kf, kl), key=lambda x: -prof[x[0]]):
                f.write(f"{prof[p] / iters:10.1f} {p:x} {fn} {os.path.basename(line)}\n")
    if trace:
        kpcs = sorted({p for p, _ in trace if p >= 0xffff800000000000})
        names = dict(zip(kpcs, symbolize(os.path.join(args.build, "kernel.elf"), kpcs)))
        upcs = sorted({p for p, _ in trace if p < 0x800000000000})
        names.update(zip(upcs, ("U " + n for n in symbolize(ubin, upcs))))
        run = 0
        for p, n in trace:
            run += n
            print(f"TRACE {run:6} {n:4} {p:x} {names.get(p, '?')}")
    if blocks:
        out = subprocess.run(["addr2line", "-e", os.path.join(args.build, "kernel.elf")] +
                             [hex(p) for p in blocks], stdout=subprocess.PIPE,
                             text=True).stdout.splitlines()
        for p, line in sorted(zip(blocks, out), key=lambda x: -prof[x[0]]):
            print(f"{prof[p] / iters:>10.1f} {p:x} {os.path.basename(line)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
