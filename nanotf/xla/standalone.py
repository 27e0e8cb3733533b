"""Running a graph on the XLA backend without the Session's backend seam: `run(sess, fetches, feed_dict)`
prunes like the Session (data and control inputs, stopping at fed tensors; ops in creation order), compiles
once per (fetches, feeds) and runs on the Session's runtime (its variables and RNG counts). Used by tests and
benchmarks to exercise the backend on its own; programs select the backend through the Session config."""
import numpy as np

from nanotf.compiler.plan import needed_ops
from nanotf.xla.executable import compile_plan


def executable_for(sess, elements, feed_tensors):
    cache = sess.__dict__.setdefault("_xla_standalone_plans", {})
    key = (tuple(elements), tuple(feed_tensors))
    ex = cache.get(key)
    if ex is None:
        ops = sorted(needed_ops(elements, set(feed_tensors)), key=lambda op: op._id)
        ex = cache[key] = compile_plan(sess._runtime, ops, elements, feed_tensors)
    return ex


def run(sess, fetches, feed_dict=None):
    """sess.run on the XLA backend for a Tensor/Operation or a list of them."""
    single = not isinstance(fetches, (list, tuple))
    elements = [sess.graph.as_graph_element(f, allow_tensor=True, allow_operation=True)
                for f in ([fetches] if single else fetches)]
    feed_dict = feed_dict or {}
    feed_tensors = list(feed_dict)
    args = [np.asarray(v, dtype=t.dtype.as_numpy_dtype) for t, v in feed_dict.items()]
    values = executable_for(sess, elements, feed_tensors).run(args)
    values = [v[()] if isinstance(v, np.ndarray) and v.ndim == 0 else v for v in values]
    return values[0] if single else values
