"""conv_fft: stride-1 convolutions through the DFT, against float64 sums and finite differences.

Accuracy: the frequency route's float32 error (against a float64 reference) must stay within a small
factor of the direct float32 route's own error on the same data, plus a few eps of the output's scale:
both are rounding errors of sums of the same products, reordered."""
import numpy as np
import pytest

import nanotf as tf
from nanotf.ops import conv_fft, conv_ops

RNG = np.random.default_rng(7)
EPS32 = np.finfo(np.float32).eps


def _geometry(xs, ws, padding):
    return conv_ops._Conv("Conv2D", xs, ws, [1, 1, 1, 1], padding)


def _reference(x, w, dy, padding):
    """(y, dx, dw) in float64 by explicit window sums (x zero outside the image, TF's SAME split)."""
    g = _geometry(x.shape, w.shape, padding)
    x, w, dy = (a.astype(np.float64) for a in (x, w, dy))
    xp = np.zeros((g.n, g.oh + g.kh - 1, g.ow + g.kw - 1, g.c))
    rows, cols = min(g.h, xp.shape[1] - g.pt), min(g.w, xp.shape[2] - g.pl)
    xp[:, g.pt:g.pt + rows, g.pl:g.pl + cols] = x[:, :rows, :cols]
    y = np.zeros((g.n, g.oh, g.ow, g.o))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for a in range(g.kh):
        for b in range(g.kw):
            win = xp[:, a:a + g.oh, b:b + g.ow]
            y += win @ w[a, b]
            dw[a, b] = np.einsum("nhwc,nhwo->co", win, dy)
            dxp[:, a:a + g.oh, b:b + g.ow] += dy @ w[a, b].T
    dx = np.zeros(x.shape)
    dx[:, :rows, :cols] = dxp[:, g.pt:g.pt + rows, g.pl:g.pl + cols]
    return y, dx, dw


def _frequency(x, w, dy, padding):
    g = _geometry(x.shape, w.shape, padding)
    y = np.empty((g.n, g.oh, g.ow, g.o), x.dtype)
    conv_fft.conv2d(g, x, w, y)
    dx = np.empty(x.shape, x.dtype)
    conv_fft.backprop_input(g, w, dy, dx)
    return y, dx, conv_fft.backprop_filter(g, x, dy, x.dtype)


def _direct(x, w, dy, padding, monkeypatch):
    monkeypatch.setattr(conv_fft, "_MAX_COST_RATIO", 0.0)
    strides = [1, 1, 1, 1]
    return (conv_ops._conv2d_forward("Conv2D", strides, padding)(x, w),
            conv_ops._conv2d_backprop_input("Conv2DBackpropInput", strides, padding)(np.array(x.shape), w, dy),
            conv_ops._conv2d_backprop_filter("Conv2DBackpropFilter", strides, padding)(x, np.array(w.shape), dy))


GEOMETRIES = [   # (x shape, filter shape, padding)
    ((3, 14, 14, 32), (5, 5, 32, 64), "SAME"),     # conv2 of the tf.layers CNN
    ((2, 9, 7, 3), (3, 5, 3, 4), "SAME"),          # non-square image and filter
    ((2, 8, 8, 3), (2, 2, 3, 5), "SAME"),          # even filter: SAME pads more after
    ((2, 10, 9, 4), (4, 3, 4, 2), "VALID"),
    ((1, 5, 5, 2), (5, 5, 2, 3), "VALID"),         # a single output position
    ((2, 3, 3, 2), (5, 5, 2, 2), "SAME"),          # filter larger than the image
    ((2, 6, 1, 3), (3, 1, 3, 2), "SAME"),          # one column: a 1-D convolution
]


@pytest.mark.parametrize("xs,ws,padding", GEOMETRIES)
def test_float64_matches_window_sums(xs, ws, padding):
    x, w = RNG.standard_normal(xs), RNG.standard_normal(ws)
    g = _geometry(xs, ws, padding)
    dy = RNG.standard_normal((g.n, g.oh, g.ow, g.o))
    for got, want in zip(_frequency(x, w, dy, padding), _reference(x, w, dy, padding)):
        assert got.dtype == np.float64 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("xs,ws,padding", GEOMETRIES)
