"""The rewrites of a plan, each one function `pass(plan, runtime)`, run in the order of `PASSES`.

Each pass reads the plan (compiler/plan.py) and rewrites its steps or names; none changes a value
a run returns. docs/engine.md explains each one; to add a rewrite, write a function here and put
it in `PASSES` where the facts it needs are already true (e.g. after `fold_constants`, a
constant input is one whose name is in `plan.constants`).
"""
import numpy as np

from nanotf.compiler import chunking
from nanotf.compiler import plan as plan_lib
from nanotf.framework import parallel


# -- 1. constant folding
def fold_constants(plan, runtime):
    """A Const, or a pure op whose inputs are all constants, is evaluated now, once, and its outputs
    become constants of the generated code: the step is dropped. An input the kernel reads only for
    its shape (`shape_only_inputs`) counts as constant when its static shape is fully defined."""
    kept = []
    for step in plan.steps:
        values = _constant_values(plan, runtime, step.op)
        if values is None:
            kept.append(step)
            continue
        for t, v in zip(step.outputs, values):
            if t not in plan.fed:
                name = "c" + plan.names[t][1:]
                plan.names[t] = name
                plan.constants[name] = v
    plan.steps = kept


def _constant_values(plan, runtime, op):
    d = op._def
    if op._type == "Const":
        return (op._attrs["value"],)
    outs = op._outputs
    ins = [(j, t) for j, t in enumerate(op._inputs) if j not in d.ref_inputs]
    if d.stateful or not ins or not outs or not all(
            plan.is_constant(t) or (j in d.shape_only_inputs and t.shape.is_fully_defined()) for j, t in ins):
        return None
    # A shape-only input stands in as a broadcast zero of its shape (no memory).
    args = [plan.constants[plan.names[t]] if plan.is_constant(t) else
            np.broadcast_to(np.zeros((), t.dtype.as_numpy_dtype), t.shape.as_list()) for j, t in ins]
    try:
        r = runtime.kernel(op)(*args)
    except Exception:   # leave it to fail at run time, where the error names the op
        return None
    values = r if len(outs) > 1 else (r,)
    return tuple(np.array(v, copy=True) if isinstance(v, np.ndarray) else v for v in values)


# -- 2. aliasing
def alias_identities(plan, runtime):
    """An identity (`is_identity`: the kernel returns input 0) calls nothing: its output is another
    name for its input. Then every fetched value that may be memory someone else owns (a variable's
    storage, the caller's fed array: `may_alias`) is copied as it is made."""
    kept = []
    for step in plan.steps:
        op, out = step.op, (step.outputs[0] if step.outputs else None)
        if op._def.is_identity and step.inputs and step.inputs[0] in plan.names and out not in plan.fed:
            if out in plan.fetched and may_alias(out, plan.fed):
                step.kernel = np.copy   # the copy IS the identity's value; no further copy
                kept.append(step)
            else:
                plan.names[out] = plan.names[step.inputs[0]]
            continue
        kept.append(step)
    for step in kept:
        if step.kernel is not np.copy:
            step.copies = [t for t in step.outputs
                           if t in plan.fetched and t not in plan.fed and may_alias(t, plan.fed)]
    plan.steps = kept


def may_alias(t, fed):
    """True when value t may be memory someone else owns: variable storage or the caller's fed array."""
    while True:
        if t in fed:
            return True
        op = t._op
        if not (op._def.forwards_input and op._inputs):
            return op._def.stateful
        t = op._inputs[0]


# -- 3. fusion
def fuse_pairs(plan, runtime):
    """A consumer and the producer of one of its inputs run as one kernel where a fusion is offered
    (e.g. the SGD update with the matmul computing its gradient: one pass over the variable instead
    of three). The fused step runs at the consumer's place and reads the producer's inputs there."""
    steps = {step.op: step for step in plan.steps}
    pairs = {c: p for c, p in _fusable_pairs(plan).items()
             if c in steps and p in steps and not any(plan.is_constant(t) for t in p._inputs)}
    if not pairs:
        return
    producers = set(pairs.values())
    fused = []
    for step in plan.steps:
        op = step.op
        if op in producers:
            continue   # computed inside its consumer's fused kernel
        producer = pairs.get(op)
        if producer is not None:
            d = op._def
            kernel = runtime.fused_kernel(op, producer, lambda: d.fuse[producer._type](op, producer, runtime))
            inputs = list(producer._inputs) + [t for j, t in enumerate(op._inputs)
                                               if j not in d.ref_inputs and j != d.fuse_input]
            step = plan_lib.Step(op, inputs, op._outputs, kernel)
        fused.append(step)
    plan.steps = fused


