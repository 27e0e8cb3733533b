"""tensorflow.python.ops.resources: graph resources (stateful objects such as tensor_forest's trees) that
are created by running an op, as variables are initialized by theirs.

    init_vars = tf.group(tf.global_variables_initializer(),
                         resources.initialize_resources(resources.shared_resources()))

`register_resource` records (handle, create op, is-initialized op) in the graph collection "resources"
(or "local_resources"); `initialize_resources` groups the create ops, so running it creates each
resource in the Session (nanotf keeps them in the Session's per-op state). Using a resource that was
never created raises FailedPreconditionError, as using an uninitialized variable does.
"""
import collections

import numpy as np

from nanotf.framework import dtypes
from nanotf.framework import ops
from nanotf.framework.op_def import OpDef
from nanotf.framework.tensor_shape import TensorShape

RESOURCES = "resources"               # TF's GraphKeys.RESOURCES
LOCAL_RESOURCES = "local_resources"   # TF's GraphKeys.LOCAL_RESOURCES

Resource = collections.namedtuple("Resource", ["handle", "create", "is_initialized"])

__all__ = ["register_resource", "shared_resources", "local_resources", "initialize_resources",
           "report_uninitialized_resources", "Resource"]


def register_resource(handle, create_op, is_initialized_op, is_shared=True):
    """Adds a resource to the graph's "resources" (or "local_resources") collection."""
    ops.add_to_collection(RESOURCES if is_shared else LOCAL_RESOURCES, Resource(handle, create_op, is_initialized_op))


def shared_resources():
    """The resources shared between sessions (those tensor_forest registers)."""
    return ops.get_collection(RESOURCES)


def local_resources():
    return ops.get_collection(LOCAL_RESOURCES)


def initialize_resources(resource_list, name="init"):
    """One op creating every resource of `resource_list` (a no-op when the list is empty)."""
    from nanotf.ops import control_flow_ops
    if resource_list:
        return control_flow_ops.group(*[r.create for r in resource_list], name=name)
    return control_flow_ops.no_op(name=name)


class ReportUninitializedResources(OpDef):
    """The names (handles' op names) of the resources whose is-initialized input is False."""
    grad = None

    def infer(op):
        return dtypes.string, TensorShape([None])

    def kernel(op, ctx):
        names = op._attrs["names"]
        return lambda *flags: np.array([n.encode() for n, f in zip(names, flags) if not bool(f)], dtype=object)


def report_uninitialized_resources(resource_list=None, name="report_uninitialized_resources"):
    """A string vector naming the resources not created yet in the Session that runs it."""
    if resource_list is None:
        resource_list = shared_resources() + local_resources()
    flags = [r.is_initialized for r in resource_list]
    names = [r.handle.op.name for r in resource_list]
    g = ops.get_default_graph()
    return g.create_op("ReportUninitializedResources", flags, {"names": names}, name=name).outputs[0]
