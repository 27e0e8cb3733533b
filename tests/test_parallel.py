"""The intra-op thread pool (nanotf/framework/parallel.py) and the kernels that split their work over it.

Every value is checked against float64 NumPy or closed-form references, with the pool forced to 2-3
threads (so that work is split even on a 1-core machine) and sizes just above the split thresholds.
Sums of products are held to float32's worst-case error bound for their number of terms, never to the
values of another split, thread count or BLAS kernel (the order of a sum changes with each of those).
Where a test is about splitting, a spy on parallel_for also checks that the work really was split.
"""
import contextlib
import inspect
import os
import threading
import time

import numpy as np
import pytest

import nanotf as tf
from nanotf.client import session as session_module
from nanotf.framework import parallel
from nanotf.ops._shape_util import sum_to_shape
from nanotf.training import training_ops

BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8


# -- helpers
@pytest.fixture(autouse=True)
def quiet_machine(monkeypatch):
    """Every test here starts on a 'quiet machine' whatever the load really is (other processes' load
    switches dense plans to one BLAS thread and the pool, framework/parallel.py); a test may flip it."""
    monkeypatch.setattr(parallel._neighbours, "busy", False)
    monkeypatch.setattr(parallel._neighbours, "next_check", float("inf"))
    monkeypatch.setattr(parallel._neighbours, "last", (0.0, 0.0, 0.0))   # a new Session samples no more
    return parallel._neighbours


@pytest.fixture
def threads():
    """set(n): the pool splits work over n threads for this test; the default (0) is restored after."""
    yield parallel.set_intra_op_parallelism_threads
    parallel.set_intra_op_parallelism_threads(0)


class _SplitSpy:
    """Wraps parallel.parallel_for: records, per call, the function's name, n and the ranges it ran on
    (and, if asked, the BLAS thread counts at the time of the call)."""

    def __init__(self, original, blas=None):
        self.original, self.blas, self.calls = original, blas, []

    def __call__(self, fn, n, grain=1, threads=None):
        ranges = []

        def recorded(i, j):
            ranges.append((i, j))
            return fn(i, j)
        blas = self.blas.now() if self.blas is not None else None
        self.calls.append((fn.__qualname__, n, ranges, blas))
        return self.original(recorded, n, grain, threads)

    def split(self, name_part=""):
        """The calls whose function name contains `name_part` and that ran on more than one range."""
        return [(name, n, sorted(r)) for name, n, r, _ in self.calls if name_part in name and len(r) > 1]


@pytest.fixture
def spy(monkeypatch):
    """A _SplitSpy in place of parallel.parallel_for (kernels and parallel's own helpers call it by name)."""
    s = _SplitSpy(parallel.parallel_for)
    monkeypatch.setattr(parallel, "parallel_for", s)
    return s


class _Blas:
    """NumPy's BLAS libraries as threadpoolctl sees them: `before` is their thread counts outside runs."""

    def __init__(self, ctl):
        self.ctl = ctl
        self.before = self.now()

    def now(self):
        return [info["num_threads"] for info in self.ctl.info()]

    @property
    def single(self):
        return [1] * len(self.before)


@pytest.fixture
def blas():
    """NumPy's BLAS held at 3 threads during the test (neither 1 nor, on most machines, the default, so
    that a restore to exactly the previous count is visible)."""
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="threadpoolctl is not installed")
    ctl = threadpoolctl.ThreadpoolController().select(user_api="blas")
    if not ctl.lib_controllers:
        pytest.skip("threadpoolctl finds no BLAS library loaded by NumPy: nanotf leaves BLAS threads alone")
    with ctl.limit(limits=3):
        b = _Blas(ctl)
        if 1 in b.before:
            pytest.skip("this BLAS cannot run more than 1 thread: going single-threaded would not show")
        yield b


@contextlib.contextmanager
def _in_run():
    """What Session.run does around a plan that splits work (one with a convolution)."""
    began = parallel.run_begin(True)
    try:
        yield began
    finally:
        parallel.run_end(began)


def _call_with_timeout(fn, timeout=20.0):
    """fn() in a helper thread; fails (instead of hanging) if it has not returned after `timeout` s."""
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as e:   # handed to the test's thread
            box["error"] = e
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "deadlock: the call did not return within %g s" % timeout
    if "error" in box:
        raise box["error"]
    return box["value"]


def _reference_blas():
    """Context for float64 references: BLAS on one thread (on a busy machine OpenBLAS's spinning threads
    make these small products ~10x slower)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _f32(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


EPS32 = float(np.finfo(np.float32).eps)   # 2**-23: twice float32's unit roundoff


def _assert_sums_close(got, ref, magnitude, terms, what="values"):
    """float32 sums of `terms` products, in any order (any BLAS kernel, blocking or split): each within
    terms * EPS32 of the sum of its terms' magnitudes (the float64 sums over absolute values). That is
    twice the worst-case bound gamma_K = K u / (1 - K u) of a K-term float32 sum, whatever the order;
    a wrong or misplaced term is off by the size of a term, far outside it."""
    assert got.shape == ref.shape, (what, got.shape, ref.shape)
    bound = terms * EPS32 * magnitude
    err = np.abs(np.asarray(got, np.float64) - ref)
    worst = np.unravel_index(np.argmax(err - bound), err.shape)
    assert (err <= bound).all(), "%s at %s: %r vs float64 %r (terms' magnitude %r, %d terms)" % (
        what, worst, got[worst], ref[worst], magnitude[worst], terms)


def _matmul_ref(a, b):
    """float64 a @ b, |a| @ |b| and the number of terms of each sum."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a @ b, np.abs(a) @ np.abs(b), a.shape[1]


def _pads(size, k, s, padding):
    """(output size, padding before, padding after) of one spatial axis, TF's rules."""
    if padding == "SAME":
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        return out, total // 2, total - total // 2
    return (size - k) // s + 1, 0, 0


def _padded(x, kh, kw, s, padding):
    n, h, w, c = x.shape
    oh, pt, pb = _pads(h, kh, s, padding)
    ow, pl, pr = _pads(w, kw, s, padding)
    return np.pad(x.astype(np.float64), ((0, 0), (pt, pb), (pl, pr), (0, 0))), oh, ow, pt, pl


def _tap(xp, i, j, s, oh, ow):
    """The input values that filter tap (i, j) meets at every output position (a view)."""
    return xp[:, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s]


