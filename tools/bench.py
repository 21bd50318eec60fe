#!/usr/bin/env python3
"""Instruction-exact benchmarks of Rill under QEMU TCG.

QEMU runs the guest with `-icount shift=0,sleep=off` (deterministic: the
guest clock advances one nanosecond per instruction) and with our TCG plugin
build/plugin/libinsncount.so (tools/plugin/insncount.c, built by
tools/plugin/build.sh, which this script runs when needed), which counts the
guest instructions between marker instructions.

Protocol
--------
Guest side, for each measured region:

 1. execute the start marker, run the measured code (iters operations),
    execute the stop marker. A marker is the 7-byte `nopl disp32(%rax)`,
    bytes 0f 1f 80 <disp32 little-endian>, a NOP to the CPU:
        0x52494c01  start a region
        0x52494c02  stop the region (the plugin records its count)
        0x52494c03  reset: discard the open region (no record; use it to
                    abandon a region, e.g. a benchmark that failed)
    e.g.  __asm__ volatile(".byte 0x0f,0x1f,0x80; .long 0x52494c01" ::: "memory");
 2. after the stop marker, print one line on the serial console:
        BENCHREGION name=<id> iters=<n> [key=value ...]
    name has no spaces; iters >= 1 is the number of operations in the
    region; ns=<total> (optional) is the guest's own measure of the whole
    region in nanoseconds; any other key=value is passed through.

Plugin side: one line per stopped region, in order, flushed at once:
        INSNS region=<k> count=<n>
    k counts regions from 0; n is the number of guest instructions executed
    strictly between the start and the stop marker (both markers excluded),
    by all vCPUs, in kernel and user mode alike; a REP string instruction
    counts once per execution, not once per iteration (see insncount.c).
    Lines starting with '#' are comments (mode, resets, the run's total).

Pairing: the k-th INSNS line belongs to the k-th BENCHREGION line of the
serial output. bench.py prints for each pair
        BENCH name=<id> iters=<n> insns_per_op=<count/iters> [ns_per_op=<ns/iters>] [key=value ...]
(ns_per_op only when the guest reported ns=; under -icount shift=0 the
guest's clock counts instructions, so it is a cross-check, not wall time).

Plugin modes: mode=insn (default) counts every instruction, exact in all
cases (an instruction that faults counts as executed, once per attempt);
mode=tb counts whole translation blocks, cheaper, but a block left early by
an exception or, under -icount, an MMIO access is counted whole (+22% on
Rill's boot, from its HPET polling loop). See tools/plugin/insncount.c.

Library:

    from bench import run_bench, pair_regions, format_bench
    serial, counts, wall = run_bench(kernel, initrd, append, smp=1,
                                     mem="512M", timeout=600)
    for r in pair_regions(serial, counts):
        print(format_bench(r))

  The returned tuple also carries .status, .timed_out and .total (all
  instructions counted in the run, None if QEMU was killed) as attributes.
  until=REGEX stops QEMU once the serial output matches (counts written so
  far are kept: the plugin flushes every line).

CLI:

    python3 tools/bench.py run --kernel K [--initrd I] [--append A] [--smp N]
        [--mem M] [--timeout S] [--until REGEX] [--mode insn|tb] [--serial FILE]
    python3 tools/bench.py pair --serial SERIAL_LOG --insns PLUGIN_OUTPUT

  `run` prints the BENCH lines and a summary line; exit status 0 when QEMU
  finished (or matched --until) and every region pairs with a BENCHREGION
  line, 1 otherwise, 2 when QEMU or an image is missing or the plugin does
  not build.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep tools/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGIN_BUILD = os.path.join(ROOT, "tools", "plugin", "build.sh")
PLUGIN = os.path.join(ROOT, "build", "plugin", "libinsncount.so")

ICOUNT = ["-icount", "shift=0,sleep=off"]
MODES = ("insn", "tb")

INSNS_LINE = re.compile(r"^INSNS region=(\d+) count=(\d+)\s*$", re.MULTILINE)
TOTAL_LINE = re.compile(r"^# total instructions=(\d+)", re.MULTILINE)
BENCHREGION_LINE = re.compile(r"BENCHREGION((?:[ \t]+[^\s=]+=\S*)+)[ \t]*\r?$",
                              re.MULTILINE)


class BenchError(Exception):
    """The plugin could not be built, or its output makes no sense."""


class BenchResult(tuple):
    """(serial_text, region_counts, wall_seconds), plus .status, .timed_out
    and .total as attributes."""

    def __new__(cls, serial, counts, wall, status=None, timed_out=False,
                total=None):
        self = super().__new__(cls, (serial, counts, wall))
        self.status = status
        self.timed_out = timed_out
        self.total = total
        return self

    serial = property(lambda self: self[0])
    counts = property(lambda self: self[1])
    wall = property(lambda self: self[2])


def ensure_plugin():
    """Build the plugin if needed (quiet when it is up to date); its path."""
    r = subprocess.run(["bash", PLUGIN_BUILD], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0 or not os.path.isfile(PLUGIN):
        raise BenchError(f"tools/plugin/build.sh failed:\n{r.stdout}")
    return PLUGIN


def plugin_args(outfile, mode="insn"):
    """The -plugin option value. Under -icount every vCPU runs on one TCG
    thread, so the fast inline counter is exact at any -smp."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if "," in outfile:
        raise BenchError(f"plugin output path must not contain ',': {outfile}")
    return f"{PLUGIN},outfile={outfile},mode={mode},inline=on"


