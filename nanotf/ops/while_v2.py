"""tf.while_loop as a While op holding its cond and body as traced function graphs (TF 2's While), and
its gradient, WhileGrad: the body's gradient function run over the recorded iterations in reverse. The same
op in its "for each row" form runs map_fn, scan and the folds (ops/functional_ops.py)."""
import builtins

import numpy as np

from nanotf.framework import dtypes
from nanotf.framework import func_graph as _fg
from nanotf.framework import lowering as xla
from nanotf.framework.op_def import OpDef, Sample
from nanotf.framework.ops import Tensor, convert_to_tensor, get_default_graph, name_scope
from nanotf.framework.tensor_shape import TensorShape, as_shape, unknown_shape
from nanotf.ops import array_ops
from nanotf.ops.control_flow_util import (_EMPTY_RECORDS, XlaTrace, _RecordingFunction, _Trace, _as_flat_tensor,
                                         _as_jax, _flatten, _flow_add, _fold_runtime,
                                         _function_ops, _gradient_graph, _grads_by_input, _index_inputs, _inner_key,
                                         _is_nested, _kernel_result, _leq_shape, _lower_graph, _marker_deps, _math,
                                         _needed_inputs, _nn, _outer_deps, _pack_as, _record_flag, _request_index,
                                         _rewrap, _rewrappers, _run_error, _same_structure, _static_int,
                                         _symbolic_gradients, _take_flag, _unwrap, _xla_unsupported, _zero_grad,
                                         _zeros_of)
from nanotf.ops.gradients_impl import _differentiable

__all__ = ["while_loop"]


def _scan(*args, **kwargs):
    from nanotf.ops.functional_ops import scan
    return scan(*args, **kwargs)


# -- While ------------------------------------------------------------------------------------------
class While(OpDef):
    """Runs `body` while `cond` holds (or over the rows of the sliced inputs `xs`, for scan and map_fn).

    Inputs: loop variables, sliced inputs, captures, then maximum_iterations if given. Outputs: the final
    loop variables, the body's per-iteration outputs stacked (scan), and a trace for the gradient."""

    stateful = True   # the body may hold stateful ops (random, assign): never folded or deduplicated

    def infer(op):
        a = op._attrs
        body, n, nx = a["body"], a["n_vars"], a["n_xs"]
        specs = [(t.dtype, t.shape) for t in body.inputs[:n]]
        trips = None
        if a["cond"] is None and nx:
            trips = op._inputs[n].shape[0].value if op._inputs[n].shape.ndims else None
        for y in body.outputs[n:]:
            specs.append((y.dtype, TensorShape([trips]).concatenate(y.shape) if y.shape.ndims is not None
                          else unknown_shape()))
        specs.append((dtypes.string, TensorShape([])))
        return specs

    def kernel(op, ctx):
        return _WhileRunner(op, ctx).run

    # XLA: see _lower_while (lax.scan over a trip count known while tracing, else lax.while_loop)
    lower_takes_key = True
    lower_passes_handles = True   # the trace output is an XlaTrace the WhileGrad lowering reads

    def lower(op, key, *ins):
        return _lower_while(op, key, ins)

    samples = [
        # an RNN-like loop: loop var, captured tensors, three iterations
        Sample(lambda x, w: while_loop(lambda i, h: i < 3, lambda i, h: (i + 1, _nn().tanh(h * w) + x),
                                       [0, x])[1], [(2, 3), (2, 3)]),
        # a trip count read from a captured tensor, and a product loop: d/dx x^4
        Sample(lambda x: while_loop(lambda i, y: i < 4, lambda i, y: (i + 1, y * x), [0, _math().abs(x) + 1.0])[1],
               [(3,)]),
        # the for-each-row form (scan): sliced input, stacked outputs, reversed order
        Sample(lambda x, w: _scan(lambda a, r: _nn().tanh(a * w + r), x, reverse=True), [(4, 3), (3,)]),
    ]

    def grad(op, *grads):
        return _while_grad(op, grads)


