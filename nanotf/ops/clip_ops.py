"""Clipping: tf.clip_by_norm, tf.clip_by_global_norm, tf.global_norm, tf.clip_by_average_norm.

Built from other ops with TF's formulas, so their gradients come for free. (tf.clip_by_value is in
math_ops.) nanotf's gradients are dense tensors, so there are no IndexedSlices to handle."""
import numbers

from nanotf.framework.ops import convert_to_tensor, name_scope
from nanotf.ops import array_ops, math_ops, nn_ops

__all__ = ["clip_by_norm", "clip_by_global_norm", "global_norm", "clip_by_average_norm"]


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """t * clip_norm / max(||t||_2, clip_norm), the norm taken over `axes` (all by default): t unchanged
    when its norm is at most clip_norm. A zero tensor stays zero (the square root is never taken of 0,
    so the gradient is finite)."""
    with name_scope(name, "clip_by_norm", [t, clip_norm]) as scope:
        t = convert_to_tensor(t, name="t")
        clip_norm = convert_to_tensor(clip_norm, dtype=t.dtype, name="clip_norm")
        l2sum = math_ops.reduce_sum(math_ops.multiply(t, t), axes, keepdims=True)
        positive = math_ops.greater(l2sum, 0.0)
        safe = math_ops.select(positive, l2sum, array_ops.ones_like(l2sum))
        l2norm = math_ops.select(positive, math_ops.sqrt(safe), l2sum)
        clipped = math_ops.divide(math_ops.multiply(t, clip_norm), math_ops.maximum(l2norm, clip_norm))
        return array_ops.identity(clipped, name=scope)


def _check_list(t_list):
    # TF accepts a list or tuple only (a generator would be consumed twice)
    if not isinstance(t_list, (list, tuple)):
        raise TypeError("t_list should be a sequence")
    return list(t_list)


def global_norm(t_list, name=None):
    """sqrt(sum over the tensors of sum(t ** 2)); None entries are skipped."""
    t_list = _check_list(t_list)
    with name_scope(name, "global_norm", [t for t in t_list if t is not None]):
        values = [convert_to_tensor(t, name="t_%d" % i) for i, t in enumerate(t_list) if t is not None]
        if not values:
            raise ValueError("global_norm: t_list holds no tensor")
        half_squared = [nn_ops.l2_loss(v) for v in values]
        total = math_ops.reduce_sum(array_ops.stack(half_squared))
        return math_ops.sqrt(math_ops.multiply(total, array_ops.constant(2.0, dtype=total.dtype)),
                             name="global_norm")


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """(list of t * clip_norm / max(global_norm, clip_norm), global_norm): every tensor scaled by the same
    factor. None entries stay None. An infinite or NaN global norm makes every value NaN, as in TF."""
    t_list = _check_list(t_list)
    if use_norm is None:
        use_norm = global_norm(t_list, name)
    with name_scope(name, "clip_by_global_norm", [t for t in t_list if t is not None] + [clip_norm]) as scope:
        use_norm = convert_to_tensor(use_norm)
        if isinstance(clip_norm, numbers.Real):
            clip_norm = array_ops.constant(float(clip_norm), dtype=use_norm.dtype, name="clip_norm")
        clip_norm = convert_to_tensor(clip_norm, dtype=use_norm.dtype)
        one = array_ops.constant(1.0, dtype=use_norm.dtype)
        scale = math_ops.multiply(clip_norm, math_ops.minimum(math_ops.divide(one, use_norm),
                                                              math_ops.divide(one, clip_norm)))
        scale = math_ops.add(scale, math_ops.subtract(use_norm, use_norm))   # NaN when the norm is inf or NaN
        clipped = []
        for i, t in enumerate(t_list):
            if t is None:
                clipped.append(None)
                continue
            t = convert_to_tensor(t)
            clipped.append(array_ops.identity(math_ops.multiply(t, math_ops.cast(scale, t.dtype)),
                                              name="%s_%d" % (scope, i)))
        return clipped, use_norm


def clip_by_average_norm(t, clip_norm, name=None):
    """t * clip_norm / max(||t||_2 / size(t), clip_norm)."""
    with name_scope(name, "clip_by_average_norm", [t, clip_norm]) as scope:
        t = convert_to_tensor(t, name="t")
        n = math_ops.cast(array_ops.size(t), t.dtype)
        inv_norm = math_ops.rsqrt(math_ops.reduce_sum(math_ops.multiply(t, t)))
        factor = math_ops.minimum(math_ops.multiply(inv_norm, n),
                                  math_ops.divide(array_ops.constant(1.0, dtype=t.dtype),
                                                  convert_to_tensor(clip_norm, dtype=t.dtype)))
        return array_ops.identity(math_ops.multiply(math_ops.multiply(t, clip_norm), factor), name=scope)
