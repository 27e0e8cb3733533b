"""One Session plan as one XLA computation.

`compile_plan(runtime, ops, elements, feed_tensors)` takes a plan as the Session prunes it (ops in run order,
the fetch elements, the fed tensors) and returns an `XlaExecutable` whose `run(args)` gives one value per
element (None for an Operation), like the NumPy plan.

How a plan is cut: an op runs on the host (its NumPy kernel) when it has no lowering or handles strings
(summaries, string constants, TensorArray handles, unfed placeholders). Host ops that depend on nothing
computed on the device run before the XLA step and feed it ("prefix"); host ops that read device results run
after it ("suffix"). A host op that needs device ops computed only from feeds and constants by pure ops
(a candidate sampler's labels, `tf.where(a > 0)`) runs them in the prefix too, so it runs before the step. A
device op that needs a suffix op's result would need a second XLA computation, so it runs on the host after
the step as well (its NumPy kernel; logged once per plan, naming the host op), unless it reads a cond's or
loop's trace handle (an error naming the host op). So summaries of a training step
are suffix ops, and a k-means update between device ops moves what follows it to the host.

The device part is one `jax.jit` function of (feeds, donated variables, read-only variables, RNG counts)
returning (fetches and values the suffix needs, new values of the variables the plan assigns). While tracing,
ops run in plan order over an environment of values: VariableV2 reads the variable's current value, updates
(Assign*, Apply*) replace it, so a read after an update in the same plan sees the new value only through
the update's output (TF's resource-variable semantics). Values known while tracing (constants, shapes: JAX
shapes are static) stay NumPy and pure ops over them run their NumPy kernel then and there (constant folding).
jax.jit specializes on feed shapes; a plan traces once per distinct (feed shapes, set of initialized
variables). Variables live on the device between runs (nanotf/xla/variables.py).
"""
import time
import warnings

import numpy as np

from nanotf.framework import dtypes, errors
from nanotf.platform import tf_logging
from nanotf.framework.ops import Operation, Tensor
from nanotf.xla import rng
from nanotf.xla import devices as devices_lib
from nanotf.xla._jax import jax
from nanotf.framework.lowering import is_concrete
from nanotf.xla.variables import synced_store, to_host

# CPU backends may not use every donated buffer; the donation is still right (the old value is dead).
warnings.filterwarnings("ignore", message="Some donated buffers were not usable")

_READS_STATE = ("VariableV2", "IsVariableInitialized")


# An op's lowering and its calling conventions are facts of its OpDef (nanotf/framework/op_def.py):
# `lower` beside the NumPy kernel, `lower_updates_refs`, `lower_takes_key`, `lower_passes_handles`.
def runs_on_host(op):
    """Whether `op` runs as its NumPy kernel on the host rather than inside the XLA computation."""
    if op._type in _READS_STATE:
        return False
    if op._def.lower is None:
        return True
    if op._def.lower_passes_handles:   # its string-typed tensors are handles lowerings exchange while tracing
        return False
    refs = op._def.ref_inputs
    return any(t.dtype is dtypes.string for t in op._outputs) or any(
        t.dtype is dtypes.string for j, t in enumerate(op._inputs) if j not in refs)


