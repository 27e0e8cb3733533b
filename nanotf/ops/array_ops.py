"""Array ops: constants, placeholders, identity and shape manipulation, slicing and indexing.

Ops take their axes, permutations, paddings and slice bounds as int32 tensor inputs, as in
TensorFlow's graphs. When such an input is a Const (the usual case), shape rules read its value
for static shapes and kernels precompute their NumPy index at session build time.
"""
import builtins

import numpy as np

from nanotf.framework import dtypes
from nanotf.framework import errors
from nanotf.framework import lowering as xla
from nanotf.framework.op_def import OpDef, Sample, every_output_views
from nanotf.framework.ops import Tensor, apply_op, convert_to_tensor, get_default_graph, name_scope
from nanotf.framework.tensor_shape import Dimension, TensorShape, as_shape, unknown_shape
from nanotf.ops._shape_util import same_as_input

__all__ = ["constant", "placeholder", "placeholder_with_default", "identity", "stop_gradient",
           "reshape", "shape", "size", "rank", "fill", "zeros", "ones", "zeros_like", "ones_like",
           "expand_dims", "squeeze", "transpose", "invert_permutation", "concat", "stack", "pack", "unstack",
           "unpack", "split", "tile", "pad", "one_hot", "gather", "slice", "strided_slice", "broadcast_to",
           "reverse", "reverse_v2", "shape_n", "boolean_mask", "newaxis", "gather_nd", "scatter_nd",
           "reverse_sequence", "sequence_mask"]

_pyslice = builtins.slice   # this module's `slice` is tf.slice
newaxis = None


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

    def lower(op):
        return op._attrs["value"]

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
    view_map = {0: (0,)}

    def infer(op):
        return op._inputs[0].dtype, op._attrs["shape"]

    def kernel(op, ctx):
        return lambda x: x

    def lower(op, x):
        return x

    def grad(op, g):
        return [g]

    samples = [Sample(lambda x: placeholder_with_default(x, [None, 3]), [(2, 3)])]


def placeholder_with_default(input, shape, name=None):  # noqa: A002 - TF's argument name
    x = convert_to_tensor(input)
    shape = as_shape(shape)
    if not shape.is_compatible_with(x.shape):
        raise ValueError("Default value of shape %s is not compatible with shape %s" % (x.shape, shape))
    return apply_op("PlaceholderWithDefault", [x], {"shape": shape}, name=name or "PlaceholderWithDefault")


class Identity(OpDef):
    elementwise = True
    is_identity = True
    infer = same_as_input

    def kernel(op, ctx):
        return lambda x: x

    def lower(op, x):
        return x

    def grad(op, g):
        return [g]

    samples = [Sample(lambda x: identity(x), [(2, 3)])]


def identity(input, name=None):  # noqa: A002
    if hasattr(input, "_as_tensor") and not isinstance(input, Tensor):
        input = input._as_tensor()
    return apply_op("Identity", [convert_to_tensor(input)], name=name or "Identity")


class StopGradient(Identity):   # an Identity that gradients do not pass
    grad = None

    samples = [Sample(lambda x: stop_gradient(x), [(2, 3)], grad=())]


def stop_gradient(input, name=None):  # noqa: A002
    return apply_op("StopGradient", [convert_to_tensor(input)], name=name or "StopGradient")


class Shape(OpDef):
    def infer(op):
        r = op._inputs[0].shape.ndims
        return op._attrs["out_type"], TensorShape([r])

    def kernel(op, ctx):
        npd = op._attrs["out_type"].as_numpy_dtype
        return lambda x: np.asarray(np.shape(x), dtype=npd)

    def lower(op, x):
        return np.asarray(np.shape(x), dtype=xla.out_dtype(op))

    grad = None

    samples = [Sample(lambda x: shape(x), [(2, 3)], grad=()), Sample(lambda x: shape(x), [()], grad=())]


def shape(input, name=None, out_type=dtypes.int32):  # noqa: A002
    return apply_op("Shape", [convert_to_tensor(input)], {"out_type": dtypes.as_dtype(out_type)}, name=name or "Shape")


class Size(OpDef):
    def infer(op):
        return op._attrs["out_type"], TensorShape([])

    def kernel(op, ctx):
        npd = op._attrs["out_type"].as_numpy_dtype
        return lambda x: np.asarray(np.size(x), dtype=npd)

    def lower(op, x):
        return np.asarray(int(np.prod(np.shape(x), dtype=np.int64)), dtype=xla.out_dtype(op))

    grad = None

    samples = [Sample(lambda x: size(x), [(2, 3)], grad=())]


def size(input, name=None, out_type=dtypes.int32):  # noqa: A002
    return apply_op("Size", [convert_to_tensor(input)], {"out_type": dtypes.as_dtype(out_type)}, name=name or "Size")


class Rank(OpDef):
    def infer(op):
        return dtypes.int32, TensorShape([])

    def kernel(op, ctx):
        return lambda x: np.asarray(np.ndim(x), dtype=np.int32)

    def lower(op, x):
        return np.asarray(np.ndim(x), dtype=np.int32)

    grad = None

    samples = [Sample(lambda x: rank(x), [(2, 3, 1)], grad=())]


def rank(input, name=None):  # noqa: A002
    return apply_op("Rank", [convert_to_tensor(input)], name=name or "Rank")


def _static_shape_from(shape_arg):
    """The static shape a shape argument (list, tuple, Tensor) describes, as far as known."""
    if isinstance(shape_arg, Tensor):
        op = shape_arg.op
        if op.type == "Const":
            return TensorShape([None if d < 0 else int(d) for d in op._attrs["value"].ravel()])
        if op.type == "Shape":   # shape(x) describes x's static shape
            return op._inputs[0].shape
        if op.type == "Pack" and op._attrs["axis"] == 0 and all(t.shape.ndims == 0 for t in op._inputs):
            vals = [_const_value(t) for t in op._inputs]
            return TensorShape([None if v is None or v < 0 else int(v) for v in vals])
        n = shape_arg.shape.as_tuple()
        return unknown_shape(n[0]) if n is not None and n and n[0] is not None else unknown_shape()
    return as_shape(shape_arg)


def _reshape_rows(op, sliced):
    """Row-wise when the target is a Const [-1, ...] that keeps each row's element count."""
    if sliced != [True, False] or op._inputs[1].op.type != "Const":
        return False
    target = [int(d) for d in np.ravel(op._inputs[1].op._attrs["value"])]
    dims = op._inputs[0].shape.as_tuple()
    if not target or target[0] != -1 or any(d < 0 for d in target[1:]) or not dims or None in dims[1:]:
        return False
    return int(np.prod(target[1:])) == int(np.prod(dims[1:]))


class Reshape(OpDef):
    row_wise = staticmethod(_reshape_rows)
    view_map = {0: (0,)}

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

    def lower(op, x, shape):
        return xla.jnp.reshape(x, xla.shape_tuple(op, shape, 1))

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

    def lower(op, dims, value):
        return xla.jnp.full(xla.shape_tuple(op, dims, 0), value, dtype=xla.out_dtype(op))

    def grad(op, g):
        from nanotf.ops.math_ops import reduce_sum
        return [None, reduce_sum(g)]

    samples = [Sample(lambda v: fill([2, 3], v), [()])]


def fill(dims, value, name=None):
    d = convert_to_tensor(dims, dtype=dtypes.int32) if not isinstance(dims, Tensor) else dims
    return apply_op("Fill", [d, convert_to_tensor(value)], name=name or "Fill")


