"""tf.contrib.layers' layer functions: fully_connected, conv2d, conv2d_transpose, batch_norm, flatten,
dropout, max_pool2d, avg_pool2d.

They are tf.layers layers inside a variable scope named after the function ('fully_connected', 'Conv',
'Conv2d_transpose', 'BatchNorm', made unique: 'fully_connected_1', ...), whose getter renames 'kernel' to
'weights' and 'bias' to 'biases' and adds every variable to tf.GraphKeys.MODEL_VARIABLES, as contrib does.
Defaults are contrib's: activation_fn=tf.nn.relu, weights from xavier_initializer(), padding 'SAME'.
"""
from nanotf.contrib.layers.initializers import xavier_initializer
from nanotf.framework.ops import GraphKeys, add_to_collection, control_dependencies, convert_to_tensor, name_scope
from nanotf.layers import core as core_layers
from nanotf.layers import convolutional as conv_layers
from nanotf.layers import normalization as norm_layers
from nanotf.ops import array_ops, init_ops, nn_ops, pooling_ops, variable_scope as vs

__all__ = ["fully_connected", "linear", "relu", "conv2d", "convolution2d", "conv2d_transpose",
           "convolution2d_transpose", "batch_norm", "layer_norm", "flatten", "dropout", "max_pool2d", "avg_pool2d"]

_RENAME = {"kernel": "weights", "bias": "biases"}


def _model_variable_getter(getter, name, rename=None, collections=None, **kwargs):
    short = name.split("/")[-1]
    if rename and short in rename:
        name = "/".join(name.split("/")[:-1] + [rename[short]])
    collections = list(collections or [GraphKeys.GLOBAL_VARIABLES])
    for key in (GraphKeys.GLOBAL_VARIABLES, GraphKeys.MODEL_VARIABLES):
        if key not in collections:
            collections.append(key)
    return getter(name, collections=collections, **kwargs)


def _layer_variable_getter(getter, name, **kwargs):
    return _model_variable_getter(getter, name, rename=_RENAME, **kwargs)


def _add_to_collections(variable, collections, key):
    """contrib's variables_collections: a list (every variable) or a dict keyed 'weights', 'biases', ..."""
    if not collections or variable is None:
        return
    names = collections.get(key, []) if isinstance(collections, dict) else collections
    for c in ([names] if isinstance(names, str) else names):
        add_to_collection(c, variable)


def _collect_outputs(collections, alias, outputs):
    for c in collections or ():
        add_to_collection(c, outputs)
    return outputs


def _data_format(data_format):
    if data_format not in (None, "NHWC", "NCHW"):
        raise ValueError("data_format has to be either NCHW or NHWC.")
    return "channels_first" if data_format == "NCHW" else "channels_last"


def _finish(outputs, normalizer_fn, normalizer_params, activation_fn, outputs_collections, sc):
    if normalizer_fn is not None:
        outputs = normalizer_fn(outputs, **(normalizer_params or {}))
    if activation_fn is not None:
        outputs = activation_fn(outputs)
    return _collect_outputs(outputs_collections, sc.name, outputs)


def _weighted_layer(layer_class, inputs, sc, reuse, normalizer_fn, normalizer_params, activation_fn,
                    weights_initializer, weights_regularizer, biases_initializer, biases_regularizer,
                    variables_collections, outputs_collections, trainable, **layer_args):
    """Builds and applies a tf.layers layer (in scope `sc`) with contrib's conventions: 'weights' and 'biases'
    variables (no biases under a normalizer_fn) filed in variables_collections; then normalizer_fn,
    activation_fn and outputs_collections."""
    layer = layer_class(activation=None, use_bias=not normalizer_fn and biases_initializer is not None,
                        kernel_initializer=weights_initializer, bias_initializer=biases_initializer,
                        kernel_regularizer=weights_regularizer, bias_regularizer=biases_regularizer,
                        trainable=trainable, name=sc.name, dtype=inputs.dtype, _scope=sc, _reuse=reuse, **layer_args)
    outputs = layer.apply(inputs)
    _add_to_collections(layer.kernel, variables_collections, "weights")
    _add_to_collections(layer.bias, variables_collections, "biases")
    return _finish(outputs, normalizer_fn, normalizer_params, activation_fn, outputs_collections, sc)


