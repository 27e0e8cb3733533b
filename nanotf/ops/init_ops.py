"""Variable initializers (tf.zeros_initializer, tf.glorot_uniform_initializer, ...).

An initializer is an object called as `init(shape, dtype=None, partition_info=None)` that builds
the ops computing a starting value and returns their Tensor; `tf.get_variable` calls it inside the
variable's `Initializer` name scope. The random ones draw from the ops in random_ops, so graph and
op seeds make them repeatable.
"""
import math

import numpy as np

from nanotf.framework import dtypes
from nanotf.ops import array_ops, random_ops

__all__ = ["zeros_initializer", "ones_initializer", "constant_initializer", "random_uniform_initializer",
           "random_normal_initializer", "truncated_normal_initializer", "uniform_unit_scaling_initializer",
           "variance_scaling_initializer", "glorot_uniform_initializer", "glorot_normal_initializer",
           "orthogonal_initializer", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform"]

# std of a unit normal truncated to [-2, 2]; dividing by it makes truncated_normal keep the target variance
_TRUNCATED_STD = 0.87962566103423978


def _float_dtype(dtype, who):
    dtype = dtypes.as_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError("%s: expected floating point type, got %s." % (who, dtype.name))
    return dtype


def _shape_list(shape):
    return array_ops._plain_ints(list(shape) if not isinstance(shape, (int, np.integer)) else [shape])


class Initializer:
    """Base class: subclasses build a Tensor of `shape` and `dtype` in `__call__`."""

    def __call__(self, shape, dtype=None, partition_info=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _dtype_or_default(self, dtype):
        return dtypes.as_dtype(dtype) if dtype is not None else self.dtype


class _Fill(Initializer):
    """Every element the same: what `_fill` (array_ops.zeros or ones) gives."""
    _fill = None

    def __init__(self, dtype=dtypes.float32):
        self.dtype = dtypes.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        return self._fill(shape, self._dtype_or_default(dtype))

    def get_config(self):
        return {"dtype": self.dtype.name}


class Zeros(_Fill):
    _fill = staticmethod(array_ops.zeros)


class Ones(_Fill):
    _fill = staticmethod(array_ops.ones)


class Constant(Initializer):
    """A constant value: a scalar fills the shape; a list/array is reshaped (TF pads a short 1-D list
    with its last element)."""

    def __init__(self, value=0, dtype=dtypes.float32, verify_shape=False):
        if not (np.isscalar(value) or isinstance(value, (list, tuple, np.ndarray))):
            raise TypeError("Invalid type for initial value: %s (expected Python scalar, list or tuple of "
                            "values, or numpy.ndarray)." % type(value).__name__)
        self.value = value
        self.dtype = dtypes.as_dtype(dtype)
        self._verify_shape = verify_shape

    def __call__(self, shape, dtype=None, partition_info=None, verify_shape=None):
        verify = self._verify_shape if verify_shape is None else verify_shape
        return array_ops.constant(self.value, dtype=self._dtype_or_default(dtype), shape=shape,
                                  verify_shape=verify)

    def get_config(self):
        return {"value": self.value, "dtype": self.dtype.name}


class RandomUniform(Initializer):
    def __init__(self, minval=0, maxval=None, seed=None, dtype=dtypes.float32):
        self.minval, self.maxval, self.seed = minval, maxval, seed
        self.dtype = dtypes.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        return random_ops.random_uniform(shape, self.minval, self.maxval, self._dtype_or_default(dtype),
                                         seed=self.seed)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed, "dtype": self.dtype.name}


class _NormalInitializer(Initializer):
    """Floating values of a given mean and stddev, drawn by the random op `_draw` (named `_name` in errors)."""
    _draw = _name = None

    def __init__(self, mean=0.0, stddev=1.0, seed=None, dtype=dtypes.float32):
        self.mean, self.stddev, self.seed = mean, stddev, seed
        self.dtype = _float_dtype(dtype, self._name)

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = _float_dtype(self._dtype_or_default(dtype), self._name)
        return self._draw(shape, self.mean, self.stddev, dtype, seed=self.seed)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed, "dtype": self.dtype.name}