def cut_plan(ops, fed):
    """(prefix host ops, device ops, suffix host ops), each in run order; see the module docstring."""
    where = {}   # op -> "pre" | "dev" | "post"
    deps_of, copies, root = {}, set(), {}   # copies: device ops also run in the prefix; root: moved op -> its host op
    for op in ops:
        deps = [t._op for j, t in enumerate(op._inputs) if t not in fed and j not in op._def.ref_inputs]
        deps_of[op] = deps = deps + list(op._control_inputs)
        kinds = {("pre" if d in copies else where.get(d)) for d in deps}
        if runs_on_host(op):
            if "dev" in kinds and "post" not in kinds and _pull_back(deps, where, deps_of, copies):
                kinds.discard("dev")
            where[op] = "post" if kinds & {"dev", "post"} else "pre"
            root[op] = op
        else:
            post = [d for d in deps if where.get(d) == "post"]
            where[op] = "post" if post else "dev"
            if post:
                root[op] = root[post[0]]
                # a cond's or loop's gradient reads its forward op's trace handle, which exists only inside the step
                if any(t.dtype is dtypes.string and where.get(t._op) == "dev" for t in op._inputs):
                    raise errors.UnimplementedError(
                        None, root[op], "%s '%s' has no XLA lowering and reads results of ops on XLA, and %s '%s' needs "
                        "it and reads a handle that exists only inside the XLA step: run this graph on the NumPy "
                        "backend" % (root[op].type, root[op].name, op.type, op.name))
    cut = ([op for op in ops if where[op] == "pre" or op in copies], [op for op in ops if where[op] == "dev"],
           [op for op in ops if where[op] == "post"])
    moved = [op for op in cut[2] if not runs_on_host(op) and op._type != "NoOp"]   # a group's NoOp costs nothing
    if moved:
        host = root[moved[0]]
        tf_logging.warning("XLA backend: %s '%s' has no XLA lowering and reads results of ops on XLA, so the ops "
                           "after it that need it run on the host, after the XLA step (%d, the first: %s '%s')",
                           host.type, host.name, len(moved), moved[0].type, moved[0].name)
    return cut


def _pull_back(deps, where, deps_of, copies):
    """Whether the device ops that `deps` come from are all pure and computed from feeds, constants and prefix
    results only (a candidate sampler's labels, `tf.where`'s condition); if so they join `copies`: they also run
    in the prefix, so the host op runs before the step. They stay on the device as well: a device op may need
    their values as compile-time constants (a reshape's shape), and running a pure op twice is harmless."""
    chain, todo = set(), [d for d in deps if where.get(d) == "dev"]
    while todo:
        d = todo.pop()
        if d in chain or d in copies:
            continue
        if d._def.stateful or d._def.ref_inputs or d._type in _READS_STATE:
            return False
        chain.add(d)
        todo += [e for e in deps_of[d] if where.get(e) == "dev"]
    copies |= chain
    return True


class _Signature:
    """The compiled step for one set of initialized variables."""

    def __init__(self, executable, initialized):
        ex = executable
        self.donated = [v for v, ok in zip(ex.plan_vars, initialized) if ok and v in ex.written_set]
        self.kept = [v for v, ok in zip(ex.plan_vars, initialized) if ok and v not in ex.written_set]
        self.fn = jax.jit(lambda feeds, donated, kept, counts: ex._trace(self, feeds, donated, kept, counts),
                          donate_argnums=(1,))
        pos = {v: i for i, v in enumerate(ex.plan_vars)}
        self.donated_pos = [pos[v] for v in self.donated]
        self.kept_pos = [pos[v] for v in self.kept]


