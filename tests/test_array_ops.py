"""Array ops: values against NumPy, static shapes (with unknown dims), build-time errors, gradients
against finite differences."""
import numpy as np
import pytest

import nanotf as tf

RNG = np.random.default_rng(7)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def _check_grad(build, *arrays, atol=1e-6, rtol=1e-5):
    """d sum(build(x) * w) / dx from tf.gradients against central differences, for float64 inputs."""
    with tf.Graph().as_default():
        phs = [tf.placeholder(tf.float64, a.shape) for a in arrays]
        y = build(*phs)
        feed = dict(zip(phs, arrays))
        with tf.Session() as sess:
            w = RNG.standard_normal(np.shape(sess.run(y, feed)))
            grads = sess.run(tf.gradients(tf.reduce_sum(y * w), phs), feed)
            for i, (a, g) in enumerate(zip(arrays, grads)):
                num = np.zeros_like(a)
                for k in np.ndindex(a.shape):
                    for sign in (1.0, -1.0):
                        moved = [b.copy() for b in arrays]
                        moved[i][k] += sign * 1e-6
                        num[k] += sign * np.sum(sess.run(y, dict(zip(phs, moved))) * w) / 2e-6
                np.testing.assert_allclose(g, num, atol=atol, rtol=rtol)


# -- expand_dims / squeeze / transpose
def test_expand_dims_and_squeeze_values_and_partial_shapes():
    xv = RNG.standard_normal((2, 3)).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        e0, e_last, e_dim = tf.expand_dims(x, 0), tf.expand_dims(x, -1), tf.expand_dims(x, dim=1)
        assert e0.shape.as_list() == [1, None, 3] and e_last.shape.as_list() == [None, 3, 1]
        assert e_dim.shape.as_list() == [None, 1, 3] and e0.op.type == "ExpandDims"
        s1 = tf.squeeze(e_dim, [1])
        s_all = tf.squeeze(tf.zeros([1, 2, 1, 3]))
        assert s1.shape.as_list() == [None, 3] and s_all.shape.as_list() == [2, 3]
        assert tf.squeeze(e0).shape.ndims is None   # the unknown dim might be 1
        assert tf.squeeze(e_last, squeeze_dims=[-1]).shape.as_list() == [None, 3]
        vals = _run([e0, e_last, e_dim, s1], {x: xv})
    np.testing.assert_array_equal(vals[0], xv[None])
    np.testing.assert_array_equal(vals[1], xv[..., None])
    np.testing.assert_array_equal(vals[2], xv[:, None])
    np.testing.assert_array_equal(vals[3], xv)


def test_expand_dims_and_squeeze_errors():
    with tf.Graph().as_default():
        x = tf.zeros([2, 3])
        with pytest.raises(ValueError, match="expand dim index 3"):
            tf.expand_dims(x, 3)
        with pytest.raises(ValueError, match="both"):
            tf.expand_dims(x, 0, dim=0)
        with pytest.raises(ValueError, match=r"Can not squeeze dim\[1\], expected a dimension of 1, got 3"):
            tf.squeeze(x, [1])
        p = tf.placeholder(tf.float32, [None, 3])
        sq = tf.squeeze(p, [0])
        with pytest.raises(tf.errors.InvalidArgumentError):
            _run(sq, {p: np.zeros((2, 3))})


def test_transpose_values_shapes_and_errors():
    xv = RNG.standard_normal((2, 3, 4))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [None, 3, 4])
        t_default = tf.transpose(x)
        t_perm = tf.transpose(x, [1, 2, 0])
        u = tf.placeholder(tf.float64)   # unknown rank: the reversed perm is computed at run time
        t_unknown = tf.transpose(u)
        assert t_default.shape.as_list() == [4, 3, None] and t_perm.shape.as_list() == [3, 4, None]
        assert t_default.op.name == "transpose" and t_unknown.shape.ndims is None
        vals = _run([t_default, t_perm, t_unknown], {x: xv, u: xv})
        with pytest.raises(ValueError, match="Dimension must be 3 but is 2 for 'transpose_3'"):
            tf.transpose(x, [1, 0])
        with pytest.raises(ValueError, match="not a valid permutation"):
            tf.transpose(x, [0, 0, 1])
    np.testing.assert_array_equal(vals[0], xv.T)
    np.testing.assert_array_equal(vals[1], xv.transpose(1, 2, 0))
    np.testing.assert_array_equal(vals[2], xv.T)


