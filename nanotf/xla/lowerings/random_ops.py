"""Lowerings of nanotf/ops/random_ops.py's op types. Each takes a jax.random key first (nanotf/xla/rng.py):
the same distributions and shapes as the NumPy kernels, other values (a different generator)."""
import numpy as np

from nanotf.xla.lowerings._registry import jax, jnp, out_dtype, register, shape_tuple


def lower_RandomStandardNormal(op, key, shape):
    return jax.random.normal(key, shape_tuple(op, shape, 0), dtype=out_dtype(op))


def lower_TruncatedNormal(op, key, shape):
    return jax.random.truncated_normal(key, -2.0, 2.0, shape_tuple(op, shape, 0), dtype=out_dtype(op))


def lower_RandomUniform(op, key, shape):
    """Multiples of 2^-m in [0, 1), m the dtype's mantissa bits, as TF's kernel and the NumPy one give: never 1.0,
    so floor(keep_prob + u) in dropout is never 2."""
    npd = out_dtype(op)
    scale = np.asarray(2 ** np.finfo(npd).nmant, npd)
    u = jax.random.uniform(key, shape_tuple(op, shape, 0), dtype=npd)
    return jnp.floor(u * scale) / scale


def lower_RandomUniformInt(op, key, shape, lo, hi):
    return jax.random.randint(key, shape_tuple(op, shape, 0), lo, hi, dtype=out_dtype(op))


def lower_RandomShuffle(op, key, value):
    return value if np.ndim(value) == 0 else jax.random.permutation(key, value, axis=0)


register(globals(), random=("RandomStandardNormal", "TruncatedNormal", "RandomUniform", "RandomUniformInt",
                            "RandomShuffle"))
__all__ = []
