"""Array ops: constants, placeholders, identity and shape manipulation."""
import numpy as np

from nanotf.framework import dtypes
from nanotf.framework import errors
from nanotf.framework.op_def import OpDef, Sample
from nanotf.framework.ops import Tensor, apply_op, convert_to_tensor, get_default_graph, name_scope
from nanotf.framework.tensor_shape import TensorShape, as_shape, unknown_shape
from nanotf.ops._shape_util import same_as_input

__all__ = ["constant", "placeholder", "placeholder_with_default", "identity", "stop_gradient",
           "reshape", "shape", "size", "rank", "fill", "zeros", "ones", "zeros_like", "ones_like"]


def _np_value(value, dtype):
    if dtype is dtypes.string:
        arr = np.asarray(value, dtype=object)
        return np.vectorize(lambda s: s.encode() if isinstance(s, str) else s, otypes=[object])(arr) \
            if arr.ndim else np.asarray(value.encode() if isinstance(value, str) else value, dtype=object)
    return np.asarray(value, dtype=dtype.as_numpy_dtype)


class Const(OpDef):
    def infer(op):
        v = op._attrs["value"]
        return op._attrs["dtype"], TensorShape(v.shape)

    def kernel(op, ctx):
        v = op._attrs["value"]
        v.flags.writeable = False  # kernels never write into a constant
        return lambda: v

    grad = None


def constant(value, dtype=None, shape=None, name="Const", verify_shape=False):
    """A Tensor holding `value` (Python or NumPy), optionally cast to `dtype` and broadcast to `shape`."""
    if dtype is None:
        dtype = dtypes.dtype_of_value(value)
    dtype = dtypes.as_dtype(dtype)
    if isinstance(value, (Tensor,)):
        raise TypeError("constant() expects a Python or NumPy value, got the Tensor %s" % value.name)
    src = np.asarray(value) if dtype is not dtypes.string else None
    if src is not None and src.dtype.kind == "f" and dtype.is_integer and not np.array_equal(src, np.trunc(src)):
        raise TypeError("Expected %s, got %r of type '%s' instead." % (dtype.name, value, type(value).__name__))
    try:
        arr = _np_value(value, dtype)
    except (ValueError, TypeError, OverflowError) as e:
        raise TypeError("Cannot convert %r to a Tensor of dtype %s: %s" % (value, dtype.name, e)) from None
    if dtype.is_integer and src is not None and src.dtype.kind in "iu" and src.size and (
            src.min() < dtype.min or src.max() > dtype.max):
        raise TypeError("Value %r is out of range for dtype %s" % (value, dtype.name))
    if shape is not None:
        shape = as_shape(shape).as_list()
        if verify_shape and list(arr.shape) != shape:
            raise TypeError("Expected Tensor's shape: %s, got %s." % (tuple(shape), arr.shape))
        if arr.size == int(np.prod(shape)):
            arr = arr.reshape(shape)
        elif arr.size == 1:
            arr = np.full(shape, arr.reshape(()), dtype=arr.dtype)
        elif arr.size < int(np.prod(shape)) and arr.ndim <= 1:  # TF pads with the last element
            flat = np.empty(int(np.prod(shape)), dtype=arr.dtype)
            flat[:arr.size] = arr.ravel()
            flat[arr.size:] = arr.ravel()[-1]
            arr = flat.reshape(shape)
        else:
            raise ValueError("Too many elements provided. Needed at most %d, but received %d"
                             % (int(np.prod(shape)), arr.size))
    arr = np.array(arr, copy=True)
    return apply_op("Const", [], {"value": arr, "dtype": dtype}, name=name)


class Placeholder(OpDef):
    def infer(op):
        return op._attrs["dtype"], op._attrs["shape"]

    def kernel(op, ctx):
        dt, shp = op._attrs["dtype"], op._attrs["shape"]
        shp_s = "<unknown>" if shp.as_tuple() is None else "[%s]" % ",".join(
            "?" if d is None else str(d) for d in shp.as_tuple())
        dname = "float" if dt is dtypes.float32 else dt.name

        def unfed():
            raise errors.InvalidArgumentError(
                None, op, "You must feed a value for placeholder tensor '%s' with dtype %s and shape %s"
                % (op.name, dname, shp_s))
        return unfed

    grad = None


