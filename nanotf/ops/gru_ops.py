"""A whole GRU sequence as one op (nanotf's counterpart of TF's fused GRU kernels), as lstm_ops.py does for LSTMs.

static_rnn / dynamic_rnn run a GRUCell with its default tanh activation through `GRUSequence`: TF's GRUCell
equations and variables (gates/kernel [I + H, 2H] with columns r then u, gates/bias, candidate/kernel [I + H, H],
candidate/bias), per step two products (the gates from [x_t; h; 1], the candidate from [x_t; r * h; 1]), the
sigmoid through one tanh pass, sequence_length masking as dynamic_rnn's, the batch in slices on the pool's
threads, and a gradient kernel walking the steps backwards. The gradient with respect to x is formed in the graph
(skipped when nothing needs it).

Inputs: x [T, B, I], h0 [B, H], gate kernel, gate bias, candidate kernel, candidate bias, then seq_len [B] (attr
has_seq_len). Outputs: h per step [T, B, H] (zero past a sequence's end), final h, and what the gradient reads,
per batch slice: gate activations [P, T, 2H, B/P], [x; h; 1] [P, T + 1, K, B/P], [x; r*h; 1] [P, T, K, B/P] and
the candidate [P, T, H, B/P] (K = I + H + 1).
"""
import numpy as np

from nanotf.framework import lowering as xla
from nanotf.framework.op_def import OpDef, Sample
from nanotf.framework.ops import apply_op, convert_to_tensor
from nanotf.framework.tensor_shape import TensorShape
from nanotf.ops import array_ops, math_ops
from nanotf.ops.lstm_ops import (KEEP_ATTR, _cotangents, _in_parts, _incoming_dh, _is_zeros, _keeps, _num_parts,
                                 _per_slice, _rows, _sigmoid, _step_buffers, _unsaved, _weight_gradient,
                                 saved_for_gradient, step_inputs)

__all__ = []


