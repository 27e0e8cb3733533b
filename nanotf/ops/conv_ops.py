"""2-D convolution ops (NHWC): Conv2D with Conv2DBackpropInput/Conv2DBackpropFilter (pooling: pooling_ops).

Convolution is im2col + a matrix product: a strided view gathers every (kh, kw, C) window into
a row of a (positions, kh*kw*C) matrix, multiplied by the filter reshaped to (kh*kw*C, out).
That matrix is kh*kw times the input (conv2 of Deep MNIST on 10000 test images would need
6.3 GB), so kernels work in blocks of images, or of output rows of one image, whose matrix
fits `_BLOCK_BYTES`; blocks that small also stay in cache between the copy and the product.
The input backprop with column stride 1 sums a window row's kw taps inside its matrix product
(see `_input_grad_by_rows`), leaving kh row additions instead of a kh*kw-tap scatter; with a column
stride and at least `_PHASE_MIN_DEPTH` input channels it splits into stride^2 stride-1 correlations
written straight into their phase of the input (`_input_grad_by_phases`), no scatter at all. With row
stride 1 and window rows of at least `_ROW_WINDOW_MIN` values (kw*C), the forward op and the
filter backprop copy only the kw-wide windows of each padded row, laid out rows-major
(rows, images, cols, kw*C), where the kh window rows of all outputs are kh contiguous slices:
kh products over them replace the kh*kw-wide im2col matrix, a kh times smaller copy (BLAS runs
these products as fast: their depth kw*C is still large).

Padding follows TensorFlow: 'VALID' keeps whole windows; 'SAME' gives ceil(size / stride) outputs,
padding max((out-1)*stride + k - size, 0) split with the smaller half before.
"""
import math
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

from nanotf.framework import dtypes, parallel
from nanotf.framework import lowering as xla
from nanotf.framework.op_def import FusedOpDef, OpDef, Sample
from nanotf.framework.ops import Tensor, apply_op, convert_to_tensor, name_scope
from nanotf.framework.tensor_shape import TensorShape
from nanotf.ops import array_ops, conv_fft
from nanotf.ops.array_ops import _shape_error
from nanotf.ops.nn_ops import relu_kernel

__all__ = ["conv2d", "conv2d_backprop_input", "conv2d_backprop_filter", "conv2d_transpose"]

# Work buffer per block (im2col matrix, its gradient): bounds memory whatever the batch size, and
# small enough that the matrix is still in cache when the matrix product reads it (measured:
# 4 MB blocks make conv2 of Deep MNIST ~25% faster than one 31 MB block).
_BLOCK_BYTES = 4 << 20
# Window rows (kw*C values) at least this long: Conv2D and its filter backprop use the row windows
# (module doc); shorter ones (first layers, C = 1) make shallow products, and im2col serves better.
_ROW_WINDOW_MIN = 32
# Input depth from which a column-strided input gradient goes by phases (`_input_grad_by_phases`): its
# products are C wide, and for a few channels (a C = 1 image) the taps' scatter of one wide product serves
# better (measured for DCGAN's 28x28x1 <- 14x14x32 layer: 1.1 ms by taps, 5.5 ms by phases).
_PHASE_MIN_DEPTH = 16
_work_buffers = threading.local()

_FLOATS = (dtypes.float16, dtypes.float32, dtypes.float64)
_PADDINGS = ("SAME", "VALID")


# -- attribute checks and shape rules
def _four(value, what, fn):
    """TF1's ksize/strides forms (int, [k], [kh, kw] or [1, kh, kw, 1]) -> a list of 4 ints."""
    if isinstance(value, Tensor):
        raise TypeError("%s: nanotf needs `%s` as Python ints, got the Tensor %s" % (fn, what, value.name))
    if value is None:
        raise ValueError("%s: `%s` is required" % (fn, what))
    vals = [int(value)] if np.ndim(value) == 0 else [int(v) for v in value]
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) == 2:
        vals = [1] + vals + [1]
    if len(vals) != 4:
        raise ValueError("%s: `%s` should be of length 1, 2 or 4, got %r" % (fn, what, value))
    return vals


def _padding_attr(padding, fn):
    if isinstance(padding, bytes):
        padding = padding.decode()
    if not isinstance(padding, str) or padding.upper() not in _PADDINGS:
        raise ValueError("%s: padding must be 'SAME' or 'VALID', got %r (explicit paddings are not supported "
                         "by nanotf)" % (fn, padding))
    return padding.upper()


def _check_attrs(op, window_attr=None):
    """Build-time checks of the layout attrs every op here shares; names the op."""
    a = op._attrs
    if a.get("data_format", "NHWC") != "NHWC":
        raise ValueError("%s '%s': nanotf supports only data_format='NHWC', got %r"
                         % (op.type, op.name, a["data_format"]))
    if any(d != 1 for d in a.get("dilations", (1, 1, 1, 1))):
        raise ValueError("%s '%s': nanotf supports only dilations of 1, got %s" % (op.type, op.name, a["dilations"]))
    if a["padding"] not in _PADDINGS:
        raise ValueError("%s '%s': padding must be 'SAME' or 'VALID', got %r" % (op.type, op.name, a["padding"]))
    strides = a["strides"]
    if len(strides) != 4 or min(strides) < 1:
        raise ValueError("%s '%s': strides must be 4 positive ints, got %s" % (op.type, op.name, strides))
    if strides[0] != 1 or strides[3] != 1:
        raise ValueError("%s '%s': current implementation does not yet support strides in the batch and depth "
                         "dimensions (strides %s)." % (op.type, op.name, strides))
    if window_attr:
        k = a[window_attr]
        if len(k) != 4 or min(k) < 1:
            raise ValueError("%s '%s': ksize must be 4 positive ints, got %s" % (op.type, op.name, k))
        if k[0] != 1 or k[3] != 1:
            raise ValueError("%s '%s': pooling is only supported over the spatial dimensions (ksize %s must be "
                             "[1, kh, kw, 1])." % (op.type, op.name, k))


def _rank4(op, t, what):
    dims = t.shape.as_tuple()
    if dims is None:
        return [None] * 4
    if len(dims) != 4:
        raise _shape_error(op, "Shape must be rank 4 but is rank %d (%s %s)" % (len(dims), what, t.name))
    return list(dims)


