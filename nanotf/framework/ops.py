"""Graph, Operation and Tensor: the dataflow graph that a Session runs.

A Graph holds structure only (ops in creation order, names, collections); values live in
a Session. Ops are numbered as they are created, so creation order is a topological order.
"""
import contextlib
import re
import sys
import threading

import numpy as np

from nanotf.framework import dtypes as _dtypes
from nanotf.framework.op_def import OpDef
from nanotf.framework.tensor_shape import TensorShape, as_shape, unknown_shape

_VALID_OP_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$")
_VALID_SCOPE_NAME = re.compile(r"^[A-Za-z0-9_.\-/>]*$")
_PKG_DIR = __file__.rsplit("/framework/", 1)[0]


class GraphKeys:
    GLOBAL_VARIABLES = "variables"
    VARIABLES = "variables"
    LOCAL_VARIABLES = "local_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    TABLE_INITIALIZERS = "table_initializer"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    REGULARIZATION_LOSSES = "regularization_losses"
    LOSSES = "losses"
    SAVERS = "savers"
    SAVEABLE_OBJECTS = "saveable_objects"
    GLOBAL_STEP = "global_step"
    TRAIN_OP = "train_op"
    UPDATE_OPS = "update_ops"
    INIT_OP = "init_op"
    READY_OP = "ready_op"
    SUMMARY_OP = "summary_op"
    ACTIVATIONS = "activations"
    RESOURCES = "resources"
    LOCAL_RESOURCES = "local_resources"


def _user_frame():
    """File and line of the first caller outside nanotf's engine, for error messages."""
    f = sys._getframe(2)
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIR) and "/examples/" not in f.f_code.co_filename:
        f = f.f_back
    return (f.f_code.co_filename, f.f_lineno) if f is not None else None


class Tensor:
    """One output of an Operation. Hashes and compares by identity, so it can key a feed_dict."""

    __array_priority__ = 100  # ndarray + Tensor dispatches to Tensor.__radd__

    def __init__(self, op, value_index, dtype, shape):
        self._op = op
        self._value_index = value_index
        self._dtype = dtype
        self._shape = shape
        self._consumers = []

    op = property(lambda self: self._op)
    value_index = property(lambda self: self._value_index)
    dtype = property(lambda self: self._dtype)
    graph = property(lambda self: self._op._graph)
    device = property(lambda self: "")

    @property
    def name(self):
        return "%s:%d" % (self._op.name, self._value_index)

    @property
    def shape(self):
        return self._shape

    def get_shape(self):
        return self._shape

    def set_shape(self, shape):
        self._shape = self._shape.merge_with(as_shape(shape))

    def consumers(self):
        return list(self._consumers)

    def eval(self, feed_dict=None, session=None):
        from nanotf.client.session import get_default_session_or_raise
        return (session or get_default_session_or_raise(self.graph)).run(self, feed_dict=feed_dict)

    def _as_node_def_input(self):
        return self._op.name if self._value_index == 0 else "%s:%d" % (self._op.name, self._value_index)

    def __repr__(self):
        return "<nanotf.Tensor '%s' shape=%s dtype=%s>" % (self.name, self._shape, self._dtype.name)

    __str__ = __repr__
    __hash__ = object.__hash__

    def __eq__(self, other):  # TF1: identity, so tensors work as dict keys; use tf.equal for values
        return self is other

    def __ne__(self, other):
        return self is not other

    def __bool__(self):
        raise TypeError("Using a tf.Tensor as a Python `bool` is not allowed. Use `if t is not None:` "
                        "instead of `if t:` or use TensorFlow ops such as tf.cond to execute subgraphs "
                        "conditioned on the value of a tensor.")

    def __iter__(self):
        raise TypeError("'Tensor' object is not iterable.")

    def __len__(self):
        raise TypeError("len is not well defined for symbolic Tensors. (%s) Please call `x.shape` rather "
                        "than `len(x)` for shape information." % self.name)

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Cannot convert a symbolic Tensor (%s) to a numpy array." % self.name)
    # Arithmetic operators, __getitem__ and __matmul__ are attached by nanotf.ops.math_ops / array_ops.