def test_float32_error_is_that_of_the_direct_sum(xs, ws, padding, monkeypatch):
    x, w = RNG.standard_normal(xs).astype(np.float32), RNG.standard_normal(ws).astype(np.float32)
    g = _geometry(xs, ws, padding)
    dy = RNG.standard_normal((g.n, g.oh, g.ow, g.o)).astype(np.float32)
    want = _reference(x, w, dy, padding)
    got = _frequency(x, w, dy, padding)
    direct = _direct(x, w, dy, padding, monkeypatch)
    for name, f, d, r in zip(("y", "dx", "dw"), got, direct, want):
        assert f.dtype == np.float32, name
        scale = np.abs(r).max()
        err_f, err_d = np.abs(f - r).max(), np.abs(d - r).max()
        assert err_f <= 4 * err_d + 8 * EPS32 * scale, (name, err_f, err_d, scale)


def test_pays_for_deep_layers_only():
    assert conv_fft.pays(_geometry((100, 14, 14, 32), (5, 5, 32, 64), "SAME"))       # ~4x fewer multiply-adds
    assert not conv_fft.pays(_geometry((100, 28, 28, 1), (5, 5, 1, 32), "SAME"))     # one input channel
    assert not conv_fft.pays(_geometry((8, 14, 14, 32), (1, 1, 32, 64), "SAME"))     # 1x1: a plain product
    strided = conv_ops._Conv("Conv2D", (100, 14, 14, 32), (5, 5, 32, 64), [1, 2, 2, 1], "SAME")
    assert not conv_fft.pays(strided)


def test_graph_gradients_by_finite_differences():
    """A Session run through the frequency route (the geometry pays): tf.gradients against central
    differences of the float64 loss sum(conv(x, w) * r)."""
    x0, w0 = RNG.standard_normal((2, 8, 8, 32)), RNG.standard_normal((5, 5, 32, 32)) * 0.1
    r = RNG.standard_normal((2, 8, 8, 32))
    assert conv_fft.pays(_geometry(x0.shape, w0.shape, "SAME"))
    with tf.Graph().as_default():
        x, w = tf.placeholder(tf.float64, x0.shape), tf.placeholder(tf.float64, w0.shape)
        loss = tf.reduce_sum(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME") * r)
        grads = tf.gradients(loss, [x, w])
        with tf.Session() as sess:
            def f(xv, wv):
                return sess.run(loss, {x: xv, w: wv})
            dx, dw = sess.run(grads, {x: x0, w: w0})
            h = 1e-5
            for arr, grad, which in ((x0, dx, 0), (w0, dw, 1)):
                for _ in range(4):
                    idx = tuple(RNG.integers(0, s) for s in arr.shape)
                    plus, minus = arr.copy(), arr.copy()
                    plus[idx] += h
                    minus[idx] -= h
                    args_p = (plus, w0) if which == 0 else (x0, plus)
                    args_m = (minus, w0) if which == 0 else (x0, minus)
                    numeric = (f(*args_p) - f(*args_m)) / (2 * h)
                    assert abs(numeric - grad[idx]) <= 1e-6 * max(1.0, abs(numeric)), (which, idx)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_operand_stays_local_as_in_the_direct_sum(bad):
    """A NaN or inf pixel reaches only the outputs whose windows touch it (conv_ops sends non-finite
    operands the direct way: in the frequency domain it would reach its whole image), in the forward
    op and in the input gradient; the other image stays finite and equal to the float64 sum."""
    x, w = RNG.standard_normal((2, 14, 14, 32)), RNG.standard_normal((5, 5, 32, 64))
    assert conv_fft.pays(_geometry(x.shape, w.shape, "SAME"))
    x[0, 0, 0, 0] = bad
    dy = RNG.standard_normal((2, 14, 14, 64))
    dy[0, 13, 13, 0] = bad
    with tf.Graph().as_default():
        xt, wt, dyt = (tf.placeholder(tf.float64, a.shape) for a in (x, w, dy))
        y = tf.nn.conv2d(xt, wt, [1, 1, 1, 1], "SAME")
        dx = tf.nn.conv2d_backprop_input([2, 14, 14, 32], wt, dyt, [1, 1, 1, 1], "SAME")
        with tf.Session() as sess:
            got_y, got_dx = sess.run([y, dx], {xt: x, wt: w, dyt: dy})
    assert (~np.isfinite(got_y[0])).sum() == 3 * 3 * 64     # the 3x3 outputs whose windows hold pixel (0, 0)
    assert (~np.isfinite(got_dx[0])).sum() == 3 * 3 * 32    # the 3x3 inputs whose windows hold output (13, 13)
    want_y, want_dx, _ = _reference(x[1:], w, dy[1:], "SAME")
    np.testing.assert_allclose(got_y[1:], want_y, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(got_dx[1:], want_dx, rtol=1e-11, atol=1e-11)
