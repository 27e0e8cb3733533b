"""Graph structure: default graphs, lookups, finalize, collections, op naming and name scopes,
Tensor/Operation attributes and operators, control dependencies, convert_to_tensor."""
import numpy as np
import pytest

import nanotf as tf


# tests that use the global default graph start from an empty one
pytestmark = pytest.mark.usefixtures("fresh_graph")   # tests/conftest.py


def _const(value, name=None):
    return tf.constant(np.asarray(value, dtype=np.float32), name=name or "Const")


# ================================================================ default graph
def test_as_default_nests_and_restores():
    outer_default = tf.get_default_graph()
    g1, g2 = tf.Graph(), tf.Graph()
    with g1.as_default() as entered:
        assert entered is g1
        assert tf.get_default_graph() is g1
        with g2.as_default():
            assert tf.get_default_graph() is g2
            c = tf.constant(1.0)
        assert tf.get_default_graph() is g1
    assert tf.get_default_graph() is outer_default
    assert c.graph is g2 and c.op.graph is g2
    assert g1.get_operations() == []


def test_ops_without_a_graph_context_go_to_the_default_graph():
    c = tf.constant(1.0, name="c")
    assert c.graph is tf.get_default_graph()
    assert tf.get_default_graph().get_operation_by_name("c") is c.op


def test_reset_default_graph_gives_a_fresh_graph():
    old = tf.get_default_graph()
    tf.constant(1.0, name="c")
    tf.reset_default_graph()
    new = tf.get_default_graph()
    assert new is not old
    assert new.get_operations() == []
    assert tf.constant(2.0, name="c").op.name == "c"  # the name is free again


def test_reset_default_graph_inside_a_nested_graph_raises(graph):
    with pytest.raises(AssertionError):
        tf.reset_default_graph()


# ================================================================ lookups
def test_get_operation_and_tensor_by_name(graph):
    x = tf.placeholder(tf.float32, name="x")
    y = tf.identity(x, name="y")
    assert graph.get_operation_by_name("y") is y.op
    assert graph.get_tensor_by_name("y:0") is y
    assert graph.get_tensor_by_name("x:0") is x


def test_lookup_errors_missing_names_and_op_tensor_confusion(graph):
    tf.placeholder(tf.float32, name="x")
    with pytest.raises(KeyError):
        graph.get_operation_by_name("missing")
    with pytest.raises(KeyError):
        graph.get_tensor_by_name("missing:0")
    with pytest.raises(KeyError):
        graph.get_tensor_by_name("x:1")       # op exists but has one output
    with pytest.raises(ValueError):
        graph.get_tensor_by_name("x")         # an op name, not a tensor name
    with pytest.raises(ValueError):
        graph.get_operation_by_name("x:0")    # a tensor name, not an op name
    with pytest.raises(TypeError):
        graph.get_operation_by_name(3)


def test_get_operations_returns_creation_order(graph):
    a = _const(1.0, "a")
    b = _const(2.0, "b")
    c = tf.add(a, b, name="c")
    d = tf.negative(c, name="d")
    assert [op.name for op in graph.get_operations()] == ["a", "b", "c", "d"]
    assert graph.get_operations()[-1] is d.op
    # a copy: mutating it does not affect the graph
    graph.get_operations().clear()
    assert len(graph.get_operations()) == 4


def test_as_graph_element_resolves_tensors_ops_names_and_variables():
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, shape=[2], name="x")
        v = tf.Variable(tf.zeros([2]), name="v")
        assert g.as_graph_element(x) is x
        assert g.as_graph_element(x.op) is x.op
        assert g.as_graph_element("x:0") is x
        assert g.as_graph_element("x") is x.op
        el = g.as_graph_element(v)
        assert el.op is v.op and el.op.type == "VariableV2"
        with pytest.raises(ValueError):
            g.as_graph_element("x", allow_operation=False)
        with pytest.raises(ValueError):
            g.as_graph_element("x:0", allow_tensor=False)
        with pytest.raises(TypeError):
            g.as_graph_element(1.5)
    with tf.Graph().as_default() as other:
        with pytest.raises(ValueError):
            other.as_graph_element(x)


def test_finalize_forbids_new_ops():
    g = tf.Graph()
    with g.as_default():
        tf.constant(1.0)
    g.finalize()
    assert g.finalized
    with g.as_default():
        with pytest.raises(RuntimeError):
            tf.constant(2.0)
    assert len(g.get_operations()) == 1


