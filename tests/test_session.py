"""Session: default-session handling, fetch structures and result types, feeding, error
reporting, pruning of unneeded ops and the per-signature plan cache."""
import collections

import numpy as np
import pytest

import nanotf as tf
from nanotf import errors


def _const(value, name=None):
    return tf.constant(np.asarray(value, dtype=np.float32), name=name or "Const")


# ================================================================ lifetime and default session
def test_context_manager_sets_the_default_session_and_graph():
    g = tf.Graph()
    with g.as_default():
        c = _const([1.0, 2.0])
    assert tf.get_default_session() is None
    with tf.Session(graph=g) as sess:
        assert tf.get_default_session() is sess
        assert tf.get_default_graph() is g
        assert sess.graph is g
        np.testing.assert_array_equal(c.eval(), [1.0, 2.0])
    assert tf.get_default_session() is None


def test_session_graph_defaults_to_the_default_graph():
    g = tf.Graph()
    with g.as_default():
        sess = tf.Session()
    assert sess.graph is g
    sess.close()


def test_nested_default_sessions_restore_the_outer_one():
    with tf.Graph().as_default():
        s1, s2 = tf.Session(), tf.Session()
        with s1.as_default():
            with s2.as_default():
                assert tf.get_default_session() is s2
            assert tf.get_default_session() is s1
        s1.close()
        s2.close()


def test_run_after_close_raises_closed_session_error():
    with tf.Graph().as_default():
        c = _const(1.0)
        sess = tf.Session()
        assert sess.run(c) == 1.0
        sess.close()
        with pytest.raises(errors.ClosedSessionError):
            sess.run(c)
        with pytest.raises(RuntimeError):   # also a RuntimeError, as TF raises
            sess.run(c)
        with tf.Session() as sess2:
            pass
        with pytest.raises(RuntimeError):
            sess2.run(c)


# ================================================================ fetches
def test_fetch_tensor_operation_and_names():
    with tf.Graph().as_default():
        x = _const([1.0, 2.0], "x")
        op = tf.no_op(name="noop")
        with tf.Session() as sess:
            np.testing.assert_array_equal(sess.run(x), [1.0, 2.0])
            assert sess.run(op) is None
            np.testing.assert_array_equal(sess.run("x:0"), [1.0, 2.0])
            assert sess.run("noop") is None
            assert sess.run([x, op])[1] is None


def test_fetch_variable_returns_its_value():
    with tf.Graph().as_default():
        v = tf.Variable(np.array([1.0, 2.0], np.float32), name="v")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            out = sess.run(v)
            assert isinstance(out, np.ndarray) and out.dtype == np.float32
            np.testing.assert_array_equal(out, [1.0, 2.0])
            np.testing.assert_array_equal(sess.run({"v": v})["v"], [1.0, 2.0])


def test_nested_fetch_structures_are_preserved():
    Pair = collections.namedtuple("Pair", ["first", "second"])
    with tf.Graph().as_default():
        a = _const(1.0, "a")
        b = _const([2.0, 3.0], "b")
        noop = tf.no_op()
        fetches = {"a": a, "pair": Pair(a, [b, noop]), "tup": (a, (b,)), 7: [a, {"inner": b}]}
        with tf.Session() as sess:
            out = sess.run(fetches)
    assert type(out) is dict and set(out) == {"a", "pair", "tup", 7}
    assert out["a"] == 1.0
    assert type(out["pair"]) is Pair
    assert out["pair"].first == 1.0
    assert type(out["pair"].second) is list
    np.testing.assert_array_equal(out["pair"].second[0], [2.0, 3.0])
    assert out["pair"].second[1] is None
    assert type(out["tup"]) is tuple and type(out["tup"][1]) is tuple
    np.testing.assert_array_equal(out["tup"][1][0], [2.0, 3.0])
    assert type(out[7]) is list and type(out[7][1]) is dict
    np.testing.assert_array_equal(out[7][1]["inner"], [2.0, 3.0])


def test_ordered_dict_fetch_keeps_type_and_order():
    with tf.Graph().as_default():
        a, b = _const(1.0), _const(2.0)
        with tf.Session() as sess:
            out = sess.run(collections.OrderedDict([("z", a), ("y", b)]))
    assert type(out) is collections.OrderedDict
    assert list(out.items()) == [("z", 1.0), ("y", 2.0)]


def test_duplicate_fetches_in_one_run():
    with tf.Graph().as_default():
        a = _const([1.0, 2.0])
        v = tf.Variable(np.float32(4.0))
        with tf.Session() as sess:
            sess.run(v.initializer)
            r = sess.run([a, a, v, v, (a,)])
    np.testing.assert_array_equal(r[0], [1.0, 2.0])
    np.testing.assert_array_equal(r[1], [1.0, 2.0])
    assert r[2] == 4.0 and r[3] == 4.0
    np.testing.assert_array_equal(r[4][0], [1.0, 2.0])


