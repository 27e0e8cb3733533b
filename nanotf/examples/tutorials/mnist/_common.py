"""What the MNIST example programs share: where data and runs go by default."""
import os
import time


def default_data_dir(dataset="mnist"):
    """Where datasets are kept unless a flag says otherwise ($NANOTF_DATA_DIR or ~/.cache/nanotf)."""
    root = os.environ.get("NANOTF_DATA_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "nanotf")
    return os.path.join(root, dataset)


def new_run_dir(log_dir):
    """A fresh directory under log_dir named after the start time (never an existing one, so a run
    never overwrites or deletes earlier logs)."""
    stamp = time.strftime("run-%Y%m%d-%H%M%S")
    path, n = os.path.join(log_dir, stamp), 1
    while os.path.exists(path):
        n += 1
        path = os.path.join(log_dir, "%s-%d" % (stamp, n))
    os.makedirs(path)
    return path
