"""nanotf owns its threads (nanotf/framework/parallel.py): inside every Session.run BLAS uses one thread,
big products are split over nanotf's pool, and nothing spins when no run is active.

None of these tests times anything: they check thread counts, thread states and CPU time consumed while
the process is idle (a spinning thread burns CPU time; a sleeping one does not). Speed itself is measured
in benchmarks/ (`benchmarks/run.py --contention N`).
"""
import os
import sys
import threading
import time

import numpy as np
import pytest

import nanotf as tf
from nanotf.framework import parallel

EPS32 = float(np.finfo(np.float32).eps)
LINUX_PROC = sys.platform.startswith("linux") and os.path.isdir("/proc/self/task")


@pytest.fixture
def two_threads():
    parallel.set_intra_op_parallelism_threads(2)
    yield
    parallel.set_intra_op_parallelism_threads(0)


def _assert_product_close(got, a, b):
    """got == a @ b within twice float32's worst-case bound for K-term sums, K * eps32 * (|a| @ |b|)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    bound = a.shape[1] * EPS32 * (np.abs(a64) @ np.abs(b64))
    assert (np.abs(got - a64 @ b64) <= bound).all()


def _dense_graph(m=400, k=1000, n=40, seed=0):
    """(placeholder, product tensor, a, b) of a product above parallel._MIN_SPLIT_MACS."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    assert m * k * n >= parallel._MIN_SPLIT_MACS
    x = tf.placeholder(tf.float32, [None, k])
    return x, tf.matmul(x, tf.constant(b)), a, b


def _thread_cpu_seconds():
    """{thread id: user + system CPU seconds} of this process's threads, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/stat" % tid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:      # the thread ended meanwhile
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick   # utime, stime (fields 14, 15)
    return out


def _thread_state(native_id):
    with open("/proc/self/task/%d/stat" % native_id) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_blas_runs_one_thread_inside_a_run_and_numpy_keeps_its_setting_outside(two_threads, monkeypatch):
    """Seen from inside the MatMul kernel: 1 BLAS thread. Outside, before and after: NumPy's setting."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not parallel.blas_threads():
        pytest.skip("no BLAS library found through threadpoolctl: nanotf leaves BLAS alone")
    seen, real = [], parallel._np_matmul
    monkeypatch.setattr(parallel, "_np_matmul", lambda *a, **k: seen.append(parallel.blas_threads()) or real(*a, **k))
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = parallel.blas_threads()
        with tf.Graph().as_default(), tf.Session() as sess:
            x = tf.placeholder(tf.float32, [4, 3])
            sess.run(tf.matmul(x, tf.ones([3, 2])), {x: np.ones((4, 3), np.float32)})
        after = parallel.blas_threads()
    assert seen == [(1,) * len(before)]
    assert after == before


def test_a_big_product_in_a_run_is_split_and_within_the_float32_bound(two_threads, monkeypatch):
    calls = []
    real = parallel.parallel_for
    monkeypatch.setattr(parallel, "parallel_for", lambda fn, n, *a, **k: calls.append(n) or real(fn, n, *a, **k))
    with tf.Graph().as_default(), tf.Session() as sess:
        x, y, a, b = _dense_graph()
        got = sess.run(y, {x: a})
    assert calls == [400]          # split by rows over the pool (400 rows >= 40 columns)
    _assert_product_close(got, a, b)


def test_sessions_running_in_several_threads_at_once(two_threads):
    """Four threads each run a split product 10 times through their own Session, overlapping: every
    result is right, and once all have returned BLAS's setting is back and no run is counted."""
    before = parallel.blas_threads()
    errors, results = [], []
    with tf.Graph().as_default() as g:
        x, y, a, b = _dense_graph(seed=1)
    start = threading.Barrier(4, timeout=30)

    def worker():
        try:
            with tf.Session(graph=g) as sess:
                start.wait()
                for _ in range(10):
                    results.append(sess.run(y, {x: a}))
        except BaseException as e:      # reported by the test's thread
            errors.append(e)
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(results) == 40
    for got in results:
        _assert_product_close(got, a, b)
    assert parallel._runs == 0 and parallel._split_runs == 0
    assert parallel.blas_threads() == before


@pytest.mark.skipif(not LINUX_PROC, reason="reads thread states and CPU times from /proc")
def test_no_thread_spins_once_a_run_has_returned(two_threads):
    """After a run that split a big product, the pool's threads are asleep (state S) and no thread but the
    caller's uses CPU time over the next 0.3 s. (Before nanotf held BLAS at one thread in every run,
    OpenBLAS's own threads spun for about 0.1 s after each product of a dense plan.)"""
    time.sleep(0.5)           # let BLAS threads used by earlier tests, outside runs, time out and sleep
    with tf.Graph().as_default(), tf.Session() as sess:
        x, y, a, b = _dense_graph(seed=2)
        for _ in range(20):
            sess.run(y, {x: a})
        cpu0 = _thread_cpu_seconds()
    pool = parallel._pool
    assert pool is not None and pool.threads
    me = threading.get_native_id()
    time.sleep(0.3)
    cpu1 = _thread_cpu_seconds()
    busy = {tid: cpu1[tid] - cpu0[tid] for tid in cpu1 if tid in cpu0 and tid != me}
    # OpenBLAS's spinning threads used 0.1 s each here, on a quiet machine (less on a busy one, where
    # they yield); CPU time is counted in clock ticks (10 ms), so allow three per thread
    assert all(used <= 0.03 for used in busy.values()), busy
    for t in pool.threads:
        assert _thread_state(t.native_id) == "S", t.name


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_splits_work_without_its_parents_threads(two_threads):
    """A child process has none of its parent's pool threads: its runs still split and return."""
    with tf.Graph().as_default(), tf.Session() as sess:
        x, y, a, b = _dense_graph(seed=3)
        sess.run(y, {x: a})                  # the parent's pool exists
        pid = os.fork()
        if pid == 0:                          # the child: exit status 0 only if the product is right
            status = 1
            try:
                got = sess.run(y, {x: a})
                a64, b64 = a.astype(np.float64), b.astype(np.float64)
                bound = a.shape[1] * EPS32 * (np.abs(a64) @ np.abs(b64))
                status = 0 if (np.abs(got - a64 @ b64) <= bound).all() else 2
            finally:
                os._exit(status)
        deadline = time.monotonic() + 60
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                pytest.fail("the forked child's run did not return within 60 s")
            time.sleep(0.01)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
