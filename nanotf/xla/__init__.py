"""nanotf's XLA backend: a Session plan compiled into one XLA computation through JAX (docs/xla.md).

Importing this package imports JAX (`import nanotf` never does) and registers the "xla" backend with the
compiler's backend seam. Selection: `tf.ConfigProto(graph_options=tf.GraphOptions(
optimizer_options=tf.OptimizerOptions(global_jit_level=tf.OptimizerOptions.ON_1)))` for one Session, or
NANOTF_XLA=1 for every Session of the process.
"""
from nanotf.xla._jax import INSTALL_HINT, jax  # noqa: F401  (raises ImportError with the pip command)
from nanotf.xla.devices import data_parallel, set_data_parallel  # noqa: F401
from nanotf.xla.executable import XlaExecutable, compile_plan, cut_plan, runs_on_host  # noqa: F401
from nanotf.xla import _register

_register.register()

__all__ = ["compile_plan", "XlaExecutable", "set_data_parallel", "data_parallel", "INSTALL_HINT"]
