"""MNIST as NumPy arrays for the example programs (no framework involved), or learnable fake data.

`load(data_dir, fake_data)` -> (train_images, train_labels, test_images, test_labels): images uint8
[N, 784], labels int64 [N]; as TF's `read_data_sets` options do, `scaled=True` gives float32 pixels in [0, 1],
`one_hot=True` float32 one-hot labels [N, 10], and `shape=(28, 28)` images [N, 28, 28]. Real data is read from the four gzipped
IDX files in `data_dir` (or the places `nanotf-mnist` keeps it: $NANOTF_DATA_DIR/mnist, else
~/.cache/nanotf/mnist); nothing is downloaded. Fake data: ten random prototype images plus noise, so a model
can learn it. The tests and benchmarks find real MNIST through `find_data_dir` too.
"""
import gzip
import os
from pathlib import Path

import numpy as np

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def candidate_dirs():
    """Where `nanotf-mnist` keeps MNIST: $NANOTF_DATA_DIR/mnist (when set), then ~/.cache/nanotf/mnist."""
    dirs = []
    if os.environ.get("NANOTF_DATA_DIR"):
        dirs.append(Path(os.environ["NANOTF_DATA_DIR"]) / "mnist")
    dirs.append(Path.home() / ".cache" / "nanotf" / "mnist")
    return dirs


def find_data_dir(dirs):
    """The first of `dirs` holding the four gzipped MNIST files, or None."""
    for d in dirs:
        if all((Path(d) / f).is_file() for f in FILES):
            return Path(d)
    return None


def default_data_dir():
    dirs = candidate_dirs()
    return str(find_data_dir(dirs) or dirs[0])


def _read_idx(path, magic):
    with gzip.open(path, "rb") as f:
        data = f.read()
    got = int.from_bytes(data[:4], "big")
    if got != magic:
        raise ValueError("%s: not an IDX file of the expected kind (magic %d, expected %d)" % (path, got, magic))
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data_dir=None, fake_data=False, num_fake_train=3000, num_fake_test=1000, seed=0, scaled=False,
         one_hot=False, shape=(784,)):
    train_x, train_y, test_x, test_y = _load(data_dir, fake_data, num_fake_train, num_fake_test, seed)
    images = [x.reshape((-1,) + tuple(shape)) for x in (train_x, test_x)]
    if scaled:
        images = [x.astype(np.float32) / 255.0 for x in images]
    if one_hot:
        train_y, test_y = (np.eye(10, dtype=np.float32)[y] for y in (train_y, test_y))
    return images[0], train_y, images[1], test_y


def _load(data_dir, fake_data, num_fake_train, num_fake_test, seed):
    if fake_data:
        rng = np.random.RandomState(seed)
        prototypes = rng.randint(0, 256, size=(10, 784))

        def make(n):
            labels = rng.randint(0, 10, size=n).astype(np.int64)
            noise = rng.normal(0, 60, size=(n, 784))
            return np.clip(prototypes[labels] + noise, 0, 255).astype(np.uint8), labels
        return make(num_fake_train) + make(num_fake_test)
    d = Path(data_dir or default_data_dir())
    missing = [f for f in FILES if not (d / f).is_file()]
    if missing:
        raise FileNotFoundError("MNIST files %s not found in %s (pass --data_dir, or --fake_data)" % (missing, d))
    train_x = _read_idx(d / FILES[0], 2051).reshape(-1, 784)
    train_y = _read_idx(d / FILES[1], 2049).astype(np.int64)
    test_x = _read_idx(d / FILES[2], 2051).reshape(-1, 784)
    test_y = _read_idx(d / FILES[3], 2049).astype(np.int64)
    return train_x, train_y, test_x, test_y
