"""The fast paths of elementwise, bias and optimizer kernels, against float64 references.

Each fast path (softplus through log1p, sigmoid as 1 / (1 + e^-x) with its far-negative tail, BiasAdd in
flat chunks against a tiled bias, BiasAddGrad as a BLAS product with ones, Adam's banded update split over
the threads in a run that leaves BLAS its own threads) is taken only above some size or for some dtypes:
the inputs here are big enough to take it. Tolerances follow float32's rounding: a few ulp for one
elementwise formula, sqrt(n) * eps relative to the sum of magnitudes for a sum of n terms.
"""
import numpy as np
import pytest

import nanotf as tf
from nanotf.framework import parallel
from nanotf.ops import nn_ops
from nanotf.training import training_ops

pytestmark = pytest.mark.usefixtures("fresh_graph")

EPS32 = np.finfo(np.float32).eps


def _run(fetch, feed=None):
    with tf.Session() as sess:
        return sess.run(fetch, feed)


def _spread(rng, shape, dtype):
    """Values from -800 to 120 (both exp tails, both underflow limits), with the special points."""
    special = [0.0, -0.0, 1e-30, -1e-30, 20.0, -20.0, 88.7, -87.3, -87.4, -88.8, -103.0, -104.0, -708.0, -746.0]
    x = np.concatenate([special, rng.uniform(-800, 120, int(np.prod(shape)) - len(special))])
    return x.reshape(shape).astype(dtype)


