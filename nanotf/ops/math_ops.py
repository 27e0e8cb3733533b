"""Math ops: elementwise arithmetic with broadcasting, matmul, reductions, casts, comparisons.

Broadcasting binary ops reduce their gradients back to each input's *runtime* shape with the
internal op SumToShapeOf (whose own gradient is BroadcastToShapeOf), so gradients stay
differentiable and work with unknown dimensions.
"""
import functools

import numpy as np

from nanotf.framework import dtypes
from nanotf.framework.op_def import OpDef, Sample
from nanotf.framework.ops import Tensor, apply_op, convert_to_tensor
from nanotf.framework.tensor_shape import TensorShape
from nanotf.ops import array_ops
from nanotf.ops._shape_util import broadcast_infer, normalize_axes, reduced_shape, same_as_input, sum_to_shape

__all__ = ["add", "subtract", "sub", "multiply", "mul", "divide", "truediv", "div", "negative", "neg",
           "matmul", "reduce_sum", "reduce_mean", "cast", "to_float", "to_double", "to_int32", "to_int64",
           "add_n"]


# -- gradient plumbing for broadcasting
class SumToShapeOf(OpDef):
    """Sums g down to the runtime shape of x (undoes NumPy broadcasting)."""

    def infer(op):
        return op._inputs[0].dtype, op._inputs[1].shape

    def kernel(op, ctx):
        return lambda g, x: sum_to_shape(g, np.shape(x))

    def grad(op, gg):
        return [broadcast_to_shape_of(gg, op._inputs[0]), None]


class BroadcastToShapeOf(OpDef):
    """Broadcasts g to the runtime shape of x."""

    def infer(op):
        return op._inputs[0].dtype, op._inputs[1].shape

    def kernel(op, ctx):
        return lambda g, x: np.broadcast_to(g, np.shape(x))

    def grad(op, gg):
        return [sum_to_shape_of(gg, op._inputs[0]), None]


def sum_to_shape_of(g, x):
    if g.shape.is_fully_defined() and g.shape == x.shape:
        return g
    return apply_op("SumToShapeOf", [g, x], name="SumToShapeOf")


def broadcast_to_shape_of(g, x):
    if g.shape.is_fully_defined() and g.shape == x.shape:
        return g
    return apply_op("BroadcastToShapeOf", [g, x], name="BroadcastToShapeOf")


def _pair(x, y):
    """Converts operands the way TF's operator overloads do: a Python value takes the Tensor's dtype."""
    if isinstance(x, Tensor) or hasattr(x, "_as_tensor"):
        x = convert_to_tensor(x)
        y = convert_to_tensor(y, dtype=x.dtype) if not isinstance(y, Tensor) and not hasattr(y, "_as_tensor") \
            else convert_to_tensor(y)
    else:
        y = convert_to_tensor(y)
        x = convert_to_tensor(x, dtype=y.dtype)
    return x, y


def _binary(op_type, x, y, name):
    x, y = _pair(x, y)
    return apply_op(op_type, [x, y], name=name or op_type)


_FLOAT_SAMPLES = lambda fn: [Sample(fn, [(2, 3), (2, 3)]), Sample(fn, [(2, 3), (3,)]),  # noqa: E731
                             Sample(fn, [(4, 1), (1, 3)]), Sample(fn, [(), (2, 2)])]


class Add(OpDef):
    infer = broadcast_infer

    def kernel(op, ctx):
        return np.add

    def grad(op, g):
        x, y = op._inputs
        return [sum_to_shape_of(g, x), sum_to_shape_of(g, y)]

    samples = _FLOAT_SAMPLES(lambda a, b: add(a, b))


def add(x, y, name=None):
    return _binary("Add", x, y, name)


class Sub(OpDef):
    infer = broadcast_infer

    def kernel(op, ctx):
        return np.subtract

    def grad(op, g):
        x, y = op._inputs
        return [sum_to_shape_of(g, x), sum_to_shape_of(negative(g), y)]

    samples = _FLOAT_SAMPLES(lambda a, b: subtract(a, b))


def subtract(x, y, name=None):
    return _binary("Sub", x, y, name)


sub = subtract


