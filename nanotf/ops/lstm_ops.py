"""A whole LSTM sequence as one op (nanotf's counterpart of TF's fused BlockLSTM kernels).

static_rnn / dynamic_rnn run an LSTM cell (BasicLSTMCell, LSTMCell without projection, LSTMBlockCell) through
`LSTMSequence` instead of unrolling it into a dozen small ops per step: the same equations and variables,
computed by one kernel that
- per step, multiplies [x_t; h; 1] by the kernel with the bias appended (one product for all four gates, as
  TF's kernel layout implies) and applies the four gate nonlinearities in one pass (sigmoid(x) =
  0.5 * tanh(x / 2) + 0.5, with the 1/2 folded into the kernel's rows),
- masks steps past each sequence's length (output 0, state carried over) as TF's dynamic_rnn does,
and a gradient kernel that walks the steps backwards and forms the weight gradient as one product over all
steps. The gradient with respect to x is an ordinary MatMul in the graph, so it disappears from plans that
do not need it (inputs fed through placeholders).

Inputs: x [T, B, I], c0 [B, H], h0 [B, H], w [I + H, 4H] (gate columns i, j, f, o), b [4H], then
seq_len [B] (attr has_seq_len) and w_i_diag, w_f_diag, w_o_diag [H] (attr use_peephole).
Outputs: h per step [T, B, H] (zero past a sequence's end), final c, final h, and four values the gradient
reads: gate activations [T, 4H, B] (rows in the kernel's gate order i, f, o, j: _GATE_ROWS), each step's
[x; h; 1] [T + 1, I + H + 1, B], c states [T + 1, H, B] and tanh(c) [T, H, B]. Some outputs are views of these arrays; the op is not `fresh_output`, so the session never
writes into them.
"""
import numpy as np

from nanotf.framework import lowering as xla
from nanotf.framework import parallel
from nanotf.framework.op_def import OpDef, Sample
from nanotf.framework.ops import apply_op, convert_to_tensor
from nanotf.framework.tensor_shape import TensorShape
from nanotf.ops import array_ops, math_ops

__all__ = []


def _dims(t):
    d = t.shape.as_tuple()
    return d


def _input_layout(op):
    """Indices of the optional inputs: (seq_len index or None, first peephole index or None)."""
    k = 5
    seq = None
    if op._attrs["has_seq_len"]:
        seq, k = k, k + 1
    peep = k if op._attrs["use_peephole"] else None
    return seq, peep


def _sequence_args(op):
    """fn(kernel args) -> (x, c0, h0, w, b, sequence lengths or None, the 3 peepholes or None): the inputs of
    LSTMSequence, which its gradient op takes first too."""
    seq, peep = _input_layout(op)

    def split(args):
        return (*args[:5], args[seq] if seq is not None else None, args[peep:peep + 3] if peep is not None else None)
    return split


def _merge(a, b):
    return a if a is not None else b


