"""Indexing ops: gather (GatherV2, GatherNd), scatter_nd, slice, strided_slice (Python's `tensor[...]`)
and boolean_mask. array_ops re-exports the public ones (tf.gather is array_ops.gather in TF)."""
import builtins

import numpy as np

from nanotf.framework import dtypes
from nanotf.framework import errors
from nanotf.framework import lowering as xla
from nanotf.framework.op_def import OpDef, Sample
from nanotf.framework.ops import Tensor, apply_op, convert_to_tensor, name_scope
from nanotf.framework.tensor_shape import TensorShape, unknown_shape
from nanotf.ops.array_ops import (_apply_with_ints, _const_value, _fmt_shape, _int_tensor, _math, _shape_error,
                                  _shape_of, _static_int, _static_shape_from, concat, constant, ones_like, pad,
                                  reshape, shape, squeeze, stack)

_pyslice = builtins.slice   # this module's `slice` is tf.slice


# -- GatherV2 and its dense gradient
class GatherV2(OpDef):
    def infer(op):
        params, idx, axis_t = op._inputs
        if not idx.dtype.is_integer:
            raise TypeError("GatherV2 %r: indices must be int32 or int64, got %s (%s)"
                            % (op.name, idx.dtype.name, idx.name))
        a = int(_const_value(axis_t))
        pd, idims = params.shape.as_tuple(), idx.shape.as_tuple()
        if pd is None or idims is None:
            return params.dtype, unknown_shape()
        if not -len(pd) <= a < len(pd):
            raise _shape_error(op, "Shape must be at least rank %d but is rank %d" % (a + 1 if a >= 0 else -a,
                                                                                      len(pd)))
        a %= len(pd)
        return params.dtype, TensorShape(pd[:a] + idims + pd[a + 1:])

    def kernel(op, ctx):
        a = int(_const_value(op._inputs[2]))

        def gather_kernel(params, idx, axis):
            n = params.shape[a]
            if np.size(idx) and (idx.min() < 0 or idx.max() >= n):   # NumPy would wrap negatives
                flat = np.reshape(idx, -1)
                k = int(np.argmax((flat < 0) | (flat >= n)))
                pos = np.unravel_index(k, np.shape(idx))
                raise errors.InvalidArgumentError(None, op, "indices[%s] = %d is not in [0, %d)"
                                                  % (",".join(map(str, pos)), flat[k], n))
            return np.take(params, idx, axis=a)
        return gather_kernel

    def lower(op, params, idx, axis):
        a = int(xla.static_value(op, axis, 2))
        return xla.jnp.take(params, idx, axis=a, mode="clip")   # XLA cannot raise on a bad index: clamped, as TF/XLA

    def grad(op, g):
        params, idx, axis_t = op._inputs
        a = int(_const_value(axis_t))
        return [apply_op("GatherGrad", [g, idx, params], {"axis": a}, name="GatherGrad"), None, None]

    samples = [Sample(lambda p, i: gather(p, i), [(5, 3), np.array([0, 2, 2, 4], np.int32)]),
               Sample(lambda p, i: gather(p, i, axis=1), [(2, 4), np.array([[1, 0], [3, 3]], np.int64)]),
               Sample(lambda p, i: gather(p, i, axis=-1), [(3,), np.array(1, np.int32)])]


class GatherGrad(OpDef):
    """Dense gradient of GatherV2: g scatter-added into zeros of params' runtime shape
    (repeated indices accumulate). TF returns IndexedSlices; nanotf keeps gradients dense."""

    def infer(op):
        return op._inputs[0].dtype, op._inputs[2].shape

    def kernel(op, ctx):
        a = op._attrs["axis"]

        def gather_grad(g, idx, params):
            out = np.zeros(np.shape(params), dtype=g.dtype)
            ax = a % out.ndim
            np.add.at(out, (_pyslice(None),) * ax + (idx,), g)
            return out
        return gather_grad

    def lower(op, g, idx, params):
        a = op._attrs["axis"] % np.ndim(params)
        out = xla.jnp.zeros(np.shape(params), dtype=xla.out_dtype(op))
        return out.at[(_pyslice(None),) * a + (idx,)].add(g)

    def grad(op, gg):
        g, idx, params = op._inputs
        return [gather(gg, idx, axis=op._attrs["axis"]), None, None]

    samples = [Sample(lambda g, p: apply_op("GatherGrad", [g, _int_tensor([1, 1, 0], "i"), p], {"axis": 0}),
                      [(3, 2), (4, 2)], grad=(0,))]


def gather(params, indices, validate_indices=None, name=None, axis=None, batch_dims=0):
    """Slices of `params` along `axis` at `indices`: output shape is
    params.shape[:axis] + indices.shape + params.shape[axis+1:]."""
    if batch_dims:
        raise NotImplementedError("tf.gather: batch_dims is not implemented in nanotf")
    axis = 0 if axis is None else _static_int(axis, "axis", "gather")
    with name_scope(name, "GatherV2", [params, indices]) as scope:
        p = convert_to_tensor(params, name="params")
        i = convert_to_tensor(indices, name="indices")
        return apply_op("GatherV2", [p, i, _int_tensor(axis, "axis")], name=scope)


