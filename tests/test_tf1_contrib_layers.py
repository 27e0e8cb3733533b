"""tf.contrib.layers: contrib's variable names, defaults (relu, xavier, SAME), batch_norm's update
collections, regularizers; values against NumPy."""
import numpy as np
import pytest

import nanotf as tf
from _layer_refs import conv2d_ref


def test_fully_connected_names_defaults_and_values(rng, graph):
    xv = rng.standard_normal((4, 5))
    x = tf.placeholder(tf.float64, [None, 5])
    h = tf.contrib.layers.fully_connected(x, 3)
    y = tf.contrib.layers.fully_connected(h, 2, activation_fn=None, scope="out")
    names = [v.name for v in tf.global_variables()]
    assert names == ["fully_connected/weights:0", "fully_connected/biases:0", "out/weights:0", "out/biases:0"]
    assert tf.get_collection(tf.GraphKeys.MODEL_VARIABLES) == tf.global_variables()
    assert h.op.type == "Relu" and h.op.name == "fully_connected/Relu"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        hv, yv, w1, b1, w2, b2 = sess.run([h, y] + tf.global_variables(), {x: xv})
    np.testing.assert_allclose(hv, np.maximum(xv @ w1 + b1, 0), rtol=1e-12)
    np.testing.assert_allclose(yv, hv @ w2 + b2, rtol=1e-12)
    assert np.abs(w1).max() <= np.sqrt(6.0 / 8) and not b1.any()   # xavier uniform, zero biases


def test_fully_connected_reuse_and_regularizer(graph):
    x = tf.placeholder(tf.float32, [None, 5])
    reg = tf.contrib.layers.l2_regularizer(0.5)
    tf.contrib.layers.fully_connected(x, 3, scope="fc", weights_regularizer=reg)
    tf.contrib.layers.fully_connected(x, 3, scope="fc", reuse=True, weights_regularizer=reg)
    assert len(tf.global_variables()) == 2
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert len(losses) == 1
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w, loss = sess.run([tf.global_variables()[0], losses[0]])
    assert loss == pytest.approx(0.5 * 0.5 * np.sum(w.astype(np.float64) ** 2), rel=1e-5)


