"""The XLA lowerings of the functional control-flow ops (If, While and their gradients) and the fused RNN
sequence ops (LSTMSequence, GRUSequence and their gradients) against the NumPy kernels: the registry's samples
in float64 with their gradient ops (values, shapes, dtypes), loops whose trip count is only known at run time,
and training steps of a tf.while_loop RNN and of dynamic_rnn LSTM/GRU networks giving the NumPy backend's
losses (float32)."""
import zlib

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="the XLA backend needs jax: pip install 'nanotf[xla]'")

import nanotf as tf  # noqa: E402
from nanotf.framework import errors  # noqa: E402
from nanotf.framework.op_def import registered_ops  # noqa: E402
from nanotf.xla import standalone  # noqa: E402
from nanotf.xla.executable import runs_on_host  # noqa: E402

OPS = registered_ops()
FORWARD = ["If", "While", "LSTMSequence", "GRUSequence"]
GRADIENT = {"If": "IfGrad", "While": "WhileGrad", "LSTMSequence": "LSTMSequenceGrad", "GRUSequence": "GRUSequenceGrad"}
CASES = [(name, i) for name in FORWARD for i in range(len(OPS[name].samples))]


def xla_config():
    return tf.ConfigProto(graph_options=tf.GraphOptions(optimizer_options=tf.OptimizerOptions(
        global_jit_level=tf.OptimizerOptions.ON_1)))


def _assert_close(name, want, got, rtol=1e-9, atol=1e-12):
    want, got = np.asarray(want), np.asarray(got)
    assert got.dtype == want.dtype, "%s: XLA gave dtype %s, NumPy %s" % (name, got.dtype, want.dtype)
    assert got.shape == want.shape, "%s: XLA gave shape %s, NumPy %s" % (name, got.shape, want.shape)
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=name)
    else:
        np.testing.assert_array_equal(got, want, err_msg=name)


def test_every_op_here_has_a_lowering():
    for name in FORWARD + list(GRADIENT.values()):
        assert OPS[name].lower is not None, name


@pytest.mark.parametrize("op_type,index", CASES, ids=["%s-%d" % c for c in CASES])
def test_sample_and_its_gradient_match_the_numpy_kernels(op_type, index):
    """Each sample fed in float64, its outputs weighted by fixed random tensors and differentiated with respect
    to every floating input: every output of the op and of its gradient op, and the gradients, agree."""
    sample = OPS[op_type].samples[index]
    rng = np.random.default_rng(zlib.crc32(op_type.encode()) + index)
    values = [np.array(rng.standard_normal(s) if isinstance(s, tuple) else s) for s in sample.inputs]
    g = tf.Graph()
    with g.as_default():
        inputs = [tf.placeholder(tf.as_dtype(v.dtype), v.shape, name="input%d" % i) for i, v in enumerate(values)]
        out = sample.build(*inputs)
        outs = [o for o in (out if isinstance(out, (list, tuple)) else [out]) if o.dtype.is_floating]
        loss = tf.add_n([tf.reduce_sum(o * rng.standard_normal(o.shape.as_list())) for o in outs])
        wrt = [t for t, v in zip(inputs, values) if v.dtype.kind == "f"]
        grads = [d for d in tf.gradients(loss, wrt) if d is not None]
    ops = [op for op in g.get_operations() if op.type in (op_type, GRADIENT[op_type])]
    assert {op.type for op in ops} == {op_type, GRADIENT[op_type]}
    assert not any(runs_on_host(op) for op in ops), "these ops must run inside the XLA computation"
    fetch = [t for op in ops for t in op.outputs if t.dtype != tf.string] + outs + grads
    feeds = dict(zip(inputs, values))
    with tf.Session(graph=g) as sess:
        want = sess.run(fetch, feeds)
        got = standalone.run(sess, fetch, feeds)
    for t, w, x in zip(fetch, want, got):
        _assert_close(t.name, w, x)


def _counter_loop(bound_fed, maximum_iterations=None):
    """A loop whose trip count depends on a value (its condition reads the data): XLA runs it as a
    lax.while_loop, or, for the gradient, as a masked scan of maximum_iterations steps."""
    x = tf.placeholder(tf.float64, [3])
    limit = tf.placeholder(tf.float64, []) if bound_fed else None

    def cond(i, y):
        return tf.reduce_sum(y) < limit if bound_fed else i < 4

    _, y = tf.while_loop(cond, lambda i, y: (i + 1, y * 1.5 + x), [0, x], maximum_iterations=maximum_iterations)
    return x, limit, y


