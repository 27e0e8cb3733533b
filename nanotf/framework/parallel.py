"""The intra-op thread pool: big kernels split their work across the machine's cores.

Why nanotf splits work itself instead of leaving it to BLAS: OpenBLAS parallelizes each
matrix product on its own, but after a product its worker threads keep spinning for a while,
waiting for the next one. Whatever NumPy work follows on other threads (im2col copies,
optimizer updates, pooling gradients) then shares a core with a spinning thread. Measured on a
2-core machine: Deep MNIST's second convolution split over 2 threads took 13.5 ms right after a
threaded product and 6.7 ms when no BLAS thread was spinning. So while `Session.run` executes a
plan holding kernels that split their work (OpDef.splits_work: convolutions, max-pooling),
BLAS is set to one thread (its calls run in the thread that makes them), and nanotf splits big
products, by rows or by columns, and other big kernels over this pool, one thread per core.
Other plans keep BLAS's own threads, which serve small products best (waking a pool thread costs
60-90 us here). The BLAS thread count in force before the run is restored when the run returns,
so NumPy code outside a run is unaffected.

The number of threads is the number of cores this process may use, or `NANOTF_NUM_THREADS`,
or what `set_intra_op_parallelism_threads(n)` (also `tf.config.threading.*` and
`ConfigProto(intra_op_parallelism_threads)`) sets; a count set that way also caps BLAS's
threads in every run.
"""
import os
import threading

import numpy as np

_np_matmul = np.matmul

__all__ = ["num_threads", "set_intra_op_parallelism_threads", "get_intra_op_parallelism_threads",
           "threads_for", "parallel_for", "matmul", "split_inplace", "splitting", "run_scope_needed", "run_begin",
           "run_end"]

_MAX_THREADS = 64
# A product is split only when it has at least this many multiply-adds (about 0.1 ms on one
# core): below that, waking a pool thread costs more than it saves.
_MIN_SPLIT_MACS = 4_000_000
# An elementwise step is split from this many elements (about 0.25 ms of NumPy work).
_MIN_SPLIT_ELEMENTS = 1 << 19

_state_lock = threading.Lock()
_requested = 0          # set_intra_op_parallelism_threads; 0: the default
_threads = None         # resolved count
_pool = None
_local = threading.local()   # .in_pool: this thread is a pool thread (nested splits run serially)


def _default_threads():
    env = os.environ.get("NANOTF_NUM_THREADS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError("NANOTF_NUM_THREADS must be a number of threads (0: one per core), got %r"
                             % env) from None
        if n < 0:
            raise ValueError("NANOTF_NUM_THREADS must be a number of threads (0: one per core), got %r" % env)
        if n:
            return n
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def num_threads():
    """Threads a kernel may split its work over (including the calling thread)."""
    global _threads
    if _threads is None:
        _threads = max(1, min(_requested or _default_threads(), _MAX_THREADS))
    return _threads


def set_intra_op_parallelism_threads(n):
    """Sets the number of threads kernels split work over; 0 restores the default (TF's meaning)."""
    global _requested, _threads, _pool, _caps_blas
    n = int(n)
    if n < 0:
        raise ValueError("set_intra_op_parallelism_threads: expected 0 (default) or a positive count, got %d" % n)
    with _state_lock:
        if n == _requested:
            return            # e.g. every Session made with the same ConfigProto
        _requested, _threads = n, None
        _caps_blas = None
        old, _pool = _pool, None
    if old is not None:
        old.shutdown(wait=False)


def get_intra_op_parallelism_threads():
    return _requested


def _get_pool():
    global _pool
    pool = _pool
    if pool is None:
        from concurrent.futures import ThreadPoolExecutor
        with _state_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max(1, num_threads() - 1), thread_name_prefix="nanotf-intra-op",
                                           initializer=_mark_pool_thread)
            pool = _pool
    return pool


def _mark_pool_thread():
    _local.in_pool = True


def _call_quietly(fn, i, j):
    # inf/NaN propagate silently in every thread of a run, as in the Session's own thread
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        return fn(i, j)


def threads_for(work):
    """Threads worth using for a kernel doing `work` multiply-adds: 1 below ~0.1 ms of work."""
    return num_threads() if work >= _MIN_SPLIT_MACS and not getattr(_local, "in_pool", False) else 1


