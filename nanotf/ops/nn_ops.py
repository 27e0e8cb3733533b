"""tf.nn ops: activations, bias_add, l2_loss, dropout, softmax, the fused cross-entropy losses,
in_top_k and moments (tf.losses builds on them in ops/losses/losses_impl.py).

Activation gradients are separate ops (ReluGrad, SigmoidGrad, ...) as in TensorFlow, each with
its own gradient so second derivatives work. The cross-entropy ops compute loss and backprop
in one shifted log-sum-exp pass, so logits of magnitude 1e4 stay finite.
"""
import functools
import numbers

import numpy as np

from nanotf.framework import dtypes
from nanotf.framework import errors
from nanotf.framework import lowering as xla
from nanotf.framework.op_def import OpDef, Sample, define_op, writes_into
from nanotf.framework.ops import Tensor, apply_op, convert_to_tensor, name_scope
from nanotf.framework.tensor_shape import TensorShape
from nanotf.ops import array_ops, math_ops
from nanotf.ops._shape_util import normalize_axes

__all__ = ["relu", "relu6", "elu", "softplus", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax",
           "bias_add", "xw_plus_b", "l2_loss", "l2_normalize", "dropout", "in_top_k", "moments", "zero_fraction",
           "sparse_softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits",
           "softmax_cross_entropy_with_logits_v2", "sigmoid_cross_entropy_with_logits"]

_FLOATS = (dtypes.float16, dtypes.float32, dtypes.float64)
_INDEX_TYPES = (dtypes.int32, dtypes.int64)


# -- dtype / shape checks shared by the op definitions
def _check_dtype(op, t, param, allowed):
    if t.dtype not in allowed:
        raise TypeError("Value passed to parameter '%s' of op '%s' (%s) has DataType %s not in list of allowed "
                        "values: %s" % (param, op.name, op.type, t.dtype.name, ", ".join(d.name for d in allowed)))


def _float_unary(param="features"):
    def infer(op):
        x = op._inputs[0]
        _check_dtype(op, x, param, _FLOATS)
        return x.dtype, x.shape
    return infer


def _real_unary(op):
    x = op._inputs[0]
    if not (x.dtype.is_floating or x.dtype.is_integer):
        raise TypeError("Value passed to parameter 'features' of op '%s' (%s) has DataType %s; expected a real "
                        "number type" % (op.name, op.type, x.dtype.name))
    return x.dtype, x.shape


def _grad_pair_infer(op):
    """Infer for Grad ops taking two same-shaped tensors of one floating dtype."""
    a, b = op._inputs
    if a.dtype is not b.dtype:
        raise TypeError("Op '%s' (%s): inputs must have the same dtype, got %s and %s"
                        % (op.name, op.type, a.dtype.name, b.dtype.name))
    return a.dtype, a.shape.merge_with(b.shape)


def _away_from_zero(shape):
    """Sample input for piecewise functions: |x| in [0.1, 2], so finite differences never cross a kink."""
    return lambda rng: rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 2.0, size=shape)


_SHAPES = [(5,), (2, 3), (2, 3, 2)]


def _last_axis_rows(op, sliced):
    """Softmax-like ops normalize along `axis`: row-wise unless that axis is the batch axis."""
    rank = op._inputs[0].shape.ndims or 0
    return sliced[0] and rank >= 2 and int(op._attrs.get("axis", -1)) % rank != 0


def _in_top_k_rows(op, sliced):
    return sliced[0] and sliced[1] and not any(sliced[2:])


# -- activations: one table entry per TF op type. The forward op y = f(x) is elementwise; its gradient is
# the op named in `grad`, taking (g, x), (g, y) or TF's (y, dy) as `grad_args` says (g: the incoming
# gradient, x: the features, y: the output). Each gradient op has a gradient of its own (second
# derivatives work): by default the same op on (gg, its second input) and none for the mask it reads.
def _kernel_with_attrs(kernel, attrs):
    """kernel(op, ctx) of an op computing kernel(*arrays, **those attrs of the op)."""
    def op_kernel(op, ctx):
        return functools.partial(kernel, **{a: op._attrs[a] for a in attrs}) if attrs else kernel
    return op_kernel


def _activation(type_name, kernel, grad, grad_args, infer=_float_unary(), param="features", attrs=(),
                inputs=_away_from_zero, public=None, more_samples=(), **facts):
    """Registers the activation `type_name` computing kernel(x, **attrs); returns its public wrapper (taking
    `param`), or uses `public` for its samples when the wrapper is written out. `inputs(shape)`: the
    samples' input."""
    def op_grad(op, g):
        pick = {"g": g, "x": op._inputs[0], "y": op._outputs[0]}
        return [apply_op(grad, [pick[a] for a in grad_args], {a: op._attrs[a] for a in attrs}, name=grad)]

    wrapper = public or _unary_wrapper(type_name, param)
    define_op(type_name, __name__, elementwise=True, infer=infer, kernel=_kernel_with_attrs(kernel, attrs),
              grad=op_grad, samples=[Sample(lambda x: wrapper(x), [inputs(s)]) for s in _SHAPES] + list(more_samples),
              **facts)
    return wrapper


def _unary_wrapper(type_name, param):
    def features_wrapper(features, name=None):
        return apply_op(type_name, [convert_to_tensor(features)], name=name or type_name)

    def x_wrapper(x, name=None):
        return apply_op(type_name, [convert_to_tensor(x)], name=name or type_name)
    wrapper = features_wrapper if param == "features" else x_wrapper
    wrapper.__name__ = wrapper.__qualname__ = type_name.lower()
    return wrapper


def _activation_grad(type_name, kernel, doc, grad=None, attrs=(), inputs=(None, _away_from_zero), **facts):
    """Registers the gradient op `type_name` computing kernel(a, b, **attrs) (`doc` says what). `inputs`: per
    input, a function of the shape giving the samples' input (None: normal values)."""
    def mask_grad(op, gg):   # kernel(g, mask) is linear in g and flat in the mask almost everywhere
        return [apply_op(type_name, [gg, op._inputs[1]], {a: op._attrs[a] for a in attrs}, name=type_name), None]

    samples = [Sample(lambda a, b: apply_op(type_name, [a, b], {"alpha": 0.2} if attrs else {}, name=type_name),
                      [f(s) if f else s for f in inputs], grad=(0,) if grad is None else None) for s in _SHAPES]
    define_op(type_name, __name__, doc, elementwise=True, infer=_grad_pair_infer,
              kernel=_kernel_with_attrs(kernel, attrs), grad=grad or mask_grad, samples=samples, **facts)


def _grad_op(type_name, a, b):
    return apply_op(type_name, [a, b], name=type_name)


def _is_float_array(x):
    """Whether x is a float32/float64 ndarray of rank >= 1 (the fast kernels' case: ufuncs on it return arrays,
    so they can write into them; others take the generic NumPy form)."""
    return isinstance(x, np.ndarray) and x.ndim > 0 and (x.dtype.type is np.float32 or x.dtype.type is np.float64)


def _np_sigmoid(x):
    """1 / (1 + e^-x), directly: 4 SIMD passes and a min, where np.where over e^-|x| took 6x as long.
    Accurate to a few ulp relative everywhere: where 1 + e^-x would leave the normal range (x < -87 in
    float32), the result is e^x itself (_far_negative_tail). float16 and scalars: the form through e^-|x|."""
    if not _is_float_array(x):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1, e) / (1 + e)
    t = _one_plus_exp_of_negative(x)
    y = np.divide(1, t, out=t)
    tail = _far_negative_tail(x)
    if tail is not None:
        y[tail] = np.exp(x[tail])
    return y


