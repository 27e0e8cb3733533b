"""tf.train.AdamOptimizer (TF1's formulation, epsilon outside the square root)."""
from nanotf.framework.ops import control_dependencies, get_default_graph
from nanotf.ops import control_flow_ops
from nanotf.ops.math_ops import cast
from nanotf.training import training_ops
from nanotf.training.optimizer import Optimizer


class AdamOptimizer(Optimizer):
    """AdamOptimizer(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08, use_locking=False, name='Adam').

    State: slots `m` and `v` (zeros, variables `<var>/Adam` and `<var>/Adam_1`) and the non-slot
    variables `beta1_power` and `beta2_power` (float32, starting at beta1 and beta2, shared by all
    variables). Step t (t = 1, 2, ...), one ApplyAdam op per variable:
        lr_t = learning_rate * sqrt(1 - beta2^t) / (1 - beta1^t)
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad^2
        var -= lr_t * m / (sqrt(v) + epsilon)
    then, after every variable update, beta1_power *= beta1 and beta2_power *= beta2.
    """

    _hyper_params = (("_lr", "learning_rate"), ("_beta1", "beta1"), ("_beta2", "beta2"), ("_epsilon", "epsilon"))

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, use_locking=False, name="Adam"):
        super().__init__(use_locking, name)
        self._lr, self._beta1, self._beta2, self._epsilon = learning_rate, beta1, beta2, epsilon

    def _get_beta_accumulators(self):
        graph = get_default_graph()
        return (self._get_non_slot_variable("beta1_power", graph=graph),
                self._get_non_slot_variable("beta2_power", graph=graph))

    def _create_slots(self, var_list):
        # The beta powers live next to the first variable by name, as in TF (this fixes their creation order).
        first_var = min(var_list, key=lambda v: v.name)
        self._create_non_slot_variable(initial_value=self._beta1, name="beta1_power", colocate_with=first_var)
        self._create_non_slot_variable(initial_value=self._beta2, name="beta2_power", colocate_with=first_var)
        for v in var_list:
            self._zeros_slot(v, "m", self._name)
            self._zeros_slot(v, "v", self._name)

    def _apply_dense(self, grad, var):
        dtype = var.dtype.base_dtype
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        powers = [cast(p, dtype) for p in self._get_beta_accumulators()]
        return training_ops.apply_adam(var._variable, m._variable, v._variable, *powers, *self._hyper(dtype), grad,
                                       use_locking=self._use_locking).op

    def _finish(self, update_ops, name_scope):
        # The beta powers advance only after every variable has used this step's values.
        with control_dependencies(update_ops):
            beta1_power, beta2_power = self._get_beta_accumulators()
            beta1, beta2 = self._hyper_tensors["_beta1"], self._hyper_tensors["_beta2"]
            locking = self._use_locking
            update_beta1 = beta1_power.assign(beta1_power * cast(beta1, beta1_power.dtype), use_locking=locking)
            update_beta2 = beta2_power.assign(beta2_power * cast(beta2, beta2_power.dtype), use_locking=locking)
        return control_flow_ops.group(*update_ops + [update_beta1, update_beta2], name=name_scope)
