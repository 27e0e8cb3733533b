"""tf.summary's ops: scalar, histogram, image, text, tensor_summary, merge, merge_all.

As in TF1, a summary named `name` opens the name scope `name` (uniquified: a second 'loss' becomes
'loss_1'), the summary op takes that scope's name, and its tag is the scope path, so a summary made
inside `with tf.name_scope('hidden1')` is tagged 'hidden1/<name>'. Summary ops join the `summaries`
collection (or `collections`), where merge_all finds them.
"""
import re

from nanotf.framework import dtypes
from nanotf.framework.ops import GraphKeys, add_to_collection, convert_to_tensor, get_collection, name_scope
from nanotf.ops import summary_ops

__all__ = ["scalar", "histogram", "image", "text", "tensor_summary", "merge", "merge_all",
           "Summary", "SummaryMetadata", "Event", "SessionLog", "TaggedRunMetadata"]

_INVALID_TAG_CHARACTERS = re.compile(r"[^-/\w.]")


class _LazyProto:
    """Stands for a tensorboard proto class (tf.Summary, tf.Event...) without importing protobuf until
    it is used: calling it builds a message, attributes (Summary.Value) and isinstance reach the class."""

    def __init__(self, module, name):
        self._module, self._name, self._cls = module, name, None

    def _resolve(self):
        if self._cls is None:
            import importlib
            self._cls = getattr(importlib.import_module("tensorboard.compat.proto." + self._module), self._name)
        return self._cls

    def __call__(self, *args, **kwargs):
        return self._resolve()(*args, **kwargs)

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self._resolve(), attr)

    def __instancecheck__(self, obj):
        return isinstance(obj, self._resolve())

    def __repr__(self):
        return "<class 'tensorboard.compat.proto.%s.%s'>" % (self._module, self._name)


Summary = _LazyProto("summary_pb2", "Summary")
SummaryMetadata = _LazyProto("summary_pb2", "SummaryMetadata")
Event = _LazyProto("event_pb2", "Event")
SessionLog = _LazyProto("event_pb2", "SessionLog")
TaggedRunMetadata = _LazyProto("event_pb2", "TaggedRunMetadata")


def _clean_tag(name):
    """Replaces characters TF does not allow in tags with '_' and drops leading slashes, as TF1 does."""
    if name is None:
        return None
    cleaned = _INVALID_TAG_CHARACTERS.sub("_", name).lstrip("/")
    if cleaned != name:
        import logging
        logging.getLogger("nanotf").info("Summary name %s is illegal; using %s instead.", name, cleaned)
    return cleaned


class _SummaryScope:
    """`with _SummaryScope(name, family, values) as (tag, scope)`: TF1's summary_scope."""

    def __init__(self, name, family, values):
        if not isinstance(name, str):
            raise TypeError("Summary name must be a string, got %r" % (name,))
        self._name, self._family = _clean_tag(name), _clean_tag(family)
        base = self._name if self._family is None else "%s/%s" % (self._family, self._name)
        self._scope = name_scope(base, None, values)

    def __enter__(self):
        scope = self._scope.__enter__()
        tag = scope.rstrip("/")
        if self._family is not None:
            tag = "%s/%s" % (self._family, tag)  # TF1 repeats the family so the tab groups by it
        return tag, scope

    def __exit__(self, *exc):
        return self._scope.__exit__(*exc)


def _collect(value, collections, default):
    for key in (default if collections is None else collections):
        add_to_collection(key, value)


def scalar(name, tensor, collections=None, family=None):
    """A ScalarSummary of one real value, tagged by the name scope opened for `name`."""
    with _SummaryScope(name, family, [tensor]) as (tag, scope):
        value = summary_ops.scalar_summary(tags=tag, values=tensor, name=scope)
        _collect(value, collections, [GraphKeys.SUMMARIES])
    return value


def histogram(name, values, collections=None, family=None):
    """A HistogramSummary of all the elements of `values` (Histograms and Distributions tabs)."""
    with _SummaryScope(name, family, [values]) as (tag, scope):
        value = summary_ops.histogram_summary(tag=tag, values=values, name=scope)
        _collect(value, collections, [GraphKeys.SUMMARIES])
    return value


