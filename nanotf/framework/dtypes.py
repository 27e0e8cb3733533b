"""DType: a TensorFlow data type backed by a NumPy dtype.

The enum numbers are TensorFlow's own (types.proto) so a GraphDef written for
TensorBoard names the right types.
"""
import builtins

import numpy as np


class DType:
    __slots__ = ("name", "as_numpy_dtype", "_np", "as_datatype_enum")

    def __init__(self, name, np_type, enum):
        self.name = name
        self.as_numpy_dtype = np_type
        self._np = np.dtype(np_type)
        self.as_datatype_enum = enum

    @property
    def base_dtype(self):
        return self

    @property
    def real_dtype(self):
        return self

    @property
    def is_floating(self):
        return self._np.kind == "f"

    @property
    def is_integer(self):
        return self._np.kind in "iu"

    @property
    def is_unsigned(self):
        return self._np.kind == "u"

    @property
    def is_bool(self):
        return self._np.kind == "b"

    @property
    def is_complex(self):
        return False

    @property
    def is_numpy_compatible(self):
        return True

    @property
    def size(self):
        return self._np.itemsize if self is not string else 1

    def _limit(self, which, word):
        """NumPy's min or max of this type, as a Python number."""
        if self.is_floating:
            return float(getattr(np.finfo(self._np), which))
        if self.is_integer:
            return int(getattr(np.iinfo(self._np), which))
        raise TypeError("Cannot find %s value of %s." % (word, self.name))

    min = property(lambda self: self._limit("min", "minimum"))
    max = property(lambda self: self._limit("max", "maximum"))

    def is_compatible_with(self, other):
        return as_dtype(other) is self

    def __repr__(self):
        return "tf.%s" % self.name

    def __str__(self):
        return "<dtype: %r>" % self.name

    def __eq__(self, other):
        if other is None:
            return False
        try:
            return as_dtype(other) is self
        except TypeError:
            return False

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self.name)

    def __reduce__(self):
        return as_dtype, (self.name,)


float16 = DType("float16", np.float16, 19)
half = float16
float32 = DType("float32", np.float32, 1)
float64 = DType("float64", np.float64, 2)
double = float64
int8 = DType("int8", np.int8, 6)
int16 = DType("int16", np.int16, 5)
int32 = DType("int32", np.int32, 3)
int64 = DType("int64", np.int64, 9)
uint8 = DType("uint8", np.uint8, 4)
uint16 = DType("uint16", np.uint16, 17)
bool = DType("bool", np.bool_, 10)  # noqa: A001 - TF's public name
string = DType("string", np.object_, 7)

_ALL = (float16, float32, float64, int8, int16, int32, int64, uint8, uint16, bool, string)
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update({"half": float16, "double": float64, "float": float32, "int": int32, "str": string})
_BY_NP = {d._np: d for d in _ALL if d is not string}
_BY_ENUM = {d.as_datatype_enum: d for d in _ALL}
_BY_PY = {float: float32, int: int32, builtins.bool: bool, str: string, bytes: string}


def as_dtype(type_value):
    """Converts a DType, NumPy dtype, Python type, enum number or name to a DType."""
    if isinstance(type_value, DType):
        return type_value
    if isinstance(type_value, str):
        try:
            return _BY_NAME[type_value]
        except KeyError:
            pass
    elif isinstance(type_value, int) and not isinstance(type_value, builtins.bool):
        if type_value in _BY_ENUM:
            return _BY_ENUM[type_value]
    elif isinstance(type_value, type) and type_value in _BY_PY:
        return _BY_PY[type_value]
    if hasattr(type_value, "as_numpy_dtype") and not isinstance(type_value, type):
        return as_dtype(type_value.as_numpy_dtype)
    try:
        npd = np.dtype(type_value)
    except TypeError:
        npd = None
    if npd is not None:
        if npd in _BY_NP:
            return _BY_NP[npd]
        if npd.kind in "OUS":
            return string
    raise TypeError("Cannot convert value %r to a TensorFlow DType." % (type_value,))


def dtype_of_value(value):
    """The DType TensorFlow infers for a Python or NumPy value (ints → int32, floats → float32)."""
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        if value.dtype.kind in "OUS":
            return string
        return as_dtype(value.dtype)
    if isinstance(value, (bytes, str)):
        return string
    if isinstance(value, builtins.bool):
        return bool
    if isinstance(value, int):
        return int32 if -2**31 <= value < 2**31 else int64
    if isinstance(value, float):
        return float32
    if isinstance(value, (list, tuple)):
        arr = np.asarray(value)
        if arr.dtype.kind == "f":
            return float32
        if arr.dtype.kind in "iu":
            return int32 if arr.size == 0 or (arr.min() >= -2**31 and arr.max() < 2**31) else int64
        if arr.size == 0:
            return float32
        return as_dtype(arr.dtype) if arr.dtype.kind not in "OUS" else string
    raise TypeError("Cannot infer a dtype for %r" % (value,))
