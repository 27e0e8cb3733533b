"""nanotf owns its threads (nanotf/framework/parallel.py): while other processes keep the machine busy
(and in every run of a plan with convolutions), BLAS uses one thread inside Session.run, big products
are split over nanotf's pool, and nothing spins when no run is active; on a quiet machine dense plans
leave BLAS its own threads. Whether the machine is busy is read from /proc/stat.

None of these tests times anything: they check thread counts, thread states, CPU time consumed while
the process is idle (a spinning thread burns CPU time; a sleeping one does not) and the busy/quiet
decision on scripted CPU counters. Speed itself is measured in benchmarks/ (`run.py --contention N`).
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


@pytest.fixture
def machine(monkeypatch):
    """machine(busy): pins what nanotf believes of other processes' load for this test."""
    def pin(busy):
        monkeypatch.setattr(parallel._neighbours, "busy", busy)
        monkeypatch.setattr(parallel._neighbours, "next_check", float("inf"))
        monkeypatch.setattr(parallel._neighbours, "last", (0.0, 0.0, 0.0))   # a new Session samples no more
    pin(True)
    return pin


def _assert_product_close(got, a, b):
    """got == a @ b within twice float32's worst-case bound for K-term sums, K * eps32 * (|a| @ |b|)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    bound = a.shape[1] * EPS32 * (np.abs(a64) @ np.abs(b64))
    assert (np.abs(got - a64 @ b64) <= bound).all()


def _dense_graph(m=400, k=1000, n=100, seed=0):
    """(placeholder, product tensor, a, b) of a product that a busy machine splits too."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    assert m * k * n >= max(parallel._MIN_SPLIT_MACS, parallel._MIN_SPLIT_MACS_BUSY)
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


@pytest.mark.parametrize("busy", [True, False], ids=["busy", "quiet"])
def test_blas_threads_inside_and_outside_a_dense_run(two_threads, machine, monkeypatch, busy):
    """Seen from inside the MatMul kernel of a dense plan: 1 BLAS thread on a busy machine, BLAS's own
    count (2 here) on a quiet one. Outside, before and after: NumPy's setting."""
    machine(busy)
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
    assert seen == [(1,) * len(before) if busy else before]
    assert after == before


def test_a_big_product_in_a_run_is_split_and_within_the_float32_bound(two_threads, machine, monkeypatch):
    """On a busy machine, a 40M multiply-add product is split by rows (400 rows >= 100 columns) into up to
    4 ranges per thread, each of at least _MIN_RANGE_MACS, so that the caller can take over the ranges of
    a pool thread that waits for a core."""
    calls = []
    real = parallel.parallel_for
    monkeypatch.setattr(parallel, "parallel_for",
                        lambda fn, n, grain=1, threads=None: calls.append(real(
                            lambda i, j: (i, j), n, grain, threads)) or real(fn, n, grain, threads))
    with tf.Graph().as_default(), tf.Session() as sess:
        x, y, a, b = _dense_graph()
        got = sess.run(y, {x: a})
    ranges, = calls
    assert len(ranges) == 2 * parallel._BUSY_RANGES_PER_THREAD
    assert ranges[0][0] == 0 and ranges[-1][1] == 400
    assert all((j - i) * 1000 * 100 >= parallel._MIN_RANGE_MACS for i, j in ranges)
    _assert_product_close(got, a, b)


@pytest.mark.parametrize("busy", [True, False], ids=["busy", "quiet"])
def test_sessions_running_in_several_threads_at_once(two_threads, machine, busy):
    """Four threads each run a split product 10 times through their own Session, overlapping: every
    result is right, and once all have returned BLAS's setting is back and no run is counted."""
    machine(busy)
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
    assert parallel._runs == 0 and not parallel.splitting()
    assert parallel.blas_threads() == before