# ================================================================ collections
def test_add_to_collection_and_get_collection(graph):
    tf.add_to_collection("my", 1)
    tf.add_to_collection("my", 2)
    graph.add_to_collection("my", 3)
    assert tf.get_collection("my") == [1, 2, 3]
    assert graph.get_collection("never_used") == []
    # get_collection returns a copy
    tf.get_collection("my").append(99)
    assert tf.get_collection("my") == [1, 2, 3]


def test_get_collection_ref_is_the_live_list(graph):
    ref = tf.get_collection_ref("live")
    assert ref == []
    ref.append("a")
    tf.add_to_collection("live", "b")
    assert tf.get_collection("live") == ["a", "b"]
    assert ref == ["a", "b"]


def test_get_collection_scope_filters_by_name_regex(graph):
    with tf.name_scope("layer1"):
        w1 = tf.Variable(tf.zeros([2]), name="w")
    with tf.name_scope("layer2"):
        w2 = tf.Variable(tf.zeros([2]), name="w")
    tf.add_to_collection(tf.GraphKeys.GLOBAL_VARIABLES, "no name attribute")
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="layer1") == [w1]
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="layer.") == [w1, w2]
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="layer2/w") == [w2]
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="nothing") == []
    # items without a name are skipped when a scope is given, kept without one
    assert len(tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)) == 3


def test_graphkeys_values_match_tensorflow():
    assert tf.GraphKeys.GLOBAL_VARIABLES == "variables"
    assert tf.GraphKeys.VARIABLES == tf.GraphKeys.GLOBAL_VARIABLES
    assert tf.GraphKeys.TRAINABLE_VARIABLES == "trainable_variables"
    assert tf.GraphKeys.SUMMARIES == "summaries"
    assert tf.GraphKeys.LOSSES == "losses"
    assert tf.GraphKeys.GLOBAL_STEP == "global_step"
    assert tf.GraphKeys.UPDATE_OPS == "update_ops"


def test_collections_are_per_graph():
    g1, g2 = tf.Graph(), tf.Graph()
    with g1.as_default():
        tf.add_to_collection("k", 1)
    with g2.as_default():
        assert tf.get_collection("k") == []


# ================================================================ op names and name scopes
def test_duplicate_op_names_get_numeric_suffixes(graph):
    names = [_const(0.0, "foo").op.name for _ in range(3)]
    assert names == ["foo", "foo_1", "foo_2"]
    default_names = [_const(0.0).op.name for _ in range(2)]
    assert default_names == ["Const", "Const_1"]


def test_explicit_name_colliding_with_an_auto_suffix_is_uniquified_again(graph):
    assert _const(0.0, "foo").op.name == "foo"
    assert _const(0.0, "foo").op.name == "foo_1"
    assert _const(0.0, "foo_1").op.name == "foo_1_1"
    assert _const(0.0, "foo").op.name == "foo_2"


def test_name_uniquing_is_case_insensitive(graph):
    assert _const(0.0, "Foo").op.name == "Foo"
    assert _const(0.0, "foo").op.name == "foo_1"


def test_nested_name_scopes_prefix_op_names(graph):
    with tf.name_scope("outer") as outer:
        assert outer == "outer/"
        with tf.name_scope("inner") as inner:
            assert inner == "outer/inner/"
            c = _const(1.0, "c")
        d = _const(1.0, "d")
    assert c.op.name == "outer/inner/c"
    assert d.op.name == "outer/d"
    assert _const(1.0, "e").op.name == "e"


def test_reentering_a_scope_name_gives_suffixed_scope(graph):
    with tf.name_scope("hidden1") as s1:
        a = _const(1.0, "a")
    with tf.name_scope("hidden1") as s2:
        b = _const(1.0, "a")
    with tf.name_scope("hidden1") as s3:
        pass
    assert (s1, s2, s3) == ("hidden1/", "hidden1_1/", "hidden1_2/")
    assert a.op.name == "hidden1/a"
    assert b.op.name == "hidden1_1/a"


def test_scope_name_with_trailing_slash_reenters_exactly(graph):
    with tf.name_scope("layer") as scope:
        a = _const(1.0, "a")
    with tf.name_scope(scope):          # "layer/" re-enters, no suffix
        b = _const(1.0, "b")
        a2 = _const(1.0, "a")
    assert a.op.name == "layer/a"
    assert b.op.name == "layer/b"
    assert a2.op.name == "layer/a_1"


