"""Helpers for tests/test_tutorial.py: running the tutorial in-process, parsing its output, a tiny
IDX dataset, a 127.0.0.1 file server, and an independent NumPy forward pass of the MNIST network."""
import contextlib
import ctypes
import functools
import gzip
import hashlib
import http.server
import io
import json
import re
import socket
import threading
from pathlib import Path

import numpy as np
import safetensors.numpy

from nanotf.examples.tutorials.mnist import fully_connected_feed

# The seed's output lines, exactly (TensorFlow's fully_connected_feed.py formats).
STEP_RE = re.compile(r"^Step (\d+): loss = (\d+\.\d\d|nan|inf) \((\d+\.\d{3}) sec\)$")
EVAL_TITLE_RE = re.compile(r"^(Training|Validation|Test) Data Eval:$")
EVAL_RE = re.compile(r"^  Num examples: (\d+)  Num correct: (\d+)  Precision @ 1: (\d\.\d{4})$")
RUN_DIR_RE = re.compile(r"^Logs and checkpoints: (.+)$")
TENSORBOARD_RE = re.compile(r"^See them in TensorBoard: tensorboard --logdir (.+)$")

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class Failure:
    """A run of main() that did not exit 0: its exit `status` and what it printed on stderr."""

    def __init__(self, status, stderr):
        self.status, self.stderr = status, stderr

    def __repr__(self):
        return "Failure(status=%r, stderr=%r)" % (self.status, self.stderr)


def call_main(module, argv):
    """(exit status, stdout, stderr) of module.main(argv) run in this process; a SystemExit (argparse's,
    for a bad flag) counts as its status."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = module.main([str(a) for a in argv])
        except SystemExit as e:
            status = e.code
    return status, out.getvalue(), err.getvalue()


def run_main(argv):
    """(stdout, None or Failure) of fully_connected_feed.main(argv) run in this process."""
    status, out, err = call_main(fully_connected_feed, argv)
    return out, (None if status == 0 else Failure(status, err))


def parse_output(text):
    """{'steps': [(step, loss text)], 'evals': [(title, examples, correct, precision text)],
    'run_dir': str or None, 'logdir': str or None} from the program's stdout."""
    steps, evals, run_dir, logdir, title = [], [], None, None, None
    for line in text.splitlines():
        if m := STEP_RE.match(line):
            steps.append((int(m.group(1)), m.group(2)))
        elif m := EVAL_TITLE_RE.match(line):
            title = m.group(1)
        elif m := EVAL_RE.match(line):
            evals.append((title, int(m.group(1)), int(m.group(2)), m.group(3)))
        elif m := RUN_DIR_RE.match(line):
            run_dir = m.group(1)
        elif m := TENSORBOARD_RE.match(line):
            logdir = m.group(1)
    return {"steps": steps, "evals": evals, "run_dir": run_dir, "logdir": logdir}


# ------------------------------------------------------------ tiny IDX dataset

def idx_bytes(array, magic):
    """IDX file content: big-endian magic, big-endian dims, raw uint8 data."""
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def tiny_mnist(n_train, n_test, seed=0):
    """Random uint8 images (n, 28, 28) and labels 0..9: {'x_train', 'y_train', 'x_test', 'y_test'}."""
    rng = np.random.default_rng(seed)
    return {"x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
            "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
            "y_test": rng.integers(0, 10, n_test, dtype=np.uint8)}


