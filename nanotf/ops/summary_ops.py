"""Summary ops: each turns tensors into one serialized `Summary` proto (a 0-d tf.string value, `bytes`).

Op types, inputs and attrs are TensorFlow's (ScalarSummary, HistogramSummary, ImageSummary,
TensorSummaryV2, MergeSummary), so TensorBoard's graph view embeds them as TF's do. Kernels build
the tensorboard package's protos, imported when a Session first builds a kernel, never at import.
The wrappers here are the raw ops (like TF's gen_logging_ops: `name` is the op's name); the
tf.summary API with its name scopes and collections is nanotf/summary/summary.py.
"""
import numpy as np

from nanotf.framework import dtypes
from nanotf.framework import errors
from nanotf.framework.op_def import OpDef
from nanotf.framework.ops import convert_to_tensor, create_op, name_scope
from nanotf.framework.tensor_shape import TensorShape

__all__ = []

_REAL_TYPES = (dtypes.float32, dtypes.float64, dtypes.float16, dtypes.int32, dtypes.int64, dtypes.int16,
               dtypes.int8, dtypes.uint8, dtypes.uint16)
_IMAGE_TYPES = (dtypes.uint8, dtypes.float32, dtypes.float16, dtypes.float64)
_DEFAULT_BAD_COLOR = np.array([255, 0, 0, 255], dtype=np.uint8)  # opaque red for non-finite pixels


def _summary_pb2():
    from tensorboard.compat.proto import summary_pb2
    return summary_pb2


# -- build-time checks and runtime helpers shared by the kernels
def _check_dtype(op, index, arg, allowed):
    t = op._inputs[index]
    if t.dtype not in allowed:
        raise TypeError("Value passed to parameter '%s' of op '%s' (%s) has DataType %s not in list of allowed "
                        "values: %s" % (arg, op.name, op.type, t.dtype.name, ", ".join(d.name for d in allowed)))


def _scalar_string_output():
    return dtypes.string, TensorShape([])


