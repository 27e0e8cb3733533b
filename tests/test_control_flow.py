"""tf.while_loop, tf.cond, tf.case, map_fn/scan/foldl/foldr: values against closed forms and NumPy,
gradients against closed forms and central finite differences in float64."""
import numpy as np
import pytest

import nanotf as tf


pytestmark = pytest.mark.usefixtures("fresh_graph")   # tests/conftest.py


def numeric_grad(sess, loss, x, feed, eps=1e-6):
    """Central finite differences of the scalar `loss` w.r.t. the fed placeholder `x`."""
    base = np.array(feed[x], dtype=np.float64)
    out = np.zeros(base.shape)
    for k in np.ndindex(*base.shape):
        plus, minus = base.copy(), base.copy()
        plus[k] += eps
        minus[k] -= eps
        out[k] = (sess.run(loss, {**feed, x: plus}) - sess.run(loss, {**feed, x: minus})) / (2 * eps)
    return out


def numeric_grad_var(sess, loss, var, feed, eps=1e-6):
    """Central finite differences w.r.t. a variable's value (set with Variable.load)."""
    base = sess.run(var)
    out = np.zeros(base.shape)
    for k in np.ndindex(*base.shape):
        plus, minus = base.copy(), base.copy()
        plus[k] += eps
        minus[k] -= eps
        var.load(plus, sess)
        lp = sess.run(loss, feed)
        var.load(minus, sess)
        lm = sess.run(loss, feed)
        out[k] = (lp - lm) / (2 * eps)
    var.load(base, sess)
    return out


# -- while_loop: values
def test_while_loop_counts_and_returns_a_single_loop_var_as_a_tensor():
    i = tf.while_loop(lambda i: i < 10, lambda i: i + 1, [0])
    assert isinstance(i, tf.Tensor)
    with tf.Session() as s:
        assert s.run(i) == 10


def test_while_loop_nested_structures_keep_their_shape():
    state = {"a": tf.constant(1.0), "b": (tf.constant(0), tf.constant([1.0, 2.0]))}

    def body(step, st):
        return step + 1, {"a": st["a"] * 2.0, "b": (st["b"][0] + step, st["b"][1] + 1.0)}
    step, out = tf.while_loop(lambda step, st: step < 3, body, [tf.constant(0), state])
    assert isinstance(out, dict) and isinstance(out["b"], tuple)
    with tf.Session() as s:
        v = s.run({"step": step, "out": out})
    assert v["step"] == 3 and v["out"]["a"] == 8.0 and v["out"]["b"][0] == 0 + 1 + 2
    np.testing.assert_array_equal(v["out"]["b"][1], [4.0, 5.0])


def test_while_loop_trip_count_from_a_fed_value():
    n = tf.placeholder(tf.int32, [])
    i, acc = tf.while_loop(lambda i, acc: i < n, lambda i, acc: (i + 1, acc + tf.cast(i, tf.float32)), [0, 0.0])
    with tf.Session() as s:
        for nv in (0, 1, 5, 17):
            iv, av = s.run([i, acc], {n: nv})
            assert iv == nv and av == nv * (nv - 1) / 2


def test_maximum_iterations_stops_the_loop():
    i = tf.while_loop(lambda i: i < 100, lambda i: i + 1, [0], maximum_iterations=7)
    m = tf.placeholder(tf.int32, [])
    j = tf.while_loop(lambda i: i < 100, lambda i: i + 1, [0], maximum_iterations=m)
    with tf.Session() as s:
        assert s.run(i) == 7
        assert s.run(j, {m: 3}) == 3 and s.run(j, {m: 500}) == 100


def test_body_reads_the_current_value_of_captured_variables():
    w = tf.Variable(2.0)
    y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * w), [0, 1.0])[1]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        assert s.run(y) == 8.0
        s.run(w.assign(3.0))
        assert s.run(y) == 27.0


def test_stateful_ops_in_the_body_run_every_iteration():
    counter = tf.Variable(0.0)

    def body(i):
        with tf.control_dependencies([tf.assign_add(counter, 1.0)]):
            return i + 1
    i = tf.while_loop(lambda i: i < 7, body, [0])
    # an assign whose result nothing uses still runs each iteration (as TF 2's automatic control deps)
    other = tf.Variable(0.0)

    def body2(i):
        tf.assign_add(other, 2.0)
        return i + 1
    j = tf.while_loop(lambda i: i < 5, body2, [0])
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        assert s.run(i) == 7 and s.run(counter) == 7.0
        assert s.run(j) == 5 and s.run(other) == 10.0