def placeholder(dtype, shape=None, name=None):
    """A tensor that must be fed in Session.run. `shape` may be partial; `shape=(100)` means (100,)."""
    return apply_op("Placeholder", [], {"dtype": dtypes.as_dtype(dtype), "shape": as_shape(shape)},
                    name=name or "Placeholder")


class PlaceholderWithDefault(OpDef):
    forwards_input = True

    def infer(op):
        return op._inputs[0].dtype, op._attrs["shape"]

    def kernel(op, ctx):
        return lambda x: x

    def grad(op, g):
        return [g]


def placeholder_with_default(input, shape, name=None):  # noqa: A002 - TF's argument name
    x = convert_to_tensor(input)
    shape = as_shape(shape)
    if not shape.is_compatible_with(x.shape):
        raise ValueError("Default value of shape %s is not compatible with shape %s" % (x.shape, shape))
    return apply_op("PlaceholderWithDefault", [x], {"shape": shape}, name=name or "PlaceholderWithDefault")


class Identity(OpDef):
    forwards_input = True
    infer = same_as_input

    def kernel(op, ctx):
        return lambda x: x

    def grad(op, g):
        return [g]

    samples = [Sample(lambda x: identity(x), [(2, 3)])]


def identity(input, name=None):  # noqa: A002
    if hasattr(input, "_as_tensor") and not isinstance(input, Tensor):
        input = input._as_tensor()
    return apply_op("Identity", [convert_to_tensor(input)], name=name or "Identity")


class StopGradient(OpDef):
    forwards_input = True
    infer = same_as_input

    def kernel(op, ctx):
        return lambda x: x

    grad = None


def stop_gradient(input, name=None):  # noqa: A002
    return apply_op("StopGradient", [convert_to_tensor(input)], name=name or "StopGradient")


class Shape(OpDef):
    def infer(op):
        r = op._inputs[0].shape.ndims
        return op._attrs["out_type"], TensorShape([r])

    def kernel(op, ctx):
        npd = op._attrs["out_type"].as_numpy_dtype
        return lambda x: np.asarray(np.shape(x), dtype=npd)

    grad = None


def shape(input, name=None, out_type=dtypes.int32):  # noqa: A002
    return apply_op("Shape", [convert_to_tensor(input)], {"out_type": dtypes.as_dtype(out_type)}, name=name or "Shape")


class Size(OpDef):
    def infer(op):
        return op._attrs["out_type"], TensorShape([])

    def kernel(op, ctx):
        npd = op._attrs["out_type"].as_numpy_dtype
        return lambda x: np.asarray(np.size(x), dtype=npd)

    grad = None


def size(input, name=None, out_type=dtypes.int32):  # noqa: A002
    return apply_op("Size", [convert_to_tensor(input)], {"out_type": dtypes.as_dtype(out_type)}, name=name or "Size")


class Rank(OpDef):
    def infer(op):
        return dtypes.int32, TensorShape([])

    def kernel(op, ctx):
        return lambda x: np.asarray(np.ndim(x), dtype=np.int32)

    grad = None


def rank(input, name=None):  # noqa: A002
    return apply_op("Rank", [convert_to_tensor(input)], name=name or "Rank")


def _static_shape_from(shape_arg):
    """The static shape a shape argument (list, tuple, Tensor) describes, as far as known."""
    if isinstance(shape_arg, Tensor):
        if shape_arg.op.type == "Const":
            return TensorShape([None if d < 0 else int(d) for d in shape_arg.op._attrs["value"].ravel()])
        n = shape_arg.shape.as_tuple()
        return unknown_shape(n[0]) if n is not None and n and n[0] is not None else unknown_shape()
    return as_shape(shape_arg)