class _WhileRunner:
    def __init__(self, op, ctx):
        a = op._attrs
        self.op, self.ctx, self.a = op, ctx, a
        self.asked = _record_flag(ctx, op)
        self.n, self.nx = a["n_vars"], a["n_xs"]
        self.ny = len(a["body"].outputs) - self.n
        cond = a["cond"]
        self.cond_fn = None if cond is None else _fg.CompiledFunction(
            ctx, cond, cond.inputs + list(cond.captures.values()), cond.outputs)
        body = a["body"]
        self.plain = _fg.CompiledFunction(ctx, body, body.inputs + list(body.captures.values()), body.outputs)
        self.recording = _RecordingFunction(ctx, body, body.inputs + list(body.captures.values()), body.outputs,
                                            a["request"])

    def run(self, *args):
        a, n, nx, ny = self.a, self.n, self.nx, self.ny
        # Record only in runs that also run the gradient: its request marker ran just before this op.
        record = _take_flag(self.asked)
        if record:
            n_request, body_fn = self.recording.get()
            record = n_request > 0   # otherwise every record is empty: one shared () per iteration
        else:
            body_fn = self.plain
        vals = list(args[:n])
        xs = args[n:n + nx]
        body_caps = [args[i] for i in a["body_inputs"]]
        cond_caps = [args[i] for i in a["cond_inputs"]]
        limit = None if a["max_input"] is None else int(args[a["max_input"]])
        if nx:
            rows = len(xs[0]) if np.ndim(xs[0]) else 0
            for x in xs:
                if np.ndim(x) == 0 or len(x) != rows:
                    raise _run_error(self.op, "%s: the inputs to slice must have the same first dimension, got "
                                     "shapes %s" % (self.op.name, [np.shape(x) for x in xs]))
            limit = rows if limit is None else min(limit, rows)
        reverse = a["reverse"]
        ys = [[] for _ in range(ny)]
        records = [] if record else None
        cond_fn = self.cond_fn
        i = 0
        while limit is None or i < limit:
            if cond_fn is not None:
                c = cond_fn(*vals, *cond_caps)[0]
                if np.ndim(c) != 0:
                    raise _run_error(self.op, "%s: the loop condition must be a scalar, got shape %s"
                                     % (self.op.name, np.shape(c)))
                if not c:
                    break
            if nx:
                row = limit - 1 - i if reverse else i
                outs = body_fn(*vals, *[x[row] for x in xs], *body_caps)
            else:
                outs = body_fn(*vals, *body_caps)
            vals = outs[:n]
            for j in range(ny):
                ys[j].append(outs[n + j])
            if record:
                records.append(outs[n + ny:])
            i += 1
        stacked = []
        for j, y in enumerate(ys):
            if reverse:
                y.reverse()
            if y:
                stacked.append(np.stack(y))
            else:
                shape = a["body"].outputs[n + j].shape
                if not shape.is_fully_defined():
                    raise _run_error(self.op, "%s: no iteration ran and the per-iteration output %d has no "
                                     "static shape %s to give an empty result" % (self.op.name, j, shape))
                stacked.append(np.zeros([0] + shape.as_list(), dtype=a["body"].outputs[n + j].dtype.as_numpy_dtype))
        trace = _Trace(i, records if record else (_EMPTY_RECORDS if body_fn is not self.plain else None), None,
                       [np.shape(x) for x in args])
        return builtins.tuple(vals) + builtins.tuple(stacked) + (trace,)


# -- XLA lowering -------------------------------------------------------------------------------------
_MAX_STATIC_TRIPS = 100000   # a trip count found by running the loop's counter while tracing stops here


def _gradient_wanted(op):
    return any(c.type == "WhileGrad" for c in op.outputs[-1].consumers())


def _var_deps(graph, wanted, n):
    """Indices of the first n inputs (loop variables) of `graph` that `wanted` depends on."""
    args = graph.inputs[:n]
    ops = _function_ops(graph, wanted, set(args) | set(graph.captures.values()), control_outputs=False)
    used = {t for op in ops for t in op._inputs}.union(wanted)
    return {j for j, t in enumerate(args) if t in used}


