"""tf.variable_scope and tf.get_variable: variables named by scope, shared on request.

Each Graph keeps a variable store (`graph._vars_store`: full name -> Variable) and a scope store
(`graph._var_scope_store`: the current VariableScope and how often each scope name was opened, for
unique default names). get_variable names variables after the *variable* scope only: it builds them
under the root name scope, so `foo/v`, `foo/v/Assign`, `foo/v/read` and `foo/v/Initializer/...`
are the same whichever name scope (`foo_1/`...) is current, as in TensorFlow.
"""
import enum
import inspect

from nanotf.framework import dtypes
from nanotf.framework.ops import GraphKeys, Tensor, _graph_of, get_collection, get_default_graph
from nanotf.framework.tensor_shape import as_shape
from nanotf.ops import init_ops
from nanotf.ops.variables import Variable

__all__ = ["variable_scope", "variable_op_scope", "get_variable", "get_local_variable", "get_variable_scope",
           "VariableScope", "AUTO_REUSE", "no_regularizer"]


class _ReuseMode(enum.Enum):
    AUTO_REUSE = 1


AUTO_REUSE = _ReuseMode.AUTO_REUSE   # create variables that do not exist, reuse those that do


def no_regularizer(_):
    """Use as `regularizer=` to switch a scope's default regularizer off for one variable."""
    return None


class VariableScope:
    """A variable scope's name and the defaults (reuse, initializer, dtype...) of get_variable in it."""

    def __init__(self, reuse, name="", initializer=None, regularizer=None, caching_device=None,
                 partitioner=None, custom_getter=None, name_scope="", dtype=dtypes.float32, use_resource=None,
                 constraint=None):
        self._name = name
        self._reuse = reuse
        self._initializer = initializer
        self._regularizer = regularizer
        self._caching_device = caching_device
        self._partitioner = partitioner
        self._custom_getter = custom_getter
        self._name_scope = name_scope
        self._dtype = dtypes.as_dtype(dtype)
        self._use_resource = use_resource
        self._constraint = constraint

    name = property(lambda self: self._name)
    original_name_scope = property(lambda self: self._name_scope)
    reuse = property(lambda self: self._reuse)
    initializer = property(lambda self: self._initializer)
    regularizer = property(lambda self: self._regularizer)
    caching_device = property(lambda self: self._caching_device)
    partitioner = property(lambda self: self._partitioner)
    custom_getter = property(lambda self: self._custom_getter)
    dtype = property(lambda self: self._dtype)
    use_resource = property(lambda self: self._use_resource)
    constraint = property(lambda self: self._constraint)

    def reuse_variables(self):
        """From now on get_variable in this scope returns existing variables."""
        self._reuse = True

    def _setter(attr, convert=None):   # noqa: N805 - builds a set_<attr>(value) method
        def set_value(self, value):
            setattr(self, "_" + attr, value if convert is None else convert(value))
        set_value.__name__ = set_value.__qualname__ = "set_" + attr
        return set_value
    set_initializer = _setter("initializer")
    set_regularizer = _setter("regularizer")
    set_dtype = _setter("dtype", dtypes.as_dtype)
    set_caching_device = _setter("caching_device")
    set_partitioner = _setter("partitioner")
    set_custom_getter = _setter("custom_getter")
    set_use_resource = _setter("use_resource")
    del _setter

    def get_collection(self, name):
        return get_collection(name, self._name + "/" if self._name else None)

    def global_variables(self):
        return self.get_collection(GraphKeys.GLOBAL_VARIABLES)

    def trainable_variables(self):
        return self.get_collection(GraphKeys.TRAINABLE_VARIABLES)

    def local_variables(self):
        return self.get_collection(GraphKeys.LOCAL_VARIABLES)

    def get_variable(self, var_store, name, shape=None, dtype=None, initializer=None, regularizer=None,
                     reuse=None, trainable=None, collections=None, caching_device=None, partitioner=None,
                     validate_shape=True, use_resource=None, custom_getter=None, constraint=None, **unused):
        """get_variable in this scope: `name` is prefixed with the scope's name."""
        if (dtype is not None and initializer is not None and not callable(initializer)
                and not _is_class(initializer)):
            init_dtype = _value_dtype(initializer)
            if init_dtype is not dtypes.as_dtype(dtype):
                raise ValueError("Initializer type '%s' and explicit dtype '%s' don't match."
                                 % (init_dtype.name, dtypes.as_dtype(dtype).name))
        initializer = self._initializer if initializer is None else initializer
        regularizer = self._regularizer if regularizer is None else regularizer
        partitioner = self._partitioner if partitioner is None else partitioner
        constraint = self._constraint if constraint is None else constraint
        dtype = self._dtype if dtype is None else dtypes.as_dtype(dtype)
        if partitioner is not None:
            raise NotImplementedError("get_variable: partitioned variables are not implemented in nanotf")
        if reuse is None or reuse is False:
            reuse = self._reuse
        full_name = self._name + "/" + name if self._name else name
        getter = _true_getter(var_store)
        for wrap in (self._custom_getter, custom_getter):
            if wrap is not None:
                getter = _wrap_getter(wrap, getter)
        g = get_default_graph()
        # variable names follow the variable scope only; like TF's init_scope, creation also leaves any
        # control_dependencies block so that initializers do not wait on unrelated ops
        with g.name_scope(None), g.control_dependencies(None):
            return getter(full_name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                          reuse=reuse, trainable=trainable, collections=collections, caching_device=caching_device,
                          partitioner=None, validate_shape=validate_shape, use_resource=use_resource,
                          constraint=constraint)


