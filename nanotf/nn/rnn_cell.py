"""tf.nn.rnn_cell: RNN cells (BasicRNNCell, BasicLSTMCell, LSTMCell, GRUCell, MultiRNNCell, DropoutWrapper)."""
from nanotf.ops.rnn_cell_impl import (RNNCell, LayerRNNCell, BasicRNNCell, BasicLSTMCell, LSTMCell, GRUCell,  # noqa: F401
                                      MultiRNNCell, DropoutWrapper, ResidualWrapper, DeviceWrapper, LSTMStateTuple)
