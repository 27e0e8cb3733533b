"""Control ops: no_op, group, tuple (ordering by control dependencies; no data flows)."""
import builtins
import threading

from nanotf.framework.op_def import OpDef, Sample
from nanotf.framework.ops import (Graph, Operation, Tensor, apply_op, control_dependencies, get_default_graph,
                                  name_scope)
from nanotf.ops import array_ops

__all__ = ["no_op", "group", "tuple", "with_dependencies"]


class NoOp(OpDef):
    def infer(op):
        return []

    def kernel(op, ctx):
        return lambda: None

    grad = None


def no_op(name=None):
    return get_default_graph().create_op("NoOp", [], name=name or "NoOp")


def _as_op(x):
    if hasattr(x, "_as_graph_element") and not isinstance(x, (Tensor, Operation)):
        x = x._as_graph_element()
    if isinstance(x, Tensor):
        return x.op
    if isinstance(x, Operation):
        return x
    raise TypeError("Expected a Tensor or Operation, got %r" % (x,))


def group(*inputs, name=None):
    """An op that runs all of `inputs` (through control dependencies) and outputs nothing."""
    flat = []
    for i in inputs:
        flat.extend(i if isinstance(i, (list, builtins.tuple)) else [i])
    deps = [_as_op(i) for i in flat if i is not None]
    g = deps[0].graph if deps else get_default_graph()
    with g.as_default(), g.control_dependencies(None):
        return g.create_op("NoOp", [], name=name or "group_deps", control_inputs=deps)


def tuple(tensors, name=None, control_inputs=None):  # noqa: A001 - TF's public name
    """Returns identities of `tensors` that are only available after all of them are computed."""
    with name_scope(name, "tuple", tensors) as scope:
        gate = group(*([t for t in tensors if t is not None] + list(control_inputs or [])), name="control_dependency")
        out = []
        with control_dependencies([gate]):
            for t in tensors:
                out.append(None if t is None else (array_ops.identity(t) if isinstance(t, Tensor) else group(t)))
        del scope
        return out


def with_dependencies(dependencies, output_tensor, name=None):
    with name_scope(name, "control_dependency", list(dependencies) + [output_tensor]):
        with control_dependencies(dependencies):
            return array_ops.identity(output_tensor)


# ---------------------------------------------------------------------------------------------------
# Functional control flow: tf.cond and tf.while_loop as ops holding traced function graphs
# (framework/func_graph.py), as TF 2's If and While. See docs/tf1_api/control_flow.md.
import numpy as np  # noqa: E402

from nanotf.framework import dtypes, errors  # noqa: E402
from nanotf.framework import func_graph as _fg  # noqa: E402
from nanotf.framework.ops import convert_to_tensor  # noqa: E402
from nanotf.framework.tensor_shape import TensorShape, as_shape, unknown_shape  # noqa: E402
from nanotf.ops.tensor_array_ops import TensorArray  # noqa: E402

from nanotf.framework.ops import init_scope  # noqa: E402  (tf.init_scope, exported from here)

__all__ += ["cond", "while_loop", "case", "TensorArray", "init_scope"]


def _as_flat_tensor(v):
    """A loop variable or branch result as the tensor that flows: a TensorArray's flow, else the tensor."""
    return v.flow if isinstance(v, TensorArray) else v


def _rewrappers(leaves):
    """Per leaf: None, or a function turning a flow tensor back into a TensorArray like that leaf."""
    return [v._with_flow if isinstance(v, TensorArray) else None for v in leaves]


def _rewrap(wraps, tensors):
    return [t if w is None else w(t) for w, t in zip(wraps, tensors)]


# -- nested structures, as TF's nest: lists, tuples, namedtuples and dicts (leaves in sorted-key order)
def _is_nested(s):
    return isinstance(s, (list, builtins.tuple, dict))


def _flatten(s):
    if isinstance(s, dict):
        return [x for k in sorted(s) for x in _flatten(s[k])]
    if isinstance(s, (list, builtins.tuple)):
        return [x for v in s for x in _flatten(v)]
    return [s]


def _pack_as(structure, flat):
    """`structure` with its leaves replaced, in order, by the items of `flat`."""
    it = iter(flat)

    def build(s):
        if isinstance(s, dict):
            vals = {k: build(s[k]) for k in sorted(s)}
            try:
                return type(s)((k, vals[k]) for k in s)
            except TypeError:
                return {k: vals[k] for k in s}
        if isinstance(s, builtins.tuple) and hasattr(s, "_fields"):
            return type(s)(*[build(v) for v in s])
        if isinstance(s, (list, builtins.tuple)):
            return type(s)(build(v) for v in s)
        return next(it)
    return build(structure)


def _same_structure(a, b):
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and sorted(a) == sorted(b) and all(
            _same_structure(a[k], b[k]) for k in a)
    if _is_nested(a) or _is_nested(b):
        return _is_nested(a) and _is_nested(b) and len(a) == len(b) and all(
            _same_structure(x, y) for x, y in zip(a, b))
    return True


def _leq_shape(shape, invariant):
    """TF's rule: every dimension the invariant knows, the shape has, with the same size."""
    if invariant.ndims is None:
        return True
    if shape.ndims != invariant.ndims:
        return False
    return all(d is None or d == s for s, d in zip(shape.as_tuple(), invariant.as_tuple()))


def _most_specific_compatible(a, b):
    if a.ndims is None or b.ndims is None or a.ndims != b.ndims:
        return unknown_shape()
    return TensorShape([x if x == y else None for x, y in zip(a.as_tuple(), b.as_tuple())])


def _index_inputs(graph, inputs):
    """Op input positions of a function graph's captures, adding new captures to `inputs`."""
    idx = []
    for outer in graph.captures:
        if outer not in inputs:
            inputs.append(outer)
        idx.append(inputs.index(outer))
    return idx


