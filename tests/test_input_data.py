"""Tests of the MNIST data layer (nanotf.datasets, input_data).

No network: downloads come from an http.server on 127.0.0.1 serving small
IDX files written here, whose hashes are passed as ``checksums=``.
"""

import gzip
import hashlib
import http.server
import io
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from nanotf.datasets import download, local_copies, mnist
from nanotf.datasets.mnist import (ChecksumError, DataSet, DownloadError,
                                   IDXFormatError, read_data_sets)
from nanotf.examples.tutorials.mnist import input_data

NAMES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
         't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']
N_TRAIN, N_TEST = 60, 10


# ------------------------------------------------------------ helpers

def idx_images(images):
    n, r, c = images.shape
    head = b''.join(v.to_bytes(4, 'big') for v in (2051, n, r, c))
    return head + images.astype(np.uint8).tobytes()


def idx_labels(labels):
    head = b''.join(v.to_bytes(4, 'big') for v in (2049, len(labels)))
    return head + np.asarray(labels, np.uint8).tobytes()


def tiny_arrays():
    rng = np.random.default_rng(1234)
    return {
        'x_train': rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        'y_train': (np.arange(N_TRAIN) * 7 % 10).astype(np.uint8),
        'x_test': rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        'y_test': (np.arange(N_TEST) % 10).astype(np.uint8),
    }


ARRAYS = tiny_arrays()
PAYLOADS = {
    NAMES[0]: idx_images(ARRAYS['x_train']),
    NAMES[1]: idx_labels(ARRAYS['y_train']),
    NAMES[2]: idx_images(ARRAYS['x_test']),
    NAMES[3]: idx_labels(ARRAYS['y_test']),
}
CHECKSUMS = {n: hashlib.sha256(p).hexdigest() for n, p in PAYLOADS.items()}
GZ = {n + '.gz': gzip.compress(p, mtime=0) for n, p in PAYLOADS.items()}


def write_files(directory, gz=True, overrides=None):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, payload in PAYLOADS.items():
        fname, data = (name + '.gz', GZ[name + '.gz']) if gz else (name,
                                                                   payload)
        if overrides and fname in overrides:
            data = overrides[fname]
        (directory / fname).write_bytes(data)
    return directory


def load(directory, **kw):
    kw.setdefault('checksums', CHECKSUMS)
    kw.setdefault('validation_size', 20)
    return read_data_sets(str(directory), **kw)


def leftovers(directory):
    if not Path(directory).exists():
        return []
    return sorted(p.name for p in Path(directory).iterdir()
                  if p.name.endswith('.part') or p.name.startswith('.'))


class Server(object):
    """http.server on 127.0.0.1:0; ``routes[path] = bytes | (kind, bytes)``.

    kinds: 'ok', 'cut' (Content-Length of the whole, half the body, close),
    'cut-nolen' (half the body, no Content-Length).  Unknown path: 404.
    """

    def __init__(self):
        self.routes = {}
        self.hits = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits.append(self.path)
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                kind, body = route if isinstance(route, tuple) else ('ok',
                                                                     route)
                self.send_response(200)
                if kind != 'cut-nolen':
                    self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                if kind == 'ok':
                    self.wfile.write(body)
                else:
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                     Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def url(self, prefix):
        return 'http://127.0.0.1:%d/%s/' % (self.httpd.server_address[1],
                                            prefix)

    def serve(self, prefix, files):
        for name, body in files.items():
            self.routes['/%s/%s' % (prefix, name)] = body
        return self.url(prefix)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def closed_port_url():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return 'http://127.0.0.1:%d/mnist/' % port


@pytest.fixture(autouse=True)
def isolated(offline_home):
    """Fake HOME / cwd so no real local copy is ever found (tests/conftest.py)."""
    return offline_home


# ------------------------------------------------------------ parsing

def test_extract_from_gz_and_plain_files(tmp_path):
    d = write_files(tmp_path / 'gz')
    with open(d / 'train-images-idx3-ubyte.gz', 'rb') as f:
        images = input_data.extract_images(f)
    assert images.shape == (N_TRAIN, 28, 28, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[..., 0], ARRAYS['x_train'])
    p = write_files(tmp_path / 'plain', gz=False)
    labels = input_data.extract_labels(str(p / 't10k-labels-idx1-ubyte'))
    np.testing.assert_array_equal(labels, ARRAYS['y_test'])
    one_hot = input_data.extract_labels(
        io.BytesIO(GZ['t10k-labels-idx1-ubyte.gz']), one_hot=True)
    assert one_hot.dtype == np.float64 and one_hot.shape == (N_TEST, 10)
    np.testing.assert_array_equal(one_hot.argmax(1), ARRAYS['y_test'])