def test_transpose_gradient_with_runtime_permutation():
    xv = RNG.standard_normal((2, 3, 4))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [2, 3, 4])
        perm = tf.placeholder(tf.int32, [3])
        y = tf.transpose(x, perm)
        assert y.shape.as_list() == [None, None, None]
        g, = tf.gradients(tf.reduce_sum(y * np.arange(24.0).reshape(4, 2, 3)), x)
        gv = _run(g, {x: xv, perm: [2, 0, 1]})
    np.testing.assert_array_equal(gv, np.arange(24.0).reshape(4, 2, 3).transpose(1, 2, 0))


# -- concat / stack / unstack / split
def test_concat_values_shapes_and_seed_era_order():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((4, 3))
    with tf.Graph().as_default():
        pa = tf.placeholder(tf.float64, [None, 3])
        c0 = tf.concat([pa, b], 0)
        c1 = tf.concat([a, a[:, :1]], axis=-1)
        old = tf.concat(0, [pa, b])   # TF 0.x argument order
        single = tf.concat([pa], 0)
        assert c0.shape.as_list() == [None, 3] and c1.shape.as_list() == [2, 4]
        assert c0.op.type == "ConcatV2" and c0.op.name == "concat" and old.shape.as_list() == [None, 3]
        assert tf.concat([tf.zeros([2, 3]), tf.zeros([5, 3])], 0).shape.as_list() == [7, 3]
        vals = _run([c0, c1, old, single], {pa: a})
    np.testing.assert_array_equal(vals[0], np.concatenate([a, b]))
    np.testing.assert_array_equal(vals[1], np.concatenate([a, a[:, :1]], 1))
    np.testing.assert_array_equal(vals[2], vals[0])
    np.testing.assert_array_equal(vals[3], a)


def test_concat_errors_name_the_op():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="Shape must be rank 2 but is rank 3 for 'concat' .*ConcatV2"):
            tf.concat([tf.zeros([2, 3]), tf.zeros([2, 3, 1])], 0)
        with pytest.raises(ValueError, match="Dimension 1 in both shapes must be equal, but are 3 and 4"):
            tf.concat([tf.zeros([2, 3]), tf.zeros([2, 4])], 0)
        with pytest.raises(ValueError, match=r"range \[-2, 2\), but got 2"):
            tf.concat([tf.zeros([2, 3]), tf.zeros([2, 3])], 2)
        with pytest.raises(TypeError, match="same dtype"):
            tf.concat([tf.zeros([2]), tf.zeros([2], tf.int32)], 0)


def test_concat_gradients_static_and_dynamic_sizes():
    a, b, c = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 1)), RNG.standard_normal((2, 2))
    _check_grad(lambda x, y, z: tf.concat([x, y, z], 1), a, b, c)
    with tf.Graph().as_default():   # unknown sizes along the axis: ConcatOffset + Slice
        x, y = tf.placeholder(tf.float64, [None, 3]), tf.placeholder(tf.float64, [None, 3])
        w = RNG.standard_normal((5, 3))
        gx, gy = tf.gradients(tf.reduce_sum(tf.concat([x, y], 0) * w), [x, y])
        assert gx.op.type == "Slice"
        gxv, gyv = _run([gx, gy], {x: a, y: RNG.standard_normal((3, 3))})
    np.testing.assert_array_equal(gxv, w[:2])
    np.testing.assert_array_equal(gyv, w[2:])


