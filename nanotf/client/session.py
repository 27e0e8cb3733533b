"""Session: runs the part of a Graph that the fetches need.

Each distinct (fetches, feed keys) signature is compiled once into a `_Plan`: the ops the
fetches depend on (data and control inputs, stopping at fed tensors), ordered by creation id,
turned into straight-line Python source (one line per kernel call, values in local variables)
and cached on the Session. A steady-state `run` converts the feeds, calls that function and
rebuilds the fetch structure: it walks no graph.
"""
import collections
import contextlib
import threading

import numpy as np

from nanotf.client import _chunking, _malloc
from nanotf.framework import device as device_lib
from nanotf.framework import parallel
from nanotf.framework import errors
from nanotf.framework import ops as ops_mod
from nanotf.framework.ops import Operation, Tensor

_PLAN_FILENAME = "<nanotf plan>"


class _Runtime:
    """A session's values: variables, kernels built for this session, per-op state (RNGs)."""

    def __init__(self, session):
        self.session = session
        self.variables = {}   # VariableV2 Operation -> ndarray
        self.op_state = {}    # Operation -> anything an op keeps between runs (e.g. an RNG)
        self._kernels = {}

    def kernel(self, op):
        fn = self._kernels.get(op)
        if fn is None:
            fn = self._kernels[op] = op._def.kernel(op, self)
        return fn

    def inplace_kernel(self, op):
        key = (op, "inplace")
        fn = self._kernels.get(key)
        if fn is None:
            fn = self._kernels[key] = op._def.inplace(op, self)
        return fn


# -- fetch structures: flatten to a list of graph elements, rebuild the same structure from values
def _flatten_fetches(graph, fetch, out):
    """Appends the graph elements of `fetch` to `out`; returns a function values -> result structure."""
    if fetch is None:
        raise TypeError("Fetch argument None has invalid type <class 'NoneType'>")
    if isinstance(fetch, (list, tuple)):
        builders = [_flatten_fetches(graph, f, out) for f in fetch]
        if isinstance(fetch, tuple) and hasattr(fetch, "_fields"):
            cls = type(fetch)
            return lambda vals: cls(*[b(vals) for b in builders])
        cls = type(fetch)
        if cls is list:
            return lambda vals: [b(vals) for b in builders]
        return lambda vals: cls(b(vals) for b in builders)
    if isinstance(fetch, collections.abc.Mapping):
        keys = list(fetch.keys())
        builders = [_flatten_fetches(graph, fetch[k], out) for k in keys]
        cls = type(fetch)

        def build_dict(vals):
            items = [(k, b(vals)) for k, b in zip(keys, builders)]
            try:
                return cls(items)
            except TypeError:
                return dict(items)
        return build_dict
    try:
        el = graph.as_graph_element(fetch, allow_tensor=True, allow_operation=True)
    except TypeError as e:
        raise TypeError("Fetch argument %r has invalid type %r, must be a string or Tensor. (%s)"
                        % (fetch, type(fetch), e)) from None
    except (ValueError, KeyError) as e:
        msg = e.args[0] if e.args else str(e)
        raise errors.InvalidFeedError(None, None, "Fetch argument %r cannot be interpreted as a Tensor. (%s)"
                                      % (fetch, msg)) from None
    i = len(out)
    out.append(el)
    if isinstance(el, Operation):
        return lambda vals: None
    return lambda vals: vals[i]


def _to_result(v):
    if type(v) is np.ndarray and v.ndim == 0:
        return v[()]
    return v