def _text(value):
    """A tag from a string tensor element (bytes from a Const, str from a feed)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _string_scalar(data):
    """The 0-d tf.string array a kernel returns; Session.run hands back the bytes inside."""
    out = np.empty((), dtype=object)
    out[()] = data
    return out


def _shape_str(shape):
    return "[%s]" % ",".join(str(d) for d in shape)


def _is_legacy_scalar(shape):
    """TF accepts a one-element tensor where a scalar is expected ([] or [1], [1, 1], ...)."""
    return all(d == 1 for d in shape)


def _single_tag(op, tags):
    """The scalar tag of a summary op, or InvalidArgumentError when `tags` holds several."""
    tags = np.asarray(tags, dtype=object)
    if not _is_legacy_scalar(tags.shape):
        raise errors.InvalidArgumentError(None, op, "Tags must be a scalar, got shape %s" % _shape_str(tags.shape))
    return _text(tags.reshape(())[()])


def _const_tag(op, index=0):
    """The tag when it is a Const input (the usual case): read once at kernel build time."""
    src = op._inputs[index].op
    if src.type == "Const" and np.asarray(src._attrs["value"]).size == 1:
        return _text(np.asarray(src._attrs["value"]).reshape(())[()])
    return None


class _SummaryOp(OpDef):
    """A summary op: outputs one serialized Summary (a scalar string); not differentiable. The dtypes of
    its inputs are checked at build time against `typed_inputs`: (input index, parameter name, allowed)."""
    abstract = True
    grad = None
    typed_inputs = ()

    def infer(op):
        for index, arg, allowed in op.op_def.typed_inputs:
            _check_dtype(op, index, arg, allowed)
        return _scalar_string_output()


# -- ScalarSummary
class ScalarSummary(_SummaryOp):
    """Summary with one simple_value per (tag, value) pair; tags and values have the same shape."""
    typed_inputs = ((0, "tags", (dtypes.string,)), (1, "values", _REAL_TYPES))

    def kernel(op, ctx):
        pb = _summary_pb2()
        Summary, Value = pb.Summary, pb.Summary.Value
        const_tag = _const_tag(op)

        def scalar_summary(tags, values):
            values = np.asarray(values)
            if const_tag is not None and values.ndim == 0:   # the common case: one scalar
                return _string_scalar(Summary(value=[Value(tag=const_tag, simple_value=float(values))])
                                      .SerializeToString())
            tags = np.asarray(tags, dtype=object)
            if tags.shape != values.shape and not (_is_legacy_scalar(tags.shape) and _is_legacy_scalar(values.shape)):
                single = " (tag '%s')" % _text(tags.ravel()[0]) if tags.size == 1 else ""
                raise errors.InvalidArgumentError(None, op, "tags and values not the same shape: %s != %s%s"
                                                  % (_shape_str(tags.shape), _shape_str(values.shape), single))
            summary = Summary(value=[Value(tag=_text(t), simple_value=float(v))
                                     for t, v in zip(tags.ravel(), values.ravel())])
            return _string_scalar(summary.SerializeToString())
        return scalar_summary


def _tag_and_values_op(op_type, tag_arg, tag, values, name):
    """The raw op `op_type`(tag, values): its tag input is called `tag_arg` (TF's gen_logging_ops)."""
    with name_scope(name, op_type, [tag, values]) as scope:
        tag = convert_to_tensor(tag, dtype=dtypes.string, name=tag_arg)
        values = convert_to_tensor(values, name="values")
        return create_op(op_type, [tag, values], {"T": values.dtype}, name=scope).outputs[0]


def scalar_summary(tags, values, name=None):
    """The raw ScalarSummary op (TF's gen_logging_ops.scalar_summary)."""
    return _tag_and_values_op("ScalarSummary", "tags", tags, values, name)


# -- HistogramSummary
_bucket_limits = None


def default_bucket_limits():
    """TF's default histogram bucket upper edges: +-1e-12 * 1.1**k up to 1e20, +-DBL_MAX, and 0.

    Built by repeated multiplication, as TF does, so the edges match TF's bit for bit."""
    global _bucket_limits
    if _bucket_limits is None:
        pos = []
        v = 1.0e-12
        while v < 1.0e20:
            pos.append(v)
            v *= 1.1
        pos.append(np.finfo(np.float64).max)
        neg = [-x for x in reversed(pos)]
        _bucket_limits = np.array(neg + [0.0] + pos, dtype=np.float64)
        _bucket_limits.flags.writeable = False
    return _bucket_limits


def histogram_proto(values, histogram_proto_cls):
    """HistogramProto of finite values: bucket i counts limits[i-1] <= x < limits[i]; runs of empty
    buckets collapse into their last one (TF's encoding, which TensorBoard expects)."""
    limits = default_bucket_limits()
    x = np.asarray(values, dtype=np.float64).ravel()
    index = np.minimum(np.searchsorted(limits, x, side="right"), len(limits) - 1)
    counts = np.bincount(index, minlength=len(limits)).astype(np.float64)
    nonempty = counts > 0
    keep = nonempty | np.append(nonempty[1:], True)
    big = float(limits[-1])
    return histogram_proto_cls(min=float(x.min()) if x.size else big, max=float(x.max()) if x.size else -big,
                               num=float(x.size), sum=float(x.sum()), sum_squares=float(np.dot(x, x)),
                               bucket_limit=limits[keep].tolist(), bucket=counts[keep].tolist())


class HistogramSummary(_SummaryOp):
    """Summary with one histogram (TF's exponential buckets) of all the values."""
    typed_inputs = ((0, "tag", (dtypes.string,)), (1, "values", _REAL_TYPES))

    def kernel(op, ctx):
        pb = _summary_pb2()
        Summary, Value, HistogramProto = pb.Summary, pb.Summary.Value, pb.HistogramProto
        const_tag = _const_tag(op)
        default_bucket_limits()

        def histogram_summary(tag, values):
            tag = const_tag if const_tag is not None else _single_tag(op, tag)
            x = np.asarray(values, dtype=np.float64)
            if not np.isfinite(x).all():
                what = "Nan" if np.isnan(x).any() else "Infinity"
                raise errors.InvalidArgumentError(None, op, "%s in summary histogram for: %s" % (what, op.name))
            summary = Summary(value=[Value(tag=tag, histo=histogram_proto(x, HistogramProto))])
            return _string_scalar(summary.SerializeToString())
        return histogram_summary


def histogram_summary(tag, values, name=None):
    """The raw HistogramSummary op."""
    return _tag_and_values_op("HistogramSummary", "tag", tag, values, name)


# -- ImageSummary
def _to_uint8_image(pixels, bad_color):
    """TF's float -> uint8 mapping: all >= 0 scales max to 255; otherwise scales max |x| to 127 around 128.

    Pixels with any non-finite channel take `bad_color`; min/max ignore them. Casting truncates."""
    work = np.float64 if pixels.dtype == np.float64 else np.float32
    pixels = pixels.astype(work, copy=False)
    finite = np.isfinite(pixels).all(axis=-1)
    good = pixels[finite]
    lo = float(good.min()) if good.size else np.inf
    hi = float(good.max()) if good.size else -np.inf
    if lo < 0:
        biggest = max(abs(lo), abs(hi))
        scale, offset = (0.0 if biggest < 1e-6 else 127.0 / biggest), 128.0
    else:
        scale, offset = (0.0 if hi < 1e-6 else 255.0 / hi), 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        out = (np.where(finite[..., None], pixels, 0) * work(scale) + work(offset)).astype(np.uint8)
    out[~finite] = bad_color
    return out


def _png(image):
    """PNG bytes of an HxWxC uint8 image (C = 1 grey, 3 RGB, 4 RGBA), encoded by Pillow."""
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image).save(buf, format="PNG")
    return buf.getvalue()


