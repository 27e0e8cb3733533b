"""tf.Variable (op names, initializers, reads, assigns, collections, per-session values,
uninitialized reads) and the random ops (seeding rules, distributions)."""
import math

import numpy as np
import pytest

import nanotf as tf
from nanotf import errors


# ================================================================ Variable structure
def test_variable_op_names_and_types(graph):
    v = tf.Variable(np.zeros((2, 3), np.float32), name="x")
    assert v.op.name == "x" and v.op.type == "VariableV2"
    assert v.name == "x:0"
    assert v.initializer.name == "x/Assign" and v.initializer.type == "Assign"
    assert v.value().name == "x/read:0" and v.value().op.type == "Identity"
    assert graph.get_operation_by_name("x/read") is v.value().op
    assert v.dtype is tf.float32
    assert v.shape.as_list() == [2, 3] and v.get_shape().as_list() == [2, 3]
    assert v.graph is graph


def test_variable_default_name_and_uniquing(graph):
    a = tf.Variable(1.0)
    b = tf.Variable(1.0)
    c = tf.Variable(1.0, name="w")
    d = tf.Variable(1.0, name="w")
    assert (a.op.name, b.op.name) == ("Variable", "Variable_1")
    assert (c.op.name, d.op.name) == ("w", "w_1")
    assert d.initializer.name == "w_1/Assign"


def test_python_initial_value_constant_is_named_initial_value(graph):
    # TF1 converts a non-Tensor initial value under the variable's scope with name="initial_value".
    tf.Variable(0, name="global_step", trainable=False)
    assert "global_step/initial_value" in {op.name for op in graph.get_operations()}


def test_global_step_style_variable_is_int32(graph):
    step = tf.Variable(0, name="global_step", trainable=False)
    assert step.dtype is tf.int32
    assert step.shape.as_list() == []
    with tf.Session() as sess:
        sess.run(step.initializer)
        out = sess.run(step)
    assert type(out) is np.int32 and out == 0


def test_variable_dtype_argument_and_callable_initial_value(graph):
    v = tf.Variable([1, 2], dtype=tf.float64, name="v")
    w = tf.Variable(lambda: tf.ones([2]), name="w")
    assert v.dtype is tf.float64
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out_v, out_w = sess.run([v, w])
    assert out_v.dtype == np.float64
    np.testing.assert_array_equal(out_v, [1.0, 2.0])
    np.testing.assert_array_equal(out_w, [1.0, 1.0])


def test_variable_requires_initial_value(graph):
    with pytest.raises(ValueError):
        tf.Variable(None)


# ================================================================ values and assignment
def test_value_and_read_value(graph):
    v = tf.Variable(np.array([1.0, 2.0], np.float32), name="v")
    rv = v.read_value()
    assert isinstance(rv, tf.Tensor) and rv.dtype is tf.float32
    assert v.value() is v.value()  # the one cached snapshot
    with tf.Session() as sess:
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(v.value()), [1.0, 2.0])
        np.testing.assert_array_equal(sess.run(rv), [1.0, 2.0])
        np.testing.assert_array_equal(sess.run(v * 2.0), [2.0, 4.0])  # operators on a Variable
        np.testing.assert_array_equal(sess.run(10.0 - v), [9.0, 8.0])


def test_assign_methods_and_functions(graph):
    v = tf.Variable(np.array([1.0, 2.0], np.float32), name="v")
    ops = {
        "assign": v.assign([5.0, 6.0]),
        "assign_add": v.assign_add([1.0, 1.0]),
        "assign_sub": v.assign_sub([0.5, 0.5]),
        "tf.assign": tf.assign(v, [0.0, 1.0]),
        "tf.assign_add": tf.assign_add(v, [2.0, 2.0]),
        "tf.assign_sub": tf.assign_sub(v, [1.0, 3.0]),
    }
    assert ops["assign"].op.type == "Assign"
    assert ops["tf.assign_add"].op.type == "AssignAdd"
    assert ops["tf.assign_sub"].op.type == "AssignSub"
    expected_after = {
        "assign": [5.0, 6.0], "assign_add": [6.0, 7.0], "assign_sub": [5.5, 6.5],
        "tf.assign": [0.0, 1.0], "tf.assign_add": [2.0, 3.0], "tf.assign_sub": [1.0, 0.0],
    }
    with tf.Session() as sess:
        sess.run(v.initializer)
        for key in expected_after:   # in this order, each building on the previous state
            result = sess.run(ops[key])
            np.testing.assert_array_equal(result, expected_after[key], err_msg=key)
            np.testing.assert_array_equal(sess.run(v), expected_after[key], err_msg=key)