def fully_connected(inputs, num_outputs, activation_fn=nn_ops.relu, normalizer_fn=None, normalizer_params=None,
                    weights_initializer=xavier_initializer(), weights_regularizer=None,
                    biases_initializer=init_ops.zeros_initializer(), biases_regularizer=None, reuse=None,
                    variables_collections=None, outputs_collections=None, trainable=True, scope=None):
    """activation_fn(inputs @ weights + biases): variables 'fully_connected/weights' [in, num_outputs] and
    'fully_connected/biases' (no biases with a normalizer_fn or biases_initializer=None)."""
    if not isinstance(num_outputs, int):
        raise ValueError("num_outputs type should be one of (int,), got %s." % type(num_outputs))
    with vs.variable_scope(scope, "fully_connected", [inputs], reuse=reuse,
                           custom_getter=_layer_variable_getter) as sc:
        inputs = convert_to_tensor(inputs)
        return _weighted_layer(core_layers.Dense, inputs, sc, reuse, normalizer_fn, normalizer_params, activation_fn,
                               weights_initializer, weights_regularizer, biases_initializer, biases_regularizer,
                               variables_collections, outputs_collections, trainable, units=num_outputs)


def linear(inputs, num_outputs, **kwargs):
    """fully_connected without an activation."""
    return fully_connected(inputs, num_outputs, activation_fn=None, **kwargs)


def relu(inputs, num_outputs, **kwargs):
    return fully_connected(inputs, num_outputs, activation_fn=nn_ops.relu, **kwargs)


def conv2d(inputs, num_outputs, kernel_size, stride=1, padding="SAME", data_format=None, rate=1,
           activation_fn=nn_ops.relu, normalizer_fn=None, normalizer_params=None,
           weights_initializer=xavier_initializer(), weights_regularizer=None,
           biases_initializer=init_ops.zeros_initializer(), biases_regularizer=None, reuse=None,
           variables_collections=None, outputs_collections=None, trainable=True, scope=None):
    """2-D convolution: variables 'Conv/weights' [kh, kw, in, num_outputs] and 'Conv/biases'."""
    inputs = convert_to_tensor(inputs)
    if inputs.shape.ndims not in (None, 4):
        raise ValueError("Convolution not supported for input with rank %d (nanotf's contrib conv2d takes 4-D "
                         "inputs)" % inputs.shape.ndims)
    with vs.variable_scope(scope, "Conv", [inputs], reuse=reuse, custom_getter=_layer_variable_getter) as sc:
        return _weighted_layer(conv_layers.Conv2D, inputs, sc, reuse, normalizer_fn, normalizer_params, activation_fn,
                               weights_initializer, weights_regularizer, biases_initializer, biases_regularizer,
                               variables_collections, outputs_collections, trainable, filters=num_outputs,
                               kernel_size=kernel_size, strides=stride, padding=padding,
                               data_format=_data_format(data_format), dilation_rate=rate)


convolution2d = conv2d


def conv2d_transpose(inputs, num_outputs, kernel_size, stride=1, padding="SAME", data_format="NHWC",
                     activation_fn=nn_ops.relu, normalizer_fn=None, normalizer_params=None,
                     weights_initializer=xavier_initializer(), weights_regularizer=None,
                     biases_initializer=init_ops.zeros_initializer(), biases_regularizer=None, reuse=None,
                     variables_collections=None, outputs_collections=None, trainable=True, scope=None):
    """Transposed 2-D convolution: 'Conv2d_transpose/weights' [kh, kw, num_outputs, in] and '/biases'."""
    with vs.variable_scope(scope, "Conv2d_transpose", [inputs], reuse=reuse,
                           custom_getter=_layer_variable_getter) as sc:
        inputs = convert_to_tensor(inputs)
        return _weighted_layer(conv_layers.Conv2DTranspose, inputs, sc, reuse, normalizer_fn, normalizer_params,
                               activation_fn, weights_initializer, weights_regularizer, biases_initializer,
                               biases_regularizer, variables_collections, outputs_collections, trainable,
                               filters=num_outputs, kernel_size=kernel_size, strides=stride, padding=padding,
                               data_format=_data_format(data_format))