def _static_trip_count(op, ins, limit):
    """The number of iterations when the loop variables its condition depends on (through the body too) are
    known while tracing and computed by pure ops (a counter `i < 28`, dynamic_rnn's time < shape(x)[0]): the loop
    is run then and there on those alone, with the NumPy kernels. None when it is only known at run time."""
    a = op._attrs
    cond, body, n = a["cond"], a["body"], a["n_vars"]
    deps = _var_deps(cond, cond.outputs[:1], n)
    while True:
        more = _var_deps(body, [body.outputs[j] for j in sorted(deps)], n) - deps
        if not more:
            break
        deps |= more
    if not all(xla.is_concrete(ins[j]) for j in deps):
        return None
    runtime = _fold_runtime()

    def evaluate(graph, env, wanted, captured):
        env.update(zip(graph.captures.values(), captured))
        for o in _function_ops(graph, wanted, env, control_outputs=False):
            args = [env[t] for t in o._inputs]
            if o._def.stateful or not all(xla.is_concrete(x) for x in args):
                return None
            outs = runtime.kernel(o)(*args)
            env.update(zip(o._outputs, outs if len(o._outputs) > 1 else (outs,)))
        return [env[t] for t in wanted]
    cond_caps = [ins[i] for i in a["cond_inputs"]]
    body_caps = [ins[i] for i in a["body_inputs"]]
    vals = {j: ins[j] for j in deps}
    cap = _MAX_STATIC_TRIPS if limit is None else min(limit, _MAX_STATIC_TRIPS)
    for count in range(cap + 1):
        if limit is not None and count == limit:
            return count
        c = evaluate(cond, {cond.inputs[j]: v for j, v in vals.items()}, cond.outputs[:1], cond_caps)
        if c is None:
            return None
        if not c[0]:
            return count
        nxt = evaluate(body, {body.inputs[j]: v for j, v in vals.items()}, [body.outputs[j] for j in sorted(deps)],
                       body_caps)
        if nxt is None:
            return None
        vals = dict(zip(sorted(deps), nxt))
    return None


class _Unsupported:
    """A forward value a loop's gradient would need and the XLA lowering cannot record."""

    def __init__(self, what):
        self.what = what


