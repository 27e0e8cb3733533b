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
import _rnn_reference as ref

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


# -- a plan that reads only the first steps runs only those (LSTMSequence.kernel_for_reads)
def _narrowed_steps(sess):
    """{op name: steps its kernel computes, None for all} over the session's compiled plans."""
    found = {}
    for executable in sess._plans.values():
        for step in executable.plan.steps:
            if step.op.type == "LSTMSequence":
                found[step.op.name] = getattr(step.kernel, "steps", None)
    return found


def _bidirectional_classifier(x):
    init = tf.random_uniform_initializer(-0.8, 0.8, seed=4, dtype=F64)
    with tf.variable_scope("p", initializer=init):
        cells = [tf.nn.rnn_cell.BasicLSTMCell(H) for _ in range(2)]
        outs, _, _ = tf.nn.static_bidirectional_rnn(cells[0], cells[1], tf.unstack(x, T, 1), dtype=F64)
    return outs


def test_bidirectional_classifier_runs_one_backward_step_and_matches_numpy_and_finite_differences(threads, graph):
    """outputs[-1] of a static bidirectional RNN reads the backward direction after its first step: that
    direction's forward runs one step; its value, the loss and every gradient entry are unchanged."""
    rng = np.random.default_rng(9)
    x = tf.placeholder(F64, [B, T, I])
    last = _bidirectional_classifier(x)[-1]
    loss = tf.reduce_sum(last * rng.standard_normal((B, 2 * H)))
    variables = tf.trainable_variables()
    grads = tf.gradients(loss, [x] + variables)
    feed = {x: rng.standard_normal((B, T, I))}
    with tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=threads)) as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(last, feed)
        v = {w.op.name: sess.run(w) for w in variables}
        _check_every_entry(sess, loss, grads, [("feed", x)] + [("var", w) for w in variables], feed)
        steps = _narrowed_steps(sess)
    assert steps == {"p/bidirectional_rnn/fw/fw/basic_lstm_cell/LSTMSequence": None,
                     "p/bidirectional_rnn/bw/bw/basic_lstm_cell/LSTMSequence": 1}
    xs = feed[x].transpose(1, 0, 2)
    params = [(v["p/bidirectional_rnn/%s/basic_lstm_cell/kernel" % d], v["p/bidirectional_rnn/%s/basic_lstm_cell/bias" % d])
              for d in ("fw", "bw")]
    zero = (np.zeros((B, H)), np.zeros((B, H)))
    fw_out, _ = ref.run(lambda x_, s: ref.lstm_step(x_, s, *params[0]), xs, zero)
    bw_out, _ = ref.run(lambda x_, s: ref.lstm_step(x_, s, *params[1]), xs[::-1], zero)
    np.testing.assert_allclose(got, np.concatenate([fw_out[-1], bw_out[0]], 1), rtol=1e-12, atol=1e-14)


def test_a_gradient_fed_past_the_steps_run_recomputes_them(graph):
    """With the gradient of the outputs fed (the loss not in the plan), nothing reads the forward's outputs, so
    it runs no step; the gradient kernel, reached at every step, recomputes them: sum(out * G)'s gradient."""
    rng = np.random.default_rng(10)
    x = tf.placeholder(F64, [B, T, I])
    out, _ = _lstm("basic", x, None)
    probe = tf.placeholder(F64, [B, T, H])
    loss = tf.reduce_sum(out * probe)
    kernel = [w for w in tf.trainable_variables() if w.op.name.endswith("kernel")][0]
    (g_kernel,) = tf.gradients(loss, [kernel])
    seq_grad = [op for op in tf.get_default_graph().get_operations() if op.type == "LSTMSequenceGrad"][0]
    d_out = seq_grad.inputs[-3]             # the gradient reaching the op's outputs, [T, B, H]
    G = rng.standard_normal((B, T, H))
    feed = {x: rng.standard_normal((B, T, I))}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(g_kernel, {**feed, d_out: G.transpose(1, 0, 2)})
        assert _narrowed_steps(sess) == {"p/rnn/basic_lstm_cell/LSTMSequence": 0}
        base = sess.run(kernel)
        fd = np.empty_like(base)
        eps = 1e-6
        for idx in np.ndindex(*base.shape):
            vals = []
            for sign in (1, -1):
                w = base.copy()
                w[idx] += sign * eps
                kernel.load(w, sess)
                vals.append(float(np.sum(sess.run(out, feed) * G)))
            fd[idx] = (vals[0] - vals[1]) / (2 * eps)
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8)