def test_assign_with_incompatible_shape_raises_at_build_time(graph):
    v = tf.Variable(np.zeros(3, np.float32))
    with pytest.raises(ValueError):
        tf.assign(v, np.zeros(4, np.float32))
    with pytest.raises(ValueError):
        tf.assign_add(v, np.zeros((2, 3), np.float32))


def test_integer_counter_assign_add(graph):
    c = tf.Variable(0, name="c")
    inc = tf.assign_add(c, 1)
    with tf.Session() as sess:
        sess.run(c.initializer)
        for _ in range(5):
            sess.run(inc)
        out = sess.run(c)
    assert out == 5 and type(out) is np.int32


# ================================================================ collections and initializers
def test_global_and_trainable_variable_collections(graph):
    w = tf.Variable(1.0, name="w")
    step = tf.Variable(0, name="global_step", trainable=False)
    b = tf.Variable(2.0, name="b")
    assert tf.global_variables() == [w, step, b]
    assert tf.trainable_variables() == [w, b]
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES) == [w, step, b]
    assert tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES) == [w, b]


def test_variable_custom_collections(graph):
    local = tf.Variable(1.0, name="local", collections=[tf.GraphKeys.LOCAL_VARIABLES], trainable=False)
    assert tf.global_variables() == []
    assert tf.local_variables() == [local]


def test_global_variables_initializer_is_named_init_and_initializes_all(graph):
    w = tf.Variable(np.float32(1.5), name="w")
    step = tf.Variable(0, name="global_step", trainable=False)
    init = tf.global_variables_initializer()
    assert init.name == "init" and init.type == "NoOp"
    assert set(init.control_inputs) == {w.initializer, step.initializer}
    with tf.Session() as sess:
        assert sess.run(init) is None
        assert sess.run([w, step]) == [1.5, 0]


def test_initialize_all_variables_alias(graph):
    w = tf.Variable(np.float32(3.0), name="w")
    init = tf.initialize_all_variables()
    with tf.Session() as sess:
        sess.run(init)
        assert sess.run(w) == 3.0


def test_variables_initializer_initializes_only_the_given_list(graph):
    a = tf.Variable(np.float32(1.0), name="a")
    b = tf.Variable(np.float32(2.0), name="b")
    init_a = tf.variables_initializer([a])
    empty = tf.variables_initializer([])
    with tf.Session() as sess:
        sess.run(init_a)
        sess.run(empty)
        assert sess.run(a) == 1.0
        with pytest.raises(errors.FailedPreconditionError):
            sess.run(b)


def test_initializer_resets_the_value(graph):
    v = tf.Variable(np.float32(1.0))
    inc = tf.assign_add(v, 1.0)
    with tf.Session() as sess:
        sess.run(v.initializer)
        sess.run(inc)
        assert sess.run(v) == 2.0
        sess.run(v.initializer)
        assert sess.run(v) == 1.0


# ================================================================ per-session state
def test_two_sessions_on_one_graph_hold_independent_values(graph):
    v = tf.Variable(np.float32(0.0), name="v")
    inc = tf.assign_add(v, 1.0)
    s1, s2 = tf.Session(), tf.Session()
    s1.run(v.initializer)
    s2.run(v.initializer)
    s1.run(inc)
    s1.run(inc)
    s2.run(inc)
    assert s1.run(v) == 2.0
    assert s2.run(v) == 1.0
    s3 = tf.Session()
    with pytest.raises(errors.FailedPreconditionError):
        s3.run(v)
    for s in (s1, s2, s3):
        s.close()


def test_uninitialized_read_names_the_variable(graph):
    images = tf.placeholder(tf.float32, shape=[None, 4])
    with tf.name_scope("hidden1"):
        weights = tf.Variable(tf.zeros([4, 2]), name="weights")
        out = tf.matmul(images, weights)
    with tf.Session() as sess:
        with pytest.raises(errors.FailedPreconditionError) as info:
            sess.run(out, {images: np.ones((1, 4))})
        with pytest.raises(errors.FailedPreconditionError):
            sess.run(weights)
        with pytest.raises(errors.FailedPreconditionError):
            sess.run(tf.assign_add(weights, np.ones((4, 2), np.float32)))
    assert "Attempting to use uninitialized value hidden1/weights" in str(info.value)
    assert info.value.op is not None and info.value.op.name == "hidden1/weights"


