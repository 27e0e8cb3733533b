"""The XLA backend against the NumPy kernels on every registered op's samples (tests/test_op_registry.py's
graphs): each sample is built in float64 with its gradient ops (d sum(out * w) / d inputs), every computable
tensor is evaluated by the NumPy Session and by the XLA executable, and values, shapes and dtypes must agree.
Ops whose lowering needs a fed input as a constant (Range, Fill's dims...) are checked by calling the
lowering directly on the NumPy values. Lowerings live on the OpDefs (`lower`, beside `kernel`)."""
import importlib
import pkgutil
import subprocess
import sys
import zlib

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="the XLA backend needs jax: pip install 'nanotf[xla]'")

import nanotf as tf  # noqa: E402
from nanotf.framework import errors  # noqa: E402
from nanotf.framework.op_def import registered_ops  # noqa: E402
from nanotf.xla import standalone  # noqa: E402


def _import_every_op_module():
    """Imports every nanotf module, so the registry holds every op type whatever tests were collected
    before (contrib.tensor_forest, contrib.factorization, data, ...). Examples are programs, not op modules."""
    for m in pkgutil.walk_packages(tf.__path__, "nanotf."):
        if not m.name.startswith("nanotf.examples") and not m.name.endswith("__main__"):
            importlib.import_module(m.name)


_import_every_op_module()
OPS = registered_ops()

# Op types with no lowering, and why. The test below fails when an op type is added without a lowering
# and without an entry here, and when a listed op gains a lowering (drop it from the list then).
_TENSOR_FOREST = "tensor_forest: the trees are Python objects in the session's state, grown on the host"
_KMEANS_STATE = "k-means: updates its variables in the session's store with host-side bookkeeping: host"
NO_LOWERING = {
    "Placeholder": "an unfed placeholder only raises its error: host",
    "Where": "output shape depends on the values (XLA needs static shapes): host at a plan's edge",
    "ReportUninitializedVariables": "strings: host",
    "ReportUninitializedResources": "strings: host",
    "ScalarSummary": "summary protos are strings: host (suffix of a plan)",
    "HistogramSummary": "summary protos are strings: host (suffix of a plan)",
    "ImageSummary": "summary protos are strings: host (suffix of a plan)",
    "TensorSummaryV2": "summary protos are strings: host (suffix of a plan)",
    "MergeSummary": "summary protos are strings: host (suffix of a plan)",
    "AssertAtMostOneTrue": "raises on values: XLA computations cannot raise; host",
    "TraceRequest": "host-side flag for functional ops' gradients",
    "LogUniformCandidateSampler": "rejection sampling with a data-dependent loop: host",
    "UniformCandidateSampler": "rejection sampling with a data-dependent loop: host",
    "TensorArrayV3": "TensorArrays are host-side handles in op_state",
    "TensorArrayWriteV3": "TensorArray", "TensorArrayReadV3": "TensorArray", "TensorArrayGatherV3": "TensorArray",
    "TensorArrayScatterV3": "TensorArray", "TensorArraySizeV3": "TensorArray", "TensorArrayConcatV3": "TensorArray",
    "TensorArrayClearGrad": "TensorArray", "TensorArrayReadGrad": "TensorArray",
    "TensorArrayGatherGrad": "TensorArray", "TensorArrayScatterGrad": "TensorArray",
    "TensorArraySplitGrad": "TensorArray", "TensorArrayAddGrad": "TensorArray",
    "TensorArrayZerosGrad": "TensorArray",
    "DecisionTreeResourceHandleOp": _TENSOR_FOREST, "CreateTreeVariable": _TENSOR_FOREST,
    "TreeIsInitializedOp": _TENSOR_FOREST, "TensorForestTreeTrain": _TENSOR_FOREST,
    "TreePredictionsV4": _TENSOR_FOREST + " (and its second output is strings)", "TreeSize": _TENSOR_FOREST,
    "FeatureUsageCounts": _TENSOR_FOREST,
    "IteratorV2": "tf.data iterators are Python generators on the host (a plan's prefix)",
    "OneShotIterator": "see IteratorV2", "MakeIterator": "see IteratorV2", "IteratorGetNext": "see IteratorV2",
    "KmeansPlusPlusInitialization": "k-means++ sampling with a data-dependent loop: host",
    "KMeansInitializeClusters": _KMEANS_STATE, "KMeansMiniBatchUpdate": _KMEANS_STATE,
    "KMeansMiniBatchSync": _KMEANS_STATE,
}
HANDLED_BY_EXECUTABLE = {"VariableV2", "IsVariableInitialized"}   # read the executable's variable state