class Reshape(OpDef):
    forwards_input = True

    def infer(op):
        x = op._inputs[0]
        target = _static_shape_from(op._inputs[1])
        dims = target.as_tuple()
        if dims is None:
            return x.dtype, target
        n = x.shape.num_elements()
        known = [d for d in dims if d is not None]
        prod = int(np.prod(known)) if known else 1
        if n is not None and dims.count(None) == 0 and prod != n:
            raise ValueError("Cannot reshape a tensor with %d elements to shape %s (%d elements) for '%s' (op: "
                             "'Reshape')" % (n, list(dims), prod, op.name))
        if n is not None and dims.count(None) == 1 and op._inputs[1].op.type == "Const":
            if prod == 0 or n % prod:
                raise ValueError("Cannot reshape a tensor with %d elements to shape %s for '%s'"
                                 % (n, list(d if d is not None else -1 for d in dims), op.name))
            dims = tuple(n // prod if d is None else d for d in dims)
        return x.dtype, TensorShape(dims)

    def kernel(op, ctx):
        return lambda x, s: np.reshape(x, s)

    def grad(op, g):
        return [reshape(g, shape(op._inputs[0])), None]

    samples = [Sample(lambda x: reshape(x, [3, 2]), [(2, 3)]), Sample(lambda x: reshape(x, [-1]), [(2, 3)]),
               Sample(lambda x: reshape(x, [2, -1, 2]), [(4, 2)])]


def reshape(tensor, shape, name=None):  # noqa: A002 - shadows the module function on purpose
    """Reshapes `tensor`; one dimension of `shape` may be -1 (inferred)."""
    t = convert_to_tensor(tensor)
    s = convert_to_tensor(shape, dtype=dtypes.int32) if not isinstance(shape, Tensor) else shape
    return apply_op("Reshape", [t, s], name=name or "Reshape")


class Fill(OpDef):
    def infer(op):
        return op._inputs[1].dtype, _static_shape_from(op._inputs[0])

    def kernel(op, ctx):
        return lambda dims, v: np.full(tuple(dims), v, dtype=np.asarray(v).dtype)

    def grad(op, g):
        from nanotf.ops.math_ops import reduce_sum
        return [None, reduce_sum(g)]

    samples = [Sample(lambda v: fill([2, 3], v), [()])]


def fill(dims, value, name=None):
    d = convert_to_tensor(dims, dtype=dtypes.int32) if not isinstance(dims, Tensor) else dims
    return apply_op("Fill", [d, convert_to_tensor(value)], name=name or "Fill")


def _const_fill(shape, v, dtype, name):
    dtype = dtypes.as_dtype(dtype)
    if isinstance(shape, Tensor):
        return fill(shape, constant(v, dtype=dtype), name=name)
    shape = as_shape(shape).as_list()
    return constant(np.full(shape, v, dtype=dtype.as_numpy_dtype), dtype=dtype, name=name)


def zeros(shape, dtype=dtypes.float32, name=None):
    """A tensor of zeros (a Const op named 'zeros', as in TensorFlow)."""
    return _const_fill(shape, 0, dtype, name or "zeros")


def ones(shape, dtype=dtypes.float32, name=None):
    return _const_fill(shape, 1, dtype, name or "ones")


class ZerosLike(OpDef):
    infer = same_as_input

    def kernel(op, ctx):
        return np.zeros_like

    grad = None


class OnesLike(OpDef):
    infer = same_as_input

    def kernel(op, ctx):
        return np.ones_like

    grad = None


def zeros_like(tensor, dtype=None, name=None, optimize=True):
    t = convert_to_tensor(tensor)
    out = apply_op("ZerosLike", [t], name=name or "zeros_like")
    if dtype is not None and dtypes.as_dtype(dtype) is not t.dtype:
        from nanotf.ops.math_ops import cast
        out = cast(out, dtype)
    return out


def ones_like(tensor, dtype=None, name=None, optimize=True):
    t = convert_to_tensor(tensor)
    out = apply_op("OnesLike", [t], name=name or "ones_like")
    if dtype is not None and dtypes.as_dtype(dtype) is not t.dtype:
        from nanotf.ops.math_ops import cast
        out = cast(out, dtype)
    return out


def _autopack(values, dtype, name):
    """A (nested) list mixing Tensors and Python values becomes a stacked tensor (TF's auto-packing)."""
    items = [(_autopack(v, dtype, name) if isinstance(v, (list, tuple)) else v) for v in values]
    dt = dtype
    if dt is None:
        for v in items:
            if isinstance(v, Tensor) or hasattr(v, "_as_tensor"):
                dt = convert_to_tensor(v).dtype
                break
    items = [convert_to_tensor(v, dtype=dt) for v in items]
    from nanotf.ops import array_ops as _self
    if not hasattr(_self, "stack"):
        raise NotImplementedError("packing a list of tensors needs tf.stack")
    return _self.stack(items, name=name)
