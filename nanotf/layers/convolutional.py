"""tf.layers.conv1d / conv2d / conv2d_transpose and their classes.

Kernels are laid out as TF's: conv1d [k, in, filters], conv2d [kh, kw, in, filters], conv2d_transpose
[kh, kw, filters, in]. nanotf's convolution ops take NHWC only: channels_first inputs are transposed to
channels-last and back around them.
"""
from nanotf.framework.tensor_shape import TensorShape
from nanotf.layers.base import _KernelLayer
from nanotf.layers import utils
from nanotf.ops import array_ops, conv_ops, init_ops, nn_ops

__all__ = ["Conv1D", "Conv2D", "Conv2DTranspose", "Convolution1D", "Convolution2D", "Convolution2DTranspose",
           "Deconvolution2D", "Deconv2D", "conv1d", "conv2d", "conv2d_transpose", "convolution1d",
           "convolution2d", "convolution2d_transpose", "deconvolution2d", "deconv2d"]


class _Conv(_KernelLayer):
    """A convolution of `rank` spatial dimensions (a class attribute of each subclass). strides and
    dilation_rate: an int for every dimension, or one per dimension."""
    rank = None
    _output_length = staticmethod(utils.conv_output_length)   # (size, kernel size, padding, stride) -> size

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format="channels_last",
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer=None,
                 bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True,
                 name=None, **kwargs):
        super().__init__(trainable=trainable, name=name, activity_regularizer=activity_regularizer, **kwargs)
        rank = self.rank
        self.filters = int(filters)
        self.kernel_size = utils.normalize_tuple(kernel_size, rank, "kernel_size")
        self.strides = utils.normalize_tuple(strides, rank, "strides")
        self.padding = utils.normalize_padding(padding)
        self.data_format = utils.normalize_data_format(data_format)
        self.dilation_rate = utils.normalize_tuple(dilation_rate, rank, "dilation_rate")
        if any(d != 1 for d in self.dilation_rate):
            raise NotImplementedError("%s: nanotf's convolutions support only dilation_rate 1, got %s"
                                      % (type(self).__name__, self.dilation_rate))
        self._weight_options(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                             bias_regularizer, kernel_constraint, bias_constraint)

    def _channels(self, input_shape):
        dims = TensorShape(input_shape).as_list()
        if dims is None or len(dims) != self.rank + 2:
            raise ValueError("Input 0 of layer %s is incompatible with the layer: expected ndim=%d, found ndim=%s. "
                             "Full shape received: %s" % (self.name, self.rank + 2,
                                                          None if dims is None else len(dims), input_shape))
        c = dims[1] if self.data_format == "channels_first" else dims[-1]
        if c is None:
            raise ValueError("The channel dimension of the inputs should be defined. Found `None`.")
        return c

    def _kernel_shape(self, channels):
        return list(self.kernel_size) + [channels, self.filters]

    def build(self, input_shape):
        self._build_weights(self._kernel_shape(self._channels(input_shape)), self.filters)

    def call(self, inputs):
        ndims = self.rank + 2
        x = utils.to_channels_last(inputs, ndims) if self.data_format == "channels_first" else inputs
        outputs = self._convolve(x)
        if self.use_bias:
            outputs = nn_ops.bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        if self.data_format == "channels_first":
            outputs = utils.to_channels_first(outputs, ndims)
        return outputs

    def _convolve(self, x):
        if self.rank == 1:
            return nn_conv1d(x, self.kernel, self.strides[0], self.padding.upper())
        return conv_ops.conv2d(x, self.kernel, [1, self.strides[0], self.strides[1], 1], self.padding.upper())

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_list()
        spatial = dims[2:] if self.data_format == "channels_first" else dims[1:-1]
        out = [self._output_length(n, k, self.padding, s) for n, k, s in zip(spatial, self.kernel_size, self.strides)]
        if self.data_format == "channels_first":
            return TensorShape([dims[0], self.filters] + out)
        return TensorShape([dims[0]] + out + [self.filters])


