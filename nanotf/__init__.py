"""nanotf: TensorFlow 1.x's graph-and-session mechanics, written on NumPy.

    import nanotf as tf

runs graph-building code written for TensorFlow 1.x: tf.Graph, tf.placeholder, tf.Variable,
tf.gradients, tf.train optimizers, tf.Session, summaries for TensorBoard and tf.train.Saver.
"""
from nanotf.framework import dtypes as _dtypes
from nanotf.framework.dtypes import (DType, as_dtype, bool, double, float16, float32, float64, half,  # noqa: A004
                                     int8, int16, int32, int64, string, uint8, uint16)
from nanotf.framework.tensor_shape import Dimension, TensorShape
from nanotf.framework.ops import (Graph, GraphKeys, Operation, Tensor, add_to_collection, add_to_collections,
                                  control_dependencies, convert_to_tensor, device, get_collection, get_collection_ref,
                                  get_default_graph, is_tensor, name_scope, reset_default_graph)
from nanotf.framework.random_seed import set_random_seed
from nanotf.client.session import InteractiveSession, Session, get_default_session
from nanotf import ops as _ops  # registers every op type
from nanotf.ops.array_ops import *  # noqa: F401,F403
from nanotf.ops.math_ops import *  # noqa: F401,F403
from nanotf.ops.control_flow_ops import *  # noqa: F401,F403
from nanotf.ops.state_ops import *  # noqa: F401,F403
from nanotf.ops.random_ops import *  # noqa: F401,F403
from nanotf.ops.variables import *  # noqa: F401,F403
from nanotf.ops.variable_scope import *  # noqa: F401,F403
from nanotf.ops.init_ops import *  # noqa: F401,F403
from nanotf.ops.sparse_ops import *  # noqa: F401,F403
from nanotf.ops.clip_ops import *  # noqa: F401,F403
from nanotf.ops.gradients_impl import gradients
from nanotf.ops.nn_ops import sigmoid, tanh
from nanotf.summary.summary import _seed_era_names as _summary_old
from nanotf import errors, losses, nn, summary, train  # noqa: F401
from nanotf import app, flags, gfile, logging  # noqa: F401  (tf.app, tf.flags, tf.gfile, tf.logging)
from nanotf import compat, config, io, random  # noqa: F401  (tf.compat.v1 is nanotf itself)
from nanotf.compat import disable_eager_execution, disable_v2_behavior, executing_eagerly  # noqa: F401

globals().update(_summary_old())
newaxis = None
__version__ = "0.1.0"


_LAZY_SUBMODULES = ("layers", "data", "contrib", "python", "initializers")


def __getattr__(name):
    """Proto classes and the larger subpackages load on first use, so `import nanotf` stays light."""
    if name in _LAZY_SUBMODULES:
        import importlib
        return importlib.import_module("nanotf." + name)
    if name in ("RunOptions", "RunMetadata", "GraphOptions", "OptimizerOptions", "ConfigProto", "GPUOptions"):
        from tensorboard.compat.proto import config_pb2
        return getattr(config_pb2, name)
    if name == "GraphDef":
        from tensorboard.compat.proto import graph_pb2
        return graph_pb2.GraphDef
    if name == "NodeDef":
        from tensorboard.compat.proto import node_def_pb2
        return node_def_pb2.NodeDef
    raise AttributeError("module 'nanotf' has no attribute %r" % name)