@pytest.mark.parametrize("maximum_iterations", [None, 3, 50])
def test_loop_with_a_trip_count_known_only_at_run_time(graph, maximum_iterations):
    x, limit, y = _counter_loop(True, maximum_iterations)
    feeds = {x: np.array([0.5, 1.0, 0.25]), limit: 40.0}
    fetch = [y]
    if maximum_iterations is not None:
        fetch += tf.gradients(tf.reduce_sum(y * y), [x])
    with tf.Session() as sess:
        want = sess.run(fetch, feeds)
        got = standalone.run(sess, fetch, feeds)
    for t, w, v in zip(fetch, want, got):
        _assert_close(t.name, w, v)


def test_gradient_of_a_run_time_loop_without_maximum_iterations_is_refused(graph):
    x, limit, y = _counter_loop(True)
    dx, = tf.gradients(tf.reduce_sum(y), [x])
    with tf.Session() as sess:
        with pytest.raises(errors.UnimplementedError, match="maximum_iterations"):
            standalone.run(sess, dx, {x: np.ones(3), limit: 10.0})


def _nested(x):
    """A loop holding a loop and a cond."""
    def body(i, y):
        inner = tf.while_loop(lambda j, z: j < 2, lambda j, z: (j + 1, z * 0.5 + y), [0, y])[1]
        return i + 1, tf.cond(tf.reduce_sum(inner) > 0, lambda: inner + 1.0, lambda: inner - 1.0)
    return tf.while_loop(lambda i, y: i < 3, body, [0, x])[1]


def test_nested_loops_and_conds_run_and_their_gradient_is_refused(graph):
    x = tf.placeholder(tf.float64, [3])
    y = _nested(x)
    dx, = tf.gradients(tf.reduce_sum(y), [x])
    feeds = {x: np.array([1.0, -2.0, 0.5])}
    with tf.Session() as sess:
        _assert_close("y", sess.run(y, feeds), standalone.run(sess, y, feeds))
        with pytest.raises(errors.UnimplementedError, match="inside a loop body"):
            standalone.run(sess, dx, feeds)


def test_random_op_in_a_cond_uses_one_mask_forwards_and_backwards(graph):
    """Dropout under tf.cond: IfGrad recomputes the branch with the forward's key, so d y / d x = mask / keep
    for the mask y = x * mask / keep was drawn with; and each run draws a new mask."""
    x = tf.placeholder(tf.float64, [200])
    training = tf.placeholder(tf.bool, [])
    y = tf.cond(training, lambda: tf.nn.dropout(x, keep_prob=0.5), lambda: x)
    dx, = tf.gradients(tf.reduce_sum(y), [x])
    feeds = {x: np.linspace(1.0, 2.0, 200), training: True}
    with tf.Session() as sess:
        y1, d1 = standalone.run(sess, [y, dx], feeds)
        y2, _ = standalone.run(sess, [y, dx], feeds)
    kept = y1 != 0
    assert 50 < kept.sum() < 150 and not np.array_equal(kept, y2 != 0)
    np.testing.assert_allclose(y1[kept], 2 * feeds[x][kept], rtol=1e-15)
    np.testing.assert_array_equal(d1, 2.0 * kept)


def test_random_op_in_a_loop_draws_per_iteration_and_its_gradient_reads_the_drawn_masks(graph):
    """Two iterations of dropout: y = x * m1 * m2 * 4, so d sum(y) / dx = y / x, and the masks differ."""
    x = tf.placeholder(tf.float64, [400])
    _, y = tf.while_loop(lambda i, y: i < 2, lambda i, y: (i + 1, tf.nn.dropout(y, keep_prob=0.5)), [0, x])
    dx, = tf.gradients(tf.reduce_sum(y), [x])
    xv = np.linspace(1.0, 2.0, 400)
    with tf.Session() as sess:
        yv, dv = standalone.run(sess, [y, dx], {x: xv})
    assert 50 < (yv != 0).sum() < 150   # about a quarter survive both masks: two different draws
    np.testing.assert_allclose(dv, yv / xv, rtol=1e-15)


