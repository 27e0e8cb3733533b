"""Recurrent networks: static_rnn, dynamic_rnn and their bidirectional forms (TF 1.15 semantics).

Both open the variable scope `scope or "rnn"` (`bidirectional_rnn/fw`, `.../bw` for the bidirectional forms), so
a cell's variables are named as in TensorFlow. With `sequence_length`, steps past a sequence's end output zeros
and carry the state over unchanged, so the final state is the state after each sequence's last valid step.

How they run: LSTM cells (BasicLSTMCell, LSTMCell without projection, LSTMBlockCell), GRUCell, and
MultiRNNCell / DropoutWrapper (input and output dropout) built from them, run as one fused op per layer over the
whole sequence (nanotf/ops/lstm_ops.py, gru_ops.py), which also works when the time dimension is unknown. Any
other cell is called step by step: unrolled over a static time dimension, exactly as static_rnn does, or in a
tf.scan loop when the number of steps is known only at run time.
"""
import numpy as np

from nanotf.framework import dtypes
from nanotf.framework import lowering as xla
from nanotf.framework.op_def import OpDef, Sample, every_output_views
from nanotf.framework.ops import apply_op, convert_to_tensor, name_scope
from nanotf.framework.tensor_shape import TensorShape
from nanotf.ops import array_ops, math_ops
from nanotf.ops import gru_ops, lstm_ops
from nanotf.ops import rnn_cell_impl as cells
from nanotf.ops import variable_scope as vs

__all__ = ["static_rnn", "static_bidirectional_rnn", "static_state_saving_rnn", "dynamic_rnn",
           "bidirectional_dynamic_rnn", "rnn", "bidirectional_rnn"]

_flatten = cells.flatten
_pack = cells.pack_sequence_as
_map = cells.map_structure


# -- checks and shapes
def _check_sequence_length(sequence_length):
    if sequence_length is None:
        return None
    seq = math_ops.cast(convert_to_tensor(sequence_length, name="sequence_length"), dtypes.int32)
    if seq.shape.ndims not in (None, 1):
        raise ValueError("sequence_length must be a vector of length batch_size, but saw shape: %s" % seq.shape)
    return array_ops.identity(seq, name="sequence_length")


def _initial_state(cell, initial_state, batch_size, dtype):
    if initial_state is not None:
        return initial_state
    if not dtype:
        raise ValueError("If there is no initial_state, you must give a dtype.")
    return cell.zero_state(batch_size, dtype)


def _batch_size(flat_inputs, batch_axis):
    """The static batch size when some input knows it, else the first input's dynamic one."""
    for x in flat_inputs:
        dims = x.shape.as_tuple()
        if dims is not None and len(dims) > batch_axis and dims[batch_axis] is not None:
            return dims[batch_axis]
    return array_ops.shape(flat_inputs[0])[batch_axis]


def _state_dtype(state):
    return _flatten(state)[0].dtype


# -- per-step outputs of a fused sequence
class UnstackSteps(OpDef):
    """[T, ...] -> T tensors (views), as Unpack along axis 0; its gradient writes only the steps that received
    one into a zero [T, ...] array, instead of stacking a zero tensor for every step nobody used (a classifier
    on static_rnn's last output uses 1 of 28)."""
    view_map = every_output_views(0)

    def infer(op):
        x = op._inputs[0]
        num = op._attrs["num"]
        dims = x.shape.as_tuple()
        if dims is None:
            return [(x.dtype, TensorShape(None))] * num
        if not dims:
            raise ValueError("UnstackSteps %r: input must have a time axis, got a scalar" % op.name)
        if dims[0] is not None and dims[0] != num:
            raise ValueError("UnstackSteps %r: input has %d steps, not %d" % (op.name, dims[0], num))
        return [(x.dtype, TensorShape(dims[1:]))] * num

    def kernel(op, ctx):
        num = op._attrs["num"]

        def unstack(x):
            if x.shape[0] != num:
                raise ValueError("UnstackSteps: input has %d steps, expected %d" % (x.shape[0], num))
            return tuple(x)
        return unstack

    def lower(op, x):
        return tuple(x[t] for t in range(op._attrs["num"]))

    def grad(op, *grads):
        steps = [t for t, g in enumerate(grads) if g is not None and g.op.type != "ZerosLike"]
        if not steps:
            return [None]
        return [apply_op("UnstackStepsGrad", [op._inputs[0]] + [grads[t] for t in steps], {"steps": steps},
                         name="UnstackStepsGrad")]

    samples = [Sample(lambda x: _unstack_steps(x, 3)[2] * 2.0 + _unstack_steps(x, 3)[0], [(3, 2, 2)]),
               Sample(lambda x: _unstack_steps(x, 2)[1], [(2, 3)])]