# ================================================================ random ops
def _program(seed_graph=None, seed_op=None):
    """Builds the same small random program in a fresh graph and runs it twice in a fresh session."""
    with tf.Graph().as_default():
        if seed_graph is not None:
            tf.set_random_seed(seed_graph)
        a = tf.random_normal([5], seed=seed_op)
        b = tf.truncated_normal([3, 2], stddev=0.5, seed=seed_op)
        c = tf.random_uniform([4], minval=-1.0, maxval=3.0, seed=seed_op)
        with tf.Session() as sess:
            first = sess.run([a, b, c])
            second = sess.run([a, b, c])
    return first, second


def test_graph_seed_makes_programs_reproducible():
    f1, s1 = _program(seed_graph=1234)
    f2, s2 = _program(seed_graph=1234)
    for x, y in zip(f1 + s1, f2 + s2):
        np.testing.assert_array_equal(x, y)
    # successive runs in one session draw new numbers
    assert not np.array_equal(f1[0], s1[0])
    # a different graph seed gives different numbers
    f3, _ = _program(seed_graph=4321)
    assert not np.array_equal(f1[0], f3[0])


def test_op_seed_alone_is_reproducible():
    f1, s1 = _program(seed_op=7)
    f2, s2 = _program(seed_op=7)
    for x, y in zip(f1 + s1, f2 + s2):
        np.testing.assert_array_equal(x, y)


def test_graph_seed_gives_distinct_streams_to_distinct_ops(graph):
    tf.set_random_seed(99)
    a = tf.random_normal([50])
    b = tf.random_normal([50])
    with tf.Session() as sess:
        av, bv = sess.run([a, b])
    assert not np.array_equal(av, bv)


def test_without_seeds_sessions_differ():
    f1, _ = _program()
    f2, _ = _program()
    assert not np.array_equal(f1[0], f2[0])
    assert not np.array_equal(f1[2], f2[2])


def _truncated_std(stddev, bound=2.0):
    """Std of a normal(0, stddev) truncated to +-bound*stddev (closed form)."""
    pdf = math.exp(-bound * bound / 2) / math.sqrt(2 * math.pi)
    mass = math.erf(bound / math.sqrt(2))
    return stddev * math.sqrt(1 - 2 * bound * pdf / mass)


def test_truncated_normal_bounds_and_moments(graph):
    mean, stddev, n = 1.5, 0.5, 100_000
    t = tf.truncated_normal([n], mean=mean, stddev=stddev, seed=3)
    assert t.shape.as_list() == [n] and t.dtype is tf.float32
    with tf.Session() as sess:
        v = sess.run(t)
    assert v.dtype == np.float32
    assert v.min() >= mean - 2 * stddev - 1e-6 and v.max() <= mean + 2 * stddev + 1e-6
    assert abs(v.mean() - mean) < 0.01
    assert abs(v.std() - _truncated_std(stddev)) < 0.01   # about 0.4398


def test_random_normal_moments(graph):
    t = tf.random_normal([100_000], mean=-2.0, stddev=3.0, seed=5)
    with tf.Session() as sess:
        v = sess.run(t)
    assert abs(v.mean() + 2.0) < 0.05
    assert abs(v.std() - 3.0) < 0.05


def test_random_uniform_range_and_moments(graph):
    t = tf.random_uniform([100_000], minval=-1.0, maxval=3.0, seed=11)
    ti = tf.random_uniform([10_000], minval=0, maxval=10, dtype=tf.int32, seed=12)
    with tf.Session() as sess:
        v, vi = sess.run([t, ti])
    assert v.min() >= -1.0 and v.max() < 3.0
    assert abs(v.mean() - 1.0) < 0.02
    assert abs(v.var() - 16.0 / 12.0) < 0.02
    assert vi.dtype == np.int32 and vi.min() >= 0 and vi.max() <= 9
    assert set(np.unique(vi)) == set(range(10))


def test_random_ops_shape_and_dtype(graph):
    t = tf.random_normal([2, 3], dtype=tf.float64, seed=1)
    assert t.shape.as_list() == [2, 3] and t.dtype is tf.float64
    with tf.Session() as sess:
        v = sess.run(t)
    assert v.shape == (2, 3) and v.dtype == np.float64


def test_variable_initialized_from_seeded_random_is_reproducible():
    def build_and_read():
        with tf.Graph().as_default():
            tf.set_random_seed(42)
            with tf.name_scope("hidden1"):
                w = tf.Variable(tf.truncated_normal([4, 3], stddev=0.1), name="weights")
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                return sess.run(w)
    np.testing.assert_array_equal(build_and_read(), build_and_read())