def _one_plus_exp_of_negative(x):
    """1 + e^-x, a new array (inf where e^-x overflows: _far_negative_tail mends those results)."""
    t = np.negative(x)
    with np.errstate(over="ignore"):
        np.exp(t, out=t)
    return np.add(t, 1, out=t)


_TAIL_START = {t: np.log(np.finfo(t).tiny) for t in (np.float32, np.float64)}   # -87.3, -708.4


def _far_negative_tail(x):
    """The mask of x where 1 / (1 + e^-x) is below the smallest normal float (there it equals e^x, which
    stays exact down to the denormals), or None when there is none: one reduction in the common case."""
    low = _TAIL_START[x.dtype.type]
    if not x.min() < low:   # NaN: no tail
        return None
    return x < low


# np.maximum(x, 0) against a scalar runs NumPy's broadcast loop, which has no SIMD path for max: 3x slower in
# cache and 1.4x from memory than against an array of zeros. np.zeros of a big array is calloc'd and its pages,
# never written, all map the kernel's one zero page: reading it costs no memory traffic.
_ZEROS = {}


def _zeros_like(x):
    """A read-only array of zeros of x's shape and dtype (a view of one shared array per dtype)."""
    z = _ZEROS.get(x.dtype)
    if z is None or z.size < x.size:
        z = np.zeros(max(x.size, 1 << 16), x.dtype)
        z.flags.writeable = False
        _ZEROS[x.dtype] = z
    return z[:x.size].reshape(x.shape)


def relu_kernel(x, out=None):
    """max(x, 0) (also the ReLU epilogue of conv_ops' _FusedConv2DBiasAddRelu)."""
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "fi":
        return np.maximum(x, 0, out=out)
    return np.maximum(x, _zeros_like(x), out=out)


def _softplus_kernel(x):
    """log(1 + e^x) as max(x, 0) + log1p(e^-|x|): 6 SIMD passes, 10x faster than np.logaddexp(x, 0) on
    float32, exact to a few ulp for any x (e^-|x| never overflows; for x << 0 it is log1p(e^x) ~ e^x)."""
    if not _is_float_array(x):
        return np.logaddexp(x, 0)
    t = np.abs(x)
    np.negative(t, out=t)
    np.exp(t, out=t)
    np.log1p(t, out=t)
    y = np.maximum(x, _zeros_like(x))
    return np.add(y, t, out=y)


def _softplus_grad_kernel(g, x):
    """g * sigmoid(x) = g / (1 + e^-x): 4 passes and a min (see _np_sigmoid for the far negative tail)."""
    if not (_is_float_array(x) and _is_float_array(g) and g.dtype == x.dtype and g.shape == x.shape):
        return g * _np_sigmoid(x)
    t = _one_plus_exp_of_negative(x)
    y = np.divide(g, t, out=t)
    tail = _far_negative_tail(x)
    if tail is not None:
        y[tail] = g[tail] * np.exp(x[tail])
    return y


def _relu6_inputs(s):
    return lambda rng: rng.choice([-1.0, 1.0, 4.0], size=s) * rng.uniform(0.1, 2.0, size=s)


def _normal(s):
    return s


def _leaky_relu_kernel(x, alpha):
    """x if x > 0 else alpha * x, as max(x, alpha * x) for 0 < alpha <= 1 (min above 1): two passes, where
    np.where's mask, product and select take 8x as long. The same values, zeros' signs included; alpha <= 0
    keeps np.where (max would give +0 where TF gives -0 * alpha, and NaN for inf * 0 where TF gives inf)."""
    if alpha <= 0:
        return np.where(x > 0, x, x * alpha)
    scaled = np.multiply(x, alpha)
    pick = np.maximum if alpha <= 1 else np.minimum
    return pick(x, scaled, out=scaled) if isinstance(scaled, np.ndarray) else pick(x, scaled)


def _leaky_relu_grad_kernel(g, x, alpha):
    """g * (1 if x > 0 else alpha): the mask as 0/1 floats, mapped to the factor by f * (1 - alpha) + alpha,
    then one product: 4x faster than looking the factor up (np.take) and 10x than np.where. The same values
    as TF's select(x > 0, g, g * alpha): the map is exact at 0 (0 * (1 - alpha) + alpha) and checked exact at
    1 for this alpha in this dtype (else the lookup), and g * 1 is g."""
    if not isinstance(g, np.ndarray) or g.ndim == 0 or np.shape(g) != np.shape(x) or g.dtype.kind != "f":
        return np.where(x > 0, g, g * alpha)
    dt = g.dtype.type
    keep, slope = dt(1) - dt(alpha), dt(alpha)
    if keep + slope != 1:   # 1 - alpha rounded so that the map misses 1 (rare alphas): the lookup
        factor = np.array([alpha, 1], dtype=g.dtype).take(np.greater(x, 0).view(np.uint8))
        return np.multiply(factor, g, out=factor)
    factor = np.greater(x, 0).astype(g.dtype)
    np.multiply(factor, keep, out=factor)
    np.add(factor, slope, out=factor)
    return np.multiply(factor, g, out=factor)


# ReluGrad masks by the output y > 0, as TF's does
relu = _activation("Relu", relu_kernel, "ReluGrad", ("g", "y"), infer=_real_unary,
                   fresh_output=True, destroy_map={0: (0,)}, lower=lambda op, x: xla.jnp.maximum(x, xla.zero_of(x)))
relu6 = _activation("Relu6", lambda x: np.clip(x, 0, 6), "Relu6Grad", ("g", "x"), infer=_real_unary,
                    inputs=_relu6_inputs, lower=lambda op, x: xla.jnp.clip(x, xla.zero_of(x), np.asarray(6, x.dtype)))
# expm1 only of the non-positive part: no overflow warning from the branch np.where discards
elu = _activation("Elu", lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), "EluGrad", ("g", "y"),
                  lower=lambda op, x: xla.jnp.where(x > 0, x, xla.jnp.expm1(xla.jnp.minimum(x, xla.zero_of(x)))))
softplus = _activation("Softplus", _softplus_kernel, "SoftplusGrad", ("g", "x"), inputs=_normal,
                       lower=lambda op, x: xla.jnp.logaddexp(x, xla.zero_of(x)))
_activation("LeakyRelu", _leaky_relu_kernel, "LeakyReluGrad", ("g", "x"), attrs=("alpha",), fresh_output=True,
            public=lambda x: leaky_relu(x),
            more_samples=[Sample(lambda x: leaky_relu(x, alpha=0.5), [_away_from_zero((3, 2))])],
            lower=lambda op, x: xla.jnp.where(x > 0, x, x * np.asarray(op._attrs["alpha"], x.dtype)))
sigmoid = _activation("Sigmoid", _np_sigmoid, "SigmoidGrad", ("y", "g"), infer=_float_unary("x"), param="x",
                      inputs=_normal, lower=lambda op, x: xla.jax.nn.sigmoid(x))
tanh = _activation("Tanh", np.tanh, "TanhGrad", ("y", "g"), infer=_float_unary("x"), param="x", inputs=_normal,
                   lower=lambda op, x: xla.jnp.tanh(x))


def leaky_relu(features, alpha=0.2, name=None):
    """max(features, alpha * features) for alpha <= 1; integer features are converted to float32."""
    with name_scope(name, "LeakyRelu", [features]) as scope:
        x = convert_to_tensor(features, name="features")
        if x.dtype.is_integer:
            x = math_ops.cast(x, dtypes.float32)
        return apply_op("LeakyRelu", [x], {"alpha": float(alpha)}, name=scope)


