"""Float64 NumPy implementations of TF 1.15's RNN cells and loops, written from the equations, for the tests."""
import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def split4(z):
    return np.split(z, 4, axis=1)


def basic_rnn_step(x, h, kernel, bias):
    out = np.tanh(np.concatenate([x, h], 1) @ kernel + bias)
    return out, out


def lstm_step(x, state, kernel, bias, forget_bias=1.0, peepholes=None, cell_clip=None, proj=None):
    """TF's LSTM: gates i, j, f, o from concat([x, h]) @ kernel + bias."""
    c, h = state
    i, j, f, o = split4(np.concatenate([x, h], 1) @ kernel + bias)
    if peepholes is not None:
        wi, wf, wo = peepholes
        new_c = sigmoid(f + forget_bias + wf * c) * c + sigmoid(i + wi * c) * np.tanh(j)
    else:
        new_c = sigmoid(f + forget_bias) * c + sigmoid(i) * np.tanh(j)
    if cell_clip is not None:
        new_c = np.clip(new_c, -cell_clip, cell_clip)
    if peepholes is not None:
        new_h = sigmoid(o + peepholes[2] * new_c) * np.tanh(new_c)
    else:
        new_h = sigmoid(o) * np.tanh(new_c)
    if proj is not None:
        new_h = new_h @ proj
    return new_h, (new_c, new_h)


def gru_step(x, h, gate_kernel, gate_bias, cand_kernel, cand_bias, activation=np.tanh):
    r, u = np.split(sigmoid(np.concatenate([x, h], 1) @ gate_kernel + gate_bias), 2, axis=1)
    c = activation(np.concatenate([x, r * h], 1) @ cand_kernel + cand_bias)
    new_h = u * h + (1 - u) * c
    return new_h, new_h


def run(step, xs, state, lengths=None):
    """Runs `step(x_t, state) -> (out, state)` over xs [T, B, ...] (time-major): past a sequence's length
    the output is zero and the state carried over. Returns (outputs [T, B, out], final state)."""
    outs = []
    for t, x in enumerate(xs):
        out, new_state = step(x, state)
        if lengths is not None:
            live = (t < np.asarray(lengths))[:, None]
            out = np.where(live, out, 0.0)
            if isinstance(new_state, tuple):
                new_state = tuple(np.where(live, n, s) for n, s in zip(new_state, state))
            else:
                new_state = np.where(live, new_state, state)
        outs.append(out)
        state = new_state
    return np.stack(outs), state


def reverse_valid(xs, lengths):
    """Each batch entry's first lengths[b] steps reversed (time-major xs [T, B, ...])."""
    out = np.array(xs, copy=True)
    for b, n in enumerate(lengths):
        out[:n, b] = xs[:n, b][::-1]
    return out
