"""tf.layers.Layer: TF 1.x's legacy layer base, with its variable-scope rules.

How TF 1.15 names things, and so how nanotf does:
- A layer's variables live in a variable scope captured the first time it is needed: the scope named by
  `name` (functional forms pass `_scope=name`), else a fresh `variable_scope(None, default_name='dense')`,
  which gives 'dense', 'dense_1', ... (uniquified like any variable scope, so under `variable_scope('G')`
  the first one is 'G/dense'). Variables are made with tf.get_variable: 'dense/kernel', 'dense/bias'.
- Its ops go into the name scope opened with that variable scope ('dense/MatMul'); a layer object called
  again reuses its variables and re-enters the same name scope.
- `reuse=True` (or an enclosing reusing scope) makes get_variable return the existing variables.
- An unnamed layer's `.name` counts per graph from 1 ('dense_1' for the first), as TF 1.15's does; only the
  variables follow the scope.
- Weight regularizer losses go to tf.GraphKeys.REGULARIZATION_LOSSES (only for newly made variables),
  update ops (batch normalization's moving averages) to tf.GraphKeys.UPDATE_OPS.
"""
import re

from nanotf.framework import dtypes
from nanotf.framework.ops import GraphKeys, Tensor, convert_to_tensor, get_default_graph, name_scope
from nanotf.framework.tensor_shape import TensorShape
from nanotf.layers import utils
from nanotf.ops import init_ops, variable_scope as vs
from nanotf.ops import variables as tf_variables

__all__ = ["Layer", "InputSpec"]


def _to_snake_case(name):
    s = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()
    return "private" + s if s[0] == "_" else s


def _unique_layer_name(base):
    """TF 1.15's backend.unique_object_name(zero_based=False): 'dense_1', 'dense_2', ... per graph."""
    g = get_default_graph()
    uids = getattr(g, "_layer_name_uids", None)
    if uids is None:
        uids = g._layer_name_uids = {}
    uids[base] = uids.get(base, 0) + 1
    return "%s_%d" % (base, uids[base])


