"""Where tests find the real MNIST files, if anywhere on this machine.

Looked for, in order: $NANOTF_DATA_DIR/mnist and ~/.cache/nanotf/mnist (where `nanotf-mnist` keeps its
data), then ../shared/data/mnist beside the checkout (the developers' machines hold a verified copy
there). Tests needing real data skip, naming every place looked, when none holds the four files.
"""
import os
from pathlib import Path

GZ_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def candidate_dirs():
    dirs = []
    if os.environ.get("NANOTF_DATA_DIR"):
        dirs.append(Path(os.environ["NANOTF_DATA_DIR"]) / "mnist")
    dirs.append(Path.home() / ".cache" / "nanotf" / "mnist")
    dirs.append(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist")
    return dirs


def real_mnist_dir():
    """The first folder holding the four gzipped MNIST files, or None."""
    for d in candidate_dirs():
        if all((d / name).is_file() for name in GZ_NAMES):
            return d
    return None


def skip_reason():
    return ("real MNIST not found (looked in %s; put the four .gz files in one of them, e.g. by running "
            "`nanotf-mnist` once online)" % ", ".join(str(d) for d in candidate_dirs()))


def require_real_mnist():
    """The real MNIST folder, or pytest.skip naming where it looked."""
    import pytest
    d = real_mnist_dir()
    if d is None:
        pytest.skip(skip_reason())
    return d
