"""Generic checks over EVERY registered op type, driven by each OpDef's `samples`.

For each Sample the graph is built in float64 and run; every op output in the graph (forward,
gradient and second-order gradient ops) is checked against its static shape and dtype; gradients
are compared with central finite differences; the sample is rebuilt with placeholders of unknown
shape to check that shape rules and gradients cope with unknown rank. The op's kernel is then
called directly to check its aliasing facts (view_map, destroy_map, fresh_output, is_identity), and
each fused op is compared with the producer and consumer it replaces (FUSION_RULES).
"""
import zlib

import numpy as np
import pytest

import nanotf as tf
from nanotf.framework.op_def import FUSION_RULES, OpDef, make_fused_node, registered_ops, view_map_of

# Differentiable, stateless op types allowed to have no samples, with the reason.
# (Stateful ops and ops declared `grad = None` are exempt without being listed: they take no
# differentiable inputs, so the gradient checks have nothing to compare.)
EXEMPT = {
}

OPS = registered_ops()
CASES = [(name, i) for name in sorted(OPS) for i in range(len(OPS[name].samples))]
FED_CASES = [c for c in CASES if OPS[c[0]].samples[c[1]].feed]


def _ids(cases):
    return ["%s-%d" % c for c in cases]


def _exemption(op_def):
    if op_def.type_name in EXEMPT:
        return EXEMPT[op_def.type_name]
    if op_def.stateful:
        return "stateful"
    if op_def.grad is None:
        return "declared not differentiable"
    return None


def test_every_op_has_samples_or_is_exempt():
    missing = [name for name, d in sorted(OPS.items()) if not d.samples and _exemption(d) is None]
    assert not missing, ("op types without `samples` (add Samples, or an exemption with a reason in "
                         "tests/test_op_registry.py): %s" % ", ".join("%s (%s)" % (n, OPS[n]._where) for n in missing))


def test_registry_covers_the_core_ops():
    # guards against the parametrization silently running over an empty or partial registry
    for name in ("Add", "MatMul", "Sum", "Placeholder", "Const", "Maximum", "Select", "ArgMax"):
        assert name in OPS


# -- building and running one sample
def _sample_values(sample, rng):
    values = []
    for spec in sample.inputs:
        if isinstance(spec, tuple):
            v = rng.standard_normal(spec)
        elif callable(spec):
            v = spec(rng)
        else:
            v = spec
        values.append(np.array(v))   # a copy: perturbing it must not change the sample
    return values


def _build(sample, values, shapes):
    """shapes: 'known' (placeholders of the values' shapes), 'unknown' (shape=None) or 'const'."""
    g = tf.Graph()
    with g.as_default():
        if shapes == "const":
            inputs = [tf.constant(v, dtype=tf.as_dtype(v.dtype), name="input%d" % i) for i, v in enumerate(values)]
        else:
            inputs = [tf.placeholder(tf.as_dtype(v.dtype), shape=v.shape if shapes == "known" else None,
                                     name="input%d" % i) for i, v in enumerate(values)]
        out = sample.build(*inputs)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    outs = [o for o in outs if isinstance(o, tf.Tensor)]
    assert outs, "sample.build returned no Tensor"
    return g, inputs, outs


def _session(g, feeds):
    """A Session on g with its variables (samples of update ops make them from fed values) initialized."""
    sess = tf.Session(graph=g)
    with g.as_default():
        variables = tf.global_variables()
        if variables:
            sess.run(tf.variables_initializer(variables), feeds)
    return sess


def _grad_indices(sample, values):
    if sample.grad is not None:
        return list(sample.grad)
    return [i for i, v in enumerate(values) if v.dtype.kind == "f"]


def _computable_tensors(g, feeds):
    """Outputs of every op that can run with these feeds (not behind an unfed placeholder or a variable
    that `_session` did not initialize)."""
    with g.as_default():
        initialized = {v.op for v in tf.global_variables()}
    blocked, tensors = set(), []
    for op in g.get_operations():
        unfed = op.type == "Placeholder" and op.outputs[0] not in feeds
        if unfed or (op.type == "VariableV2" and op not in initialized):
            blocked.add(op)
            continue
        if any(t.op in blocked for t in op.inputs if t not in feeds) or any(c in blocked for c in op.control_inputs):
            blocked.add(op)
            continue
        tensors.extend(t for t in op.outputs if t not in feeds)
    return tensors


