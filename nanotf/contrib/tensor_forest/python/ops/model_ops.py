"""tensor_forest's ops: one tree resource per tree, held in the Session's per-op state.

  DecisionTreeResourceHandleOp  the tree's handle (a scalar string naming it, e.g. 'tree-0')
  CreateTreeVariable            creates the empty tree in the Session (the resource's create op)
  TreeIsInitializedOp           whether it was created in this Session
  TensorForestTreeTrain         one training step on a batch: route the examples to leaves, add them to
                                the leaves' class counts and split statistics, split finished leaves
                                (TF does this with TraverseTreeV4, UpdateModelV4, ProcessInputV4, GrowTreeV4)
  TreePredictionsV4             per-example class probabilities from the reached leaf (and empty tree paths)
  TreeSize                      the number of nodes
  FeatureUsageCounts            how many splits use each feature
The ops take the handle as a reference input: the state is looked up by the handle's op, so each
Session has its own forest. The NumPy tree is in _tree.py.
"""
import numpy as np

from nanotf.framework import dtypes, errors
from nanotf.framework import ops as ops_mod
from nanotf.framework.op_def import OpDef
from nanotf.framework.tensor_shape import TensorShape
from nanotf.contrib.tensor_forest.python.ops._tree import Tree

_KEY = "nanotf.tensor_forest.tree"


def _tree(ctx, op):
    handle = op._inputs[0].op
    tree = ctx.op_state.get((_KEY, handle))
    if tree is None:
        raise errors.FailedPreconditionError(
            None, op, "Attempting to use uninitialized resource %s: run resources.initialize_resources("
            "resources.shared_resources()) first" % handle.name)
    return tree


class DecisionTreeResourceHandleOp(OpDef):
    stateful = True
    grad = None

    def infer(op):
        return dtypes.string, TensorShape([])

    def kernel(op, ctx):
        value = np.array(op.name.encode(), dtype=object)
        return lambda: value


class _TreeOp(OpDef):
    """An op on one tree: its input 0 is the tree's handle, a reference (the tree is looked up by the
    handle's op). Stateful, as the tree is Session state that training changes: never folded."""
    abstract = True
    stateful = True
    grad = None
    ref_inputs = (0,)


class CreateTreeVariable(_TreeOp):

    def infer(op):
        return []

    def kernel(op, ctx):
        key, p = (_KEY, op._inputs[0].op), op._attrs["tree_params"]

        def create():
            ctx.op_state[key] = Tree(**p)
        return create


class TreeIsInitializedOp(_TreeOp):

    def infer(op):
        return dtypes.bool, TensorShape([])

    def kernel(op, ctx):
        key = (_KEY, op._inputs[0].op)
        return lambda: np.bool_(key in ctx.op_state)


class TensorForestTreeTrain(_TreeOp):

    def infer(op):
        x, y = op._inputs[1], op._inputs[2]
        if x.shape.ndims not in (None, 2):
            raise ValueError("tensor_forest: input_data must be a matrix [batch, num_features], got shape %s" % x.shape)
        return []

    def kernel(op, ctx):
        def train(x, y):
            _tree(ctx, op).train(x, y)
        return train


class TreePredictionsV4(_TreeOp):

    def infer(op):
        x = op._inputs[1]
        n = x.shape[0] if x.shape.ndims else None
        return [(dtypes.float32, TensorShape([n, op._attrs["num_classes"]])), (dtypes.string, TensorShape([n]))]

    def kernel(op, ctx):
        def predict(x):
            tree = _tree(ctx, op)
            x = np.asarray(x, dtype=np.float32)
            if tree.features is not None:
                x = x[:, tree.features]
            if x.ndim != 2 or x.shape[1] != tree.F:
                raise errors.InvalidArgumentError(None, op, "tensor_forest: input_data has shape %s, expected "
                                                  "[batch, %d]" % (list(x.shape), tree.F))
            return tree.probabilities(x), np.full(x.shape[0], b"", dtype=object)
        return predict


class TreeSize(_TreeOp):

    def infer(op):
        return dtypes.int32, TensorShape([])

    def kernel(op, ctx):
        return lambda: np.int32(_tree(ctx, op).size())


class FeatureUsageCounts(_TreeOp):

    def infer(op):
        return dtypes.int32, TensorShape([op._attrs["num_features"]])

    def kernel(op, ctx):
        n = op._attrs["num_features"]
        return lambda: _tree(ctx, op).feature_usage_counts(n)


def tree_variable(tree_params, name):
    """(handle, create op, is_initialized op) of a new tree, registered as a shared resource."""
    from nanotf.python.ops import resources
    g = ops_mod.get_default_graph()
    handle = g.create_op("DecisionTreeResourceHandleOp", [], {}, name=name).outputs[0]
    create = g.create_op("CreateTreeVariable", [handle], {"tree_params": tree_params}, name=name + "/CreateTreeVariable")
    is_init = g.create_op("TreeIsInitializedOp", [handle], {}, name=name + "/TreeIsInitializedOp").outputs[0]
    resources.register_resource(handle, create, is_init)
    return handle


def train_tree(handle, input_data, labels, name=None):
    return ops_mod.get_default_graph().create_op("TensorForestTreeTrain", [handle, input_data, labels],
                                                 name=name or "TensorForestTreeTrain")


def tree_predictions(handle, input_data, num_classes, name=None):
    op = ops_mod.get_default_graph().create_op("TreePredictionsV4", [handle, input_data], {"num_classes": num_classes},
                                               name=name or "TreePredictionsV4")
    return op.outputs[0], op.outputs[1]


def feature_usage_counts(handle, num_features, name=None):
    return ops_mod.get_default_graph().create_op("FeatureUsageCounts", [handle], {"num_features": num_features},
                                                 name=name or "FeatureUsageCounts").outputs[0]


def tree_size(handle, name=None):
    return ops_mod.get_default_graph().create_op("TreeSize", [handle], name=name or "TreeSize").outputs[0]