def test_scalar_fetch_is_a_numpy_scalar_not_a_0d_array():
    with tf.Graph().as_default():
        s = _const(2.0) * 3.0
        m = tf.reduce_mean(_const([1.0, 2.0, 3.0]))
        i = tf.constant(5)
        with tf.Session() as sess:
            sv, mv, iv = sess.run([s, m, i])
            single = sess.run(s)
    for v, t in ((sv, np.float32), (mv, np.float32), (iv, np.int32), (single, np.float32)):
        assert type(v) is t, (v, type(v))
        assert not isinstance(v, np.ndarray)
    assert sv == 6.0 and mv == 2.0 and iv == 5


def test_results_are_numpy_arrays_of_the_tensor_dtype():
    with tf.Graph().as_default():
        f32 = _const([[1.0, 2.0]])
        f64 = tf.constant(np.ones((2, 2), np.float64))
        i32 = tf.constant([1, 2])
        cast = tf.cast(f32, tf.int32)
        with tf.Session() as sess:
            outs = sess.run([f32, f64, i32, cast])
    for v, dt, shape in zip(outs, (np.float32, np.float64, np.int32, np.int32), ((1, 2), (2, 2), (2,), (1, 2))):
        assert isinstance(v, np.ndarray) and v.dtype == dt and v.shape == shape


def test_fetched_variable_value_is_a_copy():
    with tf.Graph().as_default():
        v = tf.Variable(np.array([1.0, 2.0], np.float32), name="v")
        assign = tf.assign(v, [10.0, 20.0])
        inc = tf.assign_add(v, [1.0, 1.0])
        with tf.Session() as sess:
            sess.run(v.initializer)
            fetched = sess.run(v)
            read = sess.run(v.value())
            fetched[0] = 100.0   # mutating a fetched value does not touch the variable
            read[1] = 200.0
            np.testing.assert_array_equal(sess.run(v), [1.0, 2.0])
            before = sess.run(v)
            after_assign = sess.run(assign)
            np.testing.assert_array_equal(before, [1.0, 2.0])   # not changed by the later assign
            np.testing.assert_array_equal(after_assign, [10.0, 20.0])
            after_inc = sess.run(inc)
            np.testing.assert_array_equal(after_assign, [10.0, 20.0])  # assign's result is a copy too
            np.testing.assert_array_equal(after_inc, [11.0, 21.0])
            sess.run(inc)
            np.testing.assert_array_equal(after_inc, [11.0, 21.0])
            np.testing.assert_array_equal(sess.run(v), [12.0, 22.0])


def test_fetched_constant_mutation_does_not_change_later_runs():
    with tf.Graph().as_default():
        c = _const([1.0, 2.0])
        with tf.Session() as sess:
            first = sess.run(c)
            try:
                first[0] = 50.0
            except ValueError:
                pass  # a read-only result is fine too
            np.testing.assert_array_equal(sess.run(c), [1.0, 2.0])


def test_fetched_value_does_not_alias_the_fed_array():
    # TF returns fresh buffers: mutating a result never changes the caller's feed array.
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[2])
        y = tf.identity(x)
        fed = np.array([1.0, 2.0], np.float32)
        with tf.Session() as sess:
            out_y, out_x = sess.run([y, x], {x: fed})
    out_y[0] = 100.0
    out_x[1] = 200.0
    np.testing.assert_array_equal(fed, [1.0, 2.0])


def test_fetch_invalid_types_raise():
    with tf.Graph().as_default():
        with tf.Session() as sess:
            with pytest.raises(TypeError):
                sess.run(None)
            with pytest.raises(TypeError):
                sess.run(3.5)
            with pytest.raises(ValueError):   # TF: "Fetch argument ... cannot be interpreted as a Tensor"
                sess.run("no_such_tensor:0")


def test_fetch_from_another_graph_raises():
    g1, g2 = tf.Graph(), tf.Graph()
    with g1.as_default():
        a = _const(1.0, "a")
    with g2.as_default():
        b = _const(1.0, "b")
    with tf.Session(graph=g2) as sess:
        with pytest.raises(ValueError):
            sess.run(a)
        with pytest.raises(ValueError):
            sess.run([b, a])
        with pytest.raises(ValueError):
            sess.run(a.op)


# ================================================================ feeds
def test_feed_placeholder_with_partial_shape():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[None, 3], name="x")
        y = tf.reduce_sum(x * 2.0)
        with tf.Session() as sess:
            for rows in (1, 4):
                xv = np.arange(rows * 3, dtype=np.float32).reshape(rows, 3)
                assert sess.run(y, {x: xv}) == pytest.approx(2.0 * xv.sum())


