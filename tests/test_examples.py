"""The other MNIST tutorial programs (softmax regression, Deep MNIST, TensorBoard summaries), run
briefly: on fake data everywhere, and a few hundred steps of the real MNIST where it is present."""
import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing import event_accumulator

from nanotf.examples.tutorials.mnist import mnist_deep, mnist_softmax, mnist_with_summaries


@pytest.fixture
def real_mnist(real_mnist_copy):
    return str(real_mnist_copy)


def run(module, argv):
    """The value a command's train() returns for these flags (the command itself returns its exit status)."""
    return module.train(module.build_parser().parse_args(argv))


def _accumulator(path):
    acc = event_accumulator.EventAccumulator(str(path), size_guidance={"images": 0, "histograms": 0,
                                                                      "tensors": 0, "scalars": 0})
    acc.Reload()
    return acc


def test_softmax_on_fake_data_learns_the_single_class():
    assert run(mnist_softmax, ["--fake_data", "--steps", "20"]) == 1.0


def test_softmax_regression_on_real_mnist(real_mnist):
    # 300 of the tutorial's 1000 steps already give about 0.9 (the full run gives about 0.92).
    acc = run(mnist_softmax, ["--data_dir", real_mnist, "--steps", "300", "--seed", "1"])
    assert 0.88 <= acc <= 0.93


