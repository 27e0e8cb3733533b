"""DType conversion/properties and TensorShape/Dimension semantics (partial shapes, unknown rank)."""
import numpy as np
import pytest

import nanotf as tf
from nanotf.framework.tensor_shape import Dimension, TensorShape


# ---------------------------------------------------------------- dtypes: as_dtype
@pytest.mark.parametrize("value, expected", [
    (tf.float32, tf.float32),
    (np.float32, tf.float32),
    (np.dtype("float64"), tf.float64),
    (np.int32, tf.int32),
    (np.dtype(np.int64), tf.int64),
    (np.uint8, tf.uint8),
    (np.bool_, tf.bool),
    (float, tf.float32),        # TF maps the Python float type to float32
    (bool, tf.bool),
    ("float32", tf.float32),
    ("float", tf.float32),      # TF's aliases
    ("double", tf.float64),
    ("half", tf.float16),
    ("int64", tf.int64),
    ("string", tf.string),
])
def test_as_dtype_accepts_dtype_numpy_python_and_names(value, expected):
    assert tf.as_dtype(value) is expected


def test_as_dtype_rejects_garbage_with_typeerror():
    with pytest.raises(TypeError):
        tf.as_dtype("not_a_dtype")
    with pytest.raises(TypeError):
        tf.as_dtype(object())


def test_dtype_aliases_are_the_same_object():
    assert tf.double is tf.float64
    assert tf.half is tf.float16


# ---------------------------------------------------------------- dtypes: properties
@pytest.mark.parametrize("dt, name, np_type", [
    (tf.float16, "float16", np.float16), (tf.float32, "float32", np.float32),
    (tf.float64, "float64", np.float64), (tf.int8, "int8", np.int8), (tf.int16, "int16", np.int16),
    (tf.int32, "int32", np.int32), (tf.int64, "int64", np.int64), (tf.uint8, "uint8", np.uint8),
    (tf.uint16, "uint16", np.uint16), (tf.bool, "bool", np.bool_),
])
def test_dtype_name_and_numpy_type(dt, name, np_type):
    assert dt.name == name
    assert dt.as_numpy_dtype is np_type
    assert tf.as_dtype(dt.as_numpy_dtype) is dt  # round trip


def test_is_floating_and_is_integer():
    for dt in (tf.float16, tf.float32, tf.float64):
        assert dt.is_floating and not dt.is_integer
    for dt in (tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8, tf.uint16):
        assert dt.is_integer and not dt.is_floating
    assert not tf.bool.is_floating and not tf.bool.is_integer
    assert not tf.string.is_floating and not tf.string.is_integer


def test_dtype_min_max_match_numpy_limits():
    assert tf.float32.min == float(np.finfo(np.float32).min)
    assert tf.float32.max == float(np.finfo(np.float32).max)
    assert tf.float64.max == float(np.finfo(np.float64).max)
    assert tf.int32.min == -2 ** 31 and tf.int32.max == 2 ** 31 - 1
    assert tf.int64.max == 2 ** 63 - 1
    assert tf.uint8.min == 0 and tf.uint8.max == 255
    assert tf.int8.min == -128


def test_dtype_equality_with_numpy_dtypes_and_other_dtypes():
    assert tf.float32 == np.float32
    assert tf.float32 == np.dtype("float32")
    assert tf.float32 != np.float64
    assert tf.float32 != tf.float64
    assert tf.int32 == tf.as_dtype("int32")
    assert not (tf.float32 == None)  # noqa: E711 - the comparison itself is under test
    assert not (tf.float32 == "no such type")
    # usable as dict/set members consistently with ==
    assert len({tf.float32, tf.as_dtype(np.float32)}) == 1


# ---------------------------------------------------------------- TensorShape
def test_tensorshape_ndims_and_as_list():
    assert TensorShape([2, None, 3]).ndims == 3
    assert TensorShape([2, None, 3]).as_list() == [2, None, 3]
    assert TensorShape([]).ndims == 0 and TensorShape([]).as_list() == []
    unknown = TensorShape(None)
    assert unknown.ndims is None
    with pytest.raises(ValueError):
        unknown.as_list()


def test_tensorshape_num_elements():
    assert TensorShape([2, 3, 4]).num_elements() == 24
    assert TensorShape([]).num_elements() == 1
    assert TensorShape([2, None]).num_elements() is None
    assert TensorShape(None).num_elements() is None
    assert TensorShape([0, 5]).num_elements() == 0


def test_tensorshape_indexing_gives_dimension_with_value():
    s = TensorShape([None, 784])
    assert isinstance(s[1], Dimension)
    assert s[1].value == 784
    assert s[0].value is None
    assert s[-1].value == 784
    assert isinstance(s[0:1], TensorShape) and s[0:1].as_list() == [None]
    # unknown rank: any index is an unknown Dimension
    assert TensorShape(None)[3].value is None
    assert tf.Dimension(5).value == 5


def test_dimension_comparisons_with_unknowns():
    assert Dimension(3) == 3
    assert Dimension(3) == Dimension(3)
    assert Dimension(3) != Dimension(4)
    assert (Dimension(None) == 3) is None  # TF: unknown compares as "don't know"
    assert int(Dimension(7)) == 7


def test_tensorshape_is_compatible_with():
    s = TensorShape([None, 3])
    assert s.is_compatible_with([2, 3])
    assert s.is_compatible_with([None, None])
    assert not s.is_compatible_with([2, 4])
    assert not s.is_compatible_with([2, 3, 1])
    assert s.is_compatible_with(TensorShape(None))
    assert TensorShape(None).is_compatible_with([1, 2, 3])
    assert TensorShape([]).is_compatible_with([])
    assert not TensorShape([]).is_compatible_with([1])


def test_tensorshape_merge_with():
    merged = TensorShape([None, 3]).merge_with([2, None])
    assert merged.as_list() == [2, 3]
    assert TensorShape(None).merge_with([4, None]).as_list() == [4, None]
    assert TensorShape([4, None]).merge_with(TensorShape(None)).as_list() == [4, None]
    with pytest.raises(ValueError):
        TensorShape([2, 3]).merge_with([2, 4])
    with pytest.raises(ValueError):
        TensorShape([2, 3]).merge_with([2, 3, 1])


def test_tensorshape_equality_and_fully_defined():
    assert TensorShape([2, 3]) == TensorShape([2, 3])
    assert TensorShape([2, 3]) == [2, 3]
    assert TensorShape([2, 3]) != TensorShape([3, 2])
    assert TensorShape([2, 3]).is_fully_defined()
    assert not TensorShape([2, None]).is_fully_defined()
    assert not TensorShape(None).is_fully_defined()


def test_tensorshape_from_int_means_vector():
    # TF: shape=(100) is the int 100, i.e. the shape (100,)
    assert TensorShape(100).as_list() == [100]
