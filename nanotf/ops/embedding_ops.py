"""Embedding lookups, candidate samplers and sampled losses: tf.nn.embedding_lookup,
tf.nn.log_uniform_candidate_sampler / uniform_candidate_sampler, tf.nn.nce_loss,
tf.nn.sampled_softmax_loss.

embedding_lookup's gradient is a dense scatter-add into zeros of the table's shape (GatherV2's gradient);
TF gives IndexedSlices, which optimizers apply sparsely. The values are the same; nanotf's costs memory
and time proportional to the whole table.
"""
import math

import numpy as np

from nanotf.framework import dtypes
from nanotf.framework.op_def import OpDef, Sample
from nanotf.framework.ops import apply_op, convert_to_tensor, name_scope
from nanotf.framework.random_seed import get_seed
from nanotf.framework.tensor_shape import TensorShape
from nanotf.ops import array_ops, clip_ops, math_ops, nn_ops

__all__ = ["embedding_lookup", "log_uniform_candidate_sampler", "uniform_candidate_sampler",
           "learned_unigram_candidate_sampler", "compute_accidental_hits", "nce_loss", "sampled_softmax_loss"]


# -- embedding_lookup
def _partition_rows(ids, sizes, strategy):
    """Row of the concatenated partitions that TF's partition_strategy assigns to each id."""
    n = len(sizes)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(ids.dtype.as_numpy_dtype)
    if strategy == "mod":
        partition = math_ops.floormod(ids, n)
        new_ids = math_ops.floordiv(ids, n)
    else:   # "div": the first (total % n) partitions hold one id more than the others
        total = int(sum(sizes))
        per, extras = total // n, total % n
        partition = math_ops.maximum(math_ops.floordiv(ids, per + 1),
                                     math_ops.floordiv(math_ops.subtract(ids, extras), max(per, 1)))
        in_extras = math_ops.less(partition, extras)
        new_ids = math_ops.select(in_extras, math_ops.floormod(ids, per + 1),
                                  math_ops.floormod(math_ops.subtract(ids, extras), max(per, 1)))
    offset = array_ops.gather(array_ops.constant(offsets, dtype=ids.dtype), partition)
    return math_ops.add(offset, new_ids)


def embedding_lookup(params, ids, partition_strategy="mod", name=None, validate_indices=True, max_norm=None):
    """Rows of `params` at `ids` (any shape): result shape ids.shape + params.shape[1:].

    params: a tensor or Variable, or a list of them (a table split along axis 0) with partition_strategy
    'mod' (id i in partition i % n, row i // n) or 'div' (contiguous ranges). max_norm: rows with a larger
    l2 norm are scaled down to it."""
    if params is None or (isinstance(params, (list, tuple)) and not params):
        raise ValueError("Need at least one param")
    if partition_strategy not in ("mod", "div"):
        raise ValueError("Unrecognized partition strategy: " + str(partition_strategy))
    params = list(params) if isinstance(params, (list, tuple)) else [params]
    with name_scope(name, "embedding_lookup", params + [ids]) as scope:
        ids = convert_to_tensor(ids, name="ids")
        if not ids.dtype.is_integer:
            raise TypeError("embedding_lookup: ids must be int32 or int64, got %s (%s)" % (ids.dtype.name, ids.name))
        if len(params) == 1:
            result = array_ops.gather(params[0], ids, name=scope if max_norm is None else None)
        else:
            tables = [convert_to_tensor(p) for p in params]
            sizes = [t.shape.as_list()[0] if t.shape.ndims else None for t in tables]
            if None in sizes:
                raise ValueError("embedding_lookup: nanotf needs the first dimension of every partition known "
                                 "when building the graph, got shapes %s" % [str(t.shape) for t in tables])
            rows = _partition_rows(ids, sizes, partition_strategy)
            result = array_ops.gather(array_ops.concat(tables, 0), rows, name=scope if max_norm is None else None)
        if max_norm is not None:
            rank = result.shape.ndims
            axes = list(range(ids.shape.ndims, rank)) if rank is not None and ids.shape.ndims is not None else None
            result = clip_ops.clip_by_norm(result, max_norm, axes=axes)
        return result


