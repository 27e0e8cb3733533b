"""Summaries and event files, read back with TensorBoard's own readers (EventAccumulator, the
plugin accumulator, EventFileLoader) and checked against hand-computed NumPy values."""
import glob
import io
import math
import os
import subprocess
import sys
import textwrap
import warnings
from collections import Counter

import numpy as np
import pytest

import nanotf as tf

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
from tensorboard.backend.event_processing import event_file_loader, plugin_event_accumulator  # noqa: E402
from tensorboard.compat.proto import summary_pb2, types_pb2  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

KEEP_ALL = {event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0, event_accumulator.IMAGES: 0,
            event_accumulator.COMPRESSED_HISTOGRAMS: 0, event_accumulator.TENSORS: 0}

W1 = np.array([[0.5, -1.0, 0.25], [1.5, 0.5, -0.75], [-0.5, 2.0, 1.0], [0.25, -0.25, 0.5]], dtype=np.float32)
B1 = np.array([0.1, -0.2, 0.3], dtype=np.float32)


pytestmark = pytest.mark.usefixtures("fresh_graph")   # tests/conftest.py


def _accumulator(logdir):
    acc = event_accumulator.EventAccumulator(str(logdir), size_guidance=KEEP_ALL)
    acc.Reload()
    return acc


def _events(path):
    return list(event_file_loader.LegacyEventFileLoader(path).Load())  # raw events, not migrated


def _event_files(logdir):
    return sorted(glob.glob(os.path.join(str(logdir), "events.out.tfevents.*")))


def _seed_graph():
    """The seed's structure in miniature: hidden1 scope with Variables, matmul + relu, a mean loss,
    summaries made both ways (tf.summary.scalar and the seed's tf.scalar_summary)."""
    images = tf.placeholder(tf.float32, shape=(None, 4))
    with tf.name_scope("hidden1"):
        weights = tf.Variable(tf.constant(W1), name="weights")
        biases = tf.Variable(tf.constant(B1), name="biases")
        hidden1 = tf.nn.relu(tf.matmul(images, weights) + biases)
    loss = tf.reduce_mean(hidden1, name="xentropy_mean")
    tf.scalar_summary(loss.op.name, loss)
    tf.summary.scalar("loss", loss)
    return images, loss, tf.merge_all_summaries()


def _expected_loss(x):
    return float(np.mean(np.maximum(x.astype(np.float32) @ W1 + B1, 0)))


def _batches():
    rng = np.random.default_rng(7)
    return [rng.standard_normal((5, 4)).astype(np.float32) for _ in range(3)]


def _write_seed_run(logdir):
    images, loss, summary_op = _seed_graph()
    batches = _batches()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        writer = tf.train.SummaryWriter(str(logdir), sess.graph)
        for step, x in enumerate(batches):
            writer.add_summary(sess.run(summary_op, feed_dict={images: x}), step * 10)
        writer.close()
    return [_expected_loss(x) for x in batches]


