"""tf.data.Dataset in graph mode: a Python description of an input pipeline, run inside a Session.

A Dataset is built in the default graph like any TF 1.x op: the tensors it reads (the arrays of
`from_tensor_slices`, a placeholder, a batch size, a seed...) are ops of that graph, its "captures".
Nothing runs at construction. An iterator's initializer op (or a one-shot iterator's first use)
evaluates those captures in the Session and builds a chain of Python generators, one per
transformation, that yields elements as flat tuples of NumPy arrays; each `get_next` run pulls one
element (see iterator_ops.py for where that state lives).

Every `_gen(run)` returns a fresh generator over the dataset's elements; `run` is the iterator's
state (`run.values`: capture -> array, `run.state`: per-dataset state such as a shuffle's epoch
counter or a map function's kernels, kept for the whole life of the iterator).
"""
import collections
import itertools

import numpy as np

from nanotf.framework import dtypes, errors
from nanotf.framework import ops as ops_mod
from nanotf.framework import random_seed
from nanotf.framework.tensor_shape import TensorShape, as_shape, unknown_shape
from nanotf.data.util import nest
from nanotf.data.util.function import TracedFunction, to_component
from nanotf.data.util.structure import TensorSpec, most_specific_compatible_shape

AUTOTUNE = -1


def _int64_tensor(value, name):
    return ops_mod.convert_to_tensor(value, dtype=dtypes.int64, name=name) if not isinstance(value, ops_mod.Tensor) \
        else _checked_int(value, name)


def _checked_int(t, name):
    if not t.dtype.is_integer:
        raise TypeError("%s must be an integer tensor, got %s of dtype %s" % (name, t.name, t.dtype.name))
    if t.shape.ndims not in (None, 0):
        raise ValueError("%s must be a scalar, got %s of shape %s" % (name, t.name, t.shape))
    return t


def _positive(run, t, what):
    """The value of the int64 scalar tensor `t` in this run; InvalidArgumentError unless it is > 0."""
    n = int(run.values[t])
    if n <= 0:
        raise errors.InvalidArgumentError(None, None, "%s must be greater than zero." % what)
    return n


def _constant_value(t):
    """The value of a Const scalar (for static shapes), else None."""
    if isinstance(t, ops_mod.Tensor) and t.op.type == "Const":
        return int(t.op._attrs["value"])
    return None


class _IteratorRun:
    """One initialization of an iterator: the captures' values and per-dataset state."""

    __slots__ = ("values", "state", "stream")

    def __init__(self, dataset, values):
        self.values = values
        self.state = {}
        self.stream = dataset._gen(self)


