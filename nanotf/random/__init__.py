"""tf.random: the random ops under their TF 1.15 / 2.x names."""
from nanotf.framework.random_seed import set_random_seed
from nanotf.ops.random_ops import random_normal as normal, random_uniform as uniform, truncated_normal  # noqa: F401
from nanotf.ops.random_ops import random_shuffle as shuffle  # noqa: F401

set_seed = set_random_seed

__all__ = ["normal", "set_random_seed", "set_seed", "shuffle", "truncated_normal", "uniform"]
