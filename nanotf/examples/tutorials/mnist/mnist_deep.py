"""A convolutional network for MNIST ("Deep MNIST for Experts"), with nanotf.

    nanotf-mnist-deep [--steps 20000] [--data_dir DIR] [--fake_data]

conv 5x5x32 -> max-pool 2x2 -> conv 5x5x64 -> max-pool 2x2 -> fully connected 1024 with dropout
-> 10 logits, trained with Adam (1e-4) on batches of 50. Every 100 steps it prints the training
accuracy of the current batch; at the end the test accuracy (about 0.992 after 20000 steps).
"""
import os
import sys
import time

import nanotf as tf
from nanotf.examples.tutorials.mnist import input_data
from nanotf.examples.tutorials.mnist._common import (EXIT_INTERRUPTED, CommandError, RunDirectory,
                                                     add_data_dir_flag, add_training_flags, data_dir_of,
                                                     local_rows, make_parser, run_command, session_config)

PROG = "nanotf-mnist-deep"


def weight_variable(shape):
    """Weights with a little noise, to break symmetry."""
    return tf.Variable(tf.truncated_normal(shape, stddev=0.1))


def bias_variable(shape):
    """Slightly positive biases, so ReLUs start alive."""
    return tf.Variable(tf.constant(0.1, shape=shape))


def conv2d(x, W):
    """Stride-1 convolution that keeps the spatial size."""
    return tf.nn.conv2d(x, W, strides=[1, 1, 1, 1], padding="SAME")


def max_pool_2x2(x):
    """Halves the spatial size."""
    return tf.nn.max_pool(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")


def deepnn(x):
    """Builds the network. Returns (logits, keep_prob placeholder for dropout)."""
    with tf.name_scope("reshape"):
        x_image = tf.reshape(x, [-1, 28, 28, 1])
    with tf.name_scope("conv1"):
        W_conv1 = weight_variable([5, 5, 1, 32])
        h_conv1 = tf.nn.relu(conv2d(x_image, W_conv1) + bias_variable([32]))
    with tf.name_scope("pool1"):
        h_pool1 = max_pool_2x2(h_conv1)                               # 14x14x32
    with tf.name_scope("conv2"):
        W_conv2 = weight_variable([5, 5, 32, 64])
        h_conv2 = tf.nn.relu(conv2d(h_pool1, W_conv2) + bias_variable([64]))
    with tf.name_scope("pool2"):
        h_pool2 = max_pool_2x2(h_conv2)                               # 7x7x64
    with tf.name_scope("fc1"):
        W_fc1 = weight_variable([7 * 7 * 64, 1024])
        h_pool2_flat = tf.reshape(h_pool2, [-1, 7 * 7 * 64])
        h_fc1 = tf.nn.relu(tf.matmul(h_pool2_flat, W_fc1) + bias_variable([1024]))
    with tf.name_scope("dropout"):
        keep_prob = tf.placeholder(tf.float32)
        h_fc1_drop = tf.nn.dropout(h_fc1, keep_prob)
    with tf.name_scope("fc2"):
        W_fc2 = weight_variable([1024, 10])
        y_conv = tf.matmul(h_fc1_drop, W_fc2) + bias_variable([10])
    return y_conv, keep_prob


def build_parser():
    p = make_parser(PROG, __doc__)
    add_data_dir_flag(p, "--data_dir")
    add_training_flags(p, steps=20000, batch_size=50, seed_use="weights, dropout and batch order")
    p.add_argument("--log_dir", default=os.path.join("runs", "mnist_deep"),
                   help="The graph is written to a fresh run directory under this one.")
    return p


def train(flags):
    """Trains for flags.steps, prints the test accuracy and returns it."""
    data_dir = data_dir_of(flags)
    mnist = local_rows(input_data.read_data_sets(data_dir, fake_data=flags.fake_data, seed=flags.seed), flags)
    with tf.Graph().as_default():
        if flags.seed is not None:
            tf.set_random_seed(flags.seed)
        x = tf.placeholder(tf.float32, [None, 784])
        y_ = tf.placeholder(tf.int64, [None])
        y_conv, keep_prob = deepnn(x)
        with tf.name_scope("loss"):
            cross_entropy = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_, logits=y_conv))
        with tf.name_scope("adam_optimizer"):
            train_step = tf.train.AdamOptimizer(1e-4).minimize(cross_entropy)
        with tf.name_scope("accuracy"):
            correct_prediction = tf.cast(tf.equal(tf.argmax(y_conv, 1), y_), tf.float32)
            accuracy = tf.reduce_mean(correct_prediction)
        with RunDirectory.create(flags.log_dir) as run:
            return _train_and_test(flags, mnist, run, x, y_, keep_prob, train_step, accuracy)


def _train_and_test(flags, mnist, run, x, y_, keep_prob, train_step, accuracy):
    print("Saving graph to: %s" % run.path)
    writer = tf.summary.FileWriter(run.path)
    writer.add_graph(tf.get_default_graph())
    writer.close()

    start = time.time()
    with tf.Session(config=session_config(flags)) as sess:
        sess.run(tf.global_variables_initializer())
        i = 0
        try:
            for i in range(flags.steps):
                batch = mnist.train.next_batch(50, flags.fake_data)
                if i % 100 == 0:
                    train_accuracy = accuracy.eval(feed_dict={x: batch[0], y_: batch[1], keep_prob: 1.0})
                    print("step %d, training accuracy %g (%.1f s)" % (i, train_accuracy, time.time() - start))
                train_step.run(feed_dict={x: batch[0], y_: batch[1], keep_prob: 0.5})
                run.worked()
            i = flags.steps
            # The whole test set in one run, as the tutorial does; convolutions work in bounded chunks.
            test_xs, test_ys = ((mnist.test.images, mnist.test.labels) if not flags.fake_data
                                else mnist.test.next_batch(100, fake_data=True))   # fake sets hold no arrays
            test_accuracy = accuracy.eval(feed_dict={x: test_xs, y_: test_ys, keep_prob: 1.0})
        except KeyboardInterrupt:
            where = "at step %d of %d" % (i, flags.steps) if i < flags.steps else "during the test evaluation"
            raise CommandError("interrupted (Ctrl-C) %s; this program saves no checkpoint, so a new run starts "
                               "over (its graph is in %s)" % (where, run.path), EXIT_INTERRUPTED) from None
        print("test accuracy %g" % test_accuracy)
    return float(test_accuracy)


def main(argv=None):
    """The nanotf-mnist-deep command: returns the exit status (0 on success; see _common.run_command)."""
    return run_command(build_parser(), train, argv)


if __name__ == "__main__":
    sys.exit(main())
