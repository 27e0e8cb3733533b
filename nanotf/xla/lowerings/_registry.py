"""The old lowering table, for the op types whose lowerings have not moved into their OpDefs yet
(conv_ops.py, training_ops.py here). New lowerings are `lower` functions on the OpDef (docs/xla.md); the
helpers they share live in nanotf/framework/lowering.py and are re-exported here for the files above."""
from nanotf.framework.lowering import (asarray, axes_of, in_dtype, is_concrete, out_dtype,  # noqa: F401
                                       shape_tuple, static_value)
from nanotf.xla._jax import jax, jnp, lax  # noqa: F401

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


__all__ = ["LOWERINGS", "RANDOM", "UPDATES_REFS", "register", "lowering_for", "static_value", "out_dtype",
           "in_dtype", "axes_of", "shape_tuple", "is_concrete", "asarray", "jax", "jnp", "lax"]