def _outer_deps(*graphs):
    deps = []
    for g in graphs:
        deps.extend(d for d in g.outer_control_deps if d not in deps)
    return deps


def _zeros_of(shape, dtype):
    """A zero gradient: zeros of that shape, or None (zero) for a TensorArray flow (object dtype)."""
    return None if dtype is np.object_ else np.zeros(shape, dtype=dtype)


def _differentiable(dtype):
    """Floating tensors and TensorArray flows (dtype variant) carry gradients."""
    return dtype.is_floating or dtype.name == "variant"


def _zero_grad(t):
    if t.dtype.name == "variant":
        from nanotf.ops import tensor_array_ops
        return tensor_array_ops.zeros_flow()
    return array_ops.zeros_like(t)


def _math():
    from nanotf.ops import math_ops
    return math_ops


def _nn():
    from nanotf.ops import nn_ops
    return nn_ops


def _kernel_result(values):
    """A kernel returns a bare value for one output, a tuple for several."""
    return values[0] if len(values) == 1 else builtins.tuple(values)


def _flow_add(a, b):
    from nanotf.ops import tensor_array_ops
    return tensor_array_ops.add_flows(a, b)


def _unwrap(trace):
    """A trace fetched through a plan that copies the outputs of stateful ops arrives as a 0-d object array."""
    if isinstance(trace, np.ndarray) and trace.dtype == object and trace.ndim == 0:
        return trace[()]
    return trace


def _run_error(op, msg):
    return errors.InvalidArgumentError(None, op, msg)


# -- recording for gradients, only in the runs that need it
# A functional op whose gradient exists gets a "record request" marker (a TraceRequest op placed, by its id,
# just before the op in every plan). The gradient op depends on the marker, so exactly the plans that run the
# gradient run the marker, which sets a per-thread flag the functional op takes before it runs: an evaluation
# run in a training graph keeps nothing (recording a 28-step LSTM over 10000 images would hold ~2 GB). For a
# loop inside a loop (the inner gradient runs in the outer gradient's body), the outer op's recording body
# plan runs the inner markers.
def _record_flag(ctx, op):
    return ctx.op_state.setdefault(("record", op), threading.local())


def _take_flag(flag):
    on = getattr(flag, "on", False)
    if on:
        flag.on = False
    return on


def _record_marker(op):
    """The TraceRequest op of functional op `op` (created on first use, ordered just before `op`)."""
    m = op._attrs.get("marker")
    if m is None:
        g = op.graph
        saved = g._control_dependencies_stack, g._name_stack
        g._control_dependencies_stack, g._name_stack = [], ""   # named beside its op, whatever the scope now
        try:
            m = Graph.create_op(g, "TraceRequest", [], {"target": op}, name=op.name + "_record")
        finally:
            g._control_dependencies_stack, g._name_stack = saved
        m._id = op._id - 0.5   # plans order ops by id: the marker runs right before its op
        op._attrs["marker"] = m
    return m


def _marker_deps(op):
    """Control inputs for a gradient op of `op` built in the current graph: the record marker when the
    forward op is in this graph (else the enclosing functional op's recording plan runs the marker)."""
    m = _record_marker(op)
    return [m] if op.graph is get_default_graph() else []


class TraceRequest(OpDef):
    """Asks its functional op (attr `target`) to record what its gradient needs in this run."""
    stateful = True
    grad = None

    def infer(op):
        return []

    def kernel(op, ctx):
        flag = _record_flag(ctx, op._attrs["target"])

        def ask():
            flag.on = True
        return ask


class _RecordingFunction:
    """A function graph compiled to also fetch the values its gradients requested (recompiled as gradients ask
    for more) and to run the record markers of the functional ops inside it whose traces are requested."""

    def __init__(self, ctx, graph, feeds, outputs, request):
        self.ctx, self.graph, self.feeds, self.outputs, self.request = ctx, graph, feeds, outputs, request
        self.compiled = (-1, None)   # (request length, function): swapped as one, for concurrent runs
        self.lock = threading.Lock()

    def get(self):
        compiled = self.compiled
        if compiled[0] != len(self.request):
            with self.lock:
                n = len(self.request)
                wanted = self.request[:n]
                markers = [t.op._attrs["marker"] for t in wanted
                           if t.op.type in ("While", "If") and t is t.op._outputs[-1] and "marker" in t.op._attrs]
                compiled = self.compiled = (n, _fg.CompiledFunction(self.ctx, self.graph, self.feeds,
                                                                    self.outputs + wanted, extra=markers))
        return compiled


class _EmptyRecords:
    """The records of a loop whose gradient needs no forward values: () for every iteration."""

    def __getitem__(self, i):
        return ()


_EMPTY_RECORDS = _EmptyRecords()


class _Trace:
    """What a While/If run recorded for its gradient (the value of its last output, of dtype string):
    per iteration, the values of the forward function's tensors that the gradient function uses."""

    __slots__ = ("n", "records", "branch", "input_shapes", "slices")

    def __init__(self, n, records, branch, input_shapes, slices=None):
        self.n = n
        self.records = records
        self.branch = branch
        self.input_shapes = input_shapes
        self.slices = slices

    def __repr__(self):
        return "<control flow trace: %d iteration(s)>" % self.n


def _request_index(request, graph):
    """Positions, in the forward op's record, of the intermediates a gradient graph uses (adding new ones)."""
    idx = []
    for t in graph.intermediates:
        if t not in request:
            request.append(t)
        idx.append(request.index(t))
    return idx


def _gradient_graph(name, forward, forward_op_inputs, capture_index, arg_specs, build):
    """Traces a gradient function of `forward` (a FuncGraph): forward captures resolve to the forward op's
    inputs (loop-invariant), other forward tensors become intermediates recorded by the forward op."""
    placeholder_to_outer = {forward.captures[o]: forward_op_inputs[i]
                            for o, i in zip(forward.captures, capture_index)}
    return _fg.trace(name, get_default_graph(), build, arg_specs, name_scope=get_default_graph().get_name_scope(),
                     forward_graphs={forward: placeholder_to_outer.get})


