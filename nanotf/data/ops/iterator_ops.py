"""tf.data iterators in graph mode, and the four ops that run them.

Design (TensorFlow's, on nanotf's Session runtime):
  - `IteratorV2` (or `OneShotIterator`) outputs the iterator's handle: a scalar string naming it
    (its `shared_name`, else its op name). `iterator.string_handle()` is that tensor, so feedable
    iterators (`Iterator.from_string_handle`) work by feeding a handle.
  - `MakeIterator(handle, *captures)` is the initializer: it evaluates the dataset's captures (the
    tensors the pipeline reads: arrays, placeholders fed at init, batch sizes, seeds) and stores a
    fresh chain of generators (dataset_ops._IteratorRun) in the Session's per-op state,
    `ctx.op_state[("nanotf.data.iterator", handle)]`. So the state lives per Session: two Sessions
    on one graph iterate independently, and re-running the initializer restarts the pipeline.
  - `IteratorGetNext(handle)` is stateful with one output per component: a `sess.run` that fetches
    any of its outputs runs the op once, which advances the iterator once, however many of its
    outputs are fetched. At the end it raises tf.errors.OutOfRangeError("End of sequence"), and
    FailedPreconditionError before any initialization.
  - `OneShotIterator(*captures)` initializes itself on its first run in a Session (its captures are
    constants: a one-shot iterator cannot capture a placeholder, as in TF).
"""
import operator

import numpy as np

from nanotf.framework import dtypes, errors
from nanotf.framework import ops as ops_mod
from nanotf.framework.op_def import OpDef
from nanotf.framework.tensor_shape import TensorShape, as_shape, unknown_shape
from nanotf.data.ops.dataset_ops import DatasetV1
from nanotf.data.util import nest
from nanotf.data.util.structure import TensorSpec

_STATE_KEY = "nanotf.data.iterator"


def _handle_value(op):
    return np.array((op._attrs.get("shared_name") or op.name).encode(), dtype=object)


def _key(handle):
    h = handle[()] if isinstance(handle, np.ndarray) else handle
    return (_STATE_KEY, h if isinstance(h, bytes) else str(h).encode())


class _IteratorOp(OpDef):
    """The iterator ops read or change the Session's iterator state: stateful, not differentiable."""
    abstract = True
    stateful = True
    grad = None


class _IteratorHandleOp(_IteratorOp):
    """An op whose output is an iterator's handle, a scalar string."""
    abstract = True

    def infer(op):
        return dtypes.string, TensorShape([])


class IteratorV2(_IteratorHandleOp):
    """The handle of an iterator that MakeIterator initializes."""

    def kernel(op, ctx):
        value = _handle_value(op)
        return lambda: value


class OneShotIterator(_IteratorHandleOp):
    """The handle of an iterator that initializes itself from its inputs (the captures) on first use."""

    def kernel(op, ctx):
        value = _handle_value(op)
        key = _key(value)
        dataset, captures = op._attrs["dataset"], op._inputs

        def handle(*values):
            if key not in ctx.op_state:
                ctx.op_state[key] = dataset._new_run(dict(zip(captures, values)))
            return value
        return handle


class MakeIterator(_IteratorOp):
    """Initializer: (re)starts the iterator named by input 0 over the dataset of attr `dataset`."""

    def infer(op):
        return []

    def kernel(op, ctx):
        dataset, captures = op._attrs["dataset"], op._inputs[1:]

        def make(handle, *values):
            ctx.op_state[_key(handle)] = dataset._new_run(dict(zip(captures, values)))
        return make


