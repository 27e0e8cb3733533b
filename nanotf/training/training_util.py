"""The global step: the int64 scalar variable `global_step` counting training steps (TF1's training_util)."""
from nanotf.framework import dtypes
from nanotf.framework.ops import GraphKeys, Tensor, get_default_graph
from nanotf.ops import array_ops
from nanotf.ops.variables import Variable

__all__ = ["global_step", "get_global_step", "create_global_step", "get_or_create_global_step",
           "assert_global_step"]


def global_step(sess, global_step_tensor):
    """The current value of the global step as a Python int (runs `global_step_tensor` in `sess`)."""
    return int(sess.run(global_step_tensor))


def get_global_step(graph=None):
    """The global step of `graph` (default: the default graph): the one variable in the GLOBAL_STEP
    collection, else the variable (or tensor) named `global_step`; None when there is none."""
    graph = graph if graph is not None else get_default_graph()
    found = graph.get_collection(GraphKeys.GLOBAL_STEP)
    if len(found) > 1:
        # TF logs an error and returns None rather than guess.
        return None
    if found:
        step = found[0]
    else:
        step = next((v for v in graph.get_collection(GraphKeys.GLOBAL_VARIABLES)
                     if getattr(v, "op", None) is not None and v.op.name == "global_step"), None)
        if step is None:
            try:
                step = graph.get_tensor_by_name("global_step:0")
            except (KeyError, ValueError):
                return None
    assert_global_step(step)
    return step


def create_global_step(graph=None):
    """Creates the int64 scalar variable `global_step` (zeros initializer, not trainable, in the
    GLOBAL_VARIABLES and GLOBAL_STEP collections). ValueError if the graph already has one."""
    graph = graph if graph is not None else get_default_graph()
    if get_global_step(graph) is not None:
        raise ValueError('"global_step" already exists.')
    # Outside the caller's name scope and control dependencies: the name must be exactly `global_step`
    # and initializing it must need nothing else.
    with graph.as_default(), graph.name_scope(None), graph.control_dependencies(None):
        return Variable(lambda: array_ops.zeros([], dtype=dtypes.int64, name="zeros"), name="global_step",
                        trainable=False, dtype=dtypes.int64,
                        collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP])


def get_or_create_global_step(graph=None):
    """The graph's global step, created first when missing."""
    graph = graph if graph is not None else get_default_graph()
    step = get_global_step(graph)
    if step is None:
        step = create_global_step(graph)
    return step


def assert_global_step(global_step_tensor):
    """TypeError unless `global_step_tensor` is an integer scalar Variable or Tensor."""
    if not (isinstance(global_step_tensor, (Variable, Tensor)) or hasattr(global_step_tensor, "_variable")):
        raise TypeError('Existing "global_step" must be a Variable or Tensor: %s.' % (global_step_tensor,))
    if not global_step_tensor.dtype.base_dtype.is_integer:
        raise TypeError('Existing "global_step" does not have integer type: %s' % global_step_tensor.dtype)
    shape = global_step_tensor.get_shape()
    if shape.ndims != 0 and shape.is_fully_defined():
        raise TypeError('Existing "global_step" is not scalar: %s' % shape)
