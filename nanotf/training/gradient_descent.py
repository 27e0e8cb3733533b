"""tf.train.GradientDescentOptimizer."""
from nanotf.framework.ops import convert_to_tensor
from nanotf.ops.math_ops import cast
from nanotf.training import training_ops
from nanotf.training.optimizer import Optimizer


class GradientDescentOptimizer(Optimizer):
    """GradientDescentOptimizer(learning_rate, use_locking=False, name='GradientDescent').

    Update per step (one ApplyGradientDescent op per variable): var -= learning_rate * grad.
    `learning_rate` is a float, a Tensor (e.g. from tf.train.exponential_decay) or a callable.
    No slots.
    """

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._learning_rate_tensor = None

    def _prepare(self):
        lr = self._call_if_callable(self._learning_rate)
        self._learning_rate_tensor = convert_to_tensor(lr, name="learning_rate")

    def _apply_dense(self, grad, var):
        lr = cast(self._learning_rate_tensor, var.dtype.base_dtype)
        return training_ops.apply_gradient_descent(var._variable, lr, grad, use_locking=self._use_locking).op
