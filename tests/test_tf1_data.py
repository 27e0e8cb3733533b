"""tf.data in graph mode: datasets, iterators and their Session state, checked against hand computations."""
import collections

import numpy as np
import pytest

import nanotf as tf



def _drain(sess, fetches, feed_dict=None):
    out = []
    while True:
        try:
            out.append(sess.run(fetches, feed_dict))
        except tf.errors.OutOfRangeError:
            return out


pytestmark = pytest.mark.usefixtures("fresh_graph")   # tests/conftest.py


# -- sources and structure
def test_from_tensor_slices_tuple_yields_rows_in_order_with_static_shapes():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.array([3, 1, 4, 1, 5, 9], np.int32)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    assert ds.output_types == (tf.float32, tf.int32)
    assert [s.as_list() for s in ds.output_shapes] == [[2], []]
    a, b = ds.make_one_shot_iterator().get_next()
    assert a.shape.as_list() == [2] and b.shape.as_list() == []
    with tf.Session() as sess:
        got = _drain(sess, (a, b))
    assert len(got) == 6
    for i, (ra, rb) in enumerate(got):
        np.testing.assert_array_equal(ra, x[i])
        assert rb == y[i]


def test_dict_and_nested_structures_flatten_and_come_back():
    feats = {"b": np.arange(4.0), "a": np.arange(4) * 10}
    ds = tf.data.Dataset.from_tensor_slices((feats, np.arange(4) + 100))
    assert set(ds.output_types[0]) == {"a", "b"}
    element = ds.make_one_shot_iterator().get_next()
    assert isinstance(element[0], dict)
    with tf.Session() as sess:
        got = _drain(sess, element)
    assert [(int(f["a"]), float(f["b"]), int(l)) for f, l in got] == [(10 * i, float(i), 100 + i) for i in range(4)]


def test_namedtuple_elements_keep_their_type_through_map():
    Pair = collections.namedtuple("Pair", "x y")
    ds = tf.data.Dataset.from_tensor_slices(Pair(np.arange(3.0), np.arange(3.0))).map(lambda p: Pair(p.x + p.y, p.y))
    nxt = ds.make_one_shot_iterator().get_next()
    assert isinstance(nxt, Pair)
    with tf.Session() as sess:
        assert [float(v.x) for v in _drain(sess, nxt)] == [0.0, 2.0, 4.0]


def test_a_list_is_one_component_as_in_tf():
    ds = tf.data.Dataset.from_tensor_slices([[1, 2], [3, 4], [5, 6]])
    assert ds.output_shapes.as_list() == [2]
    with tf.Session() as sess:
        np.testing.assert_array_equal(_drain(sess, ds.make_one_shot_iterator().get_next()), [[1, 2], [3, 4], [5, 6]])


def test_mismatched_slice_sizes_fail_at_build_time():
    with pytest.raises(ValueError, match="Dimensions 3 and 4"):
        tf.data.Dataset.from_tensor_slices((np.zeros(3), np.zeros(4)))


def test_range_from_tensors_take_skip_concatenate_zip():
    r = tf.data.Dataset.range(2, 20, 3)                     # 2 5 8 11 14 17
    assert r.output_types == tf.int64
    pipeline = tf.data.Dataset.zip((r.skip(1).take(3), tf.data.Dataset.range(100)))   # shortest wins
    cat = r.take(2).concatenate(tf.data.Dataset.from_tensors(np.int64(-1)))
    with tf.Session() as sess:
        assert [tuple(map(int, e)) for e in _drain(sess, pipeline.make_one_shot_iterator().get_next())] == \
            [(5, 0), (8, 1), (11, 2)]
        assert [int(v) for v in _drain(sess, cat.make_one_shot_iterator().get_next())] == [2, 5, -1]


def test_concatenate_needs_equal_types_and_relaxes_shapes():
    a = tf.data.Dataset.from_tensors(np.zeros(3, np.float32))
    b = tf.data.Dataset.from_tensors(np.zeros(4, np.float32))
    assert a.concatenate(b).output_shapes.as_list() == [None]
    with pytest.raises(TypeError, match="different types"):
        a.concatenate(tf.data.Dataset.from_tensors(np.zeros(3, np.int32)))