class DatasetV1:
    """Base of every dataset: element structure, transformations and iterator factories."""

    def __init__(self, spec):
        self._spec = spec   # nested structure of TensorSpec

    # -- structure of an element
    @property
    def element_spec(self):
        return self._spec

    @property
    def output_types(self):
        return nest.map_structure(lambda s: s.dtype, self._spec)

    @property
    def output_shapes(self):
        return nest.map_structure(lambda s: s.shape, self._spec)

    @property
    def output_classes(self):
        return nest.map_structure(lambda s: ops_mod.Tensor, self._spec)

    def _flat_specs(self):
        return nest.flatten(self._spec)

    # -- what the pipeline reads from the graph
    def _captures(self):
        return []

    def _inputs(self):
        return []

    def _all_captures(self):
        seen, out = set(), []
        stack = [self]
        while stack:
            ds = stack.pop(0)
            for t in ds._captures():
                if t not in seen:
                    seen.add(t)
                    out.append(t)
            stack.extend(ds._inputs())
        return out

    def _gen(self, run):
        raise NotImplementedError

    def _index_stream(self, run):
        """(take, indices) when this dataset's elements are rows of arrays that `take(index_array)` can
        gather in one go (slices, and elementwise maps of them), `indices` an iterator over the row
        numbers in this dataset's order (after shuffle, repeat, take, skip); None otherwise.
        A batch() over such a dataset gathers each batch with one fancy index instead of stacking
        rows one by one; the order is the same as the element-by-element path's."""
        return None

    def _new_run(self, values):
        return _IteratorRun(self, values)

    # -- sources
    @staticmethod
    def from_tensor_slices(tensors):
        return TensorSliceDataset(tensors)

    @staticmethod
    def from_tensors(tensors):
        return TensorDataset(tensors)

    @staticmethod
    def range(*args):
        return RangeDataset(*args)

    @staticmethod
    def zip(datasets):
        return ZipDataset(datasets)

    @staticmethod
    def from_generator(generator, output_types, output_shapes=None, args=None):
        return GeneratorDataset(generator, output_types, output_shapes, args)

    # -- transformations
    def map(self, map_func, num_parallel_calls=None):
        return MapDataset(self, map_func)

    def filter(self, predicate):
        return FilterDataset(self, predicate)

    def flat_map(self, map_func):
        return FlatMapDataset(self, map_func)

    def interleave(self, map_func, cycle_length=None, block_length=1, num_parallel_calls=None):
        return InterleaveDataset(self, map_func, cycle_length, block_length)

    def batch(self, batch_size, drop_remainder=False):
        return BatchDataset(self, batch_size, drop_remainder)

    def padded_batch(self, batch_size, padded_shapes=None, padding_values=None, drop_remainder=False):
        return PaddedBatchDataset(self, batch_size, padded_shapes, padding_values, drop_remainder)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=None):
        return ShuffleDataset(self, buffer_size, seed, reshuffle_each_iteration)

    def repeat(self, count=None):
        return RepeatDataset(self, count)

    def take(self, count):
        return TakeDataset(self, count)

    def skip(self, count):
        return SkipDataset(self, count)

    def concatenate(self, dataset):
        return ConcatenateDataset(self, dataset)

    def prefetch(self, buffer_size):
        """Accepted for compatibility: nanotf produces each element when get_next runs (no threads)."""
        return self

    def cache(self, filename=""):
        return CacheDataset(self, filename)

    def unbatch(self):
        return UnbatchDataset(self)

    def apply(self, transformation_func):
        ds = transformation_func(self)
        if not isinstance(ds, DatasetV1):
            raise TypeError("`transformation_func` must return a Dataset. Got: %r" % (ds,))
        return ds

    def with_options(self, options):
        return self

    # -- iterators (TF 1.x)
    def make_one_shot_iterator(self):
        from nanotf.data.ops.iterator_ops import make_one_shot_iterator
        return make_one_shot_iterator(self)

    def make_initializable_iterator(self, shared_name=None):
        from nanotf.data.ops.iterator_ops import make_initializable_iterator
        return make_initializable_iterator(self, shared_name)

    def __iter__(self):
        raise RuntimeError("dataset.__iter__() is only supported when eager execution is enabled; nanotf runs "
                           "graphs: use dataset.make_one_shot_iterator() or make_initializable_iterator()")

    def __repr__(self):
        return "<%s shapes: %s, types: %s>" % (type(self).__name__, _short_structure(self.output_shapes),
                                               _short_structure(self.output_types))


def _short_structure(s):
    if isinstance(s, collections.abc.Mapping):
        return "{%s}" % ", ".join("%s: %s" % (k, _short_structure(s[k])) for k in s)
    if isinstance(s, tuple):
        return "(%s)" % ", ".join(_short_structure(v) for v in s)
    return repr(s) if isinstance(s, dtypes.DType) else str(s)


Dataset = DatasetV1


def _to_tensors(structure, name):
    """A nested structure of values as tensors (a list is one component: it becomes a tensor)."""
    flat = nest.flatten(structure)
    tensors = []
    for i, v in enumerate(flat):
        if isinstance(v, DatasetV1):
            raise TypeError("A Dataset cannot be a component of %s" % name)
        tensors.append(ops_mod.convert_to_tensor(v, name="component_%d" % i))
    return nest.pack_sequence_as(structure, tensors), tensors