def _same_float_dtype(op, *ts):
    for t in ts:
        if t.dtype not in _FLOATS:
            raise TypeError("Value passed to op '%s' (%s) input %s has DataType %s not in list of allowed values: "
                            "float16, float32, float64" % (op.name, op.type, t.name, t.dtype.name))
    if any(t.dtype is not ts[0].dtype for t in ts):
        raise TypeError("Op '%s' (%s): inputs must have one dtype, got %s"
                        % (op.name, op.type, ", ".join("%s (%s)" % (t.dtype.name, t.name) for t in ts)))
    return ts[0].dtype


def _out_size(size, k, stride, padding):
    """Output length of one spatial dim, or None when `size` is unknown; -1 when VALID has no whole window."""
    if size is None or k is None:
        return None
    if padding == "VALID":
        return -1 if size < k else (size - k) // stride + 1
    return -(-size // stride)


def _geometry(size, k, stride, padding):
    """(output length, padding before, padded length) of one spatial dim, at run time."""
    out = _out_size(size, k, stride, padding)
    if padding == "VALID":
        return out, 0, size
    total = max((out - 1) * stride + k - size, 0)
    return out, total // 2, size + total


def _spatial_out(op, h, w, kh, kw):
    """Static output (rows, cols); raises TF's 'Negative dimension size' error for VALID windows too big."""
    _, sh, sw, _ = op._attrs["strides"]
    pad = op._attrs["padding"]
    res = []
    for size, k, s in ((h, kh, sh), (w, kw, sw)):
        out = _out_size(size, k, s, pad)
        if out == -1:
            raise _shape_error(op, "Negative dimension size caused by subtracting %d from %d" % (k, size))
        res.append(out)
    return res


def _merge(a, b, op, what):
    if a is not None and b is not None and a != b:
        raise _shape_error(op, "Dimensions must be equal, but are %d and %d (%s)" % (a, b, what))
    return a if a is not None else b


def _static_sizes(op, t):
    """The 4 dims a sizes input (Const, Shape of a tensor, ...) describes, as far as known."""
    dims = array_ops._static_shape_from(t).as_tuple()
    if dims is None:
        return [None] * 4
    if len(dims) != 4:
        raise _shape_error(op, "Sizes input %s must describe 4 dimensions, got %d" % (t.name, len(dims)))
    return list(dims)


def _runtime_error(op_type, msg, *arrays):
    return ValueError("%s: %s (input shapes %s)" % (op_type, msg, ", ".join(str(tuple(np.shape(a)))
                                                                           for a in arrays)))


# -- blocked im2col machinery shared by the three convolution kernels
def _work(name, shape, dtype, zero=False):
    """A work array carved from this thread's buffer `name`, reused across blocks, calls and kernels.

    Fresh multi-MB arrays would be page-faulted in on every call (glibc gives large blocks back
    to the OS when they are freed). Kernels never return these arrays, only fresh ones."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > 4 * _BLOCK_BYTES:            # not kept: a one-off big call must not pin its memory
        return np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
    buf = getattr(_work_buffers, name, None)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(max(nbytes, 64), dtype=np.uint8)
        setattr(_work_buffers, name, buf)
    arr = buf[:nbytes].view(dtype).reshape(shape)
    if zero:
        arr.fill(0)
    return arr


def _blocks(n, out_rows, row_bytes, threads=1):
    """Splits images [0, n) x output rows [0, out_rows) into blocks whose work buffer stays under
    _BLOCK_BYTES: [(a, b, [(r0, r1), ...])]: groups of whole images while one image fits, else
    one image at a time in bands of rows. Groups are evened out so that the intra-op threads
    get equal shares (for 2 threads, 10 blocks of 5 images rather than 8 of 6 and one of 2)."""
    per_image = row_bytes * out_rows
    if per_image <= _BLOCK_BYTES:
        group = max(1, _BLOCK_BYTES // max(per_image, 1))
        count = -(-n // group)
        count = min(n, -(-count // threads) * threads)
        group = -(-n // count)
        return [(a, min(a + group, n), [(0, out_rows)]) for a in range(0, n, group)]
    rows = max(1, _BLOCK_BYTES // row_bytes)
    bands = [(r, min(r + rows, out_rows)) for r in range(0, out_rows, rows)]
    return [(a, a + 1, bands) for a in range(n)]


class _Conv:
    """Geometry of one convolution call: sizes, strides, paddings."""

    __slots__ = ("n", "h", "w", "c", "kh", "kw", "o", "sh", "sw", "oh", "ow", "pt", "pl", "hp", "wp", "threads",
                 "by_rows")

    def __init__(self, op_type, x_shape, w_shape, strides, padding):
        self.n, self.h, self.w, self.c = x_shape
        self.kh, self.kw, cin, self.o = w_shape
        if cin != self.c:
            raise ValueError("%s: input depth %d does not match the filter's input depth %d (input shape %s, "
                             "filter shape %s)" % (op_type, self.c, cin, tuple(x_shape), tuple(w_shape)))
        self.sh, self.sw = strides[1], strides[2]
        self.oh, self.pt, self.hp = _geometry(self.h, self.kh, self.sh, padding)
        self.ow, self.pl, self.wp = _geometry(self.w, self.kw, self.sw, padding)
        if self.oh < 0 or self.ow < 0:
            raise ValueError("%s: filter %dx%d is larger than the %dx%d input with VALID padding"
                             % (op_type, self.kh, self.kw, self.h, self.w))
        # each of the three kernels does this many multiply-adds
        self.threads = parallel.threads_for(self.n * self.oh * self.ow * self.kh * self.kw * self.c * self.o)
        self.by_rows = self.sh == 1 and self.kw * self.c >= _ROW_WINDOW_MIN   # row windows (module doc)

    def blocks(self, itemsize):
        return _blocks(self.n, self.oh, self.ow * self.kh * self.kw * self.c * itemsize, self.threads)

    def padded_rows(self, x, a, b, r0, r1):
        """Rows of images a:b, zero-padded, that output rows r0:r1 read (a view when no padding is needed)."""
        p0, p1 = r0 * self.sh, (r1 - 1) * self.sh + self.kh   # padded coordinates
        lo, hi = p0 - self.pt, p1 - self.pt                   # input coordinates
        if lo >= 0 and hi <= self.h and self.wp == self.w:
            return x[a:b, lo:hi]
        blk = _work("padded", (b - a, p1 - p0, self.wp, self.c), x.dtype, zero=True)
        src_lo, src_hi = max(lo, 0), max(min(hi, self.h), max(lo, 0))
        blk[:, src_lo - lo:src_hi - lo, self.pl:self.pl + self.w] = x[a:b, src_lo:src_hi]
        return blk

    def row_windows(self, xb, rows):
        """(rows + kh - 1, images, ow, kw*C): the kw-wide window of every output column in each padded row
        of a block (row stride 1), one copy. Window row i of output rows [0, rows) is slice [i, i + rows)."""
        return _row_windows(xb, rows + self.kh - 1, self.ow, self.kw, self.sw)

    def im2col(self, xb, rows):
        """(images * rows * ow, kh*kw*C) matrix of the windows of a padded block (one copy).

        A window row holds kw*C contiguous input values. When that run is short (first layers:
        C = 1), the copy is done position-major instead, where runs are `ow` long, and the
        transposed (Fortran-ordered) view is returned: matmul takes either layout as it is."""
        s0, s1, s2, s3 = xb.strides
        nb, k = xb.shape[0], self.kh * self.kw * self.c
        if self.kw * self.c >= 8:
            win = as_strided(xb, (nb, rows, self.ow, self.kh, self.kw, self.c),
                             (s0, s1 * self.sh, s2 * self.sw, s1, s2, s3), writeable=False)
            col = _work("col", win.shape, xb.dtype)
            np.copyto(col, win)
            return col.reshape(-1, k)
        win = as_strided(xb, (self.kh, self.kw, self.c, nb, rows, self.ow),
                         (s1, s2, s3, s0, s1 * self.sh, s2 * self.sw), writeable=False)
        col = _work("col", win.shape, xb.dtype)
        np.copyto(col, win)
        return col.reshape(k, -1).T


def _frequency_route(g, *operands):
    """Whether the kernel goes through conv_fft: it pays for geometry g, and the operands are finite. In the
    frequency domain a NaN or inf reaches every output of its image (the direct sum keeps it to the windows
    that touch it, as TensorFlow does), so non-finite operands go the direct way. One sum per operand tells
    (a sum overflowing on huge finite values only sends the call the direct way too)."""
    if not conv_fft.pays(g):
        return False
    with np.errstate(over="ignore", invalid="ignore"):    # inf + -inf: NaN, the answer, not a warning
        return all(np.isfinite(np.add.reduce(a, axis=None)) for a in operands)


def _conv2d_forward(op_type, strides, padding, relu=False):
    """The Conv2D kernel; `relu`: ReLU applied to each block of the output while it is in cache
    (_FusedConv2DBiasAddRelu)."""
    def conv2d_kernel(x, w, bias=None):   # bias: _FusedConv2DBiasAdd's, added to each block while in cache
        if x.ndim != 4 or w.ndim != 4:
            raise _runtime_error(op_type, "input and filter must be rank 4", x, w)
        g = _Conv(op_type, x.shape, w.shape, strides, padding)
        out = np.empty((g.n, g.oh, g.ow, g.o), dtype=np.result_type(x, w))
        if out.size == 0:
            return out
        if _frequency_route(g, x, w, *(() if bias is None else (bias,))):   # an inf bias: direct, as TF
            conv_fft.conv2d(g, x, w, out, bias, relu_kernel if relu else None)
            return out
        w2 = w.reshape(-1, g.o)
        blocks = g.blocks(x.itemsize)
        # the bias repeated along an output row: added to rows of ow*O values, not runs of O (a loop step each)
        row_bias = None if bias is None else np.tile(bias, g.ow)

        def conv_blocks(i, j):   # blocks write disjoint parts of `out`: threads share nothing else
            for a, b, bands in blocks[i:j]:
                for r0, r1 in bands:
                    xb = g.padded_rows(x, a, b, r0, r1)
                    if g.by_rows:
                        _forward_by_rows(g, xb, w2.reshape(g.kh, g.kw * g.c, g.o), out[a:b, r0:r1])
                    else:
                        np.matmul(g.im2col(xb, r1 - r0), w2, out=out[a:b, r0:r1].reshape((-1, g.o), copy=False))
                    block = out[a:b, r0:r1].reshape((-1, g.ow * g.o), copy=False)   # whole rows: contiguous
                    if row_bias is not None:
                        np.add(block, row_bias, out=block)
                    if relu:
                        relu_kernel(block, out=block)
        parallel.parallel_for(conv_blocks, len(blocks), threads=g.threads)
        return out
    return conv2d_kernel


def _conv2d_backprop_filter(op_type, strides, padding):
    def backprop_filter_kernel(x, filter_sizes, dy):
        w_shape = tuple(int(d) for d in np.ravel(filter_sizes))
        if x.ndim != 4 or len(w_shape) != 4:
            raise _runtime_error(op_type, "input must be rank 4 and filter_sizes have 4 elements", x, filter_sizes)
        g = _Conv(op_type, x.shape, w_shape, strides, padding)
        if dy.shape != (g.n, g.oh, g.ow, g.o):
            raise _runtime_error(op_type, "out_backprop must have shape %s" % ((g.n, g.oh, g.ow, g.o),), x, dy)
        dw_shape, dtype = (g.kh * g.kw * g.c, g.o), np.result_type(x, dy)
        if 0 in dw_shape or dy.size == 0:
            return np.zeros(w_shape, dtype)
        if _frequency_route(g, x, dy):
            return conv_fft.backprop_filter(g, x, dy, dtype)
        blocks = g.blocks(x.itemsize)

        def filter_grad_of_blocks(i, j):   # each thread sums its blocks' products; the sums add up after
            dw = np.zeros(dw_shape, dtype)
            part = _work("product", dw_shape, dtype)
            for a, b, bands in blocks[i:j]:
                for r0, r1 in bands:
                    xb = g.padded_rows(x, a, b, r0, r1)
                    if g.by_rows:
                        _filter_grad_by_rows(g, xb, dy[a:b, r0:r1], dw.reshape(g.kh, g.kw * g.c, g.o))
                    else:
                        _add_product(dw, g.im2col(xb, r1 - r0).T, dy[a:b, r0:r1].reshape(-1, g.o), part)
            return dw
        dw, *others = parallel.parallel_for(filter_grad_of_blocks, len(blocks), threads=g.threads)
        for other in others:
            dw += other
        return dw.reshape(w_shape)
    return backprop_filter_kernel


# A filter gradient of at most this many values (kh*kw*C x O) whose product has a long inner dimension goes in
# slices of _SKINNY_SLICE positions: OpenBLAS makes a first layer's 25 x 39200 x 32 product 1.4-1.6x faster in
# 1024-long slices than whole (one thread, measured: 0.76 against 1.20 ms); from 160 x 64 results slicing no
# longer gains.
_SKINNY_RESULT = 4096
_SKINNY_SLICE = 1024


def _add_product(acc, a, b, part):
    """acc += a @ b, through the work array `part` of acc's shape (in slices of the inner dimension when the
    result is small: _SKINNY_RESULT)."""
    if acc.size > _SKINNY_RESULT or a.shape[1] < 2 * _SKINNY_SLICE:
        acc += np.matmul(a, b, out=part)
        return
    for s in range(0, a.shape[1], _SKINNY_SLICE):
        acc += np.matmul(a[:, s:s + _SKINNY_SLICE], b[s:s + _SKINNY_SLICE], out=part)


def _forward_by_rows(g, xb, w_rows, out):
    """out (images, rows, ow, O) of a padded block xb with row stride 1: the sum over the kh filter rows i
    of (window row i of every output) @ w_rows[i], w_rows the filter as (kh, kw*C, O)."""
    rows = out.shape[1]
    taps = [(i, 0, rows, w_rows[i]) for i in range(g.kh)]
    _sum_of_row_products(g.row_windows(xb, rows), taps, out.transpose(1, 0, 2, 3))


def _row_windows(x, count, cols, k, step):
    """(count, images, cols, k*C) copy of the k-wide windows, `step` apart, of rows [0, count) of x (images,
    rows, cols, C), laid out rows-major: window row i of `rows` consecutive output rows is slice [i, i + rows)."""
    s0, s1, s2, s3 = x.strides
    win = as_strided(x, (count, x.shape[0], cols, k, x.shape[3]), (s1, s0, s2 * step, s2, s3), writeable=False)
    out = _work("col", win.shape, x.dtype)
    np.copyto(out, win)
    return out.reshape(win.shape[:3] + (k * x.shape[3],))


def _sum_of_row_products(win, taps, out):
    """Writes into `out` (rows, images, cols, width) the sum over taps (start, y0, y1, mat) of
    win[start + y0:start + y1] @ mat into output rows [y0, y1): `win` holds window rows as `_row_windows` lays
    them out, so a tap's window rows of consecutive outputs are one contiguous slice. A tap may skip output rows
    whose window row would be all zeros (`_input_grad_phases_of`: padding); rows no tap reaches are zero.

    `out` is any view of the result, e.g. a transposed or strided one into the kernel's output: the last
    product is added straight into it, so the sum is never copied there in a pass of its own (the products
    themselves need contiguous matrices, hence the work arrays)."""
    rows, width = out.shape[0], out.shape[-1]
    taps = [t for t in taps if t[1] < t[2]]
    full = [t for t in taps if t[1] == 0 and t[2] == rows]
    if full:            # a tap over all rows starts the sum, another one (if any) ends it, straight into `out`
        taps = full[:1] + [t for t in taps if t is not full[0] and t is not full[-1]] + full[1:][-1:]
    acc = _work("acc", out.shape, out.dtype, zero=not full)
    part = _work("product", out.shape, out.dtype)
    for i, (start, y0, y1, mat) in enumerate(taps):
        product = acc if full and i == 0 else part
        np.matmul(win[start + y0:start + y1].reshape(-1, mat.shape[0]), mat, out=product[y0:y1].reshape(-1, width))
        if product is acc:
            continue
        if i < len(taps) - 1:
            acc[y0:y1] += part[y0:y1]
        else:
            np.add(acc[y0:y1], part[y0:y1], out=out[y0:y1])
            out[:y0], out[y1:] = acc[:y0], acc[y1:]
    if not taps or (full and len(taps) == 1):   # no product was added into `out` itself
        out[...] = acc


def _filter_grad_by_rows(g, xb, dy, dw_rows):
    """Adds a block's filter gradient to dw_rows (kh, kw*C, O): filter row i gets (window row i of every
    output)^T @ dy, dy (images, rows, ow, O) laid out rows-major as the windows are."""
    nb, rows = dy.shape[:2]
    win = g.row_windows(xb, rows)
    dy_rows = _work("dy", (rows, nb, g.ow, g.o), dy.dtype)
    np.copyto(dy_rows, dy.transpose(1, 0, 2, 3))
    dy_rows = dy_rows.reshape(-1, g.o)
    part = _work("product", dw_rows.shape[1:], dw_rows.dtype)
    for i in range(g.kh):
        dw_rows[i] += np.matmul(win[i:i + rows].reshape(len(dy_rows), -1).T, dy_rows, out=part)


def _input_grad_by_taps(g, w, dy, dx, dtype):
    """Any strides: the im2col matrix's gradient w2 @ dy^T, laid out (kh, kw, C, rows, cols,
    images) so that each of the kh*kw taps adds one block onto acc[:, rows, cols, :], whose
    (cols, images) runs are contiguous."""
    w2 = w.reshape(-1, g.o)
    blocks = g.blocks(dy.itemsize)
    parallel.parallel_for(lambda i, j: _input_grad_by_taps_of(g, w2, dy, dx, dtype, blocks[i:j]), len(blocks),
                          threads=g.threads)


def _input_grad_by_taps_of(g, w2, dy, dx, dtype, blocks):
    for a, b, bands in blocks:
        nb = b - a
        acc = _work("acc", (g.c, g.hp, g.wp, nb), dtype, zero=True)
        for r0, r1 in bands:
            rows = r1 - r0
            dy_t = _work("padded", (rows, g.ow, nb, g.o), dy.dtype)
            np.copyto(dy_t, dy[a:b, r0:r1].transpose(1, 2, 0, 3))
            dcol = _work("col", (w2.shape[0], rows * g.ow * nb), dtype)
            np.matmul(w2, dy_t.reshape(-1, g.o).T, out=dcol)
            dcol = dcol.reshape(g.kh, g.kw, g.c, rows, g.ow, nb)
            p0 = r0 * g.sh
            for i in range(g.kh):
                rs = slice(p0 + i, p0 + i + g.sh * (rows - 1) + 1, g.sh)
                for j in range(g.kw):
                    acc[:, rs, j:j + g.sw * (g.ow - 1) + 1:g.sw] += dcol[i, j]
        dx[a:b] = acc[:, g.pt:g.pt + g.h, g.pl:g.pl + g.w].transpose(3, 1, 2, 0)


def _input_grad_by_phases(g, w, dy, dx, dtype):
    """Strided input gradient as stride^2 stride-1 correlations (sub-pixel decomposition).

    Input row h (padded row p = h + pt) receives dy at output rows y with y*sh + i = p: only filter
    rows i = p mod sh, p mod sh + sh, ... (kt of them) touch it, and y = p // sh - t for i's t-th row.
    So the rows of one phase e = h mod sh form a stride-1 correlation of the zero-padded dy with the
    filter's rows of that phase, reversed; columns likewise. Each of the sh*sw phases is kt products
    (positions, ku*O) @ (ku*O, C) over dy's column windows, written straight into dx[:, e::sh, f::sw]:
    no scatter-add of kh*kw taps. The phases of one column phase f read the same column windows, only
    from other rows, so they share one copy of them (`_input_grad_phases_of`). Only dy's columns are
    padded: a tap's product leaves out the output rows whose window row would be padding (zeros), which
    saves the products on SAME's padded rows (3 window rows of 35 for DCGAN's 5x5 stride 2 layers)."""
    def dim_phases(size, k, s, pad, out):
        # per phase e: (first input index e, count, first tap r, taps kt, dy index of phase index 0's last tap)
        res = []
        for e in range(min(s, size)):
            r, d = (e + pad) % s, (e + pad) // s
            res.append((e, len(range(e, size, s)), r, len(range(r, k, s)), d))
        lo = -(-k // s) - 1                                  # zeros before dy (columns: padding)
        hi = max(0, (size - 1 + pad) // s - out + 1)         # after: whose windows run past dy
        return res, lo, hi
    rows_ph, _, _ = dim_phases(g.h, g.kh, g.sh, g.pt, g.oh)
    cols_ph, qlo, qhi = dim_phases(g.w, g.kw, g.sw, g.pl, g.ow)
    # (f, nc, ku, first window column, [(e, m, kt, dy row of phase row 0's first window row, filter rows)])
    col_phases = []
    for f, nc, rc, ku, dc in cols_ph:
        row_phases = []
        for e, m, r, kt, d in rows_ph:
            if kt == 0 or ku == 0:                           # no filter tap reaches these inputs
                dx[:, e::g.sh, f::g.sw] = 0
                continue
            # window tap v (ascending dy rows) is filter row r + sh*(kt-1-v): the phase's rows reversed
            sub = w[r::g.sh][::-1][:, rc::g.sw][:, ::-1]                       # (kt, ku, C, O)
            w_mat = np.ascontiguousarray(sub.transpose(0, 1, 3, 2)).reshape(kt, ku * g.o, g.c)
            row_phases.append((e, m, kt, d - kt + 1, w_mat))
        if row_phases:
            col_phases.append((f, nc, ku, dc - ku + 1 + qlo, row_phases))
    if not col_phases:
        return
    widest = max(nc * kt * ku for _, nc, ku, _, row_phases in col_phases for _, _, kt, _, _ in row_phases)
    blocks = _blocks(g.n, max(m for e, m, r, kt, d in rows_ph), widest * g.o * dy.itemsize, g.threads)
    parallel.parallel_for(lambda i, j: _input_grad_phases_of(g, dy, (qlo, qhi), dx, col_phases, blocks[i:j]),
                          len(blocks), threads=g.threads)


def _column_padded(src, before, after):
    """src (images, rows, cols, depth) with `before` and `after` columns of zeros, in this thread's work array:
    each thread pads its own images (one serial padded copy of all of dy would cap what threads gain)."""
    nb, rows, cols, depth = src.shape
    out = _work("padded", (nb, rows, before + cols + after, depth), src.dtype)
    out[:, :, :before] = 0
    out[:, :, before + cols:] = 0
    out[:, :, before:before + cols] = src
    return out


def _input_grad_phases_of(g, dy, col_padding, dx, col_phases, blocks):
    """Each phase's correlation by row windows, as `_forward_by_rows`: per column phase, one copy of the
    ku-wide column windows of the dy rows its row phases read in a band, laid out (rows, images, cols, ku*O),
    where window row v of a row phase's outputs is one contiguous slice: kt products, not one over a kt
    times larger copy; the last one is added straight into the phase's rows and columns of dx."""
    for a, b, bands in blocks:
        dyp = _column_padded(dy[a:b], *col_padding)
        for r0, r1 in bands:
            for f, nc, ku, col0, row_phases in col_phases:
                # (phase, its rows in this band, dy row of its first window row): the copy spans the dy rows
                # they read; rows before dy or after it are padding, never copied
                reads = [(p, min(r1, p[1]) - r0, p[3] + r0) for p in row_phases if min(r1, p[1]) > r0]
                if not reads:
                    continue
                lo = max(min(first for _, _, first in reads), 0)
                hi = min(max(first + rows + p[2] - 1 for p, rows, first in reads), g.oh)
                win = _row_windows(dyp[:, lo:, col0:], max(hi - lo, 0), nc, ku, 1)
                for (e, m, kt, _, w_mat), rows, first in reads:
                    h0 = e + g.sh * r0
                    dest = dx[a:b, h0:h0 + g.sh * (rows - 1) + 1:g.sh, f::g.sw].transpose(1, 0, 2, 3)
                    # tap v of output row y reads dy row first + y + v: rows y in [y0, y1) read dy itself
                    taps = [(first + v - lo, min(max(-first - v, 0), rows), max(min(g.oh - first - v, rows), 0),
                             w_mat[v]) for v in range(kt)]
                    _sum_of_row_products(win, taps, dest)