def _is_class(x):
    return inspect.isclass(x)


def _value_dtype(value):
    if isinstance(value, Tensor) or hasattr(value, "_as_tensor"):
        from nanotf.framework.ops import convert_to_tensor
        return convert_to_tensor(value).dtype
    return dtypes.dtype_of_value(value)


def _wrap_getter(custom_getter, getter):
    def wrapped(name, **kwargs):
        return custom_getter(getter, name, **kwargs)
    return wrapped


def _chain_getters(custom_getter, outer_getter):
    """A nested scope's custom getter runs around the enclosing scope's one, as in TF."""
    def chained(getter, *args, **kwargs):
        return custom_getter(lambda *a, **kw: outer_getter(getter, *a, **kw), *args, **kwargs)
    return chained


def _true_getter(var_store):
    def getter(name, shape=None, dtype=dtypes.float32, initializer=None, regularizer=None, reuse=None,
               trainable=None, collections=None, caching_device=None, partitioner=None, validate_shape=True,
               use_resource=None, constraint=None, **unused):
        return _get_single_variable(var_store, name, shape, dtypes.as_dtype(dtype), initializer, regularizer,
                                    reuse, trainable, collections, validate_shape, constraint)
    return getter


def _get_single_variable(store, name, shape, dtype, initializer, regularizer, reuse, trainable, collections,
                         validate_shape, constraint):
    """TF's _VariableStore._get_single_variable: return the existing variable or make a new one."""
    from_value = initializer is not None and not callable(initializer) and not _is_class(initializer)
    if isinstance(initializer, Tensor) or hasattr(initializer, "_as_tensor"):
        from_value = True
    if shape is not None and from_value:
        raise ValueError("If initializer is a constant, do not specify shape.")
    shape = as_shape(shape)
    if name in store:
        if reuse is False or reuse is None:
            var = store[name]
            raise ValueError("Variable %s already exists, disallowed. Did you mean to set reuse=True or "
                             "reuse=tf.AUTO_REUSE in VarScope? Originally defined at:\n\n  %s"
                             % (name, var.op.where()))
        found = store[name]
        if not shape.is_compatible_with(found.get_shape()):
            raise ValueError("Trying to share variable %s, but specified shape %s and found shape %s."
                             % (name, shape, found.get_shape()))
        if not dtype.is_compatible_with(found.dtype):
            raise ValueError("Trying to share variable %s, but specified dtype %s and found dtype %s."
                             % (name, dtype.name, found.dtype.name))
        return found
    if reuse is True:
        raise ValueError("Variable %s does not exist, or was not created with tf.get_variable(). Did you mean "
                         "to set reuse=tf.AUTO_REUSE in VarScope?" % name)
    if initializer is None:
        initializer = _default_initializer(name, dtype)
    if from_value:
        init_val, var_dtype = initializer, None
    else:
        if _is_class(initializer):
            initializer = initializer()
        if not shape.is_fully_defined():
            raise ValueError("Shape of a new variable (%s) must be fully defined, but instead was %s."
                             % (name, shape))
        dims = shape.as_list()
        if _takes_partition_info(initializer):
            def init_val():
                return initializer(dims, dtype=dtype, partition_info=None)
        else:
            def init_val():
                return initializer(dims, dtype=dtype)
        var_dtype = dtype
    trainable = True if trainable is None else trainable
    v = Variable(init_val, name=name, trainable=trainable, collections=collections, dtype=var_dtype,
                 validate_shape=validate_shape, constraint=constraint)
    store[name] = v
    if regularizer is not None:
        with v.graph.name_scope(name + "/Regularizer/"):
            loss = regularizer(v)
        if loss is not None:
            v.graph.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
    return v