class Operation:
    """A node of the graph: an op type, inputs, attributes, control inputs and output Tensors."""

    def __init__(self, graph, op_type, name, inputs, attrs, control_inputs):
        self._graph = graph
        self._type = op_type
        self._name = name
        self._inputs = tuple(inputs)
        self._attrs = attrs
        self._control_inputs = list(control_inputs)
        self._def = OpDef.lookup(op_type)
        self._device = ""
        self._id = graph._next_id()
        self._traceback = _user_frame()
        specs = self._def.infer(self)   # may raise: register as a consumer only afterwards
        if isinstance(specs, tuple) and len(specs) == 2 and isinstance(specs[0], _dtypes.DType):
            specs = [specs]
        self._outputs = [Tensor(self, i, _dtypes.as_dtype(dt), as_shape(sh)) for i, (dt, sh) in enumerate(specs)]
        for t in self._inputs:
            t._consumers.append(self)

    name = property(lambda self: self._name)
    type = property(lambda self: self._type)
    graph = property(lambda self: self._graph)
    inputs = property(lambda self: list(self._inputs))
    outputs = property(lambda self: list(self._outputs))
    control_inputs = property(lambda self: list(self._control_inputs))
    op_def = property(lambda self: self._def)
    device = property(lambda self: self._device)
    traceback = property(lambda self: self._traceback)

    def _set_device(self, device):
        self._device = _merge_device(device, "") if device else ""

    @property
    def node_def(self):
        return self._graph._node_def(self)

    def values(self):
        return tuple(self._outputs)

    def get_attr(self, name):
        try:
            return self._attrs[name]
        except KeyError:
            raise ValueError("Operation %r has no attr named %r." % (self._name, name)) from None

    @property
    def attrs(self):
        return dict(self._attrs)

    def _add_control_input(self, op):
        if op not in self._control_inputs:
            self._control_inputs.append(op)

    def run(self, feed_dict=None, session=None):
        from nanotf.client.session import get_default_session_or_raise
        (session or get_default_session_or_raise(self._graph)).run(self, feed_dict=feed_dict)

    def where(self):
        """'file:line' where user code created this op, for error messages."""
        return "%s:%d" % self._traceback if self._traceback else "<unknown>"

    def __repr__(self):
        return "<nanotf.Operation '%s' type=%s>" % (self._name, self._type)

    __str__ = __repr__