def _input_grad_by_rows(g, w, dy, dx, dtype):
    """Column stride 1: the sum over the kw taps of a window row happens inside the matrix product.

    Input column c receives dy at output columns c + pl - j (j < kw). With dy zero-padded along
    the columns, those kw*O values are contiguous, so a strided view gives the (positions,
    kw*O) matrix B in one copy, and W_rows @ B^T (W_rows: (kh*C, kw*O), the filter with its
    columns reversed) is the gradient of each input row from each of the kh filter rows: kh adds
    of whole rows remain, instead of kh*kw adds of short runs."""
    off = g.kw - 1 - g.pl                   # dy column q sits at padded column q + off
    wq = g.w + g.kw - 1
    w_rows = w[:, ::-1].transpose(0, 2, 1, 3).reshape(g.kh * g.c, g.kw * g.o)
    row_bytes = g.w * (g.kw * g.o + g.kh * g.c) * dy.itemsize
    blocks = _blocks(g.n, g.oh, row_bytes, g.threads)
    parallel.parallel_for(lambda i, j: _input_grad_rows_of(g, w_rows, dy, dx, dtype, off, wq, blocks[i:j]),
                          len(blocks), threads=g.threads)


def _input_grad_rows_of(g, w_rows, dy, dx, dtype, off, wq, blocks):
    for a, b, bands in blocks:
        nb = b - a
        acc = _work("acc", (g.c, g.hp, nb, g.w), dtype, zero=True)
        for r0, r1 in bands:
            rows = r1 - r0
            dyp = _work("padded", (rows, nb, wq, g.o), dy.dtype, zero=True)
            dyp[:, :, off:off + g.ow] = dy[a:b, r0:r1].transpose(1, 0, 2, 3)
            s0, s1, s2, s3 = dyp.strides
            win = as_strided(dyp, (rows, nb, g.w, g.kw, g.o), (s0, s1, s2, s2, s3), writeable=False)
            cols = _work("col", win.shape, dy.dtype)
            np.copyto(cols, win)
            per_row = _work("product", (w_rows.shape[0], rows * nb * g.w), dtype)
            np.matmul(w_rows, cols.reshape(-1, g.kw * g.o).T, out=per_row)
            per_row = per_row.reshape(g.kh, g.c, rows, nb, g.w)
            p0 = r0 * g.sh
            for i in range(g.kh):
                acc[:, p0 + i:p0 + i + g.sh * (rows - 1) + 1:g.sh] += per_row[i]
        dx[a:b] = acc[:, g.pt:g.pt + g.h].transpose(2, 1, 3, 0)


