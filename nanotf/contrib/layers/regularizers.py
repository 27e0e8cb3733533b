"""tf.contrib.layers regularizers: functions of a weight tensor giving a scalar penalty (or None)."""
import numbers

from nanotf.framework.ops import GraphKeys, add_to_collection, convert_to_tensor, get_collection, name_scope
from nanotf.ops import math_ops, nn_ops

__all__ = ["l1_regularizer", "l2_regularizer", "l1_l2_regularizer", "sum_regularizer", "apply_regularization"]


def _check_scale(scale):
    if isinstance(scale, numbers.Integral):
        raise ValueError("scale cannot be an integer: %s" % (scale,))
    if isinstance(scale, numbers.Real):
        if scale < 0.:
            raise ValueError("Setting a scale less than 0 on a regularizer: %g" % scale)
        return scale != 0.
    return True


def _scaled_penalty(scale, scope, default_name, penalty):
    """weights -> scale * penalty(weights), in a name scope `default_name`; a scale of 0 gives a regularizer
    returning None."""
    if not _check_scale(scale):
        return lambda _: None

    def regularizer(weights):
        with name_scope(scope, default_name, [weights]) as name:
            w = convert_to_tensor(weights)
            my_scale = convert_to_tensor(scale, dtype=w.dtype, name="scale")
            return math_ops.multiply(my_scale, penalty(w), name=name)
    return regularizer


def l1_regularizer(scale, scope=None):
    """weights -> scale * sum(|weights|); a scale of 0 gives a regularizer returning None."""
    return _scaled_penalty(scale, scope, "l1_regularizer", lambda w: math_ops.reduce_sum(math_ops.abs(w)))


def l2_regularizer(scale, scope=None):
    """weights -> scale * sum(weights ** 2) / 2 (tf.nn.l2_loss); a scale of 0 gives None."""
    return _scaled_penalty(scale, scope, "l2_regularizer", nn_ops.l2_loss)


def sum_regularizer(regularizer_list, scope=None):
    """weights -> the sum of the non-None penalties of the regularizers."""
    regularizer_list = [r for r in regularizer_list if r]
    if not regularizer_list:
        return None

    def sum_reg(weights):
        with name_scope(scope, "sum_regularizer", [weights]) as name:
            penalties = [p for p in (r(weights) for r in regularizer_list) if p is not None]
            return math_ops.add_n(penalties, name=name) if penalties else None
    return sum_reg


def l1_l2_regularizer(scale_l1=1.0, scale_l2=1.0, scope=None):
    if isinstance(scale_l1, numbers.Real) and isinstance(scale_l2, numbers.Real) and scale_l1 == 0 and scale_l2 == 0:
        return lambda _: None
    return sum_regularizer([l1_regularizer(scale_l1), l2_regularizer(scale_l2)], scope=scope)


def apply_regularization(regularizer, weights_list=None):
    """The sum of `regularizer` over weights_list (default: the 'weights' collection), also added to
    tf.GraphKeys.REGULARIZATION_LOSSES."""
    if not weights_list:
        weights_list = get_collection("weights")
    if not weights_list:
        raise ValueError("No weights to regularize.")
    with name_scope("get_regularization_penalty", values=weights_list) as scope:
        penalties = [regularizer(w) for w in weights_list]
        penalties = [p for p in penalties if p is not None]
        if not penalties:
            raise ValueError("No regularization penalties from the regularizer.")
        summed = math_ops.add_n(penalties, name=scope)
        add_to_collection(GraphKeys.REGULARIZATION_LOSSES, summed)
        return summed
