"""Big elementwise results written into the array the same op made in an earlier run.

glibc's malloc serves blocks above its mmap threshold (32 MB once client/_malloc.py has raised it: that
is glibc's ceiling) with fresh pages from the kernel and gives them back on free, so an op whose result
is that big pays one page fault per page on every run. k-means' l2_normalize scales its whole fed
55000x784 float32 batch (172 MB) every step: measured on a 2-core VM, the multiply took 45 ms into a
fresh array (60 ms inside the step, where huge pages ran short) against 24 ms into one it had written
before. TensorFlow's allocators keep such blocks for reuse; here each such op keeps its last result.

Reuse is safe because it is decided by reference count: the kept array is written only when nothing but
this object refers to it. A value of an earlier run still alive, a fetched result, a view of it (a view
refers to its base), a variable assigned from it, the same op running in another thread's run: each is
a reference, and the op then writes a new array (and keeps that one instead).
"""
import sys

import numpy as np

MIN_BYTES = 32 << 20   # smaller results: malloc keeps freed blocks itself (client/_malloc.py)
_OWNED = 3             # references to an unshared kept array: `self.kept`, the local name, getrefcount's argument


class RecycledResult:
    """An elementwise kernel (framework/op_def.py, destroy_map: it takes `out=`) called with a kept array as
    `out` when an operand has MIN_BYTES or more: the result is at least that big (a result bigger than
    every operand, an outer broadcast, is simply not recycled). Smaller calls go straight to the kernel:
    this test is all the cost the wrapper adds to the many small steps of a plan whose shapes are unknown
    at compile time (a while loop's body)."""

    __slots__ = ("kernel", "kernel_into", "dtype", "kept")

    def __init__(self, kernel, kernel_into, dtype):
        self.kernel = kernel              # fn(*arrays) -> a new array
        self.kernel_into = kernel_into    # fn(*arrays, out=array), may split over the intra-op threads
        self.dtype = np.dtype(dtype)
        self.kept = None

    def __call__(self, *args):
        for a in args:
            if type(a) is np.ndarray and a.nbytes >= MIN_BYTES:
                break
        else:
            return self.kernel(*args)
        shape = np.broadcast_shapes(*[np.shape(a) for a in args])
        out = self.kept
        if out is None or out.shape != shape or sys.getrefcount(out) > _OWNED:
            self.kept = out = None   # an unshared old array is freed before the new one is made
            out = self.kept = np.empty(shape, self.dtype)
        return self.kernel_into(*args, out=out)