class Graph:
    """A TensorFlow graph: operations in creation order, a name table, collections."""

    def __init__(self):
        self._ops = []
        self._ops_by_name = {}
        self._names_in_use = {}
        self._name_stack = ""
        self._collections = {}
        self._control_dependencies_stack = []
        self._device_stack = []      # tf.device(...) blocks: device strings or functions of the op
        self._finalized = False
        self.seed = None
        self._version = 0

    # -- ids, names and scopes
    def _next_id(self):
        self._version += 1
        return self._version

    version = property(lambda self: self._version)
    finalized = property(lambda self: self._finalized)

    def finalize(self):
        self._finalized = True

    def _unsafe_unfinalize(self):
        self._finalized = False

    def get_name_scope(self):
        return self._name_stack

    def unique_name(self, name, mark_as_used=True):
        """`name` under the current scope, suffixed `_1`, `_2`... when already taken (case-insensitive)."""
        if self._name_stack:
            name = self._name_stack + "/" + name
        key = name.lower()
        i = self._names_in_use.get(key, 0)
        if mark_as_used:
            self._names_in_use[key] = i + 1
        if i > 0:
            base = key
            while key in self._names_in_use:
                key = "%s_%d" % (base, i)
                i += 1
            if mark_as_used:
                self._names_in_use[key] = 1
            name = "%s_%d" % (name, i - 1)
        return name

    @contextlib.contextmanager
    def name_scope(self, name):
        old = self._name_stack
        if name:
            if isinstance(name, str) and name.endswith("/"):
                new = name[:-1]  # re-enter an existing scope exactly
            else:
                if not (_VALID_SCOPE_NAME if old else _VALID_OP_NAME).match(name):
                    raise ValueError("'%s' is not a valid scope name" % name)
                new = self.unique_name(name)
        else:
            new = ""
        self._name_stack = new
        try:
            yield "" if not new else new + "/"
        finally:
            self._name_stack = old

    # -- function graphs (framework/func_graph.py) override these
    def _captures_from(self, graph):
        """Whether ops created in this graph may take tensors of `graph` as inputs (a function graph
        captures them from its enclosing graphs); a plain graph never does."""
        return False

    def _may_use_directly(self, tensor):
        """Whether `tensor` of another graph may be an input as it is (a function graph reads an outer
        variable's storage directly, so that the function sees its current value)."""
        return False

    # -- default graph
    def as_default(self):
        # Inside a function being traced (a cond branch, a loop body), `with outer_graph.as_default():` keeps
        # the function graph: in TF 1.x the branch's ops were in that outer graph, so code written as
        # `with loss.graph.as_default():` (optimizers) means "the graph I am building", which is now the function.
        d = _default_graph_stack.get_default() if _default_graph_stack.stack else None
        if d is not None and d is not self and d._captures_from(self):
            return _default_graph_stack.get_controller(d)
        return _default_graph_stack.get_controller(self)

    # -- op creation
    def create_op(self, op_type, inputs, attrs=None, name=None, control_inputs=()):
        """Creates an Operation of a registered type; runs its static dtype/shape inference."""
        if self._finalized:
            raise RuntimeError("Graph is finalized and cannot be modified.")
        for t in inputs:
            if not isinstance(t, Tensor):
                raise TypeError("Input to op %r must be a Tensor, got %r" % (op_type, t))
            if t.graph is not self and not self._may_use_directly(t):
                raise ValueError("Tensor %s must be from the same graph as the op %r being created." % (t.name, op_type))
        name = name or op_type
        if name.endswith("/"):
            name = name[:-1]  # a scope name used verbatim: the scope already reserved it
        else:
            if not _VALID_OP_NAME.match(name):
                raise ValueError("'%s' is not a valid node name" % name)
            name = self.unique_name(name)
        # TF's rule: skip control ops that are already data inputs, and skip a whole
        # control_dependencies block when a data input was itself created inside it.
        ctrl = list(control_inputs)
        input_ops = {t.op for t in inputs}
        for frame in self._control_dependencies_stack:
            if input_ops & frame.seen:
                continue
            for c in frame.ops:
                if c not in ctrl and c not in input_ops:
                    ctrl.append(c)
        op = Operation(self, op_type, name, inputs, dict(attrs or {}), ctrl)
        if self._device_stack:
            op._device = _resolve_device(self._device_stack, op)
        self._ops.append(op)
        self._ops_by_name[name] = op
        for frame in self._control_dependencies_stack:
            frame.seen.add(op)
        return op

    @contextlib.contextmanager
    def control_dependencies(self, control_inputs):
        if control_inputs is None:
            saved, self._control_dependencies_stack = self._control_dependencies_stack, []
            try:
                yield
            finally:
                self._control_dependencies_stack = saved
            return
        ops = []
        for c in control_inputs:
            c = self.as_graph_element(c, allow_tensor=True, allow_operation=True)
            ops.append(c.op if isinstance(c, Tensor) else c)
        self._control_dependencies_stack.append(_ControlFrame(ops))
        try:
            yield
        finally:
            self._control_dependencies_stack.pop()

    # -- lookup
    def get_operations(self):
        return list(self._ops)

    def get_operation_by_name(self, name):
        if not isinstance(name, str):
            raise TypeError("Operation names are strings (or similar), not %s." % type(name).__name__)
        return self.as_graph_element(name, allow_tensor=False, allow_operation=True)

    def get_tensor_by_name(self, name):
        if not isinstance(name, str):
            raise TypeError("Tensor names are strings (or similar), not %s." % type(name).__name__)
        return self.as_graph_element(name, allow_tensor=True, allow_operation=False)

    def _get_op_or_none(self, name):
        return self._ops_by_name.get(name)

    def as_graph_element(self, obj, allow_tensor=True, allow_operation=True):
        """Resolves a Tensor, Operation, Variable or a name ('op' / 'op:0') to an element of this graph."""
        if hasattr(obj, "_as_graph_element"):
            obj = obj._as_graph_element()
        types = " or ".join(t for t, ok in (("Tensor", allow_tensor), ("Operation", allow_operation)) if ok)
        if isinstance(obj, str):
            if ":" in obj:
                op_name, _, idx = obj.rpartition(":")
                if not allow_tensor:
                    raise ValueError("Name %r appears to refer to a Tensor, not a %s." % (obj, types))
                try:
                    idx = int(idx)
                except ValueError:
                    raise ValueError("The name %r looks like a Tensor name, but is not a valid one. Tensor names "
                                     "must be of the form \"<op_name>:<output_index>\"." % obj) from None
                op = self._ops_by_name.get(op_name)
                if op is None:
                    raise KeyError("The name %r refers to a Tensor which does not exist. The operation, %r, "
                                   "does not exist in the graph." % (obj, op_name))
                if idx >= len(op._outputs):
                    raise KeyError("The name %r refers to a Tensor which does not exist. The operation, %r, "
                                   "exists but only has %d outputs." % (obj, op_name, len(op._outputs)))
                return op._outputs[idx]
            op = self._ops_by_name.get(obj)
            if not allow_operation:
                if op is not None:
                    raise ValueError("The name %r refers to an Operation, not a %s. Tensor names must be of the "
                                     "form \"<op_name>:<output_index>\"." % (obj, types))
                raise ValueError("The name %r looks a like a Tensor name, but is not a valid one." % obj)
            if op is None:
                raise KeyError("The name %r refers to an Operation not in the graph." % obj)
            return op
        if isinstance(obj, Tensor) and allow_tensor:
            if obj.graph is not self:
                raise ValueError("Tensor %s is not an element of this graph." % obj.name)
            return obj
        if isinstance(obj, Operation) and allow_operation:
            if obj.graph is not self:
                raise ValueError("Operation %s is not an element of this graph." % obj.name)
            return obj
        raise TypeError("Can not convert a %s into a %s." % (type(obj).__name__, types))

    # -- collections
    def add_to_collection(self, name, value):
        self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names, value):
        for n in ([names] if isinstance(names, str) else set(names)):
            self.add_to_collection(n, value)

    def get_collection_ref(self, name):
        return self._collections.setdefault(name, [])

    def get_collection(self, name, scope=None):
        items = self._collections.get(name, [])
        if scope is None:
            return list(items)
        rx = re.compile(scope)
        return [i for i in items if hasattr(i, "name") and rx.match(i.name)]

    def get_all_collection_keys(self):
        return [k for k, v in self._collections.items() if v]

    def clear_collection(self, name):
        self._collections.pop(name, None)

    # -- export
    def as_graph_def(self, from_version=None, add_shapes=False):
        """A tensorboard GraphDef proto of this graph (needs the `tensorboard` package)."""
        from nanotf.framework.graph_def import graph_to_graph_def
        graph_def = graph_to_graph_def(self, add_shapes=add_shapes)
        if any(op._type in ("While", "If", "WhileGrad", "IfGrad") for op in self._ops):
            from nanotf.framework.func_graph import add_function_nodes   # loop bodies and branches, for TensorBoard
            add_function_nodes(self, graph_def, add_shapes)
        return graph_def

    def _node_def(self, op):
        from nanotf.framework.graph_def import op_to_node_def
        return op_to_node_def(op, add_shapes=False)

    @property
    def graph_def_versions(self):
        return None

    def is_feedable(self, tensor):
        return True

    def is_fetchable(self, tensor_or_op):
        return True

    @contextlib.contextmanager
    def device(self, device_name_or_function):
        """Ops created inside get this device (a string such as '/gpu:0', a function of the op, or None to clear).

        Placement is recorded on each op (`op.device`) and checked when a Session runs it: see
        nanotf/framework/device.py for what runs where."""
        self._device_stack.append(device_name_or_function)
        try:
            yield
        finally:
            self._device_stack.pop()

    def colocate_with(self, op, ignore_existing=False):
        return contextlib.nullcontext()

    def gradient_override_map(self, op_type_map):
        return contextlib.nullcontext()


