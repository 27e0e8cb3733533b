"""TensorFlow's ``tensorflow.examples.tutorials.mnist.input_data`` for nanotf.

    from nanotf.examples.tutorials.mnist import input_data
    mnist = input_data.read_data_sets('MNIST_data', one_hot=True)
"""

from nanotf.datasets.download import DownloadError, maybe_download
from nanotf.datasets.mnist import (
    DEFAULT_SOURCE_URL, DataSet, Datasets, dense_to_one_hot, extract_images,
    extract_labels, load_fashion_mnist, load_mnist, read_data_sets)

__all__ = ['DEFAULT_SOURCE_URL', 'DataSet', 'Datasets', 'DownloadError',
           'dense_to_one_hot', 'extract_images', 'extract_labels',
           'load_fashion_mnist', 'load_mnist', 'maybe_download',
           'read_data_sets']
