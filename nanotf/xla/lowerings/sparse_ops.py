"""Lowerings of nanotf/ops/sparse_ops.py's op types. XLA cannot raise on bad indices: SparseToDense's
validation (order, repeats, bounds) is the NumPy kernel's alone; out-of-range rows are dropped here."""
import numpy as np

from nanotf.xla.lowerings._registry import jnp, out_dtype, register, shape_tuple


def lower_SparseToDense(op, indices, output_shape, values, default):
    shape = shape_tuple(op, output_shape, 1)
    npd = out_dtype(op)
    num_elems = np.shape(indices)[0] if np.ndim(indices) > 0 else 1
    num_dims = np.shape(indices)[1] if np.ndim(indices) > 1 else 1
    out = jnp.full(shape, default, dtype=npd)
    if not num_elems:
        return out
    idx = jnp.reshape(indices, (num_elems, num_dims))
    vals = jnp.broadcast_to(jnp.asarray(values, dtype=npd), (num_elems,))
    if not shape:
        return out.at[()].set(vals[-1])
    return out.at[tuple(idx.T)].set(vals, mode="drop")


register(globals())
__all__ = []
