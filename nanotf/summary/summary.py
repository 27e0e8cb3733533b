"""(being written)"""
__all__ = []


def _seed_era_names():
    """The seed-era top-level names (tf.scalar_summary, ...) that nanotf/__init__ installs."""
    return {}
