"""RNN cells, static_rnn / dynamic_rnn / bidirectional forms, reverse_sequence and sequence_mask against
float64 NumPy implementations of TF 1.15's equations (tests/_rnn_reference.py) and central finite differences."""
import numpy as np
import pytest

import nanotf as tf
import _rnn_reference as ref

F64 = tf.float64


def _names(variables=None):
    return {v.op.name: tuple(v.shape.as_list()) for v in (variables or tf.global_variables())}


def _random_init():
    return tf.random_normal_initializer(stddev=0.5, seed=3)


def _values(sess, prefix=""):
    vs = [v for v in tf.global_variables() if v.op.name.startswith(prefix)]
    return dict(zip([v.op.name for v in vs], sess.run(vs)))


def _run_once(fetches, feed_dict):
    """A new Session initializes the variables and runs `fetches`: (their values, {variable name: value})."""
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed_dict), _values(sess)


# -- variable names and shapes (TF 1.15's)
def test_static_rnn_basic_lstm_names(graph):
    xs = tf.unstack(tf.placeholder(tf.float32, [None, 28, 28]), 28, 1)
    outputs, state = tf.contrib.rnn.static_rnn(tf.contrib.rnn.BasicLSTMCell(128), xs, dtype=tf.float32)
    assert _names() == {"rnn/basic_lstm_cell/kernel": (156, 512), "rnn/basic_lstm_cell/bias": (512,)}
    assert len(outputs) == 28 and outputs[-1].shape.as_list() == [None, 128]
    assert isinstance(state, tf.nn.rnn_cell.LSTMStateTuple)
    assert state.c.shape.as_list() == [None, 128] and state.h.shape.as_list() == [None, 128]


def test_dynamic_rnn_names_of_every_cell(graph):
    x = tf.placeholder(tf.float32, [None, 5, 3])
    tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(4), x, dtype=tf.float32, scope="gru")
    tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicRNNCell(4), x, dtype=tf.float32, scope="basic")
    tf.nn.dynamic_rnn(tf.nn.rnn_cell.LSTMCell(4, use_peepholes=True, num_proj=2), x, dtype=tf.float32,
                      scope="lstm")
    multi = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(4), tf.nn.rnn_cell.BasicLSTMCell(6)])
    out, state = tf.nn.dynamic_rnn(multi, x, dtype=tf.float32)
    assert out.shape.as_list() == [None, 5, 6] and len(state) == 2
    assert _names() == {
        "gru/gru_cell/gates/kernel": (7, 8), "gru/gru_cell/gates/bias": (8,),
        "gru/gru_cell/candidate/kernel": (7, 4), "gru/gru_cell/candidate/bias": (4,),
        "basic/basic_rnn_cell/kernel": (7, 4), "basic/basic_rnn_cell/bias": (4,),
        "lstm/lstm_cell/kernel": (5, 16), "lstm/lstm_cell/bias": (16,), "lstm/lstm_cell/w_f_diag": (4,),
        "lstm/lstm_cell/w_i_diag": (4,), "lstm/lstm_cell/w_o_diag": (4,),
        "lstm/lstm_cell/projection/kernel": (4, 2),
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel": (7, 16),
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias": (16,),
        "rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel": (10, 24),
        "rnn/multi_rnn_cell/cell_1/basic_lstm_cell/bias": (24,)}


def test_bidirectional_names_static_and_dynamic(graph):
    x = tf.placeholder(tf.float32, [None, 5, 3])
    cell = tf.contrib.rnn.BasicLSTMCell
    outs, s_fw, s_bw = tf.contrib.rnn.static_bidirectional_rnn(cell(4), cell(4), tf.unstack(x, 5, 1),
                                                               dtype=tf.float32)
    assert len(outs) == 5 and outs[0].shape.as_list() == [None, 8]
    with tf.variable_scope("dyn"):
        (o_fw, o_bw), _ = tf.nn.bidirectional_dynamic_rnn(tf.nn.rnn_cell.GRUCell(2), tf.nn.rnn_cell.GRUCell(2),
                                                           x, dtype=tf.float32)
    assert o_fw.shape.as_list() == [None, 5, 2] and o_bw.shape.as_list() == [None, 5, 2]
    names = _names()
    for d in ("fw", "bw"):
        assert names["bidirectional_rnn/%s/basic_lstm_cell/kernel" % d] == (7, 16)
        assert names["dyn/bidirectional_rnn/%s/gru_cell/gates/kernel" % d] == (5, 4)


def test_second_rnn_in_the_same_scope_needs_reuse(graph):
    x = tf.placeholder(tf.float32, [2, 3, 4])
    tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(3), x, dtype=tf.float32)
    with pytest.raises(ValueError, match="rnn/basic_lstm_cell/kernel already exists"):
        tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(3), x, dtype=tf.float32)
    with tf.variable_scope(tf.get_variable_scope(), reuse=True):
        tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(3), x, dtype=tf.float32)   # shares the variables
    assert len(tf.trainable_variables()) == 2


def test_checkpoint_restores_rnn_variables_by_tf_names(tmp_path):
    """A Saver checkpoint of a bidirectional LSTM restores into a freshly built graph (same TF names)."""
    def build():
        x = tf.placeholder(tf.float32, [None, 4, 3])
        cells = [tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(5), tf.nn.rnn_cell.GRUCell(4)])
                 for _ in range(2)]
        (fw, bw), _ = tf.nn.bidirectional_dynamic_rnn(cells[0], cells[1], x, dtype=tf.float32)
        return x, tf.concat([fw, bw], 2)
    xs = np.random.default_rng(17).standard_normal((2, 4, 3)).astype(np.float32)
    with tf.Graph().as_default():
        x, out = build()
        names = sorted(_names())
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            want = sess.run(out, {x: xs})
            path = saver.save(sess, str(tmp_path / "model.ckpt"))
    assert "bidirectional_rnn/bw/multi_rnn_cell/cell_1/gru_cell/candidate/kernel" in names
    assert "bidirectional_rnn/fw/multi_rnn_cell/cell_0/basic_lstm_cell/bias" in names
    with tf.Graph().as_default():
        x, out = build()
        with tf.Session() as sess:
            tf.train.Saver().restore(sess, path)
            np.testing.assert_allclose(sess.run(out, {x: xs}), want, rtol=1e-6, atol=1e-7)


