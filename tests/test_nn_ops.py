"""tf.nn ops and tf.losses against hand NumPy formulas (float64) and finite differences."""
import numpy as np
import pytest

import nanotf as tf
from nanotf.framework.op_def import registered_ops
from nanotf.ops import nn_ops

RNG = np.random.default_rng(1234)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def _np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _numeric_grad(sess, obj, ph, feed, eps=1e-6):
    base = feed[ph]
    num = np.zeros_like(base)
    for idx in np.ndindex(base.shape):
        hi, lo = base.copy(), base.copy()
        hi[idx] += eps
        lo[idx] -= eps
        num[idx] = (sess.run(obj, {**feed, ph: hi}) - sess.run(obj, {**feed, ph: lo})) / (2 * eps)
    return num


def check_gradients(build, inputs, wrt=None, rtol=1e-5, atol=1e-7):
    """d(sum(build(*inputs) * W))/d(input) from tf.gradients vs central differences (float64 placeholders)."""
    inputs = [np.asarray(a) for a in inputs]
    with tf.Graph().as_default():
        phs = [tf.placeholder(tf.as_dtype(a.dtype), a.shape) for a in inputs]
        out = build(*phs)
        weights = tf.constant(RNG.standard_normal(out.shape.as_list()))
        obj = tf.reduce_sum(out * weights)
        wrt = [i for i, a in enumerate(inputs) if a.dtype.kind == "f"] if wrt is None else wrt
        grads = tf.gradients(obj, [phs[i] for i in wrt])
        feed = dict(zip(phs, inputs))
        with tf.Session() as sess:
            got = sess.run(grads, feed)
            for i, g in zip(wrt, got):
                np.testing.assert_allclose(g, _numeric_grad(sess, obj, phs[i], feed), rtol=rtol, atol=atol)


# -- activations: values, first and second derivatives
ACTIVATIONS = [
    (tf.nn.relu, lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
    (tf.nn.relu6, lambda x: np.clip(x, 0, 6), lambda x: ((x > 0) & (x < 6)) * 1.0),
    (tf.nn.elu, lambda x: np.where(x > 0, x, np.exp(x) - 1), lambda x: np.where(x > 0, 1, np.exp(x))),
    (tf.nn.softplus, lambda x: np.log1p(np.exp(x)), lambda x: 1 / (1 + np.exp(-x))),
    (tf.nn.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x), lambda x: np.where(x > 0, 1, 0.2)),
    (tf.nn.sigmoid, lambda x: 1 / (1 + np.exp(-x)), lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    (tf.nn.tanh, np.tanh, lambda x: 1 - np.tanh(x) ** 2),
]


@pytest.mark.parametrize("fn,value,deriv", ACTIVATIONS, ids=[a[0].__name__ for a in ACTIVATIONS])
def test_activation_values_and_gradients(fn, value, deriv):
    xv = np.array([[-7.0, -2.5, -0.3], [0.4, 3.0, 8.0]])
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [None, 3])
        y = fn(x)
        (g,) = tf.gradients(y, x)
        yv, gv = _run([y, g], {x: xv})
    assert y.dtype == tf.float64 and y.shape.as_list() == [None, 3]
    np.testing.assert_allclose(yv, value(xv), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gv, deriv(xv), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("fn", [a[0] for a in ACTIVATIONS], ids=[a[0].__name__ for a in ACTIVATIONS])
def test_activation_second_derivatives_match_finite_differences(fn):
    xv = np.array([[-2.5, -0.3, 0.4], [1.5, -1.2, 7.0]])
    check_gradients(lambda x: tf.gradients(fn(x) * fn(x), x)[0], [xv])


def test_activation_default_names_and_float32_stability():
    with tf.Graph().as_default():
        x = tf.constant(np.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=np.float32))
        ops = [tf.nn.relu(x), tf.nn.sigmoid(x), tf.nn.tanh(x), tf.nn.softplus(x), tf.nn.elu(x), tf.nn.leaky_relu(x)]
        assert [t.op.name for t in ops] == ["Relu", "Sigmoid", "Tanh", "Softplus", "Elu", "LeakyRelu"]
        with np.errstate(over="raise", invalid="raise", divide="raise"):   # no overflow in the kernels
            vals = _run(ops)
    assert all(v.dtype == np.float32 for v in vals)
    np.testing.assert_array_equal(vals[1], np.float32([0, 1 / (1 + np.exp(100.0)), 0.5, 1 / (1 + np.exp(-100.0)), 1]))
    np.testing.assert_allclose(vals[3], [0, np.exp(-100.0), np.log(2), 100, 1e4], rtol=1e-6, atol=1e-44)
    np.testing.assert_allclose(vals[4], [-1, np.expm1(-100.0), 0, 100, 1e4], rtol=1e-6)


