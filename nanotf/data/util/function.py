"""A user function of a tf.data transformation (map_func, predicate), traced ONCE into its own graph.

`TracedFunction(fn, input_specs)` calls `fn` on placeholders standing for one element, in a fresh
Graph, and keeps the ops its outputs need. Running it calls those ops' NumPy kernels in creation
order (a topological order) on one element's arrays: no Session, no plan compilation, a few
microseconds per op.

Vectorizing: when every op between the inputs and the outputs is elementwise (or an identity) and
the ranks line up so that NumPy broadcasting cannot mix the batch axis with an element axis, running
the same kernels on a stack of N elements gives exactly the N per-element results stacked. Then
`map(f).batch(n)` runs f once per batch instead of once per element (TensorFlow's "map
vectorization" rewrite, restricted to the ops where it is exact). Random and other stateful ops are
never vectorized (each element must draw its own numbers).

What a traced function cannot do (a clear error says so): use a tensor or variable of the outer
graph. Pass such values through the dataset (`Dataset.zip`) or as Python/NumPy constants.
"""
import numpy as np

from nanotf.framework import errors
from nanotf.framework import ops as ops_mod
from nanotf.data.util import nest
from nanotf.data.util.structure import TensorSpec


class _FunctionRuntime:
    """The `ctx` kernels of a traced function see: per-op state (RNGs) lives here, one per iterator."""

    def __init__(self):
        self.variables = {}
        self.op_state = {}
        self.session = None


class TracedFunction:
    """`fn` traced on placeholders of `input_specs` (a nested structure of TensorSpec)."""

    def __init__(self, fn, input_specs, transformation="Dataset.map()"):
        self.transformation = transformation
        self.name = getattr(fn, "__name__", "fn")
        self.graph = ops_mod.Graph()
        flat_specs = nest.flatten(input_specs)
        with self.graph.as_default():
            from nanotf.ops import array_ops
            self.inputs = [array_ops.placeholder(s.dtype, shape=s.shape, name="args_%d" % i)
                           for i, s in enumerate(flat_specs)]
            args = nest.pack_sequence_as(input_specs, self.inputs)
            try:
                # A plain tuple element is unpacked into positional arguments (TF's rule); a dict, a
                # namedtuple or a single component is passed as one argument.
                result = fn(*args) if type(args) is tuple else fn(args)
            except ValueError as e:
                if "must be from the same graph" in str(e):
                    raise ValueError(
                        "The function passed to %s (%s) uses a tensor of the outer graph: %s. nanotf traces "
                        "tf.data functions into their own graph and cannot capture outer tensors or variables; "
                        "pass the value through the dataset (e.g. Dataset.zip) or as a Python/NumPy constant."
                        % (transformation, self.name, e)) from None
                raise
            self.dataset = None
            if hasattr(result, "_all_captures"):   # flat_map/interleave: a dataset built from the element
                self.dataset = result
                result = tuple(result._all_captures())
            result = nest.lists_to_tuples(result)
            flat = [ops_mod.convert_to_tensor(v) for v in nest.flatten(result)]
        for t in flat:
            if t.graph is not self.graph:
                raise ValueError("The function passed to %s (%s) returned %s, a tensor of the outer graph; "
                                 "tf.data functions must compute their outputs from their arguments"
                                 % (transformation, self.name, t.name))
        self.output_structure = nest.pack_sequence_as(result, flat)
        self.outputs = flat
        self.output_specs = nest.pack_sequence_as(result, [TensorSpec(t.shape, t.dtype) for t in flat])
        self.steps = self._needed_ops()
        self._batched_kernels = {}   # op -> kernel for a stack of elements, where it differs from op's own
        self.vectorizable = self._vectorizable()

    def _needed_ops(self):
        fed = set(self.inputs)
        needed, stack = set(), [t.op for t in self.outputs if t not in fed]
        while stack:
            op = stack.pop()
            if op in needed:
                continue
            if op._def.ref_inputs or op.type == "VariableV2":
                raise ValueError("The function passed to %s (%s) uses a variable (%s): tf.data functions in "
                                 "nanotf cannot read or update variables" % (self.transformation, self.name, op.name))
            needed.add(op)
            stack.extend(t.op for t in op._inputs if t not in fed)
            stack.extend(op._control_inputs)
        return sorted(needed, key=lambda op: op._id)

    def _vectorizable(self):
        """Whether running the kernels on a stack of elements equals stacking per-element runs."""
        batched = set(self.inputs)
        for op in self.steps:
            hit = [t in batched for t in op._inputs]
            if not any(hit):
                if op._def.stateful:
                    return False   # e.g. a random op: one draw per element, not one per batch
                continue
            if op._def.stateful or len(op._outputs) != 1:
                return False
            adapter = _BATCH_ADAPTERS.get(op.type)
            if adapter is not None:
                kernel = adapter(op, hit)
                if kernel is None:
                    return False
                self._batched_kernels[op] = kernel
            elif not self._broadcasts_exactly(op, hit):
                return False
            batched.add(op._outputs[0])
        return True

    @staticmethod
    def _broadcasts_exactly(op, hit):
        """An elementwise op whose batched inputs have the output's rank and whose other inputs have no
        more: NumPy broadcasting then lines the batch axis up with nothing but itself."""
        rank = op._outputs[0].shape.ndims
        if rank is None or not (op._def.elementwise or op._def.is_identity or _one_hot_on_last_axis(op, hit)):
            return False
        for t, b in zip(op._inputs, hit):
            r = t.shape.ndims
            if r is None or (b and r != rank and op.type != "OneHot") or (not b and r > rank):
                return False
        return True

    def instantiate(self, batched=False):
        """A function of one element's flat arrays (with `batched`, of a stack of elements: only when
        vectorizable) -> flat outputs. Kernels are built here, so random ops keep their own state per
        instantiation (per iterator)."""
        ctx = _FunctionRuntime()
        steps = []
        for op in self.steps:
            if op.type == "Const":
                value = op._attrs["value"]
                steps.append((op, (lambda v: lambda: v)(value), ()))
            elif batched and op in self._batched_kernels:
                steps.append((op, self._batched_kernels[op], op._inputs))
            else:
                steps.append((op, op._def.kernel(op, ctx), op._inputs))
        inputs, outputs, transformation, name = self.inputs, self.outputs, self.transformation, self.name

        def run(args):
            vals = dict(zip(inputs, args))
            for op, fn, ins in steps:
                try:
                    r = fn(*[vals[t] for t in ins])
                except errors.OpError:
                    raise
                except Exception as e:
                    raise errors.InvalidArgumentError(
                        None, op, "%s in the function passed to %s (%s), op %s: %s"
                        % (type(e).__name__, transformation, name, op.name, e)) from e
                outs = op._outputs
                if len(outs) == 1:
                    vals[outs[0]] = r
                else:
                    for t, v in zip(outs, r or ()):
                        vals[t] = v
            return [vals[t] for t in outputs]
        return run

    def batched_outputs_mask(self):
        """Per output: True when it depends on the element (else it is the same for every element)."""
        batched = set(self.inputs)
        for op in self.steps:
            if any(t in batched for t in op._inputs):
                batched.update(op._outputs)
        return [t in batched for t in self.outputs]


