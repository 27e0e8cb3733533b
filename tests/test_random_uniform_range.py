"""tf.random_uniform stays in [0, 1) on TF's grid, so dropout's floor(keep_prob + u) is never 2.

A float64 draw just below 1 (here forced: 1 - 2^-30) rounds to 1.0 in float32; TF's kernel draws
multiples of 2^-23 instead. With keep_prob fed as 1.0, such a draw once doubled one unit of 100000.
"""
import numpy as np

import nanotf as tf
from nanotf.ops import random_ops


class _AlmostOne:
    """A generator whose every uniform draw is 1 - 2^-30 (the worst case for rounding to float32)."""
    def random(self, shape):
        return np.full(shape, 1.0 - 2.0 ** -30)


def _forced(monkeypatch):
    monkeypatch.setattr(random_ops, "_rng", lambda op, ctx: _AlmostOne())


def test_uniform_below_one_on_the_float32_grid(monkeypatch, graph):
    _forced(monkeypatch)
    u = tf.random_uniform([1000])
    v = tf.Session().run(u)
    assert v.dtype == np.float32 and v.max() < 1.0
    np.testing.assert_array_equal(v, np.float32(1.0 - 2.0 ** -23))   # the largest multiple of 2^-23 below 1


def test_dropout_with_fed_keep_prob_one_keeps_every_unit_once(monkeypatch, graph):
    _forced(monkeypatch)
    xv = np.full((200, 500), 3.0, dtype=np.float32)
    x = tf.placeholder(tf.float32, [None, 500])
    keep = tf.placeholder(tf.float32)
    y = tf.nn.dropout(x, keep)
    np.testing.assert_array_equal(tf.Session().run(y, {x: xv, keep: 1.0}), xv)


def test_uniform_draws_spread_over_the_interval(graph):
    v = tf.Session().run(tf.random_uniform([200000], seed=3))
    assert 0.0 <= v.min() and v.max() < 1.0
    np.testing.assert_array_equal(v * np.float32(2 ** 23) % 1, 0)      # on the 2^-23 grid
    assert abs(v.mean() - 0.5) < 5 * (1 / np.sqrt(12 * 200000))       # mean within 5 standard errors