def test_dense_to_one_hot():
    out = input_data.dense_to_one_hot(np.array([0, 3, 9], np.uint8), 10)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.eye(10)[[0, 3, 9]])


BAD = {
    'magic': idx_labels(ARRAYS['y_train']),            # labels as images
    'short-header': PAYLOADS[NAMES[0]][:10],
    'truncated': PAYLOADS[NAMES[0]][:-5],
    'extra': PAYLOADS[NAMES[0]] + b'\0\0\0',
}


@pytest.mark.parametrize('case,needle', [
    ('magic', 'magic number 2049'), ('short-header', 'truncated'),
    ('truncated', 'truncated'), ('extra', 'extra data'),
    ('bad-gzip', 'gzip'), ('cut-gzip', 'gzip')])
def test_corrupt_image_file_is_named(tmp_path, case, needle):
    if case == 'bad-gzip':
        data = b'\x1f\x8b' + b'garbage' * 20
    elif case == 'cut-gzip':
        data = GZ['train-images-idx3-ubyte.gz'][:-100]
    else:
        data = gzip.compress(BAD[case])
    d = write_files(tmp_path, overrides={'train-images-idx3-ubyte.gz': data})
    with pytest.raises(IDXFormatError) as info:
        load(d, checksums={})
    msg = str(info.value)
    assert str(d / 'train-images-idx3-ubyte.gz') in msg
    assert needle in msg
    assert 'Delete' in msg
    with pytest.raises(ValueError, match='train-images'):
        with open(d / 'train-images-idx3-ubyte.gz', 'rb') as f:
            input_data.extract_images(f)


def test_label_count_mismatch(tmp_path):
    d = write_files(tmp_path, overrides={
        't10k-labels-idx1-ubyte.gz': gzip.compress(idx_labels([1, 2, 3]))})
    with pytest.raises(ValueError) as info:
        load(d, checksums={})
    assert 't10k-images-idx3-ubyte.gz' in str(info.value)
    assert 't10k-labels-idx1-ubyte.gz' in str(info.value)
    assert '10 images' in str(info.value) and '3 labels' in str(info.value)


def test_present_file_failing_checksum_is_an_error(tmp_path):
    other = ARRAYS['x_test'].copy()
    other[0, 0, 0] ^= 1
    d = write_files(tmp_path, overrides={
        't10k-images-idx3-ubyte.gz': gzip.compress(idx_images(other))})
    with pytest.raises(ChecksumError) as info:
        load(d)
    msg = str(info.value)
    assert str(d / 't10k-images-idx3-ubyte.gz') in msg
    assert CHECKSUMS['t10k-images-idx3-ubyte'] in msg and 'Delete' in msg
    assert (d / 't10k-images-idx3-ubyte.gz').exists()  # never overwritten


def test_uncompressed_and_mixed_files(tmp_path):
    d = write_files(tmp_path / 'a', gz=False)
    ds = load(d)
    assert ds.train.num_examples == N_TRAIN - 20
    (d / 'train-labels-idx1-ubyte').unlink()
    (d / 'train-labels-idx1-ubyte.gz').write_bytes(
        GZ['train-labels-idx1-ubyte.gz'])
    ds2 = load(d)
    np.testing.assert_array_equal(ds.train.labels, ds2.train.labels)


# ------------------------------------------------------------ downloads

def test_default_mirrors():
    assert mnist.MNIST_MIRRORS == (
        'https://storage.googleapis.com/cvdf-datasets/mnist/',
        'https://ossci-datasets.s3.amazonaws.com/mnist/',
        'http://yann.lecun.com/exdb/mnist/')
    assert input_data.DEFAULT_SOURCE_URL == mnist.MNIST_MIRRORS[0]
    assert mnist.FASHION_MNIST_MIRRORS == (
        'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',)
    for table in mnist.SHA256.values():
        assert sorted(table) == sorted(NAMES)


