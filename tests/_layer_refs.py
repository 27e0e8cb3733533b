"""NumPy references and a finite-difference helper for the tf.layers / tf.nn tests (float64 throughout)."""
import numpy as np

from test_gradients import _numeric_grad as numeric_grad  # noqa: F401  (re-exported for the layer tests)


def same_pads(n, k, s):
    """TF's SAME padding: (out, pad_before)."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return out, total // 2


def window_geometry(h, wd, kh, kw, stride, padding):
    """(out height, out width, pad above, pad left) of a kh x kw window sliding over h x wd, TF's rules."""
    if padding == "SAME":
        oh, pt = same_pads(h, kh, stride)
        ow, pl = same_pads(wd, kw, stride)
        return oh, ow, pt, pl
    return (h - kh) // stride + 1, (wd - kw) // stride + 1, 0, 0


def conv2d_ref(x, w, stride, padding):
    """NHWC cross-correlation with a [kh, kw, in, out] filter, TF's padding rules."""
    n, h, wd, c = x.shape
    kh, kw, _, co = w.shape
    oh, ow, pt, pl = window_geometry(h, wd, kh, kw, stride, padding)
    xp = np.zeros((n, h + kh + stride * oh, wd + kw + stride * ow, c))
    xp[:, pt:pt + h, pl:pl + wd] = x
    out = np.zeros((n, oh, ow, co))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j, :] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return out


def conv2d_transpose_ref(x, w, stride, out_h, out_w):
    """Transposed conv of NHWC x with a [kh, kw, out, in] filter: scatter-add every input pixel's
    contribution, then crop as TF's SAME/VALID geometry does (pad_before = total // 2)."""
    n, h, wd, ci = x.shape
    kh, kw, co, _ = w.shape
    full = np.zeros((n, (h - 1) * stride + kh, (wd - 1) * stride + kw, co))
    for i in range(h):
        for j in range(wd):
            full[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :] += \
                np.einsum("nc,hwoc->nhwo", x[:, i, j, :], w)
    pt = max((h - 1) * stride + kh - out_h, 0) // 2
    pl = max((wd - 1) * stride + kw - out_w, 0) // 2
    out = np.zeros((n, out_h, out_w, co))
    src = full[:, pt:pt + out_h, pl:pl + out_w]
    out[:, :src.shape[1], :src.shape[2]] = src
    return out


def pool2d_ref(x, k, s, padding, kind):
    n, h, wd, c = x.shape
    oh, ow, pt, pl = window_geometry(h, wd, k, k, s, padding)
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s - pt, j * s - pl
            win = x[:, max(r0, 0):min(r0 + k, h), max(c0, 0):min(c0 + k, wd), :]
            out[:, i, j] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return out
