"""Running the row-wise front of a plan in slices of the batch, so that a big batch never exists
whole at its largest.

Deep MNIST evaluates its 10000 test images in one `run`; conv1's output for all of them is
10000 x 28 x 28 x 32 floats, 1 GB, though the images (31 MB) and every tensor after the last
pooling layer are small. Most ops of such a forward pass are row-wise: row i of the output
depends only on row i of the batch (convolutions, pooling, a matmul by weights, elementwise ops
with weights or constants). So when a run feeds a big batch, the plan is split in two:

- part 1 computes the *boundary* tensors (row-wise tensors that a non-row-wise op consumes, or
  that are fetched) from slices of the batch feeds, a slice at a time, into whole-batch arrays;
- part 2 is the rest of the plan with the boundary tensors fed.

Both parts are ordinary compiled plans. Only pure plans are split: none of part 1's ops may
have state beyond reading variables (random ops would draw differently per slice), and plans
that update variables are never split. An op is row-wise when its OpDef says so: `elementwise`
ops whose unsliced operands carry no batch axis, or `row_wise` (True: input 0 sliced, the other
inputs whole and free of the batch; or a function (op, sliced flags) -> bool).
"""
import math

import numpy as np

from nanotf.framework import errors

# A run is split when the biggest row-wise tensor for the whole batch would exceed this many
# bytes, into slices whose biggest tensor holds about _SLICE_BYTES.
_TRIGGER_BYTES = 256 << 20
_SLICE_BYTES = 32 << 20


def _rank(t):
    return t.shape.ndims


def row_wise(op, sliced):
    """Whether running `op` on row slices of its `sliced` inputs (the others whole) gives the
    row slices of its outputs."""
    d = op._def
    if d.stateful or d.ref_inputs or not op._outputs:
        return False
    if d.elementwise:
        out_rank = _rank(op._outputs[0])
        if not out_rank:
            return False
        for t, s in zip(op._inputs, sliced):
            dims = t.shape.as_tuple()
            if dims is None:
                return False
            if s and len(dims) != out_rank:
                return False      # a lower-rank batch tensor would broadcast along the wrong axis
            if not s and len(dims) == out_rank and dims[0] != 1:
                return False      # a whole operand with a leading axis as long as the batch
        return True
    rule = d.row_wise
    if rule is True:
        return bool(sliced) and sliced[0] and not any(sliced[1:]) and bool(_rank(op._outputs[0]))
    if callable(rule):
        return bool(rule(op, sliced))
    return False


def _row_bytes(t):
    dims = t.shape.as_tuple()
    if not dims or any(d is None for d in dims[1:]):
        return 0
    return math.prod(dims[1:]) * np.dtype(t.dtype.as_numpy_dtype).itemsize


class ChunkedRun:
    """The split of one plan; part 1 and part 2 are compiled on the first run that needs them."""

    def __init__(self, make_plan, runtime, elements, feed_tensors, batch_index, boundary, row_bytes):
        self._make_plan = make_plan
        self._runtime = runtime
        self._elements = elements
        self._feed_tensors = feed_tensors
        self.batch_index = batch_index        # positions of the sliced feeds in the feed list
        self.boundary = boundary
        self.row_bytes = row_bytes
        self.parts = None

    def applies(self, args):
        n = None
        for i in self.batch_index:
            a = args[i]
            if not getattr(a, "ndim", 0):
                return False
            if n is None:
                n = a.shape[0]
            elif a.shape[0] != n:
                return False
        return n is not None and n * self.row_bytes > _TRIGGER_BYTES and self._compiled()

    def _compiled(self):
        if self.parts is None:
            part1 = self._make_plan(self._runtime, self.boundary, self._feed_tensors)
            ok = not any((op._def.stateful and op.type != "VariableV2") or op._control_inputs for op in part1.ops)
            part2 = self._make_plan(self._runtime, self._elements, tuple(self._feed_tensors) + tuple(self.boundary)) \
                if ok else None
            self.parts = (part1, part2) if ok else ()
        return bool(self.parts)

    def run(self, args):
        part1, part2 = self.parts
        n = args[self.batch_index[0]].shape[0]
        rows = max(1, _SLICE_BYTES // self.row_bytes)
        sliced = set(self.batch_index)
        whole = None
        for a in range(0, n, rows):
            b = min(a + rows, n)
            values = part1.fn(*[x[a:b] if i in sliced else x for i, x in enumerate(args)])
            if whole is None:
                whole = [np.empty((n,) + np.shape(v)[1:], dtype=np.asarray(v).dtype) for v in values]
            for t, out, v in zip(self.boundary, whole, values):
                if np.shape(v)[:1] != (b - a,):
                    raise errors.InternalError(None, t.op, "row-wise evaluation of %s gave %s rows for a slice of "
                                               "%d" % (t.name, np.shape(v)[:1], b - a))
                out[a:b] = v
        return part2.fn(*args, *whole)


def plan_split(make_plan, runtime, ops, elements, feed_tensors):
    """A ChunkedRun for the plan of `ops`, or None when it has no row-wise front worth slicing."""
    if any(op._def.ref_inputs for op in ops):
        return None           # a training step: never split
    batch_index = [i for i, t in enumerate(feed_tensors) if t.shape.ndims and t.shape.as_tuple()[0] is None]
    if not batch_index:
        return None
    sliced = {feed_tensors[i] for i in batch_index}
    depends = set(sliced)     # tensors computed from the batch feeds
    front = set()
    for op in ops:            # ops are in creation order, a topological order
        ins = op._inputs
        if not any(t in depends for t in ins):
            continue
        flags = [t in sliced for t in ins]
        if all(f or t not in depends for f, t in zip(flags, ins)) and row_wise(op, flags):
            sliced.update(op._outputs)
            front.add(op)
        depends.update(op._outputs)
    if not front:
        return None
    feeds = set(feed_tensors)
    fetched = [e for e in elements if getattr(e, "op", None) is not None and e in sliced and e not in feeds]
    boundary = dict.fromkeys(fetched)
    for op in ops:
        if op not in front:
            for t in op._inputs:
                if t in sliced and t not in feeds:
                    boundary[t] = None
    row_bytes = max((_row_bytes(t) for op in front for t in op._outputs), default=0)
    if not boundary or not row_bytes:
        return None
    return ChunkedRun(make_plan, runtime, elements, feed_tensors, batch_index, list(boundary), row_bytes)
