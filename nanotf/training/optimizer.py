"""tf.train.Optimizer: the base class that turns a loss into a training op (TF1 semantics).

minimize() = compute_gradients() (tf.gradients w.r.t. the trainable variables) + apply_gradients():
slot variables are created first (outside any control dependency, at the root name scope, so
they are named `<var>/<Optimizer>`), then under the scope `<Optimizer>` one fused update op per
variable (scope `update_<var>`), grouped into one op; with a global_step, that group is named
`update` and the returned op is the AssignAdd of global_step, which runs after every update.
Subclasses implement `_create_slots`, `_prepare` and `_apply_dense` as in TensorFlow.
"""
from nanotf.framework import dtypes
from nanotf.framework.ops import GraphKeys, Tensor, convert_to_tensor, get_default_graph, name_scope
from nanotf.ops import array_ops, control_flow_ops, state_ops
from nanotf.ops.math_ops import cast
from nanotf.ops.gradients_impl import gradients
from nanotf.ops.variables import Variable, trainable_variables

__all__ = ["Optimizer"]

_VALID_DTYPES = (dtypes.float16, dtypes.float32, dtypes.float64)


def _var_key(var):
    """Slots are keyed by the variable's VariableV2 op (one per variable, hashable by identity)."""
    return var.op


def _is_variable(v):
    return isinstance(v, Variable) or hasattr(v, "_variable")