@pytest.mark.parametrize("alpha", [0.2, 0.0, 1.0, 1.5, -0.3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_leaky_relu_and_its_gradient_equal_the_select_formula(alpha, dtype):
    """LeakyRelu's max/min kernel and LeakyReluGrad's looked-up factor give exactly TF's select
    (x > 0 ? x : alpha * x; x > 0 ? g : alpha * g), in every float dtype and for any alpha, with the signs
    of zeros, infinities and NaN; 0-d inputs too."""
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30]
    xv = np.concatenate([RNG.standard_normal(4 * 5 * 6 - len(specials)), specials]).reshape(4, 5, 6).astype(dtype)
    gv = np.concatenate([specials, RNG.standard_normal(4 * 5 * 6 - len(specials))]).reshape(4, 5, 6).astype(dtype)
    a = dtype(alpha)
    for x_val, g_val in ((xv, gv), (xv[0, 0, 0].reshape(()), gv[0, 0, 0].reshape(()))):
        with tf.Graph().as_default():
            x, g = tf.placeholder(dtype, x_val.shape), tf.placeholder(dtype, g_val.shape)
            y = tf.nn.leaky_relu(x, alpha=alpha)
            (dx,) = tf.gradients(y, x, grad_ys=g)
            assert dx.op.type == "LeakyReluGrad"
            with np.errstate(invalid="ignore", over="ignore"):
                yv, dxv = _run([y, dx], {x: x_val, g: g_val})
                want_y, want_dx = np.where(x_val > 0, x_val, x_val * a), np.where(x_val > 0, g_val, g_val * a)
        assert yv.dtype == dxv.dtype == dtype
        np.testing.assert_array_equal(yv, want_y)
        np.testing.assert_array_equal(np.signbit(yv), np.signbit(want_y))
        np.testing.assert_array_equal(dxv, want_dx)
        np.testing.assert_array_equal(np.signbit(dxv), np.signbit(want_dx))


def test_activation_rejects_integer_input_with_op_name():
    with tf.Graph().as_default():
        with pytest.raises(TypeError, match="Sigmoid.*int32"):
            tf.nn.sigmoid(tf.constant([1, 2]))
        np.testing.assert_array_equal(_run(tf.nn.relu(tf.constant([-1, 2]))), [0, 2])   # Relu allows ints, as TF


# -- softmax / log_softmax
def test_softmax_and_log_softmax_with_axis():
    xv = RNG.standard_normal((3, 4, 2))
    with tf.Graph().as_default():
        x = tf.constant(xv)
        outs = [tf.nn.softmax(x), tf.nn.softmax(x, axis=1), tf.nn.softmax(x, dim=0), tf.nn.log_softmax(x, axis=-2)]
        vals = _run(outs)
    np.testing.assert_allclose(vals[0], _np_softmax(xv, -1), rtol=1e-12)
    np.testing.assert_allclose(vals[1], _np_softmax(xv, 1), rtol=1e-12)
    np.testing.assert_allclose(vals[2], _np_softmax(xv, 0), rtol=1e-12)
    np.testing.assert_allclose(vals[3], np.log(_np_softmax(xv, 1)), rtol=1e-12)
    for axis in (-1, 1):
        check_gradients(lambda t: tf.nn.softmax(t, axis=axis), [xv])
        check_gradients(lambda t: tf.nn.log_softmax(t, axis=axis), [xv])
    check_gradients(lambda t: tf.gradients(tf.nn.log_softmax(t) * t, t)[0], [xv[0]])   # second order


def test_softmax_is_stable_for_huge_logits():
    xv = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]], dtype=np.float32)
    with tf.Graph().as_default():
        x = tf.constant(xv)
        sm, lsm = _run([tf.nn.softmax(x), tf.nn.log_softmax(x)])
    np.testing.assert_allclose(sm, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    np.testing.assert_allclose(lsm, [[0, -1e4, -2e4], [-np.log(3)] * 3], rtol=1e-6)


def test_softmax_bad_arguments():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="both 'axis' and 'dim'"):
            tf.nn.softmax(tf.constant([[1.0]]), axis=0, dim=0)
        with pytest.raises(ValueError, match="out of range"):
            tf.nn.softmax(tf.constant([[1.0]]), axis=2)
        with pytest.raises(ValueError, match=">= 1 dimension"):
            tf.nn.softmax(tf.constant(1.0))


# -- sparse softmax cross-entropy
def _np_sparse_xent(logits, labels):
    logp = np.log(_np_softmax(logits))
    return -logp[np.arange(len(labels)), labels]


