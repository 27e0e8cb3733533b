"""Semantics of math ops that the generic registry checks do not cover: integer division, argmax,
comparisons, where/select, reduction aliases, operators with Python scalars, build-time errors."""
import numpy as np
import pytest

import nanotf as tf


def run(fetches, feed_dict=None):
    g = fetches[0].graph if isinstance(fetches, (list, tuple)) else fetches.graph
    with tf.Session(graph=g) as sess:
        return sess.run(fetches, feed_dict)


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


# -- integer division
def test_floordiv_and_mod_round_toward_negative_infinity():
    x = tf.constant([7, -7, 7, -7])
    y = tf.constant([2, 2, -2, -2])
    q, r, d, q2 = run([tf.floordiv(x, y), tf.mod(x, y), tf.div(x, y), x // y])
    np.testing.assert_array_equal(q, [3, -4, -4, 3])
    np.testing.assert_array_equal(r, [1, 1, -1, -1])      # sign of the divisor, like Python's %
    np.testing.assert_array_equal(d, [3, -4, -4, 3])      # TF1 tf.div floors for integers
    np.testing.assert_array_equal(q2, [3, -4, -4, 3])
    assert q.dtype == np.int32 and r.dtype == np.int32


def test_truediv_of_int32_gives_float64_and_div_of_floats_is_true_division():
    x = tf.constant([7, -7])
    t = x / 2
    assert t.dtype == tf.float64
    np.testing.assert_array_equal(run(t), [3.5, -3.5])
    np.testing.assert_allclose(run(tf.div(tf.constant([7.0]), 2.0)), [3.5])


def test_float_floormod_follows_the_divisor_sign():
    x = tf.constant([5.5, -5.5], dtype=tf.float64)
    np.testing.assert_allclose(run(x % 2.0), [1.5, 0.5])
    np.testing.assert_allclose(run(x // 2.0), [2.0, -3.0])


def test_integer_division_by_zero_is_an_op_error():
    q = tf.floordiv(tf.constant([1, 2]), tf.constant([1, 0]), name="bad_div")
    with pytest.raises(tf.errors.InvalidArgumentError, match="bad_div"):
        run(q)


# -- argmax
def test_argmax_defaults_to_axis_0_and_int64():
    v = np.array([[1.0, 9.0, 3.0], [4.0, 2.0, 6.0]], dtype=np.float32)
    a0 = tf.argmax(v)
    assert a0.dtype == tf.int64 and a0.shape.as_list() == [3] and a0.op.type == "ArgMax" and a0.op.name == "ArgMax"
    a1 = tf.argmax(v, 1, output_type=tf.int32)
    a_dim = tf.argmax(v, dimension=1)
    a_min = tf.argmin(v, axis=-1)
    old = tf.arg_max(v, 1)
    r0, r1, rd, rmin, rold = run([a0, a1, a_dim, a_min, old])
    np.testing.assert_array_equal(r0, [1, 0, 1])
    np.testing.assert_array_equal(r1, [1, 2])
    assert r1.dtype == np.int32 and r0.dtype == np.int64
    np.testing.assert_array_equal(rd, [1, 2])
    np.testing.assert_array_equal(rmin, [0, 1])
    np.testing.assert_array_equal(rold, [1, 2])


def test_argmax_argument_errors():
    with pytest.raises(ValueError, match="both"):
        tf.argmax([1.0, 2.0], axis=0, dimension=0)
    with pytest.raises(ValueError, match="ArgMax"):
        tf.argmax(tf.constant([[1.0, 2.0]]), 2)


# -- comparisons and logic
def test_comparisons_broadcast_and_return_bool():
    xv = np.array([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]], dtype=np.float32)
    yv = np.array([3.0, 2.0, 6.0], dtype=np.float32)
    x, y = tf.constant(xv), tf.constant(yv)
    outs = [tf.less(x, y), tf.less_equal(x, y), tf.greater(x, y), tf.greater_equal(x, y), tf.equal(x, y),
            tf.not_equal(x, y)]
    for t in outs:
        assert t.dtype == tf.bool and t.shape.as_list() == [2, 3]
    got = run(outs)
    want = [xv < yv, xv <= yv, xv > yv, xv >= yv, xv == yv, xv != yv]
    for g_, w in zip(got, want):
        np.testing.assert_array_equal(g_, w)


def test_comparison_operators_with_scalars_on_either_side():
    xv = np.array([1, 2, 3], dtype=np.int32)
    x = tf.constant(xv)
    lt, le, gt, ge, rlt = x < 2, x <= 2, x > 2, x >= 2, 2 < x     # 2 < x is x.__gt__(2)
    assert lt.op.type == "Less" and lt.op.name == "Less" and rlt.op.type == "Greater"
    got = run([lt, le, gt, ge, rlt])
    for g_, w in zip(got, [xv < 2, xv <= 2, xv > 2, xv >= 2, 2 < xv]):
        np.testing.assert_array_equal(g_, w)


def test_tensor_equality_stays_identity():
    x = tf.constant([1.0])
    assert (x == x) is True and (x == 1.0) is False and (x != x) is False
    assert {x: 1}[x] == 1


def test_logical_ops_and_operators():
    av = np.array([True, True, False, False])
    bv = np.array([True, False, True, False])
    a, b = tf.constant(av), tf.constant(bv)
    got = run([tf.logical_and(a, b), tf.logical_or(a, b), tf.logical_not(a), tf.logical_xor(a, b),
               a & b, a | b, a ^ b, ~a, a & True])
    want = [av & bv, av | bv, ~av, av ^ bv, av & bv, av | bv, av ^ bv, ~av, av]
    for g_, w in zip(got, want):
        np.testing.assert_array_equal(g_, w)
    with tf.Graph().as_default():
        a, b = tf.constant(av), tf.constant(bv)
        assert (a & b).op.name == "and" and (a ^ b).op.name == "xor" and (a ^ b).op.type == "LogicalAnd"


# -- where / select
def test_where_with_x_and_y_selects_elementwise_and_routes_gradients():
    cv = np.array([[True, False, True], [False, False, True]])
    xv = np.arange(6.0).reshape(2, 3)
    yv = -np.arange(6.0).reshape(2, 3)
    x, y = tf.constant(xv), tf.constant(yv)
    out = tf.where(cv, x, y)
    assert out.op.type == "Select"
    gx, gy = tf.gradients(out, [x, y])
    o, gxv, gyv = run([out, gx, gy])
    np.testing.assert_array_equal(o, np.where(cv, xv, yv))
    np.testing.assert_array_equal(gxv, cv.astype(float))
    np.testing.assert_array_equal(gyv, (~cv).astype(float))


def test_where_vector_condition_picks_rows():
    xv = np.ones((3, 2), np.float32)
    out = tf.where([True, False, True], xv, np.zeros((3, 2), np.float32))
    assert out.shape.as_list() == [3, 2]
    np.testing.assert_array_equal(run(out), [[1, 1], [0, 0], [1, 1]])
    with pytest.raises(ValueError, match="incompatible"):
        tf.where([True, False], xv, xv)


def test_where_alone_returns_int64_coordinates():
    c = tf.constant([[True, False], [False, True]])
    w = tf.where(c)
    assert w.dtype == tf.int64 and w.op.type == "Where" and w.shape.as_list() == [None, 2]
    np.testing.assert_array_equal(run(w), [[0, 0], [1, 1]])
    with pytest.raises(ValueError, match="both"):
        tf.where(c, x=c)
    s = tf.select(tf.constant([True, False]), [1.0, 2.0], [3.0, 4.0])    # seed-era alias
    np.testing.assert_array_equal(run(s), [1.0, 4.0])


# -- reductions
def test_reductions_accept_keep_dims_and_reduction_indices_aliases():
    v = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])
    x = tf.constant(v)
    a = tf.reduce_max(x, reduction_indices=[1], keep_dims=True)
    b = tf.reduce_min(x, axis=0, keepdims=True)
    c = tf.reduce_prod(x, 1)
    d = tf.reduce_max(x)
    assert a.shape.as_list() == [2, 1] and b.shape.as_list() == [1, 3] and c.shape.as_list() == [2]
    av, bv, cv, dv = run([a, b, c, d])
    np.testing.assert_array_equal(av, [[3.0], [5.0]])
    np.testing.assert_array_equal(bv, [[1.0, -2.0, -6.0]])
    np.testing.assert_array_equal(cv, [-6.0, -120.0])
    assert dv == 5.0


def test_max_gradient_splits_ties_evenly():
    x = tf.constant([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])
    (g,) = tf.gradients(tf.reduce_max(x, 1), [x])
    np.testing.assert_allclose(run(g), [[0, 0.5, 0.5], [1, 0, 0]])


def test_prod_gradient_with_zeros_is_the_product_of_the_others():
    v = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 3.0]])
    x = tf.constant(v)
    (g,) = tf.gradients(tf.reduce_prod(x, 1), [x])
    np.testing.assert_allclose(run(g), [[6.0, 0, 0], [0, 0, 0], [6.0, 3.0, 2.0]])