class Mul(OpDef):
    infer = broadcast_infer

    def kernel(op, ctx):
        return np.multiply

    def grad(op, g):
        x, y = op._inputs
        return [sum_to_shape_of(multiply(g, y), x), sum_to_shape_of(multiply(x, g), y)]

    samples = _FLOAT_SAMPLES(lambda a, b: multiply(a, b))


def multiply(x, y, name=None):
    return _binary("Mul", x, y, name)


mul = multiply


class RealDiv(OpDef):
    infer = broadcast_infer

    def kernel(op, ctx):
        if op._inputs[0].dtype.is_integer:
            npd = op._inputs[0].dtype.as_numpy_dtype
            return lambda a, b: np.trunc(np.true_divide(a, b)).astype(npd)
        return np.true_divide

    def grad(op, g):
        x, y = op._inputs
        return [sum_to_shape_of(divide(g, y), x),
                sum_to_shape_of(multiply(g, divide(negative(x), multiply(y, y))), y)]

    samples = [Sample(lambda a, b: divide(a, b), [(2, 3), lambda rng: rng.uniform(1, 2, (2, 3))]),
               Sample(lambda a, b: divide(a, b), [(2, 3), lambda rng: rng.uniform(1, 2, (3,))])]


def divide(x, y, name=None):
    """x / y elementwise. Integer tensors are converted to float first, as TF's truediv does."""
    x, y = _pair(x, y)
    if x.dtype.is_integer:
        target = dtypes.float64 if x.dtype.size >= 4 else dtypes.float32
        x, y = cast(x, target), cast(y, target)
    return apply_op("RealDiv", [x, y], name=name or "truediv")


truediv = divide


def div(x, y, name=None):
    """TF1's tf.div: floor division for integers, true division for floats."""
    x, y = _pair(x, y)
    if x.dtype.is_integer:
        from nanotf.ops import math_ops as _self
        return _self.floordiv(x, y, name=name)
    return apply_op("RealDiv", [x, y], name=name or "div")


class Neg(OpDef):
    infer = same_as_input

    def kernel(op, ctx):
        return np.negative

    def grad(op, g):
        return [negative(g)]

    samples = [Sample(lambda a: negative(a), [(2, 3)])]


def negative(x, name=None):
    return apply_op("Neg", [convert_to_tensor(x)], name=name or "Neg")


neg = negative


class MatMul(OpDef):
    def infer(op):
        a, b = op._inputs
        ta, tb = op._attrs["transpose_a"], op._attrs["transpose_b"]
        if a.dtype is not b.dtype:
            raise TypeError("MatMul %r: inputs must have the same dtype, got %s and %s" % (op.name, a.dtype.name, b.dtype.name))
        sa, sb = a.shape.with_rank(2).as_tuple(), b.shape.with_rank(2).as_tuple()
        m, k1 = (sa[1], sa[0]) if ta else sa
        k2, n = (sb[1], sb[0]) if tb else sb
        if k1 is not None and k2 is not None and k1 != k2:
            raise ValueError("Dimensions must be equal, but are %d and %d for '%s' (op: 'MatMul') with input "
                             "shapes: %s, %s." % (k1, k2, op.name, a.shape, b.shape))
        return a.dtype, TensorShape([m, n])

    def kernel(op, ctx):
        ta, tb = op._attrs["transpose_a"], op._attrs["transpose_b"]
        if not ta and not tb:
            return np.matmul
        return lambda a, b: np.matmul(a.T if ta else a, b.T if tb else b)

    def grad(op, g):
        a, b = op._inputs
        ta, tb = op._attrs["transpose_a"], op._attrs["transpose_b"]
        if not ta and not tb:
            return [matmul(g, b, transpose_b=True), matmul(a, g, transpose_a=True)]
        if not ta and tb:
            return [matmul(g, b), matmul(g, a, transpose_a=True)]
        if ta and not tb:
            return [matmul(b, g, transpose_b=True), matmul(a, g)]
        return [matmul(b, g, transpose_a=True, transpose_b=True), matmul(g, a, transpose_a=True, transpose_b=True)]

    samples = [Sample(lambda a, b: matmul(a, b), [(3, 4), (4, 2)]),
               Sample(lambda a, b: matmul(a, b, transpose_a=True), [(4, 3), (4, 2)]),
               Sample(lambda a, b: matmul(a, b, transpose_b=True), [(3, 4), (2, 4)]),
               Sample(lambda a, b: matmul(a, b, transpose_a=True, transpose_b=True), [(4, 3), (2, 4)])]


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, name=None):
    """Matrix product of two rank-2 tensors."""
    a, b = _pair(a, b)
    return apply_op("MatMul", [a, b], {"transpose_a": bool(transpose_a or adjoint_a),
                                       "transpose_b": bool(transpose_b or adjoint_b)}, name=name or "MatMul")


