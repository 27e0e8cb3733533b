"""tf.reduce_logsumexp, tf.qr, tf.nn.batch_normalization, tf.nn.fused_batch_norm and tf.nn.conv1d against NumPy
and central finite differences."""
import numpy as np
import pytest

import nanotf as tf
from _layer_refs import conv2d_ref, numeric_grad


def test_reduce_logsumexp_values_overflow_and_gradient(graph):
    xv = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, -5.0], [-np.inf, -np.inf, -np.inf]])
    x = tf.placeholder(tf.float64, [3, 3])
    rows = tf.reduce_logsumexp(x, 1)
    keep = tf.reduce_logsumexp(x, 1, keepdims=True)
    total = tf.reduce_logsumexp(x[:2])
    g = tf.gradients(tf.reduce_sum(rows[:2]), x)[0]
    with tf.Session() as sess:
        r, k, t, gv = sess.run([rows, keep, total, g], {x: xv})
    expect = [np.log(np.exp(1) + np.exp(2) + np.exp(3)), 1000 + np.log(2 + np.exp(-1005)), -np.inf]
    np.testing.assert_allclose(r, expect, rtol=1e-12)
    assert k.shape == (3, 1)
    finite = xv[:2]
    assert t == pytest.approx(1000 + np.log(2 + np.exp(-1005) + np.exp(-997) + np.exp(-998) + np.exp(-999)))
    soft = np.exp(finite - finite.max(1, keepdims=True))
    np.testing.assert_allclose(gv[:2], soft / soft.sum(1, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4)])
def test_qr_reconstructs_with_orthonormal_q_and_triangular_r(shape, graph):
    a = np.random.default_rng(0).standard_normal(shape)
    q, r = tf.qr(tf.constant(a))
    assert q.shape.as_list() == list(shape[:-1]) + [min(shape[-2:])]
    qv, rv = tf.Session().run([q, r])
    np.testing.assert_allclose(qv @ rv, a, atol=1e-12)
    k = min(shape[-2:])
    np.testing.assert_allclose(np.swapaxes(qv, -1, -2) @ qv, np.broadcast_to(np.eye(k), qv.shape[:-2] + (k, k)),
                               atol=1e-12)
    assert np.allclose(np.tril(rv, -1), 0)


def test_nn_batch_normalization_formula_and_gradient(graph):
    rng = np.random.default_rng(1)
    xv, mv, vv, ov, sv = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.random(3) + 0.5, \
        rng.standard_normal(3), rng.standard_normal(3)
    x = tf.placeholder(tf.float64, [4, 3])
    y = tf.nn.batch_normalization(x, mv, vv, ov, sv, 1e-3)
    y0 = tf.nn.batch_normalization(x, mv, vv, None, None, 1e-3)
    loss = tf.reduce_sum(y * y)
    g = tf.gradients(loss, x)[0]
    with tf.Session() as sess:
        yv, y0v, gv = sess.run([y, y0, g], {x: xv})
        num = numeric_grad(lambda v: sess.run(loss, {x: v}), xv)
    np.testing.assert_allclose(yv, (xv - mv) / np.sqrt(vv + 1e-3) * sv + ov, rtol=1e-12)
    np.testing.assert_allclose(y0v, (xv - mv) / np.sqrt(vv + 1e-3), rtol=1e-12)
    np.testing.assert_allclose(gv, num, rtol=1e-6)


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_fused_batch_norm_training_and_inference(data_format, graph):
    rng = np.random.default_rng(2)
    xv = rng.standard_normal((2, 3, 3, 4)) if data_format == "NHWC" else rng.standard_normal((2, 4, 3, 3))
    axes = (0, 1, 2) if data_format == "NHWC" else (0, 2, 3)
    shape = [1, 1, 1, 4] if data_format == "NHWC" else [1, 4, 1, 1]
    scale, offset = rng.standard_normal(4), rng.standard_normal(4)
    x = tf.constant(xv)
    y, m, v = tf.nn.fused_batch_norm(x, scale, offset, epsilon=1e-3, data_format=data_format)
    yi, _, _ = tf.nn.fused_batch_norm(x, scale, offset, mean=np.zeros(4), variance=np.full(4, 4.0),
                                      epsilon=1e-3, data_format=data_format, is_training=False)
    yv, mv, vv, yiv = tf.Session().run([y, m, v, yi])
    mean, var = xv.mean(axes), xv.var(axes)
    np.testing.assert_allclose(mv, mean, rtol=1e-12)
    np.testing.assert_allclose(vv, xv.var(axes, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(yv, (xv - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-3)
                               * scale.reshape(shape) + offset.reshape(shape), rtol=1e-10)
    np.testing.assert_allclose(yiv, xv / np.sqrt(4.0 + 1e-3) * scale.reshape(shape) + offset.reshape(shape),
                               rtol=1e-12)


def test_nn_conv1d_matches_numpy_and_checks(graph):
    rng = np.random.default_rng(3)
    xv, wv = rng.standard_normal((2, 8, 3)), rng.standard_normal((3, 3, 5))
    y = tf.nn.conv1d(tf.constant(xv), tf.constant(wv), stride=2, padding="VALID")
    assert y.shape.as_list() == [2, 3, 5]
    yv = tf.Session().run(y)
    with pytest.raises(ValueError, match="NWC"):
        tf.nn.conv1d(tf.constant(xv), tf.constant(wv), 1, "SAME", data_format="NCW")
    np.testing.assert_allclose(yv, conv2d_ref(xv[:, None], wv[None], 2, "VALID")[:, 0], rtol=1e-12)
