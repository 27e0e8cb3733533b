"""tf.gather_nd, tf.scatter_nd and tf.sparse_to_dense: values against NumPy references, static shapes,
TensorFlow's error messages, gradients, and the 2016 MNIST tutorial's one-hot labels (which trains)."""
import re

import numpy as np
import pytest

import nanotf as tf

RNG = np.random.default_rng(11)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


# -- NumPy references, written out with loops
def _gather_nd_ref(params, indices):
    indices = np.asarray(indices)
    k = indices.shape[-1]
    batch = indices.shape[:-1]
    out = np.empty(batch + params.shape[k:], dtype=params.dtype)
    for pos in np.ndindex(*batch):
        out[pos] = params[tuple(int(v) for v in indices[pos])]
    return out


def _scatter_nd_ref(indices, updates, shape):
    indices = np.asarray(indices)
    out = np.zeros(shape, dtype=updates.dtype)
    for pos in np.ndindex(*indices.shape[:-1]):
        out[tuple(int(v) for v in indices[pos])] += updates[pos]
    return out


def _sparse_to_dense_ref(indices, shape, values, default):
    indices = np.asarray(indices)
    rows = indices.reshape(-1, 1) if indices.ndim < 2 else indices
    values = np.broadcast_to(values, (rows.shape[0],))
    out = np.full(shape, default, dtype=np.asarray(values).dtype)
    for row, v in zip(rows, values):
        out[tuple(int(i) for i in row)] = v
    return out


def _fd_grad(sess, y, x, xv, feed, w, eps=1e-6):
    """d sum(y * w) / dx by central differences."""
    num = np.zeros(np.shape(xv))
    for k in np.ndindex(*np.shape(xv)):
        vals = []
        for sign in (1.0, -1.0):
            moved = np.array(xv, dtype=np.float64, copy=True)
            moved[k] += sign * eps
            vals.append(np.sum(sess.run(y, {**feed, x: moved}) * w))
        num[k] = (vals[0] - vals[1]) / (2 * eps)
    return num


def _check_grads(build, arrays, ints=()):
    """Symbolic gradients of sum(build(...) * w) against central differences for each float64 array;
    `ints` are extra integer arrays fed to int placeholders (not differentiated)."""
    with tf.Graph().as_default():
        phs = [tf.placeholder(tf.float64, np.shape(a)) for a in arrays]
        iphs = [tf.placeholder(tf.as_dtype(np.asarray(a).dtype), np.shape(a)) for a in ints]
        y = build(*phs, *iphs)
        feed = dict(zip(phs + iphs, list(arrays) + list(ints)))
        with tf.Session() as sess:
            w = RNG.standard_normal(np.shape(sess.run(y, feed)))
            grads = sess.run(tf.gradients(tf.reduce_sum(y * w), phs), feed)
            for ph, a, g in zip(phs, arrays, grads):
                np.testing.assert_allclose(g, _fd_grad(sess, y, ph, a, feed, w), atol=1e-7, rtol=1e-6)


# -- gather_nd
@pytest.mark.parametrize("pshape,indices", [
    ((3, 4), [[0, 1], [2, 3], [0, 1]]),                 # full indices -> scalars
    ((3, 4, 2), [[2], [0]]),                            # prefixes -> slices
    ((3, 4), [[[1, 0]], [[2, 2]]]),                     # batched index rows
    ((2, 3), [1, 2]),                                   # one index (indices is a vector)
    ((4,), np.array([[3], [0], [3]], np.int64)),
    ((2, 3), np.zeros((2, 0), np.int32)),               # empty prefix: the whole of params per row
])
def test_gather_nd_values_and_static_shape(pshape, indices, graph):
    params = RNG.standard_normal(pshape).astype(np.float32)
    out = tf.gather_nd(params, indices)
    assert out.op.type == "GatherNd" and out.op.name == "GatherNd"
    want = _gather_nd_ref(params, indices)
    assert out.shape.as_list() == list(want.shape)
    got = _run(out)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_gather_nd_partial_shapes(graph):
    p = tf.placeholder(tf.float32, [None, 5, 6])
    i = tf.placeholder(tf.int32, [None, 3, 2])
    out = tf.gather_nd(p, i)
    assert out.shape.as_list() == [None, 3, 6]
    assert tf.gather_nd(p, tf.placeholder(tf.int32, [4, None])).shape.ndims is None
    assert tf.gather_nd(tf.placeholder(tf.float32), i).shape.ndims is None
    pv = RNG.standard_normal((2, 5, 6)).astype(np.float32)
    iv = np.array([[[1, 4], [0, 0], [1, 2]]] * 2, np.int32)
    np.testing.assert_array_equal(_run(out, {p: pv, i: iv}), _gather_nd_ref(pv, iv))