def test_feed_python_lists_and_ints_into_float_placeholders():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[2])
        s = tf.placeholder(tf.float32, shape=[])
        y = x * s
        with tf.Session() as sess:
            out = sess.run(y, {x: [1, 2], s: 3})
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [3.0, 6.0])


def test_feed_numpy_array_of_other_dtype_is_converted():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[2])
        y = tf.identity(x)
        with tf.Session() as sess:
            out = sess.run(y, {x: np.array([1.5, 2.5], np.float64)})
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [1.5, 2.5])


def test_feed_unknown_rank_placeholder_accepts_any_shape():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32)
        y = x + 1.0
        with tf.Session() as sess:
            assert sess.run(y, {x: 1.0}) == 2.0
            np.testing.assert_array_equal(sess.run(y, {x: np.zeros((2, 2, 2))}), np.ones((2, 2, 2)))


def test_placeholder_shape_int_means_vector():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=(100))  # noqa: the int 100, TF reads it as (100,)
        assert x.shape.as_list() == [100]
        with tf.Session() as sess:
            np.testing.assert_array_equal(sess.run(x, {x: np.ones(100)}), np.ones(100))
            with pytest.raises(ValueError):
                sess.run(x, {x: np.ones((100, 1))})


def test_feed_keys_may_be_tensor_names():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[2], name="x")
        y = x * 2.0
        with tf.Session() as sess:
            np.testing.assert_array_equal(sess.run(y, {"x:0": [1.0, 2.0]}), [2.0, 4.0])


def test_any_tensor_can_be_fed_and_feeding_cuts_the_graph():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[2], name="x")   # never fed: running it would fail
        mid = tf.multiply(x, 2.0, name="mid")
        out = mid + 1.0
        c = _const([5.0, 6.0], "c")
        c_plus = c * 10.0
        with tf.Session() as sess:
            np.testing.assert_array_equal(sess.run(out, {mid: [1.0, 2.0]}), [2.0, 3.0])
            np.testing.assert_array_equal(sess.run(c_plus, {c: [1.0, 1.0]}), [10.0, 10.0])
            # fetching a fed tensor returns the fed value
            np.testing.assert_array_equal(sess.run(mid, {mid: [7.0, 8.0]}), [7.0, 8.0])
            with pytest.raises(errors.InvalidArgumentError):
                sess.run(out)   # without the feed, the placeholder must be fed


def test_feeding_a_variable_read_cuts_the_graph():
    with tf.Graph().as_default():
        v = tf.Variable(np.float32(1.0), name="v")   # never initialized
        y = v.value() * 3.0
        with tf.Session() as sess:
            assert sess.run(y, {v.value(): 2.0}) == 6.0


def test_unfed_placeholder_error_names_placeholder_dtype_and_shape():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[2, 3], name="x")
        y = x + 1.0
        with tf.Session() as sess:
            with pytest.raises(errors.InvalidArgumentError) as info:
                sess.run(y)
    e = info.value
    assert "You must feed a value for placeholder tensor 'x' with dtype float and shape [2,3]" in str(e)
    assert e.op is not None and e.op.name == "x"
    assert e.error_code == errors.INVALID_ARGUMENT


def test_unfed_placeholder_with_unknown_dims_error():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.int32, shape=[None, 3], name="labels")
        with tf.Session() as sess:
            with pytest.raises(errors.InvalidArgumentError) as info:
                sess.run(x * 2)
    assert "placeholder tensor 'labels' with dtype int32 and shape [?,3]" in str(info.value)


def test_wrong_feed_shape_raises_invalid_feed_error():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[2, 3], name="x")
        y = x * 2.0
        with tf.Session() as sess:
            with pytest.raises(errors.InvalidFeedError) as info:
                sess.run(y, {x: np.zeros((3,))})
            with pytest.raises(errors.InvalidArgumentError):
                sess.run(y, {x: np.zeros((2, 4))})
            with pytest.raises(ValueError):
                sess.run(y, {x: np.zeros((2, 3, 1))})
    msg = str(info.value)
    assert "x:0" in msg
    assert "(3,)" in msg          # the fed shape
    assert "(2, 3)" in msg        # the tensor's shape


def test_wrong_feed_shape_on_partial_placeholder():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[None, 3], name="x")
        with tf.Session() as sess:
            with pytest.raises(errors.InvalidFeedError) as info:
                sess.run(x, {x: np.zeros((4, 2))})
    assert "x:0" in str(info.value) and "(4, 2)" in str(info.value)


def test_non_convertible_feed_value_raises_invalid_feed_type_error():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[], name="x")
        with tf.Session() as sess:
            with pytest.raises(errors.InvalidFeedTypeError):
                sess.run(x, {x: "not a number"})
            with pytest.raises(TypeError):
                sess.run(x, {x: object()})
            with pytest.raises(TypeError):
                sess.run(x, {x: tf.constant(1.0)})   # a Tensor is not a feed value


