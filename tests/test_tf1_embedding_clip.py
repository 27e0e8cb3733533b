"""tf.nn.embedding_lookup, candidate samplers, nce_loss / sampled_softmax_loss and the clipping functions,
against NumPy closed forms and central finite differences."""
import math

import numpy as np
import pytest

import nanotf as tf
from _layer_refs import numeric_grad

TABLE = np.arange(30.0).reshape(10, 3)
IDS = np.array([[0, 9, 4], [4, 5, 7]])


def _run(fetches, feed=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


@pytest.mark.parametrize("strategy", ["mod", "div"])
@pytest.mark.parametrize("n", [1, 3, 4])
def test_embedding_lookup_partitioned_matches_the_whole_table(strategy, n, graph):
    if strategy == "mod":
        parts = [TABLE[p::n] for p in range(n)]
    else:   # TF's div rule: the first (10 % n) partitions hold one row more
        per, extra = divmod(10, n)
        bounds = np.cumsum([0] + [per + (p < extra) for p in range(n)])
        parts = [TABLE[bounds[p]:bounds[p + 1]] for p in range(n)]
    params = [tf.Variable(p) for p in parts]
    out = tf.nn.embedding_lookup(params if n > 1 else params[0], IDS, partition_strategy=strategy)
    assert out.shape.as_list() == [2, 3, 3]
    loss = tf.reduce_sum(out * out)
    grads = tf.gradients(loss, params)
    got, g = _run([out, grads])
    np.testing.assert_array_equal(got, TABLE[IDS])
    # d/dtable sum(table[ids]^2) = 2 * table * (number of times each row is looked up)
    counts = np.bincount(IDS.ravel(), minlength=10)[:, None]
    whole = 2 * TABLE * counts
    expect = [whole[p::n] for p in range(n)] if strategy == "mod" else \
        [whole[b0:b1] for b0, b1 in zip(np.cumsum([0] + [len(p) for p in parts])[:-1], np.cumsum([len(p) for p in parts]))]
    for gi, ei in zip(g, expect):
        np.testing.assert_array_equal(gi, ei)


def test_embedding_lookup_max_norm_and_errors(graph):
    out = tf.nn.embedding_lookup(tf.constant(TABLE), [1, 8], max_norm=5.0)
    v = _run(out)
    with pytest.raises(TypeError, match="int32 or int64"):
        tf.nn.embedding_lookup(tf.constant(TABLE), tf.constant([1.0]))
    with pytest.raises(ValueError, match="partition strategy"):
        tf.nn.embedding_lookup([tf.constant(TABLE)], [1], partition_strategy="hash")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[0\] = 12 is not in \[0, 10\)"):
        _run(tf.nn.embedding_lookup(tf.constant(TABLE), [12]))
    rows = TABLE[[1, 8]]
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    np.testing.assert_allclose(v, rows * 5.0 / np.maximum(norms, 5.0), rtol=1e-12)


# -- samplers
def _log_uniform_p(k, range_max):
    return np.log((k + 2.0) / (k + 1.0)) / math.log(range_max + 1.0)


def test_log_uniform_sampler_frequencies_match_zipf(graph):
    n = 20000
    sampled, _, sexp = tf.nn.log_uniform_candidate_sampler(tf.constant([[0]], tf.int64), 1, n, False, 10, seed=7)
    s, e = _run([sampled, sexp])
    p = _log_uniform_p(np.arange(10), 10)
    freq = np.bincount(s, minlength=10) / n
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / n))
    np.testing.assert_allclose(e, n * _log_uniform_p(s, 10), rtol=1e-6)   # non-unique: p * num_sampled