class _ControlFrame:
    """One `control_dependencies` block: its control ops and the ops created inside it."""

    __slots__ = ("ops", "seen")

    def __init__(self, ops):
        self.ops = ops
        self.seen = set()


class _DefaultGraphStack(threading.local):
    def __init__(self):
        self.stack = []
        self.global_default = None

    def get_default(self):
        if self.stack:
            return self.stack[-1]
        if self.global_default is None:
            self.global_default = Graph()
        return self.global_default

    def reset(self):
        if self.stack:
            raise AssertionError("Do not use tf.reset_default_graph() to clear nested graphs. If you need a "
                                 "cleared graph, exit the nesting and create a new graph.")
        self.global_default = Graph()

    @contextlib.contextmanager
    def get_controller(self, graph):
        self.stack.append(graph)
        try:
            yield graph
        finally:
            self.stack.pop()


_default_graph_stack = _DefaultGraphStack()


def get_default_graph():
    return _default_graph_stack.get_default()


def reset_default_graph():
    _default_graph_stack.reset()


def _graph_for(graph):
    """The graph new ops go to when their inputs live in `graph`: the default graph if it is `graph` or a
    function graph capturing from it (ops built while tracing a loop body go to the body), else `graph`."""
    d = get_default_graph()
    if graph is d or d._captures_from(graph):
        return d
    return graph