def _conv2d_backprop_input(op_type, strides, padding):
    def backprop_input_kernel(input_sizes, w, dy):
        x_shape = tuple(int(d) for d in np.ravel(input_sizes))
        if len(x_shape) != 4 or w.ndim != 4:
            raise _runtime_error(op_type, "input_sizes must have 4 elements and the filter rank 4", input_sizes, w)
        g = _Conv(op_type, x_shape, w.shape, strides, padding)
        if dy.shape != (g.n, g.oh, g.ow, g.o):
            raise _runtime_error(op_type, "out_backprop must have shape %s" % ((g.n, g.oh, g.ow, g.o),), w, dy)
        dtype = np.result_type(w, dy)
        if 0 in x_shape or dy.size == 0:
            return np.zeros(x_shape, dtype=dtype)
        dx = np.empty(x_shape, dtype=dtype)
        if _frequency_route(g, w, dy):
            conv_fft.backprop_input(g, w, dy, dx)
        elif g.sw == 1:
            _input_grad_by_rows(g, w, dy, dx, dtype)
        elif g.c >= _PHASE_MIN_DEPTH:
            _input_grad_by_phases(g, w, dy, dx, dtype)
        else:
            _input_grad_by_taps(g, w, dy, dx, dtype)
        return dx
    return backprop_input_kernel


