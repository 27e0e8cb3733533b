"""Placement (nanotf/framework/device.py): nanotf's one CPU, TF's error for a device it lacks, soft
placement and the placement log, and a Session enforcing it."""
import io

import numpy as np
import pytest

import nanotf as tf
from nanotf.framework import device

CPU = "/job:localhost/replica:0/task:0/device:CPU:0"


def test_list_devices_has_one_cpu():
    devs = device.list_devices()
    assert [(d.name, d.device_type) for d in devs] == [(CPU, "CPU")]
    assert devs[0].memory_limit_bytes > 0


@pytest.mark.parametrize("spec", [None, "/cpu:0", "/device:CPU:0", "/CPU:0", "/job:localhost/replica:0/task:0/cpu:0",
                                  "/device:CPU:*", "cpu"])
def test_devices_nanotf_has_run_on_the_cpu(spec, graph):
    with tf.device(spec):
        c = tf.constant(1.0) + 2.0
    assert device.check_placement([c.op], tf.ConfigProto()) == {c.op: CPU}


@pytest.mark.parametrize("spec,shown", [("/gpu:0", "/device:GPU:0"), ("/device:GPU:1", "/device:GPU:1"),
                                        ("/cpu:1", "/device:CPU:1"),
                                        ("/job:worker/task:0/device:CPU:0", "/job:worker/task:0/device:CPU:0")])
def test_missing_device_raises_tensorflows_error_without_soft_placement(spec, shown, graph):
    a = tf.constant(1.0, name="a")
    with tf.device(spec):
        b = tf.add(a, 1.0, name="b")
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        device.check_placement([a.op, b.op], tf.ConfigProto(allow_soft_placement=False))
    assert e.value.message == (
        "Cannot assign a device for operation b: {{node b}} was explicitly assigned to %s but available "
        "devices are [ %s ]. Make sure the device specification refers to a valid device." % (shown, CPU))
    assert e.value.op is b.op
    assert device.check_placement([a.op, b.op], tf.ConfigProto(allow_soft_placement=True)) == \
        {a.op: CPU, b.op: CPU}


def test_device_functions_and_log_device_placement(graph):
    with tf.device(lambda op: "/gpu:0" if op.type == "MatMul" else "/cpu:0"):
        x = tf.constant(np.eye(2), name="x")
        y = tf.matmul(x, x, name="y")
    assert y.op.device == "/device:GPU:0" and x.op.device == "/device:CPU:0"
    out = io.StringIO()
    device.check_placement([x.op, y.op], tf.ConfigProto(allow_soft_placement=True, log_device_placement=True),
                           out=out)
    assert out.getvalue() == "x: (Const): %s\ny: (MatMul): %s\n" % (CPU, CPU)
    assert device.device_mapping_message() == "Device mapping: no known devices."


def test_session_enforces_placement_and_lists_devices(capsys, graph):
    with tf.device("/gpu:0"):
        c = tf.constant(2.0, name="c") * 3.0
    with tf.Session(config=tf.ConfigProto(allow_soft_placement=True, log_device_placement=True)) as sess:
        assert sess.run(c) == 6.0
        assert [d.name for d in sess.list_devices()] == [CPU]
    assert "c: (Const): %s" % CPU in capsys.readouterr().out
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Cannot assign a device for operation"):
            sess.run(c)