def _default_initializer(name, dtype):
    """TF's rule: glorot_uniform for floats, zeros for integers, bools and strings."""
    if dtype.is_floating:
        return init_ops.glorot_uniform_initializer()
    if dtype.is_integer or dtype.is_bool or dtype is dtypes.string:
        return init_ops.zeros_initializer()
    raise ValueError("An initializer for variable %s of %s is required" % (name, dtype.name))


def _takes_partition_info(fn):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "partition_info" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


# -- per-graph stores
class _ScopeStore:
    def __init__(self):
        self.current_scope = VariableScope(False)
        self.scopes_count = {}   # scope name -> times opened (since its parent was last entered)

    def open(self, name):
        self.scopes_count[name] = self.scopes_count.get(name, 0) + 1

    def close_subscopes(self, name):
        prefix = name + "/"
        for k in self.scopes_count:
            if not name or k.startswith(prefix):
                self.scopes_count[k] = 0


def _scope_store(graph=None):
    g = graph if graph is not None else get_default_graph()
    store = getattr(g, "_var_scope_store", None)
    if store is None:
        store = g._var_scope_store = _ScopeStore()
    return store


def _var_store(graph=None):
    g = graph if graph is not None else get_default_graph()
    store = getattr(g, "_vars_store", None)
    if store is None:
        store = g._vars_store = {}
    return store


def get_variable_scope():
    """The current VariableScope of the default graph."""
    return _scope_store().current_scope


def get_variable(name, shape=None, dtype=None, initializer=None, regularizer=None, trainable=None,
                 collections=None, caching_device=None, partitioner=None, validate_shape=True, use_resource=None,
                 custom_getter=None, constraint=None, **unused):
    """The variable `<scope>/name`: created (by `initializer`, default glorot_uniform for floats and
    zeros otherwise) unless the scope reuses variables, in which case it must already exist."""
    return get_variable_scope().get_variable(
        _var_store(), name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
        trainable=trainable, collections=collections, caching_device=caching_device, partitioner=partitioner,
        validate_shape=validate_shape, use_resource=use_resource, custom_getter=custom_getter,
        constraint=constraint)


def get_local_variable(name, shape=None, dtype=None, initializer=None, regularizer=None, trainable=False,
                       collections=None, caching_device=None, partitioner=None, validate_shape=True,
                       use_resource=None, custom_getter=None, constraint=None, **unused):
    """get_variable for a non-trainable variable in the LOCAL_VARIABLES collection."""
    collections = list(collections or []) + [GraphKeys.LOCAL_VARIABLES]
    return get_variable(name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                        trainable=False, collections=collections, caching_device=caching_device,
                        partitioner=partitioner, validate_shape=validate_shape, use_resource=use_resource,
                        custom_getter=custom_getter, constraint=constraint)


