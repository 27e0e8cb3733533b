"""tf.train.RMSPropOptimizer (TF1: the mean-square slot starts at ONES, epsilon inside the root)."""
from nanotf.framework.ops import convert_to_tensor
from nanotf.ops.math_ops import cast
from nanotf.training import training_ops
from nanotf.training.optimizer import Optimizer


class RMSPropOptimizer(Optimizer):
    """RMSPropOptimizer(learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10, use_locking=False,
    centered=False, name='RMSProp').

    Slots: `rms` (ONES, as TF1 initializes it; variable `<var>/RMSProp`), `mg` when centered (zeros,
    `<var>/RMSProp_1`) and `momentum` (zeros, the next `<var>/RMSProp_<n>`). Per step, one
    ApplyRMSProp (or ApplyCenteredRMSProp) op per variable:
        ms = decay * ms + (1 - decay) * grad^2
        mom = momentum * mom + learning_rate * grad / sqrt(ms + epsilon)
        var -= mom
    centered=True also tracks mg = decay * mg + (1 - decay) * grad and divides by
    sqrt(ms - mg^2 + epsilon).
    """

    def __init__(self, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10, use_locking=False, centered=False,
                 name="RMSProp"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._decay = decay
        self._momentum = momentum
        self._epsilon = epsilon
        self._centered = centered
        self._learning_rate_tensor = self._decay_tensor = self._momentum_tensor = self._epsilon_tensor = None

    def _create_slots(self, var_list):
        for v in var_list:
            self._filled_slot(v, 1, "rms", self._name, "ones")
            if self._centered:
                self._zeros_slot(v, "mg", self._name)
            self._zeros_slot(v, "momentum", self._name)

    def _prepare(self):
        self._learning_rate_tensor = convert_to_tensor(self._call_if_callable(self._learning_rate),
                                                       name="learning_rate")
        self._decay_tensor = convert_to_tensor(self._call_if_callable(self._decay), name="decay")
        self._momentum_tensor = convert_to_tensor(self._call_if_callable(self._momentum), name="momentum")
        self._epsilon_tensor = convert_to_tensor(self._call_if_callable(self._epsilon), name="epsilon")

    def _apply_dense(self, grad, var):
        dtype = var.dtype.base_dtype
        rms, mom = self.get_slot(var, "rms"), self.get_slot(var, "momentum")
        hyper = (cast(self._learning_rate_tensor, dtype), cast(self._decay_tensor, dtype),
                 cast(self._momentum_tensor, dtype), cast(self._epsilon_tensor, dtype))
        if self._centered:
            mg = self.get_slot(var, "mg")
            return training_ops.apply_centered_rms_prop(var._variable, mg._variable, rms._variable, mom._variable,
                                                        *hyper, grad, use_locking=self._use_locking).op
        return training_ops.apply_rms_prop(var._variable, rms._variable, mom._variable, *hyper, grad,
                                           use_locking=self._use_locking).op