def test_stack_unstack_values_and_shapes():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))
    with tf.Graph().as_default():
        pa = tf.placeholder(tf.float64, [None, 3])
        s0, s_last = tf.stack([pa, b]), tf.stack([pa, b], axis=-1)
        assert s0.shape.as_list() == [2, 2, 3] and s_last.shape.as_list() == [2, 3, 2]   # merged with b
        const = tf.stack([1, 2, 3])
        assert const.op.type == "Const" and const.dtype == tf.int32
        packed = tf.pack([pa, pa], axis=1)
        assert packed.shape.as_list() == [None, 2, 3]
        rows = tf.unstack(tf.stack([pa, pa], axis=-1), axis=1)
        assert len(rows) == 3 and rows[0].shape.as_list() == [None, 2] and rows[0].op.type == "Unpack"
        u2 = tf.unpack(tf.constant(a))
        vals = _run([s0, s_last, packed, rows, u2], {pa: a})
        with pytest.raises(ValueError, match="Cannot infer num"):
            tf.unstack(pa)
        with pytest.raises(ValueError, match="axis = 3 not in"):
            tf.stack([pa, pa], axis=3)
        with pytest.raises(ValueError, match="incompatible"):
            tf.stack([tf.zeros([2]), tf.zeros([3])])
    np.testing.assert_array_equal(vals[0], np.stack([a, b]))
    np.testing.assert_array_equal(vals[1], np.stack([a, b], -1))
    np.testing.assert_array_equal(vals[2], np.stack([a, a], 1))
    for k in range(3):
        np.testing.assert_array_equal(vals[3][k], np.stack([a, a], -1)[:, k])
    np.testing.assert_array_equal(vals[4][1], a[1])


def test_stack_unstack_gradients():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))
    _check_grad(lambda x, y: tf.stack([x, y], axis=1), a, b)
    # only one output used: the other outputs' gradients are zeros
    _check_grad(lambda x: tf.unstack(x, axis=1)[2] * 3.0, a)


def test_split_equal_and_sized_pieces():
    xv = RNG.standard_normal((4, 6))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [None, 6])
        a, b, c = tf.split(x, 3, axis=1)
        p, q = tf.split(x, [2, -1], 1)
        old = tf.split(1, 2, x)   # TF 0.x order split(split_dim, num_split, value)
        assert a.shape.as_list() == [None, 2] and q.shape.as_list() == [None, 4] and a.op.type == "Split"
        assert p.op.type == "SplitV" and len(old) == 2 and old[0].shape.as_list() == [None, 3]
        vals = _run([a, c, p, q, old[1]], {x: xv})
        with pytest.raises(ValueError, match="evenly divisible by 4 but is 6"):
            tf.split(x, 4, axis=1)
        with pytest.raises(ValueError, match="Determined shape must either match"):
            tf.split(x, [2, 5], axis=1)
    np.testing.assert_array_equal(vals[0], xv[:, :2])
    np.testing.assert_array_equal(vals[1], xv[:, 4:])
    np.testing.assert_array_equal(vals[2], xv[:, :2])
    np.testing.assert_array_equal(vals[3], xv[:, 2:])
    np.testing.assert_array_equal(vals[4], xv[:, 3:])
    _check_grad(lambda t: tf.split(t, 3, axis=1)[1] * 2.0 + tf.split(t, 3, axis=1)[2], xv[:2])
    _check_grad(lambda t: tf.split(t, [1, 2], axis=0)[1], xv[:3, :2])


# -- tile / pad / broadcast_to / reverse
def test_tile_pad_broadcast_reverse_values_and_shapes():
    xv = RNG.standard_normal((2, 3))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [None, 3])
        t = tf.tile(x, [2, 3])
        p = tf.pad(x, [[1, 0], [2, 1]])
        p2 = tf.pad(x, [[0, 1], [0, 0]], constant_values=7.0)
        bt = tf.broadcast_to(tf.constant(xv[:1]), [4, 3])
        r = tf.reverse(x, [-1])
        assert t.shape.as_list() == [None, 9] and p.shape.as_list() == [None, 6] and bt.shape.as_list() == [4, 3]
        assert p.op.type == "Pad" and p2.op.type == "PadV2" and r.op.type == "ReverseV2"
        vals = _run([t, p, p2, bt, r], {x: xv})
        with pytest.raises(ValueError, match="Tile"):
            tf.tile(x, [2])
        with pytest.raises(ValueError, match="paddings"):
            tf.pad(x, [[1, 1]])
        with pytest.raises(ValueError, match="Incompatible shapes"):
            tf.broadcast_to(tf.zeros([3]), [2, 4])
        with pytest.raises(NotImplementedError, match="REFLECT"):
            tf.pad(x, [[1, 1], [1, 1]], mode="reflect")
    np.testing.assert_array_equal(vals[0], np.tile(xv, [2, 3]))
    np.testing.assert_array_equal(vals[1], np.pad(xv, [[1, 0], [2, 1]]))
    np.testing.assert_array_equal(vals[2], np.pad(xv, [[0, 1], [0, 0]], constant_values=7.0))
    np.testing.assert_array_equal(vals[3], np.broadcast_to(xv[:1], (4, 3)))
    np.testing.assert_array_equal(vals[4], xv[:, ::-1])


