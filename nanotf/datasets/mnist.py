"""MNIST and Fashion-MNIST for nanotf (TensorFlow 1.x's ``input_data``).

Pure NumPy + standard library; imports nothing else from nanotf.

``read_data_sets(train_dir)`` uses the four IDX files found in ``train_dir``
(gzipped or already decompressed), downloads the missing ones from a list of
mirrors, verifies every file against the SHA-256 of its *decompressed*
content, and returns ``Datasets(train, validation, test)``; validation is the
first ``validation_size`` training examples, as in TensorFlow.
"""

import collections
import errno
import gzip
import hashlib
import os
import zlib

import numpy as np

from .download import (DownloadError, download_with_fallback, missing_dirs,
                       open_temp, remove_empty_dirs, url_for)
from .download import maybe_download  # noqa: F401  (re-exported, TF API)
from . import local_copies

__all__ = [
    'DataSet', 'Datasets', 'DownloadError', 'IDXFormatError',
    'ChecksumError', 'read_data_sets', 'load_mnist', 'load_fashion_mnist',
    'extract_images', 'extract_labels', 'dense_to_one_hot', 'maybe_download',
    'DEFAULT_SOURCE_URL', 'MNIST_MIRRORS', 'FASHION_MNIST_MIRRORS', 'SHA256',
    'TRAIN_IMAGES', 'TRAIN_LABELS', 'TEST_IMAGES', 'TEST_LABELS',
]

TRAIN_IMAGES = 'train-images-idx3-ubyte.gz'
TRAIN_LABELS = 'train-labels-idx1-ubyte.gz'
TEST_IMAGES = 't10k-images-idx3-ubyte.gz'
TEST_LABELS = 't10k-labels-idx1-ubyte.gz'
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

#: Tried in this order.  The CVDF mirror is what TensorFlow and TF Datasets
#: use; the S3 one is torchvision's; the last is the original site.
MNIST_MIRRORS = (
    'https://storage.googleapis.com/cvdf-datasets/mnist/',
    'https://ossci-datasets.s3.amazonaws.com/mnist/',
    'http://yann.lecun.com/exdb/mnist/',
)
FASHION_MNIST_MIRRORS = (
    'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
)
DEFAULT_SOURCE_URL = MNIST_MIRRORS[0]

# SHA-256 of the DECOMPRESSED IDX files (keyed by the name without '.gz').
# Hashing the content rather than the .gz accepts any re-compression of the
# same data (Debian ships Fashion-MNIST re-gzipped: its .gz MD5s differ from
# upstream's, its content does not).
#
# How they were obtained (once, offline):
# * MNIST: from the official files (byte-identical to the CVDF/LeCun
#   distribution: their .gz MD5s are torchvision's, .gz SHA-256s are TF
#   Datasets'), decompressed and hashed.  The decompressed MD5s also equal
#   the published ones (train-images 6bbc9ace898e44ae57da46a324031adb,
#   train-labels a25bea736e30d166cdddb491f175f624, t10k-images
#   2646ac647ad5339dbf082846283269ea, t10k-labels
#   27ae3e4e09519cfbb04c329615203637); sizes 47040016/60008/7840016/10008;
#   label counts 5923 6742 5958 6131 5842 5421 5918 6265 5851 5949 (train) and
#   980 1135 1032 1010 982 892 958 1028 974 1009 (test).
# * Fashion-MNIST: from Debian's dataset-fashion-mnist package
#   (0.0~git20200523.55506a9-1, /usr/share/datasets/fashion-mnist),
#   decompressed and hashed.  Its decompressed MD5s (train-images
#   f4a8712d7a061bf5bd6d2ca38dc4d50a, train-labels
#   9018921c3c673c538a1fc5bad174d6f9, t10k-images
#   8181f5470baa50b63fa0f6fddb340f0a, t10k-labels
#   15d484375f8d13e6eb1aabb0c3f46965) equal the uncompressed MD5s that
#   public code lists next to upstream's .gz MD5s; 60000/10000 examples of
#   28x28, exactly 6000 (train) / 1000 (test) examples of each class.
SHA256 = {
    'mnist': {
        'train-images-idx3-ubyte':
            'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
        'train-labels-idx1-ubyte':
            '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
        't10k-images-idx3-ubyte':
            '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
        't10k-labels-idx1-ubyte':
            'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
    },
    'fashion_mnist': {
        'train-images-idx3-ubyte':
            'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
        'train-labels-idx1-ubyte':
            'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
        't10k-images-idx3-ubyte':
            '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
        't10k-labels-idx1-ubyte':
            '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
    },
}

