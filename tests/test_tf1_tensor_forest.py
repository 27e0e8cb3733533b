"""tf.contrib.tensor_forest and tensorflow.python.ops.resources: hyperparameters, resources per Session,
Gini splits checked by hand, inference statistics against NumPy, and the MNIST program."""

import numpy as np
import pytest

import nanotf as tf
from nanotf.contrib.tensor_forest.python import tensor_forest
from nanotf.contrib.tensor_forest.python.ops._tree import Tree
from nanotf.python.ops import resources



pytestmark = pytest.mark.usefixtures("fresh_graph")   # tests/conftest.py


def _forest(num_features=2, num_classes=2, **kw):
    kw.setdefault("num_trees", 3)
    kw.setdefault("max_nodes", 50)
    kw.setdefault("split_after_samples", 20)
    kw.setdefault("base_random_seed", 7)
    hp = tensor_forest.ForestHParams(num_classes=num_classes, num_features=num_features, **kw).fill()
    x = tf.placeholder(tf.float32, [None, num_features])
    y = tf.placeholder(tf.int32, [None])
    graph = tensor_forest.RandomForestGraphs(hp)
    return hp, graph, x, y


def _separable(n, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.rand(n, 2).astype(np.float32)
    return x, (x[:, 0] > 0.6).astype(np.int32)


def test_fill_derives_tfs_defaults():
    hp = tensor_forest.ForestHParams(num_classes=10, num_features=784, num_trees=10, max_nodes=1000).fill()
    assert hp.num_splits_to_consider == 28 and hp.split_after_samples == 250 and hp.bagged_features is None
    assert tensor_forest.ForestHParams(num_classes=2, num_features=50).fill().num_splits_to_consider == 10
    hp = tensor_forest.ForestHParams(num_classes=2, num_features=20, num_trees=4, feature_bagging_fraction=0.5).fill()
    assert len(hp.bagged_features) == 4 and all(len(set(f)) == 10 for f in hp.bagged_features)
    with pytest.raises(AttributeError):
        tensor_forest.ForestHParams(num_features=3).fill()


def test_resources_are_registered_created_by_initialize_resources_and_reported():
    hp, graph, x, y = _forest()
    train = graph.training_graph(x, y)
    shared = resources.shared_resources()
    assert [r.handle.op.name for r in shared] == ["tree-0", "tree-1", "tree-2"]
    report = resources.report_uninitialized_resources()
    init = resources.initialize_resources(shared)
    data, labels = _separable(10)
    with tf.Session() as sess:
        assert sorted(sess.run(report)) == [b"tree-0", b"tree-1", b"tree-2"]
        with pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized resource tree-0"):
            sess.run(train, {x: data, y: labels})
        sess.run(init)
        assert list(sess.run(report)) == []
        sess.run(train, {x: data, y: labels})
    assert resources.initialize_resources([]).type == "NoOp"


def test_best_split_is_the_lowest_weighted_gini_and_children_start_from_its_counts():
    t = Tree(num_classes=2, num_features=3, max_nodes=7, num_splits=3, split_after_samples=10, seed=0)
    # hand-made statistics of the root: 10 examples, 6 of class 0 and 4 of class 1
    t.ncand[0], t.seen[0] = 3, 10
    t.cand_feature[0] = [0, 1, 2]
    t.cand_threshold[0] = [0.5, 0.25, 0.75]
    t.stat_counts[0] = [6, 4]
    t.left_counts[0] = [[3, 2], [6, 1], [5, 0]]   # left sides; right = total - left
    t._grow()

    def gini(left):
        right = np.array([6, 4]) - np.array(left)
        return sum(n.sum() - (n ** 2).sum() / n.sum() for n in (np.array(left, float), right.astype(float)))
    # weighted Gini: 4.8, 1.714..., 1.6 (n_left * gini_left + n_right * gini_right)
    expected = int(np.argmin([gini(l) for l in ([3, 2], [6, 1], [5, 0])]))
    assert expected == 2 and t.feature[0] == 2 and t.threshold[0] == np.float32(0.75)
    assert t.size() == 3
    np.testing.assert_array_equal(t.counts[t.left[0]], [5, 0])
    np.testing.assert_array_equal(t.counts[t.left[0] + 1], [1, 4])
    assert t.ncand[0] == 0 and t.seen[0] == 0


def test_a_split_that_separates_nothing_is_discarded():
    t = Tree(num_classes=2, num_features=1, max_nodes=7, num_splits=2, split_after_samples=4, seed=0)
    t.ncand[0], t.seen[0] = 2, 4
    t.stat_counts[0] = [2, 2]
    t.left_counts[0] = [[0, 0], [2, 2]]   # everything on one side: no impurity decrease
    t._grow()
    assert t.size() == 1 and t.ncand[0] == 0


def test_routing_and_probabilities_follow_the_tree():
    t = Tree(num_classes=3, num_features=2, max_nodes=5, num_splits=1, split_after_samples=1, seed=0)
    t.feature[0], t.threshold[0], t.left[0], t.n_nodes = 1, 0.5, 1, 3
    t.counts[1], t.counts[2] = [4, 0, 1], [0, 2, 0]
    x = np.array([[9, 0.5], [0, 0.6]], np.float32)   # <= threshold goes left
    np.testing.assert_array_equal(t.leaves(x), [1, 2])
    np.testing.assert_allclose(t.probabilities(x), [[5 / 8, 1 / 8, 2 / 8], [1 / 5, 3 / 5, 1 / 5]], rtol=1e-6)


def test_forest_learns_a_threshold_and_respects_max_nodes():
    hp, graph, x, y = _forest(max_nodes=9)
    train = graph.training_graph(x, y)
    loss = graph.training_loss(x, y)
    probs, paths, variance = graph.inference_graph(x)
    data, labels = _separable(2000)
    init = tf.group(tf.global_variables_initializer(), resources.initialize_resources(resources.shared_resources()))
    with tf.Session() as sess:
        sess.run(init)
        for i in range(20):
            sess.run(train, {x: data[100 * i:100 * (i + 1)], y: labels[100 * i:100 * (i + 1)]})
        test, test_labels = _separable(500, seed=1)
        p, l = sess.run([probs, loss], {x: test})
        sizes = sess.run([t.size() for t in graph.trees])
        importances = sess.run(graph.feature_importances())
    assert importances.sum() == pytest.approx(1.0)
    assert (p.argmax(1) == test_labels).mean() > 0.95
    assert importances[0] > 0.5   # the label depends on feature 0 only
    assert all(1 < s <= 9 and s % 2 == 1 for s in sizes)
    assert l == pytest.approx(-np.mean(sizes))


def test_inference_averages_the_trees_and_gives_tfs_variance():
    hp, graph, x, y = _forest()
    train = graph.training_graph(x, y)
    result = graph.inference_graph(x)
    assert len(result) == 3
    per_tree = [op.outputs[0] for op in tf.get_default_graph().get_operations() if op.type == "TreePredictionsV4"]
    legacy = tf.argmax(result, 1)   # older releases returned the probabilities alone
    data, labels = _separable(300)
    with tf.Session() as sess:
        sess.run(resources.initialize_resources(resources.shared_resources()))
        sess.run(train, {x: data, y: labels})
        (avg, paths, var), trees, arg = sess.run([tuple(result), per_tree, legacy], {x: data[:50]})
    trees = np.stack(trees, axis=1).astype(np.float64)
    np.testing.assert_allclose(avg, trees.mean(1), rtol=1e-6)
    np.testing.assert_allclose(var, np.maximum(0, (trees ** 2).mean(1) - trees.mean(1) ** 2), atol=1e-6)
    np.testing.assert_array_equal(arg, avg.argmax(1))
    assert paths.shape == (50, 3)


def test_each_session_has_its_own_forest_and_seeds_make_runs_repeatable():
    def run_once():
        tf.reset_default_graph()
        hp, graph, x, y = _forest()
        train = graph.training_graph(x, y)
        probs = graph.inference_graph(x)[0]
        init = resources.initialize_resources(resources.shared_resources())
        data, labels = _separable(400)
        with tf.Session() as s1, tf.Session() as s2:
            s1.run(init)
            s2.run(init)
            for i in range(4):
                s1.run(train, {x: data[100 * i:100 * (i + 1)], y: labels[100 * i:100 * (i + 1)]})
            fresh = s2.run(probs, {x: data[:5]})
            return s1.run(probs, {x: data}), fresh
    a, fresh = run_once()
    b, _ = run_once()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(fresh, 0.5)   # an untrained forest: uniform (Laplace-smoothed empty leaf)


def test_random_forest_program_on_fake_data():
    import random_forest_mnist
    assert random_forest_mnist.main(["--fake_data", "--steps", "20"]) > 0.9


def test_random_forest_program_on_real_mnist(real_mnist_dir):
    import random_forest_mnist
    assert random_forest_mnist.main(["--data_dir", str(real_mnist_dir), "--steps", "150"]) > 0.88
