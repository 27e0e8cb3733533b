"""End-to-end tests of the Mechanics 101 tutorial program (fully_connected_feed.py + mnist.py).

They run the program as a user would (in-process through main(argv), or as a subprocess for the
console-script checks) and inspect what it leaves behind with tools that are not nanotf: TensorBoard's
own EventAccumulator for the event files, the safetensors library plus a NumPy forward pass for the
checkpoints. Downloads come from an http.server on 127.0.0.1; nothing here touches the network.
"""
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nanotf as tf
from nanotf.datasets import mnist as mnist_data
from nanotf.examples.tutorials.mnist import mnist

from _tutorial_helpers import (EVAL_RE, EVAL_TITLE_RE, IDX_NAMES, RUN_DIR_RE, STEP_RE,
                               TENSORBOARD_RE, FileServer, as_float_images, closed_port_url,
                               load_checkpoint_arrays, numpy_mean_xent, numpy_num_correct, parse_output,
                               run_main, single_blas_thread, tiny_mnist, write_idx_gz)

GZ_NAMES = [n + ".gz" for n in IDX_NAMES]
CKPT_SUFFIX = ".safetensors"   # nanotf keeps one checkpoint's values in <prefix>.safetensors


def event_accumulator(path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(path))
    acc.Reload()
    return acc


def checkpoint_steps(run_dir):
    """Steps of the model.ckpt-<step> data files in run_dir, sorted."""
    return sorted(int(p.name[len("model.ckpt-"):-len(CKPT_SUFFIX)])
                  for p in Path(run_dir).iterdir() if p.name.startswith("model.ckpt-"))


def snapshot(directory):
    """{relative path: (bytes, mtime_ns)} of every file under directory."""
    return {str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(Path(directory).rglob("*")) if p.is_file()}


def restored_num_correct(prefix, images, labels, batch_size=100):
    """Counts of a FRESH graph + session built with mnist.inference/loss/evaluation, restored from
    `prefix`; returns (num correct, mean loss of the first batch)."""
    with tf.Graph().as_default():
        images_pl = tf.placeholder(tf.float32, shape=(batch_size, mnist.IMAGE_PIXELS))
        labels_pl = tf.placeholder(tf.int32, shape=(batch_size,))
        logits = mnist.inference(images_pl, 128, 32)
        loss = mnist.loss(logits, labels_pl)
        correct = mnist.evaluation(logits, labels_pl)
        saver = tf.train.Saver()
        with tf.Session() as sess:
            saver.restore(sess, prefix)
            total, first_loss = 0, None
            for start in range(0, len(images) - batch_size + 1, batch_size):
                feed = {images_pl: images[start:start + batch_size], labels_pl: labels[start:start + batch_size]}
                n, loss_value = sess.run([correct, loss], feed_dict=feed)
                total += int(n)
                first_loss = loss_value if first_loss is None else first_loss
    return total, first_loss


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    with single_blas_thread():
        yield


@pytest.fixture(autouse=True)
def isolated(offline_home, tmp_path, monkeypatch):
    """No real HOME, data dir or cwd: no local dataset copy can be found, nothing lands in the repo. (The real
    MNIST folder, `real_mnist_dir`, is looked for once per session, with the user's environment.)"""
    monkeypatch.setenv("NANOTF_DATA_DIR", str(tmp_path / "nanotf-data"))
    return offline_home


# ------------------------------------------------------------ one fake-data run, inspected many ways

@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    """`--fake_data --max_steps 250` into a log_dir that already holds files of the user's."""
    log_dir = tmp_path_factory.mktemp("fake") / "logs"
    (log_dir / "older-run").mkdir(parents=True)
    (log_dir / "notes.txt").write_text("my notes\n")
    (log_dir / "older-run" / "model.ckpt-7.safetensors").write_bytes(b"not yours")
    before = snapshot(log_dir)
    out, exit_exc = run_main(["--fake_data", "--max_steps", "250", "--log_dir", log_dir])
    assert exit_exc is None, exit_exc
    parsed = parse_output(out)
    return {"out": out, "parsed": parsed, "log_dir": log_dir, "before": before,
            "run_dir": Path(parsed["run_dir"])}


