"""tf.nn functions built from other ops: batch_normalization, fused_batch_norm, conv1d; and the fused
batch-normalization op the layers use for channels-last inputs."""
import numpy as np

from nanotf.framework import dtypes
from nanotf.framework import lowering as xla
from nanotf.framework.op_def import OpDef, Sample
from nanotf.framework.ops import Tensor, apply_op, convert_to_tensor, name_scope
from nanotf.framework.tensor_shape import TensorShape
from nanotf.ops import array_ops, conv_ops, math_ops, nn_ops

__all__ = ["batch_normalization", "fused_batch_norm", "conv1d"]

_FLOATS = (dtypes.float16, dtypes.float32, dtypes.float64)


# -- one op for batch normalization over the last axis (training or inference, chosen at run time)
def _channels(op):
    c = op._inputs[0].shape.as_tuple()
    return None if c is None else c[-1]


def _bn_check(op):
    x = op._inputs[0]
    if x.dtype not in _FLOATS:
        raise TypeError("%s %r: x must be a float tensor, got %s (%s)" % (op.type, op.name, x.dtype.name, x.name))
    if x.shape.ndims is not None and x.shape.ndims < 2:
        raise ValueError("%s %r: x must have rank >= 2 (channels last), got shape %s" % (op.type, op.name, x.shape))


def _stats_dtype(x):
    return np.float32 if x.dtype == np.float16 else x.dtype


def _stats_dtype_of(x):
    """The dtype of the statistics of the Tensor x: float32 for float16, else x's."""
    return dtypes.float32 if x.dtype is dtypes.float16 else x.dtype


def _channel_rows(a, sd):
    """An NHWC (or [N, C]) array as a [rows, C] matrix of the statistics dtype `sd` (a view when it already is)."""
    return a.reshape(-1, a.shape[-1]).astype(sd, copy=False)


def _column_sums(a2):
    """Per-channel sums of a [rows, C] matrix as one BLAS vector-matrix product: NumPy's a2.sum(0) adds
    row after row, 5x slower for DCGAN's (12544, 32); the rounding error bound is the same (n eps sum |a|)."""
    return np.ones(a2.shape[0], a2.dtype) @ a2


# Big float32/float64 inputs with few channels go through their rows in flat chunks (nn_ops._row_chunks)
# against per-channel vectors tiled to a chunk: NumPy's broadcasting over rows of 32 runs 2-3x slower
# than flat arrays, and a chunk's intermediate results stay in cache for the next pass. Per-channel sums
# are BLAS products with ones, chunk by chunk.
# Batch norm's chunked kernels gain on rows of 64 channels or more from fewer elements than bias add does
# (nn_ops._short_rows: from 262144): in a graph of the DCGAN's (64, 7, 7, 64) batch norm (200704 elements),
# forward and gradient in a run that splits work, interleaved, 840-863 -> 796 us and 1021 -> 925 us (p25);
# measured at 64 channels only.
_CHUNKED_WIDE_ROWS_FROM = 196608


def _chunked_case(x):
    return x.dtype != np.float16 and nn_ops._short_rows(x, x.shape[-1] if x.ndim else 0,
                                                        wide_from=_CHUNKED_WIDE_ROWS_FROM)


class _Rows:
    """x (and others of its shape) as [rows, C], with the chunks to go through them in."""

    def __init__(self, x):
        self.c = x.shape[-1]
        self.rows = x.size // self.c
        self.chunks, self.step = nn_ops._row_chunks(self.rows, self.c)
        self.ones = np.ones(self.step, x.dtype)

    def of(self, a):
        return a.reshape(self.rows, self.c)

    def flat(self, a2, r0, r1):
        return a2[r0:r1].reshape(-1)

    def tile(self, vec, dtype):
        return np.tile(np.asarray(vec, dtype), self.step)

    def column_sums(self, flat_chunk, r0, r1):
        return self.ones[:r1 - r0] @ flat_chunk.reshape(r1 - r0, self.c)