convolution2d_transpose = conv2d_transpose


def batch_norm(inputs, decay=0.999, center=True, scale=False, epsilon=0.001, activation_fn=None,
               param_initializers=None, param_regularizers=None, updates_collections=GraphKeys.UPDATE_OPS,
               is_training=True, reuse=None, variables_collections=None, outputs_collections=None, trainable=True,
               batch_weights=None, fused=None, data_format="NHWC", zero_debias_moving_mean=False, scope=None,
               renorm=False, renorm_clipping=None, renorm_decay=0.99, adjustment=None):
    """contrib's batch normalization: variables 'BatchNorm/beta' (and 'BatchNorm/gamma' with scale=True),
    'BatchNorm/moving_mean', 'BatchNorm/moving_variance'; decay 0.999 by default; is_training=True by
    default (a bool or a bool tensor).

    updates_collections: where the two moving-average updates go (default tf.GraphKeys.UPDATE_OPS); None
    applies them in place (the output waits on them). As TF's fused kernel, which contrib uses for 2-D
    and 4-D inputs, moving_variance is updated with the Bessel-corrected batch variance."""
    if batch_weights is not None or renorm or adjustment is not None or zero_debias_moving_mean:
        raise NotImplementedError("batch_norm: batch_weights, renorm, adjustment and zero_debias_moving_mean are "
                                  "not implemented in nanotf")
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError("data_format has to be either NCHW or NHWC.")
    inputs = convert_to_tensor(inputs)
    rank = inputs.shape.ndims
    with vs.variable_scope(scope, "BatchNorm", [inputs], reuse=reuse,
                           custom_getter=lambda g, n, **kw: _model_variable_getter(g, n, **kw)) as sc:
        inits = param_initializers or {}
        regs = param_regularizers or {}
        layer = norm_layers.BatchNormalization(
            axis=1 if data_format == "NCHW" else -1, momentum=decay, epsilon=epsilon, center=center, scale=scale,
            beta_initializer=inits.get("beta", init_ops.zeros_initializer()),
            gamma_initializer=inits.get("gamma", init_ops.ones_initializer()),
            moving_mean_initializer=inits.get("moving_mean", init_ops.zeros_initializer()),
            moving_variance_initializer=inits.get("moving_variance", init_ops.ones_initializer()),
            beta_regularizer=regs.get("beta"), gamma_regularizer=regs.get("gamma"), trainable=trainable,
            fused=fused, name=sc.name, _scope=sc, _reuse=reuse)
        # contrib's fused path serves 2-D inputs too (fused=None means fused)
        layer._fuse_any_rank = (fused is None or fused) and rank in (2, 4)
        layer._updates_collection = updates_collections
        outputs = layer.apply(inputs, training=is_training)
        if updates_collections is None and layer.updates:
            with control_dependencies(layer.updates):
                outputs = array_ops.identity(outputs)
        for var, key in ((layer.moving_mean, "moving_mean"), (layer.moving_variance, "moving_variance"),
                         (layer.beta, "beta"), (layer.gamma, "gamma")):
            _add_to_collections(var, variables_collections, key)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return _collect_outputs(outputs_collections, sc.name, outputs)