def _check_static_vs_runtime(sess, g, feeds):
    """Every computable op output: static shape compatible with, and dtype equal to, the kernel's result."""
    tensors = _computable_tensors(g, feeds)
    with np.errstate(all="ignore"):   # e.g. second-order gradient ops evaluated at a singular point
        values = sess.run(tensors, feeds)
    problems = []
    for t, v in zip(tensors, values):
        arr = np.asarray(v)
        if not t.shape.is_compatible_with(arr.shape):
            problems.append("%s (op %s): static shape %s, kernel gave %s" % (t.name, t.op.type, t.shape, arr.shape))
        want = np.dtype(t.dtype.as_numpy_dtype)
        ok = arr.dtype.kind in "OSU" if t.dtype == tf.string else arr.dtype == want
        if not ok:
            problems.append("%s (op %s): static dtype %s, kernel gave %s" % (t.name, t.op.type, t.dtype.name, arr.dtype))
    assert not problems, "\n".join(problems)
    return dict(zip(tensors, values))


def _loss(sess, float_outs, weights, feeds):
    vals = sess.run(float_outs, feeds)
    return sum(float(np.sum(np.asarray(v, dtype=np.float64) * w)) for v, w in zip(vals, weights))


def _rng(op_type, index):
    return np.random.default_rng(zlib.crc32(op_type.encode()) + index)


def _gradient_setup(op_type, sample, values, g, inputs, outs, sess, feeds, rng):
    """Symbolic gradients of sum(out * w) w.r.t. the checked inputs (None when nothing to check)."""
    float_outs = [o for o in outs if o.dtype.is_floating]
    idx = _grad_indices(sample, values)
    if not OPS[op_type].is_differentiable() or not float_outs or not idx:
        return None
    out_vals = sess.run(float_outs, feeds)
    weights = [rng.standard_normal(np.shape(v)) for v in out_vals]
    with g.as_default():
        grad_ys = [tf.constant(w.astype(o.dtype.as_numpy_dtype)) for w, o in zip(weights, float_outs)]
        grads = tf.gradients(float_outs, [inputs[i] for i in idx], grad_ys=grad_ys)
    return float_outs, weights, idx, grads


@pytest.mark.parametrize("op_type,index", CASES, ids=_ids(CASES))
def test_sample_shapes_dtypes_and_gradients(op_type, index):
    sample = OPS[op_type].samples[index]
    rng = _rng(op_type, index)
    values = _sample_values(sample, rng)
    g, inputs, outs = _build(sample, values, "known" if sample.feed else "const")
    assert any(op.type == op_type for op in g.get_operations()), "sample builds no %s op" % op_type
    # a Const output can be fed too, which lets finite differences perturb constant inputs
    feeds = dict(zip(inputs, values)) if sample.feed else {}
    with _session(g, feeds) as sess:
        setup = _gradient_setup(op_type, sample, values, g, inputs, outs, sess, feeds, rng)
        if setup is not None:
            float_outs, weights, idx, grads = setup
            with g.as_default():
                firsts = [d for d in grads if d is not None]
                if firsts:
                    try:
                        tf.gradients(firsts, [inputs[i] for i in idx])
                    except LookupError as e:
                        pytest.fail("second-order gradient of %s is not differentiable: %s" % (op_type, e))
        computed = _check_static_vs_runtime(sess, g, feeds)
        if setup is None:
            return
        low_precision = any(o.dtype != tf.float64 for o in float_outs)
        for i, sym in zip(idx, grads):
            x = values[i]
            eps = 1e-3 if low_precision or x.dtype != np.float64 else 1e-6
            sym_val = np.zeros(x.shape) if sym is None else computed[sym] if sym in computed else sess.run(sym, feeds)
            assert np.shape(sym_val) == x.shape, "gradient w.r.t. input %d has shape %s, input has %s" % (
                i, np.shape(sym_val), x.shape)
            numeric = np.zeros(x.shape)
            base = {t: v for t, v in zip(inputs, values)}
            for j in np.ndindex(*x.shape):
                xp, xm = x.copy(), x.copy()
                xp[j] += eps
                xm[j] -= eps
                numeric[j] = (_loss(sess, float_outs, weights, {**base, inputs[i]: xp}) -
                              _loss(sess, float_outs, weights, {**base, inputs[i]: xm})) / (2 * eps)
            np.testing.assert_allclose(np.asarray(sym_val, dtype=np.float64), numeric, atol=sample.atol,
                                       rtol=sample.rtol, err_msg="%s sample %d: gradient w.r.t. input %d"
                                       % (op_type, index, i))


