"""A big batch runs the row-wise front of a pure plan in slices (nanotf/compiler/chunking.py).

The values, sliced or whole, must equal an independent float64 NumPy forward pass within float32's
error bound for that pass (a product on a slice of rows need not round as the whole product does, on
every BLAS kernel, so sliced and whole runs are never required to agree bit for bit); training steps
and plans whose front would draw random numbers are never split; and the Deep MNIST evaluation of
10000 images stays far below a gigabyte.
"""
import os
import resource
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nanotf as tf
from nanotf.compiler import chunking as _chunking

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def small_slices(monkeypatch):
    """Split from 64 KB of row-wise tensor per batch, in slices of ~16 KB: small test batches split."""
    monkeypatch.setattr(_chunking, "_TRIGGER_BYTES", 64 << 10)
    monkeypatch.setattr(_chunking, "_SLICE_BYTES", 16 << 10)


def _no_split(monkeypatch):
    monkeypatch.setattr(_chunking, "_TRIGGER_BYTES", 1 << 62)


def _conv_ref(x, w):
    """float64 'SAME' stride-1 NHWC convolution by explicit taps."""
    kh, kw = w.shape[:2]
    pt, pl = (kh - 1) // 2, (kw - 1) // 2
    n, h, wd, _ = x.shape
    xp = np.zeros((n, h + kh - 1, wd + kw - 1, x.shape[3]))
    xp[:, pt:pt + h, pl:pl + wd] = x
    out = np.zeros((n, h, wd, w.shape[3]))
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nhwc,co->nhwo", xp[:, i:i + h, j:j + wd], w[i, j])
    return out


def _pool_ref(x):
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


EPS32 = float(np.finfo(np.float32).eps)   # 2**-23: twice float32's unit roundoff u


def _sum_bound(terms, magnitude):
    """Worst-case error of a float32 sum of `terms` products (any order: any kernel, blocking or slice),
    twice gamma_K = K u / (1 - K u), times the sum of the terms' magnitudes."""
    return terms * EPS32 * magnitude


