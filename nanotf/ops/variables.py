"""tf.Variable: a VariableV2 op (`x`), its initializer (`x/Assign`) and its snapshot (`x/read`)."""
import numpy as np

from nanotf.framework import dtypes
from nanotf.framework.ops import (GraphKeys, Tensor, convert_to_tensor, get_collection, get_default_graph,
                                  name_scope)
from nanotf.framework.tensor_shape import as_shape, unknown_shape
from nanotf.ops import array_ops, control_flow_ops, state_ops

__all__ = ["Variable", "global_variables", "all_variables", "trainable_variables", "local_variables",
           "model_variables", "variables_initializer", "initialize_variables", "global_variables_initializer",
           "initialize_all_variables", "local_variables_initializer", "initialize_local_variables",
           "is_variable_initialized", "report_uninitialized_variables"]


class Variable:
    """A value kept across Session.run calls, created from `initial_value` by its initializer op."""

    def __init__(self, initial_value=None, trainable=True, collections=None, validate_shape=True,
                 caching_device=None, name=None, variable_def=None, dtype=None, expected_shape=None,
                 import_scope=None, constraint=None, use_resource=None, shape=None, **unused):
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        with name_scope(name, "Variable") as scope:
            if callable(initial_value):
                with name_scope("Initializer"):
                    init = convert_to_tensor(initial_value(), dtype=dtype, name="initial_value")
            else:
                init = convert_to_tensor(initial_value, dtype=dtype, name="initial_value")
            g = init.graph
            static = init.shape if validate_shape else unknown_shape()
            if shape is not None:
                static = as_shape(shape)
            self._variable = g.create_op("VariableV2", [], {"shape": static, "dtype": init.dtype},
                                         name=scope).outputs[0]
            self._initial_value = init
            self._initializer_op = state_ops.assign(self._variable, init, validate_shape=validate_shape,
                                                    name="Assign").op
            self._snapshot = array_ops.identity(self._variable, name="read")
        self._trainable = trainable
        if collections is None:
            collections = [GraphKeys.GLOBAL_VARIABLES]
        collections = list(collections)
        if trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections.append(GraphKeys.TRAINABLE_VARIABLES)
        g.add_to_collections(collections, self)

    # -- identity
    name = property(lambda self: self._variable.name)
    op = property(lambda self: self._variable.op)
    dtype = property(lambda self: self._variable.dtype)
    graph = property(lambda self: self._variable.graph)
    device = property(lambda self: "")
    trainable = property(lambda self: self._trainable)
    initializer = property(lambda self: self._initializer_op)
    initial_value = property(lambda self: self._initial_value)
    shape = property(lambda self: self._variable.shape)

    def get_shape(self):
        return self._variable.shape

    def set_shape(self, shape):
        self._variable.set_shape(shape)
        self._snapshot.set_shape(shape)

    # -- values
    def value(self):
        return self._snapshot

    def read_value(self):
        return array_ops.identity(self._variable, name="read")

    def initialized_value(self):
        from nanotf.framework.ops import control_dependencies
        with control_dependencies([self._initializer_op]):
            return array_ops.identity(self._initial_value)

    def eval(self, session=None):
        return self._variable.eval(session=session)

    def load(self, value, session=None):
        from nanotf.client.session import get_default_session_or_raise
        sess = session or get_default_session_or_raise(self.graph)
        sess._runtime.variables[self.op] = np.array(value, dtype=self.dtype.as_numpy_dtype)

    def assign(self, value, use_locking=False, name=None, read_value=True):
        return state_ops.assign(self._variable, value, name=name)

    def assign_add(self, delta, use_locking=False, name=None, read_value=True):
        return state_ops.assign_add(self._variable, delta, name=name)

    def assign_sub(self, delta, use_locking=False, name=None, read_value=True):
        return state_ops.assign_sub(self._variable, delta, name=name)

    # -- conversion: graph element for fetches, snapshot for ops
    def _as_graph_element(self):
        return self._variable

    def _as_tensor(self):
        return self._snapshot

    def __repr__(self):
        return "<nanotf.Variable '%s' shape=%s dtype=%s>" % (self.name, self.shape, self.dtype.name)

    def __bool__(self):
        raise TypeError("Using a tf.Variable as a Python `bool` is not allowed.")

    def __iter__(self):
        raise TypeError("'Variable' object is not iterable.")


def _forward(name):
    def method(self, *args):
        return getattr(self._snapshot, name)(*args)
    method.__name__ = name
    return method


for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
              "__matmul__", "__rmatmul__", "__neg__", "__pos__", "__pow__", "__rpow__", "__getitem__", "__abs__",
              "__lt__", "__le__", "__gt__", "__ge__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__",
              "__and__", "__rand__", "__or__", "__ror__", "__xor__", "__invert__", "__div__", "__rdiv__"):
    setattr(Variable, _name, _forward(_name))
Variable.__array_priority__ = 100


def global_variables(scope=None):
    return get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


all_variables = global_variables


def trainable_variables(scope=None):
    return get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope=None):
    return get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def model_variables(scope=None):
    return get_collection(GraphKeys.MODEL_VARIABLES, scope)


def variables_initializer(var_list, name="init"):
    """One op that runs the initializers of `var_list`."""
    if var_list:
        return control_flow_ops.group(*[v.initializer for v in var_list], name=name)
    return control_flow_ops.no_op(name=name)


initialize_variables = variables_initializer


def global_variables_initializer():
    """The op named 'init' that initializes every global variable (tf.initialize_all_variables)."""
    return variables_initializer(global_variables())


initialize_all_variables = global_variables_initializer


def local_variables_initializer():
    return variables_initializer(local_variables(), name="init_1" if False else "init")


initialize_local_variables = local_variables_initializer


def is_variable_initialized(variable):
    from nanotf.framework.ops import apply_op
    return apply_op("IsVariableInitialized", [variable._variable], name="IsVariableInitialized")


def report_uninitialized_variables(var_list=None, name="report_uninitialized_variables"):
    """A string tensor of the names of uninitialized variables."""
    from nanotf.framework.ops import apply_op
    var_list = var_list if var_list is not None else global_variables()
    return apply_op("ReportUninitializedVariables", [v._variable for v in var_list], name=name)
