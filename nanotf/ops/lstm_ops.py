"""A whole LSTM sequence as one op (nanotf's counterpart of TF's fused BlockLSTM kernels).

static_rnn / dynamic_rnn run an LSTM cell (BasicLSTMCell, LSTMCell without projection, LSTMBlockCell) through
`LSTMSequence` instead of unrolling it into a dozen small ops per step: the same equations and variables,
computed by one kernel that
- multiplies the inputs of all steps by the input rows of the kernel in one product,
- per step, multiplies h by the recurrent rows only and applies all four gate nonlinearities in one pass
  (sigmoid(x) = 0.5 * tanh(x / 2) + 0.5, with the 1/2 folded into the kernel's columns),
- masks steps past each sequence's length (output 0, state carried over) as TF's dynamic_rnn does,
and a gradient kernel that walks the steps backwards and forms the weight gradient as one product over all
steps. The gradient with respect to x is an ordinary MatMul in the graph, so it disappears from plans that
do not need it (inputs fed through placeholders).

Inputs: x [T, B, I], c0 [B, H], h0 [B, H], w [I + H, 4H] (gate columns i, j, f, o), b [4H], then
seq_len [B] (attr has_seq_len) and w_i_diag, w_f_diag, w_o_diag [H] (attr use_peephole).
Outputs: h per step [T, B, H] (zero past a sequence's end), final c, final h, and four values the gradient
reads (gate activations [T, B, 4H], carried c states and h states [T + 1, B, H], new c before clipping).
"""
import numpy as np

from nanotf.framework import dtypes
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


def _merge(a, b):
    return a if a is not None else b


class LSTMSequence(OpDef):
    num_outputs_hint = 7

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
        return [(x.dtype, TensorShape([T, B, H])), (x.dtype, state), (x.dtype, state),
                (x.dtype, TensorShape([T, B, None if H is None else 4 * H])),
                (x.dtype, TensorShape([None if T is None else T + 1, B, H])),
                (x.dtype, TensorShape([None if T is None else T + 1, B, H])),
                (x.dtype, TensorShape([T, B, H]))]

    def kernel(op, ctx):
        seq, peep = _input_layout(op)
        forget_bias, clip = op._attrs["forget_bias"], op._attrs["cell_clip"]

        def run(*args):
            x, c0, h0, w, b = args[:5]
            lengths = args[seq] if seq is not None else None
            peeps = args[peep:peep + 3] if peep is not None else None
            return _forward(x, c0, h0, w, b, lengths, peeps, forget_bias, clip)
        return run

    def grad(op, d_out, d_c, d_h, *unused):
        seq, peep = _input_layout(op)
        x, w = op._inputs[0], op._inputs[3]
        n_in = len(op._inputs)
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
        flat = array_ops.reshape(d_gates, array_ops.stack([-1, array_ops.shape(d_gates)[2]]))
        dx = array_ops.reshape(math_ops.matmul(flat, w_x, transpose_b=True), array_ops.shape(x))
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


class LSTMSequenceGrad(OpDef):
    """Gradients of LSTMSequence: pre-activation gate gradients [T, B, 4H], then dc0, dh0, dw, db and, with
    peepholes, the three diagonal weights' gradients."""
    grad = None

    def infer(op):
        x, c0, h0, w, b = op._inputs[:5]
        out = [(x.dtype, op._inputs[-7].shape), (x.dtype, c0.shape), (x.dtype, h0.shape), (x.dtype, w.shape),
               (x.dtype, b.shape)]
        if op._attrs["use_peephole"]:
            _, peep = _input_layout(op)
            out += [(x.dtype, op._inputs[peep + k].shape) for k in range(3)]
        return out

    def kernel(op, ctx):
        seq, peep = _input_layout(op)
        forget_bias, clip = op._attrs["forget_bias"], op._attrs["cell_clip"]

        def run(*args):
            x, c0, h0, w, b = args[:5]
            lengths = args[seq] if seq is not None else None
            peeps = args[peep:peep + 3] if peep is not None else None
            gates, cs, hs, c_new, d_out, d_c, d_h = args[-7:]
            return _backward(x, w, lengths, peeps, clip, gates, cs, hs, c_new, d_out, d_c, d_h)
        return run


# -- kernels
def _tanh_gate_scales(H, dtype):
    """Column scales that turn tanh into the sigmoid for the i, f, o blocks: sigmoid(z) = a/2 + 1/2 with
    a = tanh(z/2); the j block keeps tanh."""
    half = np.full(4 * H, 0.5, dtype=dtype)
    half[H:2 * H] = 1
    shift = np.full(4 * H, 0.5, dtype=dtype)
    shift[H:2 * H] = 0
    return half, shift


def _sigmoid_(z):
    """In-place sigmoid through tanh (no overflow for large |z|)."""
    z *= 0.5
    np.tanh(z, out=z)
    z *= 0.5
    z += 0.5
    return z