def _const_fill(shape, v, dtype, name):
    dtype = dtypes.as_dtype(dtype)
    if isinstance(shape, (list, tuple)) and any(isinstance(d, Tensor) for d in shape):
        # [tf.shape(x)[0], 128]: TF packs a list mixing tensors and ints into one int32 shape tensor
        shape = stack([d if isinstance(d, Tensor) else constant(d, dtype=dtypes.int32) for d in shape])
    if isinstance(shape, Tensor):
        return fill(shape, constant(v, dtype=dtype), name=name)
    shape = as_shape(shape).as_list()
    return constant(np.full(shape, v, dtype=dtype.as_numpy_dtype), dtype=dtype, name=name)


def zeros(shape, dtype=dtypes.float32, name=None):
    """A tensor of zeros (a Const op named 'zeros', as in TensorFlow)."""
    return _const_fill(shape, 0, dtype, name or "zeros")


def ones(shape, dtype=dtypes.float32, name=None):
    return _const_fill(shape, 1, dtype, name or "ones")


class _FillLike(OpDef):
    """An array of x's shape and dtype holding `fill` (0 or 1): not differentiable."""
    abstract = True
    infer = same_as_input
    grad = None

    def kernel(op, ctx):
        return np.zeros_like if op._def.fill == 0 else np.ones_like

    def lower(op, x):
        return xla.jnp.full(np.shape(x), op._def.fill, dtype=xla.out_dtype(op))


class ZerosLike(_FillLike):
    fill = 0
    samples = [Sample(lambda x: zeros_like(x), [(2, 3)], grad=())]


class OnesLike(_FillLike):
    fill = 1
    samples = [Sample(lambda x: ones_like(x), [(3,)], grad=())]


def _filled_like(op_type, tensor, dtype, name):
    """ZerosLike / OnesLike of tensor, cast to `dtype` when another one is asked for."""
    t = convert_to_tensor(tensor)
    out = apply_op(op_type, [t], name=name)
    if dtype is not None and dtypes.as_dtype(dtype) is not t.dtype:
        out = _math().cast(out, dtype)
    return out


def zeros_like(tensor, dtype=None, name=None, optimize=True):
    return _filled_like("ZerosLike", tensor, dtype, name or "zeros_like")


def ones_like(tensor, dtype=None, name=None, optimize=True):
    return _filled_like("OnesLike", tensor, dtype, name or "ones_like")


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


# -- helpers shared by the shape-manipulation ops below
def _const_value(t):
    """The NumPy value of a Const tensor, else None (its value is only known at run time)."""
    return t.op._attrs["value"] if t.op.type == "Const" else None


def _fmt_shape(shape):
    dims = shape.as_tuple()
    return "?" if dims is None else "[%s]" % ",".join("?" if d is None else str(d) for d in dims)


def _shape_error(op, msg):
    """A build-time ValueError in TensorFlow's wording: the message, the op and its input shapes."""
    return ValueError("%s for '%s' (op: '%s') with input shapes: %s." % (
        msg, op.name, op.type, ", ".join(_fmt_shape(t.shape) for t in op._inputs)))


def _plain_ints(value):
    """Nested lists of ints / Dimensions / NumPy ints -> the same nesting of Python ints."""
    if isinstance(value, TensorShape):
        value = value.as_list()
    if isinstance(value, (list, tuple)):
        return [_plain_ints(v) for v in value]
    if isinstance(value, Dimension):
        value = value.value
    if value is None:
        raise ValueError("Cannot use an unknown dimension (None) as an index, axis or size")
    return value


def _int_tensor(value, name, dtype=dtypes.int32):
    """An integer tensor for an axis/perm/size argument: Tensors pass, Python values become a Const."""
    if isinstance(value, Tensor) or hasattr(value, "_as_tensor"):
        t = convert_to_tensor(value)
        if not t.dtype.is_integer:
            raise TypeError("Expected int32 or int64 for argument '%s', got %s of dtype %s"
                            % (name, t.name, t.dtype.name))
        return t
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) or hasattr(v, "_as_tensor")
                                                 for v in value):
        return convert_to_tensor(value, name=name)   # auto-packs
    arr = np.asarray(_plain_ints(value))
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError("Expected int32 or int64 for argument '%s', got %r" % (name, value))
    if arr.size and (arr.max() >= 2 ** 31 or arr.min() < -2 ** 31):
        dtype = dtypes.int64
    return constant(arr.astype(dtype.as_numpy_dtype), dtype=dtype, name=name)


def _apply_with_ints(op_type, x, name, x_name="input", **int_inputs):
    """op_type(x, *int_inputs) in the name scope `name` (default: the op type), x and the integer inputs
    (Python values or tensors, named by their keywords) converted as TF's wrappers do."""
    with name_scope(name, op_type, [x]) as scope:
        x = convert_to_tensor(x, name=x_name)
        return apply_op(op_type, [x] + [_int_tensor(v, k) for k, v in int_inputs.items()], name=scope)


def _static_int(value, what, fn):
    """A Python int from an int or a scalar Const tensor; nanotf needs some axes at build time."""
    if isinstance(value, Tensor):
        v = _const_value(value)
        if v is None or v.ndim != 0:
            raise NotImplementedError("%s: nanotf needs `%s` to be a Python int or a constant scalar, got %s"
                                      % (fn, what, value.name))
        return int(v)
    value = _plain_ints(value)
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError("%s: `%s` must be an int, got %r" % (fn, what, value))
    return int(value)


def _canon_axis(op, axis, rank, what="axis"):
    """axis in [-rank, rank) -> axis in [0, rank); ValueError naming the op otherwise."""
    if rank is None:
        return axis
    if not -rank <= axis < rank:
        raise _shape_error(op, "Expected %s in the range [%d, %d), but got %d" % (what, -rank, rank, axis))
    return axis % rank


def _shape_of(x, out_type=dtypes.int32):
    """x's shape as a tensor: a Const when static, else a Shape op (gradients need runtime shapes)."""
    if x.shape.is_fully_defined():
        return constant(np.asarray(x.shape.as_tuple(), dtype=out_type.as_numpy_dtype), dtype=out_type,
                        name="Shape")
    return shape(x, out_type=out_type)


def _common_dtype(values):
    """Converts a list of values to tensors of one dtype: Python values take the first Tensor's."""
    dt = None
    for v in values:
        if isinstance(v, Tensor) or hasattr(v, "_as_tensor"):
            dt = convert_to_tensor(v).dtype
            break
    return [convert_to_tensor(v, dtype=dt) if not isinstance(v, Tensor) else v for v in values]


def _x_and_static_arg(op):
    """(input 0, the static value of input 1 or None, input 0's rank or None): where the shape rules of
    ops with a constant argument (an axis, dims) start."""
    x, arg = op._inputs[:2]
    return x, _const_value(arg), x.shape.ndims


def _math():
    from nanotf.ops import math_ops   # math_ops imports this module
    return math_ops


# -- ExpandDims / Squeeze
class ExpandDims(OpDef):
    view_map = {0: (0,)}

    def infer(op):
        x, d, r = _x_and_static_arg(op)
        if d is None:
            return x.dtype, unknown_shape(None if r is None else r + 1)
        d = int(d.reshape(-1)[0]) if d.size == 1 else None
        if d is None:
            raise _shape_error(op, "'dim' must be a tensor with a single value")
        if r is None:
            return x.dtype, unknown_shape()
        if not -r - 1 <= d <= r:
            raise _shape_error(op, "Tried to expand dim index %d for tensor with %d dimensions" % (d, r))
        d = d % (r + 1)
        dims = x.shape.as_tuple()
        return x.dtype, TensorShape(dims[:d] + (1,) + dims[d:])

    def kernel(op, ctx):
        d = _const_value(op._inputs[1])
        if d is None:
            return lambda x, dim: np.expand_dims(x, int(np.reshape(dim, -1)[0]))
        d = int(d.reshape(-1)[0])
        # x[idx] with a None (newaxis) entry inserts the axis as a view, whatever x's rank
        idx = (_pyslice(None),) * d + (None,) if d >= 0 else (Ellipsis, None) + (_pyslice(None),) * (-d - 1)
        return lambda x, dim: x[idx]

    def lower(op, x, dim):
        return xla.jnp.expand_dims(x, int(np.reshape(xla.static_value(op, dim, 1), -1)[0]))

    def grad(op, g):
        return [reshape(g, _shape_of(op._inputs[0])), None]

    samples = [Sample(lambda x: expand_dims(x, 1), [(2, 3)]), Sample(lambda x: expand_dims(x, -1), [(3,)]),
               Sample(lambda x: expand_dims(x, 0), [()]), Sample(lambda x: expand_dims(x, -3), [(2, 3)])]