# -- candidate samplers
class _CandidateSampler(OpDef):
    """Outputs: sampled_candidates [num_sampled] int64, true_expected_count [batch, num_true] float32,
    sampled_expected_count [num_sampled] float32. Subclasses give `_probability` and `_draw`."""

    abstract = True
    stateful = True
    grad = None

    def infer(op):
        t = op._inputs[0]
        if t.dtype is not dtypes.int64:
            raise TypeError("Value passed to parameter 'true_classes' has DataType %s not in list of allowed "
                            "values: int64 (op %r)" % (t.dtype.name, op.name))
        a = op._attrs
        dims = t.shape.as_tuple()
        if dims is not None and len(dims) != 2:
            raise ValueError("%s %r: true_classes must be a matrix [batch, num_true], got shape %s"
                             % (op.type, op.name, t.shape))
        if dims is not None and dims[1] is not None and dims[1] != a["num_true"]:
            raise ValueError("%s %r: true_classes has %d columns but num_true is %d"
                             % (op.type, op.name, dims[1], a["num_true"]))
        if a["unique"] and a["num_sampled"] > a["range_max"]:
            raise ValueError("%s %r: Sampler's range is too small: num_sampled %d > range_max %d with unique=True"
                             % (op.type, op.name, a["num_sampled"], a["range_max"]))
        batch = dims[0] if dims is not None else None
        return [(dtypes.int64, TensorShape([a["num_sampled"]])),
                (dtypes.float32, TensorShape([batch, a["num_true"]])),
                (dtypes.float32, TensorShape([a["num_sampled"]]))]

    def kernel(op, ctx):
        a = op._attrs
        cls = OpDef.lookup(op.type)
        num_sampled, range_max, unique = a["num_sampled"], a["range_max"], a["unique"]

        def rng():
            r = ctx.op_state.get(op)
            if r is None:
                s1, s2 = a["seed"], a["seed2"]
                r = np.random.default_rng(None if s1 is None else [s1 & 0xFFFFFFFF, s2 & 0xFFFFFFFF])
                ctx.op_state[op] = r
            return r

        def expected(p, tries):
            # TF's ExpectedCountHelper: with rejections, the chance a class is drawn at least once in `tries`
            if not unique or tries == num_sampled:
                return p * num_sampled
            return -np.expm1(tries * np.log1p(-p))

        def sample(true_classes):
            if np.size(true_classes) and (true_classes.min() < 0 or true_classes.max() >= range_max):
                raise ValueError("true_classes must lie in [0, %d), got values in [%d, %d]"
                                 % (range_max, true_classes.min(), true_classes.max()))
            r = rng()
            if not unique:
                sampled = cls._draw(r, num_sampled, range_max)
                tries = num_sampled
            else:   # draw until num_sampled distinct classes; count every draw
                sampled, seen, tries = [], set(), 0
                while len(sampled) < num_sampled:
                    for v in cls._draw(r, max(2 * (num_sampled - len(sampled)), 8), range_max):
                        tries += 1
                        if v not in seen:
                            seen.add(v)
                            sampled.append(v)
                            if len(sampled) == num_sampled:
                                break
                sampled = np.array(sampled, dtype=np.int64)
            true_p = cls._probability(true_classes.astype(np.float64), range_max)
            samp_p = cls._probability(sampled.astype(np.float64), range_max)
            return (sampled.astype(np.int64), expected(true_p, tries).astype(np.float32),
                    expected(samp_p, tries).astype(np.float32))
        return sample