class RandomNormal(_NormalInitializer):
    _draw, _name = staticmethod(random_ops.random_normal), "random_normal_initializer"


class TruncatedNormal(_NormalInitializer):
    """Normal values with those more than two standard deviations from the mean redrawn."""
    _draw, _name = staticmethod(random_ops.truncated_normal), "truncated_normal_initializer"


class UniformUnitScaling(Initializer):
    """Uniform in +-factor*sqrt(3/fan_in), fan_in = product of all but the last dimension (deprecated
    in TF in favour of variance_scaling_initializer)."""

    def __init__(self, factor=1.0, seed=None, dtype=dtypes.float32):
        self.factor, self.seed = factor, seed
        self.dtype = _float_dtype(dtype, "uniform_unit_scaling_initializer")

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = _float_dtype(self._dtype_or_default(dtype), "uniform_unit_scaling_initializer")
        dims = _shape_list(partition_info.full_shape if partition_info is not None else shape)
        input_size = 1.0
        for d in dims[:-1]:
            input_size *= float(d)
        input_size = max(input_size, 1.0)   # avoid 0 for scalars and empty shapes
        limit = math.sqrt(3 / input_size) * self.factor
        return random_ops.random_uniform(shape, -limit, limit, dtype, seed=self.seed)

    def get_config(self):
        return {"factor": self.factor, "seed": self.seed, "dtype": self.dtype.name}