def test_random_ops_in_the_body_draw_fresh_values_each_iteration():
    tf.set_random_seed(3)
    _, draws = tf.while_loop(lambda i, d: i < 5,
                             lambda i, d: (i + 1, tf.concat([d, tf.random_uniform([1])], 0)),
                             [0, tf.zeros([0])], shape_invariants=[tf.TensorShape([]), tf.TensorShape([None])])
    with tf.Session() as s:
        d = s.run(draws)
    assert d.shape == (5,) and len(set(d.tolist())) == 5 and ((0 <= d) & (d < 1)).all()


def test_variables_created_in_the_body_are_lifted_out_of_the_loop():
    x = tf.placeholder(tf.float32, [2, 3])

    def body(i, h):
        with tf.variable_scope("cell", reuse=tf.AUTO_REUSE):
            w = tf.get_variable("w", [3, 3], initializer=tf.constant_initializer(0.5))
        return i + 1, tf.matmul(h, w)
    _, h = tf.while_loop(lambda i, h: i < 3, body, [0, x])
    names = [v.op.name for v in tf.global_variables()]
    assert names == ["cell/w"]
    assert tf.get_default_graph().get_operation_by_name("cell/w/Assign").type == "Assign"
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        np.testing.assert_allclose(s.run(h, {x: np.ones((2, 3))}), np.full((2, 3), 1.5 ** 3), rtol=1e-6)


def test_variable_whose_initial_value_depends_on_a_loop_var_is_rejected():
    def body(i, h):
        v = tf.Variable(h * 2.0, name="bad")
        return i + 1, h + v
    with pytest.raises(ValueError, match="loop variable"):
        tf.while_loop(lambda i, h: i < 3, body, [0, tf.constant(1.0)])


def test_ops_inside_show_under_the_loop_scope():
    x = tf.constant(1.0)
    with tf.name_scope("outer"):
        y = tf.while_loop(lambda i, y: i < 2, lambda i, y: (i + 1, y * 2.0), [0, x])[1]
    assert y.op.type == "While" and y.op.name == "outer/while"
    body = y.op.get_attr("body")
    assert all(op.name.startswith("outer/while/") for op in body.get_operations())


# -- while_loop: errors
def test_shape_change_without_invariant_names_the_loop_var_and_both_shapes():
    x = tf.constant([1.0, 2.0], name="x0")
    with pytest.raises(ValueError) as e:
        tf.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, tf.concat([x, x], 0)), [0, x])
    msg = str(e.value)
    assert "x0:0" in msg and "(2,)" in msg and "(4,)" in msg and "shape_invariants" in msg


def test_shape_invariants_allow_a_growing_loop_var():
    x = tf.constant([1.0, 2.0])
    _, y = tf.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, tf.concat([x, x], 0)), [0, x],
                         shape_invariants=[tf.TensorShape([]), tf.TensorShape([None])])
    assert y.shape.as_list() == [None]
    with tf.Session() as s:
        assert s.run(y).shape == (16,)


def test_dtype_change_and_non_boolean_condition_are_type_errors():
    with pytest.raises(TypeError, match="float32"):
        tf.while_loop(lambda i: i < 3, lambda i: tf.cast(i, tf.float32), [0])
    with pytest.raises(TypeError, match="boolean"):
        tf.while_loop(lambda i: i, lambda i: i + 1, [0])
    with pytest.raises(ValueError, match="structure"):
        tf.while_loop(lambda i, j: i < 3, lambda i, j: i + 1, [0, 1])


# -- while_loop: gradients
def test_gradient_of_x_to_the_n_is_n_x_to_the_n_minus_1():
    x = tf.placeholder(tf.float64, [])
    n = tf.placeholder(tf.int32, [])
    _, y = tf.while_loop(lambda i, y: i < n, lambda i, y: (i + 1, y * x), [0, tf.constant(1.0, tf.float64)])
    g = tf.gradients(y, x)[0]
    with tf.Session() as s:
        for xv, nv in ((1.5, 4), (-0.7, 5), (2.0, 0), (3.0, 1)):
            yv, gv = s.run([y, g], {x: xv, n: nv})
            assert yv == pytest.approx(xv ** nv)
            assert gv == pytest.approx(nv * xv ** (nv - 1) if nv else 0.0)


def test_gradient_of_a_loop_accumulating_w_times_x():
    # acc_n = sum over n steps of w * x_t with x_t = x * t: d acc / d w = x * n(n+1)/2, d acc / d x = w * n(n+1)/2
    w = tf.Variable(np.array([1.5, -2.0]), dtype=tf.float64)
    x = tf.placeholder(tf.float64, [2])
    n = 6

    def body(t, acc):
        return t + 1, acc + w * x * tf.cast(t, tf.float64)
    _, acc = tf.while_loop(lambda t, acc: t <= n, body, [1, tf.zeros([2], tf.float64)])
    gw, gx = tf.gradients(tf.reduce_sum(acc), [w, x])
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        xv = np.array([0.3, 0.8])
        gwv, gxv = s.run([gw, gx], {x: xv})
    np.testing.assert_allclose(gwv, xv * n * (n + 1) / 2, rtol=1e-12)
    np.testing.assert_allclose(gxv, np.array([1.5, -2.0]) * n * (n + 1) / 2, rtol=1e-12)


