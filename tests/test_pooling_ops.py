"""Pooling kernels against float64 direct-loop references: the 2x2/2 tiling kernels (split in
blocks and over threads), ties (first maximum in row-major order), SAME/VALID, strides other than
the window, odd sizes, float16/float64, inf gradients, and AvgPool's gradient by finite differences."""
import numpy as np
import pytest

import nanotf as tf
import nanotf.ops.pooling_ops as pooling_ops
from nanotf.framework import parallel

RNG = np.random.default_rng(7)


# -- references: one window at a time, TF's padding rule written out
def _out_and_pad(size, k, s, padding):
    if padding == "VALID":
        return (size - k) // s + 1, 0
    out = -(-size // s)
    return out, max((out - 1) * s + k - size, 0) // 2


def _windows(shape, k, s, padding):
    """(i, j, [(row, col) in bounds, row-major]) for each output position."""
    _, h, w, _ = shape
    oh, pt = _out_and_pad(h, k[0], s[0], padding)
    ow, pl = _out_and_pad(w, k[1], s[1], padding)
    for i in range(oh):
        for j in range(ow):
            cells = [(i * s[0] + a - pt, j * s[1] + b - pl) for a in range(k[0]) for b in range(k[1])]
            yield i, j, [(r, c) for r, c in cells if 0 <= r < h and 0 <= c < w]


def _out_shape(shape, k, s, padding):
    return (shape[0], _out_and_pad(shape[1], k[0], s[0], padding)[0],
            _out_and_pad(shape[2], k[1], s[1], padding)[0], shape[3])


def ref_max_pool(x, k, s, padding):
    out = np.zeros(_out_shape(x.shape, k, s, padding))
    for i, j, cells in _windows(x.shape, k, s, padding):
        out[:, i, j] = np.max([x[:, r, c] for r, c in cells], axis=0)
    return out


def ref_max_pool_grad(x, dy, k, s, padding):
    """Each dy value added to its window's first maximum (np.argmax: the first, row-major)."""
    dx = np.zeros(x.shape)
    for i, j, cells in _windows(x.shape, k, s, padding):
        first = np.argmax(np.array([x[:, r, c] for r, c in cells], dtype=np.float64), axis=0)
        for n in range(x.shape[0]):
            for ch in range(x.shape[3]):
                r, c = cells[first[n, ch]]
                dx[n, r, c, ch] += dy[n, i, j, ch]
    return dx


def ref_avg_pool(x, k, s, padding):
    out = np.zeros(_out_shape(x.shape, k, s, padding))
    for i, j, cells in _windows(x.shape, k, s, padding):
        out[:, i, j] = np.mean([x[:, r, c] for r, c in cells], axis=0)
    return out


def ref_avg_pool_grad(shape, dy, k, s, padding):
    dx = np.zeros(shape)
    for i, j, cells in _windows(shape, k, s, padding):
        for r, c in cells:
            dx[:, r, c] += dy[:, i, j] / len(cells)
    return dx


def _ties(shape, dtype=np.float64):
    """Few distinct values, half of them zero (as after a ReLU): most windows hold tied maxima."""
    return np.maximum(RNG.integers(-3, 3, size=shape), 0).astype(dtype)


def _run_pool(x, dy, k, s, padding, dtype):
    """(max pool, its gradient, avg pool, its gradient) through a graph, as float64 arrays."""
    ksize, strides = [1, k[0], k[1], 1], [1, s[0], s[1], 1]
    with tf.Graph().as_default():
        xt = tf.constant(x.astype(dtype))
        g = tf.constant(dy.astype(dtype))
        mp = tf.nn.max_pool(xt, ksize, strides, padding)
        ap = tf.nn.avg_pool(xt, ksize, strides, padding)
        d_mp, = tf.gradients(mp, xt, grad_ys=g)
        d_ap, = tf.gradients(ap, xt, grad_ys=g)
        assert d_mp.op.type == "MaxPoolGrad" and d_ap.op.type == "AvgPoolGrad"
        with tf.Session() as sess:
            return [np.asarray(v, np.float64) for v in sess.run([mp, d_mp, ap, d_ap])]


CASES = [  # x shape, window, strides, padding
    ((3, 8, 6, 5), (2, 2), (2, 2), "VALID"),     # tiles exactly: the 2x2 kernels
    ((2, 4, 4, 1), (2, 2), (2, 2), "SAME"),      # tiles exactly under SAME too (no padding)
    ((2, 5, 7, 3), (2, 2), (2, 2), "SAME"),      # odd sizes: padded last row and column
    ((2, 5, 7, 3), (2, 2), (2, 2), "VALID"),     # odd sizes: last row and column dropped
    ((2, 7, 6, 2), (3, 2), (2, 3), "VALID"),     # strides != window
    ((1, 6, 5, 2), (3, 3), (1, 1), "SAME"),      # overlapping windows, padding on both sides
    ((2, 6, 6, 2), (3, 3), (3, 3), "VALID"),     # 3x3 tiles
    ((1, 5, 5, 2), (2, 3), (3, 2), "SAME"),      # gaps between windows
]


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-6), (np.float16, 2e-3)])
@pytest.mark.parametrize("shape,k,s,padding", CASES)
def test_pools_with_ties_match_references(shape, k, s, padding, dtype, tol):
    x = _ties(shape)                    # small integers: exact in every float type
    dy = RNG.standard_normal(_out_shape(shape, k, s, padding))
    dy = dy.astype(dtype).astype(np.float64)   # the values the op sees
    mp, d_mp, ap, d_ap = _run_pool(x, dy, k, s, padding, dtype)
    np.testing.assert_array_equal(mp, ref_max_pool(x, k, s, padding))
    # each dx element is one dy value (a single first max) or a sum of a few (overlapping windows)
    np.testing.assert_allclose(d_mp, ref_max_pool_grad(x, dy, k, s, padding), rtol=tol, atol=tol)
    np.testing.assert_allclose(ap, ref_avg_pool(x, k, s, padding), rtol=tol, atol=tol)
    np.testing.assert_allclose(d_ap, ref_avg_pool_grad(shape, dy, k, s, padding), rtol=tol, atol=tol)