def test_sparse_xent_values_and_gradient():
    lv = RNG.standard_normal((5, 4))
    yv = np.array([0, 3, 1, 1, 2], dtype=np.int64)
    with tf.Graph().as_default():
        logits = tf.placeholder(tf.float64, [None, 4])
        labels = tf.placeholder(tf.int64, [None])
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        (g,) = tf.gradients(tf.reduce_mean(loss), logits)
        lossv, gv = _run([loss, g], {logits: lv, labels: yv})
    assert loss.shape.as_list() == [None] and loss.dtype == tf.float64
    assert loss.op.name == "SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits"
    np.testing.assert_allclose(lossv, _np_sparse_xent(lv, yv), rtol=1e-12)
    np.testing.assert_allclose(gv, (_np_softmax(lv) - np.eye(4)[yv]) / 5, rtol=1e-12, atol=1e-16)
    check_gradients(lambda x: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yv, logits=x), [lv])


def test_sparse_xent_second_derivative_is_handled():
    lv = RNG.standard_normal((3, 4))
    yv = np.array([2, 0, 3], dtype=np.int32)
    check_gradients(lambda x: tf.gradients(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yv, logits=x), x)[0],
                    [lv])


def test_xent_stable_for_logits_of_magnitude_1e4():
    lv = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [5e3, -5e3, 1e4]], dtype=np.float32)
    yv = np.array([1, 2, 0], dtype=np.int32)
    onehot = np.eye(3, dtype=np.float32)[yv]
    with tf.Graph().as_default():
        logits = tf.constant(lv)
        sparse = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yv, logits=logits)
        dense = tf.nn.softmax_cross_entropy_with_logits_v2(labels=onehot, logits=logits)
        gs, gd = tf.gradients(tf.reduce_sum(sparse), logits)[0], tf.gradients(tf.reduce_sum(dense), logits)[0]
        sv, dv, gsv, gdv = _run([sparse, dense, gs, gd])
    x = lv.astype(np.float64)
    expected_loss = np.log(np.exp(x - x.max(1, keepdims=True)).sum(1)) + x.max(1) - x[np.arange(3), yv]
    for loss, grad in ((sv, gsv), (dv, gdv)):
        assert np.isfinite(loss).all() and np.isfinite(grad).all()
        np.testing.assert_allclose(loss, expected_loss, rtol=1e-6)   # [2e4, log 2, 5e3]
        np.testing.assert_allclose(grad, _np_softmax(x) - onehot, atol=1e-6)


def test_sparse_xent_positional_and_keyword_forms_build_the_same_graph():
    def build(style):
        g = tf.Graph()
        with g.as_default():
            logits = tf.placeholder(tf.float32, [None, 10], name="logits")
            labels = tf.placeholder(tf.int64, [None], name="labels")
            if style == "positional":
                out = tf.nn.sparse_softmax_cross_entropy_with_logits(logits, labels, name="xentropy")
            elif style == "positional_name":
                out = tf.nn.sparse_softmax_cross_entropy_with_logits(logits, labels, "xentropy")
            else:
                out = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
        return out, [(op.name, op.type, [t.name for t in op.inputs]) for op in g.get_operations()]

    keyword, kw_ops = build("keyword")
    for style in ("positional", "positional_name"):
        out, ops = build(style)
        assert ops == kw_ops
        assert out.name == keyword.name
    # TF 1.x creates the op named `name` inside the name scope `name`
    assert keyword.name == "xentropy/xentropy:0"
    assert keyword.op.inputs[0].name == "logits:0" and keyword.op.inputs[1].name == "labels:0"


def test_sparse_xent_out_of_range_label_is_invalid_argument_naming_the_op():
    with tf.Graph().as_default():
        logits = tf.placeholder(tf.float32, [None, 10])
        labels = tf.placeholder(tf.int32, [None])
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
        with tf.Session() as sess:
            with pytest.raises(tf.errors.InvalidArgumentError) as info:
                sess.run(loss, {logits: np.zeros((3, 10)), labels: [1, 10, 2]})
            assert "Received a label value of 10 which is outside the valid range of [0, 10).  Label values: 1 10 2" \
                in info.value.message
            assert info.value.op is loss.op and "xentropy/xentropy" in str(info.value)
            with pytest.raises(tf.errors.InvalidArgumentError, match="label value of -1 "):
                sess.run(loss, {logits: np.zeros((2, 10)), labels: [-1, 12]})