# -- sources
class TensorSliceDataset(DatasetV1):
    """One element per row (index along axis 0) of every component."""

    def __init__(self, tensors):
        structure, self._tensors = _to_tensors(tensors, "from_tensor_slices")
        if not self._tensors:
            raise ValueError("from_tensor_slices() needs at least one component")
        n = None
        for t in self._tensors:
            if t.shape.ndims == 0:
                raise ValueError("Unbatching a tensor is only supported for rank >= 1: %s has shape %s"
                                 % (t.name, t.shape))
            d = t.shape.as_tuple()[0] if t.shape.ndims else None
            if d is not None and n is not None and d != n:
                raise ValueError("Dimensions %d and %d are not compatible: every component of from_tensor_slices "
                                 "must have the same size in dimension 0 (%s)" % (n, d, t.name))
            n = d if d is not None else n
        specs = [TensorSpec(t.shape[1:] if t.shape.ndims is not None else unknown_shape(), t.dtype)
                 for t in self._tensors]
        super().__init__(nest.pack_sequence_as(structure, specs))

    def _captures(self):
        return self._tensors

    def _arrays(self, run):
        arrays = [np.asarray(run.values[t]) for t in self._tensors]
        n = arrays[0].shape[0] if arrays[0].ndim else None
        for t, a in zip(self._tensors, arrays):
            if a.ndim == 0 or a.shape[0] != n:
                raise errors.InvalidArgumentError(
                    None, None, "Dimension 0 in both shapes must be equal: from_tensor_slices got components with "
                    "%s and %s rows (%s)" % (n, a.shape[0] if a.ndim else "no", t.name))
        return arrays

    def _gen(self, run):
        return zip(*self._arrays(run))   # iterating an array yields its rows: fast, no per-row Python

    def _index_stream(self, run):
        arrays = self._arrays(run)
        return (lambda idx: [a[idx] for a in arrays]), iter(range(arrays[0].shape[0]))


class TensorDataset(DatasetV1):
    """A single element: the given tensors."""

    def __init__(self, tensors):
        structure, self._tensors = _to_tensors(tensors, "from_tensors")
        super().__init__(nest.pack_sequence_as(structure, [TensorSpec(t.shape, t.dtype) for t in self._tensors]))

    def _captures(self):
        return self._tensors

    def _gen(self, run):
        return iter([tuple(run.values[t] for t in self._tensors)])


class RangeDataset(DatasetV1):
    """Dataset.range(stop) / range(start, stop[, step]): int64 scalars."""

    def __init__(self, *args):
        if not 1 <= len(args) <= 3:
            raise ValueError("Dataset.range() takes 1 to 3 arguments (start, stop, step), got %d" % len(args))
        start, stop, step = (0, args[0], 1) if len(args) == 1 else (args + (1,))[:3]
        self._args = [_int64_tensor(v, n) for v, n in zip((start, stop, step), ("start", "stop", "step"))]
        super().__init__(TensorSpec([], dtypes.int64))

    def _captures(self):
        return self._args

    def _gen(self, run):
        start, stop, step = (int(run.values[t]) for t in self._args)
        if step == 0:
            raise errors.InvalidArgumentError(None, None, "step must be a non-zero integer.")
        return ((np.int64(v),) for v in range(start, stop, step))