def _grads_by_input(n_inputs, grads, input_index):
    """One gradient per op input; an input that is both a loop variable and a capture gets the sum."""
    from nanotf.ops import math_ops
    result = [None] * n_inputs
    for g, i in zip(grads, input_index):
        result[i] = g if result[i] is None else math_ops.add(result[i], g)
    return result


def _needed_inputs(n_inputs):
    """Per op input, whether tf.gradients wants its gradient (all, when called otherwise)."""
    from nanotf.ops import gradients_impl
    needed = gradients_impl.inputs_needing_gradients()
    return needed if needed is not None and len(needed) == n_inputs else [True] * n_inputs


def _symbolic_gradients(ys, xs, grad_ys):
    from nanotf.ops import gradients_impl
    return gradients_impl.gradients(ys, xs, grad_ys=grad_ys, name="gradients")


# -- While ------------------------------------------------------------------------------------------
class While(OpDef):
    """Runs `body` while `cond` holds (or over the rows of the sliced inputs `xs`, for scan and map_fn).

    Inputs: loop variables, sliced inputs, captures, then maximum_iterations if given. Outputs: the final
    loop variables, the body's per-iteration outputs stacked (scan), and a trace for the gradient."""

    stateful = True   # the body may hold stateful ops (random, assign): never folded or deduplicated

    def infer(op):
        a = op._attrs
        body, n, nx = a["body"], a["n_vars"], a["n_xs"]
        specs = [(t.dtype, t.shape) for t in body.inputs[:n]]
        trips = None
        if a["cond"] is None and nx:
            trips = op._inputs[n].shape[0].value if op._inputs[n].shape.ndims else None
        for y in body.outputs[n:]:
            specs.append((y.dtype, TensorShape([trips]).concatenate(y.shape) if y.shape.ndims is not None
                          else unknown_shape()))
        specs.append((dtypes.string, TensorShape([])))
        return specs

    def kernel(op, ctx):
        return _WhileRunner(op, ctx).run

    samples = [
        # an RNN-like loop: loop var, captured tensors, three iterations
        Sample(lambda x, w: while_loop(lambda i, h: i < 3, lambda i, h: (i + 1, _nn().tanh(h * w) + x),
                                       [0, x])[1], [(2, 3), (2, 3)]),
        # a trip count read from a captured tensor, and a product loop: d/dx x^4
        Sample(lambda x: while_loop(lambda i, y: i < 4, lambda i, y: (i + 1, y * x), [0, _math().abs(x) + 1.0])[1],
               [(3,)]),
        # the for-each-row form (scan): sliced input, stacked outputs, reversed order
        Sample(lambda x, w: scan(lambda a, r: _nn().tanh(a * w + r), x, reverse=True), [(4, 3), (3,)]),
    ]

    def grad(op, *grads):
        return _while_grad(op, grads)


class _WhileRunner:
    def __init__(self, op, ctx):
        a = op._attrs
        self.op, self.ctx, self.a = op, ctx, a
        self.asked = _record_flag(ctx, op)
        self.n, self.nx = a["n_vars"], a["n_xs"]
        self.ny = len(a["body"].outputs) - self.n
        cond = a["cond"]
        self.cond_fn = None if cond is None else _fg.CompiledFunction(
            ctx, cond, cond.inputs + list(cond.captures.values()), cond.outputs)
        body = a["body"]
        self.plain = _fg.CompiledFunction(ctx, body, body.inputs + list(body.captures.values()), body.outputs)
        self.recording = _RecordingFunction(ctx, body, body.inputs + list(body.captures.values()), body.outputs,
                                            a["request"])

    def run(self, *args):
        a, n, nx, ny = self.a, self.n, self.nx, self.ny
        # Record only in runs that also run the gradient: its request marker ran just before this op.
        record = _take_flag(self.asked)
        if record:
            n_request, body_fn = self.recording.get()
            record = n_request > 0   # otherwise every record is empty: one shared () per iteration
        else:
            body_fn = self.plain
        vals = list(args[:n])
        xs = args[n:n + nx]
        body_caps = [args[i] for i in a["body_inputs"]]
        cond_caps = [args[i] for i in a["cond_inputs"]]
        limit = None if a["max_input"] is None else int(args[a["max_input"]])
        if nx:
            rows = len(xs[0]) if np.ndim(xs[0]) else 0
            for x in xs:
                if np.ndim(x) == 0 or len(x) != rows:
                    raise _run_error(self.op, "%s: the inputs to slice must have the same first dimension, got "
                                     "shapes %s" % (self.op.name, [np.shape(x) for x in xs]))
            limit = rows if limit is None else min(limit, rows)
        reverse = a["reverse"]
        ys = [[] for _ in range(ny)]
        records = [] if record else None
        cond_fn = self.cond_fn
        i = 0
        while limit is None or i < limit:
            if cond_fn is not None:
                c = cond_fn(*vals, *cond_caps)[0]
                if np.ndim(c) != 0:
                    raise _run_error(self.op, "%s: the loop condition must be a scalar, got shape %s"
                                     % (self.op.name, np.shape(c)))
                if not c:
                    break
            if nx:
                row = limit - 1 - i if reverse else i
                outs = body_fn(*vals, *[x[row] for x in xs], *body_caps)
            else:
                outs = body_fn(*vals, *body_caps)
            vals = outs[:n]
            for j in range(ny):
                ys[j].append(outs[n + j])
            if record:
                records.append(outs[n + ny:])
            i += 1
        stacked = []
        for j, y in enumerate(ys):
            if reverse:
                y.reverse()
            if y:
                stacked.append(np.stack(y))
            else:
                shape = a["body"].outputs[n + j].shape
                if not shape.is_fully_defined():
                    raise _run_error(self.op, "%s: no iteration ran and the per-iteration output %d has no "
                                     "static shape %s to give an empty result" % (self.op.name, j, shape))
                stacked.append(np.zeros([0] + shape.as_list(), dtype=a["body"].outputs[n + j].dtype.as_numpy_dtype))
        trace = _Trace(i, records if record else (_EMPTY_RECORDS if body_fn is not self.plain else None), None,
                       [np.shape(x) for x in args])
        return builtins.tuple(vals) + builtins.tuple(stacked) + (trace,)


