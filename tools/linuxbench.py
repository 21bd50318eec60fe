#!/usr/bin/env python3
"""The Linux counterpart of Rill's IPC benchmarks, as BENCH lines.

    python3 tools/linuxbench.py [--build build] [--only REGEX] [--mem 512M]
        [--timeout S] [--append-extra "..."] [--calibrate] [--keep-logs]

Boots Debian's own Linux kernel (/boot/vmlinuz-6.1.*-amd64, package
linux-image-amd64) in the same QEMU as Rill's `make bench` (q35, -cpu max,
TCG, -smp 1), with an initramfs whose /init is bench-linux/linuxbench.c
(built with musl-gcc -static -O2, package musl-tools). /init runs the
benchmarks named by `lbench=` on the kernel command line, each bracketed by
Rill's marker instructions (see tools/bench.py), then powers off.

Two boots, as tools/runbench.py does for Rill:
  1. under the instruction-counting TCG plugin with -icount shift=0,sleep=off
     (exact guest instructions per region, kernel and user mode alike);
  2. plain TCG, where the guest's CLOCK_MONOTONIC follows the host: wall time
     (--wall-runs boots, default 3; the fastest run of each region counts).
Output, one line per benchmark:
    BENCH name=<id> os=linux iters=<n> insns_per_op=<n> wall_ns_per_op=<n>
          [server_syscalls_per_op=<x>]

Artefacts go to <build>/linux-bench/: linuxbench (the static binary),
initramfs.cpio, and the serial logs of the boots (counted.log, wall<k>.log).

Packages: musl-tools and linux-image-amd64 (plus what tools/deps.sh lists);
as root missing ones are installed with apt-get, otherwise the exact command
is printed and the script exits with status 2.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import qemu  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "bench-linux", "linuxbench.c")

# Same names and order as the table in bench-linux/linuxbench.c.
BENCHMARKS = ["ipc_pingpong_1B", "ipc_pingpong_4KiB", "ipc_inflight_1",
              "ipc_inflight_8", "ipc_inflight_64", "ipc_inflight_512"]
CALIBRATION = ["getpid"]  # one system call (docs/testing.md)

PACKAGES = ["musl-tools", "linux-image-amd64"]
KERNEL_GLOB = "/boot/vmlinuz-6.1.*-amd64"
APPEND = "console=ttyS0 quiet panic=-1"
CFLAGS = ["-static", "-O2", "-Wall", "-Wextra"]


def num(x):
    return str(int(x)) if float(x).is_integer() else f"{x:.3f}".rstrip("0").rstrip(".")


def log(msg):
    print(f"linuxbench: {msg}", file=sys.stderr, flush=True)


# ---- packages and the kernel image -------------------------------------

def _installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", pkg],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return r.returncode == 0 and r.stdout.strip() == "installed"


def _kernels():
    def version_key(path):
        v = re.search(r"vmlinuz-([\d.]+)-(\d+)", path)
        if not v:
            return ()
        return tuple(int(p) for p in v.group(1).split(".")) + (int(v.group(2)),)
    return sorted(glob.glob(KERNEL_GLOB), key=version_key)


def ensure_packages():
    """Install (as root) or name the missing packages. True when all is there."""
    missing = [p for p in PACKAGES if not _installed(p)]
    if shutil.which("musl-gcc") is None and "musl-tools" not in missing:
        missing.append("musl-tools")
    if not _kernels() and "linux-image-amd64" not in missing:
        missing.append("linux-image-amd64")
    if not missing:
        return True
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if os.geteuid() != 0:
        log("missing Debian packages; install them with:")
        print("sudo " + " ".join(cmd), flush=True)
        return False
    log("installing " + " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(cmd, env=env)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update"], env=env)
        r = subprocess.run(cmd, env=env)
    return r.returncode == 0 and shutil.which("musl-gcc") is not None and bool(_kernels())


def find_kernel():
    kernels = _kernels()
    if not kernels:
        raise SystemExit(f"linuxbench: no kernel matches {KERNEL_GLOB}")
    k = kernels[-1]
    if not os.access(k, os.R_OK):
        # Debian installs vmlinuz 0600 root: QEMU cannot read it otherwise.
        raise SystemExit(f"linuxbench: {k} is not readable; run as root "
                         f"(or: sudo chmod a+r {k})")
    return k


# ---- build -------------------------------------------------------------

def build_binary(outdir):
    out = os.path.join(outdir, "linuxbench")
    if (os.path.isfile(out)
            and os.path.getmtime(out) >= os.path.getmtime(SOURCE)
            and os.path.getmtime(out) >= os.path.getmtime(__file__)):
        return out
    cmd = ["musl-gcc", *CFLAGS, "-o", out + ".tmp", SOURCE]
    r = subprocess.run(cmd)
    if r.returncode != 0:
        raise SystemExit("linuxbench: compiling " + " ".join(cmd) + " failed")
    os.replace(out + ".tmp", out)
    return out


def _pad4(n):
    return b"\0" * ((4 - n % 4) % 4)


def cpio_newc(entries):
    """A cpio newc archive of entries (name, mode, data, rdev_major,
    rdev_minor). tools/mkcpio.py archives a host directory, which cannot
    hold /dev/console without mknod as root, so this writes its own."""
    out = []
    for ino, (name, mode, data, rmaj, rmin) in enumerate(
            [*entries, ("TRAILER!!!", 0, b"", 0, 0)], start=1):
        bname = name.encode() + b"\0"
        nlink = 2 if (mode & 0o170000) == 0o040000 else 1
        if name == "TRAILER!!!":
            ino, nlink = 0, 1
        fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmaj, rmin,
                  len(bname), 0)
        hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
        out += [hdr, bname, _pad4(len(hdr) + len(bname)), data, _pad4(len(data))]
    return b"".join(out)


def build_initramfs(outdir, binary):
    with open(binary, "rb") as f:
        init = f.read()
    data = cpio_newc([
        ("dev", 0o040755, b"", 0, 0),
        ("dev/console", 0o020600, b"", 5, 1),  # char 5:1
        ("proc", 0o040755, b"", 0, 0),
        ("init", 0o100755, init, 0, 0),
    ])
    path = os.path.join(outdir, "initramfs.cpio")
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)
    return path


# ---- run ---------------------------------------------------------------

def check_done(serial, names, what, status, timed_out):
    """True when /init ran every benchmark named, none failed, and the
    machine powered off by itself (QEMU status 0) in time."""
    m = re.search(r"linuxbench: done benchmarks=(\d+) failed=(\d+)", serial)
    if timed_out:
        log(f"{what}: FAIL: timed out; serial output ends with:\n" + serial[-3000:])
        return False
    if not m:
        log(f"{what}: FAIL: /init did not finish; serial output ends with:\n"
            + serial[-3000:])
        return False
    if int(m.group(2)):
        log(f"{what}: FAIL: {m.group(2)} benchmark(s) failed:\n"
            + "\n".join(l for l in serial.splitlines() if "linuxbench:" in l))
        return False
    if int(m.group(1)) != len(names):
        log(f"{what}: FAIL: /init ran {m.group(1)} benchmarks, {len(names)} asked for")
        return False
    got = [n for n, _, _ in bench.parse_benchregions(serial)]
    if got != names:
        log(f"{what}: FAIL: regions {got}, expected {names}")
        return False
    if status != 0:
        log(f"{what}: FAIL: QEMU status {status}, expected 0 (power off)")
        return False
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", help="run the benchmarks whose name matches "
                    "this regular expression (re.search)")
    ap.add_argument("--calibrate", action="store_true",
                    help="also run getpid (one system call, for comparison)")
    ap.add_argument("--mem", default="512M")
    ap.add_argument("--timeout", type=float, default=1200)
    ap.add_argument("--append-extra", default="",
                    help="more kernel command line words (e.g. nokaslr)")
    ap.add_argument("--wall-runs", type=int, default=3,
                    help="plain boots; the fastest run of each region counts")
    ap.add_argument("--no-wall", action="store_true",
                    help="skip the plain (wall time) boot")
    args = ap.parse_args(argv)

    names = BENCHMARKS + (CALIBRATION if args.calibrate else [])
    if args.only:
        rx = re.compile(args.only)
        names = [n for n in BENCHMARKS + CALIBRATION if rx.search(n)]
        if not names:
            log(f"--only {args.only!r} matches none of "
                + " ".join(BENCHMARKS + CALIBRATION))
            return 2
    if not ensure_packages():
        return 2
    kernel = find_kernel()
    outdir = os.path.join(args.build, "linux-bench")
    os.makedirs(outdir, exist_ok=True)
    binary = build_binary(outdir)
    initrd = build_initramfs(outdir, binary)
    append = f"{APPEND} {args.append_extra} lbench={','.join(names)}".replace("  ", " ")
    log(f"kernel {kernel}, append \"{append}\"")

    t_start = time.monotonic()
    try:
        counted = bench.run_bench(kernel, initrd, append, smp=1, mem=args.mem,
                                  timeout=args.timeout)
    except (qemu.BootError, bench.BenchError) as e:
        log(str(e))
        return 2
    serial = counted.serial
    with open(os.path.join(outdir, "counted.log"), "w", encoding="utf-8") as f:
        f.write(serial)
    log(f"counted boot: {counted.wall:.1f}s, status={counted.status}, "
        f"timed_out={counted.timed_out}, regions={len(counted.counts)}")
    ok = check_done(serial, names, "counted boot", counted.status, counted.timed_out)
    regions = bench.pair_regions(serial, counted.counts)
    if len(regions) != len(bench.parse_benchregions(serial)) or \
            len(regions) != len(counted.counts):
        log(f"counted boot: {len(counted.counts)} counted regions but "
            f"{len(bench.parse_benchregions(serial))} BENCHREGION lines")
        return 1

    wall = {}
    if not args.no_wall:
        plains = []
        for run in range(max(args.wall_runs, 1)):
            t1 = time.monotonic()
            try:
                status, plain, timed_out = qemu.boot(
                    kernel, initrd=initrd, smp=1, mem=args.mem, append=append,
                    timeout=args.timeout)
            except qemu.BootError as e:
                log(str(e))
                return 2
            with open(os.path.join(outdir, f"wall{run}.log"), "w", encoding="utf-8") as f:
                f.write(plain)
            log(f"wall boot {run}: {time.monotonic() - t1:.1f}s, status={status}, "
                f"timed_out={timed_out}")
            ok = check_done(plain, names, "wall boot", status, timed_out) and ok
            plains.append(plain)
        wall = bench.fastest_walls(plains)

    for r in regions:
        parts = [f"BENCH name={r['name']}", "os=linux", f"iters={r['iters']}",
                 f"insns_per_op={num(r['insns_per_op'])}"]
        iters_w, kv_w = wall.get(r["name"], (None, {}))
        if iters_w and "ns" in kv_w:
            parts.append(f"wall_ns_per_op={num(float(kv_w['ns']) / iters_w)}")
        extra = dict(r["extra"])
        if "server_syscalls" in extra:
            parts.append("server_syscalls_per_op="
                         f"{float(extra.pop('server_syscalls')) / r['iters']:.4f}")
        print(" ".join(parts), flush=True)
    log(f"total {time.monotonic() - t_start:.1f}s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
