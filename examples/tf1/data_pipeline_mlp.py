"""A multilayer perceptron on MNIST fed by a tf.data input pipeline (TF 1.x graph style).

The images are fed once per epoch into placeholders that the dataset slices
(`Dataset.from_tensor_slices((features_placeholder, labels_placeholder))`): the pipeline scales them
with `map`, shuffles, repeats and batches; an initializable iterator is re-initialized each epoch and
the epoch ends when `get_next` raises OutOfRangeError. The test set goes through the same
reinitializable iterator (`Iterator.from_structure` + `make_initializer`).

    python data_pipeline_mlp.py [--fake_data] [--steps N] [--data_dir DIR]

prints `test accuracy 0.9xxx` on its last line.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _framework import tf  # noqa: E402
import _mnist_arrays  # noqa: E402
import _scaffolding  # noqa: E402

BATCH_SIZE = 128
HIDDEN = 256


def preprocess(image, label):
    return tf.cast(image, tf.float32) / 255.0, label


def build_model(images):
    w1 = tf.Variable(tf.truncated_normal([784, HIDDEN], stddev=0.05, seed=1), name="w1")
    b1 = tf.Variable(tf.zeros([HIDDEN]), name="b1")
    w2 = tf.Variable(tf.truncated_normal([HIDDEN, 10], stddev=0.05, seed=2), name="w2")
    b2 = tf.Variable(tf.zeros([10]), name="b2")
    hidden = tf.nn.relu(tf.matmul(images, w1) + b1)
    return tf.matmul(hidden, w2) + b2


def main(argv=None):
    args = _scaffolding.parse_args(__doc__, argv, steps=(1000, "training steps (batches) in all"),
                                   epochs_per_init=(1, "passes over the data per initialization"))
    train_x, train_y, test_x, test_y = _mnist_arrays.load(args.data_dir, args.fake_data)

    tf.reset_default_graph()
    features_placeholder = tf.placeholder(tf.uint8, [None, 784], name="features")
    labels_placeholder = tf.placeholder(tf.int64, [None], name="labels")
    train_dataset = (tf.data.Dataset.from_tensor_slices((features_placeholder, labels_placeholder))
                     .map(preprocess)
                     .shuffle(buffer_size=10000)   # no seed: a new order at each initialization
                     .repeat(args.epochs_per_init)
                     .batch(BATCH_SIZE)
                     .prefetch(1))
    test_dataset = tf.data.Dataset.from_tensor_slices((features_placeholder, labels_placeholder)) \
        .map(preprocess).batch(1000)

    iterator = tf.data.Iterator.from_structure(train_dataset.output_types, train_dataset.output_shapes)
    train_init = iterator.make_initializer(train_dataset)
    test_init = iterator.make_initializer(test_dataset)
    images, labels = iterator.get_next()

    logits = build_model(images)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
    correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.int32))

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        step, epoch = 0, 0
        while step < args.steps:
            sess.run(train_init, feed_dict={features_placeholder: train_x, labels_placeholder: train_y})
            epoch += 1
            while step < args.steps:
                try:
                    _, loss_value = sess.run([train_op, loss])
                except tf.errors.OutOfRangeError:
                    break
                step += 1
            print("epoch %d: step %d, loss %.4f" % (epoch, step, loss_value))

        sess.run(test_init, feed_dict={features_placeholder: test_x, labels_placeholder: test_y})
        total = 0
        while True:
            try:
                total += sess.run(correct)
            except tf.errors.OutOfRangeError:
                break
    accuracy = total / float(len(test_y))
    print("test accuracy %.4f" % accuracy)
    return accuracy


if __name__ == "__main__":
    main()