class GRUSequence(OpDef):
    num_outputs_hint = 6
    splits_work = True

    def infer(op):
        x, h0, wg, bg, wc, bc = op._inputs[:6]
        for t, what in ((h0, "h0"), (wg, "gate kernel"), (bg, "gate bias"), (wc, "candidate kernel"),
                        (bc, "candidate bias")):
            if t.dtype is not x.dtype:
                raise TypeError("GRUSequence %r: %s must have the dtype of x (%s), got %s"
                                % (op.name, what, x.dtype.name, t.dtype.name))
        if not x.dtype.is_floating:
            raise TypeError("GRUSequence %r: x must be floating point, got %s" % (op.name, x.dtype.name))
        xd = x.shape.as_tuple() or (None,) * 3
        hd = h0.shape.as_tuple() or (None, None)
        if len(xd) != 3 or len(hd) != 2:
            raise ValueError("GRUSequence %r: x must be [time, batch, depth] and h0 [batch, units], got %s and %s"
                             % (op.name, x.shape, h0.shape))
        T, B, I = xd
        B = B if B is not None else hd[0]
        H = hd[1]
        wgd, wcd = wg.shape.as_tuple(), wc.shape.as_tuple()
        if H is not None and I is not None:
            for d, cols, what in ((wgd, 2 * H, "gate kernel"), (wcd, H, "candidate kernel")):
                if d is not None and None not in d and tuple(d) != (I + H, cols):
                    raise ValueError("GRUSequence %r: the %s must be [%d + %d, %d] for inputs of depth %d and %d "
                                     "units, got %s" % (op.name, what, I, H, cols, I, H, list(d)))
        if op._attrs["has_seq_len"] and not op._inputs[6].dtype.is_integer:
            raise TypeError("GRUSequence %r: sequence lengths must be integers" % op.name)
        T1 = None if T is None else T + 1
        K = None if I is None or H is None else I + H + 1
        return [(x.dtype, TensorShape([T, B, H])), (x.dtype, TensorShape([B, H])),
                (x.dtype, TensorShape([None, T, None if H is None else 2 * H, None])),
                (x.dtype, TensorShape([None, T1, K, None])),
                (x.dtype, TensorShape([None, T, K, None])),
                (x.dtype, TensorShape([None, T, H, None]))]

    def kernel(op, ctx):
        has_seq = op._attrs["has_seq_len"]

        def run(*args):
            return _forward(*args[:6], args[6] if has_seq else None, _keeps(op))
        return run

    def lower(op, *args):
        x = args[0]
        out, h_last, (acts, h_prev, rh, cand) = _gru_scan(*args[:6], args[6] if op._attrs["has_seq_len"] else None)
        return (out, h_last) + saved_for_gradient(_keeps(op), acts, step_inputs(x, h_prev, final=True),
                                                  step_inputs(x, rh, final=False), cand)

    def grad(op, d_out, d_h, *unused):
        op._attrs[KEEP_ATTR] = True
        x, wg, wc = op._inputs[0], op._inputs[2], op._inputs[4]
        d_out, d_h = (array_ops.constant(0, dtype=x.dtype) if _is_zeros(g) else g for g in (d_out, d_h))
        inputs = list(op._inputs) + list(op._outputs[2:6]) + [d_out, d_h]
        g_gates, g_cand, dh0, dwg, dbg, dwc, dbc = apply_op("GRUSequenceGrad", inputs, dict(op._attrs),
                                                           name="GRUSequenceGrad")
        depth = (x.shape.as_tuple() or (None,) * 3)[2]
        if depth is None:
            size = array_ops.concat([array_ops.shape(x)[2:], [-1]], 0)
            wg_x = array_ops.slice(wg, array_ops.constant([0, 0]), size)
            wc_x = array_ops.slice(wc, array_ops.constant([0, 0]), size)
        else:
            wg_x = array_ops.slice(wg, [0, 0], [depth, -1])
            wc_x = array_ops.slice(wc, [0, 0], [depth, -1])

        def rows(g, w):   # [P, T, n, B/P] -> [T * B, n], rows in x's order
            return array_ops.reshape(array_ops.transpose(g, [1, 0, 3, 2]), array_ops.stack([-1, array_ops.shape(w)[1]]))
        dx = math_ops.add(math_ops.matmul(rows(g_gates, wg), wg_x, transpose_b=True),
                          math_ops.matmul(rows(g_cand, wc), wc_x, transpose_b=True))
        dx = array_ops.reshape(dx, array_ops.shape(x))
        return [dx, dh0, dwg, dbg, dwc, dbc] + [None] * (len(op._inputs) - 6)

    samples = [
        Sample(lambda x, h, wg, bg, wc, bc: gru_sequence(x, h, wg, bg, wc, bc)[:2],
               [(3, 2, 3), (2, 2), (5, 4), (4,), (5, 2), (2,)]),
        Sample(lambda x, h, wg, bg, wc, bc, n: gru_sequence(x, h, wg, bg, wc, bc, sequence_length=n)[:2],
               [(4, 3, 2), (3, 2), (4, 4), (4,), (4, 2), (2,), np.array([4, 1, 0], dtype=np.int32)]),
    ]


