"""Softmax regression on MNIST ("MNIST for ML Beginners"), with nanotf.

    nanotf-mnist-softmax [--data_dir DIR] [--steps 1000] [--fake_data]

One linear layer y = xW + b trained with gradient descent (learning rate 0.5) on batches of 100
for 1000 steps; prints the test accuracy (about 0.92).
"""
import sys

import nanotf as tf
from nanotf.examples.tutorials.mnist import input_data
from nanotf.examples.tutorials.mnist._common import (EXIT_INTERRUPTED, CommandError, add_data_dir_flag,
                                                     add_training_flags, data_dir_of, local_rows, make_parser, run_command,
                                                     session_config)

PROG = "nanotf-mnist-softmax"


def build_model():
    """The regression's graph: placeholders, logits, loss, train step and accuracy."""
    x = tf.placeholder(tf.float32, [None, 784], name="x")
    W = tf.Variable(tf.zeros([784, 10]), name="W")
    b = tf.Variable(tf.zeros([10]), name="b")
    y = tf.matmul(x, W) + b
    y_ = tf.placeholder(tf.float32, [None, 10], name="y_")   # one-hot labels
    # The numerically stable form of -sum(y_ * log(softmax(y))), averaged over the batch.
    cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y))
    train_step = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)
    correct_prediction = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
    accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
    return x, y_, train_step, accuracy


def build_parser():
    p = make_parser(PROG, __doc__)
    add_data_dir_flag(p, "--data_dir")
    add_training_flags(p, steps=1000, batch_size=100, seed_use="the batch order")
    return p


def train(flags):
    """Trains for flags.steps and prints the test accuracy; returns it."""
    data_dir = data_dir_of(flags)
    mnist = input_data.read_data_sets(data_dir, fake_data=flags.fake_data, one_hot=True, seed=flags.seed)
    mnist = local_rows(mnist, flags)
    with tf.Graph().as_default():
        x, y_, train_step, accuracy = build_model()
        sess = tf.InteractiveSession(config=session_config(flags))
        try:
            tf.global_variables_initializer().run()
            step = 0
            try:
                for step in range(flags.steps):
                    batch_xs, batch_ys = mnist.train.next_batch(100, flags.fake_data)
                    sess.run(train_step, feed_dict={x: batch_xs, y_: batch_ys})
            except KeyboardInterrupt:
                raise CommandError("interrupted (Ctrl-C) at step %d of %d; this program keeps nothing (no "
                                   "checkpoint, no logs): run it again" % (step, flags.steps),
                                   EXIT_INTERRUPTED) from None
            test_xs, test_ys = ((mnist.test.images, mnist.test.labels) if not flags.fake_data
                                else mnist.test.next_batch(100, fake_data=True))   # fake sets hold no arrays
            acc = sess.run(accuracy, feed_dict={x: test_xs, y_: test_ys})
            print(acc)
        finally:
            sess.close()
    return float(acc)


def main(argv=None):
    """The nanotf-mnist-softmax command: returns the exit status (0 on success; see _common.run_command)."""
    return run_command(build_parser(), train, argv)


if __name__ == "__main__":
    sys.exit(main())
