"""A deep autoencoder on MNIST (TF 1.x graph style).

784 -> 256 -> 128 -> 256 -> 784, sigmoid units throughout (tf.layers.dense, Glorot-initialized), trained
with RMSProp on the mean squared error between the images and their reconstructions.

    python autoencoder_mnist.py [--fake_data] [--steps N] [--data_dir DIR]

prints `test mse X` (mean squared error per pixel over the test images) on its last line.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _framework import tf  # noqa: E402
import _mnist_arrays  # noqa: E402
import numpy as np  # noqa: E402

HIDDEN_1 = 256
HIDDEN_2 = 128


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fake_data", action="store_true")
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--learning_rate", type=float, default=0.01)
    parser.add_argument("--data_dir", default=None)
    args = parser.parse_args(argv)
    train_x, _, test_x, _ = _mnist_arrays.load(args.data_dir, args.fake_data)
    train_x = train_x.astype(np.float32) / 255.0
    test_x = test_x.astype(np.float32) / 255.0

    tf.reset_default_graph()
    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, [None, 784], name="images")
    def encoder(v):
        with tf.variable_scope("encoder"):
            h = tf.layers.dense(v, HIDDEN_1, activation=tf.nn.sigmoid)
            return tf.layers.dense(h, HIDDEN_2, activation=tf.nn.sigmoid)

    def decoder(v):
        with tf.variable_scope("decoder"):
            h = tf.layers.dense(v, HIDDEN_1, activation=tf.nn.sigmoid)
            return tf.layers.dense(h, 784, activation=tf.nn.sigmoid)

    y_pred = decoder(encoder(x))
    loss = tf.reduce_mean(tf.pow(x - y_pred, 2))
    train_op = tf.train.RMSPropOptimizer(args.learning_rate).minimize(loss)

    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(args.steps):
            batch = train_x[rng.randint(0, len(train_x), args.batch_size)]
            _, lv = sess.run([train_op, loss], {x: batch})
            if step % 1000 == 0 or step == args.steps - 1:
                print("step %d, loss %.4f" % (step, lv))
        total = 0.0
        for start in range(0, len(test_x), 2000):
            part = test_x[start:start + 2000]
            total += sess.run(loss, {x: part}) * len(part)
    mse = total / len(test_x)
    print("test mse %.4f" % mse)
    return mse


if __name__ == "__main__":
    main()
