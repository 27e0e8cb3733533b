"""MNIST with summaries for every TensorBoard dashboard ("TensorBoard: Visualizing Learning").

    nanotf-mnist-with-summaries [--max_steps 1000] [--log_dir runs/mnist_with_summaries] [--fake_data]

A 784-500-10 network with dropout, trained with Adam. It records:
  Scalars        accuracy, cross_entropy, dropout_keep_probability, and mean/stddev/max/min of every
                 weight, bias and pre-activation;
  Histograms     (and Distributions) of those tensors and of the activations;
  Images         the first 10 input images of a batch;
  Text           the run's hyperparameters;
  Graphs         the graph, plus per-op compute time and memory of a traced step every 100 steps.
Training summaries go to <run>/train, test-set accuracy every 10 steps to <run>/test, so
TensorBoard draws the two runs together. Nothing is deleted: each run gets a fresh directory.
"""
import os
import sys

import nanotf as tf
from nanotf.examples.tutorials.mnist import input_data
from nanotf.examples.tutorials.mnist._common import (EXIT_INTERRUPTED, CommandError, RunDirectory,
                                                     add_data_dir_flag, data_dir_of,
                                                     keep_probability, make_parser, non_negative_int,
                                                     positive_float, run_command, seed_value,
                                                     local_rows, session_config)

PROG = "nanotf-mnist-with-summaries"


def variable_summaries(var):
    """Mean, stddev, max, min and a histogram of a tensor, under a `summaries` name scope."""
    with tf.name_scope("summaries"):
        mean = tf.reduce_mean(var)
        tf.summary.scalar("mean", mean)
        with tf.name_scope("stddev"):
            stddev = tf.sqrt(tf.reduce_mean(tf.square(var - mean)))
        tf.summary.scalar("stddev", stddev)
        tf.summary.scalar("max", tf.reduce_max(var))
        tf.summary.scalar("min", tf.reduce_min(var))
        tf.summary.histogram("histogram", var)


def nn_layer(input_tensor, input_dim, output_dim, layer_name, act=tf.nn.relu):
    """A fully connected layer whose weights, biases and activations are all summarized."""
    with tf.name_scope(layer_name):
        with tf.name_scope("weights"):
            weights = tf.Variable(tf.truncated_normal([input_dim, output_dim], stddev=0.1))
            variable_summaries(weights)
        with tf.name_scope("biases"):
            biases = tf.Variable(tf.constant(0.1, shape=[output_dim]))
            variable_summaries(biases)
        with tf.name_scope("Wx_plus_b"):
            preactivate = tf.matmul(input_tensor, weights) + biases
            tf.summary.histogram("pre_activations", preactivate)
        activations = act(preactivate, name="activation")
        tf.summary.histogram("activations", activations)
        return activations


def train(flags):
    """Trains for flags.max_steps with summaries; returns (last test accuracy, run directory)."""
    data_dir = data_dir_of(flags)
    mnist = input_data.read_data_sets(data_dir, fake_data=flags.fake_data, one_hot=True, seed=flags.seed)
    mnist = local_rows(mnist, flags)
    with RunDirectory.create(flags.log_dir) as run:
        acc = _train(flags, mnist, run)
    print("Logs: %s\nSee them in TensorBoard: tensorboard --logdir %s" % (run.path, flags.log_dir))
    return acc, run.path