def _while_grad(op, grads):
    a = op._attrs
    n_inputs = len(op._inputs)
    if not a["back_prop"]:
        return [None] * n_inputs
    body, n, nx = a["body"], a["n_vars"], a["n_xs"]
    ny = len(body.outputs) - n
    var_f = [j for j in range(n) if _differentiable(body.inputs[j].dtype)]
    y_f = [j for j in range(ny) if body.outputs[n + j].dtype.is_floating]
    needed = _needed_inputs(n_inputs)
    x_f = [j for j in range(nx) if body.inputs[n + j].dtype.is_floating and needed[n + j]]
    caps = list(body.captures.values())
    cap_f = [k for k, p in enumerate(caps) if _differentiable(p.dtype) and needed[a["body_inputs"][k]]]
    if not var_f and not y_f:
        return [None] * n_inputs
    dvars = [grads[j] if grads[j] is not None else _zero_grad(op.outputs[j]) for j in var_f]
    dys = [grads[n + j] if grads[n + j] is not None else array_ops.zeros_like(op.outputs[n + j]) for j in y_f]
    specs = ([(body.inputs[j].dtype, body.inputs[j].shape, "grad_var") for j in var_f] +
             [(body.outputs[n + j].dtype, body.outputs[n + j].shape, "grad_y") for j in y_f])
    wanted = {}

    def build(*phs):
        dv, dy = phs[:len(var_f)], phs[len(var_f):]
        ys = [body.outputs[j] for j in var_f] + [body.outputs[n + j] for j in y_f]
        xs = [body.inputs[j] for j in var_f] + [body.inputs[n + j] for j in x_f] + [caps[k] for k in cap_f]
        gs = _symbolic_gradients(ys, xs, list(dv) + list(dy))
        outs = [g if g is not None else _zero_grad(d) for g, d in zip(gs[:len(var_f)], dv)]
        wanted["x"] = [(j, g) for j, g in zip(x_f, gs[len(var_f):len(var_f) + len(x_f)]) if g is not None]
        wanted["cap"] = [(k, g) for k, g in zip(cap_f, gs[len(var_f) + len(x_f):]) if g is not None]
        return outs + [g for _, g in wanted["x"]] + [g for _, g in wanted["cap"]]

    gb, outs = _gradient_graph(body.name + "_grad", body, op._inputs, a["body_inputs"], specs, build)
    _fg.finish(gb, outs)
    attrs = {"grad_body": gb, "n_dvars": len(var_f), "n_dys": len(y_f), "forward": op.name,
             "record_index": _request_index(a["request"], gb), "reverse": a["reverse"],
             "out_specs": ([(body.inputs[j].dtype, op._inputs[j].shape) for j in var_f] +
                           [(body.inputs[n + j].dtype, op._inputs[n + j].shape) for j, _ in wanted["x"]] +
                           [(caps[k].dtype, op._inputs[a["body_inputs"][k]].shape) for k, _ in wanted["cap"]]),
             "out_inputs": ([j for j in var_f] + [n + j for j, _ in wanted["x"]] +
                            [a["body_inputs"][k] for k, _ in wanted["cap"]]),
             "slice_outputs": [False] * len(var_f) + [True] * len(wanted["x"]) + [False] * len(wanted["cap"])}
    inputs = dvars + dys + [op.outputs[-1]] + list(gb.captures)
    gop = get_default_graph().create_op("WhileGrad", inputs, attrs, name="WhileGrad",
                                        control_inputs=_outer_deps(gb) + _marker_deps(op))
    return _grads_by_input(n_inputs, gop.outputs, attrs["out_inputs"])


class WhileGrad(OpDef):
    """The gradient of a While: runs the body's gradient function over the recorded iterations in reverse,
    carrying the loop variables' gradients and summing those of the captured tensors."""

    grad = None   # no second-order gradients through loops

    def infer(op):
        return [(dt, sh) for dt, sh in op._attrs["out_specs"]]

    def kernel(op, ctx):
        a = op._attrs
        gb = a["grad_body"]
        fn = _fg.CompiledFunction(ctx, gb, gb.inputs + list(gb.captures.values()) + list(gb.intermediates.values()),
                                  gb.outputs)
        nv, ny, reverse = a["n_dvars"], a["n_dys"], a["reverse"]
        record_index, out_inputs, specs = a["record_index"], a["out_inputs"], a["out_specs"]
        sliced = a["slice_outputs"]
        n_out = len(out_inputs)
        npdt = [dt.as_numpy_dtype for dt, _ in specs]

        def run(*args):
            dv = list(args[:nv])
            dy = args[nv:nv + ny]
            trace = _unwrap(args[nv + ny])
            caps = list(args[nv + ny + 1:])
            if not isinstance(trace, _Trace) or trace.records is None:
                raise _run_error(op, "%s: the forward loop %s recorded nothing for its gradient (was its output "
                                 "fed?)" % (op.name, a["forward"]))
            n = trace.n
            acc = [None] * n_out
            for it in range(n - 1, -1, -1):
                rec = trace.records[it]
                row = n - 1 - it if reverse else it
                outs = fn(*dv, *[y[row] for y in dy], *caps, *[rec[k] for k in record_index])
                dv = list(outs[:nv])
                for q in range(nv, n_out):
                    g = outs[q]
                    if sliced[q]:
                        if acc[q] is None:
                            acc[q] = [None] * n
                        acc[q][row] = g
                    elif npdt[q] is np.object_:   # a TensorArray's gradient: element-wise sum
                        acc[q] = g if acc[q] is None else _flow_add(acc[q], g)
                    elif acc[q] is None:
                        acc[q] = np.array(g, dtype=npdt[q], copy=True)
                    else:
                        np.add(acc[q], g, out=acc[q], casting="unsafe")
            results = dv
            for q in range(nv, n_out):
                shape = trace.input_shapes[out_inputs[q]]
                if acc[q] is None:
                    results.append(_zeros_of(shape, npdt[q]))
                elif sliced[q]:
                    rows = acc[q]
                    if len(rows) < shape[0] or any(r is None for r in rows):   # rows the loop never reached
                        full = [_zeros_of(shape[1:], npdt[q])] * shape[0]
                        full[:len(rows)] = [r if r is not None else full[0] for r in rows]
                        rows = full
                    results.append(np.stack(rows).astype(npdt[q], copy=False))
                else:
                    results.append(acc[q])
            return _kernel_result(results)
        return run