class LogUniformCandidateSampler(_CandidateSampler):
    """Zipf-like classes: P(k) = log((k + 2) / (k + 1)) / log(range_max + 1)."""

    def _probability(k, range_max):
        return np.log((k + 2.0) / (k + 1.0)) / math.log(range_max + 1.0)

    def _draw(rng, n, range_max):
        v = np.exp(rng.random(n) * math.log(range_max + 1.0)).astype(np.int64) - 1
        return v % range_max

    samples = [Sample(lambda t: log_uniform_candidate_sampler(t, 1, 5, True, 20, seed=3)[0],
                      [np.array([[1], [4]], np.int64)])]


class UniformCandidateSampler(_CandidateSampler):
    def _probability(k, range_max):
        return np.full(np.shape(k), 1.0 / range_max)

    def _draw(rng, n, range_max):
        return rng.integers(0, range_max, size=n).astype(np.int64)

    samples = [Sample(lambda t: uniform_candidate_sampler(t, 2, 3, False, 10, seed=3)[1],
                      [np.array([[1, 2]], np.int64)])]


def _sampler(op_type, true_classes, num_true, num_sampled, unique, range_max, seed, name):
    true_classes = convert_to_tensor(true_classes, name="true_classes")
    s1, s2 = get_seed(seed)
    op = apply_op(op_type, [true_classes], {"num_true": int(num_true), "num_sampled": int(num_sampled),
                                            "unique": bool(unique), "range_max": int(range_max),
                                            "seed": s1, "seed2": s2}, name=name or op_type)
    return tuple(op)


def log_uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None):
    """(sampled_candidates, true_expected_count, sampled_expected_count) drawn from the log-uniform (Zipfian)
    distribution over [0, range_max); unique=True draws without replacement."""
    return _sampler("LogUniformCandidateSampler", true_classes, num_true, num_sampled, unique, range_max, seed,
                    name)


def uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None):
    """As log_uniform_candidate_sampler, with every class equally likely."""
    return _sampler("UniformCandidateSampler", true_classes, num_true, num_sampled, unique, range_max, seed, name)


def learned_unigram_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max, seed=None,
                                      name=None):
    raise NotImplementedError("learned_unigram_candidate_sampler is not implemented in nanotf; use "
                              "log_uniform_candidate_sampler or uniform_candidate_sampler")


def compute_accidental_hits(true_classes, sampled_candidates, num_true, seed=None, name=None):
    raise NotImplementedError("compute_accidental_hits is not exposed by nanotf; nce_loss and "
                              "sampled_softmax_loss take remove_accidental_hits=True")