def test_op_named_with_the_scope_takes_the_scope_name_exactly(graph):
    x = _const([1.0, 2.0], "x_in")
    with tf.name_scope("x") as scope:
        inner = tf.negative(x)
        out = tf.identity(inner, name=scope)
    assert out.op.name == "x"
    assert out.name == "x:0"
    assert inner.op.name == "x/Neg"


def test_name_scope_none_or_empty_resets_to_root(graph):
    with tf.name_scope("a"):
        with tf.name_scope(None):
            c = _const(1.0, "c")
        with tf.name_scope(""):
            d = _const(1.0, "d")
    assert c.op.name == "c" and d.op.name == "d"


def test_name_scope_default_name_and_values_select_graph():
    g = tf.Graph()
    with g.as_default():
        x = _const(1.0, "x")
    with tf.name_scope(None, "Default", [x]) as scope:
        assert tf.get_default_graph() is g
        y = tf.identity(x)
    assert scope == "Default/"
    assert y.op.name == "Default/Identity" and y.graph is g


def test_inference_graph_names_match_the_mnist_tutorial(graph):
    images = tf.placeholder(tf.float32, shape=(None, 784), name="images")
    with tf.name_scope("hidden1"):
        weights = tf.Variable(tf.truncated_normal([784, 128], stddev=0.05), name="weights")
        biases = tf.Variable(tf.zeros([128]), name="biases")
        hidden1 = tf.matmul(images, weights) + biases
    loss = tf.reduce_mean(hidden1, name="xentropy_mean")
    names = {op.name for op in graph.get_operations()}
    for expected in ("hidden1/weights", "hidden1/weights/Assign", "hidden1/weights/read",
                     "hidden1/biases", "hidden1/biases/Assign", "hidden1/biases/read",
                     "hidden1/MatMul", "hidden1/add"):
        assert expected in names, expected
    assert weights.op.name == "hidden1/weights"
    assert weights.name == "hidden1/weights:0"
    assert weights.initializer.name == "hidden1/weights/Assign"
    assert weights.value().name == "hidden1/weights/read:0"
    assert hidden1.name == "hidden1/add:0"
    assert hidden1.op.type == "Add"
    assert hidden1.op.inputs[0].op.name == "hidden1/MatMul"
    assert hidden1.op.inputs[1] is biases.value()
    assert loss.name == "xentropy_mean:0"
    assert graph.get_tensor_by_name("xentropy_mean:0") is loss


def test_invalid_op_name_raises_valueerror(graph):
    with pytest.raises(ValueError):
        _const(1.0, "bad name!")
    with pytest.raises(ValueError):
        with tf.name_scope("bad scope!"):
            pass


# ================================================================ Tensor
def test_tensor_basic_attributes(graph):
    x = tf.placeholder(tf.float32, shape=[None, 3], name="x")
    assert x.name == "x:0"
    assert x.op.name == "x" and x.op.type == "Placeholder"
    assert x.dtype is tf.float32
    assert x.graph is graph
    assert x.value_index == 0
    assert x.shape.as_list() == [None, 3]
    assert x.get_shape().as_list() == [None, 3]


def test_set_shape_merges_and_rejects_incompatible(graph):
    x = tf.placeholder(tf.float32, shape=[None, 3])
    x.set_shape([5, None])
    assert x.shape.as_list() == [5, 3]
    with pytest.raises(ValueError):
        x.set_shape([4, 3])
    with pytest.raises(ValueError):
        x.set_shape([5, 3, 1])
    assert x.shape.as_list() == [5, 3]
    u = tf.placeholder(tf.float32)  # unknown rank
    assert u.shape.ndims is None
    u.set_shape([2, None])
    assert u.shape.as_list() == [2, None]


def test_eval_uses_the_default_session(graph):
    x = tf.placeholder(tf.float32, shape=[2])
    y = x * 3.0
    with pytest.raises(ValueError):
        y.eval(feed_dict={x: [1.0, 2.0]})  # no default session
    with tf.Session():
        np.testing.assert_array_equal(y.eval(feed_dict={x: [1.0, 2.0]}), [3.0, 6.0])
    sess = tf.Session()
    np.testing.assert_array_equal(y.eval(feed_dict={x: [2.0, 2.0]}, session=sess), [6.0, 6.0])
    sess.close()


def test_eval_with_a_session_of_another_graph_raises():
    g1, g2 = tf.Graph(), tf.Graph()
    with g1.as_default():
        c = _const(1.0)
    with tf.Session(graph=g2):
        with pytest.raises(ValueError):
            c.eval()