def parse_insns(text):
    """Region counts from the plugin's output, in region order."""
    counts = []
    for m in INSNS_LINE.finditer(text):
        k, n = int(m.group(1)), int(m.group(2))
        if k != len(counts):
            raise BenchError(f"plugin output: region {k} where {len(counts)} expected")
        counts.append(n)
    return counts


def parse_total(text):
    m = TOTAL_LINE.search(text)
    return int(m.group(1)) if m else None


def run_bench(kernel, initrd=None, append="", smp=1, mem="512M", timeout=600,
              mode="insn", until=None, machine="q35"):
    """Boot with the counting plugin under -icount shift=0,sleep=off.

    Returns BenchResult (serial_text, list_of_region_counts, wall_seconds).
    Raises qemu.BootError (missing QEMU or image) or BenchError.
    """
    ensure_plugin()
    with tempfile.TemporaryDirectory(prefix="rill-bench-") as tmp:
        outfile = os.path.join(tmp, "insns.txt")
        extra = [*ICOUNT, "-plugin", plugin_args(outfile, mode)]
        start = time.monotonic()
        status, serial, timed_out = qemu.boot(
            kernel, initrd=initrd, smp=smp, mem=mem, append=append,
            timeout=timeout, until=until, machine=machine, extra_args=extra)
        wall = time.monotonic() - start
        try:
            with open(outfile, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            raise BenchError("the plugin wrote no output (did QEMU load it?)\n"
                             + serial[-2000:]) from None
    return BenchResult(serial, parse_insns(text), wall, status=status,
                       timed_out=timed_out, total=parse_total(text))


def parse_benchregions(serial):
    """[(name, iters, {key: value})] of the BENCHREGION lines, in order."""
    regions = []
    for m in BENCHREGION_LINE.finditer(serial):
        kv = {}
        for item in m.group(1).split():
            k, _, v = item.partition("=")
            kv[k] = v
        name = kv.pop("name", "?")
        try:
            iters = int(kv.pop("iters", "1"), 0)
        except ValueError:
            iters = 1
        regions.append((name, max(iters, 1), kv))
    return regions


def fastest_walls(serials):
    """{name: (iters, kv)} from the BENCHREGION lines of several plain boots,
    keeping for each region the run with the smallest ns: wall time under
    TCG on a shared host only ever gets slower than the machine allows, so
    the fastest of a few runs is the least disturbed one. kv gains
    wall_runs=<how many runs had the region>."""
    best = {}
    for serial in serials:
        for name, iters, kv in parse_benchregions(serial):
            if "ns" not in kv:
                continue
            prev = best.get(name)
            runs = (prev[1]["wall_runs"] if prev else 0) + 1
            if prev is None or float(kv["ns"]) / iters < float(prev[1]["ns"]) / prev[0]:
                best[name] = (iters, dict(kv))
            best[name][1]["wall_runs"] = runs
    return best


def pair_regions(serial, counts):
    """Pair the k-th region count with the k-th BENCHREGION line.

    Returns a list of dicts: name, iters, insns (total count), insns_per_op,
    ns_per_op (None without ns=), extra (the other keys). Unpaired entries
    on either side are dropped; compare lengths with parse_benchregions()
    to detect them.
    """
    out = []
    for (name, iters, kv), count in zip(parse_benchregions(serial), counts):
        kv = dict(kv)
        ns = kv.pop("ns", None)
        ns_per_op = None
        if ns is not None:
            try:
                ns_per_op = float(ns) / iters
            except ValueError:
                ns_per_op = None
        out.append({"name": name, "iters": iters, "insns": count,
                    "insns_per_op": count / iters, "ns_per_op": ns_per_op,
                    "extra": kv})
    return out


def _num(x):
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.3f}".rstrip("0").rstrip(".")


