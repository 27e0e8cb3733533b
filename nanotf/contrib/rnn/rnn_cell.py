"""tf.contrib.rnn's own cells (TF's contrib/rnn/python/ops/rnn_cell.py and lstm_ops.py): LSTMBlockCell,
LSTMBlockFusedCell, LayerNormBasicLSTMCell and the projection and embedding wrappers, with TF's variable names.
They build on nanotf/ops/rnn_cell_impl.py; LSTMBlockCell and LSTMBlockFusedCell run on the fused LSTM op."""
from nanotf.framework.ops import convert_to_tensor, name_scope
from nanotf.ops import array_ops, init_ops, math_ops, nn_ops, variable_scope as vs
from nanotf.ops.rnn_cell_impl import (_BIAS, _WEIGHTS, LSTMCell, LSTMStateTuple, RNNCell, _activation,
                                      _check_floating, _check_input_depth, _drops, _keep_prob_value,
                                      assert_like_rnncell, flatten)

__all__ = ["LSTMBlockCell", "LSTMBlockFusedCell", "LayerNormBasicLSTMCell", "OutputProjectionWrapper",
           "InputProjectionWrapper", "EmbeddingWrapper"]


class LSTMBlockCell(LSTMCell):
    """tf.contrib.rnn.LSTMBlockCell: the LSTM of LSTMCell (default scope 'lstm_cell', variables kernel and
    bias, peepholes w_i_diag/w_f_diag/w_o_diag) without projection; cell_clip None means no clipping."""
    _sequence_kernel = "lstm"

    def __init__(self, num_units, forget_bias=1.0, cell_clip=None, use_peephole=False, dtype=None, reuse=None,
                 name="lstm_cell"):
        super().__init__(num_units, use_peepholes=use_peephole, cell_clip=cell_clip, forget_bias=forget_bias,
                         reuse=reuse, name=name, dtype=dtype)