class Optimizer:
    """Base class of the optimizers: Optimizer(use_locking, name).

    Subclass API (as in TensorFlow): `_create_slots(var_list)`, `_prepare()`,
    `_apply_dense(grad, var)` returning the update Operation, `_finish(update_ops, name_scope)`.
    """

    GATE_NONE = 0
    GATE_OP = 1
    GATE_GRAPH = 2

    def __init__(self, use_locking, name):
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._use_locking = use_locking
        self._name = name
        self._slots = {}                # slot name -> {VariableV2 op -> slot Variable}
        self._non_slot_dict = {}        # (name, graph) -> Variable (e.g. Adam's beta1_power)

    def get_name(self):
        return self._name

    # -- the three public steps
    def minimize(self, loss, global_step=None, var_list=None, gate_gradients=GATE_OP, aggregation_method=None,
                 colocate_gradients_with_ops=False, name=None, grad_loss=None):
        """compute_gradients + apply_gradients; returns the training Operation."""
        grads_and_vars = self.compute_gradients(
            loss, var_list=var_list, gate_gradients=gate_gradients, aggregation_method=aggregation_method,
            colocate_gradients_with_ops=colocate_gradients_with_ops, grad_loss=grad_loss)
        if not any(g is not None for g, _ in grads_and_vars):
            raise ValueError("No gradients provided for any variable, check your graph for ops that do not "
                             "support gradients, between variables %s and loss %s."
                             % ([str(v) for _, v in grads_and_vars], loss))
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def compute_gradients(self, loss, var_list=None, gate_gradients=GATE_OP, aggregation_method=None,
                          colocate_gradients_with_ops=False, grad_loss=None):
        """A list of (gradient, variable) pairs; the gradient is None where the loss does not depend on it."""
        if not isinstance(loss, Tensor):
            if not hasattr(loss, "_as_tensor"):
                raise TypeError("loss must be a Tensor, got %r of type %s" % (loss, type(loss).__name__))
            loss = loss._as_tensor()
        if gate_gradients not in (Optimizer.GATE_NONE, Optimizer.GATE_OP, Optimizer.GATE_GRAPH):
            raise ValueError("gate_gradients must be one of: Optimizer.GATE_NONE, Optimizer.GATE_OP, "
                             "Optimizer.GATE_GRAPH.  Not %s" % gate_gradients)
        self._assert_valid_dtypes([loss])
        if grad_loss is not None:
            grad_loss = convert_to_tensor(grad_loss)
            self._assert_valid_dtypes([grad_loss])
        if var_list is None:
            with loss.graph.as_default():
                var_list = trainable_variables()
        else:
            var_list = list(_flatten(var_list))
        for v in var_list:
            if not _is_variable(v):
                raise NotImplementedError("Trying to optimize unsupported type %r: var_list must hold "
                                          "tf.Variable objects" % (v,))
        if not var_list:
            raise ValueError("No variables to optimize.")
        grads = gradients(loss, var_list, grad_ys=grad_loss, gate_gradients=(gate_gradients == Optimizer.GATE_OP),
                          aggregation_method=aggregation_method,
                          colocate_gradients_with_ops=colocate_gradients_with_ops)
        if gate_gradients == Optimizer.GATE_GRAPH:
            with loss.graph.as_default():
                grads = control_flow_ops.tuple(grads)
        grads_and_vars = list(zip(grads, var_list))
        self._assert_valid_dtypes([v for g, v in grads_and_vars if g is not None])
        return grads_and_vars

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """One fused update op per (gradient, variable) with a gradient; returns the training Operation."""
        grads_and_vars = tuple(grads_and_vars)
        if not grads_and_vars:
            raise ValueError("No variables provided.")
        converted = []
        for g, v in grads_and_vars:
            if not _is_variable(v):
                raise NotImplementedError("Trying to update unsupported type %r: apply_gradients needs "
                                          "(gradient, tf.Variable) pairs" % (v,))
            if g is not None:
                try:
                    g = convert_to_tensor(g)
                except (TypeError, ValueError):
                    raise TypeError("Gradient must be convertible to a Tensor or IndexedSlices, or None: %s"
                                    % (g,)) from None
                if not isinstance(g, Tensor):
                    raise TypeError("Gradient must be a Tensor, IndexedSlices, or None: %s" % (g,))
            converted.append((g, v))
        var_list = [v for g, v in converted if g is not None]
        if not var_list:
            raise ValueError("No gradients provided for any variable: %s." % ([str(v) for _, v in converted],))
        graph = var_list[0].graph
        with graph.as_default():
            # Slots must not depend on whatever control context the caller is in (they are
            # initialized by the init op, not by the training step).
            with graph.control_dependencies(None):
                self._create_slots(var_list)
            update_ops = []
            with name_scope(name, self._name) as scope:
                self._prepare()
                for g, v in converted:
                    if g is None:
                        continue
                    with name_scope("update_" + v.op.name):
                        update_ops.append(self._apply_dense(g, v))
                if global_step is None:
                    apply_updates = self._finish(update_ops, scope)
                else:
                    with graph.control_dependencies([self._finish(update_ops, "update")]):
                        one = convert_to_tensor(1, dtype=global_step.dtype, name="value")
                        apply_updates = state_ops.assign_add(global_step, one, name=scope)
            if isinstance(apply_updates, Tensor):
                apply_updates = apply_updates.op
            train_ops = graph.get_collection_ref(GraphKeys.TRAIN_OP)
            if apply_updates not in train_ops:
                train_ops.append(apply_updates)
        return apply_updates

    # -- slots
    def get_slot(self, var, name):
        """The slot variable `name` (see get_slot_names) created for `var`, or None."""
        named_slots = self._slots.get(name)
        if not named_slots:
            return None
        return named_slots.get(_var_key(var))

    def get_slot_names(self):
        return sorted(self._slots)

    def variables(self):
        """This optimizer's variables (slots and e.g. Adam's beta powers) in the default graph, by name."""
        graph = get_default_graph()
        found = [v for (_, g), v in self._non_slot_dict.items() if g is graph]
        for slots in self._slots.values():
            found.extend(v for v in slots.values() if v.graph is graph)
        return sorted(found, key=lambda v: v.name)

    # -- subclass hooks
    def _create_slots(self, var_list):
        pass

    # (attribute holding a hyper-parameter, name of its Tensor), converted by _prepare in this order
    _hyper_params = ()

    def _prepare(self):
        """Each hyper-parameter (a float, a Tensor or a callable giving one) as a Tensor, once per apply."""
        self._hyper_tensors = {attr: convert_to_tensor(self._call_if_callable(getattr(self, attr)), name=name)
                               for attr, name in self._hyper_params}

    def _hyper(self, dtype):
        """The hyper-parameter Tensors, in `_hyper_params` order, cast to a variable's dtype."""
        return [cast(self._hyper_tensors[attr], dtype) for attr, _ in self._hyper_params]

    def _apply_dense(self, grad, var):
        raise NotImplementedError("%s must implement _apply_dense(grad, var)" % type(self).__name__)

    def _finish(self, update_ops, name_scope):
        return control_flow_ops.group(*update_ops, name=name_scope)

    # -- helpers for subclasses (TF's names)
    @staticmethod
    def _call_if_callable(param):
        return param() if callable(param) else param

    def _slot_dict(self, slot_name):
        return self._slots.setdefault(slot_name, {})

    def _zeros_slot(self, var, slot_name, op_name):
        """A slot of zeros shaped like `var`, named `<var>/<op_name>` (uniquified: `_1`, `_2`...)."""
        named_slots = self._slot_dict(slot_name)
        key = _var_key(var)
        if key not in named_slots:
            named_slots[key] = _create_slot_var(var, lambda: _filled_like(var, 0, "zeros"), op_name)
        return named_slots[key]

    def _filled_slot(self, var, value, slot_name, op_name, const_name):
        """A slot filled with the constant `value` (e.g. RMSProp's rms starts at ones)."""
        named_slots = self._slot_dict(slot_name)
        key = _var_key(var)
        if key not in named_slots:
            named_slots[key] = _create_slot_var(var, lambda: _filled_like(var, value, const_name), op_name)
        return named_slots[key]

    def _get_or_make_slot(self, var, val, slot_name, op_name):
        """A slot initialized to the Tensor `val`."""
        named_slots = self._slot_dict(slot_name)
        key = _var_key(var)
        if key not in named_slots:
            named_slots[key] = _create_slot_var(var, val, op_name)
        return named_slots[key]

    def _get_or_make_slot_with_initializer(self, var, initializer, shape, dtype, slot_name, op_name):
        """A slot initialized by `initializer(shape, dtype=dtype)` (a TF initializer) or a Tensor."""
        named_slots = self._slot_dict(slot_name)
        key = _var_key(var)
        if key not in named_slots:
            if isinstance(initializer, Tensor):
                init = initializer
            else:
                def init():
                    return initializer(shape.as_list() if hasattr(shape, "as_list") else list(shape), dtype=dtype)
            named_slots[key] = _create_slot_var(var, init, op_name, dtype=dtype)
        return named_slots[key]

    def _create_non_slot_variable(self, initial_value, name, colocate_with):
        """One variable per graph shared by all updates (e.g. Adam's beta1_power), not trainable."""
        graph = colocate_with.graph
        key = (name, graph)
        v = self._non_slot_dict.get(key)
        if v is None:
            with graph.as_default(), graph.control_dependencies(None):
                v = Variable(initial_value, name=name, trainable=False)
            self._non_slot_dict[key] = v
        return v

    def _get_non_slot_variable(self, name, graph=None):
        return self._non_slot_dict.get((name, graph if graph is not None else get_default_graph()))

    def _valid_dtypes(self):
        return set(_VALID_DTYPES)

    def _assert_valid_dtypes(self, tensors):
        valid = self._valid_dtypes()
        for t in tensors:
            dtype = t.dtype.base_dtype
            if dtype not in valid:
                raise ValueError("Invalid type %r for %s, expected: %s."
                                 % (dtype, t.name, [v for v in sorted(valid, key=lambda d: d.name)]))


