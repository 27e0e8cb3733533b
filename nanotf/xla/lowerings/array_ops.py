"""Lowerings of nanotf/ops/array_ops.py's op types."""
import numpy as np

from nanotf.xla.lowerings._registry import (asarray, axes_of, is_concrete, jnp, out_dtype, register,
                                            shape_tuple, static_value)


def lower_Const(op):
    return op._attrs["value"]


def lower_PlaceholderWithDefault(op, x):
    return x


def lower_Identity(op, x):
    return x


def lower_StopGradient(op, x):
    return x


def lower_Shape(op, x):
    return np.asarray(np.shape(x), dtype=out_dtype(op))


def lower_Size(op, x):
    return np.asarray(int(np.prod(np.shape(x), dtype=np.int64)), dtype=out_dtype(op))


def lower_Rank(op, x):
    return np.asarray(np.ndim(x), dtype=np.int32)


def lower_ShapeN(op, *xs):
    return tuple(np.asarray(np.shape(x), dtype=out_dtype(op, i)) for i, x in enumerate(xs))


def lower_Reshape(op, x, shape):
    return jnp.reshape(x, shape_tuple(op, shape, 1))


def lower_Fill(op, dims, value):
    return jnp.full(shape_tuple(op, dims, 0), value, dtype=out_dtype(op))


def lower_ZerosLike(op, x):
    return jnp.zeros(np.shape(x), dtype=out_dtype(op))


def lower_OnesLike(op, x):
    return jnp.ones(np.shape(x), dtype=out_dtype(op))


def lower_ExpandDims(op, x, dim):
    return jnp.expand_dims(x, int(np.reshape(static_value(op, dim, 1), -1)[0]))


def lower_Squeeze(op, x):
    axes = tuple(op._attrs["squeeze_dims"])
    return jnp.squeeze(x, axis=axes if axes else None)


def lower_Transpose(op, x, perm):
    return jnp.transpose(x, shape_tuple(op, perm, 1))


def lower_ConcatV2(op, *xs):
    axis = int(static_value(op, xs[-1], len(xs) - 1))
    return jnp.concatenate([asarray(x, out_dtype(op)) for x in xs[:-1]], axis=axis)


def lower_Pack(op, *xs):
    return jnp.stack([asarray(x, out_dtype(op)) for x in xs], axis=op._attrs["axis"])


def lower_Unpack(op, x):
    a = op._attrs["axis"] % max(np.ndim(x), 1)
    return tuple(jnp.squeeze(p, a) for p in jnp.split(x, op._attrs["num"], axis=a))


def lower_Split(op, axis, x):
    a = int(static_value(op, axis, 0)) % np.ndim(x)
    return tuple(jnp.split(x, op._attrs["num_split"], axis=a))


def lower_SplitV(op, x, sizes, axis):
    a = int(static_value(op, axis, 2)) % np.ndim(x)
    sizes = [int(s) for s in static_value(op, sizes, 1)]
    d = np.shape(x)[a]
    if -1 in sizes:
        sizes[sizes.index(-1)] = d - (sum(sizes) + 1)
    return tuple(jnp.split(x, np.cumsum(sizes)[:-1].tolist(), axis=a))


def lower_Tile(op, x, multiples):
    return jnp.tile(x, shape_tuple(op, multiples, 1))