def test_feed_key_from_another_graph_raises():
    g1, g2 = tf.Graph(), tf.Graph()
    with g1.as_default():
        foreign = tf.placeholder(tf.float32, shape=[], name="p")
    with g2.as_default():
        p = tf.placeholder(tf.float32, shape=[], name="p")
        y = p * 2.0
    with tf.Session(graph=g2) as sess:
        with pytest.raises(TypeError):   # TF: "Cannot interpret feed_dict key as Tensor"
            sess.run(y, {foreign: 1.0})
        with pytest.raises(TypeError):
            sess.run(y, {"no_such:0": 1.0})


def test_kernel_failure_raises_op_error_naming_the_op():
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, shape=[None, None], name="a")
        b = tf.placeholder(tf.float32, shape=[None, None], name="b")
        prod = tf.matmul(a, b, name="prod")
        out = prod + 1.0
        with tf.Session() as sess:
            with pytest.raises(errors.OpError) as info:
                sess.run(out, {a: np.ones((2, 3)), b: np.ones((4, 5))})
            # the session stays usable afterwards
            np.testing.assert_array_equal(sess.run(out, {a: np.ones((2, 3)), b: np.ones((3, 1))}),
                                          np.full((2, 1), 4.0))
    e = info.value
    assert isinstance(e, errors.InvalidArgumentError)
    assert e.op is not None
    assert e.op.name == "prod" and e.op.type == "MatMul"
    assert "prod" in str(e) and "MatMul" in str(e)


# ================================================================ pruning
def _counter():
    counter = tf.Variable(0, name="counter")
    bump = tf.assign_add(counter, 1, name="bump")
    return counter, bump


def test_unfetched_side_effect_ops_do_not_run():
    with tf.Graph().as_default():
        counter, bump = _counter()
        unrelated = _const([1.0]) * 2.0
        with tf.Session() as sess:
            sess.run(counter.initializer)
            for _ in range(3):
                sess.run(unrelated)
            assert sess.run(counter) == 0
            sess.run(bump)
            assert sess.run(counter) == 1


def test_ops_behind_control_dependencies_of_unrelated_ops_do_not_run():
    with tf.Graph().as_default():
        counter, bump = _counter()
        x = _const([1.0], "x")
        with tf.control_dependencies([bump]):
            gated = tf.identity(x, name="gated")   # depends on bump, but is not fetched
        plain = x * 3.0
        with tf.Session() as sess:
            sess.run(counter.initializer)
            sess.run(plain)
            sess.run([plain, x])
            assert sess.run(counter) == 0
            # control dependencies of a fetched op do run
            sess.run(gated)
            assert sess.run(counter) == 1
            sess.run(tf.group(gated))
            assert sess.run(counter) == 2


def test_placeholders_not_needed_by_fetches_need_no_feed():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[2])
        _ = x * 2.0
        c = _const(3.0)
        with tf.Session() as sess:
            assert sess.run(c) == 3.0


def test_fed_tensor_upstream_side_effects_do_not_run():
    with tf.Graph().as_default():
        counter, bump = _counter()
        with tf.control_dependencies([bump]):
            mid = tf.identity(_const(1.0), name="mid")
        out = mid * 2.0
        with tf.Session() as sess:
            sess.run(counter.initializer)
            assert sess.run(out, {mid: 5.0}) == 10.0
            assert sess.run(counter) == 0
            assert sess.run(out) == 2.0
            assert sess.run(counter) == 1


# ================================================================ plan cache
def test_same_signature_reuses_the_plan_and_new_signatures_add_one():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, shape=[None])
        y = x * 2.0
        z = y + 1.0
        with tf.Session() as sess:
            assert len(sess._plans) == 0
            sess.run(y, {x: [1.0]})
            assert len(sess._plans) == 1
            np.testing.assert_array_equal(sess.run(y, {x: [3.0, 4.0]}), [6.0, 8.0])  # new values, same plan
            assert len(sess._plans) == 1
            sess.run(z, {x: [1.0]})
            assert len(sess._plans) == 2
            sess.run([y, z], {x: [1.0]})
            assert len(sess._plans) == 3
            sess.run([y, z], {x: [2.0]})
            assert len(sess._plans) == 3
            sess.run(z, {y: [1.0]})          # a different feed set is a different signature
            assert len(sess._plans) == 4


def test_plans_are_per_session():
    with tf.Graph().as_default():
        c = _const(1.0)
        s1, s2 = tf.Session(), tf.Session()
        s1.run(c)
        assert len(s1._plans) == 1 and len(s2._plans) == 0
        s1.close()
        s2.close()
