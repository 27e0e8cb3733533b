"""tf.cond as an If op holding each branch as a traced function graph (TF 2's If), and its gradient,
IfGrad: the gradient function of the branch the forward run took."""
import builtins

import numpy as np

from nanotf.framework import dtypes
from nanotf.framework import func_graph as _fg
from nanotf.framework import lowering as xla
from nanotf.framework.op_def import OpDef, Sample
from nanotf.framework.ops import Operation, Tensor, convert_to_tensor, get_default_graph, name_scope
from nanotf.framework.tensor_shape import TensorShape
from nanotf.ops.control_flow_util import (XlaTrace, _RecordingFunction, _Trace, _as_flat_tensor, _as_jax,
                                         _flatten, _gradient_graph, _grads_by_input, _index_inputs,
                                         _inner_key, _is_nested, _kernel_result, _lower_graph, _marker_deps, _math,
                                         _most_specific_compatible, _needed_inputs, _outer_deps, _pack_as,
                                         _record_flag, _request_index, _rewrap, _rewrappers, _run_error,
                                         _same_structure, _symbolic_gradients, _take_flag, _unwrap, _xla_unsupported,
                                         _zero_grad, _zeros_of)
from nanotf.ops.gradients_impl import _differentiable

__all__ = ["cond"]


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

    # XLA: lax.cond over the two branch graphs, lowered op by op; random ops inside draw from this op's key
    lower_takes_key = True
    lower_passes_handles = True   # the trace output is an XlaTrace the IfGrad lowering reads

    def lower(op, key, pred, *args):
        a = op._attrs
        key_for = lambda inner: _inner_key(key, inner._id)   # noqa: E731
        outs = _select(pred, *[_branch_fn(a[k], [args[i - 1] for i in a[k + "_inputs"]], a["out_specs"], key_for)
                               for k in ("else", "then")])
        trace = XlaTrace(inputs=(pred,) + args, input_shapes=[()] + [np.shape(x) for x in args], key_for=key_for)
        return tuple(outs) + (trace,)

    def grad(op, *grads):
        return _if_grad(op, grads)

    samples = [
        Sample(lambda p, x, y: cond(p, lambda: x * y, lambda: _math().exp(x) - y), [np.array(True), (3,), (3,)]),
        Sample(lambda p, x, y: cond(p, lambda: x * y, lambda: _math().exp(x) - y), [np.array(False), (3,), (3,)]),
    ]


def _branch_fn(graph, captured, out_specs, key_for):
    """() -> the branch's outputs as JAX arrays of the op's output dtypes (lax.cond needs both alike)."""
    def run():
        env = dict(zip(graph.captures.values(), captured))
        outs = _lower_graph(graph, env, graph.outputs, key_for)
        return tuple(_as_jax(v, dt.as_numpy_dtype) for v, (dt, _) in zip(outs, out_specs))
    return run


def _select(pred, else_fn, then_fn):
    """lax.cond(pred, then_fn, else_fn); a predicate known while tracing picks its branch then and there."""
    if xla.is_concrete(pred):
        return then_fn() if bool(pred) else else_fn()
    return xla.lax.cond(pred, then_fn, else_fn)


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
    cap_index = [_index_inputs(g, inputs) for g in graphs]
    attrs = {"graphs": graphs, "n_dys": len(dys), "forward": op.name, "out_inputs": out_inputs,
             "branch_outputs": [[out_inputs.index(i) for i in o] for o in outputs_for],
             "capture_inputs": cap_index,
             "record_index": [_request_index(a["else_request"], graphs[0]),
                              _request_index(a["then_request"], graphs[1])],
             "out_specs": [(op._inputs[i].dtype, op._inputs[i].shape) for i in out_inputs]}
    gop = get_default_graph().create_op("IfGrad", inputs, attrs, name="IfGrad",
                                        control_inputs=_outer_deps(*graphs) + _marker_deps(op))
    return _grads_by_input(len(op._inputs), gop.outputs, out_inputs)


class IfGrad(OpDef):
    """The gradient of an If: runs the gradient function of the branch the forward run took; the tensors
    only the other branch uses get zeros."""

    grad = None   # no second-order gradients through conds

    def infer(op):
        return [(dt, sh) for dt, sh in op._attrs["out_specs"]]

    # XLA: lax.cond over the two gradient graphs; the forward values a gradient graph reads are recomputed in its
    # branch from the forward If's inputs (kept in the trace), with the forward's random keys
    lower_passes_handles = True

    def lower(op, pred, *args):
        a = op._attrs
        n_dys = a["n_dys"]
        trace = args[n_dys]
        if not isinstance(trace, XlaTrace):
            raise _xla_unsupported(op, "the forward cond %s did not run in this XLA computation" % a["forward"])
        forward = op._inputs[1 + n_dys]._op
        specs = [(dt.as_numpy_dtype, trace.input_shapes[i]) for (dt, _), i in zip(a["out_specs"], a["out_inputs"])]

        def branch(b, key):
            def run():
                fwd, g = forward._attrs[key], a["graphs"][b]
                fwd_env = dict(zip(fwd.captures.values(), [trace.inputs[i] for i in forward._attrs[key + "_inputs"]]))
                recorded = _lower_graph(fwd, fwd_env, list(g.intermediates), trace.key_for, control_outputs=False)
                env = dict(zip(g.inputs, args[:n_dys]))
                env.update(zip(g.captures.values(), [args[i - 1] for i in a["capture_inputs"][b]]))
                env.update(zip(g.intermediates.values(), recorded))
                vals = _lower_graph(g, env, g.outputs)
                out = [xla.jnp.zeros(shape, dt) for dt, shape in specs]
                for v, q in zip(vals, a["branch_outputs"][b]):
                    out[q] = _as_jax(v, specs[q][0])
                return tuple(out)
            return run
        outs = _select(pred, branch(0, "else"), branch(1, "then"))
        return outs if len(outs) > 1 else outs[0]

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