# ================================================================ import cost
def test_import_nanotf_does_not_load_tensorboard_protobuf_pillow_or_safetensors():
    code = ("import sys, nanotf\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorboard', 'PIL', 'safetensors') "
            "or m.startswith('google.protobuf'))\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == "[]"


# ================================================================ scalars
def test_seed_scalars_read_back_by_event_accumulator(tmp_path):
    expected = _write_seed_run(tmp_path)
    acc = _accumulator(tmp_path)
    assert set(acc.Tags()["scalars"]) == {"loss", "xentropy_mean"}
    for tag in ("loss", "xentropy_mean"):
        events = acc.Scalars(tag)
        assert [e.step for e in events] == [0, 10, 20]
        np.testing.assert_allclose([e.value for e in events], expected, rtol=1e-6)


def test_seed_scalars_seen_by_plugin_accumulator_under_scalars_plugin(tmp_path):
    expected = _write_seed_run(tmp_path)
    acc = plugin_event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    acc.Reload()
    assert {"loss", "xentropy_mean"} <= set(acc.PluginTagToContent("scalars"))
    values = [float(tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors("loss")]
    np.testing.assert_allclose(values, expected, rtol=1e-6)


def test_scalar_summary_bytes_use_simple_value_and_scoped_tags():
    v = tf.constant(2.5)
    s = tf.summary.scalar("loss", v)
    s_again = tf.summary.scalar("loss", v)
    with tf.name_scope("hidden1"):
        inner = tf.summary.scalar("frac", v)
    fam = tf.summary.scalar("acc", v, family="train")
    assert (s.op.name, s_again.op.name, inner.op.name, fam.op.name) == ("loss", "loss_1", "hidden1/frac",
                                                                         "train/acc")
    assert s.op.type == "ScalarSummary" and s.dtype is tf.string and s.shape.as_list() == []
    assert [t.op.name for t in s.op.inputs] == ["loss/tags", "Const"]
    with tf.Session() as sess:
        outs = sess.run([s, s_again, inner, fam])
    assert all(isinstance(o, bytes) for o in outs)
    parsed = [summary_pb2.Summary.FromString(o).value for o in outs]
    assert [p[0].tag for p in parsed] == ["loss", "loss_1", "hidden1/frac", "train/train/acc"]
    assert [p[0].simple_value for p in parsed] == [2.5] * 4
    assert parsed[0][0].WhichOneof("value") == "simple_value"


def test_summaries_join_the_summaries_collection_or_the_given_ones():
    v = tf.constant(1.0)
    a = tf.summary.scalar("a", v)
    b = tf.summary.scalar("b", v, collections=["mine"])
    assert tf.get_collection(tf.GraphKeys.SUMMARIES) == [a]
    assert tf.get_collection("mine") == [b]


def test_seed_era_scalar_summary_with_tag_vector_uses_tags_verbatim():
    s = tf.scalar_summary(["a/x", "b"], tf.constant([1.0, -3.0]), name="pair")
    assert s.op.name == "pair" and s in tf.get_collection(tf.GraphKeys.SUMMARIES)
    with tf.Session() as sess:
        values = summary_pb2.Summary.FromString(sess.run(s)).value
    assert [(v.tag, v.simple_value) for v in values] == [("a/x", 1.0), ("b", -3.0)]


def test_scalar_summary_of_a_vector_fails_naming_shapes_and_tag():
    s = tf.summary.scalar("vec", tf.constant([1.0, 2.0]))
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"not the same shape: \[\] != \[2\] \(tag 'vec'\)"):
            sess.run(s)


def test_scalar_summary_rejects_non_numeric_values_at_build_time():
    with pytest.raises(TypeError, match="bool"):
        tf.summary.scalar("flag", tf.constant(True))


# ================================================================ merge
def test_merge_all_is_none_without_summaries():
    assert tf.summary.merge_all() is None
    assert tf.merge_all_summaries() is None


def test_merge_names_and_concatenates_values():
    a = tf.summary.scalar("a", tf.constant(1.0))
    b = tf.summary.scalar("b", tf.constant(2.0))
    merged = tf.summary.merge_all()
    assert merged.op.name == "Merge/MergeSummary" and merged.op.type == "MergeSummary"
    assert merged.op.inputs == [a, b]
    named = tf.summary.merge([a, b], name="both")
    assert named.op.name == "both/both"   # TF1 opens scope `name` and names the op `name` again
    with tf.Session() as sess:
        values = summary_pb2.Summary.FromString(sess.run(merged)).value
    assert [(v.tag, v.simple_value) for v in values] == [("a", 1.0), ("b", 2.0)]


def test_merge_rejects_duplicate_tags_at_run_time():
    a = tf.scalar_summary("dup", tf.constant(1.0), name="first")
    b = tf.scalar_summary("dup", tf.constant(2.0), name="second")
    merged = tf.merge_summary([a, b])
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Duplicate tag dup found in summary inputs"):
            sess.run(merged)


def test_merge_rejects_empty_and_non_string_inputs():
    with pytest.raises(ValueError, match="length 0"):
        tf.summary.merge([])
    with pytest.raises((TypeError, ValueError)):
        tf.summary.merge([tf.constant(1.0)])


# ================================================================ histograms
HIST_VALUES = np.array([-2.0, 0.0, 0.5, 3.0, 3.0, 1e-13], dtype=np.float64)


def _bucket_of(limits, v):
    """Index k with limits[k-1] <= v < limits[k] in the kept (collapsed) bucket list."""
    for k, upper in enumerate(limits):
        lower = -math.inf if k == 0 else limits[k - 1]
        if lower <= v < upper:
            return k
    raise AssertionError("no bucket for %r" % v)


def test_histogram_statistics_and_tf_exponential_buckets(tmp_path):
    values = tf.placeholder(tf.float64, shape=[None], name="values")
    summary = tf.summary.histogram("w", values)
    assert summary.op.type == "HistogramSummary"
    with tf.Session() as sess:
        serialized = sess.run(summary, {values: HIST_VALUES})
    with tf.summary.FileWriter(str(tmp_path)) as writer:
        writer.add_summary(serialized, global_step=4)
    acc = _accumulator(tmp_path)
    assert acc.Tags()["histograms"] == ["w"]
    (event,) = acc.Histograms("w")
    h = event.histogram_value
    assert event.step == 4
    assert (h.min, h.max, h.num) == (-2.0, 3.0, 6.0)
    assert h.sum == pytest.approx(HIST_VALUES.sum(), rel=1e-15)
    assert h.sum_squares == pytest.approx(float(np.dot(HIST_VALUES, HIST_VALUES)), rel=1e-15)
    limits, counts = list(h.bucket_limit), list(h.bucket)
    assert sum(counts) == 6 and limits == sorted(limits)
    expected = Counter(_bucket_of(limits, v) for v in HIST_VALUES)
    assert {k: c for k, c in enumerate(counts) if c} == expected
    # Edges are 0 and +-1e-12 * 1.1**k: 3.0's bucket is [1e-12*1.1**(k-1), 1e-12*1.1**k) with 3.0 inside.
    upper = limits[_bucket_of(limits, 3.0)]
    k = math.log(upper / 1e-12) / math.log(1.1)
    assert abs(k - round(k)) < 1e-6 and upper / 1.1 <= 3.0 < upper
    assert limits[_bucket_of(limits, 0.0)] == pytest.approx(1e-12)     # [0, 1e-12) holds 0 and 1e-13
    assert limits[_bucket_of(limits, -2.0) - 1] <= -2.0 < limits[_bucket_of(limits, -2.0)] < 0
    assert acc.CompressedHistograms("w")   # the Distributions tab's data


def test_histogram_of_nan_fails_naming_the_op():
    summary = tf.summary.histogram("bad", tf.constant([1.0, float("nan")]))
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Nan in summary histogram for: bad"):
            sess.run(summary)


def test_histogram_of_a_variable_via_seed_era_name():
    v = tf.Variable(tf.constant([[1.0, 2.0], [2.0, 4.0]]), name="weights")
    summary = tf.histogram_summary("weights_hist", v)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        (value,) = summary_pb2.Summary.FromString(sess.run(summary)).value
    assert value.tag == "weights_hist"
    assert (value.histo.num, value.histo.sum, value.histo.sum_squares) == (4.0, 9.0, 25.0)


# ================================================================ images
def _decode(png):
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)))


