"""Sparse ops: SparseToDense, the dense tensor a list of (index, value) pairs describes.

TF 1.x's 2016 MNIST tutorial builds its one-hot labels with it:

    concated = tf.concat(1, [indices, labels])
    onehot_labels = tf.sparse_to_dense(concated, tf.pack([batch_size, NUM_CLASSES]), 1.0, 0.0)
"""
import numpy as np

from nanotf.framework import dtypes
from nanotf.framework import errors
from nanotf.framework import lowering as xla
from nanotf.framework.op_def import OpDef, Sample
from nanotf.framework.ops import Tensor, apply_op, convert_to_tensor, name_scope
from nanotf.framework.tensor_shape import unknown_shape
from nanotf.ops import array_ops, math_ops
from nanotf.ops.array_ops import _shape_error, _static_shape_from
from nanotf.ops.indexing_ops import _dbg

__all__ = ["sparse_to_dense"]


def _check_rank(op, t, lo, hi):
    r = t.shape.ndims
    if r is None:
        return
    if lo == hi and r != lo:
        raise _shape_error(op, "Shape must be rank %d but is rank %d" % (lo, r))
    if r > hi:
        raise _shape_error(op, "Shape must be at most rank %d but is rank %d" % (hi, r))


def _index_problem(idx, shape):
    """TF's SparseTensor::IndicesValid on idx [N, R]: (row, reason) of the first invalid row, or None.
    A row is checked for bounds first, then for lexicographic order and repeats against the row before."""
    n = idx.shape[0]
    if not n:
        return None
    oob = ((idx < 0) | (idx >= np.asarray(shape, dtype=np.int64))).any(axis=1)
    order = np.zeros(n, dtype=np.int8)   # per row: 1 after its predecessor, -1 before it, 0 equal to it
    order[0] = 1
    if n > 1 and idx.shape[1]:
        diff = np.sign(idx[1:] - idx[:-1])
        first = np.argmax(diff != 0, axis=1)   # first differing column (0 where none differ)
        order[1:] = diff[np.arange(n - 1), first]
    bad = oob | (order != 1)
    if not bad.any():
        return None
    i = int(np.argmax(bad))
    return i, "oob" if oob[i] else ("order" if order[i] < 0 else "repeat")