def parallel_for(fn, n, grain=1, threads=None):
    """Calls fn(i, j) on consecutive ranges covering [0, n), one per thread (at most `threads`),
    concurrently; each range holds at least `grain` items. fn must release the GIL to gain (NumPy
    kernels do) and must write only what its range owns. Returns the results in range order."""
    k = min(num_threads() if threads is None else threads, n // max(grain, 1))
    if k < 2 or getattr(_local, "in_pool", False):
        return [fn(0, n)]
    bounds = [n * t // k for t in range(k + 1)]
    pool = _get_pool()
    futures = []
    for t in range(1, k):
        try:
            futures.append(pool.submit(_call_quietly, fn, bounds[t], bounds[t + 1]))
        except RuntimeError:      # the pool was retired meanwhile (thread count changed): run it here
            futures.append((bounds[t], bounds[t + 1]))
    results, error = [None], None
    try:
        results[0] = fn(bounds[0], bounds[1])
    except BaseException as e:   # wait for the others before raising: they write into shared arrays
        error = e
    for f in futures:
        try:
            results.append(f.result() if not isinstance(f, tuple) else fn(*f))
        except BaseException as e:
            error = error or e
    if error is not None:
        raise error
    return results


def matmul(a, b, out=None):
    """np.matmul of two 2-D arrays, split by rows of `a` (or, for few rows, by columns of `b`)
    across the pool when the product is big enough to gain from it."""
    if not _split_runs:       # BLAS threads itself outside runs that split work (the common, fast path)
        return _np_matmul(a, b) if out is None else _np_matmul(a, b, out=out)
    m, k = a.shape
    n = b.shape[1]
    if m * n * k < _MIN_SPLIT_MACS or getattr(_local, "in_pool", False):
        return _np_matmul(a, b) if out is None else _np_matmul(a, b, out=out)
    if out is None:
        out = np.empty((m, n), dtype=np.result_type(a, b))
    if m >= n:
        parallel_for(lambda i, j: np.matmul(a[i:j], b, out=out[i:j]), m, grain=8)
    else:
        parallel_for(lambda i, j: np.matmul(a, b[:, i:j], out=out[:, i:j]), n, grain=16)
    return out


def split_inplace(kernel, index):
    """Wraps an elementwise kernel that writes its result into argument `index`: big arrays are
    done in slices of the leading axis, one per thread (operands broadcast along that axis are
    passed whole)."""
    def split_inplace_kernel(*args):
        x = args[index]
        if not _split_runs or x.size < _MIN_SPLIT_ELEMENTS or getattr(_local, "in_pool", False):
            return kernel(*args)
        shapes = [np.shape(a) for a in args]
        if np.broadcast_shapes(*shapes) != x.shape:   # the kernel would allocate a larger result
            return kernel(*args)
        n, nd = x.shape[0], x.ndim
        sliced = [len(s) == nd and s[0] == n for s in shapes]

        def part(i, j):
            kernel(*[a[i:j] if cut else a for a, cut in zip(args, sliced)])
        parallel_for(part, n)
        return x
    return split_inplace_kernel


# -- BLAS threads during a run
_blas = None            # threadpoolctl controllers of the BLAS libraries NumPy uses; () if none
_runs = 0               # runs in progress that cap BLAS threads (Sessions may run in several threads)
_split_runs = 0         # of which, runs splitting big products and elementwise steps over the pool
_blas_limit = None      # the cap in force
_saved = ()
_caps_blas = None       # a user-set thread count caps BLAS in every run (resolved on first use)


def _blas_controllers():
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController
            _blas = tuple(c for c in ThreadpoolController().lib_controllers if c.user_api == "blas")
        except Exception:   # no threadpoolctl or an unknown BLAS: leave BLAS threading alone
            _blas = ()
    return _blas


def _explicit():
    """Whether the thread count was set by the user (API, ConfigProto or NANOTF_NUM_THREADS)."""
    return bool(_requested) or os.environ.get("NANOTF_NUM_THREADS", "").strip() not in ("", "0")


def splitting():
    """Whether a run that splits big products over the pool is in progress (BLAS single-threaded)."""
    return _split_runs > 0


def run_scope_needed(splits_work):
    """Whether a run of a plan must call run_begin/run_end (cheap: called on every run)."""
    global _caps_blas
    if _caps_blas is None:
        _caps_blas = _explicit()
    return splits_work or _caps_blas


def run_begin(splits_work):
    """Called as a Session.run starts. A plan that splits work itself (`splits_work`) runs with BLAS
    single-threaded and its big products split over the pool; any other plan leaves BLAS alone,
    unless the user set a thread count, which then caps BLAS's threads too. Returns what
    run_end must undo (None: nothing)."""
    global _runs, _split_runs, _saved, _blas_limit
    n = num_threads()
    if splits_work and n >= 2:
        limit, splitting = 1, True
    elif _explicit():
        limit, splitting = n, False
    else:
        return None
    with _state_lock:
        if _runs == 0:
            _saved = tuple((c, c.num_threads) for c in _blas_controllers())
            _blas_limit = None
        _runs += 1
        _split_runs += splitting
        if _blas_limit is None or limit < _blas_limit:   # concurrent runs: the lowest cap holds
            _blas_limit = limit
            for c, was in _saved:
                if was > limit:
                    c.set_num_threads(limit)
    return splitting


def run_end(began):
    """Called as a Session.run returns or raises: the last run to finish restores BLAS threads."""
    global _runs, _split_runs, _blas_limit
    if began is None:
        return
    with _state_lock:
        _runs -= 1
        _split_runs -= began
        if _runs == 0:
            for c, was in _saved:
                if was > _blas_limit:
                    c.set_num_threads(was)
            _blas_limit = None
