"""The emitter (nanotf/compiler/emitter.py): generated plan lines name their op and are in linecache,
errors name the failing op, and a traced run runs the same passed plan as an untraced one."""
import linecache
import traceback

import numpy as np
import pytest

import nanotf as tf
from nanotf.compiler import emitter, passes
from nanotf.framework import errors

RNG = np.random.default_rng(5)


def _arr(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _executable(sess, fetches, feeds):
    return sess._plans[(tuple(fetches), tuple(feeds))]


def test_a_traceback_inside_a_plan_shows_the_line_naming_the_op():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, None], name="x")
        with tf.name_scope("hidden1"):
            w = tf.placeholder(tf.float32, [None, None], name="weights")
            h = tf.matmul(x, w)
        y = tf.nn.relu(h)
        with tf.Session() as sess:
            with pytest.raises(errors.InvalidArgumentError) as info:
                sess.run(y, {x: _arr(2, 3), w: _arr(4, 5)})
            source = _executable(sess, [y], [x, w]).source
    assert info.value.op.name == "hidden1/MatMul"
    cause = info.value.__cause__
    frames = traceback.extract_tb(cause.__traceback__)
    plan_frames = [f for f in frames if f.filename.startswith("<nanotf plan")]
    assert plan_frames, [f.filename for f in frames]
    assert "hidden1/MatMul" in plan_frames[-1].line          # linecache served the generated line
    assert "# hidden1/MatMul (MatMul)" in source
    assert linecache.getline(plan_frames[-1].filename, plan_frames[-1].lineno).strip() == plan_frames[-1].line


def test_each_plan_has_its_own_file_and_every_step_line_names_its_op():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [3], name="x")
        a = tf.add(x, 1.0, name="a")
        b = tf.multiply(a, 2.0, name="b")
        with tf.Session() as sess:
            np.testing.assert_allclose(sess.run(b, {x: [1, 2, 3]}), [4, 6, 8])
            sess.run(a, {x: [1, 2, 3]})
            first, second = _executable(sess, [b], [x]), _executable(sess, [a], [x])
    assert first.program.filename != second.program.filename
    lines = first.source.splitlines()
    assert lines[1].endswith("# a (Add)") and lines[2].endswith("# b (Mul)")
    assert emitter.line_table(first.program.filename)[3].name == "b"


def _mlp_step(seed=3):
    """A one-hidden-layer regression trained by SGD, and the NumPy float64 values of its first step."""
    rng = np.random.default_rng(seed)
    xv, tv = rng.standard_normal((8, 5)).astype(np.float32), rng.standard_normal((8, 2)).astype(np.float32)
    w1, w2 = rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)
    x, t = tf.placeholder(tf.float32, [8, 5], name="x"), tf.placeholder(tf.float32, [8, 2], name="t")
    v1, v2 = tf.Variable(w1, name="w1"), tf.Variable(w2, name="w2")
    with tf.name_scope("hidden1"):
        h = tf.nn.relu(tf.matmul(x, v1))
    err = tf.matmul(h, v2) - t
    loss = 0.5 * tf.reduce_sum(err * err)
    train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    x64, t64, a, b = (m.astype(np.float64) for m in (xv, tv, w1, w2))
    pre = x64 @ a
    hv = np.maximum(pre, 0)
    e = hv @ b - t64
    gb = hv.T @ e
    ga = x64.T @ ((e @ b.T) * (pre > 0))
    want = (0.5 * (e * e).sum(), a - 0.01 * ga, b - 0.01 * gb)
    return (x, t, v1, v2, loss, train), {x: xv, t: tv}, want


@pytest.mark.parametrize("traced", [False, True], ids=["untraced", "traced"])
def test_a_traced_step_runs_the_same_passed_plan_and_gives_the_same_values(traced):
    with tf.Graph().as_default():
        (x, t, v1, v2, loss, train), feed, (want_loss, want_w1, want_w2) = _mlp_step()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            md = tf.RunMetadata()
            opts = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE) if traced else None
            _, got_loss = sess.run([train, loss], feed, options=opts, run_metadata=md)
            got_w1, got_w2 = sess.run([v1, v2])
            executable = _executable(sess, [train, loss], [x, t])
    np.testing.assert_allclose(got_loss, want_loss, rtol=1e-5)
    np.testing.assert_allclose(got_w1, want_w1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_w2, want_w2, rtol=1e-5, atol=1e-6)
    if not traced:
        assert not md.step_stats.dev_stats
        return
    nodes = md.step_stats.dev_stats[0].node_stats
    steps = executable.plan.steps
    # one node per step of the passed plan, in its order: what ran is what the untraced run runs
    assert [n.node_name for n in nodes] == [s.op.name for s in steps]
    assert [n.timeline_label.split(" = ")[1].split("(")[0] for n in nodes] == [s.op.type for s in steps]
    matmul = next(n for n in nodes if n.node_name == "hidden1/MatMul")
    assert matmul.timeline_label == "hidden1/MatMul = MatMul(x, w1/read)"
    assert matmul.memory[0].total_bytes == 8 * 4 * 4
    assert all(n.all_end_rel_micros >= 1 for n in nodes)
    # both weight updates run fused with the matmul making their gradient, and the trace says so
    fused = [n for n in nodes if n.timeline_label.split(" = ")[1].startswith("_FusedMatMulApplyGradientDescent(")]
    assert sorted(n.node_name for n in fused) == ["GradientDescent/update_w1/ApplyGradientDescent",
                                                  "GradientDescent/update_w2/ApplyGradientDescent"]


def test_a_plan_runs_the_passes_in_their_declared_order():
    assert [p.__name__ for p in passes.PASSES] == [
        "fold_constants", "alias_identities", "narrow_to_reads", "fuse_pairs", "donate_dead_temporaries",
        "recycle_big_results", "free_after_last_use", "slice_big_batches"]
