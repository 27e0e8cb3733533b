"""nanotf's own threads: who runs a Session.run's products, and the pool that splits big work.

Why nanotf owns its threading (as TensorFlow does) instead of always leaving it to BLAS: OpenBLAS
splits each product over its own threads, and those threads spin while they wait, for the next
product and for each other inside one. On a quiet machine that serves small products well. Beside
a busy process a product waits for whichever of its threads the scheduler has put behind that
process, often for a whole time slice. Reported on a 2-core machine beside one CPU-bound process:
the tutorial's whole job went from 1.6 s to 4.3 s, `--max_steps 300` from 1.3 s to 17 s beside
two. So, as each run begins:

- every 0.2 s at most, nanotf reads how much CPU other processes used (/proc/stat less this
  process's own time, `_Neighbours`): from half a core the machine counts as busy;
- on a busy machine, and in every run of a plan with kernels that split their own work
  (convolutions, pooling: OpenBLAS's spinning threads would take the cores back from them), BLAS
  goes to one thread (a direct call into the BLAS library, well under a microsecond) and NumPy's
  setting is restored when the run returns; big products, elementwise steps and those kernels are
  split over nanotf's pool;
- on a quiet machine, other plans leave BLAS its own threads: for products of ~0.1 ms they beat a
  Python-level split, whose threads must be woken and take the GIL before calling BLAS.

The pool's threads block in the kernel when idle (they never spin), and no thread ever waits for
a range that has not started: the caller runs its own range, then every range no pool thread has
claimed yet, and only then sleeps until the ranges in progress finish. On a busy machine a split
makes several ranges per thread, so a pool thread the scheduler is slow to run delays little: the
caller does its share.

The number of threads is the number of cores this process may use, or `NANOTF_NUM_THREADS`, or
what `set_intra_op_parallelism_threads(n)` (also `tf.config.threading.*` and
`ConfigProto(intra_op_parallelism_threads)`) sets; a count set that way also caps BLAS's threads
on a quiet machine, and 1 makes every run single-threaded, BLAS included.
"""
import ctypes
import itertools
import os
import queue
import threading
import time

import numpy as np

from nanotf.framework import environment

_np_matmul = np.matmul
_monotonic = time.monotonic

__all__ = ["num_threads", "set_intra_op_parallelism_threads", "get_intra_op_parallelism_threads",
           "threads_for", "parallel_for", "matmul", "split_elementwise", "splitting", "run_begin", "run_end",
           "blas_threads"]

_MAX_THREADS = 64
# A product is split only when it has at least this many multiply-adds (about 0.1 ms on one
# core): below that, waking a pool thread costs more than it saves.
_MIN_SPLIT_MACS = 4_000_000
# While other processes keep the machine busy, a pool thread may wait for a core: a product is split
# only from about 0.5 ms of work, each range at least _MIN_RANGE_MACS, and a split makes up to
# _BUSY_RANGES_PER_THREAD ranges per thread, so that the caller takes over the share of a late one.
_MIN_SPLIT_MACS_BUSY = 32_000_000
_MIN_RANGE_MACS = 2_000_000
_BUSY_RANGES_PER_THREAD = 4
# An elementwise step is split from this many elements (about 0.25 ms of NumPy work).
_MIN_SPLIT_ELEMENTS = 1 << 19

_state_lock = threading.Lock()
_requested = 0          # set_intra_op_parallelism_threads; 0: the default
_threads = None         # resolved count
_pool = None            # _Pool, made on first use


class _ThreadState(threading.local):
    """What one thread is doing. `in_pool`: it is a pool thread (nested splits run serially).
    `split_runs`: Session.runs in progress in this thread that split big products and elementwise
    steps over the pool (run_begin/run_end). Per thread, because one thread may run a plain MLP
    (BLAS keeps its threads, products are not split) while another runs a conv plan that splits."""
    in_pool = False
    split_runs = 0


_local = _ThreadState()


def _default_threads():
    n = environment.num_threads()   # NANOTF_NUM_THREADS (0: unset)
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
    global _requested, _threads, _pool, _explicit_count
    n = int(n)
    if n < 0:
        raise ValueError("set_intra_op_parallelism_threads: expected 0 (default) or a positive count, got %d" % n)
    with _state_lock:
        if n == _requested:
            return            # e.g. every Session made with the same ConfigProto
        _requested, _threads, _explicit_count = n, None, None
        old, _pool = _pool, None
    if old is not None:
        old.retire()


def get_intra_op_parallelism_threads():
    return _requested