def test_image_summaries_tags_and_pixels(tmp_path):
    rgb = np.arange(2 * 2 * 3 * 3, dtype=np.uint8).reshape(2, 2, 3, 3) * 7
    positive = np.array([[[[0.0], [0.25]], [[0.5], [0.4]]]], dtype=np.float32)        # 1 x 2 x 2 x 1
    signed = np.array([[[[-1.0, 0.5, 2.0, 0.0], [np.nan, 0.0, 0.0, 1.0]]]], dtype=np.float32)  # 1x1x2x4
    s_rgb = tf.summary.image("rgb", tf.constant(rgb))                 # max_outputs 3 > batch 2
    s_gray = tf.summary.image("gray", tf.constant(positive), max_outputs=1)
    s_rgba = tf.image_summary("rgba", tf.constant(signed))
    with tf.Session() as sess, tf.summary.FileWriter(str(tmp_path)) as writer:
        writer.add_summary(sess.run(tf.summary.merge([s_rgb, s_gray, s_rgba])), 1)
    acc = _accumulator(tmp_path)
    assert sorted(acc.Tags()["images"]) == ["gray/image", "rgb/image/0", "rgb/image/1", "rgba/image/0"]
    for i in range(2):
        (ev,) = acc.Images("rgb/image/%d" % i)
        assert (ev.width, ev.height) == (3, 2)
        np.testing.assert_array_equal(_decode(ev.encoded_image_string), rgb[i])
    (ev,) = acc.Images("gray/image")
    # all >= 0: scaled so the max (0.5) becomes 255, then truncated
    np.testing.assert_array_equal(_decode(ev.encoded_image_string), [[0, 127], [255, 204]])
    (ev,) = acc.Images("rgba/image/0")
    # signed: x * 127 / max|x| + 128 (max|x| = 2), truncated; the pixel with a NaN gets bad_color
    expected = np.array([[[64, 159, 255, 128], [255, 0, 0, 255]]], dtype=np.uint8)
    np.testing.assert_array_equal(_decode(ev.encoded_image_string), expected)


