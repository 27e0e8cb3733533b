"""The Session's compiler: plan -> passes -> emitter (docs/engine.md, "Session.run").

- plan.py      prunes the graph to what a run needs, orders it, one Step per op
- passes.py    the rewrites, one function each, run in the order of passes.PASSES
- emitter.py   writes the plan as one Python function (traced or not)
- backend.py   backends (factory(runtime, plan) -> executable); "numpy" runs passes + emitter
- runtime.py   the per-session context kernels get (variables, per-op state, built kernels)
- chunking.py  a big batch runs the row-wise front of a pure plan in slices
- recycling.py big elementwise results written into a per-session pool of arrays no one else holds
- step_stats.py  what a traced run records
"""
from nanotf.compiler import backend as _backend
from nanotf.compiler import plan as _plan
from nanotf.compiler.runtime import Runtime  # noqa: F401


def compile_run(runtime, elements, feed_tensors, top_level=True, backend="numpy"):
    """An executable fetching `elements` with `feed_tensors` fed (see backend.py). `top_level`: a
    Session's own run (checks placement, may slice big batches), not a function body."""
    plan = _plan.build(runtime, elements, feed_tensors, top_level)
    return _backend.factory(backend)(runtime, plan)
