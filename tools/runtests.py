#!/usr/bin/env python3
"""Test driver behind `make test`.

    python3 tools/runtests.py --build build [--only host|kernel|user|fault|iso]...
                              [--smp 1,4]

Runs, in order, counting each result as one test:
  host    every build/host/test_* program (Check, CK_VERBOSE=verbose): one
          test per Check test; a program that exits non-zero without
          reporting a failure counts as one failure host/<program>.
  kernel  for each SMP count: boot build/rill.bin + build/initrd.cpio with
          "ktest=all log=info"; each "ktest: PASS <name>" /
          "ktest: FAIL <name>: <reason>" line is a test kernel/smp<N>/<name>,
          and kernel/smp<N>/boot fails on timeout, on a missing
          "ktest: done" line, or on a QEMU status other than 1 (all passed)
          or 3 (some failed).
  user    for each SMP count: boot with "test log=info"; init runs every
          tests/* program of the initrd; each "utest: PASS|FAIL <prog>/<name>"
          line is a test user/smp<N>/<prog>/<name>, and user/smp<N>/boot
          needs "utest: done" and QEMU status 1 (or 3 when some failed).
  fault   for each case in FAULT_CASES (page fault, kernel stack overflow,
          explicit panic): boot with "ktest.fault=<kind> log=info"; passes
          on a panic (status 5) whose message matches and whose backtrace
          names the expected function.
  iso     if build/rill.iso exists: boot it (-smp 2) until
          "rill: boot complete" is printed.
Serial logs go to build/logs/. The last line printed is "N passed, M failed";
the exit status is 0 iff M == 0.
"""
import argparse
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # keep tools/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402

KERNEL_APPEND = "ktest=all log=info"
KERNEL_TIMEOUT = 300
USER_APPEND = "test log=info"
USER_TIMEOUT = 600
FAULT_TIMEOUT = 120
ISO_TIMEOUT = 300
ISO_SMP = 2
HOST_TIMEOUT = 600

CHECK_LINE = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<res>[PFE]):(?P<tcase>[^:\n]*):"
    r"(?P<test>[^:\n]+):(?P<iter>\d+):\s?(?P<msg>.*)$")
CHECK_SUMMARY = re.compile(
    r"\d+%: Checks: (?P<n>\d+), Failures: (?P<f>\d+), Errors: (?P<e>\d+)")
KTEST_RESULT = re.compile(r"ktest: (?P<res>PASS|FAIL) (?P<rest>.*)$")
KTEST_DONE = re.compile(r"ktest: done passed=(?P<p>\d+) failed=(?P<f>\d+)")
FRAME = re.compile(
    r"\[<0xffffffff8[0-9a-f]+>\] (?P<sym>[A-Za-z_][A-Za-z0-9_.]*)\+0x[0-9a-f]+")
BOOT_COMPLETE = r"rill: boot complete"


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, name):
        self.passed += 1
        out(f"PASS {name}")

    def fail(self, name, why=""):
        self.failed += 1
        out(f"FAIL {name}" + (f": {why}" if why else ""))


def out(s=""):
    print(s, flush=True)


def tail(text, n):
    lines = text.splitlines()
    for line in lines[-n:]:
        out(f"    | {line}")


def save_log(build, name, text):
    d = os.path.join(build, "logs")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name)
    with open(path, "w", encoding="utf-8", errors="replace") as f:
        f.write(text)
    return path


def lines_of(text):
    return [l.rstrip("\r") for l in text.split("\n")]


# --- host unit tests --------------------------------------------------------