# -- GatherNd / ScatterNd: indexing by the last dimension of `indices` (each row a prefix of an index)
def _dbg(shape):
    """A concrete shape in TensorShape::DebugString's form: [2,3], [] for a scalar."""
    return "[%s]" % ",".join(str(int(d)) for d in shape)


def _slice_debug(batch, i):
    """TF's SliceDebugString: where flat row i sits in the batch dims ('' for none, '[1]', '[0,2]')."""
    if not batch:
        return ""
    return "[%s]" % ",".join(str(int(k)) for k in np.unravel_index(i, batch))


def _index_dtype_check(op, t, what):
    if t.dtype not in (dtypes.int32, dtypes.int64):
        raise TypeError("%s %r: %s must be int32 or int64, got %s (%s)" % (op.type, op.name, what, t.dtype.name,
                                                                         t.name))


def _first_bad_row(flat, bounds):
    """Index of the first row of `flat` ([M, K]) outside [0, bounds) in some column, or -1."""
    if not flat.size:
        return -1
    bad = ((flat < 0) | (flat >= np.asarray(bounds, dtype=np.int64))).any(axis=1)
    return int(np.argmax(bad)) if bad.any() else -1


class GatherNd(OpDef):
    """Slices of params at the index prefixes along the last dimension of indices: output shape is
    indices.shape[:-1] + params.shape[indices.shape[-1]:]."""
    fresh_output = True

    def infer(op):
        params, idx = op._inputs
        _index_dtype_check(op, idx, "indices")
        pd, idims = params.shape.as_tuple(), idx.shape.as_tuple()
        for dims in (pd, idims):
            if dims is not None and len(dims) < 1:
                raise _shape_error(op, "Shape must be at least rank 1 but is rank 0")
        if idims is None or idims[-1] is None or pd is None:
            return params.dtype, unknown_shape()
        k = idims[-1]
        if k > len(pd):
            raise _shape_error(op, "indices.shape[-1] must be <= params.rank, but saw indices shape: %s and "
                               "params shape: %s" % (_fmt_shape(idx.shape), _fmt_shape(params.shape)))
        return params.dtype, TensorShape(idims[:-1] + pd[k:])

    def kernel(op, ctx):
        def gather_nd_kernel(params, idx):
            if np.ndim(params) < 1:
                raise errors.InvalidArgumentError(None, op, "params must be at least a vector")
            if np.ndim(idx) < 1:
                raise errors.InvalidArgumentError(None, op, "indices must be at least a vector")
            k = idx.shape[-1]
            if k > params.ndim:
                raise errors.InvalidArgumentError(
                    None, op, "index innermost dimension length must be <= params rank; saw: %d vs. %d"
                    % (k, params.ndim))
            batch = idx.shape[:-1]
            flat = idx.reshape((int(np.prod(idx.shape[:-1])), k))
            if flat.shape[0] and params.size == 0:
                raise errors.InvalidArgumentError(None, op, "Requested more than 0 entries, but params is empty.  "
                                                  "Params shape: %s" % _dbg(params.shape))
            bad = _first_bad_row(flat, params.shape[:k])
            if bad >= 0:
                raise errors.InvalidArgumentError(
                    None, op, "indices%s = [%s] does not index into param shape %s"
                    % (_slice_debug(batch, bad), ", ".join(str(int(v)) for v in flat[bad]), _dbg(params.shape)))
            if k == 0:   # every index is the empty prefix: the whole of params, once per index
                return np.array(np.broadcast_to(params, batch + params.shape))
            return params[tuple(flat.T)].reshape(batch + params.shape[k:])
        return gather_nd_kernel

    def lower(op, params, idx):
        k = np.shape(idx)[-1]
        if k == 0:
            return xla.jnp.broadcast_to(params, np.shape(idx)[:-1] + np.shape(params))
        return xla.jnp.asarray(params)[tuple(xla.jnp.moveaxis(idx, -1, 0))]

    def grad(op, g):
        params, idx = op._inputs
        return [scatter_nd(idx, g, _shape_of(params, idx.dtype)), None]

    samples = [Sample(lambda p, i: gather_nd(p, i), [(3, 4), np.array([[0, 1], [2, 3], [0, 1], [1, 0]], np.int32)]),
               Sample(lambda p, i: gather_nd(p, i), [(3, 2, 2), np.array([[[1], [0]], [[2], [2]]], np.int64)]),
               Sample(lambda p, i: gather_nd(p, i), [(2, 3), np.array([1, 2], np.int32)]),
               Sample(lambda p: gather_nd(p, np.zeros((2, 0), np.int32)), [(2, 3)]),
               Sample(lambda p: gather_nd(p, [[1, 0], [0, 2]]),
                      [lambda rng: rng.standard_normal((2, 3)).astype(np.float32)], atol=1e-3, rtol=1e-3)]


def gather_nd(params, indices, name=None):
    """params at the index prefixes in the last dimension of `indices`: output shape is
    indices.shape[:-1] + params.shape[indices.shape[-1]:]."""
    with name_scope(name, "GatherNd", [params, indices]) as scope:
        p = convert_to_tensor(params, name="params")
        i = convert_to_tensor(indices, name="indices")
        return apply_op("GatherNd", [p, i], name=scope)


