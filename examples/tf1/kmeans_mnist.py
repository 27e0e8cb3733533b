"""K-Means clustering of MNIST with tf.contrib.factorization.KMeans (TF 1.x graph style).

25 clusters, cosine distance, mini-batch updates over the whole training set each step; each cluster
is then labelled with the most frequent training label among its members and the test images are
classified by their nearest cluster's label (the classic example reaches about 0.7).

    python kmeans_mnist.py [--fake_data] [--steps N] [--data_dir DIR]

prints `test accuracy 0.7xxx` on its last line.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _framework import tf  # noqa: E402
import _mnist_arrays  # noqa: E402
import _scaffolding  # noqa: E402

if getattr(tf, "__name__", "").startswith("tensorflow"):
    from tensorflow.python.ops.clustering_ops import KMeans  # TF 2.x keeps it here (contrib is gone)
else:
    KMeans = tf.contrib.factorization.KMeans

NUM_CLUSTERS = 25
NUM_CLASSES = 10
NUM_FEATURES = 784


def main(argv=None):
    args = _scaffolding.parse_args(__doc__, argv, steps=50)
    full_data_x, train_labels, test_images, test_labels = _mnist_arrays.load(args.data_dir, args.fake_data,
                                                                             scaled=True, one_hot=True)

    tf.reset_default_graph()
    X = tf.placeholder(tf.float32, shape=[None, NUM_FEATURES])
    Y = tf.placeholder(tf.float32, shape=[None, NUM_CLASSES])

    kmeans = KMeans(inputs=X, num_clusters=NUM_CLUSTERS, distance_metric="cosine", use_mini_batch=True)
    training_graph = kmeans.training_graph()
    if len(training_graph) > 6:   # TF 1.4-1.x releases also returned the cluster centers variable
        (all_scores, cluster_idx, scores, cluster_centers_initialized, cluster_centers_var, init_op,
         train_op) = training_graph
    else:
        (all_scores, cluster_idx, scores, cluster_centers_initialized, init_op, train_op) = training_graph
    cluster_idx = cluster_idx[0]   # one input tensor: one list entry
    avg_distance = tf.reduce_mean(scores)
    init_vars = tf.global_variables_initializer()

    with tf.Session() as sess:
        sess.run(init_vars, feed_dict={X: full_data_x})
        sess.run(init_op, feed_dict={X: full_data_x})
        for i in range(1, args.steps + 1):
            _, d, idx = sess.run([train_op, avg_distance, cluster_idx], feed_dict={X: full_data_x})
            if i % 10 == 0 or i == 1:
                print("Step %i, Avg Distance: %f" % (i, d))

        # Each centroid gets the label most frequent among the training images assigned to it
        counts = np.zeros(shape=(NUM_CLUSTERS, NUM_CLASSES))
        for i in range(len(idx)):
            counts[idx[i]] += train_labels[i]
        labels_map = [np.argmax(c) for c in counts]
        labels_map = tf.convert_to_tensor(labels_map)

        cluster_label = tf.nn.embedding_lookup(labels_map, cluster_idx)
        correct_prediction = tf.equal(cluster_label, tf.cast(tf.argmax(Y, 1), tf.int32))
        accuracy_op = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
        accuracy = float(sess.run(accuracy_op, feed_dict={X: test_images, Y: test_labels}))
    print("test accuracy %.4f" % accuracy)
    return accuracy


if __name__ == "__main__":
    main()