# -- training on both backends from the same initial weights and batches
def _train_both(build, feeds_for, steps=4, lr=0.1):
    """Per-step losses of SGD on one batch on the NumPy and XLA backends, from the NumPy session's initial
    weights."""
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(3)
        placeholders, loss = build()
        train = tf.train.GradientDescentOptimizer(lr).minimize(loss)
        init = tf.global_variables_initializer()
    ref, xla = tf.Session(graph=g), tf.Session(graph=g, config=xla_config())
    ref.run(init)
    xla.run(init)
    for v in g.get_collection(tf.GraphKeys.GLOBAL_VARIABLES):
        v.load(ref.run(v), xla)
    fd = dict(zip(placeholders, feeds_for(np.random.default_rng(7))))   # one batch: its loss must fall
    want, got = [], []
    for _ in range(steps):
        want.append(ref.run([train, loss], fd)[1])
        got.append(xla.run([train, loss], fd)[1])
    device_types = {op.type for ex in xla._plans.values() for op in getattr(ex, "device_ops", ())}
    ref.close()
    xla.close()
    return np.array(want), np.array(got), device_types


def _mnist_rows(rng, batch=16, steps=28, depth=28):
    images = rng.random((batch, steps, depth)).astype(np.float32)
    return images, rng.integers(0, 10, batch).astype(np.int64)


def test_while_loop_rnn_training_matches_numpy_backend():
    """examples/tf1/while_loop_rnn_mnist.py's model, smaller: an LSTM step written by hand in tf.while_loop
    (rows picked with tf.gather), dropout under tf.cond (off: fed False), softmax cross-entropy, SGD."""
    hidden = 16

    def build():
        x = tf.placeholder(tf.float32, [None, 28, 28])
        y = tf.placeholder(tf.int64, [None])
        training = tf.placeholder_with_default(False, [])
        w = tf.get_variable("w", [28 + hidden, 4 * hidden], initializer=tf.glorot_uniform_initializer())
        b = tf.get_variable("b", [4 * hidden], initializer=tf.zeros_initializer())
        rows = tf.transpose(x, [1, 0, 2])
        h0 = tf.zeros(tf.stack([tf.shape(x)[0], hidden]))

        def body(t, h, c):
            gates = tf.matmul(tf.concat([tf.gather(rows, t), h], 1), w) + b
            i, j, f, o = tf.split(gates, 4, axis=1)
            c = c * tf.sigmoid(f + 1.0) + tf.sigmoid(i) * tf.tanh(j)
            return t + 1, tf.tanh(c) * tf.sigmoid(o), c
        _, h, _ = tf.while_loop(lambda t, h, c: t < 28, body, [tf.constant(0), h0, h0])
        h = tf.cond(training, lambda: tf.nn.dropout(h, keep_prob=0.8), lambda: h)
        out_w = tf.Variable(tf.truncated_normal([hidden, 10], stddev=0.1))
        logits = tf.matmul(h, out_w)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        return (x, y), loss
    want, got, on_device = _train_both(build, _mnist_rows)
    assert {"While", "WhileGrad", "If", "IfGrad"} <= on_device
    np.testing.assert_allclose(got, want, rtol=1e-4)
    assert want[-1] < want[0]   # it trains


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_dynamic_rnn_training_matches_numpy_backend(cell):
    """dynamic_rnn over a fused sequence op (LSTMSequence / GRUSequence), with sequence lengths."""
    hidden = 12

    def build():
        x = tf.placeholder(tf.float32, [None, 28, 28])
        y = tf.placeholder(tf.int64, [None])
        lengths = tf.placeholder(tf.int32, [None])
        rnn_cell = tf.nn.rnn_cell.BasicLSTMCell(hidden) if cell == "lstm" else tf.nn.rnn_cell.GRUCell(hidden)
        outputs, state = tf.nn.dynamic_rnn(rnn_cell, x, sequence_length=lengths, dtype=tf.float32)
        last = state.h if cell == "lstm" else state
        logits = tf.layers.dense(last + tf.reduce_mean(outputs, 1), 10)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        return (x, y, lengths), loss

    def feeds(rng):
        images, labels = _mnist_rows(rng)
        return images, labels, rng.integers(0, 29, len(labels)).astype(np.int32)
    want, got, on_device = _train_both(build, feeds)
    fused = "LSTMSequence" if cell == "lstm" else "GRUSequence"
    assert {fused, fused + "Grad"} <= on_device
    np.testing.assert_allclose(got, want, rtol=1e-4)
    assert want[-1] < want[0]


# -- slices at a run-time index (x[t] with t a loop variable or a fed scalar): lax.dynamic_slice and friends
DYNAMIC_SLICES = {
    "shrink": lambda x, t: x[t],
    "shrink_negative_index": lambda x, t: x[-1 - t],
    "shrink_after_static_range": lambda x, t: x[1:3, t],
    "shrink_with_ellipsis_and_new_axis": lambda x, t: x[..., t, None],
    "two_traced_shrinks": lambda x, t: x[t, t - 1],
    "tf_slice": lambda x, t: tf.slice(x, tf.stack([t, 0, 1]), [2, -1, 3]),
}