def test_mirror_fallback_404_and_refused(tmp_path, server, closed_port_url):
    empty = server.url('empty')          # 404 for everything
    good = server.serve('good', GZ)
    d = tmp_path / 'data'
    ds = load(d, source_url=[closed_port_url, empty, good.rstrip('/')])
    assert sorted(p.name for p in d.iterdir()) == sorted(GZ)
    assert leftovers(d) == []
    umask = os.umask(0)
    os.umask(umask)
    assert (d / 'train-images-idx3-ubyte.gz').stat().st_mode & 0o777 == (
        0o666 & ~umask)
    assert ds.test.num_examples == N_TEST
    assert sum(h.startswith('/empty/') for h in server.hits) == 4
    # second run: no download at all
    server.hits.clear()
    load(d, source_url=good)
    assert server.hits == []


def test_checksum_mismatch_tries_next_mirror(tmp_path, server):
    bad = dict(GZ)
    other = ARRAYS['x_train'].copy()
    other[5] = 0
    bad['train-images-idx3-ubyte.gz'] = gzip.compress(idx_images(other))
    first = server.serve('bad', bad)
    second = server.serve('good', GZ)
    d = tmp_path / 'data'
    ds = load(d, source_url=[first, second], validation_size=0)
    np.testing.assert_array_equal(
        ds.train.images.reshape(-1, 28, 28),
        ARRAYS['x_train'].astype(np.float32) * (1.0 / 255.0))
    assert '/good/train-images-idx3-ubyte.gz' in server.hits
    assert '/good/train-labels-idx1-ubyte.gz' not in server.hits
    assert leftovers(d) == []


@pytest.mark.parametrize('kind', ['cut', 'cut-nolen'])
def test_interrupted_download_leaves_nothing(tmp_path, server, kind):
    files = dict(GZ)
    files['train-images-idx3-ubyte.gz'] = (kind,
                                           GZ['train-images-idx3-ubyte.gz'])
    broken = server.serve('broken', files)
    d = tmp_path / 'data'
    with pytest.raises(DownloadError) as info:
        load(d, source_url=broken)
    assert 'train-images-idx3-ubyte.gz' in str(info.value)
    assert not (d / 'train-images-idx3-ubyte.gz').exists()
    assert not (d / 'train-images-idx3-ubyte').exists()
    assert leftovers(d) == []
    # the other three were fine and are kept; a rerun fetches only the one
    assert (d / 'train-labels-idx1-ubyte.gz').exists()
    good = server.serve('good', GZ)
    server.hits.clear()
    ds = load(d, source_url=good)
    assert server.hits == ['/good/train-images-idx3-ubyte.gz']
    assert ds.validation.num_examples == 20


def test_all_mirrors_fail_message(tmp_path, server, closed_port_url):
    missing = server.url('missing')
    d = tmp_path / 'data'
    with pytest.raises(DownloadError) as info:
        load(d, source_url=[closed_port_url, missing])
    assert isinstance(info.value, OSError)
    msg = str(info.value)
    for name in GZ:
        assert closed_port_url + name in msg
        assert missing + name in msg
        assert name in msg
    assert 'HTTP 404' in msg and 'cannot connect' in msg
    assert str(d) in msg
    assert '--fake_data' in msg
    # the refusing host was only contacted once, then skipped
    assert msg.count('not tried: host unreachable') == 3
    # nothing was written, so the data folder (and its parents) were not
    # created either
    assert not d.exists()


def test_failure_creates_no_parent_folders_and_keeps_existing_ones(
        tmp_path, closed_port_url):
    deep = tmp_path / 'a' / 'b' / 'data'
    with pytest.raises(DownloadError):
        load(deep, source_url=closed_port_url)
    assert not (tmp_path / 'a').exists()
    existing = tmp_path / 'mine'
    existing.mkdir()
    with pytest.raises(DownloadError):
        load(existing, source_url=closed_port_url)
    assert existing.is_dir() and list(existing.iterdir()) == []


def test_data_dir_that_is_a_file_is_named(tmp_path):
    f = tmp_path / 'data'
    f.write_text('not a folder')
    with pytest.raises(NotADirectoryError) as info:
        load(f, source_url='http://127.0.0.1:9/')
    assert str(f) in str(info.value)
    assert f.read_text() == 'not a folder'