_DATASETS = {
    'mnist': ('MNIST', 'MNIST_MIRRORS'),      # mirror lists are read when used, so they can be patched
    'fashion_mnist': ('Fashion-MNIST', 'FASHION_MNIST_MIRRORS'),
}

_IMAGES_MAGIC = 2051
_LABELS_MAGIC = 2049

Datasets = collections.namedtuple('Datasets', ['train', 'validation', 'test'])


class IDXFormatError(ValueError):
    """A file is not a valid IDX image/label file (names the file)."""


class ChecksumError(ValueError):
    """A file's decompressed content is not the expected official data."""


# ---------------------------------------------------------------- IDX files

def _strip_gz(name):
    return name[:-3] if name.endswith('.gz') else name


def _decompress(data, where):
    """The IDX bytes of ``data``: gunzipped when it is gzip (by magic)."""
    if data[:2] != b'\x1f\x8b':
        return data  # already decompressed (whatever the file is called)
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise IDXFormatError('%s: not a valid gzip file (%s); the file is '
                             'truncated or corrupt' % (where, exc)) from None


def _read_payload(f):
    """(decompressed bytes, display name) of a path or binary file object."""
    if isinstance(f, (str, bytes, os.PathLike)):
        where = os.fsdecode(f)
        with open(where, 'rb') as fh:
            data = fh.read()
    else:
        where = str(getattr(f, 'name', '<file object>'))
        data = f.read()
    return _decompress(data, where), where


def _parse_idx(payload, magic, where):
    """Checked uint8 array from IDX bytes: (n, rows, cols, 1) or (n,)."""
    kind = 'image' if magic == _IMAGES_MAGIC else 'label'
    ndim = 3 if magic == _IMAGES_MAGIC else 1
    header = 4 + 4 * ndim
    if len(payload) < header:
        raise IDXFormatError('%s: truncated MNIST %s file: only %d bytes, '
                             'the header alone is %d' % (where, kind,
                                                         len(payload), header))
    got = int.from_bytes(payload[:4], 'big')
    if got != magic:
        hint = ''
        if got in (_IMAGES_MAGIC, _LABELS_MAGIC):
            hint = ' (that is an %s file)' % (
                'image' if got == _IMAGES_MAGIC else 'label')
        raise IDXFormatError('Invalid magic number %d in MNIST %s file: %s '
                             '(expected %d%s)' % (got, kind, where, magic,
                                                  hint))
    dims = [int.from_bytes(payload[4 + 4 * i:8 + 4 * i], 'big')
            for i in range(ndim)]
    expected = header + int(np.prod(dims, dtype=np.int64))
    shape = ' x '.join(str(d) for d in dims)
    if len(payload) < expected:
        raise IDXFormatError(
            '%s: truncated MNIST %s file: the header announces %s = %d data '
            'bytes but only %d are present' % (where, kind, shape,
                                               expected - header,
                                               len(payload) - header))
    if len(payload) > expected:
        raise IDXFormatError(
            '%s: MNIST %s file has %d bytes of extra data after the %s '
            'announced by its header' % (where, kind, len(payload) - expected,
                                         shape))
    array = np.frombuffer(payload, dtype=np.uint8, offset=header)
    if ndim == 3:
        return array.reshape(dims[0], dims[1], dims[2], 1)
    return array


def _sha256(payload):
    return hashlib.sha256(payload).hexdigest()