class ScatterNd(OpDef):
    """Zeros of `shape` with `updates` added at the index prefixes in `indices` (repeats add up)."""
    fresh_output = True

    def infer(op):
        idx, upd, shape_t = op._inputs
        _index_dtype_check(op, idx, "indices")
        if shape_t.dtype is not idx.dtype:
            raise TypeError("ScatterNd %r: shape must have the dtype of indices (%s), got %s (%s)"
                            % (op.name, idx.dtype.name, shape_t.dtype.name, shape_t.name))
        if shape_t.shape.ndims not in (None, 1):
            raise _shape_error(op, "Shape must be rank 1 but is rank %d" % shape_t.shape.ndims)
        out = _static_shape_from(shape_t)
        idims, udims, odims = idx.shape.as_tuple(), upd.shape.as_tuple(), out.as_tuple()
        if idims is not None and len(idims) < 1:
            raise _shape_error(op, "Shape must be at least rank 1 but is rank 0")
        if idims is None or udims is None or idims[-1] is None:
            return upd.dtype, out
        outer, k = len(idims) - 1, idims[-1]

        def clash(a, b):
            return len(a) != len(b) or any(x is not None and y is not None and x != y for x, y in zip(a, b))
        if clash(idims[:-1], udims[:outer]):
            raise _shape_error(op, "The outer %d dimensions of indices.shape=%s must match the outer %d dimensions "
                               "of updates.shape=%s" % (outer, _fmt_shape(idx.shape), outer, _fmt_shape(upd.shape)))
        if odims is not None:
            if k > len(odims):
                raise _shape_error(op, "indices.shape[-1] must be <= rank of shape, but saw indices shape: %s and "
                                   "shape: %s" % (_fmt_shape(idx.shape), _fmt_shape(out)))
            if clash(odims[k:], udims[outer:]):
                raise _shape_error(op, "The inner %d dimensions of output.shape=%s must match the inner %d "
                                   "dimensions of updates.shape=%s" % (len(odims) - k, _fmt_shape(out),
                                                                      len(udims) - outer, _fmt_shape(upd.shape)))
            # the updates may know dimensions the shape argument leaves open
            odims = odims[:k] + tuple(o if o is not None else u for o, u in zip(odims[k:], udims[outer:]))
            return upd.dtype, TensorShape(odims)
        return upd.dtype, out

    def kernel(op, ctx):
        npd = op._inputs[1].dtype.as_numpy_dtype

        def scatter_nd_kernel(idx, upd, shape_v):
            if np.ndim(shape_v) != 1:
                raise errors.InvalidArgumentError(None, op, "Shape must be a vector")
            shp = tuple(int(d) for d in shape_v)
            for d in shp:
                if d < 0:
                    raise errors.InvalidArgumentError(None, op, "Dimension %d must be >= 0" % d)
            if np.ndim(idx) < 1:
                raise errors.InvalidArgumentError(None, op, "Indices shape must have rank at least one. Found:%s"
                                                  % _dbg(np.shape(idx)))
            if not shp:
                raise errors.InvalidArgumentError(None, op, "Output must be at least 1-D, got shape: []")
            k, outer = idx.shape[-1], idx.ndim - 1
            if k > len(shp):
                raise errors.InvalidArgumentError(
                    None, op, "Index innermost dimension length must be <= params rank; saw: %d vs. %d"
                    % (k, len(shp)))
            if np.shape(upd)[:outer] != idx.shape[:-1]:
                raise errors.InvalidArgumentError(
                    None, op, "The outer %d dimensions of indices.shape=%s must match the outer %d dimensions of "
                    "updates.shape=%s" % (outer, _dbg(idx.shape), outer, _dbg(np.shape(upd))))
            if np.shape(upd)[outer:] != shp[k:]:
                raise errors.InvalidArgumentError(
                    None, op, "The inner %d dimensions of output.shape=%s must match the inner %d dimensions of "
                    "updates.shape=%s" % (len(shp) - k, _dbg(shp), np.ndim(upd) - outer, _dbg(np.shape(upd))))
            out = np.zeros(shp, dtype=npd)
            if out.size == 0:
                if np.size(idx) or np.size(upd):
                    raise errors.InvalidArgumentError(
                        None, op, "Indices and updates specified for empty output.  indices shape: %s"
                        % _dbg(idx.shape))
                return out
            flat = idx.reshape((int(np.prod(idx.shape[:-1])), k))
            bad = _first_bad_row(flat, shp[:k])
            if bad >= 0:
                raise errors.InvalidArgumentError(
                    None, op, "indices%s = [%s] does not index into shape %s"
                    % (_slice_debug(idx.shape[:-1], bad), ", ".join(str(int(v)) for v in flat[bad]), _dbg(shp)))
            slices = np.reshape(upd, (flat.shape[0],) + shp[k:])
            if k == 0:
                out += slices.sum(axis=0, dtype=npd)
            else:
                np.add.at(out, tuple(flat.T), slices)   # repeated indices accumulate
            return out
        return scatter_nd_kernel

    def lower(op, idx, upd, shape):
        shp = xla.shape_tuple(op, shape, 2)
        k = np.shape(idx)[-1]
        out = xla.jnp.zeros(shp, dtype=xla.out_dtype(op))
        if k == 0:
            return out + xla.jnp.sum(xla.jnp.reshape(upd, (-1,) + shp), axis=0).astype(out.dtype)
        return out.at[tuple(xla.jnp.moveaxis(idx, -1, 0))].add(upd)

    def grad(op, g):
        idx = op._inputs[0]
        return [None, gather_nd(g, idx), None]

    samples = [Sample(lambda u: scatter_nd([[0], [2], [0]], u, [4, 3]), [(3, 3)]),
               Sample(lambda i, u: scatter_nd(i, u, [3, 4]), [np.array([[0, 1], [2, 3], [1, 1]], np.int64), (3,)]),
               Sample(lambda i, u: scatter_nd(i, u, [2, 3, 2]), [np.array([[[1, 2]], [[0, 0]]], np.int32), (2, 1, 2)]),
               Sample(lambda u: scatter_nd([[1]], u, [3]),
                      [lambda rng: rng.standard_normal((1,)).astype(np.float32)], atol=1e-3, rtol=1e-3)]