class GRUSequenceGrad(OpDef):
    """Gradients of GRUSequence: pre-activation gradients of the gates [P, T, 2H, B/P] and of the candidate
    [P, T, H, B/P], then dh0 and the four variables' gradients."""
    grad = None
    splits_work = True

    def infer(op):
        x, h0, wg, bg, wc, bc = op._inputs[:6]
        a_g, cand = op._inputs[-6], op._inputs[-3]
        return [(x.dtype, a_g.shape), (x.dtype, cand.shape), (x.dtype, h0.shape), (x.dtype, wg.shape),
                (x.dtype, bg.shape), (x.dtype, wc.shape), (x.dtype, bc.shape)]

    def lower(op, *args):
        """The gradients through jax.vjp of the forward scan (recomputed), with zero addends on the gates' and the
        candidate's pre-activations whose cotangents are the first two outputs."""
        x, h0, wg, bg, wc, bc = args[:6]
        lengths = args[6] if op._attrs["has_seq_len"] else None
        acts, d_out, d_h = args[-4], args[-2], args[-1]

        def forward(eps_g, eps_c, h0, wg, bg, wc, bc):
            return _gru_scan(x, h0, wg, bg, wc, bc, lengths, eps_g, eps_c)[:2]
        T, B, H = x.shape[0], x.shape[1], h0.shape[1]
        eps = (xla.jnp.zeros((T, B, 2 * H), x.dtype), xla.jnp.zeros((T, B, H), x.dtype))
        outs, vjp = xla.jax.vjp(forward, *eps, h0, wg, bg, wc, bc)
        d_gates, d_cand, dh0, dwg, dbg, dwc, dbc = vjp(_cotangents(outs, (d_out, d_h)))
        P = acts.shape[0]
        return (_per_slice(d_gates, P), _per_slice(d_cand, P), dh0, dwg, dbg, dwc, dbc)

    def kernel(op, ctx):
        has_seq = op._attrs["has_seq_len"]

        def run(*args):
            x, h0, wg, bg, wc, bc = args[:6]
            lengths = args[6] if has_seq else None
            return _backward(x, wg, wc, lengths, *args[-6:])
        return run


def _check_shapes(x, h0, wg, wc, lengths):
    T, B, I = x.shape
    H = h0.shape[1] if h0.ndim == 2 else -1
    if h0.shape != (B, H):
        raise ValueError("GRUSequence: h0 has shape %s, expected [batch %d, units]" % (list(h0.shape), B))
    if wg.shape != (I + H, 2 * H) or wc.shape != (I + H, H):
        raise ValueError("GRUSequence: kernels have shapes %s and %s, expected [%d, %d] and [%d, %d]"
                         % (list(wg.shape), list(wc.shape), I + H, 2 * H, I + H, H))
    if lengths is not None and lengths.shape != (B,):
        raise ValueError("GRUSequence: sequence_length has shape %s, expected [batch] = [%d]"
                         % (list(lengths.shape), B))
    return T, B, I, H


def _forward(x, h0, wg, bg, wc, bc, lengths, keep):
    T, B, I, H = _check_shapes(x, h0, wg, wc, lengths)
    dt = x.dtype
    K = I + H + 1
    P = _num_parts(B, T * 3 * H * K)
    bw = B // P
    wgt = np.empty((2 * H, K), dtype=dt)       # gates: W^T with the bias column, halved for sigmoid-by-tanh
    wgt[:, :K - 1] = wg.T
    wgt[:, K - 1] = bg
    wgt *= 0.5
    wct = np.empty((H, K), dtype=dt)
    wct[:, :K - 1] = wc.T
    wct[:, K - 1] = bc
    layout = ((2 * H, False), (K, True), (K, False), (H, False))   # gate activations, [x; h; 1], [x; r*h; 1], candidate
    (a_g, xh, xrh, cand), hs_all, last = _step_buffers(layout, P, T, H, bw, dt, keep)
    out = np.empty((T, B, H), dtype=dt)
    h_last = np.empty((B, H), dtype=dt)

    def run(p0, p1):
        for p in range(p0, p1):
            sl = slice(p * bw, (p + 1) * bw)
            hs = _forward_slice(x[:, sl], h0[sl], wgt, wct, None if lengths is None else lengths[sl], a_g[p], xh[p],
                                xrh[p], cand[p], None if keep else hs_all[p])
            out[:, sl] = hs.transpose(0, 2, 1)
            h_last[sl] = xh[p, last, I:I + H].T
    _in_parts(P, run)
    if not keep:
        a_g, xh, xrh, cand = _unsaved(layout, T, dt)
    return out, h_last, a_g, xh, xrh, cand


