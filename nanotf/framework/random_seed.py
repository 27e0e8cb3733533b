"""Graph-level and op-level seeds, combined as TensorFlow does."""
from nanotf.framework import ops

DEFAULT_GRAPH_SEED = 87654321


def set_random_seed(seed):
    """Sets the graph-level seed: random ops created afterwards give the same numbers on every run."""
    ops.get_default_graph().seed = seed


def get_seed(op_seed):
    """(graph_seed, op_seed) for a new random op, following TF1's rules.

    Graph seed set, op seed not: the op seed is derived from the graph's op count, so a program
    gives the same numbers on every run. Op seed only: the default graph seed is used.
    Neither: (None, None), fresh randomness per session.
    """
    g = ops.get_default_graph()
    if g.seed is not None:
        return g.seed, (op_seed if op_seed is not None else g._version)
    if op_seed is not None:
        return DEFAULT_GRAPH_SEED, op_seed
    return None, None
