"""Session: runs the part of a Graph that the fetches need.

This module is the client: it flattens fetch structures and rebuilds them from values, converts
and checks feeds, caches one executable per (fetches, feeds) signature, runs it and maps kernel
errors to `tf.errors` naming the failing op. Everything between graph and values is the compiler
(nanotf/compiler: plan -> passes -> emitter, docs/engine.md): a steady-state `run` converts the
feeds, calls the cached executable and rebuilds the fetch structure; it walks no graph.
"""
import collections
import contextlib
import threading
import time

import numpy as np

from nanotf import compiler
from nanotf.client import _malloc
from nanotf.compiler import backend, emitter, step_stats
from nanotf.framework import device as device_lib
from nanotf.framework import parallel
from nanotf.framework import errors
from nanotf.framework import ops as ops_mod
from nanotf.framework.ops import Operation, Tensor


# -- fetch structures: flatten to a list of graph elements, rebuild the same structure from values
def _flatten_fetches(graph, fetch, out):
    """Appends the graph elements of `fetch` to `out`; returns a function values -> result structure."""
    if fetch is None:
        raise TypeError("Fetch argument None has invalid type <class 'NoneType'>")
    if isinstance(fetch, (list, tuple)):
        builders = [_flatten_fetches(graph, f, out) for f in fetch]
        if isinstance(fetch, tuple) and hasattr(fetch, "_fields"):
            cls = type(fetch)
            return lambda vals: cls(*[b(vals) for b in builders])
        cls = type(fetch)
        if cls is list:
            return lambda vals: [b(vals) for b in builders]
        return lambda vals: cls(b(vals) for b in builders)
    if isinstance(fetch, collections.abc.Mapping):
        keys = list(fetch.keys())
        builders = [_flatten_fetches(graph, fetch[k], out) for k in keys]
        cls = type(fetch)

        def build_dict(vals):
            items = [(k, b(vals)) for k, b in zip(keys, builders)]
            try:
                return cls(items)
            except TypeError:
                return dict(items)
        return build_dict
    try:
        el = graph.as_graph_element(fetch, allow_tensor=True, allow_operation=True)
    except TypeError as e:
        raise TypeError("Fetch argument %r has invalid type %r, must be a string or Tensor. (%s)"
                        % (fetch, type(fetch), e)) from None
    except (ValueError, KeyError) as e:
        msg = e.args[0] if e.args else str(e)
        raise errors.InvalidFeedError(None, None, "Fetch argument %r cannot be interpreted as a Tensor. (%s)"
                                      % (fetch, msg)) from None
    i = len(out)
    out.append(el)
    if isinstance(el, Operation):
        return lambda vals: None
    return lambda vals: vals[i]


def _to_result(v):
    if type(v) is np.ndarray and v.ndim == 0:
        return v[()]
    return v


def _convert_feed(t, value, np_dtype, static, exact):
    """The fed value as an array of t's dtype, checked against t's static shape. `exact` is True
    when the static shape is fully defined (then one tuple comparison checks it)."""
    if type(value) is np.ndarray and value.dtype is np_dtype:
        arr = value   # the common case: used as given, never copied
    else:
        arr = _convert_feed_value(t, value, np_dtype)
    if exact:
        if arr.shape != static:
            _bad_feed_shape(t, arr)
    elif static is not None:
        shp = arr.shape
        if len(shp) != len(static) or any(d is not None and d != s for d, s in zip(static, shp)):
            _bad_feed_shape(t, arr)
    return arr


def _bad_feed_shape(t, arr):
    raise errors.InvalidFeedError(None, t.op, "Cannot feed value of shape %r for Tensor %r, which has shape %r"
                                  % (arr.shape, t.name, t.shape.__str__()))


def _convert_feed_value(t, value, np_dtype):
    if isinstance(value, Tensor):
        raise TypeError("The value of a feed cannot be a tf.Tensor object. Acceptable feed values include "
                        "Python scalars, strings, lists, numpy ndarrays, or TensorHandles. For reference, the "
                        "tensor object was %s which was passed to the feed with key %s." % (value, t))
    try:
        arr = np.asarray(value, dtype=np_dtype)
    except (ValueError, TypeError, OverflowError) as e:
        raise errors.InvalidFeedTypeError(None, t.op, "Cannot feed value %s to tensor %r of dtype %s: %s"
                                          % (_short(value), t.name, t.dtype.name, e)) from None
    src = value if isinstance(value, np.ndarray) else None
    if src is None and not isinstance(value, (bytes, str)) and t.dtype.is_integer:
        src = np.asarray(value)
    if src is not None and src.dtype.kind == "f" and t.dtype.is_integer and not np.array_equal(src, arr):
        raise errors.InvalidFeedTypeError(None, t.op, "Cannot feed float values to tensor %r of dtype %s "
                                          "without losing their fractional part" % (t.name, t.dtype.name))
    return arr