def _train(flags, mnist, run):
    run_dir = run.path
    with tf.Graph().as_default():
        if flags.seed is not None:
            tf.set_random_seed(flags.seed)
        with tf.name_scope("input"):
            x = tf.placeholder(tf.float32, [None, 784], name="x-input")
            y_ = tf.placeholder(tf.float32, [None, 10], name="y-input")
        with tf.name_scope("input_reshape"):
            tf.summary.image("input", tf.reshape(x, [-1, 28, 28, 1]), 10)
        hidden1 = nn_layer(x, 784, 500, "layer1")
        with tf.name_scope("dropout"):
            keep_prob = tf.placeholder(tf.float32)
            tf.summary.scalar("dropout_keep_probability", keep_prob)
            dropped = tf.nn.dropout(hidden1, keep_prob)
        y = nn_layer(dropped, 500, 10, "layer2", act=tf.identity)
        with tf.name_scope("cross_entropy"):
            with tf.name_scope("total"):
                cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y))
        tf.summary.scalar("cross_entropy", cross_entropy)
        with tf.name_scope("train"):
            train_step = tf.train.AdamOptimizer(flags.learning_rate).minimize(cross_entropy)
        with tf.name_scope("accuracy"):
            with tf.name_scope("correct_prediction"):
                correct_prediction = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
            with tf.name_scope("accuracy"):
                accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
        tf.summary.scalar("accuracy", accuracy)
        hparams = tf.constant([["learning_rate", str(flags.learning_rate)], ["dropout", str(flags.dropout)],
                               ["max_steps", str(flags.max_steps)], ["hidden units", "500"]])
        tf.summary.text("hyperparameters", hparams)
        merged = tf.summary.merge_all()

        sess = tf.InteractiveSession(config=session_config(flags))
        train_writer = tf.summary.FileWriter(os.path.join(run_dir, "train"), sess.graph)
        test_writer = tf.summary.FileWriter(os.path.join(run_dir, "test"))
        try:
            tf.global_variables_initializer().run()

            def feed_dict(training):
                if training or flags.fake_data:
                    xs, ys = mnist.train.next_batch(100, fake_data=flags.fake_data)
                    return {x: xs, y_: ys, keep_prob: flags.dropout}
                return {x: mnist.test.images, y_: mnist.test.labels, keep_prob: 1.0}

            acc, i = None, 0
            try:
                for i in range(flags.max_steps):
                    if i % 10 == 0:   # the test-set accuracy, into the `test` run
                        summary, acc = sess.run([merged, accuracy], feed_dict=feed_dict(False))
                        test_writer.add_summary(summary, i)
                        print("Accuracy at step %s: %s" % (i, acc))
                    elif i % 100 == 99:   # a traced step: per-op time and memory for the Graphs dashboard
                        run_options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
                        run_metadata = tf.RunMetadata()
                        summary, _ = sess.run([merged, train_step], feed_dict=feed_dict(True),
                                              options=run_options, run_metadata=run_metadata)
                        train_writer.add_run_metadata(run_metadata, "step%03d" % i)
                        train_writer.add_summary(summary, i)
                        print("Adding run metadata for", i)
                    else:
                        summary, _ = sess.run([merged, train_step], feed_dict=feed_dict(True))
                        train_writer.add_summary(summary, i)
                    run.worked()
            except KeyboardInterrupt:
                raise CommandError("interrupted (Ctrl-C) at step %d of %d; the summaries of the steps before it "
                                   "are in %s" % (i, flags.max_steps, run_dir) if run.did_work else
                                   "interrupted (Ctrl-C) at step 0; nothing was kept", EXIT_INTERRUPTED) from None
        finally:   # whatever happens, the summaries written so far reach the disk
            train_writer.close()
            test_writer.close()
            sess.close()
    return acc


def build_parser():
    p = make_parser(PROG, __doc__)
    p.add_argument("--fake_data", action="store_true", help="Use fake data (no download).")
    p.add_argument("--max_steps", type=non_negative_int, default=1000, help="Number of steps to run trainer.")
    p.add_argument("--learning_rate", type=positive_float, default=0.001, help="Initial learning rate.")
    p.add_argument("--dropout", type=keep_probability, default=0.9,
                   help="Keep probability for training dropout.")
    add_data_dir_flag(p, "--data_dir")
    p.add_argument("--log_dir", default=os.path.join("runs", "mnist_with_summaries"),
                   help="Directory under which each run gets its own subdirectory.")
    p.add_argument("--seed", type=seed_value, default=None, help="Seed for weights, dropout and batch order.")
    return p


def main(argv=None):
    """The nanotf-mnist-with-summaries command: returns the exit status (0 on success; see
    _common.run_command)."""
    return run_command(build_parser(), train, argv)


if __name__ == "__main__":
    sys.exit(main())