def test_fake_run_prints_the_seed_format_exactly(fake_run):
    lines = fake_run["out"].splitlines()
    assert len(lines) == 3 + 3 * 2 + 2, fake_run["out"]
    for line, step in zip(lines[:3], (0, 100, 200)):
        m = STEP_RE.match(line)
        assert m and int(m.group(1)) == step, line
        assert math.isfinite(float(m.group(2)))
    for i, title in enumerate(("Training", "Validation", "Test")):
        assert EVAL_TITLE_RE.match(lines[3 + 2 * i]).group(1) == title
        m = EVAL_RE.match(lines[4 + 2 * i])
        assert m, lines[4 + 2 * i]
        # fake data: 10000 identical examples of label 0; 250 steps learn them all
        assert m.groups() == ("10000", "10000", "1.0000")
    run_dir = RUN_DIR_RE.match(lines[-2]).group(1)
    assert Path(run_dir).parent == fake_run["log_dir"] and Path(run_dir).is_dir()
    assert TENSORBOARD_RE.match(lines[-1]).group(1) == str(fake_run["log_dir"])


def test_each_run_gets_a_fresh_dir_and_keeps_existing_files(fake_run):
    log_dir = fake_run["log_dir"]
    out, exit_exc = run_main(["--fake_data", "--max_steps", "250", "--log_dir", log_dir])
    assert exit_exc is None, exit_exc
    second = Path(parse_output(out)["run_dir"])
    assert second != fake_run["run_dir"] and second.parent == log_dir
    assert sorted(p.name for p in log_dir.iterdir()) == sorted(
        ["notes.txt", "older-run", fake_run["run_dir"].name, second.name])
    after = snapshot(log_dir)
    for rel, (data, mtime) in fake_run["before"].items():
        assert after[rel] == (data, mtime), "%s was modified" % rel
    assert checkpoint_steps(second) == [249]


def test_tensorboard_reads_the_graph_with_shapes(fake_run):
    acc = event_accumulator(fake_run["run_dir"])
    assert acc.Tags()["scalars"] == ["loss"]
    assert [e.step for e in acc.Scalars("loss")] == [0, 100, 200]
    nodes = {n.name: n for n in acc.Graph().node}
    for name in ("hidden1/weights", "hidden1/MatMul", "softmax_linear/add", "xentropy_mean",
                 "GradientDescent", "global_step"):
        assert name in nodes, name
    assert nodes["hidden1/MatMul"].op == "MatMul"
    assert nodes["hidden1/weights"].op == "VariableV2"
    shapes = nodes["hidden1/MatMul"].attr["_output_shapes"].list.shape
    assert [[d.size for d in s.dim] for s in shapes] == [[100, 128]]
    shapes = nodes["softmax_linear/add"].attr["_output_shapes"].list.shape
    assert [[d.size for d in s.dim] for s in shapes] == [[100, 10]]
    assert [d.size for d in nodes["xentropy_mean"].attr["_output_shapes"].list.shape[0].dim] == []


def test_tensorboard_loss_equals_printed_loss(fake_run):
    """What TensorBoard plots at a step is the loss the console printed for that step."""
    acc = event_accumulator(fake_run["run_dir"])
    logged = {e.step: "%.2f" % e.value for e in acc.Scalars("loss")}
    printed = dict(fake_run["parsed"]["steps"])
    assert logged == printed


def test_checkpoint_state_and_files(fake_run):
    run_dir = fake_run["run_dir"]
    prefix = str(run_dir / "model.ckpt-249")
    # listed relative to the run directory, so that it can be moved and resumed
    assert (run_dir / "checkpoint").read_text() == (
        'model_checkpoint_path: "model.ckpt-249"\nall_model_checkpoint_paths: "model.ckpt-249"\n')
    assert checkpoint_steps(run_dir) == [249]       # only the end of a 250-step run
    assert tf.train.latest_checkpoint(str(run_dir)) == prefix
    weights, metadata = load_checkpoint_arrays(prefix + CKPT_SUFFIX)
    assert metadata.get("global_step") == "249"
    assert int(weights["global_step"]) == 250       # 250 train steps ran; saved as step 249, as TF
    assert weights["hidden1/weights"].shape == (784, 128)
    assert weights["softmax_linear/biases"].shape == (10,)
    assert sorted(weights) == sorted(["global_step"] + ["%s/%s" % (layer, kind)
                                                        for layer in ("hidden1", "hidden2", "softmax_linear")
                                                        for kind in ("weights", "biases")])


