"""Variable storage ops. Values live in the Session (`ctx.variables`), never in the graph.

VariableV2 returns the stored array itself (no copy); Assign/AssignAdd/AssignSub update it in
place when the shape is unchanged and return it (`view_map = {0: (0,)}`: output 0 is the storage of
the variable at input 0). The plan copies a fetched value that aliases this storage.
"""
import numpy as np

from nanotf.framework import errors
from nanotf.framework import lowering as xla
from nanotf.framework.op_def import OpDef, Sample
from nanotf.framework.ops import Tensor, apply_op, convert_to_tensor
from nanotf.framework.tensor_shape import TensorShape

__all__ = ["assign", "assign_add", "assign_sub"]


def _uninitialized(op):
    return errors.FailedPreconditionError(None, op, "Attempting to use uninitialized value %s" % op.name)


class VariableV2(OpDef):
    stateful = True
    grad = None

    def infer(op):
        return op._attrs["dtype"], op._attrs["shape"]

    def kernel(op, ctx):
        store = ctx.variables

        def read():
            try:
                return store[op]
            except KeyError:
                raise _uninitialized(op) from None
        return read


def sample_variable(t):
    """A variable initialized from the tensor t: the reference a sample of an update op passes."""
    from nanotf.ops.variables import Variable
    return Variable(t)._variable


class Assign(OpDef):
    stateful = True
    ref_inputs = (0,)
    lower_updates_refs = True   # lower(op, ref_value, value) returns the variable's new value
    view_map = {0: (0,)}   # the variable's storage (a new array when validate_shape=False changes its shape)
    grad = None

    def infer(op):
        ref, value = op._inputs
        if op._attrs.get("validate_shape", True) and not ref.shape.is_compatible_with(value.shape):
            raise ValueError("Shapes %s and %s are incompatible in '%s' (op: 'Assign') for variable %s"
                             % (ref.shape, value.shape, op.name, ref.op.name))
        if ref.dtype is not value.dtype:
            raise TypeError("Assign %r: value of dtype %s cannot be assigned to variable %s of dtype %s"
                            % (op.name, value.dtype.name, ref.op.name, ref.dtype.name))
        return ref.dtype, (ref.shape if op._attrs.get("validate_shape", True) else value.shape)

    def kernel(op, ctx):
        store, var = ctx.variables, op._inputs[0].op
        npd = var._attrs["dtype"].as_numpy_dtype
        static = var._attrs["shape"]
        validate = op._attrs.get("validate_shape", True)

        def assign(value):
            cur = store.get(var)
            if cur is not None and cur.shape == np.shape(value):
                np.copyto(cur, value, casting="unsafe")
                return cur
            if validate and not static.is_compatible_with(np.shape(value)):
                raise errors.InvalidArgumentError(None, op, "Assign requires shapes of both tensors to match. "
                                                  "lhs shape= %s rhs shape= %s" % (static, TensorShape(np.shape(value))))
            new = np.array(value, dtype=npd, copy=True)
            store[var] = new
            return new
        return assign

    def lower(op, ref, value):
        return xla.jnp.asarray(value).astype(np.dtype(op._outputs[0].dtype.as_numpy_dtype))

    samples = [Sample(lambda v, x: assign(sample_variable(v), x), [(3, 2), (3, 2)]),
               Sample(lambda v, x: assign(sample_variable(v), x, validate_shape=False), [(3, 2), (2, 2)])]


class _AssignUpdate(OpDef):
    abstract = True
    stateful = True
    ref_inputs = (0,)
    lower_updates_refs = True   # lower(op, ref_value, value) returns the variable's new value
    view_map = {0: (0,)}   # the variable's storage, updated in place
    grad = None

    def infer(op):
        ref, value = op._inputs
        if not ref.shape.is_compatible_with(value.shape):
            raise ValueError("Shapes %s and %s are incompatible in '%s' (op: '%s')" % (ref.shape, value.shape, op.name, op.type))
        return ref.dtype, ref.shape


def _update_kernel(ufunc):
    """A kernel applying `ufunc(variable, value)` to the variable's storage in place."""
    def kernel(op, ctx):
        store, var = ctx.variables, op._inputs[0].op

        def update(value):
            cur = store.get(var)
            if cur is None:
                raise _uninitialized(var)
            ufunc(cur, value, out=cur, casting="unsafe")
            return cur
        return update
    return kernel


class AssignAdd(_AssignUpdate):
    kernel = _update_kernel(np.add)

    def lower(op, ref, value):
        return ref + value
    samples = [Sample(lambda v, x: assign_add(sample_variable(v), x), [(3, 2), (3, 2)])]


class AssignSub(_AssignUpdate):
    kernel = _update_kernel(np.subtract)

    def lower(op, ref, value):
        return ref - value
    samples = [Sample(lambda v, x: assign_sub(sample_variable(v), x), [(3, 2), (3, 2)])]


def _ref(ref):
    if isinstance(ref, Tensor) and ref.op.type == "VariableV2":
        return ref
    if hasattr(ref, "_variable"):
        return ref._variable
    raise TypeError("Expected a Variable (or its VariableV2 tensor) to assign to, got %r" % (ref,))


def assign(ref, value, validate_shape=None, use_locking=None, name=None):
    """Assigns `value` to the variable `ref`; returns the variable's new value."""
    r = _ref(ref)
    v = convert_to_tensor(value, dtype=r.dtype)
    return apply_op("Assign", [r, v], {"validate_shape": validate_shape is not False}, name=name or "Assign")


def assign_add(ref, value, use_locking=None, name=None):
    r = _ref(ref)
    return apply_op("AssignAdd", [r, convert_to_tensor(value, dtype=r.dtype)], name=name or "AssignAdd")


def assign_sub(ref, value, use_locking=None, name=None):
    r = _ref(ref)
    return apply_op("AssignSub", [r, convert_to_tensor(value, dtype=r.dtype)], name=name or "AssignSub")


class IsVariableInitialized(OpDef):
    ref_inputs = (0,)
    grad = None

    def infer(op):
        from nanotf.framework import dtypes
        return dtypes.bool, TensorShape([])

    def kernel(op, ctx):
        store, var = ctx.variables, op._inputs[0].op
        return lambda: np.bool_(var in store)


class ReportUninitializedVariables(OpDef):
    grad = None
    ref_inputs = range(1 << 30)   # every input is a variable reference, never evaluated

    def infer(op):
        from nanotf.framework import dtypes
        return dtypes.string, TensorShape([None])

    def kernel(op, ctx):
        store, vars_ = ctx.variables, [t.op for t in op._inputs]
        return lambda: np.array([v.name.encode() for v in vars_ if v not in store], dtype=object)