def test_a_splitting_run_in_one_thread_leaves_another_threads_plain_run_whole(two_threads, machine, monkeypatch):
    """The split-run mode is per thread. Thread A is inside a conv plan's run (convolutions split their
    work, so its products split too), held in its input generator; meanwhile, on a quiet machine, this
    thread runs a dense plan: its product is not split over the pool (BLAS keeps its own threads)."""
    machine(False)
    inside, release = threading.Event(), threading.Event()
    seen, conv_out = {}, []

    def images():
        seen["conv run splits"] = parallel.splitting()   # in thread A, inside its run
        inside.set()
        release.wait(30)
        yield np.ones((1, 5, 5, 1), np.float32)
    split_by = []
    real = parallel.parallel_for
    monkeypatch.setattr(parallel, "parallel_for", lambda fn, n, grain=1, threads=None: split_by.append(
        threading.get_ident()) or real(fn, n, grain, threads))
    with tf.Graph().as_default():
        batch = tf.data.Dataset.from_generator(images, tf.float32, [1, 5, 5, 1]).make_one_shot_iterator().get_next()
        conv = tf.nn.conv2d(batch, tf.ones([3, 3, 1, 1]), [1, 1, 1, 1], "SAME")
        with tf.Session() as conv_sess:
            a_thread = threading.Thread(target=lambda: conv_out.append(conv_sess.run(conv)))
            a_thread.start()
            try:
                assert inside.wait(30)
                with tf.Graph().as_default(), tf.Session() as sess:
                    x, y, a, b = _dense_graph()
                    got = sess.run(y, {x: a})
            finally:
                release.set()
                a_thread.join(60)
    assert seen == {"conv run splits": True}
    assert threading.get_ident() not in split_by
    _assert_product_close(got, a, b)
    # 3x3 sums of ones over a SAME-padded 5x5 image: 4 at corners, 6 on edges, 9 inside
    counts = np.array([2, 3, 3, 3, 2], np.float32)
    np.testing.assert_array_equal(conv_out[0][0, :, :, 0], np.outer(counts, counts))


@pytest.mark.skipif(not LINUX_PROC, reason="reads thread states and CPU times from /proc")
def test_no_thread_spins_once_a_run_has_returned(two_threads, machine):
    """On a busy machine, after runs that split a big product, the pool's threads are asleep (state S) and
    no thread but the caller's uses CPU time over the next 0.3 s. (Where BLAS keeps its own threads, as
    on a quiet machine or in nanotf before this, OpenBLAS's threads spin for about 0.1 s after each
    product, taking CPU time from whatever else runs.)"""
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
# JAX, imported by the XLA tests in the same process, warns on any fork; the child never touches JAX, and a
# hung child is killed after 60 s below
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")
def test_a_forked_child_splits_work_without_its_parents_threads(two_threads, machine):
    """A child process has none of its parent's pool threads: its runs still split and return."""
    with tf.Graph().as_default(), tf.Session() as sess:
        x, y, a, b = _dense_graph(seed=3)
        sess.run(y, {x: a})                  # the parent's pool exists
        pid = os.fork()
        if pid == 0:                          # the child: exit status 0 only if the product is right
            status = 1
            try:
                _assert_product_close(sess.run(y, {x: a}), a, b)
                status = 0
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


class _Counters:
    """Scripted (wall s, all CPUs' busy s, this process's CPU s) samples for parallel._cpu_sample."""

    def __init__(self):
        self.wall = self.busy = self.mine = 0.0

    def advance(self, wall, others_cores, my_cores=1.0):
        self.wall += wall
        self.mine += my_cores * wall
        self.busy += (others_cores + my_cores) * wall

    def sample(self, now):
        return self.wall, self.busy, self.mine