class UnstackStepsGrad(OpDef):
    """Zeros shaped like input 0 (read for its shape only) with the given steps filled in."""
    shape_only_inputs = (0,)
    grad = None
    fresh_output = True

    def infer(op):
        return op._inputs[0].dtype, op._inputs[0].shape

    def kernel(op, ctx):
        steps = op._attrs["steps"]

        def fill(x, *grads):
            out = np.zeros(x.shape, dtype=x.dtype)
            for t, g in zip(steps, grads):
                out[t] = g
            return out
        return fill

    def lower(op, x, *grads):
        out = xla.jnp.zeros(np.shape(x), dtype=xla.out_dtype(op))
        for t, g in zip(op._attrs["steps"], grads):
            out = out.at[t].set(g)
        return out


def _unstack_steps(x, num):
    return list(x.graph.create_op("UnstackSteps", [x], {"num": int(num)}, name="unstack")._outputs)


# -- the fused path
def _fused_kind(cell):
    """How a cell runs over a whole sequence at once: 'lstm', 'gru', 'multi', 'dropout', or None (step by step)."""
    # the exact class must declare its kernel: a subclass may compute something else in call()
    kernel = type(cell).__dict__.get("_sequence_kernel")
    if kernel == "lstm":
        if not cell._state_is_tuple or not cells._is_default_tanh(cell._activation):
            return None
        if getattr(cell, "_num_proj", None) is not None:
            return None
        return "lstm"
    if kernel == "gru":
        return "gru" if cells._is_default_tanh(cell._activation) else None
    if type(cell) is cells.MultiRNNCell:
        if cell._state_is_tuple and all(_fused_kind(c) for c in cell._cells):
            return "multi"
        return None
    if type(cell) is cells.DropoutWrapper:
        if (not cell._variational_recurrent and not cells._drops(cell._state_keep_prob)
                and _fused_kind(cell._cell)):
            return "dropout"
    return None


def _fused(cell, x, state, sequence_length):
    """Runs `cell` over time-major x [T, B, I]: (outputs [T, B, output_size], final state)."""
    kind = _fused_kind(cell)
    if kind == "dropout":
        if cells._drops(cell._input_keep_prob):
            x = cell._dropout(x, "input", cell._input_keep_prob)
        out, state = _fused(cell._cell, x, state, sequence_length)
        if cells._drops(cell._output_keep_prob):
            out = cell._dropout(out, "output", cell._output_keep_prob)
        return out, state
    step_shape = x.shape[1:] if x.shape.ndims is not None else TensorShape([None, None])
    if kind == "multi":
        new_states = []
        with cell._cell_scope(None, step_shape, x.dtype):
            for i, sub in enumerate(cell._cells):
                with vs.variable_scope("cell_%d" % i):
                    x, s = _fused(sub, x, state[i], sequence_length)
                new_states.append(s)
        return x, tuple(new_states)
    if kind == "gru":
        with cell._cell_scope(None, step_shape, x.dtype):
            outs = gru_ops.gru_sequence(x, state, cell._gate_kernel, cell._gate_bias, cell._candidate_kernel,
                                        cell._candidate_bias, sequence_length=sequence_length)
        return outs[0], outs[1]
    c0, h0 = state
    with cell._cell_scope(None, step_shape, x.dtype):
        peepholes = (cell._w_i_diag, cell._w_f_diag, cell._w_o_diag) if getattr(cell, "_use_peepholes", False) \
            else None
        outs = lstm_ops.lstm_sequence(x, c0, h0, cell._kernel, cell._bias, sequence_length=sequence_length,
                                      peepholes=peepholes, forget_bias=cell._forget_bias,
                                      cell_clip=getattr(cell, "_cell_clip", None))
    return outs[0], cells.LSTMStateTuple(outs[1], outs[2])