class GeneratorDataset(DatasetV1):
    """Dataset.from_generator: elements from a Python generator, called again for each pass."""

    def __init__(self, generator, output_types, output_shapes=None, args=None):
        if not callable(generator):
            raise TypeError("`generator` must be callable.")
        types = nest.map_structure(dtypes.as_dtype, nest.lists_to_tuples(output_types))
        if output_shapes is None:
            shapes = nest.map_structure(lambda _: unknown_shape(), types)
        else:
            shapes = nest.pack_sequence_as(types, [as_shape(s) for s in _flatten_shapes(output_shapes, types)])
        self._generator = generator
        self._args = [] if args is None else [ops_mod.convert_to_tensor(a, name="generator_arg") for a in args]
        super().__init__(nest.map_structure(lambda t, s: TensorSpec(s, t), types, shapes))

    def _captures(self):
        return self._args

    def _gen(self, run):
        specs = self._flat_specs()
        args = [run.values[t] for t in self._args]
        for value in self._generator(*args):
            value = nest.lists_to_tuples(value) if isinstance(value, list) and len(specs) > 1 else value
            flat = nest.flatten(value) if len(specs) > 1 or isinstance(value, (tuple, dict)) else [value]
            if len(flat) != len(specs):
                raise errors.InvalidArgumentError(None, None, "`generator` yielded an element of %d components where "
                                                  "%d were expected (output_types)" % (len(flat), len(specs)))
            out = []
            for v, s in zip(flat, specs):
                try:
                    a = np.asarray(v, dtype=s.dtype.as_numpy_dtype)
                except (TypeError, ValueError) as e:
                    raise errors.InvalidArgumentError(None, None, "`generator` yielded an element that could not be "
                                                      "converted to the expected type %s: %s" % (s.dtype.name, e))
                if not s.shape.is_compatible_with(a.shape):
                    raise errors.InvalidArgumentError(None, None, "`generator` yielded an element of shape %s where "
                                                      "an element of shape %s was expected." % (list(a.shape), s.shape))
                out.append(a)
            yield tuple(out)


def _flatten_shapes(shapes, types):
    """output_shapes as a flat list matching `types` (a shape is a list or TensorShape, not a structure)."""
    if not nest.is_sequence(types):
        return [shapes]
    if isinstance(types, collections.abc.Mapping):
        return [s for k in sorted(types) for s in _flatten_shapes(shapes[k], types[k])]
    return [s for sub_s, sub_t in zip(shapes, types) for s in _flatten_shapes(sub_s, sub_t)]


# -- transformations
class _UnaryDataset(DatasetV1):
    def __init__(self, input_dataset, spec):
        if not isinstance(input_dataset, DatasetV1):
            raise TypeError("Expected a Dataset, got %r" % (input_dataset,))
        self._input = input_dataset
        super().__init__(spec)

    def _inputs(self):
        return [self._input]


class MapDataset(_UnaryDataset):
    """map(map_func): map_func traced once (util/function.py), run per element, or per batch when a
    batch() follows and the function is elementwise (see BatchDataset)."""

    def __init__(self, input_dataset, map_func):
        self._func = TracedFunction(map_func, input_dataset.element_spec, "Dataset.map()")
        super().__init__(input_dataset, self._func.output_specs)

    def _fn(self, run):
        fn = run.state.get(self)
        if fn is None:
            fn = run.state[self] = self._func.instantiate()   # once per iterator: random ops keep their state
        return fn

    def _gen(self, run):
        fn = self._fn(run)
        types = [s.dtype for s in self._flat_specs()]
        for element in self._input._gen(run):
            yield tuple(to_component(v, dt) for v, dt in zip(fn(element), types))

    def _index_stream(self, run):
        if not self._func.vectorizable:
            return None
        inner = self._input._index_stream(run)
        if inner is None:
            return None
        take, indices = inner
        return (lambda idx: self._map_batch(run, take(idx), len(idx))), indices

    def _map_batch(self, run, columns, n):
        """The function on a stack of n elements (only when the traced function is vectorizable)."""
        key = (self, "batched")
        fn = run.state.get(key)
        if fn is None:
            fn = run.state[key] = self._func.instantiate(batched=True)
        outs = fn(columns)
        result = []
        for v, s, b in zip(outs, self._flat_specs(), self._func.batched_outputs_mask()):
            v = to_component(v, s.dtype)
            result.append(v if b else np.broadcast_to(v, (n,) + v.shape).copy())
        return result