def _kernel_from(factory, attrs):
    """kernel(op, ctx) of a convolution or pooling op: factory(op type, *those attrs) -> its NumPy function."""
    def kernel(op, ctx):
        return _half_via_float32(factory(op.type, *[op._attrs[a] for a in attrs]), op)
    return kernel


_CONV_ATTRS, _POOL_ATTRS = ("strides", "padding"), ("ksize", "strides", "padding")


def _sizes_input(op, sizes, what):
    """The static values of an integer shape input (input_sizes, filter_sizes, orig_input_shape)."""
    if not sizes.dtype.is_integer:
        raise TypeError("%s '%s': %s must be int32 or int64, got %s" % (op.type, op.name, what, sizes.dtype.name))
    return _static_sizes(op, sizes)


def _half_via_float32(fn, op):
    """float16 kernels compute in float32 (NumPy's float16 matmul is very slow) and round once."""
    if op._outputs[0].dtype is not dtypes.float16:
        return fn

    def half_kernel(*args):
        args = [a.astype(np.float32) if getattr(a, "dtype", None) == np.float16 else a for a in args]
        return fn(*args).astype(np.float16)
    return half_kernel


# -- XLA lowerings (NHWC images, HWIO filters; lax pads SAME as TF does, the odd element after). The
# backprops and pooling gradients are the transposes XLA derives from the forward op (jax.vjp/jvp).
_XLA_DIMS = ("NHWC", "HWIO", "NHWC")