def _loop_var_error(t, shape, out_shape):
    return ValueError("Input tensor '%s' enters the loop with shape %s, but has shape %s after one iteration. To "
                      "allow the shape to vary across iterations, use the `shape_invariants` argument of "
                      "tf.while_loop to specify a less-specific shape." % (t.name, shape, out_shape))


def _build_loop(scope, loop_vars, flat, invariants, cond_fn, body_fn, n_xs=(), max_iter=None, back_prop=True,
                reverse=False, n_ys=None):
    """Traces cond (None: run over the rows of `n_xs`) and body, and creates the While op.

    body_fn(*flat loop var tensors, *x row tensors) -> (flat next loop vars, flat per-iteration outputs)."""
    outer = get_default_graph()
    base = scope[:-1]
    n = len(flat)
    var_specs = [(t.dtype, s, "loop_var") for t, s in zip(flat, invariants)]
    cond_g = None
    if cond_fn is not None:
        def traced_cond(*args):
            c = cond_fn(*args)
            c = convert_to_tensor(c)
            if c.dtype is not dtypes.bool:
                raise TypeError("The loop condition of %r must return a boolean tensor, got %s of dtype %s"
                                % (base, c.name, c.dtype.name))
            if c.shape.ndims not in (None, 0):
                raise ValueError("The loop condition of %r must return a scalar, got shape %s" % (base, c.shape))
            return [c]
        cond_g, c_out = _fg.trace(base + "/cond", outer, traced_cond, var_specs, name_scope=base)
        _fg.finish(cond_g, c_out)
    x_specs = [(x.dtype, x.shape[1:] if x.shape.ndims else unknown_shape(), "row") for x in n_xs]

    def traced_body(*args):
        nxt, ys = body_fn(*args)
        out = []
        for t, s, v in zip(flat, invariants, nxt):
            v = convert_to_tensor(v, preferred_dtype=t.dtype)
            if v.dtype is not t.dtype:
                raise TypeError("Loop variable %s enters the loop as %s but the body returns %s of dtype %s"
                                % (t.name, t.dtype.name, v.name, v.dtype.name))
            if not _leq_shape(v.shape, s):
                raise _loop_var_error(t, s, v.shape)
            out.append(v)
        return out + [convert_to_tensor(y) for y in ys]
    body_g, b_out = _fg.trace(base + "/body", outer, traced_body, var_specs + x_specs, name_scope=base)
    _fg.finish(body_g, b_out)
    inputs = list(flat) + list(n_xs)
    cond_idx = _index_inputs(cond_g, inputs) if cond_g is not None else []
    body_idx = _index_inputs(body_g, inputs)
    max_idx = None
    if max_iter is not None:
        inputs.append(max_iter)
        max_idx = len(inputs) - 1
    attrs = {"cond": cond_g, "body": body_g, "n_vars": n, "n_xs": len(n_xs), "cond_inputs": cond_idx,
             "body_inputs": body_idx, "max_input": max_idx, "back_prop": bool(back_prop), "reverse": bool(reverse),
             "request": []}
    deps = _outer_deps(*([cond_g, body_g] if cond_g is not None else [body_g]))
    op = outer.create_op("While", inputs, attrs, name=scope, control_inputs=deps)
    return op.outputs[:n], op.outputs[n:-1]


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10, back_prop=True,
               swap_memory=False, name=None, maximum_iterations=None, return_same_structure=False):
    """Repeats `body` while `cond` is true (TF 1.x's tf.while_loop).

    cond(*loop_vars) -> boolean scalar; body(*loop_vars) -> next loop_vars (same structure, dtypes and
    shapes, or shapes allowed by `shape_invariants`). Returns the final loop_vars; as in TF 1.x, a single
    loop variable in a list comes back as a tensor unless return_same_structure=True. The body runs as a
    compiled function graph per iteration; gradients flow through the iterations in reverse."""
    if not callable(cond):
        raise TypeError("cond must be callable.")
    if not callable(body):
        raise TypeError("body must be callable.")
    if parallel_iterations < 1:
        raise TypeError("parallel_iterations must be a positive integer.")
    if loop_vars is None or (_is_nested(loop_vars) and not _flatten(loop_vars)):
        raise ValueError("No loop variables provided")
    packed_single = not _is_nested(loop_vars)
    if packed_single:
        loop_vars = [loop_vars]
    try_to_pack = len(loop_vars) == 1 and not return_same_structure
    leaves = _flatten(loop_vars)
    wraps = _rewrappers(leaves)
    with name_scope(name, "while", [v for v in leaves if isinstance(v, Tensor)]) as scope:
        flat = [convert_to_tensor(_as_flat_tensor(v)) for v in leaves]
        if shape_invariants is None:
            invariants = [t.shape for t in flat]
        else:
            if packed_single or (len(loop_vars) == 1 and not _is_nested(shape_invariants)):
                shape_invariants = [shape_invariants]
            inv = _flatten_shapes(shape_invariants)
            if len(inv) != len(flat):
                raise ValueError("shape_invariants has %d shapes for %d loop variables" % (len(inv), len(flat)))
            invariants = []
            for t, s, w in zip(flat, inv, wraps):
                s = t.shape if w is not None else as_shape(s)   # a TensorArray's flow is always a scalar
                if not _leq_shape(t.shape, s):
                    raise ValueError("The shape invariant specified for %s is not compatible with the initial "
                                     "shape of the loop variable. It enters the loop with shape %s, but the "
                                     "specified shape invariant is %s." % (t.name, t.shape, s))
                invariants.append(s)
        max_iter = None
        if maximum_iterations is not None:
            max_iter = convert_to_tensor(maximum_iterations, name="maximum_iterations")
            if not max_iter.dtype.is_integer or max_iter.shape.ndims not in (None, 0):
                raise ValueError("maximum_iterations must be a scalar integer tensor, got %s" % (max_iter,))

        def call(fn, args, what):
            packed = _pack_as(loop_vars, _rewrap(wraps, args))
            return fn(*packed)

        def body_fn(*args):
            res = call(body, args, "body")
            if try_to_pack and not isinstance(res, (list, builtins.tuple)):
                res = [res]
            if not _same_structure(loop_vars, res) or len(_flatten(res)) != len(flat):
                raise ValueError("The body of %r must return the structure of loop_vars: %d loop variables %s, "
                                 "got %r" % (scope[:-1], len(flat), _structure_repr(loop_vars), res))
            return [_as_flat_tensor(r) for r in _flatten(res)], []
        outs, _ = _build_loop(scope, loop_vars, flat, invariants, lambda *a: call(cond, a, "cond"), body_fn,
                              max_iter=max_iter, back_prop=back_prop)
    outs = _rewrap(wraps, outs)
    if try_to_pack:
        return outs[0]
    return _pack_as(loop_vars, outs)


