"""tf.contrib.factorization.KMeans against NumPy's Lloyd and mini-batch steps, and the MNIST program."""

import numpy as np
import pytest

import nanotf as tf



pytestmark = pytest.mark.usefixtures("fresh_graph")   # tests/conftest.py


def _blobs(seed=0, n=60):
    rng = np.random.RandomState(seed)
    centers = np.array([[0.0, 0.0], [8.0, 8.0], [-8.0, 8.0]])
    data = np.concatenate([c + rng.randn(n, 2) for c in centers]).astype(np.float32)
    return data, centers


def _sqdist(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)


def _build(data_dim=2, **kw):
    x = tf.placeholder(tf.float32, [None, data_dim])
    km = tf.contrib.factorization.KMeans(x, **kw)
    return x, km.training_graph()


def test_training_graph_returns_tf_1_15s_six_values_and_variable_names():
    x, graph = _build(num_clusters=3)
    assert len(graph) == 6
    all_scores, cluster_idx, scores, initialized, init_op, train_op = graph
    assert isinstance(cluster_idx, list) and len(cluster_idx) == 1 and cluster_idx[0].dtype == tf.int64
    names = sorted(v.op.name for v in tf.global_variables())
    assert names == ["clusters", "initialized"]
    assert initialized.dtype == tf.bool