# -- one step of each cell
CELLS = {
    "basic_rnn": (lambda: tf.nn.rnn_cell.BasicRNNCell(3), 3),
    "gru": (lambda: tf.nn.rnn_cell.GRUCell(3), 3),
    "basic_lstm": (lambda: tf.nn.rnn_cell.BasicLSTMCell(3, forget_bias=0.5), (3, 3)),
    "lstm_peep_clip_proj": (lambda: tf.nn.rnn_cell.LSTMCell(3, use_peepholes=True, cell_clip=0.4, num_proj=2,
                                                            forget_bias=0.3), (3, 2)),
}


def _reference_step(kind, v, x, state):
    p = {k.split("/", 1)[1]: a for k, a in v.items()}
    if kind == "basic_rnn":
        return ref.basic_rnn_step(x, state, p["basic_rnn_cell/kernel"], p["basic_rnn_cell/bias"])
    if kind == "gru":
        return ref.gru_step(x, state, p["gru_cell/gates/kernel"], p["gru_cell/gates/bias"],
                            p["gru_cell/candidate/kernel"], p["gru_cell/candidate/bias"])
    if kind == "basic_lstm":
        return ref.lstm_step(x, state, p["basic_lstm_cell/kernel"], p["basic_lstm_cell/bias"], forget_bias=0.5)
    return ref.lstm_step(x, state, p["lstm_cell/kernel"], p["lstm_cell/bias"], forget_bias=0.3,
                         peepholes=(p["lstm_cell/w_i_diag"], p["lstm_cell/w_f_diag"], p["lstm_cell/w_o_diag"]),
                         cell_clip=0.4, proj=p["lstm_cell/projection/kernel"])


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_one_step_matches_numpy(kind, graph):
    make, sizes = CELLS[kind]
    rng = np.random.default_rng(1)
    x_val = rng.standard_normal((4, 5))
    state_val = (tuple(rng.standard_normal((4, s)) for s in sizes) if isinstance(sizes, tuple)
                 else rng.standard_normal((4, sizes)))
    cell = make()
    x = tf.placeholder(F64, [4, 5])
    if isinstance(sizes, tuple):
        state = tf.nn.rnn_cell.LSTMStateTuple(*[tf.placeholder(F64, [4, s]) for s in sizes])
        feed = {state[0]: state_val[0], state[1]: state_val[1]}
    else:
        state = tf.placeholder(F64, [4, sizes])
        feed = {state: state_val}
    with tf.variable_scope("s", initializer=_random_init()):
        out, new_state = cell(x, state)
    feed[x] = x_val
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got_out, got_state = sess.run([out, new_state], feed)
        want_out, want_state = _reference_step(kind, _values(sess), x_val, state_val)
    np.testing.assert_allclose(got_out, want_out, rtol=1e-12, atol=1e-12)
    for g, w in zip(ref_flat(got_state), ref_flat(want_state)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


class OldStyleCell(tf.nn.rnn_cell.RNNCell):
    """A 2016-style custom cell: no call to the base __init__, __call__ overridden, tf.get_variable inside."""

    def __init__(self, units):
        self._units = units

    @property
    def state_size(self):
        return self._units

    @property
    def output_size(self):
        return self._units

    def __call__(self, inputs, state, scope=None):
        with tf.variable_scope(scope or "old_style_cell"):
            w = tf.get_variable("w", [inputs.shape[1] + self._units, self._units])
            out = tf.tanh(tf.matmul(tf.concat([inputs, state], 1), w))
        return out, out


class CallOnlyCell(tf.nn.rnn_cell.RNNCell):
    """A cell defining only call(), creating its variable with tf.get_variable, base __init__ not called."""

    def __init__(self, units):
        self._units = units

    state_size = property(lambda self: self._units)
    output_size = property(lambda self: self._units)

    def call(self, inputs, state):
        w = tf.get_variable("w", [inputs.shape[1] + self._units, self._units])
        out = tf.tanh(tf.matmul(tf.concat([inputs, state], 1), w))
        return out, out


@pytest.mark.parametrize("make", [OldStyleCell, CallOnlyCell])
def test_custom_cells_share_their_variables_across_steps(make, graph):
    rng = np.random.default_rng(16)
    B, T, I, H = 2, 3, 2, 3
    xs = rng.standard_normal((B, T, I))
    x = tf.placeholder(F64, [B, T, I])
    with tf.variable_scope("d", initializer=_random_init(), dtype=F64):
        out, _ = tf.nn.dynamic_rnn(make(H), x, dtype=F64)
    with tf.variable_scope("s", initializer=_random_init(), dtype=F64):
        outs, _ = tf.nn.static_rnn(make(H), tf.unstack(x, T, 1), dtype=F64)
    names = sorted(_names())
    cell_dir = "old_style_cell" if make is OldStyleCell else "call_only_cell"
    assert names == ["d/rnn/%s/w" % cell_dir, "s/rnn/%s/w" % cell_dir]
    (got, got_s), v = _run_once([out, outs], {x: xs})
    for prefix, value in (("d", got), ("s", np.stack(got_s, 1))):
        w = v["%s/rnn/%s/w" % (prefix, cell_dir)]
        want, _ = ref.run(lambda x_, h: (np.tanh(np.concatenate([x_, h], 1) @ w),) * 2, xs.transpose(1, 0, 2),
                          np.zeros((B, H)))
        np.testing.assert_allclose(value, want.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)


def test_subclass_overriding_call_runs_its_own_call():
    class DoubledLSTM(tf.nn.rnn_cell.BasicLSTMCell):
        def call(self, inputs, state):
            out, new_state = super().call(inputs, state)
            return out * 2.0, new_state
    rng = np.random.default_rng(21)
    xs = rng.standard_normal((2, 3, 2))
    with tf.Graph().as_default():
        x = tf.placeholder(F64, [2, 3, 2])
        with tf.variable_scope("d", initializer=_random_init()):
            out, _ = tf.nn.dynamic_rnn(DoubledLSTM(3), x, dtype=F64)
        assert not any(op.type == "LSTMSequence" for op in tf.get_default_graph().get_operations())
        got, v = _run_once(out, {x: xs})
    k, b = v["d/rnn/doubled_lstm/kernel"], v["d/rnn/doubled_lstm/bias"]
    want, _ = ref.run(lambda x_, s: ref.lstm_step(x_, s, k, b), xs.transpose(1, 0, 2), (np.zeros((2, 3)),) * 2)
    np.testing.assert_allclose(got, 2 * want.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)


def test_zero_state_and_sizes(graph):
    cell = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(3), tf.nn.rnn_cell.GRUCell(2)])
    assert cell.state_size == (tf.nn.rnn_cell.LSTMStateTuple(3, 3), 2) and cell.output_size == 2
    batch = tf.placeholder(tf.int32, [])
    zs = cell.zero_state(batch, tf.float32)
    with tf.Session() as sess:
        (c, h), g = sess.run(zs, {batch: 5})
    assert c.shape == h.shape == (5, 3) and g.shape == (5, 2) and not c.any() and not g.any()
    assert zs[0].c.shape.as_list() == [None, 3]
    assert cell.zero_state(7, tf.float32)[1].shape.as_list() == [7, 2]