def test_from_generator_converts_and_checks():
    def gen():
        for i in range(3):
            yield i, [float(i)] * 2
    ds = tf.data.Dataset.from_generator(gen, (tf.int64, tf.float32), (tf.TensorShape([]), tf.TensorShape([2])))
    a, b = ds.make_one_shot_iterator().get_next()
    assert b.shape.as_list() == [2]
    with tf.Session() as sess:
        got = _drain(sess, [a, b])
    assert [int(x) for x, _ in got] == [0, 1, 2]
    assert got[2][1].dtype == np.float32 and list(got[2][1]) == [2.0, 2.0]


# -- batch, padded_batch, unbatch
def test_batch_partial_last_batch_and_drop_remainder_static_shape():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    ds = tf.data.Dataset.from_tensor_slices(x)
    kept = ds.batch(2).make_one_shot_iterator().get_next()
    dropped = ds.batch(2, drop_remainder=True).make_one_shot_iterator().get_next()
    assert kept.shape.as_list() == [None, 2]
    assert dropped.shape.as_list() == [2, 2]
    with tf.Session() as sess:
        got = _drain(sess, kept)
        assert [g.shape for g in got] == [(2, 2), (2, 2), (1, 2)]
        np.testing.assert_array_equal(np.concatenate(got), x)
        assert len(_drain(sess, dropped)) == 2


def test_batch_of_elements_with_different_shapes_is_an_error():
    ds = tf.data.Dataset.range(1, 4).map(lambda n: tf.zeros(tf.cast(tf.reshape(n, [1]), tf.int32)))
    nxt = ds.batch(3).make_one_shot_iterator().get_next()
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError, match="different shapes in component 0"):
        sess.run(nxt)


def test_padded_batch_pads_to_the_longest_with_the_padding_value():
    ds = tf.data.Dataset.range(1, 4).map(lambda n: tf.fill(tf.cast(tf.reshape(n, [1]), tf.int32), n))
    nxt = ds.padded_batch(3, padded_shapes=[None], padding_values=np.int64(-1)).make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(nxt), [[1, -1, -1], [2, 2, -1], [3, 3, 3]])


def test_unbatch_inverts_batch():
    x = np.arange(7)
    nxt = tf.data.Dataset.from_tensor_slices(x).batch(3).unbatch().make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        assert [int(v) for v in _drain(sess, nxt)] == list(range(7))


# -- map and filter
def test_map_matches_numpy_per_element_and_vectorized_over_batches():
    x = np.linspace(-2, 2, 12).astype(np.float32).reshape(6, 2)
    f = (lambda v: tf.square(v) * 3.0 + 1.0)
    ds = tf.data.Dataset.from_tensor_slices(x).map(f)
    per_element = ds.make_one_shot_iterator().get_next()
    batched = ds.batch(4).make_one_shot_iterator().get_next()
    expected = x.astype(np.float64) ** 2 * 3 + 1
    with tf.Session() as sess:
        np.testing.assert_allclose(np.stack(_drain(sess, per_element)), expected, rtol=1e-6)
        np.testing.assert_allclose(np.concatenate(_drain(sess, batched)), expected, rtol=1e-6)
    assert ds._func.vectorizable


def test_map_with_a_reduction_is_not_vectorized_and_stays_per_element():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    ds = tf.data.Dataset.from_tensor_slices(x).map(lambda v: tf.reduce_sum(v))
    assert not ds._func.vectorizable
    nxt = ds.batch(3).make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        np.testing.assert_allclose(np.concatenate(_drain(sess, nxt)), x.sum(axis=1))


def test_map_broadcasting_a_row_constant_is_not_vectorized_when_it_would_mix_axes():
    # per element: scalar + [3] -> [3]; stacking scalars would broadcast [n] + [3] wrongly
    ds = tf.data.Dataset.from_tensor_slices(np.array([1.0, 2.0], np.float32)).map(
        lambda s: s + tf.constant([0.0, 10.0, 20.0]))
    assert not ds._func.vectorizable
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(ds.batch(2).make_one_shot_iterator().get_next()),
                                   [[1, 11, 21], [2, 12, 22]])