def test_gather_nd_errors(graph):
    with pytest.raises(ValueError, match=r"indices.shape\[-1\] must be <= params.rank.*'GatherNd'"):
        tf.gather_nd(np.zeros((2, 3)), [[0, 0, 0]])
    with pytest.raises(TypeError, match="indices must be int32 or int64"):
        tf.gather_nd(np.zeros(3), [[0.0]])
    out = tf.gather_nd([0, 1, 2], [[[0], [7]]])   # TF's own test case
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"indices\[0,1\] = \[7\] does not index into param shape \[3\]") as e:
        _run(out)
    assert e.value.op is out.op and e.value.op.type == "GatherNd"
    neg = tf.gather_nd(np.zeros((2, 3)), [[0, 1], [1, -1]])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = \[1, -1\] does not index into "
                                                             r"param shape \[2,3\]"):
        _run(neg)
    p = tf.placeholder(tf.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="params must be at least a vector"):
        _run(tf.gather_nd(p, [[0]]), {p: 1.0})
    with pytest.raises(tf.errors.InvalidArgumentError, match="index innermost dimension length must be <= "
                                                             "params rank; saw: 2 vs. 1"):
        _run(tf.gather_nd(p, [[0, 0]]), {p: [1.0]})


def test_gather_nd_gradient_scatters_and_sums_repeats():
    params = RNG.standard_normal((3, 4))
    idx = np.array([[0, 1], [2, 3], [0, 1]], np.int32)   # [0, 1] twice: its gradient is the sum of both
    with tf.Graph().as_default():
        p = tf.placeholder(tf.float64, [3, 4])
        y = tf.gather_nd(p, idx)
        g = tf.gradients(y, p, grad_ys=tf.constant([1.0, 2.0, 3.0], tf.float64))[0]
        assert g.op.type == "ScatterNd" and g.shape.as_list() == [3, 4]
        got = _run(g, {p: params})
    want = np.zeros((3, 4))
    want[0, 1], want[2, 3] = 4.0, 2.0
    np.testing.assert_array_equal(got, want)
    _check_grads(lambda p: tf.gather_nd(p, [[[1], [0]], [[1], [2]]]), [RNG.standard_normal((3, 2))])


# -- scatter_nd
@pytest.mark.parametrize("indices,ushape,shape", [
    ([[0], [2], [0]], (3, 3), [4, 3]),                  # rows, one repeated
    ([[0, 1], [2, 3], [0, 1]], (3,), [3, 4]),           # elements, one repeated
    ([[[1, 2]], [[0, 0]]], (2, 1, 2), [2, 3, 2]),       # batched index rows
    (np.array([[4], [3], [1], [7]], np.int64), (4,), [8]),
])
def test_scatter_nd_values_sum_repeats(indices, ushape, shape, graph):
    updates = RNG.standard_normal(ushape).astype(np.float32)
    out = tf.scatter_nd(indices, updates, shape)
    assert out.op.type == "ScatterNd" and out.shape.as_list() == shape
    got = _run(out)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, _scatter_nd_ref(indices, updates, shape), rtol=1e-6)


def test_scatter_nd_shape_tensor_and_errors(graph):
    n = tf.placeholder(tf.int32, [])
    out = tf.scatter_nd([[1]], [[5, 6]], tf.stack([n, 2]))
    assert out.shape.as_list() == [None, 2] and out.dtype == tf.int32
    np.testing.assert_array_equal(_run(out, {n: 3}), [[0, 0], [5, 6], [0, 0]])
    with pytest.raises(ValueError, match=r"The inner 1 dimensions of output.shape=\[3,2\] must match the inner "
                                         r"1 dimensions of updates.shape=\[1,3\]"):
        tf.scatter_nd([[1]], [[5.0, 6.0, 7.0]], [3, 2])
    with pytest.raises(ValueError, match=r"The outer 1 dimensions of indices.shape=\[2,1\]"):
        tf.scatter_nd([[1], [0]], [[5.0, 6.0]], [3, 2])
    bad = tf.scatter_nd([[2], [0], [6]], [1.0, 2.0, 3.0], [6])   # TF's test case
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"indices\[2\] = \[6\] does not index into shape \[6\]") as e:
        _run(bad)
    assert e.value.op is bad.op