def _bn_training_in_chunks(x, scale, offset, eps):
    """FusedBatchNormNT's training kernel for a big x of few channels: the batch mean (one product with
    ones), then per chunk x - mean into y and the sum of its squares, then per chunk y * mult + offset."""
    dt = x.dtype.type
    r = _Rows(x)
    x2 = r.of(x)
    y = np.empty_like(x)
    y2 = r.of(y)
    n = dt(max(r.rows, 1))
    mean = _column_sums(x2) / n
    mean_t, square = r.tile(mean, dt), np.empty(r.step * r.c, x.dtype)
    sum_sq = np.zeros(r.c, x.dtype)
    for r0, r1 in r.chunks:
        yc, k = r.flat(y2, r0, r1), (r1 - r0) * r.c
        np.subtract(r.flat(x2, r0, r1), mean_t[:k], out=yc)
        sum_sq += r.column_sums(np.multiply(yc, yc, out=square[:k]), r0, r1)
    variance = sum_sq / n
    mult = (scale.astype(dt) / np.sqrt(variance + dt(eps))).astype(dt)
    mult_t, offset_t = r.tile(mult, dt), r.tile(offset, dt)
    for r0, r1 in r.chunks:
        yc, k = r.flat(y2, r0, r1), (r1 - r0) * r.c
        np.multiply(yc, mult_t[:k], out=yc)
        np.add(yc, offset_t[:k], out=yc)
    return y, mean, variance


def _bn_grad_in_chunks(dy, x, scale, mean, variance, eps, is_training):
    """FusedBatchNormGradNT's kernel for a big x of few channels. With inv = 1/sqrt(var + eps), k = scale * inv:
    doffset = sum(dy), dscale = sum(dy * (x - mean)) * inv; then dx = dy * k, and when training
    + (x - mean) * (-k * inv * dscale / n) - k * doffset / n. The first pass leaves x - mean in dx, so the
    second does not subtract it again (8 passes over memory, not 9; products in a cache-sized buffer)."""
    dt = x.dtype.type
    r = _Rows(x)
    x2, dy2 = r.of(x), r.of(dy)
    inv = (1 / np.sqrt(variance.astype(dt) + dt(eps))).astype(dt)
    k = scale.astype(dt) * inv
    mean_t, product = r.tile(mean, dt), np.empty(r.step * r.c, x.dtype)
    dx = np.empty_like(x)
    dx2 = r.of(dx)
    doffset = _column_sums(dy2)
    dot = np.zeros(r.c, x.dtype)
    for r0, r1 in r.chunks:
        n_el = (r1 - r0) * r.c
        xc = np.subtract(r.flat(x2, r0, r1), mean_t[:n_el], out=r.flat(dx2, r0, r1))
        dot += r.column_sums(np.multiply(xc, r.flat(dy2, r0, r1), out=product[:n_el]), r0, r1)
    dscale = dot * inv
    k_t = r.tile(k, dt)
    if is_training:
        n = dt(max(r.rows, 1))
        slope_t, shift_t = r.tile(-k * inv * dscale / n, dt), r.tile(-k * doffset / n, dt)
    for r0, r1 in r.chunks:
        n_el = (r1 - r0) * r.c
        dxc = r.flat(dx2, r0, r1)   # x - mean
        if is_training:
            np.multiply(dxc, slope_t[:n_el], out=dxc)
            np.add(dxc, np.multiply(r.flat(dy2, r0, r1), k_t[:n_el], out=product[:n_el]), out=dxc)
            np.add(dxc, shift_t[:n_el], out=dxc)
        else:
            np.multiply(r.flat(dy2, r0, r1), k_t[:n_el], out=dxc)
    return dx, dscale.astype(scale.dtype), doffset.astype(scale.dtype)


def _lowering_rows(op, x, *more):
    """For the batch-norm lowerings: epsilon, the statistics dtype, and x (then `more`) as rows of
    channels in that dtype."""
    c = np.shape(x)[-1]
    sd = _stats_dtype(x)
    return op._attrs["epsilon"], sd, tuple(xla.jnp.reshape(a, (-1, c)).astype(sd) for a in (x,) + more)


