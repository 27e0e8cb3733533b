"""Lowerings of nanotf/ops/nn_ops.py's and nn_impl.py's op types."""
import numpy as np

from nanotf.xla.lowerings._registry import asarray, jax, jnp, out_dtype, register, static_value


def _zero(x):
    return np.zeros((), dtype=x.dtype)


def lower_Relu(op, x):
    return jnp.maximum(x, _zero(x))


def lower_ReluGrad(op, g, f):
    return jnp.where(f > 0, g, _zero(g))


def lower_Relu6(op, x):
    return jnp.clip(x, _zero(x), np.asarray(6, x.dtype))


def lower_Relu6Grad(op, g, f):
    return jnp.where((f > 0) & (f < 6), g, _zero(g))


def lower_Elu(op, x):
    return jnp.where(x > 0, x, jnp.expm1(jnp.minimum(x, _zero(x))))


def lower_EluGrad(op, g, y):
    return jnp.where(y > 0, g, g * (y + 1))


def lower_Softplus(op, x):
    return jnp.logaddexp(x, _zero(x))


def lower_SoftplusGrad(op, g, x):
    return g * jax.nn.sigmoid(x)


def lower_LeakyRelu(op, x):
    return jnp.where(x > 0, x, x * np.asarray(op._attrs["alpha"], x.dtype))


def lower_LeakyReluGrad(op, g, x):
    return jnp.where(x > 0, g, g * np.asarray(op._attrs["alpha"], g.dtype))


def lower_Sigmoid(op, x):
    return jax.nn.sigmoid(x)


def lower_SigmoidGrad(op, y, dy):
    return dy * (y * (1 - y))


def lower_Tanh(op, x):
    return jnp.tanh(x)


def lower_TanhGrad(op, y, dy):
    return dy * (1 - y * y)


def lower_Softmax(op, x):
    return jax.nn.softmax(x, axis=op._attrs.get("axis", -1))


def lower_LogSoftmax(op, x):
    return jax.nn.log_softmax(x, axis=op._attrs.get("axis", -1))


def lower_BiasAdd(op, x, b):
    if op._attrs["data_format"] == "NCHW":
        return x + jnp.reshape(b, (-1,) + (1,) * (np.ndim(x) - 2))
    return x + b


def lower_BiasAddGrad(op, g):
    if op._attrs["data_format"] == "NCHW":
        return jnp.sum(g, axis=(0,) + tuple(range(2, np.ndim(g))))
    return jnp.sum(g, axis=tuple(range(np.ndim(g) - 1)))


def lower_L2Loss(op, t):
    return (jnp.sum(jnp.square(t)) / 2).astype(out_dtype(op))


def lower_SparseSoftmaxCrossEntropyWithLogits(op, logits, labels):
    """loss = logsumexp(logits) - logits[label]; backprop = softmax - one_hot(label). XLA cannot raise on a
    label out of range: such a row gets NaN, as TF's XLA kernel gives."""
    c = np.shape(logits)[-1]
    log_p = jax.nn.log_softmax(logits, axis=-1)
    hot = jnp.expand_dims(labels, -1) == jnp.arange(c)
    picked = jnp.sum(jnp.where(hot, log_p, _zero(log_p)), axis=-1)
    bad = (labels < 0) | (labels >= c)
    loss = jnp.where(bad, np.asarray(np.nan, log_p.dtype), -picked)
    backprop = jnp.exp(log_p) - hot.astype(log_p.dtype)
    return loss, jnp.where(bad[..., None], np.asarray(np.nan, log_p.dtype), backprop)


def lower_SoftmaxCrossEntropyWithLogits(op, logits, labels):
    """loss = sum(labels) * logsumexp(logits) - sum(labels * logits); backprop = softmax * sum(labels) - labels
    (nanotf's kernel keeps the label sum, exact for labels that do not sum to 1)."""
    shifted = logits - jax.lax.stop_gradient(jnp.max(logits, axis=-1, keepdims=True))
    lse = jnp.log(jnp.sum(jnp.exp(shifted), axis=-1, keepdims=True))
    label_sums = jnp.sum(labels, axis=-1, keepdims=True)
    loss = (lse * label_sums)[..., 0] - jnp.sum(labels * shifted, axis=-1)
    return loss, jnp.exp(shifted - lse) * label_sums - labels


def _in_top_k(pred, targets, k):
    n, c = np.shape(pred)
    target_scores = jnp.take_along_axis(pred, jnp.clip(targets, 0, c - 1).astype(np.int64)[:, None], axis=1)
    inside = jnp.sum(pred > target_scores, axis=1) < k
    return inside & jnp.all(jnp.isfinite(pred), axis=1) & (targets >= 0) & (targets < c)


def lower_InTopK(op, pred, targets):
    return _in_top_k(pred, targets, op._attrs["k"])


def lower_InTopKV2(op, pred, targets, k):
    return _in_top_k(pred, targets, k)


def lower_DivNoNan(op, x, y):
    zero = y == 0
    return jnp.where(zero, _zero(jnp.asarray(x)), jnp.true_divide(x, jnp.where(zero, np.ones((), y.dtype), y)))


# -- batch normalization (nn_impl.py)
def _stats_dtype(x):
    return np.dtype(np.float32) if x.dtype == np.float16 else np.dtype(x.dtype)


def lower_FusedBatchNormNT(op, x, scale, offset, mean, variance, is_training):
    eps = op._attrs["epsilon"]
    c = np.shape(x)[-1]
    sd = _stats_dtype(x)
    x2 = jnp.reshape(x, (-1, c)).astype(sd)

    def batch_stats():
        m = jnp.mean(x2, axis=0)
        return m, jnp.mean(jnp.square(x2 - m), axis=0)
    training = static_value(op, is_training, 5) if _concrete(is_training) else is_training
    if isinstance(training, np.ndarray):
        m, v = batch_stats() if bool(training) else (asarray(mean, sd), asarray(variance, sd))
    else:
        bm, bv = batch_stats()
        m, v = jnp.where(training, bm, mean.astype(sd)), jnp.where(training, bv, variance.astype(sd))
    mult = scale.astype(sd) / jnp.sqrt(v + np.asarray(eps, sd))
    y = (x2 - m) * mult + offset.astype(sd)
    return jnp.reshape(y.astype(x.dtype), np.shape(x)), m, v


def _concrete(x):
    return isinstance(x, (np.ndarray, np.generic, bool))


def lower_FusedBatchNormGradNT(op, dy, x, scale, mean, variance, is_training):
    eps = op._attrs["epsilon"]
    c = np.shape(x)[-1]
    sd = _stats_dtype(x)
    x2 = jnp.reshape(x, (-1, c)).astype(sd)
    dy2 = jnp.reshape(dy, (-1, c)).astype(sd)
    inv = 1.0 / jnp.sqrt(variance.astype(sd) + np.asarray(eps, sd))
    xhat = (x2 - mean.astype(sd)) * inv
    doffset = jnp.sum(dy2, axis=0)
    dscale = jnp.sum(dy2 * xhat, axis=0)
    n = max(x2.shape[0], 1)
    dx_train = (dy2 - doffset / n - xhat * (dscale / n)) * (scale.astype(sd) * inv)
    dx_infer = dy2 * (scale.astype(sd) * inv)
    dx = jnp.where(is_training, dx_train, dx_infer)
    return (jnp.reshape(dx.astype(x.dtype), np.shape(x)), dscale.astype(scale.dtype), doffset.astype(scale.dtype))


register(globals())
__all__ = []
