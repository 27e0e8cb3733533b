"""What an op's XLA lowering uses: lazy `jax`, `jnp`, `lax`, and the NumPy-only helpers lowerings share.

An OpDef's `lower(op, *inputs)` (see nanotf/framework/op_def.py) is written beside its NumPy `kernel`:

    from nanotf.framework import lowering as xla

    class Relu(OpDef):
        def kernel(op, ctx): ...
        def lower(op, x):
            return xla.jnp.maximum(x, xla.jnp.zeros((), x.dtype))

Importing this module never imports JAX (`import nanotf` must not): `xla.jax`, `xla.jnp` and `xla.lax`
import it on first access, through nanotf.xla._jax.require_jax (the one-line "pip install 'nanotf[xla]'"
error, and float64/int64 turned on). So lowerings name JAX only at call time, never at class-definition
time: a table entry that wants `jnp.add` writes `lower=xla.elementwise("add")`.

Inputs arrive as JAX values (tracers) or as NumPy arrays when their value is known while tracing
(constants, shapes: JAX shapes are static under jit, so `Shape` lowers to a NumPy constant and shape
arithmetic folds). Inputs XLA needs as compile-time constants (reshape targets, slice bounds...) are read
with `static_value`, which names the op and input when the value is only known at run time.
"""
import sys

import numpy as np

from nanotf.framework import errors

_JAX_NAMES = ("jax", "jnp", "lax")


def __getattr__(name):
    """`jax`, `jnp`, `lax` on first access (PEP 562): imports JAX, then keeps them as module globals."""
    if name in _JAX_NAMES:
        from nanotf.xla._jax import require_jax
        jax, jnp, lax = require_jax()
        globals().update(jax=jax, jnp=jnp, lax=lax)
        return globals()[name]
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def elementwise(fn_name):
    """A lowering `lower(op, *inputs) -> jnp.<fn_name>(*inputs)` (or lax.<name> for "lax.<name>"), naming
    the function lazily: table entries declare it without importing JAX."""
    namespace, _, name = fn_name.rpartition(".")

    def lower(op, *inputs):
        return getattr(getattr(sys.modules[__name__], namespace or "jnp"), name)(*inputs)
    lower.__name__ = "lower_" + name
    return lower


def zero_of(x):
    """A NumPy 0 of x's dtype (a constant that folds while tracing, and keeps float32 float32)."""
    return np.zeros((), dtype=x.dtype)


def is_concrete(x):
    """Whether x's value is known now: a NumPy value, or a JAX array outside a trace (eager tests)."""
    if isinstance(x, (np.ndarray, np.generic, int, float, bool)):
        return True
    jax = sys.modules.get("jax")   # not imported: x cannot be a JAX array
    return jax is not None and isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer)


def is_numpy(x):
    """Whether x is a NumPy value (known while tracing), not a JAX value."""
    return isinstance(x, (np.ndarray, np.generic, bool))


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
    """Input `index` (a shape vector known while tracing) as a tuple of ints."""
    return tuple(int(d) for d in np.reshape(static_value(op, x, index), -1))


def asarray(x, dtype=None):
    """jnp.asarray that keeps NumPy constants as NumPy (they fold further while tracing)."""
    if is_concrete(x):
        return np.asarray(x, dtype=dtype)
    return x if dtype is None or x.dtype == dtype else x.astype(dtype)


# jax, jnp, lax stay out of __all__: a star import must not import JAX
__all__ = ["elementwise", "zero_of", "is_concrete", "is_numpy", "static_value", "out_dtype", "in_dtype", "axes_of",
           "shape_tuple", "asarray"]
