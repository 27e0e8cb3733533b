"""The backend seam (nanotf/compiler/backend.py): how a Session picks a backend and what a backend gets."""
import subprocess
import sys

import numpy as np
import pytest

import nanotf as tf
from nanotf.compiler import backend
from nanotf.framework import errors


def _jit_config(level):
    return tf.ConfigProto(graph_options=tf.GraphOptions(optimizer_options=tf.OptimizerOptions(
        global_jit_level=level)))


@pytest.mark.parametrize("level,want", [("ON_1", "xla"), ("ON_2", "xla"), ("OFF", "numpy"), ("DEFAULT", "numpy")])
def test_backend_for_reads_the_global_jit_level(level, want, monkeypatch):
    monkeypatch.delenv("NANOTF_XLA", raising=False)
    assert backend.backend_for(_jit_config(getattr(tf.OptimizerOptions, level))) == want


@pytest.mark.parametrize("value,want", [("1", "xla"), ("0", "numpy"), ("", "numpy")])
def test_backend_for_reads_nanotf_xla(value, want, monkeypatch):
    monkeypatch.setenv("NANOTF_XLA", value)
    assert backend.backend_for(None) == want
    assert backend.backend_for(tf.ConfigProto()) == want


class _Recording:
    """A backend that records what it is given and doubles every fed value (no tracing: no run_traced)."""

    made = []

    def __init__(self, runtime, plan):
        self.plan = plan
        _Recording.made.append(plan)

    def run(self, args):
        by_feed = dict(zip(self.plan.feed_tensors, args))
        return tuple(None if isinstance(e, tf.Operation) else by_feed[e.op.inputs[0]] * 2
                     for e in self.plan.elements)


def test_a_session_runs_on_the_backend_its_config_selects(monkeypatch):
    monkeypatch.setitem(backend._FACTORIES, "xla", _Recording)
    monkeypatch.delenv("NANOTF_XLA", raising=False)
    _Recording.made.clear()
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [2], name="x")
        y = tf.identity(x, name="y")
        with tf.Session(config=_jit_config(tf.OptimizerOptions.ON_1)) as sess:
            np.testing.assert_array_equal(sess.run(y, {x: [1.0, 2.0]}), [2.0, 4.0])
            md = tf.RunMetadata()
            sess.run(y, {x: [3.0, 4.0]}, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
                     run_metadata=md)
        with tf.Session() as plain:   # the default backend computes the identity
            np.testing.assert_array_equal(plain.run(y, {x: [1.0, 2.0]}), [1.0, 2.0])
    plan, = _Recording.made
    assert [op.name for op in plan.ops] == ["y"] and plan.elements == [y] and plan.feed_tensors == (x,)
    node, = md.step_stats.dev_stats[0].node_stats     # no run_traced: one node for the whole run
    assert node.node_name == "_Recording"


def test_an_op_error_raised_by_a_backend_reaches_the_caller_unchanged(monkeypatch):
    raised = []

    class Failing:
        def __init__(self, runtime, plan):
            self.op = plan.ops[0]

        def run(self, args):
            raised.append(errors.InvalidArgumentError(None, self.op, "from the backend"))
            raise raised[-1]
    monkeypatch.setitem(backend._FACTORIES, "xla", Failing)
    monkeypatch.setenv("NANOTF_XLA", "1")
    with tf.Graph().as_default():
        y = tf.constant(1.0, name="c") * 2.0
        with tf.Session() as sess:
            with pytest.raises(errors.InvalidArgumentError) as info:
                sess.run(y)
    assert info.value is raised[0] and info.value.op.name == "c"


def test_an_unknown_backend_is_named():
    with pytest.raises(ValueError, match="no_such_backend"):
        backend.factory("no_such_backend")


def test_importing_nanotf_imports_no_jax():
    out = subprocess.run([sys.executable, "-c", "import sys, nanotf; print('jax' in sys.modules)"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr
