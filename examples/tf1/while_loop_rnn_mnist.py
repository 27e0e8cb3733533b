"""An LSTM written by hand with tf.while_loop, classifying MNIST rows, with dropout switched on by tf.cond.

The TF 1.x way of writing a recurrent network without tf.contrib.rnn: the weights are created outside the
loop, tf.while_loop runs one LSTM step per image row (28 steps of 28 pixels) carrying (t, h, c), and the
last hidden state goes through dropout only while training: `tf.cond(is_training, lambda:
tf.nn.dropout(h, keep_prob), lambda: h)` with `is_training` a placeholder_with_default(False). Adam at
0.001, batches of 128.

    python while_loop_rnn_mnist.py [--fake_data] [--steps N] [--data_dir DIR]

prints `test accuracy 0.9xxx` on its last line.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _framework import tf  # noqa: E402
import _mnist_arrays  # noqa: E402

LEARNING_RATE = 0.001
BATCH_SIZE = 128
TIMESTEPS = 28     # rows
NUM_INPUT = 28     # pixels per row
NUM_HIDDEN = 128
NUM_CLASSES = 10
KEEP_PROB = 0.8


def lstm_step(x_t, h, c, weights, biases):
    gates = tf.matmul(tf.concat([x_t, h], 1), weights) + biases
    i, j, f, o = tf.split(gates, 4, axis=1)
    c = c * tf.sigmoid(f + 1.0) + tf.sigmoid(i) * tf.tanh(j)
    h = tf.tanh(c) * tf.sigmoid(o)
    return h, c


def build(x, is_training):
    with tf.variable_scope("lstm"):
        weights = tf.get_variable("weights", [NUM_INPUT + NUM_HIDDEN, 4 * NUM_HIDDEN],
                                  initializer=tf.glorot_uniform_initializer(seed=1))
        biases = tf.get_variable("biases", [4 * NUM_HIDDEN], initializer=tf.zeros_initializer())
    rows = tf.transpose(x, [1, 0, 2])            # [time, batch, pixels]
    h0 = tf.zeros(tf.stack([tf.shape(x)[0], NUM_HIDDEN]))

    def cond(t, h, c):
        return t < TIMESTEPS

    def body(t, h, c):
        h, c = lstm_step(rows[t], h, c, weights, biases)
        return t + 1, h, c

    _, h, _ = tf.while_loop(cond, body, [tf.constant(0), h0, h0], name="rnn")
    h = tf.cond(is_training, lambda: tf.nn.dropout(h, keep_prob=KEEP_PROB), lambda: h, name="dropout")
    out_w = tf.Variable(tf.truncated_normal([NUM_HIDDEN, NUM_CLASSES], stddev=0.1, seed=2), name="out_weights")
    out_b = tf.Variable(tf.zeros([NUM_CLASSES]), name="out_biases")
    return tf.matmul(h, out_w) + out_b


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fake_data", action="store_true")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--data_dir", default=None)
    args = parser.parse_args(argv)
    train_x, train_y, test_x, test_y = _mnist_arrays.load(args.data_dir, args.fake_data)

    tf.reset_default_graph()
    tf.set_random_seed(0)
    X = tf.placeholder(tf.float32, [None, TIMESTEPS, NUM_INPUT])
    Y = tf.placeholder(tf.int64, [None])
    is_training = tf.placeholder_with_default(False, [], name="is_training")
    logits = build(X, is_training)
    loss_op = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=Y, logits=logits))
    train_op = tf.train.AdamOptimizer(learning_rate=LEARNING_RATE).minimize(loss_op)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), Y), tf.float32))

    def images(x):
        return x.reshape(-1, TIMESTEPS, NUM_INPUT).astype(np.float32) / 255.0

    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        start = time.time()
        for step in range(1, args.steps + 1):
            idx = rng.randint(0, len(train_x), BATCH_SIZE)
            _, loss = sess.run([train_op, loss_op],
                               feed_dict={X: images(train_x[idx]), Y: train_y[idx], is_training: True})
            if step % 100 == 0 or step == 1:
                print("step %d, minibatch loss %.4f" % (step, loss))
        elapsed = time.time() - start
        print("training: %.1f s, %.1f ms/step" % (elapsed, 1000 * elapsed / max(args.steps, 1)))
        correct = 0
        for i in range(0, len(test_x), 1000):   # is_training defaults to False: no dropout
            correct += sess.run(accuracy, feed_dict={X: images(test_x[i:i + 1000]), Y: test_y[i:i + 1000]}) * \
                len(test_x[i:i + 1000])
        acc = correct / len(test_x)
        print("test accuracy %.4f" % acc)
    return acc


if __name__ == "__main__":
    main()