def _elu_grad_grad(op, gg):
    g, y = op._inputs
    # d/dy is gg * g where y < 0, else 0; ReluGrad(v, -y) is exactly that mask.
    return [_grad_op("EluGrad", gg, y), _grad_op("ReluGrad", math_ops.multiply(gg, g), math_ops.negative(y))]


def _softplus_grad_grad(op, gg):
    g, x = op._inputs
    return [_grad_op("SoftplusGrad", gg, x), _grad_op("SigmoidGrad", sigmoid(x), math_ops.multiply(gg, g))]


def _sigmoid_grad_grad(op, gg):
    y, dy = op._inputs
    gdy = math_ops.multiply(gg, dy)
    return [math_ops.subtract(gdy, math_ops.multiply(2.0, math_ops.multiply(gdy, y))), _grad_op("SigmoidGrad", y, gg)]


def _tanh_grad_grad(op, gg):
    y, dy = op._inputs
    return [math_ops.multiply(math_ops.multiply(gg, -2.0), math_ops.multiply(dy, y)), _grad_op("TanhGrad", y, gg)]


def _elu_outputs(s):   # y = elu(x) away from the kink at 0, inside (-1, 1)
    return lambda rng: rng.choice([-1.0, 1.0], size=s) * rng.uniform(0.1, 0.9, size=s)


_activation_grad("ReluGrad", writes_into(lambda g, f, out=None: np.multiply(g, f > 0, out=out)),
                 "gradients * (features > 0).", fresh_output=True, destroy_map={0: (0,)},
                 lower=lambda op, g, f: xla.jnp.where(f > 0, g, xla.zero_of(g)))
_activation_grad("Relu6Grad", lambda g, f: g * ((f > 0) & (f < 6)), "gradients * (0 < features < 6).",
                 lower=lambda op, g, f: xla.jnp.where((f > 0) & (f < 6), g, xla.zero_of(g)))
_activation_grad("EluGrad", lambda g, y: np.where(y > 0, g, g * (y + 1)),
                 "gradients * (1 if outputs > 0 else outputs + 1).", grad=_elu_grad_grad, inputs=(None, _elu_outputs),
                 lower=lambda op, g, y: xla.jnp.where(y > 0, g, g * (y + 1)))
_activation_grad("SoftplusGrad", _softplus_grad_kernel, "gradients * sigmoid(features).",
                 grad=_softplus_grad_grad, inputs=(None, None), lower=lambda op, g, x: g * xla.jax.nn.sigmoid(x))
_activation_grad("LeakyReluGrad", _leaky_relu_grad_kernel,
                 "gradients * (1 if features > 0 else alpha).", attrs=("alpha",), fresh_output=True,
                 lower=lambda op, g, x: xla.jnp.where(x > 0, g, g * np.asarray(op._attrs["alpha"], g.dtype)))
_activation_grad("SigmoidGrad", lambda y, dy: dy * (y * (1 - y)),
                 "dy * y * (1 - y), inputs (y, dy) in TensorFlow's order.", grad=_sigmoid_grad_grad,
                 inputs=(None, None), lower=lambda op, y, dy: dy * (y * (1 - y)))
_activation_grad("TanhGrad", lambda y, dy: dy * (1 - y * y), "dy * (1 - y^2), inputs (y, dy).", grad=_tanh_grad_grad,
                 inputs=(None, None), lower=lambda op, y, dy: dy * (1 - y * y))


# -- row reductions over a short last axis (10 classes): NumPy's x.max(axis=1) / x.sum(axis=1) are
#    slow there; a column loop of np.maximum and a BLAS mat-vec with ones are 5-20x faster.
def _row_max(x2):
    n, c = x2.shape
    if c > 32 or c < 2 or n < 256:
        return x2.max(axis=1)
    m = np.maximum(x2[:, 0], x2[:, 1])
    for j in range(2, c):
        np.maximum(m, x2[:, j], out=m)
    return m


def _row_sum(x2):
    n, c = x2.shape
    if x2.dtype == np.float16 or c > 32 or c < 2:
        return x2.sum(axis=1)
    if n < 4096:   # small: one single-threaded BLAS mat-vec; large ones would wake BLAS threads
        return x2 @ np.ones(c, dtype=x2.dtype)
    m = x2[:, 0] + x2[:, 1]
    for j in range(2, c):
        m += x2[:, j]
    return m


def _shifted_rows(x):
    """x as [rows, classes] minus each row's max (so exp never overflows), as a new array."""
    x2 = x.reshape(-1, x.shape[-1])
    return x2 - _row_max(x2)[:, None]


# -- softmax along one axis (TF's kernel works on the last axis; nanotf's takes an `axis` attr
#    instead of wrapping the op in two transposes)
def _softmax_infer(op):
    x = op._inputs[0]
    _check_dtype(op, x, "logits", _FLOATS)
    if x.shape.ndims == 0:
        raise ValueError("logits must have >= 1 dimension, got shape %s for '%s' (op: '%s')"
                         % (x.shape, op.name, op.type))
    return x.dtype, x.shape


def _reduce_sum_keep(t, axis):
    return math_ops.reduce_sum(t, axis=axis, keepdims=True)


class _SoftmaxOp(OpDef):
    """Softmax and LogSoftmax along `axis` (`along(x, axis)`); over the last axis, the common case,
    `by_rows(e)` finishes in place on the [rows, classes] array e = x minus each row's max."""
    abstract = True
    row_wise = staticmethod(_last_axis_rows)   # over the last axis: each row on its own
    infer = _softmax_infer

    @classmethod
    def kernel(cls, op, ctx):
        axis, along, by_rows = op._attrs.get("axis", -1), cls.along, cls.by_rows
        if axis != -1:
            return lambda x: along(x, axis)

        def last_axis(x):
            if x.size == 0:
                return x.copy()
            return by_rows(_shifted_rows(x)).reshape(x.shape)
        return last_axis


class Softmax(_SoftmaxOp):
    def along(x, axis):
        e = x - x.max(axis=axis, keepdims=True)   # shift by the max: exp never overflows
        np.exp(e, out=e)
        e /= e.sum(axis=axis, keepdims=True)
        return e

    def by_rows(e):
        np.exp(e, out=e)
        e /= _row_sum(e)[:, None]
        return e

    def grad(op, g):
        y, axis = op._outputs[0], op._attrs.get("axis", -1)
        return [math_ops.multiply(math_ops.subtract(g, _reduce_sum_keep(math_ops.multiply(g, y), axis)), y)]

    samples = [Sample(lambda x: softmax(x), [s]) for s in _SHAPES] + \
        [Sample(lambda x: softmax(x, axis=0), [(3, 2)])]

    def lower(op, x):
        return xla.jax.nn.softmax(x, axis=op._attrs.get("axis", -1))


class LogSoftmax(_SoftmaxOp):
    def along(x, axis):
        shifted = x - x.max(axis=axis, keepdims=True)
        shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return shifted

    def by_rows(shifted):
        shifted -= np.log(_row_sum(np.exp(shifted)))[:, None]
        return shifted

    def grad(op, g):
        x, axis = op._inputs[0], op._attrs.get("axis", -1)
        probs = _softmax_op("Softmax", x, axis, "Softmax")
        return [math_ops.subtract(g, math_ops.multiply(_reduce_sum_keep(g, axis), probs))]

    samples = [Sample(lambda x: log_softmax(x), [s]) for s in _SHAPES] + \
        [Sample(lambda x: log_softmax(x, axis=0), [(3, 2)])]

    def lower(op, x):
        return xla.jax.nn.log_softmax(x, axis=op._attrs.get("axis", -1))


