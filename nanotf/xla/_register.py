"""Hooks nanotf.xla into the rest of nanotf: the compiler's backend seam and the placement checks."""


def _factory(runtime, plan):
    from nanotf.xla.executable import compile_plan
    return compile_plan(runtime, plan.ops, plan.elements, plan.feed_tensors)


def register():
    """Registers "xla" with nanotf.compiler.backend and JAX's devices with nanotf/framework/device.py, so
    tf.device('/gpu:0') and Session.list_devices() see them."""
    from nanotf.compiler import backend
    from nanotf.framework import device as device_lib
    from nanotf.xla import devices
    device_lib.register_device_provider(devices.jax_devices_as_tf)
    backend.register_backend("xla", _factory)
