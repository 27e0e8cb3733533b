"""Lowerings of nanotf/ops/math_ops.py's op types."""
import numpy as np

from nanotf.xla.lowerings._registry import (asarray, axes_of, in_dtype, jnp, lax, out_dtype, register,
                                            static_value)


def _elementwise(fn):
    return lambda op, *xs: fn(*xs)


lower_Add = _elementwise(jnp.add)
lower_Sub = _elementwise(jnp.subtract)
lower_Mul = _elementwise(jnp.multiply)
lower_Neg = _elementwise(jnp.negative)
lower_Square = _elementwise(jnp.square)
lower_Sqrt = _elementwise(jnp.sqrt)
lower_Rsqrt = _elementwise(lax.rsqrt)
lower_Exp = _elementwise(jnp.exp)
lower_Log = _elementwise(jnp.log)
lower_Log1p = _elementwise(jnp.log1p)
lower_Abs = _elementwise(jnp.abs)
lower_Sign = _elementwise(jnp.sign)
lower_Floor = _elementwise(jnp.floor)
lower_Ceil = _elementwise(jnp.ceil)
lower_Maximum = _elementwise(jnp.maximum)
lower_Minimum = _elementwise(jnp.minimum)
lower_Equal = _elementwise(jnp.equal)
lower_NotEqual = _elementwise(jnp.not_equal)
lower_Less = _elementwise(jnp.less)
lower_LessEqual = _elementwise(jnp.less_equal)
lower_Greater = _elementwise(jnp.greater)
lower_GreaterEqual = _elementwise(jnp.greater_equal)
lower_LogicalAnd = _elementwise(jnp.logical_and)
lower_LogicalOr = _elementwise(jnp.logical_or)
lower_LogicalNot = _elementwise(jnp.logical_not)
lower_FloorDiv = _elementwise(jnp.floor_divide)   # XLA cannot raise: integer division by zero gives 0/-1
lower_FloorMod = _elementwise(jnp.mod)


def lower_SquaredDifference(op, x, y):
    return jnp.square(jnp.subtract(x, y))


def lower_RealDiv(op, a, b):
    if op._inputs[0].dtype.is_integer:
        return jnp.trunc(jnp.true_divide(a, b)).astype(out_dtype(op))
    return jnp.true_divide(a, b)


def lower_Reciprocal(op, x):
    if op._inputs[0].dtype.is_integer:
        return jnp.trunc(1.0 / x).astype(out_dtype(op))
    return jnp.reciprocal(x)


def lower_Round(op, x):
    return x if op._inputs[0].dtype.is_integer else jnp.round(x)


def lower_Pow(op, x, y):
    if op._inputs[0].dtype.is_integer:
        return lax.integer_pow(x, int(static_value(op, y, 1))) if np.ndim(y) == 0 and _known(y) else \
            jnp.power(x, y)
    return jnp.power(x, y)


def _known(x):
    return isinstance(x, (np.ndarray, np.generic))


def lower_MatMul(op, a, b):
    a = a.T if op._attrs["transpose_a"] else a
    b = b.T if op._attrs["transpose_b"] else b
    return jnp.matmul(a, b)


# -- reductions (axes are attributes)
def _axes(op, x):
    return axes_of(op._attrs["axis"], np.ndim(x))


def lower_Sum(op, x):
    return jnp.sum(x, axis=_axes(op, x), keepdims=op._attrs["keep_dims"], dtype=out_dtype(op))


def lower_Mean(op, x):
    axes, keep = _axes(op, x), op._attrs["keep_dims"]
    if op._inputs[0].dtype.is_integer:
        return jnp.trunc(jnp.mean(x, axis=axes, keepdims=keep)).astype(out_dtype(op))
    return jnp.mean(x, axis=axes, keepdims=keep, dtype=out_dtype(op))


def _extreme(npd, sign):
    if np.dtype(npd).kind == "f":
        return sign * np.inf
    info = np.iinfo(npd)
    return info.min if sign < 0 else info.max


def lower_Max(op, x):
    return jnp.max(x, axis=_axes(op, x), keepdims=op._attrs["keep_dims"], initial=_extreme(in_dtype(op), -1))


def lower_Min(op, x):
    return jnp.min(x, axis=_axes(op, x), keepdims=op._attrs["keep_dims"], initial=_extreme(in_dtype(op), 1))


def lower_Prod(op, x):
    return jnp.prod(x, axis=_axes(op, x), keepdims=op._attrs["keep_dims"], dtype=out_dtype(op))


def lower_All(op, x):
    return jnp.all(x, axis=_axes(op, x), keepdims=op._attrs["keep_dims"])


