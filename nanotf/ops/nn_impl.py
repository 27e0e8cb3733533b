"""tf.nn functions built from other ops: batch_normalization, fused_batch_norm, conv1d."""
from nanotf.framework.ops import Tensor, convert_to_tensor, name_scope
from nanotf.ops import array_ops, conv_ops, math_ops, nn_ops

__all__ = ["batch_normalization", "fused_batch_norm", "conv1d"]


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
        axes = [0, 1, 2] if data_format == "NHWC" else [0, 2, 3]
        c_shape = [1, -1, 1, 1] if data_format == "NCHW" else [-1]

        def bcast(v):
            return array_ops.reshape(v, c_shape)
        if is_training:
            if mean is not None or variance is not None:
                raise ValueError("Both 'mean' and 'variance' must be None when is_training is True")
            batch_mean, batch_var = nn_ops.moments(x, axes)
            y = batch_normalization(x, bcast(batch_mean), bcast(batch_var), bcast(offset), bcast(scale), epsilon)
            n = math_ops.cast(array_ops.size(x), batch_var.dtype) / math_ops.cast(array_ops.size(batch_var),
                                                                                 batch_var.dtype)
            return y, batch_mean, batch_var * (n / math_ops.maximum(n - 1.0, 1.0))
        if mean is None or variance is None:
            raise ValueError("Both 'mean' and 'variance' must be a 1D tensor when is_training is False")
        mean, variance = convert_to_tensor(mean), convert_to_tensor(variance)
        y = batch_normalization(x, bcast(mean), bcast(variance), bcast(offset), bcast(scale), epsilon)
        return y, mean, variance


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

