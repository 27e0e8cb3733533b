"""Op definitions. Importing this package registers every op type (one module per family)."""
from nanotf.ops import array_ops, math_ops, control_flow_ops, state_ops, random_ops  # noqa: F401
from nanotf.ops import nn_ops, summary_ops, conv_ops, pooling_ops  # noqa: F401
from nanotf.ops import sparse_ops  # noqa: F401