def test_image_summary_rejects_bad_shapes_and_dtypes():
    with pytest.raises(ValueError, match="4-D"):
        tf.summary.image("flat", tf.constant(np.zeros((2, 3), np.float32)))
    with pytest.raises(ValueError, match="channels"):
        tf.summary.image("two", tf.constant(np.zeros((1, 2, 2, 2), np.float32)))
    with pytest.raises(TypeError, match="int32"):
        tf.summary.image("ints", tf.constant(np.zeros((1, 2, 2, 1), np.int32)))
    fed = tf.placeholder(tf.float32, name="fed")
    s = tf.summary.image("fed", fed)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"4-D with last dim 1, 3, or 4, not \[2,2\]"):
            sess.run(s, {fed: np.zeros((2, 2), np.float32)})


# ================================================================ text
def test_text_summary_is_a_text_plugin_tensor(tmp_path):
    s = tf.summary.text("notes", tf.constant(["hello", "world"]))
    assert s.op.type == "TensorSummaryV2"
    with pytest.raises(ValueError, match="dtype string"):
        tf.summary.text("number", tf.constant(1.0))
    with tf.Session() as sess, tf.summary.FileWriter(str(tmp_path)) as writer:
        writer.add_summary(sess.run(s), 0)
        writer.add_summary(sess.run(s), 1)
    acc = plugin_event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    acc.Reload()
    assert "notes" in acc.PluginTagToContent("text")
    events = acc.Tensors("notes")
    assert [e.step for e in events] == [0, 1]
    assert events[0].tensor_proto.dtype == types_pb2.DT_STRING
    assert list(tensor_util.make_ndarray(events[1].tensor_proto)) == [b"hello", b"world"]