class FilterDataset(_UnaryDataset):
    """filter(predicate): keeps the elements for which the traced predicate gives True."""

    def __init__(self, input_dataset, predicate):
        self._func = TracedFunction(predicate, input_dataset.element_spec, "Dataset.filter()")
        out = self._func.outputs
        if len(out) != 1 or out[0].dtype is not dtypes.bool or out[0].shape.ndims not in (None, 0):
            raise ValueError("`predicate` return type must be convertible to a scalar boolean tensor. Was %s."
                             % ", ".join("%s %s" % (t.dtype.name, t.shape) for t in out))
        super().__init__(input_dataset, input_dataset.element_spec)

    def _gen(self, run):
        fn = run.state.get(self)
        if fn is None:
            fn = run.state[self] = self._func.instantiate()
        for element in self._input._gen(run):
            if bool(fn(element)[0]):
                yield element


class _SubRun:
    """The state of a dataset that flat_map/interleave built for one input element."""

    __slots__ = ("values", "state")

    def __init__(self, values):
        self.values = values
        self.state = {}


class FlatMapDataset(_UnaryDataset):
    """flat_map(map_func): map_func returns a Dataset per element; their elements one after another."""

    def __init__(self, input_dataset, map_func, transformation="Dataset.flat_map()"):
        self._func = TracedFunction(map_func, input_dataset.element_spec, transformation)
        if self._func.dataset is None:
            raise TypeError("`map_func` passed to %s must return a `Dataset` object." % transformation)
        super().__init__(input_dataset, self._func.dataset.element_spec)

    def _inner_streams(self, run):
        fn = run.state.get(self)
        if fn is None:
            fn = run.state[self] = self._func.instantiate()
        inner, captures = self._func.dataset, self._func.outputs
        for element in self._input._gen(run):
            yield inner._gen(_SubRun(dict(zip(captures, fn(element)))))

    def _gen(self, run):
        for stream in self._inner_streams(run):
            yield from stream


class InterleaveDataset(FlatMapDataset):
    """interleave(map_func, cycle_length, block_length): block_length elements from each of cycle_length
    open datasets in turn; an exhausted one is replaced by the next input element's dataset."""

    def __init__(self, input_dataset, map_func, cycle_length=None, block_length=1):
        super().__init__(input_dataset, map_func, "Dataset.interleave()")
        self._cycle = 1 if cycle_length in (None, AUTOTUNE) else int(cycle_length)
        self._block = int(block_length)
        if self._cycle <= 0 or self._block <= 0:
            raise ValueError("cycle_length and block_length must be positive")

    def _gen(self, run):
        pending = self._inner_streams(run)
        slots = list(itertools.islice(pending, self._cycle))
        i = 0
        while slots:
            i %= len(slots)
            taken = 0
            for element in itertools.islice(slots[i], self._block):
                taken += 1
                yield element
            if taken < self._block:      # exhausted: open the next input element's dataset in its place
                nxt = next(pending, None)
                if nxt is None:
                    del slots[i]
                    continue
                slots[i] = nxt
                if taken == 0:
                    continue
            i += 1


def _batch_columns(batch, specs, what="batch"):
    """Stacks a list of flat elements into one array per component."""
    cols = []
    for j, s in enumerate(specs):
        items = [e[j] for e in batch]
        try:
            col = np.stack(items) if np.ndim(items[0]) else np.array(items, dtype=s.dtype.as_numpy_dtype)
        except ValueError:
            shapes = [np.shape(x) for x in items]
            k = next(i for i, sh in enumerate(shapes) if sh != shapes[0])
            raise errors.InvalidArgumentError(
                None, None, "Cannot %s tensors with different shapes in component %d. First element had shape %s and "
                "element %d had shape %s." % (what, j, list(shapes[0]), k, list(shapes[k]))) from None
        cols.append(col)
    return cols