def _check_sha(payload, expected, where, what):
    if expected is None:
        return
    got = _sha256(payload)
    if got != expected.lower():
        raise ChecksumError(
            '%s: content SHA-256 %s does not match the official %s (%s); the '
            'file is corrupt or not the official data' % (where, got, what,
                                                          expected))


def extract_images(f):
    """The images of an IDX image file as a uint8 array [index, y, x, depth].

    ``f`` is a binary file object (or a path) of the gzipped or plain file.
    Raises ValueError (IDXFormatError) for a wrong magic number, bad gzip
    data, or a byte length that does not match the header.
    """
    payload, where = _read_payload(f)
    print('Extracting', where)
    return _parse_idx(payload, _IMAGES_MAGIC, where)


def dense_to_one_hot(labels_dense, num_classes=10):
    """Class ids -> one-hot rows (float64, as TensorFlow's)."""
    labels_dense = np.asarray(labels_dense).ravel()
    one_hot = np.zeros((labels_dense.shape[0], num_classes))
    one_hot[np.arange(labels_dense.shape[0]), labels_dense] = 1
    return one_hot


def extract_labels(f, one_hot=False, num_classes=10):
    """The labels of an IDX label file: uint8 class ids, or one-hot rows."""
    payload, where = _read_payload(f)
    print('Extracting', where)
    labels = _parse_idx(payload, _LABELS_MAGIC, where)
    if one_hot:
        return dense_to_one_hot(labels, num_classes)
    return labels


# ---------------------------------------------------------------- DataSet

def _image_dtype(dtype):
    """numpy uint8 or float32 from a numpy dtype, DType or string."""
    original = dtype
    dtype = getattr(dtype, 'base_dtype', dtype)
    np_type = getattr(dtype, 'as_numpy_dtype', dtype)
    if callable(np_type) and not isinstance(np_type, type):
        np_type = np_type()  # a method rather than a property
    try:
        result = np.dtype(np_type)
    except TypeError:
        result = None
    if result not in (np.dtype(np.uint8), np.dtype(np.float32)):
        raise TypeError('Invalid image dtype %r, expected uint8 or float32'
                        % (original,))
    return result


_INV255 = np.float32(1.0 / 255.0)


