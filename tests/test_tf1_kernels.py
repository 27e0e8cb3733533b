"""benchmarks/tf1_kernels.py: its worker times every case on nanotf, and its table says n/a without TensorFlow."""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import tf1_kernels  # noqa: E402


def test_worker_times_every_case_on_nanotf(monkeypatch, capsys):
    monkeypatch.setattr(tf1_kernels, "RUNS", 2)
    tf1_kernels.worker("nanotf")
    timings = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(timings) == 21   # 3 convolutions x 3, 2 pools x 2, 2 dense layers x 3, 2 Adam updates
    assert any(name.startswith("DCGAN conv") and name.endswith("input gradient") for name in timings)
    assert any(name.startswith("CNN conv 28x28x1") and name.endswith("filter gradient") for name in timings)
    assert any(name.startswith("VAE dense") and name.endswith("weight gradient") for name in timings)
    assert any(name.startswith("Adam update of 3136x1024") for name in timings)
    assert all(ms > 0 for ms in timings.values())


def test_table_without_tensorflow(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(tf1_kernels.tf1_programs, "TF_PYTHON", str(tmp_path / "missing"))
    monkeypatch.setattr(tf1_kernels, "_run_worker", lambda fw: {"case a": 2.0, "case b": 4.0})
    monkeypatch.setattr(sys, "argv", ["tf1_kernels.py", "--rounds", "2", "--out", str(tmp_path / "k")])
    tf1_kernels.main()
    text = (tmp_path / "k.md").read_text()
    assert "| case a | 2.00 | n/a | n/a |" in text and "| case b | 4.00 | n/a | n/a |" in text
    data = json.loads((tmp_path / "k.json").read_text())
    assert len(data["rounds"]["nanotf"]) == 2 and "tensorflow" not in data["rounds"]
    assert "TensorFlow column skipped" in capsys.readouterr().out
