"""A run's plan: the ops its fetches need, in order, as a list of steps the passes rewrite.

`build(runtime, elements, feed_tensors)` prunes the graph to what the fetch `elements` (Tensors
and Operations) need, through data and control inputs, stopping at fed tensors, and orders the
ops by creation id (a topological order). Each op becomes one `Step`: a kernel call reading
input values and binding output values. Values are named as the generated code will name them:

    f3      the fed array at position 3 of `feed_tensors`
    v7_0    output 0 of the plan's op 7
    c7_0    the same value once folded into a constant (bound in the generated code's globals)

`Plan.names` maps each Tensor to the name holding its value; a pass that makes one value stand
for another (an identity's output is its input) just rebinds the name, and later steps read the
new one, because the emitter resolves names only when it writes the code. This is the
representation the numpy backend's passes rewrite (compiler/passes.py) and that a backend
factory receives (compiler/backend.py): `plan.ops`, `plan.elements`, `plan.feed_tensors`.
"""
from nanotf.framework import device as device_lib
from nanotf.framework.ops import Tensor


class Step:
    """One kernel call. `op` names the line and the trace entry (an Operation, or a fused node
    standing for two); `kernel` is None until a pass or the emitter picks one (then the op's own).
    `inputs` are the Tensors passed as arguments (ref inputs are not passed), `outputs` the
    Tensors the results bind. The passes fill the rest: `out_input` (index into `inputs` of a
    dead temporary the kernel may write its result into: it is called with `out=` that array),
    `copies` (outputs copied because a fetch must not alias someone else's memory) and `frees`
    (names dead after this step)."""

    __slots__ = ("op", "kernel", "inputs", "outputs", "out_input", "copies", "frees")

    def __init__(self, op, inputs, outputs, kernel=None):
        self.op = op
        self.kernel = kernel
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.out_input = None
        self.copies = ()
        self.frees = ()

    def __repr__(self):
        return "<Step %s (%s)>" % (self.op.name, self.op.type)


def value_inputs(op):
    """The inputs a kernel is called with: all but the variable references (`ref_inputs`)."""
    ref = op._def.ref_inputs
    return [t for j, t in enumerate(op._inputs) if j not in ref] if ref else list(op._inputs)


class Plan:
    """The pruned, ordered ops of one (fetches, feeds) signature and the steps that run them."""

    def __init__(self, ops, elements, feed_tensors, top_level=True):
        self.ops = ops                        # Operations, in creation (topological) order
        self.elements = list(elements)        # what the run returns: Tensors, or Operations (-> None)
        self.feed_tensors = tuple(feed_tensors)
        self.top_level = top_level            # a Session's own plan (not a part or a function body)
        self.fed = {t: i for i, t in enumerate(self.feed_tensors)}
        self.fetched = {e for e in self.elements if isinstance(e, Tensor)}
        self.names = {t: "f%d" % i for t, i in self.fed.items()}
        self.constants = {}                   # name -> value, for values known before any run
        self.steps = []
        for k, op in enumerate(ops):
            for t in op._outputs:
                if t not in self.fed:
                    self.names[t] = "v%d_%d" % (k, t._value_index)
            # A NoOp computes nothing: the order already runs its control inputs before what follows.
            if op._type != "NoOp":
                self.steps.append(Step(op, value_inputs(op), op._outputs))
        # Plans with kernels that split their work themselves run with BLAS single-threaded
        # (framework/parallel.py).
        self.splits_work = any(op._def.splits_work for op in ops)
        self.split = None                     # a ChunkedRun, when big batches may run in slices

    def is_constant(self, t):
        return self.names.get(t) in self.constants

    def returned_names(self):
        """The names the plan returns (values the passes must neither overwrite nor free)."""
        return {self.names[e] for e in self.elements if isinstance(e, Tensor)}


def needed_ops(elements, fed):
    """The ops the fetch `elements` need: through data and control inputs, stopping at fed tensors
    and at variable references (a ref input is the variable's storage, not a value to compute)."""
    needed = set()
    # A fetched tensor that is fed needs nothing: the fed value is returned.
    stack = [e.op if isinstance(e, Tensor) else e for e in elements if not (isinstance(e, Tensor) and e in fed)]
    while stack:
        op = stack.pop()
        if op in needed:
            continue
        needed.add(op)
        ref = op._def.ref_inputs
        for k, t in enumerate(op._inputs):
            if t in fed or k in ref:
                continue
            stack.append(t._op)
        stack.extend(op._control_inputs)
    return needed


def build(runtime, elements, feed_tensors, top_level=True):
    """The Plan of a run fetching `elements` with `feed_tensors` fed. A top-level plan (a Session's
    own, not a function body or a part of a sliced run) also checks device placement: ops pinned to
    a device nanotf lacks run on the CPU, or raise, as the session's config says."""
    fed = set(feed_tensors)
    ops = sorted(needed_ops(elements, fed), key=lambda op: op._id)
    if top_level:
        device_lib.check_placement(ops, runtime.session._config)
    return Plan(ops, elements, feed_tensors, top_level)
