"""Graph -> GraphDef protos (tensorboard's copies of TensorFlow's), for the Graphs tab and `graph_def`.

TensorBoard builds its node hierarchy from the '/' in node names, draws edges from `input`
("op", "op:k", "^ctrl") and labels them from the `_output_shapes` attr. nanotf's attrs are Python
objects; `attr_value` maps the kinds TensorFlow has (bool, int, float, str, DType, TensorShape,
arrays, homogeneous lists) and skips the rest (callables, None, ...).

The `tensorboard` protos are imported on first use so `import nanotf` stays light.
"""
import numpy as np

from nanotf.framework import dtypes
from nanotf.framework.tensor_shape import TensorShape

GRAPH_DEF_PRODUCER = 27        # a TF1-era producer version; TensorBoard accepts any
CONST_CONTENT_LIMIT = 1 << 16  # bytes: larger non-uniform Const values carry only dtype and shape

# TensorProto field holding one element of each dtype, for the compact "one value fills all" form.
_VAL_FIELD = {"float32": "float_val", "float64": "double_val", "int32": "int_val", "int16": "int_val",
              "int8": "int_val", "uint8": "int_val", "uint16": "int_val", "int64": "int64_val",
              "bool": "bool_val", "float16": "half_val", "string": "string_val"}


def _protos():
    """The tensorboard proto modules, imported lazily (they pull in protobuf)."""
    from tensorboard.compat.proto import attr_value_pb2, graph_pb2, node_def_pb2, tensor_pb2, \
        tensor_shape_pb2, versions_pb2
    return attr_value_pb2, graph_pb2, node_def_pb2, tensor_pb2, tensor_shape_pb2, versions_pb2


def shape_proto(shape):
    """TensorShapeProto of a TensorShape: unknown rank -> unknown_rank, unknown dims -> size -1."""
    from tensorboard.compat.proto import tensor_shape_pb2
    dims = shape.as_tuple() if isinstance(shape, TensorShape) else tuple(shape)
    if dims is None:
        return tensor_shape_pb2.TensorShapeProto(unknown_rank=True)
    return tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=-1 if d is None else int(d)) for d in dims])


def _as_bytes(s):
    return s if isinstance(s, bytes) else str(s).encode("utf-8")


def tensor_proto(value, dtype=None, content_limit=None):
    """TensorProto of an array. Uniform arrays use one typed value (TF's compressed form: the last value
    fills the tensor); others use tensor_content, or carry only dtype+shape beyond `content_limit` bytes."""
    from tensorboard.compat.proto import tensor_pb2
    dtype = dtypes.as_dtype(dtype if dtype is not None else np.asarray(value).dtype)
    arr = np.asarray(value, dtype=dtype.as_numpy_dtype)
    proto = tensor_pb2.TensorProto(dtype=dtype.as_datatype_enum, tensor_shape=shape_proto(arr.shape))
    if arr.size == 0:
        return proto
    flat = arr.ravel()
    if dtype is dtypes.string:  # strings never go in tensor_content
        proto.string_val.extend(_as_bytes(s) for s in flat)
        return proto
    if arr.size > 1 and (flat == flat[0]).all():
        flat = flat[:1]
    if flat.size == 1:
        field = _VAL_FIELD[dtype.name]
        v = flat.view(np.uint16) if dtype is dtypes.float16 else flat  # half_val holds the bit pattern
        getattr(proto, field).extend(v.tolist())
        return proto
    if content_limit is None or arr.nbytes <= content_limit:
        proto.tensor_content = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
    return proto


def attr_value(value):
    """AttrValue for a nanotf attr value, or None when it has no GraphDef form."""
    from tensorboard.compat.proto import attr_value_pb2
    AttrValue = attr_value_pb2.AttrValue
    if isinstance(value, (bool, np.bool_)):
        return AttrValue(b=bool(value))
    if isinstance(value, (int, np.integer)):
        return AttrValue(i=int(value))
    if isinstance(value, (float, np.floating)):
        return AttrValue(f=float(value))
    if isinstance(value, (str, bytes)):
        return AttrValue(s=_as_bytes(value))
    if isinstance(value, dtypes.DType):
        return AttrValue(type=value.as_datatype_enum)
    if isinstance(value, TensorShape):
        return AttrValue(shape=shape_proto(value))
    if isinstance(value, np.ndarray):
        try:
            return AttrValue(tensor=tensor_proto(value, content_limit=CONST_CONTENT_LIMIT))
        except (TypeError, KeyError):
            return None
    if isinstance(value, (list, tuple)):
        return _list_attr(value, attr_value_pb2)
    return None


def _list_attr(values, attr_value_pb2):
    """ListValue for a homogeneous list; None for a mixed or unsupported one."""
    ListValue = attr_value_pb2.AttrValue.ListValue
    kinds = ((lambda v: isinstance(v, (bool, np.bool_)), "b", bool),
             (lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)), "i", int),
             (lambda v: isinstance(v, (float, np.floating)), "f", float),
             (lambda v: isinstance(v, (str, bytes)), "s", _as_bytes),
             (lambda v: isinstance(v, dtypes.DType), "type", lambda d: d.as_datatype_enum),
             (lambda v: isinstance(v, TensorShape), "shape", shape_proto))
    if not values:
        return attr_value_pb2.AttrValue(list=ListValue())
    for test, field, convert in kinds:
        if all(test(v) for v in values):
            return attr_value_pb2.AttrValue(list=ListValue(**{field: [convert(v) for v in values]}))
    return None


def op_to_node_def(op, add_shapes=False):
    """NodeDef of one Operation: scoped name, op type, inputs ("op", "op:k", "^ctrl") and attrs."""
    attr_value_pb2, _, node_def_pb2, _, _, _ = _protos()
    node = node_def_pb2.NodeDef(name=op.name, op=op.type)
    node.input.extend(t._as_node_def_input() for t in op._inputs)
    node.input.extend("^" + c.name for c in op._control_inputs)
    if op._device:
        node.device = op._device
    attrs = op._attrs
    for key, value in attrs.items():
        av = attr_value(value)
        if av is not None:
            node.attr[key].CopyFrom(av)
    # TF ops name their element type `T`; nanotf keeps it implicit in the inputs. Strings are skipped
    # because ops whose first input is a string (summaries, MergeSummary) type another input, if any.
    if "T" not in attrs and "dtype" not in attrs and op._inputs and op._inputs[0].dtype is not dtypes.string:
        node.attr["T"].type = op._inputs[0].dtype.as_datatype_enum
    if add_shapes:
        node.attr["_output_shapes"].CopyFrom(attr_value_pb2.AttrValue(
            list=attr_value_pb2.AttrValue.ListValue(shape=[shape_proto(t.shape) for t in op._outputs])))
    return node


def graph_to_graph_def(graph, add_shapes=False):
    """GraphDef of a Graph: one NodeDef per op in creation order (a topological order)."""
    _, graph_pb2, _, _, _, versions_pb2 = _protos()
    graph_def = graph_pb2.GraphDef(versions=versions_pb2.VersionDef(producer=GRAPH_DEF_PRODUCER))
    graph_def.node.extend(op_to_node_def(op, add_shapes) for op in graph.get_operations())
    return graph_def
