"""benchmarks/tf1_lockstep.py: its two processes really take turns, and its ratio arithmetic."""
import io
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import tf1_lockstep  # noqa: E402


def _intervals(result):
    return [(s, s + d) for r in result["runs"] for s, d in zip(r["starts"], r["seconds"])]


def test_two_processes_never_run_at_once_and_alternate_slices(monkeypatch):
    # two nanotf processes (the --self_check pairing) on fake data: 64 steps, 4 training runs per slice
    monkeypatch.setitem(tf1_lockstep.PROGRAMS, "word2vec_nce", ["--steps", "64"])
    res = tf1_lockstep.run_pair("word2vec_nce", ["nanotf", "nanotf:2"], None, "nanotf")
    assert set(res) == {"nanotf", "nanotf:2"}
    a, b = res["nanotf"], res["nanotf:2"]
    assert "runs" in a and "runs" in b, res
    # no run of one process overlaps a run of the other
    ia, ib = _intervals(a), _intervals(b)
    for s0, e0 in ia:
        for s1, e1 in ib:
            assert e0 <= s1 or e1 <= s0
    # training runs (the most frequent signature fetching an Operation): a slice ends after every 4 runs that fetch
    # an Operation (`init` is the first), so the 64 training runs fall in slices 0 (3 runs), 1-15 (4 each), 16 (1);
    # slice k of the first process runs before slice k of the second, which runs before slice k + 1 of the first
    train = lambda r: max((x for x in r["runs"] if x["train_op"]), key=lambda x: len(x["seconds"]))  # noqa: E731
    ta, tb = train(a), train(b)
    assert len(ta["seconds"]) == len(tb["seconds"]) == 64
    assert ta["slices"] == [(i + 1) // 4 for i in range(64)] and tb["slices"] == ta["slices"]
    first = lambda t, k: min(s for s, sl in zip(t["starts"], t["slices"]) if sl == k)  # noqa: E731
    for k in range(16):
        assert first(ta, k) < first(tb, k) < first(ta, k + 1)


def test_slice_steps_weights_each_train_signature_by_its_share_of_steps():
    # a GAN-like program: two train ops per step; warm-up drops the first 20 % (at least 3) of each
    d = {"train_op": True, "seconds": [0.010] * 20, "slices": [i // 5 for i in range(20)]}
    g = {"train_op": True, "seconds": [0.002] * 20, "slices": [i // 5 for i in range(20)]}
    evaluation = {"train_op": False, "seconds": [1.0], "slices": [3]}
    steps = tf1_lockstep.slice_steps([d, g, evaluation])
    assert sorted(steps) == [0, 1, 2, 3]
    assert steps[1] == pytest.approx(12.0)


def test_pair_ratios_compare_each_slice_with_its_neighbours_in_time():
    nano = {0: 2.0, 1: 4.0}
    peer = {0: 1.0, 1: 2.0}
    # nanotf first: n0 t0 n1 t1 -> n0/t0, n1/t0, n1/t1
    assert sorted(tf1_lockstep.pair_ratios(nano, peer, True)) == [2.0, 2.0, 4.0]
    # peer first: t0 n0 t1 n1 -> n0/t0, n0/t1, n1/t1
    assert sorted(tf1_lockstep.pair_ratios(nano, peer, False)) == [1.0, 2.0, 2.0]


def test_peer_env_reaches_only_the_second_nanotf_process(monkeypatch):
    seen = {}

    class _Popen:
        def __init__(self, argv, env=None, **kw):
            seen.setdefault('envs', []).append(env)

    monkeypatch.setattr(tf1_lockstep.subprocess, "Popen", _Popen)
    children = [tf1_lockstep._start("nanotf", "word2vec_nce", None),
                tf1_lockstep._start("nanotf:2", "word2vec_nce", None, {"NANOTF_SOME_SWITCH": "0"})]
    for child in children:   # the turn pipes' parent ends: no process holds the other ends
        os.close(child['give'])
        os.close(child['back'])
    first, second = seen['envs']
    assert "NANOTF_SOME_SWITCH" not in first and second["NANOTF_SOME_SWITCH"] == "0"


def test_nanotf_env_reaches_only_the_first_nanotf_process(monkeypatch):
    started = []

    class _Exited:          # a child that exits before its first run: no turns, a failed result
        returncode = 1

        def wait(self):
            return 1

    def fake_start(framework, program, data_dir, env=None):
        started.append((framework, env))
        give, back = os.pipe()
        return {'proc': _Exited(), 'give': give, 'back': back, 'out': io.StringIO(), 'err': io.StringIO('boom')}

    monkeypatch.setattr(tf1_lockstep, "_start", fake_start)
    monkeypatch.setattr(tf1_lockstep, "_read_byte", lambda fd: b'')
    res = tf1_lockstep.run_pair("word2vec_nce", ["nanotf", "tensorflow"], None, "nanotf", None, {"NANOTF_XLA": "1"})
    assert started == [("nanotf", {"NANOTF_XLA": "1"}), ("tensorflow", None)]
    assert res["nanotf"]["failed"] == "FAILED rc=1: boom"


@pytest.mark.parametrize("argv,message", [
    (["--peer_env", "NANOTF_SOME_SWITCH=0"], "--peer_env takes NAME=VALUE and needs --self_check"),
    (["--self_check", "--peer_env", "NOVALUE"], "--peer_env takes NAME=VALUE and needs --self_check"),
    (["--nanotf_env", "NOVALUE"], "--nanotf_env takes NAME=VALUE")])
def test_env_flags_need_a_value(monkeypatch, capsys, argv, message):
    monkeypatch.setattr(sys, "argv", ["tf1_lockstep.py"] + argv + ["word2vec_nce"])
    with pytest.raises(SystemExit) as exit_info:
        tf1_lockstep.main()
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
