"""tf.contrib.factorization: the KMeans graph builder of TF 1.x (see clustering_ops.py)."""
from nanotf.contrib.factorization.clustering_ops import (COSINE_DISTANCE, KMC2_INIT, KMEANS_PLUS_PLUS_INIT,  # noqa: F401
                                                          KMeans, RANDOM_INIT, SQUARED_EUCLIDEAN_DISTANCE)

__all__ = ["KMeans", "COSINE_DISTANCE", "SQUARED_EUCLIDEAN_DISTANCE", "RANDOM_INIT", "KMEANS_PLUS_PLUS_INIT",
           "KMC2_INIT"]