class LSTMSequence(OpDef):
    num_outputs_hint = 7
    splits_work = True

    def infer(op):
        x, c0, h0, w, b = op._inputs[:5]
        seq, peep = _input_layout(op)
        for t, what in ((c0, "c0"), (h0, "h0"), (w, "w"), (b, "b")):
            if t.dtype is not x.dtype:
                raise TypeError("LSTMSequence %r: %s must have the dtype of x (%s), got %s"
                                % (op.name, what, x.dtype.name, t.dtype.name))
        if not x.dtype.is_floating:
            raise TypeError("LSTMSequence %r: x must be floating point, got %s" % (op.name, x.dtype.name))
        xd = _dims(x) or (None, None, None)
        wd = _dims(w) or (None, None)
        if len(xd) != 3 or len(wd) != 2:
            raise ValueError("LSTMSequence %r: x must be [time, batch, depth] and w a matrix, got %s and %s"
                             % (op.name, x.shape, w.shape))
        T, B, I = xd
        H = wd[1] // 4 if wd[1] is not None else None
        if wd[1] is not None and wd[1] % 4:
            raise ValueError("LSTMSequence %r: w has %d columns, not a multiple of 4" % (op.name, wd[1]))
        for t, what in ((c0, "c0"), (h0, "h0")):
            d = _dims(t)
            if d is not None:
                if len(d) != 2:
                    raise ValueError("LSTMSequence %r: %s must be [batch, units], got %s" % (op.name, what, t.shape))
                B = _merge(B, d[0])
                H = _merge(H, d[1])
        if I is not None and H is not None and wd[0] is not None and wd[0] != I + H:
            raise ValueError("LSTMSequence %r: w must have input depth + units = %d + %d rows, got %d"
                             % (op.name, I, H, wd[0]))
        if seq is not None and not op._inputs[seq].dtype.is_integer:
            raise TypeError("LSTMSequence %r: sequence lengths must be integers" % op.name)
        state = TensorShape([B, H])
        T1 = None if T is None else T + 1
        K = None if I is None or H is None else I + H + 1
        return [(x.dtype, TensorShape([T, B, H])), (x.dtype, state), (x.dtype, state),
                # saved for the gradient, per batch slice: [slices, time, features, batch / slices]
                (x.dtype, TensorShape([None, T, None if H is None else 4 * H, None])),   # gate activations
                (x.dtype, TensorShape([None, T1, K, None])),                            # [x; h; 1] per step
                (x.dtype, TensorShape([None, T1, H, None])),                            # c states
                (x.dtype, TensorShape([None, T, H, None]))]                             # tanh(c)

    def kernel(op, ctx):
        inputs = _sequence_args(op)
        forget_bias, clip = op._attrs["forget_bias"], op._attrs["cell_clip"]

        def run(*args):
            x, c0, h0, w, b, lengths, peeps = inputs(args)
            return _forward(x, c0, h0, w, b, lengths, peeps, forget_bias, clip, _keeps(op))
        return run

    def kernel_for_reads(op, ctx, readers):
        """A kernel for a plan that reads only the first n steps' outputs (compiler/passes.py, narrow_to_reads):
        it computes those steps only. None (the op's own kernel) otherwise."""
        n = _steps_read(op, readers)
        if n is None:
            return None
        inputs = _sequence_args(op)
        forget_bias, clip = op._attrs["forget_bias"], op._attrs["cell_clip"]

        def run_first_steps(*args):
            x, c0, h0, w, b, lengths, peeps = inputs(args)
            return _forward(x, c0, h0, w, b, lengths, peeps, forget_bias, clip, _keeps(op), steps=n)
        run_first_steps.steps = n
        return run_first_steps

    def lower(op, *args):
        x, c0, h0, w, b, lengths, peeps = _sequence_args(op)(args)
        out, c_last, h_last, (acts, h_prev, cs, tcs) = _lstm_scan(
            x, c0, h0, w, b, lengths, peeps, op._attrs["forget_bias"], op._attrs["cell_clip"])
        acts = acts[..., _kernel_rows(c0.shape[1])]   # the NumPy kernel's gate order, as it saves them
        return (out, c_last, h_last) + saved_for_gradient(_keeps(op), acts, step_inputs(x, h_prev, final=True), cs, tcs)

    def grad(op, d_out, d_c, d_h, *unused):
        op._attrs[KEEP_ATTR] = True
        seq, peep = _input_layout(op)
        x, w = op._inputs[0], op._inputs[3]
        n_in = len(op._inputs)
        # gradients that are known zeros (outputs nobody used) go in as a scalar 0, skipped by the kernel
        d_out, d_c, d_h = (array_ops.constant(0, dtype=x.dtype) if _is_zeros(g) else g for g in (d_out, d_c, d_h))
        inputs = list(op._inputs) + list(op._outputs[3:7]) + [d_out, d_c, d_h]
        outs = apply_op("LSTMSequenceGrad", inputs, dict(op._attrs), name="LSTMSequenceGrad")
        d_gates, dc0, dh0, dw, db = outs[:5]
        # dx = d_gates @ w[:I]^T, as a graph product so that plans not needing it never compute it
        depth = (x.shape.as_tuple() or (None,) * 3)[2]
        if depth is None:
            depth = array_ops.shape(x)[2:]
            w_x = array_ops.slice(w, array_ops.constant([0, 0]), array_ops.concat([depth, [-1]], 0))
        else:
            w_x = array_ops.slice(w, [0, 0], [depth, -1])
        rows = array_ops.reshape(array_ops.transpose(d_gates, [1, 0, 3, 2]),
                                 array_ops.stack([-1, array_ops.shape(w)[1]]))
        dx = array_ops.reshape(math_ops.matmul(rows, w_x, transpose_b=True), array_ops.shape(x))
        grads = [dx, dc0, dh0, dw, db] + [None] * (n_in - 5)
        if peep is not None:
            grads[peep:peep + 3] = outs[5:8]
        return grads

    samples = [
        Sample(lambda x, c, h, w, b: lstm_sequence(x, c, h, w, b, forget_bias=0.7)[:3],
               [(3, 2, 3), (2, 2), (2, 2), (5, 8), (8,)]),
        Sample(lambda x, c, h, w, b, n: lstm_sequence(x, c, h, w, b, sequence_length=n)[:3],
               [(4, 3, 2), (3, 2), (3, 2), (4, 8), (8,), np.array([4, 1, 0], dtype=np.int32)]),
        Sample(lambda x, c, h, w, b, p, q, r: lstm_sequence(x, c, h, w, b, peepholes=(p, q, r), cell_clip=2.5)[:3],
               [(3, 2, 2), (2, 2), (2, 2), (4, 8), (8,), (2,), (2,), (2,)]),
    ]


KEEP_ATTR = "keep_for_gradient"   # set on a sequence op when its gradient is built: keep what the gradient reads


