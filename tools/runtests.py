#!/usr/bin/env python3
"""Test driver behind `make test`.

    python3 tools/runtests.py --build build
        [--only layers|host|selftest|kernel|user|fault|iso]... [--smp 1,4]
        [--require-iso]

Every result is one line, `PASS <name>`, `FAIL <name>: <why>` or
`SKIP <name>: <reason>`; the last line is "N passed, M failed, K skipped"
and the exit status is 0 iff M == 0. A skip is never counted as a pass.

Nothing a layer prints is taken on trust: the runner knows what it must
see (the test programs from the sources and the initrd, the kernel's tests
from its symbol table) and checks every count a layer reports against the
lines it saw.

  layers    tools/layers.py on the kernel's sources (docs/kernel.md,
            "Layers"): one test, `layers`, failing with every file:line that
            includes a header of a higher layer, a header without a layer,
            a stale exception, x86 register access (inline asm, rdmsr/
            wrmsr, read_crN/write_crN, MSR_*) in portable code, or when it
            found no source to check.
  host      each tests/host/test_<x>.c must have its program build/host/
            test_<x> (Check, CK_VERBOSITY=verbose, in an environment built
            from scratch: a caller's CK_RUN_SUITE & co. cannot select or
            weaken tests); one test per Check test. A program that is not
            built, reports no test, prints no Check summary, lists fewer
            results than its summary counts, or exits non-zero without a
            failure (or zero with one) fails. A test that printed
            `host: SKIP <test>: <reason>` (HOST_SKIP in support.h) is a skip.
            Then each tests/fuzz/fuzz_<x>.c's fixed-seed smoke program.
  selftest  the runner's own self-test (below).
  kernel    for each SMP count: boot "ktest=all log=info". Each "ktest:
            PASS|FAIL|SKIP <name>" line is a test kernel/smp<N>/<name>. The
            tests expected are the kernel image's KTEST symbols (nm), less
            the self-test fixtures; kernel/smp<N>/boot fails on a timeout,
            on a QEMU status other than 1 (none failed) or 3 (some failed)
            as the results require, on a missing "ktest: registered=" or
            "ktest: done" line, or when registered=, selected=, passed=,
            failed= or skipped= disagree with the image and the lines seen;
            an expected test without a result line fails by its name.
  user      for each SMP count: boot "test log=info"; init runs every
            tests/* program of the initrd (the runner reads the list from
            build/initrd.cpio). Per program: "utest: start <prog>", result
            lines "utest: PASS|FAIL|SKIP <prog>/<name>" (tests
            user/smp<N>/<prog>/<name>), "utest: end <prog> passed= failed=
            skipped=" which must match those lines, and init's
            "utest: FAIL <prog>/start|exit" for a program that could not
            start or ended with a non-zero status (any status but 0 fails,
            and it must equal the number of failed tests). A program never
            started, or without its end line (it stopped early), fails.
            user/smp<N>/boot needs "utest: done programs=N failed=M" with
            N and M equal to what the runner counted, and QEMU status 1
            (3 when a program failed). Then each program of ICOUNT_PROGRAMS
            alone ("test log=info only=<prog>", checked the same way for
            that one program) in a -smp 1 boot under -icount shift=0:
            user-icount-<prog>/smp1/...
  fault     for each case in FAULT_CASES (page fault, kernel stack
            overflow, explicit panic): boot with "ktest.fault=<kind>";
            passes on a panic (status 5) whose message matches and whose
            backtrace names the expected function.
  iso       boot build/rill.iso (-smp 2) until "rill: boot complete". A
            missing ISO is a SKIP, or a FAIL with --require-iso (make test
            builds the ISO first, so there a missing one is a broken build).

The self-test proves that the checks above can fail. It runs the same
parsers on fixtures that exist only for it, each into a private tally, and
checks that each deliberate failure is counted as one and makes the exit
status non-zero, that skips are counted as skips, and that missing things
are noticed:
  selftest/host     tests/selftest/*.c built into build/host-selftest/ (a
                    test that passes, one that fails, one that skips, a
                    program with no test) plus a program that was never
                    built, run with CK_RUN_SUITE=nosuch in the runner's own
                    environment (which must not reach the programs);
  selftest/kernel   one short boot with ktest=selftest_pass,selftest_fail,
                    selftest_skip,selftest_liar (kernel/tests/test_selftest.c;
                    "ktest=all" never runs them; the liar prints a result line
                    for a test that does not exist), expecting one more test
                    that is never reported;
  selftest/user     one short boot with "test selftest": init runs
                    tests-selftest/* (user/tests-selftest/*.c: passing,
                    failing and skipping tests; a program that ends itself
                    with status 1 half-way; one that prints a result line
                    its end line does not count; a file that is not a
                    program),
                    expecting one more program that is not in the initrd;
  selftest/layers   tools/layers.py on tests/selftest/layers/ (without
                    the exception list): must fail, naming the fixture's
                    violations (an upward include, wrmsr and an MSR_*
                    constant in core/) and nothing else;
  selftest/bench    tools/runbench.py on bench-selftest/* (a bench program
                    that fails), wall-time boot only: must exit non-zero.
Each check is a PASS/FAIL line of its own (selftest/<part>/<what>).

Serial logs go to build/logs/.
"""
import argparse
import contextlib
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # keep tools/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

