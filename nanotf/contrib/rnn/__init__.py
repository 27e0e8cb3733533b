"""tf.contrib.rnn: RNN cells and static_rnn / static_bidirectional_rnn under contrib's path, plus contrib's
stacked bidirectional helpers."""
from nanotf.ops import array_ops
from nanotf.ops import variable_scope as vs
from nanotf.ops.rnn import static_rnn, static_bidirectional_rnn, static_state_saving_rnn  # noqa: F401
from nanotf.ops.rnn import bidirectional_dynamic_rnn
from nanotf.ops.rnn_cell_impl import (RNNCell, LayerRNNCell, BasicRNNCell, BasicLSTMCell, LSTMCell, GRUCell,  # noqa: F401
                                      MultiRNNCell, DropoutWrapper, ResidualWrapper, DeviceWrapper, LSTMStateTuple)
from nanotf.contrib.rnn.rnn_cell import (LSTMBlockCell, LSTMBlockFusedCell, LayerNormBasicLSTMCell,  # noqa: F401
                                         OutputProjectionWrapper, InputProjectionWrapper, EmbeddingWrapper)


def _check_stack(cells_fw, cells_bw, initial_states_fw, initial_states_bw):
    if not cells_fw:
        raise ValueError("Must specify at least one fw cell for BidirectionalRNN.")
    if not cells_bw:
        raise ValueError("Must specify at least one bw cell for BidirectionalRNN.")
    if not isinstance(cells_fw, (list, tuple)) or not isinstance(cells_bw, (list, tuple)):
        raise ValueError("cells_fw and cells_bw must be lists of cells")
    if len(cells_fw) != len(cells_bw):
        raise ValueError("Forward and Backward cells must have the same depth.")
    for states, what in ((initial_states_fw, "fw"), (initial_states_bw, "bw")):
        if states is not None and (not isinstance(states, (list, tuple)) or len(states) != len(cells_fw)):
            raise ValueError("initial_states_%s must be a list of state tensors (one per layer)." % what)


def stack_bidirectional_rnn(cells_fw, cells_bw, inputs, initial_states_fw=None, initial_states_bw=None, dtype=None,
                            sequence_length=None, scope=None):
    """Bidirectional static RNN layers, each layer's concatenated outputs feeding the next; returns
    (outputs, final fw states, final bw states), one state per layer (scopes stack_bidirectional_rnn/cell_k)."""
    _check_stack(cells_fw, cells_bw, initial_states_fw, initial_states_bw)
    states_fw, states_bw, layer = [], [], inputs
    with vs.variable_scope(scope or "stack_bidirectional_rnn"):
        for i, (cell_fw, cell_bw) in enumerate(zip(cells_fw, cells_bw)):
            with vs.variable_scope("cell_%d" % i) as cell_scope:
                layer, s_fw, s_bw = static_bidirectional_rnn(
                    cell_fw, cell_bw, layer, initial_states_fw[i] if initial_states_fw else None,
                    initial_states_bw[i] if initial_states_bw else None, dtype=dtype,
                    sequence_length=sequence_length, scope=cell_scope)
            states_fw.append(s_fw)
            states_bw.append(s_bw)
    return layer, tuple(states_fw), tuple(states_bw)


def stack_bidirectional_dynamic_rnn(cells_fw, cells_bw, inputs, initial_states_fw=None, initial_states_bw=None,
                                    dtype=None, sequence_length=None, parallel_iterations=None, time_major=False,
                                    scope=None, swap_memory=False):
    """stack_bidirectional_rnn with bidirectional_dynamic_rnn layers: outputs [batch, time, 2 * units]."""
    _check_stack(cells_fw, cells_bw, initial_states_fw, initial_states_bw)
    states_fw, states_bw, layer = [], [], inputs
    with vs.variable_scope(scope or "stack_bidirectional_rnn"):
        for i, (cell_fw, cell_bw) in enumerate(zip(cells_fw, cells_bw)):
            with vs.variable_scope("cell_%d" % i):
                (out_fw, out_bw), (s_fw, s_bw) = bidirectional_dynamic_rnn(
                    cell_fw, cell_bw, layer, sequence_length=sequence_length,
                    initial_state_fw=initial_states_fw[i] if initial_states_fw else None,
                    initial_state_bw=initial_states_bw[i] if initial_states_bw else None,
                    dtype=dtype, time_major=time_major)
                layer = array_ops.concat([out_fw, out_bw], 2)
            states_fw.append(s_fw)
            states_bw.append(s_bw)
    return layer, tuple(states_fw), tuple(states_bw)
