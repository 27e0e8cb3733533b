"""Random numbers on XLA: one jax.random key per random op and run.

An op's base key comes from its (graph seed, op seed) pair, the attributes `tf.set_random_seed` and the
`seed=` arguments give it (nanotf/framework/random_seed.py); an op with neither draws its base key from the
operating system once per Session, so it differs between programs as in TF. Run k of the op (counted per
Session, whichever plan runs it) uses fold_in(base, k): the same program gives the same numbers on every
run, and two runs of one op never repeat. The counts live in the Session's runtime.op_state and travel into
the compiled step as an argument, so counting needs no recompilation.

What matches the NumPy backend: shapes, dtypes, distributions (normal, normal truncated at 2 stddev,
uniform on multiples of 2^-mantissa in [0, 1), integers in [lo, hi)), seeding rules and reproducibility.
What does not: the values (NumPy's PCG64 against JAX's threefry).
"""
import os

import numpy as np

from nanotf.xla._jax import jax

_COUNT_KEY = "nanotf.xla.rng.count"


def base_seed(op, runtime):
    """(s1, s2) of a random op; an unseeded op gets OS entropy, fixed for the Session."""
    s1, s2 = op._attrs.get("seed"), op._attrs.get("seed2")
    if s1 is None:
        key = ("nanotf.xla.rng.entropy", op)
        seed = runtime.op_state.get(key)
        if seed is None:
            seed = runtime.op_state[key] = (int.from_bytes(os.urandom(4), "little"),
                                            int.from_bytes(os.urandom(4), "little"))
        return seed
    return s1 & 0xFFFFFFFF, (s2 or 0) & 0xFFFFFFFF


def key_for(seed_pair, count):
    """The key of one run of an op (inside the traced step: `count` is a traced uint32)."""
    return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed_pair[0]), seed_pair[1]), count)


def counts(runtime, ops):
    """The run counts of `ops` (this Session) as a uint32 array."""
    state = runtime.op_state
    return np.array([state.get((_COUNT_KEY, op), 0) for op in ops], dtype=np.uint32)


def advance(runtime, ops):
    state = runtime.op_state
    for op in ops:
        k = (_COUNT_KEY, op)
        state[k] = state.get(k, 0) + 1