# -- whole sequences against NumPy, with and without sequence_length
def _lstm_params(v, prefix):
    return v[prefix + "/kernel"], v[prefix + "/bias"]


@pytest.mark.parametrize("time_major", [False, True])
@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("kind", ["lstm_fused", "lstm_peephole_fused", "lstm_unrolled", "gru", "gru_relu_unrolled",
                                  "multi"])
def test_dynamic_rnn_matches_numpy(kind, with_lengths, time_major, graph):
    rng = np.random.default_rng(2)
    B, T, I, H = 3, 5, 4, 3
    xs = rng.standard_normal((T, B, I))
    lengths = np.array([5, 2, 0]) if with_lengths else None
    if kind == "lstm_fused":
        cell = tf.nn.rnn_cell.BasicLSTMCell(H)
    elif kind == "lstm_peephole_fused":
        cell = tf.nn.rnn_cell.LSTMCell(H, use_peepholes=True, cell_clip=0.8, forget_bias=0.7)
    elif kind == "lstm_unrolled":   # a projection keeps LSTMCell off the fused path
        cell = tf.nn.rnn_cell.LSTMCell(H, num_proj=H, forget_bias=0.7)
    elif kind == "gru":
        cell = tf.nn.rnn_cell.GRUCell(H)
    elif kind == "gru_relu_unrolled":
        cell = tf.nn.rnn_cell.GRUCell(H, activation=tf.nn.relu)
    else:
        cell = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(H), tf.nn.rnn_cell.BasicLSTMCell(2)])
    x = tf.placeholder(F64, [T, B, I] if time_major else [B, T, I])
    seq = tf.placeholder(tf.int32, [B]) if with_lengths else None
    with tf.variable_scope("m", initializer=_random_init()):
        out, state = tf.nn.dynamic_rnn(cell, x, sequence_length=seq, dtype=F64, time_major=time_major)
    feed = {x: xs if time_major else xs.transpose(1, 0, 2)}
    if with_lengths:
        feed[seq] = lengths
    (got_out, got_state), v = _run_once([out, state], feed)
    zeros = lambda n: np.zeros((B, n))  # noqa: E731
    if kind == "lstm_fused":
        k, b = _lstm_params(v, "m/rnn/basic_lstm_cell")
        want_out, want_state = ref.run(lambda x_, s: ref.lstm_step(x_, s, k, b), xs, (zeros(H), zeros(H)), lengths)
    elif kind == "lstm_peephole_fused":
        k, b = _lstm_params(v, "m/rnn/lstm_cell")
        peep = tuple(v["m/rnn/lstm_cell/w_%s_diag" % g] for g in "ifo")
        want_out, want_state = ref.run(lambda x_, s: ref.lstm_step(x_, s, k, b, forget_bias=0.7, peepholes=peep,
                                                                   cell_clip=0.8), xs, (zeros(H), zeros(H)), lengths)
    elif kind == "lstm_unrolled":
        k, b = _lstm_params(v, "m/rnn/lstm_cell")
        p = v["m/rnn/lstm_cell/projection/kernel"]
        want_out, want_state = ref.run(lambda x_, s: ref.lstm_step(x_, s, k, b, forget_bias=0.7, proj=p), xs,
                                       (zeros(H), zeros(H)), lengths)
    elif kind in ("gru", "gru_relu_unrolled"):
        g = [v["m/rnn/gru_cell/%s" % n] for n in ("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias")]
        act = np.tanh if kind == "gru" else (lambda z: np.maximum(z, 0))
        want_out, want_state = ref.run(lambda x_, s: ref.gru_step(x_, s, *g, activation=act), xs, zeros(H), lengths)
    else:
        k0, b0 = _lstm_params(v, "m/rnn/multi_rnn_cell/cell_0/basic_lstm_cell")
        k1, b1 = _lstm_params(v, "m/rnn/multi_rnn_cell/cell_1/basic_lstm_cell")

        def step(x_, s):
            o0, s0 = ref.lstm_step(x_, s[0], k0, b0)
            o1, s1 = ref.lstm_step(o0, s[1], k1, b1)
            return o1, (s0, s1)
        outs, states = [], ((zeros(H), zeros(H)), (zeros(2), zeros(2)))
        for t in range(T):   # masking applies to the whole stacked state
            o, new = step(xs[t], states)
            if lengths is not None:
                live = (t < lengths)[:, None]
                o = np.where(live, o, 0)
                new = tuple(tuple(np.where(live, n, s) for n, s in zip(ns, ss)) for ns, ss in zip(new, states))
            outs.append(o)
            states = new
        want_out, want_state = np.stack(outs), states
    if not time_major:
        want_out = want_out.transpose(1, 0, 2)
    np.testing.assert_allclose(got_out, want_out, rtol=1e-10, atol=1e-12)
    for g, w in zip(ref_flat(got_state), ref_flat(want_state)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    if with_lengths:   # the last entry has length 0: zero outputs, the initial (zero) state
        assert not np.any(got_out[:, 2] if time_major else got_out[2])


def ref_flat(s):
    if isinstance(s, (tuple, list)):
        return [leaf for item in s for leaf in ref_flat(item)]
    return [s]


def test_static_rnn_with_lengths_matches_numpy(graph):
    rng = np.random.default_rng(4)
    B, T, I, H = 3, 4, 2, 3
    xs = rng.standard_normal((T, B, I))
    lengths = np.array([1, 4, 3])
    inputs = [tf.placeholder(F64, [B, I]) for _ in range(T)]
    for fused, cell in ((True, tf.contrib.rnn.BasicLSTMCell(H)), (False, tf.contrib.rnn.BasicRNNCell(H))):
        with tf.variable_scope("fused" if fused else "steps", initializer=_random_init()):
            outs, state = tf.contrib.rnn.static_rnn(cell, inputs, dtype=F64, sequence_length=lengths)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got_outs, got_state = sess.run([outs, state], dict(zip(inputs, xs)))
            v = _values(sess, "fused" if fused else "steps")
        if fused:
            k, b = _lstm_params(v, "fused/rnn/basic_lstm_cell")
            want_out, want_state = ref.run(lambda x_, s: ref.lstm_step(x_, s, k, b), xs,
                                           (np.zeros((B, H)), np.zeros((B, H))), lengths)
        else:
            k, b = _lstm_params(v, "steps/rnn/basic_rnn_cell")
            want_out, want_state = ref.run(lambda x_, s: ref.basic_rnn_step(x_, s, k, b), xs, np.zeros((B, H)),
                                           lengths)
        np.testing.assert_allclose(np.stack(got_outs), want_out, rtol=1e-10, atol=1e-12)
        for g, w in zip(ref_flat(got_state), ref_flat(want_state)):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell_kind", ["lstm", "gru"])
def test_bidirectional_dynamic_rnn_matches_numpy(cell_kind):
    rng = np.random.default_rng(5)
    B, T, I, H = 3, 4, 2, 2
    xs = rng.standard_normal((T, B, I))
    lengths = np.array([4, 2, 3])
    make = tf.nn.rnn_cell.BasicLSTMCell if cell_kind == "lstm" else tf.nn.rnn_cell.GRUCell
    with tf.Graph().as_default():
        x = tf.placeholder(F64, [B, T, I])
        with tf.variable_scope("bi", initializer=_random_init()):
            (o_fw, o_bw), (s_fw, s_bw) = tf.nn.bidirectional_dynamic_rnn(make(H), make(H), x, sequence_length=lengths,
                                                                         dtype=F64)
        got, v = _run_once([o_fw, o_bw, s_fw, s_bw], {x: xs.transpose(1, 0, 2)})

    def runner(d):
        p = "bi/bidirectional_rnn/%s/" % d
        if cell_kind == "lstm":
            k, b = v[p + "basic_lstm_cell/kernel"], v[p + "basic_lstm_cell/bias"]
            return lambda seq: ref.run(lambda x_, s: ref.lstm_step(x_, s, k, b), seq,
                                       (np.zeros((B, H)), np.zeros((B, H))), lengths)
        g = [v[p + "gru_cell/" + n] for n in ("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias")]
        return lambda seq: ref.run(lambda x_, s: ref.gru_step(x_, s, *g), seq, np.zeros((B, H)), lengths)
    want_fw, want_s_fw = runner("fw")(xs)
    tmp, want_s_bw = runner("bw")(ref.reverse_valid(xs, lengths))
    want_bw = ref.reverse_valid(tmp, lengths)
    np.testing.assert_allclose(got[0], want_fw.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[1], want_bw.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)
    for g, w in zip(ref_flat(got[2]) + ref_flat(got[3]), ref_flat(want_s_fw) + ref_flat(want_s_bw)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_static_bidirectional_rnn_matches_numpy(graph):
    rng = np.random.default_rng(6)
    B, T, I, H = 2, 3, 2, 2
    xs = rng.standard_normal((T, B, I))
    lengths = np.array([3, 1])
    inputs = [tf.placeholder(F64, [B, I]) for _ in range(T)]
    with tf.variable_scope("s", initializer=_random_init()):
        outs, _, s_bw = tf.contrib.rnn.static_bidirectional_rnn(
            tf.contrib.rnn.BasicLSTMCell(H), tf.contrib.rnn.BasicLSTMCell(H), inputs, dtype=F64,
            sequence_length=lengths)
    (got, got_s), v = _run_once([outs, s_bw], dict(zip(inputs, xs)))

    def run(d, seq):
        k, b = v["s/bidirectional_rnn/%s/basic_lstm_cell/kernel" % d], v["s/bidirectional_rnn/%s/basic_lstm_cell/bias" % d]
        return ref.run(lambda x_, s: ref.lstm_step(x_, s, k, b), seq, (np.zeros((B, H)),) * 2, lengths)
    fw, _ = run("fw", xs)
    bw, want_s = run("bw", ref.reverse_valid(xs, lengths))
    want = np.concatenate([fw, ref.reverse_valid(bw, lengths)], axis=2)
    np.testing.assert_allclose(np.stack(got), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_s.h, want_s[1], rtol=1e-10, atol=1e-12)


# -- gradients by central finite differences
def _fd_check(sess, loss, grads, feed, var_feeds, rng, eps=1e-6, picks=6):
    """grads: list of (gradient tensor, ('feed', placeholder) or ('var', variable)). Compares a few entries."""
    got = sess.run([g for g, _ in grads], feed)
    for (g, (kind, target)), g_val in zip(grads, got):
        base = feed[target] if kind == "feed" else sess.run(target)
        for _ in range(picks):
            idx = tuple(rng.integers(0, n) for n in base.shape)
            vals = []
            for sign in (1, -1):
                v = np.array(base, copy=True)
                v[idx] += sign * eps
                if kind == "feed":
                    vals.append(sess.run(loss, {**feed, target: v}))
                else:
                    target.load(v, sess)
                    vals.append(sess.run(loss, feed))
            if kind == "var":
                target.load(base, sess)
            fd = (vals[0] - vals[1]) / (2 * eps)
            assert abs(fd - g_val[idx]) <= 1e-6 + 1e-5 * abs(fd), (target.name, idx, fd, g_val[idx])


@pytest.mark.parametrize("kind", ["lstm_fused", "lstm_peephole_fused", "gru_fused", "basic_rnn_unrolled",
                                  "multi_dropout_fused"])
def test_dynamic_rnn_gradients_by_finite_differences(kind, graph):
    rng = np.random.default_rng(7)
    B, T, I, H = 3, 4, 3, 3
    x = tf.placeholder(F64, [B, T, I])
    seq = tf.placeholder(tf.int32, [B])
    c0 = tf.placeholder(F64, [B, H])
    if kind == "lstm_fused":
        cell, init = tf.nn.rnn_cell.BasicLSTMCell(H), tf.nn.rnn_cell.LSTMStateTuple(c0, tf.zeros([B, H], F64))
    elif kind == "lstm_peephole_fused":
        cell = tf.nn.rnn_cell.LSTMCell(H, use_peepholes=True, cell_clip=1.5)
        init = tf.nn.rnn_cell.LSTMStateTuple(c0, tf.zeros([B, H], F64))
    elif kind == "gru_fused":
        cell, init = tf.nn.rnn_cell.GRUCell(H), c0
    elif kind == "basic_rnn_unrolled":
        cell, init = tf.nn.rnn_cell.BasicRNNCell(H), c0
    else:
        cell = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.BasicLSTMCell(H),
                                                                           output_keep_prob=1.0),
                                            tf.nn.rnn_cell.BasicLSTMCell(H)])
        init = (tf.nn.rnn_cell.LSTMStateTuple(c0, tf.zeros([B, H], F64)), cell._cells[1].zero_state(B, F64))
    with tf.variable_scope("g", initializer=_random_init()):
        out, state = tf.nn.dynamic_rnn(cell, x, sequence_length=seq, initial_state=init)
    r1 = rng.standard_normal((B, T, H))
    r2 = rng.standard_normal((B, H))
    last = state[-1] if kind == "multi_dropout_fused" else state
    last_c = last.c if isinstance(last, tuple) else last
    loss = tf.reduce_sum(out * r1) + tf.reduce_sum(last_c * r2)
    variables = tf.trainable_variables()
    grads = tf.gradients(loss, [x, c0] + variables)
    feed = {x: rng.standard_normal((B, T, I)), seq: np.array([4, 1, 3]), c0: rng.standard_normal((B, H))}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        targets = [("feed", x), ("feed", c0)] + [("var", v) for v in variables]
        _fd_check(sess, loss, list(zip(grads, targets)), feed, None, rng)


