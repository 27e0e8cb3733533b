"""The four MNIST commands on the XLA backend: `--xla` runs their Sessions there, a missing jax is one line
and exit 1, bad cluster flags one line and exit 2, and `--coordinator HOST:PORT --num_processes 2
--process_id I` trains one model across 2 processes on 127.0.0.1: both end with the same weights, those of
one process training on the whole batch, and the evaluation counts every process's rows (checked against
a NumPy forward pass of the saved weights)."""
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from nanotf.examples.tutorials.mnist import fully_connected_feed, mnist_deep, mnist_softmax, mnist_with_summaries

from _tutorial_helpers import (EVAL_RE, as_float_images, call_main, load_checkpoint_arrays, numpy_num_correct,
                               tiny_mnist, write_idx_gz)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (module, a brief run's flags besides --xla --fake_data and --log_dir)
COMMANDS = {"nanotf-mnist": (fully_connected_feed, ["--max_steps", "3", "--batch_size", "50"]),
            "nanotf-mnist-softmax": (mnist_softmax, ["--steps", "3"]),
            "nanotf-mnist-deep": (mnist_deep, ["--steps", "2"]),
            "nanotf-mnist-with-summaries": (mnist_with_summaries, ["--max_steps", "3"])}


def log_dir_args(module, tmp_path):
    return [] if module is mnist_softmax else ["--log_dir", tmp_path / "runs"]


def assert_one_line(stderr, prog):
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    assert stderr.startswith(prog + ": ") and "Traceback" not in stderr, stderr


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_trains_on_the_xla_backend_with_xla(name, tmp_path, monkeypatch):
    pytest.importorskip("jax", reason="the XLA backend needs jax: pip install 'nanotf[xla]'")
    from nanotf.compiler import backend
    backend.factory("xla")
    compiled = []
    real = backend._FACTORIES["xla"]
    monkeypatch.setitem(backend._FACTORIES, "xla", lambda runtime, plan: compiled.append(plan) or real(runtime, plan))
    module, args = COMMANDS[name]
    status, out, err = call_main(module, ["--xla", "--fake_data"] + args + log_dir_args(module, tmp_path))
    assert status == 0, err
    assert compiled   # the program's plans went to the XLA backend


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_xla_without_jax_is_one_line_naming_the_pip_command(name, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)   # `import jax` raises ImportError, as when it is missing
    module, args = COMMANDS[name]
    status, out, err = call_main(module, ["--xla", "--fake_data"] + args + log_dir_args(module, tmp_path))
    assert status == 1
    assert_one_line(err, name)
    assert "pip install 'nanotf[xla]'" in err
    assert not (tmp_path / "runs").exists()   # failed before any run directory was made


@pytest.mark.parametrize("args,says", [
    (["--coordinator", "127.0.0.1"], "argument --coordinator: must be HOST:PORT"),
    (["--coordinator", "127.0.0.1:70000", "--num_processes", "2", "--process_id", "0"], "port in 1..65535"),
    (["--coordinator", "127.0.0.1:1234", "--num_processes", "2"], "go together (given: --coordinator, "
                                                                  "--num_processes)"),
    (["--process_id", "1"], "go together (given: --process_id)"),
    (["--coordinator", "127.0.0.1:1234", "--num_processes", "2", "--process_id", "2"],
     "argument --process_id: must be below --num_processes 2, got 2"),
    (["--num_processes", "0"], "argument --num_processes: must be a positive integer"),
])
def test_bad_cluster_flags_are_one_line_and_exit_2(args, says, tmp_path):
    status, out, err = call_main(fully_connected_feed, args + ["--fake_data", "--log_dir", tmp_path / "runs"])
    assert status == 2
    assert_one_line(err, "nanotf-mnist")
    assert says in err


# -- 2 processes on 127.0.0.1
# The data is a tiny IDX MNIST whose checksums the launcher registers (the command checks downloads' SHA-256).
LAUNCHER = r'''
import json, sys
from nanotf.datasets import mnist as mnist_data
mnist_data.SHA256["mnist"] = json.loads(sys.argv[1])
from nanotf.examples.tutorials.mnist import fully_connected_feed
sys.exit(fully_connected_feed.main(sys.argv[2:]))
'''
STEPS = 40


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(checksums, argv):
    """A command writing into temporary files (a cluster's processes must never block on a full pipe while
    another waits for them)."""
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    env = {**os.environ, "XLA_FLAGS": "", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("NANOTF_XLA_DATA_PARALLEL", None)
    p = subprocess.Popen([sys.executable, "-c", LAUNCHER, json.dumps(checksums)] + [str(a) for a in argv],
                         cwd=ROOT, stdout=out, stderr=err, text=True, env=env)
    p.files = out, err
    return p


def _finish(p):
    try:
        p.wait(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    out, err = p.files
    out.seek(0)
    err.seek(0)
    text, errors = out.read(), err.read()
    assert p.returncode == 0, errors[-3000:]
    return text


def _weights(log_dir):
    (run,) = [d for d in Path(log_dir).iterdir() if d.is_dir()]
    (data_file,) = sorted(run.glob("model.ckpt-%d*.safetensors" % (STEPS - 1)))
    return load_checkpoint_arrays(data_file)[0]


def test_two_processes_train_one_model_equal_to_one_process_on_the_whole_batch(tmp_path):
    pytest.importorskip("jax", reason="the XLA backend needs jax: pip install 'nanotf[xla]'")
    arrays = tiny_mnist(5600, 200, seed=3)   # 600 training examples after the 5000 of validation
    checksums = write_idx_gz(tmp_path / "data", arrays)
    common = ["--input_data_dir", tmp_path / "data", "--max_steps", STEPS, "--batch_size", 100,
              "--learning_rate", 0.05]
    coordinator = "127.0.0.1:%d" % _free_port()
    cluster = [_start(checksums, common + ["--coordinator", coordinator, "--num_processes", 2, "--process_id", i,
                                           "--log_dir", tmp_path / ("process%d" % i)]) for i in range(2)]
    outputs = [_finish(p) for p in cluster]
    single = _finish(_start(checksums, common + ["--xla", "--seed", 0, "--log_dir", tmp_path / "single"]))

    w0, w1, ws = (_weights(tmp_path / d) for d in ("process0", "process1", "single"))
    assert sorted(w0) == sorted(ws)
    for name in ws:
        np.testing.assert_array_equal(w0[name], w1[name])   # replicated: the same bits on both processes
        np.testing.assert_allclose(w0[name], ws[name], rtol=1e-4, atol=1e-6)   # float32 sums split in two
        assert not np.allclose(ws[name], 0) or "biases" in name

    # The test evaluation sums both processes' rows: its count is the whole test set's, by NumPy.
    test_images = as_float_images(arrays["x_test"])
    want = numpy_num_correct(w0, test_images, arrays["y_test"], batch_size=100)
    for text in outputs + [single]:
        lines = [EVAL_RE.match(line) for line in text.splitlines() if EVAL_RE.match(line)]
        examples, correct = int(lines[-1].group(1)), int(lines[-1].group(2))   # the last is the test set's
        assert examples == 200
        assert abs(correct - want) <= 1   # an example whose top two logits tie within round-off may flip