class XlaExecutable:
    def __init__(self, runtime, ops, elements, feed_tensors):
        self.runtime = runtime
        self.store = synced_store(runtime)
        self.elements = list(elements)
        self.feed_tensors = list(feed_tensors)
        fed = {t: i for i, t in enumerate(feed_tensors)}
        self.fed = fed
        self.prefix, self.device_ops, self.suffix = cut_plan(list(ops), fed)
        self.placement = devices_lib.placement_for(self.device_ops, runtime)
        dev_set = set(self.device_ops)
        # values entering the step: feeds and prefix results that device ops read
        inputs = []
        for op in self.device_ops:
            for j, t in enumerate(op._inputs):
                if j in op._def.ref_inputs or t in inputs:
                    continue
                if t in fed or t._op not in dev_set:
                    inputs.append(t)
        self.jit_inputs = inputs
        # values leaving the step: fetched device results and the ones suffix ops read
        wanted = [e for e in self.elements if isinstance(e, Tensor)]
        for op in self.suffix:
            wanted += [t for j, t in enumerate(op._inputs) if j not in op._def.ref_inputs]
        outs = []
        for t in wanted:
            if t not in fed and t._op in dev_set and t not in outs:
                outs.append(t)
        self.jit_outputs = outs
        # variables: read (VariableV2 in the plan, ref inputs) and written (updates' ref inputs)
        plan_vars, written = [], []
        for op in self.device_ops:
            refs = [op] if op._type == "VariableV2" else [op._inputs[j]._op for j in op._def.ref_inputs]
            for v in refs:
                if v not in plan_vars:
                    plan_vars.append(v)
            if op._def.lower_updates_refs:
                for j in op._def.ref_inputs:
                    if op._inputs[j]._op not in written:
                        written.append(op._inputs[j]._op)
        self.plan_vars, self.written, self.written_set = plan_vars, written, set(written)
        self.random_ops = [op for op in self.device_ops if op._def.lower_takes_key]
        self.seeds = {op: rng.base_seed(op, runtime) for op in self.random_ops}
        self._signatures = {}
        self._host_kernels = {op: runtime.kernel(op) for op in self.prefix + self.suffix}

    # -- tracing: the body of the jitted step
    def _trace(self, sig, feeds, donated, kept, counts):
        env = dict(zip(self.jit_inputs, feeds))
        cur = dict(zip(sig.donated, donated))
        cur.update(zip(sig.kept, kept))
        rand = {op: i for i, op in enumerate(self.random_ops)}
        lower_ops(self.device_ops, env, cur, self.runtime, lambda op: rng.key_for(self.seeds[op], counts[rand[op]]))
        new_vars = tuple(self.placement.constrain_variable(cur[v]) for v in self.written)
        return tuple(env[t] for t in self.jit_outputs), new_vars

    # -- running
    def _signature(self, initialized):
        sig = self._signatures.get(initialized)
        if sig is None:
            sig = self._signatures[initialized] = _Signature(self, initialized)
        return sig

    def run(self, args):
        values = dict(zip(self.feed_tensors, args))
        if self.prefix:
            self._run_host(self.prefix, values)
        store, put = self.store, self.placement.put_variable
        current = [store.device_value(v, put) for v in self.plan_vars]
        sig = self._signature(tuple(x is not None for x in current))
        feeds = self.placement.put_feeds([values[t] for t in self.jit_inputs])
        counts = rng.counts(self.runtime, self.random_ops) if self.random_ops else ()
        outs, new_vars = sig.fn(feeds, [current[i] for i in sig.donated_pos], [current[i] for i in sig.kept_pos],
                                counts)
        for v, x in zip(self.written, new_vars):
            store.set_device_value(v, x)
        if self.random_ops:
            rng.advance(self.runtime, self.random_ops)
        values.update(zip(self.jit_outputs, outs))
        if self.suffix:
            self._run_host(self.suffix, values)
        return tuple(None if isinstance(e, Operation) else _fetched(values[e]) for e in self.elements)

    def run_traced(self, args, run_metadata):
        """Runs once and records the whole plan as one node (XLA fuses ops: per-op times do not exist)."""
        t0 = time.perf_counter_ns()
        out = self.run(args)   # fetches come back as NumPy (waited for); wait for the variables' updates too
        jax.block_until_ready([self.store.device.get(v) for v in self.written])
        t1 = time.perf_counter_ns()
        dev = run_metadata.step_stats.dev_stats.add()
        dev.device = self.placement.device_name
        ns = dev.node_stats.add()
        ns.node_name = "xla_plan(%d ops)" % len(self.device_ops)
        ns.all_start_micros = int(time.time() * 1e6) - (t1 - t0) // 1000
        ns.op_start_rel_micros, ns.op_end_rel_micros = 0, (t1 - t0) // 1000
        ns.all_end_rel_micros = ns.op_end_rel_micros
        return out

    def _run_host(self, ops, values):
        for op in ops:
            refs = op._def.ref_inputs
            ins = [_host(values[t]) for j, t in enumerate(op._inputs) if j not in refs]
            with np.errstate(all="ignore"):
                r = self._host_kernels[op](*ins)
            outs = op._outputs
            if not outs:
                continue
            for o, x in zip(outs, r if len(outs) > 1 else (r,)):
                if o not in self.fed:
                    values[o] = x