def _const_input(op, i):
    t = op._inputs[i]
    return t.op._attrs["value"] if t.op.type == "Const" else None


def _batched_reshape(op, hit):
    """Reshape of an element to a fully known shape: a stack reshapes to [n] + that shape."""
    out = op._outputs[0].shape
    if hit[1] or not out.is_fully_defined():
        return None
    target = tuple(out.as_list())
    return lambda x, shape: np.reshape(x, (np.shape(x)[0],) + target)


def _batched_expand_dims(op, hit):
    d, rank = _const_input(op, 1), op._inputs[0].shape.ndims
    if hit[1] or d is None or rank is None:
        return None
    axis = int(np.reshape(d, -1)[0]) % (rank + 1) + 1
    return lambda x, dim: np.expand_dims(x, axis)


def _batched_transpose(op, hit):
    p, rank = _const_input(op, 1), op._inputs[0].shape.ndims
    if hit[1] or p is None or rank is None:
        return None
    perm = (0,) + tuple(int(i) % rank + 1 for i in np.reshape(p, -1))
    return lambda x, _: np.transpose(x, perm)


# Ops that are not elementwise but have an exact batched form: op type -> fn(op, batched_input_flags)
# giving the kernel to run on a stack of elements, or None when this use of the op has none.
_BATCH_ADAPTERS = {"Reshape": _batched_reshape, "ExpandDims": _batched_expand_dims, "Transpose": _batched_transpose}


def _one_hot_on_last_axis(op, hit):
    """tf.one_hot(indices, depth) with axis -1 appends its axis: batched indices give batched rows."""
    return op.type == "OneHot" and op._attrs.get("axis", -1) == -1 and hit[0] and not any(hit[1:])


def to_component(value, dtype):
    """A kernel's result as an ndarray of the component's dtype."""
    arr = np.asarray(value)
    npd = dtype.as_numpy_dtype
    return arr if arr.dtype == npd else arr.astype(npd)
