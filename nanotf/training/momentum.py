"""tf.train.MomentumOptimizer."""
from nanotf.training import training_ops
from nanotf.training.optimizer import Optimizer


class MomentumOptimizer(Optimizer):
    """MomentumOptimizer(learning_rate, momentum, use_locking=False, name='Momentum', use_nesterov=False).

    Update per step (one ApplyMomentum op per variable), with the slot `momentum` (zeros, variable
    `<var>/Momentum`):
        accum = momentum * accum + grad
        var -= learning_rate * accum
    use_nesterov=True: var -= learning_rate * (grad + momentum * accum).
    `learning_rate` and `momentum` may be floats, Tensors or callables.
    """

    _hyper_params = (("_learning_rate", "learning_rate"), ("_momentum", "momentum"))

    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum", use_nesterov=False):
        super().__init__(use_locking, name)
        self._learning_rate, self._momentum, self._use_nesterov = learning_rate, momentum, use_nesterov

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "momentum", self._name)

    def _apply_dense(self, grad, var):
        accum = self.get_slot(var, "momentum")
        lr, momentum = self._hyper(var.dtype.base_dtype)
        return training_ops.apply_momentum(var._variable, accum._variable, lr, grad, momentum,
                                           use_locking=self._use_locking, use_nesterov=self._use_nesterov).op