class ConvNet:
    """A small Deep-MNIST-shaped net on 8x8 images: conv 3x3 1->4, relu, pool, fc 64->10, argmax."""

    def __init__(self, explicit_batch=None):
        rng = np.random.default_rng(3)
        self.w1 = rng.normal(0, 0.5, (3, 3, 1, 4)).astype(np.float32)
        self.b1 = rng.normal(0, 0.1, 4).astype(np.float32)
        self.w2 = rng.normal(0, 0.3, (64, 10)).astype(np.float32)
        self.x = tf.placeholder(tf.float32, [None, 64], name="x")
        self.labels = tf.placeholder(tf.int64, [None], name="labels")
        img = tf.reshape(self.x, [explicit_batch or -1, 8, 8, 1])
        self.h = tf.nn.relu(tf.nn.conv2d(img, tf.constant(self.w1), [1, 1, 1, 1], "SAME") + tf.constant(self.b1))
        pooled = tf.nn.max_pool(self.h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
        self.logits = tf.matmul(tf.reshape(pooled, [-1, 64]), tf.constant(self.w2))
        self.correct = tf.equal(tf.argmax(self.logits, 1), self.labels)
        self.accuracy = tf.reduce_mean(tf.cast(self.correct, tf.float32))

    def reference(self, xs):
        h = np.maximum(_conv_ref(xs.reshape(-1, 8, 8, 1).astype(np.float64), self.w1.astype(np.float64))
                       + self.b1, 0)
        return h, _pool_ref(h).reshape(-1, 64) @ self.w2.astype(np.float64)

    def error_bounds(self, xs):
        """Bounds on |float32 value - float64 reference| of h and of the logits, propagated through the
        net: the convolution is a 9-term sum plus the bias (10 roundings); ReLU and max-pooling move no
        value by more than their inputs moved; the logits are 64-term sums of pooled values that carry
        their own error: |err| <= err_pool @ |w2| + 64 eps (|pool| + err_pool) @ |w2|."""
        x = xs.reshape(-1, 8, 8, 1).astype(np.float64)
        conv_mag = _conv_ref(np.abs(x), np.abs(self.w1).astype(np.float64)) + np.abs(self.b1)
        h_err = _sum_bound(9 + 1, conv_mag)
        h_ref, _ = self.reference(xs)
        pooled_err = _pool_ref(h_err).reshape(-1, 64)
        pooled_mag = _pool_ref(h_ref).reshape(-1, 64) + pooled_err
        w2 = np.abs(self.w2).astype(np.float64)
        return h_err, pooled_err @ w2 + _sum_bound(64, pooled_mag @ w2)


def _assert_within(got, ref, bound, what):
    err = np.abs(np.asarray(got, np.float64) - ref)
    worst = np.unravel_index(np.argmax(err - bound), err.shape)
    assert (err <= bound).all(), "%s at %s: %r vs float64 %r, bound %.3g" % (
        what, worst, got[worst], ref[worst], bound[worst])


def _assert_accuracy(acc, ref_logits, logit_err, labels):
    """The accuracy counts a row right where the reference's top logit wins by more than both errors;
    rows whose top two logits lie within their error bounds may go either way."""
    top2 = np.sort(ref_logits, axis=1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > 2 * logit_err.max(axis=1)
    right = np.argmax(ref_logits, 1) == labels
    n = len(labels)
    assert (right & decided).sum() / n <= acc + 1e-6 and acc <= (right | ~decided).sum() / n + 1e-6


def _batch(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n, 64)).astype(np.float32), rng.integers(0, 10, n)


def _plan_of(sess, fetches, feeds):
    return sess._plans[(tuple(fetches), tuple(feeds))]


def test_sliced_front_matches_a_float64_reference_and_the_whole_run(small_slices, monkeypatch):
    xs, ys = _batch(300)
    with tf.Graph().as_default():
        net = ConvNet()
        with tf.Session() as sess:
            acc, logits, h = sess.run([net.accuracy, net.logits, net.h], {net.x: xs, net.labels: ys})
            split = _plan_of(sess, [net.accuracy, net.logits, net.h], [net.x, net.labels]).split
            assert split is not None and split.parts, "the 300-image run should have been sliced"
            assert split.row_bytes == 8 * 8 * 4 * 4        # conv output per image
            assert _chunking._SLICE_BYTES // split.row_bytes < 300
    ref_h, ref_logits = net.reference(xs)
    h_err, logits_err = net.error_bounds(xs)
    _no_split(monkeypatch)
    with tf.Graph().as_default():
        net = ConvNet()
        with tf.Session() as sess:
            whole = sess.run([net.accuracy, net.logits, net.h], {net.x: xs, net.labels: ys})
    for run, (got_acc, got_logits, got_h) in (("sliced", (acc, logits, h)), ("whole", whole)):
        _assert_within(got_h, ref_h, h_err, "%s run, conv + relu" % run)
        _assert_within(got_logits, ref_logits, logits_err, "%s run, logits" % run)
        _assert_accuracy(got_acc, ref_logits, logits_err, ys)


def test_boundary_is_what_the_rest_of_the_plan_reads(small_slices):
    xs, ys = _batch(200)
    with tf.Graph().as_default():
        net = ConvNet()
        with tf.Session() as sess:
            sess.run(net.accuracy, {net.x: xs, net.labels: ys})
            split = _plan_of(sess, [net.accuracy], [net.x, net.labels]).split
    # the mean over the batch is the first op that is not row-wise: only its (Cast) input crosses
    assert [t.op.type for t in split.boundary] == ["Cast"]


def test_small_batches_are_not_sliced(small_slices):
    xs, ys = _batch(20)        # 20 * 1 KB < 64 KB
    with tf.Graph().as_default():
        net = ConvNet()
        with tf.Session() as sess:
            sess.run(net.logits, {net.x: xs})
            split = _plan_of(sess, [net.logits], [net.x]).split
            assert split is not None and split.parts is None     # analysed, never compiled


def test_training_steps_are_never_split(small_slices):
    xs, ys = _batch(300)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 64])
        w = tf.Variable(tf.zeros([64, 10]))
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - 1.0))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train, {x: xs})
            assert _plan_of(sess, [train], [x]).split is None
            # one SGD step from zero weights: w = 0.1 * 2/(N*10) * X^T 1  (closed form)
            expected = 0.1 * 2.0 / (300 * 10) * xs.astype(np.float64).T @ np.ones((300, 10))
            np.testing.assert_allclose(sess.run(w), expected, rtol=1e-5)