def image(name, tensor, max_outputs=3, collections=None, family=None):
    """An ImageSummary of up to `max_outputs` images of an NHWC batch (1, 3 or 4 channels).

    uint8 pixels are kept; float pixels are rescaled as TF does (max -> 255 when all >= 0)."""
    with _SummaryScope(name, family, [tensor]) as (tag, scope):
        value = summary_ops.image_summary(tag=tag, tensor=tensor, max_images=max_outputs, name=scope)
        _collect(value, collections, [GraphKeys.SUMMARIES])
    return value


def tensor_summary(name, tensor, summary_description=None, collections=None, summary_metadata=None,
                   family=None, display_name=None):
    """A TensorSummaryV2 holding the whole tensor, with `summary_metadata` (a SummaryMetadata proto)."""
    if summary_metadata is None:
        summary_metadata = SummaryMetadata()
    if summary_description is not None:
        summary_metadata.summary_description = summary_description
    if display_name is not None:
        summary_metadata.display_name = display_name
    serialized = summary_metadata.SerializeToString()
    with _SummaryScope(name, family, [tensor]) as (tag, scope):
        value = summary_ops.tensor_summary_v2(tag=tag, tensor=tensor, serialized_summary_metadata=serialized,
                                              name=scope)
        _collect(value, collections, [GraphKeys.SUMMARIES])
    return value


def text(name, tensor, collections=None):
    """A summary of a string tensor for TensorBoard's Text tab (plugin 'text')."""
    tensor = convert_to_tensor(tensor)
    if tensor.dtype is not dtypes.string:
        raise ValueError("Expected tensor %s to have dtype string, got %s" % (tensor.name, tensor.dtype.name))
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
    return tensor_summary(name, tensor, summary_metadata=metadata, collections=collections)


def merge(inputs, collections=None, name=None):
    """A MergeSummary of the serialized summaries `inputs` (op 'Merge/MergeSummary' by default, as TF1)."""
    name = _clean_tag(name)
    with name_scope(name, "Merge", inputs if isinstance(inputs, (list, tuple)) else None):
        value = summary_ops.merge_summary(inputs, name=name)
        _collect(value, collections, [])
    return value


def merge_all(key=GraphKeys.SUMMARIES, scope=None, name=None):
    """Merges every summary in collection `key` (optionally filtered by `scope`); None when there is none."""
    summary_ops_in = get_collection(key, scope=scope)
    if not summary_ops_in:
        return None
    return merge(summary_ops_in, name=name)


# -- seed-era names (TensorFlow <= 0.12), installed at top level by nanotf/__init__
def _scalar_summary(tags, values, collections=None, name=None):
    """tf.scalar_summary(tags, values, collections=None, name=None).

    As in TensorFlow 0.12, tags are used verbatim (the seed's `tf.scalar_summary(loss.op.name, loss)`
    is tagged 'xentropy_mean') and the op is named 'ScalarSummary'."""
    value = summary_ops.scalar_summary(tags, values, name=name)
    _collect(value, collections, [GraphKeys.SUMMARIES])
    return value


def _histogram_summary(tag, values, collections=None, name=None):
    """tf.histogram_summary(tag, values, collections=None, name=None): the tag is used verbatim."""
    value = summary_ops.histogram_summary(tag, values, name=name)
    _collect(value, collections, [GraphKeys.SUMMARIES])
    return value


def _image_summary(tag, tensor, max_images=3, collections=None, name=None):
    """tf.image_summary(tag, tensor, max_images=3, collections=None, name=None): tags `tag/image/i`."""
    value = summary_ops.image_summary(tag, tensor, max_images=max_images, name=name)
    _collect(value, collections, [GraphKeys.SUMMARIES])
    return value


def _merge_summary(inputs, collections=None, name=None):
    """tf.merge_summary(inputs, collections=None, name=None)."""
    return merge(inputs, collections=collections, name=name)


def _merge_all_summaries(key=GraphKeys.SUMMARIES):
    """tf.merge_all_summaries(key='summaries'): None when the collection is empty."""
    return merge_all(key)


def _seed_era_names():
    """The seed-era top-level names (tf.scalar_summary, ...) that nanotf/__init__ installs, plus TF1's
    top-level proto classes (tf.Summary, tf.Event, tf.SessionLog) used to write summaries by hand."""
    return {"scalar_summary": _scalar_summary, "histogram_summary": _histogram_summary,
            "image_summary": _image_summary, "merge_summary": _merge_summary,
            "merge_all_summaries": _merge_all_summaries,
            "Summary": Summary, "Event": Event, "SessionLog": SessionLog}
