"""Datasets for nanotf: MNIST / Fashion-MNIST (pure NumPy + stdlib)."""

from .mnist import (DataSet, Datasets, DownloadError, read_data_sets,
                    load_mnist, load_fashion_mnist)

__all__ = ['DataSet', 'Datasets', 'DownloadError', 'read_data_sets',
           'load_mnist', 'load_fashion_mnist']