class InputSpec:
    """Kept for API compatibility (tf.layers.InputSpec): nanotf's layers check their inputs themselves."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None):
        self.dtype, self.shape, self.ndim = dtype, shape, ndim
        self.max_ndim, self.min_ndim, self.axes = max_ndim, min_ndim, axes or {}


class Layer:
    """Base class of tf.layers: subclasses define build(input_shape) (making weights with add_weight)
    and call(inputs, ...)."""

    # where __call__ puts the layer's update ops (tf.contrib.layers.batch_norm changes or clears it)
    _updates_collection = GraphKeys.UPDATE_OPS

    def __init__(self, trainable=True, name=None, dtype=None, activity_regularizer=None, _scope=None,
                 _reuse=None, **kwargs):
        for key in kwargs:
            if key not in ("input_shape", "batch_input_shape", "weights", "autocast"):
                raise TypeError("Keyword argument not understood: %r" % key)
        self.trainable = trainable
        self.built = False
        self._dtype = dtypes.as_dtype(dtype) if dtype is not None else None
        self._reuse = _reuse
        self.activity_regularizer = activity_regularizer
        self._trainable_weights, self._non_trainable_weights = [], []
        self._updates, self._losses = [], []
        self.input_spec = None
        if isinstance(name, vs.VariableScope):
            self._base_name = name.name
            self._name = _unique_layer_name(_to_snake_case(type(self).__name__))
        elif name:
            self._base_name = self._name = name
        else:
            self._base_name = _to_snake_case(type(self).__name__)
            self._name = _unique_layer_name(self._base_name)
        self._scope = None
        if _scope:
            with vs.variable_scope(_scope) as captured:
                self._scope = captured
        self._current_scope = None

    # -- properties as TF's
    name = property(lambda self: self._name)
    dtype = property(lambda self: self._dtype.name if self._dtype is not None else None)

    @property
    def scope_name(self):
        if not self._scope:
            raise ValueError('No name available for layer scope because the layer "%s" has not been used yet. '
                             'The scope name  is determined the first time the layer instance is called. You '
                             'must therefore call the layer before querying `scope_name`.' % self._name)
        return self._scope.name

    @property
    def trainable_weights(self):
        return list(self._trainable_weights) if self.trainable else []

    @property
    def non_trainable_weights(self):
        if self.trainable:
            return list(self._non_trainable_weights)
        return self._trainable_weights + self._non_trainable_weights

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def weights(self):
        return self.trainable_weights + self.non_trainable_weights

    variables = weights
    updates = property(lambda self: list(self._updates))
    losses = property(lambda self: list(self._losses))

    def get_weights(self):
        from nanotf.client.session import get_default_session_or_raise
        if not self.weights:
            return []
        return get_default_session_or_raise(self.weights[0].graph).run(self.weights)

    # -- scopes
    def _set_scope(self, scope=None):
        if self._scope is None:
            if self._reuse:
                with vs.variable_scope(scope if scope is not None else self._base_name) as captured:
                    self._scope = captured
            else:
                with vs.variable_scope(scope, default_name=self._base_name) as captured:
                    self._scope = captured

    def _layer_scopes(self, reuse):
        """The layer's variable scope (entered without a new name scope) and then its own name scope."""
        return _LayerScopes(self, reuse)

    # -- weights, losses, updates
    def add_weight(self, name, shape, dtype=None, initializer=None, regularizer=None, trainable=None,
                   constraint=None, partitioner=None, use_resource=None, **kwargs):
        trainable = True if trainable is None else trainable
        dtype = dtypes.as_dtype(dtype) if dtype is not None else (self._dtype or dtypes.float32)
        existing = set(tf_variables.global_variables())
        self._set_scope(None)
        reuse = self.built or self._reuse
        with self._layer_scopes(reuse) as scope:
            if initializer is None:
                initializer = scope.initializer
            if initializer is None:
                if dtype.is_floating:
                    initializer = init_ops.glorot_uniform_initializer()
                elif dtype.is_integer or dtype.is_bool:
                    initializer = init_ops.zeros_initializer()
                else:
                    raise ValueError("An initializer for variable %s of type %s is required for layer %s"
                                     % (name, dtype.name, self._name))
            variable = vs.get_variable(name, shape=TensorShape(shape).as_list(), dtype=dtype,
                                       initializer=initializer, trainable=trainable and self.trainable,
                                       constraint=constraint, partitioner=partitioner)
            if regularizer is not None and variable not in existing:
                with name_scope(name + "/Regularizer"):
                    loss = regularizer(variable)
                if loss is not None:
                    self._losses.append(loss)
                    _add_to_collection(GraphKeys.REGULARIZATION_LOSSES, [loss])
        # a scope's custom getter may have made it non-trainable
        if trainable and self.trainable and variable in tf_variables.trainable_variables():
            if variable not in self._trainable_weights:
                self._trainable_weights.append(variable)
        elif variable not in self._non_trainable_weights:
            self._non_trainable_weights.append(variable)
        return variable

    add_variable = add_weight

    def add_update(self, updates, inputs=None):
        self._updates.extend(updates if isinstance(updates, (list, tuple)) else [updates])

    def add_loss(self, losses, inputs=None):
        new = [l for l in (losses if isinstance(losses, (list, tuple)) else [losses]) if l is not None]
        self._losses.extend(new)
        _add_to_collection(GraphKeys.REGULARIZATION_LOSSES, new)

    # -- to override
    def build(self, input_shape):
        self.built = True

    def call(self, inputs, **kwargs):
        return inputs

    def compute_output_shape(self, input_shape):
        raise NotImplementedError

    # -- calling
    def __call__(self, inputs, *args, **kwargs):
        scope = kwargs.pop("scope", None)
        self._set_scope(scope)
        reuse = True if self.built else self._reuse
        with self._layer_scopes(reuse):
            if not isinstance(inputs, (list, tuple)):
                inputs = convert_to_tensor(inputs)
            first = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
            if self._dtype is None and isinstance(first, Tensor) and first.dtype.is_floating:
                self._dtype = first.dtype
            if not self.built:
                shapes = ([t.shape for t in inputs] if isinstance(inputs, (list, tuple)) else inputs.shape)
                self.build(shapes)
                self.built = True
            outputs = self.call(inputs, *args, **kwargs)
            if self.activity_regularizer is not None:
                with name_scope("ActivityRegularizer"):
                    self.add_loss(self.activity_regularizer(outputs))
        if self._updates_collection is not None:
            _add_to_collection(self._updates_collection, self._updates)
        return outputs

    def apply(self, inputs, *args, **kwargs):
        return self.__call__(inputs, *args, **kwargs)


class _KernelLayer(Layer):
    """Base of the layers computing activation(f(inputs, kernel) + bias): Dense and the convolutions. Holds the
    options of their two weights and creates them."""

    def _weight_options(self, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                        bias_regularizer, kernel_constraint, bias_constraint):
        self.activation = utils.get_activation(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint

    def _build_weights(self, kernel_shape, bias_size):
        """Creates 'kernel' and (with use_bias) 'bias' [bias_size]; marks the layer built."""
        self.kernel = self.add_weight("kernel", kernel_shape, initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      trainable=True, dtype=self._dtype)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", [bias_size], initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        trainable=True, dtype=self._dtype)
        self.built = True


class _LayerScopes:
    def __init__(self, layer, reuse):
        self._layer, self._reuse = layer, reuse

    def __enter__(self):
        self._vs = vs.variable_scope(self._layer._scope, reuse=self._reuse or None, auxiliary_name_scope=False)
        scope = self._vs.__enter__()
        self._layer._current_scope = scope
        self._ns = name_scope(scope.original_name_scope or None)
        try:
            self._ns.__enter__()
        except BaseException:
            self._vs.__exit__(None, None, None)
            raise
        return scope

    def __exit__(self, *exc):
        try:
            self._ns.__exit__(*exc)
        finally:
            self._vs.__exit__(*exc)
        return False


def _add_to_collection(key, elements):
    collection = get_default_graph().get_collection_ref(key)
    present = {id(e) for e in collection}
    for e in elements:
        if id(e) not in present:
            collection.append(e)
            present.add(id(e))
