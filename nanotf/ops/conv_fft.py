"""Stride-1 convolutions through the discrete Fourier transform, every transform a matrix product.

Why: a 5x5 convolution from 32 to 64 channels on 14x14 images does 25*32*64 multiply-adds per output
position, and im2col makes that one big product that BLAS runs at its peak; nothing faster is left on
that road. In the frequency domain the same convolution is one (images x C) @ (C x O) product per
frequency, and there are about as many frequencies as positions, so the products shrink by ~kh*kw/2
(about 4x here, after the transforms). Long FFTs are not needed: each axis is short (tens of points), so
its DFT is a small dense matrix applied with one matrix product, which BLAS runs fast and which
handles padding and cropping for free (the matrices only have columns for real samples and rows for
wanted outputs).

Numerics: errors are of the direct sum's size relative to each image's largest values (of order
eps * sqrt(P) * max|x| * sum|w|), not relative to each output: in a dark corner of a bright image, or
where the exact result is 0, an output carries that image-wide rounding (up to ~1e-7 of the image's
scale in float32, never exactly 0). A NaN or inf would reach every output of its image, so conv_ops
sends non-finite operands the direct way.

One axis (the two spatial axes are separable). The correlation y[i] = sum_a x[i + a - p] w[a], with x of
length n (zero outside [0, n)), w of length k and y of length `out`, is, for any period P with no
wrap-around, Y[f] = X[f] * Wf[f] where X[f] = sum_t x[t] e^(-2 pi i f t / P) and
Wf[f] = sum_a w[a] e^(2 pi i f (a - p) / P); y[i] = (1/P) sum_f Y[f] e^(2 pi i f i / P). The smallest
period with no wrap-around is P = max(n + p, out + k - 1 - p): every x index i + a - p then lies in
[-p, n + p) and never meets the copy of another one P away. The two gradients use the same P:
  dx[t]  = (1/P) sum_f DY[f] conj(Wf[f]) e^(2 pi i f t / P)                    (input gradient)
  dw[a]  = (1/P) sum_f conj(X[f]) DY[f] e^(-2 pi i f (a - p) / P)              (filter gradient)
with channels, each frequency's product is a matrix product: X[f] (images x C) @ Wf[f] (C x O), etc.
The data are real, so the column axis keeps frequencies 0..P/2 only and the inverse counts the others
twice (c_f = 2), taking the real part.

Layout: a block of images goes (rows, images, C, cols) -> column DFT, a real product on the right whose
columns interleave each frequency's real and imaginary parts, so its result is complex64 memory
(rows, images*C, Fw) -> frequencies to the middle -> row DFT, a complex product on the left ->
(Ph, Fw, images, C) = (frequencies, images, C): each frequency's matrix is contiguous, so the batched
product needs no copy. That product, too, runs as a real one on the complex memory (the filter's spectrum
embedded as 2x2 real blocks, `_embedded_filter`): BLAS's real kernels are faster than its complex ones.
The inverse runs the same steps backwards, its last (column) product taking only the real part.

`pays(g)` decides per call from the geometry: the frequency route is taken when its multiply-adds
(a complex one counts 4) are well under the direct route's (first layers with one input channel stay
direct: their inverse transforms cost more than the whole direct convolution).
"""
import functools

import numpy as np

from nanotf.framework import parallel

__all__ = ["pays", "conv2d", "backprop_input", "backprop_filter"]

# The frequency route must do at most this fraction of the direct route's multiply-adds: its
# products are smaller (depth C or O, not kh*kw*C) and its transforms add passes over memory.
_MAX_COST_RATIO = 0.5
# Complex work array bytes per block of images: blocks stay in the 2nd/3rd level caches between
# the transforms and the products, and threads get whole blocks.
_BLOCK_BYTES = 6 << 20


def _period(n, k, p, out):
    """The smallest DFT period of one axis with no wrap-around (module doc)."""
    return max(n + p, out + k - 1 - p)


