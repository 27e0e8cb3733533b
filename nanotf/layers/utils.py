"""Helpers shared by the layers: `training=` flags, padding and data-format arguments, output lengths."""
import numbers

import numpy as np

from nanotf.framework import dtypes
from nanotf.framework.ops import Tensor, convert_to_tensor
from nanotf.ops import array_ops, math_ops


def constant_value(pred):
    """The Python bool of `pred` when it is known while building the graph (a bool, a NumPy bool, a
    constant tensor, a Variable never: its value changes), else None."""
    if isinstance(pred, (bool, np.bool_)):
        return bool(pred)
    if isinstance(pred, numbers.Integral) and pred in (0, 1):
        return bool(pred)
    if isinstance(pred, Tensor):
        if pred.op.type == "Const":
            return bool(np.asarray(pred.op._attrs["value"]))
        return None
    if hasattr(pred, "_as_tensor"):
        return None
    raise TypeError("`pred` must be a Tensor, or a Python bool, or 1 or 0. Found instead: %s" % type(pred))


def as_bool_tensor(pred, what="training"):
    t = convert_to_tensor(pred)
    if t.dtype is not dtypes.bool:
        raise TypeError("%s must be a bool or a bool tensor, got %s of dtype %s" % (what, t.name, t.dtype.name))
    if t.shape.ndims not in (None, 0):
        raise ValueError("%s must be a scalar, got %s of shape %s" % (what, t.name, t.shape))
    return t


def smart_select(pred, true_fn, false_fn, what="training"):
    """TF's smart_cond, for branches without side effects: a static `pred` builds only the branch it picks;
    a tensor `pred` builds both and selects between them at run time (tf.where on a scalar condition).
    nanotf builds both branches rather than a tf.cond so that the result does not depend on how a
    conditional is implemented; side effects (batch norm's moving averages) are made conditional by the
    callers themselves."""
    value = constant_value(pred)
    if value is not None:
        return true_fn() if value else false_fn()
    return select_like(as_bool_tensor(pred, what), true_fn(), false_fn())


def select_like(pred, a, b):
    """where(pred, a, b) for a scalar `pred` (possibly of unknown static shape, e.g. a placeholder made
    without a shape): the result keeps the branches' static shape, as tf.cond's would."""
    out = math_ops.select(pred, a, b)
    out.set_shape(a.shape.merge_with(b.shape))
    return out


def normalize_tuple(value, n, name):
    """An int or an iterable of n ints -> a tuple of n ints (Keras' conv_utils.normalize_tuple)."""
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    try:
        value = tuple(value)
    except TypeError:
        raise ValueError("The `%s` argument must be a tuple of %d integers. Received: %r" % (name, n, value)) \
            from None
    if len(value) != n or not all(isinstance(v, numbers.Integral) for v in value):
        raise ValueError("The `%s` argument must be a tuple of %d integers. Received: %r" % (name, n, value))
    return tuple(int(v) for v in value)


def normalize_padding(padding):
    p = padding.lower() if isinstance(padding, str) else padding
    if p not in ("valid", "same"):
        raise ValueError("The `padding` argument must be one of \"valid\", \"same\". Received: %r" % (padding,))
    return p


def normalize_data_format(data_format):
    f = (data_format or "channels_last").lower()
    if f not in ("channels_last", "channels_first"):
        raise ValueError("The `data_format` argument must be one of \"channels_first\", \"channels_last\". "
                         "Received: %r" % (data_format,))
    return f


def conv_output_length(length, k, padding, stride, dilation=1):
    if length is None:
        return None
    k = k + (k - 1) * (dilation - 1)
    out = length - k + 1 if padding == "valid" else length
    return (out + stride - 1) // stride


def deconv_output_length(length, k, padding, stride):
    """Output length of a transposed convolution (Keras' rule): same -> length*stride; valid ->
    length*stride + max(k - stride, 0)."""
    if length is None:
        return None
    if padding == "valid":
        return length * stride + max(k - stride, 0)
    return length * stride


def to_channels_last(x, ndims):
    perm = [0] + list(range(2, ndims)) + [1]
    return array_ops.transpose(x, perm)


def to_channels_first(x, ndims):
    perm = [0, ndims - 1] + list(range(1, ndims - 1))
    return array_ops.transpose(x, perm)


def get_activation(activation):
    if activation is None or callable(activation):
        return activation
    raise ValueError("activation must be a callable (e.g. tf.nn.relu) or None, got %r" % (activation,))