def test_sparse_xent_build_time_checks_name_the_shapes():
    with tf.Graph().as_default():
        logits = tf.placeholder(tf.float32, [4, 10])
        with pytest.raises(ValueError, match=r"Rank mismatch: Rank of labels \(received 2\) should equal rank of "
                                             r"logits minus 1 \(received 2\)"):
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.placeholder(tf.int32, [4, 10]), logits=logits)
        with pytest.raises(ValueError, match=r"Shape mismatch.*\(3,\).*\(4, 10\)"):
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.placeholder(tf.int32, [3]), logits=logits)
        with pytest.raises(TypeError, match="int32 or int64"):
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.placeholder(tf.float32, [4]), logits=logits)
        with pytest.raises(ValueError, match="labels and logits"):
            tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits)


def test_sparse_xent_higher_rank_labels():
    lv = RNG.standard_normal((2, 3, 4))
    yv = RNG.integers(0, 4, (2, 3)).astype(np.int32)
    with tf.Graph().as_default():
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yv, logits=tf.constant(lv))
        assert loss.shape.as_list() == [2, 3]
        got = _run(loss)
    np.testing.assert_allclose(got, _np_sparse_xent(lv.reshape(6, 4), yv.ravel()).reshape(2, 3), rtol=1e-12)


# -- dense softmax cross-entropy
def test_dense_xent_values_and_gradients():
    lv = RNG.standard_normal((4, 3))
    pv = _np_softmax(RNG.standard_normal((4, 3)))
    expected = -(pv * np.log(_np_softmax(lv))).sum(1)
    with tf.Graph().as_default():
        logits, labels = tf.constant(lv), tf.constant(pv)
        v1 = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        v1_pos = tf.nn.softmax_cross_entropy_with_logits(logits, labels)      # TF <= 1.0 positional order
        v2 = tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)
        assert v1.op.name == "softmax_cross_entropy_with_logits_sg"
        assert v2.op.name == "softmax_cross_entropy_with_logits"
        assert tf.gradients(v1, labels) == [None]          # v1 stops gradients into labels
        vals = _run([v1, v1_pos, v2])
    for v in vals:
        np.testing.assert_allclose(v, expected, rtol=1e-12)
    check_gradients(lambda x, y: tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=x), [lv, pv])
    check_gradients(lambda x, y: tf.gradients(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=x), x)[0],
                    [lv, pv])