def _structure_repr(s):
    return repr(_pack_as(s, ["x"] * len(_flatten(s))))


def _flatten_shapes(s):
    """Leaves of a shape_invariants structure: TensorShapes, or lists of dims at the innermost level."""
    if isinstance(s, TensorShape) or s is None:
        return [s]
    if isinstance(s, dict):
        return [x for k in sorted(s) for x in _flatten_shapes(s[k])]
    if isinstance(s, (list, builtins.tuple)):
        if all(d is None or isinstance(d, (int, np.integer)) for d in s) and not any(
                isinstance(d, (list, builtins.tuple)) for d in s):
            return [TensorShape(list(s))]
        return [x for v in s for x in _flatten_shapes(v)]
    return [as_shape(s)]


# -- If ---------------------------------------------------------------------------------------------
class If(OpDef):
    """Runs one of two function graphs: `then` when input 0 (the predicate) is true, else `else`.
    Inputs: the predicate, then every tensor either branch captures. Outputs: the branch's outputs and
    a trace for the gradient (the branch taken and the values its gradient needs)."""

    stateful = True   # a branch may hold stateful ops: never folded or deduplicated

    def infer(op):
        return [(dt, sh) for dt, sh in op._attrs["out_specs"]] + [(dtypes.string, TensorShape([]))]

    def kernel(op, ctx):
        a = op._attrs
        branches = (a["else"], a["then"])
        index = (a["else_inputs"], a["then_inputs"])
        requests = (a["else_request"], a["then_request"])
        plain = [_fg.CompiledFunction(ctx, g, list(g.captures.values()), g.outputs) for g in branches]
        recording = [_RecordingFunction(ctx, g, list(g.captures.values()), g.outputs, r)
                     for g, r in zip(branches, requests)]
        asked = _record_flag(ctx, op)
        n_out = len(a["out_specs"])

        def run(pred, *args):
            if np.ndim(pred) != 0:
                raise _run_error(op, "%s: the predicate must be a scalar, got shape %s" % (op.name, np.shape(pred)))
            b = 1 if pred else 0
            if _take_flag(asked):   # this run also runs the gradient
                fn = recording[b].get()[1]
                vals = fn(*[args[i - 1] for i in index[b]])
                trace = _Trace(1, [vals[n_out:]], b, [()] + [np.shape(x) for x in args])
            else:
                vals = plain[b](*[args[i - 1] for i in index[b]])
                trace = _Trace(1, None, b, ())
            return _kernel_result(builtins.tuple(vals[:n_out]) + (trace,))
        return run

    def grad(op, *grads):
        return _if_grad(op, grads)

    samples = [
        Sample(lambda p, x, y: cond(p, lambda: x * y, lambda: _math().exp(x) - y), [np.array(True), (3,), (3,)]),
        Sample(lambda p, x, y: cond(p, lambda: x * y, lambda: _math().exp(x) - y), [np.array(False), (3,), (3,)]),
    ]


