#!/usr/bin/env python3
"""Run the Rill kernel under QEMU.

Interactive (used by `make run` and `make debug`):

    python3 tools/qemu.py run --kernel K --initrd I --smp N --mem M \
        --append "..." [--gdb] [--machine q35]

  The serial console is this terminal (-nographic -serial mon:stdio);
  Ctrl-A X quits QEMU, Ctrl-A C switches to the QEMU monitor.
  --gdb starts QEMU halted with the GDB stub on localhost:1234 (-s -S).

Non-interactive, for scripts (see tools/runtests.py):

    from qemu import boot
    status, output, timed_out = boot(kernel, initrd=None, cdrom=None,
                                     smp=1, mem="512M", append="",
                                     timeout=120, until=None)

  The serial port goes to a temporary file, whose text (decoded with
  errors="replace") is returned; anything QEMU itself printed on its
  stdout/stderr is appended after it. On timeout the whole QEMU process
  group is killed: status is None and timed_out True. With until=REGEX QEMU
  is stopped as soon as the serial output so far matches REGEX (re.search,
  MULTILINE): status is then None and timed_out False.

  The same from the shell, printing the output and the status:

    python3 tools/qemu.py boot --kernel K [--initrd I | --cdrom ISO] \
        [--smp N] [--mem M] [--append ...] [--timeout S] [--until REGEX]

Exit status convention (isa-debug-exit at port 0xf4: QEMU exits with
(value << 1) | 1):
    1  the kernel wrote 0: every in-kernel test passed   (EXIT_TESTS_PASSED)
    3  the kernel wrote 1: some in-kernel test failed    (EXIT_TESTS_FAILED)
    5  the kernel wrote 2: kernel panic                  (EXIT_PANIC)
    0  guest reset / triple fault (-no-reboot) or QEMU quit otherwise.

The QEMU binary is qemu-system-x86_64, or $QEMU when set.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import select
import tempfile
import threading
import time

EXIT_TESTS_PASSED = 1
EXIT_TESTS_FAILED = 3
EXIT_PANIC = 5

DEBUG_EXIT = ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]


class BootError(Exception):
    """QEMU could not be started (missing image, missing QEMU binary...)."""


def qemu_binary():
    return os.environ.get("QEMU") or "qemu-system-x86_64"


def _image_args(kernel, initrd, cdrom, append):
    if cdrom is not None:
        if not os.path.isfile(cdrom):
            raise BootError(f"ISO image {cdrom} not found")
        return ["-cdrom", cdrom]
    if kernel is None:
        raise BootError("no kernel image given")
    if not os.path.isfile(kernel):
        raise BootError(f"kernel image {kernel} not found")
    args = ["-kernel", kernel]
    if initrd is not None:
        if not os.path.isfile(initrd):
            raise BootError(f"initrd {initrd} not found")
        args += ["-initrd", initrd]
    if append:
        args += ["-append", append]
    return args


def _check_qemu():
    q = qemu_binary()
    if shutil.which(q) is None:
        raise BootError(f"{q} not found (install qemu-system-x86: bash tools/deps.sh)")
    return q


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _connect_serial(path, proc, deadline):
    """Connect to QEMU's serial socket (it waits for us before it runs)."""
    while True:
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            sock.setblocking(False)
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if proc.poll() is not None or time.monotonic() >= deadline:
                raise BootError("QEMU's serial socket never came up")
            time.sleep(0.05)


def _drain(sock, stop):
    """Read and drop what the guest writes (the log file has it), all the
    time, on a thread of its own: QEMU sends each byte in a message of its
    own, each costing the socket's buffer far more than one byte, so a
    few hundred bytes left unread fill it; QEMU's UART then retries
    (EAGAIN), and its retries sometimes log a byte twice or lose one
    (the console boot saw "conssole: ready", and then waited for ever
    for the ready line to type on). Drained every 0.1 s, boot output
    bursts hit that; drained at once, they do not."""
    while not stop.is_set():
        try:
            r, _, _ = select.select([sock], [], [], 0.05)
            if r and not sock.recv(65536):
                return		# QEMU closed it
        except (BlockingIOError, InterruptedError):
            pass
        except (OSError, ValueError):
            return