def _graph_of(values):
    for v in values or ():
        if isinstance(v, (Tensor, Operation)):
            return _graph_for(v.graph)
        if hasattr(v, "_as_graph_element"):
            return _graph_for(v._as_graph_element().graph)
    return get_default_graph()


@contextlib.contextmanager
def init_scope():
    """TF's init_scope: leaves every function graph being traced (a while_loop body, a cond branch) for
    the outermost graph, outside any control_dependencies block, keeping the current name scope. Variables
    and their initializers belong there (framework/func_graph.py also lifts them out by itself)."""
    d = get_default_graph()
    root = getattr(d, "_root", d)
    scope = d.get_name_scope()
    with _default_graph_stack.get_controller(root), root.control_dependencies(None), \
            root.name_scope(scope + "/" if scope else None):
        yield


@contextlib.contextmanager
def name_scope(name, default_name=None, values=None):
    """tf.name_scope(name, default_name=None, values=None): prefixes the names of ops created inside.

    Re-entering a name gives `name_1`, as in TensorFlow; a name ending in '/' re-enters that scope."""
    g = _graph_of(values) if values else get_default_graph()
    n = name if name is not None else default_name
    if name is None and default_name is None:
        n = None
    with g.as_default(), g.name_scope(n) as scope:
        yield scope



# -- devices: TF's "/job:J/replica:R/task:T/device:TYPE:N" strings, merged field by field
_DEVICE_FIELDS = ("job", "replica", "task", "type", "index")


def _parse_device(spec):
    """A device string as a dict of the fields it names; '/gpu:0' and '/device:GPU:0' are the same."""
    out = {}
    if not spec:
        return out
    if not isinstance(spec, str):
        raise TypeError("a device must be a string, a function or None, got %r" % (spec,))
    for part in spec.strip().strip("/").split("/"):
        if not part:
            continue
        bits = part.split(":")
        key = bits[0].lower()
        if key in ("job", "replica", "task") and len(bits) == 2:
            out[key] = bits[1] if key == "job" else int(bits[1])
        elif key == "device" and len(bits) in (2, 3):
            out["type"] = bits[1].upper()
            if len(bits) == 3 and bits[2] != "*":
                out["index"] = int(bits[2])
        elif len(bits) in (1, 2) and key.replace("_", "").isalpha():   # "cpu:0", "gpu", "xla_gpu:1"
            out["type"] = bits[0].upper()
            if len(bits) == 2 and bits[1] != "*":
                out["index"] = int(bits[1])
        else:
            raise ValueError("Cannot parse device specification: %r" % spec)
    return out