class DataSet(object):
    """Images and labels served in (shuffled) mini-batches, as in TensorFlow.

    Images are kept as given (uint8 for the IDX data: 47 MB for MNIST's
    training set); ``next_batch`` gathers the batch and converts only it.
    With dtype float32 images are scaled exactly as TensorFlow does
    (``images.astype(float32) * (1.0 / 255.0)``, computed in float32).
    """

    def __init__(self, images, labels, fake_data=False, one_hot=False,
                 dtype=np.float32, reshape=True, seed=None):
        self._dtype = _image_dtype(dtype)
        self._rng = np.random.default_rng(seed)
        self.one_hot = one_hot
        self._fake = bool(fake_data)
        self._order = None  # None: identity, else the current permutation
        self._cache = None
        self._epochs_completed = 0
        self._index_in_epoch = 0
        if self._fake:
            self._num_examples = 10000
            self._raw = images
            self._labels = labels
            return
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.shape[0] != labels.shape[0]:
            raise ValueError('images.shape: %s labels.shape: %s (the numbers '
                             'of examples differ)' % (images.shape,
                                                      labels.shape))
        if reshape:
            if images.ndim == 4:
                if images.shape[3] != 1:
                    raise ValueError('reshape=True needs images of depth 1, '
                                     'got shape %s' % (images.shape,))
            if images.ndim in (3, 4):
                images = images.reshape(
                    images.shape[0], images.shape[1] * images.shape[2])
        self._num_examples = images.shape[0]
        self._raw = images
        self._labels = labels

    # -- properties ---------------------------------------------------
    @property
    def images(self):
        """All images in the current (possibly shuffled) order."""
        if self._fake:
            return self._raw
        if self._cache is None:
            raw = self._raw if self._order is None else self._raw[self._order]
            self._cache = self._convert(raw, copy=False)
        return self._cache

    @property
    def labels(self):
        if self._fake or self._order is None:
            return self._labels
        return self._labels[self._order]

    num_examples = property(lambda self: self._num_examples)
    epochs_completed = property(lambda self: self._epochs_completed)

    # -- batches ------------------------------------------------------
    def _convert(self, raw, copy):
        if self._dtype == np.float32:
            out = raw.astype(np.float32)  # a fresh array
            out *= _INV255  # == TF's multiply(x, 1.0 / 255.0) in float32
            return out
        return raw.copy() if copy else raw

    def _positions(self, start, end):
        if self._order is None:
            return np.arange(start, end)
        return self._order[start:end]

    def _reshuffle(self):
        perm = self._rng.permutation(self._num_examples)
        self._order = perm if self._order is None else self._order[perm]
        self._cache = None

    def next_batch(self, batch_size, fake_data=False, shuffle=True):
        """The next ``batch_size`` examples, TensorFlow's algorithm.

        The data is shuffled before the first batch (when ``shuffle``); a
        batch that runs past the end of the epoch is the rest of the epoch
        followed by the start of the next one, reshuffled first.
        """
        if fake_data or self._fake:
            fake_image = [1] * 784
            fake_label = [1] + [0] * 9 if self.one_hot else 0
            return ([fake_image for _ in range(batch_size)],
                    [fake_label for _ in range(batch_size)])
        n = self._num_examples
        batch_size = int(batch_size)
        if batch_size < 0 or batch_size > n:
            raise ValueError('batch_size must be between 0 and the number of '
                             'examples (%d), got %d' % (n, batch_size))
        start = self._index_in_epoch
        if self._epochs_completed == 0 and start == 0 and shuffle:
            self._reshuffle()
        if start + batch_size > n:
            self._epochs_completed += 1
            rest = self._positions(start, n)
            if shuffle:
                self._reshuffle()
            self._index_in_epoch = batch_size - (n - start)
            index = np.concatenate(
                (rest, self._positions(0, self._index_in_epoch)))
        else:
            self._index_in_epoch = end = start + batch_size
            if self._order is None:
                index = slice(start, end)
            else:
                index = self._order[start:end]
        copy = isinstance(index, slice)  # a slice is a view of the store
        labels = self._labels[index]
        return (self._convert(self._raw[index], copy),
                labels.copy() if copy else labels)


def _fake_datasets(one_hot, dtype, seed):
    def fake():
        return DataSet([], [], fake_data=True, one_hot=one_hot, dtype=dtype,
                       seed=seed)
    return Datasets(train=fake(), validation=fake(), test=fake())


# ---------------------------------------------------------------- files

def _dataset_key(dataset):
    key = str(dataset).lower().replace('-', '_')
    if key in ('fashion', 'fashionmnist'):
        key = 'fashion_mnist'
    if key not in _DATASETS:
        raise ValueError('Unknown dataset %r: expected one of %s'
                         % (dataset, ', '.join(sorted(_DATASETS))))
    return key


def _magic_for(name):
    return _IMAGES_MAGIC if 'idx3' in name else _LABELS_MAGIC


def _load_file(path, name, expected, what):
    """Checked array of a file in train_dir (or a local copy)."""
    with open(path, 'rb') as fh:
        payload = _decompress(fh.read(), path)
    array = _parse_idx(payload, _magic_for(name), path)
    _check_sha(payload, expected, path, what)
    return array


def _atomic_write(path, data):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)  # created only to hold this file
    out, tmp = open_temp(directory, os.path.basename(path))
    try:
        with out:
            out.write(data)
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            os.unlink(tmp)