# ================================================================ graphs
def test_graph_written_by_writer_has_scoped_nodes_edges_and_shapes(tmp_path):
    _write_seed_run(tmp_path)
    graph_def = _accumulator(tmp_path).Graph()
    nodes = {n.name: n for n in graph_def.node}
    assert {"Placeholder", "hidden1/weights", "hidden1/weights/read", "hidden1/weights/Assign", "hidden1/MatMul",
            "hidden1/biases", "xentropy_mean", "loss", "ScalarSummary", "Merge/MergeSummary"} <= set(nodes)
    matmul = nodes["hidden1/MatMul"]
    assert matmul.op == "MatMul" and list(matmul.input) == ["Placeholder", "hidden1/weights/read"]
    assert matmul.attr["T"].type == types_pb2.DT_FLOAT and matmul.attr["transpose_a"].b is False
    assert [[d.size for d in s.dim] for s in matmul.attr["_output_shapes"].list.shape] == [[-1, 3]]
    variable = nodes["hidden1/weights"]
    assert variable.op == "VariableV2" and variable.attr["dtype"].type == types_pb2.DT_FLOAT
    assert [d.size for d in variable.attr["shape"].shape.dim] == [4, 3]
    placeholder = nodes["Placeholder"]
    assert [d.size for d in placeholder.attr["shape"].shape.dim] == [-1, 4]
    assign = nodes["hidden1/weights/Assign"]
    initial = nodes[assign.input[1]]
    assert initial.op == "Const"
    np.testing.assert_array_equal(tensor_util.make_ndarray(initial.attr["value"].tensor), W1)
    assert nodes["loss"].op == "ScalarSummary" and list(nodes["loss"].input) == ["loss/tags", "xentropy_mean"]
    assert tensor_util.make_ndarray(nodes["loss/tags"].attr["value"].tensor) == b"loss"
    assert graph_def.versions.producer > 0


def test_graph_def_control_inputs_output_indices_and_no_shapes_by_default():
    a = tf.constant(np.float32(1.0), name="a")
    zeros = tf.constant(np.zeros((3, 2), np.float32), name="zeros")
    with tf.control_dependencies([a]):
        b = tf.identity(zeros, name="b")
    graph_def = tf.get_default_graph().as_graph_def()
    nodes = {n.name: n for n in graph_def.node}
    assert list(nodes["b"].input) == ["zeros", "^a"]
    assert "_output_shapes" not in nodes["b"].attr
    # a uniform constant is stored in TF's compact one-value form and still decodes to the full array
    np.testing.assert_array_equal(tensor_util.make_ndarray(nodes["zeros"].attr["value"].tensor), np.zeros((3, 2)))
    assert b.op.node_def.name == "b" and list(b.op.node_def.input) == ["zeros", "^a"]
    from nanotf.framework.graph_def import op_to_node_def
    node = op_to_node_def(b.op, add_shapes=True)
    assert [[d.size for d in s.dim] for s in node.attr["_output_shapes"].list.shape] == [[3, 2]]
    from nanotf.framework.graph_def import attr_value
    assert attr_value(None) is None and attr_value(object()) is None
    assert list(attr_value((1, 2)).list.i) == [1, 2]
    assert attr_value(tf.TensorShape(None)).shape.unknown_rank
    assert list(attr_value([tf.float32, tf.int64]).list.type) == [types_pb2.DT_FLOAT, types_pb2.DT_INT64]


def test_writer_accepts_a_graph_def_and_rejects_both_or_junk(tmp_path):
    tf.constant(1.0, name="only")
    graph_def = tf.get_default_graph().as_graph_def()
    with tf.summary.FileWriter(str(tmp_path), graph_def=graph_def):
        pass
    assert [n.name for n in _accumulator(tmp_path).Graph().node] == ["only"]
    with tf.summary.FileWriter(str(tmp_path / "x")) as writer:
        with pytest.raises(ValueError, match="not both"):
            writer.add_graph(tf.get_default_graph(), graph_def=graph_def)
        with pytest.raises(TypeError, match="Graph"):
            writer.add_graph("not a graph")


# ================================================================ writer behaviour
def test_two_writers_on_one_graph_write_separate_files(tmp_path):
    tf.constant(1.0, name="c")
    g = tf.get_default_graph()
    w1, w2 = tf.summary.FileWriter(str(tmp_path), g), tf.summary.FileWriter(str(tmp_path), g)
    w1.add_summary(tf.Summary(value=[tf.Summary.Value(tag="one", simple_value=1.0)]), 1)
    w2.add_summary(tf.Summary(value=[tf.Summary.Value(tag="two", simple_value=2.0)]), 2)
    w1.close()
    w2.close()
    files = _event_files(tmp_path)
    assert len(files) == 2 and files[0] != files[1]
    for path in files:
        events = _events(path)
        assert events[0].file_version == "brain.Event:2"
        assert sum(e.HasField("graph_def") for e in events) == 1
    tags = sorted(v.tag for path in files for e in _events(path) if e.HasField("summary") for v in e.summary.value)
    assert tags == ["one", "two"]


