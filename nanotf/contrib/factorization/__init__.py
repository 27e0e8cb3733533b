"""tf.contrib.factorization: the KMeans graph builder of TF 1.x."""
