"""A GRU classifying variable-length sequences (TF 1.x, tf.nn.dynamic_rnn with sequence_length).

Toy data as in the example collections' dynamic RNN program: sequences of 1 to 20 integers (scaled to [0, 1]),
either linear (consecutive values) or random, zero-padded to 20 steps; the lengths go to dynamic_rnn as
sequence_length, so each sequence's final state is the state after its last real step and the padding is never
read. A GRUCell of 64 units, a linear layer on the final state, Adam at 0.01.

    python gru_dynamic_length.py [--steps N] [--fake_data] [--data_dir DIR]

(the data is always synthetic; the two flags are accepted for the common interface). Prints
`test accuracy 0.9xxx` on its last line.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _framework import tf  # noqa: E402
import _scaffolding  # noqa: E402

MAX_LEN, MAX_VALUE = 20, 1000
N_HIDDEN, N_CLASSES = 64, 2
BATCH_SIZE, LEARNING_RATE = 128, 0.01


def toy_sequences(n, rng):
    """n padded sequences [n, MAX_LEN, 1], their lengths, labels (0: linear, 1: random)."""
    data = np.zeros((n, MAX_LEN, 1), dtype=np.float32)
    lengths = rng.randint(1, MAX_LEN + 1, size=n)
    labels = rng.randint(0, 2, size=n)
    for k in range(n):
        m = lengths[k]
        if labels[k] == 0:
            start = rng.randint(0, MAX_VALUE - m)
            seq = np.arange(start, start + m)
        else:
            seq = rng.randint(0, MAX_VALUE, size=m)
        data[k, :m, 0] = seq / MAX_VALUE
    return data, lengths.astype(np.int32), labels.astype(np.int64)


def main(argv=None):
    args = _scaffolding.parse_args(__doc__, argv, steps=300)   # --fake_data, --data_dir: unused, the data is synthetic
    rng = np.random.RandomState(0)
    test_x, test_len, test_y = toy_sequences(1000, rng)

    tf.reset_default_graph()
    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, [None, MAX_LEN, 1], name="x")
    seqlen = tf.placeholder(tf.int32, [None], name="seqlen")
    y = tf.placeholder(tf.int64, [None], name="y")
    cell = tf.nn.rnn_cell.GRUCell(N_HIDDEN)
    outputs, state = tf.nn.dynamic_rnn(cell, x, sequence_length=seqlen, dtype=tf.float32)
    w = tf.Variable(tf.random_normal([N_HIDDEN, N_CLASSES], stddev=0.1, seed=1), name="w")
    b = tf.Variable(tf.zeros([N_CLASSES]), name="b")
    logits = tf.matmul(state, w) + b
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train_op = tf.train.AdamOptimizer(LEARNING_RATE).minimize(loss)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        with _scaffolding.timed_training(args.steps):
            for step in range(1, args.steps + 1):
                bx, bl, by = toy_sequences(BATCH_SIZE, rng)
                _, loss_val = sess.run([train_op, loss], feed_dict={x: bx, seqlen: bl, y: by})
                if step % 100 == 0 or step == 1:
                    print("step %d, loss %.4f" % (step, loss_val))
        acc = sess.run(accuracy, feed_dict={x: test_x, seqlen: test_len, y: test_y})
        print("test accuracy %.4f" % acc)
    return float(acc)


if __name__ == "__main__":
    main()
