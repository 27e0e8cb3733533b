"""tf.contrib.tensor_forest.python.tensor_forest: ForestHParams and RandomForestGraphs (TF 1.15's V4 forest).

    hparams = tensor_forest.ForestHParams(num_classes=10, num_features=784, num_trees=10, max_nodes=1000).fill()
    forest_graph = tensor_forest.RandomForestGraphs(hparams)
    train_op = forest_graph.training_graph(X, Y)
    loss_op = forest_graph.training_loss(X, Y)
    infer_op, _, _ = forest_graph.inference_graph(X)
    init_vars = tf.group(tf.global_variables_initializer(),
                         resources.initialize_resources(resources.shared_resources()))

Each tree is a resource ('tree-0', 'tree-1', ...) created in the Session by
`resources.initialize_resources(resources.shared_resources())`; training grows it online (see
ops/_tree.py: candidate splits per leaf scored by Gini once split_after_samples examples arrived).
Classification on dense features only; regression, sparse features and the options that tune TF's
split pruning/early finishing are accepted where harmless and otherwise refused with a clear error.
"""
import math
import random

from nanotf.framework import dtypes
from nanotf.framework import ops as ops_mod
from nanotf.framework.random_seed import get_seed
from nanotf.ops import array_ops, control_flow_ops, math_ops
from nanotf.contrib.tensor_forest.python.ops import model_ops


class ForestHParams(object):
    """Hyperparameters of a forest; `fill()` derives the ones left at their defaults (as TF's)."""

    def __init__(self, num_trees=100, max_nodes=10000, bagging_fraction=1.0, num_splits_to_consider=0,
                 feature_bagging_fraction=1.0, max_fertile_nodes=0, split_after_samples=250, valid_leaf_threshold=1,
                 dominate_method="bootstrap", dominate_fraction=0.99, model_name="all_dense",
                 split_finish_name="basic", split_pruning_name="none", prune_every_samples=0,
                 early_finish_check_every_samples=0, collate_examples=False, checkpoint_stats=False,
                 use_running_stats_method=False, initialize_average_splits=False, inference_tree_paths=False,
                 param_file=None, split_name="less_or_equal", **kwargs):
        self.num_trees = num_trees
        self.max_nodes = max_nodes
        self.bagging_fraction = bagging_fraction
        self.feature_bagging_fraction = feature_bagging_fraction
        self.num_splits_to_consider = num_splits_to_consider
        self.max_fertile_nodes = max_fertile_nodes
        self.split_after_samples = split_after_samples
        self.valid_leaf_threshold = valid_leaf_threshold
        self.dominate_method = dominate_method
        self.dominate_fraction = dominate_fraction
        self.model_name = model_name
        self.split_finish_name = split_finish_name
        self.split_pruning_name = split_pruning_name
        self.collate_examples = collate_examples
        self.checkpoint_stats = checkpoint_stats
        self.use_running_stats_method = use_running_stats_method
        self.initialize_average_splits = initialize_average_splits
        self.inference_tree_paths = inference_tree_paths
        self.param_file = param_file
        self.split_name = split_name
        self.early_finish_check_every_samples = early_finish_check_every_samples
        self.prune_every_samples = prune_every_samples
        for name, value in kwargs.items():
            setattr(self, name, value)

    def values(self):
        return self.__dict__

    def fill(self):
        """Sets the derived parameters (fails fast if num_classes or num_features is missing)."""
        _ = getattr(self, "num_classes")
        _ = getattr(self, "num_features")
        self.bagged_num_features = int(self.feature_bagging_fraction * self.num_features)
        self.bagged_features = None
        if self.feature_bagging_fraction < 1.0:
            self.bagged_features = [random.sample(range(self.num_features), self.bagged_num_features)
                                    for _ in range(self.num_trees)]
        self.regression = getattr(self, "regression", False)
        self.num_outputs = self.num_classes if self.regression else 1
        self.num_output_columns = self.num_classes + 1
        self.num_splits_to_consider = self.num_splits_to_consider or min(
            max(10, math.floor(math.sqrt(self.num_features))), 1000)
        self.base_random_seed = getattr(self, "base_random_seed", 0)
        if self.split_name not in ("less_or_equal", "less"):
            raise KeyError(self.split_name)
        return self


class TreeVariables(object):
    """The resource of one tree ('tree-<i>'). TF keeps the split statistics in a second resource
    ('stats-<i>'); nanotf keeps them inside the tree, so `stats` is the same handle."""

    def __init__(self, params, tree_num, training=True, tree_config="", tree_stat=""):
        if getattr(params, "regression", False):
            raise NotImplementedError("tensor_forest regression is not supported by nanotf (classification only)")
        seed = params.base_random_seed + tree_num if params.base_random_seed else None
        if seed is None:
            graph_seed, op_seed = get_seed(None)
            seed = None if graph_seed is None else [graph_seed & 0xFFFFFFFF, op_seed & 0xFFFFFFFF, tree_num]
        features = params.bagged_features[tree_num] if params.bagged_features else None
        tree_params = dict(num_classes=params.num_classes,
                           num_features=len(features) if features else params.num_features,
                           max_nodes=params.max_nodes, num_splits=params.num_splits_to_consider,
                           split_after_samples=int(params.split_after_samples), seed=seed,
                           bagging_fraction=params.bagging_fraction, features=features)
        self.tree = model_ops.tree_variable(tree_params, self.get_tree_name("tree", tree_num))
        self.stats = self.tree

    def get_tree_name(self, name, num):
        return "{0}-{1}".format(name, num)