# -- sampled losses
def _compute_sampled_logits(weights, biases, labels, inputs, num_sampled, num_classes, num_true, sampled_values,
                            subtract_log_q, remove_accidental_hits, partition_strategy, name, seed=None):
    """(logits [batch, num_true + num_sampled], labels) as TF's: true classes first, each logit minus the log
    of its expected count when subtract_log_q."""
    weights = list(weights) if isinstance(weights, (list, tuple)) else [weights]
    with name_scope(name, "compute_sampled_logits", weights + [biases, inputs, labels]):
        labels = convert_to_tensor(labels, name="labels")
        if labels.dtype is not dtypes.int64:
            labels = math_ops.cast(labels, dtypes.int64)
        labels_flat = array_ops.reshape(labels, [-1])
        if sampled_values is None:
            sampled_values = log_uniform_candidate_sampler(labels, num_true, num_sampled, True, num_classes,
                                                           seed=seed)
        sampled, true_expected_count, sampled_expected_count = (array_ops.stop_gradient(s) for s in sampled_values)
        sampled = math_ops.cast(sampled, dtypes.int64)
        all_ids = array_ops.concat([labels_flat, sampled], 0)
        all_w = embedding_lookup(weights, all_ids, partition_strategy=partition_strategy)
        inputs = convert_to_tensor(inputs, name="inputs")
        dim = inputs.shape.as_list()[-1]
        n_true = array_ops.size(labels_flat)
        true_w = array_ops.slice(all_w, array_ops.stack([0, 0]), array_ops.stack([n_true, -1]))
        sampled_w = array_ops.slice(all_w, array_ops.stack([n_true, 0]), [-1, -1])
        sampled_logits = math_ops.matmul(inputs, sampled_w, transpose_b=True)
        all_b = embedding_lookup(biases, all_ids, partition_strategy=partition_strategy)
        true_b = array_ops.slice(all_b, array_ops.stack([0]), array_ops.stack([n_true]))
        sampled_b = array_ops.slice(all_b, array_ops.stack([n_true]), [-1])
        # true logits: per example, the dot products with its num_true label rows
        row_dots = math_ops.multiply(array_ops.expand_dims(inputs, 1),
                                     array_ops.reshape(true_w, [-1, num_true, dim]))
        true_logits = math_ops.add(math_ops.reduce_sum(row_dots, 2), array_ops.reshape(true_b, [-1, num_true]))
        sampled_logits = math_ops.add(sampled_logits, sampled_b)
        if remove_accidental_hits:
            # a sampled class that is one of the example's labels gets a logit of -FLT_MAX
            hits = math_ops.reduce_any(math_ops.equal(array_ops.expand_dims(labels, 2),
                                                      array_ops.reshape(sampled, [1, 1, -1])), 1)
            penalty = array_ops.constant(float(np.finfo(np.float32).min), dtype=sampled_logits.dtype)
            sampled_logits = math_ops.add(sampled_logits, math_ops.select(hits, array_ops.fill(
                array_ops.shape(sampled_logits), penalty), array_ops.zeros_like(sampled_logits)))
        if subtract_log_q:
            # (cast: float64 models work too, where TF would refuse the float32 counts)
            true_logits = math_ops.subtract(true_logits, math_ops.log(math_ops.cast(true_expected_count,
                                                                                    true_logits.dtype)))
            sampled_logits = math_ops.subtract(sampled_logits, math_ops.log(math_ops.cast(sampled_expected_count,
                                                                                          sampled_logits.dtype)))
        out_logits = array_ops.concat([true_logits, sampled_logits], 1)
        out_labels = array_ops.concat([math_ops.divide(array_ops.ones_like(true_logits), float(num_true)),
                                       array_ops.zeros_like(sampled_logits)], 1)
        return out_logits, out_labels


def nce_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1, sampled_values=None,
             remove_accidental_hits=False, partition_strategy="mod", name="nce_loss"):
    """Noise-contrastive estimation loss per example [batch]: the sum of sigmoid cross-entropies of the
    true classes (label 1/num_true) and num_sampled classes drawn from the log-uniform sampler (label 0),
    each logit corrected by the log of its expected count (Gutmann & Hyvarinen 2010; Mnih & Teh 2012).
    weights [num_classes, dim] (or a partitioned list), biases [num_classes], labels [batch, num_true]."""
    logits, labels = _compute_sampled_logits(weights, biases, labels, inputs, num_sampled, num_classes, num_true,
                                             sampled_values, True, remove_accidental_hits, partition_strategy,
                                             name)
    losses = nn_ops.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits, name="sampled_losses")
    return math_ops.reduce_sum(losses, 1)


def sampled_softmax_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1, sampled_values=None,
                         remove_accidental_hits=True, partition_strategy="mod", name="sampled_softmax_loss",
                         seed=None):
    """Softmax cross-entropy over the true classes and num_sampled sampled ones (Jean et al. 2014), per example."""
    logits, labels = _compute_sampled_logits(weights, biases, labels, inputs, num_sampled, num_classes, num_true,
                                             sampled_values, True, remove_accidental_hits, partition_strategy,
                                             name, seed=seed)
    labels = array_ops.stop_gradient(labels, name="labels_stop_gradient")
    return nn_ops.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)
