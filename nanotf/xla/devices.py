"""Where an XLA plan runs: one JAX device, or all of them with the batch split (data parallel).

One device: the plan runs on the device its ops ask for with `tf.device` ('/gpu:0', '/device:XLA_GPU:0',
'/cpu:0'; the first explicit request among the plan's device ops decides), else on JAX's default device
(a GPU when JAX has one). Feeds and variables are placed there; XLA's computation follows its inputs.

Data parallel (`NANOTF_XLA_DATA_PARALLEL=1`, or `nanotf.xla.set_data_parallel(True)` before the Session's
first run): a 1-D mesh over every device JAX sees (all processes' after `nanotf.xla.distributed.initialize`);
each feed whose first dimension divides evenly over the devices is split along it, other feeds and every
variable are replicated. XLA partitions the step and inserts the all-reduce the gradients' batch sums need;
the variables' new values are constrained to stay replicated. So the result is the one-device result, up to
the order of float32 additions. In a multi-process run each process feeds its own part of the batch (its
rows of the global batch, in process order) and fetches read the local copy of replicated results.
"""
import numpy as np

from nanotf.framework.ops import _parse_device
from nanotf.xla._jax import jax

_DATA_PARALLEL = [None]   # None: read NANOTF_XLA_DATA_PARALLEL; else the value set_data_parallel gave


def set_data_parallel(enabled):
    """The Python switch for data-parallel plans (None: back to the environment variable)."""
    _DATA_PARALLEL[0] = None if enabled is None else bool(enabled)


def data_parallel():
    if _DATA_PARALLEL[0] is not None:
        return _DATA_PARALLEL[0]
    from nanotf.framework import environment   # NANOTF_XLA_DATA_PARALLEL, read in the one environment module
    return environment.xla_data_parallel()


_KIND = {"GPU": "gpu", "XLA_GPU": "gpu", "CPU": "cpu", "XLA_CPU": "cpu", "TPU": "tpu", "XLA_TPU": "tpu"}


def tf_kind(d):
    """TF's device type of a JAX device: GPUs as GPU (TF's name for them), the CPU as CPU."""
    return "GPU" if d.platform in ("gpu", "cuda", "rocm") else d.platform.upper()


def tf_name(d):
    """TF's full name of a JAX device."""
    kind = tf_kind(d)
    index = sum(1 for x in jax.local_devices() if x.platform == d.platform and x.id < d.id)
    return "/job:localhost/replica:0/task:%d/device:%s:%d" % (getattr(d, "process_index", 0), kind, index)


def jax_device_for(spec):
    """The local JAX device a TF device string names, or None when JAX has no such device."""
    fields = _parse_device(spec)
    kind = _KIND.get(fields.get("type", "CPU"))
    if kind is None:
        return None
    try:
        found = jax.local_devices(backend=kind)
    except RuntimeError:
        return None
    index = fields.get("index", 0)
    return found[index] if index < len(found) else None


class _Placement:
    def __init__(self, device=None):
        default = jax.local_devices()[0]
        self.device = device or default
        self.device_name = tf_name(self.device)
        # on the default device jit moves NumPy feeds itself, faster than a device_put per feed from Python
        self.default = self.device == default

    def put_variable(self, host):
        return jax.device_put(host, self.device)

    def put_feeds(self, feeds):
        if self.default:
            return feeds
        return [jax.device_put(x, self.device) if isinstance(x, np.ndarray) else x for x in feeds]

    def constrain_variable(self, x):
        return x


class _DataParallel:
    def __init__(self):
        from jax.sharding import Mesh, NamedSharding, PartitionSpec
        devs = np.array(jax.devices())
        self.mesh = Mesh(devs, ("batch",))
        self.n = devs.size
        self.split = NamedSharding(self.mesh, PartitionSpec("batch"))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.multi_process = jax.process_count() > 1
        self.device_name = "/job:localhost/replica:0/task:0/device:%s:*" % jax.devices()[0].platform.upper()

    def _put(self, x, sharding):
        if self.multi_process:
            return jax.make_array_from_process_local_data(sharding, x)
        return jax.device_put(x, sharding)

    def put_variable(self, host):
        return self._put(host, self.replicated)

    def put_feeds(self, feeds):
        out = []
        for x in feeds:
            x = np.asarray(x)
            rows = x.shape[0] * (jax.process_count() if self.multi_process else 1) if x.ndim else 0
            split = x.ndim >= 1 and rows % self.n == 0 and rows > 0
            out.append(self._put(x, self.split if split else self.replicated))
        return out

    def constrain_variable(self, x):
        return jax.lax.with_sharding_constraint(x, self.replicated)


def placement_for(device_ops, runtime):
    """The placement of a plan's device part (see the module docstring)."""
    if data_parallel():
        return _DataParallel()
    for op in device_ops:
        if op.device:
            d = jax_device_for(op.device)
            if d is not None:
                return _Placement(d)
    return _Placement()


def jax_devices_as_tf():
    """(TF name, device type, memory limit) of every local JAX device."""
    out = []
    for d in jax.local_devices():
        stats = {}
        try:
            stats = d.memory_stats() or {}
        except Exception:   # backends without memory statistics
            pass
        out.append((tf_name(d), tf_kind(d), int(stats.get("bytes_limit", 268435456))))
    return out