def test_rnn_style_loop_gradients_match_finite_differences(rng):
    w = tf.Variable(rng.standard_normal((3, 3)) * 0.5, dtype=tf.float64, name="w")
    b = tf.Variable(rng.standard_normal(3) * 0.1, dtype=tf.float64, name="b")
    x = tf.placeholder(tf.float64, [4, 2, 3])   # time, batch, features

    def body(t, h):
        return t + 1, tf.tanh(tf.matmul(h, w) + x[t] + b)
    _, h = tf.while_loop(lambda t, h: t < 4, body, [0, tf.zeros([2, 3], tf.float64)])
    loss = tf.reduce_sum(h * h)
    gw, gb, gx = tf.gradients(loss, [w, b, x])
    xv = rng.standard_normal((4, 2, 3))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        feed = {x: xv}
        gwv, gbv, gxv = s.run([gw, gb, gx], feed)
        np.testing.assert_allclose(gwv, numeric_grad_var(s, loss, w, feed), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gbv, numeric_grad_var(s, loss, b, feed), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gxv, numeric_grad(s, loss, x, feed), rtol=1e-6, atol=1e-8)


def test_gradient_with_maximum_iterations():
    x = tf.placeholder(tf.float64, [])
    _, y = tf.while_loop(lambda i, y: i < 100, lambda i, y: (i + 1, y * x), [0, tf.constant(1.0, tf.float64)],
                         maximum_iterations=3)
    g = tf.gradients(y, x)[0]
    with tf.Session() as s:
        assert s.run(g, {x: 2.0}) == pytest.approx(3 * 2.0 ** 2)


def test_loop_var_that_is_also_captured_gets_both_gradients():
    x = tf.placeholder(tf.float64, [3])
    _, h = tf.while_loop(lambda i, h: i < 3, lambda i, h: (i + 1, tf.tanh(h) + x), [0, x])
    loss = tf.reduce_sum(h * h)
    g = tf.gradients(loss, x)[0]
    with tf.Session() as s:
        feed = {x: np.array([0.1, -0.5, 0.9])}
        np.testing.assert_allclose(s.run(g, feed), numeric_grad(s, loss, x, feed), rtol=1e-7, atol=1e-9)


def test_dropout_in_a_loop_uses_the_same_mask_forward_and_backward():
    tf.set_random_seed(1)
    x = tf.placeholder(tf.float64, [50])
    _, h = tf.while_loop(lambda i, h: i < 2, lambda i, h: (i + 1, tf.nn.dropout(h, keep_prob=0.5) * 1.0),
                         [0, x])
    g = tf.gradients(tf.reduce_sum(h), x)[0]
    with tf.Session() as s:
        hv, gv = s.run([h, g], {x: np.ones(50)})
    # h = x * m1 * m2 / 0.25 and dh/dx = m1 * m2 / 0.25 with the same masks
    np.testing.assert_allclose(gv, hv, rtol=1e-12)
    assert set(np.unique(hv).tolist()) <= {0.0, 4.0}


def test_nested_while_loops_gradient():
    x = tf.placeholder(tf.float64, [])

    def outer_body(i, y):
        inner = tf.while_loop(lambda j, z: j < 2, lambda j, z: (j + 1, z * x), [0, y])[1]
        return i + 1, inner
    _, y = tf.while_loop(lambda i, y: i < 3, outer_body, [0, tf.constant(1.0, tf.float64)])
    g = tf.gradients(y, x)[0]
    with tf.Session() as s:
        assert s.run(y, {x: 1.3}) == pytest.approx(1.3 ** 6)
        assert s.run(g, {x: 1.3}) == pytest.approx(6 * 1.3 ** 5)


def test_back_prop_false_stops_gradients():
    x = tf.placeholder(tf.float64, [])
    _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * x), [0, x], back_prop=False)
    assert tf.gradients(y, x) == [None]


# -- cond
def test_cond_runs_only_the_branch_taken():
    p = tf.placeholder(tf.bool, [])
    v = tf.Variable(0.0)
    out = tf.cond(p, lambda: tf.assign_add(v, 1.0), lambda: tf.assign_add(v, 10.0))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        assert s.run(out, {p: True}) == 1.0
        assert s.run(out, {p: False}) == 11.0
        assert s.run(v) == 11.0