def _device_string(fields):
    s = ""
    for key in ("job", "replica", "task"):
        if key in fields:
            s += "/%s:%s" % (key, fields[key])
    if "type" in fields:
        s += "/device:%s:%s" % (fields["type"], fields.get("index", "*"))
    return s


def _merge_device(inner, outer):
    """`inner`'s fields over `outer`'s (TF: a nested tf.device refines the enclosing one)."""
    fields = _parse_device(outer)
    new = _parse_device(inner)
    if "type" in new and "index" not in new:
        fields.pop("index", None)
    fields.update(new)
    return _device_string(fields)


def _resolve_device(stack, op):
    dev = ""
    for d in stack:
        if d is None:
            dev = ""
        elif callable(d):
            dev = _merge_device(d(op) or "", "")
        else:
            dev = _merge_device(getattr(d, "to_string", lambda: d)(), dev)
    return dev


def device(device_name_or_function):
    """tf.device: a context in which new ops are placed on a device (string, function of the op, or None)."""
    return get_default_graph().device(device_name_or_function)


def control_dependencies(control_inputs):
    return get_default_graph().control_dependencies(control_inputs)


def add_to_collection(name, value):
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names, value):
    get_default_graph().add_to_collections(names, value)


def get_collection(key, scope=None):
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key):
    return get_default_graph().get_collection_ref(key)


def create_op(op_type, inputs, attrs=None, name=None):
    """Creates an op in the graph of its inputs (else the default graph); returns the Operation."""
    g = _graph_for(inputs[0].graph) if inputs else get_default_graph()
    return g.create_op(op_type, inputs, attrs, name)


def apply_op(op_type, inputs, attrs=None, name=None):
    """Creates an op and returns its single output Tensor (or the op itself when it has none)."""
    op = create_op(op_type, inputs, attrs, name)
    outs = op._outputs
    if len(outs) == 1:
        return outs[0]
    return op if not outs else tuple(outs)


# -- conversion of Python / NumPy values and Variables to Tensors
def convert_to_tensor(value, dtype=None, name=None, preferred_dtype=None, dtype_hint=None):
    """Returns `value` as a Tensor: Tensors pass through (dtype checked), Variables give their value,
    Python and NumPy values become constants."""
    if dtype is not None:
        dtype = _dtypes.as_dtype(dtype)
    if isinstance(value, Tensor):
        if dtype is not None and value.dtype is not dtype:
            raise ValueError("Tensor conversion requested dtype %s for Tensor with dtype %s: %r"
                             % (dtype.name, value.dtype.name, value))
        return value
    if hasattr(value, "_as_tensor"):
        t = value._as_tensor()
        if dtype is not None and t.dtype is not dtype:
            raise ValueError("Tensor conversion requested dtype %s for Tensor with dtype %s: %r"
                             % (dtype.name, t.dtype.name, t))
        return t
    if isinstance(value, Operation):
        raise TypeError("Can't convert Operation '%s' to Tensor (target dtype=%s, name=%s)"
                        % (value.name, dtype, name))
    if isinstance(value, (list, tuple)) and _holds_tensor(value):
        from nanotf.ops.array_ops import _autopack
        return _autopack(value, dtype, name or "packed")
    from nanotf.ops.array_ops import constant
    hint = preferred_dtype or dtype_hint
    if dtype is None and hint is not None:
        try:
            return constant(value, dtype=hint, name=name or "Const")
        except (TypeError, ValueError):
            pass
    return constant(value, dtype=dtype, name=name or "Const")


def _holds_tensor(value):
    """Whether a nested list/tuple holds a Tensor (or an object with `_as_tensor`) anywhere."""
    return any(_holds_tensor(v) if isinstance(v, (list, tuple)) else isinstance(v, Tensor) or hasattr(v, "_as_tensor")
               for v in value)


def convert_n_to_tensor(values, dtype=None, name=None):
    return [convert_to_tensor(v, dtype=dtype) for v in values]


def is_tensor(x):
    return isinstance(x, Tensor)