class _BatchingDataset(_UnaryDataset):
    """Base of batch and padded_batch: `batch_size` (a captured int64 tensor) consecutive elements at a time,
    a shorter last batch dropped when `drop_remainder`."""

    def _set_batch_size(self, batch_size, drop_remainder):
        """Stores the batch size; returns the static size of the batch axis (None unless every batch is full)."""
        self._batch_size = _int64_tensor(batch_size, "batch_size")
        self._drop_remainder = bool(drop_remainder)
        return _constant_value(self._batch_size) if self._drop_remainder else None

    def _captures(self):
        return [self._batch_size]

    def _size(self, run):
        return _positive(run, self._batch_size, "Batch size")

    def _lists(self, it, n):
        """Lists of n consecutive elements of `it`; the last may be shorter unless drop_remainder."""
        while True:
            batch = list(itertools.islice(it, n))
            if not batch or (self._drop_remainder and len(batch) < n):
                return
            yield batch


class BatchDataset(_BatchingDataset):
    """batch(batch_size, drop_remainder): consecutive elements stacked along a new axis 0."""

    def __init__(self, input_dataset, batch_size, drop_remainder=False):
        n = self._set_batch_size(batch_size, drop_remainder)
        spec = nest.map_structure(lambda s: TensorSpec(TensorShape([n]).concatenate(s.shape), s.dtype),
                                  input_dataset.element_spec)
        super().__init__(input_dataset, spec)

    def _gen(self, run):
        n = self._size(run)
        stream = self._input._index_stream(run)
        if stream is not None:
            return self._gather_batches(stream, n)
        return self._stack_batches(run, n)

    def _gather_batches(self, stream, n):
        take, indices = stream
        while True:
            idx = np.fromiter(itertools.islice(indices, n), dtype=np.intp)
            if not idx.size or (self._drop_remainder and idx.size < n):
                return
            yield tuple(take(idx))

    def _stack_batches(self, run, n):
        source = self._input
        vectorized = isinstance(source, MapDataset) and source._func.vectorizable
        if vectorized:
            source = source._input   # batch the map's input, then map the whole batch at once
        specs = source._flat_specs()
        for batch in self._lists(source._gen(run), n):
            cols = _batch_columns(batch, specs)
            yield tuple(self._input._map_batch(run, cols, len(batch)) if vectorized else cols)


class PaddedBatchDataset(_BatchingDataset):
    """padded_batch: like batch, each component padded to `padded_shapes` (None/-1: the batch's longest)."""

    def __init__(self, input_dataset, batch_size, padded_shapes, padding_values, drop_remainder):
        n = self._set_batch_size(batch_size, drop_remainder)
        in_specs = input_dataset._flat_specs()
        if padded_shapes is None:
            shapes = [s.shape for s in in_specs]
        else:
            shapes = [as_shape([None if d in (-1, None) else d for d in (as_shape(p).as_list() or [])])
                      for p in _flatten_shapes(padded_shapes, input_dataset.element_spec)]
        self._padded = shapes
        if padding_values is None:
            pads = [np.zeros((), s.dtype.as_numpy_dtype) if s.dtype is not dtypes.string else b"" for s in in_specs]
        else:
            pads = nest.flatten(padding_values)
        self._pads = [np.asarray(p, dtype=s.dtype.as_numpy_dtype) for p, s in zip(pads, in_specs)]
        specs = [TensorSpec(TensorShape([n]).concatenate(p), s.dtype) for p, s in zip(shapes, in_specs)]
        super().__init__(input_dataset, nest.pack_sequence_as(input_dataset.element_spec, specs))

    def _gen(self, run):
        n = self._size(run)
        for batch in self._lists(self._input._gen(run), n):
            cols = []
            for j, (padded, pad) in enumerate(zip(self._padded, self._pads)):
                items = [np.asarray(e[j]) for e in batch]
                longest = np.max([x.shape for x in items], axis=0) if items[0].ndim else ()
                target = [longest[k] if d is None else d for k, d in enumerate(padded.as_list())]
                col = np.full([len(items)] + target, pad, dtype=pad.dtype)
                for i, x in enumerate(items):
                    if any(a > b for a, b in zip(x.shape, target)):
                        raise errors.InvalidArgumentError(None, None, "Attempted to pad to a smaller size than the "
                                                          "input element: %s into %s" % (list(x.shape), target))
                    col[(i,) + tuple(slice(0, d) for d in x.shape)] = x
                cols.append(col)
            yield tuple(cols)


