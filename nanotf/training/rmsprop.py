"""tf.train.RMSPropOptimizer (TF1: the mean-square slot starts at ONES, epsilon inside the root)."""
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

    _hyper_params = (("_learning_rate", "learning_rate"), ("_decay", "decay"), ("_momentum", "momentum"),
                     ("_epsilon", "epsilon"))

    def __init__(self, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10, use_locking=False, centered=False,
                 name="RMSProp"):
        super().__init__(use_locking, name)
        self._learning_rate, self._decay, self._momentum = learning_rate, decay, momentum
        self._epsilon, self._centered = epsilon, centered

    def _create_slots(self, var_list):
        for v in var_list:
            self._filled_slot(v, 1, "rms", self._name, "ones")
            if self._centered:
                self._zeros_slot(v, "mg", self._name)
            self._zeros_slot(v, "momentum", self._name)

    def _apply_dense(self, grad, var):
        rms, mom = self.get_slot(var, "rms"), self.get_slot(var, "momentum")
        hyper = self._hyper(var.dtype.base_dtype)
        if self._centered:
            mg = self.get_slot(var, "mg")
            return training_ops.apply_centered_rms_prop(var._variable, mg._variable, rms._variable, mom._variable,
                                                        *hyper, grad, use_locking=self._use_locking).op
        return training_ops.apply_rms_prop(var._variable, rms._variable, mom._variable, *hyper, grad,
                                           use_locking=self._use_locking).op