def test_cond_structures_strict_and_old_keywords():
    p = tf.placeholder(tf.bool, [])
    single = tf.cond(p, lambda: [tf.constant(1)], lambda: [tf.constant(2)])
    strict = tf.cond(p, lambda: [tf.constant(1)], lambda: [tf.constant(2)], strict=True)
    pair = tf.cond(p, lambda: (tf.constant(1), {"k": tf.constant(1.5)}), lambda: (tf.constant(2), {"k": 2.5}))
    old = tf.cond(p, fn1=lambda: tf.constant(3), fn2=lambda: tf.constant(4))
    assert isinstance(single, tf.Tensor) and isinstance(strict, list)
    with tf.Session() as s:
        assert s.run(single, {p: True}) == 1 and s.run(strict, {p: False}) == [2]
        assert s.run(pair, {p: False}) == (2, {"k": 2.5})
        assert s.run(old, {p: True}) == 3 and s.run(old, {p: False}) == 4


def test_cond_output_shape_is_the_most_specific_compatible_one():
    p = tf.placeholder(tf.bool, [])
    out = tf.cond(p, lambda: tf.zeros([2, 3]), lambda: tf.zeros([2, 5]))
    assert out.shape.as_list() == [2, None]
    with tf.Session() as s:
        assert s.run(out, {p: False}).shape == (2, 5)


def test_cond_errors():
    x = tf.constant(1.0)
    with pytest.raises(TypeError, match="Python bool"):
        tf.cond(True, lambda: x, lambda: x)
    with pytest.raises(TypeError, match="boolean"):
        tf.cond(tf.constant(1), lambda: x, lambda: x)
    p = tf.placeholder(tf.bool, [])
    with pytest.raises(ValueError, match="same type"):
        tf.cond(p, lambda: x, lambda: tf.constant(1))
    with pytest.raises(ValueError, match="structure"):
        tf.cond(p, lambda: (x, x), lambda: x)
    with pytest.raises(ValueError, match="true_fn must have a return value"):
        tf.cond(p, lambda: None, lambda: x)
    with pytest.raises(TypeError, match="callable"):
        tf.cond(p, x, lambda: x)


def test_cond_gradient_flows_to_the_taken_branch_only():
    p = tf.placeholder(tf.bool, [])
    x = tf.placeholder(tf.float64, [2])
    y = tf.placeholder(tf.float64, [2])
    out = tf.cond(p, lambda: tf.reduce_sum(x * x * y), lambda: tf.reduce_sum(tf.exp(y)))
    gx, gy = tf.gradients(out, [x, y])
    xv, yv = np.array([0.5, -1.5]), np.array([2.0, 0.25])
    with tf.Session() as s:
        a, b = s.run([gx, gy], {p: True, x: xv, y: yv})
        np.testing.assert_allclose(a, 2 * xv * yv)
        np.testing.assert_allclose(b, xv * xv)
        a, b = s.run([gx, gy], {p: False, x: xv, y: yv})
        np.testing.assert_array_equal(a, np.zeros(2))
        np.testing.assert_allclose(b, np.exp(yv))


def test_cond_as_train_test_switch_with_dropout():
    training = tf.placeholder_with_default(False, [])
    x = tf.placeholder(tf.float64, [1000])
    out = tf.cond(training, lambda: tf.nn.dropout(x, keep_prob=0.5), lambda: x)
    g = tf.gradients(tf.reduce_sum(out), x)[0]
    with tf.Session() as s:
        xv = np.ones(1000)
        np.testing.assert_array_equal(s.run(out, {x: xv}), xv)
        o, gv = s.run([out, g], {x: xv, training: True})
        assert set(np.unique(o).tolist()) <= {0.0, 2.0} and 300 < np.count_nonzero(o) < 700
        np.testing.assert_array_equal(gv, o)   # same mask forward and backward


def test_cond_inside_while_gradient_matches_finite_differences():
    x = tf.placeholder(tf.float64, [3])
    w = tf.Variable(np.array([[0.5, -0.2, 0.1], [0.3, 0.4, -0.6], [0.2, 0.1, 0.3]]), name="w")

    def body(i, h):
        h2 = tf.tanh(tf.reshape(tf.matmul(tf.reshape(h, [1, 3]), w), [3]) + x)
        h2 = tf.cond(tf.reduce_sum(h2) > 0.0, lambda: h2 * 2.0, lambda: h2 * 0.5 + x)
        return i + 1, h2
    _, h = tf.while_loop(lambda i, h: i < 4, body, [0, x])
    loss = tf.reduce_sum(h * h)
    gx, gw = tf.gradients(loss, [x, w])
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for xv in (np.array([0.1, -0.3, 0.2]), np.array([-0.4, -0.3, 0.1])):
            feed = {x: xv}
            np.testing.assert_allclose(s.run(gx, feed), numeric_grad(s, loss, x, feed), rtol=1e-6, atol=1e-9)
            np.testing.assert_allclose(s.run(gw, feed), numeric_grad_var(s, loss, w, feed), rtol=1e-6, atol=1e-9)