def test_unique_sampler_expected_counts_follow_the_rejection_formula(graph):
    labels = tf.constant([[2], [5]], tf.int64)
    s, texp, sexp = tf.nn.log_uniform_candidate_sampler(labels, 1, 30, True, 40, seed=3)
    sv, tv, ev = _run([s, texp, sexp])
    assert len(set(sv)) == 30 and sv.min() >= 0 and sv.max() < 40
    # expected count = 1 - (1 - p)^tries, one number of tries (>= 30) shared by every class: read it off the
    # rarest class (its count is far from 1, so float32 keeps it exact enough), then check every class
    p = _log_uniform_p(sv, 40)
    k = int(np.argmin(p))
    tries = np.log1p(-float(ev[k])) / np.log1p(-p[k])
    t = float(np.round(tries))
    assert t >= 30 and abs(tries - t) < 0.01
    np.testing.assert_allclose(ev, -np.expm1(t * np.log1p(-p)), rtol=2e-6)
    np.testing.assert_allclose(tv[:, 0], -np.expm1(t * np.log1p(-_log_uniform_p(np.array([2, 5]), 40))), rtol=2e-6)


def test_sampler_checks(graph):
    with pytest.raises(TypeError, match="int64"):
        tf.nn.log_uniform_candidate_sampler(tf.constant([[1]]), 1, 2, True, 5)
    with pytest.raises(ValueError, match="range is too small"):
        tf.nn.log_uniform_candidate_sampler(tf.constant([[1]], tf.int64), 1, 6, True, 5)


# -- sampled losses
def _sampled_setup(rng):
    w = rng.standard_normal((12, 4))
    b = rng.standard_normal(12)
    x = rng.standard_normal((3, 4))
    labels = np.array([[1], [7], [3]])
    sampled = np.array([3, 0, 9, 5, 11])
    texp = np.array([[0.3], [0.1], [0.2]])
    sexp = np.array([0.2, 0.5, 0.05, 0.1, 0.04])
    return w, b, x, labels, sampled, texp, sexp


def _nce_ref(w, b, x, labels, sampled, texp, sexp):
    true = np.sum(x * w[labels[:, 0]], 1) + b[labels[:, 0]] - np.log(texp[:, 0])
    samp = x @ w[sampled].T + b[sampled] - np.log(sexp)
    return np.logaddexp(0, -true) + np.logaddexp(0, samp).sum(1)


def test_nce_loss_matches_closed_form_and_finite_differences(rng, graph):
    w, b, x, labels, sampled, texp, sexp = _sampled_setup(rng)
    W, B = tf.Variable(w), tf.Variable(b)
    X = tf.placeholder(tf.float64, [3, 4])
    loss = tf.nn.nce_loss(W, B, labels, X, 5, 12, sampled_values=(sampled, texp.astype(np.float32),
                                                                   sexp.astype(np.float32)))
    total = tf.reduce_sum(loss)
    gw, gx = tf.gradients(total, [W, X])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        lv, gwv, gxv = sess.run([loss, gw, gx], {X: x})
        num_x = numeric_grad(lambda v: sess.run(total, {X: v}), x)

        def f_w(v):
            W.load(v, sess)
            return sess.run(total, {X: x})
        num_w = numeric_grad(f_w, w)
    texp32, sexp32 = texp.astype(np.float32).astype(np.float64), sexp.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(lv, _nce_ref(w, b, x, labels, sampled, texp32, sexp32), rtol=1e-10)
    np.testing.assert_allclose(gxv, num_x, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gwv, num_w, rtol=1e-6, atol=1e-8)


def test_sampled_softmax_loss_removes_accidental_hits(graph):
    rng = np.random.default_rng(1)
    w, b, x, labels, sampled, texp, sexp = _sampled_setup(rng)
    loss = tf.nn.sampled_softmax_loss(tf.constant(w), tf.constant(b), labels, tf.constant(x), 5, 12,
                                      sampled_values=(sampled, texp.astype(np.float32),
                                                      sexp.astype(np.float32)))
    lv = _run(loss)
    texp, sexp = texp.astype(np.float32).astype(np.float64), sexp.astype(np.float32).astype(np.float64)
    true = np.sum(x * w[labels[:, 0]], 1) + b[labels[:, 0]] - np.log(texp[:, 0])
    samp = x @ w[sampled].T + b[sampled] - np.log(sexp)
    samp[labels[:, 0][:, None] == sampled[None, :]] = -np.inf   # label 3 of example 2 is also sampled
    logits = np.concatenate([true[:, None], samp], 1)
    ref = -(true - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) - logits.max(1))
    np.testing.assert_allclose(lv, ref, rtol=1e-10)