def _short(value):
    s = repr(value)
    return s if len(s) < 60 else s[:57] + "..."


class BaseSession:
    def __init__(self, target="", graph=None, config=None):
        _prepare_process(config)
        self._graph = graph if graph is not None else ops_mod.get_default_graph()
        self._runtime = compiler.Runtime(self)
        self._backend = backend.backend_for(config)   # "numpy", or "xla" (compiler/backend.py)
        self._plans = {}  # (fetch elements, feed tensors) -> executable
        self._checks = {}  # feed tensors -> their checks (_feed_checks)
        self._fast = {}   # (fetch container type, fetches, feed tensors) -> (executable, builder, elements, checks)
        self._closed = False
        self._default_ctx = None
        self._config = config
        if getattr(config, "log_device_placement", False):
            print(device_lib.device_mapping_message())

    graph = property(lambda self: self._graph)
    sess_str = property(lambda self: "")

    @property
    def graph_def(self):
        return self._graph.as_graph_def()

    def list_devices(self):
        return device_lib.list_devices(self._config)

    def close(self):
        self._closed = True
        self._plans.clear()
        self._checks.clear()
        self._fast.clear()
        self._runtime.variables.clear()
        self._runtime.big_arrays.clear()

    def as_default(self):
        return _default_session_stack.get_controller(self)

    def __enter__(self):
        self._default_ctx = self.as_default()
        self._default_ctx.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb):
        ctx, self._default_ctx = self._default_ctx, None
        if ctx is not None:
            ctx.__exit__(exc_type, exc, tb)
        self.close()

    def make_callable(self, fetches, feed_list=None, accept_options=False):
        feed_list = list(feed_list or [])

        def call(*args, **kw):
            return self.run(fetches, feed_dict=dict(zip(feed_list, args)))
        return call

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Runs the ops and evaluates the tensors in `fetches`; returns values in the same structure."""
        if self._closed:
            raise errors.ClosedSessionError(None, None, "Attempted to use a closed Session.")
        g = self._graph
        feed_keys = ()
        feed_vals = ()
        if feed_dict:
            feed_keys = []
            feed_vals = []
            for k, v in feed_dict.items():
                if type(k) is not Tensor or k.graph is not g:
                    k = self._resolve_feed_key(k)
                feed_keys.append(k)
                feed_vals.append(v)
            feed_keys = tuple(feed_keys)
        # Fast path: the same flat list/tuple of fetches (or a single one) as a previous call.
        ft = type(fetches)
        fast_key = None
        if ft is list or ft is tuple:
            fast_key = (ft, tuple(fetches), feed_keys)
        elif ft is Tensor or ft is Operation:
            fast_key = (fetches, feed_keys)
        entry = None
        if fast_key is not None:
            try:
                entry = self._fast.get(fast_key)
            except TypeError:   # unhashable items (nested dicts...): take the general path
                fast_key = None
        if entry is not None:
            executable, build, elements, checks = entry
        else:
            elements = []
            build = _flatten_fetches(g, fetches, elements)
            if ft is Tensor or ft is Operation:
                build = None
            executable, checks = self._executable(tuple(elements), feed_keys)
            if fast_key is not None and len(elements) == len(fetches if build is not None else (fetches,)):
                self._fast[fast_key] = (executable, build, elements, checks)
        args = [_convert_feed(t, v, npd, st, ex) for (t, npd, st, ex), v in zip(checks, feed_vals)]
        try:
            if options is not None and run_metadata is not None and getattr(options, "trace_level", 0):
                values = _run_traced(executable, args, run_metadata)
            else:
                values = executable.run(args)
        except Exception as e:  # re-raise naming the op that failed
            raise _op_error(e) from (None if isinstance(e, errors.OpError) else e)
        if build is None:
            return _to_result(values[0])
        return build([_to_result(v) for v in values])

    def _executable(self, elements, feed_keys):
        """The executable of a signature (compiled on first use) and its feeds' checks."""
        key = (elements, feed_keys)
        executable = self._plans.get(key)
        if executable is None:
            executable = self._plans[key] = compiler.compile_run(self._runtime, elements, feed_keys,
                                                                  backend=self._backend)
        checks = self._checks.get(feed_keys)
        if checks is None:
            checks = self._checks[feed_keys] = _feed_checks(feed_keys)
        return executable, checks

    def _resolve_feed_key(self, k):
        try:
            el = self._graph.as_graph_element(k, allow_tensor=True, allow_operation=False)
        except (TypeError, ValueError, KeyError) as e:
            raise errors.InvalidFeedTypeError(None, None, "Cannot interpret feed_dict key as Tensor: %s"
                                              % (e.args[0] if e.args else e)) from None
        return el