class SparseToDense(OpDef):
    """dense[sparse_indices[i]] = sparse_values[i] (or the scalar sparse_values), default_value elsewhere."""
    fresh_output = True

    def infer(op):
        idx, shape_t, values, default = op._inputs
        if idx.dtype not in (dtypes.int32, dtypes.int64):
            raise TypeError("SparseToDense %r: sparse_indices must be int32 or int64, got %s (%s)"
                            % (op.name, idx.dtype.name, idx.name))
        if shape_t.dtype is not idx.dtype:
            raise TypeError("SparseToDense %r: output_shape must have the dtype of sparse_indices (%s), got %s (%s)"
                            % (op.name, idx.dtype.name, shape_t.dtype.name, shape_t.name))
        if default.dtype is not values.dtype:
            raise TypeError("SparseToDense %r: default_value must have the dtype of sparse_values (%s), got %s (%s)"
                            % (op.name, values.dtype.name, default.dtype.name, default.name))
        _check_rank(op, idx, 0, 2)
        _check_rank(op, shape_t, 1, 1)
        _check_rank(op, values, 0, 1)
        _check_rank(op, default, 0, 0)
        out = _static_shape_from(shape_t)
        if out.ndims is None:   # the rank may still follow from the indices: [N, R] indexes rank R
            dims = idx.shape.as_tuple()
            if dims is not None and len(dims) < 2:
                out = unknown_shape(1)
            elif dims is not None and dims[1] is not None:
                out = unknown_shape(dims[1])
        return values.dtype, out

    def kernel(op, ctx):
        validate = op._attrs["validate_indices"]
        npd = op._inputs[2].dtype.as_numpy_dtype

        def fail(msg):
            raise errors.InvalidArgumentError(None, op, msg)

        def sparse_to_dense_kernel(indices, output_shape, values, default):
            if np.ndim(indices) > 2:
                fail("sparse_indices should be a scalar, vector, or matrix, got shape %s" % _dbg(np.shape(indices)))
            num_elems = np.shape(indices)[0] if np.ndim(indices) > 0 else 1
            num_dims = np.shape(indices)[1] if np.ndim(indices) > 1 else 1
            if np.ndim(output_shape) != 1:
                fail("output_shape should be a vector, got shape %s" % _dbg(np.shape(output_shape)))
            if np.size(output_shape) != num_dims:
                fail("output_shape has incorrect number of elements: %d should be: %d"
                     % (np.size(output_shape), num_dims))
            if not (np.ndim(values) == 0 or (np.ndim(values) == 1 and np.size(values) == num_elems)):
                fail("sparse_values has incorrect shape %s, should be [] or [%d]" % (_dbg(np.shape(values)),
                                                                                     num_elems))
            if np.ndim(default) != 0:
                fail("default_value should be a scalar.")
            shape = tuple(int(d) for d in output_shape)
            for d in shape:
                if d < 0:
                    fail("Dimension %d must be >= 0" % d)
            idx = np.reshape(indices, (num_elems, num_dims)).astype(np.int64, copy=False)
            if validate:
                problem = _index_problem(idx, shape)
                if problem is not None:
                    i, why = problem
                    where = "indices[%d] = [%s]" % (i, ",".join(str(int(v)) for v in idx[i]))
                    if why == "oob":
                        fail("%s is out of bounds: need 0 <= index < %s" % (where, _dbg(shape)))
                    fail("%s is %s" % (where, "out of order" if why == "order" else "repeated"))
            elif num_elems and ((idx < 0) | (idx >= np.asarray(shape, dtype=np.int64))).any():
                fail("Indices are not valid (out of bounds).  Shape: %s" % _dbg(shape))
            out = np.full(shape, default, dtype=npd)
            if num_elems:
                vals = np.broadcast_to(np.asarray(values, dtype=npd), (num_elems,))
                if num_dims:
                    out[tuple(idx.T)] = vals   # unvalidated repeats: the last one wins, as in TF's loop
                else:
                    out[()] = vals[-1]
            return out
        return sparse_to_dense_kernel

    def lower(op, indices, output_shape, values, default):
        shape = xla.shape_tuple(op, output_shape, 1)
        npd = xla.out_dtype(op)
        num_elems = np.shape(indices)[0] if np.ndim(indices) > 0 else 1
        num_dims = np.shape(indices)[1] if np.ndim(indices) > 1 else 1
        out = xla.jnp.full(shape, default, dtype=npd)
        if not num_elems:
            return out
        idx = xla.jnp.reshape(indices, (num_elems, num_dims))
        vals = xla.jnp.broadcast_to(xla.jnp.asarray(values, dtype=npd), (num_elems,))
        if not shape:
            return out.at[()].set(vals[-1])
        return out.at[tuple(idx.T)].set(vals, mode="drop")

    def grad(op, g):
        """TF's _SparseToDenseGrad: the values get the gradient at their indices, the default value the
        rest. Indices are first brought to [N, R] (TF gathers with the raw indices, which misreads a
        vector of N indices as one N-d index)."""
        idx, shape_t, values, _ = op._inputs
        if idx.shape.ndims == 2:
            rows = idx
        elif idx.shape.ndims is not None:   # a scalar or a vector: indices into a 1-D output
            rows = array_ops.reshape(idx, [-1, 1])
        else:   # unknown rank: rows of len(output_shape) entries
            rows = array_ops.reshape(idx, array_ops.stack([convert_to_tensor(-1, dtype=dtypes.int32),
                                                           array_ops.size(shape_t)]))
        gathered = array_ops.gather_nd(g, rows)
        values_grad = math_ops.sum_to_shape_of(gathered, values)   # summed when sparse_values is a scalar
        default_grad = math_ops.subtract(math_ops.reduce_sum(g), math_ops.reduce_sum(gathered))
        return [None, None, values_grad, default_grad]

    samples = [Sample(lambda v, d: sparse_to_dense([[0, 1], [1, 0], [2, 3]], [3, 4], v, d), [(3,), ()]),
               Sample(lambda i, v, d: sparse_to_dense(i, [5], v, d), [np.array([0, 2, 3], np.int32), (3,), ()]),
               Sample(lambda i, v: sparse_to_dense(i, np.array([2, 3], np.int64), v, 0.5),
                      [np.array([[0, 0], [1, 2]], np.int64), ()]),
               Sample(lambda v, d: sparse_to_dense(2, [4], v, d), [(), ()]),
               Sample(lambda i, v: sparse_to_dense(i, [2, 2], v, validate_indices=False),
                      [np.array([[1, 1], [0, 1]], np.int32), (2,)]),
               Sample(lambda v, d: sparse_to_dense([[0, 1, 0], [1, 0, 1]], [2, 2, 2], v, d),
                      [lambda rng: rng.standard_normal(2).astype(np.float32),
                       lambda rng: np.asarray(rng.standard_normal(), np.float32)], atol=1e-3, rtol=1e-3)]


def sparse_to_dense(sparse_indices, output_shape, sparse_values, default_value=0, validate_indices=True, name=None):
    """A dense tensor of shape `output_shape` holding `sparse_values` at `sparse_indices` (a scalar, a
    vector of N indices or an [N, R] matrix of N index rows) and `default_value` everywhere else.

    With validate_indices, the indices must be in bounds, lexicographically sorted and free of repeats."""
    with name_scope(name, "SparseToDense", [sparse_indices, output_shape, sparse_values, default_value]) as scope:
        def is_tensor(v):
            return isinstance(v, Tensor) or hasattr(v, "_as_tensor")
        # indices and output_shape share one integer type: a Tensor among them sets it
        if not is_tensor(sparse_indices) and is_tensor(output_shape):
            shape_t = convert_to_tensor(output_shape, name="output_shape")
            idx = convert_to_tensor(sparse_indices, dtype=shape_t.dtype, name="sparse_indices")
        else:
            idx = convert_to_tensor(sparse_indices, name="sparse_indices")
            shape_t = convert_to_tensor(output_shape, dtype=None if is_tensor(output_shape) else idx.dtype,
                                        name="output_shape")
        values = convert_to_tensor(sparse_values, name="sparse_values")
        default = convert_to_tensor(default_value, dtype=values.dtype, name="default_value")
        return apply_op("SparseToDense", [idx, shape_t, values, default],
                        {"validate_indices": bool(validate_indices)}, name=scope)
