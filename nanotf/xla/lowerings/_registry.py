"""The lowering table and the helpers lowerings share."""
import numpy as np

from nanotf.framework import errors
from nanotf.xla._jax import jax, jnp, lax

LOWERINGS = {}       # TF op type -> lower_<Type>
UPDATES_REFS = set()  # op types whose lowering returns the new values of their ref inputs
RANDOM = set()        # op types whose lowering takes a jax.random key first


def register(module_globals, updates_refs=(), random=()):
    """Registers every `lower_<Type>` function of a lowering module under <Type>."""
    for name, fn in list(module_globals.items()):
        if name.startswith("lower_") and callable(fn):
            LOWERINGS[name[len("lower_"):]] = fn
    UPDATES_REFS.update(updates_refs)
    RANDOM.update(random)


def lowering_for(op_type):
    return LOWERINGS.get(op_type)


def is_concrete(x):
    """Whether x's value is known now: a NumPy value, or a JAX array outside a trace (eager tests)."""
    if isinstance(x, (np.ndarray, np.generic, int, float, bool)):
        return True
    return isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer)


def static_value(op, x, index):
    """Input `index` of `op` as a NumPy value known while tracing; XLA needs it as a compile-time constant."""
    if is_concrete(x):
        return np.asarray(x)
    raise errors.InvalidArgumentError(
        None, op, "XLA needs input %d of %s '%s' (%s) as a constant, but it is computed at run time; "
                  "run this graph on the NumPy backend" % (index, op.type, op.name, op._inputs[index].name))


def out_dtype(op, i=0):
    return np.dtype(op._outputs[i].dtype.as_numpy_dtype)


def in_dtype(op, i=0):
    return np.dtype(op._inputs[i].dtype.as_numpy_dtype)


def axes_of(axes, ndim):
    """A reduction's `axis` attribute as a tuple of non-negative ints (None: every axis)."""
    if axes is None:
        return tuple(range(ndim))
    if isinstance(axes, (int, np.integer)):
        axes = [axes]
    return tuple(int(a) % ndim if ndim else 0 for a in axes)


def shape_tuple(op, x, index):
    return tuple(int(d) for d in np.reshape(static_value(op, x, index), -1))


def asarray(x, dtype=None):
    """jnp.asarray that keeps NumPy constants as NumPy (they fold further while tracing)."""
    if is_concrete(x):
        return np.asarray(x, dtype=dtype)
    return x if dtype is None or x.dtype == dtype else x.astype(dtype)


__all__ = ["LOWERINGS", "RANDOM", "UPDATES_REFS", "register", "lowering_for", "static_value", "out_dtype",
           "in_dtype", "axes_of", "shape_tuple", "is_concrete", "asarray", "jax", "jnp", "lax"]
