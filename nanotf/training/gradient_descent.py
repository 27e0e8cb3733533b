"""tf.train.GradientDescentOptimizer."""
from nanotf.training import training_ops
from nanotf.training.optimizer import Optimizer


class GradientDescentOptimizer(Optimizer):
    """GradientDescentOptimizer(learning_rate, use_locking=False, name='GradientDescent').

    Update per step (one ApplyGradientDescent op per variable): var -= learning_rate * grad.
    `learning_rate` is a float, a Tensor (e.g. from tf.train.exponential_decay) or a callable.
    No slots.
    """

    _hyper_params = (("_learning_rate", "learning_rate"),)

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate

    def _apply_dense(self, grad, var):
        lr, = self._hyper(var.dtype.base_dtype)
        return training_ops.apply_gradient_descent(var._variable, lr, grad, use_locking=self._use_locking).op
