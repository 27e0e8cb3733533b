"""compiler/recycling.py: a big elementwise result is written into an array of the session's pool that
nothing else holds (values fetched, views, variables, results still live are never overwritten), and the
pool keeps no more arrays than a run had live at once."""
import weakref

import numpy as np
import pytest

import nanotf as tf
from nanotf.compiler import recycling

pytestmark = pytest.mark.usefixtures("fresh_graph")   # tests/conftest.py


@pytest.fixture
def small_threshold(monkeypatch):
    """Results of 1 KB count as big, so small test arrays take the recycled route."""
    monkeypatch.setattr(recycling, "MIN_BYTES", 1024)


def _scaled_and_read_twice():
    """y = x * s read by two ops, so no input of the Mul is a dead temporary it could write into."""
    x = tf.placeholder(tf.float32, [None, 64])
    s = tf.placeholder(tf.float32, [None, 1])
    y = x * s
    return x, s, y, tf.reduce_sum(y, 1), tf.reduce_max(y, 1)


def _recycled_steps(sess):
    return [st for ex in sess._plans.values() for st in ex.plan.steps if isinstance(st.kernel, recycling.RecycledResult)]


def _pool_arrays(sess):
    return [a for arrays in sess._runtime.big_arrays._arrays.values() for a in arrays]


def _feeds(seed, rows=40):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, 64)).astype(np.float32), rng.standard_normal((rows, 1)).astype(np.float32)


def test_big_result_is_written_into_the_array_of_the_previous_run(small_threshold):
    x, s, y, total, top = _scaled_and_read_twice()
    with tf.Session() as sess:
        kept = []
        for seed in range(3):
            a, b = _feeds(seed)
            got_total, got_top = sess.run([total, top], {x: a, s: b})
            want = a.astype(np.float64) * b
            np.testing.assert_allclose(got_total, want.sum(1), rtol=1e-5, atol=64 * 1e-6 * np.abs(want).max())
            np.testing.assert_array_equal(got_top, (a * b).max(1))   # one float32 product each: exact
            assert len(_recycled_steps(sess)) == 1
            array, = _pool_arrays(sess)
            kept.append(weakref.ref(array))   # (a strong reference would make it shared)
            del array
        assert kept[0]() is not None and kept[0]() is kept[1]() is kept[2]()


def test_the_pool_holds_only_as_many_arrays_as_were_live_at_once(small_threshold):
    """Ten big products, each summed then dead: one array serves them all (not ten kept between runs); two
    products alive at once need two. Closing the session lets them go."""
    x = tf.placeholder(tf.float32, [None, 64])
    total = tf.add_n([tf.reduce_sum(x * float(i + 2)) for i in range(10)])
    pair = tf.reduce_sum((x * 2.0) * (x * 3.0 + 1.0))
    a, _ = _feeds(0)
    sess = tf.Session()
    got = sess.run(total, {x: a})
    np.testing.assert_allclose(got, a.astype(np.float64).sum() * sum(range(2, 12)), rtol=1e-5,
                               atol=1e-4 * np.abs(a).sum() * 11)
    assert len(_pool_arrays(sess)) == 1
    got = sess.run(pair, {x: a})
    a64 = a.astype(np.float64)
    np.testing.assert_allclose(got, ((a64 * 2) * (a64 * 3 + 1)).sum(), rtol=1e-4)
    assert len(_pool_arrays(sess)) == 2
    sess.close()
    assert _pool_arrays(sess) == []


def test_an_array_held_elsewhere_is_never_handed_out():
    """The reference count the pool reads, measured for this interpreter at import, tells an array only the
    pool holds from one someone else also holds."""
    pool = [np.empty(3)]
    assert recycling._first_unshared(pool, recycling._UNSHARED) is pool[0]
    other = pool[0]
    assert recycling._first_unshared(pool, recycling._UNSHARED) is None
    view = other[1:]
    del other
    assert recycling._first_unshared(pool, recycling._UNSHARED) is None
    del view
    assert recycling._first_unshared(pool, recycling._UNSHARED) is pool[0]


def test_a_new_shape_gets_a_new_array_with_the_right_values(small_threshold):
    x, s, y, total, top = _scaled_and_read_twice()
    with tf.Session() as sess:
        for rows in (40, 25, 40):
            a, b = _feeds(rows, rows)
            np.testing.assert_array_equal(sess.run(top, {x: a, s: b}), (a * b).max(1))


def test_a_held_view_of_the_result_is_never_overwritten(small_threshold):
    """The Mul's result is not fetched, a reshape of it is (a view, which refers to the array): the next
    run must write elsewhere, leaving what the caller holds as it was."""
    x, s, y, total, top = _scaled_and_read_twice()
    flat = tf.reshape(y, [-1])
    with tf.Session() as sess:
        a, b = _feeds(0)
        first, _ = sess.run([flat, total], {x: a, s: b})
        before = first.copy()
        assert any(np.shares_memory(first, k) for k in _pool_arrays(sess))   # the view is of a pool array
        a2, b2 = _feeds(1)
        second, _ = sess.run([flat, total], {x: a2, s: b2})
        np.testing.assert_array_equal(first, before)
        np.testing.assert_array_equal(second, (a2 * b2).reshape(-1))


def test_a_variable_assigned_from_the_result_keeps_its_value(small_threshold):
    x = tf.placeholder(tf.float32, [40, 64])
    s = tf.placeholder(tf.float32, [40, 1])
    v = tf.Variable(tf.zeros([40, 64]))
    y = x * s
    assign = tf.assign(v, y)
    total = tf.reduce_sum(y)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a, b = _feeds(0)
        sess.run([assign.op, total], {x: a, s: b})
        a2, b2 = _feeds(1)
        sess.run(total, {x: a2, s: b2})        # another signature running the same Mul
        np.testing.assert_array_equal(sess.run(v), a * b)


def test_small_results_allocate_as_before():
    x, s, y, total, top = _scaled_and_read_twice()
    with tf.Session() as sess:
        a, b = _feeds(0)
        np.testing.assert_array_equal(sess.run(top, {x: a, s: b}), (a * b).max(1))
        assert len(_recycled_steps(sess)) == 1   # the shape is unknown at compile time: the step may recycle...
        assert _pool_arrays(sess) == []          # ...but 10 KB is far below MIN_BYTES: nothing was kept


def test_operands_that_do_not_broadcast_get_the_kernels_own_error(small_threshold):
    x, s, y, total, top = _scaled_and_read_twice()
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="could not be broadcast"):
            sess.run(top, {x: np.ones((40, 64), np.float32), s: np.ones((39, 1), np.float32)})


def test_a_result_of_known_small_shape_is_not_wrapped():
    x = tf.placeholder(tf.float32, [40, 64])
    s = tf.placeholder(tf.float32, [40, 1])
    y = x * s
    with tf.Session() as sess:
        sess.run([tf.reduce_sum(y), tf.reduce_max(y)], {x: np.ones((40, 64), np.float32), s: np.ones((40, 1), np.float32)})
        assert _recycled_steps(sess) == []