class ImageSummary(_SummaryOp):
    """Summary with up to max_images PNG images from an NHWC batch (tags 'tag/image/i', or 'tag/image')."""
    typed_inputs = ((0, "tag", (dtypes.string,)), (1, "tensor", _IMAGE_TYPES))

    def infer(op):
        output = _SummaryOp.infer(op)   # the dtypes first
        shape = op._inputs[1].shape.as_tuple()
        if shape is not None and (len(shape) != 4 or shape[3] not in (None, 1, 3, 4)):
            raise ValueError("ImageSummary %r: tensor %s must be 4-D [batch, height, width, channels] with 1, 3 or 4 "
                             "channels, got shape %s" % (op.name, op._inputs[1].name, op._inputs[1].shape))
        if op._attrs["max_images"] < 1:
            raise ValueError("ImageSummary %r: max_images must be >= 1, got %d" % (op.name, op._attrs["max_images"]))
        return output

    def kernel(op, ctx):
        pb = _summary_pb2()
        Summary, Value, Image = pb.Summary, pb.Summary.Value, pb.Summary.Image
        max_images = int(op._attrs["max_images"])
        bad_color = np.asarray(op._attrs["bad_color"], dtype=np.uint8).ravel()
        const_tag = _const_tag(op)

        def image_summary(tag, tensor):
            tag = const_tag if const_tag is not None else _single_tag(op, tag)
            tensor = np.asarray(tensor)
            if tensor.ndim != 4 or tensor.shape[3] not in (1, 3, 4):
                raise errors.InvalidArgumentError(None, op, "Tensor must be 4-D with last dim 1, 3, or 4, not %s"
                                                  % _shape_str(tensor.shape))
            _, height, width, depth = tensor.shape
            if tensor.dtype != np.uint8 and bad_color.size < depth:
                raise errors.InvalidArgumentError(None, op, "expected depth <= bad_color.size, got depth = %d, "
                                                  "bad_color.size = %d" % (depth, bad_color.size))
            values = []
            for i in range(min(max_images, tensor.shape[0])):
                image = tensor[i] if tensor.dtype == np.uint8 else _to_uint8_image(tensor[i], bad_color[:depth])
                # TF names images by the number requested, not the number produced.
                name = "%s/image/%d" % (tag, i) if max_images > 1 else tag + "/image"
                values.append(Value(tag=name, image=Image(height=height, width=width, colorspace=depth,
                                                          encoded_image_string=_png(image))))
            return _string_scalar(Summary(value=values).SerializeToString())
        return image_summary


def image_summary(tag, tensor, max_images=3, bad_color=None, name=None):
    """The raw ImageSummary op."""
    with name_scope(name, "ImageSummary", [tag, tensor]) as scope:
        tag = convert_to_tensor(tag, dtype=dtypes.string, name="tag")
        tensor = convert_to_tensor(tensor, name="tensor")
        color = _DEFAULT_BAD_COLOR if bad_color is None else np.asarray(bad_color, dtype=np.uint8).ravel()
        attrs = {"T": tensor.dtype, "max_images": int(max_images), "bad_color": color.copy()}
        return create_op("ImageSummary", [tag, tensor], attrs, name=scope).outputs[0]


