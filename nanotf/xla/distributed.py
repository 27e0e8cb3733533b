"""Across machines: `initialize(coordinator, num_processes, process_id)` joins this process to a JAX
cluster before any Session runs (the command line spelling is `--coordinator HOST:PORT --num_processes N
--process_id I`). Afterwards data-parallel plans (nanotf/xla/devices.py) span every process's devices:
each process feeds its own rows of the global batch, variables are replicated on all of them, and XLA's
collectives (gloo on CPUs, NCCL on GPUs) sum the gradients, so every process ends with the same weights.
"""
from nanotf.xla import devices
from nanotf.xla._jax import jax


def initialize(coordinator, num_processes, process_id, local_device_ids=None):
    """jax.distributed.initialize with CPU collectives on (gloo; GPUs use NCCL regardless), then data parallel
    for every plan. Call it before anything touches JAX's devices (JAX's own rule)."""
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=int(num_processes),
                               process_id=int(process_id), local_device_ids=local_device_ids)
    devices.set_data_parallel(True)