def test_static_rnn_gradient_of_last_output_by_finite_differences(graph):
    rng = np.random.default_rng(8)
    B, T, I, H = 2, 3, 2, 3
    x = tf.placeholder(F64, [B, T, I])
    with tf.variable_scope("s", initializer=_random_init()):
        outs, _ = tf.contrib.rnn.static_rnn(tf.contrib.rnn.BasicLSTMCell(H), tf.unstack(x, T, 1), dtype=F64)
    loss = tf.reduce_sum(tf.square(outs[-1]))
    kernel = tf.trainable_variables()[0]
    grads = tf.gradients(loss, [x, kernel])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        _fd_check(sess, loss, list(zip(grads, [("feed", x), ("var", kernel)])), {x: rng.standard_normal((B, T, I))},
                  None, rng)


def test_output_and_input_projection_wrappers_match_numpy(graph):
    rng = np.random.default_rng(14)
    B, T, I, H = 2, 3, 1, 4
    xs = rng.standard_normal((B, T, I))
    x = tf.placeholder(F64, [None, T, I])
    with tf.variable_scope("o", initializer=_random_init()):
        cell = tf.contrib.rnn.OutputProjectionWrapper(tf.contrib.rnn.BasicRNNCell(H, activation=tf.nn.relu), 1)
        out, _ = tf.nn.dynamic_rnn(cell, x, dtype=F64)
    with tf.variable_scope("i", initializer=_random_init()):
        icell = tf.contrib.rnn.InputProjectionWrapper(tf.contrib.rnn.GRUCell(H), num_proj=3)
        iout, _ = tf.nn.dynamic_rnn(icell, x, dtype=F64)
    assert _names() == {
        "o/rnn/output_projection_wrapper/basic_rnn_cell/kernel": (I + H, H),
        "o/rnn/output_projection_wrapper/basic_rnn_cell/bias": (H,),
        "o/rnn/output_projection_wrapper/kernel": (H, 1), "o/rnn/output_projection_wrapper/bias": (1,),
        "i/rnn/input_projection_wrapper/kernel": (I, 3), "i/rnn/input_projection_wrapper/bias": (3,),
        "i/rnn/input_projection_wrapper/gru_cell/gates/kernel": (3 + H, 2 * H),
        "i/rnn/input_projection_wrapper/gru_cell/gates/bias": (2 * H,),
        "i/rnn/input_projection_wrapper/gru_cell/candidate/kernel": (3 + H, H),
        "i/rnn/input_projection_wrapper/gru_cell/candidate/bias": (H,)}
    (got, igot), v = _run_once([out, iout], {x: xs})
    p = "o/rnn/output_projection_wrapper/"

    def step(x_, h):
        h = np.maximum(np.concatenate([x_, h], 1) @ v[p + "basic_rnn_cell/kernel"] + v[p + "basic_rnn_cell/bias"], 0)
        return h @ v[p + "kernel"] + v[p + "bias"], h
    want, _ = ref.run(step, xs.transpose(1, 0, 2), np.zeros((B, H)))
    np.testing.assert_allclose(got, want.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)
    q = "i/rnn/input_projection_wrapper/"
    g = [v[q + "gru_cell/" + n] for n in ("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias")]
    iwant, _ = ref.run(lambda x_, h: ref.gru_step(x_ @ v[q + "kernel"] + v[q + "bias"], h, *g), xs.transpose(1, 0, 2),
                       np.zeros((B, H)))
    np.testing.assert_allclose(igot, iwant.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("as_list", [False, True])
def test_lstm_block_fused_cell_matches_numpy(as_list, graph):
    rng = np.random.default_rng(18)
    B, T, I, H = 3, 4, 2, 3
    xs = rng.standard_normal((T, B, I))
    lengths = np.array([4, 0, 2])
    x = tf.placeholder(F64, [T, None, I])
    cell = tf.contrib.rnn.LSTMBlockFusedCell(H, forget_bias=0.5, use_peephole=True)
    with tf.variable_scope("f", initializer=_random_init()):
        out, state = cell(tf.unstack(x, T) if as_list else x, dtype=F64, sequence_length=lengths)
    assert _names() == {"f/lstm_fused_cell/kernel": (I + H, 4 * H), "f/lstm_fused_cell/bias": (4 * H,),
                        "f/lstm_fused_cell/w_i_diag": (H,), "f/lstm_fused_cell/w_f_diag": (H,),
                        "f/lstm_fused_cell/w_o_diag": (H,)}
    (got, got_state), v = _run_once([out, state], {x: xs})
    p = "f/lstm_fused_cell/"
    peep = tuple(v[p + "w_%s_diag" % g] for g in "ifo")
    want, want_state = ref.run(lambda x_, s: ref.lstm_step(x_, s, v[p + "kernel"], v[p + "bias"], forget_bias=0.5,
                                                           peepholes=peep), xs, (np.zeros((B, H)),) * 2, lengths)
    np.testing.assert_allclose(np.stack(got) if as_list else got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_state.c, want_state[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_state.h, want_state[1], rtol=1e-10, atol=1e-12)


def test_layer_norm_basic_lstm_cell_matches_numpy(graph):
    rng = np.random.default_rng(19)
    B, T, I, H = 3, 3, 2, 4
    xs = rng.standard_normal((B, T, I))
    x = tf.placeholder(F64, [B, T, I])
    cell = tf.contrib.rnn.LayerNormBasicLSTMCell(H, forget_bias=0.5, norm_gain=1.5, norm_shift=0.1)
    with tf.variable_scope("ln", initializer=_random_init()):
        out, state = tf.nn.dynamic_rnn(cell, x, dtype=F64)
    names = _names()
    assert names["ln/rnn/layer_norm_basic_lstm_cell/kernel"] == (I + H, 4 * H)
    assert "ln/rnn/layer_norm_basic_lstm_cell/bias" not in names
    assert sorted(n.split("/")[-2] for n in names if n.endswith("gamma")) == ["forget", "input", "output",
                                                                              "state", "transform"]
    loss = tf.reduce_sum(out * out)
    kernel = [v for v in tf.trainable_variables() if v.op.name.endswith("kernel")][0]
    grads = tf.gradients(loss, [x, kernel])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got, got_state = sess.run([out, state], {x: xs})
        v = _values(sess)
        _fd_check(sess, loss, list(zip(grads, [("feed", x), ("var", kernel)])), {x: xs}, None, rng)
    p = "ln/rnn/layer_norm_basic_lstm_cell/"

    def norm(z, name):
        mu = z.mean(1, keepdims=True)
        var = ((z - mu) ** 2).mean(1, keepdims=True)
        return (z - mu) / np.sqrt(var + 1e-12) * v[p + name + "/gamma"] + v[p + name + "/beta"]

    def step(x_, s):
        c, h = s
        i, j, f, o = np.split(np.concatenate([x_, h], 1) @ v[p + "kernel"], 4, axis=1)
        i, j, f, o = norm(i, "input"), norm(j, "transform"), norm(f, "forget"), norm(o, "output")
        new_c = norm(c * ref.sigmoid(f + 0.5) + ref.sigmoid(i) * np.tanh(j), "state")
        new_h = np.tanh(new_c) * ref.sigmoid(o)
        return new_h, (new_c, new_h)
    want, want_state = ref.run(step, xs.transpose(1, 0, 2), (np.zeros((B, H)),) * 2)
    np.testing.assert_allclose(got, want.transpose(1, 0, 2), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(got_state.c, want_state[0], rtol=1e-9, atol=1e-11)


def test_embedding_wrapper_looks_ids_up_before_the_cell(graph):
    rng = np.random.default_rng(20)
    B, T, V, E, H = 3, 4, 7, 2, 3
    ids = rng.integers(0, V, (B, T))
    x = tf.placeholder(tf.int32, [B, T])
    cell = tf.contrib.rnn.EmbeddingWrapper(tf.contrib.rnn.BasicRNNCell(H), embedding_classes=V, embedding_size=E)
    with tf.variable_scope("e", initializer=_random_init()):
        outs, _ = tf.contrib.rnn.static_rnn(cell, tf.unstack(x, T, 1), dtype=F64)
    assert _names() == {"e/rnn/embedding_wrapper/embedding": (V, E),
                        "e/rnn/embedding_wrapper/basic_rnn_cell/kernel": (E + H, H),
                        "e/rnn/embedding_wrapper/basic_rnn_cell/bias": (H,)}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = np.stack(sess.run(outs, {x: ids}))
        v = _values(sess)
    p = "e/rnn/embedding_wrapper/"
    emb = v[p + "embedding"][ids.T]          # [T, B, E]
    want, _ = ref.run(lambda x_, h: ref.basic_rnn_step(x_, h, v[p + "basic_rnn_cell/kernel"],
                                                       v[p + "basic_rnn_cell/bias"]), emb, np.zeros((B, H)))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


# -- DropoutWrapper
def test_dropout_wrapper_keep_prob_tensor_and_output_dropout(graph):
    rng = np.random.default_rng(9)
    x = tf.placeholder(tf.float32, [64, 6, 3])
    keep = tf.placeholder(tf.float32, [])
    base = tf.nn.rnn_cell.BasicLSTMCell(5)
    cell = tf.nn.rnn_cell.DropoutWrapper(base, output_keep_prob=keep)
    out, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    with tf.variable_scope(tf.get_variable_scope(), reuse=True):
        plain, _ = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(5), x, dtype=tf.float32)
    xs = rng.standard_normal((64, 6, 3)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        full, want = sess.run([out, plain], {x: xs, keep: 1.0})
        half = sess.run(out, {x: xs, keep: 0.5})
    np.testing.assert_allclose(full, want, rtol=1e-6, atol=1e-7)
    kept = half != 0
    np.testing.assert_allclose(half[kept], 2 * want[kept], rtol=1e-5, atol=1e-6)
    assert 0.4 < kept.mean() < 0.6


def test_dropout_wrapper_state_dropout_leaves_lstm_memory_alone(graph):
    cell = tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.BasicLSTMCell(4), state_keep_prob=0.5, seed=1)
    x = tf.ones([8, 3])
    out, (c, h) = cell(x, cell.zero_state(8, tf.float32))
    assert "dropout" not in c.op.name and "dropout" in h.op.name
    with pytest.raises(ValueError, match="between 0 and 1"):
        tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.BasicLSTMCell(4), output_keep_prob=1.5)


# -- errors
def test_errors_name_the_problem(graph):
    x = tf.placeholder(tf.float32, [2, 3, 4])
    with pytest.raises(ValueError, match="you must give a dtype"):
        tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(2), x)
    with pytest.raises(ValueError, match="sequence_length must be a vector"):
        tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(2), x, dtype=tf.float32, sequence_length=[[1, 2]])
    with pytest.raises(ValueError, match="at least 3-D"):
        tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(2), tf.placeholder(tf.float32, [2, 3]), dtype=tf.float32)
    with pytest.raises(TypeError, match="is not an RNNCell"):
        tf.nn.dynamic_rnn(object(), x, dtype=tf.float32)
    with pytest.raises(TypeError, match="inputs must be a sequence"):
        tf.contrib.rnn.static_rnn(tf.contrib.rnn.BasicLSTMCell(2), x, dtype=tf.float32)
    with pytest.raises(ValueError, match="inputs.shape\\[-1\\] to be known"):
        tf.nn.rnn_cell.BasicLSTMCell(2)(tf.placeholder(tf.float32, [2, None]),
                                         tf.nn.rnn_cell.LSTMStateTuple(tf.zeros([2, 2]), tf.zeros([2, 2])))