# -- TensorSummaryV2 (tf.summary.text and tf.summary.tensor_summary)
class TensorSummaryV2(_SummaryOp):
    """Summary holding a whole tensor as a TensorProto, with plugin metadata (e.g. the 'text' plugin)."""
    typed_inputs = ((0, "tag", (dtypes.string,)), (2, "serialized_summary_metadata", (dtypes.string,)))

    def kernel(op, ctx):
        from nanotf.framework.graph_def import tensor_proto
        pb = _summary_pb2()
        Summary, Value, SummaryMetadata = pb.Summary, pb.Summary.Value, pb.SummaryMetadata
        const_tag = _const_tag(op)
        dtype = op._inputs[1].dtype
        meta_src = op._inputs[2].op
        const_meta = None
        if meta_src.type == "Const":
            const_meta = SummaryMetadata.FromString(_meta_bytes(meta_src._attrs["value"]))

        def tensor_summary(tag, tensor, serialized_summary_metadata):
            tag = const_tag if const_tag is not None else _single_tag(op, tag)
            meta = const_meta if const_meta is not None else \
                SummaryMetadata.FromString(_meta_bytes(serialized_summary_metadata))
            value = Value(tag=tag, metadata=meta, tensor=tensor_proto(np.asarray(tensor), dtype))
            return _string_scalar(Summary(value=[value]).SerializeToString())
        return tensor_summary


def _meta_bytes(value):
    v = np.asarray(value, dtype=object).reshape(())[()]
    return v if isinstance(v, bytes) else str(v).encode("utf-8")


def tensor_summary_v2(tag, tensor, serialized_summary_metadata, name=None):
    """The raw TensorSummaryV2 op."""
    with name_scope(name, "TensorSummaryV2", [tag, tensor]) as scope:
        tag = convert_to_tensor(tag, dtype=dtypes.string, name="tag")
        tensor = convert_to_tensor(tensor, name="tensor")
        meta = convert_to_tensor(serialized_summary_metadata, dtype=dtypes.string,
                                 name="serialized_summary_metadata")
        return create_op("TensorSummaryV2", [tag, tensor, meta], {"T": tensor.dtype}, name=scope).outputs[0]


# -- MergeSummary
class MergeSummary(_SummaryOp):
    """One Summary holding the values of all its inputs; a tag seen twice is an error, as in TF."""

    def infer(op):
        if not op._inputs:
            raise ValueError("List argument 'inputs' to 'MergeSummary' Op with length 0 shorter than minimum "
                             "length 1.")
        for i in range(len(op._inputs)):
            _check_dtype(op, i, "inputs", (dtypes.string,))
        return _scalar_string_output()

    def kernel(op, ctx):
        from google.protobuf.message import DecodeError
        Summary = _summary_pb2().Summary

        def merge_summary(*inputs):
            parts, seen = [], set()
            for x in inputs:
                for data in (x,) if type(x) is bytes else np.asarray(x, dtype=object).ravel():
                    data = data if isinstance(data, bytes) else str(data).encode("utf-8")
                    try:
                        summary = Summary.FromString(data)
                    except DecodeError:
                        raise errors.InvalidArgumentError(None, op, "Could not parse one of the summary inputs") \
                            from None
                    for value in summary.value:
                        if value.tag and value.tag in seen:
                            raise errors.InvalidArgumentError(None, op, "Duplicate tag %s found in summary inputs"
                                                              % value.tag)
                        seen.add(value.tag)
                    parts.append(data)
            # Summary has one repeated field, so concatenated messages parse as their merge.
            return _string_scalar(b"".join(parts))
        return merge_summary


def merge_summary(inputs, name=None):
    """The raw MergeSummary op over a list of serialized-Summary tensors."""
    if inputs is None or isinstance(inputs, (str, bytes)) or not hasattr(inputs, "__iter__"):
        raise TypeError("Expected list for 'inputs' argument to 'MergeSummary' Op, not %r." % (inputs,))
    inputs = list(inputs)
    with name_scope(name, "MergeSummary", inputs) as scope:
        tensors = [convert_to_tensor(t, dtype=dtypes.string) for t in inputs]
        return create_op("MergeSummary", tensors, {"N": len(tensors)}, name=scope).outputs[0]