def _softmax_op(op_type, logits, axis, name):
    """Creates Softmax/LogSoftmax; stores `axis` only when it is not the last one."""
    ndims = logits.shape.ndims
    if axis == -1 or (ndims is not None and axis == ndims - 1):
        return apply_op(op_type, [logits], name=name)
    if ndims is None:   # the kernel (NumPy) resolves the axis at run time
        return apply_op(op_type, [logits], {"axis": axis}, name=name)
    if not -ndims <= axis < ndims:
        raise ValueError("axis %d is out of range for logits %s of rank %d" % (axis, logits.name, ndims))
    return apply_op(op_type, [logits], {"axis": axis % ndims}, name=name)


def _axis_arg(axis, dim, default=-1):
    if axis is not None and dim is not None:
        raise ValueError("Cannot specify both 'axis' and 'dim'")
    axis = axis if axis is not None else dim
    return default if axis is None else int(axis)


def softmax(logits, axis=None, name=None, dim=None):
    """exp(logits) / reduce_sum(exp(logits), axis), computed without overflow."""
    return _softmax_op("Softmax", convert_to_tensor(logits), _axis_arg(axis, dim), name or "Softmax")


def log_softmax(logits, axis=None, name=None, dim=None):
    """logits - log(reduce_sum(exp(logits), axis)), computed without overflow."""
    return _softmax_op("LogSoftmax", convert_to_tensor(logits), _axis_arg(axis, dim), name or "LogSoftmax")


# -- bias_add and l2_loss
def _channel_axis(data_format):
    return 1 if data_format == "NCHW" else -1


class BiasAdd(OpDef):
    row_wise = True          # (N, ...) rows with the bias whole (not `elementwise`: NCHW broadcasts its own way)
    fresh_output = True
    destroy_map = {0: (0,)}

    def infer(op):
        x, b = op._inputs
        if x.dtype is not b.dtype:
            raise TypeError("BiasAdd '%s': value and bias must have the same dtype, got %s (%s) and %s (%s)"
                            % (op.name, x.dtype.name, x.name, b.dtype.name, b.name))
        xd, bd = x.shape.as_tuple(), b.shape.as_tuple()
        if bd is not None and len(bd) != 1:
            raise ValueError("Shape must be rank 1 but is rank %d for '%s' (op: 'BiasAdd'): bias %s has shape %s"
                             % (len(bd), op.name, b.name, b.shape))
        if xd is None:
            return x.dtype, x.shape
        if len(xd) < 2:
            raise ValueError("Shape must be at least rank 2 but is rank %d for '%s' (op: 'BiasAdd'): value %s "
                             "has shape %s" % (len(xd), op.name, x.name, x.shape))
        ax = _channel_axis(op._attrs["data_format"]) % len(xd)
        c, bc = xd[ax], (bd[0] if bd is not None else None)
        if c is not None and bc is not None and c != bc:
            raise ValueError("Dimensions must be equal, but are %d and %d for '%s' (op: 'BiasAdd') with input "
                             "shapes: %s, %s." % (c, bc, op.name, x.shape, b.shape))
        return x.dtype, TensorShape([bc if (i == ax and d is None) else d for i, d in enumerate(xd)])

    def kernel(op, ctx):
        if op._attrs["data_format"] != "NCHW":
            return _bias_add_channels_last
        return writes_into(lambda x, b, out=None: np.add(x, b.reshape((-1,) + (1,) * (x.ndim - 2)), out=out))

    def lower(op, x, b):
        if op._attrs["data_format"] == "NCHW":
            return x + xla.jnp.reshape(b, (-1,) + (1,) * (np.ndim(x) - 2))
        return x + b

    def grad(op, g):
        return [g, _bias_add_grad(g, op._attrs["data_format"])]

    samples = [Sample(lambda x, b: bias_add(x, b), [(2, 3), (3,)]),
               Sample(lambda x, b: bias_add(x, b), [(2, 2, 3), (3,)]),
               Sample(lambda x, b: bias_add(x, b, data_format="NCHW"), [(2, 3, 2, 2), (3,)])]


# Channels-last bias add over many short rows (a conv layer's 32 channels): NumPy's broadcasting add runs
# its inner loop once per row of C elements, 2-3x slower than adding two flat arrays. So a big value is
# added a flat chunk at a time to the bias tiled to the chunk's length (a whole number of rows).
# Batch normalization's kernels (nn_impl) go through their rows the same way.
_ROW_CHUNK = 131072         # elements per chunk (512 KB of float32: the chunks of x, out and the tile fit L2)
# Measured: rows of 64 gain only from ~256K elements (a few % below), of 32 or fewer from ~64K; rows of
# 256 or more broadcast as well as flat arrays add.
_SHORT_ROW = 256


def _short_rows(x, c, wide_from=262144):
    """Whether the contiguous float array x, seen as rows of c channels, is big with short rows: the case
    where going through it in flat chunks against tiled per-channel vectors pays. Rows of fewer than 64
    channels count from 65536 elements, wider ones from `wide_from` (measured for bias add)."""
    return (isinstance(x, np.ndarray) and 1 < c < _SHORT_ROW and x.size >= (65536 if c < 64 else wide_from)
            and x.ndim >= 2 and x.shape[-1] == c and x.flags.c_contiguous and x.dtype.kind == "f")


