"""tf.train.MomentumOptimizer."""
from nanotf.framework.ops import convert_to_tensor
from nanotf.ops.math_ops import cast
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

    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum", use_nesterov=False):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._momentum = momentum
        self._use_nesterov = use_nesterov
        self._learning_rate_tensor = None
        self._momentum_tensor = None

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "momentum", self._name)

    def _prepare(self):
        self._learning_rate_tensor = convert_to_tensor(self._call_if_callable(self._learning_rate),
                                                       name="learning_rate")
        self._momentum_tensor = convert_to_tensor(self._call_if_callable(self._momentum), name="momentum")

    def _apply_dense(self, grad, var):
        dtype = var.dtype.base_dtype
        accum = self.get_slot(var, "momentum")
        return training_ops.apply_momentum(
            var._variable, accum._variable, cast(self._learning_rate_tensor, dtype), grad,
            cast(self._momentum_tensor, dtype), use_locking=self._use_locking,
            use_nesterov=self._use_nesterov).op