def _lowering(op_type):
    return OPS[op_type].lower


LOWERED = {name for name in OPS if _lowering(name) is not None}
CASES = [(name, i) for name in sorted(LOWERED) for i in range(len(OPS[name].samples))]


def _numpy_pass_internal(name):
    """Op types the NumPy backend's passes make (e.g. _FusedMatMulApplyAdam): never in a graph, so never in a
    plan the XLA backend sees (it gets the plan before those passes)."""
    return name.startswith("_")


def test_ops_without_lowering_are_listed_with_a_reason():
    missing = {n for n in set(OPS) - LOWERED - HANDLED_BY_EXECUTABLE if not _numpy_pass_internal(n)}
    assert missing - set(NO_LOWERING) == set(), "op types without an XLA lowering: add one or list it here"
    assert set(NO_LOWERING) - missing == set(), "listed op types that now lower (or are gone): drop them"


def test_lowerings_live_on_their_op_defs():
    """Every lowering is its OpDef's `lower`, beside the kernel: the old table (nanotf/xla/lowerings/) is gone,
    and nothing else in nanotf.xla holds lowerings by op type."""
    import pathlib
    import re
    xla_dir = pathlib.Path(tf.__file__).parent / "xla"
    assert not (xla_dir / "lowerings" / "__init__.py").exists()
    tables = [str(p) for p in xla_dir.rglob("*.py") if re.search(r"^def lower_[A-Z]", p.read_text(), re.M)]
    assert tables == [], "lower_<Type> functions outside their OpDefs: move them beside the kernels"


def test_lowering_conventions_are_facts_of_lowered_ops():
    for name, d in OPS.items():
        if d.lower_updates_refs:
            assert d.lower is not None and d.ref_inputs, name
        if d.lower_takes_key:
            assert d.lower is not None and d.stateful, name