def _lower_while(op, key, ins):
    """The While op on XLA. With a trip count known while tracing (the for-each-row form, or a counter loop), one
    lax.scan runs the body that many times, stacking the per-iteration outputs and, when the graph holds the
    loop's gradient, the forward values the gradient body reads (a["request"]), as TF's stacks do. Otherwise a
    lax.while_loop runs it (bounded by maximum_iterations); its gradient then needs maximum_iterations known while
    tracing: the loop runs as a scan of that length, iterations past the condition's end leaving the carry as
    it is."""
    a = op._attrs
    body, cond, n, nx = a["body"], a["cond"], a["n_vars"], a["n_xs"]
    ny = len(body.outputs) - n
    jnp, lax = xla.jnp, xla.lax
    dts = [t.dtype.as_numpy_dtype for t in body.inputs[:n]]
    init = tuple(_as_jax(v, dt) for v, dt in zip(ins[:n], dts))
    xs = ins[n:n + nx]
    body_caps = [ins[i] for i in a["body_inputs"]]
    cond_caps = [ins[i] for i in a["cond_inputs"]]
    limit = None   # maximum_iterations: an int known while tracing, or a traced value (lax.while_loop only)
    if a["max_input"] is not None:
        limit = _static_int(ins[a["max_input"]])
        if limit is None:
            if nx:
                raise _xla_unsupported(op, "maximum_iterations is computed at run time and the loop slices its "
                                           "inputs (the stacked outputs' size would depend on it)")
            limit = ins[a["max_input"]]
        else:
            limit = max(limit, 0)
    requests = list(a["request"]) if _gradient_wanted(op) else []
    reverse = a["reverse"]

    constant = {}   # request index -> value known while tracing (the same in every iteration): not stacked

    def step(i, vals, rows):
        env = dict(zip(body.inputs[:n], vals))
        env.update(zip(body.inputs[n:], rows))
        env.update(zip(body.captures.values(), body_caps))
        outs = _lower_graph(body, env, list(body.outputs) + requests, lambda o: _inner_key(key, o._id, i))
        recs = []
        for k, (t, v) in enumerate(zip(requests, outs[n + ny:])):
            if isinstance(v, XlaTrace):   # refused by WhileGrad's lowering, if the plan runs it
                constant[k] = _Unsupported("the gradient of a loop or cond inside a loop body (%s)" % t.name)
            elif xla.is_concrete(v):
                constant[k] = v
            else:
                recs.append(v)
        return tuple(_as_jax(v, dt) for v, dt in zip(outs[:n], dts)), tuple(outs[n:n + ny]), tuple(recs)

    def records(stacked):
        """Per request: (True, value for every iteration) or (False, values stacked by row)."""
        it = iter(stacked)
        return [(True, constant[k]) if k in constant else (False, next(it)) for k in range(len(requests))]

    def holds(vals):
        env = {t: v for t, v in zip(cond.inputs, vals)}
        env.update(zip(cond.captures.values(), cond_caps))
        return _lower_graph(cond, env, cond.outputs[:1])[0]

    trips = None
    if cond is None:
        rows = np.shape(xs[0])[0] if np.ndim(xs[0]) else 0
        for x in xs:
            if np.ndim(x) == 0 or np.shape(x)[0] != rows:
                raise ValueError("the inputs to slice must have the same first dimension, got shapes %s"
                                 % [np.shape(x) for x in xs])
        trips = rows if limit is None else min(limit, rows)
    elif limit is None or isinstance(limit, int):
        trips = _static_trip_count(op, ins, limit)
    trace = dict(input_shapes=[np.shape(x) for x in ins], reverse=reverse, records=None)
    if trips is not None:
        def scan_step(vals, i_rows):
            i, rows = i_rows
            nxt, ys, recs = step(i, vals, rows)
            return nxt, (ys, recs)
        final, (ys, recs) = lax.scan(scan_step, init, (jnp.arange(trips), tuple(x[:trips] for x in xs)),
                                     length=trips, reverse=reverse)
        trace.update(n=trips, rows=trips, records=records(recs))
        return final + tuple(ys) + (XlaTrace(**trace),)
    if requests and isinstance(limit, int):   # a masked scan of maximum_iterations steps, for the gradient
        def masked_step(carry, i):
            vals, count, live = carry
            live = jnp.logical_and(live, holds(vals))
            nxt, _, recs = step(i, vals, ())
            nxt = tuple(jnp.where(live, new, old) for new, old in zip(nxt, vals))
            return (nxt, count + live.astype(np.int32), live), recs
        (final, count, _), recs = lax.scan(masked_step, (init, np.int32(0), jnp.bool_(True)), jnp.arange(limit))
        trace.update(n=count, rows=limit, records=records(recs))
        return final + (XlaTrace(**trace),)

    def going(carry):
        i, vals = carry
        c = jnp.asarray(holds(vals), dtype=bool)
        return c if limit is None else jnp.logical_and(c, i < limit)

    def next_carry(carry):
        i, vals = carry
        return i + 1, step(i, vals, ())[0]
    count, final = lax.while_loop(going, next_carry, (jnp.int32(0), init))
    trace.update(n=count, rows=None)
    return final + (XlaTrace(**trace),)


