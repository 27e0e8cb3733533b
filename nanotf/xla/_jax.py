"""The one place nanotf.xla imports JAX: a clear one-line error when it is missing, and float64/int64 on.

nanotf graphs carry explicit dtypes (float64 samples, int64 indices), so JAX must not silently narrow them
to 32 bits: importing nanotf.xla turns on `jax_enable_x64` for the process, and float32 products run at full
float32 precision unless the user chose another. Lowerings never rely on JAX's
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
    # float32 products and convolutions in float32, as TF 1.x and the NumPy backend compute them: on GPUs JAX's
    # default is TF32 (10-bit mantissas; on an H200 the tutorial's losses left the NumPy backend's by more than
    # 1e-4 within 100 steps). A user's own choice (JAX_DEFAULT_MATMUL_PRECISION=tensorfloat32 for speed) stays.
    if jax.config.jax_default_matmul_precision is None:
        jax.config.update("jax_default_matmul_precision", "highest")
    return jax, jnp, lax


jax, jnp, lax = require_jax()
