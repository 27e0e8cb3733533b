"""tf.TensorArray: a list of tensors written and read by index, as TF 1.x loops use it.

nanotf's TensorArray is a value: its `flow` tensor (dtype `variant`, shape []) holds, at run time, an
immutable `Flow` (the elements written so far, None where nothing was written). `write` returns a new
TensorArray whose flow has one element replaced; nothing is updated in place, so a TensorArray is a loop
variable like any other (tf.while_loop and tf.cond pass its flow through, and wrap the result again).

Gradients are values of the same kind: the gradient of a flow is a Flow of the elements' gradients (None for
zero), summed element by element where a flow is used several times (ops/gradients_impl.py).
"""
import numpy as np

from nanotf.framework import dtypes, errors
from nanotf.framework.op_def import OpDef, Sample
from nanotf.framework.ops import apply_op, convert_to_tensor, name_scope
from nanotf.framework.tensor_shape import TensorShape, as_shape, unknown_shape

__all__ = ["TensorArray"]

# TF's DT_VARIANT: the dtype of a TensorArray's flow and of its gradient.
variant = dtypes.DType("variant", np.object_, 21)


def is_flow(t):
    return t.dtype is variant


class Flow:
    """The run-time value of a TensorArray: a tuple of arrays (None: not written, or a zero gradient)."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items

    def __repr__(self):
        return "<TensorArray value: %d element(s)>" % len(self.items)


def _items(flow):
    if isinstance(flow, np.ndarray) and flow.dtype == object and flow.ndim == 0:
        flow = flow[()]   # a plan copies what stateful ops return: a Flow comes back as a 0-d object array
    return () if flow is None else flow.items


def add_flows(a, b):
    """Element-wise sum of two gradient flows (None is zero)."""
    x, y = _items(a), _items(b)
    n = max(len(x), len(y))
    x, y = x + (None,) * (n - len(x)), y + (None,) * (n - len(y))
    return Flow(tuple(p if q is None else q if p is None else p + q for p, q in zip(x, y)))


def _index(op, i, n, what):
    i = int(i)
    if i < 0 or i >= n:
        raise errors.InvalidArgumentError(None, op, "Tried to %s index %d but array size is: %d" % (what, i, n))
    return i


def _zeros_like_elem(like, npd):
    return np.zeros(np.shape(like), dtype=npd)


class _FlowOp(OpDef):
    abstract = True

    def infer(op):
        return variant, TensorShape([])


class TensorArrayV3(_FlowOp):
    """A new TensorArray of `size` unwritten elements."""
    grad = None

    def kernel(op, ctx):
        return lambda size: Flow((None,) * int(size))


class TensorArrayWriteV3(_FlowOp):
    def kernel(op, ctx):
        dynamic = op._attrs["dynamic_size"]

        def write(flow, index, value):
            items = _items(flow)
            i = int(index)
            if i < 0 or (i >= len(items) and not dynamic):
                raise errors.InvalidArgumentError(None, op, "Tried to write to index %d but array is not resizeable "
                                                  "and size is: %d" % (i, len(items)))
            if i >= len(items):
                items = items + (None,) * (i + 1 - len(items))
            elif items[i] is not None:
                raise errors.InvalidArgumentError(None, op, "Could not write to TensorArray index %d because it has "
                                                  "already been written to." % i)
            return Flow(items[:i] + (value,) + items[i + 1:])
        return write

    def grad(op, dflow):
        flow, index, value = op._inputs
        if dflow is None:
            return [None, None, None]
        return [apply_op("TensorArrayClearGrad", [dflow, index]),
                None, apply_op("TensorArrayReadGrad", [dflow, index, value])]


class TensorArrayReadV3(OpDef):
    def infer(op):
        return op._attrs["dtype"], op._attrs["element_shape"]

    def kernel(op, ctx):
        def read(flow, index):
            items = _items(flow)
            i = _index(op, index, len(items), "read from")
            if items[i] is None:
                raise errors.InvalidArgumentError(None, op, "Could not read from TensorArray index %d because it "
                                                  "has not yet been written to." % i)
            return items[i]
        return read

    def grad(op, g):
        flow, index = op._inputs
        return [apply_op("TensorArrayScatterGrad", [flow, array_ops_reshape_1(index), expand(g)]), None]


class TensorArrayStack(OpDef):
    """All elements stacked on a new axis 0 (TensorArray.stack / gather)."""
    type_name = "TensorArrayGatherV3"

    def infer(op):
        n = None
        idx = op._inputs[1]
        if idx.shape.ndims == 1:
            n = idx.shape.as_tuple()[0]
        return op._attrs["dtype"], TensorShape([n]).concatenate(op._attrs["element_shape"])

    def kernel(op, ctx):
        npd = op._attrs["dtype"].as_numpy_dtype
        shape = op._attrs["element_shape"]

        def gather(flow, indices):
            items = _items(flow)
            picked = []
            for i in np.asarray(indices).ravel():
                i = _index(op, i, len(items), "gather from")
                if items[i] is None:
                    raise errors.InvalidArgumentError(None, op, "Could not read from TensorArray index %d because "
                                                      "it has not yet been written to." % i)
                picked.append(items[i])
            if not picked:
                if not shape.is_fully_defined():
                    raise errors.InvalidArgumentError(None, op, "TensorArray has size zero, but element shape %s is "
                                                      "not fully defined: cannot stack an empty array" % shape)
                return np.zeros([0] + shape.as_list(), dtype=npd)
            return np.stack(picked).astype(npd, copy=False)
        return gather

    def grad(op, g):
        flow, indices = op._inputs
        return [apply_op("TensorArrayScatterGrad", [flow, indices, g]), None]


class TensorArrayScatterV3(_FlowOp):
    """Rows of `value` written at `indices` (TensorArray.scatter / unstack)."""

    def kernel(op, ctx):
        dynamic = op._attrs["dynamic_size"]

        def scatter(flow, indices, value):
            items = list(_items(flow))
            indices = np.asarray(indices).ravel()
            if len(indices) != np.shape(value)[0]:
                raise errors.InvalidArgumentError(None, op, "Expected len(indices) == values.shape[0], but saw: %d "
                                                  "vs. %d" % (len(indices), np.shape(value)[0]))
            for k, i in enumerate(indices):
                i = int(i)
                if i >= len(items) and dynamic:
                    items.extend([None] * (i + 1 - len(items)))
                i = _index(op, i, len(items), "write to")
                items[i] = value[k]
            return Flow(tuple(items))
        return scatter

    def grad(op, dflow):
        flow, indices, value = op._inputs
        if dflow is None:
            return [None, None, None]
        return [apply_op("TensorArrayClearGrad", [dflow, indices]), None,
                apply_op("TensorArrayGatherGrad", [dflow, indices, value])]


class TensorArraySizeV3(OpDef):
    grad = None

    def infer(op):
        return dtypes.int32, TensorShape([])

    def kernel(op, ctx):
        return lambda flow: np.int32(len(_items(flow)))


class TensorArrayConcatV3(OpDef):
    """All elements concatenated along their axis 0."""

    def infer(op):
        es = op._attrs["element_shape"]
        return op._attrs["dtype"], (TensorShape([None]).concatenate(es[1:]) if es.ndims else unknown_shape())

    def kernel(op, ctx):
        npd = op._attrs["dtype"].as_numpy_dtype

        def concat(flow):
            items = _items(flow)
            if any(x is None for x in items):
                raise errors.InvalidArgumentError(None, op, "Could not concat TensorArray: index %d has not been "
                                                  "written to." % [x is None for x in items].index(True))
            return np.concatenate(items).astype(npd, copy=False)
        return concat

    def grad(op, g):
        return [apply_op("TensorArraySplitGrad", [op._inputs[0], g])]


# -- gradient helpers (their own gradients are not needed: no second order through TensorArrays)
class TensorArrayClearGrad(_FlowOp):
    """The gradient flow with the given elements zeroed (they were overwritten by a write or scatter)."""
    grad = None

    def kernel(op, ctx):
        def clear(dflow, indices):
            items = list(_items(dflow))
            for i in np.asarray(indices).ravel():
                if int(i) < len(items):
                    items[int(i)] = None
            return Flow(tuple(items))
        return clear


class _ShapedLikeInput2(OpDef):
    """A gradient helper whose output has the dtype and shape of its input 2 (read only for those)."""
    abstract = True
    grad = None
    shape_only_inputs = (2,)

    def infer(op):
        return op._inputs[2].dtype, op._inputs[2].shape


class TensorArrayReadGrad(_ShapedLikeInput2):
    """Element `index` of a gradient flow, zeros shaped like `like` where it is zero."""

    def kernel(op, ctx):
        npd = op._inputs[2].dtype.as_numpy_dtype

        def read(dflow, index, like):
            items = _items(dflow)
            i = int(index)
            g = items[i] if i < len(items) else None
            return _zeros_like_elem(like, npd) if g is None else g
        return read


class TensorArrayGatherGrad(_ShapedLikeInput2):
    """Elements `indices` of a gradient flow stacked, zeros where they are zero (shaped like `value`)."""

    def kernel(op, ctx):
        npd = op._inputs[2].dtype.as_numpy_dtype

        def gather(dflow, indices, value):
            items = _items(dflow)
            out = np.zeros(np.shape(value), dtype=npd)
            for k, i in enumerate(np.asarray(indices).ravel()):
                i = int(i)
                if i < len(items) and items[i] is not None:
                    out[k] = items[i]
            return out
        return gather


class TensorArrayScatterGrad(_FlowOp):
    """A gradient flow as long as `flow`, holding the rows of `g` at `indices` (summed where repeated)."""
    grad = None

    def kernel(op, ctx):
        def scatter(flow, indices, g):
            items = [None] * len(_items(flow))
            for k, i in enumerate(np.asarray(indices).ravel()):
                i = int(i)
                items[i] = g[k] if items[i] is None else items[i] + g[k]
            return Flow(tuple(items))
        return scatter


class TensorArraySplitGrad(_FlowOp):
    """The gradient of concat: `g` split back into pieces the lengths of `flow`'s elements."""
    grad = None

    def kernel(op, ctx):
        def split(flow, g):
            items, out, start = _items(flow), [], 0
            for x in items:
                n = np.shape(x)[0]
                out.append(g[start:start + n])
                start += n
            return Flow(tuple(out))
        return split


