#!/usr/bin/env python3
"""`make bench`: Rill's benchmarks, as BENCH lines (see DESIGN.md).

    python3 tools/runbench.py [--build build] [--smp 1] [--wall-runs 3] [--no-linux]

Boots Rill with "bench" on the command line (init runs every bench/*
program of the initrd):
  1. once under the instruction-counting TCG plugin with -icount shift=0
     (exact, repeatable guest instruction counts per region: insns_per_op);
  2. --wall-runs times plainly, under TCG as `make run` does, where the
     guest's clock (TSC) follows the host: wall_ns_per_op is TCG wall time
     per operation, from the fastest run of each region (a shared host only
     ever slows a run down; the same rule applies to the Linux side).
Each bench program prints BENCHREGION lines with iters=, ns= and any other
figures (syscalls= becomes syscalls_per_op). The output, one line each:
    BENCH name=<id> os=rill iters=<n> insns_per_op=<n> wall_ns_per_op=<n>
          syscalls_per_op=<x>
"""
import argparse
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import qemu  # noqa: E402

APPEND = "bench log=warn"


def num(x):
    return str(int(x)) if float(x).is_integer() else f"{x:.3f}".rstrip("0").rstrip(".")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--wall-runs", type=int, default=3,
                    help="plain boots for wall time; the fastest run of each "
                         "region is reported (default 3)")
    ap.add_argument("--no-linux", action="store_true",
                    help="skip the Linux counterparts (tools/linuxbench.py)")
    args = ap.parse_args(argv)
    kernel = os.path.join(args.build, "rill.bin")
    initrd = os.path.join(args.build, "initrd.cpio")

    counted = bench.run_bench(kernel, initrd, APPEND, smp=args.smp, timeout=1800)
    regions = bench.pair_regions(counted[0], counted[1])
    if not regions or len(regions) != len(bench.parse_benchregions(counted[0])):
        print(counted[0][-3000:])
        print("runbench: regions and counts do not pair", file=sys.stderr)
        return 1
    plains = [qemu.boot(kernel, initrd=initrd, smp=args.smp, append=APPEND,
                        timeout=1800)[1] for _ in range(max(args.wall_runs, 1))]
    wall = bench.fastest_walls(plains)
    rill = {}
    for r in regions:
        parts = [f"BENCH name={r['name']}", "os=rill", f"iters={r['iters']}",
                 f"insns_per_op={num(r['insns_per_op'])}"]
        iters_w, kv_w = wall.get(r["name"], (None, {}))
        if iters_w and "ns" in kv_w:
            parts.append(f"wall_ns_per_op={num(float(kv_w['ns']) / iters_w)}")
        extra = dict(r["extra"])
        if "syscalls" in extra:
            parts.append(f"syscalls_per_op={float(extra.pop('syscalls')) / r['iters']:.4f}")
        parts += [f"{k}={v}" for k, v in extra.items()]
        print(" ".join(parts), flush=True)
        rill[r["name"]] = fields(parts)
    if args.no_linux:
        return 0
    return linux_and_ratios(args.build, rill, args.wall_runs)


def fields(parts):
    return dict(p.split("=", 1) for p in " ".join(parts).split()[1:] if "=" in p)


def linux_and_ratios(build, rill, wall_runs):
    """Run the Linux counterparts (same QEMU, same plugin) and print a table
    of Rill/Linux ratios for the benchmarks both have."""
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run([sys.executable, os.path.join(here, "linuxbench.py"), "--build", build,
                        "--wall-runs", str(wall_runs)], stdout=subprocess.PIPE, text=True)
    linux = {}
    for line in r.stdout.splitlines():
        if line.startswith("BENCH "):
            print(line, flush=True)
            f = fields(line.split())
            linux[f["name"]] = f
    if r.returncode != 0:
        print(f"runbench: tools/linuxbench.py failed ({r.returncode})", file=sys.stderr)
        return 1
    # ipc_inflight_lanes_<N> (persistent lanes) has the shape of Linux's
    # ipc_inflight_<N> (a pipe pair per client) too.
    pairs = [(n, re.sub(r"^ipc_inflight_lanes_", "ipc_inflight_", n)) for n in rill]
    pairs = [(n, m) for n, m in pairs if m in linux]
    if pairs:
        print(f"{'benchmark':<26} {'vs linux':<18} {'insns rill/linux':>17} "
              f"{'wall rill/linux':>16}")
    for n, m in pairs:
        a, b = rill[n], linux[m]
        ri = float(a["insns_per_op"]) / float(b["insns_per_op"])
        rw = (float(a["wall_ns_per_op"]) / float(b["wall_ns_per_op"])
              if "wall_ns_per_op" in a and "wall_ns_per_op" in b else float("nan"))
        print(f"{n:<26} {m:<18} {ri:>17.3f} {rw:>16.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