def expand_dims(input, axis=None, name=None, dim=None):  # noqa: A002 - TF's argument name
    """Inserts a dimension of size 1 at `axis` (in [-rank-1, rank])."""
    if dim is not None:
        if axis is not None:
            raise ValueError("can't specify both 'dim' and 'axis'")
        axis = dim
    if axis is None:
        raise ValueError("Must specify an axis argument to tf.expand_dims()")
    return _apply_with_ints("ExpandDims", input, name, dim=axis)


class Squeeze(OpDef):
    view_map = {0: (0,)}

    def infer(op):
        x = op._inputs[0]
        dims = x.shape.as_tuple()
        axes = op._attrs["squeeze_dims"]
        if dims is None:
            return x.dtype, unknown_shape()
        r = len(dims)
        if not axes:
            if any(d is None for d in dims):   # an unknown dim may or may not be 1
                return x.dtype, unknown_shape()
            return x.dtype, TensorShape([d for d in dims if d != 1])
        keep = set(range(r))
        for a in axes:
            if not -r <= a < r:
                raise _shape_error(op, "Tried to squeeze dim index %d for tensor with %d dimensions" % (a, r))
            if dims[a % r] is not None and dims[a % r] != 1:
                raise _shape_error(op, "Can not squeeze dim[%d], expected a dimension of 1, got %d"
                                   % (a % r, dims[a % r]))
            keep.discard(a % r)
        return x.dtype, TensorShape([dims[i] for i in sorted(keep)])

    def kernel(op, ctx):
        axes = tuple(op._attrs["squeeze_dims"])
        if not axes:
            return np.squeeze
        return lambda x: np.squeeze(x, axis=axes)

    def lower(op, x):
        axes = tuple(op._attrs["squeeze_dims"])
        return xla.jnp.squeeze(x, axis=axes if axes else None)

    def grad(op, g):
        return [reshape(g, _shape_of(op._inputs[0]))]

    samples = [Sample(lambda x: squeeze(x, [1]), [(2, 1, 3)]), Sample(lambda x: squeeze(x), [(1, 3, 1)]),
               Sample(lambda x: squeeze(x, [-1, 0]), [(1, 2, 1)])]


def squeeze(input, axis=None, name=None, squeeze_dims=None):  # noqa: A002
    """Removes dimensions of size 1 (all of them, or those listed in `axis`)."""
    if squeeze_dims is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'squeeze_dims' and 'axis'")
        axis = squeeze_dims
    if axis is None:
        axis = []
    axes = _plain_ints(axis)
    axes = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    x = convert_to_tensor(input)
    return apply_op("Squeeze", [x], {"squeeze_dims": [int(a) for a in axes]}, name=name or "Squeeze")


# -- Transpose
def _check_perm(op, perm, rank):
    perm = [int(p) for p in perm.reshape(-1)]
    if rank is not None and len(perm) != rank:
        raise _shape_error(op, "Dimension must be %d but is %d" % (rank, len(perm)))
    n = len(perm)
    if sorted(p % n if -n <= p < n else p for p in perm) != list(range(n)):
        raise _shape_error(op, "%s is not a valid permutation of the %d dimensions" % (perm, n))
    return [p % n for p in perm]


class Transpose(OpDef):
    view_map = {0: (0,)}

    def infer(op):
        x, perm = op._inputs
        p = _const_value(perm)
        dims = x.shape.as_tuple()
        if p is None:
            n = perm.shape.as_tuple()
            r = len(dims) if dims is not None else (n[0] if n else None)
            return x.dtype, unknown_shape(r)
        p = _check_perm(op, p, None if dims is None else len(dims))
        if dims is None:
            return x.dtype, unknown_shape(len(p))
        return x.dtype, TensorShape([dims[i] for i in p])

    def kernel(op, ctx):
        p = _const_value(op._inputs[1])
        if p is None:
            return lambda x, perm: np.transpose(x, perm)
        p = tuple(int(i) for i in p.reshape(-1))
        return lambda x, perm: np.transpose(x, p)

    def lower(op, x, perm):
        return xla.jnp.transpose(x, xla.shape_tuple(op, perm, 1))

    def grad(op, g):
        p = _const_value(op._inputs[1])
        if p is not None:
            return [transpose(g, np.argsort(p.reshape(-1) % max(p.size, 1)).astype(np.int32)), None]
        return [transpose(g, invert_permutation(op._inputs[1])), None]

    samples = [Sample(lambda x: transpose(x), [(2, 3)]), Sample(lambda x: transpose(x, [2, 0, 1]), [(2, 3, 4)]),
               Sample(lambda x: transpose(x, [0, -1, 1]), [(2, 3, 4)])]


def transpose(a, perm=None, name="transpose", conjugate=False):
    """Permutes dimensions: output dim i is input dim perm[i]; perm=None reverses them."""
    with name_scope(name, "transpose", [a]) as scope:
        x = convert_to_tensor(a, name="a")
        if perm is None:
            r = x.shape.ndims
            if r is not None:
                perm = constant(np.arange(r - 1, -1, -1, dtype=np.int32), name="perm")
            else:   # TF's rule, computed at run time: (rank - 1) - range(rank)
                m = _math()
                rk = rank(x)
                perm = m.subtract(m.subtract(rk, 1), m.range(0, rk, 1))
        else:
            perm = _int_tensor(perm, "perm")
        return apply_op("Transpose", [x, perm], name=scope)


class InvertPermutation(OpDef):
    grad = None

    def infer(op):
        return op._inputs[0].dtype, op._inputs[0].shape

    def kernel(op, ctx):
        npd = op._inputs[0].dtype.as_numpy_dtype

        def invert(p):
            if sorted(p.tolist()) != list(range(p.size)):
                raise ValueError("%s is not a permutation of 0..%d" % (p.tolist(), p.size - 1))
            return np.argsort(p).astype(npd)
        return invert

    def lower(op, p):
        return xla.jnp.argsort(p).astype(xla.out_dtype(op))


def invert_permutation(x, name=None):
    return apply_op("InvertPermutation", [_int_tensor(x, "x")], name=name or "InvertPermutation")