class TensorArrayAddGrad(_FlowOp):
    """The sum of gradient flows (a flow used several times): element by element, None being zero."""
    grad = None

    def kernel(op, ctx):
        def add(*flows):
            acc = None
            for f in flows:
                acc = f if acc is None else add_flows(acc, f)
            return acc
        return add


class TensorArrayZerosGrad(_FlowOp):
    """The zero gradient of a flow (a Python None at run time)."""
    grad = None

    def kernel(op, ctx):
        return lambda: None


def zeros_flow():
    return apply_op("TensorArrayZerosGrad", [], name="zeros_flow")


def add_n_flows(flows):
    return apply_op("TensorArrayAddGrad", list(flows), name="AddFlows")


def array_ops_reshape_1(index):
    from nanotf.ops import array_ops
    return array_ops.reshape(index, [1])


def expand(g):
    from nanotf.ops import array_ops
    return array_ops.expand_dims(g, 0)


class _Meta:
    """What TensorArrays derived from one another share: dtype, element shape (refined by writes), sizing."""

    __slots__ = ("dtype", "element_shape", "dynamic_size", "infer_shape")

    def __init__(self, dtype, element_shape, dynamic_size, infer_shape):
        self.dtype = dtype
        self.element_shape = element_shape
        self.dynamic_size = dynamic_size
        self.infer_shape = infer_shape