# -- the pool
class _Job:
    """One split: ranges [bounds[i], bounds[i+1]) of fn. Range 0 is the caller's; the others go to
    whichever thread claims them first (claiming is one call of a C iterator, atomic under the GIL)."""

    __slots__ = ("fn", "bounds", "claim", "results", "left", "lock", "finished", "error")

    def __init__(self, fn, bounds):
        self.fn, self.bounds = fn, bounds
        self.claim = itertools.count(1).__next__
        self.results = [None] * (len(bounds) - 1)
        self.left = len(bounds) - 1          # ranges not finished
        self.lock = threading.Lock()
        self.finished = threading.Lock()     # released by whoever finishes the last range
        self.finished.acquire()
        self.error = None

    def run_range(self, i):
        try:
            self.results[i] = self.fn(self.bounds[i], self.bounds[i + 1])
        except BaseException as e:   # handed to the caller, which raises it once every range is done
            if self.error is None:
                self.error = e
        with self.lock:
            self.left -= 1
            last = self.left == 0
        if last:
            self.finished.release()

    def help(self):
        """Runs unclaimed ranges until none is left (a pool thread that wakes late finds none)."""
        n = len(self.results)
        while True:
            i = self.claim()
            if i >= n:
                return
            self.run_range(i)


class _Pool:
    """Threads that sleep in a queue's get() until a job is posted; each has its own queue."""

    def __init__(self, size):
        self.queues = [queue.SimpleQueue() for _ in range(size)]
        self.threads = [threading.Thread(target=_pool_thread, args=(q,), name="nanotf-intra-op_%d" % i,
                                         daemon=True) for i, q in enumerate(self.queues)]
        for t in self.threads:
            t.start()

    def post(self, job, count):
        for q in self.queues[:count]:
            q.put(job)

    def retire(self):
        for q in self.queues:
            q.put(None)


def _pool_thread(jobs):
    _local.in_pool = True
    # inf/NaN propagate silently in every thread of a run, as in the Session's own thread
    np.seterr(over="ignore", invalid="ignore", divide="ignore", under="ignore")
    _blas.single_in_this_thread()
    get = jobs.get
    while True:
        job = get()
        if job is None:
            return
        job.help()


def _get_pool():
    global _pool
    pool = _pool
    if pool is None:
        with _state_lock:
            if _pool is None:
                _pool = _Pool(max(1, num_threads() - 1))
            pool = _pool
    return pool


def _forget_pool_after_fork():
    # a forked child has none of the parent's threads: it makes its own pool when it needs one
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def threads_for(work):
    """Threads worth using for a kernel doing `work` multiply-adds: 1 below ~0.1 ms of work."""
    return num_threads() if work >= _MIN_SPLIT_MACS and not _local.in_pool else 1


