"""A first end-to-end check: a linear layer's loss and gradient against a hand computation."""
import numpy as np

import nanotf as tf


def test_linear_layer_loss_and_gradient_match_numpy(rng, graph):
    xv = rng.standard_normal((4, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, shape=(None, 3))
    with tf.name_scope("hidden1"):
        w = tf.Variable(tf.truncated_normal([3, 2], stddev=0.5), name="weights")
        b = tf.Variable(tf.zeros([2]), name="biases")
        y = tf.matmul(x, w) + b
    loss = tf.reduce_mean(y * y)
    gw, gb = tf.gradients(loss, [w, b])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        lv, gwv, gbv, wv, bv = sess.run([loss, gw, gb, w, b], {x: xv})
    yv = xv @ wv + bv
    np.testing.assert_allclose(lv, np.mean(yv * yv), rtol=1e-6)
    np.testing.assert_allclose(gwv, xv.T @ (2 * yv / yv.size), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gbv, (2 * yv / yv.size).sum(0), rtol=1e-5, atol=1e-7)
    assert w.op.name == "hidden1/weights" and w.initializer.name == "hidden1/weights/Assign"