class ForestVariables(object):
    """One TreeVariables per tree; indexable as TF's."""

    def __init__(self, params, device_assigner=None, training=True, tree_variables_class=TreeVariables,
                 tree_configs=None, tree_stats=None):
        self.variables = [tree_variables_class(params, i, training) for i in range(params.num_trees)]

    def __setitem__(self, t, val):
        self.variables[t] = val

    def __getitem__(self, t):
        return self.variables[t]


class _InferenceResult(tuple):
    """(probabilities, tree_paths, variance), as TF 1.15 returns. Programs written for releases that
    returned the probabilities alone keep working: used as a tensor, it is the probabilities."""

    def _as_tensor(self):
        return self[0]

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self[0], name)


class RandomForestGraphs(object):
    """Builds the graphs for training and inference of a random forest."""

    def __init__(self, params, tree_configs=None, tree_stats=None, device_assigner=None, variables=None,
                 tree_variables_class=TreeVariables, tree_graphs=None, training=True):
        if not hasattr(params, "num_splits_to_consider") or not hasattr(params, "bagged_features"):
            raise ValueError("ForestHParams must be filled: pass ForestHParams(...).fill()")
        self.params = params
        self.variables = variables or ForestVariables(params, device_assigner, training, tree_variables_class)
        tree_graph_class = tree_graphs or RandomTreeGraphs
        self.trees = [tree_graph_class(self.variables[i], params, i) for i in range(params.num_trees)]

    def get_all_resource_handles(self):
        return [v.tree for v in self.variables.variables] + [v.stats for v in self.variables.variables]

    def training_graph(self, input_data, input_labels, num_trainers=1, trainer_id=0, **tree_kwargs):
        """The op running one online training step of every tree on a batch (named 'train')."""
        data = _dense_features(input_data)
        labels = ops_mod.convert_to_tensor(input_labels)
        per_trainer = self.params.num_trees / num_trainers
        start, end = int(trainer_id * per_trainer), int((trainer_id + 1) * per_trainer)
        return control_flow_ops.group(*[self.trees[i].training_graph(data, labels, None) for i in range(start, end)],
                                      name="train")

    def inference_graph(self, input_data, **inference_args):
        """(probabilities [batch, num_classes], tree_paths, variance), averaged over the trees."""
        data = _dense_features(input_data)
        probabilities, paths = [], []
        for tree in self.trees:
            probs, path = tree.inference_graph(data, None)
            probabilities.append(probs)
            paths.append(path)
        all_predict = array_ops.stack(probabilities, axis=1)
        n = float(self.params.num_trees)
        average_values = math_ops.divide(math_ops.reduce_sum(all_predict, 1), n, name="probabilities")
        tree_paths = array_ops.stack(paths, axis=1)
        expected_squares = math_ops.divide(math_ops.reduce_sum(all_predict * all_predict, 1), n)
        variance = math_ops.maximum(0., expected_squares - average_values * average_values)
        return _InferenceResult((average_values, tree_paths, variance))

    def average_size(self):
        """The mean number of nodes over the trees (float32 scalar)."""
        sizes = [tree.size() for tree in self.trees]
        return math_ops.reduce_mean(math_ops.cast(array_ops.stack(sizes), dtypes.float32))

    def training_loss(self, features, labels, name="training_loss"):
        """TF's training loss of a forest: minus the average tree size."""
        return math_ops.negative(self.average_size(), name=name)

    def validation_loss(self, features, labels):
        return math_ops.negative(self.average_size())

    def feature_importances(self):
        """Per feature: its share of all the splits in the forest."""
        counts = [tree.feature_usage_counts() for tree in self.trees]
        total = math_ops.reduce_sum(array_ops.stack(counts, 0), 0)
        return total / math_ops.reduce_sum(total)


class RandomTreeGraphs(object):
    """The graphs of one tree."""

    def __init__(self, variables, params, tree_num):
        self.variables = variables
        self.params = params
        self.tree_num = tree_num

    def training_graph(self, input_data, input_labels, random_seed, data_spec=None, sparse_features=None,
                       input_weights=None):
        if sparse_features is not None or input_weights is not None:
            raise NotImplementedError("tensor_forest in nanotf takes dense features without weights")
        return model_ops.train_tree(self.variables.tree, input_data, input_labels)

    def inference_graph(self, input_data, data_spec=None, sparse_features=None):
        return model_ops.tree_predictions(self.variables.tree, input_data, self.params.num_classes)

    def size(self):
        return model_ops.tree_size(self.variables.tree)

    def feature_usage_counts(self):
        return model_ops.feature_usage_counts(self.variables.tree, self.params.num_features)


def _dense_features(input_data):
    if isinstance(input_data, dict):
        raise NotImplementedError("tensor_forest in nanotf takes one dense float tensor of features, not a dict")
    data = ops_mod.convert_to_tensor(input_data)
    if not data.dtype.is_floating:
        data = math_ops.cast(data, dtypes.float32)
    return data
