"""FusedBatchNormGradNT's chunked kernel (big inputs of few channels) against float64 NumPy formulas: the
DCGAN's batches (7x7x64 and 14x14x32), row counts that leave a partial last chunk, inference mode (where x - mean, left in dx by
the first pass, must be overwritten by dy * k) and non-finite inputs."""
import numpy as np
import pytest

import nanotf as tf
from nanotf.ops import nn_impl

EPS32 = np.finfo(np.float32).eps


def _grads(x, dy, scale, mean_in, var_in, training, eps=1e-3):
    xt = tf.constant(x)
    y, mean, var = nn_impl._fused_bn_op(xt, tf.constant(scale), tf.constant(scale * 0), tf.constant(mean_in),
                                        tf.constant(var_in), training, eps)
    grads = tf.gradients(y, [xt], grad_ys=tf.constant(dy))
    op_grads = [t for t in tf.get_default_graph().get_operations() if t.type == "FusedBatchNormGradNT"]
    assert len(op_grads) == 1
    with tf.Session() as sess:
        dx, dscale, doffset, mean, var = sess.run([grads[0]] + list(op_grads[0].outputs[1:]) + [mean, var])
    return (dx, dscale, doffset), (mean, var)   # the gradient, and the statistics it was handed


def _reference(dy, x, scale, mean, var, eps, training):
    """dx, dscale, doffset in float64 from TF's formulas."""
    c = x.shape[-1]
    x2, d = x.reshape(-1, c).astype(np.float64), dy.reshape(-1, c).astype(np.float64)
    inv = 1 / np.sqrt(np.asarray(var, np.float64) + eps)
    xhat = (x2 - mean) * inv
    dscale, doffset = (d * xhat).sum(0), d.sum(0)
    n = x2.shape[0]
    dx = scale * inv * (d - doffset / n - xhat * dscale / n) if training else d * scale * inv
    return dx.reshape(x.shape), dscale, doffset


def _batch(rng, shape):
    c = shape[-1]
    x = (rng.standard_normal(shape) * 2 + 3).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    scale = (rng.random(c) + 0.5).astype(np.float32)
    return x, dy, scale


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("shape", [(64, 7, 7, 64), (64, 14, 14, 32), (67, 9, 11, 48), (40, 9, 9, 96),
                                   (25, 9, 9, 100)])
@pytest.mark.parametrize("training", [True, False])
def test_chunked_grad_matches_float64(rng, shape, training):
    tf.reset_default_graph()
    x, dy, scale = _batch(rng, shape)
    c, n = shape[-1], x.size // shape[-1]
    assert nn_impl._chunked_case(x)
    mean_in, var_in = (rng.standard_normal(c) + 3).astype(np.float32), (rng.random(c) * 4 + 1).astype(np.float32)
    (dx, dscale, doffset), (mean, var) = _grads(x, dy, scale, mean_in, var_in, training)
    # the reference takes the float32 statistics the kernel got (training: the batch's), so only the
    # kernel's own rounding counts
    want_dx, want_dscale, want_doffset = _reference(dy, x, scale, mean.astype(np.float64), var, 1e-3, training)
    # dx: a few float32 roundings of terms no bigger than max|dx| (the batch sums' errors scaled by 1/n)
    np.testing.assert_allclose(dx, want_dx, rtol=0, atol=64 * EPS32 * np.abs(want_dx).max())
    # sums of n terms: within sqrt(n) eps (blocked float32 accumulation) of the sum of their magnitudes
    magnitude = np.abs(dy.astype(np.float64)).reshape(-1, c).sum(0)
    assert (np.abs(doffset - want_doffset) <= 4 * np.sqrt(n) * EPS32 * magnitude).all()
    inv = 1 / np.sqrt(var.astype(np.float64) + 1e-3)
    magnitude = np.abs(dy.astype(np.float64) * (x - mean.astype(np.float64))).reshape(-1, c).sum(0) * inv
    assert (np.abs(dscale - want_dscale) <= 8 * np.sqrt(n) * EPS32 * magnitude).all()


@pytest.mark.parametrize("training", [True, False])
def test_chunked_grad_non_finite_inputs(rng, training):
    """inf in x and NaN in dy reach the channels and elements the float64 formulas say, and no others: in
    inference dx = dy * k ignores x, so an inf in x must not survive from the centred x the first pass
    leaves in dx."""
    tf.reset_default_graph()
    shape = (64, 14, 14, 32)
    x, dy, scale = _batch(rng, shape)
    c = shape[-1]
    mean, var = (rng.standard_normal(c) + 3).astype(np.float32), (rng.random(c) * 4 + 1).astype(np.float32)
    x[5, 3, 2, 7] = np.inf            # channel 7
    x[60, 13, 6, 9] = -np.inf         # channel 9, row 11948: the third of four chunks
    dy[1, 1, 1, 20] = np.nan          # channel 20
    with np.errstate(invalid="ignore", over="ignore"):
        got, (used_mean, used_var) = _grads(x, dy, scale, mean, var, training)
        want = _reference(dy, x, scale, used_mean.astype(np.float64), used_var, 1e-3, training)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        np.testing.assert_array_equal(np.isinf(g), np.isinf(w))
        finite = np.isfinite(w)
        np.testing.assert_allclose(g[finite], w[finite], rtol=0, atol=64 * EPS32 * np.abs(w[finite]).max())
    if not training:   # dx away from the NaN of dy is finite: x's infinities do not reach it
        assert np.isfinite(got[0][..., :20]).all() and np.isfinite(got[0][..., 21:]).all()


@pytest.mark.parametrize("shape", [(64, 7, 7, 64), (25, 9, 9, 100)])
def test_chunked_forward_of_wide_rows_matches_float64(rng, shape):
    """64-255 channels take the chunked training kernel from 196608 elements (a partial last chunk here);
    off-centre inputs (mean 3, std 2), and a NaN that must reach its own channel only."""
    tf.reset_default_graph()
    x, _, scale = _batch(rng, shape)
    c, n = shape[-1], x.size // shape[-1]
    x[3, 2, 1, 5] = np.nan
    assert nn_impl._chunked_case(x)
    offset = rng.standard_normal(c).astype(np.float32)
    ones = np.ones(c, np.float32)
    y, mean, var = nn_impl._fused_bn_op(tf.constant(x), tf.constant(scale), tf.constant(offset),
                                        tf.constant(ones * 0), tf.constant(ones), True, 1e-3)
    with tf.Session() as sess:
        got_y, got_mean, got_var = sess.run([y, mean, var])
    x2 = x.reshape(-1, c).astype(np.float64)
    want_mean, want_var = x2.mean(0), x2.var(0)
    want_y = ((x2 - want_mean) / np.sqrt(want_var + 1e-3) * scale + offset).reshape(shape)
    for g, w in ((got_y, want_y), (got_mean, want_mean), (got_var, want_var)):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
    ok = ~np.isnan(want_mean)
    assert ok.sum() == c - 1
    np.testing.assert_allclose(got_mean[ok], want_mean[ok], rtol=0, atol=8 * np.sqrt(n) * EPS32 * np.nanmax(np.abs(x)))
    np.testing.assert_allclose(got_var[ok], want_var[ok], rtol=1e-5)
    finite = ~np.isnan(want_y)
    np.testing.assert_allclose(got_y[finite], want_y[finite], rtol=0, atol=1e-5 * np.abs(want_y[finite]).max())