@pytest.mark.parametrize("case", sorted(DYNAMIC_SLICES))
def test_slice_at_a_run_time_index_and_its_gradient_match_the_numpy_kernels(case):
    """The index is a fed int32 scalar, so it is traced: StridedSlice/Slice and their gradients (StridedSliceGrad)
    lower through lax.dynamic_index_in_dim / dynamic_slice / dynamic_update_slice. Values and gradients of a
    weighted sum (float64) agree with the NumPy kernels for every valid index."""
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    xv = rng.standard_normal((4, 3, 5))
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float64, xv.shape)
        t = tf.placeholder(tf.int32, [])
        y = DYNAMIC_SLICES[case](x, t)
        w = tf.constant(rng.standard_normal(y.shape.as_list()))
        dx, = tf.gradients(tf.reduce_sum(y * w), [x])
    types = {op.type for op in g.get_operations()}
    assert types & {"StridedSlice", "Slice"} and types & {"StridedSliceGrad", "Pad"} == {"StridedSliceGrad"}
    with tf.Session(graph=g) as ref, tf.Session(graph=g, config=xla_config()) as xla:
        for tv in (0, 1, 2):
            want = ref.run([y, dx], {x: xv, t: tv})
            got = xla.run([y, dx], {x: xv, t: tv})
            for name, w_, g_ in zip(("value", "gradient"), want, got):
                _assert_close("%s t=%d %s" % (case, tv, name), w_, g_)


def test_out_of_range_run_time_index_is_clamped_on_xla(graph):
    """XLA cannot raise at run time: an index past the end reads (and its gradient writes) the last row, as
    lax.dynamic_index_in_dim clamps; tf.slice's start is clamped so the slice fits. The NumPy backend raises."""
    xv = np.arange(12.0).reshape(4, 3)
    x = tf.placeholder(tf.float64, xv.shape)
    t = tf.placeholder(tf.int32, [])
    row, block = x[t], tf.slice(x, tf.stack([t, 0]), [2, -1])
    dx, = tf.gradients(tf.reduce_sum(row), [x])
    with tf.Session(config=xla_config()) as sess:
        r, b, d = sess.run([row, block, dx], {x: xv, t: 7})
    np.testing.assert_array_equal(r, xv[3])
    np.testing.assert_array_equal(b, xv[2:4])
    np.testing.assert_array_equal(d, np.eye(4)[3][:, None] * np.ones(3))
    with tf.Session() as sess, pytest.raises(errors.InvalidArgumentError):
        sess.run(row, {x: xv, t: 7})


def test_range_with_a_run_time_bound_is_refused_on_xla(graph):
    """x[t:t + 2] has a static size only by arithmetic XLA does not see: its shape would depend on t, and the
    error names the op and the input, as for any bound XLA needs as a constant."""
    x = tf.placeholder(tf.float64, [4, 3])
    t = tf.placeholder(tf.int32, [])
    y = x[t:t + 2]
    with tf.Session(config=xla_config()) as sess, pytest.raises(errors.InvalidArgumentError, match="as a constant"):
        sess.run(y, {x: np.zeros((4, 3)), t: 1})


def test_while_loop_rnn_mnist_example_trains_alike_on_both_backends():
    """examples/tf1/while_loop_rnn_mnist.py's own `build` (rows[t] inside tf.while_loop: a StridedSlice at the
    loop variable), a few SGD steps on fake MNIST rows from the same initial weights: the XLA backend's losses
    are the NumPy backend's to float32 round-off over 28 steps of the recurrence."""
    import while_loop_rnn_mnist   # examples/tf1 is on sys.path (conftest.py)

    def build():
        x = tf.placeholder(tf.float32, [None, while_loop_rnn_mnist.TIMESTEPS, while_loop_rnn_mnist.NUM_INPUT])
        y = tf.placeholder(tf.int64, [None])
        is_training = tf.placeholder_with_default(False, [], name="is_training")   # no dropout: same on both
        logits = while_loop_rnn_mnist.build(x, is_training)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        return (x, y), loss
    want, got, on_device = _train_both(build, _mnist_rows, steps=3)
    assert {"While", "WhileGrad", "If", "IfGrad"} <= on_device
    np.testing.assert_allclose(got, want, rtol=1e-4)
    assert want[-1] < want[0]   # it trains