class IteratorGetNext(_IteratorOp):
    """The next element of the iterator named by input 0, one output per component."""

    def infer(op):
        return list(zip(op._attrs["output_types"], op._attrs["output_shapes"]))

    def kernel(op, ctx):
        state = ctx.op_state
        specs = [(dt.as_numpy_dtype, shape) for dt, shape in zip(op._attrs["output_types"], op._attrs["output_shapes"])]
        single = len(specs) == 1

        def get_next(handle):
            run = state.get(_key(handle))
            if run is None:
                raise errors.FailedPreconditionError(
                    None, op, "GetNext() failed because the iterator has not been initialized. Ensure that you have "
                    "run the initializer operation for this iterator before getting the next element.")
            try:
                element = next(run.stream)
            except StopIteration:
                raise errors.OutOfRangeError(None, op, "End of sequence") from None
            if len(element) != len(specs):
                raise errors.InvalidArgumentError(None, op, "The iterator produced %d components where %d were expected"
                                                  % (len(element), len(specs)))
            out = []
            for v, (npd, shape) in zip(element, specs):
                a = np.asarray(v)
                if a.dtype != npd:
                    a = a.astype(npd)
                if not shape.is_compatible_with(a.shape):
                    raise errors.InvalidArgumentError(None, op, "The iterator produced an element of shape %s, which "
                                                      "is not compatible with its declared shape %s"
                                                      % (list(a.shape), shape))
                out.append(a)
            return out[0] if single else tuple(out)
        return get_next


def _check_graph(dataset, graph):
    for t in dataset._all_captures():
        if t.graph is not graph:
            raise ValueError("The dataset reads %s, a tensor of another graph than the iterator's: build the dataset "
                             "and its iterator in the same graph" % t.name)


class Iterator:
    """tf.data.Iterator (TF 1.x): get_next() tensors, an initializer, a string handle."""

    def __init__(self, handle, initializer, element_spec):
        self._handle = handle
        self._initializer = initializer
        self._spec = element_spec
        self._get_next_calls = 0

    # -- factories
    @staticmethod
    def from_structure(output_types, output_shapes=None, shared_name=None, output_classes=None):
        """An iterator not bound to a dataset: `make_initializer(dataset)` binds it (reinitializable)."""
        spec = _spec_from(output_types, output_shapes)
        flat = nest.flatten(spec)
        handle = ops_mod.get_default_graph().create_op(
            "IteratorV2", [], {"shared_name": shared_name or "", "output_types": [s.dtype for s in flat],
                               "output_shapes": [s.shape for s in flat]}, name="Iterator").outputs[0]
        return Iterator(handle, None, spec)

    @staticmethod
    def from_string_handle(string_handle, output_types, output_shapes=None, output_classes=None):
        """An iterator whose get_next reads the iterator named by a (fed) string handle."""
        handle = ops_mod.convert_to_tensor(string_handle, dtype=dtypes.string)
        return Iterator(handle, None, _spec_from(output_types, output_shapes))

    # -- structure
    element_spec = property(lambda self: self._spec)
    output_types = property(lambda self: nest.map_structure(lambda s: s.dtype, self._spec))
    output_shapes = property(lambda self: nest.map_structure(lambda s: s.shape, self._spec))
    output_classes = property(lambda self: nest.map_structure(lambda s: ops_mod.Tensor, self._spec))

    @property
    def initializer(self):
        if self._initializer is None:
            raise ValueError("Iterator does not have an initializer.")
        return self._initializer

    def make_initializer(self, dataset, name=None):
        """An op that (re)starts this iterator over `dataset` (same types, compatible shapes)."""
        if not isinstance(dataset, DatasetV1):
            raise TypeError("make_initializer expects a Dataset, got %r" % (dataset,))
        if self._handle.op.type not in ("IteratorV2",):
            raise ValueError("make_initializer needs an iterator made by Iterator.from_structure or "
                             "make_initializable_iterator")
        try:
            nest.assert_same_structure(self._spec, dataset.element_spec)
        except ValueError:
            raise TypeError("Expected output types %s but got dataset with output types %s."
                            % (self.output_types, dataset.output_types)) from None
        for mine, theirs in zip(nest.flatten(self._spec), nest.flatten(dataset.element_spec)):
            if mine.dtype is not theirs.dtype:
                raise TypeError("Expected output types %s but got dataset with output types %s."
                                % (self.output_types, dataset.output_types))
            if not mine.shape.is_compatible_with(theirs.shape):
                raise TypeError("Expected output shapes compatible with %s but got dataset with output shapes %s."
                                % (self.output_shapes, dataset.output_shapes))
        g = self._handle.graph
        _check_graph(dataset, g)
        with g.as_default():
            return g.create_op("MakeIterator", [self._handle] + dataset._all_captures(), {"dataset": dataset},
                               name=name or "MakeIterator")

    def get_next(self, name=None):
        """The next element's tensors (a nested structure like the dataset's elements). Each run that
        fetches any of them advances the iterator by one element."""
        self._get_next_calls += 1
        flat = nest.flatten(self._spec)
        g = self._handle.graph
        with g.as_default():
            op = g.create_op("IteratorGetNext", [self._handle],
                             {"output_types": [s.dtype for s in flat], "output_shapes": [s.shape for s in flat]},
                             name=name or "IteratorGetNext")
        return nest.pack_sequence_as(self._spec, op.outputs)

    def string_handle(self, name=None):
        return self._handle

    def __repr__(self):
        return "<nanotf.data.Iterator %s>" % self._handle.op.name


