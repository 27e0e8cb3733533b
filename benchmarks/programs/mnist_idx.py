"""A tiny MNIST loader for the peer programs (NumPy + standard library only).

The peers (NumPy, TensorFlow, PyTorch, JAX) must not depend on nanotf, yet
they must see the same data as the nanotf program: the four official IDX
files, validation = the FIRST 5000 training examples (as TensorFlow's
``read_data_sets``), images as float32 in [0, 1], and batches served by the
same algorithm as TensorFlow's ``DataSet.next_batch`` (shuffle before the
first batch, reshuffle at each epoch end).  Images stay uint8 in memory
(47 MB); only each batch is converted, as nanotf's loader does.
"""
import collections
import gzip
import os

import numpy as np

FILES = {
    'train_images': 'train-images-idx3-ubyte.gz',
    'train_labels': 'train-labels-idx1-ubyte.gz',
    'test_images': 't10k-images-idx3-ubyte.gz',
    'test_labels': 't10k-labels-idx1-ubyte.gz',
}
VALIDATION_SIZE = 5000
_INV255 = np.float32(1.0 / 255.0)

Datasets = collections.namedtuple('Datasets', ['train', 'validation', 'test'])


def missing_files(data_dir):
    """The IDX files absent from ``data_dir`` (gzipped or not)."""
    return [name for name in FILES.values()
            if not (os.path.exists(os.path.join(data_dir, name))
                    or os.path.exists(os.path.join(data_dir, name[:-3])))]


def _read_idx(path, magic, ndim):
    if not os.path.exists(path):
        path = path[:-3]  # the decompressed copy
    with open(path, 'rb') as f:
        data = f.read()
    if data[:2] == b'\x1f\x8b':
        data = gzip.decompress(data)
    got = int.from_bytes(data[:4], 'big')
    if got != magic:
        raise ValueError('%s: IDX magic %d, expected %d' % (path, got, magic))
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big')
            for i in range(ndim)]
    header = 4 + 4 * ndim
    if len(data) != header + int(np.prod(dims)):
        raise ValueError('%s: %d bytes do not match the header %s'
                         % (path, len(data), dims))
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


class DataSet:
    """uint8 images [n, 784] and int32 labels, served in float32 batches."""

    def __init__(self, images, labels, seed):
        self.images_u8 = images.reshape(images.shape[0], -1)
        self.labels = labels.astype(np.int32)
        self.num_examples = images.shape[0]
        self._rng = np.random.default_rng(seed)
        self._order = None
        self._index = 0
        self._epochs = 0

    def _shuffle(self):
        self._order = self._rng.permutation(self.num_examples)

    def next_batch(self, batch_size, out=None):
        """(images float32 [batch, 784], labels int32 [batch]).

        ``out`` = (images, labels) arrays to fill instead of allocating.
        """
        n = self.num_examples
        start = self._index
        if self._epochs == 0 and start == 0:
            self._shuffle()
        if start + batch_size > n:
            rest = self._order[start:]
            self._epochs += 1
            self._shuffle()
            self._index = batch_size - (n - start)
            index = np.concatenate((rest, self._order[:self._index]))
        else:
            self._index = start + batch_size
            index = self._order[start:self._index]
        if out is None:
            images = self.images_u8[index].astype(np.float32)
            images *= _INV255
            return images, self.labels[index]
        images, labels = out
        np.multiply(self.images_u8[index], _INV255, out=images)
        np.take(self.labels, index, out=labels)
        return images, labels


def read_data_sets(data_dir, seed=0):
    """``Datasets(train=55000, validation=5000, test=10000)`` from IDX files."""
    d = os.path.join
    train_x = _read_idx(d(data_dir, FILES['train_images']), 2051, 3)
    train_y = _read_idx(d(data_dir, FILES['train_labels']), 2049, 1)
    test_x = _read_idx(d(data_dir, FILES['test_images']), 2051, 3)
    test_y = _read_idx(d(data_dir, FILES['test_labels']), 2049, 1)
    v = VALIDATION_SIZE
    return Datasets(train=DataSet(train_x[v:], train_y[v:], seed),
                    validation=DataSet(train_x[:v], train_y[:v], seed + 1),
                    test=DataSet(test_x, test_y, seed + 2))