def test_while_inside_cond_gradient():
    p = tf.placeholder(tf.bool, [])
    x = tf.placeholder(tf.float64, [])
    out = tf.cond(p, lambda: tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * x), [0, x])[1],
                  lambda: x * 2.0)
    g = tf.gradients(out, x)[0]
    with tf.Session() as s:
        assert s.run(out, {p: True, x: 1.1}) == pytest.approx(1.1 ** 4)
        assert s.run(g, {p: True, x: 1.1}) == pytest.approx(4 * 1.1 ** 3)
        assert s.run(g, {p: False, x: 1.1}) == pytest.approx(2.0)


def test_nested_conds_and_variables_created_in_a_branch():
    p = tf.placeholder(tf.bool, [])
    q = tf.placeholder(tf.bool, [])

    def branch():
        v = tf.get_variable("v", [], initializer=tf.constant_initializer(5.0))
        return tf.cond(q, lambda: v * 2.0, lambda: v - 1.0)
    out = tf.cond(p, branch, lambda: tf.constant(0.0))
    assert [v.op.name for v in tf.global_variables()] == ["v"]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        assert [s.run(out, {p: a, q: b}) for a, b in ((True, True), (True, False), (False, True))] == [10.0, 4.0, 0.0]


def test_case_picks_the_first_true_predicate_or_the_default():
    x = tf.placeholder(tf.int32, [])
    r = tf.case([(x < 0, lambda: tf.constant(-1)), (x < 10, lambda: tf.constant(1))], default=lambda: tf.constant(100))
    d = tf.case({x > 5: lambda: tf.constant(7)}, default=lambda: tf.constant(0), exclusive=True)
    last = tf.case([(x < 0, lambda: tf.constant(-1)), (x >= 0, lambda: tf.constant(1))])
    with tf.Session() as s:
        assert [s.run(r, {x: v}) for v in (-3, 3, 30)] == [-1, 1, 100]
        assert [s.run(d, {x: v}) for v in (1, 9)] == [0, 7]
        assert [s.run(last, {x: v}) for v in (-2, 2)] == [-1, 1]


def test_case_gradient():
    x = tf.placeholder(tf.float64, [])
    r = tf.case([(x < 0, lambda: x * x), (x < 1, lambda: 3.0 * x)], default=lambda: tf.exp(x))
    g = tf.gradients(r, x)[0]
    with tf.Session() as s:
        assert [s.run(g, {x: v}) for v in (-2.0, 0.5)] == [pytest.approx(-4.0), pytest.approx(3.0)]
        assert s.run(g, {x: 2.0}) == pytest.approx(np.exp(2.0))


# -- map_fn, scan, foldl, foldr
def test_map_fn_over_a_tensor_and_a_nested_structure():
    xv = np.arange(12.0).reshape(4, 3)
    x = tf.constant(xv)
    m = tf.map_fn(lambda r: tf.reduce_sum(r * r), x)
    pair = tf.map_fn(lambda p: (p[0] + p[1], p[0] * p[1]), (x, x), dtype=(tf.float64, tf.float64))
    d = tf.map_fn(lambda e: {"s": e["a"] * 2.0}, {"a": x})
    assert m.shape.as_list() == [4]
    with tf.Session() as s:
        mv, (a, b), dv = s.run([m, pair, d])
    np.testing.assert_allclose(mv, (xv * xv).sum(1))
    np.testing.assert_allclose(a, 2 * xv)
    np.testing.assert_allclose(b, xv * xv)
    np.testing.assert_allclose(dv["s"], 2 * xv)


