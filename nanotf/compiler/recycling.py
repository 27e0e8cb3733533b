"""Big elementwise results written into arrays an earlier run made and no longer uses.

glibc's malloc serves blocks above its mmap threshold (32 MB once client/_malloc.py has raised it: that
is glibc's ceiling) with fresh pages from the kernel and gives them back on free, so an op whose result
is that big pays one page fault per page on every run. k-means' l2_normalize scales its whole fed
55000x784 float32 batch (172 MB) every step: measured on a 2-core VM, the multiply took 45 ms into a
fresh array (60 ms inside the step, where huge pages ran short) against 24 ms into one it had written
before. TensorFlow's allocators keep such blocks for reuse; here each Session keeps them in a `BigArrays`
pool, by shape and dtype, up to MAX_KEPT_BYTES in all, and lets them go when it is closed.

An array of the pool is handed out only when nothing but the pool refers to it (its reference count): a
value of the run in progress (the same op earlier in a loop, another op's result not yet freed), a fetched
result, a view of one (a view refers to its base), a variable assigned from one, another thread's run:
each is a reference, and the step then takes another array or makes a new one. So a run holds at once only
the big arrays it would have held without the pool. The count an unshared array shows is measured at
import (interpreters differ in what `sys.getrefcount` counts); without `sys.getrefcount` nothing is recycled.
"""
import sys
import threading

import numpy as np

MIN_BYTES = 32 << 20          # smaller results: malloc keeps freed blocks itself (client/_malloc.py)
MAX_KEPT_BYTES = 1 << 30      # a pool keeps at most this much; beyond, big results are allocated as before


def _first_unshared(arrays, unshared):
    """The first of `arrays` that nothing but the list refers to, or None."""
    for a in arrays:
        if sys.getrefcount(a) <= unshared:
            return a
    return None


def _count_of_an_unshared_array():
    """What sys.getrefcount reports in _first_unshared for an array only its list holds; None when the
    interpreter has no reference counts to read."""
    if not hasattr(sys, "getrefcount"):
        return None
    counts = []

    def probe(arrays):   # the same pattern as _first_unshared: list slot, loop variable, the call's argument
        for a in arrays:
            counts.append(sys.getrefcount(a))
    probe([np.empty(1)])
    return counts[0]


_UNSHARED = _count_of_an_unshared_array()
ENABLED = _UNSHARED is not None


class BigArrays:
    """A Session's pool of big result arrays, by (shape, dtype)."""

    def __init__(self):
        self._arrays = {}    # (shape, dtype) -> [ndarray, ...]
        self._bytes = 0
        self._lock = threading.Lock()

    def take(self, shape, dtype):
        """An array of that shape and dtype no one else holds: one of the pool's, else a new one (kept while
        the pool is under MAX_KEPT_BYTES)."""
        key = (shape, dtype)
        with self._lock:
            arrays = self._arrays.get(key)
            if arrays is not None:
                out = _first_unshared(arrays, _UNSHARED)
                if out is not None:
                    return out
            out = np.empty(shape, dtype)
            if self._bytes + out.nbytes <= MAX_KEPT_BYTES:
                self._arrays.setdefault(key, []).append(out)
                self._bytes += out.nbytes
            return out

    def clear(self):
        with self._lock:
            self._arrays.clear()
            self._bytes = 0


class RecycledResult:
    """An elementwise kernel (framework/op_def.py, destroy_map: it takes `out=`) called with an array of the
    session's pool as `out` when an operand has MIN_BYTES or more: the result is at least that big (a result
    bigger than every operand, an outer broadcast, is simply not recycled). Smaller calls go straight to the
    kernel: this test is all the cost the wrapper adds to the many small steps of a plan whose shapes are
    unknown at compile time (a while loop's body)."""

    __slots__ = ("kernel", "kernel_into", "dtype", "pool")

    def __init__(self, kernel, kernel_into, dtype, pool):
        self.kernel = kernel              # fn(*arrays) -> a new array
        self.kernel_into = kernel_into    # fn(*arrays, out=array), may split over the intra-op threads
        self.dtype = np.dtype(dtype)
        self.pool = pool

    def __call__(self, *args):
        for a in args:
            if type(a) is np.ndarray and a.nbytes >= MIN_BYTES:
                break
        else:
            return self.kernel(*args)
        try:
            shape = np.broadcast_shapes(*[np.shape(a) for a in args])
        except ValueError:   # operands that do not broadcast: the kernel raises its own error
            return self.kernel(*args)
        return self.kernel_into(*args, out=self.pool.take(shape, self.dtype))
