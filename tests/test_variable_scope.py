"""variable_scope / get_variable naming and reuse rules, and the initializers' values and statistics."""
import math

import numpy as np
import pytest

import nanotf as tf


def _init_values(fetches):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches)


# -- names
def test_get_variable_names_ops_like_tensorflow(graph):
    with tf.variable_scope("foo") as scope:
        v = tf.get_variable("v", [2, 3])
        c = tf.constant(1.0, name="c")
        with tf.variable_scope("bar"):
            w = tf.get_variable("w", [1])
    assert scope.name == "foo" and scope.original_name_scope == "foo/"
    assert v.name == "foo/v:0" and w.name == "foo/bar/w:0" and c.name == "foo/c:0"
    assert v.initializer.name == "foo/v/Assign" and v.value().op.name == "foo/v/read"
    init_ops = [op.name for op in graph.get_operations() if op.name.startswith("foo/v/Initializer/")]
    assert init_ops and all(n.startswith("foo/v/Initializer/random_uniform") for n in init_ops)
    assert v in tf.trainable_variables() and v in tf.global_variables()
    assert scope.global_variables() == [v, w] and scope.trainable_variables() == [v, w]


def test_reentering_gives_same_variable_scope_but_new_name_scope(graph):
    with tf.variable_scope("foo"):
        v = tf.get_variable("v", [1])
    with tf.variable_scope("foo", reuse=True) as again:
        assert tf.get_variable("v", [1]) is v
        assert tf.constant(0, name="c").name == "foo_1/c:0"
        assert again.name == "foo" and again.original_name_scope == "foo_1/"
    with tf.name_scope("outer"):
        with tf.variable_scope("foo"):   # variables follow the variable scope, not the name scope
            u = tf.get_variable("u", [1])
            assert tf.constant(0, name="c").name == "outer/foo/c:0"
    assert u.name == "foo/u:0"


def test_capture_scope_object_and_reenter_from_elsewhere(graph):
    with tf.variable_scope("model") as model:
        v = tf.get_variable("v", [2])
    with tf.variable_scope("other"):
        with tf.variable_scope(model, reuse=True) as back:
            assert back.name == "model" and back.original_name_scope == "model/"
            assert tf.get_variable("v", [2]) is v
            assert tf.constant(0, name="c").name == "other/model/c:0"
        with tf.variable_scope(model, auxiliary_name_scope=False):
            assert tf.constant(0, name="d").name == "other/d:0"
    assert tf.get_variable_scope().name == ""


def test_default_names_are_made_unique(graph):
    names = []
    for _ in range(3):
        with tf.variable_scope(None, default_name="layer") as s:
            names.append((s.name, tf.get_variable("w", [1]).name))
    assert names == [("layer", "layer/w:0"), ("layer_1", "layer_1/w:0"), ("layer_2", "layer_2/w:0")]
    with pytest.raises(TypeError, match="default_name is None"):
        tf.variable_scope(None)
    with pytest.raises(ValueError, match="reuse=True cannot be used without a name_or_scope"):
        with tf.variable_scope(None, default_name="x", reuse=True):
            pass


# -- reuse
def test_creating_twice_without_reuse_raises(graph):
    with tf.variable_scope("foo"):
        tf.get_variable("v", [1])
        with pytest.raises(ValueError, match=r"Variable foo/v already exists, disallowed\. Did you mean to set "
                                             r"reuse=True or reuse=tf\.AUTO_REUSE in VarScope\?"):
            tf.get_variable("v", [1])


def test_reuse_of_missing_variable_and_shape_or_dtype_mismatch_raise(graph):
    with tf.variable_scope("foo"):
        tf.get_variable("v", [2, 3])
    with tf.variable_scope("foo", reuse=True):
        with pytest.raises(ValueError, match=r"Variable foo/w does not exist, or was not created with "
                                             r"tf\.get_variable\(\)\. Did you mean to set reuse=tf\.AUTO_REUSE"):
            tf.get_variable("w", [1])
        with pytest.raises(ValueError, match=r"specified shape \(3, 2\) and found shape \(2, 3\)"):
            tf.get_variable("v", [3, 2])
        with pytest.raises(ValueError, match="specified dtype int32 and found dtype float32"):
            tf.get_variable("v", [2, 3], dtype=tf.int32)


