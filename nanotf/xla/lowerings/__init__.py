"""The old lowering table: `lower_<Type>(op, *inputs)` functions keyed by op type, for the op types whose
lowerings have not yet moved beside their NumPy kernels (conv_ops.py, training_ops.py: their owners move
them, then this package goes). Every other op's lowering is its OpDef's `lower` (nanotf/framework/op_def.py,
docs/xla.md); nanotf/xla/executable.py reads `op._def.lower` first and this table only as a fallback.

Conventions, as the OpDef facts `lower_updates_refs` / `lower_takes_key` state them: op types in
UPDATES_REFS return the new values of their ref inputs; op types in RANDOM take a jax.random key first.
"""
from nanotf.xla.lowerings._registry import LOWERINGS, RANDOM, UPDATES_REFS, lowering_for  # noqa: F401
from nanotf.xla.lowerings import conv_ops, training_ops  # noqa: F401
