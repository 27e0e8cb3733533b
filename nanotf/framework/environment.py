"""Every environment variable nanotf reads, read here and nowhere else.

Each switch is a function that reads the variable when called (not at import), so a test's
`monkeypatch.setenv` or a user's `os.environ[...] = ...` before the first Session takes effect.
`SWITCHES` lists them for documentation (docs/engine.md, "Environment switches", shows the same).

| variable | read by | meaning |
| --- | --- | --- |
| NANOTF_NUM_THREADS | framework/parallel.py | threads kernels split big work over (0 or unset: one per core) |
| NANOTF_MALLOC_TUNING | client/_malloc.py | 0 keeps glibc's malloc settings (the first Session tunes them otherwise) |
| NANOTF_XLA | compiler/backend.py | 1 runs every Session on the "xla" backend (as global_jit_level ON_1 does) |
| NANOTF_XLA_DATA_PARALLEL | nanotf/xla | 1 lets the xla backend split a batch over several devices |
| NANOTF_DEBUG | examples' commands (_common.py) | 1 prints the full traceback of an error, as --debug does |
| NANOTF_DATA_DIR | examples' commands (_common.py) | where datasets are kept (default ~/.cache/nanotf) |
| KERAS_HOME | datasets/local_copies.py | Keras's cache root, searched for a local mnist.npz (default ~/.keras) |
"""
import os

SWITCHES = {
    "NANOTF_NUM_THREADS": "threads kernels split big work over (0 or unset: one per core)",
    "NANOTF_MALLOC_TUNING": "0 keeps glibc's malloc settings (otherwise the first Session tunes them)",
    "NANOTF_XLA": "1 runs every Session on the 'xla' backend",
    "NANOTF_XLA_DATA_PARALLEL": "1 lets the 'xla' backend split a batch over several devices",
    "NANOTF_DEBUG": "1 makes the example commands print the full traceback of an error",
    "NANOTF_DATA_DIR": "where the example commands keep datasets (default ~/.cache/nanotf)",
    "KERAS_HOME": "Keras's cache root, searched for a local copy of mnist.npz (default ~/.keras)",
}


def _on(name):
    """An on/off switch: unset, empty or "0" is off, anything else on."""
    return os.environ.get(name, "") not in ("", "0")


def num_threads():
    """NANOTF_NUM_THREADS as a count, 0 when unset or 0 (then: one per core). Raises ValueError
    on a value that is not a non-negative integer."""
    text = os.environ.get("NANOTF_NUM_THREADS", "").strip()
    if not text:
        return 0
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise ValueError("NANOTF_NUM_THREADS must be a number of threads (0: one per core), got %r" % text)
    return n


def num_threads_is_set():
    """Whether NANOTF_NUM_THREADS names a count (set and not 0), without validating it."""
    return os.environ.get("NANOTF_NUM_THREADS", "").strip() not in ("", "0")


def malloc_tuning():
    """NANOTF_MALLOC_TUNING: on unless set to 0."""
    return os.environ.get("NANOTF_MALLOC_TUNING", "1") != "0"


def xla():
    """NANOTF_XLA: off unless set to something other than 0."""
    return _on("NANOTF_XLA")


def xla_data_parallel():
    """NANOTF_XLA_DATA_PARALLEL: off unless set to something other than 0/false."""
    return os.environ.get("NANOTF_XLA_DATA_PARALLEL", "") not in ("", "0", "false", "False")


def debug():
    """NANOTF_DEBUG: off unless set to something other than 0."""
    return _on("NANOTF_DEBUG")


def data_dir():
    """NANOTF_DATA_DIR, or None when unset or empty."""
    return os.environ.get("NANOTF_DATA_DIR") or None


def keras_home():
    """KERAS_HOME, or None when unset or empty."""
    return os.environ.get("KERAS_HOME") or None
