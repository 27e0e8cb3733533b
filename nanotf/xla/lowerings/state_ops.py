"""Lowerings of variable updates (nanotf/ops/state_ops.py, nanotf/training/training_ops.py) and NoOp.

Ref inputs arrive as the variables' current values; each lowering returns the new values of its ref inputs
(one value, or a tuple in ref order). The executable stores them as the variables' new values and uses the
first as the op's output. VariableV2 and IsVariableInitialized are handled by the executable itself (they
read the executable's variable state, not values)."""
import numpy as np

from nanotf.xla.lowerings._registry import jnp, register


def lower_NoOp(op, *inputs):
    return ()


def lower_Assign(op, ref, value):
    return jnp.asarray(value).astype(np.dtype(op._outputs[0].dtype.as_numpy_dtype))


def lower_AssignAdd(op, ref, value):
    return ref + value


def lower_AssignSub(op, ref, value):
    return ref - value


def lower_ApplyGradientDescent(op, var, alpha, delta):
    return var - alpha * delta


def lower_ApplyMomentum(op, var, accum, lr, grad, momentum):
    accum = accum * momentum + grad
    if op._attrs.get("use_nesterov", False):
        return var - (accum * momentum + grad) * lr, accum
    return var - accum * lr, accum


def lower_ApplyAdam(op, var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad):
    alpha = lr * jnp.sqrt(1 - beta2_power) / (1 - beta1_power)
    m = m + (grad - m) * (1 - beta1)
    v = v + (grad * grad - v) * (1 - beta2)
    num = beta1 * m + (1 - beta1) * grad if op._attrs.get("use_nesterov", False) else m
    return var - num / (jnp.sqrt(v) + epsilon) * alpha, m, v


def lower_ApplyAdagrad(op, var, accum, lr, grad):
    accum = accum + grad * grad
    return var - grad / jnp.sqrt(accum) * lr, accum


def _rms(var, ms, mom, mg, lr, rho, momentum, epsilon, grad):
    ms = ms + (grad * grad - ms) * (1 - rho)
    if mg is not None:
        mg = mg + (grad - mg) * (1 - rho)
        denom = ms - mg * mg + epsilon
    else:
        denom = ms + epsilon
    mom = mom * momentum + grad / jnp.sqrt(denom) * lr
    return var - mom, ms, mom, mg


def lower_ApplyRMSProp(op, var, ms, mom, lr, rho, momentum, epsilon, grad):
    var, ms, mom, _ = _rms(var, ms, mom, None, lr, rho, momentum, epsilon, grad)
    return var, ms, mom


def lower_ApplyCenteredRMSProp(op, var, mg, ms, mom, lr, rho, momentum, epsilon, grad):
    var, ms, mom, mg = _rms(var, ms, mom, mg, lr, rho, momentum, epsilon, grad)
    return var, mg, ms, mom


def lower_ApplyAdadelta(op, var, accum, accum_update, lr, rho, epsilon, grad):
    accum = accum * rho + grad * grad * (1 - rho)
    update = jnp.sqrt((accum_update + epsilon) / (accum + epsilon)) * grad
    accum_update = accum_update * rho + update * update * (1 - rho)
    return var - update * lr, accum, accum_update


_UPDATES = ("Assign", "AssignAdd", "AssignSub", "ApplyGradientDescent", "ApplyMomentum", "ApplyAdam",
            "ApplyAdagrad", "ApplyRMSProp", "ApplyCenteredRMSProp", "ApplyAdadelta")
register(globals(), updates_refs=_UPDATES)
__all__ = []