def scatter_nd(indices, updates, shape, name=None):
    """Zeros of `shape` with `updates` added at `indices` (last dimension: an index prefix into `shape`);
    updates at repeated indices add up. updates.shape must be indices.shape[:-1] + shape[indices.shape[-1]:]."""
    with name_scope(name, "ScatterNd", [indices, updates, shape]) as scope:
        i = convert_to_tensor(indices, name="indices")
        u = convert_to_tensor(updates, name="updates")
        s = _int_tensor(shape, "shape", dtype=i.dtype if i.dtype in (dtypes.int32, dtypes.int64) else dtypes.int32)
        return apply_op("ScatterNd", [i, u, s], name=scope)


# -- Slice
def _slice_spec(op, begin, size, dims):
    """Checks a static begin/size against known dims; returns the output dims."""
    begin = [int(b) for b in begin.reshape(-1)]
    size = [int(s) for s in size.reshape(-1)]
    if len(begin) != len(size) or (dims is not None and len(begin) != len(dims)):
        raise _shape_error(op, "Expected begin and size arguments to be 1-D tensors of size %s, but got shapes "
                           "[%d] and [%d] instead" % ("?" if dims is None else len(dims), len(begin), len(size)))
    out = []
    for i, (b, s) in enumerate(zip(begin, size)):
        d = None if dims is None else dims[i]
        if b < 0 or (d is not None and b > d):
            raise _shape_error(op, "Expected begin[%d] in [0, %s], but got %d" % (i, "?" if d is None else d, b))
        if s < -1 or (d is not None and s != -1 and b + s > d):
            raise _shape_error(op, "Expected size[%d] in [0, %s], but got %d"
                               % (i, "?" if d is None else d - b, s))
        out.append(s if s != -1 else (None if d is None else d - b))
    return out


