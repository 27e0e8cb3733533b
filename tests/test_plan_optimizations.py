"""The Session's plan optimizations (constant folding, in-place kernels, fusion, freeing) never change a
value: each case is checked against NumPy, including the cases where an optimization must NOT apply."""
import numpy as np
import pytest

import nanotf as tf

RNG = np.random.default_rng(11)


def _arr(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def test_fetching_a_pre_activation_and_its_relu_gives_both_values():
    # Add's result would be overwritten in place by the ReLU if it were not fetched.
    x, w, b = _arr(4, 3), _arr(3, 5), _arr(5)
    with tf.Graph().as_default(), tf.Session() as sess:
        pre = tf.matmul(tf.constant(x), tf.constant(w)) + tf.placeholder_with_default(b, [5])
        act = tf.nn.relu(pre)
        got_pre, got_act = sess.run([pre, act])
    np.testing.assert_allclose(got_pre, x @ w + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_act, np.maximum(x @ w + b, 0), rtol=1e-5, atol=1e-6)
    assert (got_pre < 0).any()


def test_a_temporary_read_twice_is_not_overwritten():
    x, w = _arr(6, 4), _arr(4, 4)
    xp = tf.placeholder(tf.float32, [6, 4])
    with tf.Session() as sess:
        a = tf.matmul(xp, tf.constant(w))
        out = tf.nn.relu(a) + a * 2.0          # `a` feeds two ops: neither may take it over
        got = sess.run(out, {xp: x})
    ref = x @ w
    np.testing.assert_allclose(got, np.maximum(ref, 0) + ref * 2, rtol=1e-5, atol=1e-6)


def test_in_place_add_falls_back_when_broadcasting_enlarges_its_first_input():
    a, b = _arr(1, 3), _arr(4, 3)
    pa, pb = tf.placeholder(tf.float32, [None, None]), tf.placeholder(tf.float32, [None, None])
    with tf.Session() as sess:
        s = tf.add(pa * 1.0, pb * 1.0)         # fresh, dead temporaries of statically unknown shape
        got = sess.run(s, {pa: a, pb: b})
    np.testing.assert_allclose(got, a + b, rtol=1e-6)


def test_fed_arrays_are_never_written():
    x = _arr(5, 5)
    keep = x.copy()
    xp = tf.placeholder(tf.float32, [5, 5])
    with tf.Session() as sess:
        sess.run(tf.nn.relu(xp + 1.0) * 3.0, {xp: x})
    np.testing.assert_array_equal(x, keep)


@pytest.mark.parametrize("transpose_a,transpose_b", [(False, False), (True, False), (False, True), (True, True)])
def test_fused_sgd_update_equals_the_separate_update(transpose_a, transpose_b):
    """var -= lr * matmul(a, b) fused into one kernel gives what the unfused ops give."""
    a = _arr(7, 5) if not transpose_a else _arr(5, 7)
    b = _arr(5, 3) if not transpose_b else _arr(3, 5)
    w0 = _arr(7, 3)
    results = []
    for fuse in (True, False):
        with tf.Graph().as_default(), tf.Session() as sess:
            w = tf.Variable(w0)
            pa, pb = tf.placeholder(tf.float32, a.shape), tf.placeholder(tf.float32, b.shape)
            delta = tf.matmul(pa, pb, transpose_a=transpose_a, transpose_b=transpose_b)
            opt = tf.train.GradientDescentOptimizer(0.1)
            train = opt.apply_gradients([(delta, w)])
            sess.run(tf.global_variables_initializer())
            fetches = [train] if fuse else [train, delta]   # fetching the product prevents the fusion
            sess.run(fetches, {pa: a, pb: b})
            results.append(sess.run(w))
    at = a.T if transpose_a else a
    bt = b.T if transpose_b else b
    want = w0 - np.float32(0.1) * (at @ bt)
    np.testing.assert_allclose(results[0], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(results[1], want, rtol=1e-5, atol=1e-6)


def test_constant_subgraphs_are_folded_but_random_ops_are_not():
    with tf.Graph().as_default(), tf.Session() as sess:
        c = tf.constant(2.0) * tf.constant(3.0) + 1.0
        r = tf.random_uniform([3])
        assert sess.run(c) == 7.0
        assert not np.array_equal(sess.run(r), sess.run(r))   # a stateful op runs every time
        plan = sess._plans[((c,), ())]
        assert len(plan.ops) == 5 and "k" not in plan.source   # five ops, all folded: no kernel call


def test_a_fetched_constant_can_be_mutated_without_changing_the_graph():
    with tf.Graph().as_default(), tf.Session() as sess:
        c = tf.constant([1.0, 2.0]) * 2.0
        first = sess.run(c)
        first[0] = 100.0
        np.testing.assert_array_equal(sess.run(c), [2.0, 4.0])


def test_fused_sgd_gradient_reads_variables_as_they_were_before_the_step():
    """M = U @ V: V's gradient U^T (UV - T) is fused into V's update, which runs after U's; it must
    still read U as it was before this step (closed-form float64 check of both updates)."""
    rng = np.random.default_rng(0)
    u0, v0, t = (rng.standard_normal(s).astype(np.float32) for s in [(8, 6), (6, 5), (8, 5)])
    with tf.Graph().as_default():
        U, V = tf.Variable(u0), tf.Variable(v0)
        R = tf.matmul(U, V) - t
        step = tf.train.GradientDescentOptimizer(0.1).minimize(0.5 * tf.reduce_sum(R * R))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(step)
            got_u, got_v = sess.run([U, V])
    u, v = u0.astype(np.float64), v0.astype(np.float64)
    r = u @ v - t
    np.testing.assert_allclose(got_u, u - 0.1 * r @ v.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_v, v - 0.1 * u.T @ r, rtol=1e-5, atol=1e-5)


def test_a_value_read_by_a_fused_update_is_never_overwritten_in_place_before_it():
    """t = relu(x) feeds both the fused update's gradient matmul (t^T @ dy) and u = t + 1. The fused
    kernel runs at the update's place, after u: the Add must not write into t."""
    from nanotf.training import training_ops
    x = np.array([[1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]], np.float32)
    dy = np.ones((4, 2), np.float32)
    with tf.Graph().as_default():
        xt, dyt = tf.placeholder(tf.float32, [4, 3]), tf.placeholder(tf.float32, [4, 2])
        t = tf.nn.relu(xt)
        g = tf.matmul(t, dyt, transpose_a=True)
        u = t + 1.0
        w = tf.Variable(np.zeros((3, 2), np.float32))
        upd = training_ops.apply_gradient_descent(w._variable, tf.constant(np.float32(0.1)), g)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got_u, got_w = sess.run([u, upd], {xt: x, dyt: dy})
    np.testing.assert_array_equal(got_u, np.maximum(x, 0) + 1)
    np.testing.assert_allclose(got_w, -0.1 * np.maximum(x, 0).T @ dy)      # only row 0 moves


def test_an_assign_result_is_a_variable_for_fusion():
    """g = assign(W1, 1)^T @ dy is fused into W2's update only if nothing changes W1 before it runs;
    here assign_add(W1, 10) comes between (creation order), so the product must be made first."""
    from nanotf.training import training_ops
    with tf.Graph().as_default():
        w1 = tf.Variable(np.zeros((3, 3), np.float32))
        w2 = tf.Variable(np.zeros((3, 2), np.float32))
        a = tf.assign(w1, np.ones((3, 3), np.float32))
        dyt = tf.placeholder(tf.float32, [3, 2])
        g = tf.matmul(a, dyt, transpose_a=True)
        inc = tf.assign_add(w1, np.full((3, 3), 10, np.float32))
        upd = training_ops.apply_gradient_descent(w2._variable, tf.constant(np.float32(1)), g)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            _, got = sess.run([inc, upd], {dyt: np.ones((3, 2), np.float32)})
    np.testing.assert_array_equal(got, np.full((3, 2), -3.0, np.float32))   # ones^T @ ones = 3


def test_an_add_may_write_into_its_second_operand_when_only_that_one_is_dead():
    """Add declares destroy_map {0: (0, 1)}: with its first operand fetched (alive), the result goes into
    the second, a dead temporary; both fetched values are right."""
    x, y = _arr(4, 3), _arr(4, 3)
    with tf.Graph().as_default(), tf.Session() as sess:
        xp, yp = tf.placeholder(tf.float32, [4, 3]), tf.placeholder(tf.float32, [4, 3])
        p, q = xp * 2.0, yp * 3.0
        s = tf.add(p, q)
        got_p, got_s = sess.run([p, s], {xp: x, yp: y})
        source = sess._plans[((p, s), (xp, yp))].source
    np.testing.assert_allclose(got_p, x * 2, rtol=1e-6)
    np.testing.assert_allclose(got_s, x.astype(np.float64) * 2 + y.astype(np.float64) * 3, rtol=1e-6, atol=1e-6)
    add_line, = [line for line in source.splitlines() if line.endswith("(Add)")]
    q_name = add_line.split("(")[1].split(",")[1].strip()
    assert "out=%s" % q_name in add_line


def test_fetched_pieces_of_a_split_fed_array_are_copies():
    """Split's pieces are views of its input (a view_map function of the attrs): fetched, they are copied,
    so writing into them leaves the caller's array alone."""
    x = _arr(4, 6)
    keep = x.copy()
    with tf.Graph().as_default(), tf.Session() as sess:
        xp = tf.placeholder(tf.float32, [4, 6])
        a, b = tf.split(xp, 2, axis=1)
        got_a, got_b = sess.run([a, b], {xp: x})
    np.testing.assert_array_equal(got_a, keep[:, :3])
    np.testing.assert_array_equal(got_b, keep[:, 3:])
    got_a[...] = 0
    got_b[...] = 0
    np.testing.assert_array_equal(x, keep)


@pytest.mark.parametrize("later_writer", [False, True])
def test_no_fusion_across_a_cond_that_assigns(later_writer):
    """sq = square(v); a tf.cond whose branch assigns v runs after sq (control dependency); then
    sum(sq). Fusing Square into the Sum would move it after the cond's assign: a cond (one op, no declared
    ref inputs) must count as writing every variable. Closed form: the sum of v0's squares."""
    x0 = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    with tf.Graph().as_default():
        v = tf.Variable(x0)
        sq = tf.square(v)
        with tf.control_dependencies([sq]):
            upd = tf.cond(tf.constant(True), lambda: tf.assign(v, v * 10.0), lambda: tf.identity(v))
        with tf.control_dependencies([upd]):
            s = tf.reduce_sum(sq, 1)
        fetch = [s]
        if later_writer:
            with tf.control_dependencies([s]):
                fetch.append(tf.assign_add(v, tf.ones_like(v)))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got = sess.run(fetch)[0]
    np.testing.assert_array_equal(got, (x0 ** 2).sum(axis=1))
