"""An LSTM classifying MNIST digits read row by row (TF 1.x graph style, tf.contrib.rnn.static_rnn).

Each 28x28 image is a sequence of 28 time steps of 28 pixels; a BasicLSTMCell of 128 units reads them
through static_rnn (a Python list of 28 [batch, 28] tensors from tf.unstack), and the last output goes
through a linear layer to the 10 classes. Adam at 0.001, batches of 128, as the example collections of
2016-2018 wrote it.

    python lstm_mnist.py [--fake_data] [--steps N] [--data_dir DIR]

prints `test accuracy 0.9xxx` on its last line.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _framework import rnn, tf  # noqa: E402  (rnn: tf.contrib.rnn)
import _mnist_arrays  # noqa: E402
import _scaffolding  # noqa: E402

LEARNING_RATE = 0.001
BATCH_SIZE = 128
TIMESTEPS = 28     # rows
NUM_INPUT = 28     # pixels per row
NUM_HIDDEN = 128
NUM_CLASSES = 10


def build(x):
    weights = tf.Variable(tf.random_normal([NUM_HIDDEN, NUM_CLASSES], seed=1), name="out_weights")
    biases = tf.Variable(tf.random_normal([NUM_CLASSES], seed=2), name="out_biases")
    steps = tf.unstack(x, TIMESTEPS, 1)     # 28 tensors of [batch, 28]
    lstm_cell = rnn.BasicLSTMCell(NUM_HIDDEN, forget_bias=1.0)
    outputs, _ = rnn.static_rnn(lstm_cell, steps, dtype=tf.float32)
    return tf.matmul(outputs[-1], weights) + biases


def main(argv=None):
    args = _scaffolding.parse_args(__doc__, argv, steps=500)
    train_x, train_y, test_x, test_y = _mnist_arrays.load(args.data_dir, args.fake_data, scaled=True, one_hot=True,
                                                          shape=(TIMESTEPS, NUM_INPUT))

    tf.reset_default_graph()
    tf.set_random_seed(0)
    X = tf.placeholder(tf.float32, [None, TIMESTEPS, NUM_INPUT])
    Y = tf.placeholder(tf.float32, [None, NUM_CLASSES])
    logits = build(X)
    prediction = tf.nn.softmax(logits)
    loss_op = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(logits=logits, labels=Y))
    train_op = tf.train.AdamOptimizer(learning_rate=LEARNING_RATE).minimize(loss_op)
    correct_pred = tf.equal(tf.argmax(prediction, 1), tf.argmax(Y, 1))
    accuracy = tf.reduce_mean(tf.cast(correct_pred, tf.float32))

    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        with _scaffolding.timed_training(args.steps):
            for step, idx in _scaffolding.random_batches(rng, len(train_x), BATCH_SIZE, args.steps, first_step=1):
                _, loss = sess.run([train_op, loss_op], feed_dict={X: train_x[idx], Y: train_y[idx]})
                if step % 100 == 0 or step == 1:
                    print("step %d, minibatch loss %.4f" % (step, loss))
        acc = _scaffolding.mean_over_chunks(lambda bx, by: sess.run(accuracy, feed_dict={X: bx, Y: by}), 1000,
                                            test_x, test_y)
        print("test accuracy %.4f" % acc)
    return acc


if __name__ == "__main__":
    main()