def lower_ops(ops, env, cur, runtime, key_for):
    """Lowers `ops` in order while tracing, as the jitted step does for a whole plan (the If/While lowerings use it
    for their function graphs): each op reads its inputs from `env` (Tensor -> value) and binds its outputs there;
    `cur` (VariableV2 op -> value) is what variables read and updates replace; `key_for(op)` is a random op's key;
    `runtime.kernel(op)` folds a pure op whose inputs are all known while tracing. A failure names the op."""
    for op in ops:
        try:
            _lower_op(op, env, cur, runtime, key_for)
        except errors.OpError as e:
            if e._op is None:
                e._op = op
            raise
        except Exception as e:   # a lowering failed: name the op, as the NumPy plan does
            raise errors.InvalidArgumentError(None, op, "%s: %s (XLA lowering of %s '%s', created at %s)"
                                              % (type(e).__name__, e, op.type, op.name, op.where())) from e
    return env


def _lower_op(op, env, cur, runtime, key_for):
    t = op._type
    outs = op._outputs
    if t == "VariableV2":
        if op not in cur:
            raise errors.FailedPreconditionError(None, op, "Attempting to use uninitialized value %s" % op.name)
        env[outs[0]] = cur[op]
        return
    if t == "IsVariableInitialized":
        env[outs[0]] = np.bool_(op._inputs[0]._op in cur)
        return
    d = op._def
    refs = d.ref_inputs
    if refs:
        for j in refs:
            v = op._inputs[j]._op
            if v not in cur and t != "Assign":
                raise errors.FailedPreconditionError(None, v, "Attempting to use uninitialized value %s" % v.name)
        ins = [cur.get(x._op) if j in refs else env[x] for j, x in enumerate(op._inputs)]
    else:
        ins = [env[x] for x in op._inputs]
    fn = d.lower
    if not d.stateful and outs and all(is_concrete(x) for x in ins):
        values = runtime.kernel(op)(*ins)   # known while tracing: fold with the NumPy kernel
    elif d.lower_takes_key:
        values = fn(op, key_for(op), *ins)
    else:
        values = fn(op, *ins)
    if d.lower_updates_refs:
        new = values if isinstance(values, tuple) else (values,)
        for j, x in zip(refs, new):
            cur[op._inputs[j]._op] = x
        values = new[0]
    if not outs:
        return
    values = values if len(outs) > 1 else (values,)
    for o, x in zip(outs, values):
        _check_output(op, o, x)
        env[o] = x


def _host(x):
    return x if isinstance(x, (np.ndarray, np.generic, bytes, str)) or x is None else to_host(x)


def _fetched(x):
    """A fetched value as a NumPy array the caller owns."""
    if isinstance(x, np.ndarray):
        return x.copy() if x.dtype != object else x
    if isinstance(x, np.generic):
        return np.asarray(x)
    return np.array(to_host(x))


def _check_output(op, t, x):
    """Every lowering's result has the static dtype (and a compatible shape) the op declares: checked while
    tracing, so a wrong lowering fails loudly once instead of computing in the wrong precision."""
    want = t.dtype.as_numpy_dtype
    got = np.asarray(x).dtype if isinstance(x, (np.generic, int, float, bool)) else x.dtype
    if np.dtype(got) != np.dtype(want):
        raise errors.InternalError(None, op, "XLA lowering of %s '%s' gave dtype %s for %s, which is %s"
                                   % (op.type, op.name, np.dtype(got).name, t.name, t.dtype.name))
    if not t.shape.is_compatible_with(np.shape(x)):
        raise errors.InternalError(None, op, "XLA lowering of %s '%s' gave shape %s for %s, which is %s"
                                   % (op.type, op.name, np.shape(x), t.name, t.shape))


def compile_plan(runtime, ops, elements, feed_tensors):
    """The XLA executable of a pruned plan (see the module docstring)."""
    return XlaExecutable(runtime, ops, elements, feed_tensors)


__all__ = ["compile_plan", "XlaExecutable", "cut_plan", "runs_on_host", "lower_ops"]