def _keeps(op):
    return bool(op._attrs.get(KEEP_ATTR, False))


def _is_zeros(t):
    return t.op.type == "ZerosLike" or (t.op.type == "Const" and not np.any(t.op._attrs["value"]))


class LSTMSequenceGrad(OpDef):
    """Gradients of LSTMSequence: pre-activation gate gradients [slices, T, 4H, B / slices], then dc0, dh0, dw, db and, with
    peepholes, the three diagonal weights' gradients."""
    grad = None
    splits_work = True

    def infer(op):
        x, c0, h0, w, b = op._inputs[:5]
        out = [(x.dtype, op._inputs[-7].shape),
               (x.dtype, c0.shape), (x.dtype, h0.shape), (x.dtype, w.shape), (x.dtype, b.shape)]
        if op._attrs["use_peephole"]:
            _, peep = _input_layout(op)
            out += [(x.dtype, op._inputs[peep + k].shape) for k in range(3)]
        return out

    def lower(op, *args):
        """The gradients through jax.vjp of the forward scan (recomputed; the saved values are not read), with a
        zero addend on the pre-activation gates whose cotangent is d_gates."""
        x, c0, h0, w, b, lengths, peeps = _sequence_args(op)(args)
        acts, d_out, d_c, d_h = args[-7], args[-3], args[-2], args[-1]
        a = op._attrs

        def forward(eps, c0, h0, w, b, peeps):
            return _lstm_scan(x, c0, h0, w, b, lengths, peeps or None, a["forget_bias"], a["cell_clip"], eps)[:3]
        T, B = x.shape[:2]
        eps = xla.jnp.zeros((T, B, w.shape[1]), x.dtype)
        outs, vjp = xla.jax.vjp(forward, eps, c0, h0, w, b, tuple(peeps or ()))
        d_eps, dc0, dh0, dw, db, d_peeps = vjp(_cotangents(outs, (d_out, d_c, d_h)))
        return (_per_slice(d_eps, acts.shape[0]), dc0, dh0, dw, db) + tuple(d_peeps)

    def kernel(op, ctx):
        inputs = _sequence_args(op)
        clip = op._attrs["cell_clip"]   # the forget bias is inside the saved gate activations

        def run(*args):
            x, c0, h0, w, b, lengths, peeps = inputs(args)
            a, xh, cs, tcs, d_out, d_c, d_h = args[-7:]
            if _steps_reached(x.shape[0], d_out, d_c, d_h) > tcs.shape[1]:
                # the forward ran the steps its plan reads only (kernel_for_reads), and the gradient reaches
                # further: possible only with gradients fed in place of computed ones. Recompute them all.
                a, xh, cs, tcs = _forward(x, c0, h0, w, b, lengths, peeps, op._attrs["forget_bias"], clip, True)[3:]
            return _backward(x, w, lengths, peeps, clip, a, xh, cs, tcs, d_out, d_c, d_h)
        return run


# -- kernels
# Values are kept as [time, features, batch]: one step's gate block z = a[t] is a contiguous [4H, B] array whose
# gates are contiguous row blocks, so each step's elementwise work runs over contiguous memory (NumPy's
# vectorized loops are several times slower on strided views), and xh[t] = [x_t; h_{t-1}; 1] is one product's
# right operand (the bias rides on the row of ones).
_GATE_ROWS = "ifoj"   # the gates' order in the kernel's rows and the saved activations: the three sigmoid gates first,
                      # so that one pass turns them all from tanh to sigmoid. Gradients keep TF's order, i, j, f, o.


def _gate(z, name, H, axis=0):
    """Gate `name`'s rows (axis 0) or, with axis=1, its rows in each step of a [T, 4H, B] array."""
    k = _GATE_ROWS.index(name) * H
    return z[k:k + H] if axis == 0 else z[:, k:k + H]


def _kernel_rows(H):
    """Which of TF's 4H kernel columns (gates i, j, f, o) each of the kernel's rows (gates in _GATE_ROWS order) is."""
    return np.concatenate([np.arange("ijfo".index(g) * H, ("ijfo".index(g) + 1) * H) for g in _GATE_ROWS])


def _gate_scale(H, dtype):
    """Per-row scale of the kernel: 1/2 on the i, f, o rows, whose a = tanh(z / 2) becomes sigmoid(z) = a / 2 + 1 / 2;
    the j rows keep tanh(z)."""
    half = np.full((4 * H, 1), 0.5, dtype=dtype)
    _gate(half, "j", H)[:] = 1
    return half


def _tanh_to_sigmoid_(block):
    """a -> a / 2 + 1 / 2 in place, with scalar operands (a per-row column operand is several times slower)."""
    block *= 0.5
    block += 0.5