def _xla_conv(op):
    s = op._attrs["strides"]
    return lambda x, w: xla.lax.conv_general_dilated(x, w, (s[1], s[2]), op._attrs["padding"],
                                                     dimension_numbers=_XLA_DIMS)


def _xla_zeros(op, sizes, index):
    """Zeros shaped as the sizes input `index` says (the point a backprop's vjp is taken at)."""
    return xla.jnp.zeros(xla.shape_tuple(op, sizes, index), dtype=xla.out_dtype(op))


# -- Conv2D and its two backprop ops
def _conv_kw(op):
    a = op._attrs
    return {k: a[k] for k in ("strides", "padding", "data_format", "dilations", "use_cudnn_on_gpu")}


class Conv2D(OpDef):
    row_wise = True          # image by image (the filter is whole)
    splits_work = True
    fresh_output = True

    def infer(op):
        _check_attrs(op)
        x, w = op._inputs
        dt = _same_float_dtype(op, x, w)
        n, h, wd, c = _rank4(op, x, "input")
        kh, kw, cin, o = _rank4(op, w, "filter")
        _merge(c, cin, op, "input depth vs filter in_channels")
        oh, ow = _spatial_out(op, h, wd, kh, kw)
        return dt, TensorShape([n, oh, ow, o])

    kernel = _kernel_from(_conv2d_forward, _CONV_ATTRS)

    def lower(op, x, w):
        return _xla_conv(op)(x, w)

    def grad(op, g):
        x, w = op._inputs
        kw = _conv_kw(op)
        return [_backprop_input_op(array_ops._shape_of(x), w, g, kw, "Conv2DBackpropInput"),
                _backprop_filter_op(x, array_ops._shape_of(w), g, kw, "Conv2DBackpropFilter")]

    samples = [
        Sample(lambda x, w: conv2d(x, w, [1, 1, 1, 1], "SAME"), [(2, 5, 5, 2), (3, 3, 2, 3)]),
        Sample(lambda x, w: conv2d(x, w, [1, 2, 2, 1], "SAME"), [(2, 5, 5, 3), (2, 2, 3, 2)]),
        Sample(lambda x, w: conv2d(x, w, [1, 2, 2, 1], "VALID"), [(2, 5, 5, 2), (3, 3, 2, 2)]),
        Sample(lambda x, w: conv2d(x, w, [1, 2, 1, 1], "SAME"), [(2, 5, 4, 2), (3, 2, 2, 3)]),
        Sample(lambda x, w: conv2d(x, w, [1, 3, 3, 1], "SAME"), [(1, 5, 5, 2), (3, 3, 2, 2)]),
    ]


