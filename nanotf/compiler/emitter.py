"""The one NumPy code generator: a passed plan becomes one straight-line Python function.

    def _plan(f0, f1):
        v3_0 = k0(f0, c2_0)  # hidden1/MatMul (MatMul)
        v5_0 = k1(v3_0, c4_0, out=v3_0)  # hidden1/add (Add)
        v6_0 = k2(v5_0, out=v5_0); del v5_0  # hidden1/Relu (Relu)
        ...
        return (v9_0,)

One line per step: the kernel call (kernels and constants are the function's globals), the copies
of fetched values that may alias someone else's memory, the `del` of values used for the last time,
and the op's name and type as a comment. The source is registered in `linecache` under a filename
of its own, so a traceback through a plan shows the line, op name included; `line_table(filename)`
gives the op of each line (the Session's error mapping names the failing op with it).

With `trace=True` the same steps are emitted with each call timed and its outputs recorded through
`_rec(step_index, start_ns, outputs)` (RunOptions.FULL_TRACE): a traced run runs the same kernels,
fused and in place, as an untraced one.
"""
import itertools
import linecache
import weakref

import numpy as np

from nanotf.framework.ops import Tensor

_serial = itertools.count(1)
_line_ops = {}   # filename of each live generated function -> {line number: Operation}


class Program:
    """A generated function, its source, its filename (`line_table(filename)` gives each line's op)
    and the plan's ops."""

    __slots__ = ("fn", "source", "filename", "ops", "__weakref__")

    def __init__(self, fn, source, filename, ops):
        self.fn, self.source, self.filename, self.ops = fn, source, filename, ops


def emit(plan, runtime, trace=False):
    """A Program running `plan.steps` in order; `fn(*feeds)` returns one value per plan element
    (None for an Operation). With `trace`, `fn(*feeds, _rec, _now)` also records each step."""
    names, fed = plan.names, plan.fed
    env = {"_copy": np.copy}
    env.update(plan.constants)
    params = ["f%d" % i for i in range(len(plan.feed_tensors))] + (["_rec", "_now"] if trace else [])
    lines = ["def _plan(%s):" % ", ".join(params)]
    line_ops = {}
    for i, step in enumerate(plan.steps):
        kernel = "k%d" % i
        env[kernel] = step.kernel if step.kernel is not None else runtime.kernel(step.op)
        args = [names.get(t, "None") for t in step.inputs]
        if step.out_input is not None:
            args.append("out=" + args[step.out_input])
        call = "%s(%s)" % (kernel, ", ".join(args))
        targets = ["_" if t in fed else names[t] for t in step.outputs]
        if not targets:
            line = call
        elif len(targets) == 1:
            line = "%s = %s" % (targets[0], call)
        else:
            line = "%s, = %s" % (", ".join(targets), call)
        if trace:
            line = "_t = _now(); %s; _rec(%d, _t, (%s))" % (line, i, "".join(x + ", " for x in targets))
        for t in step.copies:
            line += "; %s = _copy(%s)" % (names[t], names[t])
        if step.frees:
            line += "; del %s" % ", ".join(step.frees)
        lines.append("    %s  # %s" % (line, _label(step.op)))
        line_ops[len(lines)] = getattr(step.op, "consumer", step.op)   # a fused step fails as its consumer
    ret = ", ".join(("_copy(%s)" % names[e] if e in fed or plan.is_constant(e) else names[e])
                    if isinstance(e, Tensor) else "None" for e in plan.elements)
    lines.append("    return (%s%s)" % (ret, "," if len(plan.elements) == 1 else ""))
    source = "\n".join(lines) + "\n"
    filename = "<nanotf plan %d%s>" % (next(_serial), " traced" if trace else "")
    exec(compile(source, filename, "exec"), env)
    fn = env["_plan"]
    _register(fn, source, filename, line_ops)
    return Program(fn, source, filename, plan.ops)


def _label(op):
    return ("%s (%s)" % (op.name, op.type)).replace("\n", " ").replace("\r", " ")


def _register(fn, source, filename, line_ops):
    """Makes the source visible to tracebacks and the line table to line_table() while fn lives."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    _line_ops[filename] = line_ops
    weakref.finalize(fn, _forget, filename)


def _forget(filename):
    linecache.cache.pop(filename, None)
    _line_ops.pop(filename, None)


def line_table(filename):
    """{line number: Operation} of a live generated function's file, or None for any other file."""
    return _line_ops.get(filename)