def _conv_ref(x, w, s=1, padding="SAME"):
    """float64 2-D convolution (NHWC input, HWIO filter) as a sum over the kh*kw filter taps."""
    kh, kw, _, o = w.shape
    xp, oh, ow, _, _ = _padded(x, kh, kw, s, padding)
    out = np.zeros((x.shape[0], oh, ow, o))
    for i in range(kh):
        for j in range(kw):
            out += np.tensordot(_tap(xp, i, j, s, oh, ow), w[i, j].astype(np.float64), axes=(3, 0))
    return out


def _conv_grads_ref(x, w, dy, s=1, padding="SAME"):
    """float64 (d input, d filter) of _conv_ref for the output gradient dy."""
    kh, kw, _, _ = w.shape
    xp, oh, ow, pt, pl = _padded(x, kh, kw, s, padding)
    dy = dy.astype(np.float64)
    dxp, dw = np.zeros_like(xp), np.zeros(w.shape)
    for i in range(kh):
        for j in range(kw):
            dw[i, j] = np.tensordot(_tap(xp, i, j, s, oh, ow), dy, axes=([0, 1, 2], [0, 1, 2]))
            d = _tap(dxp, i, j, s, oh, ow)
            d += np.tensordot(dy, w[i, j].astype(np.float64), axes=(3, 1))
    return dxp[:, pt:pt + x.shape[1], pl:pl + x.shape[2]], dw