# -- ConcatV2 and its gradient helper ConcatOffset
class ConcatV2(OpDef):
    def infer(op):
        values, axis_t = op._inputs[:-1], op._inputs[-1]
        dt = values[0].dtype
        for t in values[1:]:
            if t.dtype is not dt:
                raise TypeError("ConcatV2 %r: all values must have the same dtype, got %s (%s) and %s (%s)"
                                % (op.name, dt.name, values[0].name, t.dtype.name, t.name))
        ranks = {t.shape.ndims for t in values} - {None}
        if len(ranks) > 1:
            lo, hi = sorted(ranks)[:2]
            raise _shape_error(op, "Shape must be rank %d but is rank %d" % (lo, hi))
        if not ranks:
            return dt, unknown_shape()
        r = ranks.pop()
        if r == 0:
            raise _shape_error(op, "Can't concatenate scalars (use tf.stack instead)")
        a = _const_value(axis_t)
        if a is None:
            return dt, unknown_shape(r)
        a = _canon_axis(op, int(a), r, "concatenating dimension")
        out = [None] * r
        along = 0
        for t in values:
            dims = t.shape.as_tuple()
            if dims is None:
                along = None
                continue
            for i, d in enumerate(dims):
                if i == a:
                    continue
                if d is not None and out[i] is not None and d != out[i]:
                    raise _shape_error(op, "Dimension %d in both shapes must be equal, but are %d and %d"
                                       % (i, out[i], d))
                out[i] = out[i] if out[i] is not None else d
            along = None if along is None or dims[a] is None else along + dims[a]
        out[a] = along
        return dt, TensorShape(out)

    def kernel(op, ctx):
        a = _const_value(op._inputs[-1])
        if a is None:
            return lambda *xs: np.concatenate(xs[:-1], axis=int(xs[-1]))
        a = int(a)
        if len(op._inputs) == 3:
            return lambda x, y, _: np.concatenate((x, y), axis=a)
        return lambda *xs: np.concatenate(xs[:-1], axis=a)

    def lower(op, *xs):
        axis = int(xla.static_value(op, xs[-1], len(xs) - 1))
        return xla.jnp.concatenate([xla.asarray(x, xla.out_dtype(op)) for x in xs[:-1]], axis=axis)

    def grad(op, g):
        values, axis_t = op._inputs[:-1], op._inputs[-1]
        a = _const_value(axis_t)
        if a is not None:
            r = values[0].shape.ndims
            sizes = [t.shape.as_tuple()[int(a) % r] if r else None for t in values]
            if r and all(s is not None for s in sizes):   # static split points: one SplitV op
                return list(split(g, sizes, axis=axis_t)) + [None]
        offsets = create_op_outputs("ConcatOffset", [axis_t] + shape_n(values), {"N": len(values)},
                                    "ConcatOffset")
        return [slice(g, off, shape(t)) for off, t in zip(offsets, values)] + [None]

    samples = [Sample(lambda a, b: concat([a, b], 0), [(2, 3), (4, 3)]),
               Sample(lambda a, b, c: concat([a, b, c], -1), [(2, 3), (2, 1), (2, 2)]),
               Sample(lambda a, b: concat([a, b], 1), [(2, 1, 2), (2, 3, 2)])]


def create_op_outputs(op_type, inputs, attrs, name):
    """Creates an op and returns its outputs as a list (for ops with a variable number of outputs)."""
    g = inputs[0].graph if inputs else get_default_graph()
    return list(g.create_op(op_type, inputs, attrs, name=name)._outputs)


def concat(values, axis, name="concat"):
    """Joins tensors along `axis`. The TF 0.x order concat(concat_dim, values) is accepted too."""
    if isinstance(values, (int, np.integer)) and isinstance(axis, (list, tuple)):
        values, axis = axis, values
    if not isinstance(values, (list, tuple)):
        values = [values]
    if len(values) == 1:   # TF returns the tensor itself (checking axis is a scalar int)
        with name_scope(name) as scope:
            ax = _int_tensor(axis, "concat_dim")
            ax.shape.assert_has_rank(0)
            return identity(values[0], name=scope)
    with name_scope(name, "concat", [v for v in values if isinstance(v, Tensor)]) as scope:
        values = _common_dtype(values)
        return apply_op("ConcatV2", values + [_int_tensor(axis, "axis")], {"N": len(values)}, name=scope)


def concat_offsets(axis, *shapes):
    """Where each of `shapes` starts along `axis` when they are concatenated: one int32 vector per shape
    (ConcatOffset's kernel, in NumPy; other backends may call it on static values)."""
    a = int(axis) % max(len(shapes[0]), 1)
    out, at = [], 0
    for s in shapes:
        o = np.zeros(len(s), dtype=np.int32)
        o[a] = at
        at += int(s[a])
        out.append(o)
    return tuple(out)


class ConcatOffset(OpDef):
    """Where each input of a concat starts along the axis (for ConcatV2's gradient)."""
    grad = None

    def infer(op):
        return [(dtypes.int32, t.shape) for t in op._inputs[1:]]

    def kernel(op, ctx):
        return concat_offsets

    def lower(op, axis, *shapes):   # the same offsets, from the static shapes XLA knows while tracing
        return concat_offsets(xla.static_value(op, axis, 0), *(xla.static_value(op, s, i + 1)
                                                              for i, s in enumerate(shapes)))


class ShapeN(OpDef):
    grad = None

    def infer(op):
        dt = op._attrs["out_type"]
        return [(dt, TensorShape([t.shape.ndims])) for t in op._inputs]

    def kernel(op, ctx):
        npd = op._attrs["out_type"].as_numpy_dtype
        return lambda *xs: tuple(np.asarray(np.shape(x), dtype=npd) for x in xs)

    def lower(op, *xs):
        return tuple(np.asarray(np.shape(x), dtype=xla.out_dtype(op, i)) for i, x in enumerate(xs))

    samples = [Sample(lambda a, b: shape_n([a, b])[1], [(2, 3), (4,)], grad=())]


def shape_n(input, out_type=dtypes.int32, name=None):  # noqa: A002
    """The shapes of several tensors, as one op with one output each."""
    xs = [convert_to_tensor(t) for t in input]
    return create_op_outputs("ShapeN", xs, {"N": len(xs), "out_type": dtypes.as_dtype(out_type)},
                             name or "ShapeN")


# -- Pack / Unpack
class Pack(OpDef):
    def infer(op):
        values = op._inputs
        dt = values[0].dtype
        merged = values[0].shape
        for t in values[1:]:
            if t.dtype is not dt:
                raise TypeError("Pack %r: all values must have the same dtype, got %s (%s) and %s (%s)"
                                % (op.name, dt.name, values[0].name, t.dtype.name, t.name))
            if not merged.is_compatible_with(t.shape):
                raise _shape_error(op, "Shapes %s and %s are incompatible (all values must have the same "
                                   "shape)" % (merged, t.shape))
            merged = merged.merge_with(t.shape)
        dims = merged.as_tuple()
        if dims is None:
            return dt, unknown_shape()
        a = _canon_axis(op, op._attrs["axis"], len(dims) + 1)
        return dt, TensorShape(dims[:a] + (len(values),) + dims[a:])

    def kernel(op, ctx):
        a = op._attrs["axis"]
        return lambda *xs: np.stack(xs, axis=a)

    def lower(op, *xs):
        return xla.jnp.stack([xla.asarray(x, xla.out_dtype(op)) for x in xs], axis=op._attrs["axis"])

    def grad(op, g):
        return unstack(g, num=len(op._inputs), axis=op._attrs["axis"])

    samples = [Sample(lambda a, b: stack([a, b]), [(2, 3), (2, 3)]),
               Sample(lambda a, b, c: stack([a, b, c], axis=-1), [(2,), (2,), (2,)]),
               Sample(lambda a, b: stack([a, b], axis=-1), [(), ()]),
               Sample(lambda a, b: stack([a, b], axis=1), [(3, 2), (3, 2)])]


def stack(values, axis=0, name="stack"):
    """Stacks rank-R tensors into one rank-(R+1) tensor along `axis`."""
    axis = _static_int(axis, "axis", "stack")
    if axis == 0 and not any(isinstance(v, Tensor) or hasattr(v, "_as_tensor")
                             for v in _flatten(values)):
        return constant(values, name=name)   # a list of Python values is a constant, as in TF
    values = _common_dtype(list(values))
    r = values[0].shape.ndims
    if r is not None and not -(r + 1) <= axis < r + 1:
        raise ValueError("axis = %d not in [%d, %d)" % (axis, -(r + 1), r + 1))
    return apply_op("Pack", values, {"axis": axis, "N": len(values)}, name=name)


