"""Variables on the device, kept consistent with the Session's host dict.

The Session's runtime holds `runtime.variables`: VariableV2 Operation -> NumPy array, which the NumPy kernels
read and update in place, `Variable.load` replaces, and `var in store` answers for the initialization checks.
The XLA backend keeps a device copy of each variable it touches and updates it in the compiled step (the
old buffer donated), so a training loop never copies weights between host and device.

Both views stay right because the first XLA executable built for a runtime turns its store (a
`compiler.runtime.VariableStore`) into a `DeviceSyncedVariables` in place, by changing the object's class:
kernels built before keep their reference to the same object. It records, per variable, where the newest
value is:

- after an XLA step updates a variable, the device copy is the newest; the host entry is stale. Any host read
  through the dict (`store[v]`, `store.get(v)`, `values()`, `items()`: what NumPy kernels, `Variable.load`,
  the NumPy backend and host ops use) first copies the device value back into a fresh writable array;
- a host read hands out a mutable array (NumPy kernels update variables in place), so it also marks the device
  copy stale; so does any host write (`store[v] = ...`). The next XLA step uploads the host value again.

So `sess.run(var)` on XLA reads the device copy (no host sync), `tf.assign` from a NumPy plan or
`Variable.load` is seen by the next XLA step, and Saver save/restore (plain `sess.run` of reads and Assigns)
work on either backend, the checkpoint format being the same.
"""
import numpy as np

from nanotf.compiler.runtime import VariableStore
from nanotf.xla._jax import jax, jnp


class DeviceSyncedVariables(VariableStore):
    """runtime.variables with device copies: see the module docstring."""

    def _start_sync(self):
        self.device = {}          # var op -> jax Array whose value is current
        self.device_newer = set()  # var ops whose host entry is stale (the device copy is newer)

    # -- host side: every read first brings back a newer device value, then forgets the device copy
    def _pull(self, var):
        if var in self.device_newer:
            self.device_newer.discard(var)
            super().__setitem__(var, np.array(to_host(self.device[var]), copy=True))
        self.device.pop(var, None)

    def __getitem__(self, var):
        if var in self.device:
            self._pull(var)
        return super().__getitem__(var)

    def get(self, var, default=None):
        if var in self.device:
            self._pull(var)
        return super().get(var, default)

    def __setitem__(self, var, value):
        self.device.pop(var, None)
        self.device_newer.discard(var)
        super().__setitem__(var, value)

    def __delitem__(self, var):
        self.device.pop(var, None)
        self.device_newer.discard(var)
        super().__delitem__(var)

    def pop(self, var, *default):
        if var in self.device:
            self._pull(var)
        return super().pop(var, *default)

    def values(self):
        for var in list(self.device):
            self._pull(var)
        return super().values()

    def items(self):
        for var in list(self.device):
            self._pull(var)
        return super().items()

    def clear(self):
        self.device.clear()
        self.device_newer.clear()
        super().clear()

    def update(self, *args, **kw):
        for k, v in dict(*args, **kw).items():
            self[k] = v

    # -- device side, used by the XLA executables
    def device_value(self, var, put):
        """The current value of `var` on the device (uploading the host array with `put` when the device
        copy is missing or stale), or None when the variable is not initialized."""
        v = self.device.get(var)
        if v is not None:
            return v
        host = super().get(var)
        if host is None:
            return None
        v = self.device[var] = put(np.array(host, copy=True))   # a copy: the device buffer gets donated
        return v

    def set_device_value(self, var, value):
        """An XLA step's new value of `var`: the device copy becomes the newest."""
        self.device[var] = value
        self.device_newer.add(var)
        if not super().__contains__(var):
            super().__setitem__(var, None)   # present for `var in store` (initialization checks)


def to_host(x):
    """A device array as NumPy; in a multi-process run, a replicated array is read from a local shard."""
    if getattr(x, "is_fully_addressable", True):
        return np.asarray(x)
    return np.asarray(x.addressable_shards[0].data)


def synced_store(runtime):
    """The runtime's variable dict as a DeviceSyncedVariables (installed on first use)."""
    store = runtime.variables
    if not isinstance(store, DeviceSyncedVariables):
        if not isinstance(store, VariableStore):   # a plain dict (a function's runtime): copy it once
            store = runtime.variables = VariableStore(store)
        store.__class__ = DeviceSyncedVariables   # in place: kernels built before hold this very object
        store._start_sync()
    return store


__all__ = ["DeviceSyncedVariables", "synced_store", "to_host", "jnp"]