def test_map_fn_over_a_fed_batch_and_its_gradient():
    x = tf.placeholder(tf.float64, [None, 3])
    w = tf.placeholder(tf.float64, [3])
    y = tf.map_fn(lambda r: tf.reduce_sum(tf.tanh(r * w)), x)
    loss = tf.reduce_sum(y * y)
    gx, gw = tf.gradients(loss, [x, w])
    rng = np.random.default_rng(1)
    feed = {x: rng.standard_normal((5, 3)), w: rng.standard_normal(3)}
    with tf.Session() as s:
        np.testing.assert_allclose(s.run(gx, feed), numeric_grad(s, loss, x, feed), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(s.run(gw, feed), numeric_grad(s, loss, w, feed), rtol=1e-6, atol=1e-9)
        assert s.run(y, {x: np.zeros((0, 3)), w: np.ones(3)}).shape == (0,)


def test_scan_cumulative_sums_forward_and_reverse():
    xv = np.arange(12.0).reshape(4, 3)
    x = tf.constant(xv)
    fwd = tf.scan(lambda a, r: a + r, x)
    rev = tf.scan(lambda a, r: a + r, x, initializer=tf.zeros([3], tf.float64), reverse=True)
    rev_noinit = tf.scan(lambda a, r: a + r, x, reverse=True)
    with tf.Session() as s:
        f, r, r2 = s.run([fwd, rev, rev_noinit])
    np.testing.assert_allclose(f, np.cumsum(xv, 0))
    np.testing.assert_allclose(r, np.cumsum(xv[::-1], 0)[::-1])
    np.testing.assert_allclose(r2, np.cumsum(xv[::-1], 0)[::-1])


def test_scan_with_a_structured_accumulator_and_its_gradient():
    x = tf.placeholder(tf.float64, [6])
    a0 = tf.placeholder(tf.float64, [])
    # a Fibonacci-like recurrence with a decay: (p, q) -> (q, 0.5 * p + q * x_t)
    out = tf.scan(lambda acc, xt: (acc[1], 0.5 * acc[0] + acc[1] * xt), x, initializer=(a0, tf.constant(1.0, tf.float64)))
    loss = tf.reduce_sum(out[1] * out[1]) + tf.reduce_sum(out[0])
    gx, ga = tf.gradients(loss, [x, a0])
    feed = {x: np.linspace(-0.5, 0.7, 6), a0: 0.3}
    with tf.Session() as s:
        p, q = s.run(out, feed)
        pp, qq, ref = 0.3, 1.0, []
        for xt in feed[x]:
            pp, qq = qq, 0.5 * pp + qq * xt
            ref.append(qq)
        np.testing.assert_allclose(q, ref)
        np.testing.assert_allclose(s.run(gx, feed), numeric_grad(s, loss, x, feed), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(s.run(ga, feed), numeric_grad(s, loss, a0, feed), rtol=1e-6, atol=1e-9)


def test_foldl_and_foldr():
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.Session() as s:
        assert s.run(tf.foldl(lambda a, r: a * 2.0 + r, x)) == (1 * 2 + 2) * 2 + 3
        assert s.run(tf.foldr(lambda a, r: a * 2.0 + r, x)) == (3 * 2 + 2) * 2 + 1
        assert s.run(tf.foldl(lambda a, r: a + r, x, initializer=10.0)) == 16.0


def test_map_fn_and_scan_errors():
    with pytest.raises(TypeError, match="callable"):
        tf.map_fn(3, tf.constant([1.0]))
    with pytest.raises(ValueError, match="scalars"):
        tf.map_fn(lambda r: r, tf.constant(1.0))
    with pytest.raises(ValueError, match="enters the loop with shape"):
        tf.scan(lambda a, r: tf.concat([a, r], 0), tf.ones([3, 2]))


# -- odds and ends
def test_run_time_error_inside_a_body_names_the_op_inside():
    x = tf.placeholder(tf.float32, [None])
    _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, tf.reshape(y, [2, 2])[0]), [0, x],
                         shape_invariants=[tf.TensorShape([]), tf.TensorShape([None])])
    with tf.Session() as s:
        with pytest.raises(tf.errors.InvalidArgumentError) as e:
            s.run(y, {x: [1.0, 2.0, 3.0]})
    assert e.value.op.name == "while/Reshape"


def test_outer_control_dependencies_inside_a_body_run_before_the_loop():
    v = tf.Variable(1.0)
    bump = tf.assign(v, 5.0)

    def body(i, y):
        with tf.control_dependencies([bump]):
            return i + 1, y + v.read_value()
    _, y = tf.while_loop(lambda i, y: i < 2, body, [0, 0.0])
    assert bump.op in y.op.control_inputs
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        assert s.run(y) == 10.0


def test_cond_branches_returning_operations():
    p = tf.placeholder(tf.bool, [])
    v = tf.Variable(0)
    op = tf.cond(p, lambda: tf.group(tf.assign_add(v, 1)), lambda: tf.no_op())
    assert isinstance(op, tf.Operation)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        s.run(op, {p: True})
        s.run(op, {p: False})
        s.run(op, {p: True})
        assert s.run(v) == 2


def test_graphs_with_control_flow_export_and_trace():
    x = tf.placeholder(tf.float32, [3])
    y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * 2.0), [0, x])[1]
    z = tf.cond(tf.reduce_sum(y) > 0, lambda: y, lambda: -y)
    nodes = {n.name: n.op for n in tf.get_default_graph().as_graph_def(add_shapes=True).node}
    assert nodes["while"] == "While" and nodes["cond"] == "If"
    with tf.Session() as s:
        md = tf.RunMetadata()
        out = s.run(z, {x: [1, 2, 3]}, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=md)
        np.testing.assert_array_equal(out, [8, 16, 24])
        assert "while" in [n.node_name for n in md.step_stats.dev_stats[0].node_stats]