def _row_chunks(rows, c):
    """Consecutive (first, end) row ranges of about _ROW_CHUNK elements (or fewer) covering `rows` rows of c,
    and the row count of a full one (what per-channel vectors are tiled to)."""
    step = max(1, min(_ROW_CHUNK // c, rows))
    return [(r, min(r + step, rows)) for r in range(0, rows, step)], step


def _bias_add_channels_last(x, b, out=None):
    """x + b over x's last axis, into `out` when given (destroy_map: may be x itself)."""
    c = b.shape[0] if np.ndim(b) == 1 else 0
    if (not _short_rows(x, c) or x.dtype != b.dtype
            or (out is not None and (out.shape != x.shape or out.dtype != x.dtype or not out.flags.c_contiguous))):
        return np.add(x, b, out=out)
    if out is None:
        out = np.empty_like(x)
    x2, out2 = x.reshape(-1, c), out.reshape(-1, c)
    chunks, step = _row_chunks(x2.shape[0], c)
    tiled = np.tile(b, step)
    for r0, r1 in chunks:
        np.add(x2[r0:r1].reshape(-1), tiled[:(r1 - r0) * c], out=out2[r0:r1].reshape(-1))
    return out


def bias_add(value, bias, data_format=None, name=None):
    """value + bias, bias a 1-D tensor matching the channel dimension (last for NHWC, second for NCHW)."""
    data_format = data_format or "NHWC"
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError("data_format must be 'NHWC' or 'NCHW', got %r" % (data_format,))
    with name_scope(name, "BiasAdd", [value, bias]) as scope:
        value = convert_to_tensor(value, name="input")
        bias = convert_to_tensor(bias, dtype=value.dtype if not isinstance(bias, Tensor) else None, name="bias")
        return apply_op("BiasAdd", [value, bias], {"data_format": data_format}, name=scope)


class BiasAddGrad(OpDef):
    """Sums the gradient over every axis but the channel one."""

    def infer(op):
        g = op._inputs[0]
        dims = g.shape.as_tuple()
        c = None if dims is None else dims[_channel_axis(op._attrs["data_format"])]
        return g.dtype, TensorShape([c])

    def kernel(op, ctx):
        ones, more_ones = _Ones(), _Ones()
        if op._attrs["data_format"] != "NCHW":
            def bias_add_grad(g):
                c = g.shape[-1]
                return _sum_rows(g.reshape(g.size // c if c else 0, c), ones)
        else:
            def bias_add_grad(g):
                n, c = g.shape[:2]
                per_image = _sum_columns(g.reshape(n * c, int(np.prod(g.shape[2:]))), ones)   # (N*C,)
                return _sum_rows(per_image.reshape(n, c), more_ones)
        return bias_add_grad

    def lower(op, g):
        if op._attrs["data_format"] == "NCHW":
            return xla.jnp.sum(g, axis=(0,) + tuple(range(2, np.ndim(g))))
        return xla.jnp.sum(g, axis=tuple(range(np.ndim(g) - 1)))

    def grad(op, gg):
        # broadcasting gg along g's channel axis is BiasAdd onto zeros (any rank, either data_format)
        g = op._inputs[0]
        return [apply_op("BiasAdd", [array_ops.zeros_like(g), gg], {"data_format": op._attrs["data_format"]},
                         name="BiasAdd")]

    samples = [Sample(lambda g: _bias_add_grad(g, "NHWC"), [(2, 3)]),
               Sample(lambda g: _bias_add_grad(g, "NHWC"), [(2, 2, 3)]),
               Sample(lambda g: _bias_add_grad(g, "NCHW"), [(2, 3, 2, 2)])]


class _Ones:
    """A cached vector of ones (a kernel's, reused while the length holds) for sums as BLAS products."""

    __slots__ = ("vec",)

    def __init__(self):
        self.vec = None

    def of(self, n, dtype):
        v = self.vec
        if v is None or v.shape[0] != n or v.dtype != dtype:
            v = self.vec = np.ones(n, dtype)
        return v


def _blas_float(a):
    return a.dtype == np.float32 or a.dtype == np.float64


def _sum_rows(g2, ones):
    """g2.sum(axis=0) of a 2-D array, as the BLAS product ones @ g2 for floats: one streaming pass, where
    NumPy's column-wise reduction over short rows runs 6x slower (float32 accumulates in blocks, as in TF)."""
    if not _blas_float(g2) or g2.shape[0] < 2 or not g2.size:
        return g2.sum(axis=0)
    return np.matmul(ones.of(g2.shape[0], g2.dtype), g2)


def _sum_columns(g2, ones):
    """g2.sum(axis=1) of a 2-D array, as g2 @ ones for floats."""
    if not _blas_float(g2) or g2.shape[1] < 2 or not g2.size:
        return g2.sum(axis=1)
    return np.matmul(g2, ones.of(g2.shape[1], g2.dtype))


def _bias_add_grad(g, data_format):
    return apply_op("BiasAddGrad", [g], {"data_format": data_format}, name="BiasAddGrad")


def xw_plus_b(x, weights, biases, name=None):
    """matmul(x, weights) + biases."""
    with name_scope(name, "xw_plus_b", [x, weights, biases]) as scope:
        mm = math_ops.matmul(x, weights)
        return bias_add(mm, biases, name=scope)


class L2Loss(OpDef):
    def infer(op):
        t = op._inputs[0]
        _check_dtype(op, t, "t", _FLOATS)
        return t.dtype, TensorShape([])

    def kernel(op, ctx):
        npd = op._inputs[0].dtype.as_numpy_dtype

        def l2(t):
            flat = np.ravel(t)
            return np.asarray(np.dot(flat, flat) / 2, dtype=npd)
        return l2

    def lower(op, t):
        return (xla.jnp.sum(xla.jnp.square(t)) / 2).astype(xla.out_dtype(op))

    def grad(op, g):
        return [math_ops.multiply(op._inputs[0], g)]

    samples = [Sample(lambda t: l2_loss(t), [s]) for s in [()] + _SHAPES]


def l2_loss(t, name=None):
    """sum(t ** 2) / 2."""
    return apply_op("L2Loss", [convert_to_tensor(t)], name=name or "L2Loss")


# -- cross entropy: fused kernels with two outputs (loss per example, backprop = softmax - labels).
#    TF's kernels take rank-2 logits and its wrappers reshape around them; these kernels take logits
#    [..., classes] directly (a reshape to rank 2 inside is a free view), so unknown ranks work too.
def _is_zeros_of(g, t):
    """True when g is the ZerosLike that tf.gradients fills in for an output nobody differentiated."""
    return g.op.type == "ZerosLike" and g.op._inputs[0] is t


def _softmax_hessian_product(grad_backprop, probs):
    """d(softmax(logits))/d(logits) applied to grad_backprop: (G - sum(G * p)) * p."""
    return math_ops.multiply(math_ops.subtract(grad_backprop, _reduce_sum_keep(
        math_ops.multiply(grad_backprop, probs), -1)), probs)


def _xent_logits_grad(op, grad_loss, grad_backprop, label_sums=None):
    """Gradient w.r.t. logits. backprop = softmax * label_sums - labels (label_sums is 1 for sparse labels)."""
    logits, backprop = op._inputs[0], op._outputs[1]
    out = math_ops.multiply(array_ops.expand_dims(grad_loss, -1), backprop)
    if grad_backprop is not None and not _is_zeros_of(grad_backprop, backprop):
        # a second derivative flows in through the backprop output (tf.gradients of a gradient)
        g = grad_backprop if label_sums is None else math_ops.multiply(grad_backprop, label_sums)
        out = math_ops.add(out, _softmax_hessian_product(g, softmax(logits)))
    return out


def _xent_infer(op, sparse):
    """loss: logits.shape[:-1]; backprop: logits.shape. Sparse labels have logits' leading shape, dense
    labels logits' whole shape."""
    logits, labels = op._inputs
    _check_dtype(op, logits, "features", _FLOATS)
    if logits.shape.ndims == 0:
        raise ValueError("logits must be at least 1-D, but got shape %s for '%s' (op: '%s')"
                         % (logits.shape, op.name, op.type))
    label_shape = labels.shape
    if sparse and label_shape.ndims is not None:
        label_shape = label_shape.concatenate([None])
    full = logits.shape
    if not full.is_compatible_with(label_shape):
        raise ValueError("logits and labels must have compatible shapes, got logits %s and labels %s for '%s' (op: "
                         "'%s')" % (logits.shape, labels.shape, op.name, op.type))
    full = full.merge_with(label_shape)
    dims = full.as_tuple()
    lead = TensorShape(None) if dims is None else TensorShape(dims[:-1])
    return [(logits.dtype, lead), (logits.dtype, full)]


def _check_lead_shape(op, logits, labels, sparse):
    want = logits.shape[:-1] if sparse else logits.shape
    if labels.shape != want:
        raise errors.InvalidArgumentError(None, op, "logits and labels must be same size: logits_size=%s "
                                          "labels_size=%s" % (list(logits.shape), list(labels.shape)))


class SparseSoftmaxCrossEntropyWithLogits(OpDef):
    def infer(op):
        _check_dtype(op, op._inputs[1], "labels", _INDEX_TYPES)
        return _xent_infer(op, sparse=True)

    def kernel(op, ctx):
        def sparse_xent(logits, labels):
            _check_lead_shape(op, logits, labels, True)
            c = logits.shape[-1]
            if labels.size:
                lo, hi = labels.min(), labels.max()
                if lo < 0 or hi >= c:
                    raise errors.InvalidArgumentError(
                        None, op, "Received a label value of %d which is outside the valid range of [0, %d).  "
                        "Label values: %s" % (lo if lo < 0 else hi, c, " ".join(str(v) for v in labels.ravel())))
            if logits.size == 0:
                return np.zeros(labels.shape, logits.dtype), np.zeros_like(logits)
            shifted = _shifted_rows(logits)
            picked = np.arange(0, shifted.size, c) + labels.reshape(-1)   # flat index of each row's label
            e = np.exp(shifted)
            total = _row_sum(e)
            loss = np.log(total) - shifted.reshape(-1)[picked]
            e /= total[:, None]
            e.reshape(-1)[picked] -= 1
            return loss.reshape(labels.shape), e.reshape(logits.shape)
        return sparse_xent

    def lower(op, logits, labels):
        """loss = logsumexp(logits) - logits[label]; backprop = softmax - one_hot(label). XLA cannot raise on a
        label out of range: such a row gets NaN, as TF's XLA kernel gives."""
        c = np.shape(logits)[-1]
        log_p = xla.jax.nn.log_softmax(logits, axis=-1)
        hot = xla.jnp.expand_dims(labels, -1) == xla.jnp.arange(c)
        picked = xla.jnp.sum(xla.jnp.where(hot, log_p, xla.zero_of(log_p)), axis=-1)
        bad = (labels < 0) | (labels >= c)
        loss = xla.jnp.where(bad, np.asarray(np.nan, log_p.dtype), -picked)
        backprop = xla.jnp.exp(log_p) - hot.astype(log_p.dtype)
        return loss, xla.jnp.where(bad[..., None], np.asarray(np.nan, log_p.dtype), backprop)

    def grad(op, grad_loss, grad_backprop):
        return [_xent_logits_grad(op, grad_loss, grad_backprop), None]

    samples = [Sample(lambda x, y: sparse_softmax_cross_entropy_with_logits(labels=y, logits=x),
                      [(4, 3), np.array([0, 2, 1, 2], dtype=np.int32)]),
               Sample(lambda x, y: sparse_softmax_cross_entropy_with_logits(labels=y, logits=x),
                      [(2, 5), np.array([4, 0], dtype=np.int64)]),
               Sample(lambda x, y: sparse_softmax_cross_entropy_with_logits(labels=y, logits=x),
                      [(2, 2, 3), np.array([[0, 1], [2, 2]], dtype=np.int32)])]


class SoftmaxCrossEntropyWithLogits(OpDef):
    def infer(op):
        logits, labels = op._inputs
        if logits.dtype is not labels.dtype:
            raise TypeError("SoftmaxCrossEntropyWithLogits '%s': logits and labels must have the same dtype, got "
                            "%s and %s" % (op.name, logits.dtype.name, labels.dtype.name))
        return _xent_infer(op, sparse=False)

    def kernel(op, ctx):
        def dense_xent(logits, labels):
            _check_lead_shape(op, logits, labels, False)
            if logits.size == 0:
                return np.zeros(logits.shape[:-1], logits.dtype), np.zeros_like(logits)
            shifted = _shifted_rows(logits)
            labels2 = labels.reshape(shifted.shape)
            e = np.exp(shifted)
            total = _row_sum(e)
            label_sums = _row_sum(labels2)
            loss = (np.log(total) * label_sums - _row_sum(labels2 * shifted)).reshape(logits.shape[:-1])
            # d(loss)/d(logits) = softmax * sum(labels) - labels: TF drops the sum (exact only for
            # labels that sum to 1); keeping it makes the gradient right for any labels.
            e *= (label_sums / total)[:, None]
            e -= labels2
            e = e.reshape(logits.shape)
            return loss, e
        return dense_xent

    def lower(op, logits, labels):
        """loss = sum(labels) * logsumexp(logits) - sum(labels * logits); backprop = softmax * sum(labels) - labels
        (nanotf's kernel keeps the label sum, exact for labels that do not sum to 1)."""
        shifted = logits - xla.jax.lax.stop_gradient(xla.jnp.max(logits, axis=-1, keepdims=True))
        lse = xla.jnp.log(xla.jnp.sum(xla.jnp.exp(shifted), axis=-1, keepdims=True))
        label_sums = xla.jnp.sum(labels, axis=-1, keepdims=True)
        loss = (lse * label_sums)[..., 0] - xla.jnp.sum(labels * shifted, axis=-1)
        return loss, xla.jnp.exp(shifted - lse) * label_sums - labels

    def grad(op, grad_loss, grad_backprop):
        (logits, labels), backprop = op._inputs, op._outputs[1]
        labels_grad = math_ops.multiply(array_ops.expand_dims(grad_loss, -1), math_ops.negative(log_softmax(logits)))
        if grad_backprop is None or _is_zeros_of(grad_backprop, backprop):
            return [_xent_logits_grad(op, grad_loss, None), labels_grad]
        # second order: backprop = softmax * sum(labels) - labels depends on the labels too
        probs = softmax(logits)
        labels_grad = math_ops.add(labels_grad, math_ops.subtract(
            _reduce_sum_keep(math_ops.multiply(grad_backprop, probs), -1), grad_backprop))
        return [_xent_logits_grad(op, grad_loss, grad_backprop, _reduce_sum_keep(labels, -1)), labels_grad]

    samples = [Sample(lambda x, y: softmax_cross_entropy_with_logits_v2(labels=y, logits=x), [(4, 3), (4, 3)]),
               Sample(lambda x, y: softmax_cross_entropy_with_logits_v2(labels=y, logits=x), [(2, 5), (2, 5)]),
               Sample(lambda x, y: softmax_cross_entropy_with_logits_v2(labels=y, logits=x), [(2, 2, 3), (2, 2, 3)])]


def _is_integer_value(v):
    if isinstance(v, Tensor) or hasattr(v, "_as_tensor"):
        return convert_to_tensor(v).dtype.is_integer
    return np.asarray(v).dtype.kind in "iu"


def _xent_args(fn_name, sentinel, labels, logits, name, sparse):
    """(labels, logits, name) from either the keyword form or TF <= 1.0's positional (logits, labels, name)."""
    if isinstance(logits, str) and name is None and sentinel is not None:
        logits, name = None, logits           # f(logits, labels, "name")
    if sentinel is not None:
        if labels is not None and logits is None:
            first, second = sentinel, labels
            # The old order is (logits, labels); integer-vs-float dtypes settle sparse calls written either way.
            if sparse and _is_integer_value(first) and not _is_integer_value(second):
                labels, logits = first, second
            else:
                labels, logits = second, first
        elif labels is None and logits is not None:
            labels = sentinel
        elif labels is None and logits is None:
            raise ValueError("%s needs both labels and logits; got one positional argument" % fn_name)
        else:
            raise ValueError("Only call `%s` with named arguments (labels=..., logits=..., ...), or positionally "
                             "as (logits, labels)" % fn_name)
    if labels is None or logits is None:
        raise ValueError("Both labels and logits must be provided to %s." % fn_name)
    return labels, logits, name


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """Per-example -log(softmax(logits)[label]). labels: int32/int64 class ids of shape logits.shape[:-1].

    Accepts the keyword form (labels=, logits=) and TF <= 1.0's positional form (logits, labels)."""
    labels, logits, name = _xent_args("sparse_softmax_cross_entropy_with_logits", _sentinel, labels, logits,
                                      name, sparse=True)
    with name_scope(name, "SparseSoftmaxCrossEntropyWithLogits", [labels, logits]):
        labels = convert_to_tensor(labels)
        logits = convert_to_tensor(logits)
        if not logits.dtype.is_floating:
            raise TypeError("logits must be a floating point tensor, got %s (%s)" % (logits.dtype.name, logits.name))
        if labels.dtype not in _INDEX_TYPES:
            raise TypeError("labels must be int32 or int64 class indices, got %s (%s)" % (labels.dtype.name,
                                                                                         labels.name))
        lr, ls = labels.shape, logits.shape
        if ls.ndims == 0:
            raise ValueError("Logits cannot be scalars - received shape %s." % ls)
        if ls.ndims is not None and lr.ndims is not None and lr.ndims != ls.ndims - 1:
            raise ValueError("Rank mismatch: Rank of labels (received %s) should equal rank of logits minus 1 "
                             "(received %s)." % (lr.ndims, ls.ndims))
        if ls.ndims is not None and lr.ndims is not None and not lr.is_compatible_with(ls[:-1]):
            raise ValueError("Shape mismatch: The shape of labels (received %s) should equal the shape of logits "
                             "except for the last dimension (received %s)." % (lr, ls))
        precise = math_ops.cast(logits, dtypes.float32) if logits.dtype is dtypes.float16 else logits
        # TF creates the op named `name` inside the scope `name`: name="xentropy" gives "xentropy/xentropy"
        cost = apply_op("SparseSoftmaxCrossEntropyWithLogits", [precise, labels],
                        name=name or "SparseSoftmaxCrossEntropyWithLogits")[0]
        return math_ops.cast(cost, dtypes.float16) if logits.dtype is dtypes.float16 else cost


def softmax_cross_entropy_with_logits_v2(_sentinel=None, labels=None, logits=None, axis=None, name=None,
                                         dim=None):
    """Per-example -sum(labels * log_softmax(logits)); gradients flow into both logits and labels."""
    labels, logits, name = _xent_args("softmax_cross_entropy_with_logits_v2", _sentinel, labels, logits, name,
                                      sparse=False)
    axis = _axis_arg(axis, dim)
    with name_scope(name, "softmax_cross_entropy_with_logits", [logits, labels]) as scope:
        logits = convert_to_tensor(logits, name="logits")
        labels = convert_to_tensor(labels, dtype=logits.dtype if not isinstance(labels, Tensor) else None,
                                   name="labels")
        return _dense_xent(labels, logits, axis, scope)


def _dense_xent(labels, logits, axis, scope):
    if not logits.dtype.is_floating:
        raise TypeError("logits must be a floating point tensor, got %s (%s)" % (logits.dtype.name, logits.name))
    if not labels.shape.is_compatible_with(logits.shape):
        raise ValueError("logits and labels must have the same shape, received logits %s and labels %s"
                         % (logits.shape, labels.shape))
    ndims = logits.shape.ndims
    if ndims == 0:
        raise ValueError("Logits cannot be scalars - received shape %s." % logits.shape)
    if axis != -1 and (ndims is None or axis % ndims != ndims - 1):
        if ndims is None:
            raise ValueError("softmax_cross_entropy_with_logits over axis %d needs logits of known rank" % axis)
        axis %= ndims
        perm = [i for i in range(ndims) if i != axis] + [axis]   # move the class axis to the end
        logits, labels = array_ops.transpose(logits, perm), array_ops.transpose(labels, perm)
    half = logits.dtype is dtypes.float16
    if half:
        logits, labels = math_ops.cast(logits, dtypes.float32), math_ops.cast(labels, dtypes.float32)
    cost = apply_op("SoftmaxCrossEntropyWithLogits", [logits, labels], name=scope)[0]
    return math_ops.cast(cost, dtypes.float16) if half else cost


def softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, dim=-1, name=None, axis=None):
    """TF1's version: like _v2 but gradients do not flow into labels (labels pass through stop_gradient)."""
    labels, logits, name = _xent_args("softmax_cross_entropy_with_logits", _sentinel, labels, logits, name,
                                      sparse=False)
    axis = _axis_arg(axis, None if dim == -1 else dim)
    with name_scope(name, "softmax_cross_entropy_with_logits_sg", [logits, labels]) as scope:
        logits = convert_to_tensor(logits, name="logits")
        labels = convert_to_tensor(labels, dtype=logits.dtype if not isinstance(labels, Tensor) else None,
                                   name="labels")
        labels = array_ops.stop_gradient(labels, name="labels_stop_gradient")
        return _dense_xent(labels, logits, axis, scope)


def sigmoid_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """Per-element logistic loss: softplus(logits) - logits * labels (stable for any magnitude)."""
    labels, logits, name = _xent_args("sigmoid_cross_entropy_with_logits", _sentinel, labels, logits, name,
                                      sparse=False)
    with name_scope(name, "logistic_loss", [logits, labels]) as scope:
        logits = convert_to_tensor(logits, name="logits")
        labels = convert_to_tensor(labels, dtype=logits.dtype if not isinstance(labels, Tensor) else None,
                                   name="labels")
        try:
            labels.shape.merge_with(logits.shape)
        except ValueError:
            raise ValueError("logits and labels must have the same shape (%s vs %s)"
                             % (logits.shape, labels.shape)) from None
        return math_ops.subtract(softplus(logits), math_ops.multiply(logits, labels), name=scope)


# -- in_top_k (not differentiable)
def _in_top_k_infer(op):
    pred, targets = op._inputs[0], op._inputs[1]
    _check_dtype(op, pred, "predictions", _FLOATS)
    _check_dtype(op, targets, "targets", _INDEX_TYPES)
    pd, td = pred.shape.as_tuple(), targets.shape.as_tuple()
    if pd is not None and len(pd) != 2:
        raise ValueError("Shape must be rank 2 but is rank %d for '%s' (op: '%s'): predictions %s"
                         % (len(pd), op.name, op.type, pred.shape))
    if td is not None and len(td) != 1:
        raise ValueError("Shape must be rank 1 but is rank %d for '%s' (op: '%s'): targets %s"
                         % (len(td), op.name, op.type, targets.shape))
    batch = pd[0] if pd is not None else None
    if td is not None:
        if batch is not None and td[0] is not None and batch != td[0]:
            raise ValueError("Dimensions must be equal, but are %d and %d for '%s' (op: '%s') with input shapes: %s, "
                             "%s." % (batch, td[0], op.name, op.type, pred.shape, targets.shape))
        batch = batch if batch is not None else td[0]
    return dtypes.bool, TensorShape([batch])


def _in_top_k_kernel(op, k_fixed):
    def in_top_k_kernel(pred, targets, k=k_fixed):
        n, c = pred.shape
        bad = (targets < 0) | (targets >= c)
        if bad.any():
            raise errors.InvalidArgumentError(None, op, "targets[%d] is out of range" % int(np.argmax(bad)))
        if n == 0:
            return np.zeros(0, dtype=bool)
        pred = np.ascontiguousarray(pred)
        target_scores = pred.reshape(-1)[np.arange(0, n * c, c) + targets]
        if k == 1:
            inside = target_scores >= _row_max(pred)   # nothing strictly greater than the target
        else:
            inside = np.count_nonzero(pred > target_scores[:, None], axis=1) < k
        nonfinite = ~np.isfinite(pred)
        if nonfinite.any():   # rare: only then look for the rows holding one
            inside &= ~nonfinite.any(axis=1)
        return inside
    return in_top_k_kernel


def _lower_in_top_k(pred, targets, k):
    """InTopK's lowering: target's score beaten by fewer than k others, finite scores, target in range."""
    n, c = np.shape(pred)
    target_scores = xla.jnp.take_along_axis(pred, xla.jnp.clip(targets, 0, c - 1).astype(np.int64)[:, None], axis=1)
    inside = xla.jnp.sum(pred > target_scores, axis=1) < k
    return inside & xla.jnp.all(xla.jnp.isfinite(pred), axis=1) & (targets >= 0) & (targets < c)


class InTopK(OpDef):
    """Row i is True when fewer than k classes score strictly higher than targets[i] (ties count as in)."""
    row_wise = staticmethod(_in_top_k_rows)
    infer = _in_top_k_infer
    grad = None

    def kernel(op, ctx):
        return _in_top_k_kernel(op, op._attrs["k"])

    def lower(op, pred, targets):
        return _lower_in_top_k(pred, targets, op._attrs["k"])

    samples = [Sample(lambda p, t: in_top_k(p, t, 2), [(4, 3), np.array([0, 1, 2, 1], dtype=np.int32)], grad=()),
               Sample(lambda p, t: in_top_k(p, t, 1), [(2, 5), np.array([4, 0], dtype=np.int64)], grad=())]


class InTopKV2(OpDef):
    """InTopK with k given as a tensor."""
    row_wise = staticmethod(_in_top_k_rows)
    grad = None

    def infer(op):
        k = op._inputs[2]
        if k.dtype is not op._inputs[1].dtype or k.shape.ndims not in (None, 0):
            raise ValueError("InTopKV2 '%s': k must be a scalar of the targets' dtype %s, got %s %s"
                             % (op.name, op._inputs[1].dtype.name, k.dtype.name, k.shape))
        return _in_top_k_infer(op)

    def kernel(op, ctx):
        return _in_top_k_kernel(op, None)

    def lower(op, pred, targets, k):
        return _lower_in_top_k(pred, targets, k)

    samples = [Sample(lambda p, t, k: in_top_k(p, t, k), [(4, 3), np.array([0, 1, 2, 1], dtype=np.int32),
                                                          np.array(2, dtype=np.int32)], grad=())]


def in_top_k(predictions, targets, k, name=None):
    """bool[batch]: whether targets[i] is among the top k predictions of row i (ties at the k-th score are in;
    rows with a non-finite score are False)."""
    predictions = convert_to_tensor(predictions)
    targets = convert_to_tensor(targets)
    if isinstance(k, Tensor) and k.op.type == "Const":
        k = k.op._attrs["value"].item()
    if isinstance(k, (Tensor,)) or hasattr(k, "_as_tensor"):
        k = convert_to_tensor(k)
        if k.dtype is not targets.dtype:
            k = math_ops.cast(k, targets.dtype)
        return apply_op("InTopKV2", [predictions, targets, k], name=name or "InTopKV2")
    return apply_op("InTopK", [predictions, targets], {"k": int(k)}, name=name or "InTopK")


# -- dropout and moments: compositions of differentiable ops
def dropout(x, keep_prob=None, noise_shape=None, seed=None, name=None, rate=None):
    """Keeps each element with probability keep_prob (scaled by 1/keep_prob), else zeroes it.

    keep_prob: a float in (0, 1] or a scalar Tensor (e.g. a placeholder); rate = 1 - keep_prob."""
    if keep_prob is not None and rate is not None:
        raise ValueError("Cannot specify both keep_prob and rate")
    if keep_prob is None and rate is None:
        raise ValueError("You must provide a rate (or keep_prob) to dropout.")
    with name_scope(name, "dropout", [x]):
        x = convert_to_tensor(x, name="x")
        if not x.dtype.is_floating:
            raise ValueError("x has to be a floating point tensor since it's going to be scaled. Got a %s tensor "
                             "instead." % x.dtype.name)
        if rate is not None:
            if isinstance(rate, numbers.Real):
                if not 0 <= rate < 1:
                    raise ValueError("rate must be a scalar tensor or a float in the range [0, 1), got %g" % rate)
                keep_prob = 1.0 - float(rate)
            else:
                keep_prob = math_ops.subtract(1.0, convert_to_tensor(rate, dtype=x.dtype, name="rate"))
        if isinstance(keep_prob, numbers.Real) and not isinstance(keep_prob, bool):
            if not 0 < keep_prob <= 1:
                raise ValueError("keep_prob must be a scalar tensor or a float in the range (0, 1], got %g"
                                 % keep_prob)
            if keep_prob == 1:
                return x
        keep_prob = convert_to_tensor(keep_prob, dtype=x.dtype, name="keep_prob")
        if not keep_prob.shape.is_compatible_with(TensorShape([])):
            raise ValueError("keep_prob must be a scalar, got %s of shape %s" % (keep_prob.name, keep_prob.shape))
        if keep_prob.op.type == "Const" and keep_prob.op._attrs["value"] == 1:
            return x
        from nanotf.ops import random_ops
        shape = array_ops.shape(x) if noise_shape is None else noise_shape
        random_tensor = math_ops.add(keep_prob, random_ops.random_uniform(shape, seed=seed, dtype=x.dtype))
        binary = math_ops.floor(random_tensor)   # 1 with probability keep_prob, else 0
        ret = math_ops.multiply(math_ops.divide(x, keep_prob, name="div"), binary)
        ret.set_shape(x.shape)
        return ret


def moments(x, axes, shift=None, name=None, keep_dims=None, keepdims=None):
    """(mean, variance) of x over `axes`; the variance's gradient treats the mean as a constant, as TF's does."""
    keep = bool(keepdims if keepdims is not None else keep_dims)
    with name_scope(name, "moments", [x, axes]):
        x = convert_to_tensor(x)
        y = math_ops.cast(x, dtypes.float32) if x.dtype is dtypes.float16 else x
        axes = normalize_axes(axes, y.shape.ndims)
        mean = math_ops.reduce_mean(y, axes, keepdims=True, name="mean")
        variance = math_ops.reduce_mean(math_ops.squared_difference(y, array_ops.stop_gradient(mean)), axes,
                                        keepdims=True, name="variance")
        if not keep:
            mean, variance = array_ops.squeeze(mean, axes), array_ops.squeeze(variance, axes)
        if x.dtype is dtypes.float16:
            return math_ops.cast(mean, dtypes.float16), math_ops.cast(variance, dtypes.float16)
        return mean, variance


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """x / sqrt(max(sum(x ** 2, axis), epsilon))."""
    axis = dim if axis is None else axis
    if axis is not None and dim is not None and axis != dim:
        raise ValueError("Cannot specify both 'axis' and 'dim'")
    with name_scope(name, "l2_normalize", [x]) as scope:
        x = convert_to_tensor(x, name="x")
        square_sum = math_ops.reduce_sum(math_ops.square(x), axis, keepdims=True)
        inv_norm = math_ops.rsqrt(math_ops.maximum(square_sum, epsilon))
        return math_ops.multiply(x, inv_norm, name=scope)


def zero_fraction(value, name=None):
    """Fraction (float32 scalar) of the entries of value that are zero, e.g. for ReLU activation summaries."""
    with name_scope(name, "zero_fraction", [value]):
        value = convert_to_tensor(value, name="value")
        zero = array_ops.constant(0, dtype=value.dtype, name="zero")
        return math_ops.reduce_mean(math_ops.cast(math_ops.equal(value, zero), dtypes.float32))