def lower_Any(op, x):
    return jnp.any(x, axis=_axes(op, x), keepdims=op._attrs["keep_dims"])


def lower_ArgMax(op, x):
    return jnp.argmax(x, axis=op._attrs["axis"]).astype(out_dtype(op))


def lower_ArgMin(op, x):
    return jnp.argmin(x, axis=op._attrs["axis"]).astype(out_dtype(op))


def lower_ProdOthers(op, x):
    """Each element replaced by the product of the others of its group: exclusive prefix and suffix products."""
    nd = np.ndim(x)
    red = axes_of(op._attrs["axis"], nd)
    kept = [a for a in range(nd) if a not in red]
    perm = kept + list(red)
    xt = jnp.transpose(x, perm)
    n = int(np.prod([np.shape(x)[a] for a in red], dtype=np.int64))
    if n == 0 or np.size(x) == 0:
        return jnp.zeros(np.shape(x), out_dtype(op))
    flat = jnp.reshape(xt, xt.shape[:len(kept)] + (n,))
    ones = jnp.ones(flat.shape[:-1] + (1,), dtype=out_dtype(op))
    before = jnp.cumprod(jnp.concatenate([ones, flat[..., :-1]], -1), -1)
    after = jnp.cumprod(jnp.concatenate([ones, flat[..., :0:-1]], -1), -1)[..., ::-1]
    out = jnp.reshape(before * after, xt.shape)
    return jnp.transpose(out, np.argsort(perm))


# -- gradient plumbing for broadcasting (x is read for its static shape only)
def lower_SumToShapeOf(op, g, x):
    g_dims, x_dims = np.shape(g), np.shape(x)
    extra = len(g_dims) - len(x_dims)
    axes = tuple(range(extra)) + tuple(i + extra for i, d in enumerate(x_dims) if d == 1 and g_dims[i + extra] != 1)
    return jnp.reshape(jnp.sum(g, axis=axes, keepdims=True), x_dims) if axes else jnp.reshape(g, x_dims)


def lower_BroadcastToShapeOf(op, g, x):
    return jnp.broadcast_to(g, np.shape(x))


def lower_UnreduceLike(op, g, x):
    shp = np.shape(x)
    ax = axes_of(op._attrs["axis"], len(shp))
    if ax and not op._attrs["keep_dims"]:
        g = jnp.expand_dims(g, ax)
    if op._attrs["mean"]:
        count = max(int(np.prod([shp[a] for a in ax], dtype=np.int64)), 1)
        g = g / np.asarray(count, dtype=out_dtype(op))
    return jnp.broadcast_to(g, shp)


def lower_Cast(op, x):
    dst = out_dtype(op)
    if op._inputs[0].dtype.is_floating and op._attrs["DstT"].is_integer:
        x = jnp.trunc(x)
    return asarray(x, dst) if not hasattr(x, "astype") else x.astype(dst)


def lower_AddN(op, *xs):
    out = xs[0]
    for x in xs[1:]:
        out = jnp.add(out, x)
    return out


def lower_Select(op, c, x, y):
    rank = max(np.ndim(x), np.ndim(y))
    if np.ndim(c) == 1 and rank > 1:   # TF1: a vector condition selects along the first dimension
        c = jnp.reshape(c, (-1,) + (1,) * (rank - 1))
    return jnp.where(c, x, y)


def lower_Range(op, start, limit, delta):
    from nanotf.ops.math_ops import _range_size   # the element count rule, plain Python
    npd = out_dtype(op)
    s, l_, d = (static_value(op, v, i) for i, v in enumerate((start, limit, delta)))
    n = _range_size(s, l_, d, npd.type)
    return np.arange(n, dtype=npd) * np.asarray(d, dtype=npd) + np.asarray(s, dtype=npd)


def lower_LinSpace(op, start, stop, num):
    return jnp.linspace(start, stop, int(static_value(op, num, 2)), dtype=out_dtype(op))


def lower_Cumsum(op, x):
    axis, exclusive, reverse = op._attrs["axis"], op._attrs["exclusive"], op._attrs["reverse"]
    if reverse:
        x = jnp.flip(x, axis)
    out = jnp.cumsum(x, axis=axis, dtype=out_dtype(op))
    if exclusive and out.shape[axis]:
        a = axis % out.ndim
        pad = [(0, 0)] * out.ndim
        pad[a] = (1, 0)
        out = lax.slice_in_dim(jnp.pad(out, pad), 0, out.shape[a], axis=a)
    return jnp.flip(out, axis) if reverse else out


def lower_Qr(op, x):
    return tuple(jnp.linalg.qr(x, mode="complete" if op._attrs["full_matrices"] else "reduced"))


register(globals())
__all__ = []