def test_deep_mnist_on_fake_data_runs_and_writes_its_graph(tmp_path, capsys):
    acc = run(mnist_deep, ["--fake_data", "--steps", "3", "--seed", "1", "--log_dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "step 0, training accuracy" in out and "test accuracy" in out
    assert 0.0 <= acc <= 1.0
    run_dir, = tmp_path.iterdir()
    graph = _accumulator(run_dir).Graph()
    names = {n.name for n in graph.node}
    assert {"conv1/Conv2D", "pool1/MaxPool", "conv2/Conv2D", "fc1/MatMul", "dropout/Placeholder"} <= names


def test_deep_mnist_learns_on_real_mnist(real_mnist, tmp_path):
    # 150 steps of batch 50 take the network well beyond chance (the full 20000 reach about 0.99).
    acc = run(mnist_deep, ["--data_dir", real_mnist, "--steps", "150", "--seed", "1", "--log_dir", str(tmp_path)])
    assert acc > 0.8


def test_mnist_with_summaries_fills_every_dashboard(tmp_path):
    acc, run_dir = run(mnist_with_summaries, ["--fake_data", "--max_steps", "101", "--seed", "1",
                                              "--log_dir", str(tmp_path)])
    assert 0.0 <= acc <= 1.0
    train, test = _accumulator(Path(run_dir) / "train"), _accumulator(Path(run_dir) / "test")
    tags = train.Tags()
    # Tags get TensorFlow's unique names: a name scope `cross_entropy` exists, and op names are unique
    # case-insensitively, so the `mean` summary beside the `Mean` op becomes `mean_1`, as in TF 1.x.
    assert {"cross_entropy_1", "dropout/dropout_keep_probability", "layer1/weights/summaries/mean_1",
            "layer1/weights/summaries/stddev_1"} <= set(tags["scalars"])
    assert {"layer1/weights/summaries/histogram", "layer1/activations", "layer2/Wx_plus_b/pre_activations"} \
        <= set(tags["histograms"])
    assert len([t for t in tags["images"] if t.startswith("input_reshape/input/image/")]) == 10
    assert tags["run_metadata"] == ["step099"]
    assert train.Graph() is not None
    # test accuracy every 10 steps, in its own run
    assert [e.step for e in test.Scalars("accuracy_1")] == list(range(0, 101, 10))
    # the traced step has real per-op timings and memory
    md = train.RunMetadata("step099")
    stats = {n.node_name: n for n in md.step_stats.dev_stats[0].node_stats}
    assert stats["layer1/Wx_plus_b/MatMul"].all_end_rel_micros >= 1
    assert stats["layer1/Wx_plus_b/MatMul"].memory[0].total_bytes == 100 * 500 * 4
    # the text dashboard's hyperparameter table
    from tensorboard.backend.event_processing import plugin_event_accumulator
    pacc = plugin_event_accumulator.EventAccumulator(str(Path(run_dir) / "train"))
    pacc.Reload()
    assert "hyperparameters" in pacc.PluginTagToContent("text")


@pytest.mark.parametrize("script", ["nanotf-mnist-softmax", "nanotf-mnist-deep", "nanotf-mnist-with-summaries"])
def test_console_scripts_answer_help(script):
    exe = Path(sys.executable).parent / script
    if not exe.exists():
        pytest.skip("%s is not installed in this environment (pip install -e .)" % script)
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "usage" in out.stdout


TF1_SUMMARIES_PROGRAM = r'''
import argparse, os, sys
import nanotf as tf
from nanotf.examples.tutorials.mnist import input_data

FLAGS = None


def train():
    mnist = input_data.read_data_sets(FLAGS.data_dir, fake_data=FLAGS.fake_data)
    sess = tf.InteractiveSession()
    with tf.name_scope('input'):
        x = tf.placeholder(tf.float32, [None, 784], name='x-input')
        y_ = tf.placeholder(tf.int64, [None], name='y-input')
    with tf.name_scope('input_reshape'):
        tf.summary.image('input', tf.reshape(x, [-1, 28, 28, 1]), 10)
    with tf.name_scope('layer1'):
        w = tf.Variable(tf.truncated_normal([784, 50], stddev=0.1))
        b = tf.Variable(tf.constant(0.1, shape=[50]))
        h = tf.nn.relu(tf.matmul(x, w) + b)
        tf.summary.histogram('activations', h)
    keep_prob = tf.placeholder(tf.float32)
    dropped = tf.nn.dropout(h, keep_prob)
    with tf.name_scope('layer2'):
        w2 = tf.Variable(tf.truncated_normal([50, 10], stddev=0.1))
        y = tf.matmul(dropped, w2)
    with tf.name_scope('cross_entropy'):
        cross_entropy = tf.losses.sparse_softmax_cross_entropy(labels=y_, logits=y)
    tf.summary.scalar('cross_entropy', cross_entropy)
    with tf.name_scope('train'):
        train_step = tf.train.AdamOptimizer(FLAGS.learning_rate).minimize(cross_entropy)
    with tf.name_scope('accuracy'):
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(y, 1), y_), tf.float32))
    tf.summary.scalar('accuracy', accuracy)
    merged = tf.summary.merge_all()
    train_writer = tf.summary.FileWriter(FLAGS.log_dir + '/train', sess.graph)
    test_writer = tf.summary.FileWriter(FLAGS.log_dir + '/test')
    tf.global_variables_initializer().run()
    for i in range(FLAGS.max_steps):
        xs, ys = mnist.train.next_batch(100, fake_data=FLAGS.fake_data)
        if i % 10 == 0:
            summary, acc = sess.run([merged, accuracy], feed_dict={x: xs, y_: ys, keep_prob: 1.0})
            test_writer.add_summary(summary, i)
            print('Accuracy at step %s: %s' % (i, acc))
        elif i % 100 == 99:
            run_options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
            run_metadata = tf.RunMetadata()
            summary, _ = sess.run([merged, train_step], feed_dict={x: xs, y_: ys, keep_prob: 0.9},
                                  options=run_options, run_metadata=run_metadata)
            train_writer.add_run_metadata(run_metadata, 'step%03d' % i)
            train_writer.add_summary(summary, i)
        else:
            summary, _ = sess.run([merged, train_step], feed_dict={x: xs, y_: ys, keep_prob: 0.9})
            train_writer.add_summary(summary, i)
    train_writer.close()
    test_writer.close()


def main(_):
    if tf.gfile.Exists(FLAGS.log_dir):
        tf.gfile.DeleteRecursively(FLAGS.log_dir)   # the program's own choice, as in the tutorial
    tf.gfile.MakeDirs(FLAGS.log_dir)
    tf.logging.set_verbosity(tf.logging.INFO)
    train()


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--fake_data', nargs='?', const=True, type=bool, default=False)
    parser.add_argument('--max_steps', type=int, default=1000)
    parser.add_argument('--learning_rate', type=float, default=0.001)
    parser.add_argument('--data_dir', type=str, default='/tmp/input_data')
    parser.add_argument('--log_dir', type=str, default='/tmp/logs')
    FLAGS, unparsed = parser.parse_known_args()
    tf.app.run(main=main, argv=[sys.argv[0]] + unparsed)
'''


def test_a_tf1_style_summaries_program_runs_with_only_the_import_changed(tmp_path):
    """TF 1.x's later tutorial idioms: argparse + tf.app.run(argv=...), tf.gfile, tf.logging, name scopes with
    '-' in names, tf.losses, two writers, a traced step every 100."""
    script = tmp_path / "prog.py"
    script.write_text(TF1_SUMMARIES_PROGRAM)
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    (log_dir / "old").write_text("the program deletes its own log dir, as it asks")
    out = subprocess.run([sys.executable, str(script), "--fake_data", "--max_steps", "120", "--log_dir",
                          str(log_dir), "--data_dir", str(tmp_path / "data")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Accuracy at step 110: 1.0" in out.stdout
    assert not (log_dir / "old").exists()
    train = _accumulator(log_dir / "train")
    assert train.Tags()["run_metadata"] == ["step099"]
    assert "cross_entropy_1" in train.Tags()["scalars"]
    assert [e.step for e in _accumulator(log_dir / "test").Scalars("accuracy_1")] == list(range(0, 120, 10))
