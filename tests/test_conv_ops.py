"""conv2d, max_pool, avg_pool and their gradients against direct-loop NumPy references (float64)
and finite differences; static shapes; errors; bounded memory on 10000 images."""
import tracemalloc

import numpy as np
import pytest

import nanotf as tf
import nanotf.ops.conv_fft as conv_fft
import nanotf.ops.conv_ops as conv_ops
import nanotf.ops.pooling_ops as pooling_ops

RNG = np.random.default_rng(2024)


# -- direct-loop references: one output position at a time, TF's padding rule written out
def _pads(size, k, stride, padding):
    """(out, pad_before) of one spatial dim."""
    if padding == "VALID":
        return (size - k) // stride + 1, 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + k - size, 0) // 2


def _windows(x_shape, kh, kw, sh, sw, padding):
    """Yields (out_row, out_col, [(row, col) of the window's in-bounds elements, row-major])."""
    _, h, w, _ = x_shape
    oh, pt = _pads(h, kh, sh, padding)
    ow, pl = _pads(w, kw, sw, padding)
    for i in range(oh):
        for j in range(ow):
            cells = [(i * sh + a - pt, j * sw + b - pl) for a in range(kh) for b in range(kw)]
            yield i, j, [(r, c) for r, c in cells if 0 <= r < h and 0 <= c < w]


def _out_hw(x_shape, kh, kw, sh, sw, padding):
    return _pads(x_shape[1], kh, sh, padding)[0], _pads(x_shape[2], kw, sw, padding)[0]


