"""tf.layers: TF 1.15's variable names and scopes, and values against NumPy references (float64) and
central finite differences."""
import numpy as np
import pytest

import nanotf as tf
from _layer_refs import conv2d_ref, conv2d_transpose_ref, numeric_grad, pool2d_ref


def _run(fetches, feed=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


# -- names, scopes, reuse
def test_dense_variable_names_follow_tensorflow(graph):
    x = tf.placeholder(tf.float32, [None, 5])
    h = tf.layers.dense(x, 4, activation=tf.nn.relu)
    tf.layers.dense(h, 3)
    with tf.variable_scope("scope"):
        tf.layers.dense(h, 2)
    names = [(v.name, v.shape.as_list()) for v in tf.global_variables()]
    assert names == [("dense/kernel:0", [5, 4]), ("dense/bias:0", [4]), ("dense_1/kernel:0", [4, 3]),
                     ("dense_1/bias:0", [3]), ("scope/dense/kernel:0", [4, 2]), ("scope/dense/bias:0", [2])]
    assert h.op.name == "dense/Relu" and h.op.inputs[0].op.name == "dense/BiasAdd"
    assert set(tf.trainable_variables()) == set(tf.global_variables())


def test_reuse_true_auto_reuse_and_layer_objects_share_variables(graph):
    x = tf.placeholder(tf.float32, [None, 3])
    with tf.variable_scope("D"):
        a = tf.layers.dense(x, 2, name="fc")
    with tf.variable_scope("D", reuse=True):
        b = tf.layers.dense(x, 2, name="fc")
    for _ in range(2):
        with tf.variable_scope("G", reuse=tf.AUTO_REUSE):
            tf.layers.dense(x, 2)
    layer = tf.layers.Dense(2)
    layer(x)
    layer(x)
    names = sorted(v.name for v in tf.global_variables())
    assert names == ["D/fc/bias:0", "D/fc/kernel:0", "G/dense/bias:0", "G/dense/kernel:0", "dense/bias:0",
                     "dense/kernel:0"]
    assert a.op.name == "D/fc/BiasAdd" and b.op.name == "D_1/fc/BiasAdd"
    assert layer.kernel.name == "dense/kernel:0" and len(layer.trainable_weights) == 2
    # a second layer of the same name without reuse is refused, as in TF
    with tf.variable_scope("D"):
        with pytest.raises(ValueError, match="D/fc/kernel already exists"):
            tf.layers.dense(x, 2, name="fc")


def test_reuse_true_without_existing_variable_raises(graph):
    x = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(ValueError, match="does not exist"):
        tf.layers.dense(x, 2, name="nope", reuse=True)


def test_conv_and_bn_variable_shapes_and_names(graph):
    x = tf.placeholder(tf.float32, [None, 8, 8, 3])
    h = tf.layers.conv2d(x, 5, [3, 2])
    h = tf.layers.batch_normalization(h)
    tf.layers.conv2d_transpose(h, 4, 3, strides=2)
    tf.layers.conv1d(tf.placeholder(tf.float32, [None, 7, 2]), 6, 3)
    got = [(v.name, v.shape.as_list(), v in tf.trainable_variables()) for v in tf.global_variables()]
    assert got == [("conv2d/kernel:0", [3, 2, 3, 5], True), ("conv2d/bias:0", [5], True),
                   ("batch_normalization/gamma:0", [5], True), ("batch_normalization/beta:0", [5], True),
                   ("batch_normalization/moving_mean:0", [5], False),
                   ("batch_normalization/moving_variance:0", [5], False),
                   ("conv2d_transpose/kernel:0", [3, 3, 4, 5], True), ("conv2d_transpose/bias:0", [4], True),
                   ("conv1d/kernel:0", [3, 2, 6], True), ("conv1d/bias:0", [6], True)]


def test_variable_scope_initializer_and_regularizer_apply_to_layers(graph):
    x = tf.placeholder(tf.float32, [None, 3])
    with tf.variable_scope("s", initializer=tf.constant_initializer(0.5)):
        tf.layers.dense(x, 2, kernel_regularizer=lambda w: 0.1 * tf.reduce_sum(tf.square(w)))
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert len(losses) == 1
    k, loss = _run([tf.global_variables()[0], losses[0]])
    np.testing.assert_array_equal(k, np.full((3, 2), 0.5, np.float32))
    assert loss == pytest.approx(0.1 * 6 * 0.25, rel=1e-6)


def test_dense_default_initializer_is_glorot_uniform_and_bias_zero(graph):
    tf.set_random_seed(1)
    x = tf.placeholder(tf.float32, [None, 300])
    layer = tf.layers.Dense(200)
    layer(x)
    k, b = _run([layer.kernel, layer.bias])
    limit = np.sqrt(6.0 / 500)
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.99 * limit
    # variance of U(-l, l) is l^2/3; 60000 draws: relative standard error sqrt(0.8/N) ~ 0.37%, bound 5 SE
    assert abs(k.var() / (limit ** 2 / 3) - 1) < 5 * np.sqrt(0.8 / k.size)
    assert not b.any()


# -- values
def test_dense_values_rank2_and_rank3(rng, graph):
    xv = rng.standard_normal((2, 4, 3))
    x = tf.placeholder(tf.float64, [None, 4, 3])
    layer = tf.layers.Dense(5, activation=tf.nn.tanh, bias_initializer=tf.constant_initializer(0.3))
    y = layer(x)
    y2 = tf.layers.dense(tf.reshape(x, [-1, 3]), 2, use_bias=False)
    assert y.shape.as_list() == [None, 4, 5]
    yv, y2v, k, k2 = _run([y, y2, layer.kernel, tf.global_variables()[-1]], {x: xv})
    np.testing.assert_allclose(yv, np.tanh(xv @ k + 0.3), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y2v, xv.reshape(-1, 3) @ k2, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding,stride", [("same", 1), ("valid", 2), ("same", 2)])
def test_conv2d_matches_numpy_and_channels_first_agrees(padding, stride, graph):
    rng = np.random.default_rng(1)
    xv = rng.standard_normal((2, 7, 6, 3))
    x = tf.placeholder(tf.float64, [None, 7, 6, 3])
    layer = tf.layers.Conv2D(4, (3, 2), strides=stride, padding=padding, activation=tf.nn.relu,
                             bias_initializer=tf.random_normal_initializer())
    y = layer(x)
    first = tf.layers.Conv2D(4, (3, 2), strides=stride, padding=padding, data_format="channels_first")
    yf = first(tf.transpose(x, [0, 3, 1, 2]))
    sync = tf.assign(first.kernel, layer.kernel)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(sync)
        yv, yfv, k, b = sess.run([y, yf, layer.kernel, layer.bias], {x: xv})
    ref = conv2d_ref(xv, k, stride, padding.upper())
    assert y.shape.as_list() == [None] + list(ref.shape[1:])
    np.testing.assert_allclose(yv, np.maximum(ref + b, 0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(yfv, ref.transpose(0, 3, 1, 2), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("padding,stride,k", [("same", 2, 3), ("valid", 2, 3), ("valid", 3, 2), ("same", 1, 3)])
def test_conv2d_transpose_matches_scatter_add_reference(padding, stride, k, graph):
    rng = np.random.default_rng(2)
    xv = rng.standard_normal((2, 4, 3, 2))
    x = tf.placeholder(tf.float64, [None, 4, 3, 2])
    layer = tf.layers.Conv2DTranspose(5, k, strides=stride, padding=padding)
    y = layer(x)
    yv, w = _run([y, layer.kernel], {x: xv})
    oh = 4 * stride + (max(k - stride, 0) if padding == "valid" else 0)
    ow = 3 * stride + (max(k - stride, 0) if padding == "valid" else 0)
    assert y.shape.as_list() == [None, oh, ow, 5] and yv.shape == (2, oh, ow, 5)
    np.testing.assert_allclose(yv, conv2d_transpose_ref(xv, w, stride, oh, ow), rtol=1e-10, atol=1e-12)


def test_conv1d_matches_numpy(graph):
    rng = np.random.default_rng(3)
    xv = rng.standard_normal((2, 9, 3))
    x = tf.placeholder(tf.float64, [None, 9, 3])
    layer = tf.layers.Conv1D(4, 3, strides=2, padding="same")
    y = layer(x)
    yv, w = _run([y, layer.kernel], {x: xv})
    ref = conv2d_ref(xv[:, None], w[None], 2, "SAME")[:, 0]
    np.testing.assert_allclose(yv, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pooling_2d_and_1d_match_numpy(kind, padding, graph):
    rng = np.random.default_rng(4)
    xv = rng.standard_normal((2, 7, 5, 3))
    x = tf.placeholder(tf.float64, [None, 7, 5, 3])
    f2 = tf.layers.max_pooling2d if kind == "max" else tf.layers.average_pooling2d
    f1 = tf.layers.max_pooling1d if kind == "max" else tf.layers.average_pooling1d
    y2 = f2(x, 3, 2, padding=padding)
    y1 = f1(x[:, :, 0, :], 2, 2, padding=padding)
    assert y2.op.name.startswith("max_pooling2d/" if kind == "max" else "average_pooling2d/")
    v2, v1 = _run([y2, y1], {x: xv})
    np.testing.assert_allclose(v2, pool2d_ref(xv, 3, 2, padding.upper(), kind), rtol=1e-12)
    # 1-D pooling reference directly
    n = v1.shape[1]
    starts = [i * 2 - (0 if padding == "valid" else max((n - 1) * 2 + 2 - 7, 0) // 2) for i in range(n)]
    direct = np.stack([(np.max if kind == "max" else np.mean)(xv[:, max(s, 0):min(s + 2, 7), 0, :], axis=1)
                       for s in starts], 1)
    np.testing.assert_allclose(v1, direct, rtol=1e-12)


def test_flatten_shapes_and_values(graph):
    xv = np.arange(24.0).reshape(2, 3, 4)
    x = tf.placeholder(tf.float64, [None, 3, 4])
    y = tf.layers.flatten(x)
    assert y.shape.as_list() == [None, 12] and y.op.name.startswith("flatten/")
    np.testing.assert_array_equal(_run(y, {x: xv}), xv.reshape(2, 12))


# -- dropout
def test_dropout_training_false_is_identity_and_true_drops_rate(graph):
    xv = np.ones((200, 100))
    tf.set_random_seed(3)
    x = tf.placeholder(tf.float64, [None, 100])
    off = tf.layers.dropout(x, rate=0.3)                   # TF's default: training=False
    on = tf.layers.dropout(x, rate=0.3, training=True)
    flag = tf.placeholder_with_default(False, [])
    switch = tf.layers.dropout(x, rate=0.3, training=flag)
    with tf.Session() as sess:
        a, b, c0 = sess.run([off, on, switch], {x: xv})
        c1 = sess.run(switch, {x: xv, flag: True})
    np.testing.assert_array_equal(a, xv)
    np.testing.assert_array_equal(c0, xv)
    for v in (b, c1):
        kept = v != 0
        np.testing.assert_allclose(v[kept], 1 / 0.7, rtol=1e-12)
        # 20000 Bernoulli(0.7) draws: standard error 0.0032; bound 5 SE
        assert abs(kept.mean() - 0.7) < 5 * np.sqrt(0.21 / kept.size)


def test_dropout_rejects_non_bool_training_tensor(graph):
    x = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(TypeError, match="bool"):
        tf.layers.dropout(x, training=tf.placeholder(tf.float32, []))


# -- batch normalization
def _bn_graph(shape, training, **kw):
    x = tf.placeholder(tf.float64, shape)
    layer = tf.layers.BatchNormalization(**kw)
    y = layer(x, training=training)
    return x, layer, y


def test_batch_norm_training_output_and_moving_average_updates(graph):
    rng = np.random.default_rng(5)
    xv = rng.standard_normal((6, 3)) * 2 + 1
    x, layer, y = _bn_graph([None, 3], True, beta_initializer=tf.constant_initializer(0.5),
                            gamma_initializer=tf.constant_initializer(2.0))
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2 and updates[0].op.name == "batch_normalization/AssignMovingAvg"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        yv = sess.run(y, {x: xv})
        mm, mv = sess.run([layer.moving_mean, layer.moving_variance])
        np.testing.assert_array_equal(mm, 0) and np.testing.assert_array_equal(mv, 1)
        sess.run(updates, {x: xv})
        mm, mv = sess.run([layer.moving_mean, layer.moving_variance])
    mean, var = xv.mean(0), xv.var(0)
    np.testing.assert_allclose(yv, 2.0 * (xv - mean) / np.sqrt(var + 1e-3) + 0.5, rtol=1e-10)
    # 2-D input: not fused in TF 1.15, so the biased variance feeds the moving average
    np.testing.assert_allclose(mm, 0.01 * mean, rtol=1e-10)
    np.testing.assert_allclose(mv, 0.99 + 0.01 * var, rtol=1e-10)


def test_batch_norm_4d_fused_uses_bessel_corrected_moving_variance(graph):
    rng = np.random.default_rng(6)
    xv = rng.standard_normal((2, 3, 2, 4))
    x, layer, y = _bn_graph([None, 3, 2, 4], True, momentum=0.9)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        yv, _ = sess.run([y, tf.get_collection(tf.GraphKeys.UPDATE_OPS)], {x: xv})
        mv = sess.run(layer.moving_variance)
    flat = xv.reshape(-1, 4)
    np.testing.assert_allclose(yv, (xv - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-3), rtol=1e-10)
    np.testing.assert_allclose(mv, 0.9 + 0.1 * flat.var(0, ddof=1), rtol=1e-10)


def test_batch_norm_inference_uses_moving_statistics_and_adds_no_updates(graph):
    xv = np.array([[1.0, 2.0], [3.0, 5.0]])
    x, layer, y = _bn_graph([None, 2], False, moving_mean_initializer=tf.constant_initializer(1.0),
                            moving_variance_initializer=tf.constant_initializer(4.0))
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == []
    yv = _run(y, {x: xv})
    np.testing.assert_allclose(yv, (xv - 1.0) / np.sqrt(4.0 + 1e-3), rtol=1e-12)


def test_batch_norm_training_tensor_updates_only_when_true(graph):
    rng = np.random.default_rng(7)
    xv = rng.standard_normal((5, 2))
    flag = tf.placeholder(tf.bool, [])
    x, layer, y = _bn_graph([None, 2], flag, axis=1)
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(updates):
        step = tf.identity(y)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        y_inf = sess.run(step, {x: xv, flag: False})
        assert not sess.run(layer.moving_mean).any()
        np.testing.assert_array_equal(sess.run(layer.moving_variance), 1)
        y_tr = sess.run(step, {x: xv, flag: True})
        mm = sess.run(layer.moving_mean)
    np.testing.assert_allclose(y_inf, xv / np.sqrt(1 + 1e-3), rtol=1e-12)
    np.testing.assert_allclose(y_tr, (xv - xv.mean(0)) / np.sqrt(xv.var(0) + 1e-3), rtol=1e-10)
    np.testing.assert_allclose(mm, 0.01 * xv.mean(0), rtol=1e-10)


def test_batch_norm_axis1_on_nchw(graph):
    rng = np.random.default_rng(8)
    xv = rng.standard_normal((3, 2, 2, 2))
    x, layer, y = _bn_graph([None, 2, 2, 2], True, axis=1, center=False, scale=False)
    assert [v.name for v in tf.global_variables()] == ["batch_normalization/moving_mean:0",
                                                        "batch_normalization/moving_variance:0"]
    yv = _run(y, {x: xv})
    m = xv.mean((0, 2, 3), keepdims=True)
    v = xv.var((0, 2, 3), keepdims=True)
    np.testing.assert_allclose(yv, (xv - m) / np.sqrt(v + 1e-3), rtol=1e-10)


# -- gradients against central differences
def _check_grad(build, xv, rtol=1e-5, atol=1e-7):
    with tf.Graph().as_default():
        tf.set_random_seed(11)
        x = tf.placeholder(tf.float64, xv.shape)
        y = build(x)
        w = np.random.default_rng(9).standard_normal(y.shape.as_list())
        loss = tf.reduce_sum(y * w)
        params = tf.trainable_variables()
        assert params
        grads = tf.gradients(loss, [x] + params)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got = sess.run(grads, {x: xv})
            values = sess.run(params)
            for i, target in enumerate([x] + params):
                def f(v, i=i, target=target):
                    if i == 0:
                        return sess.run(loss, {x: v})
                    target.load(v, sess)
                    out = sess.run(loss, {x: xv})
                    target.load(values[i - 1], sess)
                    return out
                start = xv if i == 0 else values[i - 1]
                np.testing.assert_allclose(got[i], numeric_grad(f, start), rtol=rtol, atol=atol,
                                           err_msg="gradient w.r.t. %s" % getattr(target, "name", target))


def test_gradients_of_dense_conv_pool_and_transpose_layers():
    rng = np.random.default_rng(10)

    def build(x):
        h = tf.layers.conv2d(x, 2, 3, padding="same", activation=tf.nn.tanh)
        h = tf.layers.average_pooling2d(h, 2, 2)
        h = tf.layers.conv2d_transpose(h, 2, 2, strides=2)
        return tf.layers.dense(tf.layers.flatten(h), 3, activation=tf.nn.sigmoid)
    _check_grad(build, rng.standard_normal((2, 4, 4, 1)))


def test_gradients_of_batch_norm_in_training_mode():
    rng = np.random.default_rng(12)
    _check_grad(lambda x: tf.layers.batch_normalization(x, training=True,
                                                        gamma_initializer=tf.random_normal_initializer(),
                                                        beta_initializer=tf.random_normal_initializer()),
                rng.standard_normal((4, 3)))
    _check_grad(lambda x: tf.layers.batch_normalization(x, training=True), rng.standard_normal((2, 2, 2, 2)))


def test_checkpoint_keys_are_tensorflows_variable_names(tmp_path):
    """A tf.layers model saves under 'dense/kernel', 'batch_normalization/moving_mean'...: a graph that names
    its variables differently restores them by those keys."""
    rng = np.random.default_rng(13)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4])
        tf.layers.dense(tf.layers.batch_normalization(x, training=True), 3,
                        bias_initializer=tf.random_normal_initializer())
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(tf.get_collection(tf.GraphKeys.UPDATE_OPS), {x: rng.standard_normal((5, 4))})
            saved = {v.op.name: sess.run(v) for v in tf.global_variables()}
            path = saver.save(sess, str(tmp_path / "model"))
    assert sorted(saved) == ["batch_normalization/beta", "batch_normalization/gamma",
                             "batch_normalization/moving_mean", "batch_normalization/moving_variance",
                             "dense/bias", "dense/kernel"]
    with tf.Graph().as_default():
        mine = {k: tf.Variable(np.zeros_like(v), name="v%d" % i) for i, (k, v) in enumerate(sorted(saved.items()))}
        with tf.Session() as sess:
            tf.train.Saver(var_list=mine).restore(sess, path)
            for k, v in mine.items():
                np.testing.assert_array_equal(sess.run(v), saved[k])


def test_custom_layer_subclass_builds_once_and_reuses_its_scope():
    class Scale(tf.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_variable("w", [input_shape[-1].value], initializer=tf.constant_initializer(2.0))
            self.built = True

        def call(self, x):
            return x * self.w

    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [None, 3])
        layer = Scale()
        y1, y2 = layer(x), layer(x + 1.0)
        assert [v.name for v in tf.global_variables()] == ["scale/w:0"] and layer.name == "scale_1"
        assert y1.op.name == "scale/mul" and y2.op.name == "scale/mul_1"
        v1, v2 = _run([y1, y2], {x: np.ones((2, 3))})
    np.testing.assert_array_equal(v1, 2.0) and np.testing.assert_array_equal(v2, 4.0)