def lower_TileGrad(op, g, multiples):
    split_shape = []
    for d, k in zip(np.shape(g), shape_tuple(op, multiples, 1)):
        split_shape += [k, d // k if k else 0]
    return jnp.sum(jnp.reshape(g, split_shape), axis=tuple(range(0, len(split_shape), 2)))


def lower_Pad(op, x, paddings, value=None):
    pads = [(int(b), int(e)) for b, e in static_value(op, paddings, 1)]
    return jnp.pad(x, pads, constant_values=0 if value is None else value)


lower_PadV2 = lower_Pad


def lower_OneHot(op, idx, depth, on, off):
    depth = int(static_value(op, depth, 1))
    a = op._attrs["axis"]
    k = np.ndim(idx) if a == -1 else a
    classes = jnp.arange(depth).reshape((depth,) + (1,) * (np.ndim(idx) - k))
    hot = jnp.expand_dims(idx, k) == classes
    return jnp.where(hot, asarray(on, out_dtype(op)), asarray(off, out_dtype(op)))


def lower_GatherV2(op, params, idx, axis):
    a = int(static_value(op, axis, 2))
    return jnp.take(params, idx, axis=a, mode="clip")   # XLA cannot raise on a bad index: clamped, as TF/XLA


def lower_GatherGrad(op, g, idx, params):
    a = op._attrs["axis"] % np.ndim(params)
    out = jnp.zeros(np.shape(params), dtype=out_dtype(op))
    return out.at[(slice(None),) * a + (idx,)].add(g)


def lower_GatherNd(op, params, idx):
    k = np.shape(idx)[-1]
    if k == 0:
        return jnp.broadcast_to(params, np.shape(idx)[:-1] + np.shape(params))
    return jnp.asarray(params)[tuple(jnp.moveaxis(idx, -1, 0))]


def lower_ScatterNd(op, idx, upd, shape):
    shp = shape_tuple(op, shape, 2)
    k = np.shape(idx)[-1]
    out = jnp.zeros(shp, dtype=out_dtype(op))
    if k == 0:
        return out + jnp.sum(jnp.reshape(upd, (-1,) + shp), axis=0).astype(out.dtype)
    return out.at[tuple(jnp.moveaxis(idx, -1, 0))].add(upd)


def lower_Slice(op, x, begin, size):
    b = [int(v) for v in static_value(op, begin, 1)]
    s = [int(v) for v in static_value(op, size, 2)]
    return x[tuple(slice(bi, None if si == -1 else bi + si) for bi, si in zip(b, s))]


def _strided_index(op, b, e, s, first):
    from nanotf.ops.array_ops import _index_tuple   # TF's sparse slice spec as a NumPy index (pure Python)
    return _index_tuple(*(static_value(op, v, first + i) for i, v in enumerate((b, e, s))), op._attrs)


def lower_StridedSlice(op, x, b, e, s):
    idx = _strided_index(op, b, e, s, 1)
    if is_concrete(x):
        return np.asarray(np.asarray(x)[idx])
    return x[idx]


def lower_StridedSliceGrad(op, shp, b, e, s, dy):
    out = jnp.zeros(shape_tuple(op, shp, 0), dtype=out_dtype(op))
    return out.at[_strided_index(op, b, e, s, 1)].set(dy)


def lower_BroadcastTo(op, x, shape):
    return jnp.broadcast_to(x, shape_tuple(op, shape, 1))


def lower_ReverseV2(op, x, axes):
    flip = axes_of([int(a) for a in np.reshape(static_value(op, axes, 1), -1)], np.ndim(x))
    return jnp.flip(x, flip) if flip else x


def lower_ReverseSequence(op, x, lengths):
    seq_dim, batch_dim = op._attrs["seq_dim"], op._attrs["batch_dim"]
    n, b = np.shape(x)[seq_dim], np.shape(x)[batch_dim]
    t = jnp.arange(n)[:, None]
    lengths = lengths.astype(np.int64)[None, :]
    src = jnp.where(t < lengths, lengths - 1 - t, t)
    shape = [1] * np.ndim(x)
    shape[seq_dim], shape[batch_dim] = n, b
    index = src if seq_dim < batch_dim else src.T
    return jnp.take_along_axis(x, jnp.reshape(index, shape), axis=seq_dim)


def lower_InvertPermutation(op, p):
    return jnp.argsort(p).astype(out_dtype(op))


def lower_ConcatOffset(op, axis, *shapes):
    a = int(static_value(op, axis, 0))
    shapes = [static_value(op, s, i + 1) for i, s in enumerate(shapes)]
    a %= max(len(shapes[0]), 1)
    out, at = [], 0
    for s in shapes:
        o = np.zeros(len(s), dtype=np.int32)
        o[a] = at
        at += int(s[a])
        out.append(o)
    return tuple(out)


# -- nanotf/ops/rnn.py's step splitting
def lower_UnstackSteps(op, x):
    return tuple(x[t] for t in range(op._attrs["num"]))


def lower_UnstackStepsGrad(op, x, *grads):
    out = jnp.zeros(np.shape(x), dtype=out_dtype(op))
    for t, g in zip(op._attrs["steps"], grads):
        out = out.at[t].set(g)
    return out


register(globals())
__all__ = []