KERNEL_TIMEOUT = 300
USER_TIMEOUT = 600
# In-OS test programs run a second time, alone (init's only=), in a boot
# under -icount: tests/trapreturn (interrupts at trap_return's iretq).
ICOUNT_PROGRAMS = ["trapreturn"]
ICOUNT_ARGS = ["-icount", "shift=0,sleep=off"]
SELFTEST_TIMEOUT = 120
FAULT_TIMEOUT = 120
ISO_TIMEOUT = 300
ISO_SMP = 2
HOST_TIMEOUT = 600

CHECK_LINE = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<res>[PFE]):(?P<tcase>[^:\n]*):"
    r"(?P<test>[^:\n]+):(?P<iter>\d+):\s?(?P<msg>.*)$")
CHECK_SUMMARY = re.compile(
    r"\d+%: Checks: (?P<n>\d+), Failures: (?P<f>\d+), Errors: (?P<e>\d+)")
HOST_SKIP = re.compile(r"^host: SKIP (?P<test>\S+): (?P<why>.*)$")
FRAME = re.compile(
    r"\[<0xffffffff8[0-9a-f]+>\] (?P<sym>[A-Za-z_][A-Za-z0-9_.]*)\+0x[0-9a-f]+")
BOOT_COMPLETE = r"rill: boot complete"


def out(s=""):
    print(s, flush=True)


class Results:
    """The tally: every result is one printed line and one count."""

    def __init__(self, echo=out):
        self.passed = self.failed = self.skipped = 0
        self.entries = []	# (PASS|FAIL|SKIP, name, why)
        self.echo = echo

    def ok(self, name):
        self.passed += 1
        self.entries.append(("PASS", name, ""))
        self.echo(f"PASS {name}")

    def fail(self, name, why=""):
        self.failed += 1
        self.entries.append(("FAIL", name, why))
        self.echo(f"FAIL {name}" + (f": {why}" if why else ""))

    def skip(self, name, why):
        self.skipped += 1
        self.entries.append(("SKIP", name, why))
        self.echo(f"SKIP {name}: {why}")

    def note(self, s):
        self.echo(s)

    def tail(self, text, n):
        for line in text.splitlines()[-n:]:
            self.echo(f"    | {line}")

    def summary(self):
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"

    def exit_status(self):
        return 0 if self.failed == 0 else 1


def save_log(build, name, text):
    d = os.path.join(build, "logs")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name)
    with open(path, "w", encoding="utf-8", errors="replace") as f:
        f.write(text)
    return path


def lines_of(text):
    return [l.rstrip("\r") for l in text.split("\n")]


def sources(subdir, prefix, suffix=".c"):
    """Names (without suffix) of ROOT/subdir/<prefix>*<suffix>, sorted."""
    d = os.path.join(ROOT, subdir)
    if not os.path.isdir(d):
        return []
    return sorted(n[:-len(suffix)] for n in os.listdir(d)
                  if n.startswith(prefix) and n.endswith(suffix))


# --- host unit tests --------------------------------------------------------

def host_env():
    """The host programs' whole environment, built from scratch: a caller's
    CK_RUN_SUITE, CK_RUN_CASE, CK_FORK, CK_EXCLUDE_TAGS, ASAN_OPTIONS... would
    select or weaken tests while the run still passed."""
    return {"PATH": os.environ.get("PATH") or os.defpath, "LC_ALL": "C",
            "CK_VERBOSITY": "verbose", "CK_DEFAULT_TIMEOUT": "60"}