def test_rnn_cell_weights_created_inside_scan_over_an_unknown_number_of_steps():
    x = tf.placeholder(tf.float32, [None, 4, 3])   # time-major, any length
    cell = tf.nn.rnn_cell.BasicLSTMCell(5)

    def step(acc, xt):
        return cell(xt, acc[1])
    outs, _ = tf.scan(step, x, initializer=(tf.zeros([4, 5]), cell.zero_state(4, tf.float32)))
    assert [v.op.name for v in tf.trainable_variables()] == ["basic_lstm_cell/kernel", "basic_lstm_cell/bias"]
    train = tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(outs[-1]))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for t in (1, 6):
            assert s.run(outs, {x: np.ones((t, 4, 3))}).shape == (t, 4, 5)
            s.run(train, {x: np.ones((t, 4, 3))})


# -- TensorArray
def test_tensor_array_write_read_stack_and_gradients():
    x = tf.placeholder(tf.float64, [2])
    y = tf.placeholder(tf.float64, [2])
    ta = tf.TensorArray(tf.float64, size=3)
    ta = ta.write(0, x).write(1, y * x).write(2, y)
    out = ta.read(1) + ta.stack()[2] * ta.read(0)   # 2 x y
    gx, gy = tf.gradients(tf.reduce_sum(out), [x, y])
    with tf.Session() as s:
        feed = {x: np.array([1.0, 2.0]), y: np.array([3.0, -4.0])}
        np.testing.assert_allclose(s.run(out, feed), 2 * feed[x] * feed[y])
        np.testing.assert_allclose(s.run(gx, feed), 2 * feed[y])
        np.testing.assert_allclose(s.run(gy, feed), 2 * feed[x])
        assert s.run(ta.size(), feed) == 3


def test_tensor_array_in_a_while_loop_rnn_with_gradients():
    # the TF 1.x dynamic-RNN pattern: inputs unstacked into a TensorArray outside the loop, read by index
    # inside, outputs written into a TensorArray carried as a loop variable, stacked after the loop
    x = tf.placeholder(tf.float64, [5, 2, 3])
    w = tf.placeholder(tf.float64, [3, 3])
    inputs = tf.TensorArray(tf.float64, size=5).unstack(x)
    outputs = tf.TensorArray(tf.float64, size=5)

    def body(t, h, outputs):
        h = tf.tanh(tf.matmul(h, w) + inputs.read(t))
        return t + 1, h, outputs.write(t, h)
    _, h, outputs = tf.while_loop(lambda t, h, o: t < 5, body, [0, tf.zeros([2, 3], tf.float64), outputs])
    assert isinstance(outputs, tf.TensorArray)
    ys = outputs.stack()
    assert ys.shape.as_list() == [None, 2, 3]
    loss = tf.reduce_sum(ys * ys) + tf.reduce_sum(h)
    gx, gw = tf.gradients(loss, [x, w])
    rng = np.random.default_rng(0)
    feed = {x: rng.standard_normal((5, 2, 3)), w: rng.standard_normal((3, 3)) * 0.5}
    with tf.Session() as s:
        hs, hv = [], np.zeros((2, 3))
        for t in range(5):
            hv = np.tanh(hv @ feed[w] + feed[x][t])
            hs.append(hv)
        np.testing.assert_allclose(s.run(ys, feed), np.stack(hs), rtol=1e-12)
        np.testing.assert_allclose(s.run(gx, feed), numeric_grad(s, loss, x, feed), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(s.run(gw, feed), numeric_grad(s, loss, w, feed), rtol=1e-6, atol=1e-9)


def test_tensor_array_dynamic_size_gather_concat_and_errors():
    ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
    ta = tf.while_loop(lambda i, ta: i < 4, lambda i, ta: (i + 1, ta.write(i, tf.fill([2], tf.cast(i, tf.float32)))),
                       [0, ta])[1]
    fixed = tf.TensorArray(tf.float32, size=1).write(0, [1.0])
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(ta.gather([3, 1])), [[3, 3], [1, 1]])
        np.testing.assert_array_equal(s.run(ta.concat()), [0, 0, 1, 1, 2, 2, 3, 3])
        assert s.run(ta.size()) == 4
        with pytest.raises(tf.errors.InvalidArgumentError, match="not resizeable"):
            s.run(fixed.write(1, [2.0]).flow)
        with pytest.raises(tf.errors.InvalidArgumentError, match="already been written"):
            s.run(fixed.write(0, [2.0]).flow)
        with pytest.raises(tf.errors.InvalidArgumentError, match="not yet been written"):
            s.run(tf.TensorArray(tf.float32, size=2).read(1))


def test_tensor_array_through_cond():
    p = tf.placeholder(tf.bool, [])
    x = tf.placeholder(tf.float64, [3])
    ta = tf.TensorArray(tf.float64, size=2).write(0, x)
    ta = tf.cond(p, lambda: ta.write(1, x * 2.0), lambda: ta.write(1, x * x))
    out = tf.reduce_sum(ta.stack())
    g = tf.gradients(out, x)[0]
    with tf.Session() as s:
        xv = np.array([1.0, -2.0, 0.5])
        np.testing.assert_allclose(s.run(g, {p: True, x: xv}), np.full(3, 3.0))
        np.testing.assert_allclose(s.run(g, {p: False, x: xv}), 1 + 2 * xv)


