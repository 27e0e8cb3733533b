"""Random ops. Each op owns a NumPy Generator per Session, seeded from (graph seed, op seed), so
the same seeds give the same numbers on every run of a program."""
import numpy as np

from nanotf.framework import dtypes
from nanotf.framework import lowering as xla
from nanotf.framework.op_def import OpDef
from nanotf.framework.ops import Tensor, apply_op, convert_to_tensor
from nanotf.framework.random_seed import get_seed
from nanotf.ops.array_ops import _static_shape_from

__all__ = ["random_normal", "truncated_normal", "random_uniform", "random_shuffle"]


def _rng(op, ctx):
    rng = ctx.op_state.get(op)
    if rng is None:
        s1, s2 = op._attrs["seed"], op._attrs["seed2"]
        rng = np.random.default_rng(None if s1 is None else [s1 & 0xFFFFFFFF, s2 & 0xFFFFFFFF])
        ctx.op_state[op] = rng
    return rng


class _RandomOp(OpDef):
    abstract = True
    stateful = True
    grad = None
    lower_takes_key = True   # lower(op, key, *inputs): a jax.random key per op and run (nanotf/xla/rng.py)

    def infer(op):
        return op._attrs["dtype"], _static_shape_from(op._inputs[0])


class RandomStandardNormal(_RandomOp):
    def kernel(op, ctx):
        npd = op._attrs["dtype"].as_numpy_dtype
        rng = _rng(op, ctx)
        return lambda shape: rng.standard_normal(tuple(shape)).astype(npd)

    def lower(op, key, shape):
        return xla.jax.random.normal(key, xla.shape_tuple(op, shape, 0), dtype=xla.out_dtype(op))


class TruncatedNormal(_RandomOp):
    """Standard normal values with those beyond 2 standard deviations redrawn."""

    def kernel(op, ctx):
        npd = op._attrs["dtype"].as_numpy_dtype
        rng = _rng(op, ctx)

        def sample(shape):
            out = rng.standard_normal(tuple(shape))
            bad = np.abs(out) > 2.0
            while bad.any():
                out[bad] = rng.standard_normal(int(bad.sum()))
                bad = np.abs(out) > 2.0
            return out.astype(npd)
        return sample

    def lower(op, key, shape):
        return xla.jax.random.truncated_normal(key, -2.0, 2.0, xla.shape_tuple(op, shape, 0), dtype=xla.out_dtype(op))


class RandomUniform(_RandomOp):
    def kernel(op, ctx):
        npd = op._attrs["dtype"].as_numpy_dtype
        rng = _rng(op, ctx)
        # As TF's kernel: multiples of 2^-m in [0, 1), m the dtype's mantissa bits (float32: 23). A float64 draw
        # rounded to float32 could be 1.0, and keep_prob + u in dropout could then floor to 2, doubling a unit.
        scale = float(2 ** np.finfo(npd).nmant)

        def uniform(shape):
            u = rng.random(tuple(shape))
            np.multiply(u, scale, out=u)
            np.floor(u, out=u)
            u *= 1.0 / scale
            return u.astype(npd)
        return uniform

    def lower(op, key, shape):
        """Multiples of 2^-m in [0, 1), m the dtype's mantissa bits, as TF's kernel and the NumPy one give: never 1.0,
        so floor(keep_prob + u) in dropout is never 2."""
        npd = xla.out_dtype(op)
        scale = np.asarray(2 ** np.finfo(npd).nmant, npd)
        u = xla.jax.random.uniform(key, xla.shape_tuple(op, shape, 0), dtype=npd)
        return xla.jnp.floor(u * scale) / scale


