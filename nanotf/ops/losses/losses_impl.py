"""tf.losses: weighted losses over the per-example losses of nn_ops, reduced as `Reduction` says, and the
LOSSES / REGULARIZATION_LOSSES collections (TF's python/ops/losses/losses_impl.py and util.py)."""
import numbers

from nanotf.framework import dtypes
from nanotf.framework.ops import GraphKeys, Tensor, add_to_collection, convert_to_tensor, get_collection, name_scope
from nanotf.ops import array_ops, math_ops
from nanotf.ops.nn_ops import (_reduce_sum_keep, sigmoid_cross_entropy_with_logits,
                               softmax_cross_entropy_with_logits_v2, sparse_softmax_cross_entropy_with_logits)

__all__ = ["Reduction", "add_loss", "compute_weighted_loss", "get_losses", "get_regularization_losses",
           "get_regularization_loss", "get_total_loss", "mean_squared_error", "sigmoid_cross_entropy",
           "softmax_cross_entropy", "sparse_softmax_cross_entropy"]


class Reduction:
    """How tf.losses functions reduce the weighted per-example losses."""
    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls):
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE, cls.SUM_OVER_NONZERO_WEIGHTS,
                cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key):
        if key not in cls.all():
            raise ValueError("Invalid Reduction Key %s." % (key,))


def _check_broadcastable(weights, losses):
    wd, vd = weights.shape.as_tuple(), losses.shape.as_tuple()
    if wd is None or vd is None or len(wd) == 0:
        return
    ok = len(wd) == len(vd) and all(w is None or v is None or w == 1 or w == v for w, v in zip(wd, vd))
    if not ok:
        raise ValueError("weights can not be broadcast to values. values.rank=%d. weights.rank=%d. values.shape=%s. "
                         "weights.shape=%s." % (len(vd), len(wd), losses.shape, weights.shape))


def _num_present(losses, weights):
    if isinstance(weights, numbers.Real):
        if weights == 0:
            return convert_to_tensor(0.0, dtype=dtypes.float32, name="num_present")
        with name_scope(None, "num_elements"):
            return math_ops.cast(array_ops.size(losses), dtypes.float32)
    with name_scope(None, "num_present", [losses, weights]) as scope:
        present = math_ops.cast(math_ops.not_equal(weights, 0.0), dtypes.float32)
        present = math_ops.multiply(present, array_ops.ones_like(losses), name="broadcast_weights")
        return math_ops.reduce_sum(present, name=scope)


def add_loss(loss, loss_collection=GraphKeys.LOSSES):
    """Adds loss to the collection `loss_collection` (skipped when it is None)."""
    if loss_collection:
        add_to_collection(loss_collection, loss)


