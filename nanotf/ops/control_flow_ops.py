"""Control ops: no_op, group, tuple (ordering by control dependencies; no data flows)."""
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
