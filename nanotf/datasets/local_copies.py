"""Copies of MNIST / Fashion-MNIST that other tools already keep on a machine.

Used only as a last resort, when no mirror could be reached.  Every copy is
checked against the same SHA-256 of the decompressed IDX content as a
download, so a reused file is byte-for-byte the official data.

Places looked at (evaluated at call time, so ``HOME``, ``KERAS_HOME`` and the
current directory are honoured):

* Keras: ``$KERAS_HOME/datasets/`` or ``~/.keras/datasets/``: ``mnist.npz``
  (arrays x_train, y_train, x_test, y_test; read with allow_pickle=False) and
  the ``fashion-mnist/`` folder of IDX ``.gz`` files.
* torchvision: ``<root>/MNIST/raw`` and ``<root>/FashionMNIST/raw`` (the IDX
  files, gzipped and/or not) for the usual roots ``./data``, ``~/data``,
  ``~/.cache/torch``, ``~/.cache/torch/datasets``, ``~/.torch``,
  ``~/.torch/datasets``, ``~/torch_datasets``.
* Debian's ``dataset-fashion-mnist`` package (Fashion-MNIST only).
"""

import os

import numpy as np

from nanotf.framework import environment

#: Where Debian's ``dataset-fashion-mnist`` package installs the four files.
DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist'

# IDX file base name -> (npz key, IDX magic) for Keras' mnist.npz.
_NPZ_KEYS = {
    'train-images-idx3-ubyte': ('x_train', 2051),
    'train-labels-idx1-ubyte': ('y_train', 2049),
    't10k-images-idx3-ubyte': ('x_test', 2051),
    't10k-labels-idx1-ubyte': ('y_test', 2049),
}


def _home():
    return os.path.expanduser('~')


def _keras_dir():
    base = environment.keras_home() or os.path.join(_home(), '.keras')
    return os.path.join(base, 'datasets')


def _torch_roots():
    home = _home()
    return [
        os.path.join(os.getcwd(), 'data'),
        os.path.join(home, 'data'),
        os.path.join(home, '.cache', 'torch'),
        os.path.join(home, '.cache', 'torch', 'datasets'),
        os.path.join(home, '.torch'),
        os.path.join(home, '.torch', 'datasets'),
        os.path.join(home, 'torch_datasets'),
    ]


def local_copy_locations(dataset):
    """``[(kind, path)]`` searched for ``dataset``, in order.

    ``kind`` is ``'npz'`` (a Keras mnist.npz file) or ``'dir'`` (a folder
    holding the IDX files under their usual names, ``.gz`` or not).
    """
    if dataset == 'mnist':
        found = [('npz', os.path.join(_keras_dir(), 'mnist.npz'))]
        found += [('dir', os.path.join(r, 'MNIST', 'raw'))
                  for r in _torch_roots()]
    elif dataset == 'fashion_mnist':
        found = [('dir', DEBIAN_FASHION_MNIST_DIR),
                 ('dir', os.path.join(_keras_dir(), 'fashion-mnist'))]
        found += [('dir', os.path.join(r, 'FashionMNIST', 'raw'))
                  for r in _torch_roots()]
    else:
        found = []
    # The same folder may be reached twice (e.g. cwd == HOME).
    seen, unique = set(), []
    for kind, path in found:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            unique.append((kind, path))
    return unique


def idx_bytes_from_array(array, magic):
    """The IDX file content (header + data) for a uint8 array."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError('dtype %s, expected uint8' % array.dtype)
    if magic == 2051 and array.ndim == 4 and array.shape[3] == 1:
        array = array.reshape(array.shape[:3])
    want_ndim = 3 if magic == 2051 else 1
    if array.ndim != want_ndim:
        raise ValueError('shape %s, expected %d dimensions'
                         % (array.shape, want_ndim))
    header = magic.to_bytes(4, 'big') + b''.join(
        int(d).to_bytes(4, 'big') for d in array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def npz_member_payload(npz_path, name):
    """IDX content for file ``name`` rebuilt from a Keras-style npz, or None."""
    if name not in _NPZ_KEYS:
        return None
    key, magic = _NPZ_KEYS[name]
    with np.load(npz_path, allow_pickle=False) as npz:
        if key not in npz.files:
            raise ValueError('no array %r in %s' % (key, npz_path))
        return idx_bytes_from_array(npz[key], magic)