class Slice(OpDef):
    view_map = {0: (0,)}

    def infer(op):
        x, begin_t, size_t = op._inputs
        dims = x.shape.as_tuple()
        begin, size = _const_value(begin_t), _const_value(size_t)
        if begin is not None and size is not None:
            return x.dtype, TensorShape(_slice_spec(op, begin, size, dims))
        if size is not None and (dims is None or size.size == len(dims)):
            # begin partly known (tf.slice(x, [t, 0], [1, -1])): a -1 size is static where its begin is
            known = _partial_ints(begin_t) or [_UNKNOWN] * size.size
            if len(known) != size.size:
                known = [_UNKNOWN] * size.size
            out = []
            for i, s in enumerate(size.reshape(-1)):
                d = None if dims is None else dims[i]
                out.append(int(s) if s != -1 else None if d is None or known[i] is _UNKNOWN else d - known[i])
            return x.dtype, TensorShape(out)
        n = begin_t.shape.as_tuple()
        return x.dtype, unknown_shape(len(dims) if dims is not None else (n[0] if n else None))

    def kernel(op, ctx):
        x = op._inputs[0]
        begin, size = _const_value(op._inputs[1]), _const_value(op._inputs[2])

        def slice_kernel(x, begin, size):
            if len(begin) != np.ndim(x) or len(size) != np.ndim(x):
                raise ValueError("Expected begin and size arguments to be 1-D tensors of size %d, but got shapes "
                                 "%s and %s instead" % (np.ndim(x), list(np.shape(begin)), list(np.shape(size))))
            idx = []
            for i, (d, b, s) in enumerate(zip(np.shape(x), begin, size)):
                b, s = int(b), int(s)
                if not 0 <= b <= d:
                    raise ValueError("Expected begin[%d] in [0, %d], but got %d" % (i, d, b))
                if s == -1:
                    s = d - b
                if not 0 <= s <= d - b:
                    raise ValueError("Expected size[%d] in [0, %d], but got %d" % (i, d - b, s))
                idx.append(_pyslice(b, b + s))
            return x[tuple(idx)]
        if begin is None or size is None or not x.shape.is_fully_defined():
            return slice_kernel
        # static spec already checked against the static shape: just index
        idx = tuple(_pyslice(int(b), None if s == -1 else int(b) + int(s)) for b, s in zip(begin, size))
        return lambda x, b, s: x[idx]

    def lower(op, x, begin, size):
        s = [int(v) for v in xla.static_value(op, size, 2)]
        if not xla.is_concrete(begin):
            return _dynamic_slice(op, x, begin, s)
        b = [int(v) for v in begin]
        return x[tuple(_pyslice(bi, None if si == -1 else bi + si) for bi, si in zip(b, s))]

    def grad(op, g):
        x, begin_t, _ = op._inputs
        y = op._outputs[0]
        begin = _const_value(begin_t)
        if begin is not None and x.shape.is_fully_defined() and y.shape.is_fully_defined():
            b = begin.reshape(-1).astype(np.int64)
            after = np.asarray(x.shape.as_tuple()) - np.asarray(y.shape.as_tuple()) - b
            return [pad(g, np.stack([b, after], axis=1).astype(np.int32)), None, None]
        m = _math()
        dt = begin_t.dtype
        if begin is None:
            # begin only known at run time (tf.slice(x, [t, 0], [1, -1]) in a loop): g written at begin, not Pad,
            # whose paddings XLA needs as constants; StridedSliceGrad lowers with a traced begin
            n = begin_t.shape.as_tuple()
            ones = _int_tensor(np.ones(n[0], dt.as_numpy_dtype), "strides", dtype=dt) if n and n[0] is not None \
                else ones_like(begin_t)   # a constant where the rank is known: XLA needs strides as constants
            return [_strided_slice_grad(shape(x, out_type=dt), begin_t, m.add(begin_t, shape(y, out_type=dt)),
                                        ones, g, dict.fromkeys(_MASKS, 0)), None, None]
        after = m.subtract(m.subtract(shape(x, out_type=dt), shape(y, out_type=dt)), begin_t)
        return [pad(g, stack([begin_t, after], axis=1)), None, None]

    samples = [Sample(lambda x: slice(x, [1, 2], [2, -1]), [(4, 5)]), Sample(lambda x: slice(x, [1], [1]), [(3,)]),
               Sample(lambda x: slice(x, [0, 1, 0], [-1, 1, 2]), [(2, 3, 2)])]


def slice(input_, begin, size, name=None):  # noqa: A001 - TF's public name
    """The part of `input_` starting at `begin` of extent `size` (-1: to the end of that dimension)."""
    return _apply_with_ints("Slice", input_, name, begin=begin, size=size)


# -- StridedSlice: Python slicing of tensors
_MASKS = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
_UNKNOWN = object()   # a slice bound only known at run time (for static shapes)


def _index_tuple(begin, end, strides, attrs):
    """TF's sparse slice spec as a NumPy index: Ellipsis, None (new axis), ints (shrink) and slices."""
    bm, em, elm, nm, sm = (attrs[k] for k in _MASKS)
    idx = []
    for i in range(len(begin)):
        bit = 1 << i
        if elm & bit:
            if Ellipsis in idx:
                raise ValueError("Multiple ellipses in slice spec not allowed")
            idx.append(Ellipsis)
        elif nm & bit:
            idx.append(None)
        elif sm & bit:
            idx.append(begin[i] if begin[i] is _UNKNOWN else int(begin[i]))
        else:
            s = strides[i]
            if s is not _UNKNOWN:
                s = int(s)
                if s == 0:
                    raise ValueError("strides[%d] must be non-zero" % i)
            b = None if bm & bit else (begin[i] if begin[i] is _UNKNOWN else int(begin[i]))
            e = None if em & bit else (end[i] if end[i] is _UNKNOWN else int(end[i]))
            idx.append(_pyslice(b, e, s))
    return tuple(idx)


def _strided_index(op, b, e, s, first):
    """The StridedSlice spec in inputs first..first+2 (known while tracing) as a NumPy index, for lowerings."""
    return _index_tuple(*(xla.static_value(op, v, first + i) for i, v in enumerate((b, e, s))), op._attrs)


def _sliced_dims(op, idx, dims):
    """Static output dims of x[idx] for x of (partial) dims."""
    if dims is None:
        return None
    consuming = sum(1 for it in idx if it is not None and it is not Ellipsis)
    if consuming > len(dims):
        raise _shape_error(op, "Index out of range using input dim %d; input has only %d dims"
                           % (consuming - 1, len(dims)))
    out, k = [], 0
    for it in idx:
        if it is Ellipsis:
            n = len(dims) - consuming
            out.extend(dims[k:k + n])
            k += n
        elif it is None:
            out.append(1)
        elif isinstance(it, _pyslice):
            d = dims[k]
            k += 1
            if d is None or _UNKNOWN in (it.start, it.stop, it.step):
                out.append(None)
            else:
                out.append(len(range(*it.indices(d))))
        else:   # an int: that dimension goes away
            d = dims[k]
            k += 1
            if it is not _UNKNOWN and d is not None and not -d <= it < d:
                raise _shape_error(op, "slice index %d of dimension %d out of bounds" % (it, k - 1))
    return out + list(dims[k:])