def test_case_exclusive_fails_when_two_predicates_hold():
    x = tf.placeholder(tf.int32, [])
    r = tf.case([(x > 0, lambda: tf.constant(1)), (x > 5, lambda: tf.constant(2))], default=lambda: tf.constant(0),
                exclusive=True)
    with tf.Session() as s:
        assert [s.run(r, {x: v}) for v in (-1, 3)] == [0, 1]
        with pytest.raises(tf.errors.InvalidArgumentError, match="more than one predicate"):
            s.run(r, {x: 7})


def test_switch_case():
    i = tf.placeholder(tf.int32, [])
    listed = tf.switch_case(i, [lambda: tf.constant(10), lambda: tf.constant(11)], default=lambda: tf.constant(-1))
    keyed = tf.switch_case(i, {1: lambda: tf.constant(10), 3: lambda: tf.constant(30)})
    with tf.Session() as s:
        assert [s.run(listed, {i: v}) for v in (0, 1, 2, -5)] == [10, 11, -1, -1]
        assert [s.run(keyed, {i: v}) for v in (1, 3, 7)] == [10, 30, 30]


def test_only_runs_that_run_the_gradient_record_the_forward_values():
    x = tf.placeholder(tf.float64, [4])
    loop = tf.while_loop(lambda i, h: i < 3, lambda i, h: (i + 1, tf.tanh(h) * 2.0), [0, x])[1]
    g = tf.gradients(tf.reduce_sum(loop), x)[0]
    trace = loop.op.outputs[-1]
    with tf.Session() as s:
        feed = {x: np.ones(4)}
        evaluated = s.run(trace, feed)        # an evaluation run: nothing kept
        assert evaluated.records is None
        traced, gv = s.run([trace, g], feed)  # a training run: three iterations recorded
        assert traced.n == 3 and len(traced.records) == 3
        h1 = np.tanh(1.0) * 2
        h2 = np.tanh(h1) * 2
        dh = 2 * (1 - np.tanh(h2) ** 2) * 2 * (1 - np.tanh(h1) ** 2) * 2 * (1 - np.tanh(1.0) ** 2)
        np.testing.assert_allclose(gv, np.full(4, dh))


def test_init_scope_leaves_the_function_graph():
    def body(i, h):
        with tf.init_scope():
            c = tf.constant(2.0, name="lifted")
            v = tf.Variable(3.0, name="v_in_init_scope")
        return i + 1, h * c * v
    y = tf.while_loop(lambda i, h: i < 2, body, [0, 1.0])[1]
    assert tf.get_default_graph().get_operation_by_name("while/lifted").type == "Const"
    assert [v.op.name for v in tf.global_variables()] == ["while/v_in_init_scope"]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        assert s.run(y) == 36.0


def test_graph_def_draws_loop_bodies_inside_the_loop_group():
    x = tf.placeholder(tf.float32, [3], name="x")
    w = tf.Variable(tf.ones([3]), name="w")
    y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, tf.cond(tf.reduce_sum(y) > 0, lambda: y * w,
                                                                         lambda: y - x)), [0, x])[1]
    tf.gradients(tf.reduce_sum(y), [x, w])
    nodes = {n.name: n for n in tf.get_default_graph().as_graph_def(add_shapes=True).node}
    assert nodes["while"].op == "While" and nodes["while/cond"].op == "If"
    # the branch's ops are in the graph, under the loop's scope, with edges from the captured tensors
    assert list(nodes["while/cond/mul"].input) == ["while/loop_var_3", "w/read"]
    assert list(nodes["while/cond/sub"].input) == ["while/loop_var_3", "x"]
    assert not any(n.endswith("/capture") or "/capture_" in n for n in nodes)
    assert "while_record" in nodes and "while/cond_record" in nodes
    inputs = {i.split(":")[0].lstrip("^") for n in nodes.values() for i in n.input}
    assert inputs <= set(nodes), inputs - set(nodes)   # every edge ends at a node of the GraphDef


def test_entering_the_outer_graph_inside_a_branch_stays_in_the_branch():
    # TF 1.x code such as `with loss.graph.as_default():` inside a cond branch means "the graph being built"
    p = tf.placeholder(tf.bool, [])
    x = tf.placeholder(tf.float32, [])
    outer = tf.get_default_graph()

    def branch():
        with outer.as_default():
            return x * 2.0
    out = tf.cond(p, branch, lambda: x)
    with tf.Session() as s:
        assert s.run(out, {p: True, x: 3.0}) == 6.0 and s.run(out, {p: False, x: 3.0}) == 3.0
    assert all(op.graph is outer for op in outer.get_operations())