class TensorArray:
    """tf.TensorArray(dtype, size=None, dynamic_size=None, clear_after_read=None, tensor_array_name=None,
    handle=None, flow=None, infer_shape=True, element_shape=None, colocate_with_first_write_call=True, name=None)."""

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None, tensor_array_name=None,
                 handle=None, flow=None, infer_shape=True, element_shape=None, colocate_with_first_write_call=True,
                 name=None, _meta=None):
        if _meta is not None:
            self._meta, self._flow = _meta, flow
            return
        dtype = dtypes.as_dtype(dtype)
        es = as_shape(element_shape) if element_shape is not None else unknown_shape()
        self._meta = _Meta(dtype, es, bool(dynamic_size), infer_shape)
        if flow is not None:
            self._flow = convert_to_tensor(flow)
            return
        if size is None:
            raise ValueError("Size must be provided if handle is not provided")
        with name_scope(name, "TensorArray", [size]):
            size = convert_to_tensor(size, dtype=dtypes.int32, name="size")
            self._flow = apply_op("TensorArrayV3", [size], {"dtype": dtype, "element_shape": es,
                                                           "dynamic_size": bool(dynamic_size)}, name="TensorArrayV3")

    # -- identity
    flow = property(lambda self: self._flow)
    handle = property(lambda self: self._flow)
    dtype = property(lambda self: self._meta.dtype)
    element_shape = property(lambda self: self._meta.element_shape)

    def _with_flow(self, flow):
        return TensorArray(self._meta.dtype, flow=flow, _meta=self._meta)

    def _attrs(self):
        m = self._meta
        return {"dtype": m.dtype, "element_shape": m.element_shape, "dynamic_size": m.dynamic_size}

    def _merge_shape(self, shape):
        m = self._meta
        if m.infer_shape:
            if not m.element_shape.is_compatible_with(shape):
                raise ValueError("Inconsistent shapes: saw %s but expected %s (and infer_shape=True)"
                                 % (shape, m.element_shape))
            m.element_shape = m.element_shape.merge_with(shape)

    def _value(self, value, name="value"):
        v = convert_to_tensor(value, dtype=self._meta.dtype, name=name)
        return v

    # -- reading
    def read(self, index, name=None):
        with name_scope(name, "TensorArrayReadV3", [self._flow, index]):
            return apply_op("TensorArrayReadV3", [self._flow, convert_to_tensor(index, dtype=dtypes.int32)],
                            self._attrs(), name="TensorArrayReadV3")

    def gather(self, indices, name=None):
        with name_scope(name, "TensorArrayGatherV3", [self._flow, indices]):
            return apply_op("TensorArrayGatherV3", [self._flow, convert_to_tensor(indices, dtype=dtypes.int32)],
                            self._attrs(), name="TensorArrayGatherV3")

    def stack(self, name=None):
        with name_scope(name, "TensorArrayStack", [self._flow]):
            from nanotf.ops import math_ops
            return self.gather(math_ops.range(0, self.size()), name="TensorArrayGatherV3")

    def concat(self, name=None):
        return apply_op("TensorArrayConcatV3", [self._flow], self._attrs(), name=name or "TensorArrayConcatV3")

    def size(self, name=None):
        return apply_op("TensorArraySizeV3", [self._flow], name=name or "TensorArraySizeV3")

    # -- writing: each returns a new TensorArray
    def write(self, index, value, name=None):
        with name_scope(name, "TensorArrayWrite", [self._flow, index, value]):
            v = self._value(value)
            self._merge_shape(v.shape)
            flow = apply_op("TensorArrayWriteV3", [self._flow, convert_to_tensor(index, dtype=dtypes.int32), v],
                            self._attrs(), name="TensorArrayWriteV3")
        return self._with_flow(flow)

    def scatter(self, indices, value, name=None):
        with name_scope(name, "TensorArrayScatter", [self._flow, indices, value]):
            v = self._value(value)
            if v.shape.ndims:
                self._merge_shape(v.shape[1:])
            flow = apply_op("TensorArrayScatterV3", [self._flow, convert_to_tensor(indices, dtype=dtypes.int32), v],
                            self._attrs(), name="TensorArrayScatterV3")
        return self._with_flow(flow)

    def unstack(self, value, name=None):
        with name_scope(name, "TensorArrayUnstack", [self._flow, value]):
            from nanotf.ops import array_ops, math_ops
            v = self._value(value)
            n = array_ops.shape(v)[0]
            return self.scatter(math_ops.range(0, n), v, name="TensorArrayScatter")

    def split(self, value, lengths, name=None):
        raise NotImplementedError("TensorArray.split is not implemented in nanotf; use unstack or scatter")

    def identity(self):
        from nanotf.ops import array_ops
        return self._with_flow(array_ops.identity(self._flow))

    def grad(self, source, flow=None, name=None):
        raise NotImplementedError("TensorArray.grad: nanotf differentiates TensorArrays through tf.gradients")

    def close(self, name=None):
        from nanotf.ops import control_flow_ops
        return control_flow_ops.no_op(name=name or "TensorArrayCloseV3")

    def __repr__(self):
        return "<nanotf.TensorArray dtype=%s element_shape=%s flow=%s>" % (self.dtype.name, self.element_shape,
                                                                        self._flow.name)


def _sample_write_read(x, y):
    ta = TensorArray(dtypes.float64, size=3)
    ta = ta.write(0, x).write(1, y * x).write(2, y)
    return ta.read(1) + ta.stack()[2] * ta.read(0)


def _sample_unstack_stack(x):
    ta = TensorArray(dtypes.float64, size=0, dynamic_size=True).unstack(x)
    return ta.gather([2, 0]) * ta.read(1) + ta.concat()[:3]


TensorArrayWriteV3.samples = [Sample(_sample_write_read, [(2,), (2,)])]
TensorArrayReadV3.samples = [Sample(_sample_write_read, [(2,), (2,)])]
TensorArrayStack.samples = [Sample(_sample_unstack_stack, [(4, 3)])]
TensorArrayScatterV3.samples = [Sample(_sample_unstack_stack, [(4, 3)])]
TensorArrayConcatV3.samples = [Sample(_sample_unstack_stack, [(4, 3)])]