def parallel_for(fn, n, grain=1, threads=None):
    """Calls fn(i, j) on consecutive ranges covering [0, n), one per thread (at most `threads`; up to
    _BUSY_RANGES_PER_THREAD per thread on a busy machine), concurrently; each range holds at least
    `grain` items. The caller runs the first range, then any range no pool thread has started, then
    waits (sleeping) for the rest. fn must release the GIL to gain (NumPy kernels do) and must write
    only what its range owns. Returns the results in range order."""
    k = num_threads() if threads is None else threads
    if _neighbours.busy and k > 1:
        k *= _BUSY_RANGES_PER_THREAD
    k = min(k, n // max(grain, 1))
    if k < 2 or _local.in_pool:
        return [fn(0, n)]
    job = _Job(fn, [n * t // k for t in range(k + 1)])
    _get_pool().post(job, k - 1)
    job.run_range(0)
    job.help()
    job.finished.acquire()       # the ranges pool threads claimed: they are running, not queued
    if job.error is not None:
        raise job.error
    return job.results


def matmul(a, b, out=None):
    """np.matmul of two 2-D arrays, split by rows of `a` (or, for few rows, by columns of `b`)
    across the pool when the product is big enough to gain from it and a run is splitting work."""
    if _local.split_runs:
        m, k = a.shape
        n = b.shape[1]
        macs = m * n * k
        if macs >= (_MIN_SPLIT_MACS_BUSY if _neighbours.busy else _MIN_SPLIT_MACS) and \
                not _local.in_pool:
            if out is None:
                out = np.empty((m, n), dtype=np.result_type(a, b))
            if m >= n:
                grain = max(8, -(-_MIN_RANGE_MACS * m // macs))
                parallel_for(lambda i, j: _np_matmul(a[i:j], b, out=out[i:j]), m, grain=grain)
            else:
                grain = max(16, -(-_MIN_RANGE_MACS * n // macs))
                parallel_for(lambda i, j: _np_matmul(a, b[:, i:j], out=out[:, i:j]), n, grain=grain)
            return out
    return _np_matmul(a, b) if out is None else _np_matmul(a, b, out=out)


def split_elementwise(kernel):
    """Wraps an elementwise kernel called with `out=` (an array it writes its result into): in a run
    that splits work, a big `out` is done in slices of its leading axis, one per thread (operands
    broadcast along that axis are passed whole). Without `out`, or when broadcasting would make the
    result larger than `out`, the kernel runs as it is."""
    def split_elementwise_kernel(*args, out=None):
        if out is None or not _local.split_runs or out.size < _MIN_SPLIT_ELEMENTS or _local.in_pool:
            return kernel(*args, out=out)
        shapes = [np.shape(a) for a in args]
        if np.broadcast_shapes(*shapes) != out.shape:   # the kernel would allocate a larger result
            return kernel(*args, out=out)
        n, nd = out.shape[0], out.ndim
        sliced = [len(s) == nd and s[0] == n for s in shapes]

        def part(i, j):
            kernel(*[a[i:j] if cut else a for a, cut in zip(args, sliced)], out=out[i:j])
        parallel_for(part, n)
        return out
    return split_elementwise_kernel


# -- BLAS threads
class _BlasLibraries:
    """NumPy's BLAS libraries (found once, by threadpoolctl) and direct ctypes handles to their
    get/set thread-count functions: threadpoolctl's own per-call API costs tens of microseconds
    and, for OpenBLAS, obeys only the first Python thread that used it."""

    def __init__(self):
        self._libs = None       # [(get, set, per_thread)]; [] when none is known

    def libs(self):
        if self._libs is None:
            self._libs = _find_blas()
        return self._libs

    def get(self):
        return tuple(get() for get, _, _ in self.libs())

    def set(self, counts):
        for (_, setter, _), n in zip(self._libs, counts):
            setter(n)

    def single_in_this_thread(self):
        """For BLAS libraries whose count is per thread (OpenMP builds): one thread in this one."""
        for get, setter, per_thread in self.libs():
            if per_thread and get() != 1:
                setter(1)


def _find_blas():
    try:
        from threadpoolctl import ThreadpoolController
        controllers = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    except Exception:   # no threadpoolctl, or it cannot inspect this process: leave BLAS alone
        return []
    libs = []
    for c in controllers:
        found = _thread_functions(c)
        if found is not None:
            libs.append(found)
    return libs


def _thread_functions(controller):
    """(get, set, per_thread) for one threadpoolctl controller, or None."""
    lib = getattr(controller, "dynlib", None)
    if getattr(controller, "internal_api", "") != "openblas" or lib is None:
        # MKL, BLIS...: threadpoolctl's own calls (a few microseconds; these are rare with NumPy wheels)
        return controller.get_num_threads, controller.set_num_threads, False
    if getattr(controller, "threading_layer", "") == "openmp":
        # an OpenMP build obeys the calling thread's OpenMP setting (OpenBLAS's own setter is broken
        # there before 0.3.34): the run sets its own thread's, each pool thread its own once. (Runs
        # overlapping in several threads: only the first run's thread is set.)
        return _ctypes_pair(lib, ("omp_get_max_threads", "omp_set_num_threads"), ("",), ("",), True)
    return _ctypes_pair(lib, ("openblas_get_num_threads", "openblas_set_num_threads"), ("", "scipy_"),
                        ("", "64_", "_64"), False)


def _ctypes_pair(lib, names, prefixes, suffixes, per_thread):
    for prefix, suffix in itertools.product(prefixes, suffixes):
        try:
            get = getattr(lib, prefix + names[0] + suffix)
            setter = getattr(lib, prefix + names[1] + suffix)
        except AttributeError:
            continue
        get.restype, get.argtypes = ctypes.c_int, []
        setter.restype, setter.argtypes = None, [ctypes.c_int]
        return get, setter, per_thread
    return None


_blas = _BlasLibraries()


def blas_threads():
    """The thread counts of NumPy's BLAS libraries now (a tuple, empty when none is known)."""
    return _blas.get()


# -- busy neighbours
class _Neighbours:
    """Whether other processes keep this machine's cores busy: from /proc/stat (all CPUs' busy time,
    steal included) less this process's own CPU time, averaged between two samples taken at most every
    _CHECK_S seconds, as runs begin. Busy from _BUSY_CORES of other work, quiet again below
    _QUIET_CORES (hysteresis: a neighbour hovering at the threshold does not flip the mode every run)."""

    _CHECK_S = 0.2
    _MIN_INTERVAL_S = 0.05    # CPU counters advance in 10 ms ticks: shorter intervals say little
    _BUSY_CORES = 0.5
    _QUIET_CORES = 0.25

    def __init__(self):
        self.busy = False
        self.next_check = 0.0
        self.last = None          # (wall s, all CPUs' busy s, this process's CPU s)
        self.others = None        # cores other processes used over the last interval
        self.lock = threading.Lock()

    def start(self):
        """Takes the first sample when a Session is made, so that its first runs (the graph is usually
        built in between) are already decided on what other processes did meanwhile."""
        if self.last is None:
            self.next_check = 0.0
            self.update(_monotonic())

    def update(self, now):
        if not self.lock.acquire(blocking=False):
            return                # another thread is sampling
        try:
            self.next_check = now + self._CHECK_S
            sample = _cpu_sample(now)
            if sample is None:    # no /proc/stat: always assume company (BLAS at one thread in every run)
                self.busy = True
                self.next_check = float("inf")
                return
            last = self.last
            if last is not None and sample[0] - last[0] < self._MIN_INTERVAL_S:
                self.next_check = last[0] + self._MIN_INTERVAL_S   # too short to count clock ticks over
                return
            self.last = sample
            if last is None:
                self.next_check = now + self._MIN_INTERVAL_S
                return
            self.others = max(0.0, (sample[1] - last[1]) - (sample[2] - last[2])) / (sample[0] - last[0])
            self.busy = self.others >= (self._QUIET_CORES if self.busy else self._BUSY_CORES)
        finally:
            self.lock.release()


_TICK_S = 1.0 / (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)


def _cpu_sample(now):
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != b"cpu" or len(fields) < 5:
        return None
    ticks = [int(x) for x in fields[1:9]]
    busy = sum(ticks) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)   # all but idle and iowait
    return now, busy * _TICK_S, time.process_time()


_neighbours = _Neighbours()


def note_session():
    """Called as a Session is made (see _Neighbours.start)."""
    _neighbours.start()


# -- runs
_runs = 0               # runs in progress that set BLAS threads (Sessions may run in several threads)
_blas_limit = None      # the cap in force
_saved = ()             # BLAS thread counts found when the first of the runs in progress began
_explicit_count = None  # a thread count set by the user (resolved on first use)


def _explicit():
    """Whether the thread count was set by the user (API, ConfigProto or NANOTF_NUM_THREADS)."""
    return bool(_requested) or environment.num_threads_is_set()


def splitting():
    """Whether this thread is inside a run that splits big work over the pool (BLAS single-threaded).
    Kernels ask this (not a process-wide flag): another thread's run may be splitting meanwhile."""
    return _local.split_runs > 0


def run_begin(splits_work=False):
    """Called as a Session.run starts. Returns what run_end must undo (None: nothing).

    BLAS goes to one thread, and big products and elementwise steps are split over the pool, when
    the plan holds kernels that split their own work (`splits_work`: OpenBLAS's spinning threads
    would take the cores back from them) or when other processes keep the machine busy (a product
    then waits for whichever BLAS thread the scheduler put behind them). Otherwise, on a quiet
    machine, BLAS keeps its own threads, which serve small products best; a thread count set by the
    user then caps them."""
    global _runs, _saved, _blas_limit, _explicit_count
    now = _monotonic()
    if now >= _neighbours.next_check:
        _neighbours.update(now)
    n = num_threads()
    if splits_work or _neighbours.busy:
        limit, splits = 1, n >= 2
    else:
        if _explicit_count is None:
            _explicit_count = _explicit()
        if not _explicit_count:
            return None
        limit, splits = n, False
    with _state_lock:
        if _runs == 0:
            _saved = _blas.get()
            _blas_limit = None
        _runs += 1
        if _blas_limit is None or limit < _blas_limit:   # overlapping runs: the lowest cap holds
            _blas_limit = limit
            if any(was > limit for was in _saved):
                _blas.set(tuple(min(was, limit) for was in _saved))
    _local.split_runs += splits   # this thread's kernels split; other threads' runs decide for themselves
    return splits


def run_end(splits):
    """Called as a Session.run returns or raises: the last run to finish restores BLAS's counts."""
    global _runs, _blas_limit
    if splits is None:
        return
    _local.split_runs -= splits
    with _state_lock:
        _runs -= 1
        if _runs == 0:
            if any(was > _blas_limit for was in _saved):
                _blas.set(_saved)
            _blas_limit = None
