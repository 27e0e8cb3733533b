"""Pooling ops (NHWC): MaxPool with MaxPoolGrad/MaxPoolGradGrad, AvgPool with AvgPoolGrad.

Pooling loops over the kh*kw window taps (strided views of the input), never over positions;
MaxPool's 2x2 windows at stride 2 tiling the input (CNNs' usual pool) have their own kernel, over
whole image rows. Max-pool gradients go to the first maximum of each window in row-major order, as
TensorFlow's CPU kernel does. Padding follows TensorFlow (see conv_ops): 'VALID' keeps whole windows; 'SAME' gives
ceil(size / stride) outputs. AvgPool's SAME windows average only the elements inside the input.
"""
import numpy as np

from nanotf.framework import lowering as xla
from nanotf.framework import parallel
from nanotf.framework.op_def import FusedOpDef, OpDef, Sample
from nanotf.framework.ops import Tensor, apply_op, convert_to_tensor, name_scope
from nanotf.framework.tensor_shape import TensorShape
from nanotf.ops import array_ops
from nanotf.ops.array_ops import _fmt_shape as _fmt, _shape_error
from nanotf.ops.conv_ops import (_POOL_ATTRS, _check_attrs, _four, _geometry, _half_via_float32, _kernel_from,
                                 _merge, _out_size,
                                 _padding_attr, _rank4, _runtime_error, _same_float_dtype, _sizes_input,
                                 _spatial_out, _work, _xla_zeros)

__all__ = ["max_pool", "max_pool2d", "avg_pool", "avg_pool2d"]


# -- XLA lowerings: reduce_window over NHWC; the gradients are the transposes jax derives (vjp/jvp)
def _xla_window(op):
    k, s = op._attrs["ksize"], op._attrs["strides"]
    return (1, k[1], k[2], 1), (1, s[1], s[2], 1), op._attrs["padding"]


def _xla_max_pool(op):
    dims, strides, padding = _xla_window(op)
    return lambda x: xla.lax.reduce_window(x, np.asarray(-np.inf, x.dtype), xla.lax.max, dims, strides, padding)


def _xla_window_taps(op, x, fill):
    """x's windows as [N, OH, OW, K, C] (K = window rows x columns, row-major: TF's order for "first max"), the
    padding filled with `fill`; and scatter(v [N, OH, OW, K, C]) -> x-shaped sums of each tap's values at its
    input position."""
    lax, jnp = xla.lax, xla.jnp
    dims, strides, padding = _xla_window(op)
    pads = lax.padtype_to_pads(x.shape, dims, strides, padding)
    xp = lax.pad(x, np.asarray(fill, x.dtype), [(lo, hi, 0) for lo, hi in pads])
    (_, kh, kw, _), (_, sh, sw, _) = dims, strides
    h, w = x.shape[1:3]
    oh, ow = (xp.shape[1] - kh) // sh + 1, (xp.shape[2] - kw) // sw + 1
    tap_slices = [np.s_[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :]
                  for i in range(kh) for j in range(kw)]
    taps = jnp.stack([xp[sl] for sl in tap_slices], axis=3)

    def scatter(v):
        out = jnp.zeros(xp.shape, v.dtype)
        for k, sl in enumerate(tap_slices):
            out = out.at[sl].add(v[:, :, :, k, :])
        return out[:, pads[1][0]:pads[1][0] + h, pads[2][0]:pads[2][0] + w, :]
    return taps, scatter


def _xla_first_max(op, x):
    """Per window, the one-hot [N, OH, OW, K, C] of its first max (TF's choice on ties), and the scatter back."""
    taps, scatter = _xla_window_taps(op, x, -np.inf)
    first = xla.jnp.argmax(taps, axis=3)
    return xla.jax.nn.one_hot(first, taps.shape[3], axis=3, dtype=x.dtype), scatter