def compute_weighted_loss(losses, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                          reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Weights per-example losses and reduces them; adds the result to loss_collection."""
    Reduction.validate(reduction)
    with name_scope(scope, "weighted_loss", [losses, weights]):
        losses = convert_to_tensor(losses)
        input_dtype = losses.dtype
        losses = math_ops.cast(losses, dtypes.float32)
        static_weights = weights if isinstance(weights, numbers.Real) and not isinstance(weights, bool) else None
        weights_t = math_ops.cast(convert_to_tensor(weights), dtypes.float32)
        _check_broadcastable(weights_t, losses)
        weighted = math_ops.multiply(losses, weights_t)
        if reduction == Reduction.NONE:
            loss = weighted
        else:
            loss = math_ops.reduce_sum(weighted)
            if reduction == Reduction.MEAN:
                denom = math_ops.reduce_sum(math_ops.multiply(array_ops.ones_like(losses), weights_t))
                loss = math_ops.div_no_nan(loss, denom, name="value")
            elif reduction == Reduction.SUM_BY_NONZERO_WEIGHTS:
                denom = _num_present(losses, static_weights if static_weights is not None else weights_t)
                loss = math_ops.div_no_nan(loss, denom, name="value")
            elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
                with name_scope(None, "num_elements"):
                    denom = math_ops.cast(array_ops.size(losses), dtypes.float32)
                loss = math_ops.div_no_nan(loss, denom, name="value")
        loss = math_ops.cast(loss, input_dtype)
        add_loss(loss, loss_collection)
        return loss


def _squeeze_trailing_label_dim(labels, logits):
    """labels [..., 1] with logits [..., C] of the same rank: drop the labels' trailing 1 (TF does too)."""
    lr, gr = labels.shape.ndims, logits.shape.ndims
    if lr is not None and lr >= 1 and lr == gr and labels.shape.as_tuple()[-1] == 1:
        return array_ops.squeeze(labels, [-1])
    return labels


def _weighted_loss(default_name, scope, first, second, weights, loss_collection, reduction, per_example):
    """The shared frame of the tf.losses functions: `first` and `second` are (argument name, value) pairs that
    must not be None; per_example(first, second) -> the losses, built in the name scope `scope` (default
    `default_name`), then weighted and reduced by compute_weighted_loss."""
    for arg, value in (first, second):
        if value is None:
            raise ValueError("%s must not be None." % arg)
    with name_scope(scope, default_name, [second[1], first[1], weights]) as scope:
        losses = per_example(first[1], second[1])
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def _logits_and_labels(logits, labels):
    """logits as a Tensor, and labels cast to its dtype, of a compatible shape."""
    logits = convert_to_tensor(logits)
    labels = math_ops.cast(convert_to_tensor(labels), logits.dtype)
    logits.shape.assert_is_compatible_with(labels.shape)
    return logits, labels


def _smoothed(labels, label_smoothing, toward):
    """labels * (1 - label_smoothing) + toward"""
    return math_ops.add(math_ops.multiply(labels, 1.0 - label_smoothing), toward)


def sparse_softmax_cross_entropy(labels, logits, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                                 reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Weighted sparse softmax cross-entropy; by default the mean over examples with nonzero weight."""
    def per_example(labels, logits):
        logits = convert_to_tensor(logits)
        labels = _squeeze_trailing_label_dim(convert_to_tensor(labels), logits)
        return sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
    return _weighted_loss("sparse_softmax_cross_entropy_loss", scope, ("labels", labels), ("logits", logits), weights,
                          loss_collection, reduction, per_example)


def softmax_cross_entropy(onehot_labels, logits, weights=1.0, label_smoothing=0, scope=None,
                          loss_collection=GraphKeys.LOSSES, reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Weighted softmax cross-entropy against one-hot (or soft) labels, with optional label smoothing."""
    def per_example(onehot_labels, logits):
        logits, onehot_labels = _logits_and_labels(logits, onehot_labels)
        if label_smoothing > 0:
            dims = logits.shape.merge_with(onehot_labels.shape).as_tuple()
            if dims is not None and dims[-1] is not None:
                num_classes = float(dims[-1])
            else:
                num_classes = _reduce_sum_keep(array_ops.ones_like(onehot_labels), -1)
            smooth_negatives = math_ops.divide(label_smoothing, num_classes) if isinstance(num_classes, Tensor) \
                else label_smoothing / num_classes
            onehot_labels = _smoothed(onehot_labels, label_smoothing, smooth_negatives)
        onehot_labels = array_ops.stop_gradient(onehot_labels, name="labels_stop_gradient")
        return softmax_cross_entropy_with_logits_v2(labels=onehot_labels, logits=logits, name="xentropy")
    return _weighted_loss("softmax_cross_entropy_loss", scope, ("onehot_labels", onehot_labels), ("logits", logits),
                          weights, loss_collection, reduction, per_example)


def sigmoid_cross_entropy(multi_class_labels, logits, weights=1.0, label_smoothing=0, scope=None,
                          loss_collection=GraphKeys.LOSSES, reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Weighted logistic loss; label smoothing moves labels towards 1/2."""
    def per_example(multi_class_labels, logits):
        logits, labels = _logits_and_labels(logits, multi_class_labels)
        if label_smoothing > 0:
            labels = _smoothed(labels, label_smoothing, 0.5 * label_smoothing)
        return sigmoid_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
    return _weighted_loss("sigmoid_cross_entropy_loss", scope, ("multi_class_labels", multi_class_labels),
                          ("logits", logits), weights, loss_collection, reduction, per_example)


def mean_squared_error(labels, predictions, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                       reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Weighted (predictions - labels)^2, computed in float32."""
    def per_example(labels, predictions):
        predictions = math_ops.cast(convert_to_tensor(predictions), dtypes.float32)
        labels = math_ops.cast(convert_to_tensor(labels), dtypes.float32)
        predictions.shape.assert_is_compatible_with(labels.shape)
        return math_ops.squared_difference(predictions, labels)
    return _weighted_loss("mean_squared_error", scope, ("labels", labels), ("predictions", predictions), weights,
                          loss_collection, reduction, per_example)


def get_losses(scope=None, loss_collection=GraphKeys.LOSSES):
    return get_collection(loss_collection, scope)


def get_regularization_losses(scope=None):
    return get_collection(GraphKeys.REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope=None, name="total_regularization_loss"):
    losses = get_regularization_losses(scope)
    if losses:
        return math_ops.add_n(losses, name=name)
    return array_ops.constant(0.0)


def get_total_loss(add_regularization_losses=True, name="total_loss", scope=None):
    """Sum of the LOSSES collection (plus regularization losses); ValueError when there are none."""
    losses = get_losses(scope=scope)
    if add_regularization_losses:
        losses = losses + get_regularization_losses(scope=scope)
    if not losses:
        raise ValueError("No losses to sum: the LOSSES (and REGULARIZATION_LOSSES) collections are empty")
    return math_ops.add_n(losses, name=name)