def _flatten(items):
    if isinstance(items, (list, tuple, set)):
        for i in items:
            yield from _flatten(i)
    else:
        yield items


def _filled_like(var, value, const_name):
    """The initial value of a slot: a constant when var's shape is known, else filled at run time."""
    dtype = var.dtype.base_dtype
    if var.get_shape().is_fully_defined():
        return array_ops.constant(value, dtype=dtype, shape=var.get_shape().as_list(), name=const_name)
    return array_ops.fill(array_ops.shape(var.initialized_value()),
                          array_ops.constant(value, dtype=dtype), name=const_name)


def _create_slot_var(primary, initial_value, op_name, dtype=None):
    """A non-trainable Variable named `<primary>/<op_name>` at the root name scope, as TF's slot_creator names
    them; created outside any control dependency so that initializing it needs nothing else."""
    graph = primary.graph
    with graph.as_default(), graph.control_dependencies(None), graph.name_scope(None):
        slot = Variable(initial_value, name=primary.op.name + "/" + op_name, trainable=False,
                        dtype=dtype)
    return slot


# The concrete optimizers live in their own modules and are exported from here (tf.train.*).
from nanotf.training.gradient_descent import GradientDescentOptimizer  # noqa: E402
from nanotf.training.momentum import MomentumOptimizer  # noqa: E402
from nanotf.training.adam import AdamOptimizer  # noqa: E402
from nanotf.training.adagrad import AdagradOptimizer  # noqa: E402
from nanotf.training.rmsprop import RMSPropOptimizer  # noqa: E402
from nanotf.training.adadelta import AdadeltaOptimizer  # noqa: E402

__all__ += ["GradientDescentOptimizer", "MomentumOptimizer", "AdamOptimizer", "AdagradOptimizer",
            "RMSPropOptimizer", "AdadeltaOptimizer"]