class _Plan:
    """A compiled (fetches, feeds) signature: one Python function calling kernels in order."""

    def __init__(self, runtime, elements, feed_tensors, may_split=True):
        self.feed_tensors = feed_tensors
        fed = {t: i for i, t in enumerate(feed_tensors)}
        needed = self._needed_ops(elements, fed)
        self.ops = sorted(needed, key=lambda op: op._id)
        if may_split:   # once per top-level plan: ops on a device nanotf lacks run on the CPU or raise
            device_lib.check_placement(self.ops, runtime.session._config)
        # Plans with kernels that split their work themselves always run with BLAS single-threaded;
        # the others only while other processes keep the machine busy (framework/parallel.py).
        self.splits_work = any(op._def.splits_work for op in self.ops)
        # A big batch may run its row-wise front in slices (client/_chunking.py).
        self.split = _chunking.plan_split(lambda *a: _Plan(*a, may_split=False), runtime, self.ops, elements,
                                          feed_tensors) if may_split else None
        self.feed_checks = [(t, np.dtype(t.dtype.as_numpy_dtype), t.shape.as_tuple(), t.shape.is_fully_defined())
                            for t in feed_tensors]
        self._compile(runtime, elements, fed)

    @staticmethod
    def _needed_ops(targets, fed):
        needed = set()
        # A fetched tensor that is fed needs nothing: the fed value is returned.
        stack = [e.op if isinstance(e, Tensor) else e for e in targets if not (isinstance(e, Tensor) and e in fed)]
        while stack:
            op = stack.pop()
            if op in needed:
                continue
            needed.add(op)
            ref = op._def.ref_inputs
            for k, t in enumerate(op._inputs):
                if t in fed or k in ref:
                    continue
                stack.append(t._op)
            stack.extend(op._control_inputs)
        return needed

    def _compile(self, runtime, elements, fed, trace=False):
        """Generates the plan's function. With `trace`, each kernel call is timed and its outputs
        recorded through `_rec(op_index, start_ns, outputs)` (used for RunOptions.FULL_TRACE)."""
        names = {}      # Tensor -> the expression holding its value in the generated code
        for t, i in fed.items():
            names[t] = "f%d" % i
        fetched = {e for e in elements if isinstance(e, Tensor)}
        env = {"_copy": np.copy}
        consts = set()  # tensors whose value is known at compile time (bound in env, never recomputed)
        lines = []
        line_names = []   # per line: the local names it reads or writes (to free them after last use)
        calls = []        # (op, kernel name, argument names) of each kernel call
        producer = {}     # local name -> the op whose kernel produced it
        line_ops = {}
        head = "def _plan(%s):" % ", ".join(["f%d" % i for i in range(len(fed))] + (["_rec", "_now"] if trace else []))
        fusions = {} if trace else self._fusions(fed, fetched)   # consumer op -> producer op
        fused_producers = set(fusions.values())
        fused_reads = set()   # local names that fused kernels read
        for k, op in enumerate(self.ops):
            if op._type == "NoOp" and not trace:
                continue
            outs = op._outputs
            ins = [t for j, t in enumerate(op._inputs) if j not in op._def.ref_inputs]
            if not trace and self._fold(runtime, op, ins, outs, k, names, consts, env, fed):
                continue
            if op in fused_producers and not any(t in consts for t in op._inputs):
                continue   # computed inside its consumer's fused kernel
            fused_with = fusions.get(op)
            if fused_with is not None and not any(t in consts for t in fused_with._inputs):
                fn_name = "k%d" % k
                env[fn_name] = op._def.fuse[fused_with._type](op, fused_with, runtime)
                args = [names.get(t, "None") for t in fused_with._inputs] + [
                    names.get(t, "None") for j, t in enumerate(op._inputs)
                    if j not in op._def.ref_inputs and j != op._def.fuse_input]
                for t in outs:
                    names[t] = "v%d_%d" % (k, t._value_index)
                lines.append("%s = %s(%s)" % (names[outs[0]], fn_name, ", ".join(args)))
                line_names.append(args + [names[outs[0]]])
                line_ops[len(lines) + 1] = op
                fused_reads.update(args)   # read where the consumer runs: no op before may overwrite them
                continue
            if not trace and op._def.is_identity and ins[0] in names and outs[0] not in fed:
                src = names[ins[0]]
                if outs[0] in fetched and _may_alias(outs[0], fed):
                    names[outs[0]] = "v%d_0" % k
                    lines.append("v%d_0 = _copy(%s)" % (k, src))
                    line_names.append([src, names[outs[0]]])
                    line_ops[len(lines) + 1] = op
                else:
                    names[outs[0]] = src   # an identity is an alias: no call at all
                    if ins[0] in consts:
                        consts.add(outs[0])
                continue
            fn_name = "k%d" % k
            env[fn_name] = runtime.kernel(op)
            args = [names.get(t, "None") for t in ins]
            call = "%s(%s)" % (fn_name, ", ".join(args))
            for t in outs:
                if t not in fed:
                    names[t] = "v%d_%d" % (k, t._value_index)
            targets = [names[t] if t not in fed else "_" for t in outs]
            copies = ["%s = _copy(%s)" % (names[t], names[t]) for t in outs
                      if t in fetched and t not in fed and _may_alias(t, fed)]
            if not outs:
                line = call
            elif len(outs) == 1:
                line = "%s = %s" % (targets[0], call)
            else:
                line = "%s, = %s" % (", ".join(targets), call)
            if trace:
                line = "_t = _now(); %s; _rec(%d, _t, (%s))" % (line, k, "".join(x + ", " for x in targets))
            if copies:
                line += "; " + "; ".join(copies)
            lines.append(line)
            line_names.append(args + targets)
            line_ops[len(lines) + 1] = op   # line 1 is the def
            calls.append((op, fn_name, args))
            for t in outs:
                producer[names[t]] = op
        returned = [names[e] for e in elements if isinstance(e, Tensor)]
        if not trace:
            _donate_dead_inputs(runtime, env, calls, producer, set(returned) | fused_reads)
        _free_after_last_use(lines, line_names, set(returned))
        ret = ", ".join(("_copy(%s)" % names[e] if e in fed or e in consts else names[e])
                        if isinstance(e, Tensor) else "None" for e in elements)
        lines.append("return (%s%s)" % (ret, "," if len(elements) == 1 else ""))
        src = "\n".join([head] + ["    " + ln for ln in lines])
        exec(compile(src, _PLAN_FILENAME, "exec"), env)
        if trace:
            self.traced_fn, self.traced_line_ops = env["_plan"], line_ops
        else:
            self.source, self.fn, self.line_ops = src, env["_plan"], line_ops

    def _fusions(self, fed, fetched):
        """Pairs (consumer, producer) to run as one kernel: the consumer's OpDef offers a fused kernel
        for the producer's type (e.g. the SGD update with the matmul computing its gradient), and the
        producer's single output feeds only that consumer (not fed, not fetched, pure).

        The fused kernel runs where the consumer runs, i.e. after updates that ops between the two
        may make to variables in place. So the producer's inputs must not be (views of) a variable
        that this plan updates: V's gradient U^T @ dR in M = U @ V must read U before U's update."""
        updated = {op._inputs[j].op for op in self.ops for j in op._def.ref_inputs}
        uses = {}
        for op in self.ops:
            for j, t in enumerate(op._inputs):
                if j not in op._def.ref_inputs:
                    uses[t] = uses.get(t, 0) + 1
        pairs = {}
        for op in self.ops:
            d = op._def
            if not d.fuse or len(op._outputs) != 1:
                continue
            t = op._inputs[d.fuse_input]
            p = t.op
            if (p._type in d.fuse and len(p._outputs) == 1 and not p._def.stateful and uses.get(t) == 1
                    and t not in fed and t not in fetched and p not in pairs.values()
                    and not any(_may_read_variable(x, updated, fed) for x in p._inputs)):
                pairs[op] = p
        return pairs

    @staticmethod
    def _fold(runtime, op, ins, outs, k, names, consts, env, fed):
        """Constant folding: a Const, or a pure op whose inputs are all constants, is evaluated once
        here and bound as a constant of the generated code. Returns True when `op` was folded."""
        d = op._def
        if op._type == "Const":
            values = (op._attrs["value"],)
        elif ins and not d.stateful and outs and all(
                t in consts or (j in d.shape_only_inputs and t.shape.is_fully_defined())
                for j, t in enumerate(op._inputs) if j not in d.ref_inputs):
            # An input the kernel reads only for its shape, and whose shape is static, is as good as
            # a constant: a stand-in of that shape (no memory) is passed instead.
            args = [env[names[t]] if t in consts else
                    np.broadcast_to(np.zeros((), t.dtype.as_numpy_dtype), t.shape.as_list())
                    for j, t in enumerate(op._inputs) if j not in d.ref_inputs]
            try:
                r = runtime.kernel(op)(*args)
            except Exception:   # leave it to fail at run time, where the error names the op
                return False
            values = r if len(outs) > 1 else (r,)
            values = tuple(np.array(v, copy=True) if isinstance(v, np.ndarray) else v for v in values)
        else:
            return False
        for t, v in zip(outs, values):
            if t in fed:
                continue
            names[t] = "c%d_%d" % (k, t._value_index)
            env[names[t]] = v
            consts.add(t)
        return True

    def run_traced(self, runtime, elements, args, run_metadata):
        """Runs once with per-op timing and output sizes, filling run_metadata.step_stats."""
        import time
        if getattr(self, "traced_fn", None) is None:
            self._compile(runtime, elements, {t: i for i, t in enumerate(self.feed_tensors)}, trace=True)
        records = []
        values = self.traced_fn(*args, lambda k, t0, outs: records.append((k, t0, time.perf_counter_ns(), outs)),
                                time.perf_counter_ns)
        _fill_step_stats(run_metadata, self.ops, records)
        return values


