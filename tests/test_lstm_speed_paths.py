"""The fused LSTM gradient's shortcuts (nanotf/ops/lstm_ops.py) against finite differences in float64.

- Steps that no incoming gradient reaches (after the last output whose gradient is not zero, when the final
  state's gradient is zero) are skipped: their gate gradients are zero, so the weight gradient sums the steps
  before them only. A classifier on `outputs[-1]` of a static bidirectional RNN reaches one backward step.
- The gate-gradient factors are computed for all steps before the loop over time.
Both must give the full backward pass's values: checked on every entry of every gradient.
"""
import numpy as np
import pytest

import nanotf as tf
from nanotf.ops import lstm_ops

F64 = tf.float64
B, T, I, H = 4, 6, 3, 3


@pytest.fixture(params=[1, 2], ids=["one_thread", "batch_slices_on_2_threads"])
def threads(request, monkeypatch):
    if request.param > 1:   # split even this tiny batch over the pool's threads
        monkeypatch.setattr(lstm_ops, "_MIN_SPLIT_WORK", 0)
        monkeypatch.setattr(lstm_ops, "_MIN_SLICE", 1)
    return request.param


def _lstm(kind, x, lengths):
    if kind == "basic":
        cell = tf.nn.rnn_cell.BasicLSTMCell(H)
    else:
        cell = tf.nn.rnn_cell.LSTMCell(H, use_peepholes=True, cell_clip=0.8)
    init = tf.random_uniform_initializer(-0.8, 0.8, seed=3, dtype=F64)
    with tf.variable_scope("p", initializer=init):
        return tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=F64)


def _check_every_entry(sess, loss, grads, targets, feed, eps=1e-6):
    got = sess.run(grads, feed)
    for (kind, target), g in zip(targets, got):
        base = feed[target] if kind == "feed" else sess.run(target)
        fd = np.empty_like(base)
        for idx in np.ndindex(*base.shape):
            vals = []
            for sign in (1, -1):
                v = np.array(base, copy=True)
                v[idx] += sign * eps
                if kind == "feed":
                    vals.append(sess.run(loss, {**feed, target: v}))
                else:
                    target.load(v, sess)
                    vals.append(sess.run(loss, feed))
            fd[idx] = (vals[0] - vals[1]) / (2 * eps)
        if kind == "var":
            target.load(base, sess)
        # central differences of a smooth float64 function: error ~eps^2 * f''' plus rounding ~1e-16 / eps
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8, err_msg=target.name)


@pytest.mark.parametrize("kind,with_lengths", [("basic", False), ("peephole_clip", True)])
def test_gradient_through_a_middle_output_only_matches_finite_differences(kind, with_lengths, threads, graph):
    """The loss reads output 2 of 6 only: steps 3-5 get no gradient and are skipped."""
    rng = np.random.default_rng(5)
    x = tf.placeholder(F64, [B, T, I])
    lengths = np.array([6, 2, 4, 3]) if with_lengths else None
    out, _ = _lstm(kind, x, lengths)
    loss = tf.reduce_sum(out[:, 2] * rng.standard_normal((B, H)))
    variables = tf.trainable_variables()
    grads = tf.gradients(loss, [x] + variables)
    feed = {x: rng.standard_normal((B, T, I))}
    with tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=threads)) as sess:
        sess.run(tf.global_variables_initializer())
        _check_every_entry(sess, loss, grads, [("feed", x)] + [("var", v) for v in variables], feed)


def test_no_step_reached_gives_zero_gradients(threads, graph):
    x = tf.placeholder(F64, [B, T, I])
    out, _ = _lstm("basic", x, None)
    loss = tf.reduce_sum(out * np.zeros((B, T, H)))
    variables = tf.trainable_variables()
    grads = tf.gradients(loss, [x] + variables)
    with tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=threads)) as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(grads, {x: np.ones((B, T, I))})
    for g, t in zip(got, [x] + variables):
        assert g.shape == tuple(t.shape.as_list()) and not g.any()


def test_steps_reached():
    d_out = np.zeros((5, 2, 3))
    zero = np.float64(0)
    assert lstm_ops._steps_reached(5, d_out, zero, zero) == 0
    d_out[1, 0, 2] = 1e-30
    assert lstm_ops._steps_reached(5, d_out, zero, zero) == 2
    d_out[3, 1, 0] = np.nan          # a NaN gradient is not zero: it must propagate
    assert lstm_ops._steps_reached(5, d_out, zero, zero) == 4
    d_h = np.zeros((2, 3))
    assert lstm_ops._steps_reached(5, d_out, zero, d_h) == 4
    d_h[0, 0] = -2.0                 # the final state's gradient reaches every step
    assert lstm_ops._steps_reached(5, d_out, zero, d_h) == 5
    assert lstm_ops._steps_reached(5, zero, zero, zero) == 0
