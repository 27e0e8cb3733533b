"""Initializers against their closed-form distributions: bounds exactly, variances statistically with
explicit bounds (5 standard errors of the sample variance), orthogonality to float32 precision."""
import math

import numpy as np
import pytest

import nanotf as tf

TRUNC_STD = 0.87962566103423978   # std of a unit normal truncated to [-2, 2]


def _values(init, shape, seed=1):
    with tf.Graph().as_default():
        tf.set_random_seed(seed)
        v = tf.get_variable("v", shape, initializer=init)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            return sess.run(v).astype(np.float64)


def _check_var(x, target, kurtosis):
    """Sample variance within 5 standard errors of `target`; SE = target * sqrt((kurtosis - 1) / N)."""
    se = target * math.sqrt((kurtosis - 1) / x.size)
    assert abs(x.var() - target) < 5 * se, (x.var(), target, se)


# kurtosis: uniform 1.8, normal 3, normal truncated at 2 sigma ~2.37 (bounded above by 3: use 3)
@pytest.mark.parametrize("shape", [(300, 200), (3, 3, 40, 50)])
def test_glorot_uniform_and_normal(shape):
    fan_in = shape[-2] * int(np.prod(shape[:-2]))
    fan_out = shape[-1] * int(np.prod(shape[:-2]))
    target = 2.0 / (fan_in + fan_out)
    u = _values(tf.glorot_uniform_initializer(), shape)
    assert np.abs(u).max() <= math.sqrt(3 * target) * (1 + 1e-6)
    _check_var(u, target, 1.8)
    n = _values(tf.glorot_normal_initializer(), shape)
    assert np.abs(n).max() <= 2 * math.sqrt(target) / TRUNC_STD * (1 + 1e-6)
    _check_var(n, target, 3)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("dist", ["truncated_normal", "untruncated_normal", "uniform", "normal"])
def test_variance_scaling_modes_and_distributions(mode, dist):
    shape = (200, 150)
    n = {"fan_in": 200, "fan_out": 150, "fan_avg": 175}[mode]
    target = 3.0 / n
    x = _values(tf.variance_scaling_initializer(scale=3.0, mode=mode, distribution=dist), shape)
    _check_var(x, target, 1.8 if dist == "uniform" else 3)
    if dist == "uniform":
        assert np.abs(x).max() <= math.sqrt(3 * target) * (1 + 1e-6)
    elif dist in ("truncated_normal", "normal"):   # TF 1.15 treats "normal" as truncated
        assert np.abs(x).max() <= 2 * math.sqrt(target) / TRUNC_STD * (1 + 1e-6)
    else:
        assert np.abs(x).max() > 2 * math.sqrt(target) / TRUNC_STD   # 30000 draws: tails beyond 2.27 sigma


def test_variance_scaling_rejects_bad_arguments():
    with pytest.raises(ValueError):
        tf.variance_scaling_initializer(scale=0.0)
    with pytest.raises(ValueError):
        tf.variance_scaling_initializer(mode="fan_sum")
    with pytest.raises(ValueError):
        tf.variance_scaling_initializer(distribution="cauchy")


@pytest.mark.parametrize("shape,gain", [((40, 10), 1.0), ((10, 40), 2.0), ((3, 3, 4, 6), 0.5), ((16, 16), 1.0)])
def test_orthogonal_initializer(shape, gain):
    q = _values(tf.orthogonal_initializer(gain=gain), shape).reshape(-1, shape[-1])
    rows, cols = q.shape
    gram = q.T @ q if rows >= cols else q @ q.T
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(rows, cols)), atol=gain ** 2 * 1e-5)


def test_orthogonal_is_uniform_over_rotations_in_the_mean():
    # Haar-distributed Q has E[Q] = 0 (the sign fix matters: without it diag(R) > 0 biases Q)
    mats = np.stack([_values(tf.orthogonal_initializer(), (4, 4), seed=s) for s in range(200)])
    # each entry has variance 1/4; the mean of 200 has SE 0.035: bound 5 SE
    assert np.abs(mats.mean(0)).max() < 5 * 0.5 / math.sqrt(200)


def test_initializers_namespace_and_he_lecun():
    import nanotf.initializers as I
    assert I.glorot_uniform is tf.glorot_uniform_initializer and I.orthogonal is tf.orthogonal_initializer
    for fn, scale, kurt in ((I.he_normal, 2.0, 3), (I.he_uniform, 2.0, 1.8), (I.lecun_normal, 1.0, 3),
                            (I.lecun_uniform, 1.0, 1.8)):
        x = _values(fn(seed=3), (250, 120))
        _check_var(x, scale / 250, kurt)
    np.testing.assert_array_equal(_values(I.identity(gain=3.0), (2, 3)), 3.0 * np.eye(2, 3))
    with tf.Graph().as_default():
        v = tf.Variable(1.0)
        assert I.global_variables().type == "NoOp" and v is not None


def test_contrib_xavier_and_variance_scaling():
    c = tf.contrib.layers
    shape = (200, 100)
    u = _values(c.xavier_initializer(), shape)
    assert np.abs(u).max() <= math.sqrt(3.0 / 150) * (1 + 1e-6)
    _check_var(u, 1.0 / 150, 1.8)
    # contrib's normal case: truncated normal of stddev sqrt(1.3 * factor / n) -> variance 1.3 * 0.774 * f / n
    x = _values(c.variance_scaling_initializer(factor=2.0, mode="FAN_IN"), shape)
    sd = math.sqrt(1.3 * 2.0 / 200)
    assert np.abs(x).max() <= 2 * sd * (1 + 1e-6)
    _check_var(x, (sd * TRUNC_STD) ** 2, 3)
    conv = _values(c.xavier_initializer_conv2d(uniform=False), (3, 3, 8, 16))
    _check_var(conv, 1.3 * (TRUNC_STD ** 2) / ((72 + 144) / 2), 3)
    with pytest.raises(TypeError):
        c.variance_scaling_initializer(mode="fan_in")