def _softplus64(x):
    x = x.astype(np.float64)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _sigmoid64(x):
    x = x.astype(np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _assert_relative(got, want, dtype, ulps, subnormal_steps=1):
    """|got - want| within `ulps` ulp of want where want is a normal number of dtype, and within
    `subnormal_steps` of the smallest subnormal below (where dtype's absolute spacing is that step)."""
    info = np.finfo(dtype)
    want = want.astype(np.float64)
    normal = np.abs(want) >= info.tiny
    err = np.abs(got.astype(np.float64) - want)
    assert (err[normal] <= ulps * info.eps * np.abs(want[normal])).all(), err[normal].max()
    assert (err[~normal] <= subnormal_steps * info.smallest_subnormal).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_matches_log1p_exp_in_float64(rng, dtype):
    x = _spread(rng, (64, 500), dtype)
    got = _run(tf.nn.softplus(tf.constant(x)))
    assert got.dtype == dtype
    _assert_relative(got, _softplus64(x), dtype, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_matches_float64_including_far_negative_tail(rng, dtype):
    x = _spread(rng, (64, 500), dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # no warnings from the kernel
        got = _run(tf.nn.sigmoid(tf.constant(x)))
    assert got.dtype == dtype
    _assert_relative(got, _sigmoid64(x), dtype, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_grad_is_g_times_sigmoid(rng, dtype):
    x = _spread(rng, (64, 500), dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    xt = tf.constant(x)
    y = tf.nn.softplus(xt)
    got, = _run(tf.gradients(y, xt, grad_ys=tf.constant(g)))
    # below the normal range g * e^x rounds twice: e^x to a subnormal step, then the product
    _assert_relative(got, g.astype(np.float64) * _sigmoid64(x), dtype, 4, subnormal_steps=1 + np.abs(g).max())


def test_sigmoid_kernel_keeps_nan_and_infinities():
    x = np.array([np.nan, np.inf, -np.inf, 0.0] * 4, np.float32)
    got = nn_ops._np_sigmoid(x)
    np.testing.assert_array_equal(got, np.array([np.nan, 1.0, 0.0, 0.5] * 4, np.float32))
    np.testing.assert_array_equal(nn_ops._softplus_kernel(x), np.array([np.nan, np.inf, 0.0, np.log(2)] * 4,
                                                                       np.float32))


@pytest.mark.parametrize("shape", [(40, 28, 28, 32), (3000, 100), (7, 9, 11, 5)])
def test_bias_add_channels_last_matches_float64(rng, shape):
    """Big values go in flat chunks (partial last chunk included); small ones and long rows as they are."""
    x = rng.standard_normal(shape).astype(np.float32)
    b = rng.standard_normal(shape[-1]).astype(np.float32)
    want = x.astype(np.float64) + b
    got = _run(tf.nn.bias_add(tf.constant(x), tf.constant(b)))
    np.testing.assert_allclose(got, want, rtol=EPS32, atol=EPS32)
    into = x.copy()   # the compiler's out= (x a dead temporary): written where it lies
    assert nn_ops._bias_add_channels_last(into, b, out=into) is into
    np.testing.assert_allclose(into, want, rtol=EPS32, atol=EPS32)


@pytest.mark.parametrize("shape, data_format", [((40, 28, 28, 32), "NHWC"), ((40, 32, 28, 28), "NCHW"),
                                                ((3000, 100), "NHWC"), ((5, 3), "NCHW"), ((0, 4), "NHWC"),
                                                ((0, 4, 2, 2), "NCHW"), ((3, 2, 0, 1), "NCHW")])
def test_bias_add_grad_matches_float64_sum(rng, shape, data_format):
    g = rng.standard_normal(shape).astype(np.float32)
    axes = tuple(i for i in range(len(shape)) if i != (1 if data_format == "NCHW" else len(shape) - 1))
    want = g.astype(np.float64).sum(axis=axes)
    got = _run(nn_ops._bias_add_grad(tf.constant(g), data_format))
    assert got.dtype == np.float32 and got.shape == want.shape
    n = max(1, g.size // max(1, want.size))
    bound = 4 * np.sqrt(n) * EPS32 * np.abs(g.astype(np.float64)).sum(axis=axes) + 1e-30
    assert (np.abs(got - want) <= bound).all()


def test_bias_add_gradient_by_finite_differences(rng):
    """d sum(w * bias_add(x, b)) / db by central differences, in float64 (big enough for both fast paths)."""
    x = rng.standard_normal((12, 28, 28, 32))
    w = rng.standard_normal(x.shape)
    b0 = rng.standard_normal(32)
    b = tf.placeholder(tf.float64, [32])
    loss = tf.reduce_sum(tf.constant(w) * tf.nn.bias_add(tf.constant(x), b))
    grad = tf.gradients(loss, b)[0]
    h = 1e-3
    with tf.Session() as sess:
        got = sess.run(grad, {b: b0})
        fd = np.array([(sess.run(loss, {b: b0 + h * e}) - sess.run(loss, {b: b0 - h * e})) / (2 * h)
                       for e in np.eye(32)])
    # the loss is linear in b: the differences are exact but for the rounding of two sums of 300k terms
    np.testing.assert_allclose(got, fd, rtol=0, atol=1e-7 * np.abs(w * x).sum() / h)
    np.testing.assert_allclose(got, w.sum(axis=(0, 1, 2)), rtol=1e-12, atol=1e-9)


BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8


def _adam64(w, m, v, g, t, lr):
    lr_t = lr * np.sqrt(1 - BETA2 ** t) / (1 - BETA1 ** t)
    m = m + (g - m) * (1 - BETA1)
    v = v + (g * g - v) * (1 - BETA2)
    return w - lr_t * m / (np.sqrt(v) + EPSILON), m, v


@pytest.mark.parametrize("fused", [True, False], ids=["fused-matmul", "apply-adam"])
def test_adam_banded_over_threads_in_a_run_keeping_blas_threads(rng, monkeypatch, fused):
    """A variable bigger than _ADAM_BLOCK, on a quiet machine with 2 threads (BLAS keeps its threads, the
    run does not split): the update goes in bands over both threads. Two steps against float64 Adam."""
    parallel.set_intra_op_parallelism_threads(2)
    monkeypatch.setattr(parallel._neighbours, "busy", False)
    monkeypatch.setattr(parallel._neighbours, "next_check", float("inf"))
    calls = []
    monkeypatch.setattr(parallel, "parallel_for",
                        lambda fn, n, grain=1, threads=None, _orig=parallel.parallel_for:
                        calls.append((n, grain)) or _orig(fn, n, grain, threads))
    try:
        shape = (640, 1024)
        assert shape[0] * shape[1] > training_ops._ADAM_BLOCK
        xv = rng.standard_normal((16, shape[0])).astype(np.float32)
        yv = rng.standard_normal((16, shape[1])).astype(np.float32)
        w0 = (rng.standard_normal(shape) * 0.05).astype(np.float32)
        lr = 0.005
        x, y = tf.constant(xv), tf.constant(yv)
        w = tf.Variable(w0)
        loss = tf.reduce_sum(tf.matmul(x, w) * y)
        c = rng.standard_normal(shape).astype(np.float32)
        if not fused:   # a second term in the weight's gradient (an AddN of two): plain ApplyAdam
            loss = loss + tf.reduce_sum(w * tf.constant(c))
        train = tf.train.AdamOptimizer(lr, BETA1, BETA2, EPSILON).minimize(loss)
        slots = {v.op.name: v for v in tf.global_variables()}
        m, v = slots[w.op.name + "/Adam"], slots[w.op.name + "/Adam_1"]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got = []
            for _ in range(2):
                sess.run(train)
                got.append(sess.run([w, m, v]))
    finally:
        parallel.set_intra_op_parallelism_threads(0)
    g = xv.T.astype(np.float64) @ yv + (0 if fused else c)   # the loss is linear in w: the same g each step
    rw, rm, rv = w0.astype(np.float64), 0.0, 0.0
    for t, (gw, gm, gv) in enumerate(got, 1):
        rw, rm, rv = _adam64(rw, rm, rv, g, t, lr)
        # float32's gradient (a sum of 16 products, some cancelling) is off by ~1e-6 of its largest terms
        np.testing.assert_allclose(gm, rm, rtol=1e-4, atol=1e-6 * np.abs(rm).max())
        np.testing.assert_allclose(gv, rv, rtol=2e-4, atol=2e-6 * np.abs(rv).max())
        sure = np.abs(g) >= 1e-3 * np.abs(g).max()   # where float32 knows the step's direction
        np.testing.assert_allclose(gw[sure], rw[sure], rtol=0, atol=1e-3 * lr)
        assert np.abs(gw - rw).max() <= 2.001 * lr
    size = shape[0] * shape[1]
    assert (size, training_ops._band_size(size)) in calls   # banded, split over the two threads
