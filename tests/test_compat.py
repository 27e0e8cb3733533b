"""TF 1.15 / 2.x spellings of the TF 1.x API: tf.compat.v1, tf.random, tf.io.gfile, and `six`,
which TensorFlow 1.x's own tutorial files import."""
import importlib

import numpy as np
import pytest

import nanotf as tf


def test_compat_v1_is_nanotf_itself():
    tf1 = importlib.import_module("nanotf.compat.v1")
    assert tf1 is tf and tf.compat.v1 is tf
    tf1.disable_eager_execution()
    tf1.disable_v2_behavior()
    assert tf1.executing_eagerly() is False
    with tf1.Graph().as_default():
        x = tf1.placeholder(tf1.float32, [None, 2])
        y = tf1.reduce_sum(x * 3.0)
        with tf1.Session() as sess:
            assert sess.run(y, {x: [[1.0, 2.0]]}) == pytest.approx(9.0)


def test_tf_random_names_draw_what_the_tf1_names_draw():
    def draw(make):
        with tf.Graph().as_default():
            tf.random.set_seed(5)
            t = make()
            with tf.Session() as sess:
                return sess.run(t)
    a = draw(lambda: tf.random.truncated_normal([1000], stddev=2.0))
    b = draw(lambda: tf.truncated_normal([1000], stddev=2.0))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a).max() <= 4.0 and 1.5 < a.std() < 2.0        # truncated at 2 stddev
    u = draw(lambda: tf.random.uniform([1000], 3.0, 4.0))
    assert 3.0 <= u.min() and u.max() < 4.0
    n = draw(lambda: tf.random.normal([4000], mean=1.0))
    assert abs(n.mean() - 1.0) < 0.1 and abs(n.std() - 1.0) < 0.1


def test_io_gfile_lower_case_names_on_the_local_filesystem(tmp_path):
    g = tf.io.gfile
    d = str(tmp_path / "a" / "b")
    g.makedirs(d)
    assert g.exists(d) and g.isdir(d)
    with g.GFile(d + "/x.txt", "w") as f:
        f.write("hello")
    g.copy(d + "/x.txt", d + "/y.txt")
    g.rename(d + "/y.txt", d + "/z.txt")
    assert sorted(g.listdir(d)) == ["x.txt", "z.txt"]
    assert g.glob(d + "/*.txt") == sorted([d + "/x.txt", d + "/z.txt"])
    assert g.stat(d + "/z.txt").length == 5
    g.remove(d + "/x.txt")
    assert not g.exists(d + "/x.txt")
    g.rmtree(str(tmp_path / "a"))
    assert not g.exists(str(tmp_path / "a"))


def test_six_is_installed_for_tf1_programs():
    from six.moves import xrange   # the first import of TF 1.x's fully_connected_feed.py
    assert list(xrange(3)) == [0, 1, 2]