def nn_conv1d(x, kernel, stride, padding):
    from nanotf.ops import nn_impl
    return nn_impl.conv1d(x, kernel, stride, padding)


class Conv1D(_Conv):
    rank = 1


class Conv2D(_Conv):
    rank = 2


class Conv2DTranspose(Conv2D):
    """The transpose of Conv2D (a 'deconvolution'): kernel [kh, kw, filters, in]; output size
    in*stride ('same') or in*stride + max(k - stride, 0) ('valid')."""

    _output_length = staticmethod(utils.deconv_output_length)

    def _kernel_shape(self, channels):
        return list(self.kernel_size) + [self.filters, channels]

    def _convolve(self, x):
        dims = x.shape.as_list()
        dynamic = array_ops.shape(x)
        out = []
        for i, (k, s) in enumerate(zip(self.kernel_size, self.strides)):
            n = dims[1 + i]
            if n is not None:
                out.append(utils.deconv_output_length(n, k, self.padding, s))
            else:   # unknown at build time: the same rule on the runtime size
                n = dynamic[1 + i]
                out.append(n * s + max(k - s, 0) if self.padding == "valid" else n * s)
        batch = dims[0] if dims[0] is not None else dynamic[0]
        output_shape = array_ops.stack([batch] + out + [self.filters])
        y = conv_ops.conv2d_transpose(x, self.kernel, output_shape, [1, self.strides[0], self.strides[1], 1],
                                      padding=self.padding.upper())
        y.set_shape([dims[0]] + [o if isinstance(o, int) else None for o in out] + [self.filters])
        return y


def _functional(cls, inputs, filters, kernel_size, strides, padding, data_format, dilation_rate, activation,
                use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                activity_regularizer, kernel_constraint, bias_constraint, trainable, name, reuse):
    layer = cls(filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
                data_format=data_format, dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                bias_constraint=bias_constraint, trainable=trainable, name=name, _reuse=reuse, _scope=name)
    return layer.apply(inputs)


def conv1d(inputs, filters, kernel_size, strides=1, padding="valid", data_format="channels_last", dilation_rate=1,
           activation=None, use_bias=True, kernel_initializer=None, bias_initializer=init_ops.zeros_initializer(),
           kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
           bias_constraint=None, trainable=True, name=None, reuse=None):
    """tf.layers.conv1d: kernel [kernel_size, in, filters] ('conv1d/kernel')."""
    return _functional(Conv1D, inputs, filters, kernel_size, strides, padding, data_format, dilation_rate,
                       activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                       bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint, trainable,
                       name, reuse)


def conv2d(inputs, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
           dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer=None,
           bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None, bias_regularizer=None,
           activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
           reuse=None):
    """tf.layers.conv2d: kernel [kh, kw, in, filters] ('conv2d/kernel'), bias [filters]."""
    return _functional(Conv2D, inputs, filters, kernel_size, strides, padding, data_format, dilation_rate,
                       activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                       bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint, trainable,
                       name, reuse)


def conv2d_transpose(inputs, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
                     activation=None, use_bias=True, kernel_initializer=None,
                     bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None, bias_regularizer=None,
                     activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True,
                     name=None, reuse=None):
    """tf.layers.conv2d_transpose: kernel [kh, kw, filters, in] ('conv2d_transpose/kernel')."""
    return _functional(Conv2DTranspose, inputs, filters, kernel_size, strides, padding, data_format, (1, 1),
                       activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                       bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint, trainable,
                       name, reuse)


Convolution1D, Convolution2D, Convolution2DTranspose = Conv1D, Conv2D, Conv2DTranspose
Deconvolution2D = Deconv2D = Conv2DTranspose
convolution1d, convolution2d, convolution2d_transpose = conv1d, conv2d, conv2d_transpose
deconvolution2d = deconv2d = conv2d_transpose