def _partial_ints(t):
    """The values of a 1-D int tensor as far as known statically (Const, or Pack of scalars)."""
    v = _const_value(t)
    if v is not None:
        return [int(x) for x in v.reshape(-1)]
    if t.op.type == "Pack" and all(s.shape.ndims == 0 for s in t.op._inputs):
        vals = [_const_value(s) for s in t.op._inputs]
        return [_UNKNOWN if x is None else int(x) for x in vals]
    return None


class StridedSlice(OpDef):
    view_map = {0: (0,)}

    def infer(op):
        x, b, e, s = op._inputs
        spec = [_partial_ints(t) for t in (b, e, s)]
        if any(v is None for v in spec):
            return x.dtype, unknown_shape()
        try:
            idx = _index_tuple(*spec, op._attrs)
        except ValueError as err:
            raise _shape_error(op, str(err)) from None
        dims = _sliced_dims(op, idx, x.shape.as_tuple())
        return x.dtype, unknown_shape() if dims is None else TensorShape(dims)

    def kernel(op, ctx):
        attrs = op._attrs
        spec = [_const_value(t) for t in op._inputs[1:]]
        if any(v is None for v in spec):
            return lambda x, b, e, s: x[_index_tuple(b, e, s, attrs)]
        idx = _index_tuple(*spec, attrs)
        return lambda x, b, e, s: x[idx]

    def lower(op, x, b, e, s):
        if not all(xla.is_concrete(v) for v in (b, e, s)):
            return _dynamic_strided_slice(op, x, b, e, s)
        idx = _strided_index(op, b, e, s, 1)
        if xla.is_concrete(x):
            return np.asarray(np.asarray(x)[idx])
        return x[idx]

    def grad(op, g):
        x, b, e, s = op._inputs
        return [_strided_slice_grad(_shape_of(x), b, e, s, g, op._attrs), None, None, None]

    samples = [Sample(lambda x: x[1:3, ::-1], [(4, 3)]), Sample(lambda x: x[..., 0], [(2, 3, 2)]),
               Sample(lambda x: x[:, None, 1], [(2, 3)]), Sample(lambda x: x[::2, -1], [(5, 2)]),
               Sample(lambda x: x[-2:0:-1], [(4,)]), Sample(lambda x: x[1], [(3,)])]


def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0, ellipsis_mask=0,
                  new_axis_mask=0, shrink_axis_mask=0, var=None, name=None):
    """input_[begin:end:strides] per dimension; the masks mark, bit i for entry i, an omitted begin or
    end, an ellipsis, a new axis, or an index that removes its dimension."""
    with name_scope(name, "StridedSlice", [input_]) as scope:
        x = convert_to_tensor(input_, name="input")
        b, e = _int_tensor(begin, "begin"), _int_tensor(end, "end")
        if strides is None:
            n = b.shape.as_tuple()
            strides = [1] * n[0] if n and n[0] is not None else ones_like(b)
        st = _int_tensor(strides, "strides")
        attrs = dict(zip(_MASKS, (int(begin_mask), int(end_mask), int(ellipsis_mask), int(new_axis_mask),
                                  int(shrink_axis_mask))))
        return apply_op("StridedSlice", [x, b, e, st], attrs, name=scope)


class StridedSliceGrad(OpDef):
    """The gradient of StridedSlice: dy written into zeros of the input's shape at the sliced places."""

    def infer(op):
        shape_t, b, e, s, dy = op._inputs
        return dy.dtype, _static_shape_from(shape_t)

    def kernel(op, ctx):
        attrs = op._attrs
        spec = [_const_value(t) for t in op._inputs[1:4]]
        static_idx = None if any(v is None for v in spec) else _index_tuple(*spec, attrs)
        npd = op._inputs[4].dtype.as_numpy_dtype

        def strided_slice_grad(shp, b, e, s, dy):
            out = np.zeros(tuple(shp), dtype=npd)
            out[static_idx if static_idx is not None else _index_tuple(b, e, s, attrs)] = dy
            return out
        return strided_slice_grad

    def lower(op, shp, b, e, s, dy):
        out = xla.jnp.zeros(xla.shape_tuple(op, shp, 0), dtype=xla.out_dtype(op))
        if not all(xla.is_concrete(v) for v in (b, e, s)):
            return _dynamic_strided_slice_grad(op, out, b, e, s, dy)
        return out.at[_strided_index(op, b, e, s, 1)].set(dy)

    def grad(op, gg):
        _, b, e, s, _ = op._inputs
        attrs = op._attrs
        return [None] * 4 + [strided_slice(gg, b, e, s, **{k: attrs[k] for k in _MASKS})]

    samples = [Sample(lambda dy: _strided_slice_grad(_int_tensor([4, 3], "shape"), _int_tensor([1, 0], "b"),
                                                     _int_tensor([3, 0], "e"), _int_tensor([1, 1], "s"), dy,
                                                     dict(zip(_MASKS, (0, 2, 0, 0, 0)))), [(2, 3)])]


def _strided_slice_grad(shape_t, b, e, s, dy, attrs):
    return apply_op("StridedSliceGrad", [shape_t, b, e, s, dy], {k: attrs[k] for k in _MASKS},
                    name="StridedSliceGrad")