def test_the_machine_is_busy_from_half_a_core_of_other_work_and_quiet_again_below_a_quarter(monkeypatch):
    """Other processes' load = all CPUs' busy time less this process's own, per second of wall time,
    between two checks; busy from 0.5 core, quiet again below 0.25 (a load hovering in between keeps
    the current mode)."""
    counters = _Counters()
    monkeypatch.setattr(parallel, "_cpu_sample", counters.sample)
    n = parallel._Neighbours()
    n.update(0.0)                       # the first sample only starts an interval
    assert n.busy is False and n.others is None
    steps = [(0.1, False), (0.6, True), (0.3, True), (0.2, False), (0.4, False), (1.0, True), (0.0, False)]
    for others, expected in steps:
        counters.advance(0.2, others, my_cores=1.7)   # this process's own threads never count
        n.update(counters.wall)
        assert n.others == pytest.approx(others, abs=1e-9)
        assert n.busy is expected, (others, n.busy)
    assert n.next_check == pytest.approx(counters.wall + parallel._Neighbours._CHECK_S)


def test_without_proc_stat_every_run_assumes_company(monkeypatch):
    monkeypatch.setattr(parallel, "_cpu_sample", lambda now: None)
    n = parallel._Neighbours()
    n.update(5.0)
    assert n.busy is True and n.next_check == float("inf")


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads /proc/stat")
def test_a_cpu_sample_reads_real_counters():
    wall, busy, mine = parallel._cpu_sample(123.0)
    assert wall == 123.0 and busy > 0 and mine > 0


def test_runs_check_the_load_at_most_every_interval(monkeypatch):
    """A new Session takes the first sample (the graph is usually built between it and the first run);
    runs decide once _MIN_INTERVAL_S has passed since it, then ask /proc/stat again only once _CHECK_S has
    passed since the last check."""
    calls = []
    monkeypatch.setattr(parallel, "_neighbours", parallel._Neighbours())
    monkeypatch.setattr(parallel, "_cpu_sample", lambda now: calls.append(now) or (now, now, 0.0))
    clock = [100.0]
    monkeypatch.setattr(parallel, "_monotonic", lambda: clock[0])
    with tf.Graph().as_default(), tf.Session() as sess:
        x = tf.placeholder(tf.float32, [2])
        y = x * 2.0
        for t in (100.02, 100.06, 100.1, 100.25, 100.27, 100.4, 100.5):
            clock[0] = t
            sess.run(y, {x: np.ones(2, np.float32)})
    assert calls == [100.0, 100.06, 100.27, 100.5]
    assert parallel._neighbours.busy      # others used 1 core (busy time grew 1 s per s): busy


def test_a_busy_machine_cuts_more_ranges_than_threads_and_keeps_mid_sized_products_whole(two_threads, machine,
                                                                                          monkeypatch):
    """Busy: parallel_for makes 4 ranges per thread (a late pool thread then delays a quarter of its share
    at most), and a product below _MIN_SPLIT_MACS_BUSY (the tutorial's 100x784 @ 784x128) runs whole,
    on one BLAS thread: splitting it costs more than it gains when pool threads wait for a core."""
    assert parallel.parallel_for(lambda i, j: (i, j), 100) == [(i * 100 // 8, (i + 1) * 100 // 8) for i in range(8)]
    machine(False)
    assert parallel.parallel_for(lambda i, j: (i, j), 100) == [(0, 50), (50, 100)]
    machine(True)
    rng = np.random.default_rng(4)
    a = rng.standard_normal((100, 784)).astype(np.float32)
    b = rng.standard_normal((784, 128)).astype(np.float32)
    assert parallel._MIN_SPLIT_MACS <= a.size * 128 < parallel._MIN_SPLIT_MACS_BUSY
    split = []
    real = parallel.parallel_for
    monkeypatch.setattr(parallel, "parallel_for", lambda *args, **kw: split.append(args) or real(*args, **kw))
    splits = parallel.run_begin(False)
    try:
        got = parallel.matmul(a, b)
    finally:
        parallel.run_end(splits)
    assert splits and split == []
    _assert_product_close(got, a, b)