def _fusable_inputs(flat_inputs):
    return len(flat_inputs) == 1 and flat_inputs[0].dtype.is_floating and flat_inputs[0].shape.ndims == 3


# -- the step-by-step path
def _step(cell, time, inputs, state, sequence_length):
    """One call of the cell; past a sequence's end the output is zero and the state is carried over."""
    output, new_state = cell(inputs, state)
    if sequence_length is None:
        return output, new_state
    with name_scope("mask_%d" % time):
        live = math_ops.less(array_ops.constant(time, dtype=dtypes.int32), sequence_length)
        output = _map(lambda o: math_ops.where(live, o, array_ops.zeros_like(o)), output)
        new_state = _map(lambda n, s: math_ops.where(live, n, s), new_state, state)
    return output, new_state


def _unrolled(cell, steps, state, sequence_length, varscope):
    outputs = []
    for t, inputs in enumerate(steps):
        if t > 0:
            varscope.reuse_variables()
        output, state = _step(cell, t, inputs, state, sequence_length)
        outputs.append(output)
    return outputs, state


# -- public API
def static_rnn(cell, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
    """Runs `cell` over a Python list of T inputs [batch, depth]; returns (list of T outputs, final state)."""
    cells.assert_like_rnncell("cell", cell)
    if not isinstance(inputs, (list, tuple)):
        raise TypeError("inputs must be a sequence")
    if not inputs:
        raise ValueError("inputs must not be empty")
    with vs.variable_scope(scope or "rnn") as varscope:
        steps = [_map(lambda x: convert_to_tensor(x), step) for step in inputs]
        first = _flatten(steps[0])
        for x in first if first[0].shape.ndims != 1 else ():   # as TF, 1-D inputs (ids for EmbeddingWrapper) pass
            dims = x.shape.as_tuple()
            if dims is None or len(dims) < 2:
                raise ValueError("Expected each input of static_rnn to be at least 2-D [batch, depth], got %s (%s)"
                                 % (x.shape, x.name))
            if any(d is None for d in dims[1:]):
                raise ValueError("Input size (dimension 1 of inputs) must be accessible via shape inference, but "
                                 "saw value None (%s has shape %s)" % (x.name, x.shape))
        batch_size = _batch_size(first, 0)
        state = _initial_state(cell, initial_state, batch_size, dtype)
        sequence_length = _check_sequence_length(sequence_length)
        flat0 = [_flatten(s) for s in steps]
        if (_fused_kind(cell) and all(len(f) == 1 for f in flat0) and first[0].dtype.is_floating
                and first[0].shape.ndims == 2 and len({f[0].shape.as_tuple()[1] for f in flat0}) == 1):
            x = array_ops.stack([f[0] for f in flat0], axis=0)
            out, state = _fused(cell, x, state, sequence_length)
            return _unstack_steps(out, len(steps)), state
        return _unrolled(cell, steps, state, sequence_length, varscope)


def static_state_saving_rnn(cell, inputs, state_saver, state_name, sequence_length=None, scope=None):
    raise NotImplementedError("static_state_saving_rnn (state savers) is not implemented in nanotf")


def _reverse_list(seq, lengths):
    """A list of time steps reversed: wholly, or (with lengths) within each sequence's valid part."""
    if lengths is None:
        return list(reversed(seq))
    flat = [_flatten(s) for s in seq]
    out = [[None] * len(flat[0]) for _ in seq]
    for k in range(len(flat[0])):
        stacked = array_ops.stack([f[k] for f in flat], axis=0)
        rev = array_ops.reverse_sequence(stacked, math_ops.cast(lengths, dtypes.int64), seq_axis=0, batch_axis=1)
        for t, r in enumerate(array_ops.unstack(rev, num=len(seq), axis=0)):
            r.set_shape(flat[t][k].shape)
            out[t][k] = r
    return [_pack(s, o) for s, o in zip(seq, out)]


def static_bidirectional_rnn(cell_fw, cell_bw, inputs, initial_state_fw=None, initial_state_bw=None, dtype=None,
                             sequence_length=None, scope=None):
    """A forward and a backward static_rnn (the backward one over each sequence reversed); returns
    (outputs, state_fw, state_bw), outputs[t] = concat([fw_t, bw_t], 1)."""
    cells.assert_like_rnncell("cell_fw", cell_fw)
    cells.assert_like_rnncell("cell_bw", cell_bw)
    if not isinstance(inputs, (list, tuple)):
        raise TypeError("inputs must be a list")
    if not inputs:
        raise ValueError("inputs must not be empty")
    with vs.variable_scope(scope or "bidirectional_rnn"):
        with vs.variable_scope("fw") as fw_scope:
            out_fw, state_fw = static_rnn(cell_fw, inputs, initial_state_fw, dtype, sequence_length, scope=fw_scope)
        with vs.variable_scope("bw") as bw_scope:
            reversed_inputs = _reverse_list(inputs, sequence_length)
            tmp, state_bw = static_rnn(cell_bw, reversed_inputs, initial_state_bw, dtype, sequence_length,
                                       scope=bw_scope)
    out_bw = _reverse_list(tmp, sequence_length)
    outputs = [array_ops.concat([fw, bw], 1) for fw, bw in zip(_map(lambda o: o, out_fw), out_bw)]
    return outputs, state_fw, state_bw


def _transpose_batch_time(x):
    r = x.shape.ndims
    if r is None:
        raise ValueError("dynamic_rnn: inputs must have a known rank (at least 3: [batch, time, depth]), got %s (%s)"
                         % (x.shape, x.name))
    if r < 2:
        raise ValueError("Expected input tensor %s to have rank at least 2, but saw shape: %s" % (x.name, x.shape))
    return array_ops.transpose(x, [1, 0] + list(range(2, r)))


def dynamic_rnn(cell, inputs, sequence_length=None, initial_state=None, dtype=None, parallel_iterations=None,
                swap_memory=False, time_major=False, scope=None):
    """Runs `cell` over inputs [batch, time, ...] (or [time, batch, ...] with time_major); returns
    (outputs of the same layout, final state)."""
    cells.assert_like_rnncell("cell", cell)
    flat = [convert_to_tensor(x, name="inputs") for x in _flatten(inputs)]
    for x in flat:
        if x.shape.ndims is not None and x.shape.ndims < 3:
            raise ValueError("dynamic_rnn: inputs must be at least 3-D ([batch, time, depth], or [time, batch, "
                             "depth] with time_major=True), got %s of shape %s" % (x.name, x.shape))
    with vs.variable_scope(scope or "rnn"):
        sequence_length = _check_sequence_length(sequence_length)
        flat_tm = flat if time_major else [_transpose_batch_time(x) for x in flat]
        for x in flat_tm:
            depth = x.shape.as_tuple()[2:]
            if any(d is None for d in depth):
                raise ValueError("Input size (depth of inputs) must be accessible via shape inference, but saw "
                                 "value None (%s has shape %s)" % (x.name, x.shape))
        batch_size = _batch_size(flat_tm, 1)
        state = _initial_state(cell, initial_state, batch_size, dtype)
        if _fused_kind(cell) and _fusable_inputs(flat_tm):
            out_tm, state = _fused(cell, flat_tm[0], state, sequence_length)
        else:
            out_tm, state = _dynamic_unrolled(cell, flat_tm, inputs, state, sequence_length)
        if time_major:
            return out_tm, state
        return _map(_transpose_batch_time, out_tm), state


def _dynamic_unrolled(cell, flat_tm, inputs, state, sequence_length):
    """Unrolls over the static time dimension; outputs stacked time-major."""
    times = {x.shape.as_tuple()[0] for x in flat_tm}
    if None in times:
        return _dynamic_loop(cell, flat_tm, inputs, state, sequence_length)
    if len(times) != 1:
        raise ValueError("Time steps is not the same for all the elements in the input in a batch: %s" % sorted(times))
    T = times.pop()
    if T == 0:
        raise ValueError("dynamic_rnn: inputs have zero time steps")
    per_input = [array_ops.unstack(x, num=T, axis=0) for x in flat_tm]
    steps = [_pack(inputs, [p[t] for p in per_input]) for t in range(T)]
    outputs = []
    for t, step_in in enumerate(steps):
        if t > 0:   # cells that call tf.get_variable themselves share their variables across steps
            vs.get_variable_scope().reuse_variables()
        output, state = _step(cell, t, step_in, state, sequence_length)
        outputs.append(output)
    flat_out = [_flatten(o) for o in outputs]
    stacked = [array_ops.stack([f[k] for f in flat_out], axis=0) for k in range(len(flat_out[0]))]
    return _pack(outputs[0], stacked), state


def _dynamic_loop(cell, flat_tm, inputs, state, sequence_length):
    """Runs the cell in a tf.scan loop over the time steps (for a time dimension unknown until run time): the
    loop carries (state, output) and stacks both per step; the final state is the last step's."""
    from nanotf.ops import functional_ops
    batch = _batch_size(flat_tm, 1)
    dtype = _state_dtype(state)
    zero_output = _map(lambda size: cells._zero_state_tensors(size, batch, dtype), cell.output_size)
    steps = math_ops.range(0, array_ops.shape(flat_tm[0])[0], 1, dtype=dtypes.int32)

    def one_step(acc, elems):
        prev_state, _ = acc
        t, rows = elems[0], list(elems[1:])
        output, new_state = cell(_pack(inputs, rows), prev_state)
        if sequence_length is not None:
            live = math_ops.less(t, sequence_length)
            output = _map(lambda o: math_ops.where(live, o, array_ops.zeros_like(o)), output)
            new_state = _map(lambda n, s: math_ops.where(live, n, s), new_state, prev_state)
        new_state = _map(lambda n, s: _with_shape(n, s), new_state, prev_state)
        output = _map(lambda o, z: _with_shape(o, z), output, zero_output)
        return new_state, output

    states, outputs = functional_ops.scan(one_step, tuple([steps] + list(flat_tm)), initializer=(state, zero_output))
    final = _map(lambda s: s[-1], states)
    return outputs, final


def _with_shape(t, like):
    t.set_shape(t.shape.merge_with(like.shape))
    return t


def bidirectional_dynamic_rnn(cell_fw, cell_bw, inputs, sequence_length=None, initial_state_fw=None,
                              initial_state_bw=None, dtype=None, parallel_iterations=None, swap_memory=False,
                              time_major=False, scope=None):
    """dynamic_rnn forwards and over each sequence reversed; returns ((outputs_fw, outputs_bw),
    (state_fw, state_bw)), outputs_bw in the original time order."""
    cells.assert_like_rnncell("cell_fw", cell_fw)
    cells.assert_like_rnncell("cell_bw", cell_bw)
    time_axis, batch_axis = (0, 1) if time_major else (1, 0)

    def reverse(x):
        if sequence_length is None:
            return array_ops.reverse(x, axis=[time_axis])
        return array_ops.reverse_sequence(x, math_ops.cast(sequence_length, dtypes.int64), seq_axis=time_axis,
                                          batch_axis=batch_axis)

    with vs.variable_scope(scope or "bidirectional_rnn"):
        with vs.variable_scope("fw") as fw_scope:
            out_fw, state_fw = dynamic_rnn(cell_fw, inputs, sequence_length=sequence_length,
                                           initial_state=initial_state_fw, dtype=dtype, time_major=time_major,
                                           scope=fw_scope)
        with vs.variable_scope("bw") as bw_scope:
            inputs_rev = _map(reverse, inputs)
            tmp, state_bw = dynamic_rnn(cell_bw, inputs_rev, sequence_length=sequence_length,
                                        initial_state=initial_state_bw, dtype=dtype, time_major=time_major,
                                        scope=bw_scope)
    out_bw = _map(reverse, tmp)
    return (out_fw, out_bw), (state_fw, state_bw)


# TF 0.x names (tf.nn.rnn, tf.nn.bidirectional_rnn)
rnn = static_rnn
bidirectional_rnn = static_bidirectional_rnn