def test_checkpoint_restores_into_a_fresh_graph(fake_run):
    prefix = tf.train.latest_checkpoint(str(fake_run["run_dir"]))
    images = np.ones((10000, 784), np.float32)     # the fake data: every image all ones, label 0
    labels = np.zeros(10000, np.int32)
    correct, loss = restored_num_correct(prefix, images, labels)
    printed = [e[2] for e in fake_run["parsed"]["evals"]]
    assert printed == [correct] * 3
    weights, _ = load_checkpoint_arrays(prefix + CKPT_SUFFIX)
    assert numpy_num_correct(weights, images, labels) == correct
    # the restored loss is NumPy's cross-entropy of the saved weights on the fake batch
    expected = numpy_mean_xent(weights, images[:100], labels[:100])
    assert loss == pytest.approx(expected, rel=1e-4, abs=1e-6)


# ------------------------------------------------------------ resume and divergence

def test_resume_continues_the_same_run(tmp_path):
    log_dir = tmp_path / "logs"
    out, exit_exc = run_main(["--fake_data", "--max_steps", "150", "--log_dir", log_dir])
    assert exit_exc is None
    first = parse_output(out)
    run_dir = Path(first["run_dir"])
    assert [s for s, _ in first["steps"]] == [0, 100] and checkpoint_steps(run_dir) == [149]

    out, exit_exc = run_main(["--fake_data", "--resume", "--max_steps", "300", "--log_dir", log_dir])
    assert exit_exc is None, exit_exc
    second = parse_output(out)
    assert "Resumed %s at step 150" % (run_dir / "model.ckpt-149") in out
    assert [s for s, _ in second["steps"]] == [200]
    assert Path(second["run_dir"]) == run_dir
    assert [p.name for p in log_dir.iterdir()] == [run_dir.name]
    assert checkpoint_steps(run_dir) == [149, 299]
    prefix = str(run_dir / "model.ckpt-299")
    assert tf.train.latest_checkpoint(str(run_dir)) == prefix
    state = tf.train.get_checkpoint_state(str(run_dir))
    assert state.all_model_checkpoint_paths == [str(run_dir / "model.ckpt-149"), prefix]
    weights, _ = load_checkpoint_arrays(prefix + CKPT_SUFFIX)
    assert int(weights["global_step"]) == 300
    # both runs' summaries are in the run dir, one curve
    assert [e.step for e in event_accumulator(run_dir).Scalars("loss")] == [0, 100, 200]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # NumPy's overflow warnings while it diverges
def test_divergence_stops_and_names_the_last_good_checkpoint(tmp_path):
    log_dir = tmp_path / "logs"
    # a fresh run that diverges before any checkpoint
    out, exit_exc = run_main(["--fake_data", "--learning_rate", "1e20", "--max_steps", "50",
                              "--log_dir", log_dir])
    assert exit_exc.status == 1
    msg = exit_exc.stderr
    assert msg.startswith("nanotf-mnist: error: Training diverged") and msg.count("\n") == 1
    assert "diverged" in msg and "none saved yet" in msg and "--learning_rate" in msg
    assert int(msg.split("at step ")[1].split(".")[0]) >= 1
    (fresh_dir,) = log_dir.iterdir()
    assert checkpoint_steps(fresh_dir) == [] and not (fresh_dir / "checkpoint").exists()

    # a good run, then a resumed one that diverges: the message names the step and checkpoint 149
    log_dir = tmp_path / "logs2"
    assert run_main(["--fake_data", "--max_steps", "150", "--log_dir", log_dir])[1] is None
    (run_dir,) = log_dir.iterdir()
    out, exit_exc = run_main(["--fake_data", "--resume", "--learning_rate", "1e20", "--max_steps", "300",
                              "--log_dir", log_dir])
    assert exit_exc.status == 1
    msg = exit_exc.stderr
    step = int(msg.split("at step ")[1].split(".")[0])
    assert 150 < step < 300
    assert "last good checkpoint is %s" % (run_dir / "model.ckpt-149") in msg
    assert checkpoint_steps(run_dir) == [149]
    assert tf.train.latest_checkpoint(str(run_dir)) == str(run_dir / "model.ckpt-149")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_on_a_save_step_saves_no_bad_checkpoint(tmp_path):
    """The update of the LAST step (a save step) is the one that blows up: that step's loss was still
    finite, but the updated weights (~1e17) overflow the logits, so a checkpoint of them is no good one."""
    log_dir = tmp_path / "logs"
    assert run_main(["--fake_data", "--max_steps", "150", "--log_dir", log_dir])[1] is None
    (run_dir,) = log_dir.iterdir()
    run_main(["--fake_data", "--resume", "--learning_rate", "1e20", "--max_steps", "151", "--log_dir", log_dir])
    images, labels = np.ones((100, 784), np.float32), np.zeros(100, np.int64)
    for step in checkpoint_steps(run_dir):
        weights, _ = load_checkpoint_arrays(str(run_dir / ("model.ckpt-%d" % step)) + CKPT_SUFFIX)
        loss = numpy_mean_xent(weights, images, labels)
        assert math.isfinite(loss), "model.ckpt-%d gives a loss of %s on the training batch" % (step, loss)