def _forward_slice(x, h0, wgt, wct, lengths, a_g, xh, xrh, cand, hs_ring=None):
    """One batch slice; with hs_ring (no gradient to come) the buffers hold one or two steps, as in lstm_ops."""
    T, B, I = x.shape
    H = cand.shape[1]
    K = I + H + 1
    ring = hs_ring is not None
    if ring:
        if T:
            xh[0, :I] = x[0].T
    else:
        xt = x.transpose(0, 2, 1)
        xh[:T, :I] = xt
        xh[T, :I] = 0
        xrh[:, :I] = xt
    xh[0, I:I + H] = h0.T
    xh[:, K - 1] = 1
    xrh[:, K - 1] = 1
    for t in range(T):
        s0, s1, k = (t & 1, (t + 1) & 1, 0) if ring else (t, t + 1, t)
        if ring:
            xrh[0, :I] = xh[s0, :I]
        z = a_g[k]
        np.matmul(wgt, xh[s0], out=z)
        np.tanh(z, out=z)
        z *= 0.5
        z += 0.5                                   # r, u = sigmoid(gates)
        r, u = z[:H], z[H:]
        h_prev = xh[s0, I:I + H]
        np.multiply(r, h_prev, out=xrh[k, I:I + H])
        c = cand[k]
        np.matmul(wct, xrh[k], out=c)
        np.tanh(c, out=c)
        h = xh[s1, I:I + H]                        # u * h + (1 - u) * c = c + u * (h - c)
        np.subtract(h_prev, c, out=h)
        h *= u
        h += c
        if lengths is not None:
            np.copyto(h, h_prev, where=(t >= lengths)[None, :])
        if ring:
            hs_ring[t] = h
            if t + 1 < T:
                xh[s1, :I] = x[t + 1].T
    hs = hs_ring if ring else xh[1:, I:I + H]
    if lengths is not None:
        live = np.arange(T)[:, None] < lengths[None, :]
        hs = np.where(live[:, None, :], hs, 0).astype(x.dtype, copy=False)
    return hs


def _backward(x, wg, wc, lengths, a_g, xh, xrh, cand, d_out, d_h):
    P, T, H, bw = cand.shape
    B = P * bw
    I = x.shape[2]
    dt = x.dtype
    g_gates = np.empty((P, T, 2 * H, bw), dtype=dt)
    g_cand = np.empty((P, T, H, bw), dtype=dt)
    dh0 = np.empty((B, H), dtype=dt)
    parts = [None] * P

    def run(p0, p1):
        for p in range(p0, p1):
            sl = slice(p * bw, (p + 1) * bw)
            parts[p] = _backward_slice(wg, wc, I, None if lengths is None else lengths[sl], a_g[p], xh[p], xrh[p],
                                       cand[p], _rows(d_out, sl, 1), _rows(d_h, sl, 0), g_gates[p], g_cand[p],
                                       dh0[sl])
    _in_parts(P, run)
    dwgt, dwct = parts[0]
    for more_g, more_c in parts[1:]:
        dwgt += more_g
        dwct += more_c
    dwg, dwc = dwgt.T, dwct.T                     # [I + H + 1, n]: kernel rows, then the bias
    return g_gates, g_cand, dh0, dwg[:I + H], dwg[I + H], dwc[:I + H], dwc[I + H]