class LSTMBlockFusedCell(RNNCell):
    """tf.contrib.rnn.LSTMBlockFusedCell: an LSTM over a whole time-major sequence in one call,
    `outputs, (c, h) = cell(inputs [time, batch, depth] or a list, initial_state=None, dtype=None,
    sequence_length=None)`; outputs past a sequence's length are zero and the final state is the last valid
    step's. Variables kernel, bias (and w_i_diag, w_f_diag, w_o_diag) under 'lstm_fused_cell'."""

    def __init__(self, num_units, forget_bias=1.0, cell_clip=None, use_peephole=False, reuse=None, dtype=None,
                 name="lstm_fused_cell"):
        super().__init__(_reuse=reuse, name=name, dtype=dtype)
        self._num_units = int(num_units)
        self._forget_bias = float(forget_bias)
        self._cell_clip = cell_clip
        self._use_peephole = bool(use_peephole)

    num_units = property(lambda self: self._num_units)
    state_size = property(lambda self: LSTMStateTuple(self._num_units, self._num_units))
    output_size = property(lambda self: self._num_units)

    def build(self, inputs_shape):
        depth = _check_input_depth(self, inputs_shape)
        n = self._num_units
        self._kernel = self.add_variable(_WEIGHTS, [depth + n, 4 * n])
        self._bias = self.add_variable(_BIAS, [4 * n], initializer=init_ops.zeros_initializer())
        if self._use_peephole:
            self._w_i_diag = self.add_variable("w_i_diag", [n])
            self._w_f_diag = self.add_variable("w_f_diag", [n])
            self._w_o_diag = self.add_variable("w_o_diag", [n])

    def __call__(self, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
        from nanotf.ops import lstm_ops
        is_list = isinstance(inputs, (list, tuple))
        x = array_ops.stack(list(inputs)) if is_list else convert_to_tensor(inputs, name="inputs")
        if x.shape.ndims != 3:
            raise ValueError("LSTMBlockFusedCell expects inputs [time_len, batch_size, input_size] (or a list of "
                             "[batch_size, input_size]), got shape %s" % x.shape)
        if x.shape.as_tuple()[2] is None:
            raise ValueError("Expecting inputs_shape[2] to be set: %s" % x.shape)
        if initial_state is None:
            if dtype is None:
                raise ValueError("Either initial_state or dtype needs to be specified")
            batch = x.shape.as_tuple()[1]
            initial_state = self.zero_state(batch if batch is not None else array_ops.shape(x)[1], dtype)
        elif len(initial_state) != 2:
            raise ValueError("Expecting initial_state to be a tuple with length 2 or None")
        c0, h0 = initial_state
        with self._cell_scope(scope, x.shape[1:], x.dtype):
            peepholes = (self._w_i_diag, self._w_f_diag, self._w_o_diag) if self._use_peephole else None
            outs = lstm_ops.lstm_sequence(x, c0, h0, self._kernel, self._bias, sequence_length=sequence_length,
                                          peepholes=peepholes, forget_bias=self._forget_bias,
                                          cell_clip=self._cell_clip)
        outputs = outs[0]
        if is_list:
            outputs = array_ops.unstack(outputs, num=len(inputs))
        return outputs, LSTMStateTuple(outs[1], outs[2])


class LayerNormBasicLSTMCell(RNNCell):
    """tf.contrib.rnn.LayerNormBasicLSTMCell: BasicLSTMCell's gates, each layer-normalized (over the units, with
    epsilon 1e-12) before its nonlinearity, the new c normalized too, and optional dropout on the candidate
    ("recurrent dropout without memory loss"). Variables under 'layer_norm_basic_lstm_cell': kernel (bias only
    without layer_norm), and gamma, beta in input/, transform/, forget/, output/, state/."""

    def __init__(self, num_units, forget_bias=1.0, input_size=None, activation=None, layer_norm=True,
                 norm_gain=1.0, norm_shift=0.0, dropout_keep_prob=1.0, dropout_prob_seed=None, reuse=None):
        super().__init__(_reuse=reuse)
        self._num_units = int(num_units)
        self._forget_bias = float(forget_bias)
        self._activation = _activation(activation)
        self._layer_norm = layer_norm
        self._norm_gain = norm_gain
        self._norm_shift = norm_shift
        self._keep_prob = (dropout_keep_prob if isinstance(dropout_keep_prob, float)
                           else _keep_prob_value(dropout_keep_prob, "dropout_keep_prob"))
        self._seed = dropout_prob_seed

    state_size = property(lambda self: LSTMStateTuple(self._num_units, self._num_units))
    output_size = property(lambda self: self._num_units)

    def _norm(self, x, scope):
        size = x.shape.as_list()[-1:]
        with vs.variable_scope(scope):
            gamma = vs.get_variable("gamma", size, dtype=x.dtype,
                                    initializer=init_ops.constant_initializer(self._norm_gain))
            beta = vs.get_variable("beta", size, dtype=x.dtype,
                                   initializer=init_ops.constant_initializer(self._norm_shift))
        with name_scope("LayerNorm"):
            mean = math_ops.reduce_mean(x, axis=1, keepdims=True)
            centered = x - mean
            variance = math_ops.reduce_mean(math_ops.square(centered), axis=1, keepdims=True)
            return centered * math_ops.rsqrt(variance + 1e-12) * gamma + beta

    def call(self, inputs, state):
        _check_floating(self, [inputs, state])
        c, h = state
        args = array_ops.concat([inputs, h], 1)
        depth = _check_input_depth(self, args.shape)
        kernel = vs.get_variable(_WEIGHTS, [depth, 4 * self._num_units], dtype=args.dtype)
        z = math_ops.matmul(args, kernel)
        if not self._layer_norm:
            z = nn_ops.bias_add(z, vs.get_variable(_BIAS, [4 * self._num_units], dtype=args.dtype))
        i, j, f, o = array_ops.split(z, 4, axis=1)
        if self._layer_norm:
            i, j, f, o = (self._norm(g, name) for g, name in ((i, "input"), (j, "transform"), (f, "forget"),
                                                                (o, "output")))
        g = self._activation(j)
        if _drops(self._keep_prob):
            g = nn_ops.dropout(g, keep_prob=self._keep_prob, seed=self._seed)
        new_c = c * nn_ops.sigmoid(f + self._forget_bias) + nn_ops.sigmoid(i) * g
        if self._layer_norm:
            new_c = self._norm(new_c, "state")
        new_h = self._activation(new_c) * nn_ops.sigmoid(o)
        return new_h, LSTMStateTuple(new_c, new_h)


def _project(wrapper, x, size):
    """x @ kernel + bias (then the wrapper's activation), the variables made in the wrapper's scope on first use."""
    if wrapper._proj is None:
        depth = _check_input_depth(wrapper, x.shape)
        wrapper._proj = (vs.get_variable(_WEIGHTS, [depth, size], dtype=x.dtype),
                         vs.get_variable(_BIAS, [size], dtype=x.dtype, initializer=init_ops.zeros_initializer()))
    projected = nn_ops.bias_add(math_ops.matmul(x, wrapper._proj[0]), wrapper._proj[1])
    return wrapper._activation(projected) if wrapper._activation else projected


class _ContribWrapper(RNNCell):
    """A cell around `cell` (in its own variable scope), with the wrapped cell's state."""

    def __init__(self, cell, reuse):
        super().__init__(_reuse=reuse)
        assert_like_rnncell("cell", cell)
        self._cell = cell

    state_size = property(lambda self: self._cell.state_size)
    output_size = property(lambda self: self._cell.output_size)

    def zero_state(self, batch_size, dtype):
        with name_scope(type(self).__name__ + "ZeroState"):
            return self._cell.zero_state(batch_size, dtype)


class OutputProjectionWrapper(_ContribWrapper):
    """tf.contrib.rnn.OutputProjectionWrapper: the cell's output times `kernel` plus `bias` (created in the
    wrapper's scope, e.g. rnn/output_projection_wrapper/kernel; the wrapped cell's variables nest under it)."""

    def __init__(self, cell, output_size, activation=None, reuse=None):
        super().__init__(cell, reuse)
        if output_size < 1:
            raise ValueError("Parameter output_size must be > 0: %d." % output_size)
        self._output_size = int(output_size)
        self._activation = activation
        self._proj = None

    @property
    def output_size(self):
        return self._output_size

    def call(self, inputs, state):
        output, new_state = self._cell(inputs, state)
        return _project(self, output, self._output_size), new_state


class InputProjectionWrapper(_ContribWrapper):
    """tf.contrib.rnn.InputProjectionWrapper: inputs times `kernel` plus `bias` (in the wrapper's scope), then
    the cell."""

    def __init__(self, cell, num_proj, activation=None, input_size=None, reuse=None):
        super().__init__(cell, reuse)
        self._num_proj = int(num_proj)
        self._activation = activation
        self._proj = None

    def call(self, inputs, state):
        return self._cell(_project(self, inputs, self._num_proj), state)


class EmbeddingWrapper(_ContribWrapper):
    """tf.contrib.rnn.EmbeddingWrapper: integer inputs (ids, [batch] or [batch, 1]) looked up in
    `embedding_wrapper/embedding` [embedding_classes, embedding_size] (uniform in +-sqrt(3) unless an initializer is
    given here or by the scope) before the cell."""

    def __init__(self, cell, embedding_classes, embedding_size, initializer=None, reuse=None):
        super().__init__(cell, reuse)
        if embedding_classes <= 0 or embedding_size <= 0:
            raise ValueError("Both embedding_classes and embedding_size must be > 0: %d, %d."
                             % (embedding_classes, embedding_size))
        self._embedding_classes = int(embedding_classes)
        self._embedding_size = int(embedding_size)
        self._initializer = initializer

    def build(self, inputs_shape):
        pass

    def __call__(self, inputs, state, scope=None):
        ids = convert_to_tensor(inputs, name="inputs")
        if not ids.dtype.is_integer:
            raise TypeError("EmbeddingWrapper: inputs must be integer ids, got %s (%s)" % (ids.dtype.name, ids.name))
        dtype = flatten(state)[0].dtype
        with self._cell_scope(scope, ids.shape, dtype):
            initializer = self._initializer or vs.get_variable_scope().initializer
            if initializer is None:
                initializer = init_ops.random_uniform_initializer(-3 ** 0.5, 3 ** 0.5)
            embedding = vs.get_variable("embedding", [self._embedding_classes, self._embedding_size],
                                        initializer=initializer, dtype=dtype)
            from nanotf.ops import embedding_ops
            embedded = embedding_ops.embedding_lookup(embedding, array_ops.reshape(ids, [-1]))
            return self._cell(embedded, state)