# ------------------------------------------------------------ downloads

@pytest.fixture
def tiny_mirror(tmp_path, monkeypatch):
    """A 127.0.0.1 mirror of a tiny valid MNIST (5600 train, 200 test) that the program is pointed at
    through the data layer's module-level tables (mirror list and SHA-256 table)."""
    arrays = tiny_mnist(5600, 200, seed=11)
    checksums = write_idx_gz(tmp_path / "srv" / "mnist", arrays)
    server = FileServer(tmp_path / "srv")
    mirror = server.url + "mnist/"
    monkeypatch.setitem(mnist_data.SHA256, "mnist", checksums)
    monkeypatch.setattr(mnist_data, "MNIST_MIRRORS", (mirror,))
    yield {"arrays": arrays, "server": server, "mirror": mirror, "served": tmp_path / "srv" / "mnist"}
    server.close()


def test_download_then_train_then_reuse_offline(tmp_path, tiny_mirror):
    data_dir, log_dir = tmp_path / "data", tmp_path / "logs"
    argv = ["--input_data_dir", data_dir, "--max_steps", "120", "--batch_size", "100", "--seed", "5",
            "--log_dir", log_dir]
    out, exit_exc = run_main(argv)
    assert exit_exc is None, exit_exc
    for name in GZ_NAMES:
        assert "Successfully downloaded %s" % name in out
    assert tiny_mirror["server"].hits == ["/mnist/" + n for n in GZ_NAMES]
    assert sorted(p.name for p in data_dir.iterdir()) == sorted(GZ_NAMES)   # no temp files left
    for name in GZ_NAMES:
        assert (data_dir / name).read_bytes() == (tiny_mirror["served"] / name).read_bytes()
    first = parse_output(out)
    assert [s for s, _ in first["steps"]] == [0, 100]
    assert [(t, n) for t, n, _, _ in first["evals"]] == [("Training", 600), ("Validation", 5000), ("Test", 200)]
    run_dir = Path(first["run_dir"])
    assert checkpoint_steps(run_dir) == [119]

    # the checkpoint, restored into a fresh graph, gives the printed counts (each eval covered each
    # example exactly once: 120 steps are 20 whole epochs of the 600 training examples)
    a = tiny_mirror["arrays"]
    sets = {"Training": (as_float_images(a["x_train"][5000:]), a["y_train"][5000:].astype(np.int32)),
            "Validation": (as_float_images(a["x_train"][:5000]), a["y_train"][:5000].astype(np.int32)),
            "Test": (as_float_images(a["x_test"]), a["y_test"].astype(np.int32))}
    prefix = str(run_dir / "model.ckpt-119")
    weights, _ = load_checkpoint_arrays(prefix + CKPT_SUFFIX)
    for title, _, printed_correct, _ in first["evals"]:
        images, labels = sets[title]
        assert restored_num_correct(prefix, images, labels)[0] == printed_correct, title
        assert numpy_num_correct(weights, images, labels) == printed_correct, title

    # second run: the server is gone, the files are used as they are, and --seed reproduces the run
    tiny_mirror["server"].close()
    tiny_mirror["server"].hits.clear()
    out2, exit_exc = run_main(argv)
    assert exit_exc is None, exit_exc
    assert "Successfully downloaded" not in out2
    for name in GZ_NAMES:
        assert "Extracting %s" % (data_dir / name) in out2
    second = parse_output(out2)
    assert second["steps"] == first["steps"] and second["evals"] == first["evals"]
    assert second["run_dir"] != first["run_dir"]


def test_offline_without_files_explains_what_to_do(tmp_path, monkeypatch):
    mirrors = (closed_port_url(), closed_port_url())
    monkeypatch.setattr(mnist_data, "MNIST_MIRRORS", tuple(mirrors))
    data_dir, log_dir = tmp_path / "data", tmp_path / "logs"
    out, exit_exc = run_main(["--input_data_dir", data_dir, "--max_steps", "10", "--log_dir", log_dir])
    assert exit_exc.status == 1
    msg = exit_exc.stderr
    assert msg.startswith("nanotf-mnist: error: Could not obtain the MNIST files")
    for mirror in mirrors:
        for name in GZ_NAMES:
            assert mirror + name in msg
    assert os.path.abspath(data_dir) in msg
    assert "--fake_data" in msg
    assert not data_dir.exists()                           # no folder, no partial downloads
    assert not log_dir.exists()                            # no empty run dir either