def test_unknown_time_dimension_runs_fused_lstm(graph):
    rng = np.random.default_rng(10)
    x = tf.placeholder(F64, [None, None, 2])
    with tf.variable_scope("u", initializer=_random_init()):
        out, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(3), x, dtype=F64)
    assert out.shape.as_list() == [None, None, 3]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        v = _values(sess)
        for T in (1, 4):
            xs = rng.standard_normal((2, T, 2))
            got = sess.run(out, {x: xs})
            k, b = v["u/rnn/basic_lstm_cell/kernel"], v["u/rnn/basic_lstm_cell/bias"]
            want, _ = ref.run(lambda x_, s: ref.lstm_step(x_, s, k, b), xs.transpose(1, 0, 2),
                              (np.zeros((2, 3)),) * 2)
            np.testing.assert_allclose(got, want.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)


def test_unknown_time_dimension_runs_other_cells_in_a_loop(graph):
    """A cell with no fused kernel (BasicRNNCell) over an unknown number of steps: a tf.scan loop, checked
    against NumPy and by finite differences."""
    rng = np.random.default_rng(12)
    B, I, H = 3, 2, 3
    x = tf.placeholder(F64, [B, None, I])
    seq = tf.placeholder(tf.int32, [B])
    with tf.variable_scope("loop", initializer=_random_init()):
        out, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicRNNCell(H), x, sequence_length=seq, dtype=F64)
    assert out.shape.as_list() == [B, None, H] and state.shape.as_list() == [B, H]
    assert any(op.type == "While" for op in tf.get_default_graph().get_operations())
    loss = tf.reduce_sum(out * out) + tf.reduce_sum(state * tf.constant(rng.standard_normal((B, H))))
    variables = tf.trainable_variables()
    assert sorted(v.op.name for v in variables) == ["loop/rnn/basic_rnn_cell/bias", "loop/rnn/basic_rnn_cell/kernel"]
    grads = tf.gradients(loss, [x] + variables)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        v = _values(sess)
        k, b = v["loop/rnn/basic_rnn_cell/kernel"], v["loop/rnn/basic_rnn_cell/bias"]
        for T, lengths in ((4, np.array([4, 1, 0])), (2, np.array([2, 2, 1]))):
            xs = rng.standard_normal((B, T, I))
            got_out, got_state = sess.run([out, state], {x: xs, seq: lengths})
            want_out, want_state = ref.run(lambda x_, s: ref.basic_rnn_step(x_, s, k, b), xs.transpose(1, 0, 2),
                                           np.zeros((B, H)), lengths)
            np.testing.assert_allclose(got_out, want_out.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(got_state, want_state, rtol=1e-10, atol=1e-12)
        feed = {x: rng.standard_normal((B, 4, I)), seq: np.array([4, 2, 3])}
        _fd_check(sess, loss, list(zip(grads, [("feed", x)] + [("var", w) for w in variables])), feed, None, rng)


@pytest.fixture
def tiny_slices(monkeypatch):
    """The fused sequence kernels split even a tiny batch into slices for the pool's threads."""
    from nanotf.ops import lstm_ops
    monkeypatch.setattr(lstm_ops, "_MIN_SPLIT_WORK", 0)
    monkeypatch.setattr(lstm_ops, "_MIN_SLICE", 1)


def _ragged_dynamic_rnn(cell, B, T, I, lengths):
    """x [B, T, I] float64 and dynamic_rnn(cell)'s (outputs, final state) over it, variables randomly initialized
    under 'p'."""
    x = tf.placeholder(F64, [B, T, I])
    with tf.variable_scope("p", initializer=_random_init()):
        out, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=F64)
    return x, out, state


