"""The runtime context a Session gives its kernels (`ctx` in `OpDef.kernel(op, ctx)`).

One per Session. It holds what lives between runs: variable values, per-op state (RNGs, iterators)
and the kernels built for this session (a kernel is built once per op and Session: it reads its
attrs then and may keep scratch buffers in its closure).

The run mode that kernels consult (whether big products split over the intra-op pool) is NOT kept
here but per thread, in `framework/parallel.py` (`parallel.splitting()`): one Session may run in
several threads at once, each run deciding for itself.
"""
from nanotf.compiler import recycling


class VariableStore(dict):
    """VariableV2 Operation -> ndarray. A dict subclass only so that a backend can take it over in place
    (`nanotf/xla/variables.py` turns it into a store with device copies by changing its class): kernels
    built earlier keep a reference to this very object, so it must never be replaced by another."""


class Runtime:
    """A session's values: variables, kernels built for this session, per-op state (RNGs)."""

    def __init__(self, session):
        self.session = session
        self.variables = VariableStore()   # VariableV2 Operation -> ndarray
        self.op_state = {}    # Operation -> anything an op keeps between runs (e.g. an RNG)
        self.big_arrays = recycling.BigArrays()   # big results' arrays, reused between runs (passes.py)
        self._kernels = {}

    def kernel(self, op):
        """The kernel of `op` for this session, built on first use."""
        fn = self._kernels.get(op)
        if fn is None:
            fn = self._kernels[op] = op._def.kernel(op, self)
        return fn

    def wrapped_kernel(self, op, how, build):
        """A kernel of `op` wrapped for a plan in some way `how` names (compiler/passes.py: "recycled"),
        built once by `build()` and shared by every plan of this session that runs op that way."""
        key = (op, how)
        fn = self._kernels.get(key)
        if fn is None:
            fn = self._kernels[key] = build()
        return fn

    def fused_kernel(self, consumer, producer, build):
        """The kernel of the fused op running `producer` and `consumer` as one step (compiler/passes.py,
        fuse_pairs), built once by `build()`."""
        return self.wrapped_kernel((consumer, producer), "fused", build)