# The max-pool gradients are written out (one-hot of each window's first max, scattered back) rather than
# taken from JAX's derivative of reduce_window max, for three measured reasons: JAX's select-and-scatter broke
# ties otherwise than TF's first max in some overlapping SAME windows (3x3, stride 2: 2 of 36 values); where
# XLA lacks pair reductions (GPUs) JAX packs value and tangent into one 64-bit word, so float64 gradients came
# out rounded to float32 (on the H200: errors of 4e-7); and on the CPU the CNN's XLA step took 125 ms this
# way against 160 (lockstep, tf1_lockstep.py --self_check).
def _xla_max_pool_grad(op, x, dy):
    hot, scatter = _xla_first_max(op, x)
    return scatter(hot * dy[:, :, :, None, :])


def _xla_max_pool_grad_grad(op, x, g):
    hot, _ = _xla_first_max(op, x)
    g_taps, _ = _xla_window_taps(op, g, 0)
    return xla.jnp.sum(hot * g_taps, axis=3)


def _xla_avg_pool(op):
    """Mean over each window's elements inside the image (SAME windows at the edges hold fewer), as TF."""
    dims, strides, padding = _xla_window(op)

    def avg(x):
        lax = xla.lax
        total = lax.reduce_window(x, np.zeros((), x.dtype), lax.add, dims, strides, padding)
        ones = xla.jnp.ones((1,) + x.shape[1:3] + (1,), x.dtype)
        counts = lax.reduce_window(ones, np.zeros((), x.dtype), lax.add, dims, strides, padding)
        return total / counts
    return avg


# -- pooling
def _pool_geometry(op_type, x_shape, ksize, strides, padding):
    n, h, w, c = x_shape
    kh, kw, sh, sw = ksize[1], ksize[2], strides[1], strides[2]
    oh, pt, hp = _geometry(h, kh, sh, padding)
    ow, pl, wp = _geometry(w, kw, sw, padding)
    if oh < 0 or ow < 0:
        raise ValueError("%s: window %dx%d is larger than the %dx%d input with VALID padding"
                         % (op_type, kh, kw, h, w))
    return kh, kw, sh, sw, oh, ow, pt, pl, hp, wp


def _pad(x, pt, pl, hp, wp, fill):
    """x inside a (n, hp, wp, c) array filled with `fill` (x itself when there is no padding)."""
    n, h, w, c = x.shape
    if hp == h and wp == w:
        return x
    out = np.full((n, hp, wp, c), fill, dtype=x.dtype)
    out[:, pt:pt + h, pl:pl + w] = x
    return out


