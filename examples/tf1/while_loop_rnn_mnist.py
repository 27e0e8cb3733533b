"""An LSTM written by hand with tf.while_loop, classifying MNIST rows, with dropout switched on by tf.cond.

The TF 1.x way of writing a recurrent network without tf.contrib.rnn: the weights are created outside the
loop, tf.while_loop runs one LSTM step per image row (28 steps of 28 pixels) carrying (t, h, c), and the
last hidden state goes through dropout only while training: `tf.cond(is_training, lambda:
tf.nn.dropout(h, keep_prob), lambda: h)` with `is_training` a placeholder_with_default(False). Adam at
0.001, batches of 128.

    python while_loop_rnn_mnist.py [--fake_data] [--steps N] [--data_dir DIR]

prints `test accuracy 0.9xxx` on its last line.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _framework import tf  # noqa: E402
import _mnist_arrays  # noqa: E402
import _scaffolding  # noqa: E402

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
    args = _scaffolding.parse_args(__doc__, argv, steps=500)
    train_x, train_y, test_x, test_y = _mnist_arrays.load(args.data_dir, args.fake_data, scaled=True,
                                                          shape=(TIMESTEPS, NUM_INPUT))

    tf.reset_default_graph()
    tf.set_random_seed(0)
    X = tf.placeholder(tf.float32, [None, TIMESTEPS, NUM_INPUT])
    Y = tf.placeholder(tf.int64, [None])
    is_training = tf.placeholder_with_default(False, [], name="is_training")
    logits = build(X, is_training)
    loss_op = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=Y, logits=logits))
    train_op = tf.train.AdamOptimizer(learning_rate=LEARNING_RATE).minimize(loss_op)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), Y), tf.float32))

    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        with _scaffolding.timed_training(args.steps):
            for step, idx in _scaffolding.random_batches(rng, len(train_x), BATCH_SIZE, args.steps, first_step=1):
                _, loss = sess.run([train_op, loss_op], feed_dict={X: train_x[idx], Y: train_y[idx], is_training: True})
                if step % 100 == 0 or step == 1:
                    print("step %d, minibatch loss %.4f" % (step, loss))
        # is_training defaults to False: no dropout
        acc = _scaffolding.mean_over_chunks(lambda bx, by: sess.run(accuracy, feed_dict={X: bx, Y: by}), 1000,
                                            test_x, test_y)
        print("test accuracy %.4f" % acc)
    return acc


if __name__ == "__main__":
    main()
