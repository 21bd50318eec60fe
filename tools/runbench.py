#!/usr/bin/env python3
"""`make bench`: Rill's benchmarks, as BENCH lines (see docs/testing.md).

    python3 tools/runbench.py [--build build] [--smp 1] [--wall-runs 3]
        [--no-linux] [--no-count] [--selftest]

Boots Rill with "bench" on the command line (init runs every bench/*
program of the initrd):
  1. once under the instruction-counting TCG plugin with -icount shift=0
     (exact, repeatable guest instruction counts per region: insns_per_op),
     after tools/plugin/selftest.sh has proven the plugin on a guest of
     known counts; --no-count leaves both out (wall time only, no plugin).
     bench/latency is left out of that boot (except=latency) and run in
     one of its own under -icount shift=0 without the plugin (guest time:
     its max_irqoff_ns figures; no insns_per_op);
  2. --wall-runs times plainly, under TCG as `make run` does, where the
     guest's clock (TSC) follows the host: wall_ns_per_op is TCG wall time
     per operation, from the fastest run of each region (a shared host only
     ever slows a run down; the same rule applies to the Linux side).
Each bench program prints BENCHREGION lines with iters=, ns= and any other
figures (syscalls= becomes syscalls_per_op). The output, one line each:
    BENCH name=<id> os=rill iters=<n> insns_per_op=<n> wall_ns_per_op=<n>
          syscalls_per_op=<x>
then tools/linuxbench.py's BENCH lines and the Rill/Linux ratios.

Nothing is taken on trust. Every boot must end with QEMU status 1 (init
saw no failure), within its timeout, with "bench: done programs=N
failed=0" where N is the number of bench/* programs in the initrd, a
"bench: start" line for each, and no "bench: FAIL" line (a bench program
prints one, and exits non-zero, on any error it meets: a failed call, a
completion with an error, a reply of the wrong length or content). Every
counted region must pair with a BENCHREGION line, and every boot must show
the same regions. The Linux side must succeed and report each of its
benchmarks. Any problem is printed as "runbench: FAIL <reason>" and makes
the exit status 1 (the figures measured are still printed, for diagnosis).

--selftest runs bench-selftest/* instead (booted with "bench selftest"):
the fixture there fails on purpose, and tools/runtests.py's self-test
checks that this run exits non-zero.
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
import runtests  # noqa: E402

APPEND = "bench log=warn"
# bench/latency is measured in guest time under -icount (1 ns of guest
# time per instruction) in a boot of its own without the counting plugin:
# under the plugin its 256 MiB transfer and 16 GiB snapshot take the best
# part of an hour. Its regions have no insns_per_op.
LATENCY_PROG = "latency"
# bench/latency moves 256 MiB between two 256 MiB buffers.
MEM = "1G"
TIMEOUT = 1800

BENCH_START = re.compile(r"bench: start (?P<prog>\S+)\s*$", re.M)
BENCH_FAIL = re.compile(r"bench: FAIL .*$", re.M)
BENCH_DONE = re.compile(r"bench: done programs=(?P<n>\d+) failed=(?P<f>\d+)")


def num(x):
    return str(int(x)) if float(x).is_integer() else f"{x:.3f}".rstrip("0").rstrip(".")


def boot_problems(label, text, status, timed_out, expected):
    """What is wrong with one boot of the bench programs (a list of
    reasons; empty when nothing is)."""
    problems = []
    if timed_out:
        problems.append(f"{label}: timed out after {TIMEOUT} s")
    problems += [f"{label}: {m.group(0).strip()}" for m in BENCH_FAIL.finditer(text)]
    started = set(m["prog"] for m in BENCH_START.finditer(text))
    for prog in expected:
        if prog not in started:
            problems.append(f"{label}: bench/{prog} never started")
    m = BENCH_DONE.search(text)
    if not m:
        problems.append(f"{label}: no 'bench: done' line from init")
    else:
        if int(m["n"]) != len(expected):
            problems.append(f"{label}: init ran {m['n']} programs, the initrd has "
                            f"{len(expected)}")
        if int(m["f"]):
            problems.append(f"{label}: init says {m['f']} bench program(s) failed")
    if not timed_out and status != qemu.EXIT_TESTS_PASSED:
        problems.append(f"{label}: QEMU status {status}, expected "
                        f"{qemu.EXIT_TESTS_PASSED} (init saw no failure)")
    return problems


def region_names(serial):
    return [name for name, _, _ in bench.parse_benchregions(serial)]


def main(argv=None, say=None):
    say = say or (lambda s: print(s, flush=True))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--wall-runs", type=int, default=3,
                    help="plain boots for wall time; the fastest run of each "
                         "region is reported (default 3)")
    ap.add_argument("--no-linux", action="store_true",
                    help="skip the Linux counterparts (tools/linuxbench.py)")
    ap.add_argument("--no-count", action="store_true",
                    help="no instruction-counting boot: wall time only")
    ap.add_argument("--selftest", action="store_true",
                    help="run the failing fixtures of bench-selftest/ instead")
    args = ap.parse_args(argv)
    kernel = os.path.join(args.build, "rill.bin")
    initrd = os.path.join(args.build, "initrd.cpio")
    d = "bench-selftest" if args.selftest else "bench"
    append = APPEND + (" selftest" if args.selftest else "")
    problems = []

    def finish(code=0):
        for p in problems:
            say(f"runbench: FAIL {p}")
        if problems:
            say(f"runbench: {len(problems)} problem(s): these figures are not to be used")
        return 1 if problems or code else 0

    try:
        expected = runtests.initrd_programs(args.build, d)
    except (OSError, ValueError) as e:
        problems.append(f"cannot list the initrd: {e}")
        return finish()
    if not expected:
        problems.append(f"no {d}/ program in the initrd")
        return finish()

    counted = guest = None
    latency = not args.selftest and LATENCY_PROG in expected
    counted_except = f" except={LATENCY_PROG}" if latency else ""
    counted_expected = [p for p in expected if not (latency and p == LATENCY_PROG)]
    if not args.no_count:
        # The counter is proven on a guest of known counts first (REP
        # string instructions included): figures from a wrong counter
        # are worse than none.
        r = subprocess.run(["bash", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "plugin", "selftest.sh")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        say(r.stdout.strip())
        if r.returncode != 0:
            problems.append("the instruction counter's self-test failed "
                            "(tools/plugin/selftest.sh)")
            return finish()
        try:
            counted = bench.run_bench(kernel, initrd, append + counted_except, smp=args.smp,
                                      mem=MEM, timeout=TIMEOUT)
        except (qemu.BootError, bench.BenchError) as e:
            problems.append(f"counted boot: {e}")
            return finish()
        runtests.save_log(args.build, f"{d}-counted.log", counted.serial)
        problems += boot_problems("counted boot", counted.serial, counted.status,
                                  counted.timed_out, counted_expected)
        nlines = len(bench.parse_benchregions(counted.serial))
        if nlines != len(counted.counts):
            problems.append(f"counted boot: {len(counted.counts)} counted regions but "
                            f"{nlines} BENCHREGION lines")
    if not args.no_count and latency:
        try:
            status, text, timed_out = qemu.boot(kernel, initrd=initrd, smp=args.smp, mem=MEM,
                                                append=f"{append} only={LATENCY_PROG}",
                                                timeout=TIMEOUT, extra_args=bench.ICOUNT)
        except qemu.BootError as e:
            problems.append(f"guest-time boot: {e}")
            return finish()
        runtests.save_log(args.build, f"{d}-guesttime.log", text)
        problems += boot_problems("guest-time boot", text, status, timed_out, [LATENCY_PROG])
        guest = text
    plains = []
    for k in range(max(args.wall_runs, 1)):
        try:
            status, text, timed_out = qemu.boot(kernel, initrd=initrd, smp=args.smp, mem=MEM,
                                                append=append, timeout=TIMEOUT)
        except qemu.BootError as e:
            problems.append(f"wall boot {k}: {e}")
            return finish()
        runtests.save_log(args.build, f"{d}-wall{k}.log", text)
        problems += boot_problems(f"wall boot {k}", text, status, timed_out, expected)
        plains.append(text)
    # Every boot ran the same programs: the same regions (in order within
    # a boot; the guest-time boot's come apart from the counted boot's).
    ref = region_names((counted.serial + (guest or "")) if counted else plains[0])
    if guest:
        ref = sorted(ref)
    if not ref:
        problems.append("no BENCHREGION line at all")
    for k, text in enumerate(plains):
        if (sorted(region_names(text)) if guest else region_names(text)) != ref:
            problems.append(f"wall boot {k}: regions {region_names(text)} differ from {ref}")

    rill = print_rill(say, counted, plains, guest)
    runtime_overhead(say, rill)
    if args.no_linux:
        return finish()
    problems += linux_and_ratios(say, args.build, rill, args.wall_runs)
    return finish()


def runtime_overhead(say, rill):
    """What the asynchronous runtime adds to a request/response round trip
    (issue 12's target: at most 25% over the raw rings), as a BENCH line."""
    a, b = rill.get("rt_ipc_task_1B", {}), rill.get("rt_ipc_raw_1B", {})
    if "insns_per_op" in a and "insns_per_op" in b:
        r = float(a["insns_per_op"]) / float(b["insns_per_op"])
        say(f"BENCH name=rt_roundtrip_vs_raw os=rill ratio={r:.3f} target_max=1.25 "
            f"task={a['insns_per_op']} raw={b['insns_per_op']}")


def print_rill(say, counted, plains, guest=None):
    """The BENCH lines of Rill's regions; {name: fields}."""
    wall = bench.fastest_walls(plains)
    if counted is not None:
        regions = bench.pair_regions(counted[0], counted[1])
        # The guest-time boot's regions: figures, but no instruction count.
        for n, i, kv in bench.parse_benchregions(guest or ""):
            kv = dict(kv)
            kv.pop("ns", None)
            regions.append({"name": n, "iters": i, "insns_per_op": None, "extra": kv})
    else:
        regions = [{"name": n, "iters": i, "insns_per_op": None, "extra": dict(kv)}
                   for n, i, kv in bench.parse_benchregions(plains[0])]
        for r in regions:
            r["extra"].pop("ns", None)
    rill = {}
    for r in regions:
        parts = [f"BENCH name={r['name']}", "os=rill", f"iters={r['iters']}"]
        if r["insns_per_op"] is not None:
            parts.append(f"insns_per_op={num(r['insns_per_op'])}")
        iters_w, kv_w = wall.get(r["name"], (None, {}))
        if iters_w and "ns" in kv_w:
            parts.append(f"wall_ns_per_op={num(float(kv_w['ns']) / iters_w)}")
        extra = dict(r["extra"])
        if "syscalls" in extra:
            parts.append(f"syscalls_per_op={float(extra.pop('syscalls')) / r['iters']:.4f}")
        parts += [f"{k}={v}" for k, v in extra.items()]
        parts += wall_latency(plains, r["name"])
        say(" ".join(parts))
        rill[r["name"]] = fields(parts)
    return rill


# bench/latency's figures are per boot, not per operation: the counted
# boot's (guest time under -icount) are the line's own; the wall boots'
# worst is added as wall_<key>.
LATENCY_KEYS = ("max_irqoff_ns", "max_timer_late_ns")


def wall_latency(plains, name):
    out = []
    for key in LATENCY_KEYS:
        vals = [float(kv[key]) for text in plains
                for n, _, kv in bench.parse_benchregions(text) if n == name and key in kv]
        if vals:
            out.append(f"wall_{key}={num(max(vals))}")
    return out


def fields(parts):
    return dict(p.split("=", 1) for p in " ".join(parts).split()[1:] if "=" in p)


def linux_and_ratios(say, build, rill, wall_runs):
    """Run the Linux counterparts (same QEMU, same plugin) and print a table
    of Rill/Linux ratios for the benchmarks both have. Returns problems."""
    import linuxbench
    here = os.path.dirname(os.path.abspath(__file__))
    # --calibrate: Linux's getpid too, the figure docs/testing.md compares
    # a system call with.
    r = subprocess.run([sys.executable, os.path.join(here, "linuxbench.py"), "--build", build,
                        "--wall-runs", str(wall_runs), "--calibrate"],
                       stdout=subprocess.PIPE, text=True)
    problems = []
    linux = {}
    for line in r.stdout.splitlines():
        if line.startswith("BENCH "):
            say(line)
            f = fields(line.split())
            linux[f["name"]] = f
        elif line.strip():
            say(line)
    if r.returncode != 0:
        problems.append(f"tools/linuxbench.py failed (exit status {r.returncode}; "
                        "its reasons are above)")
    for name in linuxbench.BENCHMARKS + linuxbench.CALIBRATION:
        if name not in linux:
            problems.append(f"linux: no BENCH line for {name}")
        elif "wall_ns_per_op" not in linux[name]:
            problems.append(f"linux: {name} has no wall time")
    # ipc_inflight_lanes_<N> (persistent lanes) has the shape of Linux's
    # ipc_inflight_<N> (a pipe pair per client) too.
    pairs = [(n, re.sub(r"^ipc_inflight_lanes_", "ipc_inflight_", n)) for n in rill]
    # A Linux system call answered in the process (dispatch_getpid) and one
    # forwarded to a supervisor (forward_syscall), next to Linux's getpid:
    # the cheap-call path and the server path of docs/design.md.
    pairs += [(n, "getpid") for n in ("dispatch_getpid", "forward_syscall") if n in rill]
    pairs = [(n, m) for n, m in pairs if m in linux]
    if pairs:
        say(f"{'benchmark':<26} {'vs linux':<18} {'insns rill/linux':>17} "
            f"{'wall rill/linux':>16}")
    for n, m in pairs:
        a, b = rill[n], linux[m]
        ri = (float(a["insns_per_op"]) / float(b["insns_per_op"])
              if "insns_per_op" in a and "insns_per_op" in b else float("nan"))
        rw = (float(a["wall_ns_per_op"]) / float(b["wall_ns_per_op"])
              if "wall_ns_per_op" in a and "wall_ns_per_op" in b else float("nan"))
        say(f"{n:<26} {m:<18} {ri:>17.3f} {rw:>16.3f}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
