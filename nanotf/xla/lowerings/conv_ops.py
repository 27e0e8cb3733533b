"""Empty: the lowerings of nanotf/ops/conv_ops.py's op types are their OpDefs' `lower` now. Kept only while
this package's __init__ imports it; it goes with the package."""
__all__ = []
