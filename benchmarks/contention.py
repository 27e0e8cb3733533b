"""Busy neighbours for the benchmarks: N CPU-bound processes that run beside a program.

Each is `timeout S python -c "while True: pass"`, in its own session, so it stops by itself after S
seconds even if the harness dies, and `busy()` kills the whole group as soon as the program it was
started for has ended (or the harness exits, by exception, SIGTERM or SIGINT). Standard library only.
"""
import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time

_live = set()


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass
    _live.discard(proc)


def _kill_all():
    for proc in list(_live):
        _kill(proc)


atexit.register(_kill_all)


def _on_signal(signum, frame):
    _kill_all()
    sys.exit(128 + signum)


for _sig in (signal.SIGTERM, signal.SIGHUP):
    try:
        signal.signal(_sig, _on_signal)
    except (ValueError, OSError):   # not the main thread, or a platform without the signal
        pass


@contextlib.contextmanager
def busy(n, max_seconds, python=sys.executable, settle_s=0.3):
    """Runs the block beside `n` busy processes, each bounded to `max_seconds` by `timeout`.
    `settle_s`: time for the scheduler to spread them over the cores before the block starts."""
    procs = []
    try:
        for _ in range(n):
            proc = subprocess.Popen(['timeout', '-s', 'KILL', str(int(max_seconds) + 1), python, '-c',
                                     'while True: pass'], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            procs.append(proc)
            _live.add(proc)
        if n:
            time.sleep(settle_s)
        yield procs
    finally:
        for proc in procs:
            _kill(proc)


def label(n):
    return 'quiet' if n == 0 else 'beside %d busy process%s' % (n, '' if n == 1 else 'es')