class ShuffleDataset(_UnaryDataset):
    """shuffle(buffer_size, seed, reshuffle_each_iteration): TF's buffer semantics.

    The buffer holds up to buffer_size elements (filled from the input first); each output is drawn
    uniformly from the buffer and its slot refilled with the next input element. With a seed (op or
    graph level) the orders are the same on every run of the program; each initialization of the
    iterator starts again from that seed, and with reshuffle_each_iteration (the default) each pass
    of an enclosing repeat() draws a new order. Without any seed, orders differ run to run."""

    def __init__(self, input_dataset, buffer_size, seed=None, reshuffle_each_iteration=None):
        self._buffer_size = _int64_tensor(buffer_size, "buffer_size")
        self._seed, self._seed2 = random_seed.get_seed(seed)
        self._reshuffle = True if reshuffle_each_iteration is None else bool(reshuffle_each_iteration)
        super().__init__(input_dataset, input_dataset.element_spec)

    def _captures(self):
        return [self._buffer_size]

    def _gen(self, run):
        size = _positive(run, self._buffer_size, "buffer_size")
        return _shuffle(self._input._gen(run), size, self._next_rng(run))

    def _index_stream(self, run):
        inner = self._input._index_stream(run)
        if inner is None:
            return None
        size = _positive(run, self._buffer_size, "buffer_size")
        return inner[0], _shuffle(inner[1], size, self._next_rng(run))

    def _next_rng(self, run):
        """The generator of this pass: from the seeds and the pass number (reshuffle_each_iteration)."""
        st = run.state.get(self)
        if st is None:
            base = ([np.random.SeedSequence().entropy] if self._seed is None
                    else [self._seed & 0xFFFFFFFF, self._seed2 & 0xFFFFFFFF])
            st = run.state[self] = {"base": base, "epoch": 0}
        rng = np.random.default_rng(st["base"] + [st["epoch"]])
        if self._reshuffle:
            st["epoch"] += 1
        return rng


def _shuffle(it, size, rng):
    buf = list(itertools.islice(it, size))
    draws, k = rng.random(1024), 0
    while buf:
        if k == 1024:
            draws, k = rng.random(1024), 0
        i = int(draws[k] * len(buf))
        k += 1
        out = buf[i]
        nxt = next(it, None)
        if nxt is None:
            buf[i] = buf[-1]
            buf.pop()
        else:
            buf[i] = nxt
        yield out


class RepeatDataset(_UnaryDataset):
    """repeat(count): the input count times (None or -1: forever; an empty input ends at once)."""

    def __init__(self, input_dataset, count=None):
        self._count = _int64_tensor(-1 if count is None else count, "count")
        super().__init__(input_dataset, input_dataset.element_spec)

    def _captures(self):
        return [self._count]

    def _gen(self, run):
        count = int(run.values[self._count])
        epochs = itertools.count() if count < 0 else range(count)
        for _ in epochs:
            empty = True
            for element in self._input._gen(run):
                empty = False
                yield element
            if empty:
                return

    def _index_stream(self, run):
        first = self._input._index_stream(run)
        if first is None:
            return None
        count = int(run.values[self._count])
        return first[0], self._repeat_indices(run, first[1], count)

    def _repeat_indices(self, run, indices, count):
        done = 0
        while count < 0 or done < count:
            if done:
                indices = self._input._index_stream(run)[1]
            empty = True
            for i in indices:
                empty = False
                yield i
            done += 1
            if empty:
                return