class variable_scope:  # noqa: N801 - TF's public name
    """Context manager opening a variable scope (and, by default, a name scope of the same name).

    `name_or_scope` is a string (nested under the current variable scope) or a VariableScope (entered
    as it is, wherever we are); with None, `default_name` is made unique. `reuse=True` or AUTO_REUSE
    are inherited by sub-scopes; initializer, regularizer and dtype become the defaults of get_variable.
    """

    def __init__(self, name_or_scope, default_name=None, values=None, initializer=None, regularizer=None,
                 caching_device=None, partitioner=None, custom_getter=None, reuse=None, dtype=None,
                 use_resource=None, constraint=None, auxiliary_name_scope=True):
        if default_name is None and name_or_scope is None:
            raise TypeError("If default_name is None then name_or_scope is required")
        if name_or_scope is not None and not isinstance(name_or_scope, (str, VariableScope)):
            raise TypeError("VariableScope: name_or_scope must be a string or VariableScope.")
        if reuse is False:   # TF >= 1.1: False means "inherit", like None
            reuse = None
        if not (reuse is True or reuse is None or reuse is AUTO_REUSE):
            raise ValueError("The reuse parameter must be True or False or None.")
        if not isinstance(auxiliary_name_scope, bool):
            raise TypeError("The auxiliary_name_scope must be `True` or `False`, while get %r"
                            % (auxiliary_name_scope,))
        self._name_or_scope = name_or_scope
        self._default_name = default_name
        self._reuse = reuse
        self._defaults = dict(initializer=initializer, regularizer=regularizer, caching_device=caching_device,
                              partitioner=partitioner, custom_getter=custom_getter, dtype=dtype,
                              use_resource=use_resource, constraint=constraint)
        self._graph = _graph_of(values) if values else get_default_graph()
        self._aux = auxiliary_name_scope
        self._exits = []

    def _enter(self, cm):
        value = cm.__enter__()
        self._exits.append(cm)
        return value

    def __enter__(self):
        g = self._graph
        self._exits = []
        try:
            self._enter(g.as_default())
            return self._open_scopes(g)
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def _open_scopes(self, g):
        store = _scope_store(g)
        old = store.current_scope
        target = self._name_or_scope
        if target is None and self._reuse is True:
            raise ValueError("reuse=True cannot be used without a name_or_scope")
        # The name scope: a new one named like the scope's last part (uniquified, so re-entering 'foo'
        # gives 'foo_1/'), or with auxiliary_name_scope=False the current one.
        if not self._aux:
            current = g.get_name_scope()
            name_scope = self._enter(g.name_scope(current + "/" if current else None))
        else:
            base = target if isinstance(target, str) else (target.name.split("/")[-1] if target is not None
                                                           else self._default_name)
            name_scope = self._enter(g.name_scope(base)) if base else None
        if isinstance(target, VariableScope):
            new = VariableScope(self._reuse if self._reuse else target.reuse, name=target.name,
                                initializer=target.initializer, regularizer=target.regularizer,
                                caching_device=target.caching_device, partitioner=target.partitioner,
                                custom_getter=target.custom_getter, name_scope=target.original_name_scope,
                                dtype=target.dtype, use_resource=target.use_resource,
                                constraint=target.constraint)
            store.open(new.name)
            self._saved_counts = dict(store.scopes_count)
        else:
            if target is None:
                target = self._unique_default_name(store, old)
            full = old.name + "/" + target if old.name else target
            new = VariableScope(self._reuse or old.reuse, name=full, initializer=old.initializer,
                                regularizer=old.regularizer, caching_device=old.caching_device,
                                partitioner=old.partitioner, custom_getter=old.custom_getter,
                                name_scope=name_scope if name_scope is not None else old.original_name_scope,
                                dtype=old.dtype, use_resource=old.use_resource, constraint=old.constraint)
            store.open(full)
            self._saved_counts = None
        for key, value in self._defaults.items():
            if value is None:
                continue
            if key == "custom_getter" and new.custom_getter is not None:
                value = _chain_getters(value, new.custom_getter)
            setattr(new, "_" + key, dtypes.as_dtype(value) if key == "dtype" else value)
        self._store, self._old, self._new = store, old, new
        store.current_scope = new
        return new

    def _unique_default_name(self, store, old):
        prefix = self._default_name
        name = old.name + "/" + prefix if old.name else prefix
        if store.scopes_count.get(name, 0) == 0:
            return prefix
        i = 1
        while store.scopes_count.get("%s_%d" % (name, i), 0) > 0:
            i += 1
        return "%s_%d" % (prefix, i)

    def __exit__(self, exc_type, exc, tb):
        store = getattr(self, "_store", None)
        if store is not None and getattr(self, "_new", None) is not None:
            if store.current_scope is not self._new:
                raise RuntimeError("Improper nesting of variable_scope.")
            if self._saved_counts is not None:   # jumping back from a re-entered scope restores counts
                store.scopes_count = self._saved_counts
            else:
                store.close_subscopes(self._new.name)
            store.current_scope = self._old
            self._new = None
        while self._exits:
            self._exits.pop().__exit__(exc_type, exc, tb)
        return False


def variable_op_scope(values, name_or_scope, default_name=None, **kwargs):
    """Deprecated TF 0.x spelling of variable_scope(name_or_scope, default_name, values)."""
    return variable_scope(name_or_scope, default_name=default_name, values=values, **kwargs)