def _from_local_copies(key, label, missing, train_dir, table, notes):
    """Fill ``missing`` ({gz name: None}) from copies other tools keep."""
    for kind, location in local_copies.local_copy_locations(key):
        if not os.path.exists(location):
            continue
        used = []
        for gz_name in [n for n, a in missing.items() if a is None]:
            name = _strip_gz(gz_name)
            expected = table.get(name)
            if expected is None:
                continue  # cannot tell whether a stranger's file is right
            what = '%s %s' % (label, name)
            try:
                if kind == 'npz':
                    payload = local_copies.npz_member_payload(location, name)
                    array = _parse_idx(payload, _magic_for(name),
                                       '%s[%s]' % (location, name))
                    _check_sha(payload, expected, location, what)
                    dest = os.path.join(train_dir, name)
                    _atomic_write(dest, payload)
                else:
                    src = None
                    for candidate in (gz_name, name):
                        path = os.path.join(location, candidate)
                        if os.path.isfile(path):
                            src = path
                            break
                    if src is None:
                        continue
                    array = _load_file(src, name, expected, what)
                    dest = os.path.join(train_dir, os.path.basename(src))
                    with open(src, 'rb') as fh:
                        _atomic_write(dest, fh.read())
            except (OSError, ValueError) as exc:
                notes.append('%s: not usable: %s' % (location, exc))
                continue
            missing[gz_name] = array
            used.append(os.path.basename(dest))
        if used:
            print('No download possible; reusing the %s copy found at %s '
                  '(SHA-256 verified), copied into %s: %s'
                  % (label, location, train_dir, ', '.join(used)))


def _gather_files(train_dir, key, source_url, checksums):
    """{gz file name: uint8 array} for the four files of the dataset."""
    label, mirrors_name = _DATASETS[key]
    mirrors = globals()[mirrors_name]
    table = SHA256[key] if checksums is None else dict(checksums)
    if source_url:
        mirrors = [source_url] if isinstance(source_url, str) else list(
            source_url)
    train_dir = os.fspath(train_dir)
    if os.path.exists(train_dir) and not os.path.isdir(train_dir):
        raise NotADirectoryError(errno.ENOTDIR, 'Not a directory (the data '
                                 'directory must be a folder)', train_dir)
    # Nothing is created here: the folder appears when a file is written
    # into it, and a failed attempt leaves no empty folder behind.
    created = missing_dirs(train_dir)

    arrays = collections.OrderedDict()
    missing = collections.OrderedDict()
    for gz_name in FILES:
        name = _strip_gz(gz_name)
        for candidate in (gz_name, name):
            path = os.path.join(train_dir, candidate)
            if os.path.exists(path):
                print('Extracting', path)
                try:
                    arrays[gz_name] = _load_file(path, name, table.get(name),
                                                 '%s %s' % (label, name))
                except ValueError as exc:
                    raise type(exc)(
                        '%s. Delete %s to have it downloaded again, or '
                        'replace it with the official file.' % (exc, path)
                    ) from None
                break
        else:
            missing[gz_name] = None
    if not missing:
        return arrays

    attempts = []
    unreachable = {}
    for gz_name in missing:
        name = _strip_gz(gz_name)
        what = '%s %s' % (label, name)
        expected = table.get(name)
        display = '%s (downloaded)' % gz_name

        def verify(tmp, name=name, expected=expected, what=what,
                   display=display):
            with open(tmp, 'rb') as fh:
                payload = _decompress(fh.read(), display)
            array = _parse_idx(payload, _magic_for(name), display)
            _check_sha(payload, expected, display, what)
            return array

        urls = [url_for(m if m.endswith('/') else m + '/', gz_name)
                for m in mirrors]
        try:
            _, array = download_with_fallback(
                urls, os.path.join(train_dir, gz_name), verify=verify,
                unreachable=unreachable)
        except DownloadError as exc:
            attempts.extend(exc.attempts)
            continue
        missing[gz_name] = array

    notes = []
    if any(a is None for a in missing.values()):
        _from_local_copies(key, label, missing, train_dir, table, notes)
    still = [n for n, a in missing.items() if a is None]
    if still:
        lines = ['Could not obtain the %s files %s in %s.'
                 % (label, ', '.join(still), os.path.abspath(train_dir)),
                 'URLs tried:']
        lines += ['  %s: %s' % (u, r) for u, r in attempts] or ['  (none)']
        lines += ['Local copies: ' + (
            '; '.join(notes) if notes else
            'none found (looked for Keras, torchvision%s copies)' % (
                " and Debian's dataset-fashion-mnist"
                if key == 'fashion_mnist' else ''))]
        lines.append(
            'To proceed: download %s (gzipped or decompressed) on a machine '
            'with network access and place them in %s, or run with '
            '--fake_data (read_data_sets(..., fake_data=True)) to use fake '
            'data.' % (', '.join(FILES), os.path.abspath(train_dir)))
        remove_empty_dirs(created)
        raise DownloadError('\n'.join(lines), attempts)
    arrays.update(missing)
    return arrays


