"""A random forest on MNIST with tf.contrib.tensor_forest (TF 1.x graph style).

10 trees of at most 1000 nodes grown online from batches of 1024 images; the forest's resources are
created by `resources.initialize_resources(resources.shared_resources())`.

    python random_forest_mnist.py [--fake_data] [--steps N] [--data_dir DIR]

prints `test accuracy 0.9xxx` on its last line. (TensorFlow 2.x has no contrib: under
NANOTF_BENCH_FRAMEWORK=tensorflow this program needs a TF 1.x installation.)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _framework import tf  # noqa: E402
import _mnist_arrays  # noqa: E402
import _scaffolding  # noqa: E402

if getattr(tf, "__name__", "").startswith("tensorflow"):
    from tensorflow.contrib.tensor_forest.python import tensor_forest
    from tensorflow.python.ops import resources
else:
    from nanotf.contrib.tensor_forest.python import tensor_forest
    from nanotf.python.ops import resources

BATCH_SIZE = 1024
NUM_CLASSES = 10
NUM_FEATURES = 784
NUM_TREES = 10
MAX_NODES = 1000


def main(argv=None):
    args = _scaffolding.parse_args(__doc__, argv, steps=500)
    train_x, train_y, test_x, test_y = _mnist_arrays.load(args.data_dir, args.fake_data, scaled=True)
    train_y, test_y = train_y.astype(np.int32), test_y.astype(np.int32)   # the forest takes int32 class ids
    # batches as input_data's DataSet.next_batch gives them: the data reshuffled each epoch
    batches = _scaffolding.epoch_batches(np.random.RandomState(0), len(train_y), BATCH_SIZE)

    tf.reset_default_graph()
    X = tf.placeholder(tf.float32, shape=[None, NUM_FEATURES])
    Y = tf.placeholder(tf.int32, shape=[None])   # the forest takes class ids, not one-hot labels

    hparams = tensor_forest.ForestHParams(num_classes=NUM_CLASSES, num_features=NUM_FEATURES,
                                          num_trees=NUM_TREES, max_nodes=MAX_NODES).fill()
    forest_graph = tensor_forest.RandomForestGraphs(hparams)
    train_op = forest_graph.training_graph(X, Y)
    loss_op = forest_graph.training_loss(X, Y)

    infer_op, _, _ = forest_graph.inference_graph(X)
    correct_prediction = tf.equal(tf.argmax(infer_op, 1), tf.cast(Y, tf.int64))
    accuracy_op = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))

    init_vars = tf.group(tf.global_variables_initializer(),
                         resources.initialize_resources(resources.shared_resources()))
    with tf.Session() as sess:
        sess.run(init_vars)
        for i in range(1, args.steps + 1):
            idx = next(batches)
            batch_x, batch_y = train_x[idx], train_y[idx]
            _, loss = sess.run([train_op, loss_op], feed_dict={X: batch_x, Y: batch_y})
            if i % 50 == 0 or i == 1:
                acc = sess.run(accuracy_op, feed_dict={X: batch_x, Y: batch_y})
                print("Step %i, Loss: %f, Acc: %f" % (i, loss, acc))
        accuracy = float(sess.run(accuracy_op, feed_dict={X: test_x, Y: test_y}))
    print("test accuracy %.4f" % accuracy)
    return accuracy


if __name__ == "__main__":
    main()