class _CountDataset(_UnaryDataset):
    """take(count) / skip(count): the input stream cut by _slice(stream, count)."""

    def __init__(self, input_dataset, count):
        self._count = _int64_tensor(count, "count")
        super().__init__(input_dataset, input_dataset.element_spec)

    def _captures(self):
        return [self._count]

    def _gen(self, run):
        count = int(run.values[self._count])
        return self._slice(self._input._gen(run), count)

    def _index_stream(self, run):
        inner = self._input._index_stream(run)
        if inner is None:
            return None
        return inner[0], self._slice(inner[1], int(run.values[self._count]))


class TakeDataset(_CountDataset):
    @staticmethod
    def _slice(it, count):
        return it if count < 0 else itertools.islice(it, count)


class SkipDataset(_CountDataset):
    @staticmethod
    def _slice(it, count):
        return iter(()) if count < 0 else itertools.islice(it, count, None)


class CacheDataset(_UnaryDataset):
    """cache(): the first complete pass is kept in memory and replayed (a filename is accepted, and the
    cache is kept in memory all the same)."""

    def __init__(self, input_dataset, filename=""):
        super().__init__(input_dataset, input_dataset.element_spec)

    def _gen(self, run):
        cached = run.state.get(self)
        if cached is not None:
            return iter(cached)
        return self._record(run)

    def _record(self, run):
        seen = []
        for element in self._input._gen(run):
            seen.append(element)
            yield element
        run.state[self] = seen


class UnbatchDataset(_UnaryDataset):
    def __init__(self, input_dataset):
        for s in input_dataset._flat_specs():
            if s.shape.ndims == 0:
                raise ValueError("Cannot unbatch an input with scalar components.")
        spec = nest.map_structure(lambda s: TensorSpec(s.shape[1:] if s.shape.ndims else unknown_shape(), s.dtype),
                                  input_dataset.element_spec)
        super().__init__(input_dataset, spec)

    def _gen(self, run):
        for element in self._input._gen(run):
            yield from zip(*element)


class ZipDataset(DatasetV1):
    """Dataset.zip((a, b)): elements of the datasets side by side, until the shortest ends."""

    def __init__(self, datasets):
        flat = nest.flatten(datasets)
        for d in flat:
            if not isinstance(d, DatasetV1):
                raise TypeError("The argument to `Dataset.zip()` must be a nested structure of `Dataset` objects, "
                                "got %r" % (d,))
        self._datasets = flat
        super().__init__(nest.pack_sequence_as(datasets, [d.element_spec for d in flat]))

    def _inputs(self):
        return list(self._datasets)

    def _gen(self, run):
        for parts in zip(*[d._gen(run) for d in self._datasets]):
            yield tuple(c for p in parts for c in p)


class ConcatenateDataset(DatasetV1):
    def __init__(self, input_dataset, dataset_to_concatenate):
        a, b = input_dataset, dataset_to_concatenate
        nest.assert_same_structure(a.element_spec, b.element_spec)
        if a.output_types != b.output_types:
            raise TypeError("Two datasets to concatenate have different types %s and %s"
                            % (a.output_types, b.output_types))
        self._a, self._b = a, b
        super().__init__(nest.map_structure(
            lambda x, y: TensorSpec(most_specific_compatible_shape(x.shape, y.shape), x.dtype),
            a.element_spec, b.element_spec))

    def _inputs(self):
        return [self._a, self._b]

    def _gen(self, run):
        return itertools.chain(self._a._gen(run), self._b._gen(run))