class _FusedConv2DBiasAdd(FusedOpDef):
    """Conv2D whose output feeds only a BiasAdd (every tf.layers / contrib conv layer), as TensorFlow's
    _FusedConv2D: the bias is added to each block of the output while it is in cache (in the frequency
    route, as the spectrum's zero-frequency term: no pass at all) instead of in a pass of its own over
    the whole output. Inputs: input, filter, bias; attrs: Conv2D's and BiasAdd's data_format."""

    splits_work = True
    fresh_output = True

    def kernel(op, ctx):
        conv = _conv2d_forward(op.type, op._attrs["strides"], op._attrs["padding"])
        if op._attrs.get("data_format", "NHWC") != "NHWC":      # BiasAdd over axis 1 of an NHWC image
            return _half_via_float32(lambda x, w, b: conv(x, w) + b.reshape(-1, 1, 1), op)
        return _half_via_float32(conv, op)

    samples = [Sample(lambda x, w, b, s=s, p=p: apply_op("_FusedConv2DBiasAdd", [x, w, b], dict(
                   strides=[1, s, s, 1], padding=p, dilations=[1, 1, 1, 1], use_cudnn_on_gpu=True,
                   data_format="NHWC"), name="FusedConv2DBiasAdd"), [xs, ws, ws[-1:]], grad=())
               for xs, ws, s, p in [((2, 5, 5, 2), (3, 3, 2, 3), 1, "SAME"), ((2, 5, 5, 3), (2, 2, 3, 2), 2, "VALID"),
                                    ((1, 8, 8, 32), (5, 5, 32, 32), 1, "SAME")]]   # the last one in frequencies


class _FusedConv2DBiasAddRelu(_FusedConv2DBiasAdd):
    """_FusedConv2DBiasAdd whose output feeds only a ReLU (a conv layer with activation=tf.nn.relu), as
    TensorFlow's _FusedConv2D with fused_ops [BiasAdd, Relu]: each block of the output gets its bias, then
    its ReLU, while in cache, instead of a pass of the ReLU's own over the whole output.
    Inputs: input, filter, bias; attrs: Conv2D's and BiasAdd's data_format."""

    def kernel(op, ctx):
        conv = _conv2d_forward(op.type, op._attrs["strides"], op._attrs["padding"], relu=True)
        if op._attrs.get("data_format", "NHWC") != "NHWC":
            plain = _conv2d_forward(op.type, op._attrs["strides"], op._attrs["padding"])
            return _half_via_float32(lambda x, w, b: relu_kernel(plain(x, w) + b.reshape(-1, 1, 1)), op)
        return _half_via_float32(conv, op)

    samples = [Sample(lambda x, w, b, s=s, p=p: apply_op("_FusedConv2DBiasAddRelu", [x, w, b], dict(
                   strides=[1, s, s, 1], padding=p, dilations=[1, 1, 1, 1], use_cudnn_on_gpu=True,
                   data_format="NHWC"), name="FusedConv2DBiasAddRelu"), [xs, ws, ws[-1:]], grad=())
               for xs, ws, s, p in [((2, 5, 5, 2), (3, 3, 2, 3), 1, "SAME"), ((2, 5, 5, 3), (2, 2, 3, 2), 2, "VALID"),
                                    ((2, 6, 6, 1), (5, 5, 1, 4), 1, "SAME"),     # C = 1: im2col by positions
                                    ((1, 8, 8, 32), (5, 5, 32, 32), 1, "SAME")]]   # the last one in frequencies


def _backprop_samples(build, cases):
    """Samples of a Conv2D gradient op: build(sizes, a, b, strides, padding) per case
    (sizes, strides, padding, shape of a, shape of b)."""
    return [Sample(lambda a, b, c=c: build(c[0], a, b, c[1], c[2]), [c[3], c[4]]) for c in cases]


class _Conv2DBackprop(OpDef):
    """The two gradients of Conv2D: input i (`sizes` = (i, its name)) is the static shape of the result; the
    other two (`other`, then out_backprop) share a floating dtype and are rank 4; `shape_of(op, sizes,
    other's dims, out_backprop's dims)` is the result's static shape; `backprop(op type, strides, padding)`
    makes the NumPy kernel."""
    abstract = True
    fresh_output = True
    splits_work = True

    @classmethod
    def kernel(cls, op, ctx):
        return _kernel_from(cls.backprop, _CONV_ATTRS)(op, ctx)

    @classmethod
    def infer(cls, op):
        _check_attrs(op)
        i, what = cls.sizes
        other, dy = [t for j, t in enumerate(op._inputs) if j != i]
        dt = _same_float_dtype(op, other, dy)
        sizes = _sizes_input(op, op._inputs[i], what)
        return dt, cls.shape_of(op, sizes, _rank4(op, other, cls.other), _rank4(op, dy, "out_backprop"))


class Conv2DBackpropInput(_Conv2DBackprop):
    """Gradient of Conv2D w.r.t. its input: (input_sizes, filter, out_backprop) -> d input."""
    sizes, other, backprop = (0, "input_sizes"), "filter", staticmethod(_conv2d_backprop_input)

    def shape_of(op, sizes, filter_dims, dy_dims):
        (n, h, wd, c), (_, _, cin, o), (dn, _, _, do) = sizes, filter_dims, dy_dims
        _merge(o, do, op, "filter out_channels vs out_backprop depth")
        return TensorShape([_merge(n, dn, op, "batch"), h, wd, _merge(c, cin, op, "input depth vs filter")])

    def lower(op, sizes, w, dy):
        return xla.jax.vjp(lambda x: _xla_conv(op)(x, w), _xla_zeros(op, sizes, 0))[1](dy)[0]

    def grad(op, g):
        _, w, dy = op._inputs
        kw = _conv_kw(op)
        return [None, _backprop_filter_op(g, array_ops._shape_of(w), dy, kw, "Conv2DBackpropFilter"),
                _conv2d_op(g, w, kw, "Conv2D")]

    # (input_sizes, strides, padding, filter shape, out_backprop shape)
    samples = _backprop_samples(lambda sizes, w, dy, strides, padding: conv2d_backprop_input(
        sizes, w, dy, strides, padding), [([2, 5, 5, 2], [1, 1, 1, 1], "SAME", (3, 3, 2, 3), (2, 5, 5, 3)),
                                          ([2, 5, 5, 2], [1, 2, 2, 1], "SAME", (3, 3, 2, 3), (2, 3, 3, 3)),
                                          ([2, 5, 6, 3], [1, 2, 2, 1], "VALID", (2, 3, 3, 2), (2, 2, 2, 2))])


