"""The one place nanotf.xla imports JAX: a clear one-line error when it is missing, and float64/int64 on.

nanotf graphs carry explicit dtypes (float64 samples, int64 indices), so JAX must not silently narrow them
to 32 bits: importing nanotf.xla turns on `jax_enable_x64` for the process. Lowerings never rely on JAX's
default dtypes; a float32 graph stays float32 throughout.
"""
INSTALL_HINT = "the XLA backend needs JAX: pip install 'nanotf[xla]'"


def require_jax():
    """Imports jax, jax.numpy and jax.lax, or raises ImportError with the install command."""
    try:
        import jax
        import jax.numpy as jnp
        from jax import lax
    except ImportError as e:
        raise ImportError("%s (%s)" % (INSTALL_HINT, e)) from None
    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
    return jax, jnp, lax


jax, jnp, lax = require_jax()