def _compute_fans(shape):
    """(fan_in, fan_out) of a weight shape; convolution kernels count their receptive field."""
    shape = _shape_list(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = 1
    for d in shape[:-2]:
        receptive *= d
    return shape[-2] * receptive, shape[-1] * receptive


class VarianceScaling(Initializer):
    """Values with variance scale/n, n = fan_in, fan_out or their mean (`mode`), drawn from a truncated
    normal (default), an untruncated normal or a uniform distribution."""

    _DISTRIBUTIONS = ("normal", "uniform", "truncated_normal", "untruncated_normal")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 dtype=dtypes.float32):
        if scale <= 0.:
            raise ValueError("`scale` must be positive float.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError("Invalid `mode` argument: %r (expected fan_in, fan_out or fan_avg)" % (mode,))
        distribution = str(distribution).lower()
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError("Invalid `distribution` argument: %r (expected one of %s)"
                             % (distribution, ", ".join(self._DISTRIBUTIONS)))
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed
        self.dtype = _float_dtype(dtype, "variance_scaling_initializer")

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = _float_dtype(self._dtype_or_default(dtype), "variance_scaling_initializer")
        fan_in, fan_out = _compute_fans(partition_info.full_shape if partition_info is not None else shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution in ("normal", "truncated_normal"):   # TF1 treats "normal" as truncated
            return random_ops.truncated_normal(shape, 0.0, math.sqrt(scale) / _TRUNCATED_STD, dtype,
                                               seed=self.seed)
        if self.distribution == "untruncated_normal":
            return random_ops.random_normal(shape, 0.0, math.sqrt(scale), dtype, seed=self.seed)
        limit = math.sqrt(3.0 * scale)
        return random_ops.random_uniform(shape, -limit, limit, dtype, seed=self.seed)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed,
                "dtype": self.dtype.name}


class GlorotUniform(VarianceScaling):
    """Uniform in +-sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010); get_variable's default."""

    def __init__(self, seed=None, dtype=dtypes.float32):
        super().__init__(scale=1.0, mode="fan_avg", distribution="uniform", seed=seed, dtype=dtype)

    def get_config(self):
        return {"seed": self.seed, "dtype": self.dtype.name}


class GlorotNormal(VarianceScaling):
    """Truncated normal with stddev sqrt(2 / (fan_in + fan_out)) before truncation."""

    def __init__(self, seed=None, dtype=dtypes.float32):
        super().__init__(scale=1.0, mode="fan_avg", distribution="truncated_normal", seed=seed, dtype=dtype)

    def get_config(self):
        return {"seed": self.seed, "dtype": self.dtype.name}


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times `gain`: the Q factor of a normal matrix's QR decomposition, signs
    fixed by R's diagonal so Q is uniformly distributed (Saxe et al. 2014). Shapes of rank > 2 are
    flattened to (prod(shape[:-1]), shape[-1]) first, as TF does."""

    def __init__(self, gain=1.0, seed=None, dtype=dtypes.float32):
        self.gain, self.seed = gain, seed
        self.dtype = _float_dtype(dtype, "orthogonal_initializer")

    def __call__(self, shape, dtype=None, partition_info=None):
        from nanotf.ops import math_ops
        dtype = _float_dtype(self._dtype_or_default(dtype), "orthogonal_initializer")
        dims = _shape_list(shape)
        if len(dims) < 2:
            raise ValueError("The tensor to initialize must be at least two-dimensional")
        rows = 1
        for d in dims[:-1]:
            rows *= d
        cols = dims[-1]
        a = random_ops.random_normal([max(rows, cols), min(rows, cols)], dtype=dtype, seed=self.seed)
        q, r = math_ops.qr(a, full_matrices=False)
        # multiply each column by the sign of R's diagonal entry: makes the distribution uniform (Haar)
        signs = math_ops.sign(array_ops.reshape(array_ops.gather_nd(r, [[i, i] for i in range(min(rows, cols))]),
                                                [1, -1]))
        q = math_ops.multiply(q, signs)
        if rows < cols:
            q = array_ops.transpose(q)
        return math_ops.multiply(array_ops.reshape(q, dims), math_ops.cast(self.gain, dtype))

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed, "dtype": self.dtype.name}


class Identity(Initializer):
    """`gain` times the identity matrix; only for 2-D shapes."""

    def __init__(self, gain=1.0, dtype=dtypes.float32):
        self.gain = gain
        self.dtype = _float_dtype(dtype, "identity_initializer")

    def __call__(self, shape, dtype=None, partition_info=None):
        dims = _shape_list(partition_info.full_shape if partition_info is not None else shape)
        if len(dims) != 2:
            raise ValueError("Identity matrix initializer can only be used for 2D matrices.")
        dtype = _float_dtype(self._dtype_or_default(dtype), "identity_initializer")
        return array_ops.constant(self.gain * np.eye(dims[0], dims[1]), dtype=dtype)

    def get_config(self):
        return {"gain": self.gain, "dtype": self.dtype.name}


def he_normal(seed=None):
    """Truncated normal, variance 2 / fan_in (He et al. 2015)."""
    return VarianceScaling(scale=2.0, mode="fan_in", distribution="truncated_normal", seed=seed)


def he_uniform(seed=None):
    """Uniform in +-sqrt(6 / fan_in)."""
    return VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform", seed=seed)


def lecun_normal(seed=None):
    """Truncated normal, variance 1 / fan_in."""
    return VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal", seed=seed)


def lecun_uniform(seed=None):
    """Uniform in +-sqrt(3 / fan_in)."""
    return VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform", seed=seed)


# TF1's public names are the lowercase aliases of these classes
zeros_initializer = Zeros
ones_initializer = Ones
constant_initializer = Constant
random_uniform_initializer = RandomUniform
random_normal_initializer = RandomNormal
truncated_normal_initializer = TruncatedNormal
uniform_unit_scaling_initializer = UniformUnitScaling
variance_scaling_initializer = VarianceScaling
glorot_uniform_initializer = GlorotUniform
glorot_normal_initializer = GlorotNormal
orthogonal_initializer = Orthogonal
identity_initializer = Identity