def test_a_reshape_to_an_explicit_batch_size_is_not_row_wise(small_slices):
    xs, _ = _batch(256)
    with tf.Graph().as_default():
        net = ConvNet(explicit_batch=256)
        with tf.Session() as sess:
            logits = sess.run(net.logits, {net.x: xs})
            split = _plan_of(sess, [net.logits], [net.x]).split
    assert split is None or not split.parts
    np.testing.assert_allclose(logits, net.reference(xs)[1], rtol=1e-4, atol=1e-4)


def test_dropout_after_the_front_draws_as_in_a_whole_run(small_slices, monkeypatch):
    """The random op (dropout's uniform draw) is not row-wise, so it runs once on the whole batch,
    drawing exactly what the unsplit plan draws: the same units are dropped, and the kept ones are the
    logits (within their float32 bound of the float64 reference) scaled by 1 / keep_prob."""
    xs, _ = _batch(300)

    def run():
        with tf.Graph().as_default():
            tf.set_random_seed(7)
            net = ConvNet()
            dropped = tf.nn.dropout(net.logits, keep_prob=0.5)
            with tf.Session() as sess:
                out = sess.run(dropped, {net.x: xs})
                split = _plan_of(sess, [dropped], [net.x]).split
                return out, split is not None and bool(split.parts), net

    sliced, was_split, net = run()
    assert was_split
    _no_split(monkeypatch)
    whole, was_split, _ = run()
    assert not was_split
    _, ref_logits = net.reference(xs)
    _, logits_err = net.error_bounds(xs)
    assert (ref_logits != 0).all()                  # so a zero is a dropped unit, never a kept one
    np.testing.assert_array_equal(sliced == 0, whole == 0)
    assert 0.3 < np.mean(sliced == 0) < 0.7
    for got in (sliced, whole):
        kept = got != 0
        # x / 0.5 is exact in binary floating point: the bound doubles with the values
        _assert_within(got[kept], 2 * ref_logits[kept], 2 * logits_err[kept], "kept units")


def test_feeds_of_different_lengths_run_whole(small_slices):
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [None, 512])
        b = tf.placeholder(tf.float32, [None, 512])
        total = tf.reduce_sum(tf.square(a)) + tf.reduce_sum(b)
        with tf.Session() as sess:
            xa, xb = np.ones((300, 512), np.float32), np.ones((40, 512), np.float32)
            assert sess.run(total, {a: xa, b: xb}) == pytest.approx(300 * 512 + 40 * 512)
            split = _plan_of(sess, [total], [a, b]).split
            assert split is not None and not split.applies([xa, xb])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS read from getrusage (Linux units)")
def test_deep_mnist_eval_of_10000_images_stays_under_a_gigabyte(tmp_path):
    """The Deep MNIST tutorial evaluates all 10000 test images in one run; conv1's output alone
    would be 1 GB. Run in a fresh process so that its peak RSS is this evaluation's."""
    script = tmp_path / "eval.py"
    script.write_text(textwrap.dedent("""
        import resource, sys
        import numpy as np
        sys.path.insert(0, %r)
        import deep_mnist_step
        import nanotf as tf
        x, y_, keep_prob, loss, _ = deep_mnist_step.build_graph(tf)
        rng = np.random.default_rng(0)
        images = rng.uniform(0, 1, (10000, 784)).astype(np.float32)
        labels = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 10000)]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            value = sess.run(loss, {x: images, y_: labels, keep_prob: 1.0})
        print(float(value), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    """ % os.path.join(ROOT, "benchmarks", "programs")))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, NANOTF_NUM_THREADS="2"))
    assert out.returncode == 0, out.stderr
    loss, peak_mb = out.stdout.split()
    assert np.isfinite(float(loss)) and float(loss) > 0
    assert int(peak_mb) < 600, "peak RSS %s MB" % peak_mb


def test_softmax_over_the_batch_axis_is_not_row_wise(small_slices):
    """softmax(h, axis=0) normalizes over the batch: a sliced run would normalize each slice."""
    xs = np.random.default_rng(1).random((300, 64), dtype=np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 64])
        h = tf.matmul(x, tf.constant(np.eye(64, dtype=np.float32)))
        per_column = tf.reduce_sum(tf.nn.softmax(h, axis=0), 0)
        per_row = tf.reduce_sum(tf.nn.softmax(h), 1)
        with tf.Session() as sess:
            cols, rows = sess.run([per_column, per_row], {x: xs})
    np.testing.assert_allclose(cols, np.ones(64), rtol=1e-5)
    np.testing.assert_allclose(rows, np.ones(300), rtol=1e-5)