def _forward(x, c0, h0, w, b, lengths, peeps, forget_bias, clip):
    T, B, I = x.shape
    H = c0.shape[1]
    dt = x.dtype
    if w.shape != (I + H, 4 * H):
        raise ValueError("LSTMSequence: w has shape %s, expected [%d + %d, %d] for inputs of depth %d and %d units"
                         % (list(w.shape), I, H, 4 * H, I, H))
    if h0.shape != (B, H) or c0.shape != (B, H):
        raise ValueError("LSTMSequence: states c %s and h %s must both be [batch %d, units %d]"
                         % (list(c0.shape), list(h0.shape), B, H))
    if lengths is not None and lengths.shape != (B,):
        raise ValueError("LSTMSequence: sequence_length has shape %s, expected [batch] = [%d]"
                         % (list(lengths.shape), B))
    gates = np.empty((T, B, 4 * H), dtype=dt)
    flat = gates.reshape(T * B, 4 * H)
    fb = np.zeros(4 * H, dtype=dt)
    fb[2 * H:3 * H] = forget_bias
    if peeps is None:
        half, shift = _tanh_gate_scales(H, dt)
        np.matmul(x.reshape(T * B, I), w[:I] * half, out=flat)
        flat += (b + fb) * half
        w_h = w[I:] * half
    else:
        np.matmul(x.reshape(T * B, I), w[:I], out=flat)
        flat += b + fb
        w_h = w[I:]
    cs = np.empty((T + 1, B, H), dtype=dt)
    hs = np.empty((T + 1, B, H), dtype=dt)
    c_new = np.empty((T, B, H), dtype=dt)
    out = np.empty((T, B, H), dtype=dt)
    cs[0], hs[0] = c0, h0
    rec = np.empty((B, 4 * H), dtype=dt)
    tc = np.empty((B, H), dtype=dt)
    for t in range(T):
        z = gates[t]
        c_prev, h_prev = cs[t], hs[t]
        np.matmul(h_prev, w_h, out=rec)
        z += rec
        i, j, f, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
        if peeps is None:
            np.tanh(z, out=z)
            z *= half
            z += shift
        else:
            wci, wcf, wco = peeps
            i += wci * c_prev
            f += wcf * c_prev
            _sigmoid_(i)
            np.tanh(j, out=j)
            _sigmoid_(f)
        cn = c_new[t]
        np.multiply(f, c_prev, out=cn)
        np.multiply(i, j, out=tc)
        cn += tc
        cc = np.clip(cn, -clip, clip) if clip is not None else cn
        if peeps is not None:
            o += peeps[2] * cc
            _sigmoid_(o)
        np.tanh(cc, out=tc)
        h_new = out[t]
        np.multiply(o, tc, out=h_new)
        if lengths is None:
            cs[t + 1] = cc
            hs[t + 1] = h_new
        else:
            live = (t < lengths)[:, None]
            np.copyto(cs[t + 1], np.where(live, cc, c_prev))
            np.copyto(hs[t + 1], np.where(live, h_new, h_prev))
            h_new *= live
    return out, cs[T].copy(), hs[T].copy(), gates, cs, hs, c_new


def _backward(x, w, lengths, peeps, clip, gates, cs, hs, c_new, d_out, d_c, d_h):
    T, B, I = x.shape
    H = cs.shape[2]
    dt = x.dtype
    w_hT = w[I:].T
    d_gates = np.empty_like(gates)
    dh = np.array(d_h, dtype=dt)        # gradients flowing into the carried state after step t
    dc = np.array(d_c, dtype=dt)
    d_peeps = [np.zeros(H, dtype=dt) for _ in range(3)] if peeps is not None else None
    dhn = np.empty((B, H), dtype=dt)
    tmp = np.empty((B, H), dtype=dt)
    for t in range(T - 1, -1, -1):
        a = gates[t]
        i, j, f, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        g = d_gates[t]
        gi, gj, gf, go = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
        c_prev = cs[t]
        cn = c_new[t]
        cc = np.clip(cn, -clip, clip) if clip is not None else cn
        tc = np.tanh(cc)
        np.add(dh, d_out[t], out=dhn)
        if lengths is not None:
            live = (t < lengths)[:, None]
            keep_h = np.where(live, 0, dh)
            keep_c = np.where(live, 0, dc)
            dhn *= live
            dcc = dc * live
        else:
            dcc = dc
        # h = o * tanh(cc)
        np.multiply(dhn, tc, out=go)
        np.multiply(tc, tc, out=tmp)
        np.subtract(1, tmp, out=tmp)
        tmp *= o
        tmp *= dhn
        dcc = dcc + tmp
        np.subtract(1, o, out=tmp)
        tmp *= o
        go *= tmp
        if peeps is not None:
            dcc += go * peeps[2]
            d_peeps[2] += np.einsum("bh,bh->h", go, cc)
        if clip is not None:
            dcc *= (cn >= -clip) & (cn <= clip)
        # cc = f * c_prev + i * j (before clipping)
        np.multiply(dcc, j, out=gi)
        np.subtract(1, i, out=tmp)
        tmp *= i
        gi *= tmp
        np.multiply(dcc, i, out=gj)
        np.multiply(j, j, out=tmp)
        np.subtract(1, tmp, out=tmp)
        gj *= tmp
        np.multiply(dcc, c_prev, out=gf)
        np.subtract(1, f, out=tmp)
        tmp *= f
        gf *= tmp
        dc_prev = dcc * f
        if peeps is not None:
            dc_prev += gi * peeps[0] + gf * peeps[1]
            d_peeps[0] += np.einsum("bh,bh->h", gi, c_prev)
            d_peeps[1] += np.einsum("bh,bh->h", gf, c_prev)
        dh_prev = np.matmul(g, w_hT)
        if lengths is not None:
            dh_prev += keep_h
            dc_prev += keep_c
        dh, dc = dh_prev, dc_prev
    flat = d_gates.reshape(T * B, 4 * H)
    dw = np.empty_like(w)
    np.matmul(x.reshape(T * B, I).T, flat, out=dw[:I])
    np.matmul(hs[:T].reshape(T * B, H).T, flat, out=dw[I:])
    db = flat.sum(axis=0)
    outs = (d_gates, dc, dh, dw, db)
    return outs + tuple(d_peeps) if peeps is not None else outs


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


del dtypes