def test_scatter_nd_gradient_gathers():
    idx = np.array([[0, 1], [2, 3], [0, 1]], np.int32)
    with tf.Graph().as_default():
        u = tf.placeholder(tf.float64, [3])
        y = tf.scatter_nd(idx, u, [3, 4])
        gy = RNG.standard_normal((3, 4))
        g = tf.gradients(y, u, grad_ys=tf.constant(gy))[0]
        assert g.op.type == "GatherNd"
        np.testing.assert_array_equal(_run(g, {u: np.zeros(3)}), gy[[0, 2, 0], [1, 3, 1]])
    _check_grads(lambda u: tf.scatter_nd([[1], [0], [1]], u, [2, 3]), [RNG.standard_normal((3, 3))])


# -- sparse_to_dense
@pytest.mark.parametrize("indices,shape,values,default", [
    ([[0, 1], [1, 0], [2, 3]], [3, 4], [1.5, -2.0, 3.0], 0.25),   # [N, R] index rows
    ([0, 2, 3], [5], [1.0, 2.0, 3.0], -1.0),                       # a vector of N indices
    (2, [4], 7.0, 0.0),                                            # one scalar index
    ([[0, 0], [1, 2]], [2, 3], 9.0, 1.0),                          # one value for every index
    ([[0, 1, 0], [1, 0, 1]], [2, 2, 2], [1.0, 2.0], 0.0),
    (np.zeros((0, 2), np.int32), [2, 2], np.zeros(0, np.float32), 3.0),   # no indices at all
])
def test_sparse_to_dense_values_and_static_shape(indices, shape, values, default, graph):
    out = tf.sparse_to_dense(indices, shape, np.asarray(values, np.float32), default)
    assert out.op.type == "SparseToDense" and out.op.name == "SparseToDense"
    assert out.dtype == tf.float32 and out.shape.as_list() == shape
    got = _run(out)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, _sparse_to_dense_ref(indices, shape, np.asarray(values, np.float32),
                                                            np.float32(default)))


def test_sparse_to_dense_dtypes_and_shape_arguments():
    with tf.Graph().as_default():
        ints = tf.sparse_to_dense([[0, 1]], [2, 2], 1, 0)   # Python ints: int32 values and indices
        bools = tf.sparse_to_dense([1], [3], True, False)
        idx64 = tf.constant([[1, 0]], dtype=tf.int64)
        wide = tf.sparse_to_dense(idx64, [2, 2], 5.0)   # output_shape takes the indices' dtype
        assert ints.dtype == tf.int32 and bools.dtype == tf.bool and wide.dtype == tf.float32
        assert wide.op.inputs[1].dtype == tf.int64
        x = tf.placeholder(tf.float32, [None, 4])
        like_x = tf.sparse_to_dense([[0, 3]], tf.shape(x), 1.0)   # static shape from Shape(x)
        assert like_x.shape.as_list() == [None, 4]
        r = tf.placeholder(tf.int32, [None])
        from_rank = tf.sparse_to_dense(tf.placeholder(tf.int32, [None, 3]), r, 1.0)
        assert from_rank.shape.as_list() == [None, None, None]
        vals = _run([ints, bools, wide, like_x], {x: np.zeros((2, 4), np.float32)})
    np.testing.assert_array_equal(vals[0], [[0, 1], [0, 0]])
    np.testing.assert_array_equal(vals[1], [False, True, False])
    np.testing.assert_array_equal(vals[2], [[0, 0], [5, 0]])
    np.testing.assert_array_equal(vals[3], [[0, 0, 0, 1], [0, 0, 0, 0]])
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match=r"Shape must be at most rank 2 but is rank 3 for 'SparseToDense'"):
            tf.sparse_to_dense(np.zeros((1, 1, 1), np.int32), [2], 1.0)
        with pytest.raises(ValueError, match=r"Shape must be rank 0 but is rank 1 for 'SparseToDense\w*'"):
            tf.sparse_to_dense([0], [2], 1.0, tf.constant([0.0]))
        with pytest.raises(TypeError, match="output_shape must have the dtype of sparse_indices"):
            tf.sparse_to_dense(tf.constant([0]), tf.constant([2], tf.int64), 1.0)


