"""Symbolic reverse-mode differentiation: tf.gradients adds gradient ops to the graph.

Like micrograd's backward() but emitting graph ops instead of numbers: walk the ops between
`xs` and `ys` in reverse creation order (creation order is topological), call each op's
`grad` under the scope `gradients/<op name>_grad`, and sum the gradients arriving at a tensor
over every path with AddN.
"""
import threading

import numpy as np

from nanotf.framework.ops import Tensor, convert_to_tensor, name_scope
from nanotf.ops import array_ops, math_ops

__all__ = ["gradients"]

_current = threading.local()


def inputs_needing_gradients():
    """While an op's gradient function runs under tf.gradients: per input of that op, whether any requested
    gradient depends on it (None outside tf.gradients). Functional ops (While, If) use it to differentiate
    their bodies only with respect to the inputs that matter, as TF builds no gradient off the path."""
    return getattr(_current, "needed", None)


def _as_x(x):
    if hasattr(x, "_variable"):
        return x._variable   # d/d(variable) flows through its `read` snapshot
    return convert_to_tensor(x)


def _aggregate(grads):
    if not grads:
        return None
    if len(grads) == 1:
        return grads[0]
    if grads[0].dtype.name == "variant":   # gradients of a TensorArray: summed element by element
        from nanotf.ops import tensor_array_ops
        return tensor_array_ops.add_n_flows(grads)
    return math_ops.add_n(grads)


def _differentiable(dtype):
    """Gradients flow to floating tensors and to TensorArray flows (dtype variant, ops/tensor_array_ops.py)."""
    return dtype.is_floating or dtype.name == "variant"


def gradients(ys, xs, grad_ys=None, name="gradients", colocate_gradients_with_ops=False,
              gate_gradients=False, aggregation_method=None, stop_gradients=None, unconnected_gradients=None):
    """Symbolic d(sum(ys))/d(x) for each x in xs; None where an x does not affect ys."""
    ys = [convert_to_tensor(y) for y in (ys if isinstance(ys, (list, tuple)) else [ys])]
    xs = [_as_x(x) for x in (xs if isinstance(xs, (list, tuple)) else [xs])]
    if grad_ys is not None and not isinstance(grad_ys, (list, tuple)):
        grad_ys = [grad_ys]
    if grad_ys is not None and len(grad_ys) != len(ys):
        raise ValueError("Passed %d grad_ys for %d ys" % (len(grad_ys), len(ys)))
    stops = {convert_to_tensor(s) for s in (stop_gradients or [])}
    stop_ops = {s.op for s in stops}
    with name_scope(name, "gradients", ys + xs):
        # Ops on a path from some x to some y: backward-reachable from ys, forward-reachable from xs.
        back = set()
        stack = [y.op for y in ys]
        while stack:
            op = stack.pop()
            if op in back:
                continue
            back.add(op)
            stack.extend(t.op for t in op._inputs)
        fwd = set()
        stack = [c for x in xs for c in x._consumers]
        while stack:
            op = stack.pop()
            if op in fwd or op not in back:
                continue
            fwd.add(op)
            stack.extend(c for t in op._outputs for c in t._consumers)
        between = fwd
        x_set = set(xs)

        grads = {}
        for i, y in enumerate(ys):
            if grad_ys is not None and grad_ys[i] is not None:
                gy = convert_to_tensor(grad_ys[i], dtype=y.dtype)
            elif y.shape.is_fully_defined():   # a constant the session folds, not an op per run
                gy = array_ops.constant(np.ones(y.shape.as_list(), dtype=y.dtype.as_numpy_dtype),
                                        name="grad_ys_%d" % i)
            else:
                gy = array_ops.ones_like(y, name="grad_ys_%d" % i)
            grads.setdefault(y, []).append(gy)

        for op in sorted(between, key=lambda o: o._id, reverse=True):
            if op in stop_ops:
                continue
            out_grads = [_aggregate(grads.get(t)) for t in op._outputs]
            if all(g is None for g in out_grads):
                continue
            d = op._def
            if d.grad is None:
                continue
            if not d.has_gradient():
                raise LookupError("No gradient defined for operation '%s' (op type: %s)" % (op.name, op.type))
            out_grads = [g if g is not None or not t.dtype.is_floating else array_ops.zeros_like(t)
                         for g, t in zip(out_grads, op._outputs)]
            saved = getattr(_current, "needed", None)
            _current.needed = [(t.op in between or t in x_set) and t not in stops for t in op._inputs]
            try:
                with name_scope(op.name + "_grad"):
                    in_grads = d.grad(op, *out_grads)
            finally:
                _current.needed = saved
            in_grads = list(in_grads) if isinstance(in_grads, (list, tuple)) else [in_grads]
            if len(in_grads) != len(op._inputs):
                raise ValueError("Num gradients %d generated for op %s do not match num inputs %d"
                                 % (len(in_grads), op.name, len(op._inputs)))
            for t, g in zip(op._inputs, in_grads):
                if g is None or t in stops or not _differentiable(t.dtype):
                    continue
                if t.op not in between and t not in x_set:
                    continue
                if isinstance(g, Tensor):
                    g.set_shape(t.shape) if g.shape.is_compatible_with(t.shape) else None
                grads.setdefault(t, []).append(g)
        return [_aggregate(grads.get(x)) for x in xs]
