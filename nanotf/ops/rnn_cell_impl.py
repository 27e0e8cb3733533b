"""RNN cells as TensorFlow 1.15 defines them (tf.nn.rnn_cell, tf.contrib.rnn).

A cell is a callable `(output, new_state) = cell(inputs, state)` for one time step. As in TF 1.15, where
cells are layers, a cell picks its variable scope on its first call (`<current scope>/<snake_case class
name>`, made unique, or the `scope` argument), creates its variables there in `build`, and reuses them on
every later call. So `static_rnn` / `dynamic_rnn` name them `rnn/basic_lstm_cell/kernel`,
`rnn/multi_rnn_cell/cell_0/gru_cell/gates/kernel`, ... and checkpoints match TensorFlow's.

The equations and gate layouts are TF's: the LSTM kernel is `[input_depth + num_units, 4 * num_units]` with
gate columns in the order i (input), j (new input), f (forget), o (output); the forget bias is added to f,
not stored in the bias variable.
"""
import collections
import contextlib
import numbers
import re

from nanotf.framework import dtypes
from nanotf.framework.ops import GraphKeys, Tensor, convert_to_tensor, device, get_collection, name_scope
from nanotf.framework.tensor_shape import as_shape
from nanotf.ops import array_ops, init_ops, math_ops, nn_ops, random_ops, variable_scope as vs

__all__ = ["RNNCell", "LayerRNNCell", "BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell", "MultiRNNCell",
           "DropoutWrapper", "ResidualWrapper", "DeviceWrapper", "LSTMStateTuple"]

_WEIGHTS = "kernel"
_BIAS = "bias"


# -- nested structures of states (tuples, lists, namedtuples of tensors or sizes)
def _is_sequence(x):
    return isinstance(x, (tuple, list))


def flatten(structure):
    if _is_sequence(structure):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack_sequence_as(structure, flat):
    flat = list(flat)

    def build(s):
        if _is_sequence(s):
            items = [build(item) for item in s]
            if isinstance(s, tuple) and hasattr(s, "_fields"):
                return type(s)(*items)
            return type(s)(items)
        return flat.pop(0)
    out = build(structure)
    if flat:
        raise ValueError("pack_sequence_as: %d values left over for structure %r" % (len(flat), structure))
    return out


def map_structure(fn, *structures):
    flats = [flatten(s) for s in structures]
    if len({len(f) for f in flats}) > 1:
        raise ValueError("map_structure: structures differ in size: %s" % ([len(f) for f in flats],))
    return pack_sequence_as(structures[0], [fn(*leaves) for leaves in zip(*flats)])


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """An LSTM's state: (c, h), c the memory cell and h the output, in that order."""
    __slots__ = ()

    @property
    def dtype(self):
        c, h = self
        if c.dtype != h.dtype:
            raise TypeError("Inconsistent internal state: %s vs %s" % (c.dtype, h.dtype))
        return c.dtype


def assert_like_rnncell(cell_name, cell):
    """TypeError unless `cell` has output_size, state_size, zero_state and is callable (TF's check)."""
    problems = [msg for ok, msg in (
        (hasattr(cell, "output_size"), "'output_size' property is missing"),
        (hasattr(cell, "state_size"), "'state_size' property is missing"),
        (hasattr(cell, "zero_state") or hasattr(cell, "get_initial_state"),
         "either 'zero_state' or 'get_initial_state' method is required"),
        (callable(cell), "is not callable")) if not ok]
    if problems:
        raise TypeError("The argument %r (%s) is not an RNNCell: %s." % (cell_name, cell, ", ".join(problems)))