# ------------------------------------------------------------ real MNIST

def test_real_mnist_reaches_the_tutorials_precision(tmp_path, real_mnist_copy):
    out, exit_exc = run_main(["--input_data_dir", real_mnist_copy, "--max_steps", "2000", "--seed", "1",
                              "--log_dir", tmp_path / "logs"])
    assert exit_exc is None, exit_exc
    parsed = parse_output(out)
    assert [s for s, _ in parsed["steps"]] == list(range(0, 2000, 100))
    assert [(t, n) for t, n, _, _ in parsed["evals"]] == [("Training", 55000), ("Validation", 5000),
                                                          ("Test", 10000)] * 2
    title, _, correct, precision = parsed["evals"][-1]
    assert precision == "%0.04f" % (correct / 10000.0)
    assert 0.89 <= float(precision) <= 0.92, out
    assert checkpoint_steps(parsed["run_dir"]) == [999, 1999]


# ------------------------------------------------------------ as a command

def _subprocess_env(tmp_path):
    # one BLAS thread: on a loaded 2-core machine a second OpenBLAS thread makes small matmuls crawl
    env = dict(os.environ, HOME=str(tmp_path / "home"), NANOTF_DATA_DIR=str(tmp_path / "nanotf-data"),
               OPENBLAS_NUM_THREADS="1")
    env.pop("KERAS_HOME", None)
    return env


def test_console_script_help(tmp_path):
    script = Path(sys.executable).parent / "nanotf-mnist"
    assert script.is_file(), "the nanotf-mnist console script is not installed in %s" % script.parent
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60,
                          cwd=str(tmp_path), env=_subprocess_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: nanotf-mnist")
    for option in ("--learning_rate", "--max_steps", "--hidden1", "--hidden2", "--batch_size",
                   "--input_data_dir", "--log_dir", "--fake_data", "--seed", "--resume"):
        assert option in proc.stdout