def run_host(build, res):
    hostdir = os.path.join(build, "host")
    progs = []
    if os.path.isdir(hostdir):
        for name in sorted(os.listdir(hostdir)):
            path = os.path.join(hostdir, name)
            if (name.startswith("test_") and os.path.isfile(path)
                    and os.access(path, os.X_OK)):
                progs.append(name)
    if not progs:
        out(f"host: no test programs in {hostdir}")
        return
    # CK_VERBOSITY is what Check's CK_ENV print mode reads; CK_VERBOSE is
    # kept as well for programs that look at it themselves.
    env = dict(os.environ, CK_VERBOSITY="verbose", CK_VERBOSE="verbose",
               CK_DEFAULT_TIMEOUT="60")
    for name in progs:
        path = os.path.join(hostdir, name)
        try:
            p = subprocess.run([os.path.abspath(path)], env=env,
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=HOST_TIMEOUT, start_new_session=True)
            text = p.stdout.decode("utf-8", errors="replace")
            rc = p.returncode
        except subprocess.TimeoutExpired as e:
            text = (e.stdout or b"").decode("utf-8", errors="replace")
            text += f"\n[runtests: killed after {HOST_TIMEOUT} s]\n"
            rc = None
        except OSError as e:
            res.fail(f"host/{name}", f"cannot run: {e}")
            continue
        reported_failure = False
        listed_passes = 0
        summary_passes = 0
        for line in lines_of(text):
            m = CHECK_SUMMARY.search(line)
            if m:
                summary_passes += int(m["n"]) - int(m["f"]) - int(m["e"])
                continue
            m = CHECK_LINE.match(line)
            if not m:
                continue
            test = m["test"]
            if m["iter"] != "0":
                test += f"[{m['iter']}]"
            tname = f"host/{name}/{test}"
            if m["res"] == "P":
                listed_passes += 1
                res.ok(tname)
            else:
                reported_failure = True
                res.fail(tname)
                out(f"    {m['file']}:{m['line']}: {m['msg']}")
        unlisted = summary_passes - listed_passes
        if unlisted > 0:
            # The program did not use CK_ENV (srunner_run_all(sr, CK_ENV)),
            # so Check printed no line for its passing tests.
            out(f"note: host/{name}: {unlisted} passing test(s) not listed "
                f"by name; run the suite with srunner_run_all(sr, CK_ENV)")
            for k in range(1, unlisted + 1):
                res.ok(f"host/{name}/unnamed-pass-{k}")
        if rc != 0 and not reported_failure:
            why = "timed out" if rc is None else f"exit status {rc}"
            res.fail(f"host/{name}", f"{why} without a Check failure")
            tail(text, 40)
    run_fuzz_smoke(hostdir, res)


FUZZ_RESULT = re.compile(r"^(?P<res>PASS|FAIL) (?P<name>fuzz-\S+)(?P<rest>.*)$")


