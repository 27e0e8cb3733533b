"""An LSTM classifying MNIST digits row by row with tf.nn.dynamic_rnn (TF 1.x graph style).

The [batch, 28, 28] images go whole into dynamic_rnn with a tf.nn.rnn_cell.BasicLSTMCell of 128 units; the
final state's h (the output after the 28th row) goes through a linear layer; sparse softmax cross-entropy on
integer labels, Adam at 0.001, batches of 128.

    python lstm_mnist_dynamic.py [--fake_data] [--steps N] [--data_dir DIR]

prints `test accuracy 0.9xxx` on its last line.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _framework import tf  # noqa: E402
import _mnist_arrays  # noqa: E402
import _scaffolding  # noqa: E402

N_STEPS, N_INPUTS, N_NEURONS, N_OUTPUTS = 28, 28, 128, 10
LEARNING_RATE = 0.001
BATCH_SIZE = 128


def main(argv=None):
    args = _scaffolding.parse_args(__doc__, argv, steps=500)
    train_x, train_y, test_x, test_y = _mnist_arrays.load(args.data_dir, args.fake_data, scaled=True,
                                                          shape=(N_STEPS, N_INPUTS))

    tf.reset_default_graph()
    tf.set_random_seed(0)
    X = tf.placeholder(tf.float32, [None, N_STEPS, N_INPUTS], name="X")
    y = tf.placeholder(tf.int64, [None], name="y")
    cell = tf.nn.rnn_cell.BasicLSTMCell(num_units=N_NEURONS)
    outputs, states = tf.nn.dynamic_rnn(cell, X, dtype=tf.float32)
    w = tf.Variable(tf.truncated_normal([N_NEURONS, N_OUTPUTS], stddev=0.1, seed=1), name="w")
    b = tf.Variable(tf.zeros([N_OUTPUTS]), name="b")
    logits = tf.matmul(states.h, w) + b
    xentropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    loss = tf.reduce_mean(xentropy)
    training_op = tf.train.AdamOptimizer(learning_rate=LEARNING_RATE).minimize(loss)
    correct = tf.nn.in_top_k(logits, y, 1)
    n_correct = tf.reduce_sum(tf.cast(correct, tf.int32))
    init = tf.global_variables_initializer()

    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        init.run()
        with _scaffolding.timed_training(args.steps):
            for step, idx in _scaffolding.random_batches(rng, len(train_x), BATCH_SIZE, args.steps, first_step=1):
                _, loss_val = sess.run([training_op, loss], feed_dict={X: train_x[idx], y: train_y[idx]})
                if step % 100 == 0 or step == 1:
                    print("step %d, loss %.4f" % (step, loss_val))
        hits = _scaffolding.total_over_chunks(lambda bx, by: sess.run(n_correct, feed_dict={X: bx, y: by}), 1000,
                                              test_x, test_y)
        acc = hits / len(test_x)
        print("test accuracy %.4f" % acc)
    return acc


if __name__ == "__main__":
    main()