def test_import_nanotf_imports_no_jax():
    """Lowerings name JAX only when called: importing nanotf (every op module) never imports it."""
    code = ("import sys, nanotf, nanotf.framework.lowering, nanotf.contrib.tensor_forest; "
            "print(sorted(m for m in sys.modules if m == 'jax' or m.startswith(('jax.', 'jaxlib'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout[:500]


def _values(sample, rng):
    out = []
    for spec in sample.inputs:
        v = rng.standard_normal(spec) if isinstance(spec, tuple) else spec(rng) if callable(spec) else spec
        out.append(np.array(v))
    return out


def _build(sample, values, rng, feed):
    g = tf.Graph()
    with g.as_default():
        if feed:
            inputs = [tf.placeholder(tf.as_dtype(v.dtype), shape=v.shape, name="input%d" % i) for i, v in enumerate(values)]
        else:
            inputs = [tf.constant(v, dtype=tf.as_dtype(v.dtype)) for v in values]
        out = sample.build(*inputs)
        outs = [o for o in (out if isinstance(out, (list, tuple)) else [out]) if isinstance(o, tf.Tensor)]
        floats = [o for o in outs if o.dtype.is_floating]
        idx = [i for i, v in enumerate(values) if v.dtype.kind == "f"] if sample.grad is None else list(sample.grad)
        if floats and idx and feed:
            ws = [tf.constant(rng.standard_normal([d if d is not None else 1 for d in o.shape.as_list()])
                              .astype(o.dtype.as_numpy_dtype)) for o in floats]
            try:
                tf.gradients(floats, [inputs[i] for i in idx], grad_ys=ws)
            except LookupError:
                pass   # not differentiable
    return g, inputs


def _computable(g, feeds):
    blocked, tensors = set(), []
    for op in g.get_operations():
        if op.type == "VariableV2" or (op.type == "Placeholder" and op.outputs[0] not in feeds):
            blocked.add(op)
            continue
        if any(t.op in blocked for t in op.inputs if t not in feeds) or any(c in blocked for c in op.control_inputs):
            blocked.add(op)
            continue
        tensors.extend(t for t in op.outputs if t not in feeds and t.dtype != tf.string)
    return tensors


def _assert_same(t, want, got):
    want, got = np.asarray(want), np.asarray(got)
    where = "%s (op %s)" % (t.name, t.op.type)
    assert got.dtype == want.dtype, "%s: XLA gave dtype %s, NumPy %s" % (where, got.dtype, want.dtype)
    assert got.shape == want.shape, "%s: XLA gave shape %s, NumPy %s" % (where, got.shape, want.shape)
    if want.dtype.kind == "f":
        # float64 samples: both sides within a few ulps of the exact value, apart from cancellation
        tol = 1e-9 if want.dtype == np.float64 else 1e-5
        np.testing.assert_allclose(got, want, rtol=tol * 100, atol=tol, err_msg=where)
    else:
        np.testing.assert_array_equal(got, want, err_msg=where)


@pytest.mark.parametrize("op_type,index", CASES, ids=["%s-%d" % c for c in CASES])
def test_lowering_matches_numpy_kernel(op_type, index):
    sample = OPS[op_type].samples[index]
    rng = np.random.default_rng(zlib.crc32(op_type.encode()) + index)
    values = _values(sample, rng)
    g, inputs = _build(sample, values, rng, sample.feed)
    feeds = dict(zip(inputs, values)) if sample.feed else {}
    tensors = _computable(g, feeds)
    with tf.Session(graph=g) as sess, np.errstate(all="ignore"):
        want = sess.run(tensors, feeds)
        try:
            got = standalone.run(sess, tensors, feeds)
        except errors.InvalidArgumentError as e:
            if "as a constant" not in str(e):
                raise
            got = None
    if got is not None:
        for t, w, x in zip(tensors, want, got):
            _assert_same(t, w, x)
        return
    # the lowering needs fed inputs as constants: call it on the NumPy values of its inputs
    computed = dict(zip(tensors, want))
    computed.update(feeds)
    checked = 0
    for op in g.get_operations():
        if op.type != op_type:
            continue
        out = _lowering(op_type)(op, *[np.asarray(computed[t]) for t in op.inputs])
        out = out if isinstance(out, tuple) else (out,)
        for t, x in zip(op.outputs, out):
            _assert_same(t, computed[t], x)
        checked += 1
    assert checked


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k,s,padding", [(2, 2, "VALID"), (3, 1, "SAME"), (3, 2, "SAME")])
def test_max_pool_gradients_on_ties_go_to_each_windows_first_max(dtype, k, s, padding):
    """An image of few distinct values (ties in most windows), overlapping windows too: the XLA lowerings of
    MaxPoolGrad and MaxPoolGradGrad (written out as each window's first max, scattered back) equal the
    NumPy kernels, which follow TF (the first max in row-major window order gets the gradient)."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 3, (2, 6, 6, 2)).astype(dtype)
    with tf.Graph().as_default() as g:
        xt = tf.placeholder(dtype, x.shape)          # fed, so the lowerings run (constants would be folded)
        y = tf.nn.max_pool(xt, [1, k, k, 1], [1, s, s, 1], padding)
        dy = tf.placeholder(dtype, y.shape)
        dx = tf.gradients(y, xt, grad_ys=dy)[0]
        gx = tf.placeholder(dtype, x.shape)
        ggy = tf.gradients(dx, dy, grad_ys=gx)[0]     # MaxPoolGradGrad: gx read at each window's first max
        feeds = {xt: x, dy: rng.standard_normal(y.shape.as_list()).astype(dtype),
                 gx: rng.standard_normal(x.shape).astype(dtype)}
        with tf.Session(graph=g) as sess:
            want = sess.run([dx, ggy], feeds)
            got = standalone.run(sess, [dx, ggy], feeds)
    assert {op.type for op in g.get_operations()} >= {"MaxPoolGrad", "MaxPoolGradGrad"}
    for w, x_ in zip(want, got):
        np.testing.assert_allclose(x_, w, rtol=1e-12 if dtype == np.float64 else 1e-6, atol=1e-12)