def run_fuzz_smoke(hostdir, res):
    """Each build/host/fuzz_*_smoke program: a fixed-seed run of a fuzz
    target; one test, passing on a PASS line and exit status 0."""
    for name in sorted(os.listdir(hostdir)):
        if not (name.startswith("fuzz_") and name.endswith("_smoke")):
            continue
        path = os.path.abspath(os.path.join(hostdir, name))
        try:
            p = subprocess.run([path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=HOST_TIMEOUT,
                               start_new_session=True)
            text, rc = p.stdout.decode("utf-8", errors="replace"), p.returncode
        except subprocess.TimeoutExpired:
            res.fail(f"host/{name}", f"killed after {HOST_TIMEOUT} s")
            continue
        m = None
        for line in lines_of(text):
            m = FUZZ_RESULT.match(line) or m
        if m and m["res"] == "PASS" and rc == 0:
            res.ok(f"host/{m['name']}{m['rest']}")
        else:
            res.fail(f"host/{name}", f"exit status {rc}")
            tail(text, 20)


# --- in-kernel tests ----------------------------------------------------------

def kernel_images(build):
    return (os.path.join(build, "rill.bin"), os.path.join(build, "initrd.cpio"))


def run_booted_suite(build, smp, res, layer, append, timeout, result_re, done_re,
                     done_word):
    """Boot once and count each PASS/FAIL line of result_re as a test
    <layer>/smp<N>/<name>; <layer>/smp<N>/boot needs the done_re line and
    QEMU status 1 (all passed) or 3 (some failed). Returns the (passed,
    failed) counts seen and the done line's two numbers."""
    prefix = f"{layer}/smp{smp}"
    kernel, initrd = kernel_images(build)
    try:
        status, text, timed_out = qemu.boot(kernel, initrd=initrd, smp=smp,
                                            append=append, timeout=timeout)
    except qemu.BootError as e:
        res.fail(f"{prefix}/boot", f"{e} (build it with `make`)")
        return None
    save_log(build, f"{layer}-smp{smp}.log", text)

    passed = failed = 0
    done = None
    for line in lines_of(text):
        m = result_re.search(line)
        if m:
            if m["res"] == "PASS":
                passed += 1
                res.ok(f"{prefix}/{m['rest'].strip()}")
            else:
                failed += 1
                name, _, reason = m["rest"].partition(": ")
                res.fail(f"{prefix}/{name.strip()}", reason.strip())
            continue
        m = done_re.search(line)
        if m and done is None:
            done = (int(m["p"]), int(m["f"]))

    problem = None
    if timed_out:
        problem = f"timed out after {timeout} s"
    elif done is None:
        problem = f"no '{done_word}' line (QEMU status {status})"
    else:
        some_failed = failed > 0 or done[1] > 0
        want = qemu.EXIT_TESTS_FAILED if some_failed else qemu.EXIT_TESTS_PASSED
        if status != want:
            problem = (f"QEMU status {status}, expected {want} "
                       f"({'some tests failed' if some_failed else 'all tests passed'})")
    if problem:
        res.fail(f"{prefix}/boot", problem)
    else:
        res.ok(f"{prefix}/boot")
    if problem or failed:
        out(f"--- last 60 lines of serial output ({prefix}) ---")
        tail(text, 60)
    return (passed, failed), done


def run_kernel(build, smp, res):
    r = run_booted_suite(build, smp, res, "kernel", KERNEL_APPEND, KERNEL_TIMEOUT,
                         KTEST_RESULT, KTEST_DONE, "ktest: done")
    if r and r[1] and r[1] != r[0]:
        out(f"note: kernel/smp{smp}: kernel reported passed={r[1][0]} "
            f"failed={r[1][1]}, serial log shows passed={r[0][0]} failed={r[0][1]}")


# --- in-OS user-space tests ---------------------------------------------------

UTEST_RESULT = re.compile(r"utest: (?P<res>PASS|FAIL) (?P<rest>.*)$")
UTEST_DONE = re.compile(r"utest: done programs=(?P<p>\d+) failed=(?P<f>\d+)")


def run_user(build, smp, res):
    """Boot with "test": init runs every tests/* program of the initrd."""
    run_booted_suite(build, smp, res, "user", USER_APPEND, USER_TIMEOUT,
                     UTEST_RESULT, UTEST_DONE, "utest: done")


# --- expected fault -----------------------------------------------------------

def backtraces(text):
    """Symbol lists of every 'backtrace:' block in the output."""
    blocks = []
    lines = lines_of(text)
    for i, line in enumerate(lines):
        if "backtrace:" not in line:
            continue
        syms = []
        for l in lines[i + 1:]:
            m = FRAME.search(l)
            if m:
                syms.append(m["sym"])
            elif l.strip():
                break
        blocks.append(syms)
    return blocks


# (test name, kind passed as ktest.fault=, regex the panic message must
# match, function the backtrace must name)
FAULT_CASES = [
    ("kernel/fault-backtrace", "pagefault", r"PANIC on cpu\d+: page fault at ",
     "ktest_fault_trigger"),
    ("kernel/fault-stack-overflow", "stackoverflow",
     r"PANIC on cpu\d+: kernel stack overflow", "recurse"),
    ("kernel/fault-panic", "panic", r"PANIC on cpu\d+: deliberate panic",
     "ktest_fault_trigger"),
]


def run_fault_case(build, res, name, kind, message, symbol):
    kernel, initrd = kernel_images(build)
    append = f"ktest.fault={kind} log=info"
    try:
        status, text, timed_out = qemu.boot(kernel, initrd=initrd, smp=1,
                                            append=append,
                                            timeout=FAULT_TIMEOUT)
    except qemu.BootError as e:
        res.fail(name, f"{e} (build it with `make`)")
        return
    save_log(build, f"fault-{kind}.log", text)
    blocks = backtraces(text)
    problem = None
    if timed_out:
        problem = f"timed out after {FAULT_TIMEOUT} s"
    elif status != qemu.EXIT_PANIC:
        problem = f"QEMU status {status}, expected {qemu.EXIT_PANIC} (panic)"
    elif not re.search(message, text):
        problem = f"no panic message matching {message!r}"
    elif not any(blocks):
        problem = "no 'backtrace:' followed by '[<0xffffffff8...>] sym+0x...' frames"
    elif not any(s == symbol or s.startswith(symbol + ".")  # gcc clones: f.isra.0
                 for b in blocks for s in b):
        problem = f"backtrace does not name {symbol}"
    if problem:
        res.fail(name, problem)
        out(f"--- last 60 lines of serial output ({name}) ---")
        tail(text, 60)
    else:
        res.ok(name)


def run_fault(build, res):
    for case in FAULT_CASES:
        run_fault_case(build, res, *case)


# --- ISO ----------------------------------------------------------------------

def run_iso(build, res):
    name = "iso/boot"
    iso = os.path.join(build, "rill.iso")
    if not os.path.isfile(iso):
        out(f"SKIP {name}: {iso} not found (make iso)")
        return
    try:
        status, text, timed_out = qemu.boot(None, cdrom=iso, smp=ISO_SMP,
                                            timeout=ISO_TIMEOUT,
                                            until=BOOT_COMPLETE)
    except qemu.BootError as e:
        res.fail(name, str(e))
        return
    save_log(build, "iso.log", text)
    if re.search(BOOT_COMPLETE, text):
        res.ok(name)
        return
    if timed_out:
        why = f"no 'rill: boot complete' within {ISO_TIMEOUT} s"
    else:
        why = f"QEMU exited with status {status} before 'rill: boot complete'"
    res.fail(name, why)
    out("--- last 60 lines of serial output (iso) ---")
    tail(text, 60)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run Rill's tests.")
    ap.add_argument("--build", default="build", help="build directory")
    ap.add_argument("--only", action="append",
                    choices=["host", "kernel", "user", "fault", "iso"],
                    help="run only this part (repeatable)")
    ap.add_argument("--smp", default="1,4",
                    help="comma-separated CPU counts for the kernel tests")
    args = ap.parse_args(argv)
    try:
        smps = [int(s) for s in args.smp.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--smp: bad list {args.smp!r}")
    parts = args.only or ["host", "kernel", "user", "fault", "iso"]

    res = Results()
    steps = []
    if "host" in parts:
        steps.append(("host", lambda: run_host(args.build, res)))
    if "kernel" in parts:
        for n in smps:
            steps.append((f"kernel/smp{n}",
                          lambda n=n: run_kernel(args.build, n, res)))
    if "user" in parts:
        for n in smps:
            steps.append((f"user/smp{n}",
                          lambda n=n: run_user(args.build, n, res)))
    if "fault" in parts:
        steps.append(("fault", lambda: run_fault(args.build, res)))
    if "iso" in parts:
        steps.append(("iso", lambda: run_iso(args.build, res)))
    for label, step in steps:
        try:
            step()
        except Exception as e:  # a driver bug must not hide the summary
            res.fail(label, f"runtests error: {type(e).__name__}: {e}")
    sys.stderr.flush()
    out(f"{res.passed} passed, {res.failed} failed")
    return 0 if res.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