# -- reductions: axes are a static attribute, so shapes are known at graph-build time
class _Reduction(OpDef):
    abstract = True

    def infer(op):
        x = op._inputs[0]
        return x.dtype, reduced_shape(x.shape, op._attrs["axis"], op._attrs["keep_dims"])


class UnreduceLike(OpDef):
    """Gradient helper: broadcasts a reduced g back to the runtime shape of x (optionally / count)."""

    def infer(op):
        return op._inputs[0].dtype, op._inputs[1].shape

    def kernel(op, ctx):
        axes, keep, mean = op._attrs["axis"], op._attrs["keep_dims"], op._attrs["mean"]

        def unreduce(g, x):
            shp = np.shape(x)
            ax = tuple(range(len(shp))) if axes is None else axes
            if not keep:
                g = np.expand_dims(g, ax) if ax else g
            out = np.broadcast_to(g, shp)
            if mean:
                count = 1
                for a in ax:
                    count *= shp[a]
                out = out / np.asarray(max(count, 1), dtype=out.dtype)
            return out
        return unreduce

    def grad(op, gg):
        a = op._attrs
        red = reduce_mean if a["mean"] else reduce_sum
        return [red(gg, axis=a["axis"], keepdims=a["keep_dims"]), None]


def _unreduce_like(g, x, axis, keep_dims, mean):
    return apply_op("UnreduceLike", [g, x], {"axis": axis, "keep_dims": keep_dims, "mean": mean}, name="UnreduceLike")


def _reduce(op_type, input_tensor, axis, keepdims, name, keep_dims, reduction_indices, default_name):
    x = convert_to_tensor(input_tensor)
    if axis is None:
        axis = reduction_indices
    if keepdims is None:
        keepdims = bool(keep_dims) if keep_dims is not None else False
    if isinstance(axis, Tensor):
        if axis.op.type != "Const":
            raise NotImplementedError("%s: nanotf needs the reduction axis to be a constant, got %s" % (op_type, axis.name))
        axis = axis.op._attrs["value"].tolist()
    axes = normalize_axes(axis, x.shape.ndims)
    if axes is not None and x.shape.ndims is None:
        raise ValueError("%s over explicit axes needs an input of known rank (%s)" % (op_type, x.name))
    return apply_op(op_type, [x], {"axis": axes, "keep_dims": bool(keepdims)}, name=name or default_name)


class Sum(_Reduction):
    def kernel(op, ctx):
        axes, keep = op._attrs["axis"], op._attrs["keep_dims"]
        npd = op._inputs[0].dtype.as_numpy_dtype
        return lambda x: np.sum(x, axis=axes, keepdims=keep, dtype=npd)

    def grad(op, g):
        a = op._attrs
        return [_unreduce_like(g, op._inputs[0], a["axis"], a["keep_dims"], False)]

    samples = [Sample(lambda x: reduce_sum(x), [(2, 3)]), Sample(lambda x: reduce_sum(x, 1), [(2, 3)]),
               Sample(lambda x: reduce_sum(x, [0, 2], keepdims=True), [(2, 3, 2)])]


