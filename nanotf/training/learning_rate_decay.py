"""Learning-rate schedules as graph ops of the global step (TF1's tf.train.*_decay).

Each returns a Tensor recomputed on every Session.run, so passing it as an optimizer's
learning_rate makes the schedule advance with global_step. The global step is cast to the
learning rate's dtype. Ops beyond + - * / (pow, floor, exp...) come from math_ops, looked
up at call time so a missing one is reported by name.
"""
from nanotf.framework.ops import convert_to_tensor, convert_n_to_tensor, name_scope
from nanotf.framework import dtypes
from nanotf.ops import math_ops

__all__ = ["exponential_decay", "inverse_time_decay", "natural_exp_decay", "polynomial_decay",
           "piecewise_constant"]


def _math(op_name):
    fn = getattr(math_ops, op_name, None)
    if fn is None:
        raise NotImplementedError("this learning-rate schedule needs math_ops.%s, which nanotf does not define yet"
                                  % op_name)
    return fn


def _require_step(global_step, schedule):
    if global_step is None:
        raise ValueError("global_step is required for %s." % schedule)


def _decayed_progress(learning_rate, global_step, decay_steps, decay_rate, staircase):
    """(learning_rate tensor, decay_rate cast, p = global_step / decay_steps, floored when staircase)."""
    learning_rate = convert_to_tensor(learning_rate, name="learning_rate")
    dtype = learning_rate.dtype
    decay_steps = math_ops.cast(decay_steps, dtype)
    decay_rate = math_ops.cast(decay_rate, dtype)
    p = math_ops.cast(global_step, dtype) / decay_steps
    if staircase:
        p = _math("floor")(p)
    return learning_rate, decay_rate, p


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """learning_rate * decay_rate ^ (global_step / decay_steps); the exponent is floored when staircase."""
    _require_step(global_step, "exponential_decay")
    with name_scope(name, "ExponentialDecay") as scope:
        lr, rate, p = _decayed_progress(learning_rate, global_step, decay_steps, decay_rate, staircase)
        return math_ops.multiply(lr, _math("pow")(rate, p), name=scope)


def inverse_time_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """learning_rate / (1 + decay_rate * global_step / decay_steps) (the ratio floored when staircase)."""
    _require_step(global_step, "inverse_time_decay")
    with name_scope(name, "InverseTimeDecay") as scope:
        lr, rate, p = _decayed_progress(learning_rate, global_step, decay_steps, decay_rate, staircase)
        denom = math_ops.add(math_ops.cast(1.0, lr.dtype), math_ops.multiply(rate, p))
        return math_ops.divide(lr, denom, name=scope)


def natural_exp_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """learning_rate * exp(-decay_rate * global_step / decay_steps) (the ratio floored when staircase)."""
    _require_step(global_step, "natural_exp_decay")
    with name_scope(name, "NaturalExpDecay") as scope:
        lr, rate, p = _decayed_progress(learning_rate, global_step, decay_steps, decay_rate, staircase)
        return math_ops.multiply(lr, _math("exp")(math_ops.multiply(math_ops.negative(rate), p)), name=scope)


def polynomial_decay(learning_rate, global_step, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                     name=None):
    """(learning_rate - end_learning_rate) * (1 - step / decay_steps) ^ power + end_learning_rate, with
    step = min(global_step, decay_steps); cycle=True instead stretches decay_steps to the first multiple of
    it that is >= global_step (at least decay_steps itself)."""
    _require_step(global_step, "polynomial_decay")
    with name_scope(name, "PolynomialDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dtype = lr.dtype
        end_lr = math_ops.cast(end_learning_rate, dtype)
        power = math_ops.cast(power, dtype)
        step = math_ops.cast(global_step, dtype)
        steps = math_ops.cast(decay_steps, dtype)
        if cycle:
            # TF picks multiplier 1 at step 0 with a cond; max(ceil(.), 1) is the same for steps >= 0.
            multiplier = _math("maximum")(_math("ceil")(step / steps), math_ops.cast(1.0, dtype))
            steps = math_ops.multiply(steps, multiplier)
        else:
            step = _math("minimum")(step, steps)
        p = math_ops.divide(step, steps)
        decayed = math_ops.multiply(lr - end_lr, _math("pow")(1 - p, power))
        return math_ops.add(decayed, end_lr, name=scope)


def piecewise_constant(x, boundaries, values, name=None):
    """values[0] while x <= boundaries[0], values[i] while boundaries[i-1] < x <= boundaries[i], values[-1]
    after the last boundary. Boundaries must have x's dtype (int32 ones are promoted for an int64 x)."""
    if len(boundaries) != len(values) - 1:
        raise ValueError("The length of boundaries should be 1 less than the length of values")
    with name_scope(name, "PiecewiseConstant") as scope:
        x = convert_to_tensor(x)
        boundaries = convert_n_to_tensor(boundaries)
        values = convert_n_to_tensor(values)
        for i, b in enumerate(boundaries):
            if b.dtype is not x.dtype:
                if b.dtype is dtypes.int32 and x.dtype is dtypes.int64:
                    boundaries[i] = math_ops.cast(b, dtypes.int64)
                else:
                    raise ValueError("Boundaries (%s) must have the same dtype as x (%s)."
                                     % (b.dtype.name, x.dtype.name))
        for v in values[1:]:
            if v.dtype is not values[0].dtype:
                raise ValueError("Values must have elements all with the same dtype (%s vs %s)."
                                 % (values[0].dtype.name, v.dtype.name))
        # Selected from the last interval backwards, so the first boundary that x does not exceed wins.
        where, less_equal = _math("where"), _math("less_equal")
        out = values[-1]
        for i in range(len(boundaries) - 1, -1, -1):
            out = where(less_equal(x, boundaries[i]), values[i], out, name=scope if i == 0 else None)
        return out