def test_map_reshape_expand_dims_transpose_vectorize_exactly():
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    fns = {"reshape": (lambda v: tf.reshape(v, [2, 3, 1]), lambda a: a.reshape(2, 3, 1)),
           "expand_dims": (lambda v: tf.expand_dims(v, 0), lambda a: a[None]),
           "transpose": (lambda v: tf.transpose(tf.reshape(v, [2, 3])), lambda a: a.reshape(2, 3).T),
           "negative_axis": (lambda v: tf.expand_dims(v, -1) * 2.0, lambda a: a[:, None] * 2)}
    for name, (f, ref) in fns.items():
        ds = tf.data.Dataset.from_tensor_slices(x).map(f)
        assert ds._func.vectorizable, name
        with tf.Session() as sess:
            got = np.concatenate(_drain(sess, ds.batch(3).make_one_shot_iterator().get_next()))
        np.testing.assert_array_equal(got, np.stack([ref(row) for row in x]), err_msg=name)
    # a reshape to a shape known only at run time stays per element
    assert not tf.data.Dataset.from_tensor_slices(x).map(lambda v: tf.reshape(v, tf.shape(v)))._func.vectorizable


def test_map_one_hot_and_cast_vectorize():
    labels = np.array([0, 2, 1, 2], np.int64)
    ds = tf.data.Dataset.from_tensor_slices(labels).map(lambda l: tf.one_hot(l, 3))
    assert ds._func.vectorizable
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(ds.batch(4).make_one_shot_iterator().get_next()), np.eye(3)[labels])


def test_map_random_ops_draw_per_element():
    ds = tf.data.Dataset.from_tensor_slices(np.zeros(50, np.float32)).map(lambda v: v + tf.random_uniform([], seed=1))
    assert not ds._func.vectorizable
    with tf.Session() as sess:
        vals = sess.run(ds.batch(50).make_one_shot_iterator().get_next())
    assert len(np.unique(vals)) == 50 and 0 <= vals.min() and vals.max() < 1


def test_map_capturing_an_outer_tensor_is_a_clear_error():
    outer = tf.constant(2.0)
    with pytest.raises(ValueError, match="cannot capture outer tensors"):
        tf.data.Dataset.from_tensor_slices(np.zeros(3, np.float32)).map(lambda v: v * outer)


def test_map_error_names_the_op_of_the_function():
    rows = tf.placeholder(tf.float32, [None, None])
    it = tf.data.Dataset.from_tensor_slices(rows).map(lambda v: tf.reshape(v, [3])).make_initializable_iterator()
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError, match="Dataset.map"):
        sess.run(it.initializer, {rows: np.ones((1, 2))})
        sess.run(it.get_next())


def test_filter_keeps_elements_where_the_predicate_holds():
    ds = tf.data.Dataset.range(10).filter(lambda v: tf.equal(tf.floormod(v, 3), 0))
    with tf.Session() as sess:
        assert [int(v) for v in _drain(sess, ds.make_one_shot_iterator().get_next())] == [0, 3, 6, 9]
    with pytest.raises(ValueError, match="scalar boolean"):
        tf.data.Dataset.range(3).filter(lambda v: v)


def test_flat_map_and_interleave_follow_tfs_documented_examples():
    flat = tf.data.Dataset.range(1, 4).flat_map(lambda x: tf.data.Dataset.from_tensors(x).repeat(x))
    inter = tf.data.Dataset.range(1, 6).interleave(lambda x: tf.data.Dataset.from_tensors(x).repeat(6),
                                                   cycle_length=2, block_length=4)
    with tf.Session() as sess:
        assert [int(v) for v in _drain(sess, flat.make_one_shot_iterator().get_next())] == [1, 2, 2, 3, 3, 3]
        got = [int(v) for v in _drain(sess, inter.make_one_shot_iterator().get_next())]
    assert got == [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5]
    with pytest.raises(TypeError, match="must return a `Dataset`"):
        tf.data.Dataset.range(3).flat_map(lambda x: x)


# -- shuffle and repeat
def _order(ds):
    with tf.Session() as sess:
        return [int(v) for v in _drain(sess, ds.make_one_shot_iterator().get_next())]


def test_shuffle_is_a_permutation_and_respects_the_buffer_window():
    n, b = 200, 10
    order = _order(tf.data.Dataset.range(n).shuffle(b, seed=3))
    assert sorted(order) == list(range(n))
    # with a buffer of b, the k-th output was among the first k + b inputs
    assert all(v < k + b for k, v in enumerate(order))
    assert _order(tf.data.Dataset.range(n).shuffle(1, seed=3)) == list(range(n))


