"""The rewrites of a plan, each one function `pass(plan, runtime)`, run in the order of `PASSES`.

Each pass reads the plan (compiler/plan.py) and rewrites its steps or names; none changes a value
a run returns. docs/engine.md explains each one; to add a rewrite, write a function here and put
it in `PASSES` where the facts it needs are already true (e.g. after `fold_constants`, a
constant input is one whose name is in `plan.constants`).
"""
import numpy as np

from nanotf.compiler import chunking, recycling
from nanotf.compiler import plan as plan_lib
from nanotf.framework import parallel
from nanotf.framework.op_def import FUSION_RULES, FusedNode, make_fused_node, view_map_of
from nanotf.framework.ops import Operation


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
    """True when value t may be memory someone else owns: the caller's fed array, or what a stateful op
    returns (variable storage...). Followed back through the inputs t may be a view of (`view_map`)."""
    stack, seen = [t], set()
    while stack:
        t = stack.pop()
        if t in fed:
            return True
        if t in seen:
            continue
        seen.add(t)
        op = t._op
        views = view_map_of(op).get(t._value_index, ())
        if not views:
            if op._def.stateful:
                return True
            continue
        stack.extend(op._inputs[i] for i in views)
    return False


# -- 2b. kernels for what the plan reads
def narrow_to_reads(plan, runtime):
    """An op whose OpDef has `kernel_for_reads(op, ctx, readers)` may do less when the plan reads only part of
    its outputs (LSTMSequence: only the first steps of a sequence, as a bidirectional classifier reads the
    backward direction): the hook returns a kernel for this plan, or None for the op's own. `readers(t)` lists
    the (op, input index) of each step reading tensor t, and (None, None) when the plan returns it; values are
    matched by name, so reading an identity's output counts as reading its input."""
    hooked = [step for step in plan.steps if step.kernel is None and getattr(step.op._def, "kernel_for_reads", None)]
    if not hooked:
        return
    reads = {}
    for step in plan.steps:
        plain = isinstance(step.op, Operation)
        positions = {}
        if plain:
            value_index = [j for j in range(len(step.op._inputs)) if j not in step.op._def.ref_inputs]
            positions = dict(enumerate(value_index))
        for k, t in enumerate(step.inputs):
            # a fused step's inputs are in the fused order: no input index (read as a value)
            reads.setdefault(plan.names.get(t), []).append((step.op, positions.get(k) if plain else None))
    returned = plan.returned_names()

    def readers(t):
        name = plan.names.get(t)
        return reads.get(name, []) + ([(None, None)] if name in returned else [])
    for step in hooked:
        kernel = step.op._def.kernel_for_reads(step.op, runtime, readers)
        if kernel is not None:
            step.kernel = kernel


# -- 3. fusion
def fuse_pairs(plan, runtime):
    """A consumer and the producer of one of its inputs run as one step of a fused op where a rule of
    FUSION_RULES (framework/op_def.py) names the pair (e.g. `_FusedMatMulApplyGradientDescent`: the SGD
    update with the matmul computing its gradient, one pass over the variable instead of three). The
    fused step runs at the consumer's place and reads the producer's inputs there. A fused step is a
    producer like any other, so fusions chain (Conv2D, BiasAdd, then Relu): the pass repeats while
    pairs fuse."""
    while True:
        steps = {step.op: step for step in plan.steps}
        matches = [(c, p, rule) for c, (p, rule) in _fusable_pairs(plan).items()
                   if c in steps and p in steps and not any(plan.is_constant(t) for t in p._inputs)]
        # a producer that is itself a consumer this round fuses first; its consumer pairs with the result next round
        consumers = {c for c, _, _ in matches}
        matches = [(c, p, rule) for c, p, rule in matches if p not in consumers]
        if not matches:
            return
        for consumer, producer, rule in matches:
            node = make_fused_node(rule, consumer, producer)
            kernel = runtime.fused_kernel(consumer, _kernel_key(producer), lambda: node._def.kernel(node, runtime))
            fused = plan_lib.Step(node, plan_lib.value_inputs(node), consumer._outputs, kernel)
            fused.copies = steps[consumer].copies
            steps[consumer] = fused
            steps[producer] = None    # computed inside the fused kernel
        plan.steps = [steps[step.op] for step in plan.steps if steps[step.op] is not None]