class Conv2DBackpropFilter(_Conv2DBackprop):
    """Gradient of Conv2D w.r.t. its filter: (input, filter_sizes, out_backprop) -> d filter."""
    sizes, other, backprop = (1, "filter_sizes"), "input", staticmethod(_conv2d_backprop_filter)

    def shape_of(op, sizes, x_dims, dy_dims):
        kh, kw, cin, o = sizes
        c, do = x_dims[3], dy_dims[3]
        return TensorShape([kh, kw, _merge(cin, c, op, "filter in_channels vs input depth"),
                            _merge(o, do, op, "filter out_channels vs out_backprop depth")])

    def lower(op, x, sizes, dy):
        return xla.jax.vjp(lambda w: _xla_conv(op)(x, w), _xla_zeros(op, sizes, 1))[1](dy)[0]

    def grad(op, g):
        x, _, dy = op._inputs
        kw = _conv_kw(op)
        return [_backprop_input_op(array_ops._shape_of(x), g, dy, kw, "Conv2DBackpropInput"), None,
                _conv2d_op(x, g, kw, "Conv2D")]

    # (filter_sizes, strides, padding, input shape, out_backprop shape)
    samples = _backprop_samples(lambda sizes, x, dy, strides, padding: conv2d_backprop_filter(
        x, sizes, dy, strides, padding), [([3, 3, 2, 3], [1, 1, 1, 1], "SAME", (2, 5, 5, 2), (2, 5, 5, 3)),
                                          ([2, 2, 3, 2], [1, 2, 2, 1], "SAME", (2, 5, 5, 3), (2, 3, 3, 2)),
                                          ([3, 2, 2, 2], [1, 2, 2, 1], "VALID", (2, 5, 6, 2), (2, 2, 3, 2))])


def _conv2d_op(x, w, kw, name):
    return apply_op("Conv2D", [x, w], dict(kw), name=name)


def _backprop_input_op(sizes, w, dy, kw, name):
    return apply_op("Conv2DBackpropInput", [sizes, w, dy], dict(kw, T=w.dtype), name=name)


def _backprop_filter_op(x, sizes, dy, kw, name):
    return apply_op("Conv2DBackpropFilter", [x, sizes, dy], dict(kw, T=x.dtype), name=name)


def _conv_attrs(fn, strides, padding, use_cudnn_on_gpu, data_format, dilations):
    if data_format not in ("NHWC", "NCHW", None):
        raise ValueError("%s: data_format must be 'NHWC' or 'NCHW', got %r" % (fn, data_format))
    return {"strides": _four(strides, "strides", fn), "padding": _padding_attr(padding, fn),
            "data_format": data_format or "NHWC",
            "dilations": _four(dilations if dilations is not None else 1, "dilations", fn),
            "use_cudnn_on_gpu": bool(use_cudnn_on_gpu)}


def _filter_arg(fn, filter, filters):  # noqa: A002 - TF's argument name
    if filter is not None and filters is not None:
        raise ValueError("%s: cannot specify both 'filters' and 'filter'" % fn)
    f = filters if filter is None else filter
    if f is None:
        raise ValueError("%s: a filter is required" % fn)
    return f


def _float_operands(x, others):
    """Converts the first operand, then the others to its dtype when they are not Tensors already."""
    x = convert_to_tensor(x)
    return [x] + [v if isinstance(v, Tensor) else convert_to_tensor(v, dtype=x.dtype) for v in others]


def conv2d(input, filter=None, strides=None, padding=None, use_cudnn_on_gpu=True,  # noqa: A002
           data_format="NHWC", dilations=(1, 1, 1, 1), name=None, filters=None):
    """2-D convolution (cross-correlation) of an NHWC `input` with a [kh, kw, in, out] filter."""
    attrs = _conv_attrs("conv2d", strides, padding, use_cudnn_on_gpu, data_format, dilations)
    x, w = _float_operands(input, [_filter_arg("conv2d", filter, filters)])
    return apply_op("Conv2D", [x, w], attrs, name=name or "Conv2D")


def conv2d_backprop_input(input_sizes, filter=None, out_backprop=None, strides=None,  # noqa: A002
                          padding=None, use_cudnn_on_gpu=True, data_format="NHWC", dilations=(1, 1, 1, 1),
                          name=None, filters=None):
    """The gradient of conv2d w.r.t. an input of shape `input_sizes` (a 4-vector)."""
    attrs = _conv_attrs("conv2d_backprop_input", strides, padding, use_cudnn_on_gpu, data_format, dilations)
    w, dy = _float_operands(_filter_arg("conv2d_backprop_input", filter, filters), [out_backprop])
    sizes = array_ops._int_tensor(input_sizes, "input_sizes")
    return apply_op("Conv2DBackpropInput", [sizes, w, dy], dict(attrs, T=w.dtype),
                    name=name or "Conv2DBackpropInput")


def conv2d_backprop_filter(input, filter_sizes, out_backprop, strides, padding,  # noqa: A002
                           use_cudnn_on_gpu=True, data_format="NHWC", dilations=(1, 1, 1, 1), name=None):
    """The gradient of conv2d w.r.t. a filter of shape `filter_sizes` (a 4-vector)."""
    attrs = _conv_attrs("conv2d_backprop_filter", strides, padding, use_cudnn_on_gpu, data_format, dilations)
    x, dy = _float_operands(input, [out_backprop])
    sizes = array_ops._int_tensor(filter_sizes, "filter_sizes")
    return apply_op("Conv2DBackpropFilter", [x, sizes, dy], dict(attrs, T=x.dtype),
                    name=name or "Conv2DBackpropFilter")


def conv2d_transpose(value=None, filter=None, output_shape=None, strides=None, padding="SAME",  # noqa: A002
                     data_format="NHWC", name=None, input=None, filters=None, dilations=None):  # noqa: A002
    """The transpose of conv2d (the gradient of conv2d w.r.t. its input): filter [kh, kw, out, in]."""
    value = input if value is None else value
    w = _filter_arg("conv2d_transpose", filter, filters)
    with name_scope(name, "conv2d_transpose", [value, w, output_shape]) as scope:
        value, w = _float_operands(value, [w])
        vc, wc = value.shape.as_tuple(), w.shape.as_tuple()
        if vc and wc and len(vc) == 4 and len(wc) == 4 and None not in (vc[3], wc[3]) and vc[3] != wc[3]:
            raise ValueError("input channels does not match filter's input channels, %d != %d" % (vc[3], wc[3]))
        attrs = _conv_attrs("conv2d_transpose", strides, padding, True, data_format, dilations)
        sizes = array_ops._int_tensor(output_shape, "output_shape")
        return apply_op("Conv2DBackpropInput", [sizes, w, value], dict(attrs, T=w.dtype), name=scope)