def _fill_step_stats(run_metadata, ops, records):
    """Writes TensorFlow-style StepStats (per node: start, duration, output shapes and bytes)."""
    import time
    wall0_us = int(time.time() * 1e6)
    first = records[0][1] if records else 0
    dev = run_metadata.step_stats.dev_stats.add()
    dev.device = "/job:localhost/replica:0/task:0/device:CPU:0"
    for k, t0, t1, outs in records:
        op = ops[k]
        ns = dev.node_stats.add()
        ns.node_name = op.name
        ns.timeline_label = "%s = %s()" % (op.name, op.type)
        ns.all_start_micros = wall0_us + (t0 - first) // 1000
        ns.all_start_nanos = ns.all_start_micros * 1000
        dur_us = max((t1 - t0) // 1000, 1)
        ns.op_end_rel_micros = ns.all_end_rel_micros = dur_us
        ns.op_end_rel_nanos = ns.all_end_rel_nanos = t1 - t0
        total = 0
        for slot, v in enumerate(outs):
            arr = v if isinstance(v, np.ndarray) else np.asarray(v) if isinstance(v, (np.generic, float, int)) else None
            out = ns.output.add()
            out.slot = slot
            td = out.tensor_description
            t = op._outputs[slot]
            td.dtype = t.dtype.as_datatype_enum
            if arr is not None:
                for d in arr.shape:
                    td.shape.dim.add().size = d
                nbytes = int(arr.nbytes)
                td.allocation_description.requested_bytes = nbytes
                td.allocation_description.allocated_bytes = nbytes
                td.allocation_description.allocator_name = "cpu"
                total += nbytes
        mem = ns.memory.add()
        mem.allocator_name = "cpu"
        mem.total_bytes = total
        mem.peak_bytes = total


def _may_read_variable(t, variables, fed):
    """Whether tensor t may be a variable of `variables` or a view of one: walks back through
    kernels that may return (views of) their inputs, ref inputs included (an Assign returns the
    variable's storage), stopping at fed values and fresh outputs."""
    stack, seen = [t], set()
    while stack:
        t = stack.pop()
        if t in fed or t in seen:
            continue
        seen.add(t)
        op = t.op
        if op in variables:
            return True
        if not op._def.fresh_output:
            stack.extend(op._inputs)
    return False


def _donate_dead_inputs(runtime, env, calls, producer, keep):
    """Lets an op with an in-place kernel (bias add, ReLU...) write into its first input when nothing
    else can see that array: a fresh result of another kernel in this plan, read exactly once (here),
    not returned, of the same static shape and dtype as the output. Saves an allocation and a pass
    over memory per op, and halves the peak memory of a layer."""
    uses = {}
    for _, _, args in calls:
        for a in args:
            uses[a] = uses.get(a, 0) + 1
    for op, fn_name, args in calls:
        d = op._def
        if d.inplace is None or not args:
            continue
        arg_inputs = [j for j in range(len(op._inputs)) if j not in d.ref_inputs]
        a = args[arg_inputs.index(d.inplace_input)]
        src = producer.get(a)
        if src is None or a in keep or uses.get(a) != 1 or not src._def.fresh_output:
            continue
        x, out = op._inputs[d.inplace_input], op._outputs[0]
        # Static shapes must agree (the in-place kernels fall back to allocating when the runtime
        # shapes broadcast input 0 larger); 0-d results may be NumPy scalars, which cannot be written.
        if x.dtype is not out.dtype or not x.shape.ndims or not x.shape.is_compatible_with(out.shape):
            continue
        fn = runtime.inplace_kernel(op)
        if d.elementwise and _may_be_big(out):   # big in-place elementwise steps go over the intra-op threads
            fn = parallel.split_inplace(fn, arg_inputs.index(d.inplace_input))
        env[fn_name] = fn


def _may_be_big(t):
    """Whether t may hold enough elements for parallel.split_inplace to split it (unknown: yes)."""
    dims = t.shape.as_tuple()
    if dims is None or any(d is None for d in dims):
        return True
    return int(np.prod(dims, dtype=np.int64)) >= parallel._MIN_SPLIT_ELEMENTS


def _free_after_last_use(lines, line_names, keep):
    """Appends `del` of each intermediate value to the line that uses it last, so a run holds only
    live values (evaluating 10000 images through a conv net must not keep every layer's output)."""
    last = {}
    for i, used in enumerate(line_names):
        for n in used:
            if n.startswith("v") and n not in keep:
                last[n] = i
    dels = {}
    for n, i in last.items():
        dels.setdefault(i, []).append(n)
    for i, ns in dels.items():
        lines[i] += "; del %s" % ", ".join(sorted(ns))


def _may_alias(t, fed):
    """True when a fetched value may be memory someone else owns: variable storage or the caller's
    fed array. Such fetches are copied."""
    while True:
        if t in fed:
            return True
        op = t._op
        if not (op._def.forwards_input and op._inputs):
            return op._def.stateful
        t = op._inputs[0]


def _convert_feed(t, value, np_dtype, static, exact):
    """The fed value as an array of t's dtype, checked against t's static shape. `exact` is True
    when the static shape is fully defined (then one tuple comparison checks it)."""
    if type(value) is np.ndarray and value.dtype is np_dtype:
        arr = value   # the common case: used as given, never copied
    else:
        arr = _convert_feed_value(t, value, np_dtype)
    if exact:
        if arr.shape != static:
            _bad_feed_shape(t, arr)
    elif static is not None:
        shp = arr.shape
        if len(shp) != len(static) or any(d is not None and d != s for d, s in zip(static, shp)):
            _bad_feed_shape(t, arr)
    return arr


def _bad_feed_shape(t, arr):
    raise errors.InvalidFeedError(None, t.op, "Cannot feed value of shape %r for Tensor %r, which has shape %r"
                                  % (arr.shape, t.name, t.shape.__str__()))


def _convert_feed_value(t, value, np_dtype):
    if isinstance(value, Tensor):
        raise TypeError("The value of a feed cannot be a tf.Tensor object. Acceptable feed values include "
                        "Python scalars, strings, lists, numpy ndarrays, or TensorHandles. For reference, the "
                        "tensor object was %s which was passed to the feed with key %s." % (value, t))
    try:
        arr = np.asarray(value, dtype=np_dtype)
    except (ValueError, TypeError, OverflowError) as e:
        raise errors.InvalidFeedTypeError(None, t.op, "Cannot feed value %s to tensor %r of dtype %s: %s"
                                          % (_short(value), t.name, t.dtype.name, e)) from None
    src = value if isinstance(value, np.ndarray) else None
    if src is None and not isinstance(value, (bytes, str)) and t.dtype.is_integer:
        src = np.asarray(value)
    if src is not None and src.dtype.kind == "f" and t.dtype.is_integer and not np.array_equal(src, arr):
        raise errors.InvalidFeedTypeError(None, t.op, "Cannot feed float values to tensor %r of dtype %s "
                                          "without losing their fractional part" % (t.name, t.dtype.name))
    return arr


def _short(value):
    s = repr(value)
    return s if len(s) < 60 else s[:57] + "..."


class BaseSession:
    def __init__(self, target="", graph=None, config=None):
        _malloc.tune_malloc()
        parallel.note_session()
        intra_op = getattr(config, "intra_op_parallelism_threads", 0)
        if intra_op:   # TF sizes a pool per session; nanotf's pool is per process (framework/parallel.py)
            parallel.set_intra_op_parallelism_threads(intra_op)
        self._graph = graph if graph is not None else ops_mod.get_default_graph()
        self._runtime = _Runtime(self)
        self._plans = {}
        self._fast = {}   # (fetch container type, fetches, feed tensors) -> (plan, builder, elements)
        self._closed = False
        self._default_ctx = None
        self._config = config
        if getattr(config, "log_device_placement", False):
            print(device_lib.device_mapping_message())

    graph = property(lambda self: self._graph)
    sess_str = property(lambda self: "")

    @property
    def graph_def(self):
        return self._graph.as_graph_def()

    def list_devices(self):
        return device_lib.list_devices()

    def close(self):
        self._closed = True
        self._plans.clear()
        self._fast.clear()
        self._runtime.variables.clear()

    def as_default(self):
        return _default_session_stack.get_controller(self)

    def __enter__(self):
        self._default_ctx = self.as_default()
        self._default_ctx.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb):
        ctx, self._default_ctx = self._default_ctx, None
        if ctx is not None:
            ctx.__exit__(exc_type, exc, tb)
        self.close()

    def make_callable(self, fetches, feed_list=None, accept_options=False):
        feed_list = list(feed_list or [])

        def call(*args, **kw):
            return self.run(fetches, feed_dict=dict(zip(feed_list, args)))
        return call

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Runs the ops and evaluates the tensors in `fetches`; returns values in the same structure."""
        if self._closed:
            raise errors.ClosedSessionError(None, None, "Attempted to use a closed Session.")
        g = self._graph
        feed_keys = ()
        feed_vals = ()
        if feed_dict:
            feed_keys = []
            feed_vals = []
            for k, v in feed_dict.items():
                if type(k) is not Tensor or k.graph is not g:
                    k = self._resolve_feed_key(k)
                feed_keys.append(k)
                feed_vals.append(v)
            feed_keys = tuple(feed_keys)
        # Fast path: the same flat list/tuple of fetches (or a single one) as a previous call.
        ft = type(fetches)
        fast_key = None
        if ft is list or ft is tuple:
            fast_key = (ft, tuple(fetches), feed_keys)
        elif ft is Tensor or ft is Operation:
            fast_key = (fetches, feed_keys)
        entry = None
        if fast_key is not None:
            try:
                entry = self._fast.get(fast_key)
            except TypeError:   # unhashable items (nested dicts...): take the general path
                fast_key = None
        if entry is not None:
            plan, build, elements = entry
        else:
            elements = []
            build = _flatten_fetches(g, fetches, elements)
            if ft is Tensor or ft is Operation:
                build = None
            key = (tuple(elements), feed_keys)
            plan = self._plans.get(key)
            if plan is None:
                plan = self._plans[key] = _Plan(self._runtime, elements, feed_keys)
            if fast_key is not None and len(elements) == len(fetches if build is not None else (fetches,)):
                self._fast[fast_key] = (plan, build, elements)
        args = [_convert_feed(t, v, npd, st, ex) for (t, npd, st, ex), v in zip(plan.feed_checks, feed_vals)]
        splits = parallel.run_begin(plan.splits_work)
        try:
            if options is not None and run_metadata is not None and getattr(options, "trace_level", 0):
                values = plan.run_traced(self._runtime, elements, args, run_metadata)
            else:
                with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                    # inf/NaN propagate silently, as in TensorFlow
                    split = plan.split
                    if split is not None and split.applies(args):
                        values = split.run(args)
                    else:
                        values = plan.fn(*args)
        except Exception as e:  # re-raise naming the op that failed
            raise _op_error(plan, e) from (None if isinstance(e, errors.OpError) else e)
        finally:
            parallel.run_end(splits)
        if build is None:
            return _to_result(values[0])
        return build([_to_result(v) for v in values])

    def _resolve_feed_key(self, k):
        try:
            el = self._graph.as_graph_element(k, allow_tensor=True, allow_operation=False)
        except (TypeError, ValueError, KeyError) as e:
            raise errors.InvalidFeedTypeError(None, None, "Cannot interpret feed_dict key as Tensor: %s"
                                              % (e.args[0] if e.args else e)) from None
        return el


def _op_error(plan, e):
    """Finds the op whose kernel raised `e` (by line in the compiled plan) and wraps the error."""
    tb = e.__traceback__
    op = None
    plans = [plan] + list(plan.split.parts if plan.split is not None and plan.split.parts else ())
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == _PLAN_FILENAME:
            table = next((p.line_ops for p in plans if code is p.fn.__code__), None)
            if table is None:
                table = getattr(plan, "traced_line_ops", {})
            op = table.get(tb.tb_lineno)
        tb = tb.tb_next
    if isinstance(e, errors.OpError):
        if e._op is None:
            e._op = op
        return e
    where = (" (created at %s)" % op.where()) if op is not None else ""
    msg = "%s: %s%s" % (type(e).__name__, e, where)
    if isinstance(e, MemoryError):
        return errors.ResourceExhaustedError(None, op, msg)
    if isinstance(e, (ValueError, TypeError, IndexError, FloatingPointError, ZeroDivisionError, OverflowError)):
        return errors.InvalidArgumentError(None, op, msg)
    return errors.InternalError(None, op, msg)


class Session(BaseSession):
    """tf.Session(target='', graph=None, config=None)."""


class InteractiveSession(BaseSession):
    """A Session that installs itself as the default on construction (for shells and notebooks)."""

    def __init__(self, target="", graph=None, config=None):
        super().__init__(target, graph, config)
        self._interactive_ctx = self.as_default()
        self._interactive_ctx.__enter__()

    def close(self):
        super().close()
        ctx, self._interactive_ctx = getattr(self, "_interactive_ctx", None), None
        if ctx is not None:
            try:
                ctx.__exit__(None, None, None)
            except (IndexError, ValueError):
                pass


class _DefaultSessionStack(threading.local):
    def __init__(self):
        self.stack = []

    @contextlib.contextmanager
    def get_controller(self, sess):
        self.stack.append(sess)
        g = sess.graph.as_default()
        g.__enter__()
        try:
            yield sess
        finally:
            g.__exit__(None, None, None)
            if self.stack and self.stack[-1] is sess:
                self.stack.pop()
            elif sess in self.stack:
                self.stack.remove(sess)


_default_session_stack = _DefaultSessionStack()


def get_default_session():
    st = _default_session_stack.stack
    return st[-1] if st else None


def get_default_session_or_raise(graph):
    sess = get_default_session()
    if sess is None:
        raise ValueError("Cannot evaluate tensor using `eval()`: No default session is registered. Use "
                         "`with sess.as_default()` or pass an explicit session to `eval(session=sess)`")
    if sess.graph is not graph:
        raise ValueError("Cannot use the given session to evaluate tensor: the tensor's graph is different "
                         "from the session's graph.")
    return sess
