"""A convolutional network for MNIST built with tf.layers (TF 1.x graph style).

conv2d(5x5, 32, relu) -> max_pooling2d(2) -> conv2d(5x5, 64, relu) -> max_pooling2d(2) -> dense(1024, relu)
-> dropout(rate 0.4, active only when `training` is fed True) -> dense(10); Adam on the mean softmax
cross-entropy. The filter and unit counts are flags so a short test can run a smaller net.

    python cnn_layers_mnist.py [--fake_data] [--steps N] [--data_dir DIR]

prints `test accuracy 0.9xxx` on its last line.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _framework import tf  # noqa: E402
import _mnist_arrays  # noqa: E402
import _scaffolding  # noqa: E402
import numpy as np  # noqa: E402


def cnn_model(images, training, conv1=32, conv2=64, hidden=1024):
    x = tf.reshape(images, [-1, 28, 28, 1])
    h = tf.layers.conv2d(x, filters=conv1, kernel_size=[5, 5], padding="same", activation=tf.nn.relu)
    h = tf.layers.max_pooling2d(h, pool_size=[2, 2], strides=2)
    h = tf.layers.conv2d(h, filters=conv2, kernel_size=[5, 5], padding="same", activation=tf.nn.relu)
    h = tf.layers.max_pooling2d(h, pool_size=[2, 2], strides=2)
    h = tf.reshape(h, [-1, 7 * 7 * conv2])
    h = tf.layers.dense(h, units=hidden, activation=tf.nn.relu)
    h = tf.layers.dropout(h, rate=0.4, training=training)
    return tf.layers.dense(h, units=10)


def main(argv=None):
    args = _scaffolding.parse_args(__doc__, argv, steps=2000, batch_size=100, learning_rate=1e-3, conv1=32, conv2=64,
                                   hidden=1024)
    train_x, train_y, test_x, test_y = _mnist_arrays.load(args.data_dir, args.fake_data, scaled=True)

    tf.reset_default_graph()
    tf.set_random_seed(0)
    images = tf.placeholder(tf.float32, [None, 784], name="images")
    labels = tf.placeholder(tf.int64, [None], name="labels")
    training = tf.placeholder_with_default(False, [], name="training")
    logits = cnn_model(images, training, args.conv1, args.conv2, args.hidden)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    train_op = tf.train.AdamOptimizer(args.learning_rate).minimize(loss)
    correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.int32))

    batches = _scaffolding.epoch_batches(np.random.RandomState(0), len(train_x), args.batch_size)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(args.steps):
            idx = next(batches)
            _, loss_value = sess.run([train_op, loss], {images: train_x[idx], labels: train_y[idx], training: True})
            if step % 500 == 0 or step == args.steps - 1:
                print("step %d, loss %.4f" % (step, loss_value))
        total = _scaffolding.total_over_chunks(lambda x, y: sess.run(correct, {images: x, labels: y}), 2000,
                                               test_x, test_y)
    accuracy = total / float(len(test_y))
    print("test accuracy %.4f" % accuracy)
    return accuracy


if __name__ == "__main__":
    main()