def format_bench(r):
    parts = [f"BENCH name={r['name']}", f"iters={r['iters']}",
             f"insns_per_op={_num(r['insns_per_op'])}"]
    if r["ns_per_op"] is not None:
        parts.append(f"ns_per_op={_num(r['ns_per_op'])}")
    parts += [f"{k}={v}" for k, v in r["extra"].items()]
    return " ".join(parts)


def report(serial, counts):
    """Print the BENCH lines; returns True when the two sides pair exactly."""
    lines = parse_benchregions(serial)
    for r in pair_regions(serial, counts):
        print(format_bench(r))
    if len(lines) != len(counts):
        print(f"bench.py: {len(counts)} counted regions but {len(lines)} "
              f"BENCHREGION lines", file=sys.stderr)
        return False
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description="Instruction-exact benchmarks of Rill.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="boot under the counting plugin")
    p.add_argument("--kernel", required=True)
    p.add_argument("--initrd")
    p.add_argument("--append", default="")
    p.add_argument("--smp", type=int, default=1)
    p.add_argument("--mem", default="512M")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--until")
    p.add_argument("--machine", default="q35")
    p.add_argument("--mode", choices=MODES, default="insn")
    p.add_argument("--serial", help="also save the serial output here")
    p = sub.add_parser("pair", help="pair a saved serial log with plugin output")
    p.add_argument("--serial", required=True)
    p.add_argument("--insns", required=True)
    args = ap.parse_args(argv)

    if args.cmd == "pair":
        with open(args.serial, encoding="utf-8", errors="replace") as f:
            serial = f.read()
        with open(args.insns, encoding="utf-8", errors="replace") as f:
            counts = parse_insns(f.read())
        return 0 if report(serial, counts) else 1

    try:
        res = run_bench(args.kernel, args.initrd, args.append, smp=args.smp,
                        mem=args.mem, timeout=args.timeout, mode=args.mode,
                        until=args.until, machine=args.machine)
    except (qemu.BootError, BenchError) as e:
        print(f"bench.py: {e}", file=sys.stderr)
        return 2
    serial, counts, wall = res
    if args.serial:
        with open(args.serial, "w", encoding="utf-8") as f:
            f.write(serial)
    ok = report(serial, counts)
    total = res.total if res.total is not None else "?"
    print(f"bench.py: regions={len(counts)} total_insns={total} "
          f"wall={wall:.2f}s status={res.status} timed_out={res.timed_out}")
    if res.timed_out:
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