def test_flush_makes_events_visible_before_close(tmp_path):
    writer = tf.summary.FileWriter(str(tmp_path), flush_secs=3600)
    assert writer.get_logdir() == str(tmp_path)
    writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="x", simple_value=0.25)]), global_step=np.int64(7))
    writer.flush()
    (path,) = _event_files(tmp_path)
    summaries = [e for e in _events(path) if e.HasField("summary")]
    assert [(e.step, e.summary.value[0].simple_value) for e in summaries] == [(7, 0.25)]
    writer.close()


def test_closed_writer_warns_drops_and_reopen_starts_a_new_file(tmp_path):
    writer = tf.summary.FileWriter(str(tmp_path))
    writer.close()
    writer.close()   # idempotent
    with pytest.warns(UserWarning, match="closed FileWriter"):
        writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="lost", simple_value=1.0)]))
    writer.reopen()
    writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="kept", simple_value=1.0)]), 3)
    writer.close()
    files = _event_files(tmp_path)
    assert len(files) == 2
    tags = [v.tag for p in files for e in _events(p) if e.HasField("summary") for v in e.summary.value]
    assert tags == ["kept"]


def test_add_summary_rejects_other_types(tmp_path):
    with tf.summary.FileWriter(str(tmp_path)) as writer:
        with pytest.raises(TypeError, match="serialized Summary"):
            writer.add_summary(3.0)
        with pytest.raises(TypeError, match="global_step"):
            writer.add_summary(tf.Summary(), global_step="step")


def test_plugin_metadata_kept_on_first_value_per_tag_only(tmp_path):
    s = tf.summary.text("t", tf.constant("x"))
    with tf.Session() as sess:
        serialized = sess.run(s)
    proto = summary_pb2.Summary.FromString(serialized)
    with tf.summary.FileWriter(str(tmp_path)) as writer:
        writer.add_summary(serialized, 0)
        writer.add_summary(proto, 1)
    assert proto.value[0].HasField("metadata")   # the caller's proto is left alone
    (path,) = _event_files(tmp_path)
    values = [e.summary.value[0] for e in _events(path) if e.HasField("summary")]
    assert [v.HasField("metadata") for v in values] == [True, False]


def test_session_log_and_run_metadata_events(tmp_path):
    with tf.summary.FileWriter(str(tmp_path)) as writer:
        writer.add_session_log(tf.SessionLog(status=tf.SessionLog.START), global_step=5)
        writer.add_run_metadata(b"", "step5", global_step=5)
        with pytest.raises(ValueError, match="already been used"):
            writer.add_run_metadata(b"", "step5")
    (path,) = _event_files(tmp_path)
    events = _events(path)
    logs = [e for e in events if e.HasField("session_log")]
    assert [(e.step, e.session_log.status) for e in logs] == [(5, tf.SessionLog.START)]
    tagged = [e.tagged_run_metadata.tag for e in events if e.HasField("tagged_run_metadata")]
    assert tagged == ["step5"]


def test_file_writer_cache_shares_one_writer_per_logdir(tmp_path):
    first = tf.summary.FileWriterCache.get(str(tmp_path))
    assert tf.summary.FileWriterCache.get(str(tmp_path)) is first
    tf.summary.FileWriterCache.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first.flush()
    assert caught   # cleared writers are closed


def test_unclosed_writer_is_flushed_at_interpreter_exit(tmp_path):
    code = textwrap.dedent("""
        import sys
        import nanotf as tf
        w = tf.summary.FileWriter(sys.argv[1], flush_secs=3600, max_queue=1000)
        for step in range(5):
            w.add_summary(tf.Summary(value=[tf.Summary.Value(tag="late", simple_value=step / 2)]), step)
    """)
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True,
                   cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    scalars = _accumulator(tmp_path).Scalars("late")
    assert [(e.step, e.value) for e in scalars] == [(s, s / 2) for s in range(5)]