def run_program(path, timeout):
    """(text, returncode or None on timeout); raises OSError."""
    try:
        p = subprocess.run([os.path.abspath(path)], env=host_env(),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout,
                           start_new_session=True)
        return p.stdout.decode("utf-8", errors="replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"").decode("utf-8", errors="replace")
        return text + f"\n[runtests: killed after {timeout} s]\n", None


def run_check_program(path, name, res):
    """One Check program: one result per Check test, and the checks that
    the program reported what it ran."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        res.fail(f"host/{name}", f"{path} is not built (make host-tests)")
        return
    try:
        text, rc = run_program(path, HOST_TIMEOUT)
    except OSError as e:
        res.fail(f"host/{name}", f"cannot run: {e}")
        return
    skips = {}
    for line in lines_of(text):
        m = HOST_SKIP.match(line)
        if m:
            skips[m["test"]] = m["why"]
    reported_failure = False
    listed = 0
    summary = None
    seen = set()
    for line in lines_of(text):
        m = CHECK_SUMMARY.search(line)
        if m:
            summary = (summary or 0) + int(m["n"])
            continue
        m = CHECK_LINE.match(line)
        if not m:
            continue
        listed += 1
        test = m["test"]
        seen.add(test)
        if m["iter"] != "0":
            test += f"[{m['iter']}]"
        tname = f"host/{name}/{test}"
        if m["res"] != "P":
            reported_failure = True
            res.fail(tname, f"{m['file']}:{m['line']}: {m['msg']}")
        elif m["test"] in skips:
            res.skip(tname, skips[m["test"]])
        else:
            res.ok(tname)
    for test in sorted(set(skips) - seen):
        res.fail(f"host/{name}/{test}", "a SKIP line for a test Check did not report")
    problem = None
    if summary is None:
        problem = "no Check summary line (did it crash before srunner_run_all?)"
    elif summary == 0:
        problem = "reported no tests"
    elif listed != summary:
        problem = (f"Check counted {summary} tests but printed {listed} result lines "
                   f"(use srunner_run_all(sr, CK_ENV))")
    elif rc != 0 and not reported_failure:
        problem = ("timed out" if rc is None else f"exit status {rc}") + \
            " without a Check failure"
    elif rc == 0 and reported_failure:
        problem = "exit status 0 although a test failed"
    if problem:
        res.fail(f"host/{name}", problem)
        res.tail(text, 40)


FUZZ_RESULT = re.compile(r"^(?P<res>PASS|FAIL) (?P<name>fuzz-\S+)(?P<rest>.*)$")


def run_fuzz_smoke(path, name, res):
    """A fixed-seed run of a fuzz target: one test, passing on a PASS line
    and exit status 0."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        res.fail(f"host/{name}", f"{path} is not built (make host-tests)")
        return
    try:
        text, rc = run_program(path, HOST_TIMEOUT)
    except OSError as e:
        res.fail(f"host/{name}", f"cannot run: {e}")
        return
    m = None
    for line in lines_of(text):
        m = FUZZ_RESULT.match(line) or m
    if m and m["res"] == "PASS" and rc == 0:
        res.ok(f"host/{m['name']}{m['rest']}")
    else:
        res.fail(f"host/{name}", "timed out" if rc is None else f"exit status {rc}")
        res.tail(text, 20)


def run_host(build, res, srcdir="tests/host", outdir="host", fuzz=True, extra=()):
    """Every program the sources promise (plus extra names) must be built
    and report its tests."""
    hostdir = os.path.join(build, outdir)
    progs = sources(srcdir, "test_") + list(extra)
    if not progs:
        res.fail("host", f"no {srcdir}/test_*.c")
    for name in progs:
        run_check_program(os.path.join(hostdir, name), name, res)
    if fuzz:
        for src in sources("tests/fuzz", "fuzz_"):
            name = f"{src}_smoke"
            run_fuzz_smoke(os.path.join(hostdir, name), name, res)


# --- layers -------------------------------------------------------------------

def run_layers(res, root=ROOT, exceptions=None, name="layers"):
    """tools/layers.py's check of a tree: one PASS or FAIL line. A check
    that cannot run (no module, no source found) fails."""
    import layers
    n, problems = layers.check(root, exceptions)
    if n == 0:
        res.fail(name, f"no kernel source under {root}: nothing was checked")
    elif problems:
        res.fail(name, f"{len(problems)} problem(s): " + "; ".join(problems))
    else:
        res.ok(name)


# --- booted suites: shared checks ---------------------------------------------

def kernel_images(build):
    return (os.path.join(build, "rill.bin"), os.path.join(build, "initrd.cpio"))


def boot(build, res, prefix, logname, smp, append, timeout, extra_args=(), serial_input=()):
    """(status, text, timed_out), or None after a FAIL <prefix>/boot."""
    kernel, initrd = kernel_images(build)
    try:
        status, text, timed_out = qemu.boot(kernel, initrd=initrd, smp=smp,
                                            append=append, timeout=timeout,
                                            extra_args=extra_args,
                                            serial_input=serial_input)
    except qemu.BootError as e:
        res.fail(f"{prefix}/boot", f"{e} (build it with `make`)")
        return None
    save_log(build, logname, text)
    return status, text, timed_out


def result_name(res_word, rest):
    """(name, reason) of a PASS "<name> (N ms)" / FAIL|SKIP "<name>: why"."""
    if res_word == "PASS":
        return re.sub(r" \(\d+ ms\)$", "", rest.strip()), ""
    name, _, why = rest.partition(": ")
    return name.strip(), why.strip()


def boot_verdict(res, prefix, text, status, timed_out, timeout, any_failed, problems):
    """<prefix>/boot: the QEMU status the results require, and every count
    problem found."""
    want = qemu.EXIT_TESTS_FAILED if any_failed else qemu.EXIT_TESTS_PASSED
    if timed_out:
        problems.insert(0, f"timed out after {timeout} s")
    elif status != want:
        problems.insert(0, f"QEMU status {status}, expected {want} "
                        f"({'some failed' if any_failed else 'none failed'})")
    if problems:
        res.fail(f"{prefix}/boot", "; ".join(problems))
    else:
        res.ok(f"{prefix}/boot")
    if problems or any_failed:
        res.note(f"--- last 60 lines of serial output ({prefix}) ---")
        res.tail(text, 60)


# --- in-kernel tests ----------------------------------------------------------

KTEST_RESULT = re.compile(r"ktest: (?P<res>PASS|FAIL|SKIP) (?P<rest>.*)$")
KTEST_HEAD = re.compile(r"ktest: registered=(?P<r>\d+) selected=(?P<s>\d+)")
KTEST_DONE = re.compile(
    r"ktest: done passed=(?P<p>\d+) failed=(?P<f>\d+) skipped=(?P<k>\d+)")
SELFTEST_PREFIX = "selftest_"


def ktest_names(build):
    """The names of every KTEST in the kernel image (its ktest_def_<name>
    symbols), or None when nm cannot read it."""
    elf = os.path.join(build, "kernel.elf")
    try:
        r = subprocess.run(["nm", elf], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    except OSError:
        return None
    if r.returncode != 0:
        return None
    return sorted(set(re.findall(r"^\S+ [rRdD] ktest_def_(\w+)$", r.stdout, re.M)))


def run_kernel(build, smp, res, which="all", label="kernel", extra=(),
               timeout=KERNEL_TIMEOUT):
    """Boot with ktest=<which>: each result line is a test; the tests
    expected (plus extra names) must each report once, and the kernel's
    counts must match."""
    prefix = f"{label}/smp{smp}"
    names = ktest_names(build)
    if names is None:
        res.fail(f"{prefix}/boot", f"cannot list the tests of {build}/kernel.elf (nm)")
        return
    if which == "all":
        expected = [n for n in names if not n.startswith(SELFTEST_PREFIX)]
    else:
        expected = which.split(",")
    expected += list(extra)
    b = boot(build, res, prefix, f"{label}-smp{smp}.log", smp,
             f"ktest={which} log=info", timeout)
    if b is None:
        return
    status, text, timed_out = b
    seen = {}
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    head = done = None
    for line in lines_of(text):
        m = KTEST_RESULT.search(line)
        if m:
            name, why = result_name(m["res"], m["rest"])
            counts[m["res"]] += 1
            seen[name] = seen.get(name, 0) + 1
            if m["res"] == "PASS":
                res.ok(f"{prefix}/{name}")
            elif m["res"] == "SKIP":
                res.skip(f"{prefix}/{name}", why)
            else:
                res.fail(f"{prefix}/{name}", why)
            continue
        m = KTEST_HEAD.search(line)
        if m and head is None:
            head = (int(m["r"]), int(m["s"]))
            continue
        m = KTEST_DONE.search(line)
        if m and done is None:
            done = (int(m["p"]), int(m["f"]), int(m["k"]))
    for name in expected:
        if name not in seen:
            res.fail(f"{prefix}/{name}", "no result line (never ran, or the kernel "
                     "stopped before it)")
    for name, n in sorted(seen.items()):
        if name not in expected:
            res.fail(f"{prefix}/{name}", "reported but not expected")
        elif n > 1:
            res.fail(f"{prefix}/{name}", f"reported {n} times")
    problems = []
    if head is None:
        problems.append("no 'ktest: registered=' line")
    else:
        if head[0] != len(names):
            problems.append(f"kernel says registered={head[0]}, the image holds "
                            f"{len(names)} tests")
        if head[1] != len(expected):
            problems.append(f"kernel says selected={head[1]}, {len(expected)} expected")
    seen_counts = (counts["PASS"], counts["FAIL"], counts["SKIP"])
    if done is None:
        problems.append("no 'ktest: done' line")
    elif done != seen_counts:
        problems.append("kernel says passed=%d failed=%d skipped=%d" % done +
                        ", the log shows passed=%d failed=%d skipped=%d" % seen_counts)
    any_failed = counts["FAIL"] > 0 or (done is not None and done[1] > 0)
    boot_verdict(res, prefix, text, status, timed_out, timeout, any_failed, problems)


# --- in-OS user-space tests ---------------------------------------------------

UTEST_RESULT = re.compile(r"utest: (?P<res>PASS|FAIL|SKIP) (?P<prog>[^/\s]+)/(?P<rest>.*)$")
UTEST_START = re.compile(r"utest: start (?P<prog>\S+)\s*$")
UTEST_END = re.compile(r"utest: end (?P<prog>\S+) passed=(?P<p>\d+) failed=(?P<f>\d+) "
                       r"skipped=(?P<k>\d+)")
UTEST_DONE = re.compile(r"utest: done programs=(?P<n>\d+) failed=(?P<f>\d+)")
INIT_START_FAIL = re.compile(r"^cannot start")
INIT_EXIT_FAIL = re.compile(r"^status (?P<s>-?\d+)$")


def cpio_entries(path):
    """[(name, mode)] of a cpio newc archive, in archive order."""
    with open(path, "rb") as f:
        data = f.read()
    off, entries = 0, []
    while off + 110 <= len(data):
        hdr = data[off:off + 110]
        if hdr[:6] != b"070701":
            raise ValueError(f"{path}: bad cpio header at {off}")
        mode, size, nsize = (int(hdr[14:22], 16), int(hdr[54:62], 16),
                             int(hdr[94:102], 16))
        name = data[off + 110:off + 110 + nsize - 1].decode("utf-8", "replace")
        off = (off + 110 + nsize + 3) & ~3
        off = (off + size + 3) & ~3
        if name == "TRAILER!!!":
            break
        entries.append((name, mode))
    return entries


def initrd_programs(build, d):
    """The regular files under d/ in the initrd: what init will run."""
    initrd = os.path.join(build, "initrd.cpio")
    return [n[len(d) + 1:] for n, mode in cpio_entries(initrd)
            if n.startswith(d + "/") and len(n) > len(d) + 1
            and (mode & 0o170000) == 0o100000]


class Prog:
    def __init__(self):
        self.starts = 0
        self.counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
        self.end = None
        self.start_failed = False
        self.exit_status = None


def run_user(build, smp, res, label="user", append="test log=info", d="tests",
             extra=(), timeout=USER_TIMEOUT, only=None, qemu_args=(), serial_input=()):
    """Boot with "test": init runs every <d>/* program of the initrd (with
    only=<prog>, that one: it must be in the initrd); each must start once,
    report its results and an end line that agrees with them, and init's
    counts must agree with the runner's."""
    prefix = f"{label}/smp{smp}"
    try:
        expected = initrd_programs(build, d) + list(extra)
        if only is not None:
            if only not in expected:
                res.fail(f"{prefix}/boot", f"{only} is not a {d}/ program of the initrd")
                return
            expected = [only]
            append = f"{append} only={only}"
    except (OSError, ValueError) as e:
        res.fail(f"{prefix}/boot", f"cannot list the initrd: {e}")
        return
    if not expected:
        res.fail(f"{prefix}/boot", f"no {d}/ program in the initrd")
        return
    b = boot(build, res, prefix, f"{label}-smp{smp}.log", smp, append, timeout,
             extra_args=qemu_args, serial_input=serial_input)
    if b is None:
        return
    status, text, timed_out = b
    if d == "tests-console":
        check_console_echo(res, prefix, text)
    progs = {}
    done = None
    for line in lines_of(text):
        m = UTEST_RESULT.search(line)
        if m:
            p = progs.setdefault(m["prog"], Prog())
            name, why = result_name(m["res"], m["rest"])
            tname = f"{prefix}/{m['prog']}/{name}"
            if m["res"] == "FAIL" and name == "start" and INIT_START_FAIL.match(why):
                p.start_failed = True
            elif m["res"] == "FAIL" and name == "exit" and INIT_EXIT_FAIL.match(why):
                p.exit_status = int(INIT_EXIT_FAIL.match(why)["s"])
            else:
                p.counts[m["res"]] += 1
            if m["res"] == "PASS":
                res.ok(tname)
            elif m["res"] == "SKIP":
                res.skip(tname, why)
            else:
                res.fail(tname, why)
            continue
        m = UTEST_START.search(line)
        if m:
            progs.setdefault(m["prog"], Prog()).starts += 1
            continue
        m = UTEST_END.search(line)
        if m:
            progs.setdefault(m["prog"], Prog()).end = (int(m["p"]), int(m["f"]), int(m["k"]))
            continue
        m = UTEST_DONE.search(line)
        if m and done is None:
            done = (int(m["n"]), int(m["f"]))
    for name in expected:
        check_program(res, prefix, name, progs.get(name, Prog()))
    for name in sorted(set(progs) - set(expected)):
        res.fail(f"{prefix}/{name}/start", "ran, but is not a program of the initrd's "
                 f"{d}/")
    failed_progs = sum(1 for p in progs.values()
                       if p.start_failed or p.exit_status is not None)
    problems = []
    if done is None:
        problems.append("no 'utest: done' line")
    else:
        if done[0] != len(expected):
            problems.append(f"init says programs={done[0]}, {len(expected)} expected")
        if done[1] != failed_progs:
            problems.append(f"init says failed={done[1]}, the log shows {failed_progs} "
                            "failed programs")
    any_failed = failed_progs > 0 or (done is not None and done[1] > 0)
    # tests/klog hands the serial line over and writes KLOG_HIDDEN while it
    # is (RL_KLOG_CONSOLE): that text must reach the log's ring only.
    # tests/chardev writes CHARDEV_MARKER through the driver it starts.
    if "chardev" in expected and "chardev" in progs:
        name = f"{prefix}/chardev/write_on_the_serial_line"
        if CHARDEV_MARKER not in text:
            res.fail(name, f"{CHARDEV_MARKER!r} written through the driver, not on the line")
            any_failed = True
        else:
            res.ok(name)
    if "klog" in expected and "klog" in progs:
        name = f"{prefix}/klog/serial_quiet_while_handed_over"
        if KLOG_HIDDEN in text:
            res.fail(name, "text written while the serial line was handed over reached it")
            any_failed = True
        else:
            res.ok(name)
    boot_verdict(res, prefix, text, status, timed_out, timeout, any_failed, problems)


KLOG_HIDDEN = "klog-handover-marker-5c1e"	# user/tests/klog.c HIDDEN
CHARDEV_MARKER = "chardev-write-7319\r\n"	# drivers/console/tests/chardev.c MARKER

# The console boot: init runs tests-console/ ("console-input"), whose test
# starts the console driver; once it says it is ready, we type a line, and
# it must come back on the serial output (the driver's echo: QEMU logs
# only what the guest writes, never what is typed).
CONSOLE_READY = r"console: ready"
CONSOLE_TEXT = "rill-echo-7731"		# drivers/console/tests-console/console.c TYPED, without \r
# Then a second driver with a chardev client (reads_a_typed_line): once
# its conversation is open it prints the marker, we type the text, its
# reads get it and it writes it back through the driver.
CONSOLE_READ_MARKER = r"console-test: reading through chardev"	# READ_MARKER
CONSOLE_READ_TEXT = "rill-read-4402"	# READ_TYPED, without \r
CONSOLE_INPUT = [(CONSOLE_READY, (CONSOLE_TEXT + "\r").encode()),
                 (CONSOLE_READ_MARKER, (CONSOLE_READ_TEXT + "\r").encode())]


# The boot `make run` does (no test word on the command line): init starts
# etc/init.conf's services; once the console driver is ready we type a
# line, which must come back echoed; then the boot is stopped.
RUN_TEXT = "rill-run-4242"
RUN_TIMEOUT = 180			# s: a boot and one typed line
# Typed once the driver has published itself, its last line at startup
# (an echo is byte by byte: a log line printed meanwhile would cut it).
RUN_UP = r"console: on mbus as object \d+"
RUN_SERVICES = ("mbus", "console")	# each must be logged as started, once


def run_interactive(build, res, smp=2):
    prefix = f"run/smp{smp}"
    kernel, initrd = kernel_images(build)
    try:
        status, text, timed_out = qemu.boot(
            kernel, initrd=initrd, smp=smp, append="", timeout=RUN_TIMEOUT,
            until=re.escape(RUN_TEXT) + r"\r\n",
            serial_input=[(RUN_UP, (RUN_TEXT + "\r").encode())])
    except qemu.BootError as e:
        res.fail(f"{prefix}/boot", f"{e} (build it with `make`)")
        return
    save_log(build, f"run-smp{smp}.log", text)
    problems = []
    for svc in RUN_SERVICES:
        n = len(re.findall(rf"init: started {svc} \(", text))
        if n != 1:
            problems.append(f"init started {svc} {n} times, not once")
    if re.search(r"init: .*(ended with status|cannot start|not restarted)", text):
        problems.append("a service ended or could not start")
    # mbus publishes the devices; the console driver finds its UART there
    # and publishes itself.
    if not re.search(r"mbus: ready \(\d+ objects\)", text):
        problems.append("mbus never said it was ready")
    if not re.search(r"console: on mbus as object \d+", text):
        problems.append("the console driver did not publish itself on mbus")
    if problems:
        res.fail(f"{prefix}/services_started", "; ".join(problems))
    else:
        res.ok(f"{prefix}/services_started")
    at = text.find("console: ready")
    if at < 0:
        res.fail(f"{prefix}/typed_line_echoed",
                 "timed out" if timed_out else "the console driver never said it was ready")
    elif RUN_TEXT + "\r\n" not in text[at:]:
        res.fail(f"{prefix}/typed_line_echoed", f"{RUN_TEXT!r} typed, not echoed")
    else:
        res.ok(f"{prefix}/typed_line_echoed")
    if problems or at < 0:
        res.note(f"--- last 40 lines of serial output ({prefix}) ---")
        res.tail(text, 40)


def check_console_echo(res, prefix, text):
    name = f"{prefix}/console/typed_line_echoed"
    at = text.find("console: ready")
    if at < 0:
        res.fail(name, "the driver never said it was ready")
    elif CONSOLE_TEXT + "\r\n" not in text[at:]:
        res.fail(name, f"{CONSOLE_TEXT!r} typed, no echo of it (with CR LF) on the serial line")
    else:
        res.ok(name)
    # The driver owned the line meanwhile and printed the kernel's log
    # from its ring, from where the kernel stopped: every line once. (The
    # second driver, reads_a_typed_line's, leaves the log to the kernel.)
    name = f"{prefix}/console/log_printed_once_while_owned"
    lines = [l for l in text.splitlines() if "console: ready" in l or "klog: the " in l]
    want = ["console: ready on 0x3f8 irq 4, printing the kernel's log",
            "console: ready on 0x3f8 irq 4"]
    if sum(1 for l in lines if "klog: the serial line is handed over" in l) != 1 or \
       sum(1 for l in lines if "klog: the kernel writes its log" in l) != 1 or \
       [l for l in lines if "console: ready" in l] != want:
        res.fail(name, "expected each once, intact: " + " | ".join(lines))
    else:
        res.ok(name)
    # The second text went to the chardev client's reads, not to an echo,
    # and came back as its write.
    name = f"{prefix}/console/typed_line_read_through_chardev"
    at = text.find("console-test: reading through chardev")
    after = text[at:].splitlines() if at >= 0 else []
    if at < 0:
        res.fail(name, "the client never said it was reading")
    elif f"read back: {CONSOLE_READ_TEXT}" not in after:
        res.fail(name, f"{CONSOLE_READ_TEXT!r} typed, the client did not write it back "
                 "on a line of its own")
    elif CONSOLE_READ_TEXT in after:
        res.fail(name, f"{CONSOLE_READ_TEXT!r} was echoed while a conversation was open")
    else:
        res.ok(name)


def check_program(res, prefix, name, p):
    """What one test program must have shown: started once, and either an
    end line that agrees with its results and its exit status, or init's
    FAIL for a program that could not start."""
    seen = (p.counts["PASS"], p.counts["FAIL"], p.counts["SKIP"])
    if p.starts == 0:
        res.fail(f"{prefix}/{name}/start", "init did not run it")
        return
    if p.starts > 1:
        res.fail(f"{prefix}/{name}/start", f"started {p.starts} times")
    if p.start_failed:
        return
    if p.end is None:
        res.fail(f"{prefix}/{name}/end", "no 'utest: end' line: the program stopped "
                 "before its last test")
        return
    if p.end != seen:
        res.fail(f"{prefix}/{name}/end", "the program says passed=%d failed=%d "
                 "skipped=%d" % p.end + ", the log shows passed=%d failed=%d "
                 "skipped=%d" % seen)
    elif sum(seen) == 0:
        res.fail(f"{prefix}/{name}/end", "the program ran no test")
    status = p.exit_status or 0
    if status != p.end[1]:
        res.fail(f"{prefix}/{name}/exit", f"exit status {status} but {p.end[1]} "
                 "failed tests")


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
        res.note(f"--- last 60 lines of serial output ({name}) ---")
        res.tail(text, 60)
    else:
        res.ok(name)


def run_fault(build, res):
    for case in FAULT_CASES:
        run_fault_case(build, res, *case)


# --- ISO ----------------------------------------------------------------------

def run_iso(build, res, required):
    name = "iso/boot"
    iso = os.path.join(build, "rill.iso")
    if not os.path.isfile(iso):
        if required:
            res.fail(name, f"{iso} not found, though this run requires it")
        else:
            res.skip(name, f"{iso} not found (make iso)")
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
    res.note("--- last 60 lines of serial output (iso) ---")
    res.tail(text, 60)


# --- the runner's self-test ---------------------------------------------------

def selftest_res():
    return Results(echo=lambda s: out(f"    selftest| {s}"))


def expect(res, part, tally, want, status=1):
    """One PASS/FAIL line per expectation: want is [(kind, name)] that must
    each be in the private tally exactly once, and the tally must hold no
    other failure or skip; its exit status must be status."""
    got = [(k, n) for k, n, _ in tally.entries]
    for kind, name in want:
        label = f"selftest/{part}/{kind.lower()}:{name.split('/', 2)[-1]}"
        n = got.count((kind, name))
        if n == 1:
            res.ok(label)
        else:
            res.fail(label, f"{kind} {name} counted {n} times")
    stray = [f"{k} {n}" for k, n in got if k != "PASS" and (k, n) not in want]
    if stray:
        res.fail(f"selftest/{part}/nothing-else", "unexpected: " + ", ".join(stray))
    else:
        res.ok(f"selftest/{part}/nothing-else")
    if tally.exit_status() == status:
        res.ok(f"selftest/{part}/exit-status")
    else:
        res.fail(f"selftest/{part}/exit-status",
                 f"{tally.exit_status()}, expected {status} ({tally.summary()})")


@contextlib.contextmanager
def caller_env(**kv):
    saved = {k: os.environ.get(k) for k in kv}
    os.environ.update(kv)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def selftest_host(build, res):
    t = selftest_res()
    # The caller's environment must not reach the programs: with it,
    # Check would run no suite at all.
    with caller_env(CK_RUN_SUITE="nosuch", CK_RUN_CASE="nosuch"):
        run_host(build, t, srcdir="tests/selftest", outdir="host-selftest", fuzz=False,
                 extra=["test_notbuilt"])
    p = "host/test_selftest/"
    expect(res, "host", t, [("PASS", p + "passes"), ("FAIL", p + "fails"),
                            ("SKIP", p + "skips"), ("FAIL", "host/test_empty"),
                            ("FAIL", "host/test_notbuilt")])


def selftest_kernel(build, res):
    t = selftest_res()
    run_kernel(build, 1, t,
               which="selftest_pass,selftest_fail,selftest_skip,selftest_liar",
               label="selftest-kernel", extra=["selftest_absent"],
               timeout=SELFTEST_TIMEOUT)
    p = "selftest-kernel/smp1/"
    expect(res, "kernel", t, [("PASS", p + "selftest_pass"), ("FAIL", p + "selftest_fail"),
                              ("SKIP", p + "selftest_skip"), ("PASS", p + "selftest_liar"),
                              ("PASS", p + "selftest_ghost"), ("FAIL", p + "selftest_ghost"),
                              ("FAIL", p + "selftest_absent"), ("FAIL", p + "boot")])
    # The boot fails for the absent test (the kernel selected 4 of the 5
    # expected) and the liar's extra line (done says passed=2, the log
    # shows 3), not for its QEMU status, which is right.
    why = [w for k, n, w in t.entries if n == p + "boot"]
    if (why and "selected=4, 5 expected" in why[0] and "passed=2 failed=1 skipped=1, the "
            "log shows passed=3 failed=1 skipped=1" in why[0] and "QEMU status" not in why[0]):
        res.ok("selftest/kernel/boot-counts")
    else:
        res.fail("selftest/kernel/boot-counts", f"boot verdict: {why}")


def selftest_user(build, res):
    t = selftest_res()
    run_user(build, 1, t, label="selftest-user", append="test selftest log=info",
             d="tests-selftest", extra=["absent"], timeout=SELFTEST_TIMEOUT)
    p = "selftest-user/smp1/"
    expect(res, "user", t, [
        ("PASS", p + "mixed/passes"), ("FAIL", p + "mixed/fails"),
        ("SKIP", p + "mixed/skips"), ("FAIL", p + "mixed/exit"),
        ("FAIL", p + "exit1/exit"),
        ("FAIL", p + "exit1/end"), ("FAIL", p + "notelf/start"),
        ("PASS", p + "liar/real"), ("PASS", p + "liar/phantom"), ("FAIL", p + "liar/end"),
        ("FAIL", p + "absent/start"), ("FAIL", p + "boot")])
    # The boot fails for the absent program alone (init ran 4 of the 5
    # expected; its failed=3 is right, and so is its QEMU status).
    why = [w for k, n, w in t.entries if n == p + "boot"]
    if why and "programs=4, 5 expected" in why[0] and "QEMU status" not in why[0] \
            and "failed=" not in why[0]:
        res.ok("selftest/user/boot-counts")
    else:
        res.fail("selftest/user/boot-counts", f"boot verdict: {why}")


def selftest_layers(build, res):
    t = selftest_res()
    run_layers(t, root=os.path.join(ROOT, "tests", "selftest", "layers"), exceptions=[])
    expect(res, "layers", t, [("FAIL", "layers")])
    why = [w for k, n, w in t.entries if n == "layers"]
    want = ["kernel/mm/upcall.c:3: includes <kernel/process.h> (core) from layer mm",
            "kernel/core/regs.c:8: wrmsr (MSR access) in portable code",
            "kernel/core/regs.c:8: MSR_FS_BASE (an MSR number) in portable code"]
    if why and all(w in why[0] for w in want) and "ok.c" not in why[0] \
            and why[0].startswith(f"{len(want)} problem(s)"):
        res.ok("selftest/layers/names-violations")
    else:
        res.fail("selftest/layers/names-violations", f"layers verdict: {why}")


def selftest_bench(build, res):
    import runbench
    lines = []
    try:
        rc = runbench.main(["--build", build, "--selftest", "--no-count", "--no-linux",
                            "--wall-runs", "1"], say=lines.append)
    except Exception as e:  # noqa: BLE001 - a crash is not the exit status we want
        res.fail("selftest/bench/exit-status", f"runbench raised {type(e).__name__}: {e}")
        return
    for line in lines:
        out(f"    selftest| {line}")
    if rc != 0:
        res.ok("selftest/bench/exit-status")
    else:
        res.fail("selftest/bench/exit-status", "runbench returned 0 on a failing bench program")
    if any(re.search(r"bench: FAIL fail: deliberate", l) for l in lines):
        res.ok("selftest/bench/reason-printed")
    else:
        res.fail("selftest/bench/reason-printed", "the fixture's FAIL line was not reported")


def run_selftest(build, res):
    for part in (selftest_layers, selftest_host, selftest_kernel, selftest_user,
                 selftest_bench):
        try:
            part(build, res)
        except Exception as e:  # a self-test bug must not hide the others
            res.fail(f"selftest/{part.__name__[9:]}", f"runtests error: {type(e).__name__}: {e}")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run Rill's tests.")
    ap.add_argument("--build", default="build", help="build directory")
    ap.add_argument("--only", action="append",
                    choices=["layers", "host", "selftest", "kernel", "user", "fault", "iso"],
                    help="run only this part (repeatable)")
    ap.add_argument("--smp", default="1,4",
                    help="comma-separated CPU counts for the kernel tests")
    ap.add_argument("--require-iso", action="store_true",
                    help="a missing build/rill.iso is a failure, not a skip")
    args = ap.parse_args(argv)
    try:
        smps = [int(s) for s in args.smp.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--smp: bad list {args.smp!r}")
    parts = args.only or ["layers", "host", "selftest", "kernel", "user", "fault", "iso"]

    res = Results()
    steps = []
    if "layers" in parts:
        steps.append(("layers", lambda: run_layers(res)))
    if "host" in parts:
        steps.append(("host", lambda: run_host(args.build, res)))
    if "selftest" in parts:
        steps.append(("selftest", lambda: run_selftest(args.build, res)))
    if "kernel" in parts:
        for n in smps:
            steps.append((f"kernel/smp{n}",
                          lambda n=n: run_kernel(args.build, n, res)))
    if "user" in parts:
        for n in smps:
            steps.append((f"user/smp{n}",
                          lambda n=n: run_user(args.build, n, res)))
        # Programs whose bugs only an interrupt at an exact instruction
        # shows: again under -icount, where QEMU ends translation blocks
        # (and takes interrupts) wherever the instruction budget runs out.
        # The console driver, with the runner typing on the serial line.
        steps.append(("console", lambda: run_user(
            args.build, 1, res, label="console", append="test log=info console-input",
            d="tests-console",
            serial_input=CONSOLE_INPUT)))
        # What `make run` boots: init's services, typing echoed.
        steps.append(("run", lambda: run_interactive(args.build, res)))
        # init's services up (etc/init.conf), tests-services/ against them.
        for n in smps:
            steps.append((f"services/smp{n}", lambda n=n: run_user(
                args.build, n, res, label="services", append="test log=info services",
                d="tests-services")))
        for prog in ICOUNT_PROGRAMS:
            steps.append((f"user-icount/{prog}",
                          lambda prog=prog: run_user(args.build, 1, res,
                                                     label=f"user-icount-{prog}",
                                                     only=prog, qemu_args=ICOUNT_ARGS)))
    if "fault" in parts:
        steps.append(("fault", lambda: run_fault(args.build, res)))
    if "iso" in parts:
        steps.append(("iso", lambda: run_iso(args.build, res, args.require_iso)))
    for label, step in steps:
        try:
            step()
        except Exception as e:  # a driver bug must not hide the summary
            res.fail(label, f"runtests error: {type(e).__name__}: {e}")
    sys.stderr.flush()
    out(res.summary())
    return res.exit_status()


if __name__ == "__main__":
    sys.exit(main())