def test_nearest_neighbors_matches_brute_force():
    from nanotf.contrib.factorization.clustering_ops import nearest_neighbors
    rng = np.random.RandomState(1)
    p, c = rng.randn(20, 4).astype(np.float32), rng.randn(6, 4).astype(np.float32)
    idx, dist = nearest_neighbors(p, c, 2)
    with tf.Session() as sess:
        i, d = sess.run([idx, dist])
    ref = _sqdist(p, c)
    order = np.argsort(ref, axis=1)[:, :2]
    np.testing.assert_array_equal(i, order)
    np.testing.assert_allclose(d, np.take_along_axis(ref, order, 1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k", [1, 3])
def test_nearest_neighbors_in_bands_over_two_threads_matches_brute_force(k, monkeypatch):
    """Many bands of rows (small bands forced), split over the pool: every row's neighbours and distances
    as the float64 brute force gives them, whichever band and thread computed it."""
    from nanotf.contrib.factorization import clustering_ops
    from nanotf.framework import parallel
    monkeypatch.setattr(clustering_ops, "_NEAREST_BAND_ROWS", 7)
    monkeypatch.setattr(parallel, "threads_for", lambda work: 2)
    rng = np.random.RandomState(2)
    p, c = rng.randn(101, 5).astype(np.float32), rng.randn(9, 5).astype(np.float32)
    idx, dist = clustering_ops.nearest_neighbors(p, c, k)
    with tf.Session() as sess:
        i, d = sess.run([idx, dist])
    ref = _sqdist(p, c)
    order = np.argsort(ref, axis=1)[:, :k]
    np.testing.assert_array_equal(i, order)
    # |p|^2 - 2 p.c + |c|^2 in float32: error within a few eps of the terms' size
    scale = (p.astype(np.float64) ** 2).sum(1)[:, None] + (c.astype(np.float64) ** 2).sum(1).max()
    assert np.all(np.abs(d - np.take_along_axis(ref, order, 1)) <= 16 * np.finfo(np.float32).eps * scale)


def test_cluster_sums_split_by_columns_over_two_threads_match_float64(monkeypatch):
    from nanotf.contrib.factorization import clustering_ops
    from nanotf.framework import parallel
    monkeypatch.setattr(clustering_ops, "_SUM_COLUMNS_GRAIN", 2)
    monkeypatch.setattr(parallel, "threads_for", lambda work: 2)
    rng = np.random.RandomState(4)
    points, idx = rng.randn(50, 11).astype(np.float32), rng.randint(0, 4, 50).astype(np.int64)
    sums, counts = clustering_ops.cluster_sums(points, idx, 4)
    with tf.Session() as sess:
        s, n = sess.run([sums, counts])
    want = np.zeros((4, 11))
    np.add.at(want, idx, points.astype(np.float64))
    np.testing.assert_allclose(s, want, rtol=0, atol=50 * np.finfo(np.float32).eps * np.abs(points).max())
    np.testing.assert_array_equal(n[:, 0], np.bincount(idx, minlength=4))


def test_random_init_picks_data_rows_and_sets_initialized():
    data, _ = _blobs()
    x, (_, _, _, initialized, init_op, _) = _build(num_clusters=3)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert not sess.run(initialized)
        sess.run(init_op, {x: data})
        assert sess.run(initialized)
        centers = sess.run(tf.global_variables()[0])
        sess.run(init_op, {x: data})   # already complete: a no-op, as TF's assert branch
        np.testing.assert_array_equal(sess.run(tf.global_variables()[0]), centers)
    assert centers.shape == (3, 2)
    assert all((data == c).all(axis=1).any() for c in centers)


def test_kmeans_plus_plus_seeds_one_center_per_separated_blob():
    data, true_centers = _blobs()
    x, (_, _, _, _, init_op, _) = _build(num_clusters=3, initial_clusters="kmeans_plus_plus", random_seed=5)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(init_op, {x: data})
        centers = sess.run(tf.global_variables()[0])
    assert sorted(np.argmin(_sqdist(centers, true_centers), axis=1).tolist()) == [0, 1, 2]


def test_full_batch_step_is_lloyds_update_and_scores_are_squared_distances():
    data, _ = _blobs()
    init = data[[0, 1, 2]]   # three points of the first blob: a poor start that Lloyd must move
    x, (all_scores, cluster_idx, scores, _, init_op, train_op) = _build(num_clusters=3, initial_clusters=init)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(init_op, {x: data})
        s_all, idx, s, _ = sess.run([all_scores[0], cluster_idx[0], scores[0], train_op], {x: data})
        new = sess.run(tf.global_variables()[0])
    ref = _sqdist(data, init)
    np.testing.assert_allclose(s_all, ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(idx, ref.argmin(1))
    np.testing.assert_allclose(s, ref.min(1), rtol=1e-4, atol=1e-4)
    expected = np.stack([data[idx == c].astype(np.float64).sum(0) / ((idx == c).sum() + 1e-6) for c in range(3)])
    np.testing.assert_allclose(new, expected, rtol=1e-5, atol=1e-5)


def test_full_batch_converges_to_the_blob_means():
    data, true_centers = _blobs()
    x, (_, cluster_idx, _, _, init_op, train_op) = _build(num_clusters=3, initial_clusters="kmeans_plus_plus")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(init_op, {x: data})
        for _ in range(5):
            sess.run(train_op, {x: data})
        centers = sess.run(tf.global_variables()[0])
    means = np.stack([data[k * 60:(k + 1) * 60].mean(0) for k in range(3)])
    match = np.argmin(_sqdist(centers, means), axis=1)
    np.testing.assert_allclose(centers, means[match], atol=1e-4)


def test_mini_batch_step_follows_tfs_rule():
    data, _ = _blobs(n=10)
    init = data[[0, 10, 20]].copy()
    x, (_, cluster_idx, _, _, init_op, train_op) = _build(num_clusters=3, initial_clusters=init, use_mini_batch=True)
    names = sorted(v.op.name for v in tf.global_variables())
    assert names == ["Variable", "clusters", "initialized"]
    batch = data[::3]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(init_op, {x: data})
        idx, _ = sess.run([cluster_idx[0], train_op], {x: batch})
        new = sess.run(tf.global_variables()[0])
    # counts start at 1: x += (sum_i d_i - k x) / (1 + k), i.e. (x + sum_i d_i) / (1 + k)
    expected = np.stack([(init[c].astype(np.float64) + batch[idx == c].sum(0)) / (1 + (idx == c).sum())
                         for c in range(3)])
    np.testing.assert_allclose(new, expected, rtol=1e-5, atol=1e-6)


def test_mini_batch_steps_per_iteration_syncs_the_master_copy():
    data, _ = _blobs(n=10)
    init = data[[0, 10, 20]].copy()
    x, (_, _, _, _, init_op, train_op) = _build(num_clusters=3, initial_clusters=init, use_mini_batch=True,
                                                mini_batch_steps_per_iteration=2)
    var = {v.op.name: v for v in tf.global_variables()}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(init_op, {x: data})
        seen = []
        for _ in range(3):
            sess.run(train_op, {x: data})
            seen.append((sess.run(var["clusters"]), sess.run(var["clusters_updated"])))
    np.testing.assert_array_equal(seen[0][0], init)      # the master copy waits ...
    np.testing.assert_array_equal(seen[1][0], init)
    assert not np.array_equal(seen[1][1], init)           # ... while the working copy moves
    np.testing.assert_array_equal(seen[2][0], seen[1][1])  # then takes the working copy's value


def test_cosine_scores_are_one_minus_cosine_similarity():
    rng = np.random.RandomState(2)
    data = np.abs(rng.randn(30, 5)).astype(np.float32)
    init = data[:4]
    x, (all_scores, cluster_idx, scores, _, init_op, train_op) = _build(
        data_dim=5, num_clusters=4, initial_clusters=init, distance_metric="cosine")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(init_op, {x: data})
        s_all, idx, s = sess.run([all_scores[0], cluster_idx[0], scores[0]], {x: data})
    u = data / np.linalg.norm(data, axis=1, keepdims=True)
    c = init / np.linalg.norm(init, axis=1, keepdims=True)
    ref = 1 - u.astype(np.float64) @ c.T
    np.testing.assert_allclose(s_all, ref, atol=1e-5)
    np.testing.assert_array_equal(idx, ref.argmin(1))
    np.testing.assert_allclose(s, ref.min(1), atol=1e-5)


def test_bad_arguments_are_clear_errors():
    x = tf.placeholder(tf.float32, [None, 2])
    with pytest.raises(ValueError, match="Unsupported distance metric"):
        tf.contrib.factorization.KMeans(x, 3, distance_metric="manhattan")
    with pytest.raises(ValueError, match="Unsupported initialization"):
        tf.contrib.factorization.KMeans(x, 3, initial_clusters="best")


def test_kmc2_seeds_centers_from_the_batch_and_completes():
    data, true_centers = _blobs()
    rng = np.random.RandomState(3)
    data = data[rng.permutation(len(data))]   # TF's kmc2 assumes a shuffled batch
    x, (_, _, _, initialized, init_op, _) = _build(num_clusters=3, initial_clusters="kmc2", kmc2_chain_length=20)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(init_op, {x: data})
        assert sess.run(initialized)
        centers = sess.run(tf.global_variables()[0])
    np.testing.assert_array_equal(centers[0], data[0])   # no center yet: the batch's first point
    assert all((data == c).all(axis=1).any() for c in centers)
    # a Metropolis chain of 20 over well separated blobs leaves the blobs already holding a center
    assert len(set(np.argmin(_sqdist(centers, true_centers), axis=1).tolist())) == 3


def test_uninitialized_variables_are_reported_by_the_init_op():
    x, (_, _, _, _, init_op, _) = _build(num_clusters=2)
    with tf.Session() as sess, pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized"):
        sess.run(init_op, {x: np.zeros((4, 2), np.float32)})


def test_kmeans_mnist_program_on_fake_data():
    import kmeans_mnist
    assert kmeans_mnist.main(["--fake_data", "--steps", "10"]) > 0.9


def test_kmeans_mnist_program_on_real_mnist(real_mnist_dir):
    import kmeans_mnist
    assert kmeans_mnist.main(["--data_dir", str(real_mnist_dir), "--steps", "8"]) > 0.65