def _kernel_key(op):
    """What identifies an op (or a fused node: the ops it stands for) across plans, for the kernel cache."""
    return (op.consumer, _kernel_key(op.producer)) if isinstance(op, FusedNode) else op


def _fusable_pairs(plan):
    """{consumer: (producer, rule)} for pairs a rule names whose producer's single output feeds only that
    consumer (not fed, not fetched) and is pure. The producer is the step making the input: an op, or a
    fused node (a chain's earlier pair).

    The fused kernel runs where the consumer runs, i.e. after updates that ops between the two
    may make to variables in place. So the producer's inputs must not be (views of) a variable
    that an op between them updates: V's gradient U^T @ dR in M = U @ V must read U before U's
    update. (A conv layer's Conv2D and BiasAdd have no update between them: they fuse.)"""
    rules = {}
    for rule in FUSION_RULES:
        rules.setdefault(rule.consumer, []).append(rule)
    if not any(op._type in rules for op in plan.ops):
        return {}
    position = {op: k for k, op in enumerate(plan.ops)}
    made_by = {t: step.op for step in plan.steps for t in step.outputs}
    for node in made_by.values():
        if isinstance(node, FusedNode):
            position[node] = position[node.consumer]   # where the fused step runs
    writers = [(k, op._inputs[j].op) for k, op in enumerate(plan.ops) for j in op._def.ref_inputs]
    # stateful ops that may write variables without naming them (a cond's or loop's body): every variable
    writers += [(k, _ANY_VARIABLE) for k, op in enumerate(plan.ops)
                if op._def.stateful and not op._def.ref_inputs and op._type not in _READS_ONLY]
    uses = {}
    for op in plan.ops:
        for j, t in enumerate(op._inputs):
            if j not in op._def.ref_inputs:
                uses[t] = uses.get(t, 0) + 1
    pairs, paired = {}, set()
    for op in plan.ops:
        for rule in rules.get(op._type, ()):
            t = op._inputs[rule.input_index]
            p = made_by.get(t, t.op)
            if (p._type == rule.producer and len(op._outputs) == 1 and len(p._outputs) == 1
                    and not p._def.stateful and uses.get(t) == 1 and t not in plan.fed and t not in plan.fetched
                    and p not in paired and not _updated_between(p, op, position, writers, plan.fed)):
                pairs[op] = (p, rule)
                paired.add(p)
                break
    return pairs


# A stateful op whose writes are not declared (If, While: their bodies may assign anything) counts as writing
# every variable; these stateful ops only read, or touch state no op reads as a tensor (random streams).
_ANY_VARIABLE = object()
_READS_ONLY = frozenset(["VariableV2", "Variable", "RandomUniform", "RandomStandardNormal", "TruncatedNormal",
                         "RandomUniformInt", "Multinomial", "RandomShuffle"])
_VARIABLE_TYPES = frozenset(["VariableV2", "Variable"])


def _updated_between(producer, consumer, position, writers, fed):
    """Whether an op after the producer and up to the consumer (plan order) updates a variable the
    producer's inputs may be (views of)."""
    lo, hi = position[producer], position[consumer]
    between = {var for k, var in writers if lo < k <= hi}
    variables = _AnyVariable() if _ANY_VARIABLE in between else between
    return bool(between) and any(_may_read_variable(x, variables, fed) for x in producer._inputs)


class _AnyVariable:
    """Stands for "every variable" in _may_read_variable's `op in variables` test."""

    def __contains__(self, op):
        return op._type in _VARIABLE_TYPES


