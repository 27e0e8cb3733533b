"""A deep autoencoder on MNIST (TF 1.x graph style).

784 -> 256 -> 128 -> 256 -> 784, sigmoid units throughout (tf.layers.dense, Glorot-initialized), trained
with RMSProp on the mean squared error between the images and their reconstructions.

    python autoencoder_mnist.py [--fake_data] [--steps N] [--data_dir DIR]

prints `test mse X` (mean squared error per pixel over the test images) on its last line.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _framework import tf  # noqa: E402
import _mnist_arrays  # noqa: E402
import _scaffolding  # noqa: E402
import numpy as np  # noqa: E402

HIDDEN_1 = 256
HIDDEN_2 = 128


def main(argv=None):
    args = _scaffolding.parse_args(__doc__, argv, steps=10000, batch_size=256, learning_rate=0.01)
    train_x, _, test_x, _ = _mnist_arrays.load(args.data_dir, args.fake_data, scaled=True)

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
        for step, idx in _scaffolding.random_batches(rng, len(train_x), args.batch_size, args.steps):
            _, lv = sess.run([train_op, loss], {x: train_x[idx]})
            if step % 1000 == 0 or step == args.steps - 1:
                print("step %d, loss %.4f" % (step, lv))
        mse = _scaffolding.mean_over_chunks(lambda part: sess.run(loss, {x: part}), 2000, test_x)
    print("test mse %.4f" % mse)
    return mse


if __name__ == "__main__":
    main()