def test_maybe_download(tmp_path, server):
    base = server.serve('m', GZ)
    name = 't10k-labels-idx1-ubyte.gz'
    digest = hashlib.sha256(GZ[name]).hexdigest()
    path = input_data.maybe_download(name, str(tmp_path / 'w'), base + name,
                                     sha256=digest)
    assert Path(path).read_bytes() == GZ[name]
    assert input_data.maybe_download(name, str(tmp_path / 'w'),
                                     'http://unused/') == path
    with pytest.raises(DownloadError, match='SHA-256'):
        input_data.maybe_download(name, str(tmp_path / 'x'), [base],
                                  sha256='0' * 64)
    assert not (tmp_path / 'x' / name).exists()


def test_progress_only_on_tty():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    out = Tty()
    bar = download._Progress('f.gz', 2000000, stream=out)
    bar.update(1000000, final=True)
    bar.close()
    text = out.getvalue()
    assert '50.0%' in text and '1.0/2.0 MB' in text and 'MB/s' in text
    plain = io.StringIO()
    bar = download._Progress('f.gz', 10, stream=plain)
    bar.update(5, final=True)
    bar.close()
    assert plain.getvalue() == ''


# ------------------------------------------------------------ local copies

def test_reuses_keras_npz(tmp_path, isolated, closed_port_url, capsys):
    keras = isolated / '.keras' / 'datasets'
    keras.mkdir(parents=True)
    np.savez(keras / 'mnist.npz', **ARRAYS)
    d = tmp_path / 'data'
    ds = load(d, source_url=closed_port_url)
    out = capsys.readouterr().out
    assert out.count('reusing') == 1 and 'mnist.npz' in out
    np.testing.assert_array_equal(ds.test.labels, ARRAYS['y_test'])
    assert sorted(p.name for p in d.iterdir()) == sorted(NAMES)
    assert leftovers(d) == []


def test_rejects_keras_npz_with_other_data(tmp_path, isolated,
                                           closed_port_url):
    keras = isolated / '.keras' / 'datasets'
    keras.mkdir(parents=True)
    arrays = dict(ARRAYS, y_test=ARRAYS['y_test'][::-1].copy())
    np.savez(keras / 'mnist.npz', **arrays)
    d = tmp_path / 'data'
    with pytest.raises(DownloadError) as info:
        load(d, source_url=closed_port_url)
    msg = str(info.value)
    assert 'mnist.npz' in msg and 'does not match' in msg
    assert 't10k-labels-idx1-ubyte.gz' in msg
    assert not (d / 't10k-labels-idx1-ubyte').exists()


def test_reuses_torchvision_raw_folder(tmp_path, closed_port_url, capsys):
    write_files(Path.cwd() / 'data' / 'MNIST' / 'raw', gz=False)
    d = tmp_path / 'data'
    ds = load(d, source_url=closed_port_url)
    assert 'MNIST/raw' in capsys.readouterr().out
    assert ds.train.num_examples == N_TRAIN - 20


def test_fashion_from_debian_folder(tmp_path, monkeypatch, closed_port_url):
    deb = write_files(tmp_path / 'deb')
    monkeypatch.setattr(local_copies, 'DEBIAN_FASHION_MNIST_DIR', str(deb))
    ds = mnist.load_fashion_mnist(str(tmp_path / 'f'), checksums=CHECKSUMS,
                                  source_url=closed_port_url,
                                  validation_size=0)
    np.testing.assert_array_equal(ds.train.labels, ARRAYS['y_train'])
    # with the built-in table the tiny files are not Fashion-MNIST
    with pytest.raises(ChecksumError):
        read_data_sets(str(tmp_path / 'f'), dataset='fashion_mnist')


# ------------------------------------------------------------ DataSet

def test_splits_and_validation_is_first(tmp_path):
    d = write_files(tmp_path)
    ds = load(d, validation_size=25)
    assert isinstance(ds, input_data.Datasets)
    assert (ds.train.num_examples, ds.validation.num_examples,
            ds.test.num_examples) == (N_TRAIN - 25, 25, N_TEST)
    np.testing.assert_array_equal(ds.validation.labels,
                                  ARRAYS['y_train'][:25])
    np.testing.assert_array_equal(ds.train.labels, ARRAYS['y_train'][25:])
    assert ds.train.images.shape == (N_TRAIN - 25, 784)
    assert ds.train.images.dtype == np.float32
    assert load(d, validation_size=0).validation.num_examples == 0
    assert load(d, validation_size=N_TRAIN).train.num_examples == 0
    for bad in (-1, N_TRAIN + 1):
        with pytest.raises(ValueError, match='between 0 and %d. Received: %d'
                           % (N_TRAIN, bad)):
            load(d, validation_size=bad)