def _pool_ref(x):
    """2x2 max-pool, stride 2, of even-sized images."""
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _pool_grad_ref(x, dy):
    """Gradient of _pool_ref: each window's dy goes to its first maximum (row-major), as in TF."""
    n, h, w, c = x.shape
    x6 = x.reshape(n, h // 2, 2, w // 2, 2, c)
    y = x6.max(axis=(2, 4))
    dx6, taken = np.zeros(x6.shape), np.zeros(y.shape, bool)
    for a in range(2):
        for b in range(2):
            first = (x6[:, :, a, :, b] == y) & ~taken
            dx6[:, :, a, :, b] = np.where(first, dy, 0.0)
            taken |= first
    return dx6.reshape(x.shape)


def _adam_ref(w, m, v, g, t, lr, nesterov=False):
    """TF's Adam step t (1, 2, ...) in float64: (w, m, v) after it."""
    lr_t = lr * np.sqrt(1 - BETA2 ** t) / (1 - BETA1 ** t)
    m = m + (g - m) * (1 - BETA1)
    v = v + (g * g - v) * (1 - BETA2)
    num = BETA1 * m + (1 - BETA1) * g if nesterov else m
    return w - lr_t * num / (np.sqrt(v) + EPSILON), m, v


def _assert_adam_weights(got, ref, g_sure, lr):
    """An Adam step moves each weight by about lr * sign(g): where float32 knows the gradient's sign for
    sure (g_sure), the weight must match to a small fraction of lr; elsewhere it may differ by at most
    the two opposite steps."""
    np.testing.assert_allclose(got[g_sure], ref[g_sure], rtol=0, atol=1e-3 * lr)
    assert np.abs(got - ref).max() <= 2.001 * lr


# -- parallel_for
@pytest.mark.parametrize("n, grain, cap, count", [
    (10, 1, 3, 3), (10, 1, 2, 2), (10, 1, None, 3), (10, 4, 3, 2), (10, 6, 3, 1), (2, 1, 3, 2), (1, 1, 3, 1),
    (0, 1, 3, 1), (1000, 100, 64, 10)])
def test_parallel_for_ranges_are_consecutive_cover_n_and_honour_caps(threads, n, grain, cap, count):
    """Ranges tile [0, n) in order; their number is min(threads, n // grain) (1 when below 2); each
    holds at least `grain` items; results come back in range order whatever order ranges finish in."""
    threads(3)

    def fn(i, j):
        time.sleep(0.002 * (n - i) / max(n, 1))   # later ranges finish first
        return (i, j, threading.current_thread().name)
    out = parallel.parallel_for(fn, n, grain=grain, threads=cap)
    ranges = [(i, j) for i, j, _ in out]
    assert len(ranges) == count
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    if count > 1:
        assert all(j - i >= grain for i, j in ranges)
    assert out[0][2] == threading.current_thread().name   # the caller does the first range itself
    # the others: pool threads, or the caller when it gets to a range before any pool thread does
    assert all(name.startswith("nanotf-intra-op") or name == threading.current_thread().name
               for _, _, name in out[1:])


def test_parallel_for_runs_ranges_concurrently(threads):
    """With 3 threads, three ranges that each wait for the others to start all get through a barrier."""
    threads(3)
    barrier = threading.Barrier(3, timeout=10)
    assert parallel.parallel_for(lambda i, j: barrier.wait() >= 0, 3) == [True] * 3


@pytest.mark.parametrize("failing", [0, 1], ids=["caller-range", "worker-range"])
def test_parallel_for_raises_only_after_every_range_finished(threads, failing):
    """An exception of any range is re-raised in the caller, and only once the other (slow) ranges have
    finished: they may be writing into arrays the caller owns."""
    threads(3)
    finished = []

    def fn(i, j):
        if i == failing:
            raise KeyError("range %d failed" % i)
        time.sleep(0.2)
        finished.append(i)
    with pytest.raises(KeyError, match="range %d failed" % failing):
        parallel.parallel_for(fn, 3)
    assert sorted(finished) == sorted({0, 1, 2} - {failing})


def test_parallel_for_inside_a_pool_thread_runs_serially(threads):
    """A kernel that splits, called from a pool thread, runs its ranges in that thread (no deadlock
    waiting on a pool whose threads are all busy), and threads_for says 1 there."""
    threads(2)   # a single pool thread: a nested split that waited on it would never return
    second_started = threading.Event()

    def outer(i, j):
        if i == 0:   # the caller's range waits until the pool thread has taken the other one
            assert second_started.wait(10)
        else:
            second_started.set()
        inner = parallel.parallel_for(lambda a, b: (a, b, threading.current_thread().name), 10)
        return threading.current_thread().name, inner, parallel.threads_for(10 ** 12)

    results = _call_with_timeout(lambda: parallel.parallel_for(outer, 2))
    (_, caller_inner, caller_threads), (pool_name, pool_inner, pool_threads) = results
    assert pool_name.startswith("nanotf-intra-op")
    assert pool_inner == [(0, 10, pool_name)]
    assert pool_threads == 1
    assert [(a, b) for a, b, _ in caller_inner] == [(0, 5), (5, 10)]
    assert caller_threads == 2


def test_ranges_no_pool_thread_has_started_run_in_the_caller(threads):
    """No thread ever waits for a range that has not started: with every pool thread busy elsewhere (as
    when the machine is busy and the scheduler is slow to wake them), the caller runs all the ranges
    itself and returns; the pool thread, once free, finds nothing left to do."""
    threads(2)
    release, blocked = threading.Event(), threading.Event()
    parallel._get_pool().post(parallel._Job(lambda i, j: blocked.set() or release.wait(10), [0, 1, 2]), 1)
    try:
        assert blocked.wait(10)
        results = _call_with_timeout(lambda: parallel.parallel_for(
            lambda i, j: (i, j, threading.current_thread().name), 10), timeout=10)
    finally:
        release.set()
    assert [r[:2] for r in results] == [(0, 5), (5, 10)]
    callers = {r[2] for r in results}     # the thread _call_with_timeout made to call parallel_for
    assert len(callers) == 1 and not callers.pop().startswith("nanotf-intra-op")


def test_threads_for_splits_only_from_the_threshold(threads):
    threads(3)
    assert parallel.threads_for(parallel._MIN_SPLIT_MACS - 1) == 1
    assert parallel.threads_for(parallel._MIN_SPLIT_MACS) == 3


# -- matmul
@pytest.mark.parametrize("m, k, n, axis", [(400, 1000, 20, "rows"), (20, 1000, 400, "columns")])
def test_matmul_split_during_a_run_matches_float64(threads, spy, m, k, n, axis):
    """A big product (m >= n: split by rows, else by columns) during a run equals the float64 product."""
    threads(2)
    rng = np.random.default_rng(1)
    a, b = _f32(rng, m, k), _f32(rng, k, n)
    assert m * n * k >= parallel._MIN_SPLIT_MACS
    with _in_run() as began:
        assert began
        got = parallel.matmul(a, b)
    assert got.dtype == np.float32
    _assert_sums_close(got, *_matmul_ref(a, b))
    (name, count, ranges), = spy.split("matmul")
    assert count == (m if axis == "rows" else n) and len(ranges) == 2


@pytest.mark.parametrize("m, k, n", [(400, 1000, 20), (20, 1000, 400)])
def test_matmul_split_of_transposed_operands_into_out(threads, spy, m, k, n):
    """Transposed (non-contiguous) operands and a given `out`: the product lands in `out`, which is returned."""
    threads(2)
    rng = np.random.default_rng(2)
    at, bt = _f32(rng, k, m), _f32(rng, n, k)
    out = np.full((m, n), np.nan, np.float32)
    with _in_run():
        got = parallel.matmul(at.T, bt.T, out=out)
    assert got is out
    _assert_sums_close(out, *_matmul_ref(at.T, bt.T))
    assert len(spy.split("matmul")) == 1


def test_matmul_split_of_integers_and_mixed_dtypes(threads, spy):
    """Integer products are exact; float32 @ float64 is computed (and returned) in float64."""
    threads(3)
    rng = np.random.default_rng(3)
    a, b = rng.integers(-50, 50, (300, 500)), rng.integers(-50, 50, (500, 40))
    with _in_run():
        got = parallel.matmul(a, b)
        mixed = parallel.matmul(a.astype(np.float32), b.astype(np.float64) / 7)
    np.testing.assert_array_equal(got, a @ b)
    assert mixed.dtype == np.float64
    np.testing.assert_allclose(mixed, (a @ b) / 7, rtol=1e-12, atol=1e-9)
    assert len(spy.split("matmul")) == 2


def test_matmul_outside_a_run_is_plain_and_right(threads, spy):
    """Outside a run (BLAS threads itself there) the product is not split, and still right."""
    threads(2)
    rng = np.random.default_rng(4)
    a, b = _f32(rng, 400, 1000), _f32(rng, 1000, 20)
    out = np.empty((400, 20), np.float32)
    assert parallel.matmul(a, b, out=out) is out
    _assert_sums_close(out, *_matmul_ref(a, b))
    assert spy.calls == []


def test_matmul_below_the_threshold_is_not_split(threads, spy):
    threads(2)
    rng = np.random.default_rng(5)
    a, b = _f32(rng, 100, 100), _f32(rng, 100, 100)
    with _in_run():
        got = parallel.matmul(a, b)
    _assert_sums_close(got, *_matmul_ref(a, b))
    assert spy.calls == []


# -- split_elementwise
def _recording(kernel):
    """A kernel called with out= that also records the shapes (and identities) of each call's arguments,
    `out` last."""
    calls = []

    def recorded(*args, out=None):
        calls.append([(np.shape(a), id(a)) for a in args + (out,)])
        return kernel(*args, out=out)
    recorded.calls = calls
    return recorded


def _add(a, b, out=None):
    """Like nanotf's Add kernel: into `out` when the result has its shape, else a new array."""
    if out is None:
        return np.add(a, b)
    try:
        return np.add(a, b, out=out)
    except ValueError:
        return np.add(a, b)


BIG = 1 << 19   # parallel._MIN_SPLIT_ELEMENTS, checked below


@pytest.mark.parametrize("shape, operand_shape", [
    ((1024, 512), (512,)),            # a bias
    ((1024, 512), (1, 512)),          # a row broadcast along axis 0
    ((1024, 512), (1024, 1)),         # a column: sliced with x
    ((1024, 512), (1024, 512)),       # same shape: sliced with x
    ((64, 16, 16, 32), (32,)),        # an NHWC activation and its bias
], ids=["bias", "row", "column", "same-shape", "nhwc-bias"])
def test_split_elementwise_writes_into_out_and_matches_float64(threads, shape, operand_shape):
    """x + y into x, split over 2 threads: written into x (which is returned), operands broadcast along
    axis 0 passed whole to every part, the others sliced like x."""
    assert BIG == parallel._MIN_SPLIT_ELEMENTS
    threads(2)
    rng = np.random.default_rng(6)
    x, y = _f32(rng, *shape), _f32(rng, *operand_shape)
    ref = x.astype(np.float64) + y
    kernel = _recording(_add)
    with _in_run():
        got = parallel.split_elementwise(kernel)(x, y, out=x)
    assert got is x
    np.testing.assert_allclose(x, ref, rtol=1e-6, atol=1e-6)
    assert len(kernel.calls) == 2
    n = shape[0]
    sliced = len(operand_shape) == len(shape) and operand_shape[0] == n
    for (xs, _), (ys, yid), (outs, _) in kernel.calls:
        assert xs == outs == (n // 2,) + shape[1:]
        if sliced:
            assert ys == (n // 2,) + operand_shape[1:]
        else:
            assert yid == id(y)


def test_split_elementwise_into_a_later_argument(threads):
    """`out` may be any argument: here b - x into x (argument 1), x sliced, b whole."""
    threads(2)
    rng = np.random.default_rng(7)
    b, x = _f32(rng, 512), _f32(rng, 1024, 512)
    ref = b.astype(np.float64) - x
    kernel = _recording(lambda b, x, out: np.subtract(b, x, out=out))
    with _in_run():
        assert parallel.split_elementwise(kernel)(b, x, out=x) is x
    np.testing.assert_allclose(x, ref, rtol=1e-6, atol=1e-6)
    assert [call[0][0] for call in kernel.calls] == [(512,), (512,)]


def test_split_elementwise_falls_back_when_broadcasting_enlarges_out(threads):
    """When y broadcasts x to a larger result, the plain kernel runs once and its new array is returned."""
    threads(2)
    rng = np.random.default_rng(8)
    x, y = _f32(rng, 1, BIG), _f32(rng, 3, 1)
    ref = x.astype(np.float64) + y
    kernel = _recording(_add)
    with _in_run():
        got = parallel.split_elementwise(kernel)(x, y, out=x)
    assert got.shape == (3, BIG)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)
    assert [[s for s, _ in call] for call in kernel.calls] == [[(1, BIG), (3, 1), (1, BIG)]]


def test_split_elementwise_of_integers_is_exact(threads):
    threads(3)
    rng = np.random.default_rng(9)
    x, y = rng.integers(-1000, 1000, (2048, 256), dtype=np.int32), rng.integers(-1000, 1000, 256, dtype=np.int32)
    ref = x.astype(np.int64) * y
    kernel = _recording(lambda a, b, out: np.multiply(a, b, out=out))
    with _in_run():
        assert parallel.split_elementwise(kernel)(x, y, out=x) is x
    np.testing.assert_array_equal(x, ref)
    assert len(kernel.calls) == 3


def test_split_elementwise_does_not_split_small_arrays_calls_without_out_or_outside_runs(threads):
    threads(2)
    rng = np.random.default_rng(10)
    small, big, fresh = _f32(rng, 1023, 512), _f32(rng, 1024, 512), _f32(rng, 1024, 512)
    ref_small, ref_big, ref_fresh = np.maximum(small, 0), np.maximum(big, 0), np.maximum(fresh, 0)
    kernel = _recording(lambda x, out: np.maximum(x, 0, out=out))
    with _in_run():
        parallel.split_elementwise(kernel)(small, out=small)
        got_fresh = parallel.split_elementwise(kernel)(fresh)
    parallel.split_elementwise(kernel)(big, out=big)
    assert [call[0][0] for call in kernel.calls] == [(1023, 512), (1024, 512), (1024, 512)]
    np.testing.assert_array_equal(small, ref_small)
    np.testing.assert_array_equal(big, ref_big)
    np.testing.assert_array_equal(got_fresh, ref_fresh)


def test_nchw_bias_add_in_a_plan_that_splits_work(threads):
    """bias_add(data_format='NCHW') on a big fresh array, in a plan with a convolution, adds b per channel."""
    threads(2)
    rng = np.random.default_rng(11)
    x, w, b = _f32(rng, 16, 16, 64, 3), _f32(rng, 3, 3, 3, 32), _f32(rng, 32)
    with tf.Graph().as_default(), tf.Session() as sess:
        xt = tf.placeholder(tf.float32, x.shape)
        y = tf.nn.conv2d(xt, tf.constant(w), [1, 1, 1, 1], "SAME")
        y = tf.nn.relu(tf.transpose(y, [0, 3, 1, 2]))          # (16, 32, 16, 64): 2^19 fresh elements
        got = sess.run(tf.nn.bias_add(y, tf.constant(b), data_format="NCHW"), {xt: x})
    ref = np.maximum(_conv_ref(x, w), 0).transpose(0, 3, 1, 2) + b[:, None, None]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


# -- BLAS threads during runs
def test_run_begin_makes_blas_single_threaded_until_run_end(threads, blas):
    threads(2)
    with _in_run() as splits:
        assert splits
        assert blas.now() == blas.single
    assert blas.now() == blas.before
    assert parallel._runs == 0


def test_nested_runs_restore_blas_threads_at_the_last_end(threads, blas):
    """Runs overlapping (Sessions in several threads): BLAS stays at 1 thread until the last one ends."""
    threads(2)
    first = parallel.run_begin(True)
    second = parallel.run_begin(True)
    assert first and second and blas.now() == blas.single
    parallel.run_end(first)
    assert blas.now() == blas.single
    parallel.run_end(second)
    assert blas.now() == blas.before
    assert parallel._runs == 0


@pytest.mark.parametrize("splits_work", [True, False], ids=["conv-plan", "dense-plan"])
def test_one_thread_set_by_the_user_splits_nothing(threads, blas, spy, splits_work):
    """With 1 intra-op thread asked for, a run splits nothing and BLAS runs 1 thread too (TF's
    intra_op_parallelism_threads=1 idiom for a single-threaded run); the count comes back after."""
    threads(1)
    splits = parallel.run_begin(splits_work)
    try:
        assert splits is False
        assert parallel._runs == 1 and not parallel.splitting()
        assert blas.now() == blas.single
        rng = np.random.default_rng(12)
        a, b = _f32(rng, 400, 1000), _f32(rng, 1000, 20)
        _assert_sums_close(parallel.matmul(a, b), *_matmul_ref(a, b))
    finally:
        parallel.run_end(splits)
    assert blas.now() == blas.before
    assert spy.calls == []


def _conv_graph(channels=1):
    """(input placeholder, conv + bias + relu output, filter, bias): 5x5 SAME convolution to 32 channels."""
    rng = np.random.default_rng(13)
    w, b = _f32(rng, 5, 5, channels, 32, scale=0.2), _f32(rng, 32, scale=0.1)
    x = tf.placeholder(tf.float32, [None, None, None, None])
    return x, tf.nn.relu(tf.nn.conv2d(x, tf.constant(w), [1, 1, 1, 1], "SAME") + b), w, b


def test_session_run_of_a_conv_graph_runs_blas_single_threaded(threads, blas, monkeypatch):
    """Inside Session.run of a plan with a convolution, BLAS runs 1 thread (seen from the conv kernel's
    split); before and after, the count set outside (3) holds."""
    threads(2)
    spy = _SplitSpy(parallel.parallel_for, blas)
    monkeypatch.setattr(parallel, "parallel_for", spy)
    rng = np.random.default_rng(14)
    xv = rng.random((50, 28, 28, 1), dtype=np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        x, y, w, b = _conv_graph()
        got = sess.run(y, {x: xv})
    assert blas.now() == blas.before
    np.testing.assert_allclose(got, np.maximum(_conv_ref(xv, w) + b, 0), rtol=1e-4, atol=1e-5)
    assert spy.split("conv_blocks")
    assert all(blas_seen == blas.single for _, _, _, blas_seen in spy.calls)


def test_session_run_that_raises_restores_blas_threads(threads, blas):
    """A run of a conv plan that fails in a kernel (input depth 3 vs a filter for depth 1) re-raises, and
    BLAS threads and the run count are back to what they were."""
    threads(2)
    with tf.Graph().as_default(), tf.Session() as sess:
        x, y, _, _ = _conv_graph()
        with pytest.raises(tf.errors.OpError, match="depth"):
            sess.run(y, {x: np.zeros((50, 28, 28, 3), np.float32)})
    assert blas.now() == blas.before
    assert parallel._runs == 0


def _blas_seen_by_matmul(monkeypatch, blas):
    """Patches parallel.matmul (what MatMul kernels call) to record the BLAS thread count it runs under."""
    seen, real = [], parallel.matmul
    monkeypatch.setattr(parallel, "matmul", lambda a, b, out=None: seen.append(blas.now()) or real(a, b, out))
    return seen


def _dense_run():
    """A 40M multiply-add product: above the split threshold, quiet or busy."""
    rng = np.random.default_rng(15)
    a, b = _f32(rng, 400, 1000), _f32(rng, 1000, 100)
    assert a.size * b.shape[1] >= max(parallel._MIN_SPLIT_MACS, parallel._MIN_SPLIT_MACS_BUSY)
    with tf.Graph().as_default(), tf.Session() as sess:
        at = tf.placeholder(tf.float32, a.shape)
        got = sess.run(tf.matmul(at, tf.constant(b)), {at: a})
    _assert_sums_close(got, *_matmul_ref(a, b))


@pytest.mark.parametrize("busy, count", [(False, 0), (False, 2), (True, 0), (True, 2)],
                         ids=["quiet-default", "quiet-set-by-user", "busy-default", "busy-set-by-user"])
def test_dense_plans_keep_blas_threads_only_on_a_quiet_machine(threads, blas, spy, monkeypatch, quiet_machine,
                                                               busy, count):
    """A plan without convolutions, on a quiet machine, leaves BLAS its own threads (its spinning threads
    serve small products best), capped by a thread count the user set (2 of the 3 here), and splits
    nothing itself. While other processes keep the machine busy, the same plan runs BLAS at 1 thread
    and splits its big product over nanotf's pool. Either way BLAS gets its 3 back afterwards."""
    monkeypatch.delenv("NANOTF_NUM_THREADS", raising=False)
    threads(count)
    monkeypatch.setattr(quiet_machine, "busy", busy)
    seen = _blas_seen_by_matmul(monkeypatch, blas)
    _dense_run()
    if busy:
        assert seen == [blas.single]
    else:
        assert seen == [[min(b, count or b) for b in blas.before]]
    assert blas.now() == blas.before and parallel._runs == 0
    assert bool(spy.split("matmul")) == (busy and parallel.num_threads() >= 2)


# -- convolutions split over threads vs float64 references
@pytest.mark.parametrize("x_shape, w_shape, stride, padding", [
    ((50, 28, 28, 1), (5, 5, 1, 32), 1, "SAME"),      # Deep MNIST conv1: groups of images per thread
    ((50, 14, 14, 32), (5, 5, 32, 64), 1, "SAME"),    # Deep MNIST conv2
    ((3, 64, 64, 32), (5, 5, 32, 16), 1, "SAME"),     # images too big for one block: row bands
    ((16, 33, 33, 8), (3, 3, 8, 16), 2, "SAME"),      # strided: the input gradient goes tap by tap
    ((16, 33, 33, 8), (4, 4, 8, 16), 2, "VALID"),
], ids=["mnist-conv1", "mnist-conv2", "row-bands", "stride2-same", "stride2-valid"])
def test_conv_and_its_gradients_split_over_threads_match_float64(threads, spy, x_shape, w_shape, stride, padding):
    """Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter (split over 3 threads, the filter gradient
    summed over per-thread parts) equal float64 tap-by-tap references."""
    threads(3)
    rng = np.random.default_rng(16)
    x, w = _f32(rng, *x_shape), _f32(rng, *w_shape, scale=0.2)
    with _reference_blas():
        y_ref = _conv_ref(x, w, stride, padding)
        dy = _f32(rng, *y_ref.shape)
        dx_ref, dw_ref = _conv_grads_ref(x, w, dy, stride, padding)
        y_mag = _conv_ref(np.abs(x), np.abs(w), stride, padding)
        dx_mag, dw_mag = _conv_grads_ref(np.abs(x), np.abs(w), np.abs(dy), stride, padding)
    with tf.Graph().as_default(), tf.Session() as sess:
        xt, wt, dyt = (tf.placeholder(tf.float32, a.shape) for a in (x, w, dy))
        y = tf.nn.conv2d(xt, wt, [1, stride, stride, 1], padding)
        dx, dw = tf.gradients(y, [xt, wt], grad_ys=dyt)
        got_y, got_dx, got_dw = sess.run([y, dx, dw], {xt: x, wt: w, dyt: dy})
    kh, kw, c, o = w_shape
    _assert_sums_close(got_y, y_ref, y_mag, kh * kw * c, what="output")
    _assert_sums_close(got_dx, dx_ref, dx_mag, kh * kw * o, what="input gradient")
    _assert_sums_close(got_dw, dw_ref, dw_mag, int(np.prod(y_ref.shape[:3])), what="filter gradient")
    kernels = [name for name, _, _ in spy.split()]
    assert len(kernels) >= 3, kernels   # forward, input and filter gradient all split


# -- Deep MNIST end to end
MNIST_SHAPES = {"W_conv1": (5, 5, 1, 32), "b_conv1": (32,), "W_conv2": (5, 5, 32, 64), "b_conv2": (64,),
                "W_fc1": (3136, 1024), "b_fc1": (1024,), "W_fc2": (1024, 10), "b_fc2": (10,)}


@pytest.fixture(scope="module")
def mnist():
    """Initial weights (as the tutorial draws them), a batch of 50 random images and labels, and the
    float64 reference loss and gradients of the tutorial's network (dropout removed)."""
    rng = np.random.default_rng(17)
    params = {k: (np.full(s, 0.1, np.float32) if k.startswith("b") else
                  (np.clip(rng.standard_normal(s), -2, 2) * 0.1).astype(np.float32)) for k, s in MNIST_SHAPES.items()}
    x = rng.random((50, 784), dtype=np.float32)
    labels = rng.integers(0, 10, 50)
    with _reference_blas():
        loss, grads = _deep_mnist_ref(params, x, labels)
    return params, x, labels, loss, grads


def _deep_mnist_ref(params, x, labels):
    """float64 forward and backward pass of the Deep MNIST network: (mean cross-entropy, gradients)."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    n = x.shape[0]
    img = x.reshape(n, 28, 28, 1).astype(np.float64)
    h1 = np.maximum(_conv_ref(img, p["W_conv1"]) + p["b_conv1"], 0)
    p1 = _pool_ref(h1)
    h2 = np.maximum(_conv_ref(p1, p["W_conv2"]) + p["b_conv2"], 0)
    p2 = _pool_ref(h2)
    flat = p2.reshape(n, -1)
    h3 = np.maximum(flat @ p["W_fc1"] + p["b_fc1"], 0)
    logits = h3 @ p["W_fc2"] + p["b_fc2"]
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(n), labels].mean()
    g = {}
    dlogits = np.exp(logp)
    dlogits[np.arange(n), labels] -= 1
    dlogits /= n
    g["W_fc2"], g["b_fc2"] = h3.T @ dlogits, dlogits.sum(0)
    dz3 = (dlogits @ p["W_fc2"].T) * (h3 > 0)
    g["W_fc1"], g["b_fc1"] = flat.T @ dz3, dz3.sum(0)
    dz2 = _pool_grad_ref(h2, (dz3 @ p["W_fc1"].T).reshape(p2.shape)) * (h2 > 0)
    dp1, g["W_conv2"] = _conv_grads_ref(p1, p["W_conv2"], dz2)
    g["b_conv2"] = dz2.sum((0, 1, 2))
    dz1 = _pool_grad_ref(h1, dp1) * (h1 > 0)
    _, g["W_conv1"] = _conv_grads_ref(img, p["W_conv1"], dz1)
    g["b_conv1"] = dz1.sum((0, 1, 2))
    return loss, g


def _deep_mnist(params, lr=1e-4):
    """The tutorial's network (conv 5x5 1->32, pool, conv 5x5 32->64, pool, fc 3136->1024 relu, fc ->10,
    softmax cross-entropy, Adam) without dropout, in the current graph: (x, labels, variables, loss, train)."""
    x, y_ = tf.placeholder(tf.float32, [None, 784]), tf.placeholder(tf.int64, [None])
    v = {k: tf.Variable(a, name=k) for k, a in params.items()}
    conv = lambda h, w: tf.nn.conv2d(h, w, strides=[1, 1, 1, 1], padding="SAME")
    pool = lambda h: tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
    h = pool(tf.nn.relu(conv(tf.reshape(x, [-1, 28, 28, 1]), v["W_conv1"]) + v["b_conv1"]))
    h = pool(tf.nn.relu(conv(h, v["W_conv2"]) + v["b_conv2"]))
    h = tf.nn.relu(tf.matmul(tf.reshape(h, [-1, 7 * 7 * 64]), v["W_fc1"]) + v["b_fc1"])
    logits = tf.matmul(h, v["W_fc2"]) + v["b_fc2"]
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_, logits=logits))
    opt = tf.train.AdamOptimizer(lr)
    return x, y_, v, loss, opt, opt.minimize(loss)


def _assert_grad(name, got, ref):
    # float32 sums of up to 50*28*28 products: measured within 2e-8 of the gradient's scale
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max(), err_msg=name)


@pytest.mark.parametrize("n_threads", [1, 3])
def test_deep_mnist_loss_and_gradients_match_float64(threads, spy, mnist, n_threads):
    """The loss and every gradient of the network, with 1 thread (nothing split) and with 3 (convs, their
    gradients, pooling gradients, in-place steps and the fc products split), equal the float64 reference."""
    threads(n_threads)
    params, xv, labels, loss_ref, grads_ref = mnist
    with tf.Graph().as_default(), tf.Session() as sess:
        x, y_, v, loss, _, _ = _deep_mnist(params)
        sess.run(tf.global_variables_initializer())
        names = sorted(v)
        got_loss, *got = sess.run([loss] + tf.gradients(loss, [v[k] for k in names]), {x: xv, y_: labels})
    np.testing.assert_allclose(got_loss, loss_ref, rtol=1e-5)
    for name, g in zip(names, got):
        _assert_grad(name, g, grads_ref[name])
    split = " ".join(name for name, _, _ in spy.split())
    if n_threads == 1:
        assert split == ""
    else:
        for part in ("conv_blocks", "filter_grad", "input_grad", "max_pool_grad", "split_elementwise", "matmul"):
            assert part in split, (part, split)


def test_deep_mnist_training_step_with_1_and_3_threads_matches_adam(threads, spy, monkeypatch, mnist):
    """One Adam step of the network, with 1 and with 3 threads: the loss, the Adam slots and the updated
    weights each equal Adam's closed form applied to the float64 reference gradients (never each other:
    the two runs sum in different orders); W_fc1's update is the fused, banded one (its gradient matmul
    never materialized)."""
    params, xv, labels, loss_ref, grads_ref = mnist
    lr = 1e-4
    bands = []
    monkeypatch.setattr(training_ops, "_band_buffers",
                        lambda *a, _orig=training_ops._band_buffers: bands.append(a[1]) or _orig(*a))
    results = {}
    for n in (1, 3):
        threads(n)
        with tf.Graph().as_default(), tf.Session() as sess:
            x, y_, v, loss, opt, train = _deep_mnist(params, lr)
            sess.run(tf.global_variables_initializer())
            got_loss, _ = sess.run([loss, train], {x: xv, y_: labels})
            slots = {k: (opt.get_slot(v[k], "m"), opt.get_slot(v[k], "v")) for k in v}
            results[n] = got_loss, sess.run(v), sess.run(slots)
    assert bands and all(shape[1] == 1024 for shape in bands)   # W_fc1 went through the banded update
    assert spy.split("bands")
    loss1, w1, s1 = results[1]
    loss3, w3, s3 = results[3]
    np.testing.assert_allclose(loss1, loss_ref, rtol=1e-5)
    np.testing.assert_allclose(loss3, loss_ref, rtol=1e-5)
    for k, g in grads_ref.items():
        ref_w, ref_m, ref_v = _adam_ref(params[k].astype(np.float64), 0, 0, g, 1, lr)
        sure = np.abs(g) >= 1e-3 * np.abs(g).max()
        for w, s in ((w1, s1), (w3, s3)):
            m, vv = s[k]
            np.testing.assert_allclose(m, ref_m, rtol=1e-4, atol=1e-6 * np.abs(ref_m).max(), err_msg=k)
            np.testing.assert_allclose(vv, ref_v, rtol=2e-4, atol=2e-6 * np.abs(ref_v).max(), err_msg=k)
            _assert_adam_weights(w[k], ref_w, sure, lr)


# -- ApplyAdam fused with its gradient's MatMul
def _dense_adam_case(shape, lr, nesterov, steps=2):
    """Adam steps on W (rows, cols) of 0.5 * |X @ W - T|^2 (gradient X^T @ (X W - T), a MatMul with
    transpose_a fused into ApplyAdam), X and T fed. Returns per step (W, m, v) and float64 references:
    (W, m, v, where float32 surely has the gradients' signs), the gradient taken at the W reached."""
    rows, cols = shape
    rng = np.random.default_rng(18)
    xv, tv, w0 = _f32(rng, 8, rows), _f32(rng, 8, cols), _f32(rng, rows, cols, scale=0.05)
    got = []
    with tf.Graph().as_default(), tf.Session() as sess:
        x, t = tf.placeholder(tf.float32, [None, rows]), tf.placeholder(tf.float32, [None, cols])
        w = tf.Variable(w0)
        loss = 0.5 * tf.reduce_sum(tf.square(tf.matmul(x, w) - t))
        grad, = tf.gradients(loss, [w])
        assert grad.op.type == "MatMul" and grad.op.get_attr("transpose_a")
        m = tf.Variable(np.zeros(shape, np.float32))
        v = tf.Variable(np.zeros(shape, np.float32))
        b1p, b2p = tf.placeholder(tf.float32, []), tf.placeholder(tf.float32, [])
        train = training_ops.apply_adam(w._variable, m._variable, v._variable, b1p, b2p, tf.constant(lr, tf.float32),
                                        tf.constant(BETA1, tf.float32), tf.constant(BETA2, tf.float32),
                                        tf.constant(EPSILON, tf.float32), grad, use_nesterov=nesterov)
        sess.run(tf.global_variables_initializer())
        for step in range(1, steps + 1):
            sess.run(train, {x: xv, t: tv, b1p: BETA1 ** step, b2p: BETA2 ** step})
            got.append(sess.run([w, m, v]))
    refs, sure = [], np.ones(shape, bool)
    rm, rv = 0.0, 0.0
    x64 = xv.astype(np.float64)
    for step, at in zip(range(1, steps + 1), [w0] + [w for w, _, _ in got]):
        at = at.astype(np.float64)
        g = x64.T @ (x64 @ at - tv)
        sure &= np.abs(g) >= 1e-4 * np.abs(g).max()
        rw, rm, rv = _adam_ref(at, rm, rv, g, step, lr, nesterov)
        refs.append((rw, rm, rv, sure.copy()))
    return got, refs


@pytest.mark.parametrize("splitting", [True, False], ids=["split-run", "one-thread-run"])
@pytest.mark.parametrize("nesterov", [False, True], ids=["adam", "nesterov"])
@pytest.mark.parametrize("shape", [(600, 1024), (100, 64)], ids=["banded", "small"])
def test_fused_adam_matches_closed_form(threads, spy, monkeypatch, shape, nesterov, splitting):
    """ApplyAdam fused with its gradient's MatMul: in a run that splits work (2 threads), a variable bigger
    than _ADAM_BLOCK is updated band by band (bands split over 2 threads, the last band of each thread
    partial); a small one, or any in a single-threaded run, in one go. After each of two steps W, m and v
    equal Adam's closed form on the float64 gradient."""
    threads(2 if splitting else 1)
    # dense plans split only on a busy machine: busy, and no new sample of the machine's load during the test
    monkeypatch.setattr(parallel._neighbours, "busy", True)
    monkeypatch.setattr(parallel._neighbours, "next_check", float("inf"))
    bands = []
    monkeypatch.setattr(training_ops, "_band_buffers",
                        lambda *a, _orig=training_ops._band_buffers: bands.append(a) or _orig(*a))
    lr = 0.005   # big enough that the second step's gradient differs clearly from the first one's
    got, refs = _dense_adam_case(shape, lr, nesterov)
    for (w, m, v), (rw, rm, rv, sure) in zip(got, refs):
        np.testing.assert_allclose(m, rm, rtol=1e-4, atol=1e-6 * np.abs(rm).max())
        np.testing.assert_allclose(v, rv, rtol=2e-4, atol=2e-6 * np.abs(rv).max())
        _assert_adam_weights(w, rw, sure, lr)
    banded = shape[0] * shape[1] > training_ops._ADAM_BLOCK and splitting
    if banded:
        rows = training_ops._ADAM_BLOCK // shape[1]
        assert rows < shape[0] // 2 < shape[0]   # each thread's share ends in a partial band
        assert {(a[0], a[1]) for a in bands} == {(3 if nesterov else 2, (rows, shape[1]))}
        assert [r for name, _, r in spy.split("bands")] == [[(0, 300), (300, 600)]] * 2
    else:
        assert bands == [] and spy.split("bands") == []


def test_fused_adam_is_used_for_a_dense_layer(threads):
    """The plan of a dense layer's Adam step has no separate MatMul kernel for the weight gradient."""
    threads(2)
    rng = np.random.default_rng(19)
    with tf.Graph().as_default(), tf.Session() as sess:
        x = tf.placeholder(tf.float32, [None, 600])
        w = tf.Variable(_f32(rng, 600, 1024, scale=0.05))
        loss = tf.reduce_sum(tf.square(tf.matmul(x, w)))
        train = tf.train.AdamOptimizer(0.01).minimize(loss)
        sess.run(tf.global_variables_initializer())
        sess.run(train, {x: _f32(rng, 8, 600)})
        plan, = [p for p in sess._plans.values() if any(op.type == "ApplyAdam" for op in p.ops)]
    kernels = [getattr(f, "__qualname__", "") for k, f in plan.fn.__globals__.items() if k.startswith("k")]
    assert any("adam_of_matmul" in k for k in kernels), kernels
    assert sum(1 for op in plan.ops if op.type == "MatMul") == 2          # forward and weight gradient
    assert sum(1 for k in kernels if "matmul" in k.lower() and "adam" not in k) == 1   # only the forward runs alone


def test_fused_adam_gradients_read_variables_before_any_update(threads):
    """Matrix factorization U @ V ~ T with Adam: V's gradient U^T (U V - T) must use U before this step's
    update (as TF, whose gradients are all computed before any ApplyAdam)."""
    threads(2)
    rng = np.random.default_rng(20)
    u0, v0, t = _f32(rng, 64, 600), _f32(rng, 600, 1024, scale=0.05), _f32(rng, 64, 1024)
    lr = 0.5
    with tf.Graph().as_default(), tf.Session() as sess:
        u, v = tf.Variable(u0, name="U"), tf.Variable(v0, name="V")
        r = tf.matmul(u, v) - tf.constant(t)
        train = tf.train.AdamOptimizer(lr).minimize(0.5 * tf.reduce_sum(r * r))
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        got_v = sess.run(v)
    u64, v64 = u0.astype(np.float64), v0.astype(np.float64)
    g = u64.T @ (u64 @ v64 - t)
    ref_v, _, _ = _adam_ref(v64, 0, 0, g, 1, lr)
    _assert_adam_weights(got_v, ref_v, np.abs(g) >= 1e-3 * np.abs(g).max(), lr)


# -- sum_to_shape
@pytest.mark.parametrize("shape", [(32,), (1, 1, 1, 32), (28, 32), (1, 28, 1, 32), (50, 1, 28, 1)])
@pytest.mark.parametrize("layout", ["contiguous", "strided", "fortran"])
def test_sum_to_shape_matches_float64(shape, layout):
    """A (50, 28, 28, 32) float32 gradient summed down to `shape`: leading axes of a C-contiguous array
    by one GEMV, the rest (other axes, strided or Fortran-ordered input) by NumPy's sum."""
    rng = np.random.default_rng(21)
    g = rng.random((50, 28, 28, 64 if layout == "strided" else 32), dtype=np.float32) - 0.25
    g = {"contiguous": g, "strided": g[..., ::2], "fortran": np.asfortranarray(g)}[layout]
    assert g.shape == (50, 28, 28, 32) and g.flags.c_contiguous == (layout == "contiguous")
    extra = g.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(i + extra for i, d in enumerate(shape) if d == 1)
    g64 = g.astype(np.float64)
    got = sum_to_shape(g, shape)
    assert got.shape == shape and got.dtype == np.float32
    terms = g.size // int(np.prod(shape))
    _assert_sums_close(got, g64.sum(axis=axes).reshape(shape), np.abs(g64).sum(axis=axes).reshape(shape), terms)


def test_sum_to_shape_of_float64_by_gemv():
    """A C-contiguous float64 gradient goes through the GEMV too, and stays float64."""
    rng = np.random.default_rng(22)
    g = rng.random((20, 14, 14, 32)) - 0.25
    got = sum_to_shape(g, (1, 1, 32))
    assert got.shape == (1, 1, 32) and got.dtype == np.float64
    np.testing.assert_allclose(got, g.sum(axis=(0, 1, 2)).reshape(1, 1, 32), rtol=1e-12, atol=1e-10)


def test_sum_to_shape_of_an_empty_gradient():
    got = sum_to_shape(np.zeros((0, 4, 3), np.float32), (3,))
    np.testing.assert_array_equal(got, np.zeros(3, np.float32))


# -- configuration: the number of threads
@pytest.fixture
def fresh_default(monkeypatch, threads):
    """The resolved thread count forgotten, so that NANOTF_NUM_THREADS is read again (restored after)."""
    threads(0)
    monkeypatch.setattr(parallel, "_threads", None)
    return monkeypatch


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_nanotf_num_threads_rejects_bad_values(fresh_default, value):
    fresh_default.setenv("NANOTF_NUM_THREADS", value)
    with pytest.raises(ValueError, match="NANOTF_NUM_THREADS"):
        parallel.num_threads()


@pytest.mark.parametrize("value, expected", [
    ("0", len(os.sched_getaffinity(0))), ("", len(os.sched_getaffinity(0))), (" 3 ", 3), ("1000", 64)])
def test_nanotf_num_threads_sets_the_default(fresh_default, value, expected):
    """"0" (or empty) means one thread per core this process may use; counts are capped at 64."""
    fresh_default.setenv("NANOTF_NUM_THREADS", value)
    assert parallel.num_threads() == expected


def test_set_intra_op_parallelism_threads_overrides_the_environment(fresh_default):
    fresh_default.setenv("NANOTF_NUM_THREADS", "3")
    tf.config.threading.set_intra_op_parallelism_threads(2)
    assert parallel.num_threads() == 2 and tf.config.threading.get_intra_op_parallelism_threads() == 2
    tf.config.threading.set_intra_op_parallelism_threads(0)
    assert parallel.num_threads() == 3
    with pytest.raises(ValueError):
        parallel.set_intra_op_parallelism_threads(-1)


@pytest.mark.skipif("intra_op" not in inspect.getsource(session_module),
                    reason="this nanotf's Session ignores ConfigProto.intra_op_parallelism_threads")
def test_config_proto_intra_op_parallelism_threads(threads, spy):
    """Session(config=ConfigProto(intra_op_parallelism_threads=1)) runs a conv graph without splitting;
    a later Session with 2 splits it; both give the float64 convolution."""
    rng = np.random.default_rng(23)
    xv = rng.random((50, 28, 28, 1), dtype=np.float32)
    for n in (1, 2):
        with tf.Graph().as_default(), \
                tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=n)) as sess:
            assert parallel.num_threads() == n
            x, y, w, b = _conv_graph()
            got = sess.run(y, {x: xv})
        np.testing.assert_allclose(got, np.maximum(_conv_ref(xv, w) + b, 0), rtol=1e-4, atol=1e-5)
        assert bool(spy.split("conv")) == (n == 2)
    with tf.Session(config=tf.ConfigProto()):   # 0: leaves the current setting alone
        assert parallel.num_threads() == 2


def test_setting_the_same_thread_count_keeps_the_pool(threads):
    """Every Session made with the same ConfigProto sets the count again: the running pool must stay
    (retiring it could fail a concurrent run's submissions)."""
    threads(2)
    parallel.parallel_for(lambda i, j: None, 2)
    pool = parallel._pool
    parallel.set_intra_op_parallelism_threads(2)
    assert parallel._pool is pool and pool is not None


def test_ranges_posted_to_a_retired_pool_run_in_the_caller(threads, monkeypatch):
    """If the pool is retired between _get_pool() and the post (the count changed in another thread),
    its threads never take the job: the caller runs every range, once."""
    threads(3)

    class Retired:
        def post(self, job, count):
            pass
    monkeypatch.setattr(parallel, "_get_pool", lambda: Retired())
    seen = []
    results = _call_with_timeout(lambda: parallel.parallel_for(lambda i, j: seen.append((i, j)) or (i, j), 9))
    assert sorted(seen) == [(0, 3), (3, 6), (6, 9)] and results == [(0, 3), (3, 6), (6, 9)]