def boot(kernel, initrd=None, cdrom=None, smp=1, mem="512M", append="",
         timeout=120, until=None, machine="q35", extra_args=(), serial_input=()):
    """Boot once, non-interactively. Returns (exit_status, serial_text, timed_out).

    serial_input: (pattern, bytes) pairs, in order: once pattern (a regular
    expression) shows in the serial output, bytes are typed into the serial
    line (its receive side), as a user at a terminal would. Without any,
    the line has no input at all.

    Raises BootError if an image or QEMU itself is missing.
    """
    q = _check_qemu()
    image = _image_args(kernel, initrd, cdrom, append)
    until_re = re.compile(until, re.MULTILINE) if until else None
    inputs = [(re.compile(p, re.MULTILINE), b) for p, b in serial_input]

    with tempfile.TemporaryDirectory(prefix="rill-qemu-") as tmp:
        serial_path = os.path.join(tmp, "serial.log")
        stdio_path = os.path.join(tmp, "qemu.log")
        sock_path = os.path.join(tmp, "serial.sock")
        open(serial_path, "wb").close()
        if inputs:
            # A socket the guest's output also goes to (drained below),
            # logged to the same file; what we write is its input.
            serial = ["-chardev", f"socket,id=ser0,path={sock_path},server=on,wait=on,"
                      f"logfile={serial_path}", "-serial", "chardev:ser0"]
        else:
            serial = ["-serial", f"file:{serial_path}"]
        cmd = [q, "-machine", machine, "-cpu", "max", "-m", str(mem),
               "-smp", str(smp), "-display", "none", "-monitor", "none",
               *serial, "-no-reboot", *DEBUG_EXIT, *image, *extra_args]
        status = None
        timed_out = False
        with open(stdio_path, "wb") as stdio, open(os.devnull, "rb") as devnull:
            proc = subprocess.Popen(cmd, stdin=devnull, stdout=stdio,
                                    stderr=subprocess.STDOUT,
                                    start_new_session=True)
            deadline = time.monotonic() + timeout
            sock = _connect_serial(sock_path, proc, deadline) if inputs else None
            stop = threading.Event()
            drainer = None
            if sock is not None:
                drainer = threading.Thread(target=_drain, args=(sock, stop), daemon=True)
                drainer.start()
            try:
                with open(serial_path, "rb") as serial:
                    seen = b""
                    while True:
                        try:
                            status = proc.wait(timeout=0.1)
                            break
                        except subprocess.TimeoutExpired:
                            pass
                        if until_re is not None or inputs:
                            chunk = serial.read()
                            if chunk:
                                seen += chunk
                                text_now = seen.decode("utf-8", "replace")
                                while inputs and inputs[0][0].search(text_now):
                                    sock.sendall(inputs.pop(0)[1])
                                if until_re is not None and until_re.search(text_now):
                                    _kill_group(proc)
                                    status = None
                                    break
                        if time.monotonic() >= deadline:
                            timed_out = True
                            _kill_group(proc)
                            status = None
                            break
            except BaseException:
                _kill_group(proc)
                raise
            finally:
                stop.set()
                if drainer is not None:
                    drainer.join()
                if sock is not None:
                    sock.close()
            if status is not None:
                # QEMU is gone; make sure nothing it started lingers.
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        with open(serial_path, "rb") as f:
            text = f.read().decode("utf-8", errors="replace")
        with open(stdio_path, "rb") as f:
            extra = f.read().decode("utf-8", errors="replace")
        if extra.strip():
            if text and not text.endswith("\n"):
                text += "\n"
            text += extra
        return status, text, timed_out


def run_interactive(args):
    q = _check_qemu()
    image = _image_args(args.kernel, args.initrd, args.cdrom, args.append)
    cmd = [q, "-machine", args.machine, "-cpu", "max", "-m", str(args.mem),
           "-smp", str(args.smp), *image, "-nographic", "-no-reboot",
           "-serial", "mon:stdio", *DEBUG_EXIT]
    if args.gdb:
        cmd += ["-s", "-S"]
    print("Serial console on this terminal: Ctrl-A X quits QEMU, "
          "Ctrl-A C toggles the QEMU monitor.", file=sys.stderr)
    if args.gdb:
        print("QEMU waits for GDB on localhost:1234.", file=sys.stderr)
    sys.stderr.flush()
    sys.stdout.flush()
    os.execvp(cmd[0], cmd)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run Rill under QEMU.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("run", "boot"):
        p = sub.add_parser(name)
        p.add_argument("--kernel")
        p.add_argument("--initrd")
        p.add_argument("--cdrom")
        p.add_argument("--smp", type=int, default=1)
        p.add_argument("--mem", default="512M")
        p.add_argument("--append", default="")
        p.add_argument("--machine", default="q35")
        if name == "run":
            p.add_argument("--gdb", action="store_true",
                           help="start halted with the GDB stub on :1234")
        else:
            p.add_argument("--timeout", type=float, default=120)
            p.add_argument("--until")
            p.add_argument("--type", nargs=2, action="append", default=[],
                           metavar=("PATTERN", "TEXT"),
                           help="once PATTERN shows in the output, type TEXT into "
                                "the serial line (\\r for Enter); repeatable")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "run":
            run_interactive(args)
            return 0
        status, text, timed_out = boot(
            args.kernel, args.initrd, args.cdrom, smp=args.smp, mem=args.mem,
            append=args.append, timeout=args.timeout, until=args.until,
            machine=args.machine,
            serial_input=[(p, t.encode().decode("unicode_escape").encode("latin-1"))
                          for p, t in args.type])
    except BootError as e:
        print(f"qemu.py: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    if text and not text.endswith("\n"):
        sys.stdout.write("\n")
    print(f"qemu.py: status={status} timed_out={timed_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
