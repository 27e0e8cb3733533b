"""Placement: the devices nanotf has and where each op runs.

nanotf computes everything with NumPy in this process, so it has exactly one device, the CPU
'/job:localhost/replica:0/task:0/device:CPU:0'. Ops keep whatever `tf.device(...)` asked for
(`op.device`, recorded by nanotf/framework/ops.py); a Session checks the ops of each plan it builds:

- an op asking for a device nanotf has (no device, '/cpu:0', '/device:CPU:*', '/job:localhost/...CPU:0')
  runs on the CPU;
- an op asking for one it lacks ('/gpu:0', '/cpu:1', '/job:worker/...') runs on the CPU with
  `ConfigProto(allow_soft_placement=True)`, and otherwise fails as in TensorFlow, with
  InvalidArgumentError "Cannot assign a device for operation ...";
- with `ConfigProto(log_device_placement=True)` the Session prints one line per op, as TF does:
  "name: (Type): /job:localhost/replica:0/task:0/device:CPU:0".

On the XLA backend (nanotf/xla, docs/xla.md) the devices JAX sees count too: importing nanotf.xla registers
a provider of them here, consulted only for Sessions that select the XLA backend, so '/gpu:0' and
'/device:XLA_GPU:0' place a plan's XLA computation on that GPU; a device JAX lacks still falls back to
the CPU with allow_soft_placement or fails as above. This module never imports JAX itself.
"""
import sys

from nanotf.framework import errors
from nanotf.framework.ops import _parse_device

__all__ = ["CPU_DEVICE", "DeviceAttributes", "list_devices", "check_placement", "device_mapping_message",
           "register_device_provider"]

CPU_DEVICE = "/job:localhost/replica:0/task:0/device:CPU:0"
# TF's default host memory limit reported by list_devices for the CPU (256 MiB), kept for look-alike output
_CPU_MEMORY_LIMIT = 268435456


class DeviceAttributes:
    """One device, as `Session.list_devices()` returns it in TF: name, device_type, memory_limit_bytes,
    incarnation."""

    def __init__(self, name, device_type, memory_limit_bytes, incarnation=0):
        self.name, self.device_type = name, device_type
        self.memory_limit_bytes, self.incarnation = memory_limit_bytes, incarnation

    def __repr__(self):
        return "_DeviceAttributes(%s, %s, %d, %d)" % (self.name, self.device_type, self.memory_limit_bytes,
                                                      self.incarnation)


_PROVIDERS = []   # fns () -> [(TF device name, device type, memory limit)]: the XLA backend's JAX devices


def register_device_provider(fn):
    """Adds the devices `fn()` lists to those of Sessions on the XLA backend (nanotf/xla registers JAX's)."""
    if fn not in _PROVIDERS:
        _PROVIDERS.append(fn)


def _xla_selected(config):
    """Whether a Session with this config runs on the XLA backend (the compiler's choice)."""
    from nanotf.compiler import backend   # imported here: nanotf.compiler imports this module
    return backend.backend_for(config) == "xla"


def _provided(config):
    if not _PROVIDERS or not _xla_selected(config):
        return []
    out = []
    for fn in _PROVIDERS:
        out.extend(DeviceAttributes(name, kind, limit) for name, kind, limit in fn() if name != CPU_DEVICE)
    return out


def list_devices(config=None):
    """The devices a Session can place ops on: nanotf's CPU, and on the XLA backend every device JAX sees."""
    return [DeviceAttributes(CPU_DEVICE, "CPU", _CPU_MEMORY_LIMIT)] + _provided(config)


def _is_available(spec, extra=()):
    """Whether a device string names nanotf's CPU or one of `extra` (DeviceAttributes; fields left out match
    anything, as in TF)."""
    fields = _parse_device(spec)
    if extra and any(_matches(fields, d.name) for d in extra):
        return True
    if fields.get("job", "localhost") != "localhost":
        return False
    if fields.get("replica", 0) != 0 or fields.get("task", 0) != 0:
        return False
    if fields.get("type", "CPU") != "CPU":
        return False
    return fields.get("index", 0) == 0


def _matches(fields, name):
    """Whether parsed device fields name the device `name` (XLA_GPU is TF's XLA alias of a GPU)."""
    full = _parse_device(name)
    kind = fields.get("type", full.get("type"))
    kind = {"XLA_GPU": "GPU", "XLA_CPU": "CPU"}.get(kind, kind)
    return all(fields.get(k, full.get(k)) == full.get(k) for k in ("job", "replica", "task", "index")) and \
        kind == full.get("type")


def _flag(config, name):
    return bool(getattr(config, name, False)) if config is not None else False


def check_placement(ops, config=None, out=None):
    """Places `ops` (a plan's operations, in run order): returns {op: device name} (all on the CPU) or raises
    errors.InvalidArgumentError for the first op placed on a device nanotf lacks, unless
    config.allow_soft_placement. With config.log_device_placement prints TF's placement line per op to
    `out` (default sys.stdout)."""
    soft = _flag(config, "allow_soft_placement")
    extra = _provided(config)
    placed = {}
    for op in ops:
        requested = op.device
        if requested and not soft and not _is_available(requested, extra):
            raise errors.InvalidArgumentError(
                None, op,
                "Cannot assign a device for operation %s: {{node %s}} was explicitly assigned to %s but available "
                "devices are [ %s ]. Make sure the device specification refers to a valid device."
                % (op.name, op.name, requested, ", ".join(d.name for d in list_devices(config))))
        placed[op] = CPU_DEVICE
    if _flag(config, "log_device_placement"):
        stream = out if out is not None else sys.stdout
        for op in ops:
            stream.write("%s: (%s): %s\n" % (op.name, op.type, placed[op]))
        stream.flush()
    return placed


def device_mapping_message():
    """What TF prints when a Session starts with log_device_placement on a machine without accelerators."""
    return "Device mapping: no known devices."
