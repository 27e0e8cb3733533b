"""tf.layers.dense / dropout / flatten and their classes."""
import numbers

from nanotf.framework.ops import convert_to_tensor
from nanotf.framework.tensor_shape import TensorShape
from nanotf.layers.base import Layer, _KernelLayer
from nanotf.layers import utils
from nanotf.ops import array_ops, init_ops, math_ops, nn_ops

__all__ = ["Dense", "Dropout", "Flatten", "dense", "dropout", "flatten"]


class Dense(_KernelLayer):
    """outputs = activation(inputs @ kernel + bias); kernel [in, units] ('kernel'), bias [units] ('bias').
    Inputs of rank > 2 are multiplied along their last axis."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer=None,
                 bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True,
                 name=None, **kwargs):
        super().__init__(trainable=trainable, name=name, activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, numbers.Integral) or units <= 0:
            raise ValueError("Dense: units must be a positive integer, got %r" % (units,))
        self.units = int(units)
        self._weight_options(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                             bias_regularizer, kernel_constraint, bias_constraint)

    def build(self, input_shape):
        input_shape = TensorShape(input_shape)
        if input_shape.ndims is None or input_shape.ndims < 2 or input_shape.as_list()[-1] is None:
            raise ValueError("The last dimension of the inputs to `Dense` should be defined. Found `None`."
                             if input_shape.ndims else
                             "Input 0 of layer %s is incompatible with the layer: expected min_ndim=2, found "
                             "ndim=%s. Full shape received: %s" % (self.name, input_shape.ndims, input_shape))
        self._build_weights([input_shape.as_list()[-1], self.units], self.units)

    def call(self, inputs):
        rank = inputs.shape.ndims
        if rank is not None and rank > 2:
            # multiply along the last axis: flatten the leading axes, then restore them
            lead = array_ops.shape(inputs)[:-1]
            flat = array_ops.reshape(inputs, [-1, inputs.shape.as_list()[-1]])
            outputs = math_ops.matmul(flat, self.kernel)
            outputs = array_ops.reshape(outputs, array_ops.concat([lead, [self.units]], 0))
            outputs.set_shape(inputs.shape.as_list()[:-1] + [self.units])
        else:
            outputs = math_ops.matmul(inputs, self.kernel)
        if self.use_bias:
            outputs = nn_ops.bias_add(outputs, self.bias)
        if self.activation is not None:
            return self.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return TensorShape(TensorShape(input_shape).as_list()[:-1] + [self.units])


def dense(inputs, units, activation=None, use_bias=True, kernel_initializer=None,
          bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None, bias_regularizer=None,
          activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
          reuse=None):
    """Functional interface of the densely-connected layer (tf.layers.dense)."""
    layer = Dense(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                  bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                  bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                  kernel_constraint=kernel_constraint, bias_constraint=bias_constraint, trainable=trainable,
                  name=name, _scope=name, _reuse=reuse)
    return layer.apply(inputs)


class Dropout(Layer):
    """Zeroes each input with probability `rate` and scales the others by 1/(1-rate), only when
    `training` is true (a Python bool or a scalar bool tensor); otherwise passes inputs through."""

    def __init__(self, rate=0.5, noise_shape=None, seed=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if isinstance(rate, numbers.Real) and not 0 <= rate < 1:
            raise ValueError("rate must be a scalar tensor or a float in the range [0, 1), got %g" % rate)
        self.rate, self.noise_shape, self.seed = rate, noise_shape, seed

    def _noise_shape(self, inputs):
        if self.noise_shape is None:
            return None
        # None entries take the input's dimension, as Keras' Dropout does
        dynamic = array_ops.shape(inputs)
        return array_ops.stack([dynamic[i] if d is None else d for i, d in enumerate(self.noise_shape)])

    def call(self, inputs, training=False):
        def dropped():
            if isinstance(self.rate, numbers.Real) and self.rate == 0:
                return array_ops.identity(inputs)
            return nn_ops.dropout(inputs, noise_shape=self._noise_shape(inputs), seed=self.seed, rate=self.rate)
        return utils.smart_select(training, dropped, lambda: array_ops.identity(inputs))

    def compute_output_shape(self, input_shape):
        return TensorShape(input_shape)


def dropout(inputs, rate=0.5, noise_shape=None, seed=None, training=False, name=None):
    """tf.layers.dropout: dropout with TF's `rate` (the fraction dropped), active only when `training`."""
    layer = Dropout(rate, noise_shape=noise_shape, seed=seed, name=name)
    return layer.apply(inputs, training=training)


class Flatten(Layer):
    """[batch, d1, d2, ...] -> [batch, d1*d2*...]."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = utils.normalize_data_format(data_format)

    def call(self, inputs):
        dims = inputs.shape.as_list()
        if self.data_format == "channels_first" and dims is not None and len(dims) > 2:
            inputs = utils.to_channels_last(inputs, len(dims))
        dims = inputs.shape.as_list()
        if dims is not None and len(dims) == 1:
            return array_ops.expand_dims(inputs, 1)
        batch = dims[0] if dims is not None and dims[0] is not None else array_ops.shape(inputs)[0]
        outputs = array_ops.reshape(inputs, array_ops.stack([batch, -1]) if not isinstance(batch, int)
                                    else [batch, -1])
        if dims is not None:
            rest = dims[1:]
            outputs.set_shape([dims[0], None if None in rest else int(_prod(rest))])
        return outputs

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_list()
        rest = dims[1:]
        return TensorShape([dims[0], None if None in rest else int(_prod(rest))])


def _prod(xs):
    p = 1
    for x in xs:
        p *= x
    return p


def flatten(inputs, name=None, data_format="channels_last"):
    """tf.layers.flatten: keeps the batch axis, flattens the others."""
    layer = Flatten(name=name, data_format=data_format)
    return layer.apply(convert_to_tensor(inputs))
