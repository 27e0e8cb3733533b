"""tf.gradients against closed forms and central finite differences: fan-out accumulation,
disconnected xs, stop_gradient, grad_ys, name scopes, integer paths, Variables."""
import numpy as np
import pytest

import nanotf as tf


def _run(fetches, feed=None, init=False):
    with tf.Session() as sess:
        if init:
            sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def _numeric_grad(f, x, eps=1e-6):
    """Central finite differences of a scalar NumPy function f at x (float64)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        orig = x[i]
        x[i] = orig + eps
        up = f(x)
        x[i] = orig - eps
        down = f(x)
        x[i] = orig
        g[i] = (up - down) / (2 * eps)
    return g


# ================================================================ closed forms
def test_fan_out_accumulates_gradients():
    xv = np.array([-2.0, 0.5, 3.0], np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[3])
        y = x * x + x              # x feeds three edges
        (gx,) = tf.gradients(y, [x])
        assert gx.dtype is tf.float32 and gx.shape.as_list() == [3]
        out = _run(gx, {x: xv})
    np.testing.assert_allclose(out, 2 * xv + 1, rtol=1e-6)


def test_single_x_not_in_a_list_and_multiple_ys_are_summed():
    xv = np.array([1.0, 2.0], np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[2])
        y1 = 3.0 * x
        y2 = x * x
        grads = tf.gradients([y1, y2], x)
        assert isinstance(grads, list) and len(grads) == 1
        out = _run(grads[0], {x: xv})
    np.testing.assert_allclose(out, 3.0 + 2 * xv)


def test_disconnected_x_gives_none():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[2])
        z = tf.placeholder(tf.float32, shape=[2])
        y = x * 2.0
        gx, gz = tf.gradients(y, [x, z])
        assert gz is None
        np.testing.assert_array_equal(_run(gx, {x: [1.0, 1.0]}), [2.0, 2.0])
        # a y computed before x exists is also disconnected
        assert tf.gradients(tf.constant(1.0) * 2.0, z) == [None]


def test_stop_gradient_blocks_its_path():
    xv = np.array([1.5, -0.5], np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[2])
        y = tf.stop_gradient(x * x) + x
        z = x * tf.stop_gradient(x)
        only_stopped = tf.stop_gradient(x) * 4.0
        gy, gz = tf.gradients(y, x)[0], tf.gradients(z, x)[0]
        assert tf.gradients(only_stopped, x) == [None]
        gyv, gzv = _run([gy, gz], {x: xv})
    np.testing.assert_allclose(gyv, np.ones(2))
    np.testing.assert_allclose(gzv, xv)        # d/dx x*sg(x) = sg(x) = x


def test_stop_gradients_argument():
    xv = np.array([2.0], np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[1])
        a = x * x
        y = a + x
        (g,) = tf.gradients(y, x, stop_gradients=[a])
        np.testing.assert_allclose(_run(g, {x: xv}), [1.0])


def test_grad_ys_weights_the_output_gradient():
    xv = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    wv = np.array([[0.5, -1.0], [2.0, 0.0]], np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[2, 2])
        y = 3.0 * x * x
        (g,) = tf.gradients(y, x, grad_ys=tf.constant(wv))
        (g_list,) = tf.gradients([y], [x], grad_ys=[wv])
        gv, glv = _run([g, g_list], {x: xv})
    np.testing.assert_allclose(gv, wv * 6.0 * xv, rtol=1e-6)
    np.testing.assert_allclose(glv, wv * 6.0 * xv, rtol=1e-6)


def test_grad_ys_length_mismatch_raises():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[1])
        with pytest.raises(ValueError):
            tf.gradients([x * 2.0], [x], grad_ys=[tf.ones([1]), tf.ones([1])])


def test_matmul_and_broadcast_bias_gradients_with_unknown_batch():
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((5, 3)).astype(np.float32)
    wv = rng.standard_normal((3, 2)).astype(np.float32)
    bv = rng.standard_normal(2).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[None, 3])
        w = tf.constant(wv)
        b = tf.constant(bv)
        y = tf.reduce_sum(tf.matmul(x, w) + b)
        gx, gw, gb = tf.gradients(y, [x, w, b])
        assert gw.shape.as_list() == [3, 2] and gb.shape.as_list() == [2]
        gxv, gwv, gbv = _run([gx, gw, gb], {x: xv})
    np.testing.assert_allclose(gxv, np.ones((5, 2)) @ wv.T, rtol=1e-5)
    np.testing.assert_allclose(gwv, xv.T @ np.ones((5, 2)), rtol=1e-5)
    np.testing.assert_allclose(gbv, [5.0, 5.0])


def test_sub_div_neg_mean_closed_forms():
    xv = np.array([1.0, 2.0, 4.0], np.float64)
    yv = np.array([0.5, -1.0, 2.0], np.float64)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, shape=[3])
        y = tf.placeholder(tf.float64, shape=[3])
        f = tf.reduce_mean(x / y - (-y) * x - y)
        gx, gy = tf.gradients(f, [x, y])
        gxv, gyv = _run([gx, gy], {x: xv, y: yv})
    n = 3.0
    np.testing.assert_allclose(gxv, (1 / yv + yv) / n, rtol=1e-12)
    np.testing.assert_allclose(gyv, (-xv / yv ** 2 + xv - 1) / n, rtol=1e-12)


# ================================================================ finite differences
def test_composite_function_matches_central_differences():
    rng = np.random.default_rng(1)
    xv = rng.standard_normal((4, 3))
    wv = rng.standard_normal((3, 2))
    bv = rng.standard_normal(2)

    def f_np(x, w, b):
        h = x @ w + b
        return np.mean((h * h - 2.0 * h) / 3.0) + np.sum(x) * 0.5

    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, shape=[4, 3])
        w = tf.placeholder(tf.float64, shape=[3, 2])
        b = tf.placeholder(tf.float64, shape=[2])
        h = tf.matmul(x, w) + b
        f = tf.reduce_mean((h * h - 2.0 * h) / 3.0) + tf.reduce_sum(x) * 0.5
        grads = tf.gradients(f, [x, w, b])
        fv, gx, gw, gb = _run([f, *grads], {x: xv, w: wv, b: bv})
    assert fv == pytest.approx(f_np(xv, wv, bv), rel=1e-12)
    np.testing.assert_allclose(gx, _numeric_grad(lambda a: f_np(a, wv, bv), xv), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gw, _numeric_grad(lambda a: f_np(xv, a, bv), wv), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, _numeric_grad(lambda a: f_np(xv, wv, a), bv), rtol=1e-6, atol=1e-8)


def test_addn_cast_and_transposed_matmul_match_central_differences():
    rng = np.random.default_rng(2)
    av = rng.standard_normal((3, 4))
    bv = rng.standard_normal((2, 4))

    def f_np(a, b):
        m = a @ b.T                       # (3, 2)
        return np.sum((m + m * m + 2.0 * m) * np.arange(6).reshape(3, 2))

    with tf.Graph().as_default():
        a = tf.placeholder(tf.float64, shape=[3, 4])
        b = tf.placeholder(tf.float64, shape=[2, 4])
        m = tf.matmul(a, b, transpose_b=True)
        s = tf.add_n([m, m * m, 2.0 * m])
        wts = tf.cast(tf.constant(np.arange(6).reshape(3, 2).astype(np.float32)), tf.float64)
        f = tf.reduce_sum(s * wts)
        ga, gb = tf.gradients(f, [a, b])
        gav, gbv = _run([ga, gb], {a: av, b: bv})
    np.testing.assert_allclose(gav, _numeric_grad(lambda x: f_np(x, bv), av), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gbv, _numeric_grad(lambda x: f_np(av, x), bv), rtol=1e-6, atol=1e-7)


def test_float_cast_path_is_differentiable():
    xv = np.array([1.0, -2.0], np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[2])
        y = tf.cast(x, tf.float64) * tf.cast(x, tf.float64)
        (g,) = tf.gradients(y, x)
        assert g.dtype is tf.float32
        np.testing.assert_allclose(_run(g, {x: xv}), 2 * xv)


# ================================================================ integer paths and variables
def test_integer_paths_give_none():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[2])
        through_int = tf.cast(tf.cast(x, tf.int32), tf.float32) * 3.0
        assert tf.gradients(through_int, x) == [None]
        i = tf.placeholder(tf.int32, shape=[2])
        assert tf.gradients(i * 2, i) == [None]
        # a mixed sum keeps the float path only
        mixed = through_int + x * 5.0
        (g,) = tf.gradients(mixed, x)
        np.testing.assert_allclose(_run(g, {x: [1.0, 2.0]}), [5.0, 5.0])


def test_gradient_with_respect_to_a_variable():
    wv = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    with tf.Graph().as_default():
        w = tf.Variable(wv, name="w")
        loss = tf.reduce_sum(w * w) + tf.reduce_sum(3.0 * w)
        (g,) = tf.gradients(loss, [w])
        assert g.shape.as_list() == [2, 2]
        (g_via_read,) = tf.gradients(loss, w.value())
        gv, grv = _run([g, g_via_read], init=True)
    np.testing.assert_allclose(gv, 2 * wv + 3.0, rtol=1e-6)
    np.testing.assert_allclose(grv, 2 * wv + 3.0, rtol=1e-6)


def test_gradient_wrt_intermediate_tensor():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[2])
        h = x * 2.0
        y = h * h
        gh, gx = tf.gradients(y, [h, x])
        ghv, gxv = _run([gh, gx], {x: [1.0, 3.0]})
    np.testing.assert_allclose(ghv, [4.0, 12.0])        # 2h
    np.testing.assert_allclose(gxv, [8.0, 24.0])        # 2h * 2


# ================================================================ naming
def test_gradient_ops_live_under_the_gradients_scope():
    with tf.Graph().as_default() as g:
        images = tf.placeholder(tf.float32, shape=[None, 4], name="images")
        with tf.name_scope("hidden1"):
            weights = tf.Variable(tf.zeros([4, 2]), name="weights")
            hidden = tf.matmul(images, weights)
        loss = tf.reduce_mean(hidden, name="loss")
        before = {op.name for op in g.get_operations()}
        grads = tf.gradients(loss, [weights])
        new = [op.name for op in g.get_operations() if op.name not in before]
        assert new and all(n.startswith("gradients/") for n in new), new
        assert "gradients/hidden1/MatMul_grad/MatMul" in new
        assert "gradients/hidden1/MatMul_grad/MatMul_1" in new
        assert grads[0].op.name == "gradients/hidden1/MatMul_grad/MatMul_1"
        # a second call uses a fresh scope
        before = {op.name for op in g.get_operations()}
        tf.gradients(loss, [images])
        new2 = [op.name for op in g.get_operations() if op.name not in before]
        assert new2 and all(n.startswith("gradients_1/") for n in new2), new2


def test_gradients_custom_name():
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, shape=[2], name="x")
        y = tf.multiply(x, x, name="sq")
        before = {op.name for op in g.get_operations()}
        tf.gradients(y, x, name="my_grads")
        new = [op.name for op in g.get_operations() if op.name not in before]
        assert new and all(n.startswith("my_grads/") for n in new), new
        assert any(n.startswith("my_grads/sq_grad/") for n in new), new