class RandomUniformInt(_RandomOp):
    def infer(op):
        return op._inputs[1].dtype, _static_shape_from(op._inputs[0])

    def kernel(op, ctx):
        rng = _rng(op, ctx)
        npd = op._inputs[1].dtype.as_numpy_dtype
        return lambda shape, lo, hi: rng.integers(lo, hi, size=tuple(shape)).astype(npd)

    def lower(op, key, shape, lo, hi):
        return xla.jax.random.randint(key, xla.shape_tuple(op, shape, 0), lo, hi, dtype=xla.out_dtype(op))


class RandomShuffle(OpDef):
    """The input with its rows (axis 0) in a random order; TF registers no gradient for it."""
    lower_takes_key = True   # lower(op, key, value)
    stateful = True
    grad = None

    def infer(op):
        return op._inputs[0].dtype, op._inputs[0].shape

    def kernel(op, ctx):
        rng = _rng(op, ctx)

        def shuffle(value):
            value = np.asarray(value)
            return value.copy() if value.ndim == 0 else value[rng.permutation(value.shape[0])]
        return shuffle

    def lower(op, key, value):
        return value if np.ndim(value) == 0 else xla.jax.random.permutation(key, value, axis=0)


def random_shuffle(value, seed=None, name=None):
    """tf.random_shuffle / tf.random.shuffle: `value` shuffled along its first dimension."""
    s1, s2 = get_seed(seed)
    return apply_op("RandomShuffle", [convert_to_tensor(value, name="value")], {"seed": s1, "seed2": s2},
                    name=name or "RandomShuffle")


def _shape_tensor(shape):
    if isinstance(shape, Tensor):
        return shape
    return convert_to_tensor(list(shape) if not isinstance(shape, int) else [shape], dtype=dtypes.int32)


def _random(op_type, shape, dtype, seed, name):
    s1, s2 = get_seed(seed)
    return apply_op(op_type, [_shape_tensor(shape)], {"dtype": dtypes.as_dtype(dtype), "seed": s1, "seed2": s2},
                    name=name)


def _scale(x, mean, stddev, dtype):
    from nanotf.ops import math_ops
    if not (isinstance(stddev, (int, float)) and stddev == 1):
        x = math_ops.multiply(x, convert_to_tensor(stddev, dtype=dtype), name="mul")
    if not (isinstance(mean, (int, float)) and mean == 0):
        x = math_ops.add(x, convert_to_tensor(mean, dtype=dtype), name="add")
    return x


def random_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    from nanotf.framework.ops import name_scope
    with name_scope(name, "random_normal"):
        x = _random("RandomStandardNormal", shape, dtype, seed, "RandomStandardNormal")
        return _scale(x, mean, stddev, dtypes.as_dtype(dtype))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Normal values (mean, stddev) with those beyond two standard deviations redrawn."""
    from nanotf.framework.ops import name_scope
    with name_scope(name, "truncated_normal"):
        x = _random("TruncatedNormal", shape, dtype, seed, "TruncatedNormal")
        return _scale(x, mean, stddev, dtypes.as_dtype(dtype))


def random_uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None):
    from nanotf.framework.ops import name_scope
    dtype = dtypes.as_dtype(dtype)
    with name_scope(name, "random_uniform"):
        if dtype.is_integer:
            if maxval is None:
                raise ValueError("Must specify maxval for integer dtype %r" % dtype)
            s1, s2 = get_seed(seed)
            return apply_op("RandomUniformInt", [_shape_tensor(shape), convert_to_tensor(minval, dtype=dtype),
                                                 convert_to_tensor(maxval, dtype=dtype)],
                            {"seed": s1, "seed2": s2}, name="RandomUniformInt")
        if maxval is None:
            maxval = 1
        from nanotf.ops import math_ops
        x = _random("RandomUniform", shape, dtype, seed, "RandomUniform")
        rng = math_ops.subtract(convert_to_tensor(maxval, dtype=dtype), convert_to_tensor(minval, dtype=dtype), name="sub")
        return math_ops.add(math_ops.multiply(x, rng, name="mul"), convert_to_tensor(minval, dtype=dtype), name="add")