# -- XLA lowerings of slices whose begin/end are only known at run time (x[t] with t a loop variable)
# XLA needs every shape at compile time, so a traced bound is accepted only where the slice's size is still
# static: a shrinking index (x[t], size 1), tf.slice with a fixed size, and in StridedSliceGrad a stride-1
# range (its size is dy's). Such a start goes through lax.dynamic_slice / dynamic_index_in_dim /
# dynamic_update_slice, and XLA cannot raise at run time: a negative index counts from the end as in TF, then
# the start is clamped so the slice fits (into [0, dim - size]) where TF's kernels raise an out-of-range error.
def _known_ints(op, v, index):
    """A begin/end input's entries as ints where known while tracing, _UNKNOWN where traced."""
    if xla.is_concrete(v):
        return [int(x) for x in np.reshape(np.asarray(v), -1)]
    known = _partial_ints(op._inputs[index])
    return known if known is not None else [_UNKNOWN] * int(np.shape(v)[0])


def _wrapped_start(v, i, dim):
    """Entry i of a traced start vector as an int64 scalar, a negative one counted from the end (TF)."""
    start = xla.jnp.asarray(v[i]).astype(np.int64)
    return xla.jnp.where(start < 0, start + dim, start)


def _dynamic_slice(op, x, begin, size):
    """Slice with a traced begin and static sizes (-1 only where that begin is known)."""
    known = _known_ints(op, begin, 1)
    starts, sizes = [], []
    for i, (d, b, s) in enumerate(zip(np.shape(x), known, size)):
        if b is _UNKNOWN:
            if s == -1:   # size d - begin: not static
                xla.static_value(op, begin, 1)
            starts.append(xla.jnp.asarray(begin[i]).astype(np.int64))
        else:
            starts.append(np.int64(b))
        sizes.append(d - b if s == -1 else s)
    return xla.lax.dynamic_slice(x, starts, sizes)


def _split_traced_spec(op, ndim, b, e, s, first, ranges):
    """A StridedSlice spec (inputs first..first+2) with traced bounds, split into a static NumPy index, in which
    each traced entry keeps its whole dimension (slice(None)), and the traced entries as (axis of x[index],
    axis of x, start, shrinks). Traced range entries are accepted only if `ranges` (their size comes from
    elsewhere) and with stride 1."""
    n = int(np.shape(s)[0])
    strides = _known_ints(op, s, first + 2)
    if _UNKNOWN in strides:
        xla.static_value(op, s, first + 2)   # raises: strides must be constants
    begin, end = _known_ints(op, b, first), _known_ints(op, e, first + 1)
    bm, em, elm, nm, sm = (op._attrs[k] for k in _MASKS)
    consuming = sum(1 for i in range(n) if not (elm | nm) & (1 << i))
    idx, traced, out_axis, in_axis = [], [], 0, 0
    for i in range(n):
        bit = 1 << i
        if elm & bit:
            if Ellipsis in idx:
                raise ValueError("Multiple ellipses in slice spec not allowed")
            idx.append(Ellipsis)
            out_axis += ndim - consuming
            in_axis += ndim - consuming
            continue
        if nm & bit:
            idx.append(None)
            out_axis += 1
            continue
        if sm & bit:
            if begin[i] is _UNKNOWN:
                traced.append((out_axis, in_axis, b, i, True))
                idx.append(_pyslice(None))
                out_axis += 1
            else:
                idx.append(begin[i])
            in_axis += 1
            continue
        if strides[i] == 0:
            raise ValueError("strides[%d] must be non-zero" % i)
        lo = None if bm & bit else begin[i]
        hi = None if em & bit else end[i]
        if _UNKNOWN in (lo, hi):
            if not ranges or strides[i] != 1:   # the size would depend on the traced bound
                xla.static_value(op, b if lo is _UNKNOWN else e, first if lo is _UNKNOWN else first + 1)
            traced.append((out_axis, in_axis, b, i, False) if lo is not None else (out_axis, in_axis, None, i, False))
            idx.append(_pyslice(None))
        else:
            idx.append(_pyslice(lo, hi, strides[i]))
        out_axis += 1
        in_axis += 1
    return tuple(idx), traced


def _dynamic_strided_slice(op, x, b, e, s):
    """StridedSlice whose traced bounds are all shrinking indices (x[t], x[t, 1:3]): the static part as a NumPy
    index, then one lax.dynamic_index_in_dim per traced index."""
    shape = np.shape(x)
    idx, traced = _split_traced_spec(op, len(shape), b, e, s, 1, ranges=False)
    y = x[idx]
    for out_axis, in_axis, v, i, _ in reversed(traced):   # the last first: earlier axes keep their positions
        y = xla.lax.dynamic_index_in_dim(y, _wrapped_start(v, i, shape[in_axis]), out_axis, keepdims=False)
    return y


