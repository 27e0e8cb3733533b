"""Control ops: no_op, group, tuple (ordering by control dependencies), and TF 1.x's control flow API:
cond (ops/cond_v2.py), while_loop (ops/while_v2.py), case, switch_case, map_fn/scan/foldl/foldr
(ops/functional_ops.py), TensorArray (ops/tensor_array_ops.py). See docs/tf1_api/control_flow.md."""
import builtins

from nanotf.framework.op_def import OpDef
from nanotf.framework.ops import Operation, Tensor, apply_op, control_dependencies, get_default_graph, name_scope
from nanotf.ops import array_ops

__all__ = ["no_op", "group", "tuple", "with_dependencies"]


class NoOp(OpDef):
    def infer(op):
        return []

    def kernel(op, ctx):
        return lambda: None

    def lower(op, *inputs):
        return ()

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


# -- TF 1.x's control flow: functional ops holding traced function graphs
import numpy as np  # noqa: E402

from nanotf.framework import dtypes, errors  # noqa: E402
from nanotf.framework.ops import convert_to_tensor, init_scope  # noqa: E402,F401  (tf.init_scope)
from nanotf.ops.cond_v2 import cond  # noqa: E402
from nanotf.ops.control_flow_util import EffectOp  # noqa: E402
from nanotf.ops.tensor_array_ops import TensorArray  # noqa: E402,F401
from nanotf.ops.while_v2 import while_loop  # noqa: E402,F401

__all__ += ["cond", "while_loop", "case", "TensorArray", "init_scope"]


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


class AssertAtMostOneTrue(EffectOp):
    """Fails the run when more than one of its boolean scalar inputs is true (tf.case(exclusive=True))."""

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
