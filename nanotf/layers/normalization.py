"""tf.layers.batch_normalization and tf.layers.BatchNormalization, with TF 1.15's rules.

- Variables, in this order: gamma (ones, if scale), beta (zeros, if center), moving_mean (zeros) and
  moving_variance (ones), the last two not trainable (GLOBAL_VARIABLES only).
- training=False (the default!) normalizes with the moving averages and adds no update ops.
- training=True normalizes with the batch's mean and (biased) variance and adds two update ops,
  `moving -= (moving - batch) * (1 - momentum)`, to tf.GraphKeys.UPDATE_OPS: run them (usually with
  `tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS))` around the train op).
- training as a bool tensor: both statistics are computed and selected at run time; the update ops
  are in UPDATE_OPS and change the moving averages only when the tensor is true (their momentum becomes
  1 otherwise, as TF's does).
- TF 1.15 uses its fused kernel for 4-D inputs normalized over axis 1 or 3 (fused=None or True); that
  kernel updates moving_variance with the Bessel-corrected batch variance (n / (n - 1) times the
  biased one). nanotf computes the same values without a fused kernel and keeps that difference.
"""
import numbers

from nanotf.framework import dtypes
from nanotf.framework.ops import name_scope
from nanotf.framework.tensor_shape import TensorShape
from nanotf.layers.base import Layer
from nanotf.layers import utils
from nanotf.ops import array_ops, init_ops, math_ops, nn_impl, nn_ops

__all__ = ["BatchNormalization", "BatchNorm", "batch_normalization", "batch_norm"]