def _backward_slice(wg, wc, I, lengths, a_g, xh, xrh, cand, d_out, d_h, g_gates, g_cand, dh0):
    T, H, B = cand.shape
    dt = a_g.dtype
    wg_h, wc_h = wg[I:I + H], wc[I:I + H]          # [H, 2H], [H, H]
    d_outT = None if np.ndim(d_out) == 0 else np.ascontiguousarray(d_out.transpose(0, 2, 1), dtype=dt)
    dh = np.zeros((H, B), dtype=dt) if np.ndim(d_h) == 0 else np.array(d_h.T, dtype=dt)
    dhn = np.empty((H, B), dtype=dt)
    d_rh = np.empty((H, B), dtype=dt)
    tmp = np.empty((H, B), dtype=dt)
    d2 = np.empty((2 * H, B), dtype=dt)
    for t in range(T - 1, -1, -1):
        z = a_g[t]
        r, u = z[:H], z[H:]
        c = cand[t]
        h_prev = xh[t, I:I + H]
        g2 = g_gates[t]
        gr, gu = g2[:H], g2[H:]
        gc = g_cand[t]
        _, keep_h = _incoming_dh(dh, d_outT, t, lengths, dhn)
        # h = c + u * (h_prev - c)
        np.subtract(1, u, out=tmp)
        np.multiply(dhn, tmp, out=gc)              # dc
        np.multiply(c, c, out=tmp)
        np.subtract(1, tmp, out=tmp)
        gc *= tmp                                  # through tanh
        np.subtract(h_prev, c, out=gu)
        gu *= dhn                                  # du
        np.multiply(dhn, u, out=dh)                # the direct path to h_prev
        np.matmul(wc_h, gc, out=d_rh)              # d(r * h_prev)
        np.multiply(d_rh, h_prev, out=gr)          # dr
        np.multiply(d_rh, r, out=tmp)
        dh += tmp
        np.subtract(1, z, out=d2)
        d2 *= z
        g2 *= d2                                   # through the sigmoids
        np.matmul(wg_h, g2, out=tmp)
        dh += tmp
        if lengths is not None:
            dh += keep_h
    dh0[...] = dh.T
    return _weight_gradient(g_gates, xh[:T]), _weight_gradient(g_cand, xrh)


def _gru_scan(x, h0, wg, bg, wc, bc, lengths, eps_g=None, eps_c=None):
    """The XLA form (lstm_ops._lstm_scan's layout): (h per step masked, final h, (gate activations [T, B, 2H],
    h entering each step and the final one [T + 1, B, H], r * h per step [T, B, H], candidate [T, B, H])).
    `eps_g`, `eps_c` are added to the gates' and the candidate's pre-activations (the gradient's handles)."""
    jnp, lax = xla.jnp, xla.lax
    I, H = x.shape[2], h0.shape[1]
    zg_x = jnp.matmul(x, wg[:I]) + bg
    zc_x = jnp.matmul(x, wc[:I]) + bc
    if eps_g is not None:
        zg_x, zc_x = zg_x + eps_g, zc_x + eps_c
    wg_h, wc_h = wg[I:], wc[I:]

    def step(h, inp):
        t, zg, zc = inp
        ru = _sigmoid(zg + jnp.matmul(h, wg_h))
        r, u = ru[:, :H], ru[:, H:]
        rh = r * h
        c = jnp.tanh(zc + jnp.matmul(rh, wc_h))
        hn = c + u * (h - c)
        out = hn
        if lengths is not None:   # past a sequence's end: state carried over, output zero
            dead = (t >= lengths)[:, None]
            hn, out = jnp.where(dead, h, hn), jnp.where(dead, 0, hn).astype(hn.dtype)
        return hn, (out, ru, h, rh, c)
    h_last, (out, acts, h_prev, rh, cand) = lax.scan(step, h0, (jnp.arange(x.shape[0]), zg_x, zc_x))
    return out, h_last, (acts, jnp.concatenate([h_prev, h_last[None]]), rh, cand)


def gru_sequence(x, h0, gate_kernel, gate_bias, cand_kernel, cand_bias, sequence_length=None, name=None):
    """Runs TF's GRUCell over time-major x [T, B, I]; returns the op's 6 outputs (see the module docstring)."""
    x = convert_to_tensor(x, name="x")
    inputs = [x] + [convert_to_tensor(t, dtype=x.dtype) for t in (h0, gate_kernel, gate_bias, cand_kernel, cand_bias)]
    if sequence_length is not None:
        inputs.append(convert_to_tensor(sequence_length, name="sequence_length"))
    return apply_op("GRUSequence", inputs, {"has_seq_len": sequence_length is not None}, name=name or "GRUSequence")
