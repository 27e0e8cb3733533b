"""tf.layers max/average pooling, 1-D and 2-D, and their classes.

1-D pooling runs as 2-D pooling over a unit-height image, as TF's does."""
from nanotf.framework.tensor_shape import TensorShape
from nanotf.layers.base import Layer
from nanotf.layers import utils
from nanotf.ops import array_ops, pooling_ops

__all__ = ["MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "MaxPool1D", "MaxPool2D",
           "AvgPool1D", "AvgPool2D", "max_pooling1d", "max_pooling2d", "average_pooling1d", "average_pooling2d"]


class _Pooling(Layer):
    _rank = 2
    _op = None   # "max" or "avg"

    def __init__(self, pool_size, strides, padding="valid", data_format="channels_last", name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = utils.normalize_tuple(pool_size, self._rank, "pool_size")
        self.strides = utils.normalize_tuple(strides if strides is not None else pool_size, self._rank, "strides")
        self.padding = utils.normalize_padding(padding)
        self.data_format = utils.normalize_data_format(data_format)

    def call(self, inputs):
        ndims = self._rank + 2
        if inputs.shape.ndims is not None and inputs.shape.ndims != ndims:
            raise ValueError("Input 0 of layer %s is incompatible with the layer: expected ndim=%d, found ndim=%d. "
                             "Full shape received: %s" % (self.name, ndims, inputs.shape.ndims, inputs.shape))
        x = utils.to_channels_last(inputs, ndims) if self.data_format == "channels_first" else inputs
        pool = pooling_ops.max_pool if self._op == "max" else pooling_ops.avg_pool
        if self._rank == 1:
            x = array_ops.expand_dims(x, 1)
            y = pool(x, [1, 1, self.pool_size[0], 1], [1, 1, self.strides[0], 1], self.padding.upper())
            y = array_ops.squeeze(y, [1])
        else:
            y = pool(x, [1, self.pool_size[0], self.pool_size[1], 1], [1, self.strides[0], self.strides[1], 1],
                     self.padding.upper())
        return utils.to_channels_first(y, ndims) if self.data_format == "channels_first" else y

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_list()
        first = self.data_format == "channels_first"
        spatial = dims[2:] if first else dims[1:-1]
        out = [utils.conv_output_length(n, k, self.padding, s)
               for n, k, s in zip(spatial, self.pool_size, self.strides)]
        return TensorShape([dims[0], dims[1]] + out if first else [dims[0]] + out + [dims[-1]])


class MaxPooling1D(_Pooling):
    _rank, _op = 1, "max"


class AveragePooling1D(_Pooling):
    _rank, _op = 1, "avg"


class MaxPooling2D(_Pooling):
    _rank, _op = 2, "max"


class AveragePooling2D(_Pooling):
    _rank, _op = 2, "avg"


MaxPool1D, AvgPool1D, MaxPool2D, AvgPool2D = MaxPooling1D, AveragePooling1D, MaxPooling2D, AveragePooling2D


def max_pooling1d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    return MaxPooling1D(pool_size, strides, padding, data_format, name=name).apply(inputs)


def average_pooling1d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    return AveragePooling1D(pool_size, strides, padding, data_format, name=name).apply(inputs)


def max_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """tf.layers.max_pooling2d: the max over pool_size windows moved by strides."""
    return MaxPooling2D(pool_size, strides, padding, data_format, name=name).apply(inputs)


def average_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """tf.layers.average_pooling2d: the mean over each window (padding excluded from the count, as TF's)."""
    return AveragePooling2D(pool_size, strides, padding, data_format, name=name).apply(inputs)