@pytest.mark.parametrize("op_type,index", FED_CASES, ids=_ids(FED_CASES))
def test_sample_with_unknown_shapes(op_type, index):
    """Placeholders of unknown rank: shape rules must cope, and values (outputs and gradients)
    must match the known-shape graph.

    Coping includes refusing cleanly: an op (or its gradient) that needs static shape information
    (e.g. unstack's `num`) may raise ValueError while the graph is built; that skips the sample.
    Any other exception, or a failure at run time, fails it."""
    sample = OPS[op_type].samples[index]
    results = []
    for shapes in ("known", "unknown"):
        rng = _rng(op_type, index)
        values = _sample_values(sample, rng)
        try:
            g, inputs, outs = _build(sample, values, shapes)
            feeds = dict(zip(inputs, values))
            sess = _session(g, feeds)
            setup = _gradient_setup(op_type, sample, values, g, inputs, outs, sess, feeds, rng)
        except ValueError as e:
            if shapes == "known":
                raise
            pytest.skip("%s refuses unknown shapes at graph-build time: %s" % (op_type, e))
        with sess:
            grads = [d for d in setup[3] if d is not None] if setup else []
            _check_static_vs_runtime(sess, g, feeds)
            results.append(sess.run(outs + grads, feeds))
    known, unknown = results
    assert len(known) == len(unknown)
    for k, u in zip(known, unknown):
        assert np.shape(k) == np.shape(u)
        if np.asarray(k).dtype.kind == "f":
            np.testing.assert_allclose(u, k, rtol=1e-9, atol=1e-12)
        else:
            np.testing.assert_array_equal(u, k)


# -- aliasing facts: the kernels called directly, on the values the sample's graph computes
def _runtime(sess):
    """The Session's runtime (`ctx` of the kernels: variables, op_state)."""
    return sess._runtime


def _value_inputs(op):
    """(input index, tensor) of the inputs a kernel takes as arguments (ref inputs are not)."""
    return [(j, t) for j, t in enumerate(op.inputs) if j not in op.op_def.ref_inputs]


def _kernel_args(sess, op, feeds):
    """Fresh copies of the values of op's value inputs, as the graph computes them."""
    tensors = [t for _, t in _value_inputs(op)]
    values = sess.run(tensors, feeds) if tensors else []
    return [v.copy() if isinstance(v, np.ndarray) else v for v in values]


def _ref_storage(op, ctx):
    """(input index, array) of the storage of the variables behind op's ref inputs."""
    return [(j, ctx.variables[t.op]) for j, t in enumerate(op.inputs)
            if j in op.op_def.ref_inputs and t.op in ctx.variables]


def _as_outputs(op, result):
    n = len(op.outputs)
    return [] if n == 0 else [result] if n == 1 else list(result)


def _shares(a, b):
    return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.shares_memory(a, b)


def _sharing(outputs, arrays):
    """{(output index, input index)} of outputs that share memory with an input's array."""
    return {(k, j) for k, o in enumerate(outputs) for j, a in arrays if _shares(o, a)}


def _snapshot(ctx):
    return {v: a.copy() for v, a in ctx.variables.items()}


def _restore(ctx, saved):
    ctx.variables.clear()
    ctx.variables.update({v: a.copy() for v, a in saved.items()})


def _call(op, ctx, args, start, **kw):
    """Runs op's kernel from the variable state `start`: (outputs, copies of the outputs, of the variables
    after, and (input index, array) of every array the kernel could see: its arguments and the variables'
    storage before and after the call, which an update may replace)."""
    _restore(ctx, start)
    seen = [(j, a) for (j, _), a in zip(_value_inputs(op), args)] + _ref_storage(op, ctx)
    with np.errstate(all="ignore"):
        outputs = _as_outputs(op, op.op_def.kernel(op, ctx)(*args, **kw))
    copies = [np.array(o, copy=True) for o in outputs]
    return outputs, copies, _snapshot(ctx), seen + _ref_storage(op, ctx)