def _if_grad(op, grads):
    a = op._attrs
    n_out = len(a["out_specs"])
    out_f = [j for j in range(n_out) if _differentiable(a["out_specs"][j][0])]
    if not out_f:
        return [None] * len(op._inputs)
    dys = [grads[j] if grads[j] is not None else _zero_grad(op.outputs[j]) for j in out_f]
    specs = [(op.outputs[j].dtype, op.outputs[j].shape, "grad_y") for j in out_f]
    needed = _needed_inputs(len(op._inputs))
    graphs, outputs_for = [], []
    for key in ("else", "then"):
        fwd = a[key]
        caps = list(fwd.captures.values())
        cap_f = [k for k, p in enumerate(caps) if _differentiable(p.dtype) and needed[a[key + "_inputs"][k]]]
        wanted = []

        def build(*dy, fwd=fwd, caps=caps, cap_f=cap_f, wanted=wanted):
            gs = _symbolic_gradients([fwd.outputs[j] for j in out_f], [caps[k] for k in cap_f], list(dy))
            wanted.extend((a[key + "_inputs"][k], g) for k, g in zip(cap_f, gs) if g is not None)
            return [g for _, g in wanted]
        g, outs = _gradient_graph(fwd.name + "_grad", fwd, op._inputs, a[key + "_inputs"], specs, build)
        _fg.finish(g, outs)
        graphs.append(g)
        outputs_for.append([i for i, _ in wanted])
    out_inputs = sorted(set(outputs_for[0]) | set(outputs_for[1]))
    inputs = [op._inputs[0]] + dys + [op.outputs[-1]]
    cap_index = []
    for g in graphs:
        cap_index.append(_index_extra(g, inputs))
    attrs = {"graphs": graphs, "n_dys": len(dys), "forward": op.name, "out_inputs": out_inputs,
             "branch_outputs": [[out_inputs.index(i) for i in o] for o in outputs_for],
             "capture_inputs": cap_index,
             "record_index": [_request_index(a["else_request"], graphs[0]),
                              _request_index(a["then_request"], graphs[1])],
             "out_specs": [(op._inputs[i].dtype, op._inputs[i].shape) for i in out_inputs]}
    gop = get_default_graph().create_op("IfGrad", inputs, attrs, name="IfGrad",
                                        control_inputs=_outer_deps(*graphs) + _marker_deps(op))
    return _grads_by_input(len(op._inputs), gop.outputs, out_inputs)


def _index_extra(graph, inputs):
    idx = []
    for outer in graph.captures:
        if not any(outer is x for x in inputs):
            inputs.append(outer)
        idx.append(next(k for k, x in enumerate(inputs) if x is outer))
    return idx


class IfGrad(OpDef):
    """The gradient of an If: runs the gradient function of the branch the forward run took; the tensors
    only the other branch uses get zeros."""

    grad = None   # no second-order gradients through conds

    def infer(op):
        return [(dt, sh) for dt, sh in op._attrs["out_specs"]]

    def kernel(op, ctx):
        a = op._attrs
        fns = [_fg.CompiledFunction(ctx, g, g.inputs + list(g.captures.values()) + list(g.intermediates.values()),
                                    g.outputs) for g in a["graphs"]]
        n_dys = a["n_dys"]
        out_inputs = a["out_inputs"]
        npdt = [dt.as_numpy_dtype for dt, _ in a["out_specs"]]

        def run(pred, *args):
            dys = args[:n_dys]
            trace = _unwrap(args[n_dys])
            if not isinstance(trace, _Trace) or trace.records is None:
                raise _run_error(op, "%s: the forward cond %s recorded nothing for its gradient (was its output "
                                 "fed?)" % (op.name, a["forward"]))
            b = trace.branch
            rec = trace.records[0]
            vals = fns[b](*dys, *[args[i - 1] for i in a["capture_inputs"][b]], *[rec[k] for k in a["record_index"][b]])
            out = [None] * len(out_inputs)
            for v, q in zip(vals, a["branch_outputs"][b]):
                out[q] = v
            return _kernel_result([v if v is not None else _zeros_of(trace.input_shapes[i], npdt[q])
                                   for q, (v, i) in enumerate(zip(out, out_inputs))])
        return run


def cond(pred, true_fn=None, false_fn=None, strict=False, name=None, fn1=None, fn2=None):
    """Returns true_fn() if pred is true, else false_fn() (TF 1.x's tf.cond). Only the branch taken runs.

    Each branch is traced into a function graph of its own; tensors from outside that a branch uses are
    inputs of the If op. Gradients flow to the branch taken; the other branch's inputs get zeros. As in
    TF 1.x, a branch returning a one-element list gives a tensor unless strict=True."""
    if fn1 is not None:
        if true_fn is not None:
            raise TypeError("cond(): true_fn and fn1 may not be set simultaneously.")
        true_fn = fn1
    if fn2 is not None:
        if false_fn is not None:
            raise TypeError("cond(): false_fn and fn2 may not be set simultaneously.")
        false_fn = fn2
    if not callable(true_fn):
        raise TypeError("true_fn must be callable.")
    if not callable(false_fn):
        raise TypeError("false_fn must be callable.")
    if isinstance(pred, bool):   # TF 1.x's rule; a NumPy bool becomes a constant, as in TF
        raise TypeError("pred must not be a Python bool")
    with name_scope(name, "cond", [pred]) as scope:
        pred = convert_to_tensor(pred)
        if pred.dtype is not dtypes.bool:
            raise TypeError("pred must be a boolean scalar tensor, got %s of dtype %s" % (pred.name, pred.dtype.name))
        if pred.shape.ndims not in (None, 0):
            raise ValueError("pred must be a scalar, got %s of shape %s" % (pred.name, pred.shape))
        outer = get_default_graph()
        base = scope[:-1]
        results = {}

        def branch(key, fn):
            def traced():
                r = fn()
                if r is None:
                    raise ValueError("%s must have a return value." % ("true_fn" if key == "then" else "false_fn"))
                results[key] = r
                leaves = []
                for v in _flatten(r):
                    leaves.append(v if isinstance(v, Operation) else convert_to_tensor(_as_flat_tensor(v)))
                return leaves
            g, leaves = _fg.trace(base + "/" + ("true" if key == "then" else "false"), outer, traced, [],
                                  name_scope=base)
            tensors = [v for v in leaves if isinstance(v, Tensor)]
            _fg.finish(g, tensors)
            g.control_outputs += [v for v in leaves if isinstance(v, Operation) and v not in g.control_outputs]
            return g, leaves
        then_g, then_leaves = branch("then", true_fn)
        else_g, else_leaves = branch("else", false_fn)
        if not _same_structure(results["then"], results["else"]) or len(then_leaves) != len(else_leaves):
            raise ValueError("Outputs of true_fn and false_fn must have the same structure: %r and %r"
                             % (results["then"], results["else"]))
        out_specs = []
        for t, f in zip(then_leaves, else_leaves):
            if isinstance(t, Operation) or isinstance(f, Operation):
                if not (isinstance(t, Operation) and isinstance(f, Operation)):
                    raise ValueError("Outputs of true_fn and false_fn must both be tensors or both be operations: "
                                     "%r and %r" % (t, f))
                continue
            if t.dtype is not f.dtype:
                raise ValueError("Outputs of true_fn and false_fn must have the same type: %s, %s"
                                 % (t.dtype.name, f.dtype.name))
            out_specs.append((t.dtype, _most_specific_compatible(t.shape, f.shape)))
        inputs = [pred]
        attrs = {"then": then_g, "else": else_g, "then_inputs": _index_inputs(then_g, inputs),
                 "else_inputs": _index_inputs(else_g, inputs), "out_specs": out_specs,
                 "then_request": [], "else_request": []}
        op = outer.create_op("If", inputs, attrs, name=scope, control_inputs=_outer_deps(then_g, else_g))
    outs = iter(_rewrap(_rewrappers(_flatten(results["then"])), op.outputs[:-1]))
    flat = [op if isinstance(t, Operation) else next(outs) for t in then_leaves]
    res = _pack_as(results["then"], flat) if _is_nested(results["then"]) else flat[0]
    if not strict and isinstance(res, (list, builtins.tuple)) and not hasattr(res, "_fields") and len(res) == 1:
        res = res[0]
    return res