def test_sigmoid_cross_entropy_with_logits():
    xv = np.array([[-30.0, -1.0, 0.0], [0.5, 2.0, 30.0]])
    zv = np.array([[0.0, 1.0, 0.3], [1.0, 0.0, 1.0]])
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [2, 3])
        loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=zv, logits=x)
        (g,) = tf.gradients(loss, x)
        lv, gv = _run([loss, g], {x: xv})
    p = 1 / (1 + np.exp(-xv))
    # softplus(x) - x*z cancels for large x with z = 1: exact to ~1e-15 absolute, as TF's formula is
    np.testing.assert_allclose(lv, -(zv * np.log(p) + (1 - zv) * np.log(1 - p)), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(gv, p - zv, rtol=1e-12, atol=1e-15)   # includes logits == 0 exactly


# -- in_top_k
def test_in_top_k_ties_count_as_in():
    pred = np.array([[0.1, 0.3, 0.3, 0.2],    # target 2 ties with 1 for the top score
                     [0.4, 0.4, 0.4, 0.1],    # three-way tie, target 0
                     [0.9, 0.8, 0.7, 0.6],    # target 3 is last
                     [0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    targets = np.array([2, 0, 3, 2], dtype=np.int32)
    with tf.Graph().as_default():
        p, t = tf.constant(pred), tf.constant(targets)
        outs = [tf.nn.in_top_k(p, t, k) for k in (1, 2, 3, 4)] + [tf.nn.in_top_k(p, t, tf.constant(2))]
        assert outs[0].dtype == tf.bool and outs[0].shape.as_list() == [4] and outs[0].op.type == "InTopK"
        vals = _run(outs)
    np.testing.assert_array_equal(vals[0], [True, True, False, False])
    np.testing.assert_array_equal(vals[1], [True, True, False, True])
    np.testing.assert_array_equal(vals[2], [True, True, False, True])
    np.testing.assert_array_equal(vals[3], [True, True, True, True])
    np.testing.assert_array_equal(vals[4], vals[1])


def test_in_top_k_non_finite_rows_are_false_and_out_of_range_errors():
    pred = np.array([[np.nan, 1.0, 0.0], [np.inf, 1.0, 0.0], [-np.inf, 1.0, 0.0], [0.0, 1.0, 2.0]], dtype=np.float32)
    with tf.Graph().as_default():
        p = tf.placeholder(tf.float32, [None, 3])
        t = tf.placeholder(tf.int64, [None])
        out = tf.nn.in_top_k(p, t, 3)
        with tf.Session() as sess:
            np.testing.assert_array_equal(sess.run(out, {p: pred, t: [1, 1, 1, 0]}), [False, False, False, True])
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"targets\[2\] is out of range") as info:
                sess.run(out, {p: pred, t: [0, 1, 3, 0]})
            assert info.value.op is out.op
        with pytest.raises(ValueError, match="Dimensions must be equal"):
            tf.nn.in_top_k(tf.zeros([4, 3]), tf.zeros([5], tf.int32), 1)


def test_in_top_k_large_batch_matches_loop():
    pred = RNG.standard_normal((55000, 10)).astype(np.float32)
    pred[::7, 3] = pred[::7, 5]               # plenty of ties
    targets = RNG.integers(0, 10, 55000).astype(np.int32)
    with tf.Graph().as_default():
        outs = _run([tf.nn.in_top_k(pred, targets, 1), tf.nn.in_top_k(pred, targets, 3)])
    higher = (pred > pred[np.arange(55000), targets][:, None]).sum(1)
    np.testing.assert_array_equal(outs[0], higher < 1)
    np.testing.assert_array_equal(outs[1], higher < 3)


# -- bias_add, xw_plus_b, l2_loss
def test_bias_add_values_and_gradient():
    xv, bv = RNG.standard_normal((2, 3, 4)), RNG.standard_normal(4)
    with tf.Graph().as_default():
        x, b = tf.placeholder(tf.float64, [None, 3, 4]), tf.placeholder(tf.float64, [4])
        y = tf.nn.bias_add(x, b)
        assert y.op.name == "BiasAdd" and y.shape.as_list() == [None, 3, 4]
        gy = tf.constant(RNG.standard_normal((2, 3, 4)))
        gx, gb = tf.gradients(y, [x, b], grad_ys=gy)
        assert gb.op.type == "BiasAddGrad"
        yv, gxv, gbv, gyv = _run([y, gx, gb, gy], {x: xv, b: bv})
    np.testing.assert_allclose(yv, xv + bv, rtol=1e-15)
    np.testing.assert_allclose(gxv, gyv, rtol=1e-15)
    np.testing.assert_allclose(gbv, gyv.sum(axis=(0, 1)), rtol=1e-12)
    check_gradients(lambda t, c: tf.nn.bias_add(t, c, data_format="NCHW"),
                    [RNG.standard_normal((2, 3, 2, 2)), RNG.standard_normal(3)])
    check_gradients(lambda t, c: tf.gradients(tf.nn.bias_add(t, c) * tf.nn.bias_add(t, c), c)[0],
                    [xv, bv])   # through BiasAddGrad's gradient


def test_bias_add_shape_errors():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="Dimensions must be equal, but are 4 and 3"):
            tf.nn.bias_add(tf.zeros([2, 4]), tf.zeros([3]))
        with pytest.raises(ValueError, match="rank 1"):
            tf.nn.bias_add(tf.zeros([2, 4]), tf.zeros([1, 4]))
        with pytest.raises(ValueError, match="at least rank 2"):
            tf.nn.bias_add(tf.zeros([4]), tf.zeros([4]))


def test_xw_plus_b_and_l2_loss():
    xv, wv, bv = RNG.standard_normal((3, 2)), RNG.standard_normal((2, 4)), RNG.standard_normal(4)
    with tf.Graph().as_default():
        y = tf.nn.xw_plus_b(tf.constant(xv), tf.constant(wv), tf.constant(bv))
        t = tf.constant(xv)
        loss = tf.nn.l2_loss(t)
        assert y.op.name == "xw_plus_b" and loss.op.name == "L2Loss" and loss.shape.as_list() == []
        (g,) = tf.gradients(loss, t)
        yv, lv, gv = _run([y, loss, g])
    np.testing.assert_allclose(yv, xv @ wv + bv, rtol=1e-12)
    np.testing.assert_allclose(lv, (xv ** 2).sum() / 2, rtol=1e-12)
    np.testing.assert_allclose(gv, xv, rtol=1e-15)


# -- dropout
def test_dropout_with_placeholder_keep_prob_statistics_and_scaling():
    xv = np.ones((200, 500), dtype=np.float32) * 3.0
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 500])
        keep = tf.placeholder(tf.float32)
        y = tf.nn.dropout(x, keep)
        assert y.shape.as_list() == [None, 500] and y.op.name.startswith("dropout/")
        (g,) = tf.gradients(y, x)
        with tf.Session() as sess:
            for kp in (0.25, 0.5, 0.9):
                yv, gv = sess.run([y, g], {x: xv, keep: kp})
                kept = yv != 0
                assert abs(kept.mean() - kp) < 0.01                       # 100000 Bernoulli draws
                np.testing.assert_allclose(yv[kept], 3.0 / kp, rtol=1e-6)  # kept units scaled by 1/keep_prob
                np.testing.assert_allclose(gv, kept / np.float32(kp), rtol=1e-6)
            np.testing.assert_array_equal(sess.run(y, {x: xv, keep: 1.0}), xv)