class FusedBatchNormNT(OpDef):
    """Batch normalization over every axis but the last, in one kernel: inputs x [..., C], scale [C],
    offset [C], mean [C], variance [C], is_training (bool scalar); outputs y (x's shape), and the mean and
    (biased) variance it normalized with: the batch's when is_training, else the given ones.

    TF's FusedBatchNormV3 takes is_training as an attribute; here it is an input, so one op serves a
    bool tensor `training` (a placeholder) without computing both branches. Its gradient (FusedBatchNormGradNT)
    flows to x, scale and offset through the batch statistics when training, as the full batch-norm
    gradient; gradients arriving at the mean and variance outputs are ignored, as TF's are."""
    view_map = {1: (3,), 2: (4,)}   # not training: the mean and variance returned are the given arrays

    def infer(op):
        _bn_check(op)
        x = op._inputs[0]
        c = _channels(op)
        stats = _stats_dtype_of(x)
        return [(x.dtype, x.shape), (stats, TensorShape([c])), (stats, TensorShape([c]))]

    def kernel(op, ctx):
        eps = op._attrs["epsilon"]

        def fused_bn(x, scale, offset, mean, variance, is_training):
            if is_training and _chunked_case(x):
                return _bn_training_in_chunks(x, scale, offset, eps)
            sd = _stats_dtype(x)
            x2 = _channel_rows(x, sd)
            if is_training:
                mean = _column_sums(x2) / sd.type(max(x2.shape[0], 1))
                centered = x2 - mean
                variance = np.einsum("ij,ij->j", centered, centered) / max(x2.shape[0], 1)
            else:
                mean, variance = mean.astype(sd, copy=False), variance.astype(sd, copy=False)
                centered = x2 - mean
            mult = (scale.astype(sd) / np.sqrt(variance + sd.type(eps))).astype(sd)
            centered *= mult
            centered += offset.astype(sd)
            return (centered.astype(x.dtype, copy=False).reshape(x.shape), np.asarray(mean, sd),
                    np.asarray(variance, sd))
        return fused_bn

    def lower(op, x, scale, offset, mean, variance, is_training):
        eps, sd, (x2,) = _lowering_rows(op, x)

        def batch_stats():
            m = xla.jnp.mean(x2, axis=0)
            return m, xla.jnp.mean(xla.jnp.square(x2 - m), axis=0)
        training = xla.static_value(op, is_training, 5) if xla.is_numpy(is_training) else is_training
        if isinstance(training, np.ndarray):
            m, v = batch_stats() if bool(training) else (xla.asarray(mean, sd), xla.asarray(variance, sd))
        else:
            bm, bv = batch_stats()
            m, v = xla.jnp.where(training, bm, mean.astype(sd)), xla.jnp.where(training, bv, variance.astype(sd))
        mult = scale.astype(sd) / xla.jnp.sqrt(v + np.asarray(eps, sd))
        y = (x2 - m) * mult + offset.astype(sd)
        return xla.jnp.reshape(y.astype(x.dtype), np.shape(x)), m, v

    def grad(op, dy, dmean, dvar):
        x, scale, offset, mean, variance, is_training = op._inputs
        dx, dscale, doffset = apply_op("FusedBatchNormGradNT",
                                       [dy, x, scale, op._outputs[1], op._outputs[2], is_training],
                                       {"epsilon": op._attrs["epsilon"]}, name="FusedBatchNormGradNT")
        return [dx, dscale, doffset, None, None, None]

    samples = [Sample(lambda x, s, o: _fused_bn_op(x, s, o, array_ops.zeros([3], x.dtype),
                                                   array_ops.ones([3], x.dtype), True, 1e-3)[0],
                      [(4, 3), (3,), (3,)]),
               Sample(lambda x, s, o, m, v: _fused_bn_op(x, s, o, m, v, False, 1e-3)[0],
                      [(2, 2, 2, 3), (3,), (3,), (3,), lambda rng: rng.random(3) + 0.5], grad=(0, 1, 2)),
               Sample(lambda x, s, o: _fused_bn_op(x, s, o, array_ops.zeros([2], x.dtype),
                                                   array_ops.ones([2], x.dtype), True, 1e-3)[0],
                      [(2, 3, 2, 2), (2,), (2,)])]