def test_integer_reductions_keep_their_dtype():
    x = tf.constant([[1, 2], [3, 4]])
    outs = [tf.reduce_sum(x, 0), tf.reduce_prod(x), tf.reduce_max(x, 1), tf.cumsum(x, 1)]
    for t, v in zip(outs, run(outs)):
        assert t.dtype == tf.int32 and np.asarray(v).dtype == np.int32


def test_reduce_all_any_and_count_nonzero():
    bv = np.array([[True, False], [True, True]])
    b = tf.constant(bv)
    r = run([tf.reduce_all(b), tf.reduce_all(b, 1), tf.reduce_any(b, 0, keep_dims=True),
             tf.count_nonzero(tf.constant([[0.0, 1.5], [2.0, 0.0]])), tf.count_nonzero(b, 1)])
    assert r[0] == np.False_ and r[3] == 2 and np.asarray(r[3]).dtype == np.int64
    np.testing.assert_array_equal(r[1], [False, True])
    np.testing.assert_array_equal(r[2], [[True, True]])
    np.testing.assert_array_equal(r[4], [1, 2])
    with pytest.raises(TypeError, match="All"):
        tf.reduce_all(tf.constant([1.0]))


# -- operators with Python scalars on either side
def test_operators_with_python_scalars_on_either_side_keep_the_tensor_dtype():
    xv = np.array([1.0, 2.0, 4.0], np.float32)
    x = tf.constant(xv)
    exprs = [x ** 2, 2 ** x, 7.0 // x, x // 3, x % 3, 7 % x, 1 - x, abs(-x), -x]
    want = [xv ** 2, 2 ** xv, 7.0 // xv, xv // 3, xv % 3, 7 % xv, 1 - xv, xv, -xv]
    for t, v, w in zip(exprs, run(exprs), want):
        assert t.dtype == tf.float32 and v.dtype == np.float32
        np.testing.assert_allclose(v, w, rtol=1e-6)
    i = tf.constant([3, -4])
    iv = run([i ** 2, 10 // i, i % 3, abs(i)])
    np.testing.assert_array_equal(iv[0], [9, 16])
    np.testing.assert_array_equal(iv[1], [3, -3])
    np.testing.assert_array_equal(iv[2], [0, 2])
    np.testing.assert_array_equal(iv[3], [3, 4])
    assert all(v.dtype == np.int32 for v in iv)
    with tf.Graph().as_default():
        x = tf.constant(xv)
        assert (x ** 2).op.name == "pow" and (x // 3).op.name == "floordiv" and (x % 3).op.name == "mod"


def test_pow_maximum_minimum_default_names_and_values():
    x, y = tf.constant([1.0, 4.0]), tf.constant([2.0, 3.0])
    p, mx, mn, sd = tf.pow(x, y), tf.maximum(x, y), tf.minimum(x, y), tf.squared_difference(x, y)
    assert (p.op.name, mx.op.name, mn.op.name) == ("Pow", "Maximum", "Minimum")
    r = run([p, mx, mn, sd])
    np.testing.assert_allclose(r[0], [1.0, 64.0])
    np.testing.assert_allclose(r[1], [2.0, 4.0])
    np.testing.assert_allclose(r[2], [1.0, 3.0])
    np.testing.assert_allclose(r[3], [1.0, 1.0])


def test_maximum_and_minimum_send_tied_gradients_to_x():
    x, y = tf.constant([1.0, 2.0, 3.0]), tf.constant([1.0, 5.0, 0.0])
    gmax = tf.gradients(tf.maximum(x, y), [x, y])
    gmin = tf.gradients(tf.minimum(x, y), [x, y])
    a, b, c, d = run(gmax + gmin)
    np.testing.assert_array_equal(a, [1, 0, 1])
    np.testing.assert_array_equal(b, [0, 1, 0])
    np.testing.assert_array_equal(c, [1, 1, 0])
    np.testing.assert_array_equal(d, [0, 0, 1])


def test_clip_by_value_clips_and_passes_gradient_inside():
    x = tf.constant([-2.0, 0.5, 3.0])
    c = tf.clip_by_value(x, -1.0, 1.0)
    assert c.op.name == "clip_by_value"
    (g,) = tf.gradients(c, [x])
    cv, gv = run([c, g])
    np.testing.assert_array_equal(cv, [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(gv, [0.0, 1.0, 0.0])


def test_scalar_mul_requires_a_scalar():
    x = tf.constant([1.0, 2.0])
    np.testing.assert_array_equal(run(tf.scalar_mul(3.0, x)), [3.0, 6.0])
    with pytest.raises(ValueError, match="scalar"):
        tf.scalar_mul([1.0, 2.0], x)


# -- unary functions against closed forms
def test_unary_math_values():
    v = np.array([0.25, 1.0, 4.0])
    x = tf.constant(v)
    r = run([tf.square(x), tf.sqrt(x), tf.rsqrt(x), tf.exp(x), tf.log(x), tf.log1p(x), tf.reciprocal(x)])
    for got, want in zip(r, [v * v, np.sqrt(v), 1 / np.sqrt(v), np.exp(v), np.log(v), np.log1p(v), 1 / v]):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_round_is_half_to_even_and_floor_ceil_sign():
    x = tf.constant([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.0])
    r = run([tf.round(x), tf.floor(x), tf.ceil(x), tf.sign(x)])
    np.testing.assert_array_equal(r[0], [-2, -2, -0, 0, 2, 2, 0])
    np.testing.assert_array_equal(r[1], [-3, -2, -1, 0, 1, 2, 0])
    np.testing.assert_array_equal(r[2], [-2, -1, -0, 1, 2, 3, 0])
    np.testing.assert_array_equal(r[3], [-1, -1, -1, 1, 1, 1, 0])


# -- sequences
def test_range_values_dtypes_and_static_shapes():
    a, b, c, d = tf.range(5), tf.range(1, 2, 0.25), tf.range(10, 1, -3), tf.range(3, dtype=tf.float64)
    assert a.dtype == tf.int32 and b.dtype == tf.float32 and d.dtype == tf.float64
    assert a.shape.as_list() == [5] and b.shape.as_list() == [4] and c.shape.as_list() == [3]
    assert a.op.type == "Range" and a.op.name == "range"
    n = tf.placeholder(tf.int32, [])
    e = tf.range(n)
    assert e.shape.as_list() == [None]
    ra, rb, rc, rd, re = run([a, b, c, d, e], {n: 4})
    np.testing.assert_array_equal(ra, np.arange(5))
    np.testing.assert_array_equal(rb, [1.0, 1.25, 1.5, 1.75])
    np.testing.assert_array_equal(rc, [10, 7, 4])
    assert rd.dtype == np.float64 and rb.dtype == np.float32
    np.testing.assert_array_equal(re, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="delta"):
        tf.range(0, 5, 0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="start <= limit"):
        run(tf.range(n, 2), {n: 5})


def test_linspace_and_cumsum():
    ls = tf.linspace(0.0, 1.0, 5)
    assert ls.shape.as_list() == [5] and ls.op.type == "LinSpace"
    v = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x = tf.constant(v)
    r = run([ls, tf.cumsum(x, 1), tf.cumsum(x, 1, exclusive=True), tf.cumsum(x, 1, reverse=True),
             tf.cumsum(x, 0, exclusive=True, reverse=True)])
    np.testing.assert_allclose(r[0], [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(r[1], np.cumsum(v, 1))
    np.testing.assert_array_equal(r[2], [[0, 1, 3], [0, 4, 9]])
    np.testing.assert_array_equal(r[3], [[6, 5, 3], [15, 11, 6]])
    np.testing.assert_array_equal(r[4], [[4, 5, 6], [0, 0, 0]])


# -- build-time dtype errors name the op
@pytest.mark.parametrize("build,op_name", [
    (lambda: tf.sqrt(tf.constant([1, 2]), name="my_sqrt"), "my_sqrt"),
    (lambda: tf.log(tf.constant([1, 2])), "Log"),
    (lambda: tf.logical_and(tf.constant([1.0]), tf.constant([0.0])), "LogicalAnd"),
    (lambda: tf.maximum(tf.constant([1.0]), tf.constant([1])), "Maximum"),
    (lambda: tf.where(tf.constant([1.0]), [1.0], [2.0]), "Select"),
    (lambda: tf.less(tf.constant([True]), tf.constant([False])), "Less"),
    (lambda: tf.reduce_max(tf.constant([True])), "Max"),
])
def test_dtype_errors_are_raised_at_build_time_naming_the_op(build, op_name):
    with pytest.raises(TypeError, match=op_name):
        build()


def test_python_float_with_int_tensor_is_rejected():
    with pytest.raises(TypeError, match="int32"):
        tf.constant([1, 2]) * 2.5


def test_broadcast_shape_mismatch_is_a_build_time_value_error():
    with pytest.raises(ValueError, match="Pow"):
        tf.pow(tf.ones([2, 3]), tf.ones([4]))


@pytest.mark.parametrize("shape,axis,keep", [((203, 50), 1, True), ((97, 6, 5), [1, 2], False), ((64, 7), -1, False),
                                              ((41, 6, 5), 1, False), ((13, 4, 6, 3), [2, 3], True)])
def test_l2_normalize_square_sum_fuses_and_matches_float64(shape, axis, keep, monkeypatch):
    """Sum(Square(x)) runs as _FusedSquareSum (rows dotted with themselves over trailing axes, bands of rows
    squared into a small buffer over others; over two threads, in many ranges forced small here) and equals
    the float64 sum of squares within float32 rounding; l2_normalize built on it equals x / ||x|| in float64."""
    from nanotf.framework import parallel
    from nanotf.ops import math_ops
    monkeypatch.setattr(math_ops, "_SQUARE_SUM_BAND_BYTES", 256)          # many bands
    monkeypatch.setattr(parallel, "threads_for", lambda work: 2)          # and split over the pool
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    with tf.Graph().as_default():
        xt = tf.placeholder(tf.float32, shape)
        s = tf.reduce_sum(tf.square(xt), axis=axis, keepdims=keep)
        n = tf.nn.l2_normalize(xt, axis=-1)
        with tf.Session() as sess:
            got_s, got_n = sess.run([s, n], {xt: x})
            fused = [st.op.type for ex in sess._plans.values() for st in ex.plan.steps]
    assert "_FusedSquareSum" in fused
    x64 = x.astype(np.float64)
    want = np.sum(x64 * x64, axis=tuple(np.atleast_1d(axis)), keepdims=keep)
    assert got_s.shape == want.shape and got_s.dtype == np.float32
    np.testing.assert_allclose(got_s, want, rtol=8 * np.finfo(np.float32).eps * np.log2(x[0].size + 1), atol=0)
    np.testing.assert_allclose(got_n, x64 / np.sqrt(np.sum(x64 * x64, axis=-1, keepdims=True)), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cols", [784, 1009, 1 << 16, (1 << 20) + 3])
def test_fused_square_sum_of_long_rows_stays_within_a_few_eps(cols):
    """A constant row is the worst case for running sums (every addition rounds the same way): the rows' sums
    of squares stay within (256 / 8 lanes + log2(blocks) + 4) eps of float64, where one einsum over the whole
    row drifts by 9 eps at 784 values and 225 eps at 2^20."""
    x = np.full((3, cols), 0.3, np.float32)
    with tf.Graph().as_default():
        xt = tf.placeholder(tf.float32, [None, cols])
        with tf.Session() as sess:
            got = sess.run(tf.reduce_sum(tf.square(xt), 1), {xt: x})
    want = np.float64(np.float32(0.3)) ** 2 * cols
    bound = (256 / 8 + np.log2(cols / 256 + 1) + 4) * np.finfo(np.float32).eps
    assert np.all(np.abs(got - want) <= bound * want)


@pytest.mark.parametrize("shape,axis", [((5, 4, 3), []), ((2, 0, 5), [2]), ((0, 4), [1])])
def test_fused_square_sum_of_no_axis_or_no_element(shape, axis):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with tf.Graph().as_default():
        xt = tf.placeholder(tf.float32, [None] * len(shape))
        with tf.Session() as sess:
            got = sess.run(tf.reduce_sum(tf.square(xt), axis), {xt: x})
    want = np.sum(x.astype(np.float64) ** 2, axis=tuple(axis))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("axis", [3, -3])
def test_fused_square_sum_rejects_an_axis_out_of_range_at_run_time(axis):
    """Rank unknown at build time: an axis out of range for the fed array raises, as Sum alone does."""
    with tf.Graph().as_default():
        p = tf.placeholder(tf.float32, None)
        s = tf.reduce_sum(tf.square(p), axis)
        with tf.Session() as sess:
            with pytest.raises(tf.errors.InvalidArgumentError, match="out of bounds"):
                sess.run(s, {p: np.ones((4, 5), np.float32)})