def _assert_same_values(got, want, what):
    for k, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, "%s %d: %s %s, expected %s %s" % (
            what, k, g.shape, g.dtype, w.shape, w.dtype)
        if w.dtype.kind in "fc":   # float32 tolerance: the in-place or fused arithmetic may run in another order
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-9, err_msg="%s %d" % (what, k))
        else:
            np.testing.assert_array_equal(g, w, err_msg="%s %d" % (what, k))


def _assert_same_state(got, want, what):
    assert set(got) == set(want)
    for v in want:
        _assert_same_values([got[v]], [want[v]], "%s: variable %s" % (what, v.name))


def _ops_to_check(g, op_type, feeds):
    """The sample graph's ops of this type whose inputs the graph can compute."""
    computable = set(_computable_tensors(g, feeds)) | set(feeds)
    with g.as_default():
        computable |= {v._variable for v in tf.global_variables()}
    return [op for op in g.get_operations() if op.type == op_type
            and all(t in computable or j in op.op_def.ref_inputs for j, t in enumerate(op.inputs))]


def _check_facts(op, sess, feeds, exercised):
    d, ctx = op.op_def, _runtime(sess)
    args = _kernel_args(sess, op, feeds)
    start = _snapshot(ctx)
    views = view_map_of(op)
    allowed = {(k, j) for k, js in views.items() for j in js}

    outputs, plain, plain_state, arrays = _call(op, ctx, args, start)
    shared = _sharing(outputs, arrays) - allowed
    assert not shared, "%s %r: output/input pairs share memory without a view_map entry: %s" % (
        op.type, op.name, sorted(shared))
    if d.is_identity:
        assert outputs[0] is args[0], "%s is_identity, but the kernel does not return input 0 itself" % op.type

    if d.fresh_output:
        again = _call(op, ctx, [a.copy() if isinstance(a, np.ndarray) else a for a in args], start)[0]
        state = list(ctx.variables.values())
        for k, o in enumerate(outputs):
            what = "%s fresh_output: output %d" % (op.type, k)
            assert isinstance(o, np.generic) or (isinstance(o, np.ndarray) and o.flags.writeable), (
                "%s is %r, not a writeable array" % (what, type(o)))
            assert not any(_shares(o, a) for _, a in arrays), "%s shares an input" % what
            assert not any(_shares(o, a) for a in state), "%s shares session state" % what
            assert not any(_shares(o, a) for a in again), "%s is shared by the next call's" % what

    value_positions = {j: p for p, (j, _) in enumerate(_value_inputs(op))}
    for k, inputs in d.destroy_map.items():
        for i in inputs:
            x, o = args[value_positions[i]], plain[k]
            if not (isinstance(x, np.ndarray) and x.shape == o.shape and x.dtype == o.dtype):
                continue   # the compiler donates only an input of the output's shape and dtype
            exercised.add((k, i))
            donated = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
            outs, got, got_state, seen = _call(op, ctx, donated, start, out=donated[value_positions[i]])
            what = "%s %r with out=input %d" % (op.type, op.name, i)
            _assert_same_values(got, plain, what)
            _assert_same_state(got_state, plain_state, what)
            shared = _sharing(outs, seen) - allowed - {(k, i)}
            assert not shared, "%s: output/input pairs share memory undeclared: %s" % (what, sorted(shared))
    _restore(ctx, start)


ALIAS_OPS = [name for name in sorted(OPS) if OPS[name].samples]


@pytest.mark.parametrize("op_type", ALIAS_OPS)
def test_kernel_keeps_its_aliasing_facts(op_type):
    """Outputs share memory with inputs only as view_map/destroy_map declare; a kernel given `out=` (the
    array of an input destroy_map names) gives the plain kernel's values; fresh_output outputs are new
    writeable arrays; is_identity kernels return input 0. Every destroy_map entry is exercised."""
    d = OPS[op_type]
    exercised, checked = set(), 0
    for index, sample in enumerate(d.samples):
        values = _sample_values(sample, _rng(op_type, index))
        g, inputs, _ = _build(sample, values, "known" if sample.feed else "const")
        feeds = dict(zip(inputs, values)) if sample.feed else {}
        with _session(g, feeds) as sess:
            for op in _ops_to_check(g, op_type, feeds)[:2]:
                _check_facts(op, sess, feeds, exercised)
                checked += 1
    assert checked, "no sample of %s builds an op whose inputs the test can compute" % op_type
    declared = {(k, i) for k, inputs in d.destroy_map.items() for i in inputs}
    assert declared <= exercised, "%s: no sample gives an input shaped like the output for destroy_map %s" % (
        op_type, sorted(declared - exercised))


