"""Math ops: elementwise arithmetic with broadcasting, matmul, reductions, casts, comparisons,
logical ops, selection, ranges and cumulative sums.

Broadcasting binary ops reduce their gradients back to each input's *runtime* shape with the
internal op SumToShapeOf (whose own gradient is BroadcastToShapeOf), so gradients stay
differentiable and work with unknown dimensions.

Several public names shadow Python builtins (`abs`, `pow`, `round`, `range`), as TensorFlow's do;
code in this module uses the `builtins.` versions explicitly.
"""
import builtins
import functools
import re

import numpy as np

from nanotf.framework import dtypes, parallel
from nanotf.framework import lowering as xla
from nanotf.framework.op_def import FusedOpDef, OpDef, Sample, define_op, writes_into
from nanotf.framework.ops import Tensor, apply_op, convert_to_tensor, name_scope
from nanotf.framework.tensor_shape import TensorShape, broadcast_shapes, unknown_shape
from nanotf.ops import array_ops
from nanotf.ops._shape_util import broadcast_infer, normalize_axes, reduced_shape, same_as_input, sum_to_shape

__all__ = ["add", "subtract", "sub", "multiply", "mul", "divide", "truediv", "div", "negative", "neg",
           "matmul", "reduce_sum", "reduce_mean", "cast", "to_float", "to_double", "to_int32", "to_int64",
           "add_n",
           # elementwise unary
           "square", "sqrt", "rsqrt", "exp", "log", "log1p", "abs", "sign", "reciprocal", "floor", "ceil",
           "round",
           # elementwise binary
           "pow", "maximum", "minimum", "squared_difference", "floordiv", "floormod", "mod", "scalar_mul",
           "clip_by_value",
           # reductions and arg-reductions
           "reduce_max", "reduce_min", "reduce_prod", "reduce_all", "reduce_any", "count_nonzero",
           "argmax", "argmin", "arg_max", "arg_min",
           # comparisons and logic
           "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
           "logical_and", "logical_or", "logical_not", "logical_xor",
           # selection, sequences
           "where", "select", "range", "linspace", "lin_space", "cumsum",
           # built from the ops above; linear algebra
           "reduce_logsumexp", "qr"]

_py_range = builtins.range
_py_abs = builtins.abs

# dtype families by NumPy kind letter (TF's allowed-type lists, as far as nanotf has the types)
_FLOAT, _INT, _NUMERIC, _BOOL, _ANY = "f", "iu", "fiu", "b", "fiubO"


def _allowed_names(kinds):
    return ", ".join(d.name for d in dtypes._ALL if d._np.kind in kinds)


def _require(op, i, kinds, param):
    """Build-time dtype check of input i, worded like TF's 'not in list of allowed values' error."""
    t = op._inputs[i]
    if t.dtype._np.kind not in kinds:
        raise TypeError("Value passed to parameter '%s' has DataType %s not in list of allowed values: %s "
                        "(op %r of type %s, input %s)"
                        % (param, t.dtype.name, _allowed_names(kinds), op.name, op.type, t.name))


def _unary_infer(kinds):
    def infer(op):
        _require(op, 0, kinds, "x")
        return same_as_input(op)
    return infer


def _binary_infer(kinds, out_dtype=None):
    def infer(op):
        _require(op, 0, kinds, "x")
        return broadcast_infer(op, out_dtype)
    return infer


def _const_value(t):
    """The NumPy value of a Const tensor, else None (for shape rules that can use static values)."""
    return t.op._attrs["value"] if t.op.type == "Const" else None


# -- gradient plumbing for broadcasting
class SumToShapeOf(OpDef):
    """Sums g down to the runtime shape of x (undoes NumPy broadcasting)."""
    shape_only_inputs = (1,)
    view_map = {0: (0,)}   # g itself when no broadcasting happened

    def infer(op):
        return op._inputs[0].dtype, op._inputs[1].shape

    def kernel(op, ctx):
        gs, xs = op._inputs[0].shape, op._inputs[1].shape
        if gs.is_fully_defined() and xs.is_fully_defined():   # the summed axes are known now
            g_dims, x_dims = tuple(gs.as_list()), tuple(xs.as_list())
            extra = len(g_dims) - len(x_dims)
            axes = tuple(_py_range(extra)) + tuple(i + extra for i, d in enumerate(x_dims)
                                               if d == 1 and g_dims[i + extra] != 1)
            add_reduce = np.add.reduce

            def sum_to_static_shape(g, x):
                if g.shape != g_dims:   # a value that does not fit its static shape: the general path
                    return sum_to_shape(g, np.shape(x))
                return add_reduce(g, axis=axes, keepdims=True).reshape(x_dims) if axes else g.reshape(x_dims)
            return sum_to_static_shape
        return lambda g, x: sum_to_shape(g, np.shape(x))

    def lower(op, g, x):
        g_dims, x_dims = np.shape(g), np.shape(x)
        extra = len(g_dims) - len(x_dims)
        axes = tuple(_py_range(extra)) + tuple(i + extra for i, d in enumerate(x_dims)
                                               if d == 1 and g_dims[i + extra] != 1)
        return xla.jnp.reshape(xla.jnp.sum(g, axis=axes, keepdims=True), x_dims) if axes else xla.jnp.reshape(g, x_dims)

    def grad(op, gg):
        return [broadcast_to_shape_of(gg, op._inputs[0]), None]

    samples = [Sample(lambda g, x: sum_to_shape_of(g, x), [(2, 3), (3,)]),
               Sample(lambda g, x: sum_to_shape_of(g, x), [(2, 3), (2, 1)])]


class BroadcastToShapeOf(OpDef):
    """Broadcasts g to the runtime shape of x."""
    shape_only_inputs = (1,)
    view_map = {0: (0,)}   # a read-only broadcast view of g

    def infer(op):
        return op._inputs[0].dtype, op._inputs[1].shape

    def kernel(op, ctx):
        return lambda g, x: np.broadcast_to(g, np.shape(x))

    def lower(op, g, x):
        return xla.jnp.broadcast_to(g, np.shape(x))

    def grad(op, gg):
        return [sum_to_shape_of(gg, op._inputs[0]), None]

    samples = [Sample(lambda g, x: broadcast_to_shape_of(g, x), [(3,), (2, 3)])]


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
    elif isinstance(y, Tensor) or hasattr(y, "_as_tensor") or not isinstance(x, (np.ndarray, np.generic)):
        y = convert_to_tensor(y)
        x = convert_to_tensor(x, dtype=y.dtype)
    else:   # two non-tensors, x an array: x sets the dtype (TF converts x first): float64 + 1e-3 stays float64
        x = convert_to_tensor(x)
        y = convert_to_tensor(y, dtype=x.dtype)
    return x, y


def _binary(op_type, x, y, name):
    x, y = _pair(x, y)
    return apply_op(op_type, [x, y], name=name or op_type)


def _unary(op_type, x, name):
    return apply_op(op_type, [convert_to_tensor(x)], name=name or op_type)


# -- elementwise ops: one table entry per TF op type
def _elementwise(type_name, arity, kinds, grad, samples, fn=None, kernel=None, out_dtype=None, infer=None,
                 public=None, **facts):
    """Registers the elementwise op `type_name` from a table entry; returns its public wrapper, taking
    (x, name=None) or, with arity 2, (x, y, name=None) (`public`, when given, is the wrapper written out).
    The kernel is the NumPy function `fn`, or `kernel(op)` when it depends on the dtype. `kinds`: the
    dtype kinds input 0 may have (`infer` overrides the shape rule). `grad(op, g)` gives the input
    gradients (None: not differentiable). `samples`: per sample, the inputs (a bare spec for arity 1)."""
    if public is not None:
        wrapper = public
    else:
        if arity == 2:
            def wrapper(x, y, name=None):
                return _binary(type_name, x, y, name)
        else:
            def wrapper(x, name=None):
                return _unary(type_name, x, name)
        wrapper.__name__ = wrapper.__qualname__ = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", type_name).lower()
    if infer is None:
        infer = _binary_infer(kinds, out_dtype) if arity == 2 else _unary_infer(kinds)
    define_op(type_name, __name__, elementwise=True, infer=infer, grad=grad,
              kernel=(lambda op, ctx: kernel(op)) if kernel else (lambda op, ctx: fn),
              samples=[Sample(lambda *xs: wrapper(*xs), inputs if arity == 2 else [inputs]) for inputs in samples],
              **facts)
    return wrapper


_FLOAT_PAIRS = [[(2, 3), (2, 3)], [(2, 3), (3,)], [(4, 1), (1, 3)], [(), (2, 2)]]   # broadcasting both ways
_DIVISOR_PAIRS = [[(2, 3), lambda rng: rng.uniform(1, 2, (2, 3))], [(2, 3), lambda rng: rng.uniform(1, 2, (3,))]]