class FusedBatchNormGradNT(OpDef):
    """(dx, dscale, doffset) of FusedBatchNormNT given dy, x, scale and the mean/variance it used.
    Training: dx = scale * inv / n * (n * dy - sum(dy) - xhat * sum(dy * xhat)), inv = 1/sqrt(var + eps);
    inference: dx = dy * scale * inv. dscale = sum(dy * xhat), doffset = sum(dy) in both."""

    grad = None   # second derivatives of batch norm are not implemented

    def infer(op):
        x, scale = op._inputs[1], op._inputs[2]
        return [(x.dtype, x.shape), (scale.dtype, scale.shape), (scale.dtype, scale.shape)]

    def kernel(op, ctx):
        eps = op._attrs["epsilon"]

        def fused_bn_grad(dy, x, scale, mean, variance, is_training):
            if _chunked_case(x) and dy.dtype == x.dtype and dy.shape == x.shape and dy.flags.c_contiguous:
                return _bn_grad_in_chunks(dy, x, scale, mean, variance, eps, is_training)
            sd = _stats_dtype(x)
            x2, dy2 = _channel_rows(x, sd), _channel_rows(dy, sd)
            inv = (1.0 / np.sqrt(variance.astype(sd) + sd.type(eps))).astype(sd)
            xhat = x2 - mean.astype(sd)
            xhat *= inv
            doffset = _column_sums(dy2)
            dscale = np.einsum("ij,ij->j", dy2, xhat)
            k = scale.astype(sd) * inv
            dx = dy2 * k
            if is_training:   # k * (dy - doffset / n - xhat * dscale / n), with the per-channel factors merged
                n = sd.type(max(x2.shape[0], 1))
                xhat *= k * dscale / n
                dx -= xhat
                dx -= k * doffset / n
            return (dx.astype(x.dtype, copy=False).reshape(x.shape), dscale.astype(scale.dtype),
                    doffset.astype(scale.dtype))
        return fused_bn_grad

    def lower(op, dy, x, scale, mean, variance, is_training):
        eps, sd, (x2, dy2) = _lowering_rows(op, x, dy)
        inv = 1.0 / xla.jnp.sqrt(variance.astype(sd) + np.asarray(eps, sd))
        xhat = (x2 - mean.astype(sd)) * inv
        doffset = xla.jnp.sum(dy2, axis=0)
        dscale = xla.jnp.sum(dy2 * xhat, axis=0)
        n = max(x2.shape[0], 1)
        dx_train = (dy2 - doffset / n - xhat * (dscale / n)) * (scale.astype(sd) * inv)
        dx_infer = dy2 * (scale.astype(sd) * inv)
        dx = xla.jnp.where(is_training, dx_train, dx_infer)
        return (xla.jnp.reshape(dx.astype(x.dtype), np.shape(x)), dscale.astype(scale.dtype),
                doffset.astype(scale.dtype))


def _fused_bn_op(x, scale, offset, mean, variance, is_training, epsilon, name=None):
    """y, mean used, variance used (biased) of FusedBatchNormNT; `is_training` a bool or a bool tensor."""
    x = convert_to_tensor(x, name="x")
    stats = _stats_dtype_of(x)
    params = [convert_to_tensor(v, dtype=stats) if not isinstance(v, Tensor) else v
              for v in (scale, offset, mean, variance)]
    flag = is_training if isinstance(is_training, Tensor) else array_ops.constant(bool(is_training),
                                                                                 name="is_training")
    return apply_op("FusedBatchNormNT", [x] + params + [flag], {"epsilon": float(epsilon)},
                    name=name or "FusedBatchNorm")


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """(x - mean) * scale / sqrt(variance + variance_epsilon) + offset, computed as TF does:
    inv = rsqrt(variance + eps) * scale; x * inv + (offset - mean * inv). offset and scale may be None."""
    with name_scope(name, "batchnorm", [x, mean, variance, scale, offset]):
        x = convert_to_tensor(x, name="x")
        # NumPy or Python statistics take x's dtype (a float64 array must not pass through float32)
        mean, variance, offset, scale = (v if v is None or isinstance(v, Tensor) or hasattr(v, "_as_tensor")
                                         else convert_to_tensor(v, dtype=x.dtype)
                                         for v in (mean, variance, offset, scale))
        inv = math_ops.rsqrt(math_ops.add(variance, variance_epsilon))
        if scale is not None:
            inv = math_ops.multiply(inv, scale)
        shift = math_ops.subtract(offset, math_ops.multiply(mean, inv)) if offset is not None \
            else math_ops.negative(math_ops.multiply(mean, inv))
        return math_ops.add(math_ops.multiply(x, math_ops.cast(inv, x.dtype)), math_ops.cast(shift, x.dtype))


