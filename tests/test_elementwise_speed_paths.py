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
from nanotf.framework.ops import apply_op
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


@pytest.mark.parametrize("shape", [(640, 1024), (2048, 1024)], ids=["banded", "banded-split"])
@pytest.mark.parametrize("fused", [True, False], ids=["fused-matmul", "apply-adam"])
def test_adam_banded_in_a_run_keeping_blas_threads(rng, monkeypatch, fused, shape):
    """A variable bigger than _ADAM_BLOCK, on a quiet machine with 2 threads (BLAS keeps its threads, the
    run does not split): the update goes in bands, over both threads from _ADAM_SPLIT_BESIDE_BLAS elements
    (one thread below). Two steps against float64 Adam."""
    parallel.set_intra_op_parallelism_threads(2)
    monkeypatch.setattr(parallel._neighbours, "busy", False)
    monkeypatch.setattr(parallel._neighbours, "next_check", float("inf"))
    calls = []
    monkeypatch.setattr(parallel, "parallel_for",
                        lambda fn, n, grain=1, threads=None, _orig=parallel.parallel_for:
                        calls.append((n, grain)) or _orig(fn, n, grain, threads))
    try:
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
    if size >= training_ops._ADAM_SPLIT_BESIDE_BLAS:   # banded, split over the two threads
        assert (size, training_ops._band_size(size, 2)) in calls
    else:                                              # banded on one thread
        assert all(n != size for n, _ in calls)


def _bn64(x, scale, offset, eps):
    x2 = x.reshape(-1, x.shape[-1]).astype(np.float64)
    mean, var = x2.mean(0), x2.var(0)
    return ((x2 - mean) / np.sqrt(var + eps) * scale + offset).reshape(x.shape), mean, var


def _bn_grad64(dy, x, scale, mean, var, eps, training):
    c = x.shape[-1]
    x2, d = x.reshape(-1, c).astype(np.float64), dy.reshape(-1, c).astype(np.float64)
    inv = 1 / np.sqrt(var.astype(np.float64) + eps)
    xhat = (x2 - mean) * inv
    dscale, doffset = (d * xhat).sum(0), d.sum(0)
    n = x2.shape[0]
    dx = scale * inv * (d - doffset / n - xhat * dscale / n) if training else d * scale * inv
    return dx.reshape(x.shape), dscale, doffset


@pytest.mark.parametrize("shape", [(64, 14, 14, 32), (66, 3, 5, 7, 16), (300, 300, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_fused_batch_norm_in_chunks_matches_float64(rng, shape, training):
    """Big inputs of few channels take the chunked kernels (partial last chunk included). Inputs off
    centre (mean 3, std 2): the centred forms are what keeps the statistics exact."""
    from nanotf.ops import nn_impl
    c = shape[-1]
    x = (rng.standard_normal(shape) * 2 + 3).astype(np.float32)
    assert nn_impl._chunked_case(x)
    dy = rng.standard_normal(shape).astype(np.float32)
    scale, offset = (rng.random(c) + 0.5).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    mean_in, var_in = (rng.standard_normal(c) + 3).astype(np.float32), (rng.random(c) * 4 + 1).astype(np.float32)
    eps, n = 1e-3, x.size // c
    xt, st, ot = tf.constant(x), tf.constant(scale), tf.constant(offset)
    y, mean, var = nn_impl._fused_bn_op(xt, st, ot, tf.constant(mean_in), tf.constant(var_in), training, eps)
    grads = tf.gradients(y, [xt, st, ot], grad_ys=tf.constant(dy))
    got_y, got_mean, got_var, dx, dscale, doffset = _run([y, mean, var] + grads)
    if training:   # the batch's statistics (variance biased)
        want_y, want_mean, want_var = _bn64(x, scale, offset, eps)
        np.testing.assert_allclose(got_mean, want_mean, rtol=0, atol=8 * np.sqrt(n) * EPS32 * np.abs(x).max())
        np.testing.assert_allclose(got_var, want_var, rtol=1e-5)
    else:          # the given ones
        want_mean, want_var = mean_in.astype(np.float64), var_in.astype(np.float64)
        want_y = (x - want_mean) / np.sqrt(want_var + eps) * scale + offset
        np.testing.assert_array_equal(got_mean, mean_in)
        np.testing.assert_array_equal(got_var, var_in)
    np.testing.assert_allclose(got_y, want_y, rtol=0, atol=1e-5 * np.abs(want_y).max())
    want_dx, want_dscale, want_doffset = _bn_grad64(dy, x, scale, want_mean, want_var, eps, training)
    np.testing.assert_allclose(dx, want_dx, rtol=0, atol=1e-5 * np.abs(want_dx).max())
    # sums of n terms: within sqrt(n) eps (blocked float32 accumulation) of the sum of their magnitudes
    magnitude = np.abs(dy.astype(np.float64)).reshape(-1, c).sum(0)
    assert (np.abs(doffset - want_doffset) <= 4 * np.sqrt(n) * EPS32 * magnitude).all()
    magnitude = np.abs(dy * (x - want_mean)).reshape(-1, c).sum(0) / np.sqrt(want_var + eps)
    assert (np.abs(dscale - want_dscale) <= 8 * np.sqrt(n) * EPS32 * magnitude).all()


@pytest.mark.parametrize("alpha", [0.2, 0.1, 1 / 3, 0.01, 1.0, 1.5, 0.0, -0.3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_leaky_relu_grad_is_tfs_select(rng, alpha, dtype):
    """select(x > 0, g, g * alpha) to the bit, zeros, NaN and infinities included, for alphas whose map
    f * (1 - alpha) + alpha is exact and for those where the kernel falls back to a lookup."""
    x = rng.standard_normal(4000).astype(dtype)
    g = rng.standard_normal(4000).astype(dtype)
    x[:5] = [0.0, -0.0, np.nan, np.inf, -np.inf]
    g[5:9] = [np.inf, -np.inf, np.nan, -0.0]
    x[5:9] = [-1.0, 1.0, -1.0, 1.0]
    with np.errstate(invalid="ignore"):
        want = np.where(x > 0, g, g * dtype(alpha))
        got = _run(apply_op("LeakyReluGrad", [tf.constant(g), tf.constant(x)], {"alpha": alpha}, name="LeakyReluGrad"))
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)
    assert (np.signbit(got) == np.signbit(want)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("shape, axis", [((2, 784, 256), 0), ((128, 10), None), ((100, 7), 1), ((3, 5, 7), (0, 2))])
def test_mean_divides_in_its_dtype_with_numpys_values(rng, dtype, shape, axis):
    """Mean divides float32/float64 sums by the count in their own dtype (exact for counts up to 2^24 / 2^53):
    the same values as np.mean, which divides in float64 and rounds once to the dtype."""
    x = (rng.standard_normal(shape) * 100).astype(dtype)
    got = _run(tf.reduce_mean(tf.constant(x), axis))
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, np.mean(x, axis=axis, dtype=dtype))
