"""Empty: the Apply* ops' lowerings are their OpDefs' `lower` now (nanotf/training/training_ops.py, with
`lower_updates_refs = True`). Kept only while this package's __init__ imports it; it goes with the package."""
__all__ = []