def test_arithmetic_operators_with_python_scalars_on_both_sides(graph):
    xv = np.array([1.0, 2.0, 4.0], dtype=np.float32)
    x = tf.constant(xv)
    exprs = {
        "x+2": (x + 2, xv + 2), "2+x": (2 + x, 2 + xv),
        "x-2": (x - 2, xv - 2), "2-x": (2 - x, 2 - xv),
        "x*3": (x * 3, xv * 3), "3*x": (3 * x, 3 * xv),
        "x/2": (x / 2, xv / 2), "2/x": (2 / x, 2 / xv),
        "-x": (-x, -xv), "x*x": (x * x, xv * xv),
        "x+1.5": (x + 1.5, xv + 1.5), "1.5-x": (1.5 - x, 1.5 - xv),
    }
    with tf.Session() as sess:
        for label, (t, expected) in exprs.items():
            assert t.dtype is tf.float32, label
            got = sess.run(t)
            assert got.dtype == np.float32, label
            np.testing.assert_allclose(got, expected.astype(np.float32), rtol=1e-6, err_msg=label)


def test_operator_op_types_and_default_names(graph):
    x = _const([1.0], "x")
    assert (x + 1).op.type == "Add" and (x + 1).op.name.startswith("add")
    assert (1 - x).op.type == "Sub"
    assert (x * 2).op.type == "Mul"
    assert (x / 2).op.type == "RealDiv"
    assert (-x).op.type == "Neg"


def test_matmul_operator(graph):
    av = np.arange(6, dtype=np.float32).reshape(2, 3)
    bv = np.arange(12, dtype=np.float32).reshape(3, 4)
    c = tf.constant(av) @ tf.constant(bv)
    assert c.op.type == "MatMul"
    assert c.shape.as_list() == [2, 4]
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(c), av @ bv)


def test_tensor_hash_and_eq_are_by_identity(graph):
    a = _const([1.0, 2.0])
    b = _const([1.0, 2.0])
    assert (a == a) is True
    assert (a == b) is False          # not elementwise
    assert (a != b) is True
    assert (a == 1.0) is False
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    assert len({a, b, a}) == 2


def test_tensor_bool_and_iteration_raise_typeerror(graph):
    t = _const([1.0, 2.0])
    with pytest.raises(TypeError):
        bool(t)
    with pytest.raises(TypeError):
        if t:
            pass
    with pytest.raises(TypeError):
        iter(t)
    with pytest.raises(TypeError):
        for _ in t:
            pass


# ================================================================ Operation
def test_operation_attributes(graph):
    a = _const([1.0], "a")
    b = _const([2.0], "b")
    with tf.control_dependencies([a.op]):
        c = tf.add(a, b, name="c")
    op = c.op
    assert op.name == "c"
    assert op.type == "Add"
    assert op.graph is graph
    assert op.inputs == [a, b]
    assert op.outputs == [c]
    assert all(isinstance(t, tf.Tensor) for t in op.inputs)
    assert a.op.inputs == []
    assert b.op.control_inputs == []


def test_operation_run_executes_in_default_session(graph):
    v = tf.Variable(np.float32(1.0), name="v")
    inc = tf.assign_add(v, 2.0)
    with tf.Session() as sess:
        v.initializer.run()
        assert inc.op.run() is None
        inc.op.run()
        assert sess.run(v) == np.float32(5.0)


# ================================================================ control dependencies
def test_control_dependencies_attach_to_ops_created_inside(graph):
    a = _const(1.0, "a")
    b = _const(2.0, "b")
    outside = _const(0.0, "outside")
    with tf.control_dependencies([a, b.op]):  # Tensors are converted to their ops
        c = _const(3.0, "c")
        d = tf.identity(outside, name="d")
    e = _const(4.0, "e")
    assert set(c.op.control_inputs) == {a.op, b.op}
    assert set(d.op.control_inputs) == {a.op, b.op}
    assert e.op.control_inputs == []


def test_control_dependencies_none_clears_and_nesting_accumulates(graph):
    a = _const(1.0, "a")
    b = _const(2.0, "b")
    with tf.control_dependencies([a]):
        with tf.control_dependencies([b]):
            both = _const(0.0, "both")
            with tf.control_dependencies(None):
                cleared = _const(0.0, "cleared")
                with tf.control_dependencies([b]):
                    only_b = _const(0.0, "only_b")
        only_a = _const(0.0, "only_a")
    assert set(both.op.control_inputs) == {a.op, b.op}
    assert cleared.op.control_inputs == []
    assert only_b.op.control_inputs == [b.op]
    assert only_a.op.control_inputs == [a.op]