def _flatten(values):
    for v in values:
        if isinstance(v, (list, tuple)):
            yield from _flatten(v)
        else:
            yield v


def pack(values, axis=0, name="pack"):
    """TF 0.x name of tf.stack."""
    return stack(values, axis=axis, name=name)


class Unpack(OpDef):
    view_map = every_output_views(0)

    def infer(op):
        x = op._inputs[0]
        num, a = op._attrs["num"], op._attrs["axis"]
        dims = x.shape.as_tuple()
        if dims is None:
            return [(x.dtype, unknown_shape())] * num
        a = _canon_axis(op, a, len(dims))
        if dims[a] is not None and dims[a] != num:
            raise _shape_error(op, "Dimension %d must be %d but is %d" % (a, num, dims[a]))
        return [(x.dtype, TensorShape(dims[:a] + dims[a + 1:]))] * num

    def kernel(op, ctx):
        num, a = op._attrs["num"], op._attrs["axis"]

        def unpack(x):
            if x.shape[a] != num:
                raise ValueError("Input shape axis %d must equal %d, got shape %s" % (a, num, list(x.shape)))
            # iterating over the first axis gives views, one per slice
            return tuple(x if a == 0 else np.moveaxis(x, a, 0))
        return unpack

    def lower(op, x):
        a = op._attrs["axis"] % max(np.ndim(x), 1)
        return tuple(xla.jnp.squeeze(p, a) for p in xla.jnp.split(x, op._attrs["num"], axis=a))

    def grad(op, *grads):
        return [stack(list(grads), axis=op._attrs["axis"])]

    samples = [Sample(lambda x: unstack(x, 3)[1], [(3, 2)]), Sample(lambda x: unstack(x, 3, axis=1)[2], [(2, 3)]),
               Sample(lambda x: unstack(x, 2, axis=-1)[0], [(2, 2, 2)])]


def unstack(value, num=None, axis=0, name="unstack"):
    """Splits a rank-R tensor into `num` rank-(R-1) tensors along `axis`."""
    x = convert_to_tensor(value)
    axis = _static_int(axis, "axis", "unstack")
    dims = x.shape.as_tuple()
    if dims is not None and not -len(dims) <= axis < len(dims):
        raise ValueError("axis = %d not in [%d, %d)" % (axis, -len(dims), len(dims)))
    if num is None:
        if dims is None or dims[axis] is None:
            raise ValueError("Cannot infer num from shape %s" % x.shape)
        num = dims[axis]
    return create_op_outputs("Unpack", [x], {"num": int(num), "axis": axis}, name)


def unpack(value, num=None, axis=0, name="unpack"):
    """TF 0.x name of tf.unstack."""
    return unstack(value, num=num, axis=axis, name=name)


# -- Split (equal pieces) / SplitV (given sizes)
def _split_bounds(n, sizes):
    bounds, at = [], 0
    for s in sizes:
        bounds.append((at, at + s))
        at += s
    return bounds


def _pieces(x, a, bounds):
    """Views of x's slices [b, e) along axis a."""
    lead = (_pyslice(None),) * a
    return tuple(x[lead + (_pyslice(b, e),)] for b, e in bounds)


