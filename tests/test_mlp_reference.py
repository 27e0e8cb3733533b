"""The tutorial's network against a hand computation in NumPy: the first loss and the first SGD update
(issue 2), computed in float64 from the same initial weights."""
import numpy as np

import nanotf as tf
from nanotf.examples.tutorials.mnist import mnist


def _numpy_step(x, labels, params, lr):
    """Forward, softmax cross-entropy, backward and SGD written out by hand (float64)."""
    (w1, b1), (w2, b2), (w3, b3) = params
    z1 = x @ w1 + b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ w2 + b2
    h2 = np.maximum(z2, 0)
    logits = h2 @ w3 + b3
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    n = len(labels)
    loss = -np.log(p[np.arange(n), labels]).mean()
    d_logits = p.copy()
    d_logits[np.arange(n), labels] -= 1
    d_logits /= n
    g_w3, g_b3 = h2.T @ d_logits, d_logits.sum(0)
    d_z2 = (d_logits @ w3.T) * (z2 > 0)
    g_w2, g_b2 = h1.T @ d_z2, d_z2.sum(0)
    d_z1 = (d_z2 @ w2.T) * (z1 > 0)
    g_w1, g_b1 = x.T @ d_z1, d_z1.sum(0)
    grads = [(g_w1, g_b1), (g_w2, g_b2), (g_w3, g_b3)]
    updated = [(w - lr * gw, b - lr * gb) for (w, b), (gw, gb) in zip(params, grads)]
    return loss, updated


def test_first_loss_and_first_update_match_numpy(rng, graph):
    x = rng.random((20, mnist.IMAGE_PIXELS)).astype(np.float32)
    labels = rng.integers(0, mnist.NUM_CLASSES, 20).astype(np.int32)
    tf.set_random_seed(3)
    images_pl = tf.placeholder(tf.float32, shape=(20, mnist.IMAGE_PIXELS))
    labels_pl = tf.placeholder(tf.int32, shape=(20))
    logits = mnist.inference(images_pl, 16, 8)
    loss = mnist.loss(logits, labels_pl)
    train_op = mnist.training(loss, 0.5)
    variables = [tf.get_default_graph().get_tensor_by_name("%s/%s:0" % (scope, kind))
                 for scope in ("hidden1", "hidden2", "softmax_linear") for kind in ("weights", "biases")]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(variables)
        # the biases start at zero; give them values so their gradient paths are exercised
        sess.run([tf.assign(v, rng.standard_normal(b.shape).astype(np.float32) * 0.1)
                  for v, b in zip(variables[1::2], before[1::2])])
        before = sess.run(variables)
        _, loss_value = sess.run([train_op, loss], {images_pl: x, labels_pl: labels})
        after = sess.run(variables)
    params = [(before[i].astype(np.float64), before[i + 1].astype(np.float64)) for i in (0, 2, 4)]
    want_loss, want = _numpy_step(x.astype(np.float64), labels, params, 0.5)
    np.testing.assert_allclose(loss_value, want_loss, rtol=1e-6)
    for (w, b), got_w, got_b in zip(want, after[0::2], after[1::2]):
        np.testing.assert_allclose(got_w, w, atol=1e-6)
        np.testing.assert_allclose(got_b, b, atol=1e-6)
    assert not np.allclose(after[0], before[0])   # the update really happened
