"""Data parallel over 4 CPU devices, and across 2 processes on 127.0.0.1: the tutorial's training gives the
one-device (NumPy backend) losses and weights to float32 round-off (1e-4 relative over 20 steps; the losses
within 2e-3 over the 2000 steps of the tutorial's default run). Each run is a subprocess, since JAX's
device count (XLA_FLAGS) and its distributed runtime are fixed when JAX starts."""
import json
import os
import socket
import subprocess
import sys
import tempfile

import numpy as np
import pytest

pytest.importorskip("jax", reason="the XLA backend needs jax: pip install 'nanotf[xla]'")


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS, LONG_STEPS, BATCH = 20, 2000, 100

# Builds the tutorial graph, loads fixed initial weights, trains STEPS steps on the given rows of each batch;
# prints {"losses": [...], "weights": [...]} as JSON. argv: mode ("numpy" | "xla"), steps, rows begin, rows end,
# then for a cluster: coordinator, num_processes, process_id.
WORKER = r'''
import json, sys
import numpy as np
mode, STEPS, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if len(sys.argv) > 5:
    from nanotf.xla import distributed
    distributed.initialize(sys.argv[5], int(sys.argv[6]), int(sys.argv[7]))
import nanotf as tf
from nanotf.examples.tutorials.mnist import mnist
BATCH = %d
g = tf.Graph()
with g.as_default():
    x = tf.placeholder(tf.float32, (None, 784)); y = tf.placeholder(tf.int32, (None,))
    loss = mnist.loss(mnist.inference(x, 128, 32), y)
    train = mnist.training(loss, 0.05)
    init = tf.global_variables_initializer()
    variables = g.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
config = None
if mode == "xla":
    config = tf.ConfigProto(graph_options=tf.GraphOptions(optimizer_options=tf.OptimizerOptions(
        global_jit_level=tf.OptimizerOptions.ON_1)))
sess = tf.Session(graph=g, config=config)
sess.run(init)
rng = np.random.default_rng(0)
for v in variables:
    v.load((rng.standard_normal(v.shape.as_list()) * 0.05).astype(np.float32), sess)
templates = rng.random((10, 784)).astype(np.float32)
losses = []
for _ in range(STEPS):
    labels = rng.integers(0, 10, BATCH).astype(np.int32)
    images = 0.7 * templates[labels] + 0.3 * rng.random((BATCH, 784)).astype(np.float32)
    losses.append(float(sess.run([train, loss], {x: images[lo:hi], y: labels[lo:hi]})[1]))
import jax
print(json.dumps({"losses": losses, "weights": [sess.run(v).tolist() for v in variables],
                  "devices": len(jax.devices()) if mode == "xla" else 0}), flush=True)
if len(sys.argv) > 5:
    jax.distributed.shutdown()
''' % BATCH


def _run(args, env=None, wait=True):
    """Starts a worker writing into temporary files (a cluster's processes must never block on a full pipe
    while another waits for them at JAX's shutdown barrier)."""
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    p = subprocess.Popen([sys.executable, "-c", WORKER] + [str(a) for a in args], cwd=ROOT, stdout=out, stderr=err,
                         text=True, env={**os.environ, **(env or {})})
    p.files = out, err
    return p if not wait else _result(p)


def _result(p):
    p.wait(timeout=600)
    out, err = p.files
    out.seek(0)
    err.seek(0)
    assert p.returncode == 0, err.read()[-3000:]
    return json.loads(out.read().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def one_device():
    return _run(["numpy", STEPS, 0, BATCH])


@pytest.fixture(scope="module")
def one_device_long():
    return _run(["numpy", LONG_STEPS, 0, BATCH])


FOUR_DEVICES = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4", "NANOTF_XLA_DATA_PARALLEL": "1"}


def _assert_same_training(got, want):
    np.testing.assert_allclose(got["losses"], want["losses"], rtol=1e-4)
    for a, b in zip(got["weights"], want["weights"]):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-3, atol=1e-5)


def test_data_parallel_over_four_devices_equals_one_device(one_device):
    got = _run(["xla", STEPS, 0, BATCH], env=FOUR_DEVICES)
    assert got["devices"] == 4
    _assert_same_training(got, one_device)


def test_four_devices_give_the_numpy_losses_over_the_tutorials_2000_steps(one_device_long):
    got = _run(["xla", LONG_STEPS, 0, BATCH], env=FOUR_DEVICES)
    assert got["devices"] == 4
    want = np.array(one_device_long["losses"])
    assert want[-100:].mean() < 0.1 * want[0]   # it learned: not two flat curves
    np.testing.assert_allclose(got["losses"], want, rtol=2e-3)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_end_with_identical_weights_equal_to_one_process(one_device):
    coordinator = "127.0.0.1:%d" % _free_port()
    half = BATCH // 2
    procs = [_run(["xla", STEPS, i * half, (i + 1) * half, coordinator, 2, i], wait=False,
                  env={"XLA_FLAGS": "", "NANOTF_XLA_DATA_PARALLEL": "1"}) for i in range(2)]
    results = [_result(p) for p in procs]
    assert results[0]["devices"] == 2
    assert results[0]["weights"] == results[1]["weights"]   # replicated: bit-identical on both processes
    _assert_same_training(results[0], one_device)
