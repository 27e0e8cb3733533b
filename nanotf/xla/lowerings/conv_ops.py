"""Lowerings of nanotf/ops/conv_ops.py's op types (NHWC images, HWIO filters, TF's SAME/VALID padding,
which lax uses too: the odd padding element goes after). Backprops are the transposes XLA derives from the
forward op (jax.vjp/jvp of one conv or one reduce_window)."""
import numpy as np

from nanotf.xla.lowerings._registry import jax, jnp, lax, out_dtype, register, shape_tuple

_DIMS = ("NHWC", "HWIO", "NHWC")


def _conv(op):
    s = op._attrs["strides"]
    return lambda x, w: lax.conv_general_dilated(x, w, (s[1], s[2]), op._attrs["padding"], dimension_numbers=_DIMS)


def lower_Conv2D(op, x, w):
    return _conv(op)(x, w)


def lower_Conv2DBackpropInput(op, sizes, w, dy):
    x0 = jnp.zeros(shape_tuple(op, sizes, 0), dtype=out_dtype(op))
    return jax.vjp(lambda x: _conv(op)(x, w), x0)[1](dy)[0]


def lower_Conv2DBackpropFilter(op, x, sizes, dy):
    w0 = jnp.zeros(shape_tuple(op, sizes, 1), dtype=out_dtype(op))
    return jax.vjp(lambda w: _conv(op)(x, w), w0)[1](dy)[0]


def _window(op):
    k, s = op._attrs["ksize"], op._attrs["strides"]
    return (1, k[1], k[2], 1), (1, s[1], s[2], 1), op._attrs["padding"]


def _max_pool(op):
    dims, strides, padding = _window(op)
    return lambda x: lax.reduce_window(x, np.asarray(-np.inf, x.dtype), lax.max, dims, strides, padding)


def _avg_pool(op):
    """Mean over each window's elements inside the image (SAME windows at the edges hold fewer), as TF."""
    dims, strides, padding = _window(op)

    def avg(x):
        total = lax.reduce_window(x, np.zeros((), x.dtype), lax.add, dims, strides, padding)
        ones = jnp.ones((1,) + x.shape[1:3] + (1,), x.dtype)
        counts = lax.reduce_window(ones, np.zeros((), x.dtype), lax.add, dims, strides, padding)
        return total / counts
    return avg


def lower_MaxPool(op, x):
    return _max_pool(op)(x)


def lower_MaxPoolGrad(op, x, y, dy):
    return jax.vjp(_max_pool(op), x)[1](dy)[0]


def lower_MaxPoolGradGrad(op, x, y, g):
    return jax.jvp(_max_pool(op), (x,), (g,))[1]


def lower_AvgPool(op, x):
    return _avg_pool(op)(x)


def lower_AvgPoolGrad(op, sizes, dy):
    x0 = jnp.zeros(shape_tuple(op, sizes, 0), dtype=out_dtype(op))
    return jax.vjp(_avg_pool(op), x0)[1](dy)[0]


register(globals())
__all__ = []