def test_nce_loss_with_its_own_sampler_is_finite_and_seeded():
    rng = np.random.default_rng(2)
    w, b, x, labels, *_ = _sampled_setup(rng)
    out = []
    for _ in range(2):
        with tf.Graph().as_default():
            tf.set_random_seed(5)
            out.append(_run(tf.reduce_mean(tf.nn.nce_loss(tf.constant(w), tf.constant(b), labels, tf.constant(x),
                                                           4, 12))))
    assert np.isfinite(out[0]) and out[0] == out[1]


# -- clipping
def test_clip_by_norm_values_axes_and_zero_gradient(graph):
    t = np.array([[3.0, 4.0], [0.3, 0.4]])
    a = tf.clip_by_norm(t, 1.0)
    rows = tf.clip_by_norm(t, 1.0, axes=[1])
    z = tf.placeholder(tf.float64, [2])
    gz = tf.gradients(tf.reduce_sum(tf.clip_by_norm(z, 1.0)), z)[0]
    av, rv, gv = _run([a, rows, gz], {z: np.zeros(2)})
    norm = np.linalg.norm(t)
    np.testing.assert_allclose(av, t / norm, rtol=1e-12)
    np.testing.assert_allclose(rv, [[0.6, 0.8], [0.3, 0.4]], rtol=1e-12)
    np.testing.assert_array_equal(gv, [1.0, 1.0])


def test_clip_by_global_norm_and_global_norm(graph):
    a, b = np.array([3.0, 0.0]), np.array([[0.0, 4.0]])
    clipped, norm = tf.clip_by_global_norm([tf.constant(a), None, tf.constant(b)], 2.5)
    assert clipped[1] is None
    kept, _ = tf.clip_by_global_norm([tf.constant(a)], 10.0)
    gn = tf.global_norm([tf.constant(a), tf.constant(b)])
    inf, _ = tf.clip_by_global_norm([tf.constant([np.inf, 1.0])], 1.0)
    with np.errstate(invalid="ignore"):   # inf - inf is how the NaN is made, as in TF
        c0, c2, nv, kv, gv, iv = _run([clipped[0], clipped[2], norm, kept[0], gn, inf[0]])
    with pytest.raises(TypeError, match="sequence"):
        tf.clip_by_global_norm(tf.constant(a), 1.0)
    assert nv == pytest.approx(5.0) and gv == pytest.approx(5.0)
    np.testing.assert_allclose(c0, a * 0.5) and np.testing.assert_allclose(c2, b * 0.5)
    np.testing.assert_array_equal(kv, a)
    assert np.isnan(iv).all()


def test_clip_by_global_norm_gradient_matches_finite_differences(graph):
    rng = np.random.default_rng(3)
    av, bv = rng.standard_normal(3), rng.standard_normal((2, 2))
    wa, wb = rng.standard_normal(3), rng.standard_normal((2, 2))
    a = tf.placeholder(tf.float64, [3])
    b = tf.placeholder(tf.float64, [2, 2])
    (ca, cb), _ = tf.clip_by_global_norm([a, b], 0.5)
    loss = tf.reduce_sum(ca * wa) + tf.reduce_sum(cb * wb)
    ga = tf.gradients(loss, a)[0]
    with tf.Session() as sess:
        got = sess.run(ga, {a: av, b: bv})
        num = numeric_grad(lambda v: sess.run(loss, {a: v, b: bv}), av)
    np.testing.assert_allclose(got, num, rtol=1e-6, atol=1e-9)
