"""tf.train.AdadeltaOptimizer."""
from nanotf.training import training_ops
from nanotf.training.optimizer import Optimizer


class AdadeltaOptimizer(Optimizer):
    """AdadeltaOptimizer(learning_rate=0.001, rho=0.95, epsilon=1e-08, use_locking=False, name='Adadelta').

    Slots `accum` and `accum_update` (zeros; variables `<var>/Adadelta`, `<var>/Adadelta_1`). Per
    step, one ApplyAdadelta op per variable:
        accum = rho * accum + (1 - rho) * grad^2
        update = sqrt(accum_update + epsilon) / sqrt(accum + epsilon) * grad
        accum_update = rho * accum_update + (1 - rho) * update^2
        var -= learning_rate * update
    """

    _hyper_params = (("_lr", "lr"), ("_rho", "rho"), ("_epsilon", "epsilon"))

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-8, use_locking=False, name="Adadelta"):
        super().__init__(use_locking, name)
        self._lr, self._rho, self._epsilon = learning_rate, rho, epsilon

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "accum", self._name)
            self._zeros_slot(v, "accum_update", self._name)

    def _apply_dense(self, grad, var):
        accum, accum_update = self.get_slot(var, "accum"), self.get_slot(var, "accum_update")
        return training_ops.apply_adadelta(var._variable, accum._variable, accum_update._variable,
                                           *self._hyper(var.dtype.base_dtype), grad, use_locking=self._use_locking).op