def _may_read_variable(t, variables, fed):
    """Whether tensor t may be a variable of `variables` or a view of one: walks back through the inputs
    each value may be a view of (`view_map`: an Assign returns the variable's storage), stopping at fed
    values and at outputs that share no memory with any input."""
    stack, seen = [t], set()
    while stack:
        t = stack.pop()
        if t in fed or t in seen:
            continue
        seen.add(t)
        op = t.op
        if op in variables:
            return True
        stack.extend(op._inputs[i] for i in view_map_of(op).get(t._value_index, ()))
    return False


# -- 4. buffer donation (in place)
def donate_dead_temporaries(plan, runtime):
    """Lets a step write its output k into the array of an input i its op may destroy (`destroy_map =
    {k: (i, ...)}`) when nothing else can see that array: a fresh result of another step
    (`fresh_output`), read exactly once (here), not returned, of output k's static shape and dtype.
    The kernel is then called with `out=` that array: one allocation and one pass over memory less per
    op (bias add, ReLU, Add...), and half the peak memory of a layer."""
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
        d = step.op._def
        if d.destroy_map and step.kernel is None:
            index = _dead_input(plan, step, keep, uses, producer)
            if index is not None:
                step.out_input = index
                if d.elementwise and _may_be_big(step.outputs[0]):   # big ones go over the intra-op threads
                    step.kernel = parallel.split_elementwise(runtime.kernel(step.op))


def _dead_input(plan, step, keep, uses, producer):
    """The position in step.inputs of an input the step may overwrite, or None."""
    op = step.op
    d = op._def
    value_index = [j for j in range(len(op._inputs)) if j not in d.ref_inputs]
    for k, destroyable in sorted(d.destroy_map.items()):
        out = op._outputs[k]
        for i in destroyable:
            if i not in value_index:
                continue
            x = op._inputs[i]
            name = plan.names.get(x)
            src = producer.get(name)
            if src is None or name in keep or uses.get(name) != 1 or not src._def.fresh_output:
                continue
            # Static shapes must agree (kernels fall back to allocating when runtime shapes broadcast
            # larger); 0-d results may be NumPy scalars, which cannot be written.
            if x.dtype is not out.dtype or not x.shape.ndims or not x.shape.is_compatible_with(out.shape):
                continue
            return value_index.index(i)   # a kernel takes one `out=`: the first fit
    return None


def _may_be_big(t):
    """Whether t may hold enough elements for parallel.split_elementwise to split it (unknown: yes)."""
    dims = t.shape.as_tuple()
    if dims is None or any(d is None for d in dims):
        return True
    return int(np.prod(dims, dtype=np.int64)) >= parallel._MIN_SPLIT_ELEMENTS


def recycle_big_results(plan, runtime):
    """An elementwise step left allocating its result (no dead input to write into: k-means' l2_normalize
    scales a fed batch that two ops read) writes a result of 32 MB or more into an array of the session's
    pool that nothing else holds any more (compiler/recycling.py), split over the intra-op threads."""
    if not recycling.ENABLED:
        return
    keep = plan.returned_names()
    for step in plan.steps:
        d = step.op._def
        if (step.kernel is None and step.out_input is None and d.elementwise and d.destroy_map
                and len(step.outputs) == 1 and step.outputs[0] not in plan.fed
                and plan.names[step.outputs[0]] not in keep and _may_be_huge(step.outputs[0])):
            op, dtype = step.op, step.outputs[0].dtype.as_numpy_dtype
            kernel = runtime.kernel(op)
            step.kernel = runtime.wrapped_kernel(op, "recycled", lambda: recycling.RecycledResult(
                kernel, parallel.split_elementwise(kernel), dtype, runtime.big_arrays))


def _may_be_huge(t):
    """Whether t may hold recycling.MIN_BYTES or more (unknown: yes)."""
    dims = t.shape.as_tuple()
    if dims is None or any(d is None for d in dims):
        return True
    return int(np.prod(dims, dtype=np.int64)) * t.dtype.size >= recycling.MIN_BYTES


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
    narrow_to_reads,
    fuse_pairs,
    donate_dead_temporaries,
    recycle_big_results,
    free_after_last_use,
    slice_big_batches,
]


def run_passes(plan, runtime):
    for rewrite in PASSES:
        rewrite(plan, runtime)
    return plan