def test_dropout_keep_prob_one_rate_noise_shape_and_seeds():
    xv = RNG.standard_normal((50, 40))
    with tf.Graph().as_default():
        x = tf.constant(xv)
        assert tf.nn.dropout(x, 1.0) is x and tf.nn.dropout(x, rate=0.0) is x
        tf.set_random_seed(7)
        a = tf.nn.dropout(x, rate=0.75, seed=3)
        cols = tf.nn.dropout(x, 0.5, noise_shape=[1, 40])
        av, cv = _run([a, cols])
        av2, _ = _run([a, cols])
    assert abs((av != 0).mean() - 0.25) < 0.05
    np.testing.assert_array_equal(av, av2)              # same seeds, same mask in a new session
    zero_cols = (cv == 0).all(axis=0)
    np.testing.assert_allclose(cv[:, ~zero_cols], xv[:, ~zero_cols] * 2, rtol=1e-12)
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match=r"range \(0, 1\], got 1.5"):
            tf.nn.dropout(tf.zeros([2]), 1.5)
        with pytest.raises(ValueError, match="both keep_prob and rate"):
            tf.nn.dropout(tf.zeros([2]), 0.5, rate=0.5)
        with pytest.raises(ValueError, match="floating point"):
            tf.nn.dropout(tf.zeros([2], tf.int32), 0.5)