def _prepare_process(config):
    """What a Session sets up for the whole process, in one place: glibc keeps freed buffers for
    reuse (client/_malloc.py; NANOTF_MALLOC_TUNING=0 leaves malloc alone), the intra-op pool samples
    the machine's load, and ConfigProto(intra_op_parallelism_threads) sizes the pool."""
    _malloc.tune_malloc()
    parallel.note_session()
    intra_op = getattr(config, "intra_op_parallelism_threads", 0)
    if intra_op:   # TF sizes a pool per session; nanotf's pool is per process (framework/parallel.py)
        parallel.set_intra_op_parallelism_threads(intra_op)


def _feed_checks(feed_tensors):
    """Per feed: (tensor, NumPy dtype, static shape, whether that shape is fully defined)."""
    return [(t, np.dtype(t.dtype.as_numpy_dtype), t.shape.as_tuple(), t.shape.is_fully_defined())
            for t in feed_tensors]


def _run_traced(executable, args, run_metadata):
    """A traced run; a backend that cannot trace runs untraced and is recorded as one node."""
    run_traced = getattr(executable, "run_traced", None)
    if run_traced is not None:
        return run_traced(args, run_metadata)
    t0 = time.perf_counter_ns()
    values = executable.run(args)
    step_stats.fill_whole_run(run_metadata, type(executable).__name__, t0, time.perf_counter_ns())
    return values


def _op_error(e):
    """Wraps `e` as a tf.errors.OpError naming the op whose kernel raised it: the op of the deepest
    traceback line inside generated plan code (emitter.line_table knows every live plan's lines, so
    any plan's error, func_graph.CompiledFunction's included, is mapped here)."""
    tb = e.__traceback__
    op = None
    while tb is not None:
        table = emitter.line_table(tb.tb_frame.f_code.co_filename)
        if table is not None:
            op = table.get(tb.tb_lineno)
        tb = tb.tb_next
    if isinstance(e, errors.OpError):
        if e._op is None:
            e._op = op
        return e
    where = (" (created at %s)" % op.where()) if op is not None else ""
    msg = "%s: %s%s" % (type(e).__name__, e, where)
    if isinstance(e, MemoryError):
        return errors.ResourceExhaustedError(None, op, msg)
    if isinstance(e, (ValueError, TypeError, IndexError, FloatingPointError, ZeroDivisionError, OverflowError)):
        return errors.InvalidArgumentError(None, op, msg)
    return errors.InternalError(None, op, msg)


class Session(BaseSession):
    """tf.Session(target='', graph=None, config=None)."""


class InteractiveSession(BaseSession):
    """A Session that installs itself as the default on construction (for shells and notebooks)."""

    def __init__(self, target="", graph=None, config=None):
        super().__init__(target, graph, config)
        self._interactive_ctx = self.as_default()
        self._interactive_ctx.__enter__()

    def close(self):
        super().close()
        ctx, self._interactive_ctx = getattr(self, "_interactive_ctx", None), None
        if ctx is not None:
            try:
                ctx.__exit__(None, None, None)
            except (IndexError, ValueError):
                pass


class _DefaultSessionStack(threading.local):
    def __init__(self):
        self.stack = []

    @contextlib.contextmanager
    def get_controller(self, sess):
        self.stack.append(sess)
        g = sess.graph.as_default()
        g.__enter__()
        try:
            yield sess
        finally:
            g.__exit__(None, None, None)
            if self.stack and self.stack[-1] is sess:
                self.stack.pop()
            elif sess in self.stack:
                self.stack.remove(sess)


_default_session_stack = _DefaultSessionStack()


def get_default_session():
    st = _default_session_stack.stack
    return st[-1] if st else None


def get_default_session_or_raise(graph):
    sess = get_default_session()
    if sess is None:
        raise ValueError("Cannot evaluate tensor using `eval()`: No default session is registered. Use "
                         "`with sess.as_default()` or pass an explicit session to `eval(session=sess)`")
    if sess.graph is not graph:
        raise ValueError("Cannot use the given session to evaluate tensor: the tensor's graph is different "
                         "from the session's graph.")
    return sess