def _expect_error(indices, shape, values, match, validate_indices=True):
    with tf.Graph().as_default():
        out = tf.sparse_to_dense(indices, shape, values, 0.0, validate_indices=validate_indices, name="dense")
        with pytest.raises(tf.errors.InvalidArgumentError) as e:
            _run(out)
        assert re.search(match, e.value.message), e.value.message   # the message alone, in TF's words
        assert e.value.op is out.op and e.value.op.type == "SparseToDense" and e.value.op.name == "dense"
        assert "dense" in str(e.value) and "SparseToDense" in str(e.value)


def test_sparse_to_dense_rejects_out_of_bounds_indices():
    _expect_error([[0, 1], [2, 0]], [2, 3], [1.0, 2.0],
                  r"^indices\[1\] = \[2,0\] is out of bounds: need 0 <= index < \[2,3\]$")
    _expect_error([[0, -1]], [2, 3], 1.0, r"indices\[0\] = \[0,-1\] is out of bounds")
    _expect_error([3], [3], 1.0, r"indices\[0\] = \[3\] is out of bounds: need 0 <= index < \[3\]")
    # without validation, out-of-bounds indices are still rejected (TF's ToDense check)
    _expect_error([[1, 0], [0, 3]], [2, 3], 1.0, r"^Indices are not valid \(out of bounds\).  Shape: \[2,3\]$",
                  validate_indices=False)


def test_sparse_to_dense_rejects_repeated_and_unsorted_indices():
    _expect_error([[0, 0], [0, 0]], [2, 3], [1.0, 2.0], r"^indices\[1\] = \[0,0\] is repeated$")
    _expect_error([[0, 1], [0, 0]], [2, 3], [1.0, 2.0], r"^indices\[1\] = \[0,0\] is out of order$")
    _expect_error([[1, 0], [0, 2]], [2, 3], [1.0, 2.0], r"^indices\[1\] = \[0,2\] is out of order$")
    _expect_error([0, 2, 2], [4], 1.0, r"^indices\[2\] = \[2\] is repeated$")
    # the first bad row is reported; within a row, bounds come before order
    _expect_error([[1, 0], [0, 5], [0, 0]], [2, 3], 1.0, r"^indices\[1\] = \[0,5\] is out of bounds")


def test_sparse_to_dense_without_validation_allows_unsorted_and_repeats(graph):
    unsorted = tf.sparse_to_dense([[1, 2], [0, 0], [1, 0]], [2, 3], [1.0, 2.0, 3.0], -1.0,
                                  validate_indices=False)
    repeated = tf.sparse_to_dense([2, 0, 2], [3], [1.0, 2.0, 3.0], validate_indices=False)
    a, b = _run([unsorted, repeated])
    np.testing.assert_array_equal(a, [[2, -1, -1], [3, -1, 1]])
    np.testing.assert_array_equal(b, [2, 0, 3])   # a repeated index keeps its last value, as TF's loop does


def test_sparse_to_dense_gradients():
    idx = np.array([[0, 1], [1, 0], [2, 3]], np.int32)
    with tf.Graph().as_default():
        v = tf.placeholder(tf.float64, [3])
        d = tf.placeholder(tf.float64, [])
        y = tf.sparse_to_dense(idx, [3, 4], v, d)
        gy = RNG.standard_normal((3, 4))
        gv, gd = tf.gradients(y, [v, d], grad_ys=tf.constant(gy))
        gv_, gd_ = _run([gv, gd], {v: np.zeros(3), d: 0.0})
    np.testing.assert_allclose(gv_, gy[idx[:, 0], idx[:, 1]])
    np.testing.assert_allclose(gd_, gy.sum() - gy[idx[:, 0], idx[:, 1]].sum())
    # finite differences: matrix and vector indices, a scalar value (its gradient sums over the indices)
    _check_grads(lambda v, d: tf.sparse_to_dense(idx, [3, 4], v, d), [RNG.standard_normal(3), np.array(0.3)])
    _check_grads(lambda v, d, i: tf.sparse_to_dense(i, [6], v, d), [RNG.standard_normal(3), np.array(-0.2)],
                 ints=[np.array([0, 3, 5], np.int64)])
    _check_grads(lambda v, d: tf.sparse_to_dense([[0, 0], [1, 1]], [2, 2], v, d), [np.array(1.2), np.array(0.4)])
    with tf.Graph().as_default():
        v = tf.placeholder(tf.float64, [])
        g = tf.gradients(tf.sparse_to_dense([[0, 0], [1, 1]], [2, 2], v), v)[0]
        assert g.shape.as_list() == []
        assert _run(g, {v: 1.0}) == 2.0