def _snake_case(name):
    """A class name as TF's default layer name: BasicLSTMCell -> basic_lstm_cell (a leading '_' gives
    'private_...', as in TF)."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
    return "private" + name if name.startswith("_") else name


def _zero_state_tensors(state_size, batch_size, dtype):
    def zeros(size):
        dims = as_shape(size).as_list()
        if isinstance(batch_size, Tensor):
            shape = array_ops.concat([array_ops.reshape(batch_size, [1]),
                                      array_ops.constant(dims, dtype=batch_size.dtype)], 0)
            z = array_ops.fill(shape, array_ops.constant(0, dtype=dtype))
            z.set_shape([None] + dims)
            return z
        return array_ops.zeros([int(batch_size)] + dims, dtype=dtype)
    return map_structure(zeros, state_size)


_ACTIVATIONS = {"tanh": nn_ops.tanh, "sigmoid": nn_ops.sigmoid,
                "relu": nn_ops.relu, "linear": lambda x: x, "elu": nn_ops.elu, "softplus": nn_ops.softplus}


def _activation(activation):
    if activation is None:
        return nn_ops.tanh
    if isinstance(activation, str):
        try:
            return _ACTIVATIONS[activation]
        except KeyError:
            raise ValueError("Unknown activation function: %s (nanotf knows %s)"
                             % (activation, ", ".join(sorted(_ACTIVATIONS)))) from None
    if not callable(activation):
        raise TypeError("activation must be callable or a name, got %r" % (activation,))
    return activation


def _is_default_tanh(fn):
    return fn is nn_ops.tanh or fn is _ACTIVATIONS["tanh"]


class RNNCell:
    """Abstract RNN cell: subclasses define state_size, output_size, build(inputs_shape) and
    call(inputs, state) -> (output, new_state). Cells whose `call` uses tf.get_variable directly work too:
    the first call creates the variables in the cell's scope and later calls reuse them."""

    # class-level defaults, so that subclasses whose __init__ never calls ours (common in 2016-era code) work
    trainable = True
    built = False
    _name = None
    _base_name = None
    _dtype = None
    _reuse = None
    _scope = None

    def __init__(self, trainable=True, name=None, dtype=None, _reuse=None, **kwargs):
        unknown = set(kwargs) - {"_scope", "input_shape", "batch_input_shape", "batch_size", "weights"}
        if unknown:
            raise TypeError("Keyword argument not understood: %s" % ", ".join(sorted(unknown)))
        self.trainable = trainable
        self._name = name
        self._base_name = name or _snake_case(type(self).__name__)
        self._dtype = dtypes.as_dtype(dtype) if dtype is not None else None
        self._reuse = _reuse
        self._scope = None
        self.built = False

    # -- properties every cell has
    @property
    def state_size(self):
        raise NotImplementedError("Abstract method")

    @property
    def output_size(self):
        raise NotImplementedError("Abstract method")

    @property
    def name(self):
        return self._scope.name if self._scope is not None else self._default_scope_name()

    def _default_scope_name(self):
        return self._base_name or _snake_case(type(self).__name__)

    @property
    def dtype(self):
        return self._dtype

    @property
    def scope_name(self):
        return self._scope.name if self._scope is not None else None

    @property
    def variables(self):
        """The variables this cell created (those in its scope), once it has been called."""
        if self._scope is None:
            return []
        return get_collection(GraphKeys.GLOBAL_VARIABLES, self._scope.name + "/")

    weights = variables

    @property
    def trainable_variables(self):
        if self._scope is None or not self.trainable:
            return []
        return get_collection(GraphKeys.TRAINABLE_VARIABLES, self._scope.name + "/")

    trainable_weights = trainable_variables

    def build(self, inputs_shape):
        """Creates the cell's variables (called once, on the first call, inside the cell's scope)."""
        self.built = True

    def call(self, inputs, state):
        raise NotImplementedError("RNNCell subclasses must implement call(inputs, state)")

    def add_variable(self, name, shape, dtype=None, initializer=None, trainable=True, **kwargs):
        """tf.get_variable(name) in the cell's scope (TF's Layer.add_weight)."""
        return vs.get_variable(name, shape=shape, dtype=dtype or self._dtype or dtypes.float32,
                               initializer=initializer, trainable=trainable and self.trainable, **kwargs)

    add_weight = add_variable

    # -- calling
    @contextlib.contextmanager
    def _cell_scope(self, scope, inputs_shape, dtype):
        """Enters the cell's variable scope (fixed by its first use) and name scope; builds on first use."""
        if self._scope is None:
            if scope is not None:
                with vs.variable_scope(scope, reuse=self._reuse) as captured:
                    self._scope = captured
            else:
                with vs.variable_scope(None, default_name=self._default_scope_name(), reuse=self._reuse) as captured:
                    self._scope = captured
        if self._dtype is None:
            self._dtype = dtypes.as_dtype(dtype)
        reuse = True if self.built else self._reuse
        with vs.variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False):
            with name_scope(self._scope.original_name_scope):
                if not self.built:
                    self.build(inputs_shape)
                    self.built = True
                yield

    def __call__(self, inputs, state, scope=None):
        """One step: (output, new_state) = call(inputs, state), in the cell's scope."""
        first = flatten(inputs)[0]
        first = first if isinstance(first, Tensor) else convert_to_tensor(first)
        with self._cell_scope(scope, first.shape, first.dtype):
            return self.call(inputs, state)

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if inputs is not None:
            inputs = convert_to_tensor(inputs, name="inputs")
            batch_size = inputs.shape.as_tuple()[0] if inputs.shape.ndims else None
            if batch_size is None:
                batch_size = array_ops.shape(inputs)[0]
            dtype = inputs.dtype
        if batch_size is None or dtype is None:
            raise ValueError("batch_size and dtype cannot be None while constructing initial state: "
                             "batch_size=%s, dtype=%s" % (batch_size, dtype))
        return self.zero_state(batch_size, dtype)

    def zero_state(self, batch_size, dtype):
        """Zeros of shape [batch_size, s] for each size s in state_size (a tuple of them for tuple states)."""
        dtype = dtypes.as_dtype(dtype)
        with name_scope(type(self).__name__ + "ZeroState", values=[batch_size] if isinstance(batch_size, Tensor)
                        else None):
            return _zero_state_tensors(self.state_size, batch_size, dtype)