# -- moments
def test_moments():
    xv = RNG.standard_normal((4, 3, 2))
    with tf.Graph().as_default():
        x = tf.constant(xv)
        mean, var = tf.nn.moments(x, [0, 2])
        mk, vk = tf.nn.moments(x, [1], keep_dims=True)
        assert mean.shape.as_list() == [3] and vk.shape.as_list() == [4, 1, 2]
        vals = _run([mean, var, mk, vk])
    np.testing.assert_allclose(vals[0], xv.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(vals[1], xv.var(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(vals[2], xv.mean(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(vals[3], xv.var(axis=1, keepdims=True), rtol=1e-12)
    check_gradients(lambda t: tf.nn.moments(t, [0])[1], [xv[:, :, 0]])


def test_l2_normalize_and_zero_fraction():
    xv = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, -1.0]])
    with tf.Graph().as_default():
        x = tf.constant(xv)
        rows, whole = tf.nn.l2_normalize(x, axis=1), tf.nn.l2_normalize(x)
        zf = tf.nn.zero_fraction(tf.nn.relu(x))
        assert rows.op.name == "l2_normalize" and zf.dtype == tf.float32
        vals = _run([rows, whole, zf])
    np.testing.assert_allclose(vals[0], [[0.6, 0.8], [0, 0], [2 ** -0.5, -2 ** -0.5]], rtol=1e-12)
    np.testing.assert_allclose(vals[1], xv / np.sqrt(27.0), rtol=1e-12)
    assert vals[2] == 3 / 6
    check_gradients(lambda t: tf.nn.l2_normalize(t, axis=1), [xv[[0, 2]]])


# -- tf.losses
def test_losses_sparse_softmax_cross_entropy_mean_weights_and_collection():
    lv = RNG.standard_normal((4, 3)).astype(np.float32)
    yv = np.array([0, 2, 1, 1], dtype=np.int32)
    per_example = _np_sparse_xent(lv.astype(np.float64), yv)
    wv = np.array([1.0, 0.0, 2.0, 0.0], dtype=np.float32)
    with tf.Graph().as_default():
        logits = tf.constant(lv)
        mean = tf.losses.sparse_softmax_cross_entropy(labels=yv, logits=logits)
        assert mean.op.name == "sparse_softmax_cross_entropy_loss/value" and mean.shape.as_list() == []
        assert tf.get_default_graph().get_operation_by_name("sparse_softmax_cross_entropy_loss/xentropy/xentropy")
        weighted = tf.losses.sparse_softmax_cross_entropy(yv, logits, weights=wv)
        summed = tf.losses.sparse_softmax_cross_entropy(yv, logits, reduction=tf.losses.Reduction.SUM,
                                                        loss_collection=None)
        none = tf.losses.sparse_softmax_cross_entropy(yv[:, None], logits, weights=2.0, loss_collection=None,
                                                      reduction=tf.losses.Reduction.NONE)
        zero = tf.losses.sparse_softmax_cross_entropy(yv, logits, weights=0.0)
        assert tf.losses.get_losses() == [mean, weighted, zero]
        total = tf.losses.get_total_loss()
        vals = _run([mean, weighted, summed, none, zero, total])
    np.testing.assert_allclose(vals[0], per_example.mean(), rtol=1e-6)
    np.testing.assert_allclose(vals[1], (per_example * wv).sum() / 2, rtol=1e-6)   # 2 nonzero weights
    np.testing.assert_allclose(vals[2], per_example.sum(), rtol=1e-6)
    np.testing.assert_allclose(vals[3], 2 * per_example, rtol=1e-6)
    assert vals[4] == 0.0
    np.testing.assert_allclose(vals[5], vals[0] + vals[1] + vals[4], rtol=1e-6)

    with tf.Graph().as_default():
        logits = tf.constant(lv)
        (g,) = tf.gradients(tf.losses.sparse_softmax_cross_entropy(yv, logits, weights=wv), logits)
        gv = _run(g)
    expected = (_np_softmax(lv.astype(np.float64)) - np.eye(3)[yv]) * wv[:, None] / 2
    np.testing.assert_allclose(gv, expected, rtol=1e-5, atol=1e-7)


def test_losses_softmax_cross_entropy_smoothing_and_reductions():
    lv = RNG.standard_normal((3, 4))
    onehot = np.eye(4)[[1, 0, 3]]
    smoothed = onehot * 0.9 + 0.1 / 4
    per_example = -(smoothed * np.log(_np_softmax(lv))).sum(1)
    wv = np.array([[1.0], [2.0], [3.0]])
    with tf.Graph().as_default():
        R = tf.losses.Reduction
        outs = [tf.losses.softmax_cross_entropy(onehot, lv, label_smoothing=0.1),
                tf.losses.softmax_cross_entropy(onehot, lv, weights=wv[:, 0], label_smoothing=0.1, reduction=R.MEAN),
                tf.losses.softmax_cross_entropy(onehot, lv, label_smoothing=0.1, reduction=R.SUM_OVER_BATCH_SIZE)]
        assert outs[0].dtype == tf.float64 and outs[0].op.type == "Cast"   # float32 inside, as in TF
        f32 = tf.losses.softmax_cross_entropy(onehot, lv.astype(np.float32), loss_collection=None)
        assert f32.op.name.startswith("softmax_cross_entropy_loss") and f32.op.name.endswith("/value")
        with pytest.raises(ValueError, match="Invalid Reduction Key"):
            tf.losses.softmax_cross_entropy(onehot, lv, reduction="mean")
        with pytest.raises(ValueError, match="weights can not be broadcast"):
            tf.losses.softmax_cross_entropy(onehot, lv, weights=np.ones((2, 1)))
        vals = _run(outs)
    np.testing.assert_allclose(vals[0], per_example.mean(), rtol=1e-6)
    np.testing.assert_allclose(vals[1], (per_example * wv[:, 0]).sum() / 6, rtol=1e-6)
    np.testing.assert_allclose(vals[2], per_example.mean(), rtol=1e-6)


def test_losses_mean_squared_error_and_sigmoid_cross_entropy():
    pv, yv = RNG.standard_normal((3, 2)), RNG.standard_normal((3, 2))
    wv = np.array([[0.0, 1.0], [2.0, 0.0], [1.0, 1.0]])
    zv = (yv > 0).astype(np.float64)
    with tf.Graph().as_default():
        mse = tf.losses.mean_squared_error(labels=yv, predictions=pv)
        mse_w = tf.losses.mean_squared_error(yv, pv, weights=tf.constant(wv))
        sce = tf.losses.sigmoid_cross_entropy(zv, pv)
        assert mse.op.name == "mean_squared_error/value" and mse.dtype == tf.float32
        with pytest.raises(ValueError, match="labels must not be None"):
            tf.losses.mean_squared_error(None, pv)
        vals = _run([mse, mse_w, sce])
    p = 1 / (1 + np.exp(-pv))
    np.testing.assert_allclose(vals[0], ((pv - yv) ** 2).mean(), rtol=1e-6)
    np.testing.assert_allclose(vals[1], (wv * (pv - yv) ** 2).sum() / 4, rtol=1e-6)
    np.testing.assert_allclose(vals[2], -(zv * np.log(p) + (1 - zv) * np.log(1 - p)).mean(), rtol=1e-6)


def test_get_total_loss_with_regularization_and_empty():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="No losses"):
            tf.losses.get_total_loss()
        assert _run(tf.losses.get_regularization_loss()) == 0.0
        tf.losses.add_loss(tf.constant(1.5))
        tf.add_to_collection(tf.GraphKeys.REGULARIZATION_LOSSES, tf.constant(0.25))
        total = tf.losses.get_total_loss()
        assert total.op.name == "total_loss"
        assert _run(total) == 1.75
        assert _run(tf.losses.get_total_loss(add_regularization_losses=False)) == 1.5


# -- every op this module registers: its samples build, and gradients match finite differences
def _sample_input(spec):
    if callable(spec):
        return np.asarray(spec(RNG), dtype=np.float64)
    if isinstance(spec, tuple):
        return RNG.standard_normal(spec)
    return np.asarray(spec)


NN_OPS = sorted(name for name, cls in registered_ops().items() if cls.__module__ == nn_ops.__name__)


@pytest.mark.parametrize("op_type", NN_OPS)
def test_samples_of_nn_op(op_type):
    cls = registered_ops()[op_type]
    assert cls.samples, "%s has no samples" % op_type
    for sample in cls.samples:
        inputs = [_sample_input(s) for s in sample.inputs]
        with tf.Graph().as_default():
            phs = [tf.placeholder(tf.as_dtype(a.dtype), a.shape) for a in inputs]
            out = sample.build(*phs)
            value = _run(out, dict(zip(phs, inputs)))
            assert out.shape.is_compatible_with(np.shape(value)) and out.dtype.as_numpy_dtype == np.asarray(value).dtype
            assert op_type in {op.type for op in tf.get_default_graph().get_operations()}
        wrt = sample.grad if sample.grad is not None else [i for i, a in enumerate(inputs) if a.dtype.kind == "f"]
        if cls.is_differentiable() and wrt:
            check_gradients(sample.build, inputs, wrt=list(wrt), rtol=1e-4, atol=1e-6)


def test_dense_xent_over_a_non_last_axis():
    lv = RNG.standard_normal((4, 3, 2))
    pv = _np_softmax(RNG.standard_normal((4, 3, 2)), axis=1)
    with tf.Graph().as_default():
        loss = tf.nn.softmax_cross_entropy_with_logits_v2(labels=pv, logits=tf.constant(lv), axis=1)
        assert loss.shape.as_list() == [4, 2]
        got = _run(loss)
    np.testing.assert_allclose(got, -(pv * np.log(_np_softmax(lv, axis=1))).sum(1), rtol=1e-12)
    check_gradients(lambda x: tf.nn.softmax_cross_entropy_with_logits_v2(labels=pv, logits=x, axis=1), [lv])


@pytest.mark.parametrize("training", [True, False])
def test_fused_batch_norm_float32_matches_float64_formulas(training):
    """FusedBatchNormNT and its gradient in float32 on a DCGAN-sized batch (6272 rows of 16 channels, mean
    far from 0) against the closed forms in float64. Sums of n = 6272 terms carry at most n eps of their
    absolute sums; the checks allow 1e-4 relative to each output's scale, well above that in practice."""
    x = (RNG.standard_normal((32, 14, 14, 16)) * 3 + 5).astype(np.float32)
    dy = RNG.standard_normal(x.shape).astype(np.float32)
    scale, offset = RNG.uniform(0.5, 2, 16).astype(np.float32), RNG.standard_normal(16).astype(np.float32)
    mean_in, var_in = RNG.standard_normal(16).astype(np.float32) + 5, RNG.uniform(5, 15, 16).astype(np.float32)
    eps = 1e-3
    with tf.Graph().as_default():
        xt, st, ot = tf.constant(x), tf.constant(scale), tf.constant(offset)
        if training:
            y, m, v = tf.nn.fused_batch_norm(xt, st, ot, epsilon=eps)
        else:
            y, m, v = tf.nn.fused_batch_norm(xt, st, ot, mean=mean_in, variance=var_in, epsilon=eps, is_training=False)
        grads = tf.gradients(y, [xt, st, ot], grad_ys=tf.constant(dy))
        yv, mv, vv, dxv, dsv, dov = _run([y, m, v] + grads)
    x64, dy64 = x.reshape(-1, 16).astype(np.float64), dy.reshape(-1, 16).astype(np.float64)
    n = len(x64)
    mu, var = (x64.mean(0), x64.var(0)) if training else (mean_in.astype(np.float64), var_in.astype(np.float64))
    inv = 1 / np.sqrt(var + eps)
    xhat = (x64 - mu) * inv
    want_y = xhat * scale + offset
    want_ds, want_do = (dy64 * xhat).sum(0), dy64.sum(0)
    k = scale * inv
    want_dx = k * (dy64 - want_do / n - xhat * want_ds / n) if training else dy64 * k
    assert all(v.dtype == np.float32 for v in (yv, mv, vv, dxv, dsv, dov))
    if training:
        np.testing.assert_allclose(mv, mu, rtol=1e-5)
        np.testing.assert_allclose(vv, var * n / (n - 1), rtol=1e-4)
    for got, want in ((yv.reshape(-1, 16), want_y), (dxv.reshape(-1, 16), want_dx), (dsv, want_ds), (dov, want_do)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * np.abs(want).max())
