"""framework/blas_level1.py: BLAS's axpby/axpy where they compute what NumPy's passes do, and the optimizers
that use them, checked against closed forms in float64 (TF's update formulas) on variables big enough for BLAS.

float32 tolerances: each update is a few float32 operations on values of the inputs' size, so its error is a
few ulps of the largest term (eps = 2^-24 relative); 8 eps of the terms' magnitude bounds it with room.
"""
import numpy as np
import pytest

import nanotf as tf
from nanotf.framework import blas_level1

pytestmark = pytest.mark.skipif(not blas_level1.available(), reason="no BLAS with axpby/axpy in this process")

N = 3 * blas_level1._MIN_SIZE + 5   # above the size from which BLAS serves, and not a round number
EPS32 = 2.0 ** -24


@pytest.fixture
def rng():
    return np.random.RandomState(7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpby_and_axpy_against_float64(rng, dtype):
    x, y = rng.randn(N).astype(dtype), rng.randn(N).astype(dtype)
    want = 0.3 * x.astype(np.float64) - 1.7 * y.astype(np.float64)
    assert blas_level1.axpby(0.3, x, -1.7, y)
    tol = 8 * (EPS32 if dtype == np.float32 else 2.0 ** -53) * (0.3 * np.abs(x) + 1.7 * np.abs(want) + 1)
    assert np.all(np.abs(y - want) <= tol)
    want2 = y.astype(np.float64) + 2.5 * x
    assert blas_level1.axpy(2.5, x, y)
    assert np.all(np.abs(y - want2) <= 8 * (EPS32 if dtype == np.float32 else 2.0 ** -53) * (np.abs(want2) + 2.5 * np.abs(x)))


@pytest.mark.parametrize("case", ["small", "strided", "mixed dtypes", "zero coefficient", "nan coefficient",
                                  "overlap", "integers"])
def test_declines_and_leaves_y_alone_where_numpy_must_run(rng, case):
    x, y = rng.randn(N).astype(np.float32), rng.randn(N).astype(np.float32)
    a, b = 2.0, 0.5
    if case == "small":
        x, y = x[:100], y[:100]
    elif case == "strided":
        x, y = rng.randn(2 * N).astype(np.float32)[::2], y
    elif case == "mixed dtypes":
        x = x.astype(np.float64)
    elif case == "zero coefficient":     # BLAS would skip the term: a NaN in x would not spread
        x[3] = np.nan
        a = 0.0
    elif case == "nan coefficient":
        a = float("nan")
    elif case == "overlap":
        x = y[1:]
        y = y[:-1]
    elif case == "integers":
        x, y = np.arange(N), np.arange(N)
    before = y.copy()
    assert not blas_level1.axpby(a, x, b, y)
    assert not blas_level1.axpy(a, x, y)
    np.testing.assert_array_equal(y, before)


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("NANOTF_BLAS_LEVEL1", "0")
    monkeypatch.setattr(blas_level1, "_found", None)
    assert not blas_level1.available()
    y = np.ones(N, np.float32)
    assert not blas_level1.axpy(1.0, np.ones(N, np.float32), y)
    monkeypatch.setattr(blas_level1, "_found", None)   # the next use looks again (with the env restored)


# -- the optimizers on a variable BLAS serves, against TF's formulas in float64
def _step(optimizer, w0, grads):
    """The variable after len(grads) steps of `optimizer` from w0, with the gradient fed."""
    with tf.Graph().as_default():
        w = tf.Variable(w0)
        g = tf.placeholder(w0.dtype, w0.shape)
        train = optimizer.apply_gradients([(g, w)])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for gv in grads:
                sess.run(train, {g: gv})
            return sess.run(w)


def _adam_reference(w, grads, lr=0.01, b1=0.9, b2=0.999, eps=1e-8, nesterov=False):
    w, m, v = w.astype(np.float64), 0.0, 0.0
    for t, g in enumerate(grads, 1):
        g = g.astype(np.float64)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        num = b1 * m + (1 - b1) * g if nesterov else m
        w = w - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * num / (np.sqrt(v) + eps)
    return w


def _momentum_reference(w, grads, lr=0.05, momentum=0.9):
    w, acc = w.astype(np.float64), 0.0
    for g in grads:
        acc = acc * momentum + g
        w = w - lr * acc
    return w


def _gd_reference(w, grads, lr=0.05):
    w = w.astype(np.float64)
    for g in grads:
        w = w - lr * g
    return w


def _nesterov_adam(w0, grads, lr=0.01, b1=0.9, b2=0.999, eps=1e-8):
    """ApplyAdam with use_nesterov (TF's op; no TF1 optimizer sets it), the beta powers fed per step."""
    from nanotf.training import training_ops
    f = np.float32
    with tf.Graph().as_default():
        w, m, v = (tf.Variable(a) for a in (w0, np.zeros_like(w0), np.zeros_like(w0)))
        g = tf.placeholder(tf.float32, w0.shape)
        p1, p2 = tf.placeholder(tf.float32, []), tf.placeholder(tf.float32, [])
        step = training_ops.apply_adam(w._variable, m._variable, v._variable, p1, p2, tf.constant(f(lr)),
                                       tf.constant(f(b1)), tf.constant(f(b2)), tf.constant(f(eps)), g,
                                       use_nesterov=True)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for t, gv in enumerate(grads, 1):
                sess.run(step, {g: gv, p1: f(b1) ** t, p2: f(b2) ** t})
            return sess.run(w)


@pytest.mark.parametrize("name", ["adam", "adam nesterov", "momentum", "gradient descent"])
def test_optimizers_with_blas_match_tf_formulas(rng, name):
    w0 = rng.randn(N).astype(np.float32)
    grads = [rng.randn(N).astype(np.float32) for _ in range(3)]
    if name == "adam":
        got, want = _step(tf.train.AdamOptimizer(0.01), w0, grads), _adam_reference(w0, grads)
        step_size = 0.01 * 3   # Adam moves each weight by at most about lr per step
    elif name == "adam nesterov":
        got, want = _nesterov_adam(w0, grads), _adam_reference(w0, grads, nesterov=True)
        step_size = 0.01 * 3
    elif name == "momentum":
        got = _step(tf.train.MomentumOptimizer(0.05, 0.9), w0, grads)
        want, step_size = _momentum_reference(w0, grads), 0.05 * 6
    else:
        got = _step(tf.train.GradientDescentOptimizer(0.05), w0, grads)
        want, step_size = _gd_reference(w0, grads), 0.05 * 3
    # float32 rounding of w (its size) at each of 3 steps, plus the steps' own few-ulp errors
    tol = 8 * EPS32 * (np.abs(want) + step_size * np.abs(np.asarray(grads)).max(0) + 1) * 3
    assert np.all(np.abs(got - want) <= tol), np.max(np.abs(got - want) / tol)


def test_blas_and_numpy_paths_agree_on_adam(rng, monkeypatch):
    w0 = rng.randn(N).astype(np.float32)
    grads = [rng.randn(N).astype(np.float32) for _ in range(3)]
    with_blas = _step(tf.train.AdamOptimizer(0.01), w0, grads)
    monkeypatch.setattr(blas_level1, "_found", {})
    numpy_only = _step(tf.train.AdamOptimizer(0.01), w0, grads)
    # not bit-identical (a BLAS kernel may fuse multiply and add); a few ulps of w apart
    np.testing.assert_allclose(with_blas, numpy_only, rtol=0, atol=float(16 * EPS32 * (np.abs(w0).max() + 1)))