def _fusable_pairs(plan):
    """{consumer: producer} for pairs whose consumer's OpDef offers a fused kernel for the producer's
    type and whose producer's single output feeds only that consumer (not fed, not fetched, pure).

    The fused kernel runs where the consumer runs, i.e. after updates that ops between the two
    may make to variables in place. So the producer's inputs must not be (views of) a variable
    that this plan updates: V's gradient U^T @ dR in M = U @ V must read U before U's update."""
    updated = {op._inputs[j].op for op in plan.ops for j in op._def.ref_inputs}
    uses = {}
    for op in plan.ops:
        for j, t in enumerate(op._inputs):
            if j not in op._def.ref_inputs:
                uses[t] = uses.get(t, 0) + 1
    pairs = {}
    for op in plan.ops:
        d = op._def
        if not d.fuse or len(op._outputs) != 1:
            continue
        t = op._inputs[d.fuse_input]
        p = t.op
        if (p._type in d.fuse and len(p._outputs) == 1 and not p._def.stateful and uses.get(t) == 1
                and t not in plan.fed and t not in plan.fetched and p not in pairs.values()
                and not any(_may_read_variable(x, updated, plan.fed) for x in p._inputs)):
            pairs[op] = p
    return pairs


def _may_read_variable(t, variables, fed):
    """Whether tensor t may be a variable of `variables` or a view of one: walks back through
    kernels that may return (views of) their inputs, ref inputs included (an Assign returns the
    variable's storage), stopping at fed values and fresh outputs."""
    stack, seen = [t], set()
    while stack:
        t = stack.pop()
        if t in fed or t in seen:
            continue
        seen.add(t)
        op = t.op
        if op in variables:
            return True
        if not op._def.fresh_output:
            stack.extend(op._inputs)
    return False


# -- 4. buffer donation (in place)
def donate_dead_temporaries(plan, runtime):
    """Lets an op with an in-place kernel (bias add, ReLU...) write into its input when nothing else
    can see that array: a fresh result of another step (`fresh_output`), read exactly once (here),
    not returned, of the same static shape and dtype as the output. Saves an allocation and a pass
    over memory per op, and halves the peak memory of a layer."""
    keep = plan.returned_names()
    uses, producer = {}, {}
    for step in plan.steps:
        for t in step.inputs:
            name = plan.names.get(t)
            uses[name] = uses.get(name, 0) + 1
        for t in step.outputs:
            if t not in plan.fed:   # a fed output is the caller's array, never a temporary
                producer[plan.names[t]] = step.op
    for step in plan.steps:
        op = step.op
        d = op._def
        if d.inplace is None or not step.inputs or step.kernel is not None:
            continue
        arg_inputs = [j for j in range(len(op._inputs)) if j not in d.ref_inputs]
        index = arg_inputs.index(d.inplace_input)
        name = plan.names.get(step.inputs[index])
        src = producer.get(name)
        if src is None or name in keep or uses.get(name) != 1 or not src._def.fresh_output:
            continue
        x, out = op._inputs[d.inplace_input], op._outputs[0]
        # Static shapes must agree (the in-place kernels fall back to allocating when the runtime
        # shapes broadcast input 0 larger); 0-d results may be NumPy scalars, which cannot be written.
        if x.dtype is not out.dtype or not x.shape.ndims or not x.shape.is_compatible_with(out.shape):
            continue
        fn = runtime.inplace_kernel(op)
        if d.elementwise and _may_be_big(out):   # big in-place elementwise steps go over the intra-op threads
            fn = parallel.split_inplace(fn, index)
        step.kernel = fn


def _may_be_big(t):
    """Whether t may hold enough elements for parallel.split_inplace to split it (unknown: yes)."""
    dims = t.shape.as_tuple()
    if dims is None or any(d is None for d in dims):
        return True
    return int(np.prod(dims, dtype=np.int64)) >= parallel._MIN_SPLIT_ELEMENTS


# -- 5. freeing
def free_after_last_use(plan, runtime):
    """Deletes each intermediate value right after the step that uses it last, so a run holds only
    live values (evaluating 10000 images through a conv net must not keep every layer's output)."""
    keep = plan.returned_names()
    last = {}
    for i, step in enumerate(plan.steps):
        for t in step.inputs + step.outputs:
            name = plan.names.get(t, "")
            if name.startswith("v") and name not in keep and t not in plan.fed:
                last[name] = i
    frees = {}
    for name, i in last.items():
        frees.setdefault(i, []).append(name)
    for i, names in frees.items():
        plan.steps[i].frees = sorted(names)


# -- 6. slicing big batches
def slice_big_batches(plan, runtime):
    """A Session's own plan that feeds a batch may run its row-wise front in slices of that batch
    when the batch is big (compiler/chunking.py); the parts are compiled on the first such run."""
    if plan.top_level:
        plan.split = chunking.plan_split(_compile_part, runtime, plan.ops, plan.elements, plan.feed_tensors)


def _compile_part(runtime, elements, feed_tensors):
    """One part of a sliced run: an ordinary plan through the same passes and emitter, never sliced."""
    from nanotf.compiler import emitter
    part = plan_lib.build(runtime, elements, feed_tensors, top_level=False)
    run_passes(part, runtime)
    return emitter.emit(part, runtime)


PASSES = [
    fold_constants,
    alias_identities,
    fuse_pairs,
    donate_dead_temporaries,
    free_after_last_use,
    slice_big_batches,
]


def run_passes(plan, runtime):
    for rewrite in PASSES:
        rewrite(plan, runtime)
    return plan