def write_idx_gz(directory, arrays):
    """Writes the four <name>.gz files; returns {name without .gz: SHA-256 of the decompressed bytes}."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payloads = dict(zip(IDX_NAMES, (idx_bytes(arrays["x_train"], 2051), idx_bytes(arrays["y_train"], 2049),
                                    idx_bytes(arrays["x_test"], 2051), idx_bytes(arrays["y_test"], 2049))))
    for name, payload in payloads.items():
        (directory / (name + ".gz")).write_bytes(gzip.compress(payload, compresslevel=1, mtime=0))
    return {name: hashlib.sha256(p).hexdigest() for name, p in payloads.items()}


def as_float_images(x):
    """The images as the data layer feeds them: (n, 784) float32 scaled by float32(1/255), as TF does."""
    return x.reshape(len(x), -1).astype(np.float32) * np.float32(1.0 / 255.0)


# ------------------------------------------------------------ network

class FileServer:
    """http.server on 127.0.0.1:<free port> serving `directory`; `hits` lists the paths requested."""

    def __init__(self, directory):
        hits = self.hits = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     functools.partial(Handler, directory=str(directory)))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d/" % self.httpd.server_address[1]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def closed_port_url():
    """A 127.0.0.1 URL nobody listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return "http://127.0.0.1:%d/mnist/" % port


# ------------------------------------------------------------ independent forward pass

def load_checkpoint_arrays(data_file):
    """{variable name: array} and the metadata of a safetensors checkpoint, read without nanotf."""
    with open(data_file, "rb") as f:
        blob = f.read()
    arrays = safetensors.numpy.load(blob)
    header_len = int.from_bytes(blob[:8], "little")
    metadata = json.loads(blob[8:8 + header_len]).get("__metadata__", {})
    return arrays, metadata


def numpy_logits(weights, x):
    """The MNIST network's float32 logits for images x, with plain NumPy (overflow gives inf, quietly)."""
    with np.errstate(all="ignore"):
        h = np.maximum(x @ weights["hidden1/weights"] + weights["hidden1/biases"], 0)
        h = np.maximum(h @ weights["hidden2/weights"] + weights["hidden2/biases"], 0)
        return h @ weights["softmax_linear/weights"] + weights["softmax_linear/biases"]


def numpy_mean_xent(weights, x, labels):
    """Mean softmax cross-entropy (float64 from the float32 logits; NaN once the logits are not finite)."""
    z = numpy_logits(weights, x).astype(np.float64)
    with np.errstate(all="ignore"):
        top = z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z - top).sum(axis=1)) + top[:, 0]
        return float(np.mean(log_norm - z[np.arange(len(z)), np.asarray(labels, dtype=np.int64)]))


def numpy_num_correct(weights, images, labels, batch_size=100):
    """How many examples the MNIST network with `weights` puts in its top 1 (ties count as in, as
    tf.nn.in_top_k), computed batch by batch in float32 with plain NumPy."""
    total = 0
    for start in range(0, len(images) - batch_size + 1, batch_size):
        x = images[start:start + batch_size]
        y = np.asarray(labels[start:start + batch_size], dtype=np.int64)
        logits = numpy_logits(weights, x)
        target = logits[np.arange(len(y)), y]
        total += int((np.isfinite(target) & ((logits > target[:, None]).sum(1) == 0)).sum())
    return total


# ------------------------------------------------------------ BLAS threads

def _openblas_thread_calls():
    """(get, set) num-threads functions of the OpenBLAS NumPy loaded, or None (other BLAS, not Linux)."""
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return None
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas_", "64_"), ("scipy_openblas_", ""), ("openblas_", "64_"),
                               ("openblas_", "")):
            get = getattr(lib, "%sget_num_threads%s" % (prefix, suffix), None)
            put = getattr(lib, "%sset_num_threads%s" % (prefix, suffix), None)
            if get is not None and put is not None:
                return get, put
    return None


@contextlib.contextmanager
def single_blas_thread():
    """Runs the block with OpenBLAS on one thread, then restores its setting.

    Why: the tutorial's matmuls are small (100x784 @ 784x128); on a loaded 2-core machine OpenBLAS's
    second thread spin-waits for a core and a 250-step run goes from ~1.5 s to 10-20 s."""
    import numpy  # noqa: F401  (OpenBLAS is loaded with NumPy)
    calls = _openblas_thread_calls()
    if calls is None:
        yield
        return
    get, put = calls
    before = get()
    put(1)
    try:
        yield
    finally:
        put(before)