def test_dtype_and_reshape(tmp_path):
    d = write_files(tmp_path)
    f = load(d, validation_size=0)
    expected = np.multiply(ARRAYS['x_test'].astype(np.float32), 1.0 / 255.0)
    np.testing.assert_array_equal(f.test.images.reshape(-1, 28, 28),
                                  expected)
    assert f.test.images.min() >= 0 and f.test.images.max() <= 1
    u = load(d, dtype='uint8', reshape=False)
    assert u.test.images.dtype == np.uint8
    assert u.test.images.shape == (N_TEST, 28, 28, 1)
    np.testing.assert_array_equal(u.test.images[..., 0], ARRAYS['x_test'])

    class FakeDType(object):
        as_numpy_dtype = np.uint8
    assert load(d, dtype=FakeDType()).test.images.dtype == np.uint8
    assert load(d, dtype=np.dtype('float32')).test.images.dtype == np.float32
    with pytest.raises(TypeError, match='uint8 or float32'):
        load(d, dtype=np.float64)


def test_one_hot(tmp_path):
    ds = load(write_files(tmp_path), one_hot=True)
    assert ds.train.labels.shape == (N_TRAIN - 20, 10)
    assert ds.train.labels.dtype == np.float64
    np.testing.assert_array_equal(ds.train.labels.argmax(1),
                                  ARRAYS['y_train'][20:])
    _, y = ds.train.next_batch(7)
    assert y.shape == (7, 10) and (y.sum(1) == 1).all()


def make_set(n=10, **kw):
    images = np.arange(n, dtype=np.uint8).repeat(4).reshape(n, 2, 2, 1)
    return DataSet(images, np.arange(n, dtype=np.uint8), **kw)


def test_next_batch_without_shuffle_epoch_boundary():
    ds = make_set(dtype=np.uint8)
    seen = [ds.next_batch(4, shuffle=False) for _ in range(4)]
    labels = [b[1].tolist() for b in seen]
    assert labels == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1],
                      [2, 3, 4, 5]]
    assert seen[2][0].shape == (4, 4)
    assert seen[2][0][:, 0].tolist() == [8, 9, 0, 1]
    assert ds.epochs_completed == 1
    # an exact end of epoch does not count until the next call
    ds = make_set()
    ds.next_batch(10, shuffle=False)
    assert ds.epochs_completed == 0
    x, y = ds.next_batch(3, shuffle=False)
    assert ds.epochs_completed == 1 and y.tolist() == [0, 1, 2]
    assert x.dtype == np.float32


def test_next_batch_with_seed_follows_tf_algorithm():
    ds = make_set(seed=7)
    rng = np.random.default_rng(7)
    order = rng.permutation(10)               # shuffled before first batch
    _, y1 = ds.next_batch(4)
    _, y2 = ds.next_batch(4)
    assert y1.tolist() == order[:4].tolist()
    assert y2.tolist() == order[4:8].tolist()
    x3, y3 = ds.next_batch(5)                 # 2 old + 3 of new epoch
    rest = order[8:]
    order = order[rng.permutation(10)]
    assert y3.tolist() == rest.tolist() + order[:3].tolist()
    np.testing.assert_array_equal(np.rint(x3[:, 0] * 255), y3)
    assert ds.epochs_completed == 1
    # the images/labels properties follow the current order, as in TF
    assert ds.labels.tolist() == order.tolist()
    np.testing.assert_array_equal(np.rint(ds.images[:, 0] * 255), order)
    # a batch covers each example once per epoch
    fresh = make_set(n=100, seed=3)
    ys = np.concatenate([fresh.next_batch(10)[1] for _ in range(10)])
    assert sorted(ys.tolist()) == list(range(100))