def test_2x2_max_pool_ties_take_the_first_element_in_row_major_order():
    # every pattern of maxima over one window: 15 non-empty subsets of the 4 positions hold the max
    patterns = [[(m >> t) & 1 for t in range(4)] for m in range(1, 16)]
    x = np.array(patterns, np.float32).reshape(1, 15, 2, 2).transpose(0, 2, 1, 3).reshape(1, 2, 30, 1)
    x = np.repeat(x, 2, axis=0) * np.array([1, -1], np.float32).reshape(2, 1, 1, 1)   # maxima 1, then 0
    dy = np.arange(1, 31, dtype=np.float64).reshape(2, 1, 15, 1)
    _, d_mp, _, _ = _run_pool(x, dy, (2, 2), (2, 2), "VALID", np.float32)
    np.testing.assert_array_equal(d_mp, ref_max_pool_grad(x, dy, (2, 2), (2, 2), "VALID"))
    for window in range(15):       # e.g. pattern 0b0110 (positions 1 and 2 tied): position 1
        cells = d_mp[0, :, 2 * window:2 * window + 2, 0].reshape(-1)
        first = patterns[window].index(1)
        assert cells[first] == dy[0, 0, window, 0] and np.count_nonzero(cells) == 1


@pytest.fixture
def small_blocks(monkeypatch):
    """One image per block, and the blocks split over two threads: block and range edges exercised."""
    monkeypatch.setattr(pooling_ops, "_TILE_BLOCK_BYTES", 1)
    monkeypatch.setattr(parallel, "threads_for", lambda work: 2)
    monkeypatch.setattr(parallel, "num_threads", lambda: 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_2x2_kernels_split_in_blocks_and_threads(small_blocks, dtype):
    shape = (7, 6, 10, 3)
    x = np.where(RNG.random(shape) < 0.5, 0, RNG.standard_normal(shape)).astype(dtype)   # ReLU-like ties
    args = ([1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    y = pooling_ops._max_pool_kernel("MaxPool", *args)(x)
    np.testing.assert_array_equal(y, ref_max_pool(x, (2, 2), (2, 2), "VALID"))
    dy = RNG.standard_normal(y.shape).astype(dtype)
    dx = pooling_ops._max_pool_grad_kernel("MaxPoolGrad", *args)(x, y, dy)
    np.testing.assert_array_equal(dx, ref_max_pool_grad(x, dy, (2, 2), (2, 2), "VALID"))
    assert dx.dtype == dtype and dx.flags.c_contiguous


def test_2x2_max_pool_grad_of_inf_and_nan_reaches_only_the_first_maximum(small_blocks):
    """A select, not a product with a 0/1 mask: 0 * inf would put NaN at the other elements."""
    x = _ties((3, 4, 6, 2), np.float32)
    args = ([1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    y = pooling_ops._max_pool_kernel("MaxPool", *args)(x)
    dy = RNG.standard_normal(y.shape).astype(np.float32)
    dy[1, 0, 1, 0], dy[2, 1, 2, 1] = np.inf, np.nan    # one block finite, two not
    dx = pooling_ops._max_pool_grad_kernel("MaxPoolGrad", *args)(x, y, dy)
    want = ref_max_pool_grad(x, dy, (2, 2), (2, 2), "VALID")
    np.testing.assert_array_equal(dx, want)           # NaN where want has NaN, nowhere else
    assert np.isinf(dx).sum() == 1 and np.isnan(dx).sum() == 1


def test_2x2_max_pool_of_integers():
    x = RNG.integers(-50, 50, size=(2, 4, 6, 3)).astype(np.int32)
    y = pooling_ops._max_pool_kernel("MaxPool", [1, 2, 2, 1], [1, 2, 2, 1], "VALID")(x)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, ref_max_pool(x, (2, 2), (2, 2), "VALID"))


@pytest.mark.parametrize("shape,k,s,padding", [CASES[0], CASES[2], CASES[5]])
def test_avg_pool_gradient_matches_finite_differences(shape, k, s, padding):
    """d sum(avg_pool(x) * v) / dx by central differences of the float64 op (it is linear: exact
    up to rounding)."""
    x = RNG.standard_normal(shape)
    v = RNG.standard_normal(_out_shape(shape, k, s, padding))
    ksize, strides = [1, k[0], k[1], 1], [1, s[0], s[1], 1]
    with tf.Graph().as_default():
        xp = tf.placeholder(tf.float64, shape)
        loss = tf.reduce_sum(tf.nn.avg_pool(xp, ksize, strides, padding) * v)
        grad, = tf.gradients(loss, xp)
        with tf.Session() as sess:
            got = sess.run(grad, {xp: x})
            eps, numeric = 1e-3, np.zeros(shape)
            for idx in np.ndindex(*shape):
                e = np.zeros(shape)
                e[idx] = eps
                numeric[idx] = (sess.run(loss, {xp: x + e}) - sess.run(loss, {xp: x - e})) / (2 * eps)
    np.testing.assert_allclose(got, numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("shape,k,s,padding", [((3, 8, 8, 5), (2, 2), (2, 2), "SAME"),
                                               ((2, 7, 5, 3), (3, 3), (2, 2), "SAME"),
                                               ((2, 6, 6, 4), (3, 3), (1, 1), "VALID")])
def test_relu_then_max_pool_gradient_fused_matches_reference(shape, k, s, padding):
    """Gradient of sum(max_pool(relu(z)) * r) w.r.t. the ReLU output's input: the fused
    _FusedMaxPoolGradReluGrad step (mask applied to the pooled gradient) against the float64 loop
    reference of MaxPoolGrad followed by the ReLU mask; half the inputs negative, so many windows
    tie at 0 and route their (masked) gradient to their first element."""
    z = np.round(RNG.standard_normal(shape), 1)
    relu_z = np.maximum(z, 0)
    y = ref_max_pool(relu_z, k, s, padding)
    r = RNG.standard_normal(y.shape)
    want = ref_max_pool_grad(relu_z, r, k, s, padding) * (relu_z > 0)
    with tf.Graph().as_default():
        zt, rt = tf.placeholder(tf.float64, shape), tf.placeholder(tf.float64, y.shape)   # r fed: not folded
        pooled = pooling_ops.max_pool(tf.nn.relu(zt), [1, k[0], k[1], 1], [1, s[0], s[1], 1], padding)
        dz, = tf.gradients(tf.reduce_sum(pooled * rt), [zt])
        with tf.Session() as sess:
            got = sess.run(dz, {zt: z, rt: r})
            plan = next(iter(sess._plans.values())).plan
    assert any(step.op.type == "_FusedMaxPoolGradReluGrad" for step in plan.steps)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