def fused_batch_norm(x, scale, offset, mean=None, variance=None, epsilon=0.001, data_format="NHWC",
                     is_training=True, name=None):
    """(y, batch_mean, batch_variance) of a 4-D input over its channel axis. As TF's fused kernel:
    training normalizes with the biased batch variance but returns the Bessel-corrected one (for moving
    averages); inference normalizes with the given mean and variance and returns them. Epsilon is
    raised to at least 1.001e-5 (cuDNN's minimum, which TF applies everywhere)."""
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError("fused_batch_norm: data_format must be 'NHWC' or 'NCHW', got %r" % (data_format,))
    with name_scope(name, "FusedBatchNorm", [x, scale, offset]):
        x = convert_to_tensor(x, name="input")
        if x.shape.ndims not in (None, 4):
            raise ValueError("fused_batch_norm: input must be 4-dimensional, got shape %s" % (x.shape,))
        epsilon = max(epsilon, 1.001e-5)
        if is_training and (mean is not None or variance is not None):
            raise ValueError("Both 'mean' and 'variance' must be None when is_training is True")
        if not is_training and (mean is None or variance is None):
            raise ValueError("Both 'mean' and 'variance' must be a 1D tensor when is_training is False")
        if data_format == "NCHW":
            x = array_ops.transpose(x, [0, 2, 3, 1])
        if is_training:
            c = x.shape.as_list()[-1] if x.shape.ndims else None
            if c is None:
                raise ValueError("fused_batch_norm: the channel dimension must be known, got shape %s" % (x.shape,))
            stats = _stats_dtype_of(x)
            mean, variance = array_ops.zeros([c], stats), array_ops.ones([c], stats)
        y, batch_mean, batch_var = _fused_bn_op(x, scale, offset, mean, variance, bool(is_training), epsilon)
        if data_format == "NCHW":
            y = array_ops.transpose(y, [0, 3, 1, 2])
        if not is_training:
            return y, batch_mean, batch_var
        n = math_ops.cast(array_ops.size(x), batch_var.dtype) / math_ops.cast(array_ops.size(batch_var),
                                                                             batch_var.dtype)
        return y, batch_mean, batch_var * (n / math_ops.maximum(n - 1.0, 1.0))


def conv1d(value=None, filters=None, stride=None, padding=None, use_cudnn_on_gpu=None, data_format=None,
           name=None, input=None, dilations=None):  # noqa: A002 - TF's argument name
    """1-D convolution of [batch, width, in] by filters [k, in, out]: a conv2d over a unit-height image
    (TF's own construction: expand_dims, Conv2D, squeeze)."""
    value = input if value is None else value
    if data_format not in (None, "NWC", "NHWC"):
        raise ValueError("conv1d: nanotf supports data_format 'NWC' only, got %r" % (data_format,))
    if dilations not in (None, 1, [1], (1,), [1, 1, 1], (1, 1, 1)):
        raise ValueError("conv1d: nanotf supports only dilations of 1, got %r" % (dilations,))
    if isinstance(stride, (list, tuple)):
        if len(stride) == 3:
            stride = stride[1]
        elif len(stride) == 1:
            stride = stride[0]
        else:
            raise ValueError("conv1d: stride must be an int or a list of 1 or 3 ints, got %r" % (stride,))
    with name_scope(name, "conv1d", [value, filters]) as scope:
        value = convert_to_tensor(value, name="value")
        filters = convert_to_tensor(filters, dtype=value.dtype if value.dtype.is_floating else None, name="filters")
        x = array_ops.expand_dims(value, 1)
        w = array_ops.expand_dims(filters, 0)
        y = conv_ops.conv2d(x, w, [1, 1, int(stride), 1], padding, name="Conv2D")
        return array_ops.squeeze(y, [1], name=scope)