def test_conv2d_defaults_same_padding_relu_and_names(graph):
    rng = np.random.default_rng(1)
    xv = rng.standard_normal((2, 6, 5, 2))
    x = tf.placeholder(tf.float64, [None, 6, 5, 2])
    y = tf.contrib.layers.conv2d(x, 3, [3, 3])
    y2 = tf.contrib.layers.conv2d(y, 4, 2, stride=2, activation_fn=None)
    assert [v.name for v in tf.global_variables()] == ["Conv/weights:0", "Conv/biases:0", "Conv_1/weights:0",
                                                        "Conv_1/biases:0"]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        yv, y2v, w, b, w2, b2 = sess.run([y, y2] + tf.global_variables(), {x: xv})
    np.testing.assert_allclose(yv, np.maximum(conv2d_ref(xv, w, 1, "SAME") + b, 0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y2v, conv2d_ref(yv, w2, 2, "SAME") + b2, rtol=1e-10, atol=1e-12)


def test_flatten_dropout_and_pooling(graph):
    xv = np.arange(32.0).reshape(2, 4, 4, 1)
    x = tf.placeholder(tf.float64, [None, 4, 4, 1])
    f = tf.contrib.layers.flatten(x)
    p = tf.contrib.layers.max_pool2d(x, [2, 2])
    a = tf.contrib.layers.avg_pool2d(x, 2)
    d = tf.contrib.layers.dropout(x, keep_prob=0.5, is_training=False)
    assert f.shape.as_list() == [None, 16]
    with tf.Session() as sess:
        fv, pv, av, dv = sess.run([f, p, a, d], {x: xv})
    np.testing.assert_array_equal(fv, xv.reshape(2, 16))
    blocks = xv.reshape(2, 2, 2, 2, 2, 1)
    np.testing.assert_array_equal(pv, blocks.max((2, 4)))
    np.testing.assert_allclose(av, blocks.mean((2, 4)))
    np.testing.assert_array_equal(dv, xv)


@pytest.mark.parametrize("updates_collections", [tf.GraphKeys.UPDATE_OPS, None])
def test_batch_norm_update_collections_and_bessel_corrected_variance(updates_collections, graph):
    rng = np.random.default_rng(2)
    xv = rng.standard_normal((8, 3)) + 2
    x = tf.placeholder(tf.float64, [None, 3])
    y = tf.contrib.layers.batch_norm(x, updates_collections=updates_collections)
    names = [v.name for v in tf.global_variables()]
    assert names == ["BatchNorm/beta:0", "BatchNorm/moving_mean:0", "BatchNorm/moving_variance:0"]
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(updates) == (2 if updates_collections else 0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        yv = sess.run([y] + updates, {x: xv})[0]
        mm, mv = sess.run(tf.global_variables()[1:])
    np.testing.assert_allclose(yv, (xv - xv.mean(0)) / np.sqrt(xv.var(0) + 1e-3), rtol=1e-10)
    np.testing.assert_allclose(mm, 0.001 * xv.mean(0), rtol=1e-10)
    np.testing.assert_allclose(mv, 0.999 + 0.001 * xv.var(0, ddof=1), rtol=1e-10)


def test_batch_norm_is_training_tensor_and_scale(graph):
    xv = np.array([[1.0, 2.0], [3.0, 6.0]])
    x = tf.placeholder(tf.float64, [None, 2])
    training = tf.placeholder(tf.bool, [])
    y = tf.contrib.layers.batch_norm(x, is_training=training, scale=True, updates_collections=None,
                                     param_initializers={"gamma": tf.constant_initializer(3.0)})
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        y0 = sess.run(y, {x: xv, training: False})
        mm0 = sess.run(tf.global_variables()[2])
        sess.run(y, {x: xv, training: True})
        mm1 = sess.run(tf.global_variables()[2])
    names = [v.name for v in tf.global_variables()]
    assert names == ["BatchNorm/gamma:0", "BatchNorm/beta:0", "BatchNorm/moving_mean:0",
                     "BatchNorm/moving_variance:0"]
    np.testing.assert_allclose(y0, 3.0 * xv / np.sqrt(1 + 1e-3), rtol=1e-12)
    assert not mm0.any() and np.allclose(mm1, 0.001 * xv.mean(0))


def test_regularizers_closed_forms_and_checks():
    w = np.array([[1.0, -2.0], [0.5, 3.0]])
    c = tf.contrib.layers
    with tf.Graph().as_default():
        t = tf.constant(w)
        l1, l2 = c.l1_regularizer(0.1)(t), c.l2_regularizer(0.2)(t)
        both = c.l1_l2_regularizer(0.1, 0.2)(t)
        total = c.apply_regularization(c.l2_regularizer(1.0), [t, 2 * t])
        assert l2.op.name == "l2_regularizer" and c.l2_regularizer(0.0)(t) is None
        assert tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES) == [total]
        with tf.Session() as sess:
            v1, v2, vb, vt = sess.run([l1, l2, both, total])
    sq = np.sum(w ** 2)
    assert v1 == pytest.approx(0.1 * np.abs(w).sum()) and v2 == pytest.approx(0.2 * sq / 2)
    assert vb == pytest.approx(v1 + v2) and vt == pytest.approx(sq / 2 + 4 * sq / 2)
    with pytest.raises(ValueError, match="less than 0"):
        c.l2_regularizer(-1.0)
    with pytest.raises(ValueError, match="integer"):
        c.l1_regularizer(2)


def test_layer_norm_normalizes_each_example(graph):
    rng = np.random.default_rng(4)
    xv = rng.standard_normal((3, 2, 4)) * 3 + 1
    x = tf.placeholder(tf.float64, [None, 2, 4])
    y = tf.contrib.layers.layer_norm(x)
    assert [(v.name, v.shape.as_list()) for v in tf.global_variables()] == [("LayerNorm/beta:0", [4]),
                                                                            ("LayerNorm/gamma:0", [4])]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        yv = sess.run(y, {x: xv})
    m = xv.mean((1, 2), keepdims=True)
    v = xv.var((1, 2), keepdims=True)
    np.testing.assert_allclose(yv, (xv - m) / np.sqrt(v + 1e-12), rtol=1e-10)
