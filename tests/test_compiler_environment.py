"""Process-wide settings: every environment switch is read in nanotf/framework/environment.py and
documented, and glibc's malloc tuning is one call the Session makes (NANOTF_MALLOC_TUNING=0: none)."""
import re
import sys
from pathlib import Path

import pytest

import nanotf as tf
from nanotf.client import _malloc
from nanotf.framework import environment, parallel

ROOT = Path(__file__).resolve().parents[1]


def test_every_environment_switch_is_documented_in_engine_md():
    text = (ROOT / "docs" / "engine.md").read_text()
    missing = [name for name in environment.SWITCHES if name not in text]
    assert not missing


def test_environment_variables_are_read_only_in_the_environment_module():
    readers = []
    for path in sorted((ROOT / "nanotf").rglob("*.py")):
        if path.name == "environment.py" and path.parent.name == "framework":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"os\.environ\b|os\.getenv\(", line):
                readers.append("%s:%d" % (path.relative_to(ROOT), n))
    assert not readers


@pytest.mark.parametrize("value", ["two", "-1", "1.5"])
def test_a_bad_thread_count_is_named(value, monkeypatch):
    monkeypatch.setenv("NANOTF_NUM_THREADS", value)
    with pytest.raises(ValueError, match="NANOTF_NUM_THREADS must be a number of threads"):
        environment.num_threads()


def test_the_thread_count_from_the_environment_sizes_the_pool(monkeypatch):
    monkeypatch.setenv("NANOTF_NUM_THREADS", "3")
    monkeypatch.setattr(parallel, "_threads", None)
    monkeypatch.setattr(parallel, "_requested", 0)
    assert parallel.num_threads() == 3


class _FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append((param, value))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
@pytest.mark.parametrize("setting,tuned", [(None, True), ("1", True), ("0", False)])
def test_the_first_session_tunes_malloc_unless_switched_off(setting, tuned, monkeypatch):
    libc = _FakeLibc()
    monkeypatch.setattr(_malloc.ctypes, "CDLL", lambda name: libc)
    monkeypatch.setattr(_malloc, "_done", False)
    if setting is None:
        monkeypatch.delenv("NANOTF_MALLOC_TUNING", raising=False)
    else:
        monkeypatch.setenv("NANOTF_MALLOC_TUNING", setting)
    with tf.Graph().as_default(), tf.Session():
        pass
    with tf.Graph().as_default(), tf.Session():   # once per process
        pass
    want = [(_malloc._M_MMAP_THRESHOLD, 32 << 20), (_malloc._M_TRIM_THRESHOLD, 256 << 20)]
    assert libc.calls == (want if tuned else [])