@pytest.mark.parametrize("threads", [2, 3])
def test_fused_gru_in_concurrent_batch_slices_matches_numpy(tiny_slices, threads, graph):
    rng = np.random.default_rng(15)
    B, T, I, H = 6, 4, 3, 2
    lengths = np.array([4, 0, 2, 3, 1, 4])
    x, out, state = _ragged_dynamic_rnn(tf.nn.rnn_cell.GRUCell(H), B, T, I, lengths)
    loss = tf.reduce_sum(out * rng.standard_normal((B, T, H))) + tf.reduce_sum(state * state)
    variables = tf.trainable_variables()
    with tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=threads)) as sess:
        sess.run(tf.global_variables_initializer())
        xs = rng.standard_normal((B, T, I))
        forward_only = sess.run([out, state], {x: xs})
        grads = tf.gradients(loss, [x] + variables)
        got_out, got_state = sess.run([out, state], {x: xs})
        np.testing.assert_allclose(forward_only[0], got_out, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(forward_only[1], got_state, rtol=1e-12, atol=1e-14)
        v = _values(sess)
        g = [v["p/rnn/gru_cell/%s" % n] for n in ("gates/kernel", "gates/bias", "candidate/kernel",
                                                  "candidate/bias")]
        want_out, want_state = ref.run(lambda x_, s: ref.gru_step(x_, s, *g), xs.transpose(1, 0, 2),
                                       np.zeros((B, H)), lengths)
        np.testing.assert_allclose(got_out, want_out.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got_state, want_state, rtol=1e-10, atol=1e-12)
        _fd_check(sess, loss, list(zip(grads, [("feed", x)] + [("var", w) for w in variables])), {x: xs}, None,
                  rng)
        assert sess.run(state.op.outputs[2], {x: xs}).shape[0] == threads


@pytest.mark.parametrize("threads", [2, 3])
def test_fused_lstm_in_concurrent_batch_slices_matches_numpy(tiny_slices, threads, graph):
    """The fused LSTM splits the batch into slices run on the pool's threads; results and gradients are the
    same as NumPy's (forced here on a small problem)."""
    rng = np.random.default_rng(13)
    B, T, I, H = 6, 4, 3, 2
    lengths = np.array([4, 0, 2, 3, 1, 4])
    x, out, state = _ragged_dynamic_rnn(tf.nn.rnn_cell.LSTMCell(H, use_peepholes=True), B, T, I, lengths)
    loss = tf.reduce_sum(out * rng.standard_normal((B, T, H))) + tf.reduce_sum(state.c * state.h)
    variables = tf.trainable_variables()
    config = tf.ConfigProto(intra_op_parallelism_threads=threads)
    with tf.Session(config=config) as sess:
        sess.run(tf.global_variables_initializer())
        xs = rng.standard_normal((B, T, I))
        # before any gradient exists the kernel keeps only two steps of state: same results
        forward_only = sess.run([out, state], {x: xs})
        assert sess.run(state.c.op.outputs[3], {x: xs}).size == 0   # nothing kept for a gradient
        grads = tf.gradients(loss, [x] + variables)
        got_out, got_state = sess.run([out, state], {x: xs})
        np.testing.assert_allclose(forward_only[0], got_out, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(forward_only[1].c, got_state.c, rtol=1e-12, atol=1e-14)
        v = _values(sess)
        k, b = v["p/rnn/lstm_cell/kernel"], v["p/rnn/lstm_cell/bias"]
        peep = tuple(v["p/rnn/lstm_cell/w_%s_diag" % g] for g in "ifo")
        want_out, want_state = ref.run(lambda x_, s: ref.lstm_step(x_, s, k, b, peepholes=peep),
                                       xs.transpose(1, 0, 2), (np.zeros((B, H)),) * 2, lengths)
        np.testing.assert_allclose(got_out, want_out.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got_state.c, want_state[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got_state.h, want_state[1], rtol=1e-10, atol=1e-12)
        _fd_check(sess, loss, list(zip(grads, [("feed", x)] + [("var", w) for w in variables])), {x: xs}, None,
                  rng)
        slices = sess.run(state.c.op.outputs[3], {x: xs}).shape[0]
    assert slices == (2 if threads == 2 else 3)


# -- array helpers
def test_reverse_sequence_and_sequence_mask_match_numpy(graph):
    rng = np.random.default_rng(11)
    xs = rng.standard_normal((3, 5, 2))
    lengths = np.array([5, 0, 3])
    rev = tf.reverse_sequence(xs, lengths, seq_axis=1, batch_axis=0)
    rev_tm = tf.reverse_sequence(xs.transpose(1, 0, 2), lengths, seq_axis=0, batch_axis=1)
    mask = tf.sequence_mask(lengths)
    mask8 = tf.sequence_mask(tf.constant([[1, 2], [0, 4]]), maxlen=4, dtype=tf.float32)
    assert mask8.shape.as_list() == [2, 2, 4]
    with tf.Session() as sess:
        got, got_tm, m, m8 = sess.run([rev, rev_tm, mask, mask8])
        with pytest.raises(tf.errors.InvalidArgumentError, match="seq_lengths"):
            sess.run(tf.reverse_sequence(xs, [6, 1, 1], seq_axis=1, batch_axis=0))
    want = ref.reverse_valid(xs.transpose(1, 0, 2), lengths)
    np.testing.assert_array_equal(got, want.transpose(1, 0, 2))
    np.testing.assert_array_equal(got_tm, want)
    np.testing.assert_array_equal(m, np.arange(5)[None, :] < lengths[:, None])
    np.testing.assert_array_equal(m8, (np.arange(4) < np.array([[1, 2], [0, 4]])[..., None]).astype(np.float32))


def _lstm_gradients_from_final_h(xs, kernel, bias, d_h, forget_bias=1.0):
    """Float64 backpropagation through time of TF's BasicLSTMCell equations from zero state over xs [T, B, I],
    the only incoming gradient being d_h on the final h: (d kernel, d bias)."""
    T, B, _ = xs.shape
    H = bias.shape[0] // 4
    c, h = np.zeros((B, H)), np.zeros((B, H))
    steps = []
    for x in xs:
        xh = np.concatenate([x, h], 1)
        i, j, f, o = ref.split4(xh @ kernel + bias)
        i, j, f, o = ref.sigmoid(i), np.tanh(j), ref.sigmoid(f + forget_bias), ref.sigmoid(o)
        c_prev, c = c, f * c + i * j
        h = o * np.tanh(c)
        steps.append((xh, c_prev, c, i, j, f, o))
    dk, db = np.zeros_like(kernel), np.zeros_like(bias)
    dh, dc = d_h, np.zeros((B, H))
    for xh, c_prev, c, i, j, f, o in reversed(steps):
        tc = np.tanh(c)
        dc = dc + dh * o * (1 - tc * tc)
        dz = np.concatenate([dc * j * i * (1 - i), dc * i * (1 - j * j), dc * c_prev * f * (1 - f),
                             dh * tc * o * (1 - o)], 1)
        dk += xh.T @ dz
        db += dz.sum(0)
        dh, dc = dz @ kernel[-H:].T, dc * f
    return dk, db


@pytest.mark.parametrize("threads", [1, 2])
def test_static_bidirectional_lstm_float32_gradients_match_float64_bptt(tiny_slices, threads, graph):
    """The bidirectional MNIST program's structure (a classifier on the last output of a static_bidirectional_rnn
    of BasicLSTMCells, float32): each direction's weight gradients, from the fused backward kernel (in batch
    slices with 2 threads), match float64 backpropagation through time within float32 round-off."""
    rng = np.random.default_rng(21)
    B, T, I, H = 8, 6, 3, 4
    x = tf.placeholder(tf.float32, [None, T, I])
    with tf.variable_scope("p", initializer=_random_init()):
        cells = [tf.contrib.rnn.BasicLSTMCell(H) for _ in range(2)]
        outs, _, _ = tf.contrib.rnn.static_bidirectional_rnn(cells[0], cells[1], tf.unstack(x, T, 1),
                                                             dtype=tf.float32)
    r = rng.standard_normal((B, 2 * H))
    loss = tf.reduce_sum(outs[-1] * r.astype(np.float32))
    names = ["p/bidirectional_rnn/%s/basic_lstm_cell/%s" % (d, v) for d in ("fw", "bw") for v in ("kernel", "bias")]
    variables = {v.op.name: v for v in tf.trainable_variables()}
    grads = tf.gradients(loss, [variables[n] for n in names])
    with tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=threads)) as sess:
        sess.run(tf.global_variables_initializer())
        xs = rng.standard_normal((B, T, I)).astype(np.float32)
        got = sess.run(grads, {x: xs})
        v = {n: a.astype(np.float64) for n, a in _values(sess).items()}
    xs_tm = xs.astype(np.float64).transpose(1, 0, 2)
    # outputs[-1] = [fw's final h, bw's output at the last time]: the backward RNN reads the sequence reversed, so
    # that output is its h after its first step, over x[T - 1] alone
    want = (_lstm_gradients_from_final_h(xs_tm, v[names[0]], v[names[1]], r[:, :H])
            + _lstm_gradients_from_final_h(xs_tm[T - 1:], v[names[2]], v[names[3]], r[:, H:]))
    for n, g, w in zip(names, got, want):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5 * np.abs(w).max(), err_msg=n)