def test_python_dash_m_fake_run(tmp_path):
    log_dir = tmp_path / "logs"
    proc = subprocess.run([sys.executable, "-m", "nanotf.examples.tutorials.mnist.fully_connected_feed",
                           "--fake_data", "--max_steps", "5", "--log_dir", str(log_dir)],
                          capture_output=True, text=True, timeout=120, cwd=str(tmp_path),
                          env=_subprocess_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    parsed = parse_output(proc.stdout)
    assert [s for s, _ in parsed["steps"]] == [0]
    assert [(t, n) for t, n, _, _ in parsed["evals"]] == [("Training", 10000), ("Validation", 10000),
                                                          ("Test", 10000)]
    assert Path(parsed["run_dir"]).parent == log_dir
    assert checkpoint_steps(parsed["run_dir"]) == [4]


# ------------------------------------------------------------ the seed's own program style

SEED_STYLE_PROGRAM = '''
import math

import nanotf as tf
from nanotf.examples.tutorials.mnist import input_data

NUM_CLASSES = 10
IMAGE_PIXELS = 28 * 28


def inference(images, hidden1_units, hidden2_units):
  with tf.name_scope('hidden1'):
    weights = tf.Variable(
        tf.truncated_normal([IMAGE_PIXELS, hidden1_units],
                            stddev=1.0 / math.sqrt(float(IMAGE_PIXELS))),
        name='weights')
    biases = tf.Variable(tf.zeros([hidden1_units]), name='biases')
    hidden1 = tf.nn.relu(tf.matmul(images, weights) + biases)
  with tf.name_scope('hidden2'):
    weights = tf.Variable(
        tf.truncated_normal([hidden1_units, hidden2_units],
                            stddev=1.0 / math.sqrt(float(hidden1_units))),
        name='weights')
    biases = tf.Variable(tf.zeros([hidden2_units]), name='biases')
    hidden2 = tf.nn.relu(tf.matmul(hidden1, weights) + biases)
  with tf.name_scope('softmax_linear'):
    weights = tf.Variable(
        tf.truncated_normal([hidden2_units, NUM_CLASSES],
                            stddev=1.0 / math.sqrt(float(hidden2_units))),
        name='weights')
    biases = tf.Variable(tf.zeros([NUM_CLASSES]), name='biases')
    logits = tf.matmul(hidden2, weights) + biases
  return logits


def loss(logits, labels):
  labels = tf.to_int64(labels)
  cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
      logits, labels, name='xentropy')
  loss = tf.reduce_mean(cross_entropy, name='xentropy_mean')
  return loss


def training(loss, learning_rate):
  tf.scalar_summary(loss.op.name, loss)
  optimizer = tf.train.GradientDescentOptimizer(learning_rate)
  global_step = tf.Variable(0, name='global_step', trainable=False)
  train_op = optimizer.minimize(loss, global_step=global_step)
  return train_op


def evaluation(logits, labels):
  correct = tf.nn.in_top_k(logits, labels, 1)
  return tf.reduce_sum(tf.cast(correct, tf.int32))


def run_training(train_dir, max_steps, batch_size=100):
  data_sets = input_data.read_data_sets(train_dir, True)
  with tf.Graph().as_default():
    images_placeholder = tf.placeholder(tf.float32, shape=(batch_size, IMAGE_PIXELS))
    labels_placeholder = tf.placeholder(tf.int32, shape=(batch_size))
    logits = inference(images_placeholder, 128, 32)
    loss_op = loss(logits, labels_placeholder)
    train_op = training(loss_op, 0.01)
    eval_correct = evaluation(logits, labels_placeholder)
    summary_op = tf.merge_all_summaries()
    init = tf.initialize_all_variables()
    saver = tf.train.Saver()
    sess = tf.Session()
    summary_writer = tf.train.SummaryWriter(train_dir, sess.graph)
    sess.run(init)
    losses = {}
    for step in range(max_steps):
      images_feed, labels_feed = data_sets.train.next_batch(batch_size, True)
      feed_dict = {images_placeholder: images_feed, labels_placeholder: labels_feed}
      _, loss_value = sess.run([train_op, loss_op], feed_dict=feed_dict)
      if step % 100 == 0:
        losses[step] = loss_value
        print('Step %d: loss = %.2f' % (step, loss_value))
        summary_str = sess.run(summary_op, feed_dict=feed_dict)
        summary_writer.add_summary(summary_str, step)
        summary_writer.flush()
      if (step + 1) % 1000 == 0 or (step + 1) == max_steps:
        saver.save(sess, train_dir, global_step=step)
        images_feed, labels_feed = data_sets.test.next_batch(batch_size, True)
        true_count = sess.run(eval_correct, feed_dict={images_placeholder: images_feed,
                                                       labels_placeholder: labels_feed})
        print('  Num examples: %d  Num correct: %d' % (batch_size, true_count))
    summary_writer.close()
    return losses
'''


def test_seed_style_program_with_seed_era_names(tmp_path):
    namespace = {"__name__": "seed_fully_connected_feed"}
    exec(compile(SEED_STYLE_PROGRAM, "seed_fully_connected_feed.py", "exec"), namespace)
    work = tmp_path / "work"
    work.mkdir()
    train_dir = work / "data"
    losses = namespace["run_training"](str(train_dir), 50)

    acc = event_accumulator(train_dir)
    assert acc.Tags()["scalars"] == ["xentropy_mean"]
    (event,) = acc.Scalars("xentropy_mean")
    # logged after the step-0 update, on the same batch: one small gradient step lowers the loss
    assert event.step == 0 and 0 < event.value < losses[0]
    assert "xentropy_mean" in {n.name for n in acc.Graph().node}

    # saver.save(sess, <a directory>, global_step=49) writes <directory>-49 beside it, as TF does
    prefix = str(work / "data-49")
    assert sorted(p.name for p in work.iterdir()) == sorted(["checkpoint", "data", "data-49" + CKPT_SUFFIX])
    assert all(p.name.startswith("events.out.tfevents.") for p in train_dir.iterdir())
    assert (work / "checkpoint").read_text().splitlines()[0] == 'model_checkpoint_path: "data-49"'
    assert tf.train.latest_checkpoint(str(work)) == prefix
    assert tf.train.latest_checkpoint(str(work)) == prefix
    weights, _ = load_checkpoint_arrays(prefix + CKPT_SUFFIX)
    assert int(weights["global_step"]) == 50
    images = np.ones((100, 784), np.float32)
    assert numpy_num_correct(weights, images, np.zeros(100, np.int32)) == 100