def test_tile_pad_broadcast_reverse_gradients():
    xv = RNG.standard_normal((2, 3))
    _check_grad(lambda x: tf.tile(x, [2, 2]), xv)
    _check_grad(lambda x: tf.pad(x, [[1, 0], [0, 2]]), xv)
    _check_grad(lambda x: tf.broadcast_to(x, [2, 2, 3]), xv)
    _check_grad(lambda x: tf.reverse(x, [0, 1]), xv)


# -- one_hot / gather / boolean_mask
def test_one_hot_values_axis_dtype_and_out_of_range():
    idx = np.array([[0, 2], [3, -1]])
    with tf.Graph().as_default():
        i = tf.placeholder(tf.int32, [None, 2])
        last = tf.one_hot(i, 3)
        first = tf.one_hot(i, 3, on_value=5, off_value=-1, axis=0)
        as_f64 = tf.one_hot([1, 0], 2, dtype=tf.float64)
        assert last.shape.as_list() == [None, 2, 3] and last.dtype == tf.float32
        assert first.shape.as_list() == [3, None, 2] and first.dtype == tf.int32 and as_f64.dtype == tf.float64
        vals = _run([last, first, as_f64], {i: idx})
        with pytest.raises(TypeError, match="does not match"):
            tf.one_hot(i, 3, on_value=tf.constant(1.0), dtype=tf.int32)
        with pytest.raises(TypeError, match="indices"):
            tf.one_hot(tf.constant([1.0]), 3)
    expected = (idx[..., None] == np.arange(3)).astype(np.float32)   # -1 and 3 give all-off rows
    np.testing.assert_array_equal(vals[0], expected)
    np.testing.assert_array_equal(vals[1], np.where(np.moveaxis(expected, -1, 0) > 0, 5, -1))
    np.testing.assert_array_equal(vals[2], np.eye(2)[[1, 0]])


def test_gather_values_shapes_errors_and_dense_gradient():
    pv = RNG.standard_normal((5, 3))
    with tf.Graph().as_default():
        p = tf.placeholder(tf.float64, [None, 3])
        i = tf.placeholder(tf.int64, [None])
        g0 = tf.gather(p, i)
        g1 = tf.gather(p, [[2, 0]], axis=1)
        assert g0.shape.as_list() == [None, 3] and g1.shape.as_list() == [None, 1, 2]
        assert g0.op.type == "GatherV2"
        vals = _run([g0, g1], {p: pv, i: [4, 0, 4]})
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = 5 is not in \[0, 5\)"):
            _run(g0, {p: pv, i: [0, 5]})
        with pytest.raises(TypeError, match="indices"):
            tf.gather(p, [0.5])
        grad, = tf.gradients(tf.reduce_sum(g0), p)   # repeated indices accumulate
        gv = _run(grad, {p: pv, i: [4, 0, 4]})
    np.testing.assert_array_equal(vals[0], pv[[4, 0, 4]])
    np.testing.assert_array_equal(vals[1], pv[:, [[2, 0]]])
    np.testing.assert_array_equal(gv, np.array([[1.0] * 3, [0] * 3, [0] * 3, [0] * 3, [2.0] * 3]))
    _check_grad(lambda x: tf.gather(x, [[1, 1], [0, 2]], axis=1), pv[:2])


def test_boolean_mask_values_and_gradient():
    xv = RNG.standard_normal((3, 2))
    mask = np.array([True, False, True])
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [None, 2])
        m = tf.boolean_mask(x, mask)
        assert m.shape.as_list() == [None, 2]
        val = _run(m, {x: xv})
    np.testing.assert_array_equal(val, xv[mask])
    _check_grad(lambda t: tf.boolean_mask(t, mask), xv)


# -- slice / strided_slice / __getitem__
def test_slice_values_shapes_errors_and_gradient():
    xv = RNG.standard_normal((4, 5))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [None, 5])
        s = tf.slice(x, [1, 2], [2, -1])
        assert s.shape.as_list() == [2, 3] and s.op.type == "Slice"
        val = _run(s, {x: xv})
        with pytest.raises(ValueError, match=r"Expected size\[1\] in \[0, 3\], but got 4"):
            tf.slice(tf.zeros([4, 5]), [1, 2], [1, 4])
        with pytest.raises(tf.errors.InvalidArgumentError, match="size"):
            _run(s, {x: xv[:2]})   # only 2 rows: rows 1..2 do not fit
    np.testing.assert_array_equal(val, xv[1:3, 2:])
    _check_grad(lambda t: tf.slice(t, [1, 0], [2, 3]), xv)