def test_shuffle_first_draw_is_uniform_over_the_buffer():
    # each pass of the repeat reshuffles; a pass's first output is uniform over the first buffer_size
    # elements: chi-square over 4000 passes (seeded, so the test is deterministic)
    passes = tf.data.Dataset.range(20).shuffle(8, seed=11).repeat(4000).batch(20)
    nxt = passes.make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        firsts = [b[0] for b in _drain(sess, nxt)]
    assert len(firsts) == 4000
    counts = np.bincount(firsts, minlength=20)
    assert counts[8:].sum() == 0
    chi2 = ((counts[:8] - 500) ** 2 / 500).sum()
    assert chi2 < 24.3   # 7 degrees of freedom, p = 0.001


def test_seeded_shuffle_gives_the_same_order_in_every_program_run():
    def program():
        tf.reset_default_graph()
        return _order(tf.data.Dataset.range(50).shuffle(50, seed=7))
    assert program() == program()
    assert program() != list(range(50))


def test_graph_seed_without_op_seed_is_deterministic_too():
    def program(seed):
        tf.reset_default_graph()
        tf.set_random_seed(seed)
        return _order(tf.data.Dataset.range(50).shuffle(50))
    assert program(1) == program(1)
    assert program(1) != program(2)


def test_reshuffle_each_iteration_controls_orders_across_repeats():
    again = _order(tf.data.Dataset.range(30).shuffle(30, seed=1).repeat(2))
    assert sorted(again[:30]) == sorted(again[30:]) == list(range(30))
    assert again[:30] != again[30:]
    same = _order(tf.data.Dataset.range(30).shuffle(30, seed=1, reshuffle_each_iteration=False).repeat(2))
    assert same[:30] == same[30:]


def test_repeat_count_forever_and_empty_input():
    assert _order(tf.data.Dataset.range(3).repeat(2)) == [0, 1, 2, 0, 1, 2]
    assert _order(tf.data.Dataset.range(3).repeat().take(7)) == [0, 1, 2, 0, 1, 2, 0]
    assert _order(tf.data.Dataset.range(0).repeat()) == []


def test_gathered_batches_equal_element_by_element_batches():
    # slices -> map -> shuffle -> repeat -> batch takes the gather path; the same pipeline with a
    # non-vectorizable map in between stacks element by element: same seeds, same batches
    x = np.arange(40, dtype=np.float32).reshape(20, 2)

    def pipeline(map_fn):
        tf.reset_default_graph()
        ds = tf.data.Dataset.from_tensor_slices(x).map(map_fn).shuffle(7, seed=5).repeat(2).batch(6)
        with tf.Session() as sess:
            return _drain(sess, ds.make_one_shot_iterator().get_next())
    fast = pipeline(lambda v: v * 2.0)
    slow = pipeline(lambda v: tf.reduce_sum(tf.expand_dims(v * 2.0, 0), 0))   # a reduction: per element
    assert len(fast) == len(slow) == 7
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)
    assert sorted(np.concatenate(fast)[:, 0].tolist()) == sorted((x[:, 0] * 2).tolist() * 2)


# -- iterators
def test_each_run_advances_once_even_when_fetching_every_component():
    ds = tf.data.Dataset.from_tensor_slices((np.arange(5), np.arange(5) * 10))
    a, b = ds.make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        assert sess.run([a, b]) == [0, 0]
        assert sess.run(a) == 1
        assert sess.run([b, a, b]) == [20, 2, 20]
        assert sess.run(b) == 30


def test_end_of_sequence_is_out_of_range_and_stays_so():
    nxt = tf.data.Dataset.range(1).make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        sess.run(nxt)
        for _ in range(2):
            with pytest.raises(tf.errors.OutOfRangeError, match="End of sequence"):
                sess.run(nxt)


def test_initializable_iterator_fed_from_placeholders_and_restarted():
    features = tf.placeholder(tf.float32, [None, 3])
    labels = tf.placeholder(tf.int64, [None])
    it = tf.data.Dataset.from_tensor_slices((features, labels)).batch(2).make_initializable_iterator()
    x, y = it.get_next()
    assert x.shape.as_list() == [None, 3]
    fx, fy = np.random.RandomState(0).rand(5, 3).astype(np.float32), np.arange(5)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError, match="not been initialized"):
            sess.run(x)
        sess.run(it.initializer, {features: fx, labels: fy})
        first = _drain(sess, [x, y])
        sess.run(it.initializer, {features: fx[:3], labels: fy[:3]})
        second = _drain(sess, [x, y])
    np.testing.assert_array_equal(np.concatenate([f[0] for f in first]), fx)
    assert [len(s[1]) for s in second] == [2, 1]