def _taps(kh, kw, sh, sw, oh, ow):
    """Index tuples selecting, for each window tap (i, j), its element of every window."""
    return [(slice(None), slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]


def _tiles_exactly(x_shape, kh, kw, sh, sw, oh, ow, hp, wp):
    """True when the windows cover every element exactly once (e.g. 2x2 stride 2 on even sizes)."""
    return (sh, sw) == (kh, kw) and oh * sh == hp == x_shape[1] and ow * sw == wp == x_shape[2]


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _max_pool_kernel(op_type, ksize, strides, padding):
    def max_pool_kernel(x):
        geo = _pool_geometry(op_type, x.shape, ksize, strides, padding)
        kh, kw, sh, sw, oh, ow, pt, pl, hp, wp = geo
        out = np.empty((x.shape[0], oh, ow, x.shape[3]), dtype=x.dtype)
        if _tiles_2x2(x.shape, geo):
            _in_blocks(lambda a, b: _max_pool_2x2(x[a:b], out[a:b]), x)
            return out
        taps = _taps(kh, kw, sh, sw, oh, ow)

        def pool(a, b):   # images a:b
            xp = _pad(x[a:b], pt, pl, hp, wp, _lowest(x.dtype))
            o = out[a:b]
            np.copyto(o, xp[taps[0]])
            for t in taps[1:]:
                np.maximum(o, xp[t], out=o)
        parallel.parallel_for(pool, x.shape[0], threads=parallel.threads_for(8 * x.size))
        return out
    return max_pool_kernel


# -- MaxPool of 2x2 windows at stride 2 tiling the input (CNNs' usual pool). Taps (strided views
# whose contiguous runs are only C elements long) cost NumPy a loop step per run, and reading a
# window's rows as every other image row defeats the memory prefetchers. So each image row is
# compared with the next one as one contiguous run over a whole block of images (the results at
# bottom rows, a window's bottom row against the next window's top row, are never read: twice the
# comparisons, still faster), and only those column maxima are reduced over column pairs.
_TILE_BLOCK_BYTES = 1 << 20    # input per block: NumPy call overheads stay small, temporaries in cache


def _tiles_2x2(x_shape, geo):
    kh, kw, sh, sw, oh, ow, pt, pl, hp, wp = geo
    return (kh, kw) == (2, 2) and _tiles_exactly(x_shape, kh, kw, sh, sw, oh, ow, hp, wp)


def _in_blocks(fn, x):
    """fn(a, b) over images [0, n) of x in blocks of ~_TILE_BLOCK_BYTES, the blocks split over the pool."""
    block = max(1, _TILE_BLOCK_BYTES // max(x[:1].nbytes, 1))

    def blocks(a, b):
        for i in range(a, b, block):
            fn(i, min(i + block, b))
    parallel.parallel_for(blocks, x.shape[0], grain=block, threads=parallel.threads_for(8 * x.size))


def _max_pool_2x2(x, out):
    n, h, w, c = x.shape
    flat, row = x.reshape(-1), w * c
    below = _work("pool_rows", flat.shape, x.dtype)   # [p]: max(x[p], x[p + row]); the last row unset
    np.maximum(flat[:-row], flat[row:], out=below[:-row])
    columns = below.reshape(n * h // 2, 2, w // 2, 2, c)[:, 0]   # top rows: (window row, window col, col, c)
    np.maximum(columns[:, :, 0], columns[:, :, 1], out=out.reshape(columns[:, :, 0].shape))


def _first_max_masks(x, y, ksize, strides, padding, op_type):
    """Geometry and, per tap, where that tap holds its window's first maximum (row-major order)."""
    geo = _pool_geometry(op_type, x.shape, ksize, strides, padding)
    kh, kw, sh, sw, oh, ow, pt, pl, hp, wp = geo
    if y.shape != (x.shape[0], oh, ow, x.shape[3]):
        raise _runtime_error(op_type, "orig_output must have shape %s" % ((x.shape[0], oh, ow, x.shape[3]),), x, y)
    xp = _pad(x, pt, pl, hp, wp, np.nan)   # NaN never equals the max: padding is never chosen
    taps = _taps(kh, kw, sh, sw, oh, ow)
    masks, taken = [], None
    for t in taps:
        m = xp[t] == y
        if taken is None:
            taken = m.copy()
        else:
            np.greater(m, taken, out=m)    # m and not taken: an earlier tap already had the max
            taken |= m
        masks.append(m)
    return geo, taps, masks


def _tiled_first_max(x, y, kh, kw):
    """For windows tiling x exactly: (x viewed as (n, oh, kh, ow, kw, C), a bool mask of that shape, true
    where an element is its window's first max). One comparison with y broadcast over the windows makes
    the mask; then ties (ReLU zeros: common) are dropped tap by tap, on the mask's quarter-size views."""
    n, oh, ow, c = y.shape
    x6 = x.reshape(n, oh, kh, ow, kw, c)
    first = _work("masks", x6.shape, bool)
    np.equal(x6, y[:, :, None, :, None, :], out=first)
    taps = [first[:, :, t // kw, :, t % kw] for t in range(kh * kw)]
    taken = _work("taken", y.shape, bool)
    np.copyto(taken, taps[0])
    for t in range(1, kh * kw):
        np.greater(taps[t], taken, out=taps[t])      # a max, and no earlier tap had one
        if t + 1 < kh * kw:
            taken |= taps[t]
    return x6, first


def _tiled_max_pool_grad(x, y, dy, dx, kh, kw):
    """dx (x's shape) of windows tiling x exactly: each window's dy goes to its first maximum, in one
    product of the mask with dy broadcast over the windows (a product is a select when dy is finite:
    0 * inf is not)."""
    x6, first = _tiled_first_max(x, y, kh, kw)
    dy6 = dy[:, :, None, :, None, :]
    if np.isfinite(dy).all():
        np.multiply(first, dy6, out=dx.reshape(x6.shape))
    else:
        dx.reshape(x6.shape)[...] = np.where(first, dy6, dy.dtype.type(0))


def _max_pool_grad_kernel(op_type, ksize, strides, padding):
    def max_pool_grad_kernel(x, y, dy):
        if dy.shape != y.shape:
            raise _runtime_error(op_type, "grad must have the shape of orig_output", y, dy)
        geo = _pool_geometry(op_type, x.shape, ksize, strides, padding)
        kh, kw, sh, sw, oh, ow, pt, pl, hp, wp = geo
        if _tiles_exactly(x.shape, kh, kw, sh, sw, oh, ow, hp, wp) and y.shape == (x.shape[0], oh, ow, x.shape[3]):
            dx = np.empty(x.shape, dtype=dy.dtype)
            grain = max(1, (1 << 18) // max(x[:1].size, 1))   # images per thread: at least ~1 MB of input
            parallel.parallel_for(lambda a, b: _tiled_max_pool_grad(x[a:b], y[a:b], dy[a:b], dx[a:b], kh, kw),
                                  x.shape[0], grain=grain, threads=parallel.threads_for(8 * x.size))
            return dx
        geo, taps, masks = _first_max_masks(x, y, ksize, strides, padding, op_type)
        dxp = np.zeros((x.shape[0], hp, wp, x.shape[3]), dtype=dy.dtype)
        zero = dy.dtype.type(0)
        for t, m in zip(taps, masks):
            dxp[t] += np.where(m, dy, zero)
        return dxp[:, pt:pt + x.shape[1], pl:pl + x.shape[2]]
    return max_pool_grad_kernel


def _max_pool_grad_grad_kernel(op_type, ksize, strides, padding):
    def max_pool_grad_grad_kernel(x, y, g):
        geo, taps, masks = _first_max_masks(x, y, ksize, strides, padding, op_type)
        if g.shape != x.shape:
            raise _runtime_error(op_type, "grad must have the shape of orig_input", x, g)
        gp = _pad(g, geo[6], geo[7], geo[8], geo[9], 0)
        out = np.zeros(y.shape, dtype=g.dtype)
        for t, m in zip(taps, masks):
            np.copyto(out, gp[t], where=m)          # one first maximum per window
        return out
    return max_pool_grad_grad_kernel


def _window_counts(x_shape, geo, dtype):
    """(oh, ow, 1) number of input elements in each window (SAME windows at the edges hold fewer)."""
    kh, kw, sh, sw, oh, ow, pt, pl, hp, wp = geo
    if hp == x_shape[1] and wp == x_shape[2]:
        return dtype.type(kh * kw)
    counts = []
    for size, k, s, o, p in ((x_shape[1], kh, sh, oh, pt), (x_shape[2], kw, sw, ow, pl)):
        start = np.arange(o) * s - p
        counts.append(np.minimum(start + k, size) - np.maximum(start, 0))
    return (counts[0][:, None] * counts[1][None, :]).astype(dtype)[:, :, None]


def _avg_pool_kernel(op_type, ksize, strides, padding):
    def avg_pool_kernel(x):
        geo = _pool_geometry(op_type, x.shape, ksize, strides, padding)
        kh, kw, sh, sw, oh, ow, pt, pl, hp, wp = geo
        xp = _pad(x, pt, pl, hp, wp, 0)
        taps = _taps(kh, kw, sh, sw, oh, ow)
        out = xp[taps[0]].copy()
        for t in taps[1:]:
            np.add(out, xp[t], out=out)
        out /= _window_counts(x.shape, geo, x.dtype)
        return out
    return avg_pool_kernel


def _avg_pool_grad_kernel(op_type, ksize, strides, padding):
    def avg_pool_grad_kernel(orig_input_shape, dy):
        x_shape = tuple(int(d) for d in np.ravel(orig_input_shape))
        if len(x_shape) != 4:
            raise _runtime_error(op_type, "orig_input_shape must have 4 elements", orig_input_shape)
        geo = _pool_geometry(op_type, x_shape, ksize, strides, padding)
        kh, kw, sh, sw, oh, ow, pt, pl, hp, wp = geo
        if dy.shape != (x_shape[0], oh, ow, x_shape[3]):
            raise _runtime_error(op_type, "grad must have shape %s" % ((x_shape[0], oh, ow, x_shape[3]),), dy)
        share = dy / _window_counts(x_shape, geo, dy.dtype)
        if _tiles_exactly(x_shape, kh, kw, sh, sw, oh, ow, hp, wp):   # each element in one window: a copy
            dx = np.empty(x_shape, dtype=dy.dtype)
            n, _, _, c = x_shape
            np.copyto(dx.reshape(n, oh, kh, ow, kw, c), share.reshape(n, oh, 1, ow, 1, c))
            return dx
        dxp = np.zeros((x_shape[0], hp, wp, x_shape[3]), dtype=dy.dtype)
        for t in _taps(kh, kw, sh, sw, oh, ow):
            dxp[t] += share
        return dxp[:, pt:pt + x_shape[1], pl:pl + x_shape[2]]
    return avg_pool_grad_kernel


def _pool_infer_out(op, x):
    n, h, w, c = _rank4(op, x, "input")
    k = op._attrs["ksize"]
    oh, ow = _spatial_out(op, h, w, k[1], k[2])
    return TensorShape([n, oh, ow, c])


def _pool_kw(op):
    return {k: op._attrs[k] for k in ("ksize", "strides", "padding", "data_format")}


def _distinct(*shape):
    """Sample input whose values are at least 0.01 apart: finite differences never swap a window's max."""
    return lambda rng: rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01 + 0.5


def _pooled_shape(shape, k, s, padding):
    n, h, w, c = shape
    return (n, _out_size(h, k, s, padding), _out_size(w, k, s, padding), c)


def _pool_attrs(fn, ksize, strides, padding, data_format):
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError("%s: data_format must be 'NHWC' or 'NCHW', got %r" % (fn, data_format))
    return {"ksize": _four(ksize, "ksize", fn), "strides": _four(strides, "strides", fn),
            "padding": _padding_attr(padding, fn), "data_format": data_format}


_POOL_CASES = [((2, 5, 5, 2), 2, 2, "SAME"), ((2, 5, 5, 2), 3, 1, "SAME"), ((2, 4, 4, 2), 2, 2, "VALID"),
               ((2, 5, 6, 3), 3, 2, "VALID"), ((1, 5, 5, 2), 2, 3, "SAME")]


class MaxPool(OpDef):
    row_wise = True          # image by image (the filter is whole)
    fresh_output = True
    splits_work = True

    def infer(op):
        _check_attrs(op, "ksize")
        x = op._inputs[0]
        if not (x.dtype.is_floating or x.dtype.is_integer):
            raise TypeError("Value passed to op '%s' (MaxPool) input %s has DataType %s; expected a real number type"
                            % (op.name, x.name, x.dtype.name))
        return x.dtype, _pool_infer_out(op, x)

    kernel = _kernel_from(_max_pool_kernel, _POOL_ATTRS)

    def lower(op, x):
        return _xla_max_pool(op)(x)

    def grad(op, g):
        return [_max_pool_grad_op("MaxPoolGrad", op._inputs[0], op._outputs[0], g, _pool_kw(op), "MaxPoolGrad")]

    samples = [Sample(lambda x, k=k, s=s, p=p: max_pool(x, k, s, p), [_distinct(*shape)])
               for shape, k, s, p in _POOL_CASES]


def _max_pool_grad_op(op_type, x, y, g, kw, name):
    return apply_op(op_type, [x, y, g], dict(kw), name=name)


def _max_pool_grad_pair(other):
    """The gradient of MaxPoolGrad (other = "MaxPoolGradGrad") or MaxPoolGradGrad (other = "MaxPoolGrad"):
    linear in its third input through the other op of the pair; the pooled values get none (zeros)."""
    def grad(op, g):
        x, y, _ = op._inputs
        return [array_ops.zeros_like(x), array_ops.zeros_like(y),
                _max_pool_grad_op(other, x, y, g, _pool_kw(op), other)]
    return grad


def _max_pool_grad_samples(op_type, third_shape):
    """Samples (x with distinct values, its max pool, a third input of third_shape(x shape, k, s, p))."""
    return [Sample(lambda x, g, k=k, s=s, p=p: _max_pool_grad_op(
                op_type, x, max_pool(x, k, s, p), g, _pool_attrs("t", k, s, p, "NHWC"), op_type),
                [_distinct(*shape), third_shape(shape, k, s, p)]) for shape, k, s, p in _POOL_CASES[:3]]


class MaxPoolGrad(OpDef):
    """(orig_input, orig_output, grad) -> d orig_input: each grad value goes to its window's first max."""
    fresh_output = True
    splits_work = True

    def infer(op):
        _check_attrs(op, "ksize")
        x, y, dy = op._inputs
        dt = _same_float_dtype(op, x, y, dy)
        y_shape = _pool_infer_out(op, x).merge_with(y.shape)
        if not y_shape.is_compatible_with(dy.shape):
            raise _shape_error(op, "grad must have the shape of orig_output %s" % _fmt(y_shape))
        return dt, x.shape

    kernel = _kernel_from(_max_pool_grad_kernel, _POOL_ATTRS)

    def lower(op, x, y, dy):
        return _xla_max_pool_grad(op, x, dy)

    grad = _max_pool_grad_pair("MaxPoolGradGrad")
    samples = _max_pool_grad_samples("MaxPoolGrad", _pooled_shape)   # dy is shaped as the pooled output


class _FusedMaxPoolGradReluGrad(FusedOpDef):
    """MaxPoolGrad whose result feeds only a ReluGrad (a ReLU conv layer, then max pooling). When the ReLU's
    output is the pool's input x, as in that stack, the ReLU mask is applied to the pooled gradient instead
    (a quarter of the elements for 2x2 windows, and no pass over the full-size gradient): the gradient
    reaches only window maxima, where x equals the pooled output y, so x > 0 there exactly when y > 0.
    Otherwise the two kernels run in turn. Inputs: x, y, dy (MaxPoolGrad's), then the ReLU output."""

    fresh_output = True
    splits_work = True

    def kernel(op, ctx):
        pool_grad = _max_pool_grad_kernel("MaxPoolGrad", *[op._attrs[a] for a in _POOL_ATTRS])
        relu_grad = OpDef.lookup("ReluGrad").kernel(op, ctx)

        def max_pool_grad_relu_grad(x, y, dy, relu_y):
            if relu_y is x:
                return pool_grad(x, y, relu_grad(dy, y))
            return relu_grad(pool_grad(x, y, dy), relu_y)
        return _half_via_float32(max_pool_grad_relu_grad, op)

    samples = [Sample(lambda x, g, k=k, s=s, p=p, same=same: apply_op(
                   "_FusedMaxPoolGradReluGrad", [x, max_pool(x, k, s, p), g, x if same else x * 2.0],
                   _pool_attrs("t", k, s, p, "NHWC"), name="FusedMaxPoolGradReluGrad"),
                   [_distinct(*shape), _pooled_shape(shape, k, s, p)], grad=())
               for (shape, k, s, p), same in zip(_POOL_CASES[:3], (True, False, True))]


class MaxPoolGradGrad(OpDef):
    """(orig_input, orig_output, grad of d orig_input) -> grad of orig_output: picks each window's first max."""

    def infer(op):
        _check_attrs(op, "ksize")
        x, y, g = op._inputs
        dt = _same_float_dtype(op, x, y, g)
        if not x.shape.is_compatible_with(g.shape):
            raise _shape_error(op, "grad must have the shape of orig_input %s" % _fmt(x.shape))
        return dt, _pool_infer_out(op, x).merge_with(y.shape)

    kernel = _kernel_from(_max_pool_grad_grad_kernel, _POOL_ATTRS)

    def lower(op, x, y, g):
        return _xla_max_pool_grad_grad(op, x, g)

    grad = _max_pool_grad_pair("MaxPoolGrad")
    samples = _max_pool_grad_samples("MaxPoolGradGrad", lambda shape, *window: shape)   # g is shaped as x


class AvgPool(OpDef):
    row_wise = True          # image by image (the filter is whole)
    def infer(op):
        _check_attrs(op, "ksize")
        x = op._inputs[0]
        dt = _same_float_dtype(op, x)
        return dt, _pool_infer_out(op, x)

    kernel = _kernel_from(_avg_pool_kernel, _POOL_ATTRS)

    def lower(op, x):
        return _xla_avg_pool(op)(x)

    def grad(op, g):
        return [_avg_pool_grad_op(array_ops._shape_of(op._inputs[0]), g, _pool_kw(op))]

    samples = [Sample(lambda x, k=k, s=s, p=p: avg_pool(x, k, s, p), [shape]) for shape, k, s, p in _POOL_CASES]


class AvgPoolGrad(OpDef):
    """(orig_input_shape, grad) -> d orig_input: each grad value spread evenly over its window."""

    def infer(op):
        _check_attrs(op, "ksize")
        sizes, dy = op._inputs
        dt = _same_float_dtype(op, dy)
        n, h, w, c = _sizes_input(op, sizes, "orig_input_shape")
        dn, _, _, dc = _rank4(op, dy, "grad")
        return dt, TensorShape([_merge(n, dn, op, "batch"), h, w, _merge(c, dc, op, "depth")])

    kernel = _kernel_from(_avg_pool_grad_kernel, _POOL_ATTRS)

    def lower(op, sizes, dy):
        return xla.jax.vjp(_xla_avg_pool(op), _xla_zeros(op, sizes, 0))[1](dy)[0]

    def grad(op, g):
        return [None, apply_op("AvgPool", [g], _pool_kw(op), name="AvgPool")]

    samples = [Sample(lambda dy, shape=shape, k=k, s=s, p=p: _avg_pool_grad_op(
                   list(shape), dy, _pool_attrs("t", k, s, p, "NHWC")), [_pooled_shape(shape, k, s, p)])
               for shape, k, s, p in _POOL_CASES]


def _avg_pool_grad_op(sizes, g, kw):
    sizes = array_ops._int_tensor(sizes, "orig_input_shape") if not isinstance(sizes, Tensor) else sizes
    return apply_op("AvgPoolGrad", [sizes, g], dict(kw), name="AvgPoolGrad")


def _pool(op_type, fn, value, ksize, strides, padding, data_format, name):
    attrs = _pool_attrs(fn, ksize, strides, padding, data_format)
    with name_scope(name, op_type, [value]) as scope:
        value = convert_to_tensor(value, name="input")
        return apply_op(op_type, [value], attrs, name=scope)


def max_pool(value, ksize, strides, padding, data_format="NHWC", name=None, input=None):  # noqa: A002
    """Max over each ksize window of an NHWC tensor, windows `strides` apart."""
    return _pool("MaxPool", "max_pool", input if value is None else value, ksize, strides, padding,
                 data_format, name)


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    return _pool("MaxPool", "max_pool2d", input, ksize, strides, padding, data_format, name)


def avg_pool(value, ksize, strides, padding, data_format="NHWC", name=None, input=None):  # noqa: A002
    """Mean over each ksize window of an NHWC tensor; SAME windows at the edges average only real elements."""
    return _pool("AvgPool", "avg_pool", input if value is None else value, ksize, strides, padding,
                 data_format, name)


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    return _pool("AvgPool", "avg_pool2d", input, ksize, strides, padding, data_format, name)