def test_reuse_variables_inheritance_and_auto_reuse(graph):
    with tf.variable_scope("foo") as scope:
        v = tf.get_variable("v", [1])
        scope.reuse_variables()
        assert tf.get_variable("v", [1]) is v and tf.get_variable_scope().reuse is True
    with tf.variable_scope("foo", reuse=True):
        with tf.variable_scope("inner") as inner:   # reuse is inherited by sub-scopes
            assert inner.reuse is True
        with tf.variable_scope("inner2", reuse=False) as inner2:   # False means "inherit"
            assert inner2.reuse is True

    def layer():
        with tf.variable_scope("shared", reuse=tf.AUTO_REUSE):
            return tf.get_variable("w", [2], initializer=tf.ones_initializer())
    w1, w2 = layer(), layer()
    assert w1 is w2 and len(tf.global_variables()) == 2
    with pytest.raises(ValueError, match="reuse parameter"):
        tf.variable_scope("x", reuse="yes")


def test_variable_stores_are_per_graph():
    with tf.Graph().as_default():
        a = tf.get_variable("v", [1])
    with tf.Graph().as_default():
        b = tf.get_variable("v", [1])   # no clash with the other graph's v
    assert a is not b and a.graph is not b.graph


# -- get_variable options
def test_scope_defaults_initializer_dtype_and_regularizer(graph):
    with tf.variable_scope("s", initializer=tf.constant_initializer(3.0), dtype=tf.float64,
                           regularizer=lambda t: tf.reduce_sum(t) * 0.5):
        v = tf.get_variable("v", [2])
        w = tf.get_variable("w", [2], initializer=tf.zeros_initializer())
    assert v.dtype == tf.float64
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert len(losses) == 2 and losses[0].op.name.startswith("s/v/Regularizer/")
    vv, wv, lv = _init_values([v, w, losses[0]])
    np.testing.assert_array_equal(vv, [3.0, 3.0])
    np.testing.assert_array_equal(wv, [0.0, 0.0])
    assert lv == 3.0


def test_default_initializers_by_dtype_and_value_initializers(graph):
    i = tf.get_variable("i", [3], dtype=tf.int32)
    b = tf.get_variable("b", [2], dtype=tf.bool)
    t = tf.get_variable("t", initializer=tf.constant([1.0, 2.0]))
    lst = tf.get_variable("lst", initializer=[[1, 2]])
    loc = tf.get_local_variable("loc", [1])
    with pytest.raises(ValueError, match="do not specify shape"):
        tf.get_variable("bad", [2], initializer=tf.constant([1.0, 2.0]))
    with pytest.raises(ValueError, match="must be fully defined"):
        tf.get_variable("partial", [None, 2])
    with pytest.raises(ValueError, match="don't match"):
        tf.get_variable("mismatch", dtype=tf.float64, initializer=np.float32(1.0) * np.ones(2, np.float32))
    assert t.shape.as_list() == [2] and lst.dtype == tf.int32
    assert loc in tf.local_variables() and loc not in tf.global_variables() and not loc.trainable
    with tf.Session() as sess:
        sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
        vals = sess.run([i, b, t, lst, loc])
    np.testing.assert_array_equal(vals[0], [0, 0, 0])
    np.testing.assert_array_equal(vals[1], [False, False])
    np.testing.assert_array_equal(vals[2], [1.0, 2.0])
    np.testing.assert_array_equal(vals[3], [[1, 2]])


def test_custom_getter_wraps_creation(graph):
    seen = []

    def getter(next_getter, name, *args, **kwargs):
        seen.append(name)
        return next_getter(name + "_x", *args, **kwargs)
    with tf.variable_scope("g", custom_getter=getter):
        v = tf.get_variable("v", [1])
    assert seen == ["g/v"] and v.name == "g/v_x:0"


# -- initializers
def test_glorot_uniform_bounds_and_variance(graph):
    fan_in, fan_out = 300, 200
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    tf.set_random_seed(1)
    v = tf.get_variable("w", [fan_in, fan_out])   # the default initializer
    u = tf.get_variable("u", [fan_in, fan_out], initializer=tf.glorot_uniform_initializer(seed=3))
    vv, uv = _init_values([v, u])
    for a in (vv, uv):
        assert a.dtype == np.float32 and np.abs(a).max() <= limit
        assert np.abs(a).max() > 0.99 * limit                         # the whole interval is used
        assert abs(a.var() - limit ** 2 / 3) < 0.03 * limit ** 2 / 3  # uniform variance: limit^2 / 3
        assert abs(a.mean()) < 0.01 * limit