def test_one_shot_iterator_rejects_placeholders():
    p = tf.placeholder(tf.float32, [None])
    with pytest.raises(ValueError, match="Cannot capture a placeholder"):
        tf.data.Dataset.from_tensor_slices(p).make_one_shot_iterator()


def test_iterator_state_lives_per_session():
    nxt = tf.data.Dataset.range(3).make_one_shot_iterator().get_next()
    with tf.Session() as s1, tf.Session() as s2:
        assert [s1.run(nxt), s1.run(nxt), s2.run(nxt), s1.run(nxt), s2.run(nxt)] == [0, 1, 0, 2, 1]


def test_reinitializable_iterator_switches_datasets():
    train = tf.data.Dataset.range(10).batch(4)
    test = tf.data.Dataset.range(100, 103).batch(4)
    it = tf.data.Iterator.from_structure(train.output_types, train.output_shapes)
    nxt = it.get_next()
    train_init, test_init = it.make_initializer(train), it.make_initializer(test)
    with pytest.raises(ValueError, match="does not have an initializer"):
        it.initializer
    with pytest.raises(TypeError, match="output types"):
        it.make_initializer(tf.data.Dataset.from_tensors(np.float32(1)))
    with tf.Session() as sess:
        sess.run(train_init)
        assert list(sess.run(nxt)) == [0, 1, 2, 3]
        sess.run(test_init)
        assert list(sess.run(nxt)) == [100, 101, 102]
        sess.run(train_init)
        assert list(sess.run(nxt)) == [0, 1, 2, 3]


def test_feedable_iterator_by_string_handle():
    a = tf.data.Dataset.range(3).make_one_shot_iterator()
    b = tf.data.Dataset.range(10, 13).make_initializable_iterator()
    handle = tf.placeholder(tf.string, [])
    it = tf.data.Iterator.from_string_handle(handle, a.output_types, a.output_shapes)
    nxt = it.get_next()
    with tf.Session() as sess:
        ha, hb = sess.run([a.string_handle(), b.string_handle()])
        sess.run(b.initializer)
        assert [sess.run(nxt, {handle: h}) for h in (ha, hb, ha, hb)] == [0, 10, 1, 11]


def test_compat_v1_spellings():
    ds = tf.data.Dataset.range(2)
    assert tf.compat.v1.data.make_one_shot_iterator(ds).output_types == tf.int64
    it = tf.compat.v1.data.make_initializable_iterator(ds)
    assert tf.data.get_output_shapes(it).as_list() == []
    with tf.Session() as sess:
        sess.run(it.initializer)
        assert sess.run(it.get_next()) == 0


def test_random_shuffle_is_a_seeded_permutation_without_gradient():
    x = tf.constant(np.arange(24).reshape(12, 2))
    y = tf.random_shuffle(x, seed=4)
    with tf.Session() as sess:
        a, b = sess.run(y), sess.run(y)
    with tf.Session() as sess:
        c = sess.run(y)
    assert sorted(a[:, 0].tolist()) == list(range(0, 24, 2)) and (a[:, 1] == a[:, 0] + 1).all()
    np.testing.assert_array_equal(a, c)   # same seed, new session: same first draw
    assert not np.array_equal(a, b)
    f = tf.constant(np.arange(4.0))
    assert tf.gradients(tf.reduce_sum(tf.random_shuffle(f)), f) == [None]


# -- the end-to-end program
def test_tf_data_mlp_program_learns_fake_data():
    import data_pipeline_mlp
    acc = data_pipeline_mlp.main(["--fake_data", "--steps", "150"])
    assert acc > 0.95


def test_tf_data_mlp_program_on_real_mnist(real_mnist_dir):
    import data_pipeline_mlp
    acc = data_pipeline_mlp.main(["--data_dir", str(real_mnist_dir), "--steps", "1000"])
    assert acc > 0.95