def _lower_while_grad(op, ins):
    """WhileGrad on XLA: a lax.scan over the forward loop's recorded iterations in reverse, running the gradient
    body on each one's recorded forward values; iterations past a masked forward loop's end change nothing."""
    a = op._attrs
    jnp, lax = xla.jnp, xla.lax
    nv, ny = a["n_dvars"], a["n_dys"]
    trace = ins[nv + ny]
    forward = op._inputs[nv + ny]._op.name
    if not isinstance(trace, XlaTrace):
        raise _xla_unsupported(op, "the forward loop %s did not run in this XLA computation" % forward)
    if trace.records is None:
        raise _xla_unsupported(op, "the forward loop %s runs a number of iterations known only at run time; its "
                                   "gradient needs maximum_iterations (as TF's XLA does)" % forward)
    gb = a["grad_body"]
    caps = ins[nv + ny + 1:]
    out_inputs, sliced = a["out_inputs"], a["slice_outputs"]
    dts = [dt.as_numpy_dtype for dt, _ in a["out_specs"]]
    shapes = [trace.input_shapes[i] for i in out_inputs]
    n_rows, n = trace.rows, trace.n
    recorded = [trace.records[k] for k in a["record_index"]]
    for _, v in recorded:
        if isinstance(v, _Unsupported):
            raise _xla_unsupported(op, v.what)
    stacked = tuple(v for same, v in recorded if not same)
    accumulated = [q for q in range(nv, len(out_inputs)) if not sliced[q]]
    slices = [q for q in range(nv, len(out_inputs)) if sliced[q]]

    def back(carry, row_values):
        dv, acc = carry
        row, dy, rec = row_values
        env = dict(zip(gb.inputs, tuple(dv) + tuple(dy)))
        env.update(zip(gb.captures.values(), caps))
        rec = iter(rec)
        env.update(zip(gb.intermediates.values(), [v if same else next(rec) for same, v in recorded]))
        outs = [_as_jax(v, dts[q]) for q, v in enumerate(_lower_graph(gb, env, gb.outputs))]
        live = row < n if not isinstance(n, int) or n != n_rows else None

        def masked(new, old):
            return new if live is None else jnp.where(live, new, old)
        dv = tuple(masked(outs[q], dv[q]) for q in range(nv))
        acc = tuple(x + masked(outs[q], jnp.zeros_like(outs[q])) for x, q in zip(acc, accumulated))
        return (dv, acc), tuple(masked(outs[q], jnp.zeros_like(outs[q])) for q in slices)
    init = (tuple(_as_jax(x, dts[q]) for q, x in enumerate(ins[:nv])),
            tuple(jnp.zeros(shapes[q], dts[q]) for q in accumulated))
    dys = tuple(y[:n_rows] for y in ins[nv:nv + ny])
    (dv, acc), xgrads = lax.scan(back, init, (jnp.arange(n_rows), dys, stacked), length=n_rows,
                                 reverse=not trace.reverse)
    result = list(dv) + [None] * (len(out_inputs) - nv)
    for q, x in zip(accumulated, acc):
        result[q] = x
    for q, g in zip(slices, xgrads):   # rows the loop never reached get zeros
        pad = shapes[q][0] - n_rows
        result[q] = jnp.concatenate([g, jnp.zeros((pad,) + tuple(shapes[q][1:]), dts[q])]) if pad else g
    return _kernel_result(result)