def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name="case"):
    """TF 1.x's tf.case: the tensors of the first fn whose predicate is true, else default()'s.

    pred_fn_pairs is a list of (boolean scalar, callable) pairs or a dict; without `default` the last
    pair's callable serves as the default. Built as nested conds, so only the chosen callable's ops run.
    With exclusive=True, a run where more than one predicate holds fails with InvalidArgumentError."""
    if isinstance(pred_fn_pairs, dict):
        pairs = list(pred_fn_pairs.items())
    elif isinstance(pred_fn_pairs, (list, builtins.tuple)):
        pairs = list(pred_fn_pairs)
    else:
        raise TypeError("pred_fn_pairs must be a list or a dict, got %r" % (pred_fn_pairs,))
    for pair in pairs:
        if not isinstance(pair, builtins.tuple) or len(pair) != 2:
            raise TypeError("Each entry in pred_fn_pairs must be a 2-tuple, got %r" % (pair,))
        p, fn = pair
        if not callable(fn):
            raise TypeError("fn for pred %s must be callable." % getattr(p, "name", p))
        if isinstance(p, bool) or convert_to_tensor(p).dtype is not dtypes.bool:
            raise TypeError("pred must be a boolean scalar tensor, got %r" % (p,))
    preds = [p for p, _ in pairs]
    if default is None:
        if not pairs:
            raise ValueError("case needs at least one (pred, fn) pair or a default")
        pairs, default = pairs[:-1], pairs[-1][1]
    elif not callable(default):
        raise TypeError("default must be callable.")
    with name_scope(name, "case", preds):
        checks = []
        if exclusive and len(preds) > 1:
            checks = [apply_op("AssertAtMostOneTrue", [convert_to_tensor(p) for p in preds], name="Assert")]

        def chain(k):
            if k == len(pairs):
                return default()
            return cond(pairs[k][0], pairs[k][1], lambda: chain(k + 1), strict=True)
        with control_dependencies(checks):
            res = chain(0)
    if not strict and isinstance(res, (list, builtins.tuple)) and not hasattr(res, "_fields") and len(res) == 1:
        res = res[0]
    return res


# map_fn, scan, foldl, foldr are While ops over rows (ops/functional_ops.py); exported as tf.* from here
from nanotf.ops.functional_ops import foldl, foldr, map_fn, scan  # noqa: E402

__all__ += ["map_fn", "scan", "foldl", "foldr"]


class AssertAtMostOneTrue(OpDef):
    """Fails the run when more than one of its boolean scalar inputs is true (tf.case(exclusive=True))."""
    stateful = True
    grad = None

    def infer(op):
        return []

    def kernel(op, ctx):
        names = [t.name for t in op._inputs]

        def check(*preds):
            true = [n for n, p in zip(names, preds) if p]
            if len(true) > 1:
                raise errors.InvalidArgumentError(None, op, "Input error: exclusive=True and more than one predicate "
                                                  "evaluated to True: %s" % ", ".join(true))
        return check


def switch_case(branch_index, branch_fns, default=None, name="switch_case"):
    """TF's tf.switch_case: runs branch_fns[branch_index] (a list of callables, of (int, callable) pairs, or a
    dict int -> callable); an index with no branch runs `default`, or the last branch when there is none."""
    if isinstance(branch_fns, dict):
        items = sorted(branch_fns.items())
    elif isinstance(branch_fns, (list, builtins.tuple)) and branch_fns and isinstance(branch_fns[0], builtins.tuple):
        items = list(branch_fns)
    else:
        items = list(enumerate(branch_fns))
    if not items:
        raise ValueError("Must provide at least one item in branch_fns")
    for k, fn in items:
        if not isinstance(k, (int, np.integer)) or not callable(fn):
            raise TypeError("branch_fns must hold (int, callable) pairs, got %r" % ((k, fn),))
    with name_scope(name, "switch_case", [branch_index]):
        index = convert_to_tensor(branch_index, name="branch_index")
        if not index.dtype.is_integer or index.shape.ndims not in (None, 0):
            raise TypeError("branch_index must be a scalar integer tensor, got %s" % (index,))
        from nanotf.ops import math_ops
        pairs = [(math_ops.equal(index, math_ops.cast(k, index.dtype)), fn) for k, fn in items]
        return case(pairs, default=default if default is not None else items[-1][1], name=None)


__all__ += ["switch_case"]