def test_control_dependency_on_a_data_input_is_not_duplicated(graph):
    # TF (Graph._control_dependencies_for_inputs) skips a control input when the new op already
    # consumes a data output of that op.
    a = _const(1.0, "a")
    other = _const(2.0, "other")
    with tf.control_dependencies([a, other]):
        b = tf.identity(a, name="b")
    assert b.op.control_inputs == [other.op]


def test_control_dependencies_skipped_for_ops_dominated_by_an_input_from_the_same_block(graph):
    # TF: an op whose data input was itself created inside the same control_dependencies block
    # already (transitively) waits for the controls, so it gets no explicit control inputs.
    a = _const(1.0, "a")
    with tf.control_dependencies([a]):
        c = _const(3.0, "c")
        d = tf.identity(c, name="d")
    assert c.op.control_inputs == [a.op]
    assert d.op.control_inputs == []


def test_control_dependencies_order_execution(graph):
    v = tf.Variable(np.float32(0.0), name="v")
    inc = tf.assign_add(v, 1.0)
    with tf.control_dependencies([inc]):
        read_after = tf.identity(v.value(), name="read_after")
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(read_after) == np.float32(1.0)
        assert sess.run(read_after) == np.float32(2.0)


def test_group_tuple_and_no_op(graph):
    v = tf.Variable(np.float32(0.0), name="v")
    w = tf.Variable(np.float32(0.0), name="w")
    g = tf.group(tf.assign_add(v, 1.0), tf.assign_add(w, 2.0), name="both")
    assert g.type == "NoOp" and g.name == "both" and len(g.control_inputs) == 2
    n = tf.no_op(name="nothing")
    assert n.type == "NoOp" and n.control_inputs == []
    x = _const(3.0, "x")
    y = _const(4.0, "y")
    tx, ty = tf.tuple([x, y])
    with tf.Session() as sess:
        sess.run([v.initializer, w.initializer])
        assert sess.run(g) is None
        assert sess.run(n) is None
        assert sess.run([v, w]) == [1.0, 2.0]
        assert sess.run([tx, ty]) == [3.0, 4.0]


# ================================================================ convert_to_tensor
def test_convert_to_tensor_of_python_lists_and_scalars(graph):
    f = tf.convert_to_tensor([[1.0, 2.0], [3.0, 4.0]])
    i = tf.convert_to_tensor([1, 2, 3])
    s = tf.convert_to_tensor(2.5)
    assert f.dtype is tf.float32 and f.shape.as_list() == [2, 2]
    assert i.dtype is tf.int32 and i.shape.as_list() == [3]
    assert s.dtype is tf.float32 and s.shape.as_list() == []
    assert f.op.type == "Const"
    d = tf.convert_to_tensor([1, 2], dtype=tf.float64)
    assert d.dtype is tf.float64
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(f), [[1, 2], [3, 4]])
        np.testing.assert_array_equal(sess.run(d), np.array([1, 2], np.float64))
        assert sess.run(d).dtype == np.float64


def test_convert_to_tensor_of_numpy_arrays_keeps_dtype(graph):
    arr = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = tf.convert_to_tensor(arr)
    assert t.dtype is tf.float64 and t.shape.as_list() == [2, 3]
    arr[0, 0] = 100.0  # the constant holds a copy
    with tf.Session() as sess:
        out = sess.run(t)
    assert out[0, 0] == 0.0 and out.dtype == np.float64
    assert tf.convert_to_tensor(np.int64(5)).dtype is tf.int64


def test_convert_to_tensor_passes_tensors_and_converts_variables(graph):
    x = _const([1.0])
    assert tf.convert_to_tensor(x) is x
    assert tf.convert_to_tensor(x, dtype=tf.float32) is x
    v = tf.Variable([1.0, 2.0], name="v")
    vt = tf.convert_to_tensor(v)
    assert isinstance(vt, tf.Tensor)
    assert vt.dtype is tf.float32
    assert vt is v.value() and vt.name == "v/read:0"


def test_convert_to_tensor_dtype_mismatch_raises_valueerror(graph):
    x = _const([1.0])
    with pytest.raises(ValueError):
        tf.convert_to_tensor(x, dtype=tf.int32)
    v = tf.Variable([1.0], name="v")
    with pytest.raises(ValueError):
        tf.convert_to_tensor(v, dtype=tf.int32)
    with pytest.raises(TypeError):
        tf.convert_to_tensor(x.op)   # an Operation is not a value
