"""XLA lowerings, one function per TF op type: `lower_<Type>(op, *inputs) -> output or tuple of outputs`.

Each lowering is self-contained (it reads attributes from `op._attrs` and the static shapes/dtypes of
`op._inputs`/`op._outputs`), so it can later move into its OpDef beside the NumPy kernel. Inputs arrive as
JAX values (tracers) or as NumPy arrays when their value is known while tracing (constants, shapes: JAX
shapes are static under jit, so `Shape` lowers to a NumPy constant and shape arithmetic folds). Inputs that
XLA needs as compile-time constants (reshape targets, tile multiples, slice bounds...) are read with
`static_value`, which names the op and input when the value is only known at run time.

Conventions beyond the plain form:
- ops with `ref_inputs` that update variables (Assign*, Apply*): the ref inputs arrive as the variables'
  current values, the lowering returns the new values of the ref inputs (a tuple when several); the op's
  output is the first of them. Listed in UPDATES_REFS.
- random ops: `lower_<Type>(op, key, *inputs)`, key a jax.random key derived from the op's seeds and the
  number of times it has run (nanotf/xla/rng.py). Listed in RANDOM.
"""
from nanotf.xla.lowerings._registry import LOWERINGS, RANDOM, UPDATES_REFS, lowering_for  # noqa: F401
from nanotf.xla.lowerings import array_ops, math_ops, nn_ops, conv_ops, random_ops, state_ops, sparse_ops  # noqa: F401,E501
