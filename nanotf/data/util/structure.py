"""TensorSpec: the type and static shape of one component of a dataset element."""
from nanotf.framework import dtypes
from nanotf.framework.tensor_shape import TensorShape, as_shape, unknown_shape


class TensorSpec:
    """Type and static shape of one component of a dataset element (tf.TensorSpec)."""

    __slots__ = ("dtype", "shape", "name")

    def __init__(self, shape, dtype=dtypes.float32, name=None):
        self.shape = as_shape(shape)
        self.dtype = dtypes.as_dtype(dtype)
        self.name = name

    def is_compatible_with(self, other):
        return self.dtype is other.dtype and self.shape.is_compatible_with(other.shape)

    def __eq__(self, other):
        return (isinstance(other, TensorSpec) and self.dtype is other.dtype
                and self.shape.as_tuple() == other.shape.as_tuple())

    __hash__ = None

    def __repr__(self):
        return "TensorSpec(shape=%s, dtype=%r, name=%r)" % (self.shape, self.dtype, self.name)


def most_specific_compatible_shape(a, b):
    """The most specific shape compatible with both (e.g. [3] and [4] give [None])."""
    ta, tb = a.as_tuple(), b.as_tuple()
    if ta is None or tb is None or len(ta) != len(tb):
        return unknown_shape()
    return TensorShape([x if x == y else None for x, y in zip(ta, tb)])
