"""Generic checks over EVERY registered op type, driven by each OpDef's `samples`.

For each Sample the graph is built in float64 and run; every op output in the graph (forward,
gradient and second-order gradient ops) is checked against its static shape and dtype; gradients
are compared with central finite differences; the sample is rebuilt with placeholders of unknown
shape to check that shape rules and gradients cope with unknown rank.
"""
import zlib

import numpy as np
import pytest

import nanotf as tf
from nanotf.framework.op_def import registered_ops

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


def _grad_indices(sample, values):
    if sample.grad is not None:
        return list(sample.grad)
    return [i for i, v in enumerate(values) if v.dtype.kind == "f"]


def _computable_tensors(g, feeds):
    """Outputs of every op that can run with these feeds (not behind an unfed placeholder or a variable)."""
    blocked, tensors = set(), []
    for op in g.get_operations():
        if op.type == "VariableV2" or (op.type == "Placeholder" and op.outputs[0] not in feeds):
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
    with tf.Session(graph=g) as sess:
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
            sess = tf.Session(graph=g)
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