def test_aliasing_facts_are_consistent():
    for name, d in sorted(OPS.items()):
        vm = d.view_map if isinstance(d.view_map, dict) else {}
        for facts in (vm, d.destroy_map):
            assert all(isinstance(k, int) and k >= 0 and all(isinstance(i, int) and i >= 0 for i in v)
                       for k, v in facts.items()), name
        assert not any(i in d.ref_inputs for v in d.destroy_map.values() for i in v), (
            "%s: a ref input (variable storage) cannot be destroyed" % name)
        assert not (d.fresh_output and (d.view_map or d.is_identity)), "%s: fresh_output yet a view" % name


# -- fused ops: the same values as the producer then the consumer they replace
FUSED_CASES = [(rule.fused, i) for rule in FUSION_RULES for i in range(len(OPS[rule.fused].samples))]


def test_fusion_rules_name_registered_ops():
    assert FUSION_RULES
    for rule in FUSION_RULES:
        for name in (rule.consumer, rule.producer, rule.fused):
            assert name in OPS, rule
        assert OPS[rule.fused].samples, "%s has no samples" % rule.fused


@pytest.mark.parametrize("fused_type,index", FUSED_CASES, ids=_ids(FUSED_CASES))
def test_fused_op_equals_its_producer_then_consumer(fused_type, index):
    """The fused op (built as a graph op, and as the FusedNode a compiler builds from the pair) leaves
    the variables and outputs the producer's kernel then the consumer's kernel leave."""
    rule = next(r for r in FUSION_RULES if r.fused == fused_type)
    sample = OPS[fused_type].samples[index]
    values = _sample_values(sample, _rng(fused_type, index))
    g, inputs, _ = _build(sample, values, "known")
    feeds = dict(zip(inputs, values))
    fused = next(op for op in g.get_operations() if op.type == fused_type)
    n = rule.producer_inputs
    with g.as_default():
        producer = g.create_op(rule.producer, fused.inputs[:n], {a: fused._attrs[a] for a in rule.producer_attrs},
                               name=rule.producer.lstrip("_"))   # a fused producer's type is no node name
        consumer_inputs = fused.inputs[n:]
        consumer_inputs.insert(rule.input_index, producer.outputs[0])
        consumer = g.create_op(rule.consumer, consumer_inputs,
                               {a: v for a, v in fused._attrs.items() if a not in rule.producer_attrs})
    with _session(g, feeds) as sess:
        ctx = _runtime(sess)
        start = _snapshot(ctx)
        product = producer.op_def.kernel(producer, ctx)(*_kernel_args(sess, producer, feeds))
        consumer_args = _kernel_args(sess, consumer, feeds)
        consumer_args[[j for j, _ in _value_inputs(consumer)].index(rule.input_index)] = product
        _, want, want_state, _ = _call(consumer, ctx, consumer_args, start)

        _, got, got_state, _ = _call(fused, ctx, _kernel_args(sess, fused, feeds), start)
        _assert_same_values(got, want, "%s vs %s(%s)" % (fused_type, rule.consumer, rule.producer))
        _assert_same_state(got_state, want_state, fused_type)

        node = make_fused_node(rule, consumer, producer)
        assert node.name == consumer.name and node.type == fused_type and node._outputs == consumer._outputs
        node_args = [v.copy() for v in sess.run([t for j, t in enumerate(node._inputs)
                                                 if j not in OPS[fused_type].ref_inputs], feeds)]
        _restore(ctx, start)
        got = _as_outputs(consumer, OpDef.lookup(fused_type).kernel(node, ctx)(*node_args))
        _assert_same_values(got, want, "%s on a FusedNode" % fused_type)
        _assert_same_state(_snapshot(ctx), want_state, "%s on a FusedNode" % fused_type)
