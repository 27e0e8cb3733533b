"""tf.config.threading: how many threads nanotf's kernels split their work over.

nanotf has one intra-op pool per process (see nanotf/framework/parallel.py); ops run one after
another, so the inter-op setting is recorded for compatibility and changes nothing.
"""
from nanotf.framework.parallel import get_intra_op_parallelism_threads, set_intra_op_parallelism_threads

__all__ = ["get_intra_op_parallelism_threads", "set_intra_op_parallelism_threads",
           "get_inter_op_parallelism_threads", "set_inter_op_parallelism_threads"]

_inter_op = 0


def set_inter_op_parallelism_threads(num_threads):
    """Accepted for TF compatibility: nanotf runs a graph's ops one at a time."""
    global _inter_op
    num_threads = int(num_threads)
    if num_threads < 0:
        raise ValueError("set_inter_op_parallelism_threads: expected 0 (default) or a positive count, got %d"
                         % num_threads)
    _inter_op = num_threads


def get_inter_op_parallelism_threads():
    return _inter_op