def test_truncated_and_random_normal_statistics(graph):
    tf.set_random_seed(2)
    t = tf.get_variable("t", [200, 100], initializer=tf.truncated_normal_initializer(mean=1.0, stddev=0.5))
    n = tf.get_variable("n", [200, 100], initializer=tf.random_normal_initializer(stddev=2.0))
    gn = tf.get_variable("gn", [400, 100], initializer=tf.glorot_normal_initializer())
    tv, nv, gv = _init_values([t, n, gn])
    assert np.all(np.abs(tv - 1.0) <= 2 * 0.5)     # nothing beyond two standard deviations
    assert abs(tv.mean() - 1.0) < 0.01 and abs(tv.std() - 0.5 * 0.87962566) < 0.01
    assert abs(nv.mean()) < 0.05 and abs(nv.std() - 2.0) < 0.05 and np.abs(nv).max() > 4.0
    # glorot_normal: variance 2/(fan_in+fan_out) after truncation
    assert abs(gv.std() - math.sqrt(2.0 / 500)) < 0.03 * math.sqrt(2.0 / 500)


def test_variance_scaling_modes_and_uniform_unit_scaling():
    with tf.Graph().as_default():
        tf.set_random_seed(3)
        fan_in = tf.get_variable("a", [3, 3, 20, 50], initializer=tf.variance_scaling_initializer(
            scale=2.0, mode="fan_in", distribution="untruncated_normal"))
        fan_out = tf.get_variable("b", [100, 400], initializer=tf.variance_scaling_initializer(
            mode="fan_out", distribution="uniform"))
        uus = tf.get_variable("c", [50, 40], initializer=tf.uniform_unit_scaling_initializer(factor=2.0))
        av, bv, cv = _init_values([fan_in, fan_out, uus])
    assert abs(av.std() - math.sqrt(2.0 / (3 * 3 * 20))) < 0.03 * math.sqrt(2.0 / 180)
    assert np.abs(bv).max() <= math.sqrt(3.0 / 400) and abs(bv.var() - 1.0 / 400) < 0.05 / 400
    assert np.abs(cv).max() <= 2.0 * math.sqrt(3.0 / 50)
    with pytest.raises(ValueError, match="mode"):
        tf.variance_scaling_initializer(mode="fan_sideways")
    with pytest.raises(ValueError, match="scale"):
        tf.variance_scaling_initializer(scale=0.0)
    with pytest.raises(ValueError, match="floating"):
        tf.truncated_normal_initializer(dtype=tf.int32)


def test_constant_zeros_ones_and_uniform_initializers(graph):
    z = tf.zeros_initializer()([2, 2])
    o = tf.ones_initializer(dtype=tf.int32)([3])
    c = tf.constant_initializer([1, 2, 3, 4])([2, 2])
    pad = tf.constant_initializer([1.0, 2.0])([4])   # TF repeats the last value
    u = tf.random_uniform_initializer(-3.0, -1.0, seed=5)([1000])
    assert z.op.name == "zeros" and o.dtype == tf.int32
    with pytest.raises(TypeError, match="Invalid type"):
        tf.constant_initializer({"a": 1})
    with tf.Session() as sess:
        zv, ov, cv, pv, uv = sess.run([z, o, c, pad, u])
    np.testing.assert_array_equal(zv, np.zeros((2, 2)))
    np.testing.assert_array_equal(ov, [1, 1, 1])
    np.testing.assert_array_equal(cv, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(pv, [1.0, 2.0, 2.0, 2.0])
    assert uv.min() >= -3.0 and uv.max() < -1.0 and abs(uv.mean() + 2.0) < 0.1


def test_seeded_initializers_repeat_across_sessions(graph):
    v = tf.get_variable("v", [5], initializer=tf.truncated_normal_initializer(seed=11))
    first = _init_values(v)
    second = _init_values(v)
    np.testing.assert_array_equal(first, second)


def test_get_variable_ignores_enclosing_control_dependencies(graph):
    gate = tf.no_op(name="gate")
    with tf.control_dependencies([gate]):
        v = tf.get_variable("v", [1])
        c = tf.constant(1.0)
    assert v.initializer.control_inputs == [] and c.op.control_inputs == [gate]
