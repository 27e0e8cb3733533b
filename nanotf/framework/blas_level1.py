"""BLAS's in-place vector updates, y = a*x + b*y (axpby) and y = y + a*x (axpy), for the optimizers' kernels.

Why: the optimizers' updates are sweeps over memory, and NumPy spends a pass on each operation. Adam's
moment m = beta1*m + (1-beta1)*g is three NumPy passes (subtract, multiply, add) but one BLAS axpby; its
step w -= alpha*r is two passes but one axpy, which OpenBLAS also splits over its threads. Measured on a
2-core VM, after a threaded product as in a training run: Adam on a 784x512 variable 0.65 -> 0.39 ms, on
3136x1024 6.7 -> 4.7 ms (the square root and the division stay NumPy passes: BLAS has neither).

The routines are those of the BLAS NumPy already loaded (found through threadpoolctl, as
framework/parallel.py finds its thread controls), called through ctypes, which releases the GIL for the
call. They are used only where they compute what the NumPy passes compute: float32 or float64 arrays of one
dtype, C-contiguous, not overlapping, big enough that the call pays (`_MIN_SIZE`), with both coefficients
nonzero and finite (BLAS kernels skip the x or y term whose coefficient is 0, so a NaN there would vanish
instead of spreading as in NumPy). Results equal the NumPy passes' up to float rounding (a kernel may fuse
the multiply and the add). Anywhere else, or where no such BLAS is found, or with NANOTF_BLAS_LEVEL1=0,
the functions return False and the caller makes its NumPy passes.
"""
import ctypes
import itertools
import math
import threading

import numpy as np

from nanotf.framework import environment

__all__ = ["axpby", "axpy", "available", "numpy_passes"]

# Elements from which a BLAS call pays: below, a ufunc call costs about what ctypes' does and the
# arrays sit in cache anyway.
_MIN_SIZE = 8192
# LP64 BLAS libraries take 32-bit counts (the 64-bit ones passed here read correctly there below this).
_MAX_SIZE = 2 ** 31 - 1

_lock = threading.Lock()
_found = None          # {dtype: (axpby, axpy)}, {} when none: filled on first use
_local = threading.local()   # .off: this thread's calls make NumPy passes (numpy_passes())


def _bind(lib, names):
    """{numpy dtype: (axpby, axpy)} from one library's CBLAS symbols (prefix/suffix variants of builds
    that rename them: SciPy's OpenBLAS is `scipy_cblas_saxpby64_`), or None."""
    for prefix, suffix in itertools.product(("", "scipy_"), ("", "64_", "_64")):
        try:
            fns = [getattr(lib, prefix + "cblas_" + n + suffix) for n in names]
        except AttributeError:
            continue
        found = {}
        for dtype, scalar, (fn_by, fn_y) in ((np.dtype(np.float32), ctypes.c_float, fns[0:2]),
                                              (np.dtype(np.float64), ctypes.c_double, fns[2:4])):
            # 64-bit integer arguments: read correctly by ILP64 and (for values below 2^31) LP64 builds
            i64, ptr = ctypes.c_int64, ctypes.c_void_p
            fn_by.argtypes, fn_by.restype = [i64, scalar, ptr, i64, scalar, ptr, i64], None
            fn_y.argtypes, fn_y.restype = [i64, scalar, ptr, i64, ptr, i64], None
            found[dtype] = (fn_by, fn_y)
        return found
    return None


def _works(found):
    """A small known case through each routine: a library whose calls give other numbers is not used."""
    for dtype, (fn_by, fn_y) in found.items():
        x, y = np.array([1, 2, 3], dtype), np.array([4, 5, 6], dtype)
        fn_by(3, 2.0, x.ctypes.data, 1, 3.0, y.ctypes.data, 1)       # y = 2x + 3y
        fn_y(3, -1.0, x.ctypes.data, 1, y.ctypes.data, 1)            # y -= x
        if not np.array_equal(y, np.array([13, 17, 21], dtype)):
            return False
    return True


def _load():
    if not environment.blas_level1():
        return {}
    try:
        from threadpoolctl import ThreadpoolController
        controllers = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    except Exception:   # no threadpoolctl, or it cannot inspect this process: NumPy passes
        return {}
    for c in controllers:
        lib = getattr(c, "dynlib", None)
        found = lib is not None and _bind(lib, ("saxpby", "saxpy", "daxpby", "daxpy"))
        try:
            if found and _works(found):
                return found
        except Exception:
            continue
    return {}


def _routines():
    global _found
    if _found is None:
        with _lock:
            if _found is None:
                _found = _load()
    return _found


def available():
    """Whether BLAS's axpby and axpy were found (and pass their check) in this process."""
    return bool(_routines())


class numpy_passes:
    """`with numpy_passes():` this thread's axpby/axpy decline. For updates split over nanotf's pool while BLAS
    keeps its own threads: BLAS calls from both pool threads at once would each start BLAS's threads too
    (3136x1024 Adam: 6.2 ms that way, against 3.7 for NumPy's passes split in two)."""

    def __enter__(self):
        self._was = getattr(_local, "off", False)
        _local.off = True

    def __exit__(self, *exc):
        _local.off = self._was


def _usable(x, y, *coefficients):
    """The (axpby, axpy) pair for x and y, or None where the NumPy passes must run (module doc)."""
    if getattr(_local, "off", False):
        return None
    fns = _routines().get(y.dtype)
    if (fns is None or x.dtype != y.dtype or not _MIN_SIZE <= y.size <= _MAX_SIZE or x.size != y.size
            or not (x.flags.c_contiguous and y.flags.c_contiguous) or np.may_share_memory(x, y)):
        return None
    for c in coefficients:
        if c == 0 or not math.isfinite(c):
            return None
    return fns


def axpby(a, x, b, y):
    """y = a*x + b*y in place, by BLAS; False (nothing done) where the caller's NumPy passes must run."""
    fns = _usable(x, y, a, b)
    if fns is None:
        return False
    fns[0](y.size, float(a), x.ctypes.data, 1, float(b), y.ctypes.data, 1)
    return True


def axpy(a, x, y):
    """y = y + a*x in place, by BLAS; False (nothing done) where the caller's NumPy passes must run."""
    fns = _usable(x, y, a)
    if fns is None:
        return False
    fns[1](y.size, float(a), x.ctypes.data, 1, y.ctypes.data, 1)
    return True