def test_next_batch_deterministic_for_seed():
    def run(seed):
        ds = make_set(n=50, seed=seed)
        return np.concatenate([ds.next_batch(7)[1] for _ in range(20)])
    np.testing.assert_array_equal(run(5), run(5))
    assert not np.array_equal(run(5), run(6))
    with pytest.raises(ValueError):
        make_set().next_batch(11)


def test_batches_do_not_alias_the_store():
    ds = make_set(dtype=np.uint8)
    x, y = ds.next_batch(3, shuffle=False)
    x[:] = 99
    y[:] = 99
    assert ds.next_batch(7, shuffle=False)[1].tolist() == list(range(3, 10))
    assert ds.images.max() == 9


def test_fake_data(tmp_path):
    ds = input_data.read_data_sets(str(tmp_path / 'none'), fake_data=True)
    assert not (tmp_path / 'none').exists()
    for s in ds:
        assert s.num_examples == 10000
    x, y = ds.train.next_batch(3, fake_data=True)
    assert x == [[1] * 784] * 3 and y == [0] * 3
    oh = input_data.read_data_sets('', fake_data=True, one_hot=True)
    x, y = oh.test.next_batch(2, fake_data=True)
    assert len(x) == 2 and len(x[0]) == 784
    assert y == [[1] + [0] * 9] * 2


# ------------------------------------------------------------ misc

def test_import_is_light():
    """The data layer imports only NumPy + stdlib (not the engine, not
    urllib.request until a download starts).  nanotf/__init__ is replaced by
    an empty package so the check is about this layer alone."""
    root = Path(__file__).resolve().parents[1]
    code = '\n'.join([
        'import sys, types',
        'pkg = types.ModuleType("nanotf")',
        'pkg.__path__ = [%r]' % str(root / 'nanotf'),
        'sys.modules["nanotf"] = pkg',
        'import nanotf.datasets.mnist',
        'import nanotf.examples.tutorials.mnist.input_data',
        'ok = ("nanotf", "nanotf.datasets", "nanotf.examples")',
        'print(sorted(m for m in sys.modules if m == "urllib.request" or',
        '      m.startswith("nanotf.") and not m.startswith(ok)))',
    ])
    out = subprocess.run([sys.executable, '-c', code], cwd=str(root),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '[]'


def test_interrupt_removes_temp_file(tmp_path, monkeypatch):
    seen = []

    def boom(url, open_dest, timeout, label):
        with open_dest() as fileobj:
            fileobj.write(b'partial')
            seen.append(sorted(p.name for p in (tmp_path / 'd').iterdir()))
            raise KeyboardInterrupt
    monkeypatch.setattr(download, '_stream_to', boom)
    with pytest.raises(KeyboardInterrupt):
        load(tmp_path / 'd', source_url='http://127.0.0.1:9/')
    assert len(seen) == 1 and seen[0][0].endswith('.part')
    # the temp file is gone, and so is the folder made only to hold it
    assert not (tmp_path / 'd').exists()


def test_real_mnist(real_mnist_copy):
    ds = input_data.read_data_sets(str(real_mnist_copy))
    assert ds.train.images.shape == (55000, 784)
    assert ds.validation.images.shape == (5000, 784)
    assert ds.test.images.shape == (10000, 784)
    assert ds.validation.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1,
                                                  4]
    assert np.bincount(ds.test.labels).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    mean = (ds.train.images.sum(dtype=np.float64)
            + ds.validation.images.sum(dtype=np.float64)) / (60000 * 784)
    assert abs(mean - 0.1307) < 1e-4


def test_real_fashion_mnist_from_debian(tmp_path, monkeypatch,
                                        closed_port_url):
    deb = Path('/usr/share/datasets/fashion-mnist')
    if not (deb / 't10k-labels-idx1-ubyte.gz').exists():
        pytest.skip('dataset-fashion-mnist is not installed')
    monkeypatch.setattr(local_copies, 'DEBIAN_FASHION_MNIST_DIR', str(deb))
    d = tmp_path / 'f'
    d.mkdir()
    for n in NAMES[:3]:  # the labels file comes from the Debian fallback
        os.symlink(deb / (n + '.gz'), d / (n + '.gz'))
    ds = read_data_sets(str(d), dataset='fashion_mnist',
                        source_url=closed_port_url)
    assert (d / 't10k-labels-idx1-ubyte.gz').is_file()
    assert np.bincount(ds.test.labels).tolist() == [1000] * 10