# -- the 2016 tutorial's one-hot labels (tensorflow/examples/tutorials/mnist/mnist.py, TF 0.x API)
NUM_CLASSES = 10


def _tutorial_onehot(labels):
    batch_size = tf.size(labels)
    labels = tf.expand_dims(labels, 1)
    indices = tf.expand_dims(tf.range(0, batch_size), 1)
    concated = tf.concat(1, [indices, labels])
    return tf.sparse_to_dense(concated, tf.pack([batch_size, NUM_CLASSES]), 1.0, 0.0)


def test_tutorial_onehot_labels_match_eye(graph):
    labels_v = np.array([3, 0, 9, 3, 7, 1, 1, 5], np.int32)
    labels = tf.placeholder(tf.int32, [None])
    onehot = _tutorial_onehot(labels)
    assert onehot.op.type == "SparseToDense"
    assert onehot.dtype == tf.float32 and onehot.shape.as_list() == [None, NUM_CLASSES]
    with tf.Session() as sess:
        got = sess.run(onehot, {labels: labels_v})
        got_one = sess.run(onehot, {labels: [4]})
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = \[1,10\] is out of bounds"):
            sess.run(onehot, {labels: [2, 10]})
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.eye(NUM_CLASSES)[labels_v])
    np.testing.assert_array_equal(got_one, np.eye(NUM_CLASSES)[[4]])


def test_tutorial_onehot_softmax_regression_trains(graph):
    """A softmax regression on the tutorial's one-hot labels: its gradient matches finite differences,
    the first SGD step matches the closed form, and training lowers the loss."""
    n_in, lr = 6, 0.5
    xv = RNG.standard_normal((8, n_in))
    labels_v = np.array([3, 0, 9, 3, 7, 1, 1, 5], np.int32)
    y = np.eye(NUM_CLASSES)[labels_v]
    x = tf.placeholder(tf.float64, [None, n_in])
    labels = tf.placeholder(tf.int32, [None])
    onehot = tf.cast(_tutorial_onehot(labels), tf.float64)
    w = tf.Variable(tf.zeros([n_in, NUM_CLASSES], dtype=tf.float64))
    b = tf.Variable(tf.zeros([NUM_CLASSES], dtype=tf.float64))
    logits = tf.matmul(x, w) + b
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits, onehot, name="xentropy"))
    gw, gb = tf.gradients(loss, [w, b])
    train = tf.train.GradientDescentOptimizer(lr).minimize(loss)
    feed = {x: xv, labels: labels_v}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        # closed form at W = 0, b = 0: softmax is uniform, dloss/dlogits = (1/10 - onehot) / batch
        dlogits = (np.full_like(y, 0.1) - y) / len(y)
        loss0, gw0, gb0 = sess.run([loss, gw, gb], feed)
        np.testing.assert_allclose(loss0, np.log(NUM_CLASSES))
        np.testing.assert_allclose(gw0, xv.T @ dlogits, atol=1e-12)
        np.testing.assert_allclose(gb0, dlogits.sum(0), atol=1e-12)
        sess.run(train, feed)
        w1, b1 = sess.run([w, b])
        np.testing.assert_allclose(w1, -lr * xv.T @ dlogits, atol=1e-12)
        np.testing.assert_allclose(b1, -lr * dlogits.sum(0), atol=1e-12)
        # finite differences at the new point: loss as a function of W (placeholder view of it)
        wv = tf.placeholder(tf.float64, [n_in, NUM_CLASSES])
        loss_w = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
            logits=tf.matmul(x, wv) + b, labels=onehot))
        gw_sym = sess.run(tf.gradients(loss_w, wv)[0], {**feed, wv: w1})
        np.testing.assert_allclose(gw_sym, _fd_grad(sess, loss_w, wv, w1, feed, 1.0), atol=1e-8)
        losses = [sess.run(loss, feed)]
        for _ in range(30):
            sess.run(train, feed)
        losses.append(sess.run(loss, feed))
    assert losses[0] < loss0 and losses[1] < 0.5 * losses[0]