class LayerRNNCell(RNNCell):
    """TF's name for cells that create their variables in build() (all of nanotf's cells do). Unless a
    subclass says otherwise, its state and its output are `num_units` wide."""
    state_size = property(lambda self: self._num_units)
    output_size = property(lambda self: self._num_units)


def _check_input_depth(cell, inputs_shape):
    dims = as_shape(inputs_shape).as_list() if as_shape(inputs_shape).ndims is not None else None
    if dims is None or dims[-1] is None:
        raise ValueError("Expected inputs.shape[-1] to be known, saw shape: %s (%s)"
                         % (as_shape(inputs_shape), type(cell).__name__))
    return dims[-1]


def _check_floating(cell, tensors):
    for t in flatten(tensors):
        if isinstance(t, Tensor) and not t.dtype.is_floating:
            raise TypeError("%s: RNN cell only supports floating point inputs, but saw dtype: %s (%s)"
                            % (type(cell).__name__, t.dtype.name, t.name))


def _linear(inputs, state, kernel, bias):
    """concat([inputs, state], 1) @ kernel + bias: one product for all gates, as TF computes it."""
    z = math_ops.matmul(array_ops.concat([inputs, state], 1), kernel)
    return nn_ops.bias_add(z, bias)


class BasicRNNCell(LayerRNNCell):
    """output = new_state = activation(concat([inputs, state]) @ kernel + bias)."""

    def __init__(self, num_units, activation=None, reuse=None, name=None, dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        self._num_units = int(num_units)
        self._activation = _activation(activation)

    def build(self, inputs_shape):
        depth = _check_input_depth(self, inputs_shape)
        self._kernel = self.add_variable(_WEIGHTS, [depth + self._num_units, self._num_units])
        self._bias = self.add_variable(_BIAS, [self._num_units], initializer=init_ops.zeros_initializer())

    def call(self, inputs, state):
        _check_floating(self, [inputs, state])
        output = self._activation(_linear(inputs, state, self._kernel, self._bias))
        return output, output


class GRUCell(LayerRNNCell):
    """Gated recurrent unit (TF's GRUCell): r, u = sigmoid(concat([x, h]) @ gates/kernel + gates/bias);
    c = activation(concat([x, r * h]) @ candidate/kernel + candidate/bias); new_h = u * h + (1 - u) * c.
    gates/bias starts at 1.0 (unless bias_initializer is given), candidate/bias at 0."""
    _sequence_kernel = "gru"   # static_rnn / dynamic_rnn run it as one fused op (rnn.py)

    def __init__(self, num_units, activation=None, reuse=None, kernel_initializer=None, bias_initializer=None,
                 name=None, dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        self._num_units = int(num_units)
        self._activation = _activation(activation)
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    def build(self, inputs_shape):
        depth = _check_input_depth(self, inputs_shape)
        n = self._num_units
        self._gate_kernel = self.add_variable("gates/" + _WEIGHTS, [depth + n, 2 * n],
                                              initializer=self._kernel_initializer)
        self._gate_bias = self.add_variable("gates/" + _BIAS, [2 * n], initializer=(
            self._bias_initializer if self._bias_initializer is not None else init_ops.constant_initializer(1.0)))
        self._candidate_kernel = self.add_variable("candidate/" + _WEIGHTS, [depth + n, n],
                                                   initializer=self._kernel_initializer)
        self._candidate_bias = self.add_variable("candidate/" + _BIAS, [n], initializer=(
            self._bias_initializer if self._bias_initializer is not None else init_ops.zeros_initializer()))

    def call(self, inputs, state):
        _check_floating(self, [inputs, state])
        value = nn_ops.sigmoid(_linear(inputs, state, self._gate_kernel, self._gate_bias))
        r, u = array_ops.split(value, 2, axis=1)
        c = self._activation(_linear(inputs, r * state, self._candidate_kernel, self._candidate_bias))
        new_h = u * state + (1 - u) * c
        return new_h, new_h


def _split_lstm_state(cell, state, c_size, h_size):
    if cell._state_is_tuple:
        if not _is_sequence(state) or len(state) != 2:
            raise ValueError("%s expects an LSTMStateTuple (c, h) as state, got %r" % (type(cell).__name__, state))
        return state[0], state[1]
    c = array_ops.slice(state, [0, 0], [-1, c_size])
    h = array_ops.slice(state, [0, c_size], [-1, h_size])
    return c, h


def _join_lstm_state(cell, c, h):
    return LSTMStateTuple(c, h) if cell._state_is_tuple else array_ops.concat([c, h], 1)


class BasicLSTMCell(LayerRNNCell):
    """The basic LSTM (TF's BasicLSTMCell): no peepholes, clipping or projection.

    gates = concat([x, h]) @ kernel + bias, split into i, j, f, o;
    new_c = c * sigmoid(f + forget_bias) + sigmoid(i) * activation(j); new_h = activation(new_c) * sigmoid(o).
    """
    _sequence_kernel = "lstm"   # static_rnn / dynamic_rnn run it as one fused op (rnn.py)

    def __init__(self, num_units, forget_bias=1.0, state_is_tuple=True, activation=None, reuse=None, name=None,
                 dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        self._num_units = int(num_units)
        self._forget_bias = float(forget_bias)
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self):
        n = self._num_units
        return LSTMStateTuple(n, n) if self._state_is_tuple else 2 * n

    def build(self, inputs_shape):
        depth = _check_input_depth(self, inputs_shape)
        n = self._num_units
        self._kernel = self.add_variable(_WEIGHTS, [depth + n, 4 * n])
        self._bias = self.add_variable(_BIAS, [4 * n], initializer=init_ops.zeros_initializer())

    def call(self, inputs, state):
        _check_floating(self, [inputs, state])
        c, h = _split_lstm_state(self, state, self._num_units, self._num_units)
        i, j, f, o = array_ops.split(_linear(inputs, h, self._kernel, self._bias), 4, axis=1)
        sigmoid, act = nn_ops.sigmoid, self._activation
        new_c = math_ops.add(math_ops.multiply(c, sigmoid(math_ops.add(f, self._forget_bias))),
                             math_ops.multiply(sigmoid(i), act(j)))
        new_h = math_ops.multiply(act(new_c), sigmoid(o))
        return new_h, _join_lstm_state(self, new_c, new_h)


class LSTMCell(LayerRNNCell):
    """TF's LSTMCell: BasicLSTMCell's equations plus optional peepholes (w_f_diag, w_i_diag, w_o_diag),
    cell clipping (cell_clip), a projection of the output (projection/kernel, num_proj, proj_clip)."""
    _sequence_kernel = "lstm"   # static_rnn / dynamic_rnn run it as one fused op (rnn.py)

    def __init__(self, num_units, use_peepholes=False, cell_clip=None, initializer=None, num_proj=None,
                 proj_clip=None, num_unit_shards=None, num_proj_shards=None, forget_bias=1.0, state_is_tuple=True,
                 activation=None, reuse=None, name=None, dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        if num_unit_shards is not None or num_proj_shards is not None:
            raise NotImplementedError("LSTMCell: num_unit_shards / num_proj_shards (partitioned variables) are "
                                      "not implemented in nanotf")
        self._num_units = int(num_units)
        self._use_peepholes = bool(use_peepholes)
        self._cell_clip = cell_clip
        self._initializer = initializer
        self._num_proj = int(num_proj) if num_proj else None
        self._proj_clip = proj_clip
        self._forget_bias = float(forget_bias)
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)
        n, p = self._num_units, self._num_proj
        if p:
            self._state_size = LSTMStateTuple(n, p) if state_is_tuple else n + p
            self._output_size = p
        else:
            self._state_size = LSTMStateTuple(n, n) if state_is_tuple else 2 * n
            self._output_size = n

    state_size = property(lambda self: self._state_size)
    output_size = property(lambda self: self._output_size)

    def build(self, inputs_shape):
        depth = _check_input_depth(self, inputs_shape)
        n = self._num_units
        h_depth = n if self._num_proj is None else self._num_proj
        self._kernel = self.add_variable(_WEIGHTS, [depth + h_depth, 4 * n], initializer=self._initializer)
        self._bias = self.add_variable(_BIAS, [4 * n], initializer=init_ops.zeros_initializer())
        if self._use_peepholes:
            self._w_f_diag = self.add_variable("w_f_diag", [n], initializer=self._initializer)
            self._w_i_diag = self.add_variable("w_i_diag", [n], initializer=self._initializer)
            self._w_o_diag = self.add_variable("w_o_diag", [n], initializer=self._initializer)
        if self._num_proj is not None:
            self._proj_kernel = self.add_variable("projection/" + _WEIGHTS, [n, self._num_proj],
                                                  initializer=self._initializer)

    def call(self, inputs, state):
        _check_floating(self, [inputs, state])
        n = self._num_units
        c_prev, m_prev = _split_lstm_state(self, state, n, self._num_proj or n)
        i, j, f, o = array_ops.split(_linear(inputs, m_prev, self._kernel, self._bias), 4, axis=1)
        sigmoid, act = nn_ops.sigmoid, self._activation
        if self._use_peepholes:
            c = (sigmoid(f + self._forget_bias + self._w_f_diag * c_prev) * c_prev
                 + sigmoid(i + self._w_i_diag * c_prev) * act(j))
        else:
            c = sigmoid(f + self._forget_bias) * c_prev + sigmoid(i) * act(j)
        if self._cell_clip is not None:
            c = math_ops.clip_by_value(c, -self._cell_clip, self._cell_clip)
        if self._use_peepholes:
            m = sigmoid(o + self._w_o_diag * c) * act(c)
        else:
            m = sigmoid(o) * act(c)
        if self._num_proj is not None:
            m = math_ops.matmul(m, self._proj_kernel)
            if self._proj_clip is not None:
                m = math_ops.clip_by_value(m, -self._proj_clip, self._proj_clip)
        return m, _join_lstm_state(self, c, m)


class MultiRNNCell(RNNCell):
    """Cells stacked: cell k's output is cell k+1's input; the state is the tuple of the cells' states.
    Cell k's variables live under `.../multi_rnn_cell/cell_k/`."""

    def __init__(self, cells, state_is_tuple=True):
        super().__init__()
        if not cells:
            raise ValueError("Must specify at least one cell for MultiRNNCell.")
        if not _is_sequence(cells):
            raise TypeError("cells must be a list or tuple, but saw: %s." % (cells,))
        for i, c in enumerate(cells):
            assert_like_rnncell("cells[%d]" % i, c)
        self._cells = list(cells)
        self._state_is_tuple = state_is_tuple
        if not state_is_tuple and any(_is_sequence(c.state_size) for c in self._cells):
            raise ValueError("Some cells return tuples of states, but the flag state_is_tuple is not set.  State "
                             "sizes are: %s" % ([c.state_size for c in self._cells],))

    @property
    def state_size(self):
        if self._state_is_tuple:
            return tuple(c.state_size for c in self._cells)
        return sum(c.state_size for c in self._cells)

    @property
    def output_size(self):
        return self._cells[-1].output_size

    def zero_state(self, batch_size, dtype):
        with name_scope(type(self).__name__ + "ZeroState"):
            if self._state_is_tuple:
                return tuple(c.zero_state(batch_size, dtype) for c in self._cells)
            return _zero_state_tensors(self.state_size, batch_size, dtypes.as_dtype(dtype))

    def call(self, inputs, state):
        cur_inp, new_states, start = inputs, [], 0
        for i, cell in enumerate(self._cells):
            with vs.variable_scope("cell_%d" % i):
                if self._state_is_tuple:
                    if not _is_sequence(state):
                        raise ValueError("Expected state to be a tuple of length %d, but received: %s"
                                         % (len(self.state_size), state))
                    cur_state = state[i]
                else:
                    size = cell.state_size
                    cur_state = array_ops.slice(state, [0, start], [-1, size])
                    start += size
                cur_inp, new_state = cell(cur_inp, cur_state)
                new_states.append(new_state)
        new_states = tuple(new_states) if self._state_is_tuple else array_ops.concat(new_states, 1)
        return cur_inp, new_states


def _keep_prob_value(value, what):
    """A keep probability as a float when it is a constant, else the (scalar) Tensor."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not 0 <= value <= 1:
            raise ValueError("Parameter %s must be between 0 and 1: %g" % (what, value))
        return float(value)
    t = convert_to_tensor(value, name=what)
    if t.op.type == "Const":
        v = float(t.op._attrs["value"])
        if not 0 <= v <= 1:
            raise ValueError("Parameter %s must be between 0 and 1: %g" % (what, v))
        return v
    return t


def _drops(p):
    return not isinstance(p, float) or p < 1


class _Wrapper(RNNCell):
    """A cell around another cell: same sizes, the wrapped cell's variables."""

    def __init__(self, cell):
        super().__init__()
        assert_like_rnncell("cell", cell)
        self._cell = cell

    wrapped_cell = property(lambda self: self._cell)
    state_size = property(lambda self: self._cell.state_size)
    output_size = property(lambda self: self._cell.output_size)

    @property
    def variables(self):
        return getattr(self._cell, "variables", [])

    @property
    def trainable_variables(self):
        return getattr(self._cell, "trainable_variables", [])

    def zero_state(self, batch_size, dtype):
        with name_scope(type(self).__name__ + "ZeroState"):
            return self._cell.zero_state(batch_size, dtype)


def _default_state_filter(substate):
    if isinstance(substate, LSTMStateTuple):
        return LSTMStateTuple(c=False, h=True)   # never drop the memory cell
    return True


class DropoutWrapper(_Wrapper):
    """Dropout on the cell's inputs, outputs and (except an LSTM's c) new state, with keep probabilities that
    are floats or scalar tensors (e.g. a placeholder fed 1.0 at test time). variational_recurrent=True uses
    one mask per run for every step (input_size required for input dropout, dtype always)."""

    def __init__(self, cell, input_keep_prob=1.0, output_keep_prob=1.0, state_keep_prob=1.0,
                 variational_recurrent=False, input_size=None, dtype=None, seed=None,
                 dropout_state_filter_visitor=None):
        super().__init__(cell)
        if dropout_state_filter_visitor is not None and not callable(dropout_state_filter_visitor):
            raise TypeError("dropout_state_filter_visitor must be callable")
        self._state_filter = dropout_state_filter_visitor or _default_state_filter
        with name_scope("DropoutWrapperInit"):
            self._input_keep_prob = _keep_prob_value(input_keep_prob, "input_keep_prob")
            self._state_keep_prob = _keep_prob_value(state_keep_prob, "state_keep_prob")
            self._output_keep_prob = _keep_prob_value(output_keep_prob, "output_keep_prob")
        self._seed = seed
        self._variational_recurrent = variational_recurrent
        self._noise = {}
        if variational_recurrent:
            if dtype is None:
                raise ValueError("When variational_recurrent=True, dtype must be provided")
            if _drops(self._input_keep_prob):
                if input_size is None:
                    raise ValueError("When variational_recurrent=True and input_keep_prob < 1.0 or is unknown, "
                                     "input_size must be provided")
                self._noise["input"] = self._batch_noise(input_size, "input", dtype)
            self._noise["state"] = self._batch_noise(cell.state_size, "state", dtype)
            self._noise["output"] = self._batch_noise(cell.output_size, "output", dtype)

    def _gen_seed(self, salt, index):
        if self._seed is None:
            return None
        import hashlib   # here: its OpenSSL module costs ~15 ms at import nanotf
        digest = hashlib.sha256(("%s/%s_%d" % (self._seed, salt, index)).encode()).hexdigest()
        return int(digest[:8], 16) & 0x7FFFFFFF

    def _batch_noise(self, sizes, salt, dtype):
        flat = [random_ops.random_uniform([1] + as_shape(s).as_list(), seed=self._gen_seed(salt, i), dtype=dtype)
                for i, s in enumerate(flatten(sizes))]
        return pack_sequence_as(sizes, flat)

    def _dropout(self, values, salt, keep_prob, filter_fn=None):
        flat = flatten(values)
        keep = [True] * len(flat)
        if filter_fn is not None:
            keep = self._filter_flags(values, filter_fn)
        noise = flatten(self._noise[salt]) if self._variational_recurrent else None
        out = []
        for i, (v, k) in enumerate(zip(flat, keep)):
            if not k:
                out.append(v)
            elif noise is None:
                out.append(nn_ops.dropout(v, keep_prob=keep_prob, seed=self._gen_seed(salt, i)))
            else:
                ret = math_ops.divide(v, keep_prob) * math_ops.floor(keep_prob + noise[i])
                ret.set_shape(v.shape)
                out.append(ret)
        return pack_sequence_as(values, out)

    @staticmethod
    def _filter_flags(values, filter_fn):
        """Per flattened leaf of `values`: whether dropout applies (the filter may answer for a whole subtree
        with a bool, or with a structure of bools one level down, as TF's visitor does)."""
        decision = filter_fn(values)
        if isinstance(decision, bool):
            return [decision] * len(flatten(values))
        flags = []
        for sub, d in zip(values, decision):
            if isinstance(d, bool):
                flags.extend([d] * len(flatten(sub)))
            else:
                flags.extend(DropoutWrapper._filter_flags(sub, filter_fn))
        return flags

    def __call__(self, inputs, state, scope=None):
        if _drops(self._input_keep_prob):
            inputs = self._dropout(inputs, "input", self._input_keep_prob)
        output, new_state = self._cell(inputs, state, scope=scope)
        if _drops(self._state_keep_prob):
            new_state = self._dropout(new_state, "state", self._state_keep_prob, self._state_filter)
        if _drops(self._output_keep_prob):
            output = self._dropout(output, "output", self._output_keep_prob)
        return output, new_state


class ResidualWrapper(_Wrapper):
    """output = inputs + cell output (or residual_fn(inputs, output))."""

    def __init__(self, cell, residual_fn=None):
        super().__init__(cell)
        self._residual_fn = residual_fn

    def __call__(self, inputs, state, scope=None):
        output, new_state = self._cell(inputs, state, scope=scope)
        if self._residual_fn is not None:
            return self._residual_fn(inputs, output), new_state

        def add(i, o):
            i.shape.assert_is_compatible_with(o.shape)
            return i + o
        return map_structure(add, inputs, output), new_state


class DeviceWrapper(_Wrapper):
    """Runs the cell's ops under tf.device(device)."""

    def __init__(self, cell, device):  # noqa: F811 - TF's argument name
        super().__init__(cell)
        self._device = device

    def zero_state(self, batch_size, dtype):
        with name_scope(type(self).__name__ + "ZeroState"), device(self._device):
            return self._cell.zero_state(batch_size, dtype)

    def __call__(self, inputs, state, scope=None):
        with device(self._device):
            return self._cell(inputs, state, scope=scope)