def _while_grad(op, grads):
    a = op._attrs
    n_inputs = len(op._inputs)
    if not a["back_prop"]:
        return [None] * n_inputs
    body, n, nx = a["body"], a["n_vars"], a["n_xs"]
    ny = len(body.outputs) - n
    var_f = [j for j in range(n) if _differentiable(body.inputs[j].dtype)]
    y_f = [j for j in range(ny) if body.outputs[n + j].dtype.is_floating]
    needed = _needed_inputs(n_inputs)
    x_f = [j for j in range(nx) if body.inputs[n + j].dtype.is_floating and needed[n + j]]
    caps = list(body.captures.values())
    cap_f = [k for k, p in enumerate(caps) if _differentiable(p.dtype) and needed[a["body_inputs"][k]]]
    if not var_f and not y_f:
        return [None] * n_inputs
    dvars = [grads[j] if grads[j] is not None else _zero_grad(op.outputs[j]) for j in var_f]
    dys = [grads[n + j] if grads[n + j] is not None else array_ops.zeros_like(op.outputs[n + j]) for j in y_f]
    specs = ([(body.inputs[j].dtype, body.inputs[j].shape, "grad_var") for j in var_f] +
             [(body.outputs[n + j].dtype, body.outputs[n + j].shape, "grad_y") for j in y_f])
    wanted = {}

    def build(*phs):
        dv, dy = phs[:len(var_f)], phs[len(var_f):]
        ys = [body.outputs[j] for j in var_f] + [body.outputs[n + j] for j in y_f]
        xs = [body.inputs[j] for j in var_f] + [body.inputs[n + j] for j in x_f] + [caps[k] for k in cap_f]
        gs = _symbolic_gradients(ys, xs, list(dv) + list(dy))
        outs = [g if g is not None else _zero_grad(d) for g, d in zip(gs[:len(var_f)], dv)]
        wanted["x"] = [(j, g) for j, g in zip(x_f, gs[len(var_f):len(var_f) + len(x_f)]) if g is not None]
        wanted["cap"] = [(k, g) for k, g in zip(cap_f, gs[len(var_f) + len(x_f):]) if g is not None]
        return outs + [g for _, g in wanted["x"]] + [g for _, g in wanted["cap"]]

    gb, outs = _gradient_graph(body.name + "_grad", body, op._inputs, a["body_inputs"], specs, build)
    _fg.finish(gb, outs)
    attrs = {"grad_body": gb, "n_dvars": len(var_f), "n_dys": len(y_f), "forward": op.name,
             "record_index": _request_index(a["request"], gb), "reverse": a["reverse"],
             "out_specs": ([(body.inputs[j].dtype, op._inputs[j].shape) for j in var_f] +
                           [(body.inputs[n + j].dtype, op._inputs[n + j].shape) for j, _ in wanted["x"]] +
                           [(caps[k].dtype, op._inputs[a["body_inputs"][k]].shape) for k, _ in wanted["cap"]]),
             "out_inputs": ([j for j in var_f] + [n + j for j, _ in wanted["x"]] +
                            [a["body_inputs"][k] for k, _ in wanted["cap"]]),
             "slice_outputs": [False] * len(var_f) + [True] * len(wanted["x"]) + [False] * len(wanted["cap"])}
    inputs = dvars + dys + [op.outputs[-1]] + list(gb.captures)
    gop = get_default_graph().create_op("WhileGrad", inputs, attrs, name="WhileGrad",
                                        control_inputs=_outer_deps(gb) + _marker_deps(op))
    return _grads_by_input(n_inputs, gop.outputs, attrs["out_inputs"])


class WhileGrad(OpDef):
    """The gradient of a While: runs the body's gradient function over the recorded iterations in reverse,
    carrying the loop variables' gradients and summing those of the captured tensors."""

    grad = None   # no second-order gradients through loops

    def infer(op):
        return [(dt, sh) for dt, sh in op._attrs["out_specs"]]

    lower_passes_handles = True   # reads the forward While's XlaTrace

    def lower(op, *ins):
        return _lower_while_grad(op, ins)

    def kernel(op, ctx):
        a = op._attrs
        gb = a["grad_body"]
        fn = _fg.CompiledFunction(ctx, gb, gb.inputs + list(gb.captures.values()) + list(gb.intermediates.values()),
                                  gb.outputs)
        nv, ny, reverse = a["n_dvars"], a["n_dys"], a["reverse"]
        record_index, out_inputs, specs = a["record_index"], a["out_inputs"], a["out_specs"]
        sliced = a["slice_outputs"]
        n_out = len(out_inputs)
        npdt = [dt.as_numpy_dtype for dt, _ in specs]

        def run(*args):
            dv = list(args[:nv])
            dy = args[nv:nv + ny]
            trace = _unwrap(args[nv + ny])
            caps = list(args[nv + ny + 1:])
            if not isinstance(trace, _Trace) or trace.records is None:
                raise _run_error(op, "%s: the forward loop %s recorded nothing for its gradient (was its output "
                                 "fed?)" % (op.name, a["forward"]))
            n = trace.n
            acc = [None] * n_out
            for it in range(n - 1, -1, -1):
                rec = trace.records[it]
                row = n - 1 - it if reverse else it
                outs = fn(*dv, *[y[row] for y in dy], *caps, *[rec[k] for k in record_index])
                dv = list(outs[:nv])
                for q in range(nv, n_out):
                    g = outs[q]
                    if sliced[q]:
                        if acc[q] is None:
                            acc[q] = [None] * n
                        acc[q][row] = g
                    elif npdt[q] is np.object_:   # a TensorArray's gradient: element-wise sum
                        acc[q] = g if acc[q] is None else _flow_add(acc[q], g)
                    elif acc[q] is None:
                        acc[q] = np.array(g, dtype=npdt[q], copy=True)
                    else:
                        np.add(acc[q], g, out=acc[q], casting="unsafe")
            results = dv
            for q in range(nv, n_out):
                shape = trace.input_shapes[out_inputs[q]]
                if acc[q] is None:
                    results.append(_zeros_of(shape, npdt[q]))
                elif sliced[q]:
                    rows = acc[q]
                    if len(rows) < shape[0] or any(r is None for r in rows):   # rows the loop never reached
                        full = [_zeros_of(shape[1:], npdt[q])] * shape[0]
                        full[:len(rows)] = [r if r is not None else full[0] for r in rows]
                        rows = full
                    results.append(np.stack(rows).astype(npdt[q], copy=False))
                else:
                    results.append(acc[q])
            return _kernel_result(results)
        return run