@pytest.mark.parametrize("index", [
    (1,), (slice(1, 3),), (slice(None, None, -1),), (Ellipsis, 0), (slice(None), None, 1), (-1, slice(None, None, 2)),
    (slice(3, 0, -2), Ellipsis), (None, Ellipsis, None), (slice(-10, 10),), (1, -2, 3),
])
def test_getitem_matches_numpy(index):
    xv = RNG.standard_normal((4, 3, 5))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [4, None, 5])
        y = x[index]
        expected = xv[index]
        static = y.shape.as_list()
        assert len(static) == expected.ndim
        assert all(d is None or d == e for d, e in zip(static, expected.shape))
        assert y.op.type == "StridedSlice"
        np.testing.assert_array_equal(_run(y, {x: xv}), expected)


def test_getitem_tensor_indices_names_and_errors():
    xv = RNG.standard_normal((4, 3))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [None, 3])
        i = tf.placeholder(tf.int32, [])
        y = x[i, 1:]
        assert y.shape.as_list() == [2] and y.op.name == "strided_slice"
        assert y.op.inputs[1].op.name == "strided_slice/stack"
        val = _run(y, {x: xv, i: 2})
        with pytest.raises(TypeError, match="valid indices"):
            x[1.5]
        with pytest.raises(TypeError, match="valid indices"):
            x["a"]
        with pytest.raises(ValueError, match="out of bounds"):
            tf.zeros([2, 3])[2]
        with pytest.raises(tf.errors.InvalidArgumentError):
            _run(x[5], {x: xv})
    np.testing.assert_array_equal(val, xv[2, 1:])


def test_getitem_gradient_scatters_into_zeros():
    xv = RNG.standard_normal((4, 3))
    _check_grad(lambda t: t[1:3, ::-1], xv)
    _check_grad(lambda t: t[..., 0], xv)
    _check_grad(lambda t: t[-1, None], xv)
    _check_grad(lambda t: t[::2] * t[1::2], xv)


def test_variable_getitem_and_shape_n():
    with tf.Graph().as_default():
        v = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
        a, b = tf.shape_n([v, tf.zeros([3])])
        assert a.shape.as_list() == [2] and a.op.type == "ShapeN"
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            vals = sess.run([v[1], v[:, 0], a, b])
    np.testing.assert_array_equal(vals[0], [3.0, 4.0])
    np.testing.assert_array_equal(vals[1], [1.0, 3.0])
    np.testing.assert_array_equal(vals[2], [2, 2])
    np.testing.assert_array_equal(vals[3], [3])


def test_fetched_views_of_variables_do_not_change_after_assign():
    with tf.Graph().as_default():
        v = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
        parts = [tf.transpose(v), v[0], tf.split(v, 2)[0], tf.split(v, [1, 1], 1)[1]]
        with tf.Session() as sess:
            sess.run(v.initializer)
            got = sess.run(parts)
            sess.run(v.assign([[0.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_array_equal(got[0], [[1.0, 3.0], [2.0, 4.0]])
    np.testing.assert_array_equal(got[1], [1.0, 2.0])
    np.testing.assert_array_equal(got[2], [[1.0, 2.0]])
    np.testing.assert_array_equal(got[3], [[2.0], [4.0]])


def test_zeros_and_ones_take_a_shape_list_mixing_tensors_and_ints():
    # TF 1.x programs write tf.zeros([tf.shape(x)[0], 128]) for an initial RNN state
    x = tf.placeholder(tf.float32, [None, 3])
    z = tf.zeros([tf.shape(x)[0], 128])
    o = tf.ones((tf.shape(x)[0], 2), dtype=tf.int32)
    assert z.shape.as_list() == [None, 128] and o.shape.as_list() == [None, 2]
    zv, ov = tf.Session().run([z, o], {x: np.ones((5, 3), np.float32)})
    np.testing.assert_array_equal(zv, np.zeros((5, 128), np.float32))
    np.testing.assert_array_equal(ov, np.ones((5, 2), np.int32))
