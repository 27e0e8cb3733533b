"""What the functional control-flow ops share (ops/while_v2.py, ops/cond_v2.py, ops/functional_ops.py):
TF's nested structures, TensorArray leaves, the per-run recording of forward values for gradients, and the
building of gradient function graphs. See docs/tf1_api/control_flow.md."""
import builtins
import dataclasses
import threading

import numpy as np

from nanotf.framework import errors
from nanotf.framework import func_graph as _fg
from nanotf.framework.op_def import OpDef
from nanotf.framework.ops import Graph, get_default_graph
from nanotf.framework.tensor_shape import TensorShape, unknown_shape
from nanotf.ops import array_ops
from nanotf.ops.tensor_array_ops import TensorArray


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


def _positions(items, into):
    """The position of each of `items` in the list `into`, appending those not in it yet."""
    idx = []
    for t in items:
        if t not in into:
            into.append(t)
        idx.append(into.index(t))
    return idx


def _index_inputs(graph, inputs):
    """Op input positions of a function graph's captures, adding new captures to `inputs`."""
    return _positions(graph.captures, inputs)


def _outer_deps(*graphs):
    deps = []
    for g in graphs:
        deps.extend(d for d in g.outer_control_deps if d not in deps)
    return deps


def _zeros_of(shape, dtype):
    """A zero gradient: zeros of that shape, or None (zero) for a TensorArray flow (object dtype)."""
    return None if dtype is np.object_ else np.zeros(shape, dtype=dtype)


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


class EffectOp(OpDef):
    """Base of the control-flow ops run for their effect on a run (a check, a request), with no outputs:
    stateful (never folded away) and not differentiable."""
    abstract = True
    stateful = True
    grad = None

    def infer(op):
        return []


class TraceRequest(EffectOp):
    """Asks its functional op (attr `target`) to record what its gradient needs in this run."""

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


@dataclasses.dataclass(slots=True, eq=False)
class _Trace:
    """What a While/If run recorded for its gradient (the value of its last output, of dtype string):
    per iteration, the values of the forward function's tensors that the gradient function uses."""
    n: int                  # iterations run
    records: object         # per iteration, the recorded values (None: nothing was recorded)
    branch: object          # the If branch taken (None for a While)
    input_shapes: list      # the shapes of the op's inputs in this run

    def __repr__(self):
        return "<control flow trace: %d iteration(s)>" % self.n


def _request_index(request, graph):
    """Positions, in the forward op's record, of the intermediates a gradient graph uses (adding new ones)."""
    return _positions(graph.intermediates, request)


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


# -- XLA lowerings of the functional ops (docs/tf1_api/control_flow.md, "On the XLA backend")
# A branch or body graph lowers op by op with the executable's own machinery (nanotf/xla/executable.lower_ops)
# inside lax.cond / lax.scan / lax.while_loop. JAX is reached only through nanotf.framework.lowering, at call time.
class XlaTrace:
    """The value of an If/While's last output while an XLA step is traced: what the gradient op's lowering reads
    (the forward op's input values and shapes, a key function, per-iteration records). It never leaves the
    computation; it has a string scalar's dtype and shape for the executable's output check."""
    dtype = np.dtype(object)
    shape = ()

    def __init__(self, **fields):
        self.__dict__.update(fields)


def _xla_unsupported(op, msg):
    return errors.UnimplementedError(None, op, "%s '%s' on the XLA backend: %s; run this graph on the NumPy backend"
                                     % (op.type, op.name, msg))


def _function_ops(graph, wanted, known, control_outputs=True):
    """The ops of function graph `graph` that computing `wanted` (and, with `control_outputs`, its stateful ops)
    needs, given the tensors in `known`, in creation order (a topological order)."""
    needed = set()
    stack = [t.op for t in wanted if t not in known]
    if control_outputs:
        stack += list(graph.control_outputs)
    while stack:
        op = stack.pop()
        if op in needed or op.type == "TraceRequest":   # record markers are NumPy-side flags
            continue
        if op.graph is not graph:
            raise _xla_unsupported(op, "used directly inside the function graph %r (a variable's storage, as "
                                       "read_value() or an assign inside a loop or cond uses it)" % graph.name)
        needed.add(op)
        stack.extend(t.op for t in op._inputs if t not in known)
        stack.extend(op._control_inputs)
    return sorted(needed, key=lambda o: o._id)


def _fold_runtime():
    """A runtime whose kernels fold pure ops over values known while tracing (no session state involved)."""
    from nanotf.compiler.runtime import Runtime
    return Runtime(None)


def _lower_graph(graph, env, wanted, key_for=None, control_outputs=True):
    """Lowers what `wanted` needs of function graph `graph` over `env` (its placeholders' values); returns the
    values of `wanted`. `key_for(op)` gives the random ops inside their keys."""
    from nanotf.xla.executable import lower_ops
    ops = _function_ops(graph, wanted, env, control_outputs)

    def no_key(op):
        raise _xla_unsupported(op, "a random op inside a gradient function")
    lower_ops(ops, env, {}, _fold_runtime(), key_for or no_key)
    return [env[t] for t in wanted]


def _inner_key(key, *salt):
    """The key of a random op inside a function graph: the enclosing op's key of this run folded with the op's
    id (and the iteration, in a loop)."""
    from nanotf.framework import lowering as xla
    for s in salt:
        key = xla.jax.random.fold_in(key, s)
    return key


def _as_jax(x, dtype):
    """A lowered value as a JAX array of `dtype` (a NumPy constant becomes one; loop carries need arrays)."""
    from nanotf.framework import lowering as xla
    return xla.jnp.asarray(x, dtype=dtype)


def _static_int(x):
    """x as a Python int when known while tracing, else None."""
    from nanotf.framework import lowering as xla
    return int(np.asarray(x)) if xla.is_concrete(x) else None