def _check_shapes(x, c0, h0, w, lengths):
    T, B, I = x.shape
    H = c0.shape[1]
    if w.shape != (I + H, 4 * H):
        raise ValueError("LSTMSequence: w has shape %s, expected [%d + %d, %d] for inputs of depth %d and %d units"
                         % (list(w.shape), I, H, 4 * H, I, H))
    if h0.shape != (B, H) or c0.shape != (B, H):
        raise ValueError("LSTMSequence: states c %s and h %s must both be [batch %d, units %d]"
                         % (list(c0.shape), list(h0.shape), B, H))
    if lengths is not None and lengths.shape != (B,):
        raise ValueError("LSTMSequence: sequence_length has shape %s, expected [batch] = [%d]"
                         % (list(lengths.shape), B))
    return T, B, I, H


_MIN_SPLIT_WORK = 1 << 20      # multiply-adds per sequence below which the batch is not split
_MIN_SLICE = 16                # sequences per slice at least


def _num_parts(B, work):
    """How many independent batch slices to run at once: one per pool thread when the run splits work and each
    slice keeps at least 16 sequences (the batch entries of an LSTM never interact, except in the weight
    gradient, which is a sum over them)."""
    if not parallel.splitting() or work < _MIN_SPLIT_WORK:
        return 1
    for p in range(min(parallel.num_threads(), B // _MIN_SLICE), 1, -1):
        if B % p == 0:
            return p
    return 1


def _in_parts(n_parts, fn):
    if n_parts == 1:
        fn(0, 1)
    else:
        parallel.parallel_for(fn, n_parts, threads=n_parts)


def _forward(x, c0, h0, w, b, lengths, peeps, forget_bias, clip, keep, steps=None):
    """The LSTM over all steps. The batch runs in P equal slices, concurrently; saved values are
    [P, T, features, B / P], so that each slice's per-step blocks are contiguous. Without `keep` (no gradient
    in the graph) only two steps' worth of them are kept, and the saved outputs are empty. With `steps` < T, only
    the first `steps` steps run (their plan reads nothing else: kernel_for_reads): the other outputs are zeros,
    the final state is the one after those steps and the saved values cover them only."""
    T_all, B, I, H = _check_shapes(x, c0, h0, w, lengths)
    T = T_all if steps is None else min(steps, T_all)
    x = x[:T]
    dt = x.dtype
    K = I + H + 1
    P = _num_parts(B, T * H * (K + 4 * H))
    bw = B // P
    half = _gate_scale(H, dt)
    # W^T with the bias as its last column, gates in _GATE_ROWS order, pre-scaled by 1/2 on the sigmoid gates' rows
    rows = _kernel_rows(H)
    wt = np.empty((4 * H, K), dtype=dt)
    wt[:, :I + H] = w.T[rows]
    wt[:, K - 1] = b[rows]
    _gate(wt, "f", H)[:, K - 1] += forget_bias
    wt *= half
    if peeps is not None:   # halved like the rows they add to; full [H, B/P] blocks (broadcast columns are slow)
        peeps = tuple(np.ascontiguousarray(np.broadcast_to(0.5 * p[:, None], (H, bw)), dtype=dt) for p in peeps)
    layout = ((4 * H, False), (K, True), (H, True), (H, False))     # gate activations, [x; h; 1], c, tanh(c)
    (a, xh, cs, tcs), hs_all, last = _step_buffers(layout, P, T, H, bw, dt, keep)
    out = np.empty((T, B, H), dtype=dt) if T == T_all else np.zeros((T_all, B, H), dtype=dt)
    c_last = np.empty((B, H), dtype=dt)
    h_last = np.empty((B, H), dtype=dt)

    def run(p0, p1):
        for p in range(p0, p1):
            sl = slice(p * bw, (p + 1) * bw)
            hs = _forward_slice(x[:, sl], c0[sl], h0[sl], wt, None if lengths is None else lengths[sl],
                                peeps, clip, a[p], xh[p], cs[p], tcs[p], None if keep else hs_all[p])
            out[:T, sl] = hs.transpose(0, 2, 1)
            c_last[sl] = cs[p, last].T
            h_last[sl] = xh[p, last, I:I + H].T
    _in_parts(P, run)
    if not keep:
        a, xh, cs, tcs = _unsaved(layout, T, dt)
    return out, c_last, h_last, a, xh, cs, tcs


def _step_buffers(layout, P, T, H, bw, dt, keep):
    """The per-slice buffers of a sequence op's forward pass, which it outputs for the gradient: one array
    [P, n, rows, B / P] per (rows, per_state) of `layout`, n = T steps or T + 1 states. Without `keep` (no
    gradient to come) they hold the one step or two states the pass cycles through, and each step's h goes to
    the ring [P, T, H, B / P] instead. Returns (buffers, ring or None, index of the final state)."""
    buffers = [np.empty((P, (T if keep else 1) + per_state, rows, bw), dtype=dt) for rows, per_state in layout]
    ring = None if keep else np.empty((P, T, H, bw), dtype=dt)
    return buffers, ring, T if keep else T & 1


def _unsaved(layout, T, dt):
    """The empty arrays a sequence op outputs in place of its step buffers when no gradient reads them."""
    return [np.empty((0, T + per_state, rows, 0), dtype=dt) for rows, per_state in layout]


def _forward_slice(x, c0, h0, wt, lengths, peeps, clip, a, xh, cs, tcs, hs_ring=None):
    """One batch slice. With hs_ring (no gradient to come), xh and cs hold two steps (t and t + 1, by parity),
    a and tcs one, and each step's h is copied into hs_ring [T, H, B]."""
    T, B, I = x.shape
    H = cs.shape[1]
    K = I + H + 1
    dt = x.dtype
    ring = hs_ring is not None
    if ring:
        if T:
            xh[0, :I, :] = x[0].T
    else:
        xh[:T, :I, :] = x.transpose(0, 2, 1)
        xh[T, :I, :] = 0
    xh[0, I:I + H, :] = h0.T
    xh[:, K - 1, :] = 1
    cs[0] = c0.T
    tmp = np.empty((H, B), dtype=dt)
    if peeps is not None:
        wci, wcf, wco = peeps
    # rows of z (_GATE_ROWS = "ifoj"): i, f, o (sigmoid gates: tanh of half their input, then a / 2 + 1 / 2), j
    rows_i, rows_f, rows_o, rows_j, rows_if, rows_ifo = (slice(k * H, (k + n) * H) for k, n in
                                                        ((0, 1), (1, 1), (2, 1), (3, 1), (0, 2), (0, 3)))
    for t in range(T):
        s0, s1, k = (t & 1, (t + 1) & 1, 0) if ring else (t, t + 1, t)
        z = a[k]
        np.matmul(wt, xh[s0], out=z)
        c_prev = cs[s0]
        i, f, o, j = z[rows_i], z[rows_f], z[rows_o], z[rows_j]
        if peeps is None:
            np.tanh(z, out=z)
            _tanh_to_sigmoid_(z[rows_ifo])
        else:   # i and f read c_prev, o the new c
            np.multiply(wci, c_prev, out=tmp)
            i += tmp
            np.multiply(wcf, c_prev, out=tmp)
            f += tmp
            i_f = z[rows_if]
            np.tanh(i_f, out=i_f)
            _tanh_to_sigmoid_(i_f)
            np.tanh(j, out=j)
        cc = cs[s1]
        np.multiply(f, c_prev, out=cc)
        np.multiply(i, j, out=tmp)
        cc += tmp
        if clip is not None:
            np.clip(cc, -clip, clip, out=cc)
        if peeps is not None:
            np.multiply(wco, cc, out=tmp)
            o += tmp
            np.tanh(o, out=o)
            o *= 0.5
            o += 0.5
        tc = tcs[k]
        np.tanh(cc, out=tc)
        h = xh[s1, I:I + H]
        np.multiply(o, tc, out=h)
        if lengths is not None:     # past a sequence's end: carry the state over
            dead = (t >= lengths)[None, :]
            np.copyto(cc, c_prev, where=dead)
            np.copyto(h, xh[s0, I:I + H], where=dead)
        if ring:
            hs_ring[t] = h
            if t + 1 < T:
                xh[s1, :I, :] = x[t + 1].T
    hs = hs_ring if ring else xh[1:, I:I + H]      # [T, H, B]
    if lengths is not None:
        live = np.arange(T)[:, None] < lengths[None, :]
        hs = np.where(live[:, None, :], hs, 0).astype(dt, copy=False)
    return hs


def _backward(x, w, lengths, peeps, clip, a, xh, cs, tcs, d_out, d_c, d_h):
    """Gradients, slice by slice as the forward ran; the kernel's and bias's gradients sum over the slices."""
    P, _, H, bw = tcs.shape
    T, B, I = x.shape                               # the saved values may cover fewer steps (kernel_for_reads)
    dt = x.dtype
    g_all = np.empty((P, T, 4 * H, bw), dtype=dt)
    dc0 = np.empty((B, H), dtype=dt)
    dh0 = np.empty((B, H), dtype=dt)
    parts = [None] * P
    if peeps is not None:
        peeps = tuple(np.ascontiguousarray(np.broadcast_to(p[:, None], (H, bw)), dtype=dt) for p in peeps)

    def run(p0, p1):
        for p in range(p0, p1):
            sl = slice(p * bw, (p + 1) * bw)
            parts[p] = _backward_slice(w, I, None if lengths is None else lengths[sl], peeps, clip, a[p], xh[p],
                                       cs[p], tcs[p], _rows(d_out, sl, 1), _rows(d_c, sl, 0), _rows(d_h, sl, 0),
                                       g_all[p], dc0[sl], dh0[sl])
    _in_parts(P, run)
    dwt = parts[0][0]
    for part in parts[1:]:
        dwt += part[0]
    dwb = dwt.T                                     # [I + H + 1, 4H]: kernel rows, then the bias
    outs = (g_all, dc0, dh0, dwb[:I + H], dwb[I + H])
    if peeps is None:
        return outs
    return outs + tuple(sum(part[1][k] for part in parts) for k in range(3))


def _incoming_dh(dh, d_outT, t, lengths, dhn):
    """Sets dhn to the gradient reaching step t's h: dh (from step t + 1) plus d_outT[t] (from output t, when
    there is one), zero where the sequence ended before step t. Returns (the [1, B] live mask, the part of dh
    that passes a finished sequence's step untouched), both None without sequence lengths."""
    if d_outT is None:
        dhn[...] = dh
    else:
        np.add(dh, d_outT[t], out=dhn)
    if lengths is None:
        return None, None
    live = (t < lengths)[None, :]
    dhn *= live
    return live, np.where(live, 0, dh)


def _rows(g, sl, axis):
    if np.ndim(g) == 0:
        return g
    return g[:, sl] if axis == 1 else g[sl]


def _backward_slice(w, I, lengths, peeps, clip, a, xh, cs, tcs, d_out, d_c, d_h, g_all, dc0, dh0):
    """One batch slice, walking the steps backwards. The factors of each step's gate gradients that do not depend on
    the gradients arriving from later steps are computed first, a chunk of steps at a time (`_gate_factors`, into
    g_all itself, while the chunk's values are in cache), so that the loop over time, which carries dh and dc, makes
    a handful of NumPy calls per step: with the batch split over threads, every call releases and retakes the GIL,
    and fewer calls contend less. Steps that no incoming gradient reaches are skipped (see _steps_reached): their gate
    gradients are zero; so are the output gradients of steps whose outputs nothing used (read in place then)."""
    T = _steps_reached(g_all.shape[0], d_out, d_c, d_h)     # at most the steps saved (checked by the kernel)
    g_all[T:] = 0
    a, cs, tcs, g_all, xh = a[:T], cs[:T + 1], tcs[:T], g_all[:T], xh[:T + 1]
    H, B = tcs.shape[1:]
    dt = a.dtype
    w_h = w[I:]                                     # [H, 4H]: dh_prev = w_h @ g
    # a 0-d gradient stands for zeros (nothing used those outputs)
    out_grad = None if np.ndim(d_out) == 0 else np.any(d_out[:T], axis=(1, 2))    # steps whose output has a gradient
    dh = np.zeros((H, B), dtype=dt) if np.ndim(d_h) == 0 else np.array(d_h.T, dtype=dt)
    dc = np.zeros((H, B), dtype=dt) if np.ndim(d_c) == 0 else np.array(d_c.T, dtype=dt)
    p1 = np.empty((T, H, B), dtype=dt)
    in_clip = None if clip is None else (np.abs(cs[1:]) < clip).astype(dt)    # where clipping let dc through
    dhn = np.empty((H, B), dtype=dt)
    dcc = np.empty((H, B), dtype=dt)
    tmp = np.empty((H, B), dtype=dt)
    if peeps is not None:
        wci, wcf, wco = peeps
    t0 = T
    for t in range(T - 1, -1, -1):
        if t < t0:                                  # the next chunk's factors
            t0 = max(t + 1 - _FACTOR_CHUNK, 0)
            _gate_factors(a[t0:t + 1], cs[t0:t + 2], tcs[t0:t + 1], g_all[t0:t + 1], p1[t0:t + 1])
        g = g_all[t]                                # holds the step's factors, scaled into its gradients here
        gi, gf, go = g[:H], g[2 * H:3 * H], g[3 * H:]
        d_out_t = d_out[t].T if out_grad is not None and out_grad[t] else None
        live, keep_h, dh_t = _gradient_reaching_h(dh, d_out_t, t, lengths, dhn)
        go *= dh_t                                  # h = o * tanh(c)
        np.multiply(dh_t, p1[t], out=dcc)
        if live is not None:                        # past a sequence's end dc passes through untouched
            keep_c = np.where(live, 0, dc)
            dc *= live
        dcc += dc
        if peeps is not None:
            np.multiply(go, wco, out=tmp)
            dcc += tmp
        if in_clip is not None:
            dcc *= in_clip[t]
        gijf = g[:3 * H].reshape(3, H, B)        # c = f * c_prev + i * j: gi, gj, gf in one call
        gijf *= dcc
        np.multiply(dcc, _gate(a[t], "f", H), out=dc)
        if peeps is not None:
            np.multiply(gi, wci, out=tmp)
            dc += tmp
            np.multiply(gf, wcf, out=tmp)
            dc += tmp
        np.matmul(w_h, g, out=dh)
        if live is not None:
            dh += keep_h
            dc += keep_c
    dc0[...] = dc.T
    dh0[...] = dh.T
    d_peeps = None
    if peeps is not None:   # sums over steps and sequences of each diagonal weight's gate gradient times its c
        d_peeps = [np.einsum("thb,thb->h", g_all[:, :H], cs[:T]), np.einsum("thb,thb->h", g_all[:, 2 * H:3 * H], cs[:T]),
                   np.einsum("thb,thb->h", g_all[:, 3 * H:], cs[1:])]
    return _weight_gradient(g_all, xh[:T]), d_peeps


_FACTOR_CHUNK = 7   # steps whose gate factors are computed at once: [7, 4H, B] stays in cache for the loop


def _gradient_reaching_h(dh, d_out_t, t, lengths, dhn):
    """(live mask [1, B] or None, the part of dh that passes a finished sequence's step untouched or None, the
    gradient reaching step t's h): dh from step t + 1 plus d_out_t ([H, B] or None: zeros) from output t, zero where
    the sequence ended before step t. Without lengths and output gradient it is dh itself (no copy)."""
    if lengths is None:
        if d_out_t is None:
            return None, None, dh
        np.add(dh, d_out_t, out=dhn)
        return None, None, dhn
    if d_out_t is None:
        dhn[...] = dh
    else:
        np.add(dh, d_out_t, out=dhn)
    live = (t < lengths)[None, :]
    dhn *= live
    return live, np.where(live, 0, dh), dhn


def _steps_read(op, readers):
    """n when a plan reads only the first n < T steps of LSTMSequence `op`'s outputs, else None. `readers(t)`
    lists the (op, input index) of the plan's steps reading tensor t ((None, None) when the plan returns it). The
    per-step outputs must be read only through UnstackSteps (or for their shape only), the final state not at all,
    and the saved values by gradient kernels only: a bidirectional classifier on `outputs[-1]` reads the backward
    direction's first step. (The gradient then reaches no further unless gradients are fed in place of computed
    ones; its kernel recomputes the forward for that case.)"""
    T = (op._inputs[0].shape.as_tuple() or (None,))[0]
    if T is None or any(readers(t) for t in op._outputs[1:3]):
        return None
    if any(r is None or r.type != "LSTMSequenceGrad" for t in op._outputs[3:] for r, _ in readers(t)):
        return None
    n = 0
    for r, j in readers(op._outputs[0]):
        if r is not None and j in r._def.shape_only_inputs:
            continue
        if r is None or r.type != "UnstackSteps":
            return None
        n = max([n] + [k + 1 for k, t in enumerate(r._outputs) if readers(t)])
    return n if n < T else None


def _steps_reached(T, d_out, d_c, d_h):
    """How many of the T steps, from the first, the incoming gradients reach: all of them when the final state's
    gradient is not zero, else up to the last step whose output's gradient is not zero. Later steps pass no
    gradient back, so the backward pass skips them. A classifier reading `outputs[-1]` of a static bidirectional
    RNN reads the backward direction's output after its first step: its backward pass is one step, not T (a 0-d
    gradient stands for zeros)."""
    if (np.ndim(d_c) and d_c.any()) or (np.ndim(d_h) and d_h.any()):
        return T
    if np.ndim(d_out) == 0:
        return 0
    while T and not d_out[T - 1].any():
        T -= 1
    return T


def _gate_factors(a, cs, tcs, g, p1):
    """For all steps at once ([T, ...] arrays), the parts of the gate gradients that do not depend on the incoming
    gradients: g (in TF's gate order i, j, f, o) gets each gate's derivative times what it multiplies,
        i: j * i(1 - i)    j: i * (1 - j^2)    f: c_prev * f(1 - f)    (times dc, the gradient reaching c)
        o: tanh(c) * o(1 - o)                                          (times dh, the gradient reaching h)
    and p1 = o * (1 - tanh(c)^2), the part of dc that comes through h. Few calls over big arrays: the loop over
    time then only scales them."""
    H = tcs.shape[1]
    i, j, f, o = (_gate(a, k, H, axis=1) for k in "ijfo")
    gi, gj, gf, go = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
    for gate, act in ((gi, i), (gf, f), (go, o)):   # sigmoid derivatives a(1 - a)
        np.subtract(1, act, out=gate)
        gate *= act
    gi *= j
    gf *= cs[:-1]
    go *= tcs
    np.multiply(j, j, out=gj)                       # tanh derivative 1 - j^2
    np.subtract(1, gj, out=gj)
    gj *= i
    np.multiply(tcs, tcs, out=p1)
    np.subtract(1, p1, out=p1)
    p1 *= o


def _weight_gradient(g, xs):
    """sum over t of g[t] @ xs[t]^T ([T, n, B] and [T, K, B] -> [n, K]) as one product over all steps: faster
    than T products of inner size B plus T additions, even after the two transposing copies."""
    T, n, B = g.shape
    K = xs.shape[1]
    return np.matmul(g.transpose(1, 0, 2).reshape(n, T * B), xs.transpose(1, 0, 2).reshape(K, T * B).T)


# -- XLA lowerings: one lax.scan over time, [batch, features] per step (the NumPy kernels' [features, batch]
# layout is for NumPy's contiguous loops); the saved values come out in the kernel's layout with one batch slice
def _sigmoid(v):
    return 0.5 * xla.jnp.tanh(0.5 * v) + 0.5   # as the NumPy kernel computes it


def _lstm_scan(x, c0, h0, w, b, lengths, peeps, forget_bias, clip, eps=None):
    """(h per step masked, final c, final h, (gate activations [T, B, 4H], h entering each step and the final
    one [T + 1, B, H], c states [T + 1, B, H], tanh(c) [T, B, H])); `eps` [T, B, 4H] is added to the gates'
    pre-activations (the gradient's handle on them)."""
    jnp, lax = xla.jnp, xla.lax
    I, H = x.shape[2], c0.shape[1]
    bias = jnp.asarray(b).at[2 * H:3 * H].add(forget_bias)
    zx = jnp.matmul(x, w[:I]) + bias
    if eps is not None:
        zx = zx + eps
    w_h = w[I:]

    def step(carry, inp):
        c, h = carry
        t, z = inp
        z = z + jnp.matmul(h, w_h)
        zi, zj, zf, zo = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
        if peeps is not None:
            zi, zf = zi + peeps[0] * c, zf + peeps[1] * c
        i, j, f = _sigmoid(zi), jnp.tanh(zj), _sigmoid(zf)
        cc = f * c + i * j
        if clip is not None:
            cc = jnp.clip(cc, -clip, clip)
        o = _sigmoid(zo + peeps[2] * cc if peeps is not None else zo)
        tc = jnp.tanh(cc)
        hn = o * tc
        out = hn
        if lengths is not None:   # past a sequence's end: state carried over, output zero
            dead = (t >= lengths)[:, None]
            cc, hn, out = jnp.where(dead, c, cc), jnp.where(dead, h, hn), jnp.where(dead, 0, hn).astype(hn.dtype)
        return (cc, hn), (out, jnp.concatenate([i, j, f, o], axis=1), h, cc, tc)
    (c_last, h_last), (out, acts, h_prev, cs, tcs) = lax.scan(step, (c0, h0), (jnp.arange(x.shape[0]), zx))
    h_prev = jnp.concatenate([h_prev, h_last[None]])
    cs = jnp.concatenate([c0[None], cs])
    return out, c_last, h_last, (acts, h_prev, cs, tcs)


def saved_for_gradient(keep, *per_step):
    """[steps, B, rows] arrays as the kernel outputs them for the gradient, [1, steps, rows, B] (one batch
    slice); without `keep` (no gradient in the graph) empty [0, steps, rows, 0] arrays, as the kernel gives."""
    jnp = xla.jnp
    if keep:
        return tuple(jnp.transpose(v, (0, 2, 1))[None] for v in per_step)
    return tuple(jnp.zeros((0, v.shape[0], v.shape[2], 0), v.dtype) for v in per_step)


def step_inputs(x, h, final):
    """[x_t; h_t; 1] per step ([T, B, I + H + 1]); with `final`, h has T + 1 rows and a last row [0; h_T; 1]
    follows."""
    jnp = xla.jnp
    if final:
        x = jnp.concatenate([x, jnp.zeros_like(x[:1])])
    return jnp.concatenate([x, h, jnp.ones(h.shape[:2] + (1,), x.dtype)], axis=2)


def _cotangents(outs, grads):
    """The incoming gradients as cotangents of `outs`; a 0-d gradient stands for zeros (as in the kernels)."""
    return tuple(xla.jnp.broadcast_to(xla.jnp.asarray(g, o.dtype), o.shape) for o, g in zip(outs, grads))


def _per_slice(g, n_slices):
    """[T, B, n] -> [P, T, n, B / P], the kernels' per-slice layout of a gate gradient (P as the saved values)."""
    T, B, n = g.shape
    P = max(int(n_slices), 1)
    return xla.jnp.transpose(g.reshape(T, P, B // P, n), (1, 0, 3, 2))


def lstm_sequence(x, c0, h0, w, b, sequence_length=None, peepholes=None, forget_bias=1.0, cell_clip=None,
                  name=None):
    """Runs an LSTM over time-major x [T, B, I]; returns the op's 7 outputs (see the module docstring)."""
    x = convert_to_tensor(x, name="x")
    inputs = [x] + [convert_to_tensor(t, dtype=x.dtype) for t in (c0, h0, w, b)]
    if sequence_length is not None:
        inputs.append(convert_to_tensor(sequence_length, name="sequence_length"))
    if peepholes is not None:
        inputs += [convert_to_tensor(p, dtype=x.dtype) for p in peepholes]
    attrs = {"forget_bias": float(forget_bias), "cell_clip": None if cell_clip is None else float(cell_clip),
             "has_seq_len": sequence_length is not None, "use_peephole": peepholes is not None}
    return apply_op("LSTMSequence", inputs, attrs, name=name or "LSTMSequence")