def _dynamic_strided_slice_grad(op, zeros, b, e, s, dy):
    """StridedSliceGrad with traced bounds: dy, given back its shrunk axes, written by lax.dynamic_update_slice
    into zeros of the statically indexed part, which is then placed into the input's zeros."""
    shape = zeros.shape
    idx, traced = _split_traced_spec(op, len(shape), b, e, s, 1, ranges=True)
    part_shape = np.broadcast_to(np.zeros((), np.int8), shape)[idx].shape   # a view: allocates nothing
    dy = xla.jnp.asarray(dy).astype(zeros.dtype)
    starts = [np.int64(0)] * len(part_shape)
    for out_axis, in_axis, v, i, shrinks in traced:
        if shrinks:
            dy = xla.jnp.expand_dims(dy, out_axis)
        if v is not None:
            starts[out_axis] = _wrapped_start(v, i, shape[in_axis])
    part = xla.lax.dynamic_update_slice(xla.jnp.zeros(part_shape, zeros.dtype), dy, starts)
    if all(isinstance(it, _pyslice) and it == _pyslice(None) for it in idx):   # the part is everything
        return part
    return zeros.at[idx].set(part)


def _is_int_index(v):
    if isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (int, np.integer)):
        return True
    if isinstance(v, Tensor) or hasattr(v, "_as_tensor"):
        t = convert_to_tensor(v)
        return t.dtype in (dtypes.int32, dtypes.int64) and t.shape.ndims in (0, None)
    return False


def _bad_index(v):
    return TypeError("Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and scalar "
                     "tf.int32/tf.int64 tensors are valid indices, got %r" % (v,))


def _slice_helper(tensor, slice_spec, var=None):
    """Tensor.__getitem__: basic NumPy-style indexing as one StridedSlice op (TF's rules)."""
    if isinstance(slice_spec, (bool, np.bool_)) or (isinstance(slice_spec, Tensor) and
                                                    slice_spec.dtype is dtypes.bool) or \
            (isinstance(slice_spec, np.ndarray) and slice_spec.dtype == bool):
        return boolean_mask(tensor, slice_spec)
    if not isinstance(slice_spec, (list, tuple)):
        slice_spec = [slice_spec]
    begin, end, strides = [], [], []
    masks = dict.fromkeys(_MASKS, 0)
    for i, s in enumerate(slice_spec):
        bit = 1 << i
        if isinstance(s, _pyslice):
            for part in (s.start, s.stop, s.step):
                if part is not None and not _is_int_index(part):
                    raise _bad_index(part)
            begin.append(0 if s.start is None else s.start)
            end.append(0 if s.stop is None else s.stop)
            strides.append(1 if s.step is None else s.step)
            masks["begin_mask"] |= bit if s.start is None else 0
            masks["end_mask"] |= bit if s.stop is None else 0
        elif s is Ellipsis:
            begin.append(0), end.append(0), strides.append(1)
            masks["ellipsis_mask"] |= bit
        elif s is None:
            begin.append(0), end.append(0), strides.append(1)
            masks["new_axis_mask"] |= bit
        elif _is_int_index(s):
            begin.append(s)
            end.append(s + 1)
            strides.append(1)
            masks["shrink_axis_mask"] |= bit
        else:
            raise _bad_index(s)
    values = [tensor] + [v for v in begin + end + strides if isinstance(v, Tensor)]
    with name_scope(None, "strided_slice", values) as scope:
        if begin:
            packed = [stack(v) for v in (begin, end, strides)]
        else:
            packed = [constant(np.zeros(0, np.int32))] * 3
        return strided_slice(tensor, *packed, var=var, name=scope, **masks)


Tensor.__getitem__ = _slice_helper


# -- boolean_mask
def boolean_mask(tensor, mask, name="boolean_mask", axis=None):
    """The elements (or slices along `axis`) of `tensor` where the boolean `mask` is true, flattened
    over the mask's dimensions. Built from Reshape, Where, Squeeze and GatherV2 as in TF."""
    with name_scope(name, "boolean_mask", [tensor, mask]):
        x = convert_to_tensor(tensor, name="tensor")
        m = convert_to_tensor(mask, name="mask")
        k = m.shape.ndims
        if k == 0:
            raise ValueError("mask cannot be scalar.")
        if k is None:
            raise ValueError("Number of mask dimensions must be specified, even if some dimensions are None.  "
                             "E.g. shape=[None] is ok, but shape=None is not.")
        axis = 0 if axis is None else _static_int(axis, "axis", "boolean_mask")
        xs = x.shape
        xs[axis:axis + k].assert_is_compatible_with(m.shape)
        dims = xs.as_tuple()
        if dims is not None and dims[axis:axis + k] and all(d is not None for d in dims[axis:axis + k]):
            lead = int(np.prod(dims[axis:axis + k]))
        else:
            lead = _math().reduce_prod(shape(x)[axis:axis + k], 0)
        s = shape(x)
        flat = reshape(x, concat([s[:axis], stack([lead]) if isinstance(lead, Tensor) else [lead],
                                  s[axis + k:]], 0))
        if dims is not None:
            n = xs[axis:axis + k].num_elements()
            flat.set_shape(list(dims[:axis]) + [n] + list(dims[axis + k:]))
        idx = squeeze(_math().where(reshape(m, [-1])), axis=[1])
        return gather(flat, idx, axis=axis)