def _loop_var_error(t, shape, out_shape):
    return ValueError("Input tensor '%s' enters the loop with shape %s, but has shape %s after one iteration. To "
                      "allow the shape to vary across iterations, use the `shape_invariants` argument of "
                      "tf.while_loop to specify a less-specific shape." % (t.name, shape, out_shape))


def _build_loop(scope, loop_vars, flat, invariants, cond_fn, body_fn, n_xs=(), max_iter=None, back_prop=True,
                reverse=False, n_ys=None):
    """Traces cond (None: run over the rows of `n_xs`) and body, and creates the While op.

    body_fn(*flat loop var tensors, *x row tensors) -> (flat next loop vars, flat per-iteration outputs)."""
    outer = get_default_graph()
    base = scope[:-1]
    n = len(flat)
    var_specs = [(t.dtype, s, "loop_var") for t, s in zip(flat, invariants)]
    cond_g = None
    if cond_fn is not None:
        def traced_cond(*args):
            c = cond_fn(*args)
            c = convert_to_tensor(c)
            if c.dtype is not dtypes.bool:
                raise TypeError("The loop condition of %r must return a boolean tensor, got %s of dtype %s"
                                % (base, c.name, c.dtype.name))
            if c.shape.ndims not in (None, 0):
                raise ValueError("The loop condition of %r must return a scalar, got shape %s" % (base, c.shape))
            return [c]
        cond_g, c_out = _fg.trace(base + "/cond", outer, traced_cond, var_specs, name_scope=base)
        _fg.finish(cond_g, c_out)
    x_specs = [(x.dtype, x.shape[1:] if x.shape.ndims else unknown_shape(), "row") for x in n_xs]

    def traced_body(*args):
        nxt, ys = body_fn(*args)
        out = []
        for t, s, v in zip(flat, invariants, nxt):
            v = convert_to_tensor(v, preferred_dtype=t.dtype)
            if v.dtype is not t.dtype:
                raise TypeError("Loop variable %s enters the loop as %s but the body returns %s of dtype %s"
                                % (t.name, t.dtype.name, v.name, v.dtype.name))
            if not _leq_shape(v.shape, s):
                raise _loop_var_error(t, s, v.shape)
            out.append(v)
        return out + [convert_to_tensor(y) for y in ys]
    body_g, b_out = _fg.trace(base + "/body", outer, traced_body, var_specs + x_specs, name_scope=base)
    _fg.finish(body_g, b_out)
    inputs = list(flat) + list(n_xs)
    cond_idx = _index_inputs(cond_g, inputs) if cond_g is not None else []
    body_idx = _index_inputs(body_g, inputs)
    max_idx = None
    if max_iter is not None:
        inputs.append(max_iter)
        max_idx = len(inputs) - 1
    attrs = {"cond": cond_g, "body": body_g, "n_vars": n, "n_xs": len(n_xs), "cond_inputs": cond_idx,
             "body_inputs": body_idx, "max_input": max_idx, "back_prop": bool(back_prop), "reverse": bool(reverse),
             "request": []}
    deps = _outer_deps(*([cond_g, body_g] if cond_g is not None else [body_g]))
    op = outer.create_op("While", inputs, attrs, name=scope, control_inputs=deps)
    return op.outputs[:n], op.outputs[n:-1]


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10, back_prop=True,
               swap_memory=False, name=None, maximum_iterations=None, return_same_structure=False):
    """Repeats `body` while `cond` is true (TF 1.x's tf.while_loop).

    cond(*loop_vars) -> boolean scalar; body(*loop_vars) -> next loop_vars (same structure, dtypes and
    shapes, or shapes allowed by `shape_invariants`). Returns the final loop_vars; as in TF 1.x, a single
    loop variable in a list comes back as a tensor unless return_same_structure=True. The body runs as a
    compiled function graph per iteration; gradients flow through the iterations in reverse."""
    if not callable(cond):
        raise TypeError("cond must be callable.")
    if not callable(body):
        raise TypeError("body must be callable.")
    if parallel_iterations < 1:
        raise TypeError("parallel_iterations must be a positive integer.")
    if loop_vars is None or (_is_nested(loop_vars) and not _flatten(loop_vars)):
        raise ValueError("No loop variables provided")
    packed_single = not _is_nested(loop_vars)
    if packed_single:
        loop_vars = [loop_vars]
    try_to_pack = len(loop_vars) == 1 and not return_same_structure
    leaves = _flatten(loop_vars)
    wraps = _rewrappers(leaves)
    with name_scope(name, "while", [v for v in leaves if isinstance(v, Tensor)]) as scope:
        flat = [convert_to_tensor(_as_flat_tensor(v)) for v in leaves]
        if shape_invariants is None:
            invariants = [t.shape for t in flat]
        else:
            if packed_single or (len(loop_vars) == 1 and not _is_nested(shape_invariants)):
                shape_invariants = [shape_invariants]
            inv = _flatten_shapes(shape_invariants)
            if len(inv) != len(flat):
                raise ValueError("shape_invariants has %d shapes for %d loop variables" % (len(inv), len(flat)))
            invariants = []
            for t, s, w in zip(flat, inv, wraps):
                s = t.shape if w is not None else as_shape(s)   # a TensorArray's flow is always a scalar
                if not _leq_shape(t.shape, s):
                    raise ValueError("The shape invariant specified for %s is not compatible with the initial "
                                     "shape of the loop variable. It enters the loop with shape %s, but the "
                                     "specified shape invariant is %s." % (t.name, t.shape, s))
                invariants.append(s)
        max_iter = None
        if maximum_iterations is not None:
            max_iter = convert_to_tensor(maximum_iterations, name="maximum_iterations")
            if not max_iter.dtype.is_integer or max_iter.shape.ndims not in (None, 0):
                raise ValueError("maximum_iterations must be a scalar integer tensor, got %s" % (max_iter,))

        def call(fn, args, what):
            packed = _pack_as(loop_vars, _rewrap(wraps, args))
            return fn(*packed)

        def body_fn(*args):
            res = call(body, args, "body")
            if try_to_pack and not isinstance(res, (list, builtins.tuple)):
                res = [res]
            if not _same_structure(loop_vars, res) or len(_flatten(res)) != len(flat):
                raise ValueError("The body of %r must return the structure of loop_vars: %d loop variables %s, "
                                 "got %r" % (scope[:-1], len(flat), _structure_repr(loop_vars), res))
            return [_as_flat_tensor(r) for r in _flatten(res)], []
        outs, _ = _build_loop(scope, loop_vars, flat, invariants, lambda *a: call(cond, a, "cond"), body_fn,
                              max_iter=max_iter, back_prop=back_prop)
    outs = _rewrap(wraps, outs)
    if try_to_pack:
        return outs[0]
    return _pack_as(loop_vars, outs)


def _structure_repr(s):
    return repr(_pack_as(s, ["x"] * len(_flatten(s))))


def _flatten_shapes(s):
    """Leaves of a shape_invariants structure: TensorShapes, or lists of dims at the innermost level."""
    if isinstance(s, TensorShape) or s is None:
        return [s]
    if isinstance(s, dict):
        return [x for k in sorted(s) for x in _flatten_shapes(s[k])]
    if isinstance(s, (list, builtins.tuple)):
        if all(d is None or isinstance(d, (int, np.integer)) for d in s) and not any(
                isinstance(d, (list, builtins.tuple)) for d in s):
            return [TensorShape(list(s))]
        return [x for v in s for x in _flatten_shapes(v)]
    return [as_shape(s)]
