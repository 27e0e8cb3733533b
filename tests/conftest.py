"""Fixtures the test files share.

Graphs:   `fresh_graph` empties the global default graph before and after (a module applies it to every test with
          `pytestmark = pytest.mark.usefixtures("fresh_graph")`); `graph` makes a new Graph the default
          for the test and yields it.
Data:     `rng`, a NumPy Generator seeded 0; `real_mnist_dir`, the folder holding the real MNIST files
          (the test is skipped when there is none); `real_mnist_copy`, a folder of the test's own that
          links to them, for programs that write beside their data.
Isolated: `offline_home` points HOME, the working directory and the dataset libraries' other places
          into the test's tmp_path, so that no local dataset copy is found and nothing lands in the
          repository; it returns the fake HOME.
Faults:   `full_disk(True)` makes every later checkpoint data-file write fail as on a full disk;
          `full_disk(False)` gives the room back.

The example programs of examples/tf1 are importable by name (`import lstm_mnist`).
"""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
try:
    import nanotf  # noqa: F401
except ImportError:  # the project is not installed: test this checkout
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples" / "tf1"))

import nanotf as tf  # noqa: E402
from nanotf.datasets import download, local_copies  # noqa: E402
import _mnist_arrays  # noqa: E402  (where MNIST is kept: the example programs know)

# Beyond the places nanotf-mnist keeps MNIST ($NANOTF_DATA_DIR/mnist, ~/.cache/nanotf/mnist), the developers'
# machines hold a verified copy in ../shared/data/mnist beside the checkout.
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


@pytest.fixture
def graph():
    with tf.Graph().as_default() as g:
        yield g


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def real_mnist_dir():
    """Looked up once, with the user's environment (before any test's offline_home)."""
    dirs = _mnist_arrays.candidate_dirs() + [SHARED_MNIST]
    found = _mnist_arrays.find_data_dir(dirs)
    if found is None:
        pytest.skip("real MNIST not found (looked in %s; put the four .gz files in one of them, e.g. by running "
                    "`nanotf-mnist` once online)" % ", ".join(str(d) for d in dirs))
    return found


@pytest.fixture
def real_mnist_copy(tmp_path, real_mnist_dir):
    d = tmp_path / "mnist"
    d.mkdir()
    for name in _mnist_arrays.FILES:
        os.symlink(real_mnist_dir / name, d / name)
    return d


@pytest.fixture
def full_disk(monkeypatch):
    import safetensors
    import safetensors.numpy
    real_save = safetensors.numpy.save_file

    def full(tensors, path, metadata=None):   # as safetensors fails: a few bytes written, then its ENOSPC error
        with open(path, "wb") as f:
            f.write(b"the first bytes")
        raise safetensors.SafetensorError("Error while serializing: I/O error: No space left on device "
                                          "(os error 28)")

    def set_full(is_full=True):
        monkeypatch.setattr(safetensors.numpy, "save_file", full if is_full else real_save)
    return set_full


@pytest.fixture
def offline_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(local_copies, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "no-debian"))
    monkeypatch.setattr(download, "DEFAULT_TIMEOUT", 5.0)
    return home