def reduce_sum(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce("Sum", input_tensor, axis, keepdims, name, keep_dims, reduction_indices, "Sum")


class Mean(_Reduction):
    def kernel(op, ctx):
        axes, keep = op._attrs["axis"], op._attrs["keep_dims"]
        npd = op._inputs[0].dtype.as_numpy_dtype
        if op._inputs[0].dtype.is_integer:
            return lambda x: np.trunc(np.mean(x, axis=axes, keepdims=keep)).astype(npd)
        return lambda x: np.mean(x, axis=axes, keepdims=keep, dtype=npd)

    def grad(op, g):
        a = op._attrs
        return [_unreduce_like(g, op._inputs[0], a["axis"], a["keep_dims"], True)]

    samples = [Sample(lambda x: reduce_mean(x), [(2, 3)]), Sample(lambda x: reduce_mean(x, 0), [(2, 3)]),
               Sample(lambda x: reduce_mean(x, -1, keepdims=True), [(2, 3)])]


def reduce_mean(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce("Mean", input_tensor, axis, keepdims, name, keep_dims, reduction_indices, "Mean")


class Cast(OpDef):
    def infer(op):
        return op._attrs["DstT"], op._inputs[0].shape

    def kernel(op, ctx):
        npd = op._attrs["DstT"].as_numpy_dtype
        if op._inputs[0].dtype.is_floating and op._attrs["DstT"].is_integer:
            return lambda x: np.trunc(x).astype(npd)
        return lambda x: np.asarray(x).astype(npd, copy=False)

    def grad(op, g):
        src, dst = op._inputs[0].dtype, op._attrs["DstT"]
        if src.is_floating and dst.is_floating:
            return [cast(g, src)]
        return [None]

    samples = [Sample(lambda x: cast(x, dtypes.float32), [(2, 3)], atol=1e-3, rtol=1e-3),
               Sample(lambda x: cast(x, dtypes.int32), [np.array([1.7, -1.7, 2.0])])]


def cast(x, dtype, name=None):
    """Casts x to dtype (floats to ints truncate toward zero, as in TensorFlow)."""
    dtype = dtypes.as_dtype(dtype)
    x = convert_to_tensor(x)
    if x.dtype is dtype:
        return x
    return apply_op("Cast", [x], {"DstT": dtype, "SrcT": x.dtype}, name=name or "Cast")


def to_float(x, name="ToFloat"):
    return cast(x, dtypes.float32, name=name)


def to_double(x, name="ToDouble"):
    return cast(x, dtypes.float64, name=name)


def to_int32(x, name="ToInt32"):
    return cast(x, dtypes.int32, name=name)


def to_int64(x, name="ToInt64"):
    return cast(x, dtypes.int64, name=name)


class AddN(OpDef):
    def infer(op):
        ins = op._inputs
        shape = ins[0].shape
        for t in ins[1:]:
            if t.dtype is not ins[0].dtype:
                raise TypeError("AddN %r: all inputs must have the same dtype" % op.name)
            shape = shape.merge_with(t.shape)
        return ins[0].dtype, shape

    def kernel(op, ctx):
        if len(op._inputs) == 2:
            return np.add
        return lambda *xs: functools.reduce(np.add, xs)

    def grad(op, g):
        return [g] * len(op._inputs)

    samples = [Sample(lambda a, b, c: add_n([a, b, c]), [(2, 3), (2, 3), (2, 3)])]


def add_n(inputs, name=None):
    """Sums a list of tensors of the same shape and dtype."""
    if not inputs or not isinstance(inputs, (list, tuple)):
        raise ValueError("inputs must be a non-empty list of tensors")
    inputs = [convert_to_tensor(t) for t in inputs]
    if len(inputs) == 1:
        return array_ops.identity(inputs[0], name=name)
    return apply_op("AddN", inputs, name=name or "AddN")


# -- Tensor operators (TF1 names the ops 'add', 'sub', 'mul', 'truediv', as its Python wrappers do)
def _op(fn, name):
    return lambda x, y: fn(x, y, name=name)


def _rop(fn, name):
    return lambda y, x: fn(x, y, name=name)


Tensor.__add__ = _op(add, "add")
Tensor.__radd__ = _rop(add, "add")
Tensor.__sub__ = _op(subtract, "sub")
Tensor.__rsub__ = _rop(subtract, "sub")
Tensor.__mul__ = _op(multiply, "mul")
Tensor.__rmul__ = _rop(multiply, "mul")
Tensor.__truediv__ = _op(divide, "truediv")
Tensor.__rtruediv__ = _rop(divide, "truediv")
Tensor.__matmul__ = _op(matmul, "MatMul")
Tensor.__rmatmul__ = _rop(matmul, "MatMul")
Tensor.__neg__ = lambda x: negative(x, name="Neg")
Tensor.__pos__ = lambda x: x
