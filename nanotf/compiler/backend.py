"""Backends: what turns a plan into something a Session runs.

A backend is a factory `factory(runtime, plan) -> executable`, registered under a name:

- `plan` is compiler/plan.py's pruned, ordered Plan (`plan.ops`, `plan.elements`,
  `plan.feed_tensors`, and the steps the numpy backend's passes rewrite);
- `executable.run(args)` takes the converted feed arrays in `plan.feed_tensors` order and returns a
  tuple of one value per element (None for an Operation); `executable.run_traced(args,
  run_metadata)` may exist, doing the same while filling `run_metadata.step_stats` (without it the
  Session runs untraced and records one node for the whole run);
- errors raised inside run() that are already `tf.errors.OpError`s reach the caller unchanged;
  others are mapped by the Session (client/session.py, `_op_error`).

"numpy" (this module) runs the passes (compiler/passes.py) and the emitter (compiler/emitter.py);
it is the default. "xla" is chosen by `backend_for(config)`, and registered by `nanotf.xla` when
the Session first needs it (so `import nanotf` never imports jax).
"""
import importlib
import time

import numpy as np

from nanotf.compiler import emitter, passes, step_stats
from nanotf.framework import environment, parallel

_FACTORIES = {}
# Backends that register themselves when their module is imported.
_MODULES = {"xla": "nanotf.xla"}


def register_backend(name, factory):
    """Makes `factory(runtime, plan) -> executable` available as backend `name`."""
    _FACTORIES[name] = factory


def backend_for(config):
    """"xla" when the config's global_jit_level is ON_1 or ON_2 (tf.OptimizerOptions), or
    NANOTF_XLA=1; otherwise "numpy"."""
    try:
        level = config.graph_options.optimizer_options.global_jit_level
    except AttributeError:   # no config, or not a ConfigProto
        level = 0
    return "xla" if level in (1, 2) or environment.xla() else "numpy"


def factory(name):
    """The factory registered as `name`, importing the module that registers it if need be."""
    if name not in _FACTORIES and name in _MODULES:
        importlib.import_module(_MODULES[name])
    try:
        return _FACTORIES[name]
    except KeyError:
        raise ValueError("No nanotf backend named %r (known: %s)" % (name, ", ".join(sorted(_FACTORIES)))) from None


class NumpyExecutable:
    """The numpy backend's executable: the plan after every pass, as a generated function.

    A run sets the intra-op threading mode for its thread (parallel.run_begin), lets inf/NaN
    propagate silently as TensorFlow does, and runs a big batch in slices where the plan allows.
    A traced run runs the same passed plan, emitted with timing (built on first use)."""

    def __init__(self, runtime, plan):
        self._runtime = runtime
        self.plan = passes.run_passes(plan, runtime)
        self.program = emitter.emit(plan, runtime)
        self.fn = self.program.fn
        self.source = self.program.source
        self.ops = plan.ops
        self.split = plan.split
        self.splits_work = plan.splits_work
        self._traced = None

    def run(self, args):
        splits = parallel.run_begin(self.splits_work)
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                split = self.split
                if split is not None and split.applies(args):
                    return split.run(args)
                return self.fn(*args)
        finally:
            parallel.run_end(splits)

    def run_traced(self, args, run_metadata):
        if self._traced is None:
            self._traced = emitter.emit(self.plan, self._runtime, trace=True)
        records = []
        now = time.perf_counter_ns

        def record(i, t0, outs):
            records.append((i, t0, now(), outs))
        splits = parallel.run_begin(self.splits_work)
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                values = self._traced.fn(*args, record, now)
        finally:
            parallel.run_end(splits)
        step_stats.fill(run_metadata, self.plan.steps, records)
        return values


def compile_numpy(runtime, plan):
    return NumpyExecutable(runtime, plan)


register_backend("numpy", compile_numpy)