def read_data_sets(train_dir, fake_data=False, one_hot=False,
                   dtype=np.float32, reshape=True, validation_size=5000,
                   seed=None, source_url=None, dataset='mnist',
                   checksums=None):
    """Load MNIST (or Fashion-MNIST) as ``Datasets(train, validation, test)``.

    Args:
      train_dir: folder holding (or receiving) the four IDX files, gzipped
        (``train-images-idx3-ubyte.gz``...) or decompressed (no ``.gz``).
      fake_data: no files at all; three fake DataSets of 10000 examples.
      one_hot: labels as one-hot float rows instead of uint8 class ids.
      dtype: float32 (images scaled to [0, 1]) or uint8 (0..255); numpy
        dtypes, nanotf/TF DTypes (``.as_numpy_dtype``) or strings.
      reshape: images as (n, 784) rather than (n, 28, 28, 1).
      validation_size: the first this-many training examples form the
        validation set.
      seed: seed of each DataSet's shuffling.
      source_url: a base URL or a list of them, replacing the mirror list.
      dataset: 'mnist' or 'fashion_mnist'.
      checksums: ``{file name without .gz: sha256 hex}`` replacing the
        built-in table of official hashes; names it lacks are not verified.

    Raises:
      DownloadError (an OSError) when missing files can be neither
      downloaded nor found locally; ValueError (IDXFormatError,
      ChecksumError) for a bad file, naming it; ValueError for a
      validation_size out of range; TypeError for an unsupported dtype.
    """
    if fake_data:
        return _fake_datasets(one_hot, dtype, seed)
    _image_dtype(dtype)  # fail before any download
    key = _dataset_key(dataset)
    arrays = _gather_files(train_dir, key, source_url, checksums)

    train_images = arrays[TRAIN_IMAGES]
    train_labels = arrays[TRAIN_LABELS]
    test_images = arrays[TEST_IMAGES]
    test_labels = arrays[TEST_LABELS]
    for images, labels, a, b in (
            (train_images, train_labels, TRAIN_IMAGES, TRAIN_LABELS),
            (test_images, test_labels, TEST_IMAGES, TEST_LABELS)):
        if len(images) != len(labels):
            raise IDXFormatError(
                '%s holds %d images but %s holds %d labels (in %s)'
                % (a, len(images), b, len(labels), os.fspath(train_dir)))

    if one_hot:
        train_labels = dense_to_one_hot(train_labels, 10)
        test_labels = dense_to_one_hot(test_labels, 10)

    if not 0 <= validation_size <= len(train_images):
        raise ValueError('Validation size should be between 0 and {}. '
                         'Received: {}.'.format(len(train_images),
                                                validation_size))

    options = dict(dtype=dtype, reshape=reshape, seed=seed)
    validation = DataSet(train_images[:validation_size],
                         train_labels[:validation_size], **options)
    train = DataSet(train_images[validation_size:],
                    train_labels[validation_size:], **options)
    test = DataSet(test_images, test_labels, **options)
    return Datasets(train=train, validation=validation, test=test)


def load_mnist(train_dir='MNIST-data', **kwargs):
    return read_data_sets(train_dir, **kwargs)


def load_fashion_mnist(train_dir='Fashion-MNIST-data', **kwargs):
    kwargs['dataset'] = 'fashion_mnist'
    return read_data_sets(train_dir, **kwargs)