def layer_norm(inputs, center=True, scale=True, activation_fn=None, reuse=None, variables_collections=None,
               outputs_collections=None, trainable=True, begin_norm_axis=1, begin_params_axis=-1, scope=None):
    """Layer normalization (Ba et al. 2016): each example normalized over axes begin_norm_axis.. by its own
    mean and variance (epsilon 1e-12, as contrib), then scaled by 'LayerNorm/gamma' and shifted by
    'LayerNorm/beta' of shape inputs.shape[begin_params_axis:]."""
    from nanotf.ops import nn_impl
    with vs.variable_scope(scope, "LayerNorm", [inputs], reuse=reuse) as sc:
        inputs = convert_to_tensor(inputs)
        dims = inputs.shape.as_list()
        if dims is None:
            raise ValueError("Inputs %s has undefined rank." % inputs.name)
        rank = len(dims)
        norm_axis = begin_norm_axis + rank if begin_norm_axis < 0 else begin_norm_axis
        params_axis = begin_params_axis + rank if begin_params_axis < 0 else begin_params_axis
        if not 0 <= params_axis < rank or not 0 <= norm_axis < rank:
            raise ValueError("begin_params_axis (%d) and begin_norm_axis (%d) must be < rank(inputs) (%d)"
                             % (begin_params_axis, begin_norm_axis, rank))
        params_shape = dims[params_axis:]
        if None in params_shape:
            raise ValueError("Inputs %s: shape[%d:] is not fully defined: %s" % (inputs.name, params_axis, dims))
        collections = [GraphKeys.GLOBAL_VARIABLES, GraphKeys.MODEL_VARIABLES]
        beta = gamma = None
        if center:
            beta = vs.get_variable("beta", params_shape, dtype=inputs.dtype, collections=collections,
                                   initializer=init_ops.zeros_initializer(), trainable=trainable)
            _add_to_collections(beta, variables_collections, "beta")
        if scale:
            gamma = vs.get_variable("gamma", params_shape, dtype=inputs.dtype, collections=collections,
                                    initializer=init_ops.ones_initializer(), trainable=trainable)
            _add_to_collections(gamma, variables_collections, "gamma")
        mean, variance = nn_ops.moments(inputs, list(range(norm_axis, rank)), keep_dims=True)
        outputs = nn_impl.batch_normalization(inputs, mean, variance, offset=beta, scale=gamma,
                                              variance_epsilon=1e-12)
        outputs.set_shape(inputs.shape)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return _collect_outputs(outputs_collections, sc.name, outputs)


def flatten(inputs, outputs_collections=None, scope=None):
    """[batch, ...] -> [batch, k]."""
    with name_scope(scope, "Flatten", [inputs]) as sc:
        outputs = core_layers.flatten(inputs)
        return _collect_outputs(outputs_collections, sc, outputs)


def dropout(inputs, keep_prob=0.5, noise_shape=None, is_training=True, outputs_collections=None, scope=None,
            seed=None):
    """Dropout with contrib's keep_prob, active when is_training (default True)."""
    with vs.variable_scope(scope, "Dropout", [inputs]) as sc:
        layer = core_layers.Dropout(rate=1 - keep_prob, noise_shape=noise_shape, seed=seed, name=sc.name, _scope=sc)
        outputs = layer.apply(inputs, training=is_training)
        return _collect_outputs(outputs_collections, sc.name, outputs)


def _pool(kind, inputs, kernel_size, stride, padding, data_format, outputs_collections, scope):
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError("data_format has to be either NCHW or NHWC.")
    from nanotf.layers import utils
    kh, kw = utils.normalize_tuple(kernel_size, 2, "kernel_size")
    sh, sw = utils.normalize_tuple(stride, 2, "stride")
    with name_scope(scope, "MaxPool2D" if kind == "max" else "AvgPool2D", [inputs]) as sc:
        x = convert_to_tensor(inputs)
        if data_format == "NCHW":
            x = utils.to_channels_last(x, 4)
        pool = pooling_ops.max_pool if kind == "max" else pooling_ops.avg_pool
        y = pool(x, [1, kh, kw, 1], [1, sh, sw, 1], padding.upper())
        if data_format == "NCHW":
            y = utils.to_channels_first(y, 4)
        return _collect_outputs(outputs_collections, sc, y)


def max_pool2d(inputs, kernel_size, stride=2, padding="VALID", data_format="NHWC", outputs_collections=None,
               scope=None):
    return _pool("max", inputs, kernel_size, stride, padding, data_format, outputs_collections, scope)


def avg_pool2d(inputs, kernel_size, stride=2, padding="VALID", data_format="NHWC", outputs_collections=None,
               scope=None):
    return _pool("avg", inputs, kernel_size, stride, padding, data_format, outputs_collections, scope)