def _positive(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def _away_from_zero(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def _spread(*shape):   # values a few units apart: floor, ceil and round change them
    return lambda rng: rng.normal(0, 3, shape)


_INT_ARRAY = np.array([[-3, 0, 2], [5, -1, 7]], dtype=np.int32)


def _sub_grad(op, g):
    x, y = op._inputs
    return [sum_to_shape_of(g, x), sum_to_shape_of(negative(g), y)]


def _mul_grad(op, g):
    x, y = op._inputs
    return [sum_to_shape_of(multiply(g, y), x), sum_to_shape_of(multiply(x, g), y)]


def _real_div_kernel(op):
    if op._inputs[0].dtype.is_integer:
        npd = op._inputs[0].dtype.as_numpy_dtype
        return lambda a, b: np.trunc(np.true_divide(a, b)).astype(npd)
    return np.true_divide


def _real_div_lower(op, a, b):
    if op._inputs[0].dtype.is_integer:
        return xla.jnp.trunc(xla.jnp.true_divide(a, b)).astype(xla.out_dtype(op))
    return xla.jnp.true_divide(a, b)


def _real_div_grad(op, g):
    x, y = op._inputs
    return [sum_to_shape_of(divide(g, y), x), sum_to_shape_of(multiply(g, divide(negative(x), multiply(y, y))), y)]


def _div_no_nan(x, y):
    zero = y == 0
    return np.where(zero, 0, np.true_divide(x, np.where(zero, 1, y)))


def _div_no_nan_lower(op, x, y):
    zero = y == 0
    return xla.jnp.where(zero, xla.zero_of(xla.jnp.asarray(x)),
                         xla.jnp.true_divide(x, xla.jnp.where(zero, np.ones((), y.dtype), y)))


def _div_no_nan_grad(op, g):
    x, y = op._inputs
    gx = div_no_nan(g, y)
    gy = multiply(g, div_no_nan(div_no_nan(negative(x), y), y))
    return [sum_to_shape_of(gx, x), sum_to_shape_of(gy, y)]


# the kernel may write the result into either operand (out=)
add = _elementwise("Add", 2, _NUMERIC + "O", lambda op, g: [sum_to_shape_of(g, t) for t in op._inputs], _FLOAT_PAIRS,
                   fn=writes_into(np.add), fresh_output=True, destroy_map={0: (0, 1)},
                   lower=xla.elementwise("add"))   # "O": strings concatenate
subtract = _elementwise("Sub", 2, _NUMERIC, _sub_grad, _FLOAT_PAIRS, fn=writes_into(np.subtract),
                        fresh_output=True, destroy_map={0: (0, 1)}, lower=xla.elementwise("subtract"))
multiply = _elementwise("Mul", 2, _NUMERIC, _mul_grad, _FLOAT_PAIRS, fn=writes_into(np.multiply),
                        fresh_output=True, destroy_map={0: (0, 1)}, lower=xla.elementwise("multiply"))
_elementwise("RealDiv", 2, _NUMERIC, _real_div_grad, _DIVISOR_PAIRS, kernel=_real_div_kernel,
             public=lambda x, y: divide(x, y), lower=_real_div_lower)
_elementwise("DivNoNan", 2, None, _div_no_nan_grad, [_DIVISOR_PAIRS[0], [(2, 3), lambda rng: rng.uniform(1, 2, ())]],
             fn=_div_no_nan, infer=broadcast_infer, public=lambda x, y: div_no_nan(x, y), lower=_div_no_nan_lower)
negative = _elementwise("Neg", 1, _NUMERIC, lambda op, g: [negative(g)], [(2, 3)], fn=np.negative,
                        lower=xla.elementwise("negative"))
sub, mul, neg = subtract, multiply, negative


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
        return apply_op("FloorDiv", [x, y], name=name or "div")
    return apply_op("RealDiv", [x, y], name=name or "div")


def div_no_nan(x, y, name=None):
    """x / y, and 0 wherever y == 0 (the losses' safe mean)."""
    return apply_op("DivNoNan", [x, y], name=name or "div_no_nan")


# -- elementwise unary math
def _reciprocal_kernel(op):
    if not op._inputs[0].dtype.is_integer:
        return np.reciprocal
    npd = op._inputs[0].dtype.as_numpy_dtype
    one = npd(1)

    def int_reciprocal(x):   # integer 1/x truncates toward zero; division by zero is an error, not a NumPy warning
        if np.any(x == 0):
            raise ZeroDivisionError("Integer division by zero")
        return np.asarray(np.trunc(one / x)).astype(npd)
    return int_reciprocal


def _reciprocal_lower(op, x):
    if op._inputs[0].dtype.is_integer:
        return xla.jnp.trunc(1.0 / x).astype(xla.out_dtype(op))
    return xla.jnp.reciprocal(x)


def _cube_times(y, c):
    return multiply(multiply(y, square(y)), c)


def _no_input_gradient(op, g):
    """Gradient of a piecewise-constant function: zero almost everywhere (TF returns None)."""
    return [None] * len(op._inputs)


square = _elementwise("Square", 1, _NUMERIC, lambda op, g: [multiply(g, multiply(op._inputs[0], 2.0))],
                      [(2, 3), (), _INT_ARRAY], fn=np.square, lower=xla.elementwise("square"))
sqrt = _elementwise("Sqrt", 1, _FLOAT, lambda op, g: [divide(multiply(g, 0.5), op._outputs[0])],  # 0.5 / sqrt(x)
                    [_positive(2, 3)], fn=np.sqrt, lower=xla.elementwise("sqrt"))
rsqrt = _elementwise("Rsqrt", 1, _FLOAT, lambda op, g: [multiply(g, _cube_times(op._outputs[0], -0.5))],  # -y^3/2
                     [_positive(2, 3)], fn=lambda x: np.reciprocal(np.sqrt(x)), lower=xla.elementwise("lax.rsqrt"))
exp = _elementwise("Exp", 1, _FLOAT, lambda op, g: [multiply(g, op._outputs[0])], [(2, 3)], fn=np.exp,
                   lower=xla.elementwise("exp"))
log = _elementwise("Log", 1, _FLOAT, lambda op, g: [divide(g, op._inputs[0])], [_positive(2, 3)], fn=np.log,
                   lower=xla.elementwise("log"))
log1p = _elementwise("Log1p", 1, _FLOAT, lambda op, g: [divide(g, add(op._inputs[0], 1.0))],
                     [lambda rng: rng.uniform(-0.5, 2.0, (2, 3))], fn=np.log1p, lower=xla.elementwise("log1p"))
abs = _elementwise("Abs", 1, _NUMERIC, lambda op, g: [multiply(g, sign(op._inputs[0]))],  # noqa: A001 - TF's name
                   [_away_from_zero(2, 3), _INT_ARRAY], fn=np.abs, lower=xla.elementwise("abs"))
sign = _elementwise("Sign", 1, _NUMERIC, lambda op, g: [array_ops.zeros_like(op._inputs[0])],  # 0 a.e., as TF gives
                    [_away_from_zero(2, 3), _INT_ARRAY], fn=np.sign, lower=xla.elementwise("sign"))
reciprocal = _elementwise("Reciprocal", 1, _NUMERIC, lambda op, g: [multiply(negative(g), square(op._outputs[0]))],
                          [_away_from_zero(2, 3)], kernel=_reciprocal_kernel, lower=_reciprocal_lower)
floor = _elementwise("Floor", 1, _FLOAT, _no_input_gradient, [_spread(2, 3)], fn=np.floor,
                     lower=xla.elementwise("floor"))
ceil = _elementwise("Ceil", 1, _FLOAT, _no_input_gradient, [_spread(2, 3)], fn=np.ceil, lower=xla.elementwise("ceil"))
# rounds half to even (banker's rounding), as TensorFlow and NumPy do; integers pass through unchanged
def _round_lower(op, x):
    return x if op._inputs[0].dtype.is_integer else xla.jnp.round(x)


round = _elementwise("Round", 1, _NUMERIC, _no_input_gradient, [_spread(2, 3), _INT_ARRAY],  # noqa: A001
                     kernel=lambda op: (lambda x: x) if op._inputs[0].dtype.is_integer else np.round,
                     view_map={0: (0,)}, lower=_round_lower)


# -- elementwise binary math
def _pow_kernel(op):
    if not op._inputs[0].dtype.is_integer:
        return np.power

    def int_pow(x, y):
        if np.any(np.asarray(y) < 0):
            raise ValueError("Integers to negative integer powers are not allowed")
        return np.power(x, y)
    return int_pow


def _pow_lower(op, x, y):
    if op._inputs[0].dtype.is_integer and np.ndim(y) == 0 and xla.is_numpy(y):
        return xla.lax.integer_pow(x, int(xla.static_value(op, y, 1)))
    return xla.jnp.power(x, y)


def _pow_grad(op, g):
    x, y = op._inputs
    z = op._outputs[0]
    gx = multiply(g, multiply(y, pow(x, subtract(y, 1.0))))
    # d/dy x^y = x^y log x, taken as 0 where x <= 0 (as TF does)
    log_x = where(greater(x, 0.0), log(x), array_ops.zeros_like(x))
    gy = multiply(g, multiply(z, log_x))
    return [sum_to_shape_of(gx, x), sum_to_shape_of(gy, y)]


def _select_gradient(x_mask):
    """Routes g to x where x_mask(x, y) holds, else to y (Maximum/Minimum; ties go to x, as in TF)."""
    def grad(op, g):
        x, y = op._inputs
        mask, zeros = x_mask(x, y), array_ops.zeros_like(g)
        return [sum_to_shape_of(where(mask, g, zeros), x), sum_to_shape_of(where(mask, zeros, g), y)]
    return grad


def _squared_difference_grad(op, g):
    x, y = op._inputs
    gx = multiply(multiply(g, 2.0), subtract(x, y))
    return [sum_to_shape_of(gx, x), sum_to_shape_of(negative(gx), y)]


def _squared_difference_lower(op, x, y):
    return xla.jnp.square(xla.jnp.subtract(x, y))


def _int_division_checked(fn):
    """Integer floor division/modulo by zero is an error in TF (NumPy would warn and return 0)."""
    def checked(x, y):
        if np.any(np.asarray(y) == 0):
            raise ZeroDivisionError("Integer division by zero")
        return fn(x, y)
    return lambda op: checked if op._inputs[0].dtype.is_integer else fn


def _floormod_grad(op, g):
    x, y = op._inputs
    return [sum_to_shape_of(g, x), sum_to_shape_of(multiply(g, negative(floordiv(x, y))), y)]


_SPREAD_BY_DIVISOR = [[lambda rng: rng.normal(0, 4, (2, 3)), lambda rng: rng.uniform(1, 2, (2, 3))],
                      [_INT_ARRAY, np.array([2, -3, 4], np.int32)]]

pow = _elementwise("Pow", 2, _NUMERIC, _pow_grad, [[_positive(2, 3), (2, 3)], [_positive(2, 3), (3,)],  # noqa: A001
                                                   [_positive(), _positive(2, 2)],
                                                   [_INT_ARRAY, np.array([2, 0, 3], np.int32)]], kernel=_pow_kernel,
                   lower=_pow_lower)
maximum = _elementwise("Maximum", 2, _NUMERIC, _select_gradient(lambda x, y: greater_equal(x, y)), _FLOAT_PAIRS,
                       fn=np.maximum, lower=xla.elementwise("maximum"))
minimum = _elementwise("Minimum", 2, _NUMERIC, _select_gradient(lambda x, y: less_equal(x, y)), _FLOAT_PAIRS,
                       fn=np.minimum, lower=xla.elementwise("minimum"))
squared_difference = _elementwise("SquaredDifference", 2, _NUMERIC, _squared_difference_grad, _FLOAT_PAIRS,
                                  fn=lambda x, y: np.square(np.subtract(x, y)), lower=_squared_difference_lower)
_elementwise("FloorDiv", 2, _NUMERIC, _no_input_gradient, _SPREAD_BY_DIVISOR,
             kernel=_int_division_checked(np.floor_divide), public=lambda x, y: floordiv(x, y),
             lower=xla.elementwise("floor_divide"))   # XLA cannot raise: integer division by zero gives 0/-1
# the remainder of floor division: the result has the sign of y (Python's %)
floormod = _elementwise("FloorMod", 2, _NUMERIC, _floormod_grad, _SPREAD_BY_DIVISOR[:1] + [
    [lambda rng: rng.normal(0, 4, (2, 3)), lambda rng: rng.uniform(1, 2, (3,))]] + _SPREAD_BY_DIVISOR[1:],
    kernel=_int_division_checked(np.mod), lower=xla.elementwise("mod"))
mod = floormod


def floordiv(x, y, name=None):
    """Floor division, rounding toward negative infinity (x // y)."""
    return _binary("FloorDiv", x, y, name or "floordiv")


def scalar_mul(scalar, x, name=None):
    """Multiplies x by a scalar (a 0-d value or tensor)."""
    x = convert_to_tensor(x)
    scalar = convert_to_tensor(scalar, dtype=x.dtype, name="scalar")
    if scalar.shape.ndims != 0:
        raise ValueError("Only scalar multiply works, got shape %s" % (scalar.shape,))
    return apply_op("Mul", [scalar, x], name=name or "Mul")


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """Clips t to [clip_value_min, clip_value_max]; the gradient passes where t is inside the range."""
    with name_scope(name, "clip_by_value", [t, clip_value_min, clip_value_max]) as scope:
        t = convert_to_tensor(t, name="t")
        t_min = minimum(t, clip_value_max)
        return maximum(t_min, clip_value_min, name=scope)


class MatMul(OpDef):
    row_wise = staticmethod(lambda op, sliced: sliced == [True, False] and not op._attrs["transpose_a"])
    fresh_output = True

    def infer(op):
        a, b = op._inputs
        ta, tb = op._attrs["transpose_a"], op._attrs["transpose_b"]
        if a.dtype is not b.dtype:
            raise TypeError("MatMul %r: inputs must have the same dtype, got %s and %s" % (op.name, a.dtype.name, b.dtype.name))
        _require(op, 0, _NUMERIC, "a")
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
            return parallel.matmul
        return lambda a, b: parallel.matmul(a.T if ta else a, b.T if tb else b)

    def lower(op, a, b):
        a = a.T if op._attrs["transpose_a"] else a
        b = b.T if op._attrs["transpose_b"] else b
        return xla.jnp.matmul(a, b)

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
def _reduces_rows_apart(op, sliced):
    """Reductions (and arg-reductions) along axes other than the batch axis are row-wise."""
    rank = op._inputs[0].shape.ndims
    if not sliced[0] or any(sliced[1:]) or not rank:
        return False
    axes = op._attrs["axis"]
    if axes is None:
        return False
    try:
        axes = [int(a) for a in (axes if isinstance(axes, (list, tuple)) else [axes])]
    except TypeError:         # axes known only at run time
        return False
    return all(a % rank != 0 for a in axes) and (op._outputs[0].shape.ndims or 0) >= 1


class _Reduction(OpDef):
    row_wise = staticmethod(_reduces_rows_apart)
    abstract = True
    input_kinds = _NUMERIC

    def infer(op):
        _require(op, 0, op._def.input_kinds, "input")
        x = op._inputs[0]
        return x.dtype, reduced_shape(x.shape, op._attrs["axis"], op._attrs["keep_dims"])


def _reduction_axes(op, x):
    """A reduction's axes as a tuple of non-negative ints, for its lowering (x's rank is static there)."""
    return xla.axes_of(op._attrs["axis"], np.ndim(x))


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


class UnreduceLike(OpDef):
    """Gradient helper: broadcasts a reduced g back to the runtime shape of x (optionally / count)."""
    shape_only_inputs = (1,)
    view_map = {0: (0,)}   # a broadcast view of g unless divided by the count

    def infer(op):
        return op._inputs[0].dtype, op._inputs[1].shape

    def kernel(op, ctx):
        axes, keep, mean = op._attrs["axis"], op._attrs["keep_dims"], op._attrs["mean"]
        static = op._inputs[1].shape
        if static.is_fully_defined():   # shapes known: everything but the values is worked out now
            shp = tuple(static.as_list())
            ax = tuple(_py_range(len(shp))) if axes is None else tuple(a % len(shp) for a in axes)
            count = max(_count(shp, ax), 1)
            expand = ax if (ax and not keep) else None
            broadcast_to, expand_dims = np.broadcast_to, np.expand_dims

            def unreduce_static(g, x):
                if mean:   # divide the (small) reduced g, then broadcast: the same values, less work
                    g = g / np.asarray(count, dtype=g.dtype)
                return broadcast_to(g if expand is None else expand_dims(g, expand), shp)
            return unreduce_static

        def unreduce(g, x):
            shp = np.shape(x)
            ax = tuple(_py_range(len(shp))) if axes is None else tuple(a % len(shp) for a in axes)
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

    def lower(op, g, x):
        shp = np.shape(x)
        ax = xla.axes_of(op._attrs["axis"], len(shp))
        if ax and not op._attrs["keep_dims"]:
            g = xla.jnp.expand_dims(g, ax)
        if op._attrs["mean"]:
            count = max(int(np.prod([shp[a] for a in ax], dtype=np.int64)), 1)
            g = g / np.asarray(count, dtype=xla.out_dtype(op))
        return xla.jnp.broadcast_to(g, shp)

    def grad(op, gg):
        a = op._attrs
        red = reduce_mean if a["mean"] else reduce_sum
        return [red(gg, axis=a["axis"], keepdims=a["keep_dims"]), None]

    samples = [Sample(lambda g, x: _unreduce_like(g, x, (1,), False, True), [(2,), (2, 3)]),
               Sample(lambda g, x: _unreduce_like(g, x, None, True, False), [(1, 1), (2, 3)])]


def _unreduce_like(g, x, axis, keep_dims, mean):
    return apply_op("UnreduceLike", [g, x], {"axis": axis, "keep_dims": keep_dims, "mean": mean}, name="UnreduceLike")


def _static_axis(op_type, axis):
    """A reduction axis argument as Python ints: nanotf keeps axes static (a Const tensor is accepted)."""
    if isinstance(axis, Tensor):
        value = _const_value(axis)
        if value is None:
            raise NotImplementedError("%s: nanotf needs the reduction axis to be a constant, got %s" % (op_type, axis.name))
        return value.tolist()
    return axis


def _reduce(op_type, input_tensor, axis, keepdims, name, keep_dims, reduction_indices, default_name):
    x = convert_to_tensor(input_tensor)
    if axis is None:
        axis = reduction_indices
    if keepdims is None:
        keepdims = bool(keep_dims) if keep_dims is not None else False
    axis = _static_axis(op_type, axis)
    # With unknown rank, axes stay as given (possibly negative); kernels resolve them at run time.
    axes = normalize_axes(axis, x.shape.ndims)
    return apply_op(op_type, [x], {"axis": axes, "keep_dims": bool(keepdims)}, name=name or default_name)


class Sum(_Reduction):
    def kernel(op, ctx):
        axes, keep = op._attrs["axis"], op._attrs["keep_dims"]
        npd = op._inputs[0].dtype.as_numpy_dtype
        return lambda x: np.sum(x, axis=axes, keepdims=keep, dtype=npd)

    def lower(op, x):
        return xla.jnp.sum(x, axis=_reduction_axes(op, x), keepdims=op._attrs["keep_dims"], dtype=xla.out_dtype(op))

    def grad(op, g):
        a = op._attrs
        return [_unreduce_like(g, op._inputs[0], a["axis"], a["keep_dims"], False)]

    samples = [Sample(lambda x: reduce_sum(x), [(2, 3)]), Sample(lambda x: reduce_sum(x, 1), [(2, 3)]),
               Sample(lambda x: reduce_sum(x, [0, 2], keepdims=True), [(2, 3, 2)]),
               Sample(lambda x: reduce_sum(x, 0), [_INT_ARRAY])]


def reduce_sum(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce("Sum", input_tensor, axis, keepdims, name, keep_dims, reduction_indices, "Sum")


_SQUARE_SUM_BAND_BYTES = 1 << 20     # per square buffer: stays in the core's L2 cache


_DOT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


_DOT_BLOCK = 256   # columns per dot product in _rows_dotted


def _rows_dotted(rows, out):
    """out[i] = rows[i] . rows[i], over the intra-op threads, reading each row once. einsum's dot product keeps
    a few lanes of running sums, whose rounding grows with the row's length (9 eps at 784 values, 225 eps
    at 2^20, against np.sum's pairwise 1 eps), so a longer row is dotted in blocks of at most _DOT_BLOCK columns
    (a view splitting the row, as fast as one dot) and the blocks' sums are added pairwise: within
    ~(_DOT_BLOCK / lanes + log2(blocks)) eps of the sum."""
    n, cols = rows.shape
    blocks = -(-cols // _DOT_BLOCK)
    width = cols // blocks
    main = blocks * width           # the rest, fewer than `blocks` columns, is one more block

    def part(i, j):
        if blocks == 1:
            np.einsum("ij,ij->i", rows[i:j], rows[i:j], out=out[i:j])
            return
        sums = np.empty((j - i, blocks + (main < cols)), rows.dtype)
        split = rows[i:j, :main].reshape(j - i, blocks, width)
        np.einsum("ijk,ijk->ij", split, split, out=sums[:, :blocks])
        if main < cols:
            np.einsum("ij,ij->i", rows[i:j, main:], rows[i:j, main:], out=sums[:, blocks])
        np.sum(sums, axis=1, out=out[i:j])
    grain = max(1, _SQUARE_SUM_BAND_BYTES // max(rows[:1].nbytes, 1))
    parallel.parallel_for(part, n, grain=grain, threads=parallel.threads_for(rows.size))


class _FusedSquareSum(FusedOpDef):
    """Sum(Square(x)) whose square feeds nothing else (l2_normalize, norms), without a square as big as x
    written and read back (k-means normalizes its whole 55000x784 input every step). Sums over the trailing
    axes of a contiguous float32/float64 x are each row's dot product with itself, by blocks of columns
    (`_rows_dotted`: one read of x, 2x faster than squaring then summing, a few eps of rounding); other axes
    square a band of rows at a time into a small buffer and sum it while in cache, as np.sum does (so do
    an empty axis list and an x with no element). Other reductions (over axis 0, of integers, of rank
    below 2) square then sum whole."""

    splits_work = True

    def kernel(op, ctx):
        axes, keep = op._attrs["axis"], op._attrs["keep_dims"]
        npd = op._outputs[0].dtype.as_numpy_dtype

        def square_sum(x):
            x = np.asarray(x)
            # (axes out of range, with the rank unknown until now, reach np.sum below and raise there)
            ax = None if axes is None or any(not -x.ndim <= a < x.ndim for a in axes) else \
                sorted({a % x.ndim for a in axes})
            if x.dtype.kind != "f" or x.ndim < 2 or ax is None or 0 in ax or x.shape[0] < 2:
                return np.sum(np.square(x), axis=axes, keepdims=keep, dtype=npd)
            out = np.empty(tuple(1 if d in ax else n for d, n in enumerate(x.shape)), x.dtype)   # keep_dims
            if (ax and ax == list(builtins.range(ax[0], x.ndim)) and x.size and x.dtype in _DOT_DTYPES
                    and x.flags.c_contiguous):
                _rows_dotted(x.reshape(out.size, -1), out.reshape(-1))
                return out if keep else out.reshape(np.delete(out.shape, ax))
            band = max(1, _SQUARE_SUM_BAND_BYTES // max(x[:1].nbytes, 1))

            def bands(i, j):
                buf = np.empty((min(band, j - i),) + x.shape[1:], x.dtype)
                for a in builtins.range(i, j, band):   # (math_ops defines tf.range)
                    b = min(a + band, j)
                    np.square(x[a:b], out=buf[:b - a])
                    np.sum(buf[:b - a], axis=tuple(ax), keepdims=True, out=out[a:b])
            parallel.parallel_for(bands, x.shape[0], grain=band, threads=parallel.threads_for(2 * x.size))
            return out if keep else out.reshape(np.delete(out.shape, ax))
        return square_sum

    samples = [Sample(lambda x: apply_op("_FusedSquareSum", [x], {"axis": axis, "keep_dims": keep},
                                         name="FusedSquareSum"), [shape], grad=())
               for shape, axis, keep in [((5, 3), [1], True), ((4, 3, 2), [1, 2], False), ((3, 4), [0], False),
                                         ((3, 4), None, False)]]


class Mean(_Reduction):
    def kernel(op, ctx):
        axes, keep = op._attrs["axis"], op._attrs["keep_dims"]
        npd = op._inputs[0].dtype.as_numpy_dtype
        if op._inputs[0].dtype.is_integer:
            return lambda x: np.trunc(np.mean(x, axis=axes, keepdims=keep)).astype(npd)
        add_reduce, true_divide, intp = np.add.reduce, np.true_divide, np.intp
        # np.mean divides by an intp count: NumPy then divides in float64 and casts back, 5x slower than a
        # float32 division. For float32/float64 and counts the dtype holds exactly, dividing by the count in
        # the dtype gives the same values (float64 has the bits to round a float32 quotient once).
        exact_below = {np.float32: 1 << 24, np.float64: 1 << 53}.get(npd, 0)

        def mean(x):
            # np.mean's own arithmetic (sum, then divide by the count) without its Python overhead
            s = add_reduce(x, axis=axes, dtype=npd, keepdims=keep)
            n = x.size if axes is None else _count(x.shape, axes)
            if type(s) is np.ndarray:
                if n <= exact_below:
                    return true_divide(s, npd(n), out=s)
                return true_divide(s, intp(n), out=s, casting="unsafe")
            return npd(s / intp(n))
        return mean

    def lower(op, x):
        axes, keep = _reduction_axes(op, x), op._attrs["keep_dims"]
        if op._inputs[0].dtype.is_integer:
            return xla.jnp.trunc(xla.jnp.mean(x, axis=axes, keepdims=keep)).astype(xla.out_dtype(op))
        return xla.jnp.mean(x, axis=axes, keepdims=keep, dtype=xla.out_dtype(op))

    def grad(op, g):
        a = op._attrs
        return [_unreduce_like(g, op._inputs[0], a["axis"], a["keep_dims"], True)]

    samples = [Sample(lambda x: reduce_mean(x), [(2, 3)]), Sample(lambda x: reduce_mean(x, 0), [(2, 3)]),
               Sample(lambda x: reduce_mean(x, -1, keepdims=True), [(2, 3)])]


def reduce_mean(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce("Mean", input_tensor, axis, keepdims, name, keep_dims, reduction_indices, "Mean")


def _min_or_max_grad(op, g):
    """Spreads g evenly over the elements equal to the extreme value (ties share it, as in TF)."""
    x, y = op._inputs[0], op._outputs[0]
    axes, keep = op._attrs["axis"], op._attrs["keep_dims"]
    hits = cast(equal(_unreduce_like(y, x, axes, keep, False), x), x.dtype)
    count = _unreduce_like(reduce_sum(hits, axis=axes, keepdims=keep), x, axes, keep, False)
    return [multiply(divide(hits, count), _unreduce_like(g, x, axes, keep, False))]


def _lowest(npd):
    return -np.inf if np.dtype(npd).kind == "f" else np.iinfo(npd).min


def _highest(npd):
    return np.inf if np.dtype(npd).kind == "f" else np.iinfo(npd).max


_TIES = np.array([[1.0, 3.0, 3.0], [-2.0, -2.0, 0.5]])


class Max(_Reduction):
    grad = _min_or_max_grad

    def kernel(op, ctx):
        axes, keep = op._attrs["axis"], op._attrs["keep_dims"]
        lowest = _lowest(op._inputs[0].dtype.as_numpy_dtype)   # max of nothing, as TF returns
        return lambda x: np.max(x, axis=axes, keepdims=keep, initial=lowest)

    def lower(op, x):
        return xla.jnp.max(x, axis=_reduction_axes(op, x), keepdims=op._attrs["keep_dims"],
                           initial=_lowest(xla.in_dtype(op)))

    samples = [Sample(lambda x: reduce_max(x), [(2, 3)]), Sample(lambda x: reduce_max(x, 1, keepdims=True), [(2, 3)]),
               Sample(lambda x: reduce_max(x, [0, 2]), [(2, 3, 2)]), Sample(lambda x: reduce_max(x, 1), [_TIES])]


def reduce_max(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce("Max", input_tensor, axis, keepdims, name, keep_dims, reduction_indices, "Max")


class Min(_Reduction):
    grad = _min_or_max_grad

    def kernel(op, ctx):
        axes, keep = op._attrs["axis"], op._attrs["keep_dims"]
        highest = _highest(op._inputs[0].dtype.as_numpy_dtype)
        return lambda x: np.min(x, axis=axes, keepdims=keep, initial=highest)

    def lower(op, x):
        return xla.jnp.min(x, axis=_reduction_axes(op, x), keepdims=op._attrs["keep_dims"],
                           initial=_highest(xla.in_dtype(op)))

    samples = [Sample(lambda x: reduce_min(x), [(2, 3)]), Sample(lambda x: reduce_min(x, 0), [(2, 3)]),
               Sample(lambda x: reduce_min(x, -1, keepdims=True), [-_TIES])]


def reduce_min(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce("Min", input_tensor, axis, keepdims, name, keep_dims, reduction_indices, "Min")


class ProdOthers(OpDef):
    """Gradient helper for Prod: each element replaced by the product of the OTHER elements of its
    reduction group. Computed from exclusive prefix/suffix products, so zeros in x are handled."""

    def infer(op):
        return same_as_input(op)

    def kernel(op, ctx):
        axes = op._attrs["axis"]
        npd = op._inputs[0].dtype.as_numpy_dtype

        def prod_others(x):
            x = np.asarray(x)
            red = tuple(_py_range(x.ndim)) if axes is None else tuple(a % x.ndim for a in axes)
            kept = [a for a in _py_range(x.ndim) if a not in red]
            perm = kept + list(red)
            xt = np.transpose(x, perm)
            n = 1
            for a in red:
                n *= x.shape[a]
            if n == 0 or x.size == 0:
                return np.zeros_like(x)
            flat = xt.reshape(xt.shape[:len(kept)] + (n,))
            ones = np.ones(flat.shape[:-1] + (1,), dtype=npd)
            before = np.cumprod(np.concatenate([ones, flat[..., :-1]], -1), -1, dtype=npd)
            after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], -1), -1, dtype=npd)[..., ::-1]
            out = (before * after).reshape(xt.shape)
            return np.transpose(out, np.argsort(perm))
        return prod_others

    def lower(op, x):
        """Each element replaced by the product of the others of its group: exclusive prefix and suffix products."""
        nd = np.ndim(x)
        red = xla.axes_of(op._attrs["axis"], nd)
        kept = [a for a in _py_range(nd) if a not in red]
        perm = kept + list(red)
        xt = xla.jnp.transpose(x, perm)
        n = int(np.prod([np.shape(x)[a] for a in red], dtype=np.int64))
        if n == 0 or np.size(x) == 0:
            return xla.jnp.zeros(np.shape(x), xla.out_dtype(op))
        flat = xla.jnp.reshape(xt, xt.shape[:len(kept)] + (n,))
        ones = xla.jnp.ones(flat.shape[:-1] + (1,), dtype=xla.out_dtype(op))
        before = xla.jnp.cumprod(xla.jnp.concatenate([ones, flat[..., :-1]], -1), -1)
        after = xla.jnp.cumprod(xla.jnp.concatenate([ones, flat[..., :0:-1]], -1), -1)[..., ::-1]
        out = xla.jnp.reshape(before * after, xt.shape)
        return xla.jnp.transpose(out, np.argsort(perm))

    def grad(op, gg):
        # d/dx_k sum_i gg_i * prod_{j!=i} x_j = (sum_i gg_i P_i - gg_k P_k) / x_k  (x_k != 0)
        x, p = op._inputs[0], op._outputs[0]
        axes = op._attrs["axis"]
        weighted = multiply(gg, p)
        total = _unreduce_like(reduce_sum(weighted, axis=axes, keepdims=True), x, axes, True, False)
        return [divide(subtract(total, weighted), x)]

    samples = [Sample(lambda x: _prod_others(x, (1,)), [_away_from_zero(2, 3)]),
               Sample(lambda x: _prod_others(x, None), [_away_from_zero(2, 2)])]


def _prod_others(x, axes):
    return apply_op("ProdOthers", [x], {"axis": axes}, name="ProdOthers")


class Prod(_Reduction):
    def kernel(op, ctx):
        axes, keep = op._attrs["axis"], op._attrs["keep_dims"]
        npd = op._inputs[0].dtype.as_numpy_dtype   # NumPy would widen int32 products to int64
        return lambda x: np.prod(x, axis=axes, keepdims=keep, dtype=npd)

    def lower(op, x):
        return xla.jnp.prod(x, axis=_reduction_axes(op, x), keepdims=op._attrs["keep_dims"], dtype=xla.out_dtype(op))

    def grad(op, g):
        x = op._inputs[0]
        axes, keep = op._attrs["axis"], op._attrs["keep_dims"]
        return [multiply(_unreduce_like(g, x, axes, keep, False), _prod_others(x, axes))]

    samples = [Sample(lambda x: reduce_prod(x), [_away_from_zero(2, 3)]),
               Sample(lambda x: reduce_prod(x, 1, keepdims=True), [_away_from_zero(2, 3)]),
               Sample(lambda x: reduce_prod(x, 1), [np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0]])]),
               Sample(lambda x: reduce_prod(x, [0, 2]), [_away_from_zero(2, 2, 2)]),
               Sample(lambda x: reduce_prod(x, 0), [_INT_ARRAY])]


def reduce_prod(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce("Prod", input_tensor, axis, keepdims, name, keep_dims, reduction_indices, "Prod")


_BOOLS = np.array([[True, False, True], [True, True, True]])


def _logical_reduction(fn):
    """kernel(op, ctx) of All / Any: fn(x, axis=axes, keepdims=keep)."""
    def kernel(op, ctx):
        axes, keep = op._attrs["axis"], op._attrs["keep_dims"]
        return lambda x: fn(x, axis=axes, keepdims=keep)
    return kernel


def _lowered_reduction(jnp_name):
    """The XLA lowering of a reduction by `xla.jnp.<jnp_name>` (named lazily: no jax at import)."""
    def lower(op, x):
        return getattr(xla.jnp, jnp_name)(x, axis=_reduction_axes(op, x), keepdims=op._attrs["keep_dims"])
    return lower


class All(_Reduction):
    input_kinds = _BOOL
    grad = None
    kernel = _logical_reduction(np.all)
    lower = _lowered_reduction("all")

    samples = [Sample(lambda x: reduce_all(x), [_BOOLS]), Sample(lambda x: reduce_all(x, 1, keepdims=True), [_BOOLS])]


def reduce_all(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce("All", input_tensor, axis, keepdims, name, keep_dims, reduction_indices, "All")


class Any(_Reduction):
    input_kinds = _BOOL
    grad = None
    kernel = _logical_reduction(np.any)
    lower = _lowered_reduction("any")

    samples = [Sample(lambda x: reduce_any(x), [~_BOOLS]), Sample(lambda x: reduce_any(x, 0), [~_BOOLS])]


def reduce_any(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    return _reduce("Any", input_tensor, axis, keepdims, name, keep_dims, reduction_indices, "Any")


def count_nonzero(input_tensor, axis=None, keepdims=None, dtype=dtypes.int64, name=None,
                  reduction_indices=None, keep_dims=None):
    """Number of non-zero elements along `axis` (composed of NotEqual, Cast and Sum, as in TF)."""
    with name_scope(name, "count_nonzero", [input_tensor]):
        x = convert_to_tensor(input_tensor, name="input_tensor")
        nonzero = not_equal(x, np.zeros((), dtype=x.dtype.as_numpy_dtype) if x.dtype is not dtypes.string else b"")
        counts = reduce_sum(to_int64(nonzero), axis=axis, keepdims=keepdims, reduction_indices=reduction_indices,
                            keep_dims=keep_dims)
        return cast(counts, dtype)


class _ArgReduction(OpDef):
    row_wise = staticmethod(_reduces_rows_apart)
    abstract = True
    grad = None

    def infer(op):
        _require(op, 0, _NUMERIC, "input")
        x, axis, out_type = op._inputs[0], op._attrs["axis"], op._attrs["output_type"]
        dims = x.shape.as_tuple()
        if dims is None:
            return out_type, unknown_shape()
        if not -len(dims) <= axis < len(dims):
            raise ValueError("Expected dimension in the range [%d, %d), but got %d for '%s' (op: '%s') with input "
                             "shape %s" % (-len(dims), len(dims), axis, op.name, op.type, x.shape))
        axis %= len(dims)
        return out_type, TensorShape(dims[:axis] + dims[axis + 1:])


class ArgMax(_ArgReduction):
    def kernel(op, ctx):
        axis, npd = op._attrs["axis"], op._attrs["output_type"].as_numpy_dtype
        return lambda x: np.argmax(x, axis=axis).astype(npd, copy=False)

    def lower(op, x):
        return xla.jnp.argmax(x, axis=op._attrs["axis"]).astype(xla.out_dtype(op))

    samples = [Sample(lambda x: argmax(x, 1), [(2, 3)]), Sample(lambda x: argmax(x), [(4, 3)]),
               Sample(lambda x: argmax(x, -1, output_type=dtypes.int32), [(2, 3, 2)])]


class ArgMin(_ArgReduction):
    def kernel(op, ctx):
        axis, npd = op._attrs["axis"], op._attrs["output_type"].as_numpy_dtype
        return lambda x: np.argmin(x, axis=axis).astype(npd, copy=False)

    def lower(op, x):
        return xla.jnp.argmin(x, axis=op._attrs["axis"]).astype(xla.out_dtype(op))

    samples = [Sample(lambda x: argmin(x, 1), [(2, 3)]), Sample(lambda x: argmin(x, 0), [_INT_ARRAY])]


def _arg_reduce(op_type, input, axis, name, dimension, output_type):  # noqa: A002
    if axis is not None and dimension is not None:
        raise ValueError("Cannot specify both 'axis' and 'dimension'")
    axis = dimension if axis is None else axis
    axis = 0 if axis is None else _static_axis(op_type, axis)   # TF1 defaults to axis 0
    if isinstance(axis, (list, tuple)) or np.ndim(axis) != 0:
        raise ValueError("%s: axis must be a scalar, got %r" % (op_type, axis))
    output_type = dtypes.as_dtype(output_type)
    if output_type not in (dtypes.int32, dtypes.int64):
        raise TypeError("%s: output_type must be int32 or int64, got %s" % (op_type, output_type.name))
    x = convert_to_tensor(input)
    return apply_op(op_type, [x], {"axis": int(axis), "output_type": output_type}, name=name or op_type)


def argmax(input, axis=None, name=None, dimension=None, output_type=dtypes.int64):  # noqa: A002
    """Index of the largest value along `axis` (default 0, as TF1 does)."""
    return _arg_reduce("ArgMax", input, axis, name, dimension, output_type)


def argmin(input, axis=None, name=None, dimension=None, output_type=dtypes.int64):  # noqa: A002
    return _arg_reduce("ArgMin", input, axis, name, dimension, output_type)


def arg_max(input, dimension, name=None, output_type=dtypes.int64):  # noqa: A002 - seed-era name
    return _arg_reduce("ArgMax", input, None, name, dimension, output_type)


def arg_min(input, dimension, name=None, output_type=dtypes.int64):  # noqa: A002 - seed-era name
    return _arg_reduce("ArgMin", input, None, name, dimension, output_type)


class Cast(OpDef):
    elementwise = True
    def infer(op):
        return op._attrs["DstT"], op._inputs[0].shape

    def kernel(op, ctx):
        npd = op._attrs["DstT"].as_numpy_dtype
        if op._inputs[0].dtype.is_floating and op._attrs["DstT"].is_integer:
            return lambda x: np.trunc(x).astype(npd)
        return lambda x: np.asarray(x).astype(npd, copy=False)

    def lower(op, x):
        dst = xla.out_dtype(op)
        if op._inputs[0].dtype.is_floating and op._attrs["DstT"].is_integer:
            x = xla.jnp.trunc(x)
        return xla.asarray(x, dst) if not hasattr(x, "astype") else x.astype(dst)

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

    def lower(op, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = xla.jnp.add(out, x)
        return out

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


# -- comparisons and logical ops: one table entry per TF op type (not differentiable)
_COMPARISON_PAIRS = [[(2, 3), (2, 3)], [(2, 3), (3,)], [(), (2, 2)], [_INT_ARRAY, np.array([0, 0, 2], np.int32)]]
_BOOL_PAIR = [np.array([[True, False], [True, True]]), np.array([False, True])]

equal = _elementwise("Equal", 2, _ANY, None, _COMPARISON_PAIRS, fn=np.equal, out_dtype=dtypes.bool,
                     lower=xla.elementwise("equal"))
not_equal = _elementwise("NotEqual", 2, _ANY, None, _COMPARISON_PAIRS, fn=np.not_equal, out_dtype=dtypes.bool,
                         lower=xla.elementwise("not_equal"))
less = _elementwise("Less", 2, _NUMERIC, None, _COMPARISON_PAIRS, fn=np.less, out_dtype=dtypes.bool,
                    lower=xla.elementwise("less"))
less_equal = _elementwise("LessEqual", 2, _NUMERIC, None, _COMPARISON_PAIRS, fn=np.less_equal, out_dtype=dtypes.bool,
                          lower=xla.elementwise("less_equal"))
greater = _elementwise("Greater", 2, _NUMERIC, None, _COMPARISON_PAIRS, fn=np.greater, out_dtype=dtypes.bool,
                       lower=xla.elementwise("greater"))
greater_equal = _elementwise("GreaterEqual", 2, _NUMERIC, None, _COMPARISON_PAIRS, fn=np.greater_equal,
                             out_dtype=dtypes.bool, lower=xla.elementwise("greater_equal"))
logical_and = _elementwise("LogicalAnd", 2, _BOOL, None, [_BOOL_PAIR], fn=np.logical_and,
                           lower=xla.elementwise("logical_and"))
logical_or = _elementwise("LogicalOr", 2, _BOOL, None, [_BOOL_PAIR], fn=np.logical_or,
                          lower=xla.elementwise("logical_or"))
logical_not = _elementwise("LogicalNot", 1, _BOOL, None, _BOOL_PAIR[:1], fn=np.logical_not,
                           lower=xla.elementwise("logical_not"))


def logical_xor(x, y, name="LogicalXor"):
    """x XOR y, composed as (x OR y) AND NOT (x AND y), as TF1 builds it."""
    x, y = _pair(x, y)
    return logical_and(logical_or(x, y), logical_not(logical_and(x, y)), name=name)


# -- selection
class Select(OpDef):
    """Elementwise choice between x and y. As in TF1 a vector condition with higher-rank x picks whole
    rows (matching x's first dimension); otherwise condition, x and y broadcast like NumPy."""

    def infer(op):
        c, x, y = op._inputs
        _require(op, 0, _BOOL, "condition")
        if x.dtype is not y.dtype:
            raise TypeError("Select %r: x and y must have the same dtype, got %s (%s) and %s (%s)"
                            % (op.name, x.dtype.name, x.name, y.dtype.name, y.name))
        try:
            xy = broadcast_shapes(x.shape, y.shape)
            dims, cdims = xy.as_tuple(), c.shape.as_tuple()
            if cdims is not None and len(cdims) == 1 and dims is not None and len(dims) > 1:
                if cdims[0] is not None and dims[0] is not None and cdims[0] != dims[0]:
                    raise ValueError
                return x.dtype, TensorShape((dims[0] if dims[0] is not None else cdims[0],) + dims[1:])
            if cdims is not None and len(cdims) == 1 and dims is None:
                return x.dtype, unknown_shape()
            return x.dtype, broadcast_shapes(c.shape, xy)
        except ValueError:
            raise ValueError("Shapes of condition, x and y are incompatible for '%s' (op: 'Select'): %s, %s, %s"
                             % (op.name, c.shape, x.shape, y.shape)) from None

    def kernel(op, ctx):
        def select(c, x, y):
            rank = max(np.ndim(x), np.ndim(y))
            if np.ndim(c) == 1 and rank > 1:   # TF1: a vector condition selects along the first dimension
                c = np.reshape(c, (-1,) + (1,) * (rank - 1))
            return np.where(c, x, y)
        return select

    def lower(op, c, x, y):
        rank = max(np.ndim(x), np.ndim(y))
        if np.ndim(c) == 1 and rank > 1:   # TF1: a vector condition selects along the first dimension
            c = xla.jnp.reshape(c, (-1,) + (1,) * (rank - 1))
        return xla.jnp.where(c, x, y)

    def grad(op, g):
        c, x, y = op._inputs
        zeros = array_ops.zeros_like(g)
        return [None, sum_to_shape_of(select(c, g, zeros), x), sum_to_shape_of(select(c, zeros, g), y)]

    samples = [Sample(lambda c, a, b: where(c, a, b), [_BOOLS, (2, 3), (2, 3)]),
               Sample(lambda c, a, b: where(c, a, b), [np.array([True, False]), (2, 3), (2, 3)]),
               Sample(lambda c, a, b: where(c, a, b), [np.array([[False, True, True]]), (2, 3), (3,)]),
               Sample(lambda c, a, b: where(c, a, b), [np.array(True), (), (2,)])]


def select(condition, t, e, name=None):
    """Seed-era tf.select: elementwise choice between t and e."""
    c = convert_to_tensor(condition)
    t, e = _pair(t, e)
    return apply_op("Select", [c, t, e], name=name or "Select")


class Where(OpDef):
    """Coordinates (int64, one row per element) of the true elements of the input."""
    grad = None

    def infer(op):
        return dtypes.int64, TensorShape([None, op._inputs[0].shape.ndims])

    def kernel(op, ctx):
        return lambda x: np.argwhere(x).astype(np.int64, copy=False)

    samples = [Sample(lambda c: where(c), [_BOOLS]), Sample(lambda c: where(c), [np.array([0.0, 2.0, -1.0, 0.0])])]


def where(condition, x=None, y=None, name=None):
    """TF1 tf.where: with x and y, an elementwise select; alone, the coordinates of true elements."""
    if x is None and y is None:
        return apply_op("Where", [convert_to_tensor(condition)], name=name or "Where")
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    return select(condition, x, y, name=name)


# -- sequences
_RANGE_DTYPES = (dtypes.int32, dtypes.int64, dtypes.float32, dtypes.float64)


def _range_size(start, limit, delta, npd):
    """Number of elements, computed in the range's own dtype as TF does (float32 rounding included)."""
    start, limit, delta = npd(start), npd(limit), npd(delta)
    if delta == 0:
        raise ValueError("Requires delta != 0: %s" % delta)
    if delta > 0 and start > limit:
        raise ValueError("Requires start <= limit when delta > 0: %s/%s" % (start, limit))
    if delta < 0 and start < limit:
        raise ValueError("Requires start >= limit when delta < 0: %s/%s" % (start, limit))
    if np.dtype(npd).kind in "iu":
        return (_py_abs(int(limit) - int(start)) + _py_abs(int(delta)) - 1) // _py_abs(int(delta))
    return int(np.ceil(np.abs((limit - start) / delta)))


class Range(OpDef):
    grad = None

    def infer(op):
        ins = op._inputs
        for i, (t, param) in enumerate(zip(ins, ("start", "limit", "delta"))):
            if t.dtype not in _RANGE_DTYPES or t.dtype is not ins[0].dtype:
                raise TypeError("Range %r: start, limit and delta must share one of int32, int64, float32, "
                                "float64; got %s for %s (%s)" % (op.name, t.dtype.name, param, t.name))
            if t.shape.ndims not in (None, 0):
                raise ValueError("Shape must be rank 0 but is rank %d for '%s' (op: 'Range') (%s)"
                                 % (t.shape.ndims, op.name, param))
        values = [_const_value(t) for t in ins]
        if any(v is None for v in values):
            return ins[0].dtype, TensorShape([None])
        try:
            n = _range_size(*values, ins[0].dtype.as_numpy_dtype)
        except ValueError as e:
            raise ValueError("%s for '%s' (op: 'Range')" % (e, op.name)) from None
        return ins[0].dtype, TensorShape([n])

    def kernel(op, ctx):
        npd = op._inputs[0].dtype.as_numpy_dtype

        def range_kernel(start, limit, delta):
            n = _range_size(start, limit, delta, npd)
            # computed in the output dtype: start + i * delta, as TF does
            return np.arange(n, dtype=npd) * np.asarray(delta, dtype=npd) + np.asarray(start, dtype=npd)
        return range_kernel

    def lower(op, start, limit, delta):
        npd = xla.out_dtype(op)
        s, l_, d = (xla.static_value(op, v, i) for i, v in enumerate((start, limit, delta)))
        n = _range_size(s, l_, d, npd.type)
        return np.arange(n, dtype=npd) * np.asarray(d, dtype=npd) + np.asarray(s, dtype=npd)

    samples = [Sample(lambda a, b, c: range(a, b, c), [np.array(1.0), np.array(5.5), np.array(1.5)]),
               Sample(lambda a, b, c: range(a, b, c), [np.array(7, np.int32), np.array(-2, np.int32),
                                                       np.array(-3, np.int32)]),
               Sample(lambda a, b, c: range(a, b, c), [np.array(0.0), np.array(1.0), np.array(0.25)], feed=False)]


def range(start, limit=None, delta=1, dtype=None, name="range"):  # noqa: A001 - TF's public name
    """tf.range: [start, start + delta, ...) up to but excluding limit; range(n) counts 0..n-1.

    Without `dtype`, the widest of the arguments' types (int32 < int64 < float32 < float64) is used."""
    if limit is None:
        start, limit = 0, start
    args = (start, limit, delta)
    with name_scope(name, "Range", [a for a in args if isinstance(a, Tensor)]) as scope:
        if dtype is None:
            kinds = [a.dtype if isinstance(a, Tensor) else (a._as_tensor().dtype if hasattr(a, "_as_tensor")
                                                            else dtypes.dtype_of_value(a)) for a in args]
            if any(k not in _RANGE_DTYPES for k in kinds):
                raise TypeError("tf.range arguments must be int32, int64, float32 or float64, got %s"
                                % [k.name for k in kinds])
            dtype = max(kinds, key=_RANGE_DTYPES.index)
        dtype = dtypes.as_dtype(dtype)
        tensors = []
        for value, param in zip(args, ("start", "limit", "delta")):
            if isinstance(value, Tensor) or hasattr(value, "_as_tensor"):
                tensors.append(cast(convert_to_tensor(value), dtype))
            else:   # a Python value is converted straight to `dtype`, keeping it a Const (static shape)
                tensors.append(convert_to_tensor(value, dtype=dtype, name=param))
        return apply_op("Range", tensors, {"Tidx": dtype}, name=scope)


class LinSpace(OpDef):
    grad = None

    def infer(op):
        start, stop, num = op._inputs
        _require(op, 0, _FLOAT, "start")
        if stop.dtype is not start.dtype:
            raise TypeError("LinSpace %r: start and stop must have the same dtype, got %s and %s"
                            % (op.name, start.dtype.name, stop.dtype.name))
        _require(op, 2, _INT, "num")
        n = _const_value(num)
        return start.dtype, TensorShape([int(n) if n is not None else None])

    def kernel(op, ctx):
        npd = op._inputs[0].dtype.as_numpy_dtype

        def linspace_kernel(start, stop, num):
            if num <= 0:
                raise ValueError("Requires num > 0: %d" % num)
            return np.linspace(start, stop, int(num), dtype=npd)
        return linspace_kernel

    def lower(op, start, stop, num):
        return xla.jnp.linspace(start, stop, int(xla.static_value(op, num, 2)), dtype=xla.out_dtype(op))

    samples = [Sample(lambda a, b: linspace(a, b, 5), [np.array(-1.0), np.array(2.0)]),
               Sample(lambda a, b: linspace(a, b, 1), [np.array(3.0), np.array(2.0)])]


def linspace(start, stop, num, name=None):
    """`num` evenly spaced values from start to stop inclusive."""
    start, stop = _pair(start, stop)
    num = convert_to_tensor(num, dtype=dtypes.int32) if not isinstance(num, Tensor) else num
    return apply_op("LinSpace", [start, stop, num], name=name or "LinSpace")


lin_space = linspace


class Cumsum(OpDef):
    def infer(op):
        _require(op, 0, _NUMERIC, "x")
        x, axis = op._inputs[0], op._attrs["axis"]
        rank = x.shape.ndims
        if rank is not None and not -rank <= axis < rank:
            raise ValueError("Cumsum %r: axis %d out of range for input %s of rank %d" % (op.name, axis, x.name, rank))
        return same_as_input(op)

    def kernel(op, ctx):
        axis, exclusive, reverse = op._attrs["axis"], op._attrs["exclusive"], op._attrs["reverse"]
        npd = op._inputs[0].dtype.as_numpy_dtype

        def cumsum_kernel(x):
            if reverse:
                x = np.flip(x, axis)
            out = np.cumsum(x, axis=axis, dtype=npd)   # dtype: NumPy would widen int32 sums
            if exclusive and out.shape[axis]:
                head = np.zeros_like(np.take(out, [0], axis=axis))
                out = np.concatenate([head, np.delete(out, -1, axis=axis)], axis=axis)
            return np.flip(out, axis) if reverse else out
        return cumsum_kernel

    def lower(op, x):
        axis, exclusive, reverse = op._attrs["axis"], op._attrs["exclusive"], op._attrs["reverse"]
        if reverse:
            x = xla.jnp.flip(x, axis)
        out = xla.jnp.cumsum(x, axis=axis, dtype=xla.out_dtype(op))
        if exclusive and out.shape[axis]:
            a = axis % out.ndim
            pad = [(0, 0)] * out.ndim
            pad[a] = (1, 0)
            out = xla.lax.slice_in_dim(xla.jnp.pad(out, pad), 0, out.shape[a], axis=a)
        return xla.jnp.flip(out, axis) if reverse else out

    def grad(op, g):
        a = op._attrs
        return [cumsum(g, a["axis"], exclusive=a["exclusive"], reverse=not a["reverse"])]

    samples = [Sample(lambda x: cumsum(x), [(3, 2)]), Sample(lambda x: cumsum(x, 1, exclusive=True), [(2, 3)]),
               Sample(lambda x: cumsum(x, -1, reverse=True), [(2, 3)]),
               Sample(lambda x: cumsum(x, 0, exclusive=True, reverse=True), [(4,)]),
               Sample(lambda x: cumsum(x, 1), [_INT_ARRAY])]


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """Cumulative sum along `axis`; `exclusive` leaves out the current element, `reverse` sums from the end."""
    x = convert_to_tensor(x)
    axis = _static_axis("Cumsum", axis)
    if isinstance(axis, (list, tuple)):
        raise ValueError("Cumsum: axis must be a scalar, got %r" % (axis,))
    return apply_op("Cumsum", [x], {"axis": int(axis), "exclusive": bool(exclusive), "reverse": bool(reverse)},
                    name=name or "Cumsum")


def reduce_logsumexp(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    """log(sum(exp(x))) over `axis`, computed as TF does: the max is subtracted first (held constant for the
    gradient, which is then softmax(x)) so large inputs do not overflow; a row of -inf gives -inf."""
    keep = bool(keepdims if keepdims is not None else keep_dims)
    axis = reduction_indices if axis is None else axis
    with name_scope(name, "ReduceLogSumExp", [input_tensor]):
        x = convert_to_tensor(input_tensor)
        raw_max = reduce_max(x, axis, keepdims=True)
        finite = array_ops.stop_gradient(select(_is_finite(raw_max), raw_max, array_ops.zeros_like(raw_max)))
        result = log(reduce_sum(exp(subtract(x, finite)), axis, keepdims=keep))
        if not keep:
            finite = array_ops.reshape(finite, array_ops.shape(result))
        return add(result, finite)


def _is_finite(x):
    # |x| < inf is false for inf, -inf and nan, as tf.is_finite
    return less(abs(x), np.inf)


class Qr(OpDef):
    """QR decomposition of the inner matrices (tf.linalg.qr). Not differentiable in nanotf: it serves
    the orthogonal initializer, which only needs the values."""

    def infer(op):
        x = op._inputs[0]
        if x.dtype not in (dtypes.float32, dtypes.float64):
            raise TypeError("Qr %r: input must be float32 or float64, got %s (%s)" % (op.name, x.dtype.name, x.name))
        dims = x.shape.as_tuple()
        if dims is None:
            return [(x.dtype, unknown_shape()), (x.dtype, unknown_shape())]
        if len(dims) < 2:
            raise ValueError("Qr %r: input must have rank >= 2, got shape %s" % (op.name, x.shape))
        m, n = dims[-2], dims[-1]
        k = None if m is None or n is None else builtins.min(m, n)
        full = op._attrs["full_matrices"]
        q = dims[:-2] + (m, m if full else k)
        r = dims[:-2] + (m if full else k, n)
        return [(x.dtype, TensorShape(q)), (x.dtype, TensorShape(r))]

    def kernel(op, ctx):
        mode = "complete" if op._attrs["full_matrices"] else "reduced"

        def qr_kernel(x):
            q, r = np.linalg.qr(x, mode=mode)
            return q.astype(x.dtype), r.astype(x.dtype)
        return qr_kernel

    def lower(op, x):
        return tuple(xla.jnp.linalg.qr(x, mode="complete" if op._attrs["full_matrices"] else "reduced"))

    grad = None
    samples = [Sample(lambda x: qr(x)[0], [(4, 3)], grad=()), Sample(lambda x: qr(x, True)[1], [(2, 3, 2)], grad=())]


def qr(input, full_matrices=False, name=None):  # noqa: A002 - TF's argument name
    """(q, r) with input = q @ r, q orthonormal columns, r upper triangular (over the last two axes)."""
    op = apply_op("Qr", [convert_to_tensor(input)], {"full_matrices": bool(full_matrices)}, name=name or "Qr")
    return op


# -- Tensor operators (TF1 names the ops 'add', 'sub', 'mul', 'truediv', ... as its Python wrappers do;
# comparisons keep the op's own name, e.g. 'Less'). __eq__/__ne__ stay identity, as in TF1.
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
Tensor.__floordiv__ = _op(floordiv, "floordiv")
Tensor.__rfloordiv__ = _rop(floordiv, "floordiv")
Tensor.__mod__ = _op(floormod, "mod")
Tensor.__rmod__ = _rop(floormod, "mod")
Tensor.__pow__ = _op(pow, "pow")
Tensor.__rpow__ = _rop(pow, "pow")
Tensor.__matmul__ = _op(matmul, "MatMul")
Tensor.__rmatmul__ = _rop(matmul, "MatMul")
Tensor.__lt__ = _op(less, None)
Tensor.__le__ = _op(less_equal, None)
Tensor.__gt__ = _op(greater, None)
Tensor.__ge__ = _op(greater_equal, None)
Tensor.__and__ = _op(logical_and, "and")
Tensor.__rand__ = _rop(logical_and, "and")
Tensor.__or__ = _op(logical_or, "or")
Tensor.__ror__ = _rop(logical_or, "or")
Tensor.__xor__ = _op(logical_xor, "xor")
Tensor.__rxor__ = _rop(logical_xor, "xor")
Tensor.__invert__ = lambda x: logical_not(x)
Tensor.__neg__ = lambda x: negative(x, name="Neg")
Tensor.__abs__ = lambda x: abs(x)
Tensor.__pos__ = lambda x: x