def _spec_from(output_types, output_shapes):
    from nanotf.data.ops.dataset_ops import _flatten_shapes
    types = nest.map_structure(dtypes.as_dtype, nest.lists_to_tuples(output_types))
    if output_shapes is None:
        shapes = [unknown_shape() for _ in nest.flatten(types)]
    else:
        shapes = [as_shape(s) for s in _flatten_shapes(output_shapes, types)]
    return nest.pack_sequence_as(types, [TensorSpec(s, t) for t, s in zip(nest.flatten(types), shapes)])


def make_one_shot_iterator(dataset):
    """tf.compat.v1.data.make_one_shot_iterator: an iterator that needs no initializer."""
    if not isinstance(dataset, DatasetV1):
        raise TypeError("make_one_shot_iterator expects a Dataset, got %r" % (dataset,))
    captures = dataset._all_captures()
    for t in captures:
        if t.op.type in ("Placeholder", "PlaceholderWithDefault"):
            raise ValueError("Cannot capture a placeholder (name:%s, type:%s) by value: a one-shot iterator cannot "
                             "read a placeholder; use make_initializable_iterator() and feed it when running the "
                             "initializer" % (t.op.name, t.op.type))
    g = captures[0].graph if captures else ops_mod.get_default_graph()
    _check_graph(dataset, g)
    flat = nest.flatten(dataset.element_spec)
    with g.as_default():
        handle = g.create_op("OneShotIterator", captures,
                             {"dataset": dataset, "output_types": [s.dtype for s in flat],
                              "output_shapes": [s.shape for s in flat]}, name="OneShotIterator").outputs[0]
    return Iterator(handle, None, dataset.element_spec)


def make_initializable_iterator(dataset, shared_name=None):
    """tf.compat.v1.data.make_initializable_iterator: run `iterator.initializer` (feeding any placeholders
    the dataset reads) before get_next, and again to start over."""
    if not isinstance(dataset, DatasetV1):
        raise TypeError("make_initializable_iterator expects a Dataset, got %r" % (dataset,))
    captures = dataset._all_captures()
    g = captures[0].graph if captures else ops_mod.get_default_graph()
    with g.as_default():
        it = Iterator.from_structure(dataset.output_types, dataset.output_shapes, shared_name)
        it._initializer = it.make_initializer(dataset)
    return it


# tf.compat.v1.data.get_output_{types,shapes,classes}(dataset_or_iterator): its attribute of that name
get_output_types = operator.attrgetter("output_types")
get_output_shapes = operator.attrgetter("output_shapes")
get_output_classes = operator.attrgetter("output_classes")