class _Axis:
    """The DFT matrices of one spatial axis (module doc), in float64 (_Axes casts them)."""

    def __init__(self, n, k, p, out, half):
        self.period = period = _period(n, k, p, out)
        f = np.arange(period // 2 + 1 if half else period)
        self.freqs = len(f)
        c = np.ones(len(f))
        if half:                        # a real signal's spectrum: f and P - f are conjugates
            c[1:] = 2.0
            if period % 2 == 0:
                c[-1] = 1.0
        turn = 2j * np.pi / period
        t_in, t_out, taps = np.arange(n), np.arange(out), np.arange(k) - p
        self.x_fwd = np.exp(-turn * np.outer(f, t_in))               # (F, n): spectrum of an input
        self.y_fwd = np.exp(-turn * np.outer(f, t_out))              # (F, out): spectrum of an output gradient
        self.w_fwd = np.exp(turn * np.outer(f, taps))                # (F, k): spectrum of the filter
        self.x_inv = c * np.exp(turn * np.outer(t_in, f)) / period   # (n, F): spectrum -> input positions
        self.y_inv = c * np.exp(turn * np.outer(t_out, f)) / period  # (out, F): spectrum -> output positions
        self.w_inv = c * np.exp(-turn * np.outer(taps, f)) / period  # (k, F): spectrum -> filter taps


def _real_right(m):
    """Real (n, 2F) matrix R with (x @ R) viewed as complex (.., F) equal to x @ m.T, for real x (.., n) and
    complex m (F, n): columns interleave each frequency's real and imaginary part as complex64 memory does."""
    r = np.empty((m.shape[1], m.shape[0], 2))
    r[..., 0], r[..., 1] = m.real.T, m.imag.T
    return r.reshape(m.shape[1], -1)


def _real_part_right(m):
    """Real (2F, n) matrix R with z.view(real) @ R equal to Re(z @ m.T), for complex z (.., F), m (n, F)."""
    r = np.empty((m.shape[1], 2, m.shape[0]))
    r[:, 0], r[:, 1] = m.real.T, -m.imag.T
    return r.reshape(-1, m.shape[0])


class _Axes:
    """The matrices of both spatial axes of one geometry (rows: h, kh, pt, oh; columns: w, kw, pl, ow), in
    the types the transforms use."""

    def __init__(self, h, w, kh, kw, pt, pl, oh, ow, dtype):
        real = np.dtype(dtype)
        cplx = np.complex128 if real == np.float64 else np.complex64
        rows = _Axis(h, kh, pt, oh, False)
        cols = _Axis(w, kw, pl, ow, True)
        self.ph, self.fw = rows.freqs, cols.freqs
        self.periods = rows.period * cols.period      # the inverse divides by it
        self.freqs = rows.freqs * cols.freqs
        # rows: complex matrices applied on the left; columns: real matrices applied on the right
        self.rows_x, self.rows_y = rows.x_fwd.astype(cplx), rows.y_fwd.astype(cplx)
        self.rows_x_conj = rows.x_fwd.conj().astype(cplx)
        self.rows_x_inv, self.rows_y_inv, self.rows_w_inv = (rows.x_inv.astype(cplx), rows.y_inv.astype(cplx),
                                                             rows.w_inv.astype(cplx))
        self.cols_x, self.cols_y = _real_right(cols.x_fwd).astype(real), _real_right(cols.y_fwd).astype(real)
        self.cols_x_conj = _real_right(cols.x_fwd.conj()).astype(real)
        self.cols_x_inv = _real_part_right(cols.x_inv).astype(real)
        self.cols_y_inv = _real_part_right(cols.y_inv).astype(real)
        self.cols_w_inv = cols.w_inv.astype(cplx)
        # the 2-D DFT of each filter tap (a, b): taps[(fh, fw), (a, b)] = rows.w_fwd[fh, a] * cols.w_fwd[fw, b]
        taps = (rows.w_fwd[:, None, :, None] * cols.w_fwd[None, :, None, :]).reshape(self.freqs, -1)
        self.taps_re, self.taps_im = taps.real.astype(real), taps.imag.astype(real)
        self.cplx = cplx


_axes_of = functools.lru_cache(maxsize=64)(_Axes)     # a model has a few geometries


def _axes(g, dtype):
    """_Axes of conv_ops._Conv geometry g."""
    return _axes_of(g.h, g.w, g.kh, g.kw, g.pt, g.pl, g.oh, g.ow, np.dtype(dtype).str)


def pays(g):
    """True when the frequency route is cheaper for stride-1 geometry g (conv_ops._Conv)."""
    if g.sh != 1 or g.sw != 1 or min(g.oh, g.ow, g.kh * g.kw) <= 1:
        return False
    ph, fw = _period(g.h, g.kh, g.pt, g.oh), _period(g.w, g.kw, g.pl, g.ow) // 2 + 1
    freqs = ph * fw
    # complex multiply-adds per image of the slower direction (forward, or input gradient: same shape)
    transforms = fw * g.w * g.h * g.c + ph * g.h * fw * g.c + g.oh * ph * fw * g.o + g.ow * fw * g.oh * g.o
    fft = 4 * (transforms + freqs * g.c * g.o)
    direct = g.oh * g.ow * g.kh * g.kw * g.c * g.o
    return fft <= _MAX_COST_RATIO * direct


# -- transforms of a block of images (nb, rows, cols, channels) <-> spectra (Ph * Fw, nb, channels)
def _spectrum(a, rows_fwd, cols_right, cplx):
    """(Ph * Fw, nb, ch) complex spectrum of real a (nb, r, s, ch): the column DFT as a real product on
    the right (columns last), then the row DFT as a complex product on the left (rows first)."""
    nb, r, s, ch = a.shape
    t = np.ascontiguousarray(a.transpose(1, 0, 3, 2)).reshape(-1, s)        # (r * nb * ch, s)
    z = np.matmul(t, cols_right).view(cplx)                                   # (r * nb * ch, Fw)
    fw = z.shape[1]
    z = np.ascontiguousarray(z.reshape(r, nb * ch, fw).transpose(0, 2, 1))   # (r, Fw, nb * ch)
    return np.matmul(rows_fwd, z.reshape(r, -1)).reshape(-1, nb, ch)


def _positions(spec, rows_inv, cols_real, out):
    """The real part of the inverse transform of spec (Ph * Fw, nb, ch) written into out (nb, r, s, ch)."""
    nb, r, s, ch = out.shape
    ph = rows_inv.shape[1]
    fw = spec.shape[0] // ph
    t = np.matmul(rows_inv, spec.reshape(ph, -1))                              # (r, Fw * nb * ch)
    t = np.ascontiguousarray(t.reshape(r, fw, nb * ch).transpose(0, 2, 1))    # (r, nb * ch, Fw)
    res = np.matmul(t.view(cols_real.dtype).reshape(r * nb * ch, 2 * fw), cols_real)   # (r * nb * ch, s)
    out[...] = res.reshape(r, nb, ch, s).transpose(1, 0, 3, 2)


def _embedded_filter(g, w, ax, adjoint):
    """The filter's spectrum Wf (F, C, O) as real (F, 2C, 2O) matrices E with x.view(real) @ E[f] equal to
    (x @ Wf[f]).view(real) for complex x (.., C): the complex product as one real product on complex64
    memory (faster in BLAS than the complex one); `adjoint`: conj(Wf[f]).T instead, (F, 2O, 2C), for the
    input gradient. Built over the intra-op threads by ranges of frequencies (it is a serial step)."""
    k, c, o = g.kh * g.kw, g.c, g.o
    w2 = w.reshape(k, c * o)
    rows, cols = (o, c) if adjoint else (c, o)
    e = np.empty((ax.freqs, rows, 2, cols, 2), w.dtype)

    def part(i, j):
        re = np.matmul(ax.taps_re[i:j], w2).reshape(j - i, c, o)    # Re Wf, Im Wf of frequencies i:j
        im = np.matmul(ax.taps_im[i:j], w2).reshape(j - i, c, o)
        if adjoint:                                                  # conj(Wf).T: transpose, negate Im
            re, im = re.transpose(0, 2, 1), -im.transpose(0, 2, 1)
        blk = e[i:j]
        blk[:, :, 0, :, 0], blk[:, :, 0, :, 1] = re, im
        blk[:, :, 1, :, 0], blk[:, :, 1, :, 1] = -im, re
    parallel.parallel_for(part, ax.freqs, threads=g.threads)
    return e.reshape(ax.freqs, 2 * rows, 2 * cols)


def _image_blocks(n, per_image_bytes, threads):
    """[(a, b)] blocks of images under _BLOCK_BYTES of work arrays, a multiple of `threads` of them."""
    group = max(1, _BLOCK_BYTES // max(per_image_bytes, 1))
    count = -(-n // group)
    count = min(n, -(-count // threads) * threads)
    group = -(-n // count)
    return [(a, min(a + group, n)) for a in range(0, n, group)]


def _for_blocks(g, freqs, channels, itemsize, fn):
    """Runs fn(a, b) over image blocks, split over nanotf's pool; returns the results in order."""
    blocks = _image_blocks(g.n, 2 * freqs * channels * 2 * itemsize, g.threads)

    def run(i, j):
        return [fn(a, b) for a, b in blocks[i:j]]
    run.__qualname__ = fn.__qualname__ + "_ranges"     # what a profile or a thread dump shows
    return [r for part in parallel.parallel_for(run, len(blocks), threads=g.threads) for r in part]


def conv2d(g, x, w, out, bias=None, activation=None):
    """out (N, OH, OW, O) = the stride-1 correlation of x (N, H, W, C) with w (kh, kw, C, O), plus `bias` (O,)
    if given: added to the zero frequency, which the inverse spreads evenly over every position; then
    `activation(block, out=block)` if given, on each block of images while it is in cache."""
    ax = _axes(g, out.dtype)
    wf = _embedded_filter(g, w, ax, adjoint=False)                            # (F, 2C, 2O) real

    def conv2d_block(a, b):
        spec = _spectrum(x[a:b], ax.rows_x, ax.cols_x, ax.cplx)              # (F, nb, C)
        prod = np.matmul(spec.view(wf.dtype), wf).view(ax.cplx)              # (F, nb, O)
        if bias is not None:
            prod[0] += bias * ax.periods
        _positions(prod, ax.rows_y_inv, ax.cols_y_inv, out[a:b])
        if activation is not None:
            activation(out[a:b], out=out[a:b])
    _for_blocks(g, ax.freqs, max(g.c, g.o), out.itemsize, conv2d_block)


def backprop_input(g, w, dy, dx):
    """dx (N, H, W, C) of a stride-1 correlation, from the filter w and the output gradient dy."""
    ax = _axes(g, dx.dtype)
    wf = _embedded_filter(g, w, ax, adjoint=True)                             # (F, 2O, 2C) real

    def input_grad_block(a, b):
        spec = _spectrum(dy[a:b], ax.rows_y, ax.cols_y, ax.cplx)             # (F, nb, O)
        prod = np.matmul(spec.view(wf.dtype), wf).view(ax.cplx)              # (F, nb, C)
        _positions(prod, ax.rows_x_inv, ax.cols_x_inv, dx[a:b])
    _for_blocks(g, ax.freqs, max(g.c, g.o), dx.itemsize, input_grad_block)


def backprop_filter(g, x, dy, dtype):
    """(kh, kw, C, O) filter gradient of a stride-1 correlation of x with output gradient dy."""
    ax = _axes(g, dtype)

    def filter_grad_block(a, b):
        # conj(X) straight from the conjugate matrices (x is real): no conjugating pass
        xs = _spectrum(x[a:b], ax.rows_x_conj, ax.cols_x_conj, ax.cplx)      # (F, nb, C)
        return np.matmul(xs.transpose(0, 2, 1), _spectrum(dy[a:b], ax.rows_y, ax.cols_y, ax.cplx))  # (F, C, O)
    parts = _for_blocks(g, ax.freqs, max(g.c, g.o), np.dtype(dtype).itemsize, filter_grad_block)
    total = parts[0]
    for p in parts[1:]:
        total += p
    # back to taps: rows first (kh, Fw * C * O), then the columns' real inverse
    t = np.matmul(ax.rows_w_inv, total.reshape(ax.ph, -1))
    t = t.reshape(g.kh, ax.fw, g.c * g.o).transpose(1, 0, 2).reshape(ax.fw, -1)
    dw = np.matmul(ax.cols_w_inv, t).real.reshape(g.kw, g.kh, g.c, g.o).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dw, dtype=dtype)
