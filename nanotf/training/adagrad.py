"""tf.train.AdagradOptimizer."""
from nanotf.training import training_ops
from nanotf.training.optimizer import Optimizer


class AdagradOptimizer(Optimizer):
    """AdagradOptimizer(learning_rate, initial_accumulator_value=0.1, use_locking=False, name='Adagrad').

    Slot `accumulator` (variable `<var>/Adagrad`, starting at initial_accumulator_value, which
    must be positive). Per step, one ApplyAdagrad op per variable:
        accum += grad^2
        var -= learning_rate * grad / sqrt(accum)
    """

    _hyper_params = (("_learning_rate", "learning_rate"),)

    def __init__(self, learning_rate, initial_accumulator_value=0.1, use_locking=False, name="Adagrad"):
        if initial_accumulator_value <= 0.0:
            raise ValueError("initial_accumulator_value must be positive: %s" % initial_accumulator_value)
        super().__init__(use_locking, name)
        self._learning_rate, self._initial_accumulator_value = learning_rate, initial_accumulator_value

    def _create_slots(self, var_list):
        for v in var_list:
            self._filled_slot(v, self._initial_accumulator_value, "accumulator", self._name, "Const")

    def _apply_dense(self, grad, var):
        acc = self.get_slot(var, "accumulator")
        lr, = self._hyper(var.dtype.base_dtype)
        return training_ops.apply_adagrad(var._variable, acc._variable, lr, grad, use_locking=self._use_locking).op