def ref_conv(x, w, sh, sw, padding):
    kh, kw, _, o = w.shape
    oh, ow = _out_hw(x.shape, kh, kw, sh, sw, padding)
    _, h, wd, _ = x.shape
    _, pt = _pads(h, kh, sh, padding)
    _, pl = _pads(wd, kw, sw, padding)
    out = np.zeros((x.shape[0], oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    r, c = i * sh + a - pt, j * sw + b - pl
                    if 0 <= r < h and 0 <= c < wd:
                        out[:, i, j] += x[:, r, c] @ w[a, b]
    return out


def ref_conv_grads(x, w, dy, sh, sw, padding):
    """(d input, d filter) of sum(conv(x, w) * dy), by the same loops."""
    kh, kw = w.shape[:2]
    _, h, wd, _ = x.shape
    _, pt = _pads(h, kh, sh, padding)
    _, pl = _pads(wd, kw, sw, padding)
    dx, dw = np.zeros(x.shape), np.zeros(w.shape)
    for i in range(dy.shape[1]):
        for j in range(dy.shape[2]):
            for a in range(kh):
                for b in range(kw):
                    r, c = i * sh + a - pt, j * sw + b - pl
                    if 0 <= r < h and 0 <= c < wd:
                        dx[:, r, c] += dy[:, i, j] @ w[a, b].T
                        dw[a, b] += x[:, r, c].T @ dy[:, i, j]
    return dx, dw


def _ref_pool(reduce, x, kh, kw, sh, sw, padding):
    """reduce(window values, axis=0) for each output cell (windows cut by the padding)."""
    oh, ow = _out_hw(x.shape, kh, kw, sh, sw, padding)
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i, j, cells in _windows(x.shape, kh, kw, sh, sw, padding):
        out[:, i, j] = reduce([x[:, r, c] for r, c in cells], axis=0)
    return out


def ref_max_pool(x, *window):
    return _ref_pool(np.max, x, *window)


def ref_max_pool_grad(x, dy, kh, kw, sh, sw, padding):
    """Each dy value added to its window's first maximum in row-major order."""
    dx = np.zeros(x.shape)
    for i, j, cells in _windows(x.shape, kh, kw, sh, sw, padding):
        vals = np.array([x[:, r, c] for r, c in cells])          # (cells, n, C)
        first = np.argmax(vals, axis=0)                          # argmax picks the first maximum
        for n in range(x.shape[0]):
            for ch in range(x.shape[3]):
                r, c = cells[first[n, ch]]
                dx[n, r, c, ch] += dy[n, i, j, ch]
    return dx


def ref_avg_pool(x, *window):
    return _ref_pool(np.mean, x, *window)


def ref_avg_pool_grad(x_shape, dy, kh, kw, sh, sw, padding):
    dx = np.zeros(x_shape)
    for i, j, cells in _windows(x_shape, kh, kw, sh, sw, padding):
        for r, c in cells:
            dx[:, r, c] += dy[:, i, j] / len(cells)
    return dx


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


# -- convolution values and gradients
CONV_CASES = [  # x shape, filter shape, (sh, sw), padding
    ((2, 5, 5, 2), (3, 3, 2, 3), (1, 1), "SAME"),
    ((2, 7, 6, 3), (3, 3, 3, 4), (2, 2), "SAME"),    # odd size, stride 2: padding 1 before, 1 after
    ((1, 6, 6, 2), (2, 2, 2, 3), (2, 2), "SAME"),    # even size, even filter: no padding
    ((1, 8, 8, 1), (4, 4, 1, 2), (3, 3), "SAME"),    # asymmetric: 1 before, 2 after
    ((2, 7, 6, 3), (3, 2, 3, 4), (2, 3), "VALID"),   # VALID drops a leftover row and column
    ((2, 5, 5, 2), (1, 1, 2, 3), (1, 1), "VALID"),   # 1x1
    ((1, 3, 3, 2), (5, 5, 2, 2), (1, 1), "SAME"),    # filter larger than the input
    ((2, 4, 5, 1), (4, 5, 1, 3), (1, 1), "VALID"),   # one window: a dense layer
    ((2, 7, 6, 3), (3, 3, 3, 2), (2, 1), "SAME"),    # row stride only (input grad by rows)
    ((1, 6, 7, 2), (2, 3, 2, 2), (1, 2), "VALID"),   # column stride only (input grad by taps)
]


@pytest.fixture(params=["im2col", "row windows", "frequency"])
def conv_path(request, monkeypatch):
    """Runs a test through each way the convolution kernels compute (conv_ops' module doc): im2col, row
    windows (used for row stride 1 from _ROW_WINDOW_MIN values per window row), and the frequency
    route of conv_fft (forced here for every stride-1 convolution; strided ones stay direct)."""
    monkeypatch.setattr(conv_ops, "_ROW_WINDOW_MIN", 10 ** 9 if request.param == "im2col" else 1)
    monkeypatch.setattr(conv_fft, "_MAX_COST_RATIO", float("inf") if request.param == "frequency" else 0.0)
    return request.param


@pytest.mark.parametrize("xs,ws,st,pad", CONV_CASES)
def test_conv2d_matches_direct_loops(xs, ws, st, pad, conv_path):
    x, w = RNG.standard_normal(xs), RNG.standard_normal(ws)
    dy_shape = (xs[0],) + _out_hw(xs, ws[0], ws[1], st[0], st[1], pad) + (ws[3],)
    dy = RNG.standard_normal(dy_shape)
    with tf.Graph().as_default():
        xt, wt = tf.constant(x), tf.constant(w)
        y = conv_ops.conv2d(xt, wt, strides=[1, st[0], st[1], 1], padding=pad)
        assert y.shape.as_tuple() == dy_shape
        dx, dw = tf.gradients(y, [xt, wt], grad_ys=tf.constant(dy))
        vals = _run([y, dx, dw])
    want_dx, want_dw = ref_conv_grads(x, w, dy, st[0], st[1], pad)
    np.testing.assert_allclose(vals[0], ref_conv(x, w, st[0], st[1], pad), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(vals[1], want_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(vals[2], want_dw, rtol=1e-12, atol=1e-12)


def test_conv2d_float32_stays_float32_and_accepts_int_strides():
    x = RNG.standard_normal((2, 6, 6, 3)).astype(np.float32)
    w = RNG.standard_normal((3, 3, 3, 4)).astype(np.float32)
    with tf.Graph().as_default():
        xt = tf.placeholder(tf.float32, [None, 6, 6, 3])
        y = conv_ops.conv2d(xt, w, strides=2, padding="SAME")   # numpy filter converted to float32
        dx, dw = tf.gradients(tf.reduce_sum(y), [xt, y.op.inputs[1]])
        assert y.dtype == dx.dtype == dw.dtype == tf.float32
        vals = _run([y, dx, dw], {xt: x})
    assert all(v.dtype == np.float32 for v in vals)
    np.testing.assert_allclose(vals[0], ref_conv(x.astype(np.float64), w.astype(np.float64), 2, 2, "SAME"),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("st,pad", [((1, 1), "SAME"), ((2, 2), "SAME"), ((2, 1), "VALID")])
def test_conv2d_gradients_match_finite_differences(st, pad):
    x, w = RNG.standard_normal((2, 5, 4, 2)), RNG.standard_normal((3, 2, 2, 2))
    with tf.Graph().as_default():
        xt, wt = tf.placeholder(tf.float64, x.shape), tf.placeholder(tf.float64, w.shape)
        y = conv_ops.conv2d(xt, wt, strides=[1, st[0], st[1], 1], padding=pad)
        weights = RNG.standard_normal(y.shape.as_tuple())
        loss = tf.reduce_sum(y * weights)
        grads = tf.gradients(loss, [xt, wt])
        with tf.Session() as sess:
            feed = {xt: x, wt: w}
            sym = sess.run(grads, feed)
            for t, base, g in zip((xt, wt), (x, w), sym):
                num = np.zeros(base.shape)
                for idx in np.ndindex(base.shape):
                    hi, lo = base.copy(), base.copy()
                    hi[idx] += 1e-6
                    lo[idx] -= 1e-6
                    num[idx] = (sess.run(loss, {**feed, t: hi}) - sess.run(loss, {**feed, t: lo})) / 2e-6
                np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-7)


def test_blocks_and_row_bands_give_the_same_values(monkeypatch, conv_path):
    """A tiny work budget forces one image at a time in bands of output rows, in all three kernels."""
    x, w = RNG.standard_normal((3, 9, 7, 2)), RNG.standard_normal((3, 3, 2, 4))
    for budget in (10 ** 9, 2000, 1):
        monkeypatch.setattr(conv_ops, "_BLOCK_BYTES", budget)
        for st, pad in (((1, 1), "SAME"), ((2, 1), "SAME"), ((2, 3), "VALID")):
            dy = RNG.standard_normal((3,) + _out_hw(x.shape, 3, 3, st[0], st[1], pad) + (4,))
            with tf.Graph().as_default():
                xt, wt = tf.constant(x), tf.constant(w)
                y = conv_ops.conv2d(xt, wt, [1, st[0], st[1], 1], pad)
                vals = _run([y] + tf.gradients(y, [xt, wt], grad_ys=tf.constant(dy)))
            want = (ref_conv(x, w, st[0], st[1], pad),) + ref_conv_grads(x, w, dy, st[0], st[1], pad)
            for v, r in zip(vals, want):
                np.testing.assert_allclose(v, r, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("st,pad", [((1, 1), "SAME"), ((1, 2), "VALID")])
def test_deep_mnist_conv2_in_float32_matches_float64_loops(st, pad, conv_path):
    """A layer shaped as Deep MNIST's second (5x5, 32 -> 64 channels; 160-value window rows take the row
    windows by default), in float32: within float32 round-off of a float64 reference. Each value sums at
    most 3 * 14 * 14 = 588 (filter gradient) or 5 * 5 * 64 = 1600 (input gradient) products; rounding
    errors of a sum of n terms grow as sqrt(n) * eps * (sum of |terms|), hence 40 eps."""
    x = RNG.standard_normal((3, 14, 14, 32)).astype(np.float32)
    w = RNG.standard_normal((5, 5, 32, 64)).astype(np.float32)
    dy = RNG.standard_normal((3,) + _out_hw(x.shape, 5, 5, st[0], st[1], pad) + (64,)).astype(np.float32)
    with tf.Graph().as_default():
        xt, wt = tf.constant(x), tf.constant(w)
        y = conv_ops.conv2d(xt, wt, [1, st[0], st[1], 1], pad)
        vals = _run([y] + tf.gradients(y, [xt, wt], grad_ys=tf.constant(dy)))
    x64, w64, dy64 = x.astype(np.float64), w.astype(np.float64), dy.astype(np.float64)
    want = (ref_conv(x64, w64, st[0], st[1], pad),) + ref_conv_grads(x64, w64, dy64, st[0], st[1], pad)
    bounds = (ref_conv(np.abs(x64), np.abs(w64), st[0], st[1], pad),) + ref_conv_grads(
        np.abs(x64), np.abs(w64), np.abs(dy64), st[0], st[1], pad)
    for v, r, b in zip(vals, want, bounds):
        assert v.dtype == np.float32
        assert np.all(np.abs(v - r) <= 40 * np.finfo(np.float32).eps * b)


PHASE_CASES = CONV_CASES + [  # shapes only the phases path meets: taps fewer than the stride in a phase
    ((2, 5, 6, 3), (1, 1, 3, 2), (2, 2), "SAME"),    # 1x1 stride 2: odd rows and columns get no gradient
    ((1, 8, 7, 2), (2, 3, 2, 3), (3, 2), "VALID"),   # a row phase without taps, leftover rows
    ((2, 9, 9, 2), (5, 5, 2, 3), (2, 2), "SAME"),    # DCGAN's 5x5 stride 2 geometry
    ((3, 10, 11, 2), (4, 4, 2, 3), (3, 2), "VALID"), # row phases of 2 and 1 taps whose windows start 1 row apart
    ((2, 10, 7, 2), (3, 3, 2, 3), (3, 2), "VALID"),  # row 9 has a tap, but its window row lies past dy: zeros
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("budget", [10 ** 9, 1])
@pytest.mark.parametrize("xs,ws,st,pad", PHASE_CASES)
def test_input_gradient_by_phases_matches_direct_loops(xs, ws, st, pad, budget, threads, monkeypatch):
    """The column-strided input gradient by sub-pixel phases (used from _PHASE_MIN_DEPTH input channels),
    forced here for any depth; budget 1 makes it go one image and one phase row at a time; 2 threads pad
    and copy their own blocks in their own work arrays."""
    monkeypatch.setattr(conv_ops, "_PHASE_MIN_DEPTH", 1)
    monkeypatch.setattr(conv_ops, "_BLOCK_BYTES", budget)
    monkeypatch.setattr(conv_ops.parallel, "threads_for", lambda work: threads)
    w = RNG.standard_normal(ws)
    dy = RNG.standard_normal((xs[0],) + _out_hw(xs, ws[0], ws[1], st[0], st[1], pad) + (ws[3],))
    with tf.Graph().as_default():
        dx = conv_ops.conv2d_backprop_input(list(xs), w, dy, [1, st[0], st[1], 1], pad)
        got = _run(dx)
    want, _ = ref_conv_grads(np.zeros(xs), w, dy, st[0], st[1], pad)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("threads", [1, 2])
def test_dcgan_transpose_conv_in_float32_matches_float64_loops(threads, monkeypatch):
    """DCGAN's generator layer 7x7x64 -> 14x14x32 (5x5, stride 2; 32 channels take the phases by default) in
    float32: each value sums at most 3 * 3 * 64 = 576 products, within 40 eps of their absolute sum."""
    monkeypatch.setattr(conv_ops.parallel, "threads_for", lambda work: threads)
    w = RNG.standard_normal((5, 5, 32, 64)).astype(np.float32)
    dy = RNG.standard_normal((3, 7, 7, 64)).astype(np.float32)
    assert conv_ops._PHASE_MIN_DEPTH <= 32
    with tf.Graph().as_default():
        got = _run(conv_ops.conv2d_transpose(dy, w, [3, 14, 14, 32], [1, 2, 2, 1], "SAME"))
    w64, dy64, zeros = w.astype(np.float64), dy.astype(np.float64), np.zeros((3, 14, 14, 32))
    want, _ = ref_conv_grads(zeros, w64, dy64, 2, 2, "SAME")
    bound, _ = ref_conv_grads(zeros, np.abs(w64), np.abs(dy64), 2, 2, "SAME")
    assert got.dtype == np.float32
    assert np.all(np.abs(got - want) <= 40 * np.finfo(np.float32).eps * bound)


def test_conv2d_backprop_ops_and_conv2d_transpose():
    w, dy = RNG.standard_normal((3, 3, 2, 4)), RNG.standard_normal((2, 3, 3, 4))
    x = RNG.standard_normal((2, 5, 5, 2))
    want_dx, want_dw = ref_conv_grads(x, w, dy, 2, 2, "SAME")
    with tf.Graph().as_default():
        dx = conv_ops.conv2d_backprop_input([2, 5, 5, 2], w, dy, [1, 2, 2, 1], "SAME")
        dw = conv_ops.conv2d_backprop_filter(x, [3, 3, 2, 4], dy, [1, 2, 2, 1], "SAME")
        # conv2d_transpose takes the filter as [kh, kw, out, in] and the output shape explicitly:
        # input 6x6 and 5x5 both give 3x3 at stride 2 SAME, which is why the shape is an argument
        tr = conv_ops.conv2d_transpose(dy, w, [2, 5, 5, 2], [1, 2, 2, 1], "SAME")
        assert dx.op.type == "Conv2DBackpropInput" and dx.op.name == "Conv2DBackpropInput"
        assert dw.op.type == "Conv2DBackpropFilter" and tr.op.name == "conv2d_transpose"
        assert dx.shape.as_tuple() == (2, 5, 5, 2) and dw.shape.as_tuple() == (3, 3, 2, 4)
        vals = _run([dx, dw, tr])
    np.testing.assert_allclose(vals[0], want_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(vals[1], want_dw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(vals[2], want_dx, rtol=1e-12, atol=1e-12)


# -- static shapes and errors
def test_static_shapes_with_unknown_dimensions():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 28, 28, 1])
        h1 = conv_ops.conv2d(x, tf.zeros([5, 5, 1, 32]), [1, 1, 1, 1], "SAME")
        p1 = pooling_ops.max_pool(h1, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
        h2 = conv_ops.conv2d(p1, tf.zeros([5, 5, 32, 64]), [1, 2, 2, 1], "VALID")
        a = pooling_ops.avg_pool(h2, 3, 2, "SAME")
        assert h1.shape.as_list() == [None, 28, 28, 32]
        assert p1.shape.as_list() == [None, 14, 14, 32]
        assert h2.shape.as_list() == [None, 5, 5, 64]
        assert a.shape.as_list() == [None, 3, 3, 64]
        d_x, = tf.gradients(tf.reduce_sum(a), [x])
        assert d_x.shape.as_list() == [None, 28, 28, 1]
        partial = tf.placeholder(tf.float32, [4, None, 9, 3])
        y = conv_ops.conv2d(partial, tf.zeros([3, 3, 3, 2]), [1, 2, 2, 1], "SAME")
        assert y.shape.as_list() == [4, None, 5, 2]
        unknown = tf.placeholder(tf.float32)
        assert conv_ops.conv2d(unknown, tf.zeros([3, 3, 3, 2]), [1, 1, 1, 1], "SAME").shape.as_list() == \
            [None, None, None, 2]
        assert pooling_ops.max_pool(unknown, 2, 2, "VALID").shape.as_list() == [None] * 4
        # the unknown shapes still run
        vals = _run([y, d_x], {partial: np.ones((4, 7, 9, 3)), x: np.ones((3, 28, 28, 1))})
        assert vals[0].shape == (4, 4, 5, 2) and vals[1].shape == (3, 28, 28, 1)


def test_channel_mismatch_is_a_build_time_error_naming_both_shapes():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 8, 8, 3])
        with pytest.raises(ValueError, match=r"3 and 2.*'Conv2D'.*\[\?,8,8,3\], \[3,3,2,4\]"):
            conv_ops.conv2d(x, tf.zeros([3, 3, 2, 4]), [1, 1, 1, 1], "SAME")


def test_mismatch_found_at_run_time_names_the_op():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32)
        y = conv_ops.conv2d(x, tf.zeros([3, 3, 2, 4]), [1, 1, 1, 1], "SAME", name="my_conv")
        with pytest.raises(tf.errors.InvalidArgumentError, match="my_conv") as info:
            _run(y, {x: np.zeros((1, 5, 5, 3))})
        assert "input depth 3" in str(info.value) and "filter's input depth 2" in str(info.value)


@pytest.mark.parametrize("kwargs,message", [
    (dict(data_format="NCHW"), "Conv2D 'Conv2D'.*NHWC"),
    (dict(dilations=[1, 2, 2, 1]), "Conv2D 'Conv2D'.*dilations"),
    (dict(strides=[2, 1, 1, 1]), "strides in the batch and depth"),
    (dict(padding="FULL"), "padding must be 'SAME' or 'VALID'"),
    (dict(strides=[1, 1, 1]), "length 1, 2 or 4"),
])
def test_unsupported_conv_attrs_are_refused(kwargs, message):
    args = dict(strides=[1, 1, 1, 1], padding="SAME")
    args.update(kwargs)
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match=message):
            conv_ops.conv2d(tf.zeros([1, 4, 4, 1]), tf.zeros([2, 2, 1, 1]), **args)


def test_valid_window_larger_than_input_and_pool_attr_errors():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="Negative dimension size caused by subtracting 5 from 3"):
            conv_ops.conv2d(tf.zeros([1, 3, 3, 1]), tf.zeros([5, 5, 1, 1]), [1, 1, 1, 1], "VALID")
        with pytest.raises(ValueError, match="MaxPool 'MaxPool'.*NHWC"):
            pooling_ops.max_pool(tf.zeros([1, 4, 4, 1]), 2, 2, "SAME", data_format="NCHW")
        with pytest.raises(ValueError, match="AvgPool 'AvgPool'.*spatial"):
            pooling_ops.avg_pool(tf.zeros([1, 4, 4, 2]), [1, 2, 2, 2], 2, "SAME")
        with pytest.raises(TypeError, match="AvgPool"):
            pooling_ops.avg_pool(tf.zeros([1, 4, 4, 2], dtype=tf.int32), 2, 2, "SAME")


# -- pooling
POOL_CASES = [  # x shape, (kh, kw), (sh, sw), padding
    ((2, 4, 4, 3), (2, 2), (2, 2), "VALID"),    # the Deep MNIST case: windows tile the input
    ((2, 6, 6, 3), (2, 2), (2, 2), "SAME"),
    ((2, 5, 7, 2), (2, 2), (2, 2), "SAME"),     # odd sizes: a padded last row and column
    ((1, 5, 5, 2), (3, 3), (1, 1), "SAME"),     # overlapping windows, padding on both sides
    ((2, 7, 6, 2), (3, 2), (2, 3), "VALID"),
    ((1, 4, 4, 1), (4, 4), (3, 3), "SAME"),
]


@pytest.mark.parametrize("xs,k,st,pad", POOL_CASES)
def test_pools_and_their_gradients_match_direct_loops(xs, k, st, pad):
    x = -np.abs(RNG.standard_normal(xs))   # all negative: zero padding would win a wrong max
    out_shape = (xs[0],) + _out_hw(xs, k[0], k[1], st[0], st[1], pad) + (xs[3],)
    dy = RNG.standard_normal(out_shape)
    ksize, strides = [1, k[0], k[1], 1], [1, st[0], st[1], 1]
    with tf.Graph().as_default():
        xt = tf.constant(x)
        mp = pooling_ops.max_pool(xt, ksize, strides, pad)
        ap = pooling_ops.avg_pool(xt, ksize, strides, pad)
        assert mp.shape.as_tuple() == ap.shape.as_tuple() == out_shape
        d_mp, = tf.gradients(mp, xt, grad_ys=tf.constant(dy))
        d_ap, = tf.gradients(ap, xt, grad_ys=tf.constant(dy))
        assert d_mp.op.type == "MaxPoolGrad" and d_ap.op.type == "AvgPoolGrad"
        vals = _run([mp, ap, d_mp, d_ap])
    args = (k[0], k[1], st[0], st[1], pad)
    np.testing.assert_array_equal(vals[0], ref_max_pool(x, *args))
    np.testing.assert_allclose(vals[1], ref_avg_pool(x, *args), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(vals[2], ref_max_pool_grad(x, dy, *args), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(vals[3], ref_avg_pool_grad(xs, dy, *args), rtol=1e-12, atol=1e-15)


def test_max_pool_ties_route_the_gradient_to_the_first_maximum():
    x = np.array([[3., 3., 1., 5.],
                  [3., 2., 5., 5.],
                  [0., 7., 7., 4.],
                  [7., 7., 4., 4.]]).reshape(1, 4, 4, 1)
    with tf.Graph().as_default():
        xt = tf.constant(x)
        for ksize, strides in (([1, 2, 2, 1], [1, 2, 2, 1]), ([1, 2, 2, 1], [1, 1, 1, 1])):
            y = pooling_ops.max_pool(xt, ksize, strides, "VALID")
            dx, = tf.gradients(y, xt, grad_ys=tf.ones_like(y))
            got = _run(dx)[0, :, :, 0]
            if strides[1] == 2:   # tiling windows: top-left of each tied window
                want = [[1, 0, 0, 1], [0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
            else:                 # 3x3 overlapping windows; each adds 1 at its first maximum
                want = [[1, 0, 0, 1], [0, 0, 1, 0], [0, 4, 2, 0], [0, 0, 0, 0]]
            np.testing.assert_array_equal(got, want)


def test_max_pool_gradient_of_inf_reaches_only_the_maximum():
    """A select, not a product with a 0/1 mask: 0 * inf would put NaN at the other elements."""
    x = np.array([[1., 2.], [3., 0.]]).reshape(1, 2, 2, 1)
    inf = np.inf
    with tf.Graph().as_default():
        xt = tf.constant(x)
        # tiling windows (one window), then overlapping stride-1 windows (maxima 3, 2, 3, 0)
        for strides, want in ((2, [[0, 0], [inf, 0]]), (1, [[0, inf], [inf, inf]])):
            y = pooling_ops.max_pool(xt, 2, strides, "SAME")
            dx, = tf.gradients(y, xt, grad_ys=tf.fill(tf.shape(y), tf.constant(inf, tf.float64)))
            np.testing.assert_array_equal(_run(dx)[0, :, :, 0], want)


def test_avg_pool_same_averages_only_real_elements_at_the_edges():
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    with tf.Graph().as_default():
        y = pooling_ops.avg_pool(tf.constant(x), [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
        dx, = tf.gradients(y, [y.op.inputs[0]], grad_ys=tf.ones_like(y))
        got, got_dx = _run([y, dx])
    # windows: rows {0,1} x cols {0,1}, rows {0,1} x col 2, row 2 x cols {0,1}, row 2 x col 2
    np.testing.assert_allclose(got[0, :, :, 0], [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8]])
    np.testing.assert_allclose(got_dx[0, :, :, 0], [[.25, .25, .5], [.25, .25, .5], [.5, .5, 1]])


def test_max_pool_second_order_gradient():
    """d/d(dy) of sum(MaxPoolGrad(x, y, dy) * v) = v at each window's first max (MaxPoolGradGrad)."""
    x = RNG.permutation(2 * 5 * 5 * 2).reshape(2, 5, 5, 2).astype(np.float64)
    v = RNG.standard_normal(x.shape)
    with tf.Graph().as_default():
        xt = tf.constant(x)
        y = pooling_ops.max_pool(xt, 3, 2, "SAME")
        dy = tf.placeholder(tf.float64, y.shape)
        dx, = tf.gradients(y, xt, grad_ys=dy)
        ddy, = tf.gradients(tf.reduce_sum(dx * v), dy)
        assert ddy.op.type == "MaxPoolGradGrad"
        got = _run(ddy, {dy: np.zeros(y.shape.as_tuple())})
    want = np.zeros(got.shape)
    for i, j, cells in _windows(x.shape, 3, 3, 2, 2, "SAME"):
        vals = np.array([x[:, r, c] for r, c in cells])
        first = np.argmax(vals, axis=0)
        for n in range(2):
            for ch in range(2):
                r, c = cells[first[n, ch]]
                want[n, i, j, ch] = v[n, r, c, ch]
    np.testing.assert_array_equal(got, want)


def test_public_names_and_default_op_names():
    with tf.Graph().as_default():
        x = tf.zeros([1, 4, 4, 1])
        assert pooling_ops.max_pool(x, 2, 2, "SAME").op.name == "MaxPool"
        assert pooling_ops.max_pool2d(x, 2, 2, "SAME").op.name == "MaxPool_1"
        assert pooling_ops.avg_pool2d(x, 2, 2, "SAME", name="pool").op.name == "pool"
        assert conv_ops.conv2d(x, tf.zeros([1, 1, 1, 1]), [1, 1, 1, 1], "VALID").op.name == "Conv2D"
    assert set(conv_ops.__all__) >= {"conv2d", "conv2d_backprop_input", "conv2d_backprop_filter", "conv2d_transpose"}
    assert set(pooling_ops.__all__) >= {"max_pool", "max_pool2d", "avg_pool", "avg_pool2d"}
    assert tf.nn.max_pool is pooling_ops.max_pool and tf.nn.conv2d is conv_ops.conv2d


# -- memory: Deep MNIST's eval of 10000 test images in one run
def test_ten_thousand_images_run_in_bounded_memory():
    """conv1 (5x5, 1->8) + max-pool + conv2 (5x5, 8->8) and the conv gradients on 10000 28x28 images.

    Unblocked, conv1's im2col matrix alone is 784 MB and conv2's 1.57 GB (6.3 GB with Deep MNIST's
    32 channels). The outputs themselves (kept by the Session) are counted and allowed for; beyond
    them the kernels may use only their block buffers."""
    n = 10000
    x = RNG.uniform(0, 1, (n, 28, 28, 1)).astype(np.float32)
    with tf.Graph().as_default():
        xt = tf.placeholder(tf.float32, [None, 28, 28, 1])
        w1 = tf.constant(RNG.standard_normal((5, 5, 1, 8)).astype(np.float32) * 0.2)
        w2 = tf.constant(RNG.standard_normal((5, 5, 8, 8)).astype(np.float32) * 0.1)
        h1 = conv_ops.conv2d(xt, w1, [1, 1, 1, 1], "SAME")
        p1 = pooling_ops.max_pool(h1, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
        h2 = conv_ops.conv2d(p1, w2, [1, 1, 1, 1], "SAME")
        d_p1, d_w2 = tf.gradients(h2, [p1, w2])
        fetches = [h2, d_p1, d_w2]
        with tf.Session() as sess:
            sess.run(fetches, {xt: x[:2]})          # plans and kernels built outside the measurement
            tracemalloc.start()                     # NumPy reports its data buffers to tracemalloc
            try:
                base = tracemalloc.get_traced_memory()[0]
                vals = sess.run(fetches, {xt: x})
                peak = tracemalloc.get_traced_memory()[1] - base
            finally:
                tracemalloc.stop()
            small = sess.run(fetches[:2], {xt: x[:3]})
    # The run frees each value after its last use; the fetched h2 and d_p1 must exist at the end, and at
    # most every intermediate (h1, p1, h2, ones, d_p1) can be alive at once, plus the kernels' blocks.
    fetched = 4 * n * 14 * 14 * 8 * 2
    outputs = 4 * n * (28 * 28 * 8 + 14 * 14 * 8 * 4)
    assert fetched < peak < outputs + (96 << 20), "peak %d MB, outputs %d MB" % (peak >> 20, outputs >> 20)
    np.testing.assert_allclose(vals[0][:3], small[0], rtol=1e-5, atol=1e-5)   # blocks agree with one batch
    np.testing.assert_allclose(vals[1][:3], small[1], rtol=1e-5, atol=1e-5)
    assert vals[2].shape == (5, 5, 8, 8) and np.isfinite(vals[2]).all()


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("ws", [(3, 3, 2, 3), (5, 5, 32, 32), (5, 5, 1, 4)])   # direct, frequency, im2col by positions
def test_conv_layer_bias_fuses_in_a_training_step(ws, relu):
    """One SGD step on sum(act(conv(x, W) + b) * r): Conv2D and BiasAdd run as _FusedConv2DBiasAdd (with the
    ReLU: _FusedConv2DBiasAddRelu, the chain of two fusions) although W is updated in the same run (its
    update comes after both), and the layer's output, W and b are the float64 loop values (forward from
    ref_conv, dW from ref_conv_grads of r masked by the ReLU, db = the sum of that over positions)."""
    x = RNG.standard_normal((2, 8, 8, ws[2]))
    w0, b0 = RNG.standard_normal(ws) * 0.1, RNG.standard_normal(ws[3])
    r = RNG.standard_normal((2, 8, 8, ws[3]))
    with tf.Graph().as_default():
        xt, rt = tf.placeholder(tf.float64, x.shape), tf.placeholder(tf.float64, r.shape)
        w, b = tf.Variable(w0), tf.Variable(b0)
        y = tf.nn.bias_add(conv_ops.conv2d(xt, w, [1, 1, 1, 1], "SAME"), b)
        if relu:
            y = tf.nn.relu(y)
        loss = tf.reduce_sum(y * rt)
        step = tf.train.GradientDescentOptimizer(0.03125).minimize(loss)   # exact in float32
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got_loss, _ = sess.run([loss, step], {xt: x, rt: r})
            got_w, got_b = sess.run([w, b])
            train_plan = next(ex.plan for ex in sess._plans.values() if len(ex.plan.steps) > 3)
    fused = "_FusedConv2DBiasAddRelu" if relu else "_FusedConv2DBiasAdd"
    assert [s.op.type for s in train_plan.steps].count(fused) == 1
    assert not any(s.op.type in ("Conv2D", "BiasAdd", "Relu") for s in train_plan.steps)
    pre = ref_conv(x, w0, 1, 1, "SAME") + b0
    dy = r * (pre > 0) if relu else r
    np.testing.assert_allclose(got_loss, ((np.maximum(pre, 0) if relu else pre) * r).sum(), rtol=1e-10)
    _, dw = ref_conv_grads(x, w0, dy, 1, 1, "SAME")
    np.testing.assert_allclose(got_w, w0 - 0.03125 * dw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_b, b0 - 0.03125 * dy.sum(axis=(0, 1, 2)), rtol=1e-10, atol=1e-12)


def test_conv_relu_stays_unfused_where_its_input_is_fetched():
    """The conv layer's pre-activation is fetched as well: it must exist, so the ReLU keeps its own step
    (the Conv2D and BiasAdd still fuse), and both values are the float64 loop's."""
    x = RNG.standard_normal((2, 6, 6, 3))
    w0, b0 = RNG.standard_normal((3, 3, 3, 4)), RNG.standard_normal(4)
    with tf.Graph().as_default():
        xt = tf.placeholder(tf.float64, x.shape)
        pre = tf.nn.bias_add(conv_ops.conv2d(xt, tf.Variable(w0), [1, 1, 1, 1], "SAME"), tf.Variable(b0))
        act = tf.nn.relu(pre)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got_pre, got_act = sess.run([pre, act], {xt: x})
            plan = next(ex.plan for ex in sess._plans.values() if any(s.op.type == "Relu" for s in ex.plan.steps))
    assert [s.op.type for s in plan.steps].count("_FusedConv2DBiasAdd") == 1
    want = ref_conv(x, w0, 1, 1, "SAME") + b0
    np.testing.assert_allclose(got_pre, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_act, np.maximum(want, 0), rtol=1e-12, atol=1e-12)


def test_conv_relu_stays_unfused_where_a_variable_changes_before_it():
    """An assign to the filter runs between the conv layer's BiasAdd and its ReLU (control dependencies put it
    there): a fused ReLU would convolve with the new filter, so the ReLU keeps its own step (the conv and bias
    still fuse), and the activation is the old filter's (the float64 loops)."""
    x = RNG.standard_normal((2, 6, 6, 3))
    w0, b0 = RNG.standard_normal((3, 3, 3, 4)), RNG.standard_normal(4)
    with tf.Graph().as_default():
        xt = tf.placeholder(tf.float64, x.shape)
        w = tf.Variable(w0)
        pre = tf.nn.bias_add(conv_ops.conv2d(xt, w, [1, 1, 1, 1], "SAME"), tf.Variable(b0))
        with tf.control_dependencies([pre]):
            bump = tf.assign(w, w + 1.0)
        with tf.control_dependencies([bump]):
            act = tf.nn.relu(pre)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got = sess.run(act, {xt: x})
            got_w = sess.run(w)
            plan = next(ex.plan for ex in sess._plans.values() if any(s.op.type.startswith("_Fused") for s in ex.plan.steps))
    kinds = [s.op.type for s in plan.steps]
    assert "Relu" in kinds and "_FusedConv2DBiasAdd" in kinds and "_FusedConv2DBiasAddRelu" not in kinds
    np.testing.assert_allclose(got, np.maximum(ref_conv(x, w0, 1, 1, "SAME") + b0, 0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_w, w0 + 1.0, rtol=1e-15)


@pytest.mark.parametrize("relu", [False, True])
def test_infinite_bias_in_the_frequency_route_stays_in_its_channel(relu):
    """A geometry the frequency route takes, with a bias of +inf and -inf in two channels: in the spectrum an
    inf would make every output NaN, so the fused kernel goes the direct way, as TensorFlow's sum: those
    channels are +inf and -inf (ReLU: 0) everywhere, the others the float64 loops' values."""
    x = RNG.standard_normal((1, 8, 8, 32))
    w = RNG.standard_normal((5, 5, 32, 32)) * 0.1
    b = RNG.standard_normal(32)
    b[3], b[7] = np.inf, -np.inf
    g = conv_ops._Conv("Conv2D", x.shape, w.shape, [1, 1, 1, 1], "SAME")
    assert conv_fft.pays(g)                  # without the inf bias this call would go through frequencies
    kernel = conv_ops._conv2d_forward("Conv2D", [1, 1, 1, 1], "SAME", relu=relu)
    got = kernel(x, w, b)
    want = ref_conv(x, w, 1, 1, "SAME") + b
    if relu:
        want = np.maximum(want, 0)
    assert not np.isnan(got).any()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_first_layer_filter_gradient_in_slices(dtype, tol, monkeypatch):
    """A one-channel layer's filter gradient, a product with a 25 x 4 result and 4 * 28 * 28 positions inside,
    runs in slices of positions (conv_ops._add_product: 1024 here) and equals the float64 loops' gradient (float32:
    within a few ulp of each of the 3136 summed products' scale)."""
    calls = []
    real = conv_ops._add_product
    monkeypatch.setattr(conv_ops, "_add_product", lambda *args: (calls.append(args[1].shape), real(*args)))
    x = RNG.standard_normal((4, 28, 28, 1))
    w = RNG.standard_normal((5, 5, 1, 4))
    dy = RNG.standard_normal((4, 28, 28, 4))
    kernel = conv_ops._conv2d_backprop_filter("Conv2DBackpropFilter", [1, 1, 1, 1], "SAME")
    got = kernel(x.astype(dtype), np.array(w.shape), dy.astype(dtype))
    assert calls and all(a[1] >= 2 * conv_ops._SKINNY_SLICE for a in calls)   # the sliced case
    _, want = ref_conv_grads(x, w, dy, 1, 1, "SAME")
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