class Split(OpDef):
    view_map = every_output_views(1)   # the pieces are views of `value` (input 1; input 0 is the axis)

    def infer(op):
        axis_t, x = op._inputs
        num = op._attrs["num_split"]
        dims = x.shape.as_tuple()
        a = _const_value(axis_t)
        if dims is None or a is None:
            return [(x.dtype, unknown_shape(None if dims is None else len(dims)))] * num
        a = _canon_axis(op, int(a), len(dims), "split dimension")
        d = dims[a]
        if d is not None and d % num:
            raise _shape_error(op, "Dimension size must be evenly divisible by %d but is %d" % (num, d))
        piece = dims[:a] + (None if d is None else d // num,) + dims[a + 1:]
        return [(x.dtype, TensorShape(piece))] * num

    def kernel(op, ctx):
        num = op._attrs["num_split"]

        def split_kernel(axis, x):
            a = int(axis) % x.ndim
            d = x.shape[a]
            if d % num:
                raise ValueError("Number of ways to split should evenly divide the split dimension, but got "
                                 "split_dim %d (size = %d) and num_split %d" % (a, d, num))
            return _pieces(x, a, _split_bounds(d, [d // num] * num))
        return split_kernel

    def lower(op, axis, x):
        a = int(xla.static_value(op, axis, 0)) % np.ndim(x)
        return tuple(xla.jnp.split(x, op._attrs["num_split"], axis=a))

    def grad(op, *grads):
        return [None, concat(list(grads), op._inputs[0])]

    samples = [Sample(lambda x: split(x, 3, axis=1)[2], [(2, 6)]), Sample(lambda x: split(x, 2)[0], [(4, 3)])]


class SplitV(OpDef):
    view_map = every_output_views(0)

    def infer(op):
        x, sizes_t, axis_t = op._inputs
        num = op._attrs["num_split"]
        dims = x.shape.as_tuple()
        a = _const_value(axis_t)
        sizes = _const_value(sizes_t)
        if dims is None or a is None:
            return [(x.dtype, unknown_shape(None if dims is None else len(dims)))] * num
        a = _canon_axis(op, int(a), len(dims), "split dimension")
        if sizes is None:
            return [(x.dtype, TensorShape(dims[:a] + (None,) + dims[a + 1:]))] * num
        sizes = [int(s) for s in sizes.reshape(-1)]
        if len(sizes) != num:
            raise _shape_error(op, "num_split %d does not match %d size_splits" % (num, len(sizes)))
        if sizes.count(-1) > 1:
            raise _shape_error(op, "Only one dimensions can have a value of -1 in size_splits")
        known = sum(s for s in sizes if s != -1)
        d = dims[a]
        if d is not None and (known > d or (-1 not in sizes and known != d)):
            raise _shape_error(op, "Determined shape must either match input shape along split_dim exactly if "
                               "fully specified, or be less than the size of the input along split_dim if not "
                               "fully specified. Got sizes %s for dimension %d of size %d" % (sizes, a, d))
        out = []
        for s in sizes:
            s = (None if d is None else d - known) if s == -1 else s
            out.append((x.dtype, TensorShape(dims[:a] + (s,) + dims[a + 1:])))
        return out

    def kernel(op, ctx):
        def splitv(x, sizes, axis):
            a = int(axis) % x.ndim
            d = x.shape[a]
            sizes = [int(s) for s in sizes]
            if -1 in sizes:
                sizes[sizes.index(-1)] = d - (sum(sizes) + 1)
            if sum(sizes) != d or min(sizes) < 0:
                raise ValueError("size_splits %s do not add up to dimension %d of size %d" % (sizes, a, d))
            return _pieces(x, a, _split_bounds(d, sizes))
        return splitv

    def lower(op, x, sizes, axis):
        a = int(xla.static_value(op, axis, 2)) % np.ndim(x)
        sizes = [int(s) for s in xla.static_value(op, sizes, 1)]
        d = np.shape(x)[a]
        if -1 in sizes:
            sizes[sizes.index(-1)] = d - (sum(sizes) + 1)
        return tuple(xla.jnp.split(x, np.cumsum(sizes)[:-1].tolist(), axis=a))

    def grad(op, *grads):
        return [concat(list(grads), op._inputs[2]), None, None]

    samples = [Sample(lambda x: split(x, [1, 2], axis=0)[1], [(3, 2)]),
               Sample(lambda x: split(x, [2, -1, 1], axis=-1)[1], [(2, 6)])]


def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    """Splits `value` along `axis` into `num_or_size_splits` equal pieces, or pieces of the given sizes.

    The TF 0.x order split(split_dim, num_split, value) is accepted too."""
    if isinstance(value, (int, np.integer)) and isinstance(num_or_size_splits, (int, np.integer)) and \
            not isinstance(axis, (int, np.integer)):
        value, axis = axis, value
    with name_scope(name, "split", [value]) as scope:
        x = convert_to_tensor(value, name="value")
        if isinstance(num_or_size_splits, (int, np.integer, Dimension)):
            n = int(_plain_ints(num_or_size_splits))
            if n < 1:
                raise ValueError("split: num_or_size_splits must be positive, got %d" % n)
            return create_op_outputs("Split", [_int_tensor(axis, "split_dim"), x], {"num_split": n}, scope)
        sizes = _int_tensor(num_or_size_splits, "size_splits")
        if sizes.shape.ndims == 0:
            raise ValueError("Rank-0 tensors are not supported as the num_or_size_splits argument to split. "
                             "Argument provided: %s" % (num_or_size_splits,))
        if num is None:
            n = sizes.shape.as_tuple()
            num = n[0] if n else None
            if num is None:
                raise ValueError("Cannot infer num from shape %s" % (num_or_size_splits,))
        return create_op_outputs("SplitV", [x, sizes, _int_tensor(axis, "split_dim")], {"num_split": int(num)},
                                 scope)


# -- Tile
class Tile(OpDef):
    def infer(op):
        x, mult_t = op._inputs
        dims = x.shape.as_tuple()
        m = _const_value(mult_t)
        if m is None:
            n = mult_t.shape.as_tuple()
            return x.dtype, unknown_shape(len(dims) if dims is not None else (n[0] if n else None))
        m = [int(v) for v in m.reshape(-1)]
        if dims is not None and len(m) != len(dims):
            raise _shape_error(op, "Shape must be rank %d but is rank %d (multiples must have one entry per "
                               "input dimension)" % (len(dims), len(m)))
        if any(v < 0 for v in m):
            raise _shape_error(op, "Expected multiples to be non-negative, got %s" % m)
        if dims is None:
            return x.dtype, unknown_shape(len(m))
        return x.dtype, TensorShape([None if d is None else d * k for d, k in zip(dims, m)])

    def kernel(op, ctx):
        def tile(x, multiples):
            if len(multiples) != np.ndim(x):
                raise ValueError("Expected multiples argument to be a vector of length %d but got length %d"
                                 % (np.ndim(x), len(multiples)))
            return np.tile(x, multiples)
        return tile

    def lower(op, x, multiples):
        return xla.jnp.tile(x, xla.shape_tuple(op, multiples, 1))

    def grad(op, g):
        return [apply_op("TileGrad", [g, op._inputs[1]], name="TileGrad"), None]

    samples = [Sample(lambda x: tile(x, [2, 1]), [(2, 3)]), Sample(lambda x: tile(x, [3]), [(2,)]),
               Sample(lambda x: tile(x, [2, 1, 3]), [(1, 2, 2)])]


def tile(input, multiples, name=None):  # noqa: A002
    """Repeats `input` multiples[i] times along dimension i."""
    return _apply_with_ints("Tile", input, name, multiples=multiples)


class TileGrad(OpDef):
    """Sums the tiles of g back into one: the gradient of Tile (TF's TileGrad)."""

    def infer(op):
        g, mult_t = op._inputs
        dims = g.shape.as_tuple()
        m = _const_value(mult_t)
        if dims is None or m is None:
            return g.dtype, unknown_shape(None if dims is None else len(dims))
        return g.dtype, TensorShape([None if d is None else d // int(k) if k else 0
                                     for d, k in zip(dims, m.reshape(-1))])

    def kernel(op, ctx):
        def tile_grad(g, multiples):
            split_shape = []
            for d, k in zip(g.shape, multiples):   # dim d*k -> (k, d) so each tile is one slice
                k = int(k)
                split_shape += [k, d // k if k else 0]
            return g.reshape(split_shape).sum(axis=tuple(range(0, len(split_shape), 2)))
        return tile_grad

    def lower(op, g, multiples):
        split_shape = []
        for d, k in zip(np.shape(g), xla.shape_tuple(op, multiples, 1)):
            split_shape += [k, d // k if k else 0]
        return xla.jnp.sum(xla.jnp.reshape(g, split_shape), axis=tuple(range(0, len(split_shape), 2)))

    def grad(op, gg):
        return [tile(gg, op._inputs[1]), None]

    samples = [Sample(lambda g: apply_op("TileGrad", [g, _int_tensor([2, 3], "multiples")]), [(4, 6)])]


# -- Pad (zeros) / PadV2 (a given constant)
class Pad(OpDef):
    def infer(op):
        x, pads_t = op._inputs[:2]
        dims = x.shape.as_tuple()
        pads = _const_value(pads_t)
        if pads is None:
            n = pads_t.shape.as_tuple()
            return x.dtype, unknown_shape(len(dims) if dims is not None else (n[0] if n else None))
        if pads.ndim != 2 or pads.shape[1] != 2 or (dims is not None and pads.shape[0] != len(dims)):
            raise _shape_error(op, "The paddings must be a matrix of shape [rank, 2] = [%s, 2], got %s"
                               % ("?" if dims is None else len(dims), list(pads.shape)))
        if (pads < 0).any():
            raise _shape_error(op, "Paddings must be non-negative, got %s" % pads.tolist())
        if dims is None:
            return x.dtype, unknown_shape(pads.shape[0])
        return x.dtype, TensorShape([None if d is None else d + int(b) + int(e) for d, (b, e) in zip(dims, pads)])

    def kernel(op, ctx):
        has_value = len(op._inputs) == 3
        npd = op._inputs[0].dtype.as_numpy_dtype

        def pad(x, paddings, value=None):
            if paddings.shape != (np.ndim(x), 2) or (paddings < 0).any():
                raise ValueError("paddings must be a non-negative matrix of shape [%d, 2], got %s"
                                 % (np.ndim(x), paddings.tolist()))
            shp = tuple(d + int(b) + int(e) for d, (b, e) in zip(np.shape(x), paddings))
            out = np.full(shp, value, dtype=npd) if has_value else np.zeros(shp, dtype=npd)
            out[tuple(_pyslice(int(b), int(b) + d) for d, (b, _) in zip(np.shape(x), paddings))] = x
            return out
        return pad

    def lower(op, x, paddings, value=None):
        pads = [(int(b), int(e)) for b, e in xla.static_value(op, paddings, 1)]
        return xla.jnp.pad(x, pads, constant_values=0 if value is None else value)

    def grad(op, g):
        x, pads_t = op._inputs[:2]
        pads = _const_value(pads_t)
        if pads is not None:
            begin = pads[:, 0].astype(np.int32)
        else:
            begin = reshape(slice(pads_t, [0, 0], [-1, 1]), [-1])
        return [slice(g, begin, _shape_of(x, begin.dtype if isinstance(begin, Tensor) else dtypes.int32))] \
            + [None] * (len(op._inputs) - 1)

    samples = [Sample(lambda x: pad(x, [[1, 0], [2, 1]]), [(2, 3)]), Sample(lambda x: pad(x, [[0, 2]]), [(3,)])]


class PadV2(Pad):
    samples = [Sample(lambda x: pad(x, [[1, 1], [0, 2]], constant_values=1.5), [(2, 2)])]


def pad(tensor, paddings, mode="CONSTANT", name=None, constant_values=0):
    """Pads with `constant_values` (mode CONSTANT): dimension i grows by paddings[i][0] before and
    paddings[i][1] after."""
    mode = str(mode).upper()
    if mode in ("REFLECT", "SYMMETRIC"):
        raise NotImplementedError("tf.pad mode %r is not implemented in nanotf (only CONSTANT)" % mode)
    if mode != "CONSTANT":
        raise ValueError("Unknown padding mode: %s" % mode)
    with name_scope(name, "Pad", [tensor]) as scope:
        x = convert_to_tensor(tensor, name="tensor")
        pads = _int_tensor(paddings, "paddings")
        if not isinstance(constant_values, Tensor) and np.all(np.asarray(constant_values) == 0):
            return apply_op("Pad", [x, pads], name=scope)
        value = convert_to_tensor(constant_values, dtype=x.dtype, name="constant_values")
        return apply_op("PadV2", [x, pads, value], name=scope)


# -- OneHot
class OneHot(OpDef):
    grad = None   # as in TF: no gradient to indices, on_value or off_value

    def infer(op):
        idx, depth_t, on, off = op._inputs
        if idx.dtype not in (dtypes.uint8, dtypes.int32, dtypes.int64):
            raise TypeError("OneHot %r: indices must be uint8, int32 or int64, got %s" % (op.name, idx.dtype.name))
        if on.dtype is not off.dtype:
            raise TypeError("OneHot %r: on_value (%s) and off_value (%s) must have the same dtype"
                            % (op.name, on.dtype.name, off.dtype.name))
        depth = _const_value(depth_t)
        if depth is not None and depth < 0:
            raise _shape_error(op, "depth must be non-negative, got: %d" % depth)
        d = None if depth is None else int(depth)
        dims = idx.shape.as_tuple()
        a = op._attrs["axis"]
        if dims is None:
            return on.dtype, unknown_shape()
        if not -1 <= a <= len(dims):
            raise _shape_error(op, "Expected axis to be -1 or between [0, %d).  But received: %d"
                               % (len(dims) + 1, a))
        a = len(dims) if a == -1 else a
        return on.dtype, TensorShape(dims[:a] + (d,) + dims[a:])

    def kernel(op, ctx):
        a = op._attrs["axis"]
        npd = op._inputs[2].dtype.as_numpy_dtype

        def one_hot_kernel(idx, depth, on, off):
            depth = int(depth)
            if depth < 0:
                raise ValueError("depth must be non-negative, got: %d" % depth)
            k = np.ndim(idx) if a == -1 else a
            classes = np.arange(depth).reshape((depth,) + (1,) * (np.ndim(idx) - k))
            # out-of-range indices (negative or >= depth) match no class: an all-off row, as in TF
            hot = np.expand_dims(idx, k) == classes
            return np.where(hot, np.asarray(on, dtype=npd), np.asarray(off, dtype=npd))
        return one_hot_kernel

    def lower(op, idx, depth, on, off):
        depth = int(xla.static_value(op, depth, 1))
        a = op._attrs["axis"]
        k = np.ndim(idx) if a == -1 else a
        classes = xla.jnp.arange(depth).reshape((depth,) + (1,) * (np.ndim(idx) - k))
        hot = xla.jnp.expand_dims(idx, k) == classes
        return xla.jnp.where(hot, xla.asarray(on, xla.out_dtype(op)), xla.asarray(off, xla.out_dtype(op)))

    samples = [Sample(lambda i: one_hot(i, 4), [np.array([0, 3, 1, 5, -1], np.int32)], grad=()),
               Sample(lambda i, on, off: one_hot(i, 3, on, off, axis=0), [np.array([[0, 2], [1, 1]], np.int64),
                                                                        (), ()], grad=())]


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """One-hot vectors of length `depth` at `axis` (default last): on_value where the index matches."""
    with name_scope(name, "one_hot", [indices, depth, on_value, off_value]) as scope:
        idx = convert_to_tensor(indices, name="indices")
        dtype = None if dtype is None else dtypes.as_dtype(dtype)

        def value_dtype(v):
            return convert_to_tensor(v).dtype if isinstance(v, Tensor) or hasattr(v, "_as_tensor") else None
        on_dt, off_dt = value_dtype(on_value), value_dtype(off_value)
        for dt, what in ((on_dt, "on_value"), (off_dt, "off_value")):
            if dt is not None and dtype is not None and dt is not dtype:
                raise TypeError("dtype %s of %s does not match dtype parameter %s" % (dt.name, what, dtype.name))
        if dtype is None:
            dtype = on_dt or off_dt
        if dtype is None:   # Python values or nothing given: TF infers from on_value, else float32
            given = on_value if on_value is not None else off_value
            dtype = dtypes.dtype_of_value(given) if given is not None else dtypes.float32
        on = convert_to_tensor(1 if on_value is None else on_value, dtype=dtype, name="on_value")
        off = convert_to_tensor(0 if off_value is None else off_value, dtype=dtype, name="off_value")
        d = _int_tensor(depth, "depth")
        a = -1 if axis is None else _static_int(axis, "axis", "one_hot")
        return apply_op("OneHot", [idx, d, on, off], {"axis": a}, name=scope)


# -- BroadcastTo / ReverseV2
class BroadcastTo(OpDef):
    view_map = {0: (0,)}

    def infer(op):
        x, shape_t = op._inputs
        target = _static_shape_from(shape_t)
        src, dst = x.shape.as_tuple(), target.as_tuple()
        if src is not None and dst is not None:
            if len(src) > len(dst):
                raise _shape_error(op, "Rank of input (%d) must be no greater than rank of output shape (%d)"
                                   % (len(src), len(dst)))
            for a, b in zip(src[::-1], dst[::-1]):
                if a is not None and b is not None and a != 1 and a != b:
                    raise _shape_error(op, "Incompatible shapes: %s vs. %s" % (_fmt_shape(x.shape),
                                                                             _fmt_shape(target)))
        return x.dtype, target

    def kernel(op, ctx):
        return lambda x, shp: np.broadcast_to(x, tuple(shp))

    def lower(op, x, shape):
        return xla.jnp.broadcast_to(x, xla.shape_tuple(op, shape, 1))

    def grad(op, g):
        return [_math().sum_to_shape_of(g, op._inputs[0]), None]

    samples = [Sample(lambda x: broadcast_to(x, [2, 3]), [(3,)]), Sample(lambda x: broadcast_to(x, [2, 3]), [(2, 1)]),
               Sample(lambda x: broadcast_to(x, [2, 2]), [()])]


def broadcast_to(input, shape, name=None):  # noqa: A002 - shadows the module function on purpose
    """`input` broadcast (NumPy rules) to `shape`."""
    return _apply_with_ints("BroadcastTo", input, name, shape=shape)


class ReverseV2(OpDef):
    view_map = {0: (0,)}

    def infer(op):
        x, axes, r = _x_and_static_arg(op)
        if axes is not None and r is not None:
            seen = set()
            for a in axes.reshape(-1):
                a = _canon_axis(op, int(a), r)
                if a in seen:
                    raise _shape_error(op, "axis %d specified more than once" % a)
                seen.add(a)
        return x.dtype, x.shape

    def kernel(op, ctx):
        axes = _const_value(op._inputs[1])

        def index(ndim, axes):
            flip = {int(a) % ndim for a in np.reshape(axes, -1)}
            return tuple(_pyslice(None, None, -1) if i in flip else _pyslice(None) for i in range(ndim))
        r = op._inputs[0].shape.ndims
        if axes is None or r is None:
            return lambda x, a: x[index(np.ndim(x), a)]
        idx = index(r, axes)
        return lambda x, a: x[idx]

    def lower(op, x, axes):
        flip = xla.axes_of([int(a) for a in np.reshape(xla.static_value(op, axes, 1), -1)], np.ndim(x))
        return xla.jnp.flip(x, flip) if flip else x

    def grad(op, g):
        return [reverse(g, op._inputs[1]), None]

    samples = [Sample(lambda x: reverse(x, [1]), [(2, 3)]), Sample(lambda x: reverse(x, [0, -1]), [(2, 3, 4)])]


def reverse(tensor, axis, name=None):
    """Reverses `tensor` along each dimension in `axis` (TF >= 1.0 semantics, op ReverseV2)."""
    return _apply_with_ints("ReverseV2", tensor, name, "tensor", axis=axis)


reverse_v2 = reverse


# -- sequences of different lengths in one batch (RNN helpers)
class ReverseSequence(OpDef):
    """Reverses the first seq_lengths[b] entries along `seq_dim` of each batch entry b (along
    `batch_dim`); entries past a sequence's length stay where they are."""

    def infer(op):
        x, lengths = op._inputs
        seq_dim, batch_dim = op._attrs["seq_dim"], op._attrs["batch_dim"]
        if not lengths.dtype.is_integer:
            raise TypeError("ReverseSequence %r: seq_lengths must be int32 or int64, got %s"
                            % (op.name, lengths.dtype.name))
        ldims = lengths.shape.as_tuple()
        if ldims is not None and len(ldims) != 1:
            raise _shape_error(op, "seq_lengths must be 1-dim, not %d-dim" % len(ldims))
        dims = x.shape.as_tuple()
        if dims is not None:
            r = len(dims)
            for what, d in (("seq_dim", seq_dim), ("batch_dim", batch_dim)):
                if not 0 <= d < r:
                    raise _shape_error(op, "Invalid %s %d for input of rank %d" % (what, d, r))
            if seq_dim == batch_dim:
                raise _shape_error(op, "seq_dim and batch_dim must differ, both are %d" % seq_dim)
            if ldims is not None and ldims[0] is not None and dims[batch_dim] is not None \
                    and ldims[0] != dims[batch_dim]:
                raise _shape_error(op, "Length of seq_lengths != input.dims(%d), (%d vs. %d)"
                                   % (batch_dim, ldims[0], dims[batch_dim]))
        return x.dtype, x.shape

    def kernel(op, ctx):
        seq_dim, batch_dim = op._attrs["seq_dim"], op._attrs["batch_dim"]

        def reverse_sequence(x, lengths):
            n, b = x.shape[seq_dim], x.shape[batch_dim]
            if lengths.shape != (b,):
                raise ValueError("Length of seq_lengths != input.dims(%d), (%d vs. %d)"
                                 % (batch_dim, lengths.shape[0], b))
            if np.any(lengths > n) or np.any(lengths < 0):
                bad = int(np.flatnonzero((lengths > n) | (lengths < 0))[0])
                raise ValueError("seq_lengths(%d) = %d is outside [0, input.dims(%d) = %d]"
                                 % (bad, lengths[bad], seq_dim, n))
            t = np.arange(n)[:, None]                                 # [seq, batch]: where each entry comes from
            src = np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)
            shape = [1] * x.ndim
            shape[seq_dim], shape[batch_dim] = n, b
            index = src if seq_dim < batch_dim else src.T
            return np.take_along_axis(x, index.reshape(shape), axis=seq_dim)
        return reverse_sequence

    def lower(op, x, lengths):
        seq_dim, batch_dim = op._attrs["seq_dim"], op._attrs["batch_dim"]
        n, b = np.shape(x)[seq_dim], np.shape(x)[batch_dim]
        t = xla.jnp.arange(n)[:, None]
        lengths = lengths.astype(np.int64)[None, :]
        src = xla.jnp.where(t < lengths, lengths - 1 - t, t)
        shape = [1] * np.ndim(x)
        shape[seq_dim], shape[batch_dim] = n, b
        index = src if seq_dim < batch_dim else src.T
        return xla.jnp.take_along_axis(x, xla.jnp.reshape(index, shape), axis=seq_dim)

    def grad(op, g):
        return [reverse_sequence(g, op._inputs[1], seq_axis=op._attrs["seq_dim"],
                                 batch_axis=op._attrs["batch_dim"]), None]

    samples = [Sample(lambda x, n: reverse_sequence(x, n, seq_axis=1, batch_axis=0),
                      [(3, 4, 2), np.array([4, 0, 2], dtype=np.int32)]),
               Sample(lambda x, n: reverse_sequence(x, n, seq_axis=0, batch_axis=1),
                      [(4, 2), np.array([3, 1], dtype=np.int64)])]


def reverse_sequence(input, seq_lengths, seq_axis=None, batch_axis=None, name=None, seq_dim=None,  # noqa: A002
                     batch_dim=None):
    """tf.reverse_sequence: reverses variable-length slices (TF's argument names and their 1.x aliases)."""
    if seq_axis is not None and seq_dim is not None:
        raise ValueError("Cannot specify both 'seq_axis' and 'seq_dim'")
    if batch_axis is not None and batch_dim is not None:
        raise ValueError("Cannot specify both 'batch_axis' and 'batch_dim'")
    seq_axis = seq_axis if seq_axis is not None else seq_dim
    batch_axis = batch_axis if batch_axis is not None else (batch_dim if batch_dim is not None else 0)
    if seq_axis is None:
        raise TypeError("reverse_sequence() needs seq_axis (or seq_dim)")
    with name_scope(name, "ReverseSequence", [input, seq_lengths]) as scope:
        x = convert_to_tensor(input, name="input")
        lengths = convert_to_tensor(seq_lengths, name="seq_lengths")
        if lengths.dtype not in (dtypes.int32, dtypes.int64):
            lengths = _math().cast(lengths, dtypes.int64)
        r = x.shape.ndims
        seq_axis, batch_axis = int(seq_axis), int(batch_axis)
        if r is not None:
            seq_axis, batch_axis = seq_axis % r if seq_axis < 0 else seq_axis, \
                batch_axis % r if batch_axis < 0 else batch_axis
        return apply_op("ReverseSequence", [x, lengths], {"seq_dim": seq_axis, "batch_dim": batch_axis},
                        name=scope)


def sequence_mask(lengths, maxlen=None, dtype=dtypes.bool, name=None):
    """mask[..., j] = j < lengths[...]: a [..., maxlen] mask (maxlen defaults to max(lengths))."""
    m = _math()
    with name_scope(name, "SequenceMask", [lengths, maxlen]):
        lengths = convert_to_tensor(lengths, name="lengths")
        if not lengths.dtype.is_integer and not lengths.dtype.is_floating:
            raise TypeError("sequence_mask: lengths must be integers, got %s" % lengths.dtype.name)
        if maxlen is None:
            maxlen = m.reduce_max(lengths, name="max")
            maxlen = m.maximum(constant(0, dtype=maxlen.dtype), maxlen)
        else:
            maxlen = convert_to_tensor(maxlen, name="maxlen")
            if maxlen.shape.ndims is not None and maxlen.shape.ndims != 0:
                raise ValueError("maxlen must be scalar for sequence_mask, got shape %s" % maxlen.shape)
        row = m.range(constant(0, dtype=maxlen.dtype), maxlen, constant(1, dtype=maxlen.dtype))
        limits = expand_dims(m.cast(lengths, maxlen.dtype), -1)
        mask = m.less(row, limits)
        dtype = dtypes.as_dtype(dtype)
        return mask if dtype is dtypes.bool else m.cast(mask, dtype)


# The indexing ops (gather, slice, strided_slice, Tensor.__getitem__, ...) live in indexing_ops.py, which
# builds on the helpers above; they stay array_ops names, as in TF. Imported last: indexing_ops imports this.
from nanotf.ops.indexing_ops import (boolean_mask, gather, gather_nd, scatter_nd, slice,  # noqa: E402,F401
                                     strided_slice)