class BatchNormalization(Layer):
    _fuse_any_rank = False   # tf.contrib.layers.batch_norm's fused path also serves 2-D inputs
    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer=init_ops.zeros_initializer(), gamma_initializer=init_ops.ones_initializer(),
                 moving_mean_initializer=init_ops.zeros_initializer(),
                 moving_variance_initializer=init_ops.ones_initializer(), beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, renorm=False,
                 renorm_clipping=None, renorm_momentum=0.99, fused=None, trainable=True, virtual_batch_size=None,
                 adjustment=None, name=None, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        if renorm or virtual_batch_size is not None or adjustment is not None:
            raise NotImplementedError("batch_normalization: renorm, virtual_batch_size and adjustment are not "
                                      "implemented in nanotf")
        if isinstance(axis, (list, tuple)):
            self.axis = list(axis)
        elif isinstance(axis, numbers.Integral):
            self.axis = int(axis)
        else:
            raise TypeError("axis must be int or list, type given: %s" % type(axis))
        self.momentum, self.epsilon, self.center, self.scale = momentum, epsilon, center, scale
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self.beta_constraint, self.gamma_constraint = beta_constraint, gamma_constraint
        self.fused = True if fused is None else fused

    def build(self, input_shape):
        input_shape = TensorShape(input_shape)
        if not input_shape.ndims:
            raise ValueError("Input has undefined rank: %s" % (input_shape,))
        ndims = input_shape.ndims
        axes = [self.axis] if isinstance(self.axis, int) else list(self.axis)
        axes = [a + ndims if a < 0 else a for a in axes]
        for a in axes:
            if a < 0 or a >= ndims:
                raise ValueError("Invalid axis: %d" % a)
        if len(axes) != len(set(axes)):
            raise ValueError("Duplicate axis: %s" % axes)
        self.axis = axes
        # TF 1.15: the fused kernel serves 4-D inputs normalized over one of the channel axes
        self.fused = bool(self.fused) and (ndims == 4 and axes in ([1], [3]) or self._fuse_any_rank)
        dims = input_shape.as_list()
        for a in axes:
            if dims[a] is None:
                raise ValueError("Input has undefined `axis` dimension. Input shape: %s" % (input_shape,))
        param_shape = [dims[axes[0]]] if len(axes) == 1 else [dims[i] if i in axes else 1 for i in range(ndims)]
        dtype = self._dtype if self._dtype is not None and self._dtype is not dtypes.float16 else dtypes.float32
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = self.add_weight("gamma", param_shape, dtype=dtype, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint,
                                         trainable=True)
        if self.center:
            self.beta = self.add_weight("beta", param_shape, dtype=dtype, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint,
                                        trainable=True)
        self.moving_mean = self.add_weight("moving_mean", param_shape, dtype=dtype,
                                           initializer=self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", param_shape, dtype=dtype,
                                               initializer=self.moving_variance_initializer, trainable=False)
        self.built = True

    def _assign_moving_average(self, variable, value, momentum):
        with name_scope(None, "AssignMovingAvg") as scope:
            decay = math_ops.subtract(1.0, momentum, name="decay") if not isinstance(momentum, numbers.Real) \
                else array_ops.constant(1.0 - momentum, dtype=variable.dtype, name="decay")
            update_delta = math_ops.multiply(math_ops.subtract(variable, math_ops.cast(value, variable.dtype)),
                                             decay)
            return variable.assign_sub(update_delta, name=scope)

    def call(self, inputs, training=False):
        ndims = inputs.shape.ndims
        training_value = utils.constant_value(training)
        if training_value is None:
            training = utils.as_bool_tensor(training)
        if len(self.axis) == 1 and self.axis[0] == ndims - 1:
            return self._call_channels_last(inputs, training, training_value)
        reduction_axes = [i for i in range(ndims) if i not in self.axis]
        broadcast_shape = [1] * ndims
        broadcast_shape[self.axis[0]] = inputs.shape.as_list()[self.axis[0]]

        def _broadcast(v):
            # single-axis parameters broadcast by themselves only when the axis is the last one
            if v is not None and len(self.axis) == 1 and self.axis[0] != ndims - 1:
                return array_ops.reshape(v, broadcast_shape)
            return v

        if training_value is False:
            mean, variance = self.moving_mean.value(), self.moving_variance.value()
        else:
            keep_dims = len(self.axis) > 1
            batch_mean, batch_variance = nn_ops.moments(inputs, reduction_axes, keep_dims=keep_dims)
            if training_value is None:
                mean = utils.select_like(training, batch_mean, self.moving_mean.value())
                variance = utils.select_like(training, batch_variance, self.moving_variance.value())
            else:
                mean, variance = batch_mean, batch_variance
            self._add_moving_average_updates(inputs, batch_mean, batch_variance, training, training_value)
        dtype = inputs.dtype
        offset = math_ops.cast(self.beta, dtype) if self.beta is not None else None
        scale = math_ops.cast(self.gamma, dtype) if self.gamma is not None else None
        return nn_impl.batch_normalization(inputs, _broadcast(math_ops.cast(mean, dtype)),
                                           _broadcast(math_ops.cast(variance, dtype)), _broadcast(offset),
                                           _broadcast(scale), self.epsilon)

    def _call_channels_last(self, inputs, training, training_value):
        """One FusedBatchNormNT op (nanotf's fused kernel): same values as the composite ops, fewer passes."""
        dtype = self.moving_mean.dtype
        c = self.moving_mean.shape.as_list()[0]
        scale = self.gamma.value() if self.gamma is not None else array_ops.ones([c], dtype)
        offset = self.beta.value() if self.beta is not None else array_ops.zeros([c], dtype)
        epsilon = max(self.epsilon, 1.001e-5) if self.fused else self.epsilon   # TF's fused kernel's minimum
        outputs, mean, variance = nn_impl._fused_bn_op(inputs, scale, offset, self.moving_mean.value(),
                                                       self.moving_variance.value(), training, epsilon)
        if training_value is not False:
            self._add_moving_average_updates(inputs, mean, variance, training, training_value)
        return outputs

    def _add_moving_average_updates(self, inputs, mean, variance, training, training_value):
        """moving -= (moving - value) * (1 - momentum); momentum 1 (no change) when a tensor `training` is false.
        The fused kernel's variance for the update is Bessel-corrected."""
        if training_value is None:
            momentum = utils.select_like(training, array_ops.constant(self.momentum, dtype=self.moving_mean.dtype),
                                         array_ops.constant(1.0, dtype=self.moving_mean.dtype))
        else:
            momentum = self.momentum
        if self.fused:
            n = math_ops.cast(array_ops.size(inputs), variance.dtype) / \
                math_ops.cast(array_ops.size(variance), variance.dtype)
            variance = variance * (n / math_ops.maximum(n - 1.0, 1.0))
        self.add_update([self._assign_moving_average(self.moving_mean, mean, momentum),
                         self._assign_moving_average(self.moving_variance, variance, momentum)])

    def compute_output_shape(self, input_shape):
        return TensorShape(input_shape)


BatchNorm = BatchNormalization


def batch_normalization(inputs, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                        beta_initializer=init_ops.zeros_initializer(), gamma_initializer=init_ops.ones_initializer(),
                        moving_mean_initializer=init_ops.zeros_initializer(),
                        moving_variance_initializer=init_ops.ones_initializer(), beta_regularizer=None,
                        gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, training=False,
                        trainable=True, name=None, reuse=None, renorm=False, renorm_clipping=None,
                        renorm_momentum=0.99, fused=None, virtual_batch_size=None, adjustment=None):
    """tf.layers.batch_normalization: see the module docstring for training= and the update ops."""
    layer = BatchNormalization(axis=axis, momentum=momentum, epsilon=epsilon, center=center, scale=scale,
                               beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
                               moving_mean_initializer=moving_mean_initializer,
                               moving_variance_initializer=moving_variance_initializer,
                               beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                               beta_constraint=beta_constraint, gamma_constraint=gamma_constraint, renorm=renorm,
                               renorm_clipping=renorm_clipping, renorm_momentum=renorm_momentum, fused=fused,
                               trainable=trainable, virtual_batch_size=virtual_batch_size, adjustment=adjustment,
                               name=name, _reuse=reuse, _scope=name)
    return layer.apply(inputs, training=training)


batch_norm = batch_normalization
